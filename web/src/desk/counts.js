// counts.js -- the numbers beside the views in the sidebar, from GET
// /api/v1/tickets/counts (one request for every view: mine, unassigned,
// the last day, each queue, status, priority and saved view; each counted
// up to the server's cap, "1000+" beyond it).  Read when
// the server has the route, again whenever the desk changed something or
// a live event arrived -- at most once every MIN_GAP ms, the last
// request winning -- so a busy channel costs a request every few seconds,
// not one per event.

import { useEffect, useRef, useState } from 'preact/hooks';
import { get } from './api.js';
import { has } from './caps.js';

const MIN_GAP = 2000;

// useCounts(caps, tick) -> [counts or null, refresh()]
export function useCounts(caps, tick) {
    const [counts, setCounts] = useState(null);
    const last = useRef(0);
    const timer = useRef(null);
    const refresh = () => {
        if (!has('get', '/tickets/counts'))
            return;
        clearTimeout(timer.current);
        const wait = Math.max(0, last.current + MIN_GAP - Date.now());
        timer.current = setTimeout(() => {
            last.current = Date.now();
            get('/tickets/counts', { quiet: true }).then(setCounts).catch(() => {});
        }, wait);
    };
    useEffect(refresh, [caps, tick]);
    useEffect(() => () => clearTimeout(timer.current), []);
    return [counts, refresh];
}

// The count of a view (views.js key), or null: { n, more }.
export function viewCount(counts, view) {
    if (!counts)
        return null;
    const k = view.key;
    let n = null;
    let more = false;
    const capped = counts.more || {};
    if (k === 'all' || k === 'mine' || k === 'unassigned' || k === 'recent') {
        n = counts[k];
        more = capped[k] === true;
    } else if (k.startsWith('status-')) {
        n = counts.status && counts.status[k.slice(7)];
        more = !!(capped.status && capped.status[k.slice(7)] === true);
    } else if (k.startsWith('priority-')) {
        n = counts.priority && counts.priority[k.slice(9)];
        more = !!(capped.priority && capped.priority[k.slice(9)] === true);
    } else if (k.startsWith('queue-')) {
        const q = (counts.queues || []).find((x) => String(x.id) === k.slice(6));
        n = q ? q.count : null;
        more = !!(q && q.more);
    } else if (view.saved) {
        const v = (counts.views || []).find((x) => String(x.id) === String(view.id));
        n = v ? v.count : null;
        more = !!(v && v.more);
    }
    return typeof n === 'number' ? { n, more } : null;
}
