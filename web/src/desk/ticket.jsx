// ticket.jsx -- one ticket: its thread, the reply and note forms, status,
// priority and "assign to me", the requester with their other tickets and
// organisation, linked tickets, the history of changes (when the API has
// it) and who else is editing it.
//
// A ticket the agent may not see answers 404 like one that does not
// exist, and the desk says exactly that.  Every reply, note and change
// carries the version the agent saw (If-Match) -- for a reply or note, the
// version the text was started on; a 409 means the ticket moved on
// meanwhile: nothing was sent, the draft stays, the newer messages the
// server names are shown above it and the ticket is read again, so the
// next send carries the new version.
//
// Presence: while the ticket is open the desk says "viewing" (and
// "typing" while a reply or note is written) through the live channel,
// and shows who else is here from the ticket's viewers and the live
// ticket.presence events.  A reply by mail that the server held (it
// crossed a newer message) is offered to its author: send it or drop it.

import { useEffect, useRef, useState } from 'preact/hooks';
import { del, describe, get, patch, post } from './api.js';
import { has } from './caps.js';
import { livePresence } from './live.js';
import { PRIORITIES, STATUSES, ago, cap, when } from './format.js';
import { typing, useKeys } from './keys.js';
import { MenuButton } from './menu.jsx';
import { follow, lastInboxUrl, navigate } from './router.js';
import { Thread } from './thread.jsx';
import { Badge, announce } from './ui.jsx';

