// signin.jsx -- sign in: e-mail and password, then, when the account has
// two-factor sign-in, a code from the authenticator app or a recovery
// code (POST /auth/login, then /auth/login/totp with the challenge).

import { useEffect, useRef, useState } from 'preact/hooks';
import { describe, post } from './api.js';
import { FieldError } from './ui.jsx';

export function SignIn({ onSignedIn, notice }) {
    const [step, setStep] = useState('password');     // 'password' | 'totp'
    const [challenge, setChallenge] = useState(null);
    const [recovery, setRecovery] = useState(false);
    const [busy, setBusy] = useState(false);
    const [error, setError] = useState(null);          // { text, field }
    const first = useRef(null);

    useEffect(() => {
        if (first.current)
            first.current.focus();
    }, [step, recovery]);

    const fail = (e, fieldMap) => {
        const field = e.field && fieldMap[e.field] ? fieldMap[e.field] : null;
        setError({ text: describe(e, 'signing in'), field });
    };

    const submitPassword = async (ev) => {
        ev.preventDefault();
        const f = ev.currentTarget;
        setBusy(true);
        setError(null);
        try {
            const r = await post('/auth/login', { email: f.email.value.trim(), password: f.password.value });
            if (r.totp_required) {
                setChallenge(r.challenge);
                setStep('totp');
            } else {
                onSignedIn(r);
            }
        } catch (e) {
            fail(e, { email: 'email', password: 'password' });
        } finally {
            setBusy(false);
        }
    };

    const submitCode = async (ev) => {
        ev.preventDefault();
        const f = ev.currentTarget;
        setBusy(true);
        setError(null);
        try {
            const body = recovery ? { challenge, recovery_code: f.code.value.trim() }
                                  : { challenge, code: f.code.value.replace(/\s+/g, '') };
            onSignedIn(await post('/auth/login/totp', body));
        } catch (e) {
            if (e.field === 'challenge') {
                setStep('password');
                setChallenge(null);
            }
            fail(e, { code: 'code', recovery_code: 'code' });
        } finally {
            setBusy(false);
        }
    };

    const err = error && <p class="error" role="alert" id="signin-error">{error.text}</p>;
    return (
        <main id="main" class="signin" tabindex="-1">
            <h1>ATUM DESK</h1>
            {notice && <p class="notice" role="status">{notice}</p>}
            {step === 'password' ? (
                <form onSubmit={submitPassword} aria-labelledby="signin-title" novalidate>
                    <h2 id="signin-title">Sign in</h2>
                    {err}
                    <label for="email">E-mail address</label>
                    <input id="email" name="email" type="email" autocomplete="username" required ref={first}
                           aria-invalid={error && error.field === 'email' ? 'true' : undefined}
                           aria-describedby={error ? 'signin-error' : undefined} />
                    <label for="password">Password</label>
                    <input id="password" name="password" type="password" autocomplete="current-password" required
                           aria-invalid={error && error.field === 'password' ? 'true' : undefined} />
                    <button type="submit" class="primary" disabled={busy}>{busy ? 'Signing in…' : 'Sign in'}</button>
                </form>
            ) : (
                <form onSubmit={submitCode} aria-labelledby="totp-title" novalidate>
                    <h2 id="totp-title">Two-factor sign-in</h2>
                    {err}
                    <label for="code">{recovery ? 'Recovery code' : 'Code from your authenticator app'}</label>
                    <input id="code" name="code" ref={first} required
                           autocomplete={recovery ? 'off' : 'one-time-code'}
                           inputmode={recovery ? 'text' : 'numeric'}
                           aria-invalid={error && error.field === 'code' ? 'true' : undefined}
                           aria-describedby={error ? 'signin-error' : undefined} />
                    <button type="submit" class="primary" disabled={busy}>{busy ? 'Checking…' : 'Sign in'}</button>
                    <button type="button" class="link" onClick={() => { setRecovery(!recovery); setError(null); }}>
                        {recovery ? 'Use a code from the app instead' : 'Use a recovery code instead'}
                    </button>
                </form>
            )}
        </main>
    );
}
