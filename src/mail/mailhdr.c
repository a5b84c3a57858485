/* mail/mailhdr.c -- see mail/mailhdr.h. */
#include "config.h"
#include "mail/mailhdr.h"
#include "lib/xalloc.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* A line (without its end) from buf[pos..): returns its length and sets
 * *next to the start of the following line. */
static size_t next_line(const char *buf, size_t len, size_t pos, size_t *next)
{
    size_t i = pos;
    while (i < len && buf[i] != '\n' && buf[i] != '\r')
        i++;
    size_t l = i - pos;
    if (i < len && buf[i] == '\r')
        i++;
    if (i < len && buf[i] == '\n')
        i++;
    *next = i;
    return l;
}

/* "Name:" with a practical field name: letters, digits, '-', '_', '.'.
 * (RFC 5322 allows more, but lines like "h=a:b" from broken DKIM folds
 * must not count as headers.)  Returns the name length or 0. */
static size_t header_name_len(const char *s, size_t l)
{
    size_t i = 0;
    if (l == 0 || !isalnum((unsigned char)s[0]))
        return 0;
    while (i < l && (isalnum((unsigned char)s[i]) || s[i] == '-' || s[i] == '_' || s[i] == '.'))
        i++;
    size_t name = i;
    while (i < l && (s[i] == ' ' || s[i] == '\t'))   /* obsolete "Name :" */
        i++;
    if (i < l && s[i] == ':' && name > 0 && name < 80)
        return name;
    return 0;
}

static bool is_blank(const char *s, size_t l)
{
    for (size_t i = 0; i < l; i++)
        if (s[i] != ' ' && s[i] != '\t')
            return false;
    return true;
}

static void add_header(struct mail_headers *h, const char *name, size_t nl, struct strbuf *value,
                       struct strbuf *problems)
{
    h->v = xrealloc(h->v, (h->n + 1) * sizeof(*h->v));
    h->v[h->n].name = xstrndup(name, nl);
    /* whitespace is part of the value: the first line's leading blanks
     * were skipped by the caller */
    const char *v = value->s ? value->s : "";
    size_t vl = value->len;
    if (memchr(v, '\0', vl) == NULL) {
        h->v[h->n].value = xstrndup(v, vl);
    } else {
        /* a NUL would silently cut the C string (and PostgreSQL refuses
         * it): each becomes U+FFFD, in plain sight */
        struct strbuf clean = STRBUF_INIT;
        for (size_t i = 0; i < vl; i++) {
            if (v[i] == '\0')
                strbuf_adds(&clean, "\xEF\xBF\xBD");
            else
                strbuf_addc(&clean, v[i]);
        }
        strbuf_addf(problems, "NUL byte in header %.*s: replaced by U+FFFD\n", (int)(nl < 80 ? nl : 80), name);
        h->v[h->n].value = strbuf_steal(&clean, NULL);
    }
    h->n++;
}

/* Header names common enough that finding one a few lines further down
 * proves we are still in the header block. */
static bool well_known_header(const char *s, size_t nl)
{
    static const char *const names[] = { "From", "To", "Cc", "Subject", "Date", "Message-ID",
        "MIME-Version", "Received", "Return-Path", "Reply-To", "In-Reply-To", "References",
        "Sender", "Delivered-To", "DKIM-Signature", "Authentication-Results", "Content-Type",
        "Content-Transfer-Encoding", "Content-Disposition", "List-Id", "Precedence" };
    if (nl > 2 && strncasecmp(s, "X-", 2) == 0)
        return true;
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (strlen(names[i]) == nl && strncasecmp(s, names[i], nl) == 0)
            return true;
    return false;
}

/* Does a well-known header follow within the next lines, before a blank
 * one?  Decides whether a nameless line is a lost fold or the body. */
static bool header_follows(const char *buf, size_t len, size_t pos)
{
    for (int k = 0; k < 16 && pos < len; k++) {
        size_t next;
        size_t l = next_line(buf, len, pos, &next);
        if (l == 0)
            return false;
        if (is_blank(buf + pos, l)) {
            pos = next;          /* folding whitespace, see parse_headers */
            continue;
        }
        size_t nl = header_name_len(buf + pos, l);
        if (nl > 0 && well_known_header(buf + pos, nl))
            return true;
        pos = next;
    }
    return false;
}

/* Parses headers from buf[pos..); writes the normalised block to out (if
 * not NULL) and returns the offset where the body starts. */
static size_t parse_headers(const char *buf, size_t len, size_t pos, size_t max_bytes,
                            struct strbuf *out, struct mail_headers *hdrs, struct strbuf *problems)
{
    const char *cur_name = NULL;
    size_t cur_nl = 0;
    struct strbuf value = STRBUF_INIT;
    size_t start = pos;
    bool cut = false, joined = false, ws_noted = false;

