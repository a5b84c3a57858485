// app.jsx -- the desk's frame: who is signed in, the page header, the
// views, the lost-connection banner, the help dialog, and which screen
// shows (router.js).  Customers get a clear refusal and no data: the desk
// is for staff; the API would refuse them the staff data anyway.

import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { describe, forgetPrefetched, get, on, post, rememberStaff, setCsrf, settled } from './api.js';
import { loadCaps } from './caps.js';
import { useCounts, viewCount } from './counts.js';
import { liveBack, liveLost, subscribe as onConnection, startConnectionWatch } from './connection.js';
import { SHORTCUTS, installKeys, useKeys } from './keys.js';
import { liveSubscribe, startLive } from './live.js';
import { follow, inboxUrl, navigate, useRoute } from './router.js';
import { builtinViews, loadSaved, savedAsViews } from './views.js';
import { afterFirstView, firstViewShown } from './boot.js';
import { DashboardLink } from './dashlink.jsx';
import { Inbox } from './inbox.jsx';
import { loadScreens, useScreens } from './screens.js';
import { SignIn } from './signin.jsx';
import { Announcer, announce } from './ui.jsx';

const session = typeof BroadcastChannel === 'function' ? new BroadcastChannel('atum-desk-session') : null;

// Who is signed in, when desk.jsx's early /auth/me has answered before the
// first render (it waits for it): the first render is then the desk itself.
function bootState() {
    const r = settled('/auth/me');
    if (r && r.value && r.value.user) {
        setCsrf(r.value.csrf_token);
        rememberStaff(r.value.user.role !== 'customer');
        return { phase: r.value.user.role === 'customer' ? 'customer' : 'ready', me: r.value.user };
    }
    if (r && r.error && r.error.status === 401) {
        forgetPrefetched();      // asked for before anyone was signed in
        return { phase: 'signin', me: null };
    }
    return { phase: 'loading', me: null };   // not asked, not here, or another failure: ask again
}

export function App() {
    const [boot] = useState(bootState);
    const [phase, setPhase] = useState(boot.phase);   // loading | signin | customer | ready | failed
    const [me, setMe] = useState(boot.me);
    const [notice, setNotice] = useState(null);
    const [bootError, setBootError] = useState(null);
    const phaseRef = useRef(phase);
    phaseRef.current = phase;

    const accept = (user, csrf) => {
        setCsrf(csrf);
        setMe(user);
        setPhase(user.role === 'customer' ? 'customer' : 'ready');
        rememberStaff(user.role !== 'customer');
    };

    useEffect(() => {
        installKeys();
        startConnectionWatch();
        if (boot.phase === 'loading') {
            get('/auth/me')
                .then((r) => accept(r.user, r.csrf_token))
                .catch((e) => {
                    if (e.status === 401) {
                        forgetPrefetched();      // asked for before anyone was signed in
                        setPhase('signin');
                    } else {
                        setBootError(describe(e, 'starting'));
                        setPhase('failed');
                    }
                });
        }
        const off = on('signedout', () => {
            if (phaseRef.current !== 'ready')
                return;      // not signed in yet: nothing ended
            setCsrf(null);
            setNotice('Your session has ended. Please sign in again.');
            setPhase('signin');
        });
        if (session)
            session.onmessage = (m) => {
                if (m.data === 'signedout') {
                    setCsrf(null);
                    setNotice('You signed out in another tab.');
                    setPhase('signin');
                } else if (m.data === 'signedin' && phaseRef.current !== 'ready') {
                    location.reload();
                }
            };
        return off;
    }, []);

    const signOut = async () => {
        try {
            await post('/auth/logout');
        } catch {
            /* the session is gone either way for this page */
        }
        setCsrf(null);
        setMe(null);
        setNotice('You are signed out.');
        setPhase('signin');
        if (session)
            session.postMessage('signedout');
    };

    if (phase === 'loading')
        return <p class="boot" role="status">Loading the desk…</p>;
    if (phase === 'failed')
        return (
            <main id="main" class="signin">
                <h1>ATUM DESK</h1>
                <p class="error" role="alert">{bootError}</p>
                <button type="button" onClick={() => location.reload()}>Try again</button>
            </main>
        );
    if (phase === 'signin')
        return (
            <>
                <SignIn notice={notice} onSignedIn={(r) => {
                    setNotice(null);
                    accept(r.user, r.csrf_token);
                    if (session)
                        session.postMessage('signedin');
                }} />
                <Announcer />
            </>
        );
    if (phase === 'customer')
        return (
            <main id="main" class="signin">
                <h1>ATUM DESK</h1>
                <p class="error" role="alert">The desk is for agents. You are signed in as {me.email}, a customer
                    account, which cannot use it.</p>
                <p>Your own tickets are in the customer portal.</p>
                <button type="button" onClick={signOut}>Sign out</button>
            </main>
        );
    return <Desk me={me} setMe={setMe} signOut={signOut} />;
}

