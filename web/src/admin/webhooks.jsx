// webhooks.jsx -- webhooks: the URL, the events it gets (ticket.created,
// message.added, ... or * for all), on or off; the signing secret shown
// once, when the webhook is created; and its latest deliveries with their
// results.
import { useState } from 'preact/hooks';
import { Crud } from './crud.jsx';
import { Check, Input, ListState, useLoad, when } from './ui.jsx';

const split = (s) => s.split(/[\s,]+/).map((x) => x.trim()).filter(Boolean);

export function Webhooks() {
    const [secret, setSecret] = useState(null);
    return (
        <Crud id="webhook" title="Webhooks" noun="webhook" path="/webhooks" label={(w) => w.url}
              columns={[['URL', (w) => w.url], ['Events', (w) => (w.events || []).join(', ')], ['State', (w) => (w.enabled === false ? 'off' : 'on')]]}
              initial={{ url: '', events: '', enabled: true }}
              fromItem={(w) => ({ url: w.url || '', events: (w.events || []).join(', '), enabled: w.enabled !== false })}
              toBody={(v) => ({ url: v.url.trim(), events: split(v.events), enabled: !!v.enabled })}
              onPick={() => setSecret(null)}
              afterSave={(w, created) => setSecret(created && w && w.secret ? w.secret : null)}
              fields={(form) => (
                  <>
                      <Input form={form} name="url" label="URL" type="url" required />
                      <Input form={form} name="events" label="Events" required
                             hint="Separated by commas or spaces, e.g. ticket.created, message.added; * for every event." />
                      <Check form={form} name="enabled" label="Deliver to this webhook" />
                  </>
              )}
              formBelow={() => (secret ? (
                  <div class="notice" role="status">
                      <p>The signing secret (HMAC-SHA256 of each body, in the signature header). It is shown only now:</p>
                      <p><code class="secret" id="webhook-secret">{secret}</code></p>
                  </div>
              ) : null)}
              below={(w) => <Deliveries webhook={w} key={w.id} />} />
    );
}

function Deliveries({ webhook }) {
    const list = useLoad(`/webhooks/${webhook.id}/deliveries`);
    const items = (list.data && list.data.items) || [];
    return (
        <section class="below" aria-labelledby="deliveries-title">
            <h2 id="deliveries-title">Latest deliveries</h2>
            <button type="button" class="small" onClick={list.reload}>Refresh</button>
            <ListState load={list} what="deliveries" empty={items.length ? null : 'Nothing delivered yet.'} />
            {items.length ? (
                <div class="scroll"><table class="rows">
                    <caption class="sr-only">Deliveries of {webhook.url}</caption>
                    <thead><tr><th scope="col">Event</th><th scope="col">State</th><th scope="col">Attempts</th><th scope="col">Answer</th><th scope="col">When</th></tr></thead>
                    <tbody>
                        {items.map((d) => (
                            <tr key={d.id}>
                                <td>{d.event}</td>
                                <td class={d.state === 'failed' ? 'bad' : d.state === 'delivered' ? 'good' : ''}>{d.state}</td>
                                <td>{d.attempts}</td>
                                <td class="wrap">{d.last_status ? `HTTP ${d.last_status}` : ''}{d.last_error ? ` ${d.last_error}` : ''}</td>
                                <td>{when(d.delivered_at || d.created_at)}</td>
                            </tr>
                        ))}
                    </tbody>
                </table></div>
            ) : null}
        </section>
    );
}