    while (pos < len) {
        size_t next;
        size_t l = next_line(buf, len, pos, &next);
        const char *line = buf + pos;
        if (l == 0) {
            pos = next;          /* the empty separator line */
            goto done;
        }
        if (is_blank(line, l)) {
            /* A line of only spaces or tabs is not the separator: it is
             * obsolete folding whitespace (RFC 5322 4.2) inside a header,
             * or noise before the first one.  Mail clients and Python's
             * email package read it so; ending the block here would lose
             * every header after it.  The whitespace stays in the value
             * (as Python keeps it); libetpan never sees the line. */
            if (!ws_noted)
                strbuf_adds(problems, cur_name != NULL
                    ? "whitespace-only line in the header block: read as folding\n"
                    : "whitespace-only line before the first header: skipped\n");
            ws_noted = true;
            if (cur_name != NULL && pos - start <= max_bytes)
                strbuf_add(&value, line, l);
            pos = next;
            continue;
        }
        if (pos - start > max_bytes) {
            if (!cut)
                strbuf_adds(problems, "header block larger than the limit: the rest was ignored\n");
            cut = true;
            pos = next;
            continue;
        }
        size_t nl = header_name_len(line, l);
        if (line[0] == ' ' || line[0] == '\t') {
            if (cur_name == NULL) {
                /* a continuation before any header: keep it as text */
                pos = next;
                continue;
            }
            strbuf_add(&value, line, l);
            if (out) {
                strbuf_addc(out, '\n');
                strbuf_add(out, line, l);
            }
        } else if (nl > 0) {
            if (cur_name != NULL)
                add_header(hdrs, cur_name, cur_nl, &value, problems);
            strbuf_reset(&value);
            cur_name = line;
            cur_nl = nl;
            /* leading whitespace of the first line goes; continuation
             * lines keep theirs (as Python's email package does) */
            const char *colon = memchr(line, ':', l);
            const char *v = colon + 1;
            while (v < line + l && (*v == ' ' || *v == '\t'))
                v++;
            strbuf_add(&value, v, l - (size_t)(v - line));
            if (out) {
                if (out->len > 0)
                    strbuf_addc(out, '\n');
                strbuf_add(out, line, l);
            }
        } else if (cur_name != NULL && header_follows(buf, len, next)) {
            /* a folded line that lost its leading whitespace */
            if (!joined)
                strbuf_adds(problems, "header line without a name (lost folding): joined to the previous header\n");
            joined = true;
            strbuf_addc(&value, ' ');
            strbuf_add(&value, line, l);
            if (out) {
                strbuf_adds(out, "\n ");
                strbuf_add(out, line, l);
            }
        } else {
            /* the body starts without the blank line */
            if (cur_name != NULL)
                strbuf_adds(problems, "no blank line between header and body\n");
            else
                strbuf_adds(problems, "no header block\n");
            goto done;
        }
        pos = next;
    }
done:
    if (cur_name != NULL)
        add_header(hdrs, cur_name, cur_nl, &value, problems);
    strbuf_free(&value);
    return pos;
}

int mailhdr_prepare(const char *raw, size_t len, size_t max_header_bytes,
                    struct strbuf *parsebuf, struct mail_headers *hdrs,
                    struct strbuf *problems)
{
    struct strbuf fixed = STRBUF_INIT;
    const char *buf = raw;
    size_t pos = 0;

    /* One line ending for the parser: LF.  Mail arrives with CRLF, with
     * LF, with both (an LF file sent by a client that appends CRLF) and
     * with bare CR (old Mac mail, which would hide every line); libetpan
     * loses parts when they are mixed. */
    bool bare_cr = false, any_cr = false;
    for (size_t i = 0; i < len && !bare_cr; i++) {
        if (raw[i] == '\r') {
            any_cr = true;
            bare_cr = i + 1 >= len || raw[i + 1] != '\n';
        }
    }
    if (any_cr) {
        strbuf_reserve(&fixed, len);
        char *o = fixed.s;
        for (size_t i = 0; i < len; i++) {
            if (raw[i] == '\r' && i + 1 < len && raw[i + 1] == '\n')
                continue;                        /* CRLF -> LF */
            *o++ = raw[i] == '\r' ? '\n' : raw[i];
        }
        fixed.len = (size_t)(o - fixed.s);
        fixed.s[fixed.len] = '\0';
        buf = fixed.s;
        len = fixed.len;
        if (bare_cr)
            strbuf_adds(problems, "bare CR line endings\n");
    }
    /* a UTF-8 byte order mark (a mail saved by a Windows editor), leading
     * blank lines, then an mbox "From " separator */
    if (len >= 3 && memcmp(buf, "\xEF\xBB\xBF", 3) == 0) {
        pos = 3;
        strbuf_adds(problems, "byte order mark before the header block: skipped\n");
    }
    while (pos < len && (buf[pos] == '\n' || buf[pos] == '\r'))
        pos++;
    if (len - pos > 5 && memcmp(buf + pos, "From ", 5) == 0) {
        size_t next;
        next_line(buf, len, pos, &next);
        pos = next;
    }
    size_t body = parse_headers(buf, len, pos, max_header_bytes, parsebuf, hdrs, problems);
    strbuf_adds(parsebuf, "\n\n");
    if (hdrs->n == 0) {
        /* no headers at all: everything is body, behind an empty block */
        strbuf_reset(parsebuf);
        strbuf_addc(parsebuf, '\n');
        body = pos;
    }
    strbuf_add(parsebuf, buf + body, len - body);
    strbuf_free(&fixed);
    return 0;
}

