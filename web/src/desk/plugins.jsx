// plugins.jsx -- a panel per plugin beside the ticket, from the plugins'
// parts of GET /tickets/{id} (t.plugins: each loaded plugin's ticket_view,
// by name) and, for the knowledge base, its search route.  A plugin that
// is off sends nothing, so its panel is not there.
//
// Known shapes get their own panel: triage (category, priority,
// sentiment, language with confidences; "use these" and a correction
// sent to POST /plugins/triage/correct), sla (its clocks), smartreply (a
// draft reply to insert) and rag (articles for the ticket's subject, a
// link to insert).  Any other plugin -- or a known one whose answer has an
// unknown shape -- shows its answer as plain names and values, as text.

import { useEffect, useRef, useState } from 'preact/hooks';
import { describe, get, post } from './api.js';
import { has } from './caps.js';
import { PRIORITIES, ago, cap, when } from './format.js';

const KNOWN = { triage: Triage, sla: Sla, smartreply: SmartReply };

export function PluginPanels({ t, onChange, onInsert }) {
    const views = t.plugins && typeof t.plugins === 'object' ? t.plugins : {};
    return (
        <>
            {Object.keys(views).sort().filter((name) => name !== 'rag' || !Rag.fits(views.rag)).map((name) => {
                const P = KNOWN[name];
                const v = views[name];
                return (
                    <section class={`plugin plugin-${name.replace(/[^a-z0-9_-]/g, '')}`} aria-labelledby={`plugin-${name}-h`}>
                        <h2 id={`plugin-${name}-h`}>{TITLES[name] || cap(name)}</h2>
                        {P && P.fits(v) ? <P t={t} v={v} onChange={onChange} onInsert={onInsert} /> : <KeyValues v={v} />}
                    </section>
                );
            })}
            <Rag t={t} v={views.rag} onInsert={onInsert} />
        </>
    );
}

const TITLES = { triage: 'Triage', sla: 'Service level', smartreply: 'Suggested reply', rag: 'Knowledge base' };

const pct = (c) => (typeof c === 'number' ? `${Math.round(c * (c <= 1 ? 100 : 1))} %` : '');

// ---- triage ------------------------------------------------------------------

function Triage({ t, v, onChange }) {
    const [open, setOpen] = useState(false);
    const [msg, setMsg] = useState(null);
    if (v.state === 'pending')
        return <p class="muted">Not triaged yet.</p>;
    const row = (label, x) => (x && x.value != null ? (
        <><dt>{label}</dt><dd>{String(x.value)} {x.confidence != null && <span class="muted">({pct(x.confidence)} sure)</span>}</dd></>
    ) : null);
    const useThem = () => {
        const change = {};
        if (v.priority && PRIORITIES.includes(v.priority.value) && v.priority.value !== t.priority)
            change.priority = v.priority.value;
        if (v.category && v.category.value && v.category.value !== t.category)
            change.category = String(v.category.value).slice(0, 100);
        if (Object.keys(change).length)
            onChange(change, 'Taking the triage suggestion');
    };
    const correct = async (ev) => {
        ev.preventDefault();
        const f = ev.currentTarget;
        const body = { ticket_id: t.id };
        for (const k of ['category', 'priority', 'sentiment'])
            if (f[k].value.trim())
                body[k] = f[k].value.trim();
        if (Object.keys(body).length === 1) {
            setMsg({ error: true, text: 'Choose at least one value to correct.' });
            return;
        }
        try {
            await post('/plugins/triage/correct', body);
            setMsg({ error: false, text: 'Thanks: the correction teaches the classifier.' });
            setOpen(false);
        } catch (e) {
            setMsg({ error: true, text: describe(e, 'sending the correction') });
        }
    };
    return (
        <>
            <dl class="kv">
                {row('Category', v.category)}
                {row('Priority', v.priority)}
                {row('Sentiment', v.sentiment)}
                {row('Language', v.language)}
            </dl>
            {(v.method || v.reason) && <p class="muted">{v.method}{v.reason ? `: ${v.reason}` : ''}</p>}
            <p class="plugin-actions">
                <button type="button" onClick={useThem}>Use these</button>{' '}
                <button type="button" aria-expanded={open ? 'true' : 'false'} onClick={() => setOpen(!open)}>Correct…</button>
            </p>
            {msg && <p class={msg.error ? 'error' : 'ok'} role={msg.error ? 'alert' : 'status'}>{msg.text}</p>}
            {open && (
                <form class="triage-correct" onSubmit={correct}>
                    <label for="tc-category">Category</label>
                    <input id="tc-category" name="category" maxlength="100" defaultValue={t.category || ''} />
                    <label for="tc-priority">Priority</label>
                    <select id="tc-priority" name="priority">
                        <option value="">(as suggested)</option>
                        {PRIORITIES.map((p) => <option value={p}>{cap(p)}</option>)}
                    </select>
                    <label for="tc-sentiment">Sentiment</label>
                    <select id="tc-sentiment" name="sentiment">
                        <option value="">(as suggested)</option>
                        {['negative', 'neutral', 'positive'].map((p) => <option value={p}>{cap(p)}</option>)}
                    </select>
                    <button type="submit">Send the correction</button>
                </form>
            )}
        </>
    );
}
Triage.fits = (v) => v && typeof v === 'object' && (v.state === 'pending' || 'category' in v || 'priority' in v);

