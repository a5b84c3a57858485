// account.jsx -- the agent's own account: change the password (when the
// API has POST /auth/password), two-factor sign-in: enrol (POST
// /auth/totp, then /auth/totp/verify with a first code, which answers the
// recovery codes) and switch off (POST /auth/totp/disable).

import { useEffect, useRef, useState } from 'preact/hooks';
import { describe, get, post } from './api.js';
import { has } from './caps.js';
import { announce } from './ui.jsx';

export function Account({ me, onMe }) {
    const h1 = useRef(null);
    useEffect(() => { if (h1.current) h1.current.focus(); }, []);
    return (
        <section class="account" aria-labelledby="account-title">
            <h1 id="account-title" tabindex="-1" ref={h1}>Your account</h1>
            <p>{me.name || me.email} — {me.email} ({me.role})</p>
            <Password />
            <Totp me={me} onMe={onMe} />
        </section>
    );
}

function Password() {
    const [msg, setMsg] = useState(null);
    const [busy, setBusy] = useState(false);
    if (!has('post', '/auth/password'))
        return (
            <section aria-labelledby="pw-title">
                <h2 id="pw-title">Password</h2>
                <p>This server cannot change passwords from the desk yet. An admin can set a new one
                   with <code>atumctl user passwd</code>.</p>
            </section>
        );
    const submit = async (ev) => {
        ev.preventDefault();
        const f = ev.currentTarget;
        if (f.new_password.value !== f.repeat.value) {
            setMsg({ error: true, field: 'repeat', text: 'The two new passwords differ.' });
            return;
        }
        setBusy(true);
        try {
            await post('/auth/password', { current_password: f.current_password.value,
                                           new_password: f.new_password.value });
            f.reset();
            setMsg({ error: false, text: 'Your password was changed.' });
            announce('Your password was changed.');
        } catch (e) {
            setMsg({ error: true, field: e.field, text: describe(e, 'changing the password') });
        } finally {
            setBusy(false);
        }
    };
    const bad = (n) => (msg && msg.error && msg.field === n ? 'true' : undefined);
    return (
        <section aria-labelledby="pw-title">
            <h2 id="pw-title">Change your password</h2>
            {msg && <p class={msg.error ? 'error' : 'ok'} role={msg.error ? 'alert' : 'status'} id="pw-msg">{msg.text}</p>}
            <form onSubmit={submit}>
                <label for="pw-cur">Current password</label>
                <input id="pw-cur" name="current_password" type="password" autocomplete="current-password" required aria-invalid={bad('current_password')} />
                <label for="pw-new">New password</label>
                <input id="pw-new" name="new_password" type="password" autocomplete="new-password" required minlength="10" aria-invalid={bad('new_password')} />
                <label for="pw-rep">New password again</label>
                <input id="pw-rep" name="repeat" type="password" autocomplete="new-password" required aria-invalid={bad('repeat')} />
                <button type="submit" disabled={busy}>Change password</button>
            </form>
        </section>
    );
}

function Totp({ me, onMe }) {
    const [enrol, setEnrol] = useState(null);      // { secret, otpauth_uri }
    const [codes, setCodes] = useState(null);      // recovery codes, shown once
    const [msg, setMsg] = useState(null);
    const [busy, setBusy] = useState(false);

    const refresh = async () => onMe((await get('/auth/me')).user);
    const act = async (what, fn) => {
        setBusy(true);
        setMsg(null);
        try {
            await fn();
        } catch (e) {
            setMsg({ error: true, text: describe(e, what) });
        } finally {
            setBusy(false);
        }
    };
    const start = () => act('starting two-factor sign-in', async () => setEnrol(await post('/auth/totp')));
    const verify = (ev) => {
        ev.preventDefault();
        const code = ev.currentTarget.code.value.replace(/\s+/g, '');
        act('checking the code', async () => {
            const r = await post('/auth/totp/verify', { code });
            setEnrol(null);
            setCodes(r.recovery_codes || []);
            announce('Two-factor sign-in is on.');
            await refresh();
        });
    };
    const disable = (ev) => {
        ev.preventDefault();
        const v = ev.currentTarget.code.value.trim();
        const body = /^\d{6,8}$/.test(v.replace(/\s+/g, '')) ? { code: v.replace(/\s+/g, '') } : { recovery_code: v };
        act('switching two-factor sign-in off', async () => {
            await post('/auth/totp/disable', body);
            setCodes(null);
            announce('Two-factor sign-in is off.');
            await refresh();
        });
    };
    const err = msg && <p class="error" role="alert">{msg.text}</p>;
    return (
        <section aria-labelledby="totp-h">
            <h2 id="totp-h">Two-factor sign-in</h2>
            {err}
            {codes && (
                <div class="recovery" role="region" aria-label="Recovery codes">
                    <p><strong>Keep these recovery codes somewhere safe.</strong> Each signs you in once without the app;
                       they are not shown again.</p>
                    <ul>{codes.map((c) => <li><code>{c}</code></li>)}</ul>
                </div>
            )}
            {me.totp_enabled ? (
                <form onSubmit={disable}>
                    <p>Two-factor sign-in is <strong>on</strong>.</p>
                    <label for="totp-off">To switch it off, enter a code from the app or a recovery code</label>
                    <input id="totp-off" name="code" autocomplete="one-time-code" required />
                    <button type="submit" disabled={busy}>Switch off</button>
                </form>
            ) : enrol ? (
                <form onSubmit={verify}>
                    <p>Add this account to your authenticator app with the key below
                       ({enrol.digits || 6} digits, every {enrol.period || 30} s), then enter the code it shows.</p>
                    <p class="secret"><span class="label">Key</span> <code>{(enrol.secret || '').replace(/(.{4})/g, '$1 ').trim()}</code></p>
                    {enrol.otpauth_uri && <p class="secret"><span class="label">Or this URI</span> <code class="wrap">{enrol.otpauth_uri}</code></p>}
                    <label for="totp-code">Code from the app</label>
                    <input id="totp-code" name="code" inputmode="numeric" autocomplete="one-time-code" required />
                    <button type="submit" disabled={busy}>Switch on</button>
                </form>
            ) : (
                <p>Two-factor sign-in is <strong>off</strong>.{' '}
                    <button type="button" onClick={start} disabled={busy}>Set it up</button></p>
            )}
        </section>
    );
}
