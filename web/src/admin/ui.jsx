// ui.jsx -- the admin pages' building blocks: loading a list from the
// API, a form whose values live in state (so a failed submit keeps every
// character typed) with the problem document's `field` error shown next
// to that field, and the inputs that go with it.  The field and its error
// markup are the portal's (../portal/form.jsx), imported, not copied.
import { useEffect, useRef, useState } from 'preact/hooks';
import { describe, get } from '../desk/api.js';
import { Field, described } from '../portal/form.jsx';
import { when } from '../desk/format.js';

export { when };

// GET path (null: nothing yet) -> { data, error, loading, reload }
export function useLoad(path) {
    const [state, setState] = useState({ data: null, error: null, loading: !!path });
    const [round, setRound] = useState(0);
    useEffect(() => {
        if (!path) {
            setState({ data: null, error: null, loading: false });
            return undefined;
        }
        let live = true;
        setState((s) => ({ ...s, loading: true }));
        get(path)
            .then((data) => live && setState({ data, error: null, loading: false }))
            .catch((e) => live && setState({ data: null, error: describe(e, 'loading this page'), loading: false }));
        return () => { live = false; };
    }, [path, round]);
    return { ...state, reload: () => setRound((r) => r + 1) };
}

// A form's state.  id prefixes the inputs' ids (id-NAME); initial gives
// the fields and their first values.  submit(what, fn) calls fn(values);
// when the API refuses, the error goes next to the field it names (or
// above the form) and the values stay as they were.
export function useForm(id, initial) {
    const [values, setValues] = useState(initial);
    const [errors, setErrors] = useState({});
    const [message, setMessage] = useState(null);      // { text, ok }
    const [busy, setBusy] = useState(false);
    const focusNext = useRef(null);

    useEffect(() => {
        if (!focusNext.current)
            return;
        const el = document.getElementById(focusNext.current);
        focusNext.current = null;
        if (el)
            el.focus();
    });

    const form = {
        id,
        values,
        errors,
        message,
        busy,
        set: (name, v) => {
            setValues((prev) => ({ ...prev, [name]: v }));
            if (errors[name])
                setErrors((prev) => ({ ...prev, [name]: undefined }));
        },
        reset: (v) => {
            setValues(v);
            setErrors({});
            setMessage(null);
        },
        say: (text, ok = true) => setMessage(text ? { text, ok } : null),
        // fields: the names a problem's `field` may carry that this form
        // shows; alias: the API's name of a field -> the form's (the whole
        // name first, "actions.status", then its head, "actions")
        async submit(what, fn, fields = Object.keys(values), alias = {}) {
            setBusy(true);
            setErrors({});
            setMessage(null);
            try {
                return { ok: true, value: await fn(values) };
            } catch (e) {
                const text = describe(e, what);
                const named = e && e.field ? fieldName(e.field) : null;
                const field = e && e.field && alias[e.field] ? alias[e.field]
                    : named && alias[named] ? alias[named] : named;
                if (field && fields.includes(field)) {
                    setErrors({ [field]: text });
                    setMessage({ text: 'Nothing was saved: correct the marked field and try again.', ok: false });
                    focusNext.current = `${id}-${field}`;
                } else {
                    setMessage({ text, ok: false });
                }
                return { ok: false, error: e };
            } finally {
                setBusy(false);
            }
        },
    };
    return form;
}

// "events[2]" or "settings.x" name the field "events" / "settings"
function fieldName(f) {
    return String(f).split(/[.[]/)[0];
}

export function FormMessage({ form }) {
    if (!form.message)
        return null;
    const { text, ok } = form.message;
    return <p class={ok ? 'ok' : 'error'} role={ok ? 'status' : 'alert'} id={`${form.id}-message`}>{text}</p>;
}

export function Input({ form, name, label, hint, type = 'text', ...rest }) {
    const id = `${form.id}-${name}`;
    const error = form.errors[name];
    const v = form.values[name];
    return (
        <Field id={id} label={label} error={error} hint={hint}>
            <input id={id} name={name} type={type} value={v === null || v === undefined ? '' : v}
                   onInput={(e) => form.set(name, e.currentTarget.value)} {...described(id, error, hint)} {...rest} />
        </Field>
    );
}

export function TextArea({ form, name, label, hint, rows = 6, ...rest }) {
    const id = `${form.id}-${name}`;
    const error = form.errors[name];
    return (
        <Field id={id} label={label} error={error} hint={hint}>
            <textarea id={id} name={name} rows={rows} value={form.values[name] || ''}
                      onInput={(e) => form.set(name, e.currentTarget.value)} {...described(id, error, hint)} {...rest} />
        </Field>
    );
}

// options: [[value, label], ...]
export function Select({ form, name, label, hint, options, ...rest }) {
    const id = `${form.id}-${name}`;
    const error = form.errors[name];
    const v = form.values[name];
    return (
        <Field id={id} label={label} error={error} hint={hint}>
            <select id={id} name={name} value={v === null || v === undefined ? '' : String(v)}
                    onChange={(e) => form.set(name, e.currentTarget.value)} {...described(id, error, hint)} {...rest}>
                {options.map(([value, text]) => <option key={value} value={value}>{text}</option>)}
            </select>
        </Field>
    );
}

export function Check({ form, name, label, hint }) {
    const id = `${form.id}-${name}`;
    const error = form.errors[name];
    return (
        <div class={`field check${error ? ' has-error' : ''}`}>
            <input id={id} name={name} type="checkbox" checked={!!form.values[name]}
                   onChange={(e) => form.set(name, e.currentTarget.checked)} {...described(id, error, hint)} />
            <label for={id}>{label}</label>
            {hint ? <p class="hint" id={`${id}-hint`}>{hint}</p> : null}
            {error ? <p class="field-error" id={`${id}-error`} role="alert">{error}</p> : null}
        </div>
    );
}

// The state of a list: loading, its error, or nothing in it.
export function ListState({ load, empty, what }) {
    if (load.error)
        return <p class="error" role="alert">{load.error}</p>;
    if (load.loading && !load.data)
        return <p class="loading" role="status">Loading {what}…</p>;
    if (load.data && empty)
        return <p class="empty">{empty}</p>;
    return null;
}

// Integer or null from a text field ("" -> null); NaN stays NaN for the
// API to refuse by name.
export function intOrNull(v) {
    if (v === '' || v === null || v === undefined)
        return null;
    return /^-?[0-9]+$/.test(String(v).trim()) ? Number(String(v).trim()) : String(v);
}

// An action button's own little state: busy, and what became of it.
export function useAction() {
    const [state, setState] = useState({ busy: null, text: null, ok: true });
    return {
        ...state,
        async run(key, what, fn, done) {
            setState({ busy: key, text: null, ok: true });
            try {
                const r = await fn();
                setState({ busy: null, text: done ? done(r) : null, ok: true });
                return r;
            } catch (e) {
                setState({ busy: null, text: describe(e, what), ok: false });
                return undefined;
            }
        },
        clear: () => setState({ busy: null, text: null, ok: true }),
    };
}

export function ActionMessage({ action, id }) {
    if (!action.text)
        return null;
    return <p id={id} class={action.ok ? 'ok' : 'error'} role={action.ok ? 'status' : 'alert'}>{action.text}</p>;
}
