/* mail/rfc2047.c -- see mail/rfc2047.h. */
#include "config.h"
#include "mail/rfc2047.h"
#include "mail/charset.h"

#include <ctype.h>
#include <stdio.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static int hexval(int c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

void decode_base64(const char *in, size_t len, struct strbuf *out)
{
    static signed char map[256];
    static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    if (map[0] == 0) {
        /* idempotent fill; racing threads write the same values */
        for (int i = 0; i < 256; i++)
            map[i] = -1;
        for (int i = 0; i < 64; i++)
            map[(unsigned char)alphabet[i]] = (signed char)i;
        map[(unsigned char)'-'] = 62;   /* base64url, seen in the wild */
        map[(unsigned char)'_'] = 63;
    }
    unsigned acc = 0;
    int bits = 0;
    strbuf_reserve(out, len * 3 / 4 + 4);
    unsigned char *o = (unsigned char *)out->s + out->len;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)in[i];
        if (c == '=')
            break;              /* padding: the rest is ignored */
        if (map[c] < 0)
            continue;           /* whitespace and junk */
        acc = (acc << 6) | (unsigned)map[c];
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            *o++ = (unsigned char)((acc >> bits) & 0xFF);
        }
    }
    out->len = (size_t)((char *)o - out->s);
    out->s[out->len] = '\0';
}

void decode_qp(const char *in, size_t len, int header_mode, struct strbuf *out)
{
    strbuf_reserve(out, len);
    for (size_t i = 0; i < len; i++) {
        char c = in[i];
        if (header_mode && c == '_') {
            strbuf_addc(out, ' ');
        } else if (c == '=') {
            if (i + 2 < len + 0 && hexval((unsigned char)in[i + 1]) >= 0 && hexval((unsigned char)in[i + 2]) >= 0) {
                strbuf_addc(out, (char)(hexval((unsigned char)in[i + 1]) * 16 + hexval((unsigned char)in[i + 2])));
                i += 2;
            } else if (!header_mode) {
                /* soft line break: "=" then optional spaces then (CR)LF */
                size_t j = i + 1;
                while (j < len && (in[j] == ' ' || in[j] == '\t'))
                    j++;
                if (j < len && in[j] == '\r')
                    j++;
                if (j < len && in[j] == '\n') {
                    i = j;
                } else if (j >= len) {
                    i = j;
                } else {
                    strbuf_addc(out, '=');   /* a stray '=' stays */
                }
            } else {
                strbuf_addc(out, '=');
            }
        } else {
            strbuf_addc(out, c);
        }
    }
}

/* One encoded word at s[0..len): "=?cs?E?text?=".  Fills the parts and
 * returns its length, or 0 when s does not start one. */
static size_t parse_word(const char *s, size_t len, const char **cs, size_t *cslen, char *enc,
                         const char **text, size_t *textlen)
{
    if (len < 8 || s[0] != '=' || s[1] != '?')
        return 0;
    size_t i = 2;
    while (i < len && s[i] != '?' && !isspace((unsigned char)s[i]) && i < 64)
        i++;
    if (i >= len || s[i] != '?' || i == 2)
        return 0;
    *cs = s + 2;
    *cslen = i - 2;
    if (i + 2 >= len || s[i + 2] != '?')
        return 0;
    char e = (char)toupper((unsigned char)s[i + 1]);
    if (e != 'B' && e != 'Q')
        return 0;
    *enc = e;
    size_t t = i + 3;
    /* the text ends at the next "?="; Q text sometimes carries spaces */
    for (size_t j = t; j + 1 < len; j++) {
        if (s[j] == '?' && s[j + 1] == '=') {
            *text = s + t;
            *textlen = j - t;
            return j + 2;
        }
        if (s[j] == '=' && s[j + 1] == '?' && j > t && (s[j - 1] == ' ' || s[j - 1] == '\t'))
            return 0;   /* another word starts: this one is broken */
    }
    return 0;
}

struct segment {
    bool encoded;
    char charset[48];
    struct strbuf bytes;
};

