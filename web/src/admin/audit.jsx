// audit.jsx -- the audit log, newest first, with its filters (an action
// or a family of them, actor, kind of target, target, a time range;
// GET /audit) and "Verify", which checks the
// log's hash chain (GET /audit/verify) and says where it breaks.  A filter
// the API refuses is marked next to its field; the filters stay.
import { useEffect, useState } from 'preact/hooks';
import { describe, get } from '../desk/api.js';
import { announce } from '../desk/ui.jsx';
import { FormMessage, Input, useForm, useLoad, when } from './ui.jsx';

const PAGE = 100;
const NONE = { action: '', actor_id: '', target_type: '', target: '', since: '', until: '' };

// datetime-local (local time, no zone) -> ISO 8601 in UTC; anything else
// goes as typed, for the API to judge
function iso(v) {
    if (!v)
        return '';
    const d = new Date(v);
    return /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}/.test(v) && !Number.isNaN(d.getTime()) ? d.toISOString() : v;
}

export function Audit() {
    const form = useForm('audit', NONE);
    const [rows, setRows] = useState(null);
    const [more, setMore] = useState(false);
    const [verify, setVerify] = useState(null);     // { ok, text }
    const [verifying, setVerifying] = useState(false);
    const users = useLoad('/users?limit=500');
    const people = {};
    for (const u of (users.data && users.data.items) || [])
        people[u.id] = u.email;

    const query = (v, beforeSeq) => {
        const q = new URLSearchParams({ limit: String(PAGE) });
        for (const k of ['action', 'actor_id', 'target_type', 'target'])
            if (v[k].trim())
                q.set(k, v[k].trim());
        if (v.since)
            q.set('since', iso(v.since));
        if (v.until)
            q.set('until', iso(v.until));
        if (beforeSeq)
            q.set('before_seq', String(beforeSeq));
        return `/audit?${q}`;
    };
    const load = async (beforeSeq, values) => {
        const r = await form.submit('reading the audit log', (v) => get(query(values || v, beforeSeq)));
        if (r.ok) {
            const items = r.value.items || [];
            setRows(beforeSeq ? [...(rows || []), ...items] : items);
            // the server says where the next page starts (older servers: a full page)
            const next = 'next_before_seq' in r.value ? r.value.next_before_seq : items.length === PAGE ? items[items.length - 1].seq : null;
            setMore(next || false);
            if (!beforeSeq)
                announce(`${items.length}${items.length === PAGE ? '+' : ''} entries.`);
        }
    };
    useEffect(() => { load(null); }, []);

    const runVerify = async () => {
        setVerifying(true);
        setVerify(null);
        try {
            const r = await get('/audit/verify');
            setVerify(r.ok ? { ok: true, text: `The audit log is intact: ${r.rows} entries, every hash chained to the one before.` }
                           : { ok: false, text: `The audit log is broken at entry ${r.first_bad_seq}${r.reason ? `: ${r.reason}` : ''} (${r.rows} entries checked).` });
        } catch (e) {
            setVerify({ ok: false, text: describe(e, 'verifying the audit log') });
        } finally {
            setVerifying(false);
        }
    };

    const clear = () => {
        form.reset(NONE);
        load(null, NONE);
    };

    return (
        <section aria-labelledby="audit-title">
            <h1 id="audit-title">Audit log</h1>
            <div class="buttons">
                <button type="button" onClick={runVerify} disabled={verifying}>{verifying ? 'Verifying…' : 'Verify the log'}</button>
            </div>
            {verify ? <p id="audit-verify" class={verify.ok ? 'ok' : 'error'} role={verify.ok ? 'status' : 'alert'}>{verify.text}</p> : null}
            <form class="filters grid" role="search" aria-label="Filter the audit log" onSubmit={(e) => { e.preventDefault(); load(null); }} novalidate>
                <Input form={form} name="action" label="Action" placeholder="login.failed or user.*" />
                <Input form={form} name="actor_id" label="Actor (user id)" inputmode="numeric" />
                <Input form={form} name="target_type" label="Kind of target" placeholder="user" />
                <Input form={form} name="target" label="Target" placeholder="ticket:5" />
                <Input form={form} name="since" label="From" type="datetime-local" />
                <Input form={form} name="until" label="Until" type="datetime-local" />
                <div class="buttons">
                    <button type="submit" class="primary" disabled={form.busy}>Filter</button>
                    <button type="button" onClick={clear}>Clear</button>
                </div>
            </form>
            <FormMessage form={form} />
            {rows && !rows.length ? <p class="empty">No entries match.</p> : null}
            {rows && rows.length ? (
                <div class="scroll"><table class="rows" id="audit-list">
                    <caption class="sr-only">Audit entries</caption>
                    <thead><tr><th scope="col">#</th><th scope="col">When</th><th scope="col">Actor</th><th scope="col">Action</th>
                        <th scope="col">Target</th><th scope="col">Detail</th><th scope="col">IP</th></tr></thead>
                    <tbody>
                        {rows.map((a) => (
                            <tr key={a.seq}>
                                <th scope="row">{a.seq}</th>
                                <td>{when(a.at)}</td>
                                <td>{a.actor_id && people[a.actor_id] ? people[a.actor_id] : a.actor || (a.actor_id ? `user:${a.actor_id}` : 'system')}</td>
                                <td><code>{a.action}</code></td>
                                <td>{a.target || ''}</td>
                                <td class="wrap"><code class="detail">{a.detail && Object.keys(a.detail).length ? JSON.stringify(a.detail) : ''}</code></td>
                                <td>{a.ip || ''}</td>
                            </tr>
                        ))}
                    </tbody>
                </table></div>
            ) : null}
            {more ? <button type="button" onClick={() => load(more)} disabled={form.busy}>Older entries</button> : null}
        </section>
    );
}
