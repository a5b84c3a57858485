// desk.jsx -- entry point of the agent desk (bundled by web/build.mjs).
// Every style sheet of the desk is imported here, so the desk has one,
// however its script is split (screens.js).
import './desk.css';
import 'uplot/dist/uPlot.min.css';
import './dashboard.css';
import { render } from 'preact';
import { prefetch, staffHint } from './api.js';
import { parse } from './router.js';
import { App } from './app.jsx';

// when the script started to run (bench/desk.mjs reads it)
if (typeof performance !== 'undefined' && performance.mark)
    performance.mark('desk:script');

// what the first screen will ask for, asked for at once: when this browser
// last had a staff session (api.js's hint), at the same time as who is
// signed in; else once /auth/me says it is staff (a customer's session
// asks for nothing but who it is).  The desk is drawn once these have
// answered (the page says "Loading the desk…" meanwhile), so its first
// render already has the inbox's first page and the queues' names: one
// render and one layout, not a frame, then its list, then the names.
function prefetchFirstScreen() {
    const asked = [prefetch('/queues?limit=500')];
    const first = parse();
    if (first.name === 'inbox' && (!first.view || first.view === 'all') && !first.q && !first.sort)
        asked.push(prefetch('/tickets?limit=50'));
    else if (first.name === 'ticket')
        asked.push(prefetch(`/tickets/${first.id}`));
    return asked;
}
const staff = (me) => !!(me && me.user && me.user.role !== 'customer');
const meAnswer = prefetch('/auth/me');
const firstScreen = staffHint() ? Promise.allSettled(prefetchFirstScreen())
    : meAnswer.then((me) => (staff(me) ? Promise.allSettled(prefetchFirstScreen()) : null), () => null);

Promise.allSettled([meAnswer, firstScreen]).then(() => render(<App />, document.getElementById('app')));
