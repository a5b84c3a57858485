// bulk.jsx -- one action on the selected tickets: assign to me, status,
// priority, move to a queue, merge into a ticket, an internal note.
//
// With POST /api/v1/tickets/bulk (one request; the server runs each
// ticket through its rules on its own and answers for each) when the
// server has it, else one PATCH a ticket in turn.  What failed is listed
// by ticket, in words, next to the actions.
//
// The stale-send guard: each ticket's version as the list showed it goes
// with it ("versions", or If-Match on the PATCH), and the merge target's
// when the list shows it too; a ticket that changed since is skipped by
// the server and listed here with what changed (stale.js).

import { useRef, useState } from 'preact/hooks';
import { ApiError, describe, patch, post } from './api.js';
import { has } from './caps.js';
import { isStale, staleText } from './stale.js';

// The versions of the chosen rows: { "12": 4, ... } (rows without one are
// left out: they go as they are).
export function versionsOf(rows, ids) {
    const out = {};
    for (const t of rows)
        if (ids.includes(t.id) && typeof t.version === 'number')
            out[String(t.id)] = t.version;
    return out;
}

// -> [{ id, ok, stale, text }]
export async function bulkApply(ids, payload, what, onStep, versions = {}) {
    if (has('post', '/tickets/bulk')) {
        const body = { ids, ...payload };
        if (Object.keys(versions).length)
            body.versions = versions;
        const r = await post('/tickets/bulk', body);
        const out = (r.results || []).map((x) => ({
            id: x.id, ok: x.status === 200, stale: x.status === 409 && isStale(x),
            text: x.status === 200 ? null : x.status === 409 && isStale(x) ? staleText(x, 'Skipped')
                : describe(new ApiError(x.status, { detail: x.detail, field: x.field }), what),
        }));
        if (onStep)
            onStep(out.length, out);
        return out;
    }
    if (!payload.changes)
        throw new ApiError(501, { detail: 'this server cannot do that to many tickets at once' });
    const out = [];
    for (const id of ids) {
        try {
            const v = versions[String(id)];
            await patch(`/tickets/${id}`, payload.changes, v ? { ifMatch: `"v${v}"` } : undefined);
            out.push({ id, ok: true, text: null });
        } catch (e) {
            const stale = e.status === 409 && isStale(e.problem);
            out.push({ id, ok: false, stale, text: stale ? staleText(e.problem, 'Skipped') : describe(e, what) });
        }
        if (onStep)
            onStep(out.length, out);
    }
    return out;
}

// The forms that need more than a choice: a note, the ticket to merge into.
export function BulkForm({ kind, count, onSubmit, onCancel }) {
    const [err, setErr] = useState(null);
    const field = useRef(null);
    const id = `bulk-${kind}`;
    const submit = (ev) => {
        ev.preventDefault();
        const v = field.current.value.trim();
        if (kind === 'note' && !v) {
            setErr('Write the note first.');
            field.current.focus();
            return;
        }
        if (kind === 'merge' && !/^[1-9][0-9]{0,17}$/.test(v.replace(/^#/, ''))) {
            setErr('Give the number of the ticket to merge into, like 42.');
            field.current.focus();
            return;
        }
        setErr(null);
        onSubmit(kind === 'merge' ? Number(v.replace(/^#/, '')) : v);
    };
    const onKeyDown = (e) => {
        if (e.key === 'Escape') {
            e.preventDefault();
            e.stopPropagation();
            onCancel();
        } else if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) {
            submit(e);
        }
    };
    return (
        <form class="bulk-form" onSubmit={submit} onKeyDown={onKeyDown}>
            <label for={id}>{kind === 'note' ? `Internal note on the ${count} selected ticket${count === 1 ? '' : 's'}`
                                             : `Merge the ${count} selected ticket${count === 1 ? '' : 's'} into ticket #`}</label>
            {kind === 'note'
                ? <textarea id={id} ref={(el) => { field.current = el; if (el && !el.dataset.f) { el.dataset.f = '1'; el.focus(); } }}
                            rows="3" aria-invalid={err ? 'true' : undefined} aria-describedby={err ? `${id}-err` : undefined} />
                : <input id={id} ref={(el) => { field.current = el; if (el && !el.dataset.f) { el.dataset.f = '1'; el.focus(); } }}
                         inputmode="numeric" autocomplete="off" size="10"
                         aria-invalid={err ? 'true' : undefined} aria-describedby={err ? `${id}-err` : undefined} />}
            {err && <p class="field-error" id={`${id}-err`} role="alert">{err}</p>}
            <div class="composer-bar">
                <button type="submit" class="primary">{kind === 'note' ? 'Add the note' : 'Merge'}</button>
                <button type="button" class="link" onClick={onCancel}>Cancel</button>
            </div>
        </form>
    );
}
