// live.js -- the client of the live channel: one connection per browser,
// shared by all its tabs.
//
// The tabs elect a leader with the Web Locks API (navigator.locks): the tab
// holding the lock 'atum-desk-live' keeps the connection and passes every
// event to the other tabs over the BroadcastChannel of the same name; when
// it closes, the lock goes to another tab, which resumes from the last
// event id any tab saw (kept in localStorage).
//
// The server's side (docs/desk.md, "Live channel") is expected as:
//   WebSocket  GET /api/v1/events/ws?since=ID   text frames, one event each:
//              {"id": 41, "event": "ticket.updated", "created_at": "...",
//               "data": {"ticket_id": 7, ...}}
//   long poll  GET /api/v1/events?since=ID&wait=25
//              {"items": [event, ...]} once there are events or wait ran out
// Ids increase; a client that reconnects sends the last id it saw and gets
// what it missed.  A server that kept no events that old (or never gave
// that id) answers {"reset": true, "last_id": N}: the desk reloads what it
// shows (an event {event: 'reset'}) and goes on from N.  The WebSocket is
// tried first; after two refusals in a row the long poll takes over.  When
// the server's OpenAPI document lists neither route the channel stays off
// (mode 'none') and the desk refreshes what it shows on a timer instead.
//
// Presence (who views or types on a ticket): livePresence() sends it as a
// small message over the socket -- from another tab through the leader --
// or, without a socket, with POST /tickets/{id}/presence.  The server ends
// a socket's presence when it closes; the desk repeats its own every 25 s.

import { get, post } from './api.js';
import { has } from './caps.js';

const NAME = 'atum-desk-live';
const LAST = 'atum-desk-live-last';
// this tab's name in presence (one browser, one socket, several tabs)
const TAB = Math.random().toString(36).slice(2, 10) + Date.now().toString(36).slice(-4);
let socket = null;           // the leader's open WebSocket
const mine = new Map();      // this tab's presence: ticket id -> state
let leading = false;
let bcRef = null;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

let started = false;
let mode = 'connecting';
const eventSubs = new Set();
const modeSubs = new Set();

// Calls onEvent(event) for each event and onMode(mode) now and whenever
// the mode changes ('connecting', 'live', 'poll', 'reconnecting',
// 'none'); returns the function that unsubscribes.
export function liveSubscribe(onEvent, onMode) {
    eventSubs.add(onEvent);
    modeSubs.add(onMode);
    onMode(mode);
    return () => {
        eventSubs.delete(onEvent);
        modeSubs.delete(onMode);
    };
}

const onEvent = (ev) => {
    for (const fn of [...eventSubs])
        fn(ev);
};
const onMode = (m, was) => {
    // a new socket (or the poll taking over) knows nothing of this tab's
    // presence yet: say it again
    if ((m === 'live' || m === 'poll') && m !== was)
        for (const [id, state] of mine)
            livePresence(id, state);
    for (const fn of [...modeSubs])
        fn(m);
};

