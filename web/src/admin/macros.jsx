// macros.jsx -- macros: a text agents send in one step (a reply or a
// note, with placeholders) and the ticket fields it changes at the same
// time (its `actions`: status, priority, category, assignee, queue), for
// every queue or one.  Managers and admins write them (POST/PATCH/DELETE
// /macros); agents apply them in the desk.  Each action is a field of its
// own; "Leave as is" leaves the key out of `actions`, so a macro changes
// only what it names.
import { Crud } from './crud.jsx';
import { Input, Select, TextArea, intOrNull, useLoad, when } from './ui.jsx';

const STATUSES = ['new', 'open', 'pending', 'solved', 'closed'];
const PRIORITIES = ['low', 'normal', 'high', 'urgent'];
const LEAVE = ['', 'Leave as is'];

const INITIAL = {
    title: '', visibility: 'public', queue_id: '', body: '',
    act_status: '', act_priority: '', act_category_mode: '', act_category: '', act_assignee: '', act_queue_id: '',
};

// the API's field names -> the form's (a refused action is marked on its own field)
const ALIAS = {
    'actions.status': 'act_status',
    'actions.priority': 'act_priority',
    'actions.category': 'act_category',
    'actions.assignee_id': 'act_assignee',
    'actions.queue_id': 'act_queue_id',
};

function fromItem(m) {
    const a = m.actions || {};
    const has = (k) => Object.prototype.hasOwnProperty.call(a, k);
    let assignee = '';
    if (has('assignee_id'))
        assignee = a.assignee_id === null ? 'none' : String(a.assignee_id);
    return {
        title: m.title || '', visibility: m.visibility || 'public',
        queue_id: m.queue_id ? String(m.queue_id) : '', body: m.body || '',
        act_status: a.status || '', act_priority: a.priority || '',
        act_category_mode: !has('category') ? '' : a.category === null ? 'clear' : 'set',
        act_category: has('category') && a.category !== null ? a.category : '',
        act_assignee: assignee,
        act_queue_id: has('queue_id') ? String(a.queue_id) : '',
    };
}

// The whole actions object goes with every save (PATCH replaces it):
// what the form shows is what the macro does.
function toBody(v) {
    const actions = {};
    if (v.act_status)
        actions.status = v.act_status;
    if (v.act_priority)
        actions.priority = v.act_priority;
    if (v.act_category_mode === 'set')
        actions.category = v.act_category.trim();
    else if (v.act_category_mode === 'clear')
        actions.category = null;
    if (v.act_assignee === 'me')
        actions.assignee_id = 'me';
    else if (v.act_assignee === 'none')
        actions.assignee_id = null;
    else if (v.act_assignee)
        actions.assignee_id = intOrNull(v.act_assignee);
    if (v.act_queue_id)
        actions.queue_id = intOrNull(v.act_queue_id);
    return { title: v.title.trim(), visibility: v.visibility, queue_id: intOrNull(v.queue_id), body: v.body, actions };
}

// "status → solved, assignee → me" for the list
function summary(m, userName, queueName) {
    const a = m.actions || {};
    const parts = [];
    if (a.status)
        parts.push(`status → ${a.status}`);
    if (a.priority)
        parts.push(`priority → ${a.priority}`);
    if ('category' in a)
        parts.push(a.category === null ? 'category cleared' : `category → ${a.category}`);
    if ('assignee_id' in a)
        parts.push(a.assignee_id === null ? 'unassigned' : a.assignee_id === 'me' ? 'assignee → whoever applies it'
            : `assignee → ${userName(a.assignee_id)}`);
    if ('queue_id' in a)
        parts.push(`queue → ${queueName(a.queue_id)}`);
    return parts.length ? parts.join(', ') : 'none';
}

export function Macros() {
    const queues = useLoad('/queues?limit=500');
    const users = useLoad('/users?limit=500');
    const queueItems = (queues.data && queues.data.items) || [];
    const staff = ((users.data && users.data.items) || []).filter((u) => u.role !== 'customer');
    const queueName = (id) => {
        const q = queueItems.find((x) => x.id === id);
        return q ? q.name : `#${id}`;
    };
    const userName = (id) => {
        const u = staff.find((x) => x.id === id);
        return u ? u.email : `#${id}`;
    };
    const queueOptions = queueItems.map((q) => [String(q.id), q.name]);
    return (
        <Crud id="macro" title="Macros" noun="macro" path="/macros" listPath="/macros"
              label={(m) => m.title || `#${m.id}`}
              columns={[
                  ['Title', (m) => m.title],
                  ['Sent as', (m) => (m.body ? (m.visibility === 'internal' ? 'note' : 'reply') : 'no text')],
                  ['Queue', (m) => (m.queue_id ? queueName(m.queue_id) : 'every queue')],
                  ['Changes', (m) => summary(m, userName, queueName)],
                  ['Changed', (m) => when(m.updated_at || m.created_at)],
              ]}
              initial={INITIAL} fromItem={fromItem} toBody={toBody} alias={ALIAS}
              fields={(form) => (
                  <>
                      <Input form={form} name="title" label="Title" required maxLength={200} />
                      <Select form={form} name="visibility" label="Sent as"
                              options={[['public', 'A reply to the customer'], ['internal', 'An internal note']]} />
                      <Select form={form} name="queue_id" label="Queue"
                              hint="Agents see and apply the macro on this queue's tickets only."
                              options={[['', 'Every queue'], ...queueOptions]} />
                      <TextArea form={form} name="body" label="Text" rows={8}
                                hint="May be empty when the macro only changes fields. Placeholders: {{customer.name}}, {{customer.email}}, {{ticket.number}}, {{ticket.subject}}, {{agent.name}}, {{agent.email}}, {{queue.name}}, {{org.name}}." />
                      <fieldset class="actions">
                          <legend>What it changes on the ticket</legend>
                          <Select form={form} name="act_status" label="Status"
                                  options={[LEAVE, ...STATUSES.map((s) => [s, s])]} />
                          <Select form={form} name="act_priority" label="Priority"
                                  options={[LEAVE, ...PRIORITIES.map((p) => [p, p])]} />
                          <Select form={form} name="act_category_mode" label="Category"
                                  options={[LEAVE, ['set', 'Set it to…'], ['clear', 'Clear it']]} />
                          {form.values.act_category_mode === 'set' ? (
                              <Input form={form} name="act_category" label="New category" />
                          ) : null}
                          <Select form={form} name="act_assignee" label="Assignee"
                                  options={[LEAVE, ['me', 'Whoever applies it'], ['none', 'Nobody (unassign)'],
                                            ...staff.map((u) => [String(u.id), u.name ? `${u.name} <${u.email}>` : u.email])]} />
                          <Select form={form} name="act_queue_id" label="Move to queue"
                                  options={[LEAVE, ...queueOptions]} />
                      </fieldset>
                  </>
              )} />
    );
}
