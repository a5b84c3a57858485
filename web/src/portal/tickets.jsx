// tickets.jsx -- my tickets, one ticket with its public thread, the reply
// form, close/reopen, the rating, and the new-ticket form with knowledge-
// base suggestions.  What the API sends a customer is all there is: it
// never includes internal notes (the server filters them), and the page
// renders text only (no mail HTML).
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { get, post, patch, describe } from '../desk/api.js';
import { when, ago, size, cap } from '../desk/format.js';
import { follow, navigate } from './router.js';
import { watch } from './live.js';
import { Field, described, problemOf, FormMessage } from './form.jsx';
import { attachments } from './files.js';
import { Rating } from './rate.jsx';
import { useKb } from './kb.jsx';

const STATUS_WORDS = {
    new: 'Received', open: 'In progress', pending: 'Waiting for you', solved: 'Solved', closed: 'Closed',
};

function Status({ value }) {
    return <span class={`status status-${value}`}>{STATUS_WORDS[value] || cap(value)}</span>;
}

export function TicketList({ me }) {
    const [items, setItems] = useState(null);
    const [next, setNext] = useState(null);
    const [error, setError] = useState(null);
    const load = useCallback(async () => {
        try {
            const r = await get('/tickets?limit=50');
            setItems(r.items);
            setNext(r.next_cursor || null);
            setError(null);
        } catch (e) {
            setError(describe(e, 'loading your requests'));
        }
    }, []);
    useEffect(() => {
        load();
        return watch(() => load());
    }, [load]);
    const more = async () => {
        try {
            const r = await get(`/tickets?limit=50&cursor=${encodeURIComponent(next)}`);
            setItems([...items, ...r.items]);
            setNext(r.next_cursor || null);
        } catch (e) {
            setError(describe(e, 'loading more'));
        }
    };
    return (
        <section aria-labelledby="list-h">
            <div class="row">
                <h1 id="list-h">Your requests</h1>
                <a class="button" href="/portal/new" onClick={follow}>New request</a>
            </div>
            {error ? <p class="error" role="alert">{error}</p> : null}
            {items === null ? <p class="boot">Loading…</p> : items.length === 0 ? (
                <p class="card">You have no requests yet. <a href="/portal/new" onClick={follow}>Write to us</a>, or simply mail us.</p>
            ) : (
                <ul class="tickets">
                    {items.map((t) => (
                        <li key={t.id} class="ticket-item">
                            <a href={`/portal/tickets/${t.id}`} onClick={follow}>
                                <span class="subject">{t.subject || '(no subject)'}</span>
                                <span class="meta">
                                    <span>#{t.id}</span>
                                    <Status value={t.status} />
                                    <span title={when(t.updated_at)}>updated {ago(t.updated_at)}</span>
                                    {t.requester_id !== me.id ? <span class="tag">a colleague's</span> : null}
                                </span>
                            </a>
                        </li>
                    ))}
                </ul>
            )}
            {next ? <button type="button" onClick={more}>Show more</button> : null}
        </section>
    );
}

function Attachments({ list }) {
    const files = (list || []).filter((a) => !a.inline);
    if (!files.length)
        return null;
    return (
        <ul class="files" aria-label="Attachments">
            {files.map((a) => (
                <li key={a.id}><a href={`/api/v1/attachments/${a.id}`} download={a.filename}>{a.filename || 'attachment'}</a> <span class="hint">{size(a.size)}</span></li>
            ))}
        </ul>
    );
}

function Message({ m, me }) {
    const mine = m.author_id === me.id;
    const ours = m.direction === 'out';
    return (
        <article class={`msg ${ours ? 'msg-staff' : 'msg-customer'}`} aria-label={`${ours ? 'Our answer' : mine ? 'You wrote' : 'Message'}, ${when(m.created_at)}`}>
            <header>
                <strong>{ours ? 'Support' : mine ? 'You' : m.from_addr}</strong>
                <time dateTime={m.created_at}>{when(m.created_at)}</time>
            </header>
            <div class="body">{m.body_text}</div>
            <Attachments list={m.attachments} />
        </article>
    );
}

function FilePicker({ id, inputRef, error }) {
    return (
        <Field id={id} label="Attach files (optional)" error={error} hint="Up to 10 files, 10 MB each.">
            <input id={id} type="file" multiple ref={inputRef} {...described(id, error, true)} />
        </Field>
    );
}

function Reply({ ticket, onSent }) {
    const key = `atum-portal-draft-${ticket.id}`;
    const [body, setBody] = useState(() => sessionStorage.getItem(key) || '');
    const [busy, setBusy] = useState(false);
    const [msg, setMsg] = useState({});
    const files = useRef(null);
    const submit = async (e) => {
        e.preventDefault();
        setMsg({});
        if (!body.trim()) {
            setMsg({ body: 'Write something first.' });
            return;
        }
        const att = await attachments(files.current && files.current.files);
        if (att.error) {
            setMsg({ attachments: att.error });
            return;
        }
        setBusy(true);
        try {
            await post(`/portal/tickets/${ticket.id}/replies`, { body, attachments: att.items });
            sessionStorage.removeItem(key);
            setBody('');
            if (files.current)
                files.current.value = '';
            setMsg({ ok: 'Sent. We will answer here and by mail.' });
            onSent();
        } catch (err) {
            setMsg(problemOf(err, ['body', 'attachments'], 'sending'));
        } finally {
            setBusy(false);
        }
    };
    return (
        <form class="card reply" onSubmit={submit} noValidate aria-labelledby="reply-h">
            <h2 id="reply-h">Add a message</h2>
            <Field id="reply-body" label="Your message" error={msg.body}>
                <textarea id="reply-body" rows={6} value={body} {...described('reply-body', msg.body)}
                          onInput={(e) => { setBody(e.currentTarget.value); sessionStorage.setItem(key, e.currentTarget.value); }} />
            </Field>
            <FilePicker id="reply-files" inputRef={files} error={msg.attachments} />
            <button type="submit" disabled={busy}>Send</button>
            <FormMessage text={msg.form} />
            <FormMessage text={msg.ok} ok />
        </form>
    );
}

function Actions({ ticket, onChanged }) {
    const [msg, setMsg] = useState(null);
    const set = async (status) => {
        setMsg(null);
        try {
            await patch(`/tickets/${ticket.id}`, { status });
            onChanged();
        } catch (err) {
            setMsg(describe(err, 'changing the status'));
        }
    };
    const s = ticket.status;
    if (s === 'closed')
        return <p class="hint">This request is closed. To continue, <a href="/portal/new" onClick={follow}>open a new one</a>.</p>;
    return (
        <div class="actions">
            {s === 'solved'
                ? <button type="button" onClick={() => set('open')}>Reopen — it is not solved</button>
                : <button type="button" onClick={() => set('solved')}>Mark as solved</button>}
            <button type="button" class="secondary" onClick={() => set('closed')}>Close</button>
            {msg ? <p class="error" role="alert">{msg}</p> : null}
        </div>
    );
}

export function TicketView({ me, id }) {
    const [t, setT] = useState(null);
    const [error, setError] = useState(null);
    const load = useCallback(async () => {
        try {
            setT(await get(`/tickets/${id}`));
            setError(null);
        } catch (e) {
            setError(e.status === 404 ? 'There is no such request, or it is not yours to see.' : describe(e, 'loading the request'));
        }
    }, [id]);
    useEffect(() => {
        setT(null);
        load();
        return watch((ev) => {
            if (!ev || !ev.data || ev.data.ticket_id === id)
                load();
        });
    }, [id, load]);
    if (error)
        return (
            <section class="card">
                <h1>Not available</h1>
                <p class="error" role="alert">{error}</p>
                <p><a href="/portal" onClick={follow}>Back to your requests</a></p>
            </section>
        );
    if (!t)
        return <p class="boot">Loading…</p>;
    const own = t.requester_id === me.id;
    const done = t.status === 'solved' || t.status === 'closed';
    return (
        <section aria-labelledby="t-h">
            <p><a href="/portal" onClick={follow}>← Your requests</a></p>
            <h1 id="t-h">{t.subject || '(no subject)'}</h1>
            <p class="meta"><span>#{t.id}</span> <Status value={t.status} /> <span>opened {when(t.created_at)}</span></p>
            {!own ? <p class="notice">This is a colleague's request ({t.requester && t.requester.email}): you can read it, not change it.</p> : null}
            {own && done && !t.merged_into ? <Rating ticketId={t.id} current={t.csat} onRated={load} /> : null}
            <div class="thread">
                {t.messages.map((m) => <Message key={m.id} m={m} me={me} />)}
            </div>
            {own && !t.merged_into ? <Actions ticket={t} onChanged={load} /> : null}
            {own && t.status !== 'closed' && !t.merged_into ? <Reply ticket={t} onSent={load} /> : null}
        </section>
    );
}

// Knowledge-base suggestions while the customer types (the rag plugin's
// GET /plugins/rag/suggest?q=), debounced; the slot stays empty without it.
function useSuggestions(text) {
    const [items, setItems] = useState([]);
    const [available, setAvailable] = useState(null);
    useEffect(() => {
        if (available === false)
            return undefined;
        const q = text.trim();
        if (q.length < 4) {
            setItems([]);
            return undefined;
        }
        const ctl = new AbortController();
        const timer = setTimeout(async () => {
            try {
                const r = await get(`/plugins/rag/suggest?q=${encodeURIComponent(q.slice(0, 300))}&audience=public`, { quiet: true, signal: ctl.signal });
                setAvailable(true);
                setItems(((r && r.items) || []).slice(0, 3));
            } catch (e) {
                if (e && e.status === 404)
                    setAvailable(false);   // no such route: no plugin
                setItems([]);
            }
        }, 400);
        return () => {
            clearTimeout(timer);
            ctl.abort();
        };
    }, [text, available]);
    return items;
}

export function NewTicket() {
    const [subject, setSubject] = useState(() => sessionStorage.getItem('atum-portal-new-subject') || '');
    const [body, setBody] = useState(() => sessionStorage.getItem('atum-portal-new-body') || '');
    const [queues, setQueues] = useState([]);
    const [queue, setQueue] = useState('');
    const [busy, setBusy] = useState(false);
    const [msg, setMsg] = useState({});
    const files = useRef(null);
    const suggestions = useSuggestions(subject + ' ' + body);
    const kb = useKb();
    useEffect(() => {
        get('/portal/queues').then((r) => setQueues(r.items || [])).catch(() => setQueues([]));
    }, []);
    const keep = (k, v) => sessionStorage.setItem(k, v);
    const submit = async (e) => {
        e.preventDefault();
        const m = {};
        if (!subject.trim())
            m.subject = 'Give your request a subject.';
        if (!body.trim())
            m.body = 'Describe what you need.';
        if (m.subject || m.body) {
            setMsg(m);
            return;
        }
        const att = await attachments(files.current && files.current.files);
        if (att.error) {
            setMsg({ attachments: att.error });
            return;
        }
        setBusy(true);
        setMsg({});
        const req = { subject: subject.trim(), body, attachments: att.items };
        if (queue)
            req.queue_id = Number(queue);
        try {
            const r = await post('/portal/tickets', req);
            sessionStorage.removeItem('atum-portal-new-subject');
            sessionStorage.removeItem('atum-portal-new-body');
            navigate(`/portal/tickets/${r.id}`);
        } catch (err) {
            setMsg(problemOf(err, ['subject', 'body', 'queue_id', 'attachments'], 'sending your request'));
        } finally {
            setBusy(false);
        }
    };
    return (
        <section aria-labelledby="new-h">
            <h1 id="new-h">New request</h1>
            <form class="card" onSubmit={submit} noValidate>
                {queues.length > 1 ? (
                    <Field id="new-queue" label="What is it about?" error={msg.queue_id}>
                        <select id="new-queue" value={queue} onChange={(e) => setQueue(e.currentTarget.value)} {...described('new-queue', msg.queue_id)}>
                            <option value="">Choose (optional)</option>
                            {queues.map((q) => <option key={q.id} value={String(q.id)}>{q.name}</option>)}
                        </select>
                    </Field>
                ) : null}
                <Field id="new-subject" label="Subject" error={msg.subject}>
                    <input id="new-subject" value={subject} maxLength={500} {...described('new-subject', msg.subject)}
                           onInput={(e) => { setSubject(e.currentTarget.value); keep('atum-portal-new-subject', e.currentTarget.value); if (msg.subject) setMsg({ ...msg, subject: null }); }} />
                </Field>
                <div class="suggest" aria-live="polite">
                    {suggestions.length ? (
                        <>
                            <h2>These articles may answer it</h2>
                            <ul>
                                {suggestions.map((s) => (
                                    <li key={s.id || s.slug}><a href={`/portal/kb/${encodeURIComponent(s.slug)}`} onClick={follow}>{s.title}</a></li>
                                ))}
                            </ul>
                        </>
                    ) : null}
                    {kb && kb.on ? (
                        <p class="hint"><a href={`/portal/kb${subject.trim() ? `?q=${encodeURIComponent(subject.trim().slice(0, 300))}` : ''}`}
                                           onClick={follow}>Search the knowledge base</a> — the answer may already be there.</p>
                    ) : null}
                </div>
                <Field id="new-body" label="Your message" error={msg.body}>
                    <textarea id="new-body" rows={8} value={body} {...described('new-body', msg.body)}
                              onInput={(e) => { setBody(e.currentTarget.value); keep('atum-portal-new-body', e.currentTarget.value); if (msg.body) setMsg({ ...msg, body: null }); }} />
                </Field>
                <FilePicker id="new-files" inputRef={files} error={msg.attachments} />
                <button type="submit" disabled={busy}>Send</button>
                <FormMessage text={msg.form} />
            </form>
        </section>
    );
}
