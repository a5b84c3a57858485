// dashboard.jsx -- the managers' dashboard at /desk/dashboard: what the
// metrics plugin computes (GET /plugins/metrics/dashboard, .../history;
// plugins/metrics/dashboard.h), for one queue or all, over 7, 30 or 90
// days (?days=&queue= in the address, so a view can be linked):
//   - open tickets by status, priority, queue and assignee;
//   - median and p90 time to the first answer and to resolution, SLA
//     compliance and customer satisfaction ("not available" when the API
//     says so: no sla plugin, no ratings table);
//   - created and solved per day for 90 days, and open tickets per hour
//     from the hourly snapshots, as charts (charts.js) each with a text
//     summary and a table of the same numbers.
//
// The entry in the desk's navigation is dashlink.jsx (in the desk's first
// script; this screen is a chunk loaded when it is opened).  Agents get no
// link, and the page tells them it is not theirs without asking the API.
//
// The style sheets (uPlot's and dashboard.css) are imported by desk.jsx:
// the desk has one style sheet, however its script is split.

import { useEffect, useRef, useState } from 'preact/hooks';
import { describe, get } from './api.js';
import { PRIORITIES, STATUSES, cap, when } from './format.js';
import { follow, navigate } from './router.js';
import { mayUseDashboard } from './dashlink.jsx';

// charts.js, built apart (web/build.mjs defines CHARTS_URL): fetched the
// first time a chart is drawn, then shared by every chart.  A module that
// failed to load stays failed for the page (the browser keeps it so):
// reloading the page is what tries again.
let chartsModule = null;
function loadCharts() {
    if (!chartsModule)
        chartsModule = typeof CHARTS_URL === 'string' ? import(CHARTS_URL)
            : Promise.reject(new Error('this build has no charts script'));
    return chartsModule;
}

const WINDOWS = [7, 30, 90];
const OPEN_STATUSES = STATUSES.filter((s) => s === 'new' || s === 'open' || s === 'pending');
const COLORS = { blue: '#0a58ca', green: '#116329', orange: '#a44a00', purple: '#6f42c1', ink: '#1b1f24' };

export function dashboardUrl(days, queue) {
    const p = new URLSearchParams();
    p.set('days', String(days));
    if (queue)
        p.set('queue', String(queue));
    return `/desk/dashboard?${p}`;
}

function parseDays(s) {
    const n = Number(s);
    return WINDOWS.includes(n) ? n : 30;
}

function parseQueue(s) {
    return /^[1-9][0-9]{0,14}$/.test(s || '') ? Number(s) : null;   // a safe integer
}

// ---- numbers as words --------------------------------------------------

// 12240 -> "3 h 24 min"; minutes below a day, hours above.
export function duration(seconds) {
    if (seconds == null || !Number.isFinite(seconds))
        return '';
    const s = Math.round(seconds);
    if (s < 60)
        return `${s} s`;
    const m = Math.round(s / 60);
    if (m < 60)
        return `${m} min`;
    if (m < 24 * 60) {
        const h = Math.floor(m / 60);
        return m % 60 ? `${h} h ${m % 60} min` : `${h} h`;
    }
    const h = Math.round(s / 3600);
    const d = Math.floor(h / 24);
    return h % 24 ? `${d} d ${h % 24} h` : `${d} d`;
}

const plural = (n, one, many) => `${n} ${n === 1 ? one : many}`;

function Seconds({ value }) {
    return <data value={String(value)}>{duration(value)}</data>;
}

// ---- the page ----------------------------------------------------------

