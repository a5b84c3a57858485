// ticket.jsx -- one ticket: its thread, the reply and note forms
// (compose.jsx: files, canned responses, macros, server drafts), status,
// priority, queue and "assign to me" (category, any assignee, merge and
// link under "More…": fields.jsx), and beside it the requester with
// their other tickets and organisation, linked tickets, the plugins'
// panels and the history of changes (side.jsx), and who else is editing
// it.  A draft left on the server (from this or another device) is
// announced and comes back with r or n.
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
import { describe, get, patch, post } from './api.js';
import { Composer } from './compose.jsx';
import { MoreFields } from './fields.jsx';
import { livePresence } from './live.js';
import { PRIORITIES, STATUSES, ago, cap } from './format.js';
import { typing, useKeys } from './keys.js';
import { MenuButton } from './menu.jsx';
import { follow, lastInboxUrl, navigate } from './router.js';
import { Side } from './side.jsx';
import { Thread } from './thread.jsx';
import { Badge, announce } from './ui.jsx';

export function Ticket({ id, me, queues, tick, recentEvents, onChanged }) {
    const [t, setT] = useState(null);
    const [error, setError] = useState(null);     // { status, text }
    const [actionError, setActionError] = useState(null);
    const [menu, setMenu] = useState(null);
    const [more, setMore] = useState(false);       // the "More…" changes shown
    const [rev, setRev] = useState(0);             // bumped by changes that leave updated_at
    const [compose, setCompose] = useState(null);  // 'reply' | 'note' | null
    const [newer, setNewer] = useState(0);         // messages that arrived during a 409
    const [insert, setInsert] = useState(null);    // text handed to the composer (plugins)
    const [crossed, setCrossed] = useState(null);  // the newer messages a 409 named
    const [viewers, setViewers] = useState([]);
    const h1 = useRef(null);

    const load = (quiet) => get(`/tickets/${id}`)
        .then((r) => {
            setT((old) => {
                if (older(r, old))
                    return old;
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
    // (each event since the last look: several can come in one render,
    // and one about this ticket must not hide behind a later one)
    const seenTick = useRef(tick);
    const seenEvent = useRef(recentEvents.current.n);
    useEffect(() => {
        if (tick === seenTick.current)
            return;
        seenTick.current = tick;
        const { n, log } = recentEvents.current;
        const fresh = log.filter((e) => e.n > seenEvent.current).map((e) => e.ev);
        // more than the log keeps went by: read the ticket again
        const missed = log.length > 0 && log[0].n > seenEvent.current + 1;
        seenEvent.current = n;
        let reread = missed || fresh.length === 0;     // a reconnect or the timer, not an event
        for (const ev of fresh) {
            if (ev.event === 'ticket.presence') {
                if (ev.data && ev.data.ticket_id === id)
                    setViewers(ev.data.viewers || []);
            } else if (ev.event === 'reset' || (ev.data && (ev.data.ticket_id === id || ev.data.into_id === id))) {
                reread = true;
            }
        }
        if (reread)
            load(true);
    }, [tick]);

    // rethrow: the caller shows the failure next to its own field
    // instead of in the bar
    const change = async (body, what, rethrow) => {
        setActionError(null);
        try {
            const r = await patch(`/tickets/${id}`, body, t && t.version ? { ifMatch: `"v${t.version}"` } : undefined);
            setT((old) => (older(r, old) ? old : r));
            if (!rethrow)
                announce(`${what}: done.`);
            if (onChanged)
                onChanged();
        } catch (e) {
            if (e.status === 409)
                load(true);
            if (rethrow)
                throw e;
            setActionError(describe(e, what.toLowerCase()));
        }
    };
    // after a merge or a link (which need not touch the ticket's
    // updated_at): the ticket and what is beside it, again
    const reload = async () => {
        await load(true);
        setRev((x) => x + 1);
        if (onChanged)
            onChanged();
    };

    useKeys({
        r: () => t && setCompose('reply'),
        n: () => t && setCompose('note'),
        a: () => t && t.assignee_id !== me.id && change({ assignee_id: me.id }, 'Assigning to you'),
        s: () => t && setMenu('status'),
        p: () => t && setMenu('priority'),
        m: () => t && queues.length > 1 && setMenu('queue'),
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

    const queue = queues.find((q) => q.id === t.queue_id) || t.queue;
    const lock = t.lock && t.lock.user_id !== me.id ? t.lock : null;
    const assignee = t.assignee_id == null ? 'nobody' : t.assignee_id === me.id ? 'you'
                   : (t.assignee && t.assignee.name) || `#${t.assignee_id}`;
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
            {t.draft && !compose && (
                <p class="notice draft-notice" role="status">You have an unsent {t.draft.kind === 'note' ? 'note' : 'reply'} on this
                    ticket, saved {ago(t.draft.updated_at)}.{' '}
                    <button type="button" class="link" onClick={() => setCompose(t.draft.kind)}
                            aria-keyshortcuts={t.draft.kind === 'note' ? 'n' : 'r'}>Continue writing</button></p>
            )}
            <div class="ticket-bar" role="toolbar" aria-label="Ticket actions">
                <Badge kind="status" value={t.status} />
                <Badge kind="priority" value={t.priority} />
                <span class="muted">{queue ? queue.name : ''}</span>
                <span>Assignee: {assignee}</span>
                {t.category && <span>Category: {t.category}</span>}
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
                {queues.length > 1 && (
                    <MenuButton id="t-queue" label="Move to a queue" text="Move" value={t.queue_id}
                                open={menu === 'queue'} setOpen={(o) => setMenu(o ? 'queue' : null)}
                                options={queues.map((q) => ({ value: q.id, label: q.name }))}
                                onChoose={(v) => change({ queue_id: v }, 'Moving the ticket')} />
                )}
                <button type="button" aria-expanded={more ? 'true' : 'false'} aria-controls={more ? 'more-fields' : undefined}
                        onClick={() => setMore(!more)}>More…</button>
            </div>
            {actionError && <p class="error" role="alert">{actionError}</p>}
            {more && <div id="more-fields"><MoreFields t={t} me={me} onChange={change} onReload={reload} /></div>}
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
                        <Composer key={compose} kind={compose} ticket={t}
                                  insert={insert} onInserted={() => setInsert(null)}
                                  onClose={(discarded) => {
                                      setCompose(null);
                                      // the draft notice follows what the server keeps
                                      load(true);
                                      if (discarded && onChanged)
                                          onChanged();
                                  }}
                                  onSent={(r) => {
                                      setT(r);
                                      setNewer(0);
                                      setCrossed(null);
                                      setCompose(null);
                                      if (onChanged)
                                          onChanged();
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
                <Side t={t} tick={tick} rev={rev} onChange={change} onReload={reload}
                      onInsert={(text) => { setInsert(text); if (!compose) setCompose('reply'); }} />
            </div>
        </article>
    );
}

const back = lastInboxUrl;

// An answer about the ticket that is older than the one shown: a read a
// live event started can come back after the agent's own later change,
// and must not undo it on screen (nor send the next change with a version
// the server has left behind, which would answer 409).
function older(r, shown) {
    return !!(r && shown && typeof r.version === 'number' && typeof shown.version === 'number'
              && r.version < shown.version);
}

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
