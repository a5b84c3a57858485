// templates.jsx -- the mail templates (acknowledgement, notifications,
// replies, account links, ...): each for every queue or one queue's own
// (GET /templates), edited as a subject line and a Markdown body
// (GET/PUT/DELETE /templates/{name}?queue_id=), with a live preview
// rendered by the server's own renderer with a sample ticket while you
// type (POST /templates/preview).  The preview's problems (an unknown
// variable, a broken tag) sit next to the part they are in.  Managers
// read and preview; admins save and remove overrides.
import { useEffect, useRef, useState } from 'preact/hooks';
import { del, describe, get, post, request } from '../desk/api.js';
import { announce } from '../desk/ui.jsx';
import { FormMessage, Input, ListState, TextArea, useForm, useLoad, when } from './ui.jsx';

const PREVIEW_DELAY_MS = 350;

function scopeQuery(queueId) {
    return queueId ? `?queue_id=${queueId}` : '';
}

export function Templates({ me }) {
    const admin = me.role === 'admin';
    const list = useLoad('/templates');
    const queues = useLoad('/queues?limit=500');
    const [name, setName] = useState(null);
    const [queueId, setQueueId] = useState('');
    const items = (list.data && list.data.items) || [];

    const open = (n, q = '') => {
        setName(n);
        setQueueId(q);
    };

    return (
        <section aria-labelledby="templates-heading">
            <h1 id="templates-heading">Templates</h1>
            <div class="split templates">
                <div class="list-pane">
                    <ListState load={list} what="templates" empty={items.length ? null : 'No templates.'} />
                    {items.length ? (
                        <table class="rows" id="templates-list">
                            <caption class="sr-only">Mail templates</caption>
                            <thead><tr><th scope="col">Template</th><th scope="col">Changed for</th></tr></thead>
                            <tbody>
                                {items.map((t) => (
                                    <tr key={t.name} class={name === t.name ? 'chosen' : ''}>
                                        <td><button type="button" class="link" onClick={() => open(t.name)} aria-label={`Edit template ${t.name}`}>{t.name}</button></td>
                                        <td>
                                            {[t.global ? 'every queue' : null, ...(t.queues || []).map((q) => q.queue_name)].filter(Boolean).join(', ') || <span class="muted">built-in</span>}
                                        </td>
                                    </tr>
                                ))}
                            </tbody>
                        </table>
                    ) : null}
                </div>
                <div class="form-pane">
                    {name ? (
                        <Editor key={`${name}/${queueId}`} name={name} queueId={queueId} admin={admin}
                                queues={(queues.data && queues.data.items) || []}
                                onScope={(q) => setQueueId(q)} onSaved={list.reload}
                                variables={(items.find((t) => t.name === name) || {}).variables || []} />
                    ) : <p class="hint">Choose a template to edit it and see its preview.</p>}
                </div>
            </div>
        </section>
    );
}

