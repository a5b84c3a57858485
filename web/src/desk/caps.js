// caps.js -- what this server's API can do, read from its own OpenAPI
// document (GET /api/v1/openapi.json, public).  The desk shows a feature
// only when the route or parameter behind it is there, so an older or
// newer server never meets a button that cannot work: saved views on the
// server, ticket counts, history, "unassigned", sorting, changing one's
// password and the live channel each light up when the API lists them.
// Until the document has arrived (it is fetched after the first view is
// on screen) every optional feature counts as absent.

import { API } from './api.js';

let caps = null;
const subs = new Set();

export function getCaps() {
    return caps;
}

export function onCaps(fn) {
    subs.add(fn);
    return () => subs.delete(fn);
}

// has('get', '/tickets/{id}/history')
export function has(method, path) {
    if (!caps)
        return false;
    const p = caps.paths[API + path];
    return !!(p && p[method.toLowerCase()]);
}

// A query parameter of GET /tickets.
export function listParam(name) {
    return !!(caps && caps.listParams.has(name));
}

export async function loadCaps() {
    if (caps)
        return caps;
    try {
        const res = await fetch(API + '/openapi.json', { credentials: 'same-origin' });
        if (!res.ok)
            throw new Error(String(res.status));
        const doc = await res.json();
        const list = doc.paths && doc.paths[API + '/tickets'] && doc.paths[API + '/tickets'].get;
        const params = new Set();
        for (const p of (list && list.parameters) || []) {
            const q = p.$ref ? resolve(doc, p.$ref) : p;
            if (q && q.in === 'query')
                params.add(q.name);
        }
        caps = { paths: doc.paths || {}, listParams: params };
    } catch {
        caps = { paths: {}, listParams: new Set() };
    }
    for (const fn of [...subs])
        fn(caps);
    return caps;
}

function resolve(doc, ref) {
    let o = doc;
    for (const part of ref.replace(/^#\//, '').split('/'))
        o = o && o[part.replace(/~1/g, '/').replace(/~0/g, '~')];
    return o;
}
