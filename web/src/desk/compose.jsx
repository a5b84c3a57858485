// compose.jsx -- writing a reply or an internal note: the text, files
// (uploaded at once, with their progress, sent with the message), canned
// responses and macros with their placeholders filled by the server, and
// the draft, saved to the server as one types and restored on any device.
//
//  - Draft: PUT /tickets/{id}/draft one second after the last keystroke
//    (and when the form closes); the ticket's answer carries it back
//    (t.draft).  Sending removes it on the server, in the same
//    transaction as the message; "Discard" removes it by hand.  Without
//    the route, sessionStorage keeps it for the tab.
//  - Files: each goes to POST /attachments as soon as it is chosen (a
//    progress bar each); a refusal (too large, empty) shows next to the
//    file field with the server's reason; the message names the uploads
//    in attachment_ids.
//  - Canned response: GET /tickets/{id}/canned-responses/{cid} gives the
//    text filled in for this ticket; it goes in at the cursor; unknown
//    placeholders are left visible and listed.
//  - Macro: GET /tickets/{id}/macros/{mid} previews it (its text goes in
//    the field, its changes are listed); sending then applies it (POST
//    /tickets/{id}/macros/{mid} with the text as edited): message and
//    changes in one step, guarded like a reply by the version the text
//    was started on (a 409 shows what changed, nothing is applied).
// While the form is open the ticket shows others who is writing
// ("being edited" lock, renewed every minute).

import { useEffect, useRef, useState } from 'preact/hooks';
import { del, describe, get, post, put } from './api.js';
import { has, useCaps } from './caps.js';
import { STATUSES, cap, size } from './format.js';
import { livePresence } from './live.js';
import { uploadFile } from './upload.js';
import { announce } from './ui.jsx';

const DRAFT_DELAY = 1000;
const MAX_FILES = 20;

