// views.js -- the inbox's views: each is a set of GET /tickets filters.
//
// Built in: all tickets, assigned to me, unassigned (when the API has the
// parameter), updated in the last 24 hours, one per queue of mine (every
// queue for managers and admins), one per status and per priority.  Saved
// views are a name plus filters and a search; they live on the server
// when the API has /views, else in this browser's localStorage (per user).

import { del, get, post } from './api.js';
import { has, listParam } from './caps.js';
import { PRIORITIES, STATUSES, cap } from './format.js';

export function builtinViews(me, queues) {
    const v = [{ key: 'all', label: 'All tickets', group: 'Inbox', filter: {} }];
    v.push({ key: 'mine', label: 'Assigned to me', group: 'Inbox', filter: { assignee_id: String(me.id) } });
    if (listParam('unassigned'))
        v.push({ key: 'unassigned', label: 'Unassigned', group: 'Inbox', filter: { unassigned: 'true' } });
    v.push({ key: 'recent', label: 'Updated in 24 hours', group: 'Inbox', filter: { updated_since: 'P1D' } });
    const staff = me.role === 'manager' || me.role === 'admin';
    for (const q of queues)
        if (staff || q.member)
            v.push({ key: `queue-${q.id}`, label: q.name, group: 'Queues', filter: { queue_id: String(q.id) } });
    for (const s of STATUSES)
        v.push({ key: `status-${s}`, label: cap(s), group: 'Status', filter: { status: s } });
    for (const p of PRIORITIES)
        v.push({ key: `priority-${p}`, label: cap(p), group: 'Priority', filter: { priority: p } });
    return v;
}

// The query string of GET /tickets for a view's filters, a search and a
// sort; P1D is "one day before now", fixed when the page is fetched.
export function listQuery(filter, q, sort, limit, cursor) {
    const p = new URLSearchParams();
    for (const [k, v] of Object.entries(filter || {})) {
        if (k === 'updated_since' && v === 'P1D')
            p.set(k, new Date(Date.now() - 86400000).toISOString());
        else if (k !== 'q' && v !== '' && v != null)
            p.set(k, v);
    }
    const text = q || (filter && filter.q) || '';
    if (text)
        p.set('q', text);
    if (sort && listParam('sort'))
        p.set('sort', sort);
    p.set('limit', String(limit));
    if (cursor)
        p.set('cursor', cursor);
    return p.toString();
}

// ---- saved views -----------------------------------------------------------

const localKey = (me) => `atum-desk-views-${me.id}`;

function readLocal(me) {
    try {
        const a = JSON.parse(localStorage.getItem(localKey(me)) || '[]');
        return Array.isArray(a) ? a.filter((x) => x && typeof x.name === 'string' && x.filter) : [];
    } catch {
        return [];
    }
}

export function savedWhere() {
    return has('get', '/views') ? 'server' : 'browser';
}

export async function loadSaved(me) {
    if (has('get', '/views')) {
        const r = await get('/views');
        return (r.items || []).map((x) => ({ id: String(x.id), name: x.name, filter: x.filter || {} }));
    }
    return readLocal(me);
}

export async function saveView(me, name, filter) {
    if (has('post', '/views')) {
        await post('/views', { name, filter });
        return;
    }
    const list = readLocal(me);
    const id = String(Date.now().toString(36));
    list.push({ id, name, filter });
    localStorage.setItem(localKey(me), JSON.stringify(list));
}

export async function deleteView(me, id) {
    if (has('delete', '/views/{id}')) {
        await del(`/views/${encodeURIComponent(id)}`);
        return;
    }
    localStorage.setItem(localKey(me), JSON.stringify(readLocal(me).filter((x) => x.id !== id)));
}

export function savedAsViews(saved) {
    return saved.map((s) => ({ key: `saved-${s.id.replace(/[^a-z0-9-]/gi, '').toLowerCase()}`, id: s.id,
                               label: s.name, group: 'Saved views', filter: s.filter, saved: true }));
}
