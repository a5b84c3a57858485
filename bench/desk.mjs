// bench/desk.mjs -- the desk's speed in headless chromium (run by
// bench/desk.sh, which seeds the database and starts atumd).
//
//  first view   a fresh page on /desk, from navigation start until the
//               inbox's first page of tickets is on screen and its first
//               row has the keyboard focus (the desk answers keys from
//               then on): p50 of BENCH_LOADS loads with the browser's
//               cache warm (an agent's usual morning) and cold (a new
//               browser profile each time)
//  ticket       from Enter on the 200-message ticket in the list until its
//               thread is on screen: p50 of BENCH_LOADS openings
//  reference    the machine, same run: chromium loading a page whose
//               inline script builds a 50-row table, navigation start to
//               the table on screen (p50)
// Prints each figure, the reference and the ratios; the last line is
// key=value pairs.

import { createRequire } from 'node:module';
import path from 'node:path';

const require = createRequire(path.join(process.env.NODE_PATH, 'noop.js'));
const { chromium } = require('playwright-core');

const URL_ = process.env.BENCH_URL;
const BIG = process.env.BENCH_BIG;
const N = Number(process.env.BENCH_LOADS || 20);
const args = ['--no-sandbox', '--disable-gpu', '--disable-background-networking',
              '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-dev-shm-usage'];