// ---- sla ----------------------------------------------------------------------

const CLOCKS = [['first_response', 'First response'], ['next_response', 'Next response'], ['resolution', 'Resolution']];

function duration(s) {
    const a = Math.abs(s);
    if (a < 3600)
        return `${Math.round(a / 60)} min`;
    if (a < 86400 * 2) {
        const m = Math.round(a / 60);      // rounded once: never "3 h 60 min"
        return `${Math.floor(m / 60)} h ${m % 60} min`;
    }
    return `${Math.round(a / 86400)} days`;
}

function clockText(c) {
    if (!c || !c.tracked || c.state === 'none')
        return 'not tracked';
    if (c.state === 'achieved')
        return `met${c.breached ? ' (late)' : ''}${c.achieved_at ? `, ${ago(c.achieved_at)}` : ''}`;
    if (c.breached)
        return `breached${c.breached_at ? ` ${ago(c.breached_at)}` : ''}`;
    if (c.state === 'paused')
        return `paused (waiting on the customer)${typeof c.remaining_seconds === 'number' ? `, ${duration(c.remaining_seconds)} left` : ''}`;
    if (typeof c.remaining_seconds === 'number')
        return `${duration(c.remaining_seconds)} left${c.due_at ? `, due ${when(c.due_at)}` : ''}`;
    return c.state;
}

function Sla({ v }) {
    if (!v.tracked)
        return <p class="muted">No service level applies to this ticket.</p>;
    return (
        <>
            <dl class="kv">
                {CLOCKS.map(([k, label]) => v.clocks && v.clocks[k] && (
                    <><dt>{label}</dt><dd class={v.clocks[k].breached ? 'bad' : v.clocks[k].warned ? 'warn' : ''}>{clockText(v.clocks[k])}</dd></>
                ))}
            </dl>
            {v.policy && v.policy.name && <p class="muted">Policy: {v.policy.name}</p>}
            {typeof v.risk === 'number' && <p class="muted">Risk of a breach: {pct(v.risk)}</p>}
        </>
    );
}
Sla.fits = (v) => v && typeof v === 'object' && 'tracked' in v && (!v.tracked || typeof v.clocks === 'object');

// ---- smartreply ------------------------------------------------------------------

// plugins.smartreply is {state: none|pending|done, draft: {id, method,
// result: {text, insert, sources, reason}}}; older answers carried a plain
// draft string or a list, still read.
function draftsOf(v) {
    if (typeof v.draft === 'string')
        return [{ text: v.draft, insert: v.draft }];
    if (v.draft && typeof v.draft === 'object') {
        const r = v.draft.result || {};
        const text = typeof r.text === 'string' ? r.text : null;
        if (!text)
            return [];
        const sources = Array.isArray(r.sources) ? r.sources.map((x) => x && x.title).filter(Boolean) : [];
        return [{ text, insert: typeof r.insert === 'string' && r.insert ? r.insert : text,
                  source: sources.length ? `From: ${sources.join('; ')}` : null,
                  method: v.draft.method }];
    }
    const list = Array.isArray(v.drafts) ? v.drafts : Array.isArray(v.suggestions) ? v.suggestions : [];
    return list.map((d) => (typeof d === 'string' ? { text: d, insert: d }
        : { text: d.text || d.body || '', insert: d.text || d.body || '', source: d.source || d.title }))
        .filter((d) => typeof d.text === 'string' && d.text);
}

// After "New draft" the panel asks the plugin for the ticket's drafts
// (GET /plugins/smartreply/drafts, newest first) until one newer than the
// shown one is done: every 1.5 s, for at most a minute.
const DRAFT_POLL_MS = 1500, DRAFT_POLL_FOR_MS = 60000;

