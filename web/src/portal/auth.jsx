// auth.jsx -- signing in (password, or a link by mail), signing up,
// asking for a password reset, and the page a mailed link opens.
import { useEffect, useState } from 'preact/hooks';
import { post, describe } from '../desk/api.js';
import { follow, navigate, safeNext } from './router.js';

// Where a customer was going when asked to sign in: kept across the mail
// round trip of a sign-in link (the link may open in another tab).
const NEXT = 'atum-portal-next';
function rememberNext(next) {
    try {
        if (next && next !== '/portal')
            localStorage.setItem(NEXT, next);
    } catch {
        /* storage off: the customer lands on the list */
    }
}
function takeNext() {
    let n = null;
    try {
        n = localStorage.getItem(NEXT);
        localStorage.removeItem(NEXT);
    } catch {
        n = null;
    }
    return safeNext(n);
}
import { Field, described, problemOf, FormMessage } from './form.jsx';

function LinkRequest({ purpose, initialEmail }) {
    const [email, setEmail] = useState(initialEmail || '');
    const [busy, setBusy] = useState(false);
    const [msg, setMsg] = useState({});
    const submit = async (e) => {
        e.preventDefault();
        setBusy(true);
        setMsg({});
        try {
            const r = await post('/account/link', { email: email.trim(), purpose });
            setMsg({ ok: r.detail });
        } catch (err) {
            setMsg(problemOf(err, ['email'], 'asking for a link'));
        } finally {
            setBusy(false);
        }
    };
    const id = `${purpose}-email`;
    return (
        <form onSubmit={submit} noValidate>
            <Field id={id} label="Your e-mail address" error={msg.email}>
                <input id={id} type="email" autocomplete="email" required value={email}
                       onInput={(e) => setEmail(e.currentTarget.value)} {...described(id, msg.email)} />
            </Field>
            <button type="submit" disabled={busy}>{purpose === 'reset' ? 'Mail me a reset link' : 'Mail me a sign-in link'}</button>
            <FormMessage text={msg.form} />
            <FormMessage text={msg.ok} ok />
        </form>
    );
}

export function SignIn({ next, config, onSignedIn }) {
    useEffect(() => rememberNext(next), [next]);
    const [email, setEmail] = useState('');
    const [password, setPassword] = useState('');
    const [challenge, setChallenge] = useState(null);
    const [code, setCode] = useState('');
    const [busy, setBusy] = useState(false);
    const [msg, setMsg] = useState({});
    const submit = async (e) => {
        e.preventDefault();
        setBusy(true);
        setMsg({});
        try {
            const r = challenge
                ? await post('/auth/login/totp', { challenge, code: code.trim() })
                : await post('/auth/login', { email: email.trim(), password });
            if (r.totp_required) {
                setChallenge(r.challenge);
                return;
            }
            takeNext();
            onSignedIn(r.user, r.csrf_token, next);
        } catch (err) {
            setMsg(problemOf(err, ['email', 'password', 'code'], 'signing in'));
        } finally {
            setBusy(false);
        }
    };
    return (
        <div class="auth">
            <section class="card" aria-labelledby="signin-h">
                <h1 id="signin-h">Sign in</h1>
                {next !== '/portal' ? <p class="hint">Sign in to see this request; you come back to it afterwards.</p> : null}
                <form onSubmit={submit} noValidate>
                    {challenge ? (
                        <Field id="code" label="Code from your authenticator app" error={msg.code}>
                            <input id="code" inputMode="numeric" autocomplete="one-time-code" value={code}
                                   onInput={(e) => setCode(e.currentTarget.value)} {...described('code', msg.code)} />
                        </Field>
                    ) : (
                        <>
                            <Field id="email" label="E-mail address" error={msg.email}>
                                <input id="email" type="email" autocomplete="username" value={email}
                                       onInput={(e) => setEmail(e.currentTarget.value)} {...described('email', msg.email)} />
                            </Field>
                            <Field id="password" label="Password" error={msg.password}>
                                <input id="password" type="password" autocomplete="current-password" value={password}
                                       onInput={(e) => setPassword(e.currentTarget.value)} {...described('password', msg.password)} />
                            </Field>
                        </>
                    )}
                    <button type="submit" disabled={busy}>Sign in</button>
                    <FormMessage text={msg.form} />
                </form>
                <p><a href="/portal/reset" onClick={follow}>Forgot your password?</a></p>
            </section>
            <section class="card" aria-labelledby="link-h">
                <h2 id="link-h">No password yet?</h2>
                <p>If you have written to us by mail, you already have an account. We mail you a link to sign in and choose a password.</p>
                <LinkRequest purpose="signin" />
                {config && config.signup ? (
                    <p>New here? <a href="/portal/signup" onClick={follow}>Sign up</a>.</p>
                ) : null}
            </section>
        </div>
    );
}

export function AskReset() {
    return (
        <section class="card auth-one" aria-labelledby="reset-h">
            <h1 id="reset-h">Reset your password</h1>
            <p>We mail you a link to choose a new password.</p>
            <LinkRequest purpose="reset" />
            <p><a href="/portal/signin" onClick={follow}>Back to sign in</a></p>
        </section>
    );
}

