// quote.js -- the new part of a mail and its quoted history.
//
// atumd stores, for a received mail, the text without quoted history and
// signature (new_text; absent when it is the whole text).  When the API
// does not hand it out, fold() finds the history itself the usual ways:
// a line "On ... wrote:", "-----Original Message-----", an Outlook
// "From: ... Sent: ..." block, or a run of lines starting with ">" that
// lasts to the end.

export function split(message) {
    const body = message.body_text || '';
    if (typeof message.new_text === 'string') {
        const n = message.new_text;
        return { fresh: n, folded: n.trim() !== body.trim() };
    }
    return fold(body);
}

const MARKERS = [
    /^On .{4,200}wrote:\s*$/,
    /^Am .{4,200}schrieb .{0,200}:\s*$/,
    /^Le .{4,200}a écrit\s?:\s*$/,
    /^-{2,}\s*(Original Message|Ursprüngliche Nachricht|Message d'origine)\s*-{2,}\s*$/i,
    /^_{10,}\s*$/,
];

export function fold(body) {
    const lines = body.split('\n');
    for (let i = 1; i < lines.length; i++) {
        const l = lines[i].trim();
        if (MARKERS.some((re) => re.test(l)) || (/^From:\s/.test(l) && lines.slice(i + 1, i + 4).some((x) => /^(Sent|Date):\s/.test(x.trim())))) {
            const fresh = lines.slice(0, i).join('\n').trimEnd();
            if (fresh)
                return { fresh, folded: true };
        }
    }
    // a trailing block of "> " lines
    let end = lines.length;
    while (end > 0 && lines[end - 1].trim() === '')
        end--;
    let start = end;
    while (start > 0 && /^\s*>/.test(lines[start - 1]))
        start--;
    if (start < end && start > 0) {
        const fresh = lines.slice(0, start).join('\n').trimEnd();
        if (fresh)
            return { fresh, folded: true };
    }
    return { fresh: body, folded: false };
}
