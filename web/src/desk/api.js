// api.js -- the desk's only way to the data: fetch() to /api/v1.
//
// Every state-changing request carries the session's CSRF token
// (X-CSRF-Token, from the login answer or GET /auth/me).  Errors become
// ApiError with the problem document's fields (RFC 9457: title, detail,
// field), and describe() turns any error into a sentence for people: the
// desk never shows a raw server answer.  A request that cannot reach the
// server marks the connection lost; connection.js then probes until it is
// back.

import { isStale, staleText } from './stale.js';

export const API = '/api/v1';

let csrfToken = null;
const listeners = { offline: new Set(), online: new Set(), signedout: new Set() };

export function setCsrf(token) {
    csrfToken = token || null;
}

// For requests that cannot go through request() (an upload with progress).
export function getCsrf() {
    return csrfToken;
}

export function on(what, fn) {
    listeners[what].add(fn);
    return () => listeners[what].delete(fn);
}

function emit(what, arg) {
    for (const fn of [...listeners[what]])
        fn(arg);
}

export class ApiError extends Error {
    constructor(status, problem, retryAfter) {
        super((problem && (problem.detail || problem.title)) || `HTTP ${status}`);
        this.status = status;
        this.title = problem && typeof problem.title === 'string' ? problem.title : null;
        this.detail = problem && typeof problem.detail === 'string' ? problem.detail : null;
        this.field = problem && typeof problem.field === 'string' ? problem.field : null;
        this.problem = problem && typeof problem === 'object' ? problem : null;
        this.retryAfter = retryAfter ? parseInt(retryAfter, 10) || null : null;
    }
}

const SAFE = new Set(['GET', 'HEAD']);

// request('GET', '/tickets?limit=50') -> parsed JSON (null for 204).
// opts.quiet: a failure to connect does not raise the lost-connection banner
// (the probe itself uses it).  opts.ifMatch: the ticket version a write was
// made against ('"v12"'): the server answers 409 when it changed since.
export async function request(method, path, body, opts = {}) {
    const headers = { Accept: 'application/json, application/problem+json' };
    if (body !== undefined)
        headers['Content-Type'] = 'application/json';
    if (!SAFE.has(method) && csrfToken)
        headers['X-CSRF-Token'] = csrfToken;
    if (opts.ifMatch)
        headers['If-Match'] = opts.ifMatch;
    let res;
    try {
        res = await fetch(API + path, {
            method,
            headers,
            body: body === undefined ? undefined : JSON.stringify(body),
            credentials: 'same-origin',
            cache: 'no-store',
            redirect: 'error',
            signal: opts.signal,
        });
    } catch (e) {
        if (e && e.name === 'AbortError')
            throw e;
        if (!opts.quiet)
            emit('offline');
        throw new ApiError(0, null);
    }
    if (!opts.quiet)
        emit('online');
    if (res.status === 204)
        return null;
    const type = res.headers.get('Content-Type') || '';
    const json = type.includes('json');
    if (res.ok) {
        if (!json)
            throw new ApiError(res.status, { title: 'Unexpected answer' });
        return res.json();
    }
    let problem = null;
    if (json) {
        try {
            problem = await res.json();
        } catch {
            problem = null;
        }
    }
    const err = new ApiError(res.status, problem, res.headers.get('Retry-After'));
    if (res.status === 401 && !path.startsWith('/auth/login'))
        emit('signedout', err);
    throw err;
}

// Requests started before they are asked for (desk.jsx, at page load, so
// the first screen's data is on its way while the code starts up); the
// first get() of the same path takes the answer, once.
// Each is { promise, done, value, error }: done once it has answered, so
// a screen can take an answer that is already here while it renders
// (settled()), without waiting a turn for the promise.
const early = new Map();

// prefetch(path, then) -> the promise of the answer
export function prefetch(path, then) {
    const e = { promise: request('GET', path, undefined, { quiet: true }), done: false, value: null, error: null };
    e.promise.then((v) => { e.done = true; e.value = v; }, (err) => { e.done = true; e.error = err; });
    early.set(path, e);
    e.promise.then(then || (() => {})).catch(() => {});
    return e.promise;
}

// The answer to a prefetch of path that has arrived, taken (once):
// { value } or { error }; null when none was asked for or it is not here.
export function settled(path) {
    const e = early.get(path);
    if (!e || !e.done)
        return null;
    early.delete(path);
    return e.error ? { error: e.error } : { value: e.value };
}

// Drops what was asked for early and not taken (after a 401: nobody was
// signed in, and those answers are refusals).
export function forgetPrefetched() {
    early.clear();
}

// Whether this browser's last session on the desk was a staff member's
// (localStorage, a hint and nothing more: it holds no data and grants
// nothing).  With it, desk.jsx asks for the first screen's data at the
// same time as for /auth/me instead of after its answer; a wrong hint
// costs one refused or unused request.
const STAFF_HINT = 'atum-desk-staff';

export function staffHint() {
    try {
        return localStorage.getItem(STAFF_HINT) === '1';
    } catch {
        return false;       // storage disabled: ask in turn
    }
}

export function rememberStaff(staff) {
    try {
        if (staff)
            localStorage.setItem(STAFF_HINT, '1');
        else
            localStorage.removeItem(STAFF_HINT);
    } catch {
        /* storage disabled: the next load asks in turn */
    }
}

export const get = (path, opts) => {
    const e = early.get(path);
    if (e) {
        early.delete(path);
        return e.promise;
    }
    return request('GET', path, undefined, opts);
};
export const post = (path, body, opts) => request('POST', path, body === undefined ? {} : body, opts);
export const patch = (path, body, opts) => request('PATCH', path, body, opts);
export const del = (path, opts) => request('DELETE', path, undefined, opts);
export const put = (path, body, opts) => request('PUT', path, body, opts);

// A sentence for people about any error the API calls can throw.
export function describe(err, what) {
    if (!(err instanceof ApiError))
        return `Something went wrong in the desk${what ? ` while ${what}` : ''}. Reload the page to try again.`;
    const d = err.detail ? sentence(err.detail) : null;
    switch (err.status) {
    case 0:
        return 'The server cannot be reached. The desk keeps trying and reconnects by itself.';
    case 400:
    case 422:
        return d || 'The server did not accept this input.';
    case 401:
        return d || 'Your session has ended. Please sign in again.';
    case 403:
        if (err.detail && /csrf/i.test(err.detail))
            return 'Your session changed in another tab. Reload the page and try again.';
        return d || 'You may not do this.';
    case 404:
        return 'Not found — it does not exist, or you have no access to it.';
    case 409:
        if (isStale(err.problem))
            return staleText(err.problem);
        return d || 'Someone else changed this meanwhile.';
    case 413:
        return d || 'That is too large for the server.';
    case 429:
        return (d || 'Too many attempts.') + (err.retryAfter ? ` Try again in ${err.retryAfter} seconds.` : '');
    default:
        if (err.status >= 500)
            return `The server could not do this right now (${err.status}). Try again in a moment.`;
        return d || `The server refused this (${err.status}).`;
    }
}

function sentence(s) {
    const t = String(s).trim();
    if (!t)
        return null;
    return t[0].toUpperCase() + t.slice(1) + (/[.!?]$/.test(t) ? '' : '.');
}
