// stale.js -- the stale-send guard's 409 in words.
//
// A write that carried the version the agent saw (If-Match, or a bulk
// request's "versions") and found the ticket moved on is refused; the
// answer says what changed since: `changes` (one entry per version:
// kind message/update/merge/rewrite/held, the fields with from and to)
// and the newer `messages` (web/api_tickets.h, ticket_stale_json).  The
// desk shows that before the agent tries again, never a bare "conflict".

const FIELD = {
    status: 'status', priority: 'priority', category: 'category', subject: 'subject',
};

function value(v) {
    return v === null || v === undefined || v === '' ? 'none' : String(v);
}

// One change as a phrase: "a customer message from pat@example.org",
// "status new → pending".
function phrases(c, messages) {
    switch (c.kind) {
    case 'message': {
        const m = messages.find((x) => x.id === c.message_id);
        if (!m)
            return ['a new message'];
        const who = m.from_addr ? ` from ${m.from_addr}` : '';
        if (m.visibility === 'internal')
            return [`an internal note${who}`];
        return [m.direction === 'in' ? `a customer message${who}` : `a reply${who}`];
    }
    case 'held':
        return ['a reply by mail, held'];
    case 'merge':
        return [c.changes && c.changes.into_id ? `a merge into #${c.changes.into_id}` : 'a merge'];
    case 'rewrite':
        return ['a message read again'];
    case 'update': {
        const out = [];
        for (const [k, ch] of Object.entries(c.changes || {})) {
            if (FIELD[k])
                out.push(`${FIELD[k]} ${value(ch && ch.from)} → ${value(ch && ch.to)}`);
            else if (k === 'assignee_id')
                out.push(ch && ch.to ? `assigned to user #${ch.to}` : 'unassigned');
            else if (k === 'queue_id')
                out.push(`moved to queue #${value(ch && ch.to)}`);
            else
                out.push(`${k} changed`);
        }
        return out.length ? out : ['a change'];
    }
    default:
        return ['a change'];
    }
}

// What changed on one ticket since the agent saw it, as a list of phrases
// (the same phrase twice is said once, with a count).
export function staleChanges(part) {
    if (!part || !Array.isArray(part.changes))
        return [];
    const messages = Array.isArray(part.messages) ? part.messages : [];
    const seen = new Map();
    for (const c of part.changes)
        for (const p of phrases(c, messages))
            seen.set(p, (seen.get(p) || 0) + 1);
    return [...seen].map(([p, n]) => (n > 1 ? `${p} (${n} times)` : p));
}

// A 409 problem (or a bulk result with status 409) of the guard?
export function isStale(p) {
    return !!(p && (p.field === 'version' || p.field === 'into_version') && Array.isArray(p.changes));
}

// "Ticket #12 changed since you saw it: a customer message from
// pat@example.org; status open → pending. Nothing was changed."
export function staleText(p, done = 'Nothing was changed') {
    const one = (part) => {
        const what = staleChanges(part);
        const id = part.ticket_id ? `Ticket #${part.ticket_id}` : 'The ticket';
        return `${id} changed since you saw it${what.length ? `: ${what.join('; ')}` : ''}.`;
    };
    let s = one(p);
    if (p.into)
        s += ` ${one(p.into)}`;
    return `${s} ${done}; look at it again, then retry.`;
}
