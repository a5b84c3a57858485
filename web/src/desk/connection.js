// connection.js -- is the server reachable?  When a request cannot reach
// it (api.js says 'offline'), the state becomes lost and a probe
// (GET /auth/me, quiet) runs with growing pauses (1 s, 2 s, 4 s ... 15 s)
// until an answer arrives, of any status: then the state is back, and
// whoever subscribed reloads what it shows.  The browser's own online
// event probes at once, and so does the live channel losing its socket
// (liveLost): an idle desk learns of a lost server without a click.

import { get, on } from './api.js';

const subs = new Set();
let state = 'ok';            // 'ok' | 'lost'
let timer = null;
let pause = 1000;

export function connectionState() {
    return state;
}

export function subscribe(fn) {
    subs.add(fn);
    return () => subs.delete(fn);
}

function set(next) {
    if (next === state)
        return;
    const was = state;
    state = next;
    for (const fn of [...subs])
        fn(state, was);
}

async function probe() {
    timer = null;
    try {
        await get('/auth/me', { quiet: true });
        back();
    } catch (e) {
        if (e && e.status > 0)
            back();           // it answered: the server is there
        else
            schedule();
    }
}

function schedule() {
    if (timer !== null)
        return;
    timer = setTimeout(probe, pause);
    pause = Math.min(pause * 2, 15000);
}

function back() {
    pause = 1000;
    if (timer !== null) {
        clearTimeout(timer);
        timer = null;
    }
    set('ok');
}

// The live channel's socket closed: is the server still there?  (A
// probe; the banner shows only when it does not answer.)
export function liveLost() {
    if (state === 'lost' || timer !== null)
        return;
    probe();
}

// The live channel is open again: the server is there.
export function liveBack() {
    if (state === 'lost')
        back();
}

export function startConnectionWatch() {
    on('offline', () => {
        set('lost');
        schedule();
    });
    on('online', () => {
        if (state === 'lost')
            back();
    });
    window.addEventListener('online', () => {
        if (state === 'lost') {
            if (timer !== null)
                clearTimeout(timer);
            timer = null;
            probe();
        }
    });
}
