// kb.jsx -- the knowledge base in the portal: the rag plugin's published
// public articles, for customers and signed-out visitors alike.
//   /portal/kb                 every article, grouped by category, and a search box
//   /portal/kb?category=NAME   one category
//   /portal/kb?q=WORDS         search results (title and snippet)
//   /portal/kb/SLUG            one article: category, last update, the body
//                              the server rendered, related articles
// The API decides what anyone may read (GET /plugins/rag/articles,
// /search and /article give customers and visitors the published public
// articles only; staff get internal ones and drafts too unless they ask
// for ?audience=public, which every call here does, so staff see the
// portal as customers do); this page shows what it is given.  Without the rag plugin the
// routes answer 404 and the pages say the knowledge base is not
// available; the header shows no link to it.
import { useEffect, useRef, useState } from 'preact/hooks';
import { get, post, describe } from '../desk/api.js';
import { when } from '../desk/format.js';
import { follow, navigate } from './router.js';

const PAGE = 200;          // the API's largest page of articles
const MAX_ARTICLES = 2000; // what one listing reads at most
const SEARCH_DELAY = 300;  // ms after the last keystroke

// Whether the knowledge base is there, asked once per page: the rag
// plugin's article list answers (a 404 means it is not loaded).
// Resolves to {on, total}.
let availability = null;

export function kbAvailability() {
    if (!availability)
        availability = get('/plugins/rag/articles?limit=1&audience=public', { quiet: true })
            .then((r) => ({ on: true, total: (r && r.total) || 0 }))
            .catch(() => ({ on: false, total: 0 }));
    return availability;
}

export function useKb() {
    const [kb, setKb] = useState(null);
    useEffect(() => {
        let live = true;
        kbAvailability().then((v) => live && setKb(v));
        return () => {
            live = false;
        };
    }, []);
    return kb;
}

function Unavailable() {
    return (
        <section class="card" aria-labelledby="kb-h">
            <h1 id="kb-h">Knowledge base</h1>
            <p>The knowledge base is not available.</p>
            <p><a href="/portal" onClick={follow}>Go to the start page</a></p>
        </section>
    );
}

const OTHER = 'Other articles';

// [{name, items}] sorted by name, the articles without a category last
function byCategory(items) {
    const groups = new Map();
    for (const a of items) {
        const c = typeof a.category === 'string' && a.category ? a.category : OTHER;
        if (!groups.has(c))
            groups.set(c, []);
        groups.get(c).push(a);
    }
    return [...groups.entries()]
        .map(([name, list]) => ({ name, items: list }))
        .sort((x, y) => (x.name === OTHER) - (y.name === OTHER) || x.name.localeCompare(y.name));
}

function categoryHref(name) {
    return `/portal/kb?category=${encodeURIComponent(name)}`;
}

async function allArticles() {
    const out = [];
    for (let offset = 0; offset < MAX_ARTICLES; offset += PAGE) {
        const r = await get(`/plugins/rag/articles?limit=${PAGE}&offset=${offset}&audience=public`);
        const items = (r && r.items) || [];
        out.push(...items);
        if (items.length < PAGE || out.length >= (r.total || 0))
            break;
    }
    return out;
}

