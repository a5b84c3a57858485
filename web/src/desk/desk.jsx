// desk.jsx -- entry point of the agent desk (bundled by web/build.mjs).
import './desk.css';
import { render } from 'preact';
import { prefetch } from './api.js';
import { parse } from './router.js';
import { App } from './app.jsx';

// what the first screen will ask for, asked for at once
// (staff only: a customer's session asks for nothing but who it is)
prefetch('/auth/me', (me) => {
    if (!me || !me.user || me.user.role === 'customer')
        return;
    prefetch('/queues?limit=500');
    const first = parse();
    if (first.name === 'inbox' && (!first.view || first.view === 'all') && !first.q && !first.sort)
        prefetch('/tickets?limit=50');
    else if (first.name === 'ticket')
        prefetch(`/tickets/${first.id}`);
});

render(<App />, document.getElementById('app'));
