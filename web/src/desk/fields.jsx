// fields.jsx -- the rest of what an agent may change on a ticket, behind
// "More…" in the ticket's bar: the category, the assignee (anyone on the
// staff, not only oneself), merging into another ticket (shown first --
// number, subject, status -- so the merge carries the version the agent
// saw of both tickets) and linking to one.  Each is one small form that names its own error next to its
// field (the API's problem, in words); the ticket's rules stay the
// server's (an assignee outside the queue, a merge into itself or into a
// closed ticket are refused there, and said here).

import { useEffect, useRef, useState } from 'preact/hooks';
import { describe, get, post } from './api.js';
import { userName } from './format.js';
import { announce } from './ui.jsx';

// Staff who can hold a ticket, read once per page (agents may list users).
let staffOnce = null;
function staff() {
    if (!staffOnce)
        staffOnce = Promise.all(['agent', 'manager', 'admin'].map((role) =>
            get(`/users?role=${role}&limit=200`, { quiet: true }).then((r) => r.items || [])))
            .then((lists) => lists.flat().filter((u) => !u.disabled)
                .sort((a, b) => userName(a).localeCompare(userName(b))))
            .catch((e) => { staffOnce = null; throw e; });
    return staffOnce;
}

// The version on screen, for the stale-send guard.
const ifMatch = (t) => (t.version ? { ifMatch: `"v${t.version}"` } : undefined);

// A ticket number as typed ("#42", "42") or null.
function number(v) {
    const m = /^\s*#?\s*(\d{1,18})\s*$/.exec(v || '');
    return m ? Number(m[1]) : null;
}

