// users.jsx -- users and roles: the list (search, role), one form to
// create or change an account (e-mail, name, role, organisation, password),
// and the actions on one account: invite a customer to the portal
// (POST /users/{id}/invite), disable (DELETE /users/{id}) or enable
// (PATCH disabled: false), reset two-factor sign-in (POST
// /users/{id}/totp/reset, where the server has it).  Managers may create
// and change customers and agents only (the API says so; the role list
// offers only those).
import { useState } from 'preact/hooks';
import { del, patch, post } from '../desk/api.js';
import { has } from '../desk/caps.js';
import { announce } from '../desk/ui.jsx';
import { ActionMessage, Check, FormMessage, Input, ListState, Select, intOrNull, useAction, useForm, useLoad, when } from './ui.jsx';

const ROLES = ['customer', 'agent', 'manager', 'admin'];
const EMPTY = { email: '', name: '', role: 'customer', org_id: '', org_access: false, password: '' };

function fromUser(u) {
    return { email: u.email || '', name: u.name || '', role: u.role, org_id: u.org_id ? String(u.org_id) : '',
             org_access: !!u.org_access, password: '' };
}

function bodyOf(v) {
    return { email: v.email.trim(), name: v.name.trim(), role: v.role, org_id: intOrNull(v.org_id), org_access: !!v.org_access };
}