// Starts the channel once per page (later calls do nothing).
export function startLive() {
    if (started)
        return;
    started = true;
    let last = Number(localStorage.getItem(LAST)) || 0;
    const bc = typeof BroadcastChannel === 'function' ? new BroadcastChannel(NAME) : null;

    const save = () => {
        try {
            localStorage.setItem(LAST, String(last));
        } catch {
            /* private mode: ids live in memory only */
        }
    };
    const deliver = (ev) => {
        if (ev && ev.reset === true && typeof ev.last_id === 'number') {
            last = ev.last_id;
            save();
            onEvent({ event: 'reset', data: {} });
            return true;
        }
        if (!ev || typeof ev.id !== 'number' || ev.id <= last)
            return false;
        last = ev.id;
        save();
        onEvent(ev);
        return true;
    };
    // the long poll's answer says how far the server looked for this tab
    const advance = (id) => {
        if (typeof id === 'number' && id > last) {
            last = id;
            save();
        }
    };
    const setMode = (m, tell) => {
        const was = mode;
        mode = m;
        onMode(m, was);
        if (tell && bc)
            bc.postMessage({ type: 'mode', mode: m });
    };

    if (bc) {
        bc.onmessage = (msg) => {
            const d = msg.data || {};
            if (d.type === 'event')
                deliver(d.ev);
            else if (d.type === 'mode')
                setMode(d.mode, false);
            else if (d.type === 'hello' && leading)
                bc.postMessage({ type: 'mode', mode });
            else if (d.type === 'presence' && leading)
                sendPresence(d.msg);
        };
        bc.postMessage({ type: 'hello' });
    }
    bcRef = bc;

    const lead = async () => {
        leading = true;
        const emit = (ev) => {
            if (deliver(ev) && bc)
                bc.postMessage({ type: 'event', ev });
        };
        await run(emit, (m) => setMode(m, true), () => last, (id) => {
            advance(id);
        });
        leading = false;
    };
    if (navigator.locks && navigator.locks.request)
        navigator.locks.request(NAME, lead);
    else
        lead();
}

// Says this tab's presence on a ticket: 'viewing', 'typing' or 'left'.
export function livePresence(ticketId, state) {
    if (state === 'left')
        mine.delete(ticketId);
    else
        mine.set(ticketId, state);
    const msg = { type: 'presence', ticket_id: ticketId, state, tab: TAB };
    if (mode === 'live' && leading && socket)
        sendPresence(msg);
    else if (mode === 'live' && !leading && bcRef)
        bcRef.postMessage({ type: 'presence', msg });
    else if (has('post', '/tickets/{id}/presence'))
        post(`/tickets/${ticketId}/presence`, { state, tab: TAB }, { quiet: true }).catch(() => {});
}

function sendPresence(msg) {
    if (socket && socket.readyState === 1)
        socket.send(JSON.stringify(msg));
    else if (has('post', '/tickets/{id}/presence'))
        post(`/tickets/${msg.ticket_id}/presence`, { state: msg.state, tab: msg.tab }, { quiet: true }).catch(() => {});
}

async function run(emit, setMode, since, advance) {
    const wsOk = has('get', '/events/ws');
    const pollOk = has('get', '/events');
    if (!wsOk && !pollOk) {
        setMode('none');
        return;
    }
    let refused = 0;
    let pause = 1000;
    for (;;) {
        if (wsOk && refused < 2) {
            const opened = await websocket(emit, setMode, since());
            refused = opened ? 0 : refused + 1;
            pause = opened ? 1000 : Math.min(pause * 2, 30000);
            setMode('reconnecting');
            await sleep(pause);
            continue;
        }
        if (!pollOk) {
            setMode('none');
            return;
        }
        try {
            const r = await get(`/events?since=${since()}&wait=25`, { quiet: true });
            setMode('poll');
            if (r && r.reset)
                emit({ reset: true, last_id: r.last_id });
            for (const ev of (r && r.items) || [])
                emit(ev);
            if (r && !r.more)
                advance(r.last_id);
            pause = 1000;
        } catch (e) {
            if (e && (e.status === 404 || e.status === 405)) {
                setMode('none');
                return;
            }
            setMode('reconnecting');
            await sleep(pause);
            pause = Math.min(pause * 2, 30000);
        }
    }
}

// Resolves when the socket closed: true when it had opened.
function websocket(emit, setMode, since) {
    return new Promise((resolve) => {
        const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
        let opened = false;
        let ws;
        try {
            ws = new WebSocket(`${proto}//${location.host}/api/v1/events/ws?since=${since}`);
        } catch {
            resolve(false);
            return;
        }
        ws.onopen = () => {
            opened = true;
            socket = ws;
            setMode('live');
        };
        ws.onmessage = (m) => {
            try {
                emit(JSON.parse(m.data));
            } catch {
                /* not an event: ignored */
            }
        };
        ws.onclose = () => {
            if (socket === ws)
                socket = null;
            resolve(opened);
        };
    });
}
