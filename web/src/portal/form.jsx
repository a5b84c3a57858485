// form.jsx -- the portal's form pieces: a labelled field whose error (from
// the API's problem document, field by field) sits next to it, and the
// form-level message.  What was typed stays when a submit fails.
import { describe } from '../desk/api.js';

export function Field({ id, label, error, hint, children }) {
    return (
        <div class={`field${error ? ' has-error' : ''}`}>
            <label for={id}>{label}</label>
            {hint ? <p class="hint" id={`${id}-hint`}>{hint}</p> : null}
            {children}
            {error ? <p class="field-error" id={`${id}-error`} role="alert">{error}</p> : null}
        </div>
    );
}

// aria attributes of an input with Field's hint and error
export function described(id, error, hint) {
    const ids = [hint ? `${id}-hint` : null, error ? `${id}-error` : null].filter(Boolean);
    return { 'aria-invalid': error ? 'true' : undefined, 'aria-describedby': ids.length ? ids.join(' ') : undefined };
}

// Splits an API error into {field: sentence} or {form: sentence}.
export function problemOf(err, fields, what) {
    const text = describe(err, what);
    if (err && err.field && fields.includes(err.field))
        return { [err.field]: text };
    return { form: text };
}

export function FormMessage({ text, ok }) {
    if (!text)
        return null;
    return <p class={ok ? 'notice' : 'error'} role={ok ? 'status' : 'alert'}>{text}</p>;
}
