// inbox.jsx -- the ticket list of one view: GET /tickets with the view's
// filters, the search, the order chosen and the API's cursors (50 a page;
// a cursor follows its order and keeps every page as fast as the first,
// however deep).  Each row names the requester and the assignee.
// Keyboard: j/k move, Enter opens, x selects (X: the whole page), a/s/p/m/n
// act on the selected tickets or the current one; [ and ] page.  Bulk
// actions go through POST /tickets/bulk (bulk.jsx), what failed listed by
// ticket.
//
// What a view showed last (its page, its rows, the current row) is kept in
// memory, so going back from a ticket shows it at once, on the same row,
// while it is fetched again.

import { useEffect, useLayoutEffect, useRef, useState } from 'preact/hooks';
import { describe, get, settled } from './api.js';
import { firstViewShown } from './boot.js';
import { BulkForm, bulkApply, versionsOf } from './bulk.jsx';
import { PRIORITIES, STATUSES, ago, cap, when } from './format.js';
import { useKeys } from './keys.js';
import { MenuButton } from './menu.jsx';
import { follow, inboxUrl, navigate } from './router.js';
import { Badge, announce } from './ui.jsx';
import { has, listParam } from './caps.js';
import { deleteView, listQuery, saveView, savedWhere } from './views.js';

// Orders the list can have when the API takes sort= (else: the API's own,
// most recently updated first).
const SORTS = [
    ['', 'Recently updated first'], ['updated_at', 'Least recently updated first'],
    ['-created_at', 'Newest first'], ['created_at', 'Oldest first'], ['-priority', 'Most urgent first'],
    ['priority', 'Least urgent first'], ['-id', 'Highest number first'], ['id', 'Lowest number first'],
];

const PAGE = 50;
const memory = new Map();

