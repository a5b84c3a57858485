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
// asks for nothing but who it is)
function prefetchFirstScreen() {
    prefetch('/queues?limit=500');
    const first = parse();
    if (first.name === 'inbox' && (!first.view || first.view === 'all') && !first.q && !first.sort)
        prefetch('/tickets?limit=50');
    else if (first.name === 'ticket')
        prefetch(`/tickets/${first.id}`);
}
const hinted = staffHint();
prefetch('/auth/me', (me) => {
    if (!hinted && me && me.user && me.user.role !== 'customer')
        prefetchFirstScreen();
});
if (hinted)
    prefetchFirstScreen();

render(<App />, document.getElementById('app'));