void mailhdr_parse_block(const char *block, size_t len, size_t max_header_bytes,
                         struct mail_headers *hdrs, struct strbuf *problems)
{
    parse_headers(block, len, 0, max_header_bytes, NULL, hdrs, problems);
}

void mailhdr_free(struct mail_headers *h)
{
    for (size_t i = 0; i < h->n; i++) {
        free(h->v[i].name);
        free(h->v[i].value);
    }
    free(h->v);
    h->v = NULL;
    h->n = 0;
}

const char *mailhdr_get(const struct mail_headers *h, const char *name)
{
    for (size_t i = 0; i < h->n; i++)
        if (strcasecmp(h->v[i].name, name) == 0)
            return h->v[i].value;
    return NULL;
}

void mailhdr_collapse_ws(const char *in, struct strbuf *out)
{
    bool space = false;
    size_t start = out->len;
    for (; in && *in; in++) {
        if (*in == ' ' || *in == '\t' || *in == '\r' || *in == '\n') {
            space = true;
            continue;
        }
        if (space && out->len > start)
            strbuf_addc(out, ' ');
        space = false;
        strbuf_addc(out, *in);
    }
}

/* ---- addresses -------------------------------------------------------- */

/* Scans an address list token by token.  Quoted strings and comments are
 * skipped as units (the comment text is offered as a display name when
 * nothing better exists). */
struct addr_scan {
    const char *p;
};

static const char *skip_comment(const char *p)
{
    int depth = 0;
    for (; *p; p++) {
        if (*p == '\\' && p[1]) {
            p++;
        } else if (*p == '(') {
            depth++;
        } else if (*p == ')') {
            if (--depth == 0)
                return p + 1;
        }
    }
    return p;
}

static const char *skip_quoted(const char *p)
{
    for (p++; *p; p++) {
        if (*p == '\\' && p[1])
            p++;
        else if (*p == '"')
            return p + 1;
    }
    return p;
}

static void trim_into(struct strbuf *out, const char *s, size_t n)
{
    while (n > 0 && (*s == ' ' || *s == '\t')) {
        s++;
        n--;
    }
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
        n--;
    strbuf_add(out, s, n);
}

/* One mailbox from p up to the next top-level ',' or ';'.  Returns where
 * it stopped. */
static const char *one_mailbox(const char *p, struct strbuf *addr, struct strbuf *display)
{
    const char *start = p;
    const char *lt = NULL, *gt = NULL, *comment = NULL, *comment_end = NULL;
    for (; *p && *p != ',' && *p != ';'; ) {
        if (*p == '"') {
            p = skip_quoted(p);
        } else if (*p == '(') {
            const char *e = skip_comment(p);
            if (comment == NULL) {
                comment = p + 1;
                comment_end = e > p + 1 ? e - 1 : e;
            }
            p = e;
        } else if (*p == '<' && lt == NULL) {
            lt = p;
            const char *e = strchr(p, '>');
            gt = e ? e : p + strlen(p);
            p = e ? e + 1 : gt;
        } else if (*p == ':' && lt == NULL) {
            /* a group: "Team: a@b, c@d;" -- restart after the colon */
            start = p + 1;
            p++;
            if (display)         /* optional: Reply-To passes NULL */
                strbuf_reset(display);
        } else {
            p++;
        }
    }
    if (lt != NULL) {
        /* "<@route:user@host>": drop a source route */
        const char *a = lt + 1;
        const char *colon = memchr(a, ':', (size_t)(gt - a));
        if (a < gt && *a == '@' && colon)
            a = colon + 1;
        trim_into(addr, a, (size_t)(gt - a));
        if (display && display->len == 0)
            trim_into(display, start, (size_t)(lt - start));
    } else {
        /* addr-spec without brackets: the token that holds '@', outside
         * quotes and comments; else the whole (comment-free) text */
        const char *q = start;
        const char *best = NULL, *best_end = NULL;
        while (q < p) {
            if (*q == '"') {
                const char *e = skip_quoted(q);
                /* "quoted"@domain local parts */
                if (e < p && *e == '@') {
                    best = q;
                    while (e < p && *e != ' ' && *e != '\t' && *e != '(')
                        e++;
                    best_end = e;
                    break;
                }
                q = e;
            } else if (*q == '(') {
                q = skip_comment(q);
            } else if (*q == ' ' || *q == '\t') {
                q++;
            } else {
                const char *w = q;
                while (q < p && *q != ' ' && *q != '\t' && *q != '(' && *q != '"')
                    q++;
                if (memchr(w, '@', (size_t)(q - w)) != NULL && best == NULL) {
                    best = w;
                    best_end = q;
                }
            }
        }
        if (best != NULL)
            trim_into(addr, best, (size_t)(best_end - best));
        if (display && display->len == 0 && comment != NULL && comment_end > comment)
            trim_into(display, comment, (size_t)(comment_end - comment));
    }
    return p;
}