export function Users({ me }) {
    const [filter, setFilter] = useState({ q: '', role: '' });
    const [typed, setTyped] = useState({ q: '', role: '' });
    const qs = new URLSearchParams({ limit: '200' });
    if (filter.q)
        qs.set('q', filter.q);
    if (filter.role)
        qs.set('role', filter.role);
    const list = useLoad(`/users?${qs}`);
    const orgs = useLoad('/orgs?limit=500');
    const [selected, setSelected] = useState(null);     // a user, or null: a new one
    const form = useForm('user', EMPTY);
    const action = useAction();
    const roles = me.role === 'admin' ? ROLES : ['customer', 'agent'];
    const items = (list.data && list.data.items) || [];
    const orgName = (id) => {
        const o = orgs.data && orgs.data.items.find((x) => x.id === id);
        return o ? o.name : id ? `#${id}` : '';
    };

    const pick = (u) => {
        setSelected(u);
        action.clear();
        form.reset(u ? fromUser(u) : EMPTY);
        setTimeout(() => { const el = document.getElementById('user-email'); if (el) el.focus(); }, 0);
    };

    const save = async (ev) => {
        ev.preventDefault();
        const r = await form.submit(selected ? 'saving the user' : 'creating the user', (v) => {
            const body = bodyOf(v);
            if (selected) {
                // only what changed: a manager may not even name an admin's role
                const old = bodyOf(fromUser(selected));
                for (const k of Object.keys(body))
                    if (JSON.stringify(body[k]) === JSON.stringify(old[k]))
                        delete body[k];
            } else if (body.org_id === null) {
                delete body.org_id;
            }
            if (v.password)
                body.password = v.password;
            return selected ? patch(`/users/${selected.id}`, body) : post('/users', body);
        });
        if (r.ok) {
            const u = r.value;
            setSelected(u);
            form.reset(fromUser(u));
            form.say(selected ? `Saved ${u.email}.` : `Created ${u.email}.`);
            announce(selected ? 'Saved.' : 'Created.');
            list.reload();
        }
    };

    const act = (key, what, fn, done) => action.run(key, what, fn, done).then((r) => {
        if (r !== undefined)
            list.reload();
        return r;
    });
    const invite = () => act('invite', 'inviting', () => post(`/users/${selected.id}/invite`),
                             () => `An invitation to the portal is on its way to ${selected.email}.`);
    const disable = () => act('disable', 'disabling the account', async () => {
        await del(`/users/${selected.id}`);
        setSelected({ ...selected, disabled: true });
        return true;
    }, () => `${selected.email} is disabled: signed out everywhere, API tokens ended.`);
    const enable = () => act('enable', 'enabling the account', async () => {
        const u = await patch(`/users/${selected.id}`, { disabled: false });
        setSelected(u);
        return u;
    }, () => `${selected.email} is enabled again.`);
    const resetTotp = () => act('totp', 'resetting two-factor sign-in', () => post(`/users/${selected.id}/totp/reset`),
                                () => `Two-factor sign-in of ${selected.email} is off and its sessions and API tokens are ended: it signs in with its password and can enrol again.`);

    const applyFilter = (ev) => {
        ev.preventDefault();
        setFilter({ ...typed, q: typed.q.trim() });
    };

    return (
        <section aria-labelledby="users-title">
            <h1 id="users-title">Users and roles</h1>
            <div class="split">
                <div class="list-pane">
                    <form class="filters" role="search" aria-label="Find users" onSubmit={applyFilter}>
                        <label for="users-q">Name or e-mail</label>
                        <input id="users-q" type="search" value={typed.q} onInput={(e) => setTyped({ ...typed, q: e.currentTarget.value })} />
                        <label for="users-role">Role</label>
                        <select id="users-role" value={typed.role} onChange={(e) => setTyped({ ...typed, role: e.currentTarget.value })}>
                            <option value="">Any</option>
                            {ROLES.map((r) => <option key={r} value={r}>{r}</option>)}
                        </select>
                        <button type="submit">Find</button>
                    </form>
                    <ListState load={list} what="users" empty={items.length ? null : 'No users match.'} />
                    {items.length >= 200 ? <p class="hint" role="status">The first 200 are shown: search to find the others.</p> : null}
                    {items.length ? (
                        <table class="rows">
                            <caption class="sr-only">Users</caption>
                            <thead><tr><th scope="col">E-mail</th><th scope="col">Name</th><th scope="col">Role</th><th scope="col">Organisation</th><th scope="col">State</th></tr></thead>
                            <tbody>
                                {items.map((u) => (
                                    <tr key={u.id} class={selected && selected.id === u.id ? 'chosen' : ''}>
                                        <td><button type="button" class="link" onClick={() => pick(u)} aria-label={`Edit ${u.email}`}>{u.email}</button></td>
                                        <td>{u.name}</td>
                                        <td>{u.role}</td>
                                        <td>{orgName(u.org_id)}</td>
                                        <td>{u.disabled ? <span class="bad">disabled</span> : u.has_password === false ? 'no password yet' : 'active'}</td>
                                    </tr>
                                ))}
                            </tbody>
                        </table>
                    ) : null}
                </div>
                <div class="form-pane">
                    <form onSubmit={save} aria-labelledby="user-form-title" novalidate>
                        <h2 id="user-form-title">{selected ? `Edit ${selected.email}` : 'New user'}</h2>
                        {selected ? <p class="hint">Created {when(selected.created_at)}{selected.disabled ? ' · disabled' : ''}</p> : null}
                        <FormMessage form={form} />
                        <Input form={form} name="email" label="E-mail address" type="email" autocomplete="off" required />
                        <Input form={form} name="name" label="Name" autocomplete="off" />
                        <Select form={form} name="role" label="Role" options={(roles.includes(form.values.role) ? roles : [form.values.role, ...roles]).map((r) => [r, r])} />
                        <Select form={form} name="org_id" label="Organisation"
                                options={[['', 'None'], ...((orgs.data && orgs.data.items) || []).map((o) => [String(o.id), o.name])]} />
                        <Check form={form} name="org_access" label="Sees the organisation's tickets" />
                        <Input form={form} name="password" label={selected ? 'New password' : 'Password'} type="password" autocomplete="new-password"
                               hint={selected ? 'Leave empty to keep the password.' : 'At least 10 characters. Leave empty for a customer you will invite.'} />
                        <div class="buttons">
                            <button type="submit" class="primary" disabled={form.busy}>{form.busy ? 'Saving…' : selected ? 'Save' : 'Create user'}</button>
                            {selected ? <button type="button" onClick={() => pick(null)}>New user</button> : null}
                        </div>
                    </form>
                    {selected ? (
                        <section class="actions" aria-labelledby="user-actions-title">
                            <h2 id="user-actions-title">Account actions</h2>
                            <ActionMessage action={action} id="user-action-message" />
                            {selected.role === 'customer' && !selected.disabled ? (
                                <button type="button" onClick={invite} disabled={!!action.busy}>Invite to the portal</button>
                            ) : null}
                            {selected.disabled ? (
                                <button type="button" onClick={enable} disabled={!!action.busy}>Enable account</button>
                            ) : selected.id !== me.id ? (
                                <button type="button" class="danger" onClick={disable} disabled={!!action.busy}>Disable account</button>
                            ) : null}
                            {has('post', '/users/{id}/totp/reset') && selected.id !== me.id && !selected.disabled ? (
                                <button type="button" onClick={resetTotp} disabled={!!action.busy}>Reset two-factor sign-in</button>
                            ) : null}
                        </section>
                    ) : null}
                </div>
            </div>
        </section>
    );
}
