// live.js -- the portal hears when an agent answers.  When the server's
// OpenAPI document lists the live channel's long poll (GET /api/v1/events,
// docs/desk.md) the portal waits on it; when it lists none, or refuses a
// customer, it re-reads what it shows every 30 s while the page is
// visible.  onChange(event or null) is called for each event (the caller
// looks at data.ticket_id) and for each timer tick.
import { get, ApiError } from '../desk/api.js';
import { has } from '../desk/caps.js';

const PERIOD = 30000;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export function watch(onChange) {
    let stopped = false;
    let timer = null;
    const tick = () => {
        if (!stopped && document.visibilityState === 'visible')
            onChange(null);
    };
    const fallback = () => {
        if (!stopped && timer === null)
            timer = setInterval(tick, PERIOD);
    };
    const poll = async () => {
        let since = null, failures = 0;
        while (!stopped) {
            try {
                const q = since === null ? 'wait=25' : `since=${since}&wait=25`;
                const r = await get(`/events?${q}`, { quiet: true });
                failures = 0;
                for (const ev of (r && r.items) || []) {
                    if (typeof ev.id === 'number')
                        since = since === null ? ev.id : Math.max(since, ev.id);
                    if (!stopped)
                        onChange(ev);
                }
                // The answer's last_id is where the next poll starts, so an
                // event that lands between two polls is never missed.
                if (r && typeof r.last_id === 'number')
                    since = since === null ? r.last_id : Math.max(since, r.last_id);
                // Events older than the server keeps were dropped: re-read.
                if (r && r.reset && !stopped)
                    onChange(null);
            } catch (e) {
                if (e instanceof ApiError && [400, 401, 403, 404, 405].includes(e.status)) {
                    fallback();
                    return;
                }
                if (++failures >= 3) {
                    fallback();
                    await sleep(PERIOD);
                } else {
                    await sleep(2000 * failures);
                }
            }
        }
    };
    if (has('get', '/events'))
        poll();
    else
        fallback();
    return () => {
        stopped = true;
        if (timer !== null)
            clearInterval(timer);
    };
}

// The mode for the page's footer: 'live' or 'timer'.
export function liveMode() {
    return has('get', '/events') ? 'live' : 'timer';
}
