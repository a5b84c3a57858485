// router.js -- client-side routes under /admin (atumd serves the same page
// for every /admin/... path, so reloads and bookmarks work):
//   /admin                 the first page the account may use
//   /admin/PAGE            one page of PAGES (admin.jsx), e.g. /admin/users
//   /admin/PAGE/ID         the same page with one row open in its form
import { useEffect, useState } from 'preact/hooks';

export function parse(loc = window.location) {
    const path = loc.pathname.replace(/\/+$/, '');
    const m = /^\/admin(?:\/([a-z-]{1,40})(?:\/([A-Za-z0-9._-]{1,200}))?)?$/.exec(path);
    if (!m)
        return { page: 'notfound' };
    return { page: m[1] || '', id: m[2] || null, query: new URLSearchParams(loc.search) };
}

const subs = new Set();

export function navigate(url, { replace = false } = {}) {
    if (url === location.pathname + location.search + location.hash)
        return;
    if (replace)
        history.replaceState(null, '', url);
    else
        history.pushState(null, '', url);
    for (const fn of [...subs])
        fn();
}

export function useRoute() {
    const [route, setRoute] = useState(() => parse());
    useEffect(() => {
        const update = () => setRoute(parse());
        subs.add(update);
        window.addEventListener('popstate', update);
        return () => {
            subs.delete(update);
            window.removeEventListener('popstate', update);
        };
    }, []);
    return route;
}

// onClick for <a href="/admin/..."> that keeps middle-click and modifiers.
export function follow(e) {
    if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey)
        return;
    e.preventDefault();
    navigate(e.currentTarget.getAttribute('href'));
}
