// router.js -- client-side routes under /desk (atumd serves the same page
// for every /desk/... path, so links from mails and reloads work):
//   /desk                      the inbox, default view
//   /desk/views/KEY?q=...      the inbox, one view (see views.js), a search
//   /desk/tickets/N            one ticket
//   /desk/account              password and two-factor sign-in
//   /desk/dashboard?days=&queue=  the managers' dashboard (dashboard.jsx)
import { makeRouter } from '../history.js';

export function parse(loc = window.location) {
    const path = loc.pathname.replace(/\/+$/, '');
    const q = new URLSearchParams(loc.search);
    let m;
    if ((m = /^\/desk\/tickets\/([1-9][0-9]{0,17})$/.exec(path)))
        return { name: 'ticket', id: Number(m[1]) };
    if ((m = /^\/desk\/views\/([a-z0-9-]{1,64})$/.exec(path)))
        return { name: 'inbox', view: m[1], q: q.get('q') || '', sort: q.get('sort') || '' };
    if (path === '/desk/account')
        return { name: 'account' };
    if (path === '/desk/dashboard')
        return { name: 'dashboard', days: q.get('days') || '', queue: q.get('queue') || '' };
    if (path === '/desk' || path === '')
        return { name: 'inbox', view: null, q: q.get('q') || '', sort: q.get('sort') || '' };
    return { name: 'notfound' };
}

let lastInbox = '/desk';

// Where "back to the list" goes: the inbox view and search seen last.
export function lastInboxUrl() {
    return lastInbox;
}

function remember(route) {
    if (route.name === 'inbox')
        lastInbox = location.pathname + location.search;
    return route;
}

// navigate, useRoute (remembering the inbox seen last) and follow (for
// <a href="/desk/...">): history.js
export const { navigate, useRoute, follow } = makeRouter(() => remember(parse()));

export function inboxUrl(view, q, sort) {
    const p = new URLSearchParams();
    if (q)
        p.set('q', q);
    if (sort)
        p.set('sort', sort);
    const s = p.toString();
    return (view ? `/desk/views/${view}` : '/desk') + (s ? `?${s}` : '');
}