export function Ticket({ id, me, queues, tick, lastEvent }) {
    const [t, setT] = useState(null);
    const [error, setError] = useState(null);     // { status, text }
    const [actionError, setActionError] = useState(null);
    const [menu, setMenu] = useState(null);
    const [compose, setCompose] = useState(null);  // 'reply' | 'note' | null
    const [newer, setNewer] = useState(0);         // messages that arrived during a 409
    const [crossed, setCrossed] = useState(null);  // the newer messages a 409 named
    const [viewers, setViewers] = useState([]);
    const h1 = useRef(null);

    const load = (quiet) => get(`/tickets/${id}`)
        .then((r) => {
            setT((old) => {
                if (quiet && old && r.messages.length > old.messages.length)
                    announce(`${r.messages.length - old.messages.length} new message(s) on this ticket.`);
                return r;
            });
            setViewers(r.viewers || []);
            setError(null);
            return r;
        })
        .catch((e) => {
            if (!quiet || e.status === 404)
                setError({ status: e.status, text: e.status === 404
                    ? `Ticket #${id} was not found. It does not exist, or it is in a queue you are not a member of.`
                    : describe(e, 'loading the ticket') });
        });

    useEffect(() => {
        load(false).then((r) => {
            if (r && h1.current)
                h1.current.focus();
        });
    }, [id]);

    // this tab views the ticket: said now, every 25 s, and "left" at the end
    useEffect(() => {
        livePresence(id, 'viewing');
        const again = setInterval(() => livePresence(id, 'viewing'), 25000);
        return () => {
            clearInterval(again);
            livePresence(id, 'left');
        };
    }, [id]);

    // live events (or the 30 s refresh, or a reconnect) about this ticket
    const seenTick = useRef(tick);
    useEffect(() => {
        if (tick === seenTick.current)
            return;
        seenTick.current = tick;
        const ev = lastEvent.current;
        if (ev && ev.event === 'ticket.presence') {
            if (ev.data && ev.data.ticket_id === id)
                setViewers(ev.data.viewers || []);
            return;
        }
        const about = ev && ev.data && (ev.data.ticket_id === id || ev.data.into_id === id);
        if (!ev || about || ev.event === 'reset')
            load(true);
    }, [tick]);

    const change = async (body, what) => {
        setActionError(null);
        try {
            setT(await patch(`/tickets/${id}`, body, t && t.version ? { ifMatch: `"v${t.version}"` } : undefined));
            announce(`${what}: done.`);
        } catch (e) {
            setActionError(describe(e, what.toLowerCase()));
            if (e.status === 409)
                load(true);
        }
    };

    useKeys({
        r: () => t && setCompose('reply'),
        n: () => t && setCompose('note'),
        a: () => t && t.assignee_id !== me.id && change({ assignee_id: me.id }, 'Assigning to you'),
        s: () => t && setMenu('status'),
        p: () => t && setMenu('priority'),
        u: () => navigate(back()),
        Escape: (e) => {
            if (compose && typing(e.target))
                return false;
            navigate(back());
        },
        j: () => moveMessage(1),
        k: () => moveMessage(-1),
    });

    if (error)
        return (
            <section class="ticket" aria-labelledby="ticket-title">
                <h1 id="ticket-title" tabindex="-1" ref={h1}>{error.status === 404 ? 'Ticket not found' : `Ticket #${id}`}</h1>
                <p class="error" role="alert">{error.text}</p>
                <p><a href={back()} onClick={follow}>Back to the list</a></p>
            </section>
        );
    if (!t)
        return <p class="loading" role="status">Loading ticket #{id}…</p>;

    const queue = queues.find((q) => q.id === t.queue_id);
    const lock = t.lock && t.lock.user_id !== me.id ? t.lock : null;
    const others = viewers.filter((v) => v.user_id !== me.id);
    const held = t.messages.filter((m) => m.held && m.author_id === me.id);
    return (
        <article class="ticket" aria-labelledby="ticket-title" data-loaded="true">
            <p class="crumbs"><a href={back()} onClick={follow}>← Back to the list</a> <span class="muted">(u)</span></p>
            <h1 id="ticket-title" tabindex="-1" ref={h1}><span class="tid">#{t.id}</span> {t.subject || '(no subject)'}</h1>
            {t.merged_into && <p class="notice">Merged into <a href={`/desk/tickets/${t.merged_into}`} onClick={follow}>#{t.merged_into}</a>.</p>}
            {lock && <p class="notice" role="status">{lock.name || lock.email} is working on this ticket right now.</p>}
            <p class="presence" role="status" aria-live="polite">{others.length === 0 ? '' : <>
                Also here: {others.map((v, i) => <span class={`viewer viewer-${v.state}`}>{i > 0 ? ', ' : ''}{v.name}{v.state === 'typing' ? ' (typing…)' : ''}</span>)}
            </>}</p>
            <div class="ticket-bar" role="toolbar" aria-label="Ticket actions">
                <Badge kind="status" value={t.status} />
                <Badge kind="priority" value={t.priority} />
                <span class="muted">{queue ? queue.name : ''}</span>
                <span>Assignee: {t.assignee_id == null ? 'nobody' : t.assignee_id === me.id ? 'you' : `#${t.assignee_id}`}</span>
                <button type="button" onClick={() => setCompose('reply')} aria-keyshortcuts="r">Reply</button>
                <button type="button" onClick={() => setCompose('note')} aria-keyshortcuts="n">Note</button>
                <button type="button" disabled={t.assignee_id === me.id} aria-keyshortcuts="a"
                        onClick={() => change({ assignee_id: me.id }, 'Assigning to you')}>Assign to me</button>
                <MenuButton id="t-status" label="Set the status" text={`Status: ${cap(t.status)}`}
                            open={menu === 'status'} setOpen={(o) => setMenu(o ? 'status' : null)} value={t.status}
                            options={STATUSES.map((s) => ({ value: s, label: cap(s) }))}
                            onChoose={(v) => change({ status: v }, `Status ${v}`)} />
                <MenuButton id="t-priority" label="Set the priority" text={`Priority: ${cap(t.priority)}`}
                            open={menu === 'priority'} setOpen={(o) => setMenu(o ? 'priority' : null)} value={t.priority}
                            options={PRIORITIES.map((s) => ({ value: s, label: cap(s) }))}
                            onChoose={(v) => change({ priority: v }, `Priority ${v}`)} />
            </div>
            {actionError && <p class="error" role="alert">{actionError}</p>}
            <div class="ticket-body">
                <div class="ticket-main">
                    {newer > 0 && <p class="notice" role="status">{newer} newer message{newer === 1 ? '' : 's'} arrived while you were writing; they are shown below. Your text is kept.</p>}
                    {crossed && crossed.length > 0 && (
                        <section class="crossed" aria-labelledby="crossed-h">
                            <h2 id="crossed-h">Not sent: the ticket changed while you were writing</h2>
                            <p>Read what is new, then send your text again (it is kept below).</p>
                            <ol>{crossed.map((m) => (
                                <li class={`crossed-msg ${m.visibility === 'internal' ? 'crossed-note' : m.direction === 'in' ? 'crossed-customer' : 'crossed-agent'}`}>
                                    <span class="from">{m.from_addr || 'unknown'}</span> <span class="muted">{ago(m.created_at)}</span>
                                    <p class="text">{String(m.body_text || '').slice(0, 600)}</p>
                                </li>
                            ))}</ol>
                        </section>
                    )}
                    {held.map((m) => <Held key={m.id} ticket={t} message={m} onDone={(r) => setT(r)} />)}
                    <Thread messages={t.messages} />
                    {compose && (
                        <Composer key={compose} kind={compose} ticket={t} onClose={() => setCompose(null)}
                                  onSent={(r) => {
                                      setT(r);
                                      setNewer(0);
                                      setCrossed(null);
                                      setCompose(null);
                                      setTimeout(() => moveMessage(0, true), 0);
                                  }}
                                  onConflict={async (problem) => {
                                      const before = t.messages.length;
                                      if (problem && Array.isArray(problem.messages))
                                          setCrossed(problem.messages);
                                      const r = await load(true);
                                      if (r)
                                          setNewer(Math.max(0, r.messages.length - before));
                                  }} />
                    )}
                </div>
                <Side t={t} />
            </div>
        </article>
    );
}

const back = lastInboxUrl;

// j/k: the focus to the next or previous message on screen (step 0 with
// last: the newest one).
function moveMessage(step, last) {
    const all = [...document.querySelectorAll('ol.thread li.msg')];
    if (!all.length)
        return;
    const i = all.indexOf(document.activeElement.closest ? document.activeElement.closest('li.msg') : null);
    const next = last ? all.length - 1 : i < 0 ? (step > 0 ? 0 : all.length - 1) : Math.max(0, Math.min(all.length - 1, i + step));
    all[next].focus();
}

function Composer({ kind, ticket, onClose, onSent, onConflict }) {
    const [busy, setBusy] = useState(false);
    const [err, setErr] = useState(null);
    const area = useRef(null);
    const draftKey = `atum-desk-draft-${ticket.id}-${kind}`;
    const [holder, setHolder] = useState(null);    // who else holds the "being edited" lock
    const typed = useRef(0);
    // the version this text was started on: messages that arrive while it
    // is written (even shown live) answer the send with 409 and are shown
    // before anything goes; after that the text counts as written on them
    const base = useRef(ticket.version);
    const sayTyping = () => {
        const now = Date.now();
        if (now - typed.current > 3000) {
            typed.current = now;
            livePresence(ticket.id, 'typing');
        }
    };
    useEffect(() => () => {
        if (typed.current)
            livePresence(ticket.id, 'viewing');
    }, []);
    useEffect(() => {
        if (area.current) {
            area.current.value = sessionStorage.getItem(draftKey) || '';
            area.current.focus();
        }
        // while writing, the ticket shows others as "being edited by" me
        // (POST /tickets/{id}/lock lasts two minutes: renewed every minute)
        let held = false;
        const lock = () => post(`/tickets/${ticket.id}/lock`, undefined, { quiet: true })
            .then(() => { held = true; setHolder(null); })
            .catch((e) => {
                if (e.status === 409)
                    get(`/tickets/${ticket.id}`, { quiet: true }).then((t) => setHolder(t.lock)).catch(() => {});
            });
        lock();
        const renew = setInterval(lock, 60000);
        return () => {
            clearInterval(renew);
            if (held)
                del(`/tickets/${ticket.id}/lock`, { quiet: true }).catch(() => {});
        };
    }, []);
    const send = async (ev) => {
        if (ev)
            ev.preventDefault();
        const body = area.current.value;
        if (!body.trim()) {
            setErr('Write something first.');
            area.current.focus();
            return;
        }
        const status = kind === 'reply' ? area.current.form.after.value : '';
        setBusy(true);
        setErr(null);
        try {
            await post(`/tickets/${ticket.id}/${kind === 'reply' ? 'replies' : 'notes'}`,
                       status ? { body, status } : { body },
                       base.current ? { ifMatch: `"v${base.current}"` } : undefined);
            sessionStorage.removeItem(draftKey);
            announce(kind === 'reply' ? 'Reply sent.' : 'Note added.');
            onSent(await get(`/tickets/${ticket.id}`));
        } catch (e) {
            setErr(describe(e, kind === 'reply' ? 'sending the reply' : 'adding the note'));
            if (e.status === 409) {
                if (e.problem && typeof e.problem.version === 'number')
                    base.current = e.problem.version;
                onConflict(e.problem);
            }
            area.current.focus();
        } finally {
            setBusy(false);
        }
    };
    const onKeyDown = (e) => {
        if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) {
            e.preventDefault();
            send();
        } else if (e.key === 'Escape') {
            e.preventDefault();
            e.stopPropagation();
            onClose();
        }
    };
    const id = `compose-${kind}`;
    return (
        <form class={`composer composer-${kind}`} onSubmit={send} aria-labelledby={`${id}-label`}>
            <label id={`${id}-label`} for={id}>
                {kind === 'reply' ? `Reply to ${ticket.requester ? ticket.requester.email : 'the customer'}` : 'Internal note (only staff see it)'}
            </label>
            <textarea id={id} ref={area} rows="6" onKeyDown={onKeyDown} aria-invalid={err ? 'true' : undefined}
                      aria-describedby={err ? `${id}-err` : undefined}
                      onInput={(e) => {
                          sessionStorage.setItem(draftKey, e.currentTarget.value);
                          sayTyping();
                      }} />
            {err && <p class="error" role="alert" id={`${id}-err`}>{err}</p>}
            {holder && <p class="notice" role="status">{holder.name || holder.email} is writing on this ticket too.</p>}
            <div class="composer-bar">
                {kind === 'reply' && (
                    <>
                        <label for={`${id}-after`}>Then set the status to</label>
                        <select id={`${id}-after`} name="after">
                            <option value="">(as it is)</option>
                            {STATUSES.map((s) => <option value={s}>{cap(s)}</option>)}
                        </select>
                    </>
                )}
                <button type="submit" class="primary" disabled={busy} aria-keyshortcuts="Control+Enter">
                    {busy ? 'Sending…' : kind === 'reply' ? 'Send reply' : 'Add note'}
                </button>
                <button type="button" class="link" onClick={onClose}>Cancel</button>
            </div>
        </form>
    );
}

