// tests/e2e/dashboard.test.mjs -- the managers' dashboard (/desk/dashboard)
// in headless chromium (Debian's /usr/bin/chromium, driven by
// playwright-core).  Run by tests/integration/dashboard_e2e_pg.sh, which
// starts atumd with the metrics plugin and writes tickets A-I, ratings and
// snapshots at known offsets from DASH_NOW.  Every figure expected below is
// worked out by hand from that table (the arithmetic is in the comments),
// and the page's figures are also compared with the API's own answer.
// Every wait is for a condition, bounded by playwright's timeouts.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { env, launchBrowser, axeFindings, watchedPage } from './harness.mjs';

const URL_ = env('DESK_URL');
const ORIGIN = new URL(URL_).origin;
const PW = env('DESK_PW');
const SHOTS = env('DESK_SCREENSHOTS');
const NOW = Number(env('DASH_NOW'));
const DB = env('DASH_DATABASE_URL');
const ADMIN_TOKEN = env('DASH_ADMIN_TOKEN');
const D = 86400;
const H = 3600;

// The seeded tickets (tests/integration/dashboard_e2e_pg.sh): created is
// an offset from NOW, done (solved, else closed) an offset from created.
const TICKETS = [
    { tag: 'A', created: -2 * D, done: 3 * H },
    { tag: 'B', created: -3 * D, done: D },
    { tag: 'C', created: -5 * D },
    { tag: 'D', created: -6 * D },
    { tag: 'E', created: -20 * D, done: 2 * D },
    { tag: 'F', created: -40 * D, done: 2 * D },    // solved at +2 d, closed at +3 d: solved counts
    { tag: 'G', created: -1 * D },
    { tag: 'H', created: -4 * D },
    // I: merged into G -- counted nowhere
];

// First answers (a public message from staff; internal notes of A and C
// come earlier and must not count; H was opened by staff, I is merged):
//   A 1 h (-2 d), B 2 h (-3 d), C 4 h (-5 d), D none (-6 d), G 30 min (-1 d),
//   E 8 h (-20 d), F 1 d (-40 d)
// percentile_cont: p at position p*(n-1) between the sorted values.
// Resolutions: A 3 h and B 1 d (done -2 d), E 2 d (-18 d), F 2 d (-38 d).
const EXPECT = {
    7: {
        // 5 tickets, 4 answered: 1800 3600 7200 14400; median (3600+7200)/2 = 5400,
        // p90 at 2.7: 7200 + .7*7200 = 12240
        fr: { tickets: 5, responded: 4, median: 5400, p90: 12240, text: ['1 h 30 min', '3 h 24 min'] },
        // 10800 86400: median 48600, p90 at .9: 10800 + .9*75600 = 78840
        res: { tickets: 2, median: 48600, p90: 78840, text: ['13 h 30 min', '21 h 54 min'] },
        // A 5, B 4
        csat: { average: 4.5, count: 2 },
        // A met, B met, C missed
        sla: { met: 2, missed: 1, percent: 66.7 },
        snapshots: 4,
    },
    30: {
        // + E 28800: 1800 3600 7200 14400 28800; median 7200, p90 at 3.6: 14400 + .6*14400 = 23040
        fr: { tickets: 6, responded: 5, median: 7200, p90: 23040, text: ['2 h', '6 h 24 min'] },
        // + E 172800: median 86400, p90 at 1.8: 86400 + .8*86400 = 155520 (43.2 h)
        res: { tickets: 3, median: 86400, p90: 155520, text: ['1 d', '1 d 19 h'] },
        // 5 + 4 + 2 = 11 / 3
        csat: { average: 3.67, count: 3 },
        // + E met
        sla: { met: 3, missed: 1, percent: 75 },
        snapshots: 5,
    },
    90: {
        // + F 86400: median (7200+14400)/2 = 10800, p90 at 4.5: 28800 + .5*57600 = 57600
        fr: { tickets: 7, responded: 6, median: 10800, p90: 57600, text: ['3 h', '16 h'] },
        // + F 172800: median (86400+172800)/2 = 129600, p90 at 2.7: 172800
        res: { tickets: 4, median: 129600, p90: 172800, text: ['1 d 12 h', '2 d'] },
        csat: { average: 3.67, count: 3 },
        snapshots: 5,
    },
};
// Open now: C open/normal/support/Alex, D new/urgent/support/-, G
// pending/high/billing/Olga, H open/low/billing/- (I is merged).
const OPEN = {
    total: 4,
    status: { new: 1, open: 2, pending: 1 },
    priority: { urgent: 1, high: 1, normal: 1, low: 1 },
    queue: { support: 2, billing: 2 },
    assignee: { Unassigned: 2, 'Alex Agent': 1, 'Olga Other': 1 },
};
// The snapshots: hours back from the hour of NOW -> new, open, pending, support
const SNAPS = [[5, 1, 1, 1, 2], [3, 2, 2, 1, 3], [2, 3, 2, 1, 4], [1, 1, 2, 1, 2], [240, 5, 3, 1, 6]];
const isoDay = (t) => new Date(t * 1000).toISOString().slice(0, 10);
const isoHour = (t) => new Date(t * 1000).toISOString().replace(/\.000Z$/, 'Z');

