// mailboxes.jsx -- the IMAP mailboxes atumd fetches mail from, and their
// "Test connection" button: for a saved mailbox whose form is unchanged
// POST /mailboxes/{id}/test, otherwise POST /mailboxes/test with what the
// form holds (so a setting can be tried before it is saved).  A mailbox
// names the environment variable of atumd that holds its password
// (password_env); a password typed for a test goes with that one test
// and is never saved.
import { useState } from 'preact/hooks';
import { post } from '../desk/api.js';
import { has } from '../desk/caps.js';
import { Crud } from './crud.jsx';
import { CheckResult } from './checks.jsx';
import { Check, Input, Select, intOrNull, useLoad } from './ui.jsx';

const INITIAL = {
    name: '', queue_id: '', host: '', port: '993', security: 'tls', trust_any_certificate: false, username: '',
    password_env: '', folder: 'INBOX', after_fetch: 'move', move_to: 'Processed', enabled: true, test_password: '',
};

function fromItem(m) {
    return {
        name: m.name || '', queue_id: m.queue_id ? String(m.queue_id) : '', host: m.host || '', port: m.port ? String(m.port) : '',
        security: m.security || 'tls', trust_any_certificate: !!m.trust_any_certificate, username: m.username || '',
        password_env: m.password_env || '', folder: m.folder || '', after_fetch: m.after_fetch || 'move',
        move_to: m.move_to || '', enabled: m.enabled !== false, test_password: '',
    };
}

function toBody(v) {
    const b = {
        name: v.name.trim(), queue_id: intOrNull(v.queue_id), host: v.host.trim(), port: intOrNull(v.port),
        security: v.security, trust_any_certificate: !!v.trust_any_certificate, username: v.username,
        password_env: v.password_env.trim() ? v.password_env.trim() : null, folder: v.folder, after_fetch: v.after_fetch,
        enabled: !!v.enabled,
    };
    if (v.after_fetch === 'move')
        b.move_to = v.move_to;
    return b;
}

export function Mailboxes() {
    const queues = useLoad('/queues?limit=500');
    const [result, setResult] = useState(null);
    const queueName = (id) => {
        const q = queues.data && queues.data.items.find((x) => x.id === id);
        return q ? q.name : `#${id}`;
    };

    // the password typed for a test goes with the settings, never into them
    const testBody = (v) => {
        const b = toBody(v);
        // what is not chosen yet (the queue, say) does not matter to a test
        for (const k of Object.keys(b))
            if (b[k] === null || b[k] === '')
                delete b[k];
        if (v.test_password) {
            b.password = v.test_password;
            delete b.password_env;
        }
        return b;
    };
    const runTest = async (form, selected) => {
        setResult(null);
        const same = selected && JSON.stringify(fromItem(selected)) === JSON.stringify(form.values);
        // through the form: a field the server refuses is marked like on save
        const r = await form.submit('testing the connection', (v) =>
            (same ? post(`/mailboxes/${selected.id}/test`, {}) : post('/mailboxes/test', testBody(v))),
            Object.keys(form.values), { password: 'test_password' });
        if (r.ok)
            setResult(r.value);
    };
    const canTest = (selected) => (selected ? has('post', '/mailboxes/{id}/test') : false) || has('post', '/mailboxes/test');

    return (
        <Crud id="mailbox" title="Mailboxes" noun="mailbox" path="/mailboxes"
              intro={<p class="hint">atumd fetches mail from these IMAP folders into their queue. The password is read from the
                  environment variable of atumd the mailbox names (ATUM_IMAP_PASSWORD_…), never stored here.</p>}
              columns={[['Name', (m) => m.name], ['Queue', (m) => queueName(m.queue_id)], ['Server', (m) => `${m.host}:${m.port}`],
                        ['State', (m) => (!m.enabled ? 'disabled' : m.last_error ? <span class="bad">{m.last_error}</span> : m.last_ok_at ? 'fetching' : 'not fetched yet')]]}
              initial={INITIAL} fromItem={fromItem} toBody={toBody}
              afterSave={() => setResult(null)}
              fields={(form) => (
                  <>
                      <Input form={form} name="name" label="Name" required />
                      <Select form={form} name="queue_id" label="Queue"
                              options={[['', 'Choose…'], ...((queues.data && queues.data.items) || []).map((q) => [String(q.id), q.name])]} />
                      <Input form={form} name="host" label="IMAP server" required autocomplete="off" />
                      <Input form={form} name="port" label="Port" inputmode="numeric" required />
                      <Select form={form} name="security" label="Security"
                              options={[['tls', 'TLS (port 993)'], ['starttls', 'STARTTLS (port 143)'], ['none', 'None (loopback only)']]} />
                      <Check form={form} name="trust_any_certificate" label="Accept any certificate (loopback only)" />
                      <Input form={form} name="username" label="User name" required autocomplete="off" />
                      <Input form={form} name="password_env" label="Password variable" autocomplete="off"
                             hint="The environment variable of atumd holding the password: ATUM_IMAP_PASSWORD_NAME." />
                      <Input form={form} name="folder" label="Folder" />
                      <Select form={form} name="after_fetch" label="After fetching a mail"
                              options={[['move', 'Move it to a folder'], ['seen', 'Mark it seen'], ['delete', 'Delete it']]} />
                      {form.values.after_fetch === 'move' ? <Input form={form} name="move_to" label="Move to folder" /> : null}
                      <Check form={form} name="enabled" label="Fetch from this mailbox" />
                      {canTest(null) ? (
                          <Input form={form} name="test_password" label="Password to test with (optional)" type="password" autocomplete="off"
                                 hint="Only for “Test connection”, never saved: empty tests with the variable's password." />
                      ) : null}
                  </>
              )}
              formAfter={(form, selected) => (canTest(selected) ? (
                  <button type="button" onClick={() => runTest(form, selected)} disabled={form.busy}>
                      Test connection
                  </button>
              ) : null)}
              onPick={() => setResult(null)}
              formBelow={() => (
                  <CheckResult id="mailbox-test" result={result} />
              )} />
    );
}
