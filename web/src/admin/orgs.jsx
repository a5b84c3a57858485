// orgs.jsx -- organisations: name and mail domain (customers whose
// address is of the domain join it when they first write in).
import { Crud } from './crud.jsx';
import { Input, when } from './ui.jsx';

export function Orgs() {
    return (
        <Crud id="org" title="Organisations" noun="organisation" path="/orgs"
              columns={[['Name', (o) => o.name], ['Mail domain', (o) => o.domain || ''], ['Created', (o) => when(o.created_at)]]}
              initial={{ name: '', domain: '' }}
              fromItem={(o) => ({ name: o.name || '', domain: o.domain || '' })}
              toBody={(v) => ({ name: v.name.trim(), domain: v.domain.trim() ? v.domain.trim() : null })}
              fields={(form) => (
                  <>
                      <Input form={form} name="name" label="Name" required />
                      <Input form={form} name="domain" label="Mail domain" hint="e.g. example.com — customers writing from it join this organisation. Empty: none." />
                  </>
              )} />
    );
}
