// jobs.jsx -- background jobs, the dead ones first: what failed and why,
// retry one (POST /jobs/{id}/retry) or every dead job, of a kind or all
// (POST /jobs/retry-dead); the counts by state beside.
import { useState } from 'preact/hooks';
import { post } from '../desk/api.js';
import { announce } from '../desk/ui.jsx';
import { ActionMessage, ListState, useAction, useLoad, when } from './ui.jsx';

export function Jobs() {
    const [state, setState] = useState('dead');
    const [kind, setKind] = useState('');
    const list = useLoad(`/jobs?state=${state}&limit=200${kind ? `&kind=${encodeURIComponent(kind)}` : ''}`);
    const stats = useLoad('/jobs/stats');
    const action = useAction();
    const items = (list.data && list.data.items) || [];
    const by = (stats.data && stats.data.by_state) || {};
    const kinds = [...new Set(((stats.data && stats.data.by_kind) || []).map((k) => k.kind).filter(Boolean))].sort();

    const done = (r) => {
        if (r !== undefined) {
            list.reload();
            stats.reload();
        }
    };
    const retry = (j) => action.run(`j${j.id}`, `retrying job ${j.id}`, () => post(`/jobs/${j.id}/retry`),
                                    () => `Job ${j.id} (${j.kind}) is queued again.`).then(done);
    const retryAll = () => action.run('all', 'retrying the dead jobs', () => post('/jobs/retry-dead', kind ? { kind } : {}),
                                      (r) => `${r && r.requeued !== undefined ? r.requeued : 'The'} dead job${r && r.requeued === 1 ? ' is' : 's are'} queued again.`)
        .then((r) => { done(r); announce('Retried.'); });

    return (
        <section aria-labelledby="jobs-title">
            <h1 id="jobs-title">Jobs</h1>
            <p class="hint">
                {['available', 'running', 'dead'].map((s) => `${by[s] || 0} ${s}`).join(' · ')}
                {stats.data && stats.data.done_last_hour !== undefined ? ` · ${stats.data.done_last_hour} done in the last hour` : ''}
            </p>
            <form class="filters" aria-label="Which jobs" onSubmit={(e) => e.preventDefault()}>
                <label for="jobs-state">State</label>
                <select id="jobs-state" value={state} onChange={(e) => setState(e.currentTarget.value)}>
                    <option value="dead">Dead</option>
                    <option value="available">Waiting</option>
                    <option value="running">Running</option>
                </select>
                <label for="jobs-kind">Kind</label>
                <select id="jobs-kind" value={kind} onChange={(e) => setKind(e.currentTarget.value)}>
                    <option value="">Any</option>
                    {kinds.map((k) => <option key={k} value={k}>{k}</option>)}
                </select>
                {state === 'dead' ? (
                    <button type="button" onClick={retryAll} disabled={!!action.busy || !items.length}>
                        Retry all dead{kind ? ` ${kind}` : ''} jobs
                    </button>
                ) : null}
            </form>
            <ActionMessage action={action} id="jobs-message" />
            <ListState load={list} what="jobs" empty={items.length ? null : state === 'dead' ? 'No dead jobs.' : 'None.'} />
            {items.length ? (
                <div class="scroll"><table class="rows" id="jobs-list">
                    <caption class="sr-only">Jobs</caption>
                    <thead><tr><th scope="col">Job</th><th scope="col">Kind</th><th scope="col">Attempts</th><th scope="col">Last error</th>
                        <th scope="col">Changed</th>{state === 'dead' ? <th scope="col"><span class="sr-only">Action</span></th> : null}</tr></thead>
                    <tbody>
                        {items.map((j) => (
                            <tr key={j.id}>
                                <th scope="row">{j.id}</th>
                                <td>{j.kind}</td>
                                <td>{j.attempts}/{j.max_attempts}</td>
                                <td class="wrap">{j.last_error || '—'}</td>
                                <td>{when(j.updated_at || j.run_at)}</td>
                                {state === 'dead' ? (
                                    <td><button type="button" onClick={() => retry(j)} disabled={!!action.busy} aria-label={`Retry job ${j.id}`}>Retry</button></td>
                                ) : null}
                            </tr>
                        ))}
                    </tbody>
                </table></div>
            ) : null}
        </section>
    );
}
