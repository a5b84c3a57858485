// web/build.mjs -- builds the browser application into DIST.
//
//   node build.mjs WEBSRC NODE_MODULES DIST
//
// WEBSRC is the source tree's web/ folder (only read), NODE_MODULES the
// packages `npm ci` installed from web/package-lock.json (in the build
// tree, so a read-only source tree builds), DIST the output folder, made
// anew on every build.  esbuild bundles src/desk/desk.jsx and the CSS it
// imports into one script and one style sheet, minified, each named after
// a hash of its content (desk-<hash>.js); src/shell.html becomes desk.html,
// the page atumd serves for /desk/*, pointing at them (the desk's script
// is split in chunks, see below); src/portal/portal.jsx
// and src/portal/shell.html make portal-<hash>.js/.css and portal.html,
// the page of /portal/* (manifest key portal_shell); src/admin/admin.jsx
// and src/admin/shell.html make admin-<hash>.js/.css and admin.html, the
// page of /admin/* (manifest key admin_shell).  manifest.json
// lists the shell and the assets: atumd serves these files and nothing
// else from DIST.  The dashboard's charts (src/desk/charts.js and uPlot)
// are charts-<hash>.js, imported by the desk when it draws one.
import { createRequire } from 'node:module';
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';

const [websrc, nodeModules, dist] = process.argv.slice(2);
if (!websrc || !nodeModules || !dist) {
    console.error('usage: node build.mjs WEBSRC NODE_MODULES DIST');
    process.exit(2);
}
const require = createRequire(path.resolve(nodeModules, '..', 'package.json'));
const esbuild = require('esbuild');

const tmp = `${dist}.tmp-${process.pid}`;
rmSync(tmp, { recursive: true, force: true });
mkdirSync(tmp, { recursive: true });

// The dashboard's charts (src/desk/charts.js with uPlot) are a script of
// their own, charts-<hash>.js, which the desk imports only when the
// dashboard draws a chart: the first view of every agent does not load,
// compile or run them.  The desk learns the name through CHARTS_URL.
const charts = await esbuild.build({
    entryPoints: [path.join(websrc, 'src/desk/charts.js')],
    bundle: true,
    format: 'esm',
    minify: true,
    target: ['chrome109', 'firefox115', 'safari16'],
    nodePaths: [path.resolve(nodeModules)],
    entryNames: '[name]-[hash]',
    outdir: tmp,
    metafile: true,
    legalComments: 'eof',
    charset: 'utf8',
    logLevel: 'warning',
});
const chartsOut = Object.keys(charts.metafile.outputs).map((o) => path.basename(o));
const chartsUrl = `/assets/${chartsOut.find((n) => n.endsWith('.js'))}`;

const common = {
    bundle: true,
    format: 'esm',
    splitting: false,
    minify: true,
    target: ['chrome109', 'firefox115', 'safari16'],
    jsx: 'automatic',
    jsxImportSource: 'preact',
    nodePaths: [path.resolve(nodeModules)],
    entryNames: '[name]-[hash]',
    assetNames: '[name]-[hash]',
    outdir: tmp,
    metafile: true,
    legalComments: 'eof',
    charset: 'utf8',
    logLevel: 'warning',
    define: { 'process.env.NODE_ENV': '"production"', CHARTS_URL: JSON.stringify(chartsUrl) },
    external: ['/assets/*'],
};

// The desk is split (splitting: true): the inbox's first view needs
// desk-<hash>.js and the chunks it imports (chunk-<hash>.js: code it
// shares with the other screens); the ticket, account and dashboard
// screens (src/desk/screens.js) are chunks of their own, fetched after the
// first view or when opened.  Every chunk's name is a hash of its content
// (served with the long cache), the shell names the first view's chunks
// in <link rel="modulepreload"> so they are fetched with the entry, not
// after it, and all are in the manifest.
const deskResult = await esbuild.build({
    ...common,
    entryPoints: [path.join(websrc, 'src/desk/desk.jsx')],
    splitting: true,
    chunkNames: 'chunk-[hash]',
});
const result = await esbuild.build({
    ...common,
    entryPoints: [path.join(websrc, 'src/portal/portal.jsx'), path.join(websrc, 'src/admin/admin.jsx')],
});
for (const [out, info] of Object.entries(deskResult.metafile.outputs))
    result.metafile.outputs[out] = info;

// each entry (the desk, the portal, the admin pages) has its own script and style sheet
const assets = [];
const bundles = {};
for (const [out, info] of Object.entries(result.metafile.outputs)) {
    const name = path.basename(out);
    assets.push(name);
    if (info.entryPoint && name.endsWith('.js')) {
        const entry = path.basename(info.entryPoint).replace(/\.jsx?$/, '');
        // what the entry imports statically, however deep: fetched with it (modulepreload)
        const preload = [];
        const walk = (o) => {
            for (const i of result.metafile.outputs[o].imports || []) {
                const n = path.basename(i.path);
                if (i.kind === 'import-statement' && !i.external && !preload.includes(n)) {
                    preload.push(n);
                    walk(i.path);
                }
            }
        };
        walk(out);
        bundles[entry] = { script: name, style: info.cssBundle ? path.basename(info.cssBundle) : null, preload };
    }
}
assets.push(...chartsOut);
function page(entry, shellFile, outName) {
    const b = bundles[entry];
    if (!b || !b.script || !b.style) {
        console.error(`build.mjs: the ${entry} bundle has no script or no style sheet`);
        process.exit(1);
    }
    const shell = readFileSync(path.join(websrc, shellFile), 'utf8')
        .replace('{{STYLE}}', `/assets/${b.style}`)
        .replace('{{SCRIPT}}', `/assets/${b.script}`)
        .replace('{{PRELOAD}}', b.preload.map((n) => `<link rel="modulepreload" href="/assets/${n}">`).join('\n'));
    if (shell.includes('{{'))
        throw new Error(`${shellFile}: a placeholder was left`);
    writeFileSync(path.join(tmp, outName), shell);
}
page('desk', 'src/shell.html', 'desk.html');
page('portal', 'src/portal/shell.html', 'portal.html');
page('admin', 'src/admin/shell.html', 'admin.html');
assets.sort();
writeFileSync(path.join(tmp, 'manifest.json'),
              JSON.stringify({ format: 1, shell: 'desk.html', portal_shell: 'portal.html', admin_shell: 'admin.html', assets }, null, 1) + '\n');

rmSync(dist, { recursive: true, force: true });
renameSync(tmp, dist);
const outputs = { ...result.metafile.outputs, ...charts.metafile.outputs };
for (const a of assets)
    console.log(`  ${a}  ${outputs[Object.keys(outputs).find((k) => k.endsWith(a))].bytes} bytes`);