// A reply by mail the server held: it crossed a newer message.
function Held({ ticket, message, onDone }) {
    const [busy, setBusy] = useState(false);
    const [err, setErr] = useState(null);
    const act = async (action) => {
        setBusy(true);
        setErr(null);
        try {
            onDone(await post(`/tickets/${ticket.id}/held/${message.id}`, { action, version: ticket.version }));
            announce(action === 'send' ? 'Your held reply was sent.' : 'Your held reply was dropped.');
        } catch (e) {
            setErr(describe(e, action === 'send' ? 'sending the held reply' : 'dropping the held reply'));
        } finally {
            setBusy(false);
        }
    };
    return (
        <section class="held" aria-labelledby={`held-${message.id}`}>
            <h2 id={`held-${message.id}`}>Your reply by mail was held, not sent</h2>
            <p>{message.held}. Read what is new above, then:</p>
            <div class="composer-bar">
                <button type="button" class="primary" disabled={busy} onClick={() => act('send')}>Send it now</button>
                <button type="button" disabled={busy} onClick={() => act('drop')}>Drop it</button>
            </div>
            {err && <p class="error" role="alert">{err}</p>}
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

function Side({ t }) {
    const [others, setOthers] = useState(null);
    const [org, setOrg] = useState(null);
    const [historyItems, setHistory] = useState(null);
    useEffect(() => {
        if (t.requester_id)
            get(`/tickets?requester_id=${t.requester_id}&limit=11`)
                .then((r) => setOthers(r.items.filter((x) => x.id !== t.id).slice(0, 10)))
                .catch(() => setOthers([]));
        if (t.org_id)
            get(`/orgs/${t.org_id}`).then(setOrg).catch(() => setOrg(null));
        if (has('get', '/tickets/{id}/history'))
            get(`/tickets/${t.id}/history`).then((r) => setHistory(r.items || [])).catch(() => setHistory(null));
    }, [t.id]);
    const r = t.requester;
    return (
        <aside class="side" aria-label="About this ticket">
            <section aria-labelledby="req-h">
                <h2 id="req-h">Requester</h2>
                {r ? <p>{r.name && <>{r.name}<br /></>}<a href={`mailto:${r.email}`}>{r.email}</a></p> : <p class="muted">unknown</p>}
                {org && <p>Organisation: {org.name}</p>}
                {r && <Invite userId={r.id} />}
                <p class="muted">Opened {ago(t.created_at)} <span class="sr-only">({when(t.created_at)})</span></p>
            </section>
            <section aria-labelledby="other-h">
                <h2 id="other-h">Their other tickets</h2>
                {others === null ? <p class="muted">…</p> : others.length === 0 ? <p class="muted">none</p> : (
                    <ul>{others.map((o) => (
                        <li><a href={`/desk/tickets/${o.id}`} onClick={follow}>#{o.id} {o.subject || '(no subject)'}</a> <Badge kind="status" value={o.status} /></li>
                    ))}</ul>
                )}
            </section>
            {t.csat && (
                <section aria-labelledby="csat-h">
                    <h2 id="csat-h">Customer's rating</h2>
                    <p><strong>{t.csat.score} of 5</strong> <span class="muted">({ago(t.csat.updated_at)})</span></p>
                    {t.csat.comment ? <p class="csat-comment">“{t.csat.comment}”</p> : null}
                </section>
            )}
            {t.links && t.links.length > 0 && (
                <section aria-labelledby="links-h">
                    <h2 id="links-h">Linked tickets</h2>
                    <ul>{t.links.map((l) => <li><a href={`/desk/tickets/${l}`} onClick={follow}>#{l}</a></li>)}</ul>
                </section>
            )}
            <section aria-labelledby="hist-h">
                <h2 id="hist-h">History</h2>
                {historyItems === null
                    ? <p class="muted">This server does not list a ticket's changes yet.</p>
                    : <ul class="history">{historyItems.map((h) => (
                        <li><time datetime={h.created_at}>{ago(h.created_at)}</time> {h.summary || h.action}</li>
                    ))}</ul>}
            </section>
        </aside>
    );
}
