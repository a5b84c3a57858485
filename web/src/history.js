// history.js -- client-side navigation shared by the desk, the portal and
// the admin pages (atumd serves each app's page for every path under it).
// Each app's router.js has its own parse() of the address and gets from
// makeRouter(route) the three calls bound to it:
//   navigate(url, {replace})  a new address without a page load (a no-op
//                             when it is already the address)
//   useRoute()                the route as route() reads it now, again on
//                             every navigate() and back/forward
//   follow(e)                 onClick for an <a href> of the app: keeps
//                             middle-click and modifier clicks the browser's
import { useEffect, useState } from 'preact/hooks';

export function makeRouter(route) {
    const subs = new Set();

    function navigate(url, { replace = false } = {}) {
        if (url === location.pathname + location.search + location.hash)
            return;
        if (replace)
            history.replaceState(null, '', url);
        else
            history.pushState(null, '', url);
        for (const fn of [...subs])
            fn();
    }

    function useRoute() {
        const [now, setNow] = useState(() => route());
        useEffect(() => {
            const update = () => setNow(route());
            subs.add(update);
            window.addEventListener('popstate', update);
            return () => {
                subs.delete(update);
                window.removeEventListener('popstate', update);
            };
        }, []);
        return now;
    }

    function follow(e) {
        if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey)
            return;
        e.preventDefault();
        navigate(e.currentTarget.getAttribute('href'));
    }

    return { navigate, useRoute, follow };
}