const p50 = (a) => {
    const s = [...a].sort((x, y) => x - y);
    return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const fmt = (x) => x.toFixed(1);

const browser = await chromium.launch({ executablePath: process.env.DESK_CHROMIUM, headless: true, args });

// one session for every context: sign in once through the API
const login = await browser.newContext();
const res = await login.request.post(`${URL_}/api/v1/auth/login`, {
    data: { email: 'agent@bench.example', password: process.env.BENCH_PW },
});
if (!res.ok())
    throw new Error(`login: ${res.status()} ${await res.text()}`);
const cookies = await login.cookies();
await login.close();

// The moment is taken in the page, in the animation frame whose check first
// finds it true (window.benchReadyAt), not by a later round trip to the
// page, whose latency on a loaded box is not the desk's.
const ready = () => {
    const row = document.querySelector('table.tickets[data-loaded="true"] tbody tr a[data-id]');
    const ok = row !== null && document.activeElement === row;
    if (ok && window.benchReadyAt === undefined)
        window.benchReadyAt = performance.now();
    return ok;
};

// Where one load's time went, from the page's own Performance API: when
// the page, the script and the style sheet had arrived, when the script
// started to run (the desk's performance mark), when each API call of the
// first view was asked for and answered, and the first paint.
function phases() {
    const out = {};
    const nav = performance.getEntriesByType('navigation')[0];
    if (nav)
        out.page = nav.responseEnd;
    for (const e of performance.getEntriesByType('resource')) {
        const u = new URL(e.name);
        let k = null;
        if (u.pathname.startsWith('/assets/'))
            k = u.pathname.endsWith('.css') ? 'css' : u.pathname.replace(/^\/assets\/|-[A-Za-z0-9]+\.js$/g, '');
        else if (u.pathname.startsWith('/api/v1/'))
            k = u.pathname.slice(8).replace(/\/\d+/g, '/{id}');
        if (k && !(`${k} answered` in out)) {
            out[`${k} asked`] = e.startTime;
            out[`${k} answered`] = e.responseEnd;
        }
    }
    for (const m of performance.getEntriesByType('mark'))
        if (m.name.startsWith('desk:'))
            out[m.name.slice(5)] = m.startTime;
    for (const p of performance.getEntriesByType('paint'))
        out[p.name] = p.startTime;
    return out;
}
const seen = { warm: [], cold: [] };

async function firstView(ctx, kind) {
    const page = await ctx.newPage();
    await page.goto(`${URL_}/desk`, { waitUntil: 'commit' });
    await page.waitForFunction(ready, null, { polling: 'raf', timeout: 30000 });
    const ms = await page.evaluate(() => window.benchReadyAt);
    if (kind)
        seen[kind].push({ ...(await page.evaluate(phases)), interactive: ms });
    await page.close();
    return ms;
}

// the p50 of each phase over the loads, in the order they happen
function breakdown(kind) {
    const keys = new Set(seen[kind].flatMap((o) => Object.keys(o)));
    const rows = [...keys].map((k) => [k, p50(seen[kind].filter((o) => k in o).map((o) => o[k]))]);
    rows.sort((a, b) => a[1] - b[1]);
    return rows.map(([k, v]) => `${k} ${fmt(v)}`).join(', ');
}

// warm: one context, its cache filled by a first load
const warm = await browser.newContext({ viewport: { width: 1280, height: 800 } });
await warm.addCookies(cookies);
for (let i = 0; i < 3; i++)
    await firstView(warm);
const warmMs = [];
for (let i = 0; i < N; i++)
    warmMs.push(await firstView(warm, 'warm'));

// cold: a new context (empty cache) per load
const coldMs = [];
for (let i = 0; i < N; i++) {
    const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    await ctx.addCookies(cookies);
    coldMs.push(await firstView(ctx, 'cold'));
    await ctx.close();
}

// the 200-message ticket, opened from the list with the keyboard
const page = await warm.newPage();
await page.goto(`${URL_}/desk`);
await page.waitForFunction(ready, null, { polling: 'raf' });
const first = await page.evaluate(() => document.activeElement.dataset.id);
if (first !== String(BIG))
    throw new Error(`the big ticket (#${BIG}) is not first in the list (#${first})`);
const ticketMs = [];
let messages = 0;
for (let i = 0; i < N + 2; i++) {
    const t0 = await page.evaluate(() => performance.now());
    await page.keyboard.press('Enter');
    await page.waitForFunction(() => {
        const t = document.querySelector('article.ticket[data-loaded="true"] ol.thread');
        return t !== null && t.querySelectorAll('li.msg').length > 0 && document.activeElement
            && document.activeElement.id === 'ticket-title';
    }, null, { polling: 'raf', timeout: 30000 });
    const t1 = await page.evaluate(() => performance.now());
    messages = await page.evaluate(() => {
        const b = document.querySelector('ol.thread .more button');
        return b ? Number(b.textContent.replace(/\D+/g, '')) + document.querySelectorAll('li.msg').length
                 : document.querySelectorAll('li.msg').length;
    });
    if (i >= 2)
        ticketMs.push(t1 - t0);
    await page.keyboard.press('u');
    await page.waitForFunction(ready, null, { polling: 'raf' });
}
if (messages !== 200)
    throw new Error(`the ticket shows ${messages} messages, not 200`);

// the API the desk's views read, as the agent: every order's first page
// and a page 2,000 tickets deep (its cursor reached by walking there),
// the unassigned view, the sidebar's counts, and the big ticket's history
// and related tickets -- p50 of N requests each
const api = warm.request;
async function timed(url) {
    const t0 = performance.now();
    const r = await api.get(`${URL_}/api/v1${url}`);
    const ms = performance.now() - t0;
    if (!r.ok())
        throw new Error(`${url}: ${r.status()} ${await r.text()}`);
    return { ms, json: await r.json() };
}
async function p50Of(url) {
    const a = [];
    for (let i = 0; i < N; i++)
        a.push((await timed(url)).ms);
    return p50(a);
}
const apiFigures = {};
for (const sort of ['-updated_at', 'updated_at', '-created_at', 'created_at', '-priority', 'priority', '-id', 'id']) {
    const first = await p50Of(`/tickets?limit=50&sort=${sort}`);
    let cursor = null;
    for (let i = 0; i < 40; i++)
        cursor = (await timed(`/tickets?limit=50&sort=${sort}${cursor ? `&cursor=${cursor}` : ''}`)).json.next_cursor;
    const deep = await p50Of(`/tickets?limit=50&sort=${sort}&cursor=${cursor}`);
    apiFigures[sort] = [first, deep];
}
const unassigned = await p50Of('/tickets?limit=50&unassigned=true');
const counts = await p50Of('/tickets/counts');
const history = await p50Of(`/tickets/${BIG}/history`);
const related = await p50Of(`/tickets/${BIG}/related`);

// the machine's reference: a page of the same run, no desk involved
const rows = Array.from({ length: 50 }, (_, i) => `<tr><td>#${i}</td><td>Ticket ${i}</td><td>open</td></tr>`).join('');
const refPage = `data:text/html,${encodeURIComponent(
    `<!doctype html><meta charset=utf-8><table id=t></table><script>
     const rows = ${JSON.stringify(rows)};
     document.getElementById('t').innerHTML = rows;
     document.getElementById('t').dataset.done = '1';</script>`)}`;
const refCtx = await browser.newContext();
const refMs = [];
for (let i = 0; i < N + 3; i++) {
    const p = await refCtx.newPage();
    await p.goto(refPage, { waitUntil: 'commit' });
    await p.waitForFunction(() => {
        const ok = document.querySelector('#t[data-done="1"] tr') !== null;
        if (ok && window.benchReadyAt === undefined)
            window.benchReadyAt = performance.now();
        return ok;
    }, null, { polling: 'raf' });
    const ms = await p.evaluate(() => window.benchReadyAt);
    if (i >= 3)
        refMs.push(ms);
    await p.close();
}
await browser.close();

const w = p50(warmMs), c = p50(coldMs), t = p50(ticketMs), r = p50(refMs);
console.log(`first view, warm cache: p50 ${fmt(w)} ms (min ${fmt(Math.min(...warmMs))}, max ${fmt(Math.max(...warmMs))}; goal < 500)`);
console.log(`first view, cold cache: p50 ${fmt(c)} ms (min ${fmt(Math.min(...coldMs))}, max ${fmt(Math.max(...coldMs))})`);
console.log(`  where a warm first view goes (p50 ms from navigation start): ${breakdown('warm')}`);
console.log(`  where a cold first view goes: ${breakdown('cold')}`);
console.log(`200-message ticket:     p50 ${fmt(t)} ms (min ${fmt(Math.min(...ticketMs))}, max ${fmt(Math.max(...ticketMs))}; goal < 300)`);
console.log(`reference (50-row page): p50 ${fmt(r)} ms`);
console.log(`ratios to the reference: first view ${fmt(w / r)}, cold ${fmt(c / r)}, ticket ${fmt(t / r)}`);
for (const [sort, [f, d]] of Object.entries(apiFigures))
    console.log(`GET /tickets?sort=${sort.padEnd(11)} first page p50 ${fmt(f)} ms, 2,000 deep p50 ${fmt(d)} ms`);
console.log(`GET /tickets?unassigned=true          p50 ${fmt(unassigned)} ms`);
console.log(`GET /tickets/counts                   p50 ${fmt(counts)} ms (100,001 tickets, an agent of every queue)`);
console.log(`GET /tickets/{big}/history, related   p50 ${fmt(history)} ms, ${fmt(related)} ms`);
const worst = Math.max(...Object.values(apiFigures).flat());
console.log(`desk_first_view_p50_ms=${fmt(w)} desk_first_view_cold_p50_ms=${fmt(c)} desk_ticket200_p50_ms=${fmt(t)}`
            + ` desk_reference_p50_ms=${fmt(r)} desk_first_view_ratio=${fmt(w / r)} desk_ticket200_ratio=${fmt(t / r)}`
            + ` desk_list_sorted_worst_p50_ms=${fmt(worst)} desk_counts_p50_ms=${fmt(counts)}`);