export function Dashboard({ me, queues, days: daysParam, queue: queueParam }) {
    const days = parseDays(daysParam);
    const queue = parseQueue(queueParam);
    const h1 = useRef(null);
    const [dash, setDash] = useState(null);
    const [hist, setHist] = useState(null);
    const [error, setError] = useState(null);
    const [loading, setLoading] = useState(false);
    const [again, setAgain] = useState(0);
    const allowed = mayUseDashboard(me);

    useEffect(() => { if (h1.current) h1.current.focus(); }, []);

    useEffect(() => {
        if (!allowed)
            return undefined;
        const ctl = new AbortController();
        setLoading(true);
        const q = queue ? `&queue_id=${queue}` : '';
        Promise.all([
            get(`/plugins/metrics/dashboard?days=${days}${q}`, { signal: ctl.signal }),
            get(`/plugins/metrics/history?hours=${days * 24}`, { signal: ctl.signal }),
        ]).then(([d, h]) => {
            setDash(d);
            setHist(h);
            setError(null);
            setLoading(false);
        }).catch((e) => {
            if (e.name === 'AbortError')
                return;
            setLoading(false);
            setError(e.status === 404
                ? 'This server has no dashboard: the metrics plugin is not loaded (see the README, "The metrics plugin").'
                : describe(e, 'loading the dashboard'));
        });
        return () => ctl.abort();
    }, [days, queue, again, allowed]);

    if (!allowed)
        return (
            <section class="dashboard" aria-labelledby="dash-title">
                <h1 id="dash-title" tabindex="-1" ref={h1}>Dashboard</h1>
                <p class="notice" role="status">The dashboard is for managers and admins. Your account ({me.role})
                    cannot see it. <a href="/desk" onClick={follow}>Go to the inbox</a>.</p>
            </section>
        );

    const go = (d, q) => navigate(dashboardUrl(d, q), { replace: true });
    const queueList = mergeQueues(queues, dash);
    const queueName = queue ? (queueList.find((x) => x.id === queue) || { name: `#${queue}` }).name : null;
    const shown = dash && dash.window_days === days && (dash.queue_id || null) === queue;
    // what in the address was not understood, said rather than guessed at
    const odd = [];
    if (daysParam && String(days) !== daysParam)
        odd.push(`the window "${daysParam}" is not 7, 30 or 90 days: showing ${days} days`);
    if (queueParam && !queue)
        odd.push(`the queue "${queueParam}" is not a queue's number: showing all queues`);
    else if (queue && shown && dash.open.by_queue.length === 0)
        odd.push(`there is no queue #${queue}, or none you may see: its figures are all zero`);

    return (
        <section class="dashboard" aria-labelledby="dash-title" aria-busy={loading ? 'true' : 'false'}>
            <div class="dash-head">
                <h1 id="dash-title" tabindex="-1" ref={h1}>Dashboard{queueName ? `: ${queueName}` : ''}</h1>
                <form class="dash-controls" onSubmit={(e) => e.preventDefault()} aria-label="What the dashboard shows">
                    <span class="dash-field">
                        <label for="dash-queue">Queue</label>
                        <select id="dash-queue" value={queue ? String(queue) : ''}
                                onChange={(e) => go(days, parseQueue(e.currentTarget.value))}>
                            <option value="">All queues</option>
                            {queueList.map((x) => <option value={String(x.id)}>{x.name}</option>)}
                        </select>
                    </span>
                    <fieldset class="dash-window">
                        <legend>Window</legend>
                        {WINDOWS.map((w) => (
                            <label>
                                <input type="radio" name="dash-days" value={String(w)} checked={w === days}
                                       onChange={() => go(w, queue)} /> {w} days
                            </label>
                        ))}
                    </fieldset>
                    <button type="button" onClick={() => setAgain((n) => n + 1)} disabled={loading}>Refresh</button>
                </form>
            </div>
            {error && <p class="error" role="alert">{error}</p>}
            {odd.length > 0 && <p class="notice" id="dash-odd" role="status">In the address, {odd.join('; ')}.</p>}
            {loading && <p class="loading" role="status">Loading the figures…</p>}
            {dash && (
                <p class="hint" id="dash-asof">
                    Figures as of <time datetime={dash.generated_at}>{when(dash.generated_at)}</time>
                    {shown ? '' : ' (for the previous choice, until the new ones arrive)'}; days are
                    counted in the server's time zone, {dash.timezone}.
                </p>
            )}
            {dash && <Summary dash={dash} />}
            {dash && <OpenTickets open={dash.open} />}
            {dash && <Daily daily={dash.daily || []} queueName={queueName} />}
            {hist && dash && <History snapshots={hist.snapshots || []} days={days} queue={queue} queueName={queueName}
                                     until={Date.parse(dash.generated_at) / 1000} />}
        </section>
    );
}

function mergeQueues(queues, dash) {
    const list = (queues || []).map((q) => ({ id: q.id, name: q.name }));
    for (const q of (dash && dash.open && dash.open.by_queue) || [])
        if (!list.some((x) => x.id === q.queue_id))
            list.push({ id: q.queue_id, name: q.name });
    return list.sort((a, b) => a.name.localeCompare(b.name));
}

