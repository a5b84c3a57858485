// rate.jsx -- satisfaction: the rating of a solved ticket, in the portal
// (signed in) and on the page the solved mail's links open (no sign-in:
// the link is signed).  One click rates; a comment may follow.
import { useEffect, useState } from 'preact/hooks';
import { post, describe } from '../desk/api.js';
import { follow } from './router.js';
import { Field, described, FormMessage } from './form.jsx';

const SCORES = [
    [5, 'Very good'], [4, 'Good'], [3, 'Okay'], [2, 'Poor'], [1, 'Bad'],
];

function Scores({ value, onPick, busy }) {
    return (
        <fieldset class="scores">
            <legend>How happy are you with the answer?</legend>
            {SCORES.map(([n, word]) => (
                <button key={n} type="button" class={value === n ? 'score chosen' : 'score'} aria-pressed={value === n ? 'true' : 'false'}
                        disabled={busy} onClick={() => onPick(n)}>
                    <span aria-hidden="true">{n}</span> {word}
                </button>
            ))}
        </fieldset>
    );
}

function Comment({ initial, onSave, busy }) {
    const [text, setText] = useState(initial || '');
    return (
        <form onSubmit={(e) => { e.preventDefault(); onSave(text); }} noValidate>
            <Field id="csat-comment" label="Anything to add? (optional)">
                <textarea id="csat-comment" rows={3} maxLength={4000} value={text} onInput={(e) => setText(e.currentTarget.value)}
                          {...described('csat-comment')} />
            </Field>
            <button type="submit" disabled={busy}>Save the comment</button>
        </form>
    );
}

// Signed in: on a solved or closed ticket of one's own.
export function Rating({ ticketId, current, onRated }) {
    const [busy, setBusy] = useState(false);
    const [msg, setMsg] = useState(null);
    const send = async (score, comment) => {
        setBusy(true);
        setMsg(null);
        try {
            const body = { score };
            if (comment !== undefined)
                body.comment = comment;
            await post(`/tickets/${ticketId}/csat`, body);
            setMsg({ ok: comment !== undefined ? 'Thank you for the comment.' : 'Thank you for rating.' });
            onRated();
        } catch (err) {
            setMsg({ error: describe(err, 'rating') });
        } finally {
            setBusy(false);
        }
    };
    const score = current ? current.score : null;
    return (
        <section class="card rating" aria-labelledby="rate-h">
            <h2 id="rate-h">{score ? 'Your rating' : 'How did we do?'}</h2>
            <Scores value={score} busy={busy} onPick={(n) => send(n)} />
            {score ? <Comment initial={current.comment} busy={busy} onSave={(c) => send(score, c)} /> : null}
            <FormMessage text={msg && msg.error} />
            <FormMessage text={msg && msg.ok} ok />
        </section>
    );
}

// /portal/rate#t=TOKEN&s=N: the solved mail's link.  The score in the link
// is sent at once (one click in the mail rates); without one the page asks.
export function RatePage() {
    const [params] = useState(() => new URLSearchParams(location.hash.replace(/^#/, '')));
    const token = params.get('t') || '';
    const first = Number(params.get('s')) || null;
    const [rating, setRating] = useState(null);
    const [busy, setBusy] = useState(false);
    const [msg, setMsg] = useState(null);
    const send = async (score, comment) => {
        setBusy(true);
        setMsg(null);
        try {
            const body = { token, score };
            if (comment !== undefined)
                body.comment = comment;
            setRating(await post('/csat', body));
            if (comment !== undefined)
                setMsg({ ok: 'Thank you for the comment.' });
        } catch (err) {
            setMsg({ error: err.status === 410 ? 'This rating link has expired. Sign in to rate the request.'
                : err.status === 403 ? 'This rating link is not valid. Was it cut off or changed? Use the link from the mail.'
                    : describe(err, 'rating') });
        } finally {
            setBusy(false);
        }
    };
    useEffect(() => {
        if (token && first >= 1 && first <= 5)
            send(first);
        // eslint-disable-next-line react-hooks/exhaustive-deps
    }, []);
    if (!token)
        return <section class="card auth-one"><h1>Rate our answer</h1><p class="error" role="alert">This rating link is not complete. Use the link from the mail.</p></section>;
    return (
        <section class="card auth-one" aria-labelledby="rate-page-h">
            <h1 id="rate-page-h">{rating ? 'Thank you!' : 'Rate our answer'}</h1>
            {rating ? <p>Your rating of request #{rating.ticket_id} “{rating.subject}”: <strong>{rating.score} of 5</strong>. You can change it here.</p> : null}
            <Scores value={rating ? rating.score : null} busy={busy} onPick={(n) => send(n)} />
            {rating ? <Comment initial={rating.comment} busy={busy} onSave={(c) => send(rating.score, c)} /> : null}
            <FormMessage text={msg && msg.error} />
            <FormMessage text={msg && msg.ok} ok />
            <p><a href="/portal" onClick={follow}>Your requests</a></p>
        </section>
    );
}
