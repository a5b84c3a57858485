// router.js -- client-side routes under /portal (atumd serves the same page
// for every /portal/... path, so the links in our mails and reloads work):
//   /portal                    my tickets (and my organisation's, when allowed)
//   /portal/tickets/N          one ticket (the acknowledgement mail links here)
//   /portal/new                a new ticket
//   /portal/signin?next=PATH   sign in, or ask for a sign-in link
//   /portal/signup             sign up (when the portal allows it)
//   /portal/reset              ask for a password-reset link
//   /portal/link#TOKEN         a mailed link: choose a password
//   /portal/rate#t=TOKEN&s=N   the solved mail's rating link (no sign-in)
//   /portal/account            my profile, my data as JSON
//   /portal/kb                 the knowledge base (with the rag plugin; public)
//   /portal/kb/SLUG            a knowledge-base article (public)
import { makeRouter } from '../history.js';

export function parse(loc = window.location) {
    const path = loc.pathname.replace(/\/+$/, '');
    const q = new URLSearchParams(loc.search);
    let m;
    if ((m = /^\/portal\/tickets\/([1-9][0-9]{0,17})$/.exec(path)))
        return { name: 'ticket', id: Number(m[1]), auth: true };
    if ((m = /^\/portal\/kb\/([A-Za-z0-9._-]{1,200})$/.exec(path)))
        return { name: 'article', slug: m[1] };
    switch (path) {
    case '/portal': case '': return { name: 'list', auth: true };
    case '/portal/new': return { name: 'new', auth: true };
    case '/portal/account': return { name: 'account', auth: true };
    case '/portal/kb': return { name: 'kb', category: q.get('category') || null };
    case '/portal/signin': return { name: 'signin', next: safeNext(q.get('next')) };
    case '/portal/signup': return { name: 'signup' };
    case '/portal/reset': return { name: 'reset' };
    case '/portal/link': return { name: 'link' };
    case '/portal/rate': return { name: 'rate' };
    default: return { name: 'notfound' };
    }
}

// Only a path of the portal itself: never another site (open redirect).
export function safeNext(n) {
    return typeof n === 'string' && /^\/portal(\/[A-Za-z0-9/._-]*)?$/.test(n) && !n.includes('//') ? n : '/portal';
}

// navigate, useRoute and follow (for <a href="/portal/...">): history.js
export const { navigate, useRoute, follow } = makeRouter(() => parse());
