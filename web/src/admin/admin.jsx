// admin.jsx -- entry point of the admin pages (bundled by web/build.mjs
// into admin-<hash>.js, served by atumd at /admin/*).  The same sign-in
// and session as the desk; every page is a list and a form over /api/v1
// and nothing else.  Admins see every page, managers the pages whose
// routes the API lets them use; other accounts see none (the API refuses
// them anyway: this only spares them buttons that cannot work).  Pages
// whose routes this server does not have (read from its OpenAPI document)
// are not offered.
import './admin.css';
import { render } from 'preact';
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { describe, get, on, post, setCsrf } from '../desk/api.js';
import { has, loadCaps } from '../desk/caps.js';
import { SignIn } from '../desk/signin.jsx';
import { Announcer } from '../desk/ui.jsx';
import { follow, navigate, useRoute } from './router.js';
import { Users } from './users.jsx';
import { Orgs } from './orgs.jsx';
import { Queues } from './queues.jsx';
import { Mailboxes } from './mailboxes.jsx';
import { Smarthost, Outbox } from './outmail.jsx';
import { Templates } from './templates.jsx';
import { Canned } from './canned.jsx';
import { Macros } from './macros.jsx';
import { Plugins } from './plugins.jsx';
import { Jobs } from './jobs.jsx';
import { Audit } from './audit.jsx';
import { Webhooks } from './webhooks.jsx';
import { Tokens } from './tokens.jsx';

const STAFF = ['admin', 'manager'];
const ADMIN = ['admin'];

// key: the path under /admin; roles: who may use it; needs: the route
// that must exist on this server
export const PAGES = [
    { key: 'users', title: 'Users and roles', roles: STAFF, page: Users },
    { key: 'orgs', title: 'Organisations', roles: STAFF, page: Orgs },
    { key: 'queues', title: 'Queues and members', roles: STAFF, page: Queues },
    { key: 'mailboxes', title: 'Mailboxes', roles: ADMIN, page: Mailboxes },
    { key: 'smarthost', title: 'Smarthost', roles: ADMIN, page: Smarthost, needs: ['post', '/smarthost/test'] },
    { key: 'outbox', title: 'Outbox', roles: STAFF, page: Outbox, needs: ['get', '/outbox'] },
    { key: 'templates', title: 'Templates', roles: STAFF, page: Templates, needs: ['get', '/templates'] },
    { key: 'canned', title: 'Canned responses', roles: STAFF, page: Canned },
    { key: 'macros', title: 'Macros', roles: STAFF, page: Macros, needs: ['get', '/macros'] },
    { key: 'plugins', title: 'Plugins', roles: ADMIN, page: Plugins },
    { key: 'jobs', title: 'Jobs', roles: ADMIN, page: Jobs },
    { key: 'audit', title: 'Audit log', roles: ADMIN, page: Audit },
    { key: 'webhooks', title: 'Webhooks', roles: ADMIN, page: Webhooks },
    { key: 'tokens', title: 'API tokens', roles: STAFF, page: Tokens },
];

export function pagesFor(role, capsReady) {
    return PAGES.filter((p) => p.roles.includes(role) && (!p.needs || (capsReady && has(p.needs[0], p.needs[1]))));
}

function Header({ me, onSignOut }) {
    return (
        <header class="top">
            <a class="brand" href="/admin" onClick={follow}>ATUM DESK <span class="muted">· Administration</span></a>
            {me ? (
                <nav aria-label="Account">
                    <a href="/desk">Desk</a>
                    <span class="who">{me.name || me.email} <span class="muted">({me.role})</span></span>
                    <button type="button" class="link" onClick={onSignOut}>Sign out</button>
                </nav>
            ) : null}
        </header>
    );
}