export function Composer({ kind, ticket, onClose, onSent, onConflict, insert, onInserted }) {
    const [busy, setBusy] = useState(false);
    const [err, setErr] = useState(null);              // { text, field }
    const [holder, setHolder] = useState(null);        // who else holds the "being edited" lock
    const [files, setFiles] = useState([]);            // { key, name, size, sent, upload?, error? }
    const [fileErr, setFileErr] = useState(null);
    const [saved, setSaved] = useState(null);          // 'saving' | 'saved' | 'failed' | null
    const [macro, setMacro] = useState(null);          // preview of the chosen macro
    const [unknown, setUnknown] = useState([]);        // placeholders left as written
    const area = useRef(null);
    const text = useRef('');                           // the text as last typed (kept past unmounting)
    const status = useRef('');
    const statusSel = useRef(null);
    const timer = useRef(null);
    const filesRef = useRef(files);
    filesRef.current = files;
    const typed = useRef(0);                           // when "typing" was last said
    // the version this text was started on: messages that arrive while it
    // is written (even shown live) answer the send with 409 and are shown
    // before anything goes; after that the text counts as written on them
    const base = useRef(ticket.version);
    useCaps();                                         // render again once they are known
    const serverDrafts = has('put', '/tickets/{id}/draft');
    const localKey = `atum-desk-draft-${ticket.id}-${kind}`;
    const id = `compose-${kind}`;

    const uploadIds = () => filesRef.current.filter((f) => f.upload).map((f) => f.upload.id);

    const saveDraft = () => {
        clearTimeout(timer.current);
        timer.current = null;
        const body = text.current;
        if (!serverDrafts) {
            sessionStorage.setItem(localKey, body);
            return Promise.resolve();
        }
        setSaved('saving');
        return put(`/tickets/${ticket.id}/draft`, { kind, body, status: status.current || null, attachment_ids: uploadIds() },
                   { quiet: true })
            .then(() => setSaved('saved'))
            .catch(() => setSaved('failed'));
    };
    // closing keeps what was typed: saved first, then closed
    const close = async () => {
        if (timer.current)
            await saveDraft();
        onClose(false);
    };
    // others see "typing" on the ticket, said at most every 3 s
    const sayTyping = () => {
        const now = Date.now();
        if (now - typed.current > 3000) {
            typed.current = now;
            livePresence(ticket.id, 'typing');
        }
    };
    const changed = () => {
        sayTyping();
        if (area.current)
            text.current = area.current.value;
        if (statusSel.current)
            status.current = statusSel.current.value;
        clearTimeout(timer.current);
        timer.current = setTimeout(saveDraft, DRAFT_DELAY);
    };

    useEffect(() => {
        const d = ticket.draft && ticket.draft.kind === kind ? ticket.draft : null;
        if (area.current) {
            area.current.value = d ? d.body : serverDrafts ? '' : sessionStorage.getItem(localKey) || '';
            area.current.focus();
            area.current.setSelectionRange(area.current.value.length, area.current.value.length);
        }
        if (d && d.status && statusSel.current)
            statusSel.current.value = d.status;
        text.current = area.current ? area.current.value : '';
        status.current = statusSel.current ? statusSel.current.value : '';
        if (d && d.attachments && d.attachments.length) {
            setFiles(d.attachments.map((a) => ({ key: `u${a.id}`, name: a.filename, size: a.size, sent: a.size, upload: a })));
        }
        if (d)
            announce('Your draft is back.');
        // while writing, the ticket shows others as "being edited" by me
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
            if (timer.current) {
                clearTimeout(timer.current);
                saveDraft();           // what was typed last is kept
            }
            if (held)
                del(`/tickets/${ticket.id}/lock`, { quiet: true }).catch(() => {});
            if (typed.current)
                livePresence(ticket.id, 'viewing');
        };
    }, []);

    // text handed in from elsewhere (a plugin's draft reply, a KB link)
    useEffect(() => {
        if (insert && area.current) {
            insertAtCursor(area.current, insert);
            changed();
            if (onInserted)
                onInserted();
        }
    }, [insert]);

    const addFiles = (list) => {
        setFileErr(null);
        const chosen = [...list];
        if (filesRef.current.length + chosen.length > MAX_FILES) {
            setFileErr(`At most ${MAX_FILES} files a message.`);
            return;
        }
        for (const file of chosen) {
            const key = `f${Math.random().toString(36).slice(2)}`;
            const entry = { key, name: file.name, size: file.size, sent: 0 };
            setFiles((fs) => [...fs, entry]);
            const update = (patch) => setFiles((fs) => fs.map((f) => (f.key === key ? { ...f, ...patch } : f)));
            const job = uploadFile(file, (sent) => update({ sent }));
            update({ job });
            job.then((u) => {
                update({ upload: u, sent: file.size, job: null });
                announce(`${u.filename} attached.`);
                changed();
            }).catch((e) => {
                if (e.name === 'AbortError')
                    return;
                const text = `${file.name}: ${describe(e, 'uploading the file')}`;
                update({ error: text, job: null });
                setFileErr(text);
            });
        }
    };
    const removeFile = (f) => {
        if (f.job)
            f.job.abort();
        setFiles((fs) => fs.filter((x) => x.key !== f.key));
        filesRef.current = filesRef.current.filter((x) => x.key !== f.key);
        if (f.upload)
            del(`/attachments/${f.upload.id}`, { quiet: true }).catch(() => {});
        changed();
    };

    const insertCanned = async (cid) => {
        try {
            const r = await get(`/tickets/${ticket.id}/canned-responses/${cid}`);
            insertAtCursor(area.current, r.body);
            setUnknown(r.unknown_placeholders || []);
            announce(`Canned response “${r.title}” inserted.`);
            changed();
        } catch (e) {
            setErr({ text: describe(e, 'filling in the canned response'), field: 'canned' });
        }
    };
    const chooseMacro = async (mid) => {
        if (!mid) {
            setMacro(null);
            return;
        }
        try {
            const r = await get(`/tickets/${ticket.id}/macros/${mid}`);
            setMacro(r);
            if (r.body)
                area.current.value = r.body;
            setUnknown(r.unknown_placeholders || []);
            announce(`Macro “${r.title}”: ${describeActions(r.actions) || 'text only'}. Send applies it.`);
            changed();
        } catch (e) {
            setErr({ text: describe(e, 'reading the macro'), field: 'macro' });
        }
    };

    const send = async (ev) => {
        if (ev)
            ev.preventDefault();
        const body = area.current.value;
        if (!body.trim() && !(macro && Object.keys(macro.actions || {}).length)) {
            setErr({ text: 'Write something first.', field: 'body' });
            area.current.focus();
            return;
        }
        if (files.some((f) => f.job)) {
            setErr({ text: 'Wait until the files are uploaded.', field: 'files' });
            return;
        }
        if (files.some((f) => f.error)) {
            setErr({ text: 'Remove the files that could not be uploaded first.', field: 'files' });
            return;
        }
        clearTimeout(timer.current);
        timer.current = null;
        setBusy(true);
        setErr(null);
        try {
            if (macro) {
                const r = await post(`/tickets/${ticket.id}/macros/${macro.id}`, { body },
                                     base.current ? { ifMatch: `"v${base.current}"` } : undefined);
                if (serverDrafts)
                    await del(`/tickets/${ticket.id}/draft`, { quiet: true }).catch(() => {});
                announce(`Macro “${macro.title}” applied.${r.unknown_placeholders && r.unknown_placeholders.length
                    ? ` Left as written: ${r.unknown_placeholders.join(', ')}.` : ''}`);
            } else {
                const status = kind === 'reply' && statusSel.current ? statusSel.current.value : '';
                const payload = { body };
                if (status)
                    payload.status = status;
                const ids = uploadIds();
                if (ids.length)
                    payload.attachment_ids = ids;
                await post(`/tickets/${ticket.id}/${kind === 'reply' ? 'replies' : 'notes'}`, payload,
                           base.current ? { ifMatch: `"v${base.current}"` } : undefined);
                announce(kind === 'reply' ? 'Reply sent.' : 'Note added.');
            }
            sessionStorage.removeItem(localKey);
            onSent(await get(`/tickets/${ticket.id}`));
        } catch (e) {
            const field = e.field === 'attachment_ids' ? 'files' : e.field === 'body' ? 'body' : null;
            setErr({ text: describe(e, kind === 'reply' ? 'sending the reply' : 'adding the note'), field });
            if (e.status === 409) {
                if (e.problem && typeof e.problem.version === 'number')
                    base.current = e.problem.version;
                if (onConflict)
                    onConflict(e.problem);
            }
            area.current.focus();
        } finally {
            setBusy(false);
        }
    };
    const discard = async () => {
        clearTimeout(timer.current);
        timer.current = null;
        for (const f of files)
            if (f.job)
                f.job.abort();
        if (serverDrafts)
            await del(`/tickets/${ticket.id}/draft`, { quiet: true }).catch(() => {});
        sessionStorage.removeItem(localKey);
        for (const f of files)
            if (f.upload)
                del(`/attachments/${f.upload.id}`, { quiet: true }).catch(() => {});
        announce('Draft discarded.');
        onClose(true);
    };
    const onKeyDown = (e) => {
        if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) {
            e.preventDefault();
            send();
        } else if (e.key === 'Escape') {
            e.preventDefault();
            e.stopPropagation();
            close();
        }
    };

    const bodyErr = err && (err.field === 'body' || !err.field);
    return (
        <form class={`composer composer-${kind}`} onSubmit={send} aria-labelledby={`${id}-label`} onKeyDown={onKeyDown}>
            <label id={`${id}-label`} for={id}>
                {kind === 'reply' ? `Reply to ${ticket.requester ? ticket.requester.email : 'the customer'}` : 'Internal note (only staff see it)'}
            </label>
            <Pickers ticket={ticket} kind={kind} onCanned={insertCanned} onMacro={chooseMacro} macro={macro}
                     err={err && (err.field === 'canned' || err.field === 'macro') ? err.text : null} />
            <textarea id={id} ref={area} rows="7" aria-invalid={bodyErr ? 'true' : undefined}
                      aria-describedby={`${bodyErr ? `${id}-err ` : ''}${id}-state`} onInput={changed} />
            {bodyErr && <p class="error" role="alert" id={`${id}-err`}>{err.text}</p>}
            {unknown.length > 0 && (
                <p class="notice" role="status">Left as written — this server does not know
                    {' '}{unknown.map((u, i) => <>{i ? ', ' : ''}<code>{u}</code></>)}. Change or remove before sending.</p>
            )}
            {macro && (
                <p class="notice macro-note" role="status">
                    Macro <strong>{macro.title}</strong>: sends this text as {macro.visibility === 'internal' ? 'an internal note' : 'a reply'}
                    {describeActions(macro.actions) ? `, then ${describeActions(macro.actions)}` : ''}.
                    {' '}<button type="button" class="link" onClick={() => setMacro(null)}>Do not apply the macro</button>
                </p>
            )}
            {!macro && (
                <div class="files-field">
                    <label for={`${id}-files`}>Attach files</label>
                    <input id={`${id}-files`} type="file" multiple aria-describedby={fileErr ? `${id}-files-err` : undefined}
                           aria-invalid={fileErr ? 'true' : undefined}
                           onChange={(e) => { addFiles(e.currentTarget.files); e.currentTarget.value = ''; }} />
                    {(fileErr || (err && err.field === 'files')) && (
                        <p class="field-error" role="alert" id={`${id}-files-err`}>{err && err.field === 'files' ? err.text : fileErr}</p>
                    )}
                    {files.length > 0 && (
                        <ul class="uploads" aria-label="Files to send">
                            {files.map((f) => (
                                <li class={f.error ? 'bad' : ''}>
                                    <span class="name">{f.upload ? f.upload.filename : f.name}</span>{' '}
                                    <span class="muted">({size(f.size || 0)})</span>{' '}
                                    {f.job && <progress max={f.size || 1} value={f.sent} aria-label={`Uploading ${f.name}`} />}
                                    {f.upload && !f.job && <span class="muted">uploaded</span>}
                                    {f.error && <span class="muted">not uploaded</span>}{' '}
                                    <button type="button" class="link" onClick={() => removeFile(f)}
                                            aria-label={`Remove ${f.name}`}>Remove</button>
                                </li>
                            ))}
                        </ul>
                    )}
                </div>
            )}
            {holder && <p class="notice" role="status">{holder.name || holder.email} is writing on this ticket too.</p>}
            <div class="composer-bar">
                {kind === 'reply' && !macro && (
                    <>
                        <label for={`${id}-after`}>Then set the status to</label>
                        <select id={`${id}-after`} name="after" ref={statusSel} onChange={changed}>
                            <option value="">(as it is)</option>
                            {STATUSES.map((s) => <option value={s}>{cap(s)}</option>)}
                        </select>
                    </>
                )}
                <button type="submit" class="primary" disabled={busy} aria-keyshortcuts="Control+Enter">
                    {busy ? 'Sending…' : macro ? 'Apply the macro' : kind === 'reply' ? 'Send reply' : 'Add note'}
                </button>
                <button type="button" class="link" onClick={close}>Close (keep the draft)</button>
                <button type="button" class="link" onClick={discard}>Discard</button>
                <span class="muted draft-state" id={`${id}-state`} role="status">
                    {saved === 'saving' ? 'Saving the draft…' : saved === 'saved' ? 'Draft saved' : saved === 'failed' ? 'The draft could not be saved' : ''}
                </span>
            </div>
        </form>
    );
}

