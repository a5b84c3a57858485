// portal.jsx -- entry point of the customer portal (bundled by
// web/build.mjs into portal-<hash>.js, served by atumd at /portal/*).  It
// talks only to /api/v1: the same security model as the desk.
import './portal.css';
import { render } from 'preact';
import { useCallback, useEffect, useState } from 'preact/hooks';
import { get, post, setCsrf, on, describe } from '../desk/api.js';
import { loadCaps } from '../desk/caps.js';
import { useRoute, navigate, follow } from './router.js';
import { SignIn, SignUp, AskReset, LinkPage } from './auth.jsx';
import { TicketList, TicketView, NewTicket } from './tickets.jsx';
import { KnowledgeBase, Article, useKb } from './kb.jsx';
import { RatePage } from './rate.jsx';
import { Account } from './account.jsx';

function Header({ config, me, route, onSignOut }) {
    const title = (config && config.title) || 'Support';
    const kb = useKb();
    const inKb = route.name === 'kb' || route.name === 'article';
    const here = (name) => (route.name === name ? 'page' : undefined);
    return (
        <header class="top">
            <a class="brand" href="/portal" onClick={follow}>
                {config && config.logo_url ? <img src={config.logo_url} alt="" class="logo" /> : null}
                <span>{title}</span>
            </a>
            {me || (me === null && inKb) || (kb && kb.on) ? (
                <nav aria-label="Portal">
                    {kb && kb.on ? <a href="/portal/kb" onClick={follow} aria-current={inKb ? 'page' : undefined}>Knowledge base</a> : null}
                    {me ? (
                        <>
                            <a href="/portal/new" onClick={follow} aria-current={here('new')}>New request</a>
                            <a href="/portal/account" onClick={follow} aria-current={here('account')}>{me.name || me.email}</a>
                            <button type="button" class="link" onClick={onSignOut}>Sign out</button>
                        </>
                    ) : me === null && inKb ? (
                        <a href={`/portal/signin?next=${encodeURIComponent(location.pathname)}`} onClick={follow}>Sign in</a>
                    ) : null}
                </nav>
            ) : null}
        </header>
    );
}

function App() {
    const route = useRoute();
    const [me, setMe] = useState(undefined);      // undefined: not known yet; null: signed out
    const [config, setConfig] = useState(null);
    const [error, setError] = useState(null);

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
        const q = new URLSearchParams(location.search).get('queue');
        get(`/portal/config${q && /^[1-9][0-9]{0,17}$/.test(q) ? `?queue_id=${q}` : ''}`, { quiet: true })
            .then((c) => {
                const look = c.queue ? { ...c, title: c.queue.title, logo_url: c.queue.logo_url || c.logo_url,
                                         signup: c.queue.signup } : c;
                setConfig(look);
                document.title = look.title;
            })
            .catch(() => setConfig({ title: 'Support', signup: false }));
        loadCaps();
        return on('signedout', () => setMe(null));
    }, [loadMe]);

    // pages that need an account send an unknown visitor to sign in, and
    // back here afterwards (the acknowledgement mail's link)
    useEffect(() => {
        if (me === null && route.auth)
            navigate(`/portal/signin?next=${encodeURIComponent(location.pathname)}`, { replace: true });
    }, [me, route]);

    const signedIn = (user, csrf, next) => {
        setCsrf(csrf);
        setMe(user);
        navigate(next || '/portal', { replace: true });
    };
    const signOut = async () => {
        try {
            await post('/auth/logout');
        } catch {
            /* the session may be gone already */
        }
        setCsrf(null);
        setMe(null);
        navigate('/portal/signin', { replace: true });
    };

    let page;
    if (error)
        page = <p class="error" role="alert">{error}</p>;
    else if (route.name === 'rate')
        page = <RatePage />;
    else if (route.name === 'link')
        page = <LinkPage onSignedIn={signedIn} />;
    else if (me === undefined)
        page = <p class="boot">Loading…</p>;
    else if (route.name === 'signin')
        page = me ? <Redirect to={route.next} /> : <SignIn next={route.next} config={config} onSignedIn={signedIn} />;
    else if (route.name === 'signup')
        page = <SignUp config={config} />;
    else if (route.name === 'reset')
        page = <AskReset />;
    else if (route.name === 'kb')
        page = <KnowledgeBase category={route.category} />;
    else if (route.name === 'article')
        page = <Article slug={route.slug} me={me} />;
    else if (!me)
        page = <p class="boot">Loading…</p>;
    else if (me.role !== 'customer')
        page = <StaffNotice me={me} route={route} />;
    else if (route.name === 'list')
        page = <TicketList me={me} />;
    else if (route.name === 'ticket')
        page = <TicketView me={me} id={route.id} />;
    else if (route.name === 'new')
        page = <NewTicket />;
    else if (route.name === 'account')
        page = <Account me={me} />;
    else
        page = <NotFound />;
    return (
        <>
            <a class="skip" href="#main">Skip to the content</a>
            <Header config={config} me={me} route={route} onSignOut={signOut} />
            <main id="main" tabIndex={-1}>{page}</main>
        </>
    );
}

function Redirect({ to }) {
    useEffect(() => navigate(to, { replace: true }), [to]);
    return null;
}

function StaffNotice({ me, route }) {
    const desk = route.name === 'ticket' ? `/desk/tickets/${route.id}` : '/desk';
    return (
        <section class="card">
            <h1>This is the customers' portal</h1>
            <p>You are signed in as {me.email}, a staff account. Work on tickets in the <a href={desk}>desk</a>.</p>
        </section>
    );
}

function NotFound() {
    return (
        <section class="card">
            <h1>Not found</h1>
            <p>There is no such page. <a href="/portal" onClick={follow}>Go to your requests.</a></p>
        </section>
    );
}

// the shell's "Loading…" goes: the application takes the whole element
const root = document.getElementById('app');
root.textContent = '';
render(<App />, root);
