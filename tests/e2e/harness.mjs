// tests/e2e/harness.mjs -- what every browser suite shares: its settings
// from the environment (set by its tests/integration/*_e2e_pg.sh), Debian's
// chromium through playwright-core, a page that records what a test must
// see (script errors, requests to other origins, dialogs, API calls, CSP
// violations), a bounded wait for a condition, a same-origin API call with
// the session's CSRF token, RFC 6238 codes for TOTP sign-ins, and axe-core's
// accessibility findings.

import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

// A setting the suite's shell script must pass; a clear error otherwise.
export function env(k) {
    const v = process.env[k];
    if (!v)
        throw new Error(`${k} is not set: run the suite through its tests/integration/*_e2e_pg.sh`);
    return v;
}

// playwright-core from the test suite's own npm tree (NODE_PATH)
export const require = createRequire(path.join(env('NODE_PATH'), 'noop.js'));
export const { chromium } = require('playwright-core');

// Debian's chromium, headless, nothing fetched in the background.
export function launchBrowser() {
    return chromium.launch({
        executablePath: env('DESK_CHROMIUM'),
        headless: true,
        args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking',
               '--disable-component-update', '--disable-sync', '--no-first-run',
               '--disable-dev-shm-usage'],
    });
}

// A new page of context that records, for the test to assert on:
//  page.foreign   every request to an origin other than origin;
//  page.apiCalls  "METHOD /api/v1/..." of every API request (with the
//                 query string when opts.query);
//  page.paths     the other same-origin paths requested;
//  page.dialogs   with opts.dialogs, every dialog's text (each dismissed);
//  problems       (an array of the suite) uncaught script errors and, with
//                 opts.cspConsole, CSP refusals the console reports;
//  window.cspViolations, with opts.cspEvents, every securitypolicyviolation.
export async function watchedPage(context, origin, problems, opts = {}) {
    const page = await context.newPage();
    page.foreign = [];
    page.apiCalls = [];
    page.paths = [];
    page.dialogs = [];
    if (opts.dialogs) {
        page.on('dialog', (d) => {
            page.dialogs.push(d.message());
            d.dismiss().catch(() => {});
        });
    }
    page.on('request', (r) => {
        const u = r.url();
        if (/^(data|blob|about):/.test(u))
            return;
        const url = new URL(u);
        if (url.origin !== origin)
            page.foreign.push(u);
        else if (url.pathname.startsWith('/api/v1/'))
            page.apiCalls.push(`${r.method()} ${url.pathname}${opts.query ? url.search : ''}`);
        else
            page.paths.push(url.pathname);
    });
    page.on('pageerror', (e) => problems.push(`${page.url()}: ${e.message}`));
    if (opts.cspConsole) {
        page.on('console', (m) => {
            if (m.type() === 'error' && /Content.Security.Policy|Refused to/i.test(m.text()))
                problems.push(`${page.url()}: ${m.text()}`);
        });
    }
    if (opts.cspEvents) {
        await page.addInitScript(() => {
            window.cspViolations = [];
            document.addEventListener('securitypolicyviolation',
                (e) => window.cspViolations.push(`${e.violatedDirective} ${e.blockedURI} ${e.sourceFile}:${e.lineNumber}`));
        });
    }
    return page;
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Waits until fn() (checked in node, every 100 ms) gives something truthy
// and returns it; throws naming what after ms.
export async function until(what, fn, ms = 30000) {
    const end = Date.now() + ms;
    for (;;) {
        const v = await fn();
        if (v)
            return v;
        if (Date.now() > end)
            throw new Error(`timed out waiting for ${what}`);
        await sleep(100);
    }
}

// The API as the page's signed-in session: same origin, its cookie and
// CSRF token.  { status, json } (json null for 204 or a body that is not
// JSON).
export async function pageApi(page, method, p, body) {
    return page.evaluate(async ([m, u, b]) => {
        const me = await (await fetch('/api/v1/auth/me', { credentials: 'same-origin' })).json();
        const r = await fetch(u, {
            method: m, credentials: 'same-origin',
            headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': me.csrf_token || '' },
            body: b === undefined ? undefined : JSON.stringify(b),
        });
        return { status: r.status, json: r.status === 204 ? null : await r.json().catch(() => null) };
    }, [method, `/api/v1${p}`, body]);
}

// The current TOTP time step of period seconds.
export const totpStep = (period = 30) => Math.floor(Date.now() / 1000 / period);

// RFC 6238 (HMAC-SHA-1) for a base32 secret at a time step.
export function totp(secretB32, step = totpStep(), digits = 6) {
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
    let bits = '';
    for (const c of secretB32.replace(/[\s=]/g, '').toUpperCase())
        bits += alphabet.indexOf(c).toString(2).padStart(5, '0');
    const key = Buffer.from(bits.match(/.{8}/g).map((b) => parseInt(b, 2)));
    const msg = Buffer.alloc(8);
    msg.writeBigUInt64BE(BigInt(step));
    const h = createHmac('sha1', key).update(msg).digest();
    const o = h[h.length - 1] & 15;
    return String((h.readUInt32BE(o) & 0x7fffffff) % 10 ** digits).padStart(digits, '0');
}

let axeSource = null;

// The serious and critical findings of axe-core (WCAG 2.0/2.1 A and AA) on
// the page as it is now, one line each naming what, the rule and up to
// three elements; [] when there are none.  axe is put into the page by
// the test, so the page's context must be made with { bypassCSP: true }
// (that context alone; the application runs as always).
export async function axeFindings(page, what) {
    axeSource = axeSource || readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
    await page.addScriptTag({ content: axeSource });
    const r = await page.evaluate(async () => window.axe.run(document, {
        runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] },
    }));
    if (r.passes.length < 10)
        return [`${what}: axe checked only ${r.passes.length} rules (was the page there?)`];
    return r.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical')
        .map((v) => `${what}: ${v.id} (${v.impact}) ${v.help}: ${v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join(', ')}`);
}
