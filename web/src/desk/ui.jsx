// ui.jsx -- small shared pieces: a field's error, a status badge, the
// polite live region for announcements.

import { cap } from './format.js';

export function FieldError({ show, id, text }) {
    if (!show)
        return null;
    return <p class="field-error" id={id} role="alert">{text}</p>;
}

export function Badge({ kind, value }) {
    if (!value)
        return null;
    return <span class={`badge ${kind}-${value}`}>{cap(value)}</span>;
}

let announcer = null;

export function Announcer() {
    return <div class="sr-only" role="status" aria-live="polite" ref={(el) => { announcer = el; }} />;
}

// Says text to screen readers (and shows nothing).
export function announce(text) {
    if (!announcer)
        return;
    announcer.textContent = '';
    setTimeout(() => { if (announcer) announcer.textContent = text; }, 30);
}