function SmartReply({ t, v, onInsert }) {
    const [busy, setBusy] = useState(false);
    const [msg, setMsg] = useState(null);
    const [fresh, setFresh] = useState(null);     // a newer draft than v's
    const alive = useRef(true);
    useEffect(() => () => { alive.current = false; }, []);
    useEffect(() => setFresh(null), [t.id]);
    const shown = fresh ? { state: 'done', draft: fresh } : v;
    const drafts = draftsOf(shown);
    const reason = shown.draft && shown.draft.result && shown.draft.result.reason;
    const waitForNewer = async (after) => {
        const until = Date.now() + DRAFT_POLL_FOR_MS;
        while (alive.current && Date.now() < until) {
            await new Promise((r) => setTimeout(r, DRAFT_POLL_MS));
            try {
                const r = await get(`/plugins/smartreply/drafts?ticket_id=${t.id}`, { quiet: true });
                const d = r && Array.isArray(r.items) ? r.items[0] : null;
                if (d && typeof d.id === 'number' && d.id > after && d.state === 'done') {
                    if (alive.current) {
                        setFresh(d);
                        setMsg({ error: false, text: 'The new draft is here.' });
                    }
                    return;
                }
            } catch (e) {
                if (alive.current)
                    setMsg({ error: true, text: describe(e, 'reading the new draft') });
                return;
            }
        }
        if (alive.current)
            setMsg({ error: true, text: 'The new draft is taking long; it shows when you open the ticket again.' });
    };
    const again = async () => {
        setBusy(true);
        setMsg(null);
        const after = shown.draft && typeof shown.draft.id === 'number' ? shown.draft.id : 0;
        try {
            await post('/plugins/smartreply/drafts', { ticket_id: t.id });
            setMsg({ error: false, text: 'A new draft is being written; it shows here when ready.' });
        } catch (e) {
            setMsg({ error: true, text: describe(e, 'asking for a new draft') });
            setBusy(false);
            return;
        }
        await waitForNewer(after);
        if (alive.current)
            setBusy(false);
    };
    const pending = shown.state === 'pending' || (shown.draft && shown.draft.state === 'pending');
    return (
        <>
            {drafts.length ? (
                <ul class="suggestions">
                    {drafts.slice(0, 3).map((d) => (
                        <li>
                            <div class="text">{d.text}</div>
                            {d.source && <p class="muted">{d.source}</p>}
                            <button type="button" onClick={() => onInsert(d.insert)}>Insert into the reply</button>
                        </li>
                    ))}
                </ul>
            ) : <p class="muted">{pending ? 'Being written…' : reason ? `No suggestion: ${reason}` : 'No suggestion.'}</p>}
            {has('post', '/plugins/smartreply/drafts') && (
                <p class="plugin-actions"><button type="button" disabled={busy} onClick={again}>New draft</button></p>
            )}
            {msg && <p class={msg.error ? 'error' : 'ok'} role={msg.error ? 'alert' : 'status'}>{msg.text}</p>}
        </>
    );
}
SmartReply.fits = (v) => v && typeof v === 'object' && (typeof v.draft === 'string'
    || (v.draft && typeof v.draft === 'object') || Array.isArray(v.drafts)
    || Array.isArray(v.suggestions) || ['none', 'pending', 'done'].includes(v.state));

// ---- rag: articles for the subject -------------------------------------------------

let ragAbsent = false;     // learnt once per page: the plugin is not loaded

function Rag({ t, v, onInsert }) {
    // The plugin's part of the ticket (ranked when the ticket came in, with
    // any drafted answer) is used when there; otherwise the subject is
    // searched.
    const own = Rag.fits(v);
    const [found, setFound] = useState(null);
    useEffect(() => {
        if (own || ragAbsent || !t.subject)
            return;
        const known = has('get', '/plugins/rag/search');
        get(`/plugins/rag/search?q=${encodeURIComponent(t.subject.slice(0, 300))}&limit=3`, { quiet: true })
            .then((r) => setFound(Array.isArray(r.items) ? r.items : []))
            .catch((e) => {
                if (!known && (e.status === 404 || e.status === 405))
                    ragAbsent = true;
                setFound(null);
            });
    }, [t.id, own]);
    const items = own ? v.suggestions.slice(0, 3) : found;
    const answer = own && v.draft && v.draft.result && v.draft.result.answered && v.draft.result.answer;
    if (!items)
        return null;
    return (
        <section class="plugin plugin-rag" aria-labelledby="plugin-rag-h">
            <h2 id="plugin-rag-h">{TITLES.rag}</h2>
            {items.length === 0 ? <p class="muted">No article fits the subject.</p> : (
                <ul class="suggestions">
                    {items.map((a) => (
                        <li>
                            <strong>{a.link ? <a href={a.link}>{a.title}</a> : a.title}</strong>
                            {a.passage && a.passage.text && <div class="text muted">{a.passage.text.slice(0, 280)}</div>}
                            {a.link && <button type="button" onClick={() => onInsert(`${a.title}: ${location.origin}${a.link}`)}>Insert a link</button>}
                        </li>
                    ))}
                </ul>
            )}
            {answer && (
                <div class="rag-answer">
                    <h3>Drafted answer</h3>
                    <div class="text">{answer}</div>
                    <button type="button" onClick={() => onInsert(answer)}>Insert into the reply</button>
                </div>
            )}
        </section>
    );
}
Rag.fits = (v) => v && typeof v === 'object' && Array.isArray(v.suggestions);

// ---- anything else --------------------------------------------------------------------

function KeyValues({ v }) {
    const ref = useRef(null);
    if (v === null || typeof v !== 'object')
        return <p>{String(v)}</p>;
    const keys = Object.keys(v);
    if (!keys.length)
        return <p class="muted">Nothing to show.</p>;
    return (
        <dl class="kv" ref={ref}>
            {keys.map((k) => (
                <><dt>{k.replace(/_/g, ' ')}</dt>
                    <dd>{v[k] !== null && typeof v[k] === 'object' ? <code class="wrap">{JSON.stringify(v[k])}</code> : String(v[k])}</dd></>
            ))}
        </dl>
    );
}