function Desk({ me, setMe, signOut }) {
    const route = useRoute();
    // the queues' names: here at the first render when desk.jsx's early
    // request has answered, else asked for below
    const [earlyQueues] = useState(() => settled('/queues?limit=500'));
    const [queues, setQueues] = useState(earlyQueues && earlyQueues.value ? earlyQueues.value.items || [] : []);
    const [saved, setSaved] = useState([]);
    const [caps, setCaps] = useState(null);
    const [conn, setConn] = useState('ok');
    const [live, setLive] = useState('connecting');
    const [navOpen, setNavOpen] = useState(false);
    const [tick, setTick] = useState(0);          // bumped when data may have changed
    // the latest live events, oldest first, each { n, ev }: several can
    // arrive before one render, and each reader takes all it has not seen
    const recentEvents = useRef({ n: 0, log: [] });
    const help = useRef(null);
    const search = useRef(null);

    useEffect(() => {
        if (!(earlyQueues && earlyQueues.value))
            get('/queues?limit=500').then((r) => setQueues(r.items || [])).catch(() => setQueues([]));
        const offConn = onConnection((s) => {
            setConn(s);
            if (s === 'ok') {
                announce('Connection restored.');
                setTick((t) => t + 1);
            } else {
                announce('Connection to the server lost. Reconnecting.');
            }
        });
        const offLive = liveSubscribe((ev) => {
            const r = recentEvents.current;
            r.log.push({ n: ++r.n, ev });
            if (r.log.length > 100)
                r.log.shift();
            setTick((t) => t + 1);
        }, (m) => {
            setLive(m);
            if (m === 'reconnecting')
                liveLost();
            else if (m === 'live' || m === 'poll')
                liveBack();
        });
        // optional features, once the first view is on screen (boot.js):
        // the OpenAPI document, the saved views, the counts (which wait
        // for the capabilities) and the live channel are work the first
        // view does not show; the ticket screen's script is fetched then
        // too, so opening a ticket does not wait for it
        let live = true;
        afterFirstView(() => loadCaps().then((c) => {
            if (!live)
                return;
            setCaps(c);
            loadSaved(me).then(setSaved).catch(() => setSaved([]));
            startLive();
            loadScreens().catch(() => {});
        }));
        return () => { offConn(); offLive(); live = false; };
    }, []);

    // a first screen other than the inbox (which says so itself when its
    // first page is on screen) lets the rest start once it is drawn
    useEffect(() => {
        if (route.name !== 'inbox')
            firstViewShown();
    }, []);

    // without a live channel: look again every 30 s while visible
    useEffect(() => {
        if (live !== 'none')
            return undefined;
        const t = setInterval(() => {
            if (document.visibilityState === 'visible' && conn === 'ok')
                setTick((x) => x + 1);
        }, 30000);
        return () => clearInterval(t);
    }, [live, conn]);

    const views = useMemo(() => [...builtinViews(me, queues), ...savedAsViews(saved)], [me, queues, saved, caps]);
    // the numbers beside the views: again on every change the desk makes
    // and every live event (counts.js spaces the requests out)
    const [counts, refreshCounts] = useCounts(caps, tick);

    const focusSearch = () => {
        if (route.name !== 'inbox')
            navigate(inboxUrl(null, '', ''));
        setTimeout(() => search.current && search.current.focus(), 0);
    };
    useKeys({
        '?': () => { if (help.current && !help.current.open) help.current.showModal(); },
        '/': focusSearch,
        'g i': () => navigate('/desk'),
    });

    const onSearch = (ev) => {
        ev.preventDefault();
        const q = ev.currentTarget.q.value.trim();
        navigate(inboxUrl(route.name === 'inbox' ? route.view : null, q, route.sort));
        setTimeout(() => { const m = document.getElementById('main'); if (m) m.focus(); }, 0);
    };

    const current = route.name === 'inbox' ? (views.find((v) => v.key === route.view) || views[0]) : null;
    const groups = [];
    for (const v of views) {
        let g = groups.find((x) => x.name === v.group);
        if (!g)
            groups.push((g = { name: v.group, views: [] }));
        g.views.push(v);
    }

    return (
        <>
            <a class="skip" href="#main">Skip to the content</a>
            <header class="top">
                <a class="brand" href="/desk" onClick={follow}>ATUM DESK</a>
                <button type="button" class="nav-toggle" aria-expanded={navOpen ? 'true' : 'false'}
                        aria-controls="views" onClick={() => setNavOpen(!navOpen)}>Views</button>
                <form class="search" role="search" onSubmit={onSearch}>
                    <label for="q" class="sr-only">Search tickets</label>
                    <input id="q" name="q" type="search" ref={search} placeholder="Search tickets  ( / )"
                           key={route.name === 'inbox' ? route.q : ''}
                           defaultValue={route.name === 'inbox' ? route.q : ''} autocomplete="off" />
                    <button type="submit">Search</button>
                </form>
                <nav class="me" aria-label="Account">
                    <a href="/desk/account" onClick={follow}>{me.name || me.email}</a>
                    <button type="button" class="link" onClick={() => help.current.showModal()}
                            aria-keyshortcuts="?">Shortcuts</button>
                    <button type="button" class="link" onClick={signOut}>Sign out</button>
                </nav>
            </header>
            {conn === 'lost' && (
                <div class="banner" role="alert">Connection to the server lost. Reconnecting… Your work on this page is kept.</div>
            )}
            <div class="layout">
                <nav id="views" class={navOpen ? 'views open' : 'views'} aria-label="Views">
                    {groups.map((g) => (
                        <section aria-label={g.name}>
                            <h2>{g.name}</h2>
                            <ul>
                                {g.views.map((v) => {
                                    const c = viewCount(counts, v);
                                    return (
                                        <li>
                                            <a href={inboxUrl(v.key, '', '')} onClick={(e) => { setNavOpen(false); follow(e); }}
                                               aria-current={current && current.key === v.key ? 'page' : undefined}
                                               data-view={v.key}>
                                                <span class="view-label">{v.label}</span>
                                                {c && <span class="count"><span class="sr-only">: </span>{c.n}{c.more ? '+' : ''}<span class="sr-only"> tickets</span></span>}
                                            </a>
                                        </li>
                                    );
                                })}
                            </ul>
                        </section>
                    ))}
                    <DashboardLink me={me} current={route.name === 'dashboard'} onFollow={() => setNavOpen(false)} />
                    <p class="live-state">{liveText(live)}</p>
                </nav>
                <main id="main" tabindex="-1">
                    {route.name === 'inbox' && (
                        <Inbox key={`${current.key}|${route.q}|${route.sort}`} me={me} view={current}
                               q={route.q} sort={route.sort} queues={queues}
                               tick={tick} onChanged={refreshCounts}
                               onSaved={() => loadSaved(me).then(setSaved).then(refreshCounts)} />
                    )}
                    {route.name === 'ticket' && (
                        <Screen render={({ Ticket }) => (
                            <Ticket key={route.id} id={route.id} me={me} queues={queues} tick={tick}
                                    recentEvents={recentEvents} onChanged={refreshCounts} />
                        )} />
                    )}
                    {route.name === 'account' && <Screen render={({ Account }) => <Account me={me} onMe={setMe} />} />}
                    {route.name === 'dashboard' && (
                        <Screen render={({ Dashboard }) => (
                            <Dashboard me={me} queues={queues} days={route.days} queue={route.queue} />
                        )} />
                    )}
                    {route.name === 'notfound' && (
                        <section><h1>Not found</h1><p>There is no such page in the desk. <a href="/desk" onClick={follow}>Go to the inbox</a>.</p></section>
                    )}
                </main>
            </div>
            <dialog ref={help} class="help" aria-labelledby="help-title">
                <h2 id="help-title">Keyboard shortcuts</h2>
                {SHORTCUTS.map(([group, keys]) => (
                    <section>
                        <h3>{group}</h3>
                        <dl>{keys.map(([k, what]) => <><dt><kbd>{k}</kbd></dt><dd>{what}</dd></>)}</dl>
                    </section>
                ))}
                <form method="dialog"><button type="submit" class="primary">Close</button></form>
            </dialog>
            <Announcer />
        </>
    );
}

// A screen whose script is in the later chunk (screens.js): rendered by
// render(module) once the script is here.
function Screen({ render }) {
    const s = useScreens();
    if (s.module)
        return render(s.module);
    if (s.failed)
        return (
            <div class="error" role="alert">
                This part of the desk could not be loaded: the server cannot be reached, or the desk was
                updated meanwhile. <button type="button" onClick={() => location.reload()}>Reload the page</button>
            </div>
        );
    return <p class="loading" role="status">Loading…</p>;
}

function liveText(mode) {
    switch (mode) {
    case 'live': return 'Live updates: on';
    case 'poll': return 'Live updates: on (polling)';
    case 'reconnecting': return 'Live updates: reconnecting…';
    case 'none': return 'Live updates: this server has none; the list refreshes every 30 s';
    default: return 'Live updates: connecting…';
    }
}