// The canned responses and macros that fit the ticket's queue.
function Pickers({ ticket, kind, onCanned, onMacro, macro, err }) {
    const [canned, setCanned] = useState(null);
    const [macros, setMacros] = useState(null);
    const cannedSel = useRef(null);
    const caps = useCaps();
    useEffect(() => {
        if (!caps)
            return;
        if (has('get', '/tickets/{id}/canned-responses/{canned_id}'))
            get('/canned-responses?limit=500', { quiet: true })
                .then((r) => setCanned((r.items || []).filter((c) => c.queue_id == null || c.queue_id === ticket.queue_id)))
                .catch(() => setCanned([]));
        if (has('get', '/macros'))
            get(`/macros?queue_id=${ticket.queue_id}`, { quiet: true }).then((r) => setMacros(r.items || [])).catch(() => setMacros([]));
    }, [caps]);
    const id = `compose-${kind}`;
    if (!(canned && canned.length) && !(macros && macros.length))
        return null;
    return (
        <div class="pickers">
            {canned && canned.length > 0 && (
                <span class="picker">
                    <label for={`${id}-canned`}>Canned response</label>
                    <select id={`${id}-canned`} ref={cannedSel}>
                        {canned.map((c) => <option value={c.id}>{c.title}</option>)}
                    </select>
                    <button type="button" onClick={() => onCanned(cannedSel.current.value)}>Insert</button>
                </span>
            )}
            {macros && macros.length > 0 && (
                <span class="picker">
                    <label for={`${id}-macro`}>Macro</label>
                    <select id={`${id}-macro`} value={macro ? String(macro.id) : ''} onChange={(e) => onMacro(e.currentTarget.value)}>
                        <option value="">(none)</option>
                        {macros.map((m) => <option value={m.id}>{m.title}</option>)}
                    </select>
                </span>
            )}
            {err && <p class="field-error" role="alert">{err}</p>}
        </div>
    );
}

// "sets the status to pending, the priority to high, assigns it to you"
export function describeActions(a) {
    if (!a)
        return '';
    const parts = [];
    if (a.status)
        parts.push(`sets the status to ${a.status}`);
    if (a.priority)
        parts.push(`the priority to ${a.priority}`);
    if ('category' in a)
        parts.push(a.category ? `the category to ${a.category}` : 'clears the category');
    if ('assignee_id' in a)
        parts.push(a.assignee_id === 'me' ? 'assigns it to you' : a.assignee_id ? `assigns it to user #${a.assignee_id}` : 'unassigns it');
    if (a.queue_id)
        parts.push(`moves it to queue #${a.queue_id}`);
    return parts.join(', ');
}

function insertAtCursor(el, text) {
    const start = el.selectionStart ?? el.value.length;
    const end = el.selectionEnd ?? el.value.length;
    el.value = el.value.slice(0, start) + text + el.value.slice(end);
    const at = start + text.length;
    el.focus();
    el.setSelectionRange(at, at);
}