static void note(struct rfc2047_report *rep, const struct charset_result *r, bool raw)
{
    if (rep == NULL)
        return;
    if (r->guessed || r->bad > 0 || r->unknown_declared) {
        if (raw)
            rep->raw_repaired = true;
        else
            rep->word_repaired = true;
        if (rep->used[0] == '\0')
            snprintf(rep->used, sizeof(rep->used), "%s", r->used);
    }
    rep->bad += r->bad;
}

static void flush_raw(struct strbuf *raw, const char *raw_charset, struct strbuf *out,
                      struct rfc2047_report *rep)
{
    if (raw->len == 0)
        return;
    struct charset_result r;
    charset_header_to_utf8(raw->s, raw->len, raw_charset, out, &r);
    note(rep, &r, true);
    strbuf_reset(raw);
}

static void flush_encoded(struct segment *seg, struct strbuf *out, struct rfc2047_report *rep)
{
    if (!seg->encoded)
        return;
    struct charset_result r;
    charset_to_utf8(seg->bytes.s ? seg->bytes.s : "", seg->bytes.len, seg->charset, out, &r);
    /* a word's charset is declared: undecodable bytes, an unknown name or
     * a Japanese label over the other Japanese encoding are repairs (a
     * us-ascii word holding UTF-8 is not news) */
    if (r.bad > 0 || r.unknown_declared || (r.guessed && strcmp(r.used, "UTF-8") != 0))
        note(rep, &r, false);
    strbuf_reset(&seg->bytes);
    seg->encoded = false;
}

void rfc2047_decode(const char *in, size_t len, const char *raw_charset, struct strbuf *out)
{
    rfc2047_decode_report(in, len, raw_charset, out, NULL);
}

void rfc2047_decode_report(const char *in, size_t len, const char *raw_charset, struct strbuf *out,
                           struct rfc2047_report *rep)
{
    if (rep != NULL)
        memset(rep, 0, sizeof(*rep));
    struct strbuf raw = STRBUF_INIT;       /* pending raw bytes */
    struct strbuf ws = STRBUF_INIT;        /* whitespace after an encoded word */
    struct segment seg = { false, "", STRBUF_INIT };
    size_t i = 0;

    while (i < len) {
        const char *cs, *text;
        size_t cslen, textlen;
        char enc;
        size_t wl = in[i] == '=' ? parse_word(in + i, len - i, &cs, &cslen, &enc, &text, &textlen) : 0;
        if (wl > 0) {
            char charset[48];
            size_t n = cslen < sizeof(charset) - 1 ? cslen : sizeof(charset) - 1;
            memcpy(charset, cs, n);
            charset[n] = '\0';
            char *star = strchr(charset, '*');   /* RFC 2231 language: =?utf-8*en?Q?..?= */
            if (star)
                *star = '\0';
            if (seg.encoded && ws.len > 0 && raw.len == 0) {
                /* whitespace between two encoded words vanishes */
                strbuf_reset(&ws);
            }
            if (ws.len > 0) {
                flush_encoded(&seg, out, rep);
                strbuf_add(&raw, ws.s, ws.len);
                strbuf_reset(&ws);
            }
            flush_raw(&raw, raw_charset, out, rep);
            if (seg.encoded && strcasecmp(seg.charset, charset) != 0)
                flush_encoded(&seg, out, rep);
            seg.encoded = true;
            snprintf(seg.charset, sizeof(seg.charset), "%s", charset);
            if (enc == 'B')
                decode_base64(text, textlen, &seg.bytes);
            else
                decode_qp(text, textlen, 1, &seg.bytes);
            i += wl;
            continue;
        }
        if (seg.encoded && (in[i] == ' ' || in[i] == '\t')) {
            strbuf_addc(&ws, in[i]);
            i++;
            continue;
        }
        flush_encoded(&seg, out, rep);
        if (ws.len > 0) {
            strbuf_add(&raw, ws.s, ws.len);
            strbuf_reset(&ws);
        }
        strbuf_addc(&raw, in[i]);
        i++;
    }
    flush_encoded(&seg, out, rep);
    if (ws.len > 0)
        strbuf_add(&raw, ws.s, ws.len);
    flush_raw(&raw, raw_charset, out, rep);
    strbuf_free(&raw);
    strbuf_free(&ws);
    strbuf_free(&seg.bytes);
}