// ---- the figures ---------------------------------------------------------

function Summary({ dash }) {
    const fr = dash.first_response || {};
    const res = dash.resolution || {};
    const sla = dash.sla || {};
    const csat = dash.csat || {};
    const win = `in the last ${dash.window_days} days`;
    return (
        <section aria-labelledby="dash-summary">
            <h2 id="dash-summary">The last {dash.window_days} days</h2>
            <ul class="stats">
                <li class="stat" id="stat-open">
                    <h3>Open tickets</h3>
                    <p class="big"><data value={String(dash.open.total)}>{dash.open.total}</data></p>
                    <p class="hint">new, open and pending, now</p>
                </li>
                <li class="stat" id="stat-first-response">
                    <h3>First response</h3>
                    <Times median={fr.median_seconds} p90={fr.p90_seconds} />
                    <p class="hint">{fr.responded} of {plural(fr.tickets, 'ticket', 'tickets')} opened by customers
                        {' '}{win} answered</p>
                </li>
                <li class="stat" id="stat-resolution">
                    <h3>Resolution</h3>
                    <Times median={res.median_seconds} p90={res.p90_seconds} />
                    <p class="hint">{plural(res.tickets, 'ticket', 'tickets')} solved {win}</p>
                </li>
                <li class="stat" id="stat-sla">
                    <h3>SLA compliance</h3>
                    {sla.available && sla.compliance_percent != null ? (
                        <>
                            <p class="big"><data value={String(sla.compliance_percent)}>{sla.compliance_percent} %</data></p>
                            <p class="hint">{sla.met} met, {sla.missed} missed {win}</p>
                        </>
                    ) : sla.available ? (
                        <p class="big na">no targets decided {win}</p>
                    ) : (
                        <>
                            <p class="big na">not available</p>
                            <p class="hint">no SLA plugin on this server</p>
                        </>
                    )}
                </li>
                <li class="stat" id="stat-csat">
                    <h3>Customer satisfaction</h3>
                    {csat.available && csat.count > 0 ? (
                        <>
                            <p class="big"><data value={String(csat.average)}>{csat.average}</data> <span class="of">of 5</span></p>
                            <p class="hint">average of {plural(csat.count, 'rating', 'ratings')} {win}</p>
                        </>
                    ) : csat.available ? (
                        <p class="big na">no ratings {win}</p>
                    ) : (
                        <>
                            <p class="big na">not available</p>
                            <p class="hint">this server keeps no ratings</p>
                        </>
                    )}
                </li>
            </ul>
        </section>
    );
}

function Times({ median, p90 }) {
    if (median == null)
        return <p class="big na">no tickets</p>;
    return (
        <dl class="times">
            <dt>median</dt><dd class="median"><Seconds value={median} /></dd>
            <dt>90 % within</dt><dd class="p90"><Seconds value={p90} /></dd>
        </dl>
    );
}

function OpenTickets({ open }) {
    const total = open.total || 0;
    const byStatus = OPEN_STATUSES.map((s) => ({ key: s, label: cap(s), n: (open.by_status || {})[s] || 0 }));
    const byPriority = PRIORITIES.map((p) => ({ key: p, label: cap(p), n: (open.by_priority || {})[p] || 0 }));
    const byQueue = (open.by_queue || []).map((q) => ({ key: String(q.queue_id), label: q.name, n: q.count }));
    const byAssignee = (open.by_assignee || []).map((a) => ({
        key: a.assignee_id == null ? 'none' : String(a.assignee_id),
        label: a.assignee_id == null ? 'Unassigned' : (a.name || a.email || `#${a.assignee_id}`),
        n: a.count,
    }));
    return (
        <section aria-labelledby="dash-open">
            <h2 id="dash-open">Open tickets now: {total}</h2>
            <div class="breakdowns">
                <Breakdown id="open-status" title="By status" rows={byStatus} total={total} />
                <Breakdown id="open-priority" title="By priority" rows={byPriority} total={total} />
                <Breakdown id="open-queue" title="By queue" rows={byQueue} total={total} />
                <Breakdown id="open-assignee" title="By assignee" rows={byAssignee} total={total} />
            </div>
        </section>
    );
}

