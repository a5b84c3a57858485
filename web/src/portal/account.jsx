// account.jsx -- my profile, my organisation, my data as JSON.
import { useEffect, useState } from 'preact/hooks';
import { get, describe } from '../desk/api.js';

export function Account({ me }) {
    const [org, setOrg] = useState(null);
    const [error, setError] = useState(null);
    useEffect(() => {
        get('/me/export')
            .then((d) => setOrg((d.profile && d.profile.organisation) || false))
            .catch((e) => setError(describe(e, 'loading your profile')));
    }, []);
    return (
        <section class="card" aria-labelledby="acct-h">
            <h1 id="acct-h">Your account</h1>
            <dl class="facts">
                <dt>Name</dt><dd>{me.name || '—'}</dd>
                <dt>E-mail</dt><dd>{me.email}</dd>
                <dt>Organisation</dt>
                <dd>{org ? `${org.name}${org.domain ? ` (everyone mailing from @${org.domain})` : ''}` : org === false ? 'None' : '…'}</dd>
                {org ? <><dt>Your organisation's requests</dt><dd>{me.org_access ? 'You see them (read only).' : 'Only your own are shown.'}</dd></> : null}
            </dl>
            {error ? <p class="error" role="alert">{error}</p> : null}
            <h2>Your data</h2>
            <p>Everything we keep about you and your requests (your profile, your requests, their public messages and attachments' names, your ratings), as one JSON file.</p>
            <p><a class="button" href="/api/v1/me/export" download="my-data.json">Download my data</a></p>
            <h2>Password</h2>
            <p>To change it, <a href="/portal/reset">ask for a reset link</a>.</p>
        </section>
    );
}
