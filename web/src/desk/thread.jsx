// thread.jsx -- the messages of a ticket.
//
// Customer mail, agents' replies and internal notes look different and
// say what they are in words, not by colour alone.  The new part of a
// mail shows; its quoted history is folded behind a button (quote.js).
// Mail HTML -- already sanitised by atumd -- is shown only inside an
// <iframe sandbox> without allow-scripts and allow-same-origin, so even
// markup the sanitiser let through can run nothing and reach nothing; the
// frame also inherits the desk's Content-Security-Policy, so it loads
// nothing from elsewhere.  cid: images become data: URLs of the
// message's inline attachments, fetched through the API.  Long threads
// show the first message and the last few; the rest open on demand, so a
// ticket of hundreds of messages opens as fast as a short one.

import { useEffect, useState } from 'preact/hooks';
import { API } from './api.js';
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
            {(full || !folded) && (m.body_html ? <MailFrame m={m} /> : <Text text={m.body_text || ''} />)}
            {folded && (
                <button type="button" class="link fold" aria-expanded={full ? 'true' : 'false'} onClick={() => setFull(!full)}>
                    {full ? 'Hide the quoted history' : 'Show the quoted history'}
                </button>
            )}
            {m.remote_images > 0 && (
                <p class="hint">{m.remote_images} remote image{m.remote_images === 1 ? ' was' : 's were'} removed from this mail for your
                    privacy (they would tell the sender when and where it was read).</p>
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
const RCPT = { pending: 'waiting', sent: 'accepted', deferred: 'retrying', failed: 'refused', bounced: 'bounced' };

function Delivery({ d }) {
    const bad = d.state === 'failed' || d.state === 'expired' || d.state === 'partial';
    return (
        <div class={`delivery ${bad ? 'bad' : ''}`}>
            <span class="label">Mail:</span> {DELIVERY[d.state] || d.state}
            {d.unconfirmed ? ' (unconfirmed)' : ''}
            {d.recipients && d.recipients.length > 0 && (
                <span> — {d.recipients.map((r, i) => (
                    <>{i ? ', ' : ''}{r.address}: {RCPT[r.state] || r.state}</>
                ))}</span>
            )}
            {bad && d.last_error && <span class="muted"> ({d.last_error})</span>}
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

function MailFrame({ m }) {
    const [doc, setDoc] = useState(null);
    useEffect(() => {
        let live = true;
        inlineImages(m.body_html, m.attachments).then((body) => {
            if (live)
                setDoc(`<!doctype html><html><head><meta charset="utf-8"><meta name="referrer" content="no-referrer"></head><body>${body}</body></html>`);
        });
        return () => { live = false; };
    }, [m.id]);
    const lines = (m.body_text || '').split('\n').length;
    const height = Math.max(120, Math.min(640, lines * 22 + 48));
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
