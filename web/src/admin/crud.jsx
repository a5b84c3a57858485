// crud.jsx -- the shape most admin pages share: a table of rows from
// GET path, and beside it one form that creates a row (POST path) or
// changes the chosen one (PATCH path/{id}), and deletes it (DELETE, after
// a confirmation).  A page gives its columns, its fields (rendered from
// the form: see ui.jsx), how a row becomes form values and form values a
// request body (alias: the API's field names -> the form's, for errors),
// and may add sections below the form for the chosen row.
import { useState } from 'preact/hooks';
import { del, patch, post } from '../desk/api.js';
import { announce } from '../desk/ui.jsx';
import { ActionMessage, FormMessage, ListState, useAction, useForm, useLoad } from './ui.jsx';

export function Crud({
    id, title, noun, path, listPath, columns, initial, fromItem, toBody, fields, label,
    canCreate = true, canChange = true, canDelete = true, below, formAfter, formBelow, afterSave, onPick, intro,
    alias,
}) {
    const list = useLoad(listPath || `${path}?limit=500`);
    const [selected, setSelected] = useState(null);
    const form = useForm(id, initial);
    const action = useAction();
    const items = (list.data && list.data.items) || [];
    const nameOf = label || ((x) => x.name || `#${x.id}`);

    const pick = (row) => {
        setSelected(row);
        action.clear();
        form.reset(row ? fromItem(row) : initial);
        if (onPick)
            onPick(row);
        setTimeout(() => {
            const first = document.querySelector(`#${id}-form input:not([type=hidden]), #${id}-form select, #${id}-form textarea`);
            if (first)
                first.focus();
        }, 0);
    };

    const save = async (ev) => {
        ev.preventDefault();
        const r = await form.submit(selected ? `saving the ${noun}` : `creating the ${noun}`, (v) =>
            selected ? patch(`${path}/${selected.id}`, toBody(v, selected)) : post(path, toBody(v, null)),
            undefined, alias);
        if (r.ok) {
            const row = r.value && r.value.id ? r.value : selected;
            const created = !selected;
            setSelected(row);
            form.reset(row ? fromItem(row) : initial);
            form.say(created ? `Created ${nameOf(row)}.` : `Saved ${nameOf(row)}.`);
            announce(created ? 'Created.' : 'Saved.');
            list.reload();
            if (afterSave)
                afterSave(r.value, created, form);
        }
    };

    const remove = async () => {
        if (!window.confirm(`Delete ${noun} ${nameOf(selected)}?`))
            return;
        const r = await action.run('delete', `deleting the ${noun}`, async () => {
            await del(`${path}/${selected.id}`);
            return true;
        });
        if (r) {
            const gone = nameOf(selected);
            pick(null);
            form.say(`Deleted ${gone}.`);
            list.reload();
        }
    };

    const writable = selected ? canChange : canCreate;
    return (
        <section aria-labelledby={`${id}-page-heading`}>
            <h1 id={`${id}-page-heading`}>{title}</h1>
            {intro || null}
            <div class="split">
                <div class="list-pane">
                    <ListState load={list} what={title.toLowerCase()} empty={items.length ? null : `No ${noun}s yet.`} />
                    {items.length >= 500 ? <p class="hint" role="status">The first 500 are shown.</p> : null}
                    {items.length ? (
                        <table class="rows" id={`${id}-list`}>
                            <caption class="sr-only">{title}</caption>
                            <thead><tr>{columns.map(([h]) => <th scope="col" key={h}>{h}</th>)}</tr></thead>
                            <tbody>
                                {items.map((row) => (
                                    <tr key={row.id} class={selected && selected.id === row.id ? 'chosen' : ''}>
                                        {columns.map(([h, cell], i) => (
                                            <td key={h}>
                                                {i === 0 ? (
                                                    <button type="button" class="link" onClick={() => pick(row)}
                                                            aria-label={`${canChange ? 'Edit' : 'Open'} ${nameOf(row)}`}>{cell(row)}</button>
                                                ) : cell(row)}
                                            </td>
                                        ))}
                                    </tr>
                                ))}
                            </tbody>
                        </table>
                    ) : null}
                </div>
                <div class="form-pane">
                    {writable || selected ? (
                        <form id={`${id}-form`} onSubmit={save} aria-labelledby={`${id}-form-heading`} novalidate>
                            <h2 id={`${id}-form-heading`}>{selected ? `${canChange ? 'Edit' : ''} ${nameOf(selected)}`.trim() : `New ${noun}`}</h2>
                            <FormMessage form={form} />
                            <fieldset disabled={!writable} class="plain">
                                {fields(form, selected)}
                            </fieldset>
                            <div class="buttons">
                                {writable ? (
                                    <button type="submit" class="primary" disabled={form.busy}>
                                        {form.busy ? 'Saving…' : selected ? 'Save' : `Create ${noun}`}
                                    </button>
                                ) : null}
                                {formAfter ? formAfter(form, selected) : null}
                                {selected && canCreate ? <button type="button" onClick={() => pick(null)}>New {noun}</button> : null}
                                {selected && canDelete ? (
                                    <button type="button" class="danger" onClick={remove} disabled={!!action.busy}>Delete</button>
                                ) : null}
                            </div>
                            <ActionMessage action={action} id={`${id}-action-message`} />
                            {formBelow ? formBelow(form, selected) : null}
                        </form>
                    ) : <p class="hint">Choose a row to see it.</p>}
                    {selected && below ? below(selected, list.reload) : null}
                </div>
            </div>
        </section>
    );
}
