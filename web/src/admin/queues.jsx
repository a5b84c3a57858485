// queues.jsx -- queues (name, address; admins create, change and delete
// them) and their members (the agents who work the queue; managers and
// admins add and remove them: PUT/DELETE /queues/{id}/members/{user_id}).
import { useState } from 'preact/hooks';
import { del, request } from '../desk/api.js';
import { announce } from '../desk/ui.jsx';
import { Crud } from './crud.jsx';
import { ActionMessage, Input, ListState, useAction, useLoad, when } from './ui.jsx';

export function Queues({ me }) {
    const admin = me.role === 'admin';
    return (
        <Crud id="queue" title="Queues and members" noun="queue" path="/queues"
              canCreate={admin} canChange={admin} canDelete={admin}
              columns={[['Name', (q) => q.name], ['Address', (q) => q.address], ['Created', (q) => when(q.created_at)]]}
              initial={{ name: '', address: '' }}
              fromItem={(q) => ({ name: q.name || '', address: q.address || '' })}
              toBody={(v) => ({ name: v.name.trim(), address: v.address.trim() })}
              fields={(form) => (
                  <>
                      <Input form={form} name="name" label="Name" required />
                      <Input form={form} name="address" label="Address" type="email" required
                             hint="Mail to this address opens tickets in the queue; replies go out from it." />
                  </>
              )}
              below={(q) => <Members queue={q} key={q.id} />} />
    );
}

function Members({ queue }) {
    const detail = useLoad(`/queues/${queue.id}`);
    const staff = useLoad('/users?limit=500');
    const [pick, setPick] = useState('');
    const action = useAction();
    const members = (detail.data && detail.data.members) || [];
    const candidates = ((staff.data && staff.data.items) || [])
        .filter((u) => u.role !== 'customer' && !u.disabled && !members.some((m) => m.id === u.id));

    const add = async (ev) => {
        ev.preventDefault();
        if (!pick)
            return;
        const u = candidates.find((c) => String(c.id) === pick);
        const r = await action.run('add', 'adding the member', async () => {
            await request('PUT', `/queues/${queue.id}/members/${pick}`);
            return true;
        }, () => `${u ? u.email : 'The agent'} works ${queue.name} now.`);
        if (r) {
            setPick('');
            detail.reload();
            announce('Member added.');
        }
    };
    const remove = async (m) => {
        const r = await action.run(`rm${m.id}`, 'removing the member', async () => {
            await del(`/queues/${queue.id}/members/${m.id}`);
            return true;
        }, () => `${m.email} no longer works ${queue.name}.`);
        if (r)
            detail.reload();
    };

    return (
        <section class="below" aria-labelledby="members-title">
            <h2 id="members-title">Members of {queue.name}</h2>
            <ActionMessage action={action} id="members-message" />
            <ListState load={detail} what="members" empty={members.length ? null : 'No agent works this queue yet.'} />
            {members.length ? (
                <ul class="members">
                    {members.map((m) => (
                        <li key={m.id}>
                            <span>{m.name ? `${m.name} <${m.email}>` : m.email}</span>
                            <button type="button" class="small" onClick={() => remove(m)} disabled={!!action.busy}
                                    aria-label={`Remove ${m.email} from ${queue.name}`}>Remove</button>
                        </li>
                    ))}
                </ul>
            ) : null}
            <form class="inline" onSubmit={add} aria-label={`Add a member to ${queue.name}`}>
                <label for="member-add">Add an agent</label>
                <select id="member-add" value={pick} onChange={(e) => setPick(e.currentTarget.value)}>
                    <option value="">Choose…</option>
                    {candidates.map((u) => <option key={u.id} value={String(u.id)}>{u.name ? `${u.name} <${u.email}>` : u.email} ({u.role})</option>)}
                </select>
                <button type="submit" disabled={!pick || !!action.busy}>Add</button>
            </form>
        </section>
    );
}
