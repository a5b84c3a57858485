// router.js -- client-side routes under /admin (atumd serves the same page
// for every /admin/... path, so reloads and bookmarks work):
//   /admin                 the first page the account may use
//   /admin/PAGE            one page of PAGES (admin.jsx), e.g. /admin/users
//   /admin/PAGE/ID         the same page with one row open in its form
import { makeRouter } from '../history.js';

export function parse(loc = window.location) {
    const path = loc.pathname.replace(/\/+$/, '');
    const m = /^\/admin(?:\/([a-z-]{1,40})(?:\/([A-Za-z0-9._-]{1,200}))?)?$/.exec(path);
    if (!m)
        return { page: 'notfound' };
    return { page: m[1] || '', id: m[2] || null, query: new URLSearchParams(loc.search) };
}

// navigate, useRoute and follow (for <a href="/admin/...">): history.js
export const { navigate, useRoute, follow } = makeRouter(() => parse());