let browser;
const problems = [];
// requests to the API (with their query) and elsewhere, script errors and
// every Content-Security-Policy violation the page reports
const watched = (context) => watchedPage(context, ORIGIN, problems, { query: true, cspEvents: true });

before(async () => {
    browser = await launchBrowser();
});

after(async () => {
    if (browser)
        await browser.close();
});

async function signIn(page, email, url = `${URL_}/desk`) {
    await page.goto(url);
    await page.locator('#email').fill(email);
    await page.locator('#password').fill(PW);
    await page.getByRole('button', { name: 'Sign in' }).click();
}

async function api(page, p) {
    return page.evaluate(async (u) => {
        const r = await fetch(u, { credentials: 'same-origin' });
        return { status: r.status, body: await r.json() };
    }, `/api/v1${p}`);
}

// PATCH /plugins/metrics {"enabled": ...} with the admin's token
async function setPlugin(enabled) {
    const r = await fetch(`${URL_}/api/v1/plugins/metrics`, {
        method: 'PATCH',
        headers: { Authorization: `Bearer ${ADMIN_TOKEN}`, 'Content-Type': 'application/json' },
        body: JSON.stringify({ enabled }),
    });
    const body = await r.json();
    assert.equal(r.status, 200, JSON.stringify(body));
    return body;
}