void mailhdr_first_address(const char *value, struct strbuf *addr, struct strbuf *display)
{
    const char *p = value ? value : "";
    while (*p) {
        strbuf_reset(addr);
        if (display)
            strbuf_reset(display);
        p = one_mailbox(p, addr, display);
        if (addr->len > 0)
            return;
        if (*p)
            p++;
    }
    strbuf_reset(addr);
}

void mailhdr_bare_word(const char *value, struct strbuf *out)
{
    const char *p = value ? value : "";
    const char *word = NULL, *word_end = NULL;
    bool quoted = false;
    while (*p) {
        if (*p == ' ' || *p == '\t') {
            p++;
        } else if (*p == '(') {
            p = skip_comment(p);
        } else if (word != NULL) {
            return;                      /* a second word: a phrase, no address */
        } else if (*p == '"') {
            const char *e = skip_quoted(p);
            word = p + 1;
            word_end = e > p + 1 && e[-1] == '"' ? e - 1 : e;
            quoted = true;
            p = e;
        } else {
            word = p;
            while (*p && *p != ' ' && *p != '\t' && *p != '(' && *p != '"')
                p++;
            word_end = p;
            for (const char *q = word; q < word_end; q++)
                if (*q == '<' || *q == '>' || *q == ',' || *q == ';' || *q == ':' || *q == '@')
                    return;
        }
    }
    if (word != NULL && word_end > word) {
        for (const char *q = word; q < word_end; q++) {
            if (quoted && *q == '\\' && q + 1 < word_end)
                q++;
            strbuf_addc(out, *q);
        }
    }
}

void mailhdr_addresses(const char *value, struct strbuf *out_lines)
{
    const char *p = value ? value : "";
    struct strbuf a = STRBUF_INIT, d = STRBUF_INIT;
    while (*p) {
        strbuf_reset(&a);
        strbuf_reset(&d);
        p = one_mailbox(p, &a, &d);
        if (a.len > 0 && memchr(a.s, '@', a.len)) {
            strbuf_add(out_lines, a.s, a.len);
            strbuf_addc(out_lines, '\n');
        }
        if (*p)
            p++;
    }
    strbuf_free(&a);
    strbuf_free(&d);
}

void mailhdr_msgids(const char *value, struct strbuf *out_lines)
{
    const char *p = value ? value : "";
    bool any = false;
    while ((p = strchr(p, '<')) != NULL) {
        const char *e = strchr(p, '>');
        if (e == NULL)
            break;
        if (e > p + 1) {
            struct strbuf tmp = STRBUF_INIT;
            strbuf_add(&tmp, p + 1, (size_t)(e - p - 1));
            struct strbuf clean = STRBUF_INIT;
            mailhdr_collapse_ws(tmp.s, &clean);
            /* ids never hold spaces: drop any a fold left behind */
            for (size_t i = 0; i < clean.len; i++)
                if (clean.s[i] != ' ')
                    strbuf_addc(out_lines, clean.s[i]);
            strbuf_addc(out_lines, '\n');
            strbuf_free(&tmp);
            strbuf_free(&clean);
            any = true;
        }
        p = e + 1;
    }
    if (!any && value != NULL) {
        struct strbuf clean = STRBUF_INIT;
        mailhdr_collapse_ws(value, &clean);
        if (clean.len > 0 && strchr(clean.s, ' ') == NULL && clean.len < 1000) {
            strbuf_add(out_lines, clean.s, clean.len);
            strbuf_addc(out_lines, '\n');
        }
        strbuf_free(&clean);
    }
}
