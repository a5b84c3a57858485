// plugins.jsx -- the configured plugins: state (loaded, disabled,
// refused and why), version, the ABI each was built for against the
// host's, what it adds (routes, job kinds, hooks), and enable/disable
// (PATCH /plugins/{name}: reloads the plugins of this node).  A plugin's
// settings are shown as the plugin reads them, with where each comes from
// (read-only: they live in atumd's configuration file and environment;
// secrets are never shown).
import { patch } from '../desk/api.js';
import { announce } from '../desk/ui.jsx';
import { ActionMessage, ListState, useAction, useLoad } from './ui.jsx';

export function Plugins() {
    const list = useLoad('/plugins');
    const action = useAction();
    const items = (list.data && list.data.items) || [];
    const hostAbi = list.data && list.data.host_abi;

    const toggle = async (p) => {
        const enable = p.state !== 'loaded';
        const r = await action.run(p.name, `${enable ? 'enabling' : 'disabling'} ${p.name}`,
            () => patch(`/plugins/${encodeURIComponent(p.name)}`, { enabled: enable }),
            (x) => `${p.name}: ${x && x.state ? x.state : enable ? 'enabled' : 'disabled'}${x && x.reason ? ` (${x.reason})` : ''}.`);
        if (r) {
            announce(`${p.name} ${r.state || ''}`);
            list.reload();
        }
    };

    return (
        <section aria-labelledby="plugins-title">
            <h1 id="plugins-title">Plugins</h1>
            {hostAbi ? <p class="hint">This atumd speaks plugin ABI {hostAbi}.</p> : null}
            <ActionMessage action={action} id="plugins-message" />
            <ListState load={list} what="plugins" empty={items.length ? null : 'No plugins are configured.'} />
            {items.length ? (
                <div class="scroll"><table class="rows" id="plugins-list">
                    <caption class="sr-only">Plugins</caption>
                    <thead><tr><th scope="col">Plugin</th><th scope="col">State</th><th scope="col">Version</th><th scope="col">ABI</th>
                        <th scope="col">Adds</th><th scope="col">Settings</th><th scope="col"><span class="sr-only">Action</span></th></tr></thead>
                    <tbody>
                        {items.map((p) => (
                            <tr key={p.name}>
                                <th scope="row">{p.name}{p.summary ? <span class="hint block">{p.summary}</span> : null}</th>
                                <td>
                                    <span class={p.state === 'loaded' ? 'good' : p.state === 'refused' ? 'bad' : ''}>{p.state}</span>
                                    {p.override !== null && p.override !== undefined ? <span class="hint block">set here, not by the file</span> : null}
                                    {p.reason ? <span class="hint block">{p.reason}</span> : null}
                                </td>
                                <td>{p.version || '—'}</td>
                                <td>{p.abi !== undefined ? p.abi : '—'}{hostAbi && p.abi && p.abi !== hostAbi ? <span class="bad block">host: {hostAbi}</span> : null}</td>
                                <td>{[p.routes ? `${p.routes} routes` : null, p.job_kinds ? `${p.job_kinds} job kinds` : null,
                                      p.hooks ? `${p.hooks} hooks` : null].filter(Boolean).join(', ') || '—'}</td>
                                <td><Settings settings={p.settings} /></td>
                                <td>
                                    <button type="button" onClick={() => toggle(p)} disabled={!!action.busy}
                                            aria-label={`${p.state === 'loaded' ? 'Disable' : 'Enable'} ${p.name}`}>
                                        {action.busy === p.name ? '…' : p.state === 'loaded' ? 'Disable' : 'Enable'}
                                    </button>
                                </td>
                            </tr>
                        ))}
                    </tbody>
                </table></div>
            ) : null}
        </section>
    );
}

// GET /plugins: [{key, value, source, secret, set, default, help, env}],
// read-only (they live in the configuration file and the environment)
function Settings({ settings }) {
    if (!Array.isArray(settings) || !settings.length)
        return <span class="muted">—</span>;
    return (
        <dl class="facts small">
            {settings.flatMap((x) => [
                <dt key={`k${x.key}`}>{x.key}</dt>,
                <dd key={`v${x.key}`}>
                    {x.secret ? <span class="muted">{x.set ? 'set, hidden' : 'not set'}</span>
                        : x.value === null || x.value === undefined ? <span class="muted">not set</span> : <code>{x.value}</code>}
                    {' '}<span class="muted">({x.source === 'environment' ? `from ${x.env}` : x.source})</span>
                    {x.help ? <span class="hint block">{x.help}</span> : null}
                </dd>,
            ])}
        </dl>
    );
}
