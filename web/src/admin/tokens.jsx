// tokens.jsx -- my API tokens: the list (prefix, last use, expiry),
// revoke, and a new one -- which needs the account's password again (and
// the current two-factor code when that is on); the token is shown once.
import { useState } from 'preact/hooks';
import { del, post } from '../desk/api.js';
import { announce } from '../desk/ui.jsx';
import { ActionMessage, FormMessage, Input, ListState, intOrNull, useAction, useForm, useLoad, when } from './ui.jsx';

const EMPTY = { name: '', password: '', code: '', expires_in_days: '' };

export function Tokens({ me }) {
    const list = useLoad('/auth/tokens');
    const form = useForm('token', EMPTY);
    const action = useAction();
    const [made, setMade] = useState(null);
    const items = ((list.data && list.data.items) || []).filter((t) => !t.revoked_at);

    const create = async (ev) => {
        ev.preventDefault();
        setMade(null);
        const r = await form.submit('creating the token', (v) => {
            const body = { name: v.name.trim(), password: v.password, expires_in_days: intOrNull(v.expires_in_days) };
            if (v.code.trim())
                body.code = v.code.replace(/\s+/g, '');
            return post('/auth/tokens', body);
        });
        if (r.ok) {
            setMade(r.value);
            form.reset(EMPTY);
            announce('Token created.');
            list.reload();
        }
    };
    const revoke = (t) => {
        if (!window.confirm(`Revoke the token ${t.name}? Whatever uses it stops working.`))
            return;
        action.run(`t${t.id}`, 'revoking the token', async () => {
            await del(`/auth/tokens/${t.id}`);
            return true;
        }, () => `Token ${t.name} is revoked.`).then((r) => r && list.reload());
    };

    return (
        <section aria-labelledby="tokens-title">
            <h1 id="tokens-title">API tokens</h1>
            <p class="hint">Tokens of your own account ({me.email}): a program using one acts as you, with your role.</p>
            <div class="split">
                <div class="list-pane">
                    <ActionMessage action={action} id="tokens-message" />
                    <ListState load={list} what="tokens" empty={items.length ? null : 'You have no API tokens.'} />
                    {items.length ? (
                        <table class="rows" id="tokens-list">
                            <caption class="sr-only">My API tokens</caption>
                            <thead><tr><th scope="col">Name</th><th scope="col">Starts with</th><th scope="col">Last used</th>
                                <th scope="col">Expires</th><th scope="col"><span class="sr-only">Action</span></th></tr></thead>
                            <tbody>
                                {items.map((t) => (
                                    <tr key={t.id}>
                                        <th scope="row">{t.name}</th>
                                        <td><code>{t.prefix}</code></td>
                                        <td>{t.last_used_at ? when(t.last_used_at) : 'never'}</td>
                                        <td>{when(t.expires_at)}</td>
                                        <td><button type="button" class="danger" onClick={() => revoke(t)} disabled={!!action.busy}
                                                    aria-label={`Revoke ${t.name}`}>Revoke</button></td>
                                    </tr>
                                ))}
                            </tbody>
                        </table>
                    ) : null}
                </div>
                <div class="form-pane">
                    <form onSubmit={create} aria-labelledby="token-form-title" novalidate>
                        <h2 id="token-form-title">New token</h2>
                        <FormMessage form={form} />
                        <Input form={form} name="name" label="Name" required hint="What uses it, e.g. the billing sync." />
                        <Input form={form} name="password" label="Your password" type="password" autocomplete="current-password" required />
                        <Input form={form} name="code" label="Two-factor code" autocomplete="one-time-code" inputmode="numeric"
                               hint="Only when two-factor sign-in is on." />
                        <Input form={form} name="expires_in_days" label="Expires after (days)" inputmode="numeric"
                               hint="Empty: the server's default (90 days unless set otherwise)." />
                        <button type="submit" class="primary" disabled={form.busy}>{form.busy ? 'Creating…' : 'Create token'}</button>
                    </form>
                    {made ? (
                        <div class="notice" role="status">
                            <p>The token {made.name}, shown only now — copy it:</p>
                            <p><code class="secret" id="token-secret">{made.token}</code></p>
                        </div>
                    ) : null}
                </div>
            </div>
        </section>
    );
}