// Mounted anew for each view and search (app.jsx keys it), so all state
// here belongs to one view.
export function Inbox({ me, view, q, sort, queues, tick, onSaved, onChanged }) {
    const key = `${view.key}|${q}|${sort}`;
    const kept = memory.get(key);
    // the first page desk.jsx asked for early, when it is here: shown in
    // this very render (and not asked for again)
    const [early] = useState(() => {
        if (kept)
            return null;
        const r = settled(`/tickets?${listQuery(view.filter, q, sort, PAGE, null)}`);
        return r && r.value && Array.isArray(r.value.items) ? r.value : null;
    });
    const [cursors, setCursors] = useState(kept ? kept.cursors : [null]);
    const [page, setPage] = useState(kept ? kept.page : 0);
    const [data, setData] = useState(kept ? kept.data : early);   // { items, next_cursor }
    const [focusId, setFocusId] = useState(kept ? kept.focusId
                                                : early && early.items.length ? early.items[0].id : null);
    const [selected, setSelected] = useState(() => new Set());
    const [loading, setLoading] = useState(false);
    const [error, setError] = useState(null);
    const [bulk, setBulk] = useState(null);        // { done, total, failed: [] }
    const [menu, setMenu] = useState(null);        // 'status' | 'priority' | 'queue' | null
    const [form, setForm] = useState(null);        // 'note' | 'merge' | null
    const [saving, setSaving] = useState(false);
    const [saveError, setSaveError] = useState(null);
    const table = useRef(null);
    const shownRef = useRef([]);
    const wantFocus = useRef(true);
    // the focused row now, for answers that come back later (a live
    // event's refresh can answer after the agent moved on)
    const focusRef = useRef(focusId);
    focusRef.current = focusId;

    const fresh = useRef(early !== null);     // data is the early answer: no request now
    useEffect(() => {
        if (fresh.current) {
            fresh.current = false;
            return undefined;
        }
        const ctl = new AbortController();
        setLoading(true);
        const qs = listQuery(view.filter, q, sort, PAGE, cursors[page]);
        get(`/tickets?${qs}`, { signal: ctl.signal })
            .then((r) => {
                setData(r);
                setError(null);
                setLoading(false);
                // a row that left the view hands the focus to the one
                // now in its place
                const focused = focusRef.current;
                if (!r.items.some((t) => t.id === focused)) {
                    const was = shownRef.current.findIndex((t) => t.id === focused);
                    const at = Math.max(0, Math.min(was, r.items.length - 1));
                    setFocusId(r.items.length ? r.items[at].id : null);
                }
            })
            .catch((e) => {
                if (e.name === 'AbortError')
                    return;
                setLoading(false);
                setError(describe(e, 'loading the tickets'));
            });
        return () => ctl.abort();
    }, [key, page, cursors, tick]);

    // in the commit itself: an Enter right after j must find the moved
    // focus remembered when the list comes back
    useLayoutEffect(() => {
        memory.delete(key);
        memory.set(key, { cursors, page, data, focusId });
        if (memory.size > 30)
            memory.delete(memory.keys().next().value);   // the longest unseen
    }, [key, cursors, page, data, focusId]);

    // the current row's link has the focus after paging or coming back,
    // and again when a refresh took the focused row away (before the
    // frame is painted: keys work from the first frame that shows the rows)
    useLayoutEffect(() => {
        if (!data || !table.current)
            return;
        const ae = document.activeElement;
        const lost = !ae || ae === document.body || ae.id === 'main';
        if (!wantFocus.current && !lost)
            return;
        // never taken from a field or a button elsewhere
        if (!lost && !table.current.contains(ae)) {
            wantFocus.current = false;
            return;
        }
        const a = table.current.querySelector(`a[data-id="${focusId}"]`);
        if (a) {
            a.focus();
            wantFocus.current = false;
        }
    }, [data, focusId]);

    // the first page (or why there is none) is on screen: what waits for
    // the first view may start (boot.js)
    useEffect(() => {
        if (data || error)
            firstViewShown();
    }, [data, error]);

    const items = data ? data.items : [];
    shownRef.current = items;
    const idx = items.findIndex((t) => t.id === focusId);
    const current = idx >= 0 ? items[idx] : null;

    const focusRow = (i) => {
        const t = items[i];
        if (!t)
            return;
        setFocusId(t.id);
        const a = table.current && table.current.querySelector(`a[data-id="${t.id}"]`);
        if (a)
            a.focus();
    };
    const goPage = (p, atEnd) => {
        if (p < 0 || p > cursors.length - 1 + (data && data.next_cursor ? 1 : 0))
            return false;
        if (p === cursors.length)
            setCursors([...cursors, data.next_cursor]);
        setPage(p);
        setFocusId(null);
        wantFocus.current = true;
        if (atEnd === 'last')
            pendingLast.current = true;
        announce(`Page ${p + 1}`);
        return true;
    };
    const pendingLast = useRef(false);
    useEffect(() => {
        if (pendingLast.current && data && data.items.length) {
            pendingLast.current = false;
            setFocusId(data.items[data.items.length - 1].id);
        }
    }, [data]);

    // j/k move from the row that has the focus on screen (the state can
    // lag a refresh that just replaced the rows), else from focusId
    const at = () => {
        const ae = document.activeElement;
        if (ae && ae.dataset && ae.dataset.id && table.current && table.current.contains(ae)) {
            const i = items.findIndex((t) => String(t.id) === ae.dataset.id);
            if (i >= 0)
                return i;
        }
        return idx;
    };
    const next = () => {
        const i = at();
        if (i < items.length - 1)
            focusRow(i + 1);
        else if (data && data.next_cursor)
            goPage(page + 1);
    };
    const prev = () => {
        const i = at();
        if (i > 0)
            focusRow(i - 1);
        else if (page > 0)
            goPage(page - 1, 'last');
    };
    const toggle = (id) => {
        const s = new Set(selected);
        if (s.has(id))
            s.delete(id);
        else
            s.add(id);
        setSelected(s);
        announce(`${s.size} selected`);
    };
    const targets = () => (selected.size ? items.filter((t) => selected.has(t.id)).map((t) => t.id)
                                         : current ? [current.id] : []);

    // one action on the targets: { changes }, { note } or { merge_into }
    const run = async (payload, what) => {
        const ids = targets();
        if (!ids.length)
            return;
        setForm(null);
        setBulk({ done: 0, total: ids.length, failed: [], what });
        let results;
        try {
            // each ticket's version as listed, and the merge target's if listed too
            const target = payload.merge_into && items.find((t) => t.id === payload.merge_into);
            if (target && typeof target.version === 'number')
                payload = { ...payload, into_version: target.version };
            results = await bulkApply(ids, payload, what, (done, out) => setBulk({
                done, total: ids.length, failed: out.filter((x) => !x.ok), what }), versionsOf(items, ids));
        } catch (e) {
            setBulk({ done: 0, total: ids.length, failed: [{ id: null, text: describe(e, what.toLowerCase()) }], what });
            return;
        }
        const failed = results.filter((x) => !x.ok);
        setBulk({ done: ids.length, total: ids.length, failed, what });
        const skipped = failed.filter((x) => x.stale).length;
        announce(`${what}: ${ids.length - failed.length} of ${ids.length} done${failed.length ? `, ${failed.length} not` : ''}${
            skipped ? ` (${skipped} changed since you saw them)` : ''}.`);
        if (!failed.length)
            setTimeout(() => setBulk((b) => (b && b.done === b.total && !b.failed.length ? null : b)), 2500);
        setSelected(new Set());
        wantFocus.current = true;
        setCursors([...cursors]);          // fetch the page again
        if (onChanged)
            onChanged();
    };
    const apply = (changes, what) => run({ changes }, what);
    const selectPage = () => {
        const all = items.length > 0 && items.every((t) => selected.has(t.id));
        setSelected(all ? new Set() : new Set(items.map((t) => t.id)));
        announce(all ? 'Selection cleared' : `${items.length} selected`);
    };

    useKeys({
        j: next,
        k: prev,
        ArrowDown: () => (document.activeElement && document.activeElement.dataset.id ? next() : false),
        ArrowUp: () => (document.activeElement && document.activeElement.dataset.id ? prev() : false),
        o: () => current && navigate(`/desk/tickets/${current.id}`),
        Enter: () => {
            if (current && !(document.activeElement && document.activeElement.tagName === 'A'))
                navigate(`/desk/tickets/${current.id}`);
            else
                return false;
        },
        x: () => current && toggle(current.id),
        X: selectPage,
        a: () => apply({ assignee_id: me.id }, 'Assigning to you'),
        s: () => targets().length && setMenu('status'),
        p: () => targets().length && setMenu('priority'),
        m: () => targets().length && queues.length > 0 && setMenu('queue'),
        n: () => targets().length && has('post', '/tickets/bulk') && setForm('note'),
        ']': () => goPage(page + 1),
        '[': () => goPage(page - 1),
        Escape: () => (selected.size ? setSelected(new Set()) : false),
    });

    const queueName = (id) => {
        const qq = queues.find((x) => x.id === id);
        return qq ? qq.name : `#${id}`;
    };
    const title = q ? `Search “${q}” in ${view.label}` : view.label;
    const n = targets().length;

    return (
        <section class="inbox" aria-labelledby="inbox-title">
            <div class="inbox-head">
                <h1 id="inbox-title">{title}</h1>
                <div class="inbox-tools">
                    {listParam('sort') && (
                        <span class="sort">
                            <label for="sort">Order</label>{' '}
                            <select id="sort" value={sort} onChange={(e) => navigate(inboxUrl(view.key, q, e.currentTarget.value))}>
                                {SORTS.map(([v, l]) => <option value={v}>{l}</option>)}
                            </select>
                        </span>
                    )}
                    {view.saved
                        ? <button type="button" class="link" onClick={() => deleteView(me, view.id).then(onSaved).then(() => navigate('/desk'))}>Delete this saved view</button>
                        : <button type="button" class="link" onClick={() => setSaving(true)}>Save as view…</button>}
                </div>
            </div>
            {saving && (
                <form class="save-view" onSubmit={(ev) => {
                    ev.preventDefault();
                    const name = ev.currentTarget.vname.value.trim();
                    if (!name)
                        return;
                    saveView(me, name, { ...view.filter, ...(q ? { q } : {}), ...(sort ? { sort } : {}) })
                        .then(onSaved).then(() => { setSaving(false); setSaveError(null); announce(`View “${name}” saved.`); })
                        .catch((e) => setSaveError(describe(e, 'saving the view')));
                }}>
                    <label for="vname">Name of the view</label>
                    <input id="vname" name="vname" required maxlength="100" ref={(el) => el && el.focus()}
                           aria-invalid={saveError ? 'true' : undefined} aria-describedby={saveError ? 'vname-err' : undefined} />
                    <button type="submit">Save</button>
                    <button type="button" class="link" onClick={() => setSaving(false)}>Cancel</button>
                    <p class="hint">Saved {savedWhere() === 'server' ? 'on the server' : 'in this browser'}.</p>
                    {saveError && <p class="field-error" id="vname-err" role="alert">{saveError}</p>}
                </form>
            )}
            <div class="bulk" role="region" aria-label="Actions">
                <span>{selected.size ? `${selected.size} selected` : current ? `Ticket #${current.id}` : 'No ticket'}</span>
                <button type="button" disabled={!n} onClick={() => apply({ assignee_id: me.id }, 'Assigning to you')}
                        aria-keyshortcuts="a">Assign to me</button>
                <MenuButton id="bulk-status" label="Set the status" text="Status" disabled={!n}
                            open={menu === 'status'} setOpen={(o) => setMenu(o ? 'status' : null)}
                            options={STATUSES.map((s) => ({ value: s, label: cap(s) }))}
                            onChoose={(v) => apply({ status: v }, `Setting the status to ${v}`)} />
                <MenuButton id="bulk-priority" label="Set the priority" text="Priority" disabled={!n}
                            open={menu === 'priority'} setOpen={(o) => setMenu(o ? 'priority' : null)}
                            options={PRIORITIES.map((s) => ({ value: s, label: cap(s) }))}
                            onChoose={(v) => apply({ priority: v }, `Setting the priority to ${v}`)} />
                {queues.length > 0 && (
                    <MenuButton id="bulk-queue" label="Move to a queue" text="Move" disabled={!n}
                                open={menu === 'queue'} setOpen={(o) => setMenu(o ? 'queue' : null)}
                                options={queues.map((x) => ({ value: x.id, label: x.name }))}
                                onChoose={(v) => apply({ queue_id: v }, `Moving to ${queueName(v)}`)} />
                )}
                {has('post', '/tickets/bulk') && (
                    <>
                        <button type="button" disabled={!n} onClick={() => setForm('note')} aria-keyshortcuts="n">Note…</button>
                        <button type="button" disabled={!n} onClick={() => setForm('merge')}>Merge…</button>
                    </>
                )}
                {selected.size > 0 && <button type="button" class="link" onClick={() => setSelected(new Set())}>Clear selection</button>}
            </div>
            {form && (
                <BulkForm key={form} kind={form} count={n} onCancel={() => setForm(null)}
                          onSubmit={(v) => (form === 'note' ? run({ note: v }, 'Adding the note')
                                                            : run({ merge_into: v }, `Merging into #${v}`))} />
            )}
            {bulk && (
                <div class={bulk.failed.length ? 'error' : 'ok'} role="status">
                    {bulk.what}: {bulk.done} of {bulk.total}
                    {bulk.failed.length > 0 && (
                        <ul>{bulk.failed.map((f) => <li class={f.stale ? 'stale' : undefined}>{f.id ? `#${f.id}: ` : ''}{f.text}</li>)}</ul>
                    )}
                    {bulk.done === bulk.total && <button type="button" class="link" onClick={() => setBulk(null)}>Dismiss</button>}
                </div>
            )}
            {error && (
                <div class="error" role="alert">
                    {error} <button type="button" onClick={() => setCursors([...cursors])}>Try again</button>
                </div>
            )}
            {loading && <p class="loading" role="status">Loading…</p>}
            {data && items.length === 0 && !loading && (
                <p class="empty">{q ? 'No ticket matches this search in this view.' : 'No tickets in this view.'}</p>
            )}
            <table class="tickets" ref={table} aria-busy={loading ? 'true' : 'false'}
                   data-loaded={data ? 'true' : 'false'} aria-labelledby="inbox-title">
                <thead>
                    <tr>
                        <th scope="col"><span class="sr-only">Selected</span></th>
                        <th scope="col">Ticket</th>
                        <th scope="col">Requester</th>
                        <th scope="col">Status</th>
                        <th scope="col">Priority</th>
                        <th scope="col">Queue</th>
                        <th scope="col">Assignee</th>
                        <th scope="col">Updated</th>
                    </tr>
                </thead>
                <tbody>
                    {items.map((t) => (
                        <tr key={t.id} class={(t.id === focusId ? 'current ' : '') + (selected.has(t.id) ? 'selected' : '')}>
                            <td class="sel">
                                <input type="checkbox" id={`sel-${t.id}`} checked={selected.has(t.id)}
                                       tabindex="-1" onChange={() => toggle(t.id)} />
                                <label for={`sel-${t.id}`} class="sr-only">Select ticket {t.id}</label>
                            </td>
                            <td class="subj">
                                <a href={`/desk/tickets/${t.id}`} data-id={t.id} onClick={follow}
                                   onFocus={() => setFocusId(t.id)}>
                                    <span class="tid">#{t.id}</span> {t.subject || '(no subject)'}
                                </a>
                            </td>
                            <td data-label="From" class="who">{t.requester ? (t.requester.name || t.requester.email) : ''}</td>
                            <td><Badge kind="status" value={t.status} /></td>
                            <td><Badge kind="priority" value={t.priority} /></td>
                            <td data-label="Queue">{t.queue_id ? queueName(t.queue_id) : ''}</td>
                            <td data-label="Assignee">{t.assignee_id == null ? <span class="muted">nobody</span>
                                 : t.assignee_id === me.id ? 'you' : (t.assignee && t.assignee.name) || `#${t.assignee_id}`}</td>
                            <td><time datetime={t.updated_at} title={when(t.updated_at)}>{ago(t.updated_at)}</time></td>
                        </tr>
                    ))}
                </tbody>
            </table>
            <nav class="pager" aria-label="Pages">
                <button type="button" disabled={page === 0} onClick={() => goPage(page - 1)} aria-keyshortcuts="[">Newer</button>
                <span>Page {page + 1}</span>
                <button type="button" disabled={!(data && data.next_cursor)} onClick={() => goPage(page + 1)} aria-keyshortcuts="]">Older</button>
            </nav>
        </section>
    );
}