function Editor({ name, queueId, admin, queues, onScope, onSaved, variables }) {
    const path = `/templates/${encodeURIComponent(name)}${scopeQuery(queueId)}`;
    const current = useLoad(path);
    const form = useForm('template', { subject: '', body: '' });
    const [loaded, setLoaded] = useState(false);
    const [preview, setPreview] = useState(null);      // { ok, subject, text, html, errors }
    const [previewError, setPreviewError] = useState(null);
    const seq = useRef(0);
    const t = current.data;

    useEffect(() => {
        if (t && !loaded) {
            form.reset({ subject: t.subject || '', body: t.body || '' });
            setLoaded(true);
        }
    }, [t]);

    // the preview follows the text, a moment after the typing stops
    useEffect(() => {
        if (!loaded)
            return undefined;
        const mine = ++seq.current;
        const timer = setTimeout(async () => {
            try {
                const r = await post('/templates/preview', { name, queue_id: queueId ? Number(queueId) : null,
                                                              subject: form.values.subject, body: form.values.body });
                if (mine === seq.current) {
                    setPreview(r);
                    setPreviewError(null);
                }
            } catch (e) {
                if (mine === seq.current)
                    setPreviewError(describe(e, 'previewing'));
            }
        }, PREVIEW_DELAY_MS);
        return () => clearTimeout(timer);
    }, [loaded, form.values.subject, form.values.body]);

    const problems = {};
    for (const p of (preview && preview.errors) || [])
        (problems[p.field] = problems[p.field] || []).push(`${p.line ? `Line ${p.line}: ` : ''}${p.message}`);
    const shownErrors = { ...form.errors };
    for (const f of ['subject', 'body'])
        if (!shownErrors[f] && problems[f])
            shownErrors[f] = problems[f].join(' ');
    const view = { ...form, errors: shownErrors };

    const save = async (ev) => {
        ev.preventDefault();
        const r = await form.submit('saving the template', (v) => request('PUT', path, { subject: v.subject, body: v.body }));
        if (r.ok) {
            form.say(`Saved ${name} for ${queueId ? queueName(queues, queueId) : 'every queue'}.`);
            announce('Saved.');
            current.reload();
            onSaved();
        }
    };
    const reset = async () => {
        if (!window.confirm(`Remove this version of ${name}? The ${queueId ? "every-queue or built-in" : 'built-in'} one applies again.`))
            return;
        const r = await form.submit('removing the template', () => del(path));
        if (r.ok) {
            const fresh = await get(path).catch(() => null);
            if (fresh)
                form.reset({ subject: fresh.subject || '', body: fresh.body || '' });
            form.say('Removed: the template in effect is shown.');
            current.reload();
            onSaved();
        }
    };

    return (
        <div class="editor">
            <form onSubmit={save} aria-labelledby="template-form-heading" novalidate>
                <h2 id="template-form-heading">{name}</h2>
                <div class="field">
                    <label for="template-scope">For</label>
                    <select id="template-scope" value={queueId} onChange={(e) => onScope(e.currentTarget.value)}>
                        <option value="">Every queue</option>
                        {queues.map((q) => <option key={q.id} value={String(q.id)}>Queue {q.name} only</option>)}
                    </select>
                </div>
                {current.error ? <p class="error" role="alert">{current.error}</p> : null}
                {t ? (
                    <p class="hint" id="template-origin">
                        {t.origin === 'default' ? 'The built-in template is in effect.'
                            : t.origin === 'global' ? `In effect: the version for every queue${t.updated_at ? `, changed ${when(t.updated_at)}` : ''}.`
                                : `In effect: this queue's own version${t.updated_at ? `, changed ${when(t.updated_at)}` : ''}.`}
                    </p>
                ) : null}
                <FormMessage form={form} />
                <fieldset disabled={!admin || !loaded} class="plain">
                    <Input form={view} name="subject" label="Subject" />
                    <TextArea form={view} name="body" label="Body (Markdown)" rows={14}
                              hint={variables.length ? `Variables: ${variables.map((v) => `{{${v}}}`).join(' ')}` : null} />
                </fieldset>
                {admin ? (
                    <div class="buttons">
                        <button type="submit" class="primary" disabled={form.busy || !loaded}>Save</button>
                        {t && t.override ? <button type="button" class="danger" onClick={reset} disabled={form.busy}>Remove this version</button> : null}
                    </div>
                ) : null}
            </form>
            <section class="below" aria-labelledby="preview-heading" aria-live="polite">
                <h2 id="preview-heading">Preview</h2>
                {previewError ? <p class="error">{previewError}</p> : null}
                {!preview ? <p class="loading">Rendering…</p> : preview.ok ? (
                    <div class="preview" id="template-preview">
                        <p><strong>Subject:</strong> <span id="template-preview-subject">{preview.subject}</span></p>
                        <pre id="template-preview-text">{preview.text}</pre>
                    </div>
                ) : (
                    <p class="error" id="template-preview-problem">The template cannot be rendered: see the marked field.</p>
                )}
                <p class="hint">With a sample ticket (#1042) and customer; links point at this server.</p>
            </section>
        </div>
    );
}

function queueName(queues, id) {
    const q = queues.find((x) => String(x.id) === String(id));
    return q ? `queue ${q.name}` : `queue ${id}`;
}
