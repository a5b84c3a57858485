// thread.jsx -- the messages of a ticket.
//
// Customer mail, agents' replies and internal notes look different and
// say what they are in words, not by colour alone.  The new part of a
// mail shows; its quoted history is folded behind a button (quote.js).
// Mail HTML -- already sanitised by atumd -- is shown only inside an
// <iframe sandbox> without allow-scripts and allow-same-origin, so even
// markup the sanitiser let through can run nothing and reach nothing.
// The frame's document comes from GET /messages/{id}/html with a policy of
// its own (no script, images only as data: -- its cid: images are made
// data: URLs by the server -- and remote https: images only once the
// agent pressed "Load remote images" for that message, which asks for
// ?remote_images=allow); the desk's own policy stays as strict as it is.
// A server without that route gets the older way: a srcdoc frame under
// the desk's policy, cid: images fetched through the API.  Long threads
// show the first message and the last few; the rest open on demand, so a
// ticket of hundreds of messages opens as fast as a short one.

import { useEffect, useState } from 'preact/hooks';
import { API } from './api.js';
import { getCaps, has, loadCaps } from './caps.js';
import { ago, size, when } from './format.js';
import { split } from './quote.js';

const OPEN_LAST = 3;

export function kindOf(m) {
    if (m.visibility === 'internal')
        return 'note';
    return m.direction === 'out' ? 'agent' : 'customer';
}

const KIND_LABEL = { customer: 'Customer', agent: 'Reply to the customer', note: 'Internal note' };

export function Thread({ messages }) {
    const [showAll, setShowAll] = useState(messages.length <= OPEN_LAST + 2);
    const hidden = showAll ? 0 : messages.length - 1 - OPEN_LAST;
    const shown = showAll ? messages.map((m, i) => [m, i])
                          : [[messages[0], 0], ...messages.slice(-OPEN_LAST).map((m, k) => [m, messages.length - OPEN_LAST + k])];
    return (
        <ol class="thread" aria-label="Messages">
            {shown.map(([m, i], k) => (
                <>
                    {!showAll && k === 1 && (
                        <li class="more">
                            <button type="button" onClick={() => setShowAll(true)}>
                                Show {hidden} earlier message{hidden === 1 ? '' : 's'}
                            </button>
                        </li>
                    )}
                    <Message key={m.id} m={m} index={i} />
                </>
            ))}
        </ol>
    );
}