function SideNav({ pages, current }) {
    return (
        <nav class="side" aria-label="Admin pages">
            <ul>
                {pages.map((p) => (
                    <li key={p.key}>
                        <a href={`/admin/${p.key}`} onClick={follow} aria-current={p.key === current ? 'page' : undefined}>
                            {p.title}
                        </a>
                    </li>
                ))}
            </ul>
        </nav>
    );
}

function App() {
    const route = useRoute();
    const [me, setMe] = useState(undefined);          // undefined: not known yet; null: signed out
    const [capsReady, setCapsReady] = useState(false);
    const [error, setError] = useState(null);
    const [notice, setNotice] = useState(null);
    const main = useRef(null);
    const signedIn = useRef(false);
    signedIn.current = !!me;

    const loadMe = useCallback(async () => {
        try {
            const r = await get('/auth/me', { quiet: true });
            setCsrf(r.csrf_token);
            setMe(r.user);
        } catch (e) {
            if (e.status === 401)
                setMe(null);
            else
                setError(describe(e, 'checking who you are'));
        }
    }, []);

    useEffect(() => {
        loadMe();
        loadCaps().then(() => setCapsReady(true));
        // a 401 after signing in means the session ended (not the first
        // look at /auth/me of a visitor who was never signed in)
        return on('signedout', () => {
            if (signedIn.current)
                setNotice('Your session has ended. Please sign in again.');
            setMe(null);
        });
    }, [loadMe]);

    const pages = me ? pagesFor(me.role, capsReady) : [];
    const page = pages.find((p) => p.key === route.page);

    // /admin alone: the first page this account may use
    useEffect(() => {
        if (me && route.page === '' && pages.length)
            navigate(`/admin/${pages[0].key}`, { replace: true });
    }, [me, route.page, pages.length]);

    // a new page: its title, and the focus on its content (screen readers
    // and keyboards start there)
    useEffect(() => {
        document.title = `${page ? page.title : 'Administration'} — ATUM DESK`;
        if (page && main.current && document.activeElement && document.activeElement.closest('nav.side'))
            main.current.focus();
    }, [page && page.key]);

    const signOut = async () => {
        try {
            await post('/auth/logout');
        } catch {
            /* the session may be gone already */
        }
        setCsrf(null);
        setNotice(null);
        setMe(null);
    };

    if (error)
        return <p class="error boot" role="alert">{error}</p>;
    if (me === undefined)
        return <p class="boot">Loading…</p>;
    if (me === null)
        return (
            <SignIn notice={notice} onSignedIn={(r) => {
                setCsrf(r.csrf_token);
                setNotice(null);
                setMe(r.user);
            }} />
        );

    let body;
    if (!STAFF.includes(me.role))
        body = (
            <section class="card" aria-labelledby="noadmin">
                <h1 id="noadmin">No admin pages for this account</h1>
                <p>You are signed in as {me.email} ({me.role}). The admin pages are for administrators and
                   managers. {me.role === 'customer' ? <a href="/portal">Go to the portal.</a>
                                                     : <a href="/desk">Go to the desk.</a>}</p>
            </section>
        );
    else if (route.page === '' || (!page && !capsReady))
        body = <p class="loading" role="status">Loading…</p>;
    else if (!page)
        body = (
            <section class="card">
                <h1>Not found</h1>
                <p>There is no such admin page{PAGES.some((p) => p.key === route.page) ? ' for your role or on this server' : ''}.</p>
            </section>
        );
    else {
        const Page = page.page;
        body = <Page me={me} id={route.id} query={route.query} />;
    }
    return (
        <>
            <a class="skip" href="#main">Skip to the content</a>
            <Header me={me} onSignOut={signOut} />
            <div class="layout">
                {pages.length ? <SideNav pages={pages} current={route.page} /> : null}
                <main id="main" tabIndex={-1} ref={main}>{body}</main>
            </div>
            <Announcer />
        </>
    );
}

// the shell's "Loading…" goes: the application takes the whole element
const root = document.getElementById('app');
root.textContent = '';
render(<App />, root);