function Breakdown({ id, title, rows, total }) {
    return (
        <table class="breakdown" id={id}>
            <caption>{title}</caption>
            <thead><tr><th scope="col">{title.replace(/^By /, '').replace(/^./, (c) => c.toUpperCase())}</th>
                <th scope="col" class="num">Open</th><th scope="col"><span class="sr-only">Share</span></th></tr></thead>
            <tbody>
                {rows.length === 0 && <tr><td colSpan="3" class="muted">none</td></tr>}
                {rows.map((r) => (
                    <tr data-key={r.key}>
                        <th scope="row">{r.label}</th>
                        <td class="num">{r.n}</td>
                        <td class="bar"><meter aria-hidden="true" min="0" max={String(Math.max(total, 1))} value={String(r.n)} /></td>
                    </tr>
                ))}
            </tbody>
        </table>
    );
}

// A chart with its summary and, on demand, its table.
function ChartBlock({ id, title, summary, chart, table }) {
    const [open, setOpen] = useState(false);
    return (
        <section class="chart-block" aria-labelledby={`${id}-title`}>
            <h2 id={`${id}-title`}>{title}</h2>
            <p class="chart-summary" id={`${id}-summary`}>{summary}</p>
            {chart}
            <details id={`${id}-data`} onToggle={(e) => setOpen(e.currentTarget.open)}>
                <summary>The numbers as a table</summary>
                {open && table()}
            </details>
        </section>
    );
}

function Chart({ label, describedBy, kind, xs, series, xRange }) {
    const box = useRef(null);
    const [failed, setFailed] = useState(false);
    useEffect(() => {
        if (!box.current || xs.length === 0)
            return undefined;
        let chart = null;
        let live = true;
        loadCharts().then(({ lineChart }) => {
            if (live && box.current)
                chart = lineChart(box.current, { kind, xs, series, xRange });
        }).catch(() => { if (live) setFailed(true); });
        return () => {
            live = false;
            if (chart)
                chart.destroy();
        };
    }, [xs, series, xRange && xRange[0], xRange && xRange[1]]);
    if (xs.length === 0)
        return null;
    if (failed)
        return <p class="error">The chart could not be loaded (reload the page to try again); its numbers are in the table below.</p>;
    return <div class="chart" role="img" aria-label={label} aria-describedby={describedBy} ref={box} />;
}

const dayStart = (iso) => Date.UTC(+iso.slice(0, 4), +iso.slice(5, 7) - 1, +iso.slice(8, 10)) / 1000;
const dayText = (iso) => new Date(dayStart(iso) * 1000).toLocaleDateString(undefined, { dateStyle: 'medium', timeZone: 'UTC' });

function Daily({ daily, queueName }) {
    const { xs, series, created, solved, busiest } = dailySeries(daily);
    const summary = daily.length === 0 ? 'No days to show.'
        : `From ${dayText(daily[0].date)} to ${dayText(daily[daily.length - 1].date)}${queueName ? ` in ${queueName}` : ''}: `
          + `${plural(created, 'ticket', 'tickets')} created and ${solved} solved`
          + (busiest ? `; the most created on one day: ${busiest.created}, on ${dayText(busiest.date)}.` : '.');
    return (
        <ChartBlock id="daily" title="Created and solved per day, last 90 days" summary={summary}
            chart={<Chart label="Line chart of tickets created and solved per day" describedBy="daily-summary"
                          kind="day" xs={xs} series={series} />}
            table={() => (
                <table class="data" id="daily-table">
                    <caption class="sr-only">Tickets created and solved per day</caption>
                    <thead><tr><th scope="col">Day</th><th scope="col" class="num">Created</th><th scope="col" class="num">Solved</th></tr></thead>
                    <tbody>
                        {[...daily].reverse().map((d) => (
                            <tr data-date={d.date}>
                                <th scope="row"><time datetime={d.date}>{dayText(d.date)}</time></th>
                                <td class="num created">{d.created}</td>
                                <td class="num solved">{d.solved}</td>
                            </tr>
                        ))}
                    </tbody>
                </table>
            )} />
    );
}

