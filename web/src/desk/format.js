// format.js -- dates, sizes and the words the desk uses for API values.

export const STATUSES = ['new', 'open', 'pending', 'solved', 'closed'];
export const PRIORITIES = ['urgent', 'high', 'normal', 'low'];

// made on first use: building them costs time the first screen need not wait for
let dtf_ = null;
let rtf_ = null;
const dtf = { format: (d) => (dtf_ || (dtf_ = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' }))).format(d) };
const rtf = { format: (v, u) => (rtf_ || (rtf_ = new Intl.RelativeTimeFormat(undefined, { numeric: 'auto' }))).format(v, u) };

export function when(iso) {
    const d = new Date(iso);
    return Number.isNaN(d.getTime()) ? '' : dtf.format(d);
}

export function ago(iso, now = Date.now()) {
    const d = new Date(iso).getTime();
    if (Number.isNaN(d))
        return '';
    const s = Math.round((d - now) / 1000);
    const a = Math.abs(s);
    if (a < 60)
        return rtf.format(s, 'second');
    if (a < 3600)
        return rtf.format(Math.round(s / 60), 'minute');
    if (a < 86400)
        return rtf.format(Math.round(s / 3600), 'hour');
    if (a < 86400 * 30)
        return rtf.format(Math.round(s / 86400), 'day');
    return dtf.format(new Date(d));
}

export function size(n) {
    if (n < 1024)
        return `${n} B`;
    if (n < 1024 * 1024)
        return `${(n / 1024).toFixed(n < 10240 ? 1 : 0)} KB`;
    return `${(n / 1024 / 1024).toFixed(1)} MB`;
}

export function cap(s) {
    return s ? s[0].toUpperCase() + s.slice(1) : '';
}

export function userName(u) {
    if (!u)
        return '';
    return u.name ? `${u.name} <${u.email}>` : u.email;
}