function Message({ m, index }) {
    const kind = kindOf(m);
    const { fresh, folded } = split(m);
    const [full, setFull] = useState(false);
    const [remote, setRemote] = useState(false);       // remote images allowed for this message
    const who = m.from_addr || (kind === 'customer' ? 'Customer' : 'Agent');
    const files = (m.attachments || []).filter((a) => !(a.inline && a.content_id && m.body_html && m.body_html.includes(`cid:${a.content_id.replace(/^<|>$/g, '')}`)));
    return (
        <li class={`msg msg-${kind}`} tabindex="-1" data-index={index}
            aria-label={`${KIND_LABEL[kind]} from ${who}, ${when(m.created_at)}`}>
            <header>
                <span class={`kind kind-${kind}`}>{KIND_LABEL[kind]}</span>
                <span class="from">{who}</span>
                <time datetime={m.created_at} title={when(m.created_at)}>{ago(m.created_at)}</time>
            </header>
            {!full && folded && <Text text={fresh} />}
            {(full || !folded) && (m.body_html ? <MailFrame m={m} remote={remote} /> : <Text text={m.body_text || ''} />)}
            {folded && (
                <button type="button" class="link fold" aria-expanded={full ? 'true' : 'false'} onClick={() => setFull(!full)}>
                    {full ? 'Hide the quoted history' : 'Show the quoted history'}
                </button>
            )}
            {m.remote_images > 0 && (
                remote ? <p class="hint">Remote images of this mail are shown (the sender's servers saw the request).</p>
                : has('get', '/messages/{id}/html') && m.body_html ? (
                    <p class="hint">{m.remote_images} remote image{m.remote_images === 1 ? ' is' : 's are'} blocked: loading them
                        tells the sender when and where the mail was read.{' '}
                        <button type="button" class="link load-remote" onClick={() => { setFull(true); setRemote(true); }}>
                            Load remote images</button></p>
                ) : (
                    <p class="hint">{m.remote_images} remote image{m.remote_images === 1 ? ' was' : 's were'} removed from this mail for your
                        privacy (they would tell the sender when and where it was read).</p>
                )
            )}
            {files.length > 0 && (
                <ul class="files" aria-label="Attachments">
                    {files.map((a) => (
                        <li><a href={`${API}/attachments/${a.id}`} download={a.filename || 'attachment'}>
                            {a.filename || 'attachment'}</a> <span class="muted">({a.content_type}, {size(a.size || 0)})</span></li>
                    ))}
                </ul>
            )}
            {m.delivery ? <Delivery d={m.delivery} />
                : kind === 'agent' && <div class="delivery"><span class="label">Mail:</span> being prepared for sending</div>}
        </li>
    );
}

function Text({ text }) {
    return <div class="text">{text}</div>;
}

const DELIVERY = {
    queued: 'Waiting to be sent',
    sending: 'Being sent',
    sent: 'Sent',
    partial: 'Sent to some recipients only',
    failed: 'Could not be sent',
    expired: 'Gave up sending',
};
const RCPT = { pending: 'waiting', sent: 'accepted by the mail server', deferred: 'delayed, trying again',
               failed: 'refused', bounced: 'bounced back' };

// The state of a reply's mail, in words: as a whole, then each recipient
// with the mail server's last word when it was not a plain yes.
function Delivery({ d }) {
    const rc = d.recipients || [];
    const deferred = rc.some((r) => r.state === 'deferred');
    const bounced = rc.some((r) => r.state === 'bounced');
    const bad = d.state === 'failed' || d.state === 'expired' || d.state === 'partial' || bounced;
    const word = bounced && d.state === 'sent' ? 'Sent, then bounced back'
               : deferred && d.state !== 'sent' ? 'Delayed: the mail server asked to try again later'
               : DELIVERY[d.state] || d.state;
    return (
        <div class={`delivery ${bad ? 'bad' : deferred ? 'warn' : ''}`} data-state={bounced ? 'bounced' : deferred ? 'deferred' : d.state}>
            <span class="label">Mail:</span> {word}
            {d.unconfirmed ? ' (unconfirmed)' : ''}
            {d.attempts > 1 && d.state !== 'sent' ? <span class="muted"> after {d.attempts} attempts</span> : ''}
            {rc.length > 0 && (
                <ul class="rcpts">{rc.map((r) => (
                    <li>{r.address}: {RCPT[r.state] || r.state}
                        {r.reply && r.state !== 'sent' && r.state !== 'pending' && <span class="muted"> — “{r.reply}”</span>}</li>
                ))}</ul>
            )}
            {bad && d.last_error && <p class="muted">Last error: {d.last_error}</p>}
        </div>
    );
}

// cid: -> data: URL of the inline attachment with that Content-ID.
async function inlineImages(html, attachments) {
    const doc = new DOMParser().parseFromString(html, 'text/html');   // inert: runs and loads nothing
    for (const el of doc.querySelectorAll('script, base, meta, link, style, iframe, object, embed, form'))
        el.remove();
    const byCid = new Map();
    for (const a of attachments || [])
        if (a.content_id)
            byCid.set(a.content_id.replace(/^<|>$/g, '').toLowerCase(), a);
    for (const img of doc.querySelectorAll('img')) {
        const src = img.getAttribute('src') || '';
        if (/^data:image\//i.test(src))
            continue;
        const m = /^cid:(.+)$/i.exec(src);
        const a = m && byCid.get(decodeURIComponent(m[1]).toLowerCase());
        img.removeAttribute('src');
        if (!a)
            continue;
        try {
            const res = await fetch(`${API}/attachments/${a.id}`, { credentials: 'same-origin' });
            if (!res.ok || !/^image\/(png|gif|jpeg|webp)$/.test((res.headers.get('Content-Type') || '').split(';')[0]))
                continue;
            img.setAttribute('src', await dataUrl(await res.blob()));
        } catch {
            /* left without its picture */
        }
    }
    return doc.body ? doc.body.innerHTML : '';
}

function dataUrl(blob) {
    return new Promise((resolve, reject) => {
        const r = new FileReader();
        r.onload = () => resolve(r.result);
        r.onerror = reject;
        r.readAsDataURL(blob);
    });
}

function MailFrame({ m, remote }) {
    // which way depends on the server: asked at once when a mail needs it
    const [caps, setCaps] = useState(getCaps());
    useEffect(() => {
        if (!caps)
            loadCaps().then(setCaps);
    }, []);
    if (!caps)
        return <div class="frame-wait" role="status">Preparing the message…</div>;
    if (has('get', '/messages/{id}/html'))
        return <ServedFrame m={m} remote={remote} />;
    return <SrcdocFrame m={m} />;
}

function frameHeight(m) {
    const lines = (m.body_text || '').split('\n').length;
    return Math.max(120, Math.min(640, lines * 22 + 48));
}

// The server's document: sandboxed twice (the attribute here, its own CSP).
function ServedFrame({ m, remote }) {
    return (
        <div class="frame-box">
            <iframe class="mail" title={`Message from ${m.from_addr || 'the sender'} (formatted)`}
                    sandbox="allow-popups allow-popups-to-escape-sandbox" referrerpolicy="no-referrer"
                    src={`${API}/messages/${m.id}/html${remote ? '?remote_images=allow' : ''}`}
                    height={frameHeight(m)} loading="lazy" />
        </div>
    );
}

function SrcdocFrame({ m }) {
    const [doc, setDoc] = useState(null);
    useEffect(() => {
        let live = true;
        inlineImages(m.body_html, m.attachments).then((body) => {
            if (live)
                setDoc(`<!doctype html><html><head><meta charset="utf-8"><meta name="referrer" content="no-referrer"></head><body>${body}</body></html>`);
        });
        return () => { live = false; };
    }, [m.id]);
    const height = frameHeight(m);
    if (doc === null)
        return <div class="frame-wait" role="status">Preparing the message…</div>;
    return (
        <div class="frame-box">
            <iframe class="mail" title={`Message from ${m.from_addr || 'the sender'} (formatted)`}
                    sandbox="allow-popups allow-popups-to-escape-sandbox" referrerpolicy="no-referrer"
                    srcdoc={doc} height={height} loading="lazy" />
        </div>
    );
}
