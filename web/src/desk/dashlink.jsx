// dashlink.jsx -- the dashboard's entry in the desk's navigation: shown to
// managers and admins only, and only when the server answers the metrics
// plugin's route (a server without the plugin answers 404).  Asked once
// the first view is on screen (boot.js): the probe is not part of it.

import { useEffect, useState } from 'preact/hooks';
import { get } from './api.js';
import { afterFirstView } from './boot.js';
import { follow } from './router.js';

export function mayUseDashboard(me) {
    return !!me && (me.role === 'manager' || me.role === 'admin');
}

// Whether this server answers the dashboard for this user: asked once per
// signed-in user and page load (the cheapest of the plugin's routes).  A
// 404 is the answer "no"; a failure to ask (no connection, a 5xx) is kept
// for nobody, so the next time the link is drawn asks again.
let probe = null;

function dashboardAvailable(me) {
    if (!mayUseDashboard(me))
        return Promise.resolve(false);
    if (!probe || probe.user !== me.id) {
        const mine = {
            user: me.id,
            answer: get('/plugins/metrics/history?hours=1', { quiet: true }).then(() => true, (e) => {
                if (e.status !== 404 && probe === mine)
                    probe = null;
                return false;
            }),
        };
        probe = mine;
    }
    return probe.answer;
}

// The navigation's entry (a group like the views' groups).
export function DashboardLink({ me, current, onFollow }) {
    const [shown, setShown] = useState(false);
    useEffect(() => {
        let live = true;
        afterFirstView(() => dashboardAvailable(me).then((ok) => { if (live) setShown(ok); }));
        return () => { live = false; };
    }, [me && me.id, me && me.role]);
    if (!shown)
        return null;
    return (
        <section aria-label="Reports">
            <h2>Reports</h2>
            <ul>
                <li>
                    <a href="/desk/dashboard" onClick={(e) => { if (onFollow) onFollow(); follow(e); }}
                       aria-current={current ? 'page' : undefined}>Dashboard</a>
                </li>
            </ul>
        </section>
    );
}