export function MoreFields({ t, me, onChange, onReload }) {
    const [people, setPeople] = useState(null);   // null loading, [] none, or users
    const [errs, setErrs] = useState({});          // field -> sentence
    const [busy, setBusy] = useState(null);
    const [target, setTarget] = useState(null);   // the merge target, shown before merging
    // the agent's pick survives re-renders (a refresh of the ticket) until
    // the ticket's assignee itself changes
    const held = t.assignee_id == null ? '' : String(t.assignee_id);
    const [pick, setPick] = useState(held);
    useEffect(() => setPick(held), [held]);
    const first = useRef(null);
    useEffect(() => {
        if (first.current)
            first.current.focus();
        staff().then(setPeople).catch((e) => setErrs((x) => ({ ...x, assignee: describe(e, 'listing the staff') })));
    }, []);

    const run = async (field, what, fn) => {
        setErrs((x) => ({ ...x, [field]: null }));
        setBusy(field);
        try {
            await fn();
            announce(`${what}: done.`);
        } catch (e) {
            setErrs((x) => ({ ...x, [field]: describe(e, what.toLowerCase()) }));
            // the ticket moved on: show it as it is now (the sentence says what changed)
            if (e.status === 409 && field !== 'category' && field !== 'assignee')
                await onReload();
        } finally {
            setBusy(null);
        }
    };
    // onChange (ticket.jsx) shows a failure in the bar; here it belongs
    // next to the field, so the PATCH goes through run() and its answer
    // is handed back as the new ticket
    const setField = (field, body, what) => run(field, what, () => onChange(body, what, true));
    const err = (f) => errs[f] ? <p class="field-error" id={`more-${f}-err`} role="alert">{errs[f]}</p> : null;
    const invalid = (f) => (errs[f] ? { 'aria-invalid': 'true', 'aria-describedby': `more-${f}-err` } : {});

    return (
        <section class="more-fields" aria-labelledby="more-h">
            <h2 id="more-h" class="sr-only">More changes</h2>
            <form onSubmit={(e) => {
                e.preventDefault();
                const v = e.currentTarget.category.value.trim();
                setField('category', { category: v || null }, v ? `Category ${v}` : 'Clearing the category');
            }}>
                <label for="more-category">Category</label>
                <input id="more-category" name="category" ref={first} maxlength="100"
                       defaultValue={t.category || ''} {...invalid('category')} />
                <button type="submit" disabled={busy === 'category'}>Set</button>
                {err('category')}
            </form>
            <form onSubmit={(e) => {
                e.preventDefault();
                const v = pick;
                const id = v === '' ? null : Number(v);
                const who = id === null ? 'nobody' : id === me.id ? 'you'
                          : userName((people || []).find((u) => u.id === id) || { email: `#${id}` });
                setField('assignee', { assignee_id: id }, `Assigning to ${who}`);
            }}>
                <label for="more-assignee">Assign to</label>
                <select id="more-assignee" name="assignee" disabled={!people} {...invalid('assignee')}
                        value={pick} onChange={(e) => setPick(e.currentTarget.value)}>
                    <option value="">nobody</option>
                    {t.assignee_id != null && people && !people.some((u) => u.id === t.assignee_id) && (
                        <option value={String(t.assignee_id)}>{(t.assignee && userName(t.assignee)) || `#${t.assignee_id}`}</option>
                    )}
                    {(people || []).map((u) => (
                        <option value={String(u.id)}>{u.id === me.id ? `${userName(u)} (you)` : userName(u)}</option>
                    ))}
                </select>
                <button type="submit" disabled={!people || busy === 'assignee'}>Assign</button>
                {err('assignee')}
            </form>
            <form onSubmit={(e) => {
                e.preventDefault();
                const into = number(e.currentTarget.into.value);
                if (into === null)
                    return setErrs((x) => ({ ...x, merge: 'Give the number of the ticket to merge into.' }));
                if (into === t.id)
                    return setErrs((x) => ({ ...x, merge: 'A ticket cannot be merged into itself.' }));
                // the target is shown first: the merge then carries the
                // version the agent saw of it too (into_version)
                setTarget(null);
                run('merge', `Reading ticket #${into}`, async () => {
                    const r = await get(`/tickets/${into}`);
                    setTarget({ id: r.id, subject: r.subject, status: r.status, version: r.version });
                });
            }}>
                <label for="more-into">Merge into ticket</label>
                <input id="more-into" name="into" inputmode="numeric" size="8" placeholder="#" {...invalid('merge')}
                       onInput={() => setTarget(null)} />
                <button type="submit" disabled={busy === 'merge' || !!t.merged_into}>Merge</button>
                <span class="muted" id="more-into-hint">Its messages move there; this ticket closes.</span>
                {err('merge')}
                {target && (
                    <p class="merge-confirm" role="status">
                        Merge #{t.id} into <strong>#{target.id} {target.subject || '(no subject)'}</strong> ({target.status})?{' '}
                        <button type="button" class="primary" disabled={busy === 'merge'} onClick={() => {
                            // asked once: after a refusal the target is read and shown again
                            const into = target;
                            setTarget(null);
                            run('merge', `Merging into #${into.id}`, async () => {
                                await post(`/tickets/${t.id}/merge`, { into_id: into.id, into_version: into.version }, ifMatch(t));
                                await onReload();
                            });
                        }}>Merge into #{target.id}</button>{' '}
                        <button type="button" class="link" onClick={() => setTarget(null)}>Cancel</button>
                    </p>
                )}
            </form>
            <form onSubmit={(e) => {
                e.preventDefault();
                const f = e.currentTarget;
                const other = number(f.other.value);
                if (other === null)
                    return setErrs((x) => ({ ...x, link: 'Give the number of the ticket to link.' }));
                if (other === t.id)
                    return setErrs((x) => ({ ...x, link: 'A ticket cannot be linked to itself.' }));
                run('link', `Linking #${other}`, async () => {
                    await post(`/tickets/${t.id}/links`, { ticket_id: other }, ifMatch(t));
                    f.other.value = '';
                    await onReload();
                });
            }}>
                <label for="more-link">Link to ticket</label>
                <input id="more-link" name="other" inputmode="numeric" size="8" placeholder="#" {...invalid('link')} />
                <button type="submit" disabled={busy === 'link'}>Link</button>
                {err('link')}
            </form>
        </section>
    );
}
