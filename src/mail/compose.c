/* mail/compose.c -- see mail/compose.h. */
#include "config.h"
#include "mail/compose.h"
#include "lib/err.h"
#include "lib/util.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#define LINE_MAX_OUT 76

static bool plain_ascii(const char *s)
{
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c >= 0x7f || (c < 0x20 && c != '\t'))
            return false;
    }
    return true;
}

/* Length of the UTF-8 character at s (1 for anything odd). */
static size_t utf8_len(const unsigned char *s)
{
    if (*s < 0x80) return 1;
    if ((*s & 0xE0) == 0xC0 && (s[1] & 0xC0) == 0x80) return 2;
    if ((*s & 0xF0) == 0xE0 && (s[1] & 0xC0) == 0x80 && (s[2] & 0xC0) == 0x80) return 3;
    if ((*s & 0xF8) == 0xF0 && (s[1] & 0xC0) == 0x80 && (s[2] & 0xC0) == 0x80 && (s[3] & 0xC0) == 0x80) return 4;
    return 1;
}

void compose_base64(struct strbuf *out, const void *data, size_t n)
{
    static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const unsigned char *d = data;
    size_t col = 0;
    strbuf_reserve(out, n * 4 / 3 + n / 57 * 2 + 8);
    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned)d[i] << 16;
        if (i + 1 < n) v |= (unsigned)d[i + 1] << 8;
        if (i + 2 < n) v |= d[i + 2];
        char q[4] = { b64[(v >> 18) & 63], b64[(v >> 12) & 63],
                      i + 1 < n ? b64[(v >> 6) & 63] : '=', i + 2 < n ? b64[v & 63] : '=' };
        strbuf_add(out, q, 4);
        col += 4;
        if (col >= LINE_MAX_OUT) {
            strbuf_adds(out, "\r\n");
            col = 0;
        }
    }
    if (col > 0)
        strbuf_adds(out, "\r\n");
}

/* Bytes of one encoded word's payload: at most `max` base64 characters,
 * never splitting a UTF-8 character. */
static size_t word_chunk(const char *s, size_t left, size_t max_b64)
{
    size_t n = 0;
    while (n < left) {
        size_t c = utf8_len((const unsigned char *)s + n);
        if (c > left - n)
            c = left - n;
        if ((n + c + 2) / 3 * 4 > max_b64)
            break;
        n += c;
    }
    return n ? n : (left < 3 ? left : 3);
}

/* "Name: value" folded to <= 78 columns; non-ASCII as =?UTF-8?B?..?= */
void compose_header(struct strbuf *out, const char *name, const char *value)
{
    size_t col = strlen(name) + 2;
    strbuf_adds(out, name);
    strbuf_adds(out, ": ");
    if (value == NULL)
        value = "";
    if (plain_ascii(value)) {
        /* fold at spaces */
        const char *p = value;
        while (*p) {
            const char *sp = strchr(p + 1, ' ');
            size_t w = sp ? (size_t)(sp - p) : strlen(p);
            if (col + w > 78 && col > strlen(name) + 2) {
                strbuf_adds(out, "\r\n");
                col = 0;
                if (*p != ' ')
                    strbuf_addc(out, ' '), col = 1;
            }
            strbuf_add(out, p, w);
            col += w;
            p += w;
        }
        strbuf_adds(out, "\r\n");
        return;
    }
    /* encoded words, each its own line after the first when needed */
    const char *p = value;
    size_t left = strlen(value);
    bool first = true;
    while (left > 0) {
        /* each encoded word ends its line; "=?UTF-8?B?" + "?=" is 12 */
        size_t start = first ? col : 1;
        size_t room = start + 12 < 76 ? (76 - start - 12) / 4 * 4 : 4;
        size_t n = word_chunk(p, left, room);
        struct strbuf w = STRBUF_INIT;
        compose_base64(&w, p, n);
        /* compose_base64 wraps at 76 and adds CRLF: take the text only */
        size_t wl = strcspn(w.s, "\r\n");
        if (!first) {
            strbuf_adds(out, "\r\n ");
            col = 1;
        }
        strbuf_adds(out, "=?UTF-8?B?");
        strbuf_add(out, w.s, wl);
        strbuf_adds(out, "?=");
        col += 12 + wl;
        strbuf_free(&w);
        p += n;
        left -= n;
        first = false;
    }
    strbuf_adds(out, "\r\n");
}

