// format.js -- dates, sizes and the words the desk uses for API values.

export const STATUSES = ['new', 'open', 'pending', 'solved', 'closed'];
export const PRIORITIES = ['urgent', 'high', 'normal', 'low'];

// Dates are written by hand, in English like every word of the desk
// (what Intl writes for en-US: "Dec 3, 2026, 3:44 PM", "5 minutes ago",
// "yesterday"), not with Intl.DateTimeFormat/RelativeTimeFormat: the first
// Intl formatter a page makes loads the locale data, which took 20-300 ms
// in a fresh page on the benchmark's box -- inside the first view, whose
// every row shows a time.
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

function dateTime(d) {
    const h = d.getHours();
    const m = String(d.getMinutes()).padStart(2, '0');
    return `${MONTHS[d.getMonth()]} ${d.getDate()}, ${d.getFullYear()}, ${h % 12 || 12}:${m} ${h < 12 ? 'AM' : 'PM'}`;
}

// n units from now: -5 "5 minutes ago", 5 "in 5 minutes"
function relative(n, unit) {
    const words = `${Math.abs(n)} ${unit}${Math.abs(n) === 1 ? '' : 's'}`;
    return n < 0 ? `${words} ago` : `in ${words}`;
}

export function when(iso) {
    const d = new Date(iso);
    return Number.isNaN(d.getTime()) ? '' : dateTime(d);
}

export function ago(iso, now = Date.now()) {
    const d = new Date(iso).getTime();
    if (Number.isNaN(d))
        return '';
    const s = Math.round((d - now) / 1000);
    const a = Math.abs(s);
    if (a < 60)
        return s === 0 ? 'now' : relative(s, 'second');
    if (a < 3600)
        return relative(Math.round(s / 60), 'minute');
    if (a < 86400)
        return relative(Math.round(s / 3600), 'hour');
    if (a < 86400 * 30) {
        const days = Math.round(s / 86400);
        return days === -1 ? 'yesterday' : days === 1 ? 'tomorrow' : relative(days, 'day');
    }
    return dateTime(new Date(d));
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