/* ---- RFC 2231 --------------------------------------------------------- */

static void percent_decode(const char *s, struct strbuf *out)
{
    for (; *s; s++) {
        if (*s == '%' && hexval((unsigned char)s[1]) >= 0 && hexval((unsigned char)s[2]) >= 0) {
            strbuf_addc(out, (char)(hexval((unsigned char)s[1]) * 16 + hexval((unsigned char)s[2])));
            s += 2;
        } else {
            strbuf_addc(out, *s);
        }
    }
}

static const char *unquote(const char *v, char *buf, size_t size)
{
    size_t n = strlen(v);
    if (n >= 2 && v[0] == '"' && v[n - 1] == '"') {
        size_t k = 0;
        for (size_t i = 1; i + 1 < n && k + 1 < size; i++) {
            if (v[i] == '\\' && i + 2 < n)
                i++;
            buf[k++] = v[i];
        }
        buf[k] = '\0';
        return buf;
    }
    return v;
}

int rfc2231_param(const struct mime_param *params, size_t n, const char *name, struct strbuf *out)
{
    size_t nl = strlen(name);
    struct strbuf bytes = STRBUF_INIT;
    char charset[48] = "";
    bool found = false;

    /* name*=charset'lang'value */
    for (size_t i = 0; i < n && !found; i++) {
        const char *pn = params[i].name;
        if (strncasecmp(pn, name, nl) == 0 && strcmp(pn + nl, "*") == 0) {
            const char *v = params[i].value;
            const char *q1 = strchr(v, '\'');
            const char *q2 = q1 ? strchr(q1 + 1, '\'') : NULL;
            if (q1 && q2) {
                size_t cl = (size_t)(q1 - v) < sizeof(charset) - 1 ? (size_t)(q1 - v) : sizeof(charset) - 1;
                memcpy(charset, v, cl);
                charset[cl] = '\0';
                percent_decode(q2 + 1, &bytes);
            } else {
                percent_decode(v, &bytes);
            }
            found = true;
        }
    }
    /* name*0, name*0*, name*1 ... in index order, until the first gap */
    for (int idx = 0; !found && idx >= 0 && idx < 1000; idx++) {
        bool got = false;
        for (size_t i = 0; i < n && !got; i++) {
            const char *pn = params[i].name;
            if (strncasecmp(pn, name, nl) != 0 || pn[nl] != '*' || !isdigit((unsigned char)pn[nl + 1]))
                continue;
            char *end;
            long k = strtol(pn + nl + 1, &end, 10);
            if (k != idx)
                continue;
            const char *v = params[i].value;
            if (*end == '*') {
                if (idx == 0) {
                    const char *q1 = strchr(v, '\'');
                    const char *q2 = q1 ? strchr(q1 + 1, '\'') : NULL;
                    if (q1 && q2) {
                        size_t cl = (size_t)(q1 - v) < sizeof(charset) - 1 ? (size_t)(q1 - v) : sizeof(charset) - 1;
                        memcpy(charset, v, cl);
                        charset[cl] = '\0';
                        v = q2 + 1;
                    }
                }
                percent_decode(v, &bytes);
            } else {
                char tmp[1024];
                strbuf_adds(&bytes, unquote(v, tmp, sizeof(tmp)));
            }
            got = true;
        }
        if (!got) {
            found = idx > 0;
            break;
        }
    }
    if (found) {
        if (bytes.len > 0) {
            struct charset_result r;
            charset_to_utf8(bytes.s, bytes.len, charset[0] ? charset : NULL, out, &r);
        }
        strbuf_free(&bytes);
        return 1;
    }
    strbuf_free(&bytes);
    /* the plain form, possibly with encoded words inside */
    for (size_t i = 0; i < n; i++) {
        if (strcasecmp(params[i].name, name) == 0) {
            char tmp[2048];
            const char *v = unquote(params[i].value, tmp, sizeof(tmp));
            rfc2047_decode(v, strlen(v), NULL, out);
            return 1;
        }
    }
    return 0;
}
