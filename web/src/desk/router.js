// router.js -- client-side routes under /desk (atumd serves the same page
// for every /desk/... path, so links from mails and reloads work):
//   /desk                      the inbox, default view
//   /desk/views/KEY?q=...      the inbox, one view (see views.js), a search
//   /desk/tickets/N            one ticket
//   /desk/account              password and two-factor sign-in
//   /desk/dashboard?days=&queue=  the managers' dashboard (dashboard.jsx)
import { useEffect, useState } from 'preact/hooks';

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

const subs = new Set();
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

export function navigate(url, { replace = false } = {}) {
    if (url === location.pathname + location.search)
        return;
    if (replace)
        history.replaceState(null, '', url);
    else
        history.pushState(null, '', url);
    for (const fn of [...subs])
        fn();
}

export function useRoute() {
    const [route, setRoute] = useState(() => remember(parse()));
    useEffect(() => {
        const update = () => setRoute(remember(parse()));
        subs.add(update);
        window.addEventListener('popstate', update);
        return () => {
            subs.delete(update);
            window.removeEventListener('popstate', update);
        };
    }, []);
    return route;
}

// onClick for <a href="/desk/..."> that keeps middle-click and modifiers.
export function follow(e) {
    if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey)
        return;
    const a = e.currentTarget;
    e.preventDefault();
    navigate(a.getAttribute('href'));
}

export function inboxUrl(view, q, sort) {
    const p = new URLSearchParams();
    if (q)
        p.set('q', q);
    if (sort)
        p.set('sort', sort);
    const s = p.toString();
    return (view ? `/desk/views/${view}` : '/desk') + (s ? `?${s}` : '');
}
