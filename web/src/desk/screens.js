// screens.js -- the desk's screens other than the inbox: the ticket (with
// the composer, the side panels, the plugins' panels), the account page
// and the dashboard are a script of their own (later.js; web/build.mjs
// splits it off).  The first view of the inbox neither loads nor compiles
// them; they are fetched once the first view is on screen (app.jsx), so
// opening a ticket does not wait for them either.

import { useEffect, useState } from 'preact/hooks';

let loaded = null;       // the module of later.js
let loading = null;      // the promise of it

// loadScreens() -> promise of the module; one request however many ask
export function loadScreens() {
    if (loaded)
        return Promise.resolve(loaded);
    if (!loading)
        loading = import('./later.js').then((m) => {
            loaded = m;
            loading = null;
            return m;
        }, (e) => {
            loading = null;      // the next screen asks again
            throw e;
        });
    return loading;
}

// The screens' module in a component: { module } once it is here,
// { failed: true } when its script could not be fetched, else {}.
export function useScreens() {
    const [state, setState] = useState(() => (loaded ? { module: loaded } : {}));
    useEffect(() => {
        if (state.module)
            return undefined;
        let live = true;
        loadScreens().then((m) => live && setState({ module: m }),
                           () => live && setState({ failed: true }));
        return () => { live = false; };
    }, []);
    return state;
}
