// charts.js -- line charts for the dashboard (dashboard.jsx), drawn by
// uPlot (npm `uplot`, MIT; why this one: docs/libraries.md).
//
// This module and uPlot are a bundle of their own (web/build.mjs builds
// charts-<hash>.js), imported by dashboard.jsx when it first draws a
// chart, so the desk's first view never loads them; uPlot's style sheet
// (1.6 KB) is in the desk's, imported by dashboard.jsx.
//
// uPlot draws on a canvas and sets sizes and positions through the
// element's style object (CSSOM), which the desk's Content-Security-Policy
// (style-src 'self') allows; it adds no <style> element and no style
// attribute.  The canvas says nothing to a screen reader: every chart on
// the dashboard has a text summary and a table of the same numbers.
//
//   const c = lineChart(el, { kind: 'day' | 'hour', xs, series, xRange, height });
//   ...
//   c.destroy();
//
// xs are Unix seconds.  'day': each x is 00:00 UTC of a calendar day and
// the axis shows that day (the API's days are in the server's time zone,
// already resolved to dates); 'hour': instants shown in the browser's
// time zone.  series: [{ label, values (numbers or null for a gap),
// color, dash }] -- lines differ by dash as well as colour, so colour is
// never the only difference; points are drawn where they are few, so a
// lone value between gaps is seen.  xRange [min, max] (seconds) fixes the
// time axis, e.g. to the whole window asked for; else it fits the data.
// The chart follows its element's width.

import uPlot from 'uplot';

const AXIS = { stroke: '#57606a', grid: { stroke: '#eaeef2', width: 1 }, ticks: { stroke: '#d0d7de', width: 1 } };

// whole numbers only on the count axis
const COUNT_STEPS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 20000, 50000, 100000];

export function lineChart(el, { kind, xs, series, xRange, height = 240 }) {
    const utc = kind === 'day';
    const opts = {
        width: Math.max(280, el.clientWidth || 600),
        height,
        scales: {
            x: xRange ? { time: true, range: () => xRange } : { time: true },
            y: { range: (u, min, max) => [0, Math.max(4, Math.ceil((max || 0) * 1.1))] },
        },
        series: [
            { label: utc ? 'Day' : 'Hour', value: utc ? '{YYYY}-{MM}-{DD}' : '{YYYY}-{MM}-{DD} {HH}:{mm}' },
            ...series.map((s) => ({
                label: s.label,
                stroke: s.color,
                width: 2,
                dash: s.dash,
                spanGaps: false,
                points: { show: s.values.filter((v) => v != null).length <= 60, size: 5 },
                value: (u, v) => (v == null ? '–' : String(v)),
            })),
        ],
        axes: [
            { ...AXIS },
            { ...AXIS, incrs: COUNT_STEPS, values: (u, vals) => vals.map((v) => String(v)), size: 44 },
        ],
        cursor: { drag: { x: false, y: false }, points: { size: 7 } },
        legend: { live: true },
    };
    if (utc)
        opts.tzDate = (ts) => uPlot.tzDate(new Date(ts * 1e3), 'Etc/UTC');
    const u = new uPlot(opts, [xs, ...series.map((s) => s.values)], el);
    let width = opts.width;
    const ro = typeof ResizeObserver === 'function' ? new ResizeObserver(() => {
        const w = Math.max(280, el.clientWidth);
        if (w !== width) {
            width = w;
            u.setSize({ width: w, height });
        }
    }) : null;
    if (ro)
        ro.observe(el);
    return {
        destroy() {
            if (ro)
                ro.disconnect();
            u.destroy();
        },
    };
}