function psql(sql) {
    execFileSync('psql', ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', DB, '-c', sql], { stdio: ['ignore', 'ignore', 'inherit'] });
}

// The figures on screen once the answer for (days, queue) is shown.
async function loaded(page, days, queue) {
    await page.waitForFunction(([d, q]) => {
        const s = document.querySelector('section.dashboard');
        const u = new URL(location.href);
        return s && s.getAttribute('aria-busy') === 'false' && document.querySelector('#stat-open data')
            && u.searchParams.get('days') === String(d) && (u.searchParams.get('queue') || '') === (q ? String(q) : '')
            && !document.querySelector('#dash-asof').textContent.includes('previous choice');
    }, [days, queue]);
}

const text = async (loc) => (await loc.textContent()).replace(/\s+/g, ' ').trim();

// Checks the summary figures of the page against the API's answer and
// against the hand-computed ones.
async function checkSummary(page, dash, want) {
    const fr = page.locator('#stat-first-response');
    const res = page.locator('#stat-resolution');
    for (const [loc, got, exp] of [[fr, dash.first_response, want.fr], [res, dash.resolution, want.res]]) {
        assert.equal(got.tickets, exp.tickets);
        if (exp.responded !== undefined)
            assert.equal(got.responded, exp.responded);
        if (exp.median == null) {
            assert.equal(got.median_seconds, null);
            assert.equal(await text(loc.locator('.big')), 'no tickets');
            continue;
        }
        assert.equal(Math.round(got.median_seconds), exp.median, 'the API\'s median = the hand-computed one');
        assert.equal(Math.round(got.p90_seconds), exp.p90, 'the API\'s p90 = the hand-computed one');
        assert.equal(Number(await loc.locator('.median data').getAttribute('value')), got.median_seconds);
        assert.equal(Number(await loc.locator('.p90 data').getAttribute('value')), got.p90_seconds);
        assert.deepEqual([await text(loc.locator('.median')), await text(loc.locator('.p90'))], exp.text);
    }
    assert.match(await text(fr.locator('.hint')), new RegExp(`^${want.fr.responded} of ${want.fr.tickets} tickets? opened by customers in the last ${dash.window_days} days answered$`));
    if (want.csat.count) {
        assert.deepEqual([dash.csat.available, dash.csat.average, dash.csat.count], [true, want.csat.average, want.csat.count]);
        assert.equal(await text(page.locator('#stat-csat .big')), `${want.csat.average} of 5`);
        assert.match(await text(page.locator('#stat-csat .hint')), new RegExp(`^average of ${want.csat.count} ratings? `));
    } else {
        assert.deepEqual([dash.csat.available, dash.csat.count], [true, 0]);
        assert.equal(await text(page.locator('#stat-csat .big')), `no ratings in the last ${dash.window_days} days`);
    }
}

async function checkOpen(page, dash, open) {
    assert.equal(dash.open.total, open.total);
    assert.equal(await page.locator('#stat-open data').getAttribute('value'), String(open.total));
    const rows = async (id) => {
        const out = {};
        for (const tr of await page.locator(`#${id} tbody tr`).all())
            out[await text(tr.locator('th'))] = Number(await text(tr.locator('td.num')));
        return out;
    };
    const cap = (o) => Object.fromEntries(Object.entries(o).map(([k, v]) => [k[0].toUpperCase() + k.slice(1), v]));
    assert.deepEqual(await rows('open-status'), cap(open.status));
    assert.deepEqual(await rows('open-priority'), cap(open.priority));
    assert.deepEqual(await rows('open-queue'), open.queue);
    assert.deepEqual(await rows('open-assignee'), open.assignee);
    // and the API says the same
    assert.deepEqual(dash.open.by_status, open.status);
    assert.deepEqual(Object.fromEntries(dash.open.by_queue.map((q) => [q.name, q.count])), open.queue);
}

// The history table once opened: hour -> [total, new, open, pending] or [queue's]
async function historyTable(page) {
    const det = page.locator('#history-data');
    if (!(await det.evaluate((d) => d.open)))
        await det.locator('summary').click();
    await page.locator('#history-table').waitFor();
    const out = {};
    for (const tr of await page.locator('#history-table tbody tr').all())
        out[await tr.getAttribute('data-hour')] = (await tr.locator('td').allTextContents()).map(Number);
    return out;
}

describe('dashboard', () => {
    test('an agent gets no dashboard: no link, no request, a clear sentence at its address, 404 from the API', async () => {
        const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 } });
        const page = await watched(ctx);
        await signIn(page, 'agent@example.com');
        await page.locator('table.tickets[data-loaded="true"]').waitFor();
        await page.locator('nav#views').waitFor();
        assert.equal(await page.locator('nav#views a', { hasText: 'Dashboard' }).count(), 0, 'no link for an agent');
        await page.goto(`${URL_}/desk/dashboard`);
        const note = page.locator('section.dashboard .notice');
        await note.waitFor();
        assert.match(await text(note), /^The dashboard is for managers and admins\. Your account \(agent\) cannot see it\./);
        assert.equal(await page.locator('.stat, .chart, table.breakdown').count(), 0, 'no figure on the page');
        assert.deepEqual(page.apiCalls.filter((c) => c.includes('/plugins/metrics/')), [], 'the desk asked nothing of the plugin');
        assert.deepEqual(page.paths.filter((p) => p.startsWith('/assets/charts-')), [], 'the charts\' script is never loaded for an agent');
        const r = await api(page, '/plugins/metrics/dashboard');
        assert.equal(r.status, 404, 'the API refuses an agent too');
        assert.equal(await page.locator('nav#views a', { hasText: 'Dashboard' }).count(), 0);
        await ctx.close();
    });

    let ctx;
    let page;

    test('a manager finds the link, and the page shows the API\'s figures, equal to the hand-computed ones (30 days)', async () => {
        ctx = await browser.newContext({ viewport: { width: 1280, height: 900 } });
        page = await watched(ctx);
        await signIn(page, 'mia@example.com');
        const link = page.locator('nav#views a', { hasText: 'Dashboard' });
        await link.waitFor();
        await link.click();
        await page.waitForURL('**/desk/dashboard');
        await page.waitForFunction(() => document.querySelector('section.dashboard')?.getAttribute('aria-busy') === 'false'
            && document.querySelector('#stat-open data'));
        assert.equal(await link.getAttribute('aria-current'), 'page');
        assert.equal(await page.locator('input[name="dash-days"]:checked').getAttribute('value'), '30', '30 days by default');
        assert.equal(await page.evaluate(() => document.activeElement.id), 'dash-title');
        const { body: dash } = await api(page, '/plugins/metrics/dashboard?days=30');
        assert.equal(dash.window_days, 30);
        await checkOpen(page, dash, OPEN);
        await checkSummary(page, dash, EXPECT[30]);
        // no sla plugin here: the API says so and the page says "not available"
        assert.deepEqual(dash.sla, { available: false, met: null, missed: null, compliance_percent: null });
        assert.equal(await text(page.locator('#stat-sla .big')), 'not available');
        // the picture in the README: both charts drawn, their tables folded
        await page.locator('#daily-title + .chart-summary + .chart canvas').first().waitFor();
        await page.locator('#history-title + .chart-summary + .chart canvas').first().waitFor();
        assert.equal(page.paths.filter((p) => p.startsWith('/assets/charts-')).length, 1,
                     'the charts\' own script, loaded once for both charts');
        await page.screenshot({ path: path.join(SHOTS, 'dashboard.png'), fullPage: true });
    });

    test('created and solved per day: a chart, its summary and its table equal the seeded days', async () => {
        // by hand: each ticket's creation day, and its solved (else closed) day, in UTC
        const created = {};
        const solved = {};
        for (const t of TICKETS) {
            created[isoDay(NOW + t.created)] = (created[isoDay(NOW + t.created)] || 0) + 1;
            if (t.done !== undefined)
                solved[isoDay(NOW + t.created + t.done)] = (solved[isoDay(NOW + t.created + t.done)] || 0) + 1;
        }
        const chart = page.locator('#daily-title + .chart-summary + .chart');
        await chart.locator('canvas').first().waitFor();
        assert.equal(await chart.getAttribute('role'), 'img');
        assert.match(await chart.getAttribute('aria-label'), /created and solved per day/);
        assert.ok((await chart.boundingBox()).width > 600, 'the chart takes the width of the page');
        assert.match(await text(page.locator('#daily-summary')), /: 8 tickets created and 4 solved; the most created on one day: 1, on /);
        await page.locator('#daily-data summary').click();
        await page.locator('#daily-table').waitFor();     // drawn when opened
        const rows = await page.locator('#daily-table tbody tr').all();
        assert.equal(rows.length, 90, '90 days');
        const seen = { created: {}, solved: {} };
        for (const tr of rows) {
            const day = await tr.getAttribute('data-date');
            const c = Number(await text(tr.locator('td.created')));
            const s = Number(await text(tr.locator('td.solved')));
            if (c)
                seen.created[day] = c;
            if (s)
                seen.solved[day] = s;
        }
        assert.deepEqual(seen, { created, solved });
        assert.equal(await rows[0].getAttribute('data-date'), isoDay(Date.now() / 1000), 'the newest day first: today (UTC)');
        const { body: dash } = await api(page, '/plugins/metrics/dashboard?days=30');
        assert.deepEqual(Object.fromEntries(dash.daily.filter((d) => d.created).map((d) => [d.date, d.created])), created);
    });

    test('open tickets per hour from the snapshots: chart, summary and table (30 days)', async () => {
        const hour0 = Math.floor(NOW / H) * H;
        const chart = page.locator('#history-title + .chart-summary + .chart');
        await chart.locator('canvas').first().waitFor();
        const table = await historyTable(page);
        for (const [back, n, o, p] of SNAPS)
            assert.deepEqual(table[isoHour(hour0 - back * H)], [n + o + p, n, o, p], `the snapshot ${back} h back`);
        const { body: hist } = await api(page, '/plugins/metrics/history?hours=720');
        // the hourly job may have added the hour that began during the test
        assert.equal(Object.keys(table).length, hist.snapshots.length);
        assert.ok(hist.snapshots.length === EXPECT[30].snapshots || hist.snapshots.length === EXPECT[30].snapshots + 1);
        assert.match(await text(page.locator('#history-summary')), new RegExp(`^${hist.snapshots.length} snapshots from `));
        const problems_ = await page.evaluate(() => window.cspViolations);
        assert.deepEqual(problems_, [], 'no Content-Security-Policy violation: uPlot styles through the CSSOM only');
    });

    test('the window: 7 and 90 days change every figure to the hand-computed ones', async () => {
        await page.getByText('7 days', { exact: true }).click();
        await loaded(page, 7, null);
        let { body: dash } = await api(page, '/plugins/metrics/dashboard?days=7');
        await checkSummary(page, dash, EXPECT[7]);
        await checkOpen(page, dash, OPEN);      // the open tickets do not depend on the window
        let table = await historyTable(page);
        assert.ok(!Object.keys(table).includes(isoHour(Math.floor(NOW / H) * H - 240 * H)), 'ten days back is outside 7 days');
        assert.ok(Object.keys(table).length >= EXPECT[7].snapshots);
        assert.equal(await text(page.locator('#history-title')), 'Open tickets per hour, last 7 days');

        await page.getByText('90 days', { exact: true }).click();
        await loaded(page, 90, null);
        ({ body: dash } = await api(page, '/plugins/metrics/dashboard?days=90'));
        await checkSummary(page, dash, EXPECT[90]);
        table = await historyTable(page);
        assert.ok(Object.keys(table).length >= EXPECT[90].snapshots);
        assert.deepEqual(await page.evaluate(() => window.cspViolations), []);
    });

    test('the queue filter: billing alone, in the figures and in the history', async () => {
        await page.getByText('30 days', { exact: true }).click();
        await loaded(page, 30, null);
        await page.locator('#dash-queue').selectOption({ label: 'billing' });
        const billing = Number(await page.locator('#dash-queue').inputValue());
        await loaded(page, 30, billing);
        assert.equal(await text(page.locator('#dash-title')), 'Dashboard: billing');
        const { body: dash } = await api(page, `/plugins/metrics/dashboard?days=30&queue_id=${billing}`);
        assert.equal(dash.queue_id, billing);
        // G answered in 30 min (H was opened by staff, I is merged); nothing solved; no ratings
        await checkSummary(page, dash, {
            fr: { tickets: 1, responded: 1, median: 1800, p90: 1800, text: ['30 min', '30 min'] },
            res: { tickets: 0, median: null },
            csat: { count: 0 },
        });
        await checkOpen(page, dash, {
            total: 2, status: { new: 0, open: 1, pending: 1 }, priority: { urgent: 0, high: 1, normal: 0, low: 1 },
            queue: { billing: 2 }, assignee: { Unassigned: 1, 'Olga Other': 1 },
        });
        const hour0 = Math.floor(NOW / H) * H;
        const table = await historyTable(page);
        for (const [back, n, o, p, sup] of SNAPS)
            assert.deepEqual(table[isoHour(hour0 - back * H)], [n + o + p - sup], `billing's open tickets ${back} h back`);
        // the address keeps the choice: a reload shows the same
        await page.reload();
        await loaded(page, 30, billing);
        assert.equal(await page.locator('#dash-queue').inputValue(), String(billing));
        await page.locator('#dash-queue').selectOption({ label: 'All queues' });
        await loaded(page, 30, null);
    });

    test('an address it does not understand: said on the page, the defaults shown, no request refused', async () => {
        const calls = page.apiCalls.length;
        await page.goto(`${URL_}/desk/dashboard?days=banana&queue=-3`);
        await page.locator('#dash-odd').waitFor();
        assert.equal(await text(page.locator('#dash-odd')), 'In the address, the window "banana" is not 7, 30 or 90 days: '
            + 'showing 30 days; the queue "-3" is not a queue\'s number: showing all queues.');
        await page.waitForFunction(() => document.querySelector('section.dashboard')?.getAttribute('aria-busy') === 'false'
            && document.querySelector('#stat-open data'));
        assert.equal(await page.locator('input[name="dash-days"]:checked').getAttribute('value'), '30');
        assert.equal(await page.locator('#stat-open data').getAttribute('value'), String(OPEN.total));
        assert.ok(page.apiCalls.slice(calls).includes('GET /api/v1/plugins/metrics/dashboard?days=30'),
                  'the API was asked for what the page shows');
        // a queue that does not exist: zeros, and the page says why
        await page.goto(`${URL_}/desk/dashboard?days=7&queue=987654`);
        await loaded(page, 7, 987654);
        assert.equal(await text(page.locator('#dash-odd')),
                     'In the address, there is no queue #987654, or none you may see: its figures are all zero.');
        assert.equal(await page.locator('#stat-open data').getAttribute('value'), '0');
        assert.equal(await page.locator('.error').count(), 0);
        await page.goto(`${URL_}/desk/dashboard?days=30`);
        await loaded(page, 30, null);
        assert.equal(await page.locator('#dash-odd').count(), 0);
    });

    test('SLA compliance once the sla plugin\'s outcomes exist: the API\'s and the hand-computed percentage', async () => {
        // the table the sla plugin keeps (the metrics plugin reads it by contract)
        psql(`CREATE TABLE sla_outcomes (ticket_id bigint NOT NULL, met boolean, decided_at timestamptz NOT NULL);
              INSERT INTO sla_outcomes SELECT t.id, o.met, to_timestamp(${NOW} + o.at)
                FROM (VALUES ('A', true, -2*86400), ('B', true, -2*86400), ('C', false, -4*86400), ('E', true, -15*86400)) o(tag, met, at)
                JOIN tickets t ON t.subject = 'Dashboard case ' || o.tag`);
        try {
            await page.getByRole('button', { name: 'Refresh' }).click();
            await page.locator('#stat-sla data').waitFor();
            let { body: dash } = await api(page, '/plugins/metrics/dashboard?days=30');
            assert.deepEqual([dash.sla.available, dash.sla.met, dash.sla.missed, dash.sla.compliance_percent],
                             [true, EXPECT[30].sla.met, EXPECT[30].sla.missed, EXPECT[30].sla.percent]);
            assert.equal(await text(page.locator('#stat-sla .big')), '75 %');
            assert.equal(await text(page.locator('#stat-sla .hint')), '3 met, 1 missed in the last 30 days');
            await page.getByText('7 days', { exact: true }).click();
            await loaded(page, 7, null);
            ({ body: dash } = await api(page, '/plugins/metrics/dashboard?days=7'));
            assert.equal(dash.sla.compliance_percent, EXPECT[7].sla.percent);
            assert.equal(await text(page.locator('#stat-sla .big')), '66.7 %');
        } finally {
            psql('DROP TABLE sla_outcomes');
        }
    });

    test('the page keeps the strict CSP, and the check would see a violation', async () => {
        const res = await page.goto(`${URL_}/desk/dashboard?days=30`);
        const csp = res.headers()['content-security-policy'];
        assert.match(csp, /style-src 'self'(;|$)/);
        assert.ok(!csp.includes('unsafe-inline'));
        await loaded(page, 30, null);
        await page.locator('#daily-title + .chart-summary + .chart canvas').first().waitFor();
        assert.deepEqual(await page.evaluate(() => window.cspViolations), []);
        // what the policy forbids (a style attribute, a <style> element) is reported
        await page.evaluate(() => {
            const d = document.createElement('div');
            d.setAttribute('style', 'color: red');
            document.body.append(d);
            const s = document.createElement('style');
            s.textContent = 'body { color: red }';
            document.head.append(s);
        });
        await page.waitForFunction(() => window.cspViolations.length >= 2);
        assert.ok((await page.evaluate(() => window.cspViolations)).every((v) => v.startsWith('style-src')));
        assert.deepEqual(page.foreign, [], 'nothing requested from another origin');
    });

    test('when the charts\' script cannot be loaded, the page says so and the numbers stay', async () => {
        const c = await browser.newContext({ viewport: { width: 1280, height: 800 } });
        await c.route('**/assets/charts-*.js', (r) => r.abort());
        const p = await watched(c);
        await signIn(p, 'mia@example.com', `${URL_}/desk/dashboard?days=30`);
        await loaded(p, 30, null);
        const errs = p.locator('.chart-block .error');
        await errs.nth(1).waitFor();
        assert.deepEqual((await errs.allTextContents()).map((t) => t.replace(/\s+/g, ' ')),
                         Array(2).fill('The chart could not be loaded (reload the page to try again); its numbers are in the table below.'));
        assert.equal(await p.locator('#stat-open data').getAttribute('value'), String(OPEN.total));
        await p.locator('#daily-data summary').click();
        await p.locator('#daily-table').waitFor();
        assert.equal(await p.locator('#daily-table tbody tr').count(), 90);
        await c.close();
    });

    test('360 px wide: everything readable, nothing wider than the screen', async () => {
        const narrow = await browser.newContext({ viewport: { width: 360, height: 740 } });
        const p = await watched(narrow);
        await signIn(p, 'mia@example.com', `${URL_}/desk/dashboard?days=30`);
        await loaded(p, 30, null);
        await p.locator('#history-title + .chart-summary + .chart canvas').first().waitFor();
        const wide = await p.evaluate(() => document.documentElement.scrollWidth);
        assert.ok(wide <= 360, `the page is ${wide} px wide`);
        await p.screenshot({ path: path.join(SHOTS, 'dashboard-360.png'), fullPage: true });
        assert.deepEqual(await p.evaluate(() => window.cspViolations), []);
        await narrow.close();
    });

    test('accessibility: no serious or critical axe-core finding (WCAG 2 A and AA), tables open', async () => {
        const actx = await browser.newContext({ bypassCSP: true, viewport: { width: 1280, height: 900 } });
        const p = await watched(actx);
        await signIn(p, 'mia@example.com', `${URL_}/desk/dashboard?days=30`);
        await loaded(p, 30, null);
        await p.locator('#daily-data summary').click();
        await p.locator('#daily-table').waitFor();
        await p.locator('#history-data summary').click();
        await p.locator('#history-table').waitFor();
        assert.deepEqual(await axeFindings(p, 'the dashboard, tables open'), []);
        await actx.close();
    });

    test('the link follows the plugin: none while it is off (the page says why), back when it is on; admins get it too', async () => {
        const probe = (p) => p.waitForResponse((r) => r.url().endsWith('/api/v1/plugins/metrics/history?hours=1'));
        const c = await browser.newContext({ viewport: { width: 1280, height: 800 } });
        try {
            assert.notEqual((await setPlugin(false)).state, 'loaded');
            let p = await watched(c);
            let answered = probe(p);
            await signIn(p, 'mia@example.com');
            assert.equal((await answered).status(), 404, 'the server answers no dashboard');
            await p.locator('table.tickets[data-loaded="true"]').waitFor();
            assert.equal(await p.locator('nav#views a', { hasText: 'Dashboard' }).count(), 0, 'no link without the plugin');
            await p.goto(`${URL_}/desk/dashboard`);
            const err = p.locator('section.dashboard .error');
            await err.waitFor();
            assert.match(await text(err), /^This server has no dashboard: the metrics plugin is not loaded/);
            assert.equal(await p.locator('.stat, .chart').count(), 0);

            assert.equal((await setPlugin(true)).state, 'loaded');
            answered = probe(p);
            await p.goto(`${URL_}/desk`);
            assert.equal((await answered).status(), 200);
            await p.locator('nav#views a', { hasText: 'Dashboard' }).waitFor();
            await p.close();

            // an admin, like a manager
            const a = await browser.newContext({ viewport: { width: 1280, height: 800 } });
            p = await watched(a);
            await signIn(p, 'ada@example.com');
            await p.locator('nav#views a', { hasText: 'Dashboard' }).click();
            await p.waitForFunction(() => document.querySelector('section.dashboard')?.getAttribute('aria-busy') === 'false'
                && document.querySelector('#stat-open data'));
            assert.equal(await p.locator('#stat-open data').getAttribute('value'), String(OPEN.total));
            await a.close();
        } finally {
            await setPlugin(true);
            await c.close();
        }
    });

    test('no script error on any page', async () => {
        if (ctx)
            await ctx.close();
        assert.deepEqual(problems, []);
    });
});
