// side.jsx -- beside a ticket: the requester and the organisation with
// their other tickets (GET /tickets/{id}/related), linked tickets, the
// history of changes (GET /tickets/{id}/history: who, what, when, in
// words) and the plugins' panels (plugins.jsx).  Each part says plainly
// when the server has no route for it.

import { useEffect, useState } from 'preact/hooks';
import { del, describe, get, post } from './api.js';
import { has, useCaps } from './caps.js';
import { ago, when } from './format.js';
import { PluginPanels } from './plugins.jsx';
import { follow } from './router.js';
import { Badge, announce } from './ui.jsx';

export function Side({ t, tick, rev, onChange, onReload, onInsert }) {
    const [rel, setRel] = useState(null);          // the related answer, or { fallback }
    const [historyItems, setHistory] = useState(undefined);
    const [showAll, setShowAll] = useState(false);
    const caps = useCaps();
    useEffect(() => {
        if (!caps)
            return;
        if (has('get', '/tickets/{id}/related'))
            get(`/tickets/${t.id}/related`, { quiet: true }).then(setRel).catch(() => setRel({ requester_tickets: [], org_tickets: [] }));
        else if (t.requester_id)
            get(`/tickets?requester_id=${t.requester_id}&limit=11`, { quiet: true })
                .then((r) => setRel({ requester: t.requester, requester_tickets: r.items.filter((x) => x.id !== t.id).slice(0, 10), org_tickets: [] }))
                .catch(() => setRel({ requester_tickets: [], org_tickets: [] }));
        if (has('get', '/tickets/{id}/history'))
            get(`/tickets/${t.id}/history`, { quiet: true }).then((r) => setHistory(r.items || [])).catch(() => setHistory(null));
        else
            setHistory(null);
    }, [caps, t.id, t.updated_at, tick, rev]);
    const r = (rel && rel.requester) || t.requester;
    const org = (rel && rel.org) || t.org;
    const hist = historyItems ? [...historyItems].reverse() : historyItems;
    const shown = hist && !showAll ? hist.slice(0, 8) : hist;
    return (
        <aside class="side" aria-label="About this ticket">
            <section aria-labelledby="req-h">
                <h2 id="req-h">Requester</h2>
                {r ? <p>{r.name && <>{r.name}<br /></>}<a href={`mailto:${r.email}`}>{r.email}</a></p> : <p class="muted">unknown</p>}
                {org && <p>Organisation: {org.name}{org.domain ? <span class="muted"> ({org.domain})</span> : ''}</p>}
                {r && r.id && <Invite userId={r.id} />}
                <p class="muted">Opened {ago(t.created_at)} <span class="sr-only">({when(t.created_at)})</span></p>
            </section>
            <OtherTickets id="other-h" title="Their other tickets" items={rel && rel.requester_tickets}
                          total={rel && rel.requester_total} />
            {org && <OtherTickets id="org-h" title={`Others at ${org.name}`} items={rel && rel.org_tickets} />}
            {t.csat && (
                <section aria-labelledby="csat-h">
                    <h2 id="csat-h">Customer's rating</h2>
                    <p><strong>{t.csat.score} of 5</strong> <span class="muted">({ago(t.csat.updated_at)})</span></p>
                    {t.csat.comment ? <p class="csat-comment">“{t.csat.comment}”</p> : null}
                </section>
            )}
            {t.links && t.links.length > 0 && <Links t={t} onReload={onReload} />}
            <PluginPanels t={t} onChange={onChange} onInsert={onInsert} />
            <section aria-labelledby="hist-h">
                <h2 id="hist-h">History</h2>
                {historyItems === undefined ? <p class="muted">…</p>
                    : historyItems === null ? <p class="muted">This server does not list a ticket's changes.</p>
                    : historyItems.length === 0 ? <p class="muted">No changes by people yet.</p>
                    : (
                        <>
                            <ol class="history" reversed>
                                {shown.map((h) => (
                                    <li>
                                        <span class="who">{(h.actor && h.actor.name) || 'system'}</span>{' '}
                                        <span class="what">{h.summary || h.action}</span>{' '}
                                        <time class="muted" datetime={h.created_at} title={when(h.created_at)}>{ago(h.created_at)}</time>
                                    </li>
                                ))}
                            </ol>
                            {hist.length > shown.length && (
                                <button type="button" class="link" onClick={() => setShowAll(true)}>
                                    Show all {hist.length} changes</button>
                            )}
                        </>
                    )}
            </section>
        </aside>
    );
}

// The tickets linked to this one, each with "Unlink".
function Links({ t, onReload }) {
    const [error, setError] = useState(null);
    const unlink = async (other) => {
        setError(null);
        try {
            await del(`/tickets/${t.id}/links/${other}`, t.version ? { ifMatch: `"v${t.version}"` } : undefined);
            announce(`Link to #${other} removed.`);
            if (onReload)
                await onReload();
        } catch (e) {
            setError(describe(e, `unlinking #${other}`));
            if (e.status === 409 && onReload)
                await onReload();
        }
    };
    return (
        <section aria-labelledby="links-h">
            <h2 id="links-h">Linked tickets</h2>
            <ul class="links">{t.links.map((l) => (
                <li><a href={`/desk/tickets/${l}`} onClick={follow}>#{l}</a>{' '}
                    <button type="button" class="link" aria-label={`Unlink #${l}`} onClick={() => unlink(l)}>Unlink</button></li>
            ))}</ul>
            {error && <p class="field-error" role="alert">{error}</p>}
        </section>
    );
}

// Staff invite the requester to the customer portal (a mailed link to
// choose a password); shown when the server has the route.
function Invite({ userId }) {
    const [state, setState] = useState(null);
    if (!has('post', '/users/{id}/invite'))
        return null;
    const send = async () => {
        setState({ busy: true });
        try {
            await post(`/users/${userId}/invite`);
            setState({ ok: 'Invitation mailed.' });
            announce('Invitation mailed');
        } catch (err) {
            setState({ error: describe(err, 'inviting') });
        }
    };
    return (
        <p>
            <button type="button" disabled={state && state.busy} onClick={send}>Invite to the portal</button>
            {state && state.ok ? <span class="muted" role="status"> {state.ok}</span> : null}
            {state && state.error ? <span class="field-error" role="alert"> {state.error}</span> : null}
        </p>
    );
}

function OtherTickets({ id, title, items, total }) {
    return (
        <section aria-labelledby={id}>
            <h2 id={id}>{title}</h2>
            {!items ? <p class="muted">…</p> : items.length === 0 ? <p class="muted">none</p> : (
                <>
                    <ul class="others">{items.map((o) => (
                        <li><a href={`/desk/tickets/${o.id}`} onClick={follow}>#{o.id} {o.subject || '(no subject)'}</a>{' '}
                            <Badge kind="status" value={o.status} /></li>
                    ))}</ul>
                    {total > items.length && <p class="muted">{total - items.length} more</p>}
                </>
            )}
        </section>
    );
}