/* An address header: "Display Name" <addr>, the name encoded if needed. */
static void address_header(struct strbuf *out, const char *name, const char *display,
                           const char *addr)
{
    struct strbuf v = STRBUF_INIT;
    if (display && *display) {
        if (plain_ascii(display)) {
            strbuf_addc(&v, '"');
            for (const char *p = display; *p; p++) {
                if (*p == '"' || *p == '\\')
                    strbuf_addc(&v, '\\');
                strbuf_addc(&v, *p);
            }
            strbuf_addf(&v, "\" <%s>", addr);
            compose_header(out, name, v.s);
        } else {
            /* encode the name, then append the address on its own */
            struct strbuf enc = STRBUF_INIT;
            compose_header(&enc, name, display);
            enc.len -= 2;                     /* drop the CRLF */
            enc.s[enc.len] = '\0';
            strbuf_add(out, enc.s, enc.len);
            strbuf_addf(out, "\r\n <%s>\r\n", addr);
            strbuf_free(&enc);
        }
    } else {
        strbuf_addf(&v, "<%s>", addr);
        compose_header(out, name, v.s);
    }
    strbuf_free(&v);
}

void compose_qp(struct strbuf *out, const char *s, size_t n)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t col = 0;
    size_t i = 0;
    while (i < n) {
        unsigned char c = (unsigned char)s[i];
        if (c == '\r' && i + 1 < n && s[i + 1] == '\n') {
            i++;
            continue;
        }
        if (c == '\n') {
            strbuf_adds(out, "\r\n");
            col = 0;
            i++;
            continue;
        }
        bool line_end = i + 1 >= n || s[i + 1] == '\n' || s[i + 1] == '\r';
        bool from_line = col == 0 && n - i >= 5 && memcmp(s + i, "From ", 5) == 0;
        bool dot_line = col == 0 && c == '.';
        bool encode = c == '=' || c >= 0x7f || (c < 0x20 && c != '\t')
                      || ((c == ' ' || c == '\t') && line_end) || from_line || dot_line;
        size_t w = encode ? 3 : 1;
        if (col + w > LINE_MAX_OUT - 1) {
            strbuf_adds(out, "=\r\n");    /* soft line break */
            col = 0;
        }
        if (encode) {
            char e[3] = { '=', hex[c >> 4], hex[c & 15] };
            strbuf_add(out, e, 3);
        } else {
            strbuf_addc(out, (char)c);
        }
        col += w;
        i++;
    }
    if (col > 0)
        strbuf_adds(out, "\r\n");
}