// A short plain-text snippet of a passage (its Markdown marks dropped).
export function snippet(text, max = 220) {
    const t = String(text || '')
        .replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1')
        .replace(/[`*_#>~|]+/g, ' ')
        .replace(/\s+/g, ' ')
        .trim();
    return t.length > max ? `${t.slice(0, max).replace(/\s+\S*$/, '')}…` : t;
}

function params() {
    return new URLSearchParams(location.search);
}

function useSearch(q) {
    const [state, setState] = useState({ q: '', items: null, error: null });
    useEffect(() => {
        const text = q.trim();
        if (text.length < 2) {
            setState({ q: '', items: null, error: null });
            return undefined;
        }
        const ctl = new AbortController();
        const timer = setTimeout(async () => {
            try {
                const r = await get(`/plugins/rag/search?q=${encodeURIComponent(text.slice(0, 300))}&limit=20&audience=public`,
                                    { signal: ctl.signal });
                // the portal lists articles (staff's search also finds solved tickets)
                const items = ((r && r.items) || []).filter((i) => i.kind === 'article');
                setState({ q: text, items, error: null });
            } catch (e) {
                if (e && e.name === 'AbortError')
                    return;
                setState({ q: text, items: null, error: describe(e, 'searching') });
            }
        }, SEARCH_DELAY);
        return () => {
            clearTimeout(timer);
            ctl.abort();
        };
    }, [q]);
    return state;
}

function SearchResults({ q, state }) {
    if (state.error)
        return <p class="error" role="alert">{state.error}</p>;
    if (state.items === null || state.q !== q.trim())
        return null;
    return (
        <section aria-labelledby="kb-results-h">
            <h2 id="kb-results-h">Results</h2>
            {state.items.length === 0 ? (
                <p>No article matches. Try other words, or <a href="/portal/new" onClick={follow}>write to us</a>.</p>
            ) : (
                <ul class="kb-results">
                    {state.items.map((h) => (
                        <li key={h.id}>
                            <a href={`/portal/kb/${encodeURIComponent(h.slug)}`} onClick={follow}>{h.title}</a>
                            {h.passage && h.passage.text ? (
                                <p class="kb-snippet">
                                    {h.passage.section ? <strong>{h.passage.section}: </strong> : null}
                                    {snippet(h.passage.text)}
                                </p>
                            ) : null}
                        </li>
                    ))}
                </ul>
            )}
        </section>
    );
}

function ArticleLinks({ items }) {
    return (
        <ul class="kb-list">
            {items.map((a) => (
                <li key={a.id}>
                    <a href={`/portal/kb/${encodeURIComponent(a.slug)}`} onClick={follow}>{a.title}</a>
                </li>
            ))}
        </ul>
    );
}

export function KnowledgeBase({ category }) {
    const kb = useKb();
    const [q, setQ] = useState(() => params().get('q') || '');
    const [articles, setArticles] = useState(null);
    const [error, setError] = useState(null);
    const search = useSearch(q);
    const count = search.items && search.q === q.trim() ? search.items.length : null;

    useEffect(() => {
        if (!kb || !kb.on)
            return;
        allArticles().then(setArticles).catch((e) => setError(describe(e, 'loading the articles')));
    }, [kb]);

    // the search stays in the address (a reload or a shared link shows it)
    useEffect(() => {
        const p = params();
        if (q.trim())
            p.set('q', q.trim());
        else
            p.delete('q');
        const s = p.toString();
        const url = `/portal/kb${s ? `?${s}` : ''}`;
        if (url !== location.pathname + location.search)
            history.replaceState(null, '', url);
    }, [q]);

    if (kb === null)
        return <p class="boot">Loading…</p>;
    if (!kb.on)
        return <Unavailable />;
    const groups = articles ? byCategory(articles) : [];
    const shown = category ? groups.filter((g) => g.name === category) : groups;
    const searching = q.trim().length >= 2;
    return (
        <section aria-labelledby="kb-h" class="kb">
            {category ? (
                <nav aria-label="Breadcrumb" class="crumbs">
                    <ol><li><a href="/portal/kb" onClick={follow}>Knowledge base</a></li></ol>
                </nav>
            ) : null}
            <h1 id="kb-h">{category ? category : 'Knowledge base'}</h1>
            <form role="search" class="kb-search" aria-label="Articles" onSubmit={(e) => e.preventDefault()}>
                <label for="kb-q">Search the articles</label>
                <input id="kb-q" type="search" value={q} maxLength={300} autoComplete="off"
                       aria-describedby="kb-count" onInput={(e) => setQ(e.currentTarget.value)} />
                <p id="kb-count" class="hint" role="status" aria-live="polite">
                    {searching && count !== null ? `${count} ${count === 1 ? 'article' : 'articles'} found` : ''}
                </p>
            </form>
            {searching ? <SearchResults q={q} state={search} /> : null}
            {error ? <p class="error" role="alert">{error}</p> : null}
            {searching ? null : articles === null && !error ? <p class="boot">Loading…</p> : (
                <>
                    {!category && groups.length > 1 ? (
                        <nav aria-labelledby="kb-cats-h" class="kb-cats">
                            <h2 id="kb-cats-h">Categories</h2>
                            <ul>
                                {groups.map((g) => (
                                    <li key={g.name}>
                                        <a href={categoryHref(g.name)} onClick={follow}>{g.name}</a>
                                        {' '}<span class="hint">({g.items.length})</span>
                                    </li>
                                ))}
                            </ul>
                        </nav>
                    ) : null}
                    {shown.length === 0 ? (
                        <p class="card">{category ? 'There are no articles in this category.' : 'There are no articles yet.'}</p>
                    ) : shown.map((g, i) => (
                        <section key={g.name} class="card kb-group" aria-labelledby={`kb-g-${i}`}>
                            <h2 id={`kb-g-${i}`}>
                                {category ? 'Articles' : <a href={categoryHref(g.name)} onClick={follow}>{g.name}</a>}
                            </h2>
                            <ArticleLinks items={g.items} />
                        </section>
                    ))}
                </>
            )}
        </section>
    );
}

// The acknowledgement mail links an article as /portal/kb/SLUG?ticket=N:
// the customer can then say it solved the question, which closes ticket N
// (the rag plugin's POST /solved, through the desk's rules).
function ticketOfLink() {
    const v = params().get('ticket');
    return v && /^[1-9][0-9]{0,17}$/.test(v) ? Number(v) : null;
}

function Solved({ article, ticket, me }) {
    const [state, setState] = useState(null);
    if (!me)
        return (
            <p><a href={`/portal/signin?next=${encodeURIComponent(`/portal/tickets/${ticket}`)}`} onClick={follow}>
                Sign in to close ticket #{ticket} if this solved it</a></p>
        );
    if (me.role !== 'customer')
        return null;
    const solved = async () => {
        setState({ busy: true });
        try {
            const r = await post('/plugins/rag/solved', { article_id: article.id, ticket_id: ticket });
            setState({ done: true, closed: r && r.ticket_closed });
        } catch (e) {
            setState({ error: e.status === 404 ? 'That ticket is not one of yours.' : describe(e, 'closing the ticket') });
        }
    };
    if (state && state.done)
        return <p class="notice" role="status">Thank you. {state.closed ? `Ticket #${ticket} is closed.` : ''}</p>;
    return (
        <p>
            <button type="button" onClick={solved} disabled={!!(state && state.busy)}>This solved my question: close ticket #{ticket}</button>
            {state && state.error && <span class="error" role="alert"> {state.error}</span>}
        </p>
    );
}

export function Article({ slug, me }) {
    const kb = useKb();
    const [a, setA] = useState(null);
    const [error, setError] = useState(null);
    const body = useRef(null);
    const ticket = ticketOfLink();
    useEffect(() => {
        setA(null);
        setError(null);
        get(`/plugins/rag/article?slug=${encodeURIComponent(slug)}&audience=public`)
            .then(setA)
            .catch((e) => setError(e.status === 404 ? 'There is no such article.' : describe(e, 'loading the article')));
    }, [slug]);
    // a followed link is gone with the page it was on: the reader goes on
    // from the new article's title, not from the top of the document
    useEffect(() => {
        const h = a && document.getElementById('kb-h');
        if (h && (!document.activeElement || document.activeElement === document.body))
            h.focus();
    }, [a]);
    // links inside the article to other articles stay in the page
    useEffect(() => {
        const el = body.current;
        if (!el)
            return undefined;
        const click = (e) => {
            const link = e.target.closest && e.target.closest('a[href^="/portal/"]');
            if (link && e.button === 0 && !e.metaKey && !e.ctrlKey && !e.shiftKey && !e.altKey) {
                e.preventDefault();
                navigate(link.getAttribute('href'));
            }
        };
        el.addEventListener('click', click);
        return () => el.removeEventListener('click', click);
    }, [a]);
    if (kb && !kb.on)
        return <Unavailable />;
    if (error)
        return (
            <section class="card" aria-labelledby="kb-h">
                <h1 id="kb-h">Article not found</h1>
                <p class="error" role="alert">{error}</p>
                <p><a href="/portal/kb" onClick={follow}>Browse the knowledge base</a></p>
            </section>
        );
    if (!a)
        return <p class="boot">Loading…</p>;
    const related = Array.isArray(a.related) ? a.related : [];
    const write = me ? '/portal/new' : `/portal/signin?next=${encodeURIComponent('/portal/new')}`;
    return (
        <>
            <nav aria-label="Breadcrumb" class="crumbs">
                <ol>
                    <li><a href="/portal/kb" onClick={follow}>Knowledge base</a></li>
                    {a.category ? <li><a href={categoryHref(a.category)} onClick={follow}>{a.category}</a></li> : null}
                </ol>
            </nav>
            <article class="card kb-article" aria-labelledby="kb-h">
                <h1 id="kb-h" tabIndex={-1}>{a.title}</h1>
                <p class="meta">
                    {a.category ? <span>In {a.category}</span> : null}
                    {a.updated_at ? <span>Updated <time dateTime={a.updated_at}>{when(a.updated_at)}</time></span> : null}
                </p>
                {/* html is rendered by the rag plugin with cmark's safe mode
                    (no raw HTML, no javascript: links); the page's CSP
                    forbids inline script and style besides.  Without it
                    the Markdown is shown as text. */}
                {typeof a.html === 'string'
                    ? <div class="body kb-body" ref={body} dangerouslySetInnerHTML={{ __html: a.html }} />
                    : <div class="body">{a.body || ''}</div>}
                {ticket && typeof a.id === 'number' ? <Solved article={a} ticket={ticket} me={me} /> : null}
                <p><a href={ticket && me ? `/portal/tickets/${ticket}` : write} onClick={follow}>
                    {ticket && me ? 'It does not answer my question: back to my ticket' : 'It does not answer my question: write to us'}</a></p>
            </article>
            {related.length ? (
                <section class="card kb-related" aria-labelledby="kb-related-h">
                    <h2 id="kb-related-h">Related articles</h2>
                    <ArticleLinks items={related} />
                </section>
            ) : null}
        </>
    );
}
