// canned.jsx -- canned responses: a title, the text agents insert into a
// reply, and the queue it belongs to (none: every queue).  Managers and
// admins write them; agents use them in the desk.
import { Crud } from './crud.jsx';
import { Input, Select, TextArea, intOrNull, useLoad, when } from './ui.jsx';

export function Canned() {
    const queues = useLoad('/queues?limit=500');
    const queueName = (id) => {
        if (!id)
            return 'every queue';
        const q = queues.data && queues.data.items.find((x) => x.id === id);
        return q ? q.name : `#${id}`;
    };
    return (
        <Crud id="canned" title="Canned responses" noun="canned response" path="/canned-responses"
              label={(c) => c.title || `#${c.id}`}
              columns={[['Title', (c) => c.title], ['Queue', (c) => queueName(c.queue_id)], ['Changed', (c) => when(c.updated_at || c.created_at)]]}
              initial={{ title: '', body: '', queue_id: '' }}
              fromItem={(c) => ({ title: c.title || '', body: c.body || '', queue_id: c.queue_id ? String(c.queue_id) : '' })}
              toBody={(v) => ({ title: v.title.trim(), body: v.body, queue_id: intOrNull(v.queue_id) })}
              fields={(form) => (
                  <>
                      <Input form={form} name="title" label="Title" required />
                      <Select form={form} name="queue_id" label="Queue"
                              options={[['', 'Every queue'], ...((queues.data && queues.data.items) || []).map((q) => [String(q.id), q.name])]} />
                      <TextArea form={form} name="body" label="Text" rows={10} required />
                  </>
              )} />
    );
}
