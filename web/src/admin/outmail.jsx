// outmail.jsx -- outgoing mail: the smarthost test (POST /smarthost/test:
// connect, EHLO, STARTTLS, AUTH, each step passed or failed in words) and
// the outbox (GET /outbox, the failed mail first) with retry
// (POST /outbox/{id}/retry).
import { useState } from 'preact/hooks';
import { get, post } from '../desk/api.js';
import { announce } from '../desk/ui.jsx';
import { CheckResult } from './checks.jsx';
import { ActionMessage, ListState, useAction, useLoad, when } from './ui.jsx';

export function Smarthost() {
    const action = useAction();
    const [result, setResult] = useState(null);
    const run = async () => {
        setResult(null);
        const r = await action.run('test', 'testing the smarthost', () => post('/smarthost/test', {}));
        if (r) {
            setResult(r);
            announce(r.ok ? 'The smarthost works.' : 'The smarthost test failed.');
        }
    };
    return (
        <section aria-labelledby="smarthost-title">
            <h1 id="smarthost-title">Smarthost</h1>
            <p class="hint">atumd sends every mail through the smarthost of its configuration file ([smarthost]). The test
                connects, greets it, starts TLS and signs in as the configuration says, and sends nothing.</p>
            <button type="button" class="primary" onClick={run} disabled={!!action.busy}>{action.busy ? 'Testing…' : 'Test the smarthost'}</button>
            <ActionMessage action={action} id="smarthost-error" />
            <CheckResult id="smarthost-test" result={result} />
        </section>
    );
}

const PAGE = 100;
// the states GET /outbox takes; "problem": whatever did not reach everyone
const STATES = [['problem', 'Failed or stuck'], ['failed', 'Failed'], ['partial', 'Partly sent'], ['expired', 'Expired'],
                ['unconfirmed', 'Sent, not confirmed'], ['queued', 'Waiting'], ['sending', 'Sending'], ['sent', 'Sent'], ['', 'Any']];
const DONE = new Set(['sent', 'queued', 'sending']);

function recipients(m) {
    if (Array.isArray(m.recipients))
        return m.recipients.map((r) => `${r.address}${r.state && r.state !== m.state ? ` (${r.state}${r.reply ? `: ${r.reply}` : ''})` : ''}`).join(', ');
    return '';
}

export function Outbox() {
    const [state, setState] = useState('problem');
    const [pages, setPages] = useState([]);            // older pages, loaded on request
    const list = useLoad(`/outbox?limit=${PAGE}${state ? `&state=${state}` : ''}`);
    const action = useAction();
    const all = [list.data, ...pages].filter(Boolean);
    const items = all.flatMap((p) => p.items || []);
    const next = all.length ? all[all.length - 1].next_before : null;

    const choose = (s) => {
        setPages([]);
        setState(s);
    };
    const loadOlder = () => action.run('older', 'loading older mail', async () => {
        const r = await get(`/outbox?limit=${PAGE}${state ? `&state=${state}` : ''}&before=${next}`);
        setPages([...pages, r]);
        return true;
    });
    const retry = (m) => action.run(`m${m.id}`, `retrying mail ${m.id}`, () => post(`/outbox/${m.id}/retry`),
                                    (r) => `Mail ${m.id} is queued to be sent again${r && r.recipients ? ` to ${r.recipients} recipient${r.recipients === 1 ? '' : 's'}` : ''}.`)
        .then((r) => {
            if (r !== undefined) {
                setPages([]);
                list.reload();
            }
        });

    return (
        <section aria-labelledby="outbox-title">
            <h1 id="outbox-title">Outbox</h1>
            <form class="filters" aria-label="Which mail" onSubmit={(e) => e.preventDefault()}>
                <label for="outbox-state">State</label>
                <select id="outbox-state" value={state} onChange={(e) => choose(e.currentTarget.value)}>
                    {STATES.map(([v, t]) => <option key={v} value={v}>{t}</option>)}
                </select>
            </form>
            <ActionMessage action={action} id="outbox-message" />
            <ListState load={list} what="mail" empty={items.length ? null : state === 'problem' ? 'No failed mail.' : 'No mail.'} />
            {items.length ? (
                <div class="scroll"><table class="rows" id="outbox-list">
                    <caption class="sr-only">Outgoing mail</caption>
                    <thead><tr><th scope="col">#</th><th scope="col">To</th><th scope="col">Subject</th><th scope="col">State</th>
                        <th scope="col">Attempts</th><th scope="col">Last error</th><th scope="col">Queued</th>
                        <th scope="col"><span class="sr-only">Action</span></th></tr></thead>
                    <tbody>
                        {items.map((m) => (
                            <tr key={m.id}>
                                <th scope="row">{m.id}</th>
                                <td class="wrap">{recipients(m)}</td>
                                <td class="wrap">{m.kind ? <span class="hint block">{m.kind}</span> : null}{m.subject || ''}
                                    {m.ticket_id ? <a class="block" href={`/desk/tickets/${m.ticket_id}`}>ticket {m.ticket_id}</a> : null}</td>
                                <td class={DONE.has(m.state) ? (m.state === 'sent' ? 'good' : '') : 'bad'}>{m.state}</td>
                                <td>{m.attempts !== undefined ? m.attempts : ''}</td>
                                <td class="wrap">{m.last_error || ''}</td>
                                <td>{when(m.created_at)}</td>
                                <td>{!DONE.has(m.state) ? (
                                    <button type="button" onClick={() => retry(m)} disabled={!!action.busy} aria-label={`Retry mail ${m.id}`}>Retry</button>
                                ) : null}</td>
                            </tr>
                        ))}
                    </tbody>
                </table></div>
            ) : null}
            {next ? <button type="button" onClick={loadOlder} disabled={!!action.busy}>Older mail</button> : null}
        </section>
    );
}