void compose_date(char *buf, size_t size, time_t t)
{
    static const char *const days[] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
    static const char *const months[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul",
                                          "Aug", "Sep", "Oct", "Nov", "Dec" };
    struct tm tm;
    gmtime_r(&t, &tm);
    snprintf(buf, size, "%s, %02d %s %04d %02d:%02d:%02d +0000", days[tm.tm_wday], tm.tm_mday,
             months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

static void boundary(char *buf, size_t size, const char *tag)
{
    unsigned char r[9];
    char hex[19];
    rand_bytes(r, sizeof(r));
    hex_encode(r, sizeof(r), hex);
    snprintf(buf, size, "=_atum_%s_%s", tag, hex);
}

static void text_part(struct strbuf *out, const char *type, const char *body)
{
    strbuf_addf(out, "Content-Type: %s; charset=utf-8\r\n"
                     "Content-Transfer-Encoding: quoted-printable\r\n\r\n", type);
    compose_qp(out, body, strlen(body));
}

static void attachment_part(struct strbuf *out, const struct compose_attachment *a)
{
    const char *type = a->content_type && *a->content_type ? a->content_type : "application/octet-stream";
    const char *fn = a->filename && *a->filename ? a->filename : "attachment";
    bool ascii = plain_ascii(fn) && strpbrk(fn, "\"\\") == NULL;
    strbuf_addf(out, "Content-Type: %s\r\n", type);
    if (ascii) {
        strbuf_addf(out, "Content-Disposition: attachment;\r\n filename=\"%s\"\r\n", fn);
    } else {
        /* RFC 2231: filename*=utf-8''percent-encoded */
        strbuf_adds(out, "Content-Disposition: attachment;\r\n filename*=utf-8''");
        size_t col = 20;
        for (const unsigned char *p = (const unsigned char *)fn; *p; p++) {
            if (col > 70) {
                strbuf_adds(out, "\r\n ");   /* long names: let the header fold */
                col = 1;
            }
            if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9')
                || strchr("-._~", *p)) {
                strbuf_addc(out, (char)*p);
                col++;
            } else {
                strbuf_addf(out, "%%%02X", *p);
                col += 3;
            }
        }
        strbuf_adds(out, "\r\n");
    }
    strbuf_adds(out, "Content-Transfer-Encoding: base64\r\n\r\n");
    compose_base64(out, a->data, a->len);
}

int compose_build(const struct compose_mail *m, struct strbuf *out, const char **error_r)
{
    char date[64];
    if (m->from_addr == NULL || m->message_id == NULL || m->nto == 0)
        return err_set(error_r, "compose: From, Message-ID and a recipient are required");
    for (size_t i = 0; i < m->nto; i++)
        if (strpbrk(m->to[i], "\r\n<>,") != NULL)
            return err_set(error_r, "compose: invalid recipient address");
    if (strpbrk(m->from_addr, "\r\n<>,") || strpbrk(m->message_id, "\r\n<> ")
        || (m->reply_to && strpbrk(m->reply_to, "\r\n<>,")))
        return err_set(error_r, "compose: invalid address or Message-ID");

    compose_date(date, sizeof(date), m->date ? m->date : time(NULL));
    strbuf_addf(out, "Date: %s\r\n", date);
    address_header(out, "From", m->from_name, m->from_addr);
    if (m->reply_to)
        address_header(out, "Reply-To", NULL, m->reply_to);
    struct strbuf to = STRBUF_INIT;
    for (size_t i = 0; i < m->nto; i++)
        strbuf_addf(&to, i ? ", <%s>" : "<%s>", m->to[i]);
    compose_header(out, "To", to.s);
    strbuf_free(&to);
    compose_header(out, "Subject", m->subject ? m->subject : "");
    strbuf_addf(out, "Message-ID: <%s>\r\n", m->message_id);
    if (m->in_reply_to && *m->in_reply_to && strpbrk(m->in_reply_to, "\r\n<> ") == NULL)
        strbuf_addf(out, "In-Reply-To: <%s>\r\n", m->in_reply_to);
    if (m->nrefs > 0) {
        strbuf_adds(out, "References:");
        for (size_t i = 0; i < m->nrefs; i++)
            if (strpbrk(m->references[i], "\r\n<> ") == NULL)
                strbuf_addf(out, i ? "\r\n <%s>" : " <%s>", m->references[i]);
        strbuf_adds(out, "\r\n");
    }
    if (m->auto_submitted) {
        strbuf_addf(out, "Auto-Submitted: %s\r\n", m->auto_submitted);
        /* tells Exchange and friends not to answer with an auto-reply */
        strbuf_adds(out, "X-Auto-Response-Suppress: All\r\n");
    }
    for (size_t i = 0; i < m->nextra; i++) {
        const char *h = m->extra_headers[i];
        const char *colon = strchr(h, ':');
        if (colon == NULL || strpbrk(h, "\r\n"))
            continue;
        char name[64];
        size_t nl = (size_t)(colon - h) < sizeof(name) - 1 ? (size_t)(colon - h) : sizeof(name) - 1;
        memcpy(name, h, nl);
        name[nl] = '\0';
        const char *v = colon + 1;
        while (*v == ' ')
            v++;
        compose_header(out, name, v);
    }
    strbuf_adds(out, "MIME-Version: 1.0\r\n");

    char bmix[64], balt[64];
    boundary(bmix, sizeof(bmix), "mix");
    boundary(balt, sizeof(balt), "alt");
    bool alt = m->html != NULL && *m->html;
    if (m->natt > 0) {
        strbuf_addf(out, "Content-Type: multipart/mixed;\r\n boundary=\"%s\"\r\n\r\n", bmix);
        strbuf_addf(out, "--%s\r\n", bmix);
    }
    if (alt) {
        strbuf_addf(out, "Content-Type: multipart/alternative;\r\n boundary=\"%s\"\r\n\r\n", balt);
        strbuf_addf(out, "--%s\r\n", balt);
        text_part(out, "text/plain", m->text ? m->text : "");
        strbuf_addf(out, "--%s\r\n", balt);
        text_part(out, "text/html", m->html);
        strbuf_addf(out, "--%s--\r\n", balt);
    } else {
        text_part(out, "text/plain", m->text ? m->text : "");
    }
    if (m->natt > 0) {
        for (size_t i = 0; i < m->natt; i++) {
            strbuf_addf(out, "--%s\r\n", bmix);
            attachment_part(out, &m->att[i]);
        }
        strbuf_addf(out, "--%s--\r\n", bmix);
    }
    return 0;
}