export function SignUp({ config }) {
    const [email, setEmail] = useState('');
    const [name, setName] = useState('');
    const [busy, setBusy] = useState(false);
    const [msg, setMsg] = useState({});
    if (config && !config.signup)
        return (
            <section class="card auth-one">
                <h1>Sign-up is closed</h1>
                <p>If you have written to us by mail, <a href="/portal/signin" onClick={follow}>ask for a sign-in link</a>; otherwise ask us for an invitation.</p>
            </section>
        );
    const submit = async (e) => {
        e.preventDefault();
        setBusy(true);
        setMsg({});
        const q = new URLSearchParams(location.search).get('queue');
        const body = { email: email.trim() };
        if (name.trim())
            body.name = name.trim();
        if (q && /^[1-9][0-9]{0,17}$/.test(q))
            body.queue_id = Number(q);
        try {
            const r = await post('/account/signup', body);
            setMsg({ ok: `${r.detail} Open the link in it to confirm your address and choose a password.` });
        } catch (err) {
            setMsg(problemOf(err, ['email', 'name'], 'signing up'));
        } finally {
            setBusy(false);
        }
    };
    return (
        <section class="card auth-one" aria-labelledby="signup-h">
            <h1 id="signup-h">Sign up</h1>
            <form onSubmit={submit} noValidate>
                <Field id="su-name" label="Your name" error={msg.name}>
                    <input id="su-name" autocomplete="name" value={name} onInput={(e) => setName(e.currentTarget.value)}
                           {...described('su-name', msg.name)} />
                </Field>
                <Field id="su-email" label="E-mail address" error={msg.email} hint="We mail you a link to confirm it.">
                    <input id="su-email" type="email" autocomplete="email" value={email}
                           onInput={(e) => setEmail(e.currentTarget.value)} {...described('su-email', msg.email, true)} />
                </Field>
                <button type="submit" disabled={busy}>Sign up</button>
                <FormMessage text={msg.form} />
                <FormMessage text={msg.ok} ok />
            </form>
        </section>
    );
}

const KIND_TITLE = {
    signin: 'Choose a password',
    invite: 'Accept the invitation',
    verify: 'Confirm your address',
    reset: 'Choose a new password',
};

// /portal/link#TOKEN: the token stays in the fragment (never sent to the
// server in a URL) and goes to the API in a request body.
export function LinkPage({ onSignedIn }) {
    const [token] = useState(() => decodeURIComponent(location.hash.replace(/^#/, '')));
    const [link, setLink] = useState(null);
    const [password, setPassword] = useState('');
    const [repeat, setRepeat] = useState('');
    const [busy, setBusy] = useState(false);
    const [msg, setMsg] = useState({});
    useEffect(() => {
        // the token leaves the address bar (and the history)
        history.replaceState(null, '', '/portal/link');
        if (!token) {
            setLink({ state: 'unknown', detail: 'This link is not complete. Ask for a new one.' });
            return;
        }
        post('/account/link/check', { token })
            .then(setLink)
            .catch((err) => setLink({ state: 'error', detail: describe(err, 'reading the link') }));
    }, [token]);
    const submit = async (e) => {
        e.preventDefault();
        if (password !== repeat) {
            setMsg({ repeat: 'The two passwords differ.' });
            return;
        }
        setBusy(true);
        setMsg({});
        try {
            const r = await post('/account/password', { token, password });
            if (r.signed_in === false) {
                navigate('/portal/signin', { replace: true });
                return;
            }
            onSignedIn(r.user, r.csrf_token, takeNext());
        } catch (err) {
            if (err.status === 410)
                setLink({ state: 'gone', detail: describe(err) });
            else
                setMsg(problemOf(err, ['password'], 'setting the password'));
        } finally {
            setBusy(false);
        }
    };
    if (!link)
        return <p class="boot">Checking the link…</p>;
    if (link.state !== 'valid')
        return (
            <section class="card auth-one" aria-labelledby="link-bad-h">
                <h1 id="link-bad-h">{link.state === 'expired' ? 'This link has expired' : link.state === 'used' ? 'This link was already used' : 'This link does not work'}</h1>
                <p>{link.detail}</p>
                <p><a href="/portal/signin" onClick={follow}>Ask for a new link</a> or <a href="/portal/signin" onClick={follow}>sign in</a>.</p>
            </section>
        );
    return (
        <section class="card auth-one" aria-labelledby="link-h">
            <h1 id="link-h">{KIND_TITLE[link.kind] || 'Choose a password'}</h1>
            <p>For <strong>{link.email}</strong>. At least 10 characters.</p>
            <form onSubmit={submit} noValidate>
                <input type="email" autocomplete="username" value={link.email} hidden readOnly />
                <Field id="new-password" label="New password" error={msg.password}>
                    <input id="new-password" type="password" autocomplete="new-password" value={password}
                           onInput={(e) => setPassword(e.currentTarget.value)} {...described('new-password', msg.password)} />
                </Field>
                <Field id="repeat-password" label="The same again" error={msg.repeat}>
                    <input id="repeat-password" type="password" autocomplete="new-password" value={repeat}
                           onInput={(e) => setRepeat(e.currentTarget.value)} {...described('repeat-password', msg.repeat)} />
                </Field>
                <button type="submit" disabled={busy}>Save and sign in</button>
                <FormMessage text={msg.form} />
            </form>
        </section>
    );
}