// Recomputed only when the answer changes (the chart is rebuilt then).
const dailyMemo = new WeakMap();
function dailySeries(daily) {
    let m = dailyMemo.get(daily);
    if (!m) {
        let created = 0, solved = 0, busiest = null;
        for (const d of daily) {
            created += d.created;
            solved += d.solved;
            if (d.created > 0 && (!busiest || d.created > busiest.created))
                busiest = d;
        }
        m = {
            xs: daily.map((d) => dayStart(d.date)),
            series: [
                { label: 'Created', values: daily.map((d) => d.created), color: COLORS.blue },
                { label: 'Solved', values: daily.map((d) => d.solved), color: COLORS.green, dash: [6, 4] },
            ],
            created, solved, busiest,
        };
        dailyMemo.set(daily, m);
    }
    return m;
}

const histMemo = new WeakMap();

// The snapshots as rows: open tickets in total (or in the chosen queue)
// and by status.  Hours without a snapshot are gaps in the lines.
function historyRows(snapshots, queue) {
    const key = histMemo.get(snapshots);
    if (key && key.queue === queue)
        return key.value;
    const rows = snapshots.map((s) => {
        const open = (s.data && s.data.open) || {};
        const row = { hour: s.hour, t: Date.parse(s.hour) / 1000 };
        if (queue) {
            const q = (open.by_queue || []).find((x) => x.queue_id === queue);
            row.total = q ? q.count : null;
        } else {
            row.total = open.total ?? null;
            for (const st of OPEN_STATUSES)
                row[st] = open.by_status ? open.by_status[st] ?? null : null;
        }
        return row;
    });
    const xs = [];
    const at = new Map(rows.map((r) => [r.t, r]));
    if (rows.length)
        for (let t = rows[0].t; t <= rows[rows.length - 1].t; t += 3600)
            xs.push(t);
    const col = (k) => xs.map((t) => (at.has(t) ? at.get(t)[k] : null));
    const series = [{ label: queue ? 'Open in the queue' : 'Open, all', values: col('total'), color: COLORS.ink }];
    if (!queue)
        series.push(
            { label: 'New', values: col('new'), color: COLORS.blue, dash: [6, 4] },
            { label: 'Open', values: col('open'), color: COLORS.orange, dash: [2, 3] },
            { label: 'Pending', values: col('pending'), color: COLORS.purple, dash: [10, 3, 2, 3] });
    const value = { rows, xs, series };
    histMemo.set(snapshots, { queue, value });
    return value;
}

function History({ snapshots, days, queue, queueName, until }) {
    const { rows, xs, series } = historyRows(snapshots, queue);
    let summary;
    if (rows.length === 0) {
        summary = `No hourly snapshots in the last ${days} days yet: the metrics plugin takes one at every full hour.`;
    } else {
        const vals = rows.filter((r) => r.total != null);
        const hi = vals.reduce((a, r) => (a && a.total >= r.total ? a : r), null);
        const lo = vals.reduce((a, r) => (a && a.total <= r.total ? a : r), null);
        const last = rows[rows.length - 1];
        summary = `${plural(rows.length, 'snapshot', 'snapshots')} from ${when(rows[0].hour)} to ${when(last.hour)}`
            + `${queueName ? ` (open tickets of ${queueName})` : ''}: `
            + (hi ? `${last.total ?? 'none'} open at the last, the most ${hi.total} (${when(hi.hour)}), the fewest ${lo.total} (${when(lo.hour)}).`
                : 'none of them counts this queue.');
    }
    return (
        <ChartBlock id="history" title={`Open tickets per hour, last ${days} days`} summary={summary}
            chart={<Chart label="Line chart of open tickets per hour from the hourly snapshots" describedBy="history-summary"
                          kind="hour" xs={xs} series={series} xRange={[until - days * 86400, until]} />}
            table={() => (
                <table class="data" id="history-table">
                    <caption class="sr-only">Open tickets per hour</caption>
                    <thead>
                        <tr>
                            <th scope="col">Hour</th>
                            <th scope="col" class="num">{queue ? 'Open in the queue' : 'Open'}</th>
                            {!queue && OPEN_STATUSES.map((s) => <th scope="col" class="num">{cap(s)}</th>)}
                        </tr>
                    </thead>
                    <tbody>
                        {[...rows].reverse().map((r) => (
                            <tr data-hour={r.hour}>
                                <th scope="row"><time datetime={r.hour}>{when(r.hour)}</time></th>
                                <td class="num total">{r.total ?? '–'}</td>
                                {!queue && OPEN_STATUSES.map((s) => <td class={`num ${s}`}>{r[s] ?? '–'}</td>)}
                            </tr>
                        ))}
                    </tbody>
                </table>
            )} />
    );
}
