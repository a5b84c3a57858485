/* web/mailframe.c -- see web/mailframe.h. */
#include "config.h"
#include "web/mailframe.h"

#include <ctype.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define CSP_COMMON "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; " \
    "form-action 'none'; frame-ancestors 'self'; sandbox allow-popups allow-popups-to-escape-sandbox"

const char *mailframe_csp(bool remote)
{
    return remote ? "img-src data: https:; " CSP_COMMON : "img-src data:; " CSP_COMMON;
}

void mailframe_data_url(const char *type, const unsigned char *data, size_t len, struct strbuf *out)
{
    strbuf_addf(out, "data:%s;base64,", type);
    strbuf_reserve(out, 4 * ((len + 2) / 3) + 1);
    /* EVP_EncodeBlock takes an int length: in slices */
    for (size_t off = 0; off < len;) {
        size_t n = len - off > 3 * 1024 * 1024 ? 3 * 1024 * 1024 : len - off;
        strbuf_reserve(out, 4 * ((n + 2) / 3) + 1);
        int w = EVP_EncodeBlock((unsigned char *)out->s + out->len, data + off, (int)n);
        out->len += (size_t)w;
        out->s[out->len] = '\0';
        off += n;
    }
}

/* The sanitiser escaped & < > " in attribute values; this is the text. */
static void attr_unescape(const char *v, size_t n, char *out, size_t size)
{
    size_t k = 0;
    for (size_t i = 0; i < n && k + 1 < size;) {
        if (v[i] == '&') {
            static const struct { const char *e; char c; } ents[] = {
                { "&amp;", '&' }, { "&lt;", '<' }, { "&gt;", '>' }, { "&quot;", '"' } };
            bool done = false;
            for (size_t j = 0; j < 4 && !done; j++) {
                size_t el = strlen(ents[j].e);
                if (n - i >= el && memcmp(v + i, ents[j].e, el) == 0) {
                    out[k++] = ents[j].c;
                    i += el;
                    done = true;
                }
            }
            if (done)
                continue;
        }
        out[k++] = v[i++];
    }
    out[k] = '\0';
}

static int hexval(int c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
         : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* "cid:%3Clogo@x%3E" -> "logo@x", lower case. */
static void cid_key(const char *s, char *out, size_t size)
{
    size_t k = 0;
    for (size_t i = 0; s[i] && k + 1 < size; i++) {
        int c = (unsigned char)s[i];
        if (c == '%' && hexval(s[i + 1]) >= 0 && hexval(s[i + 2]) >= 0) {
            c = hexval(s[i + 1]) * 16 + hexval(s[i + 2]);
            i += 2;
        }
        out[k++] = (char)tolower(c);
    }
    out[k] = '\0';
    if (out[0] == '<' && k > 1 && out[k - 1] == '>') {
        memmove(out, out + 1, k - 2);
        out[k - 2] = '\0';
    }
}

static const char *find_image(const char *cid, const struct mailframe_image *images, size_t n)
{
    char want[512], have[512];
    cid_key(cid, want, sizeof(want));
    for (size_t i = 0; i < n; i++) {
        cid_key(images[i].content_id ? images[i].content_id : "", have, sizeof(have));
        if (have[0] && strcmp(want, have) == 0)
            return images[i].data_url;
    }
    return NULL;
}

/* One attribute of an <img>: name="value"; returns the position after it,
 * NULL at '>' (*end_r the '>'), or NULL with *end_r NULL when the tag does
 * not read as the sanitiser writes. */
static const char *next_attr(const char *p, const char *lim, const char **name, size_t *nlen,
                             const char **val, size_t *vlen, const char **end_r)
{
    while (p < lim && *p == ' ')
        p++;
    *end_r = NULL;
    if (p < lim && *p == '>') {
        *end_r = p;
        return NULL;
    }
    const char *n = p;
    while (p < lim && (isalnum((unsigned char)*p) || *p == '-' || *p == '_'))
        p++;
    if (p == n || p + 1 >= lim || p[0] != '=' || p[1] != '"')
        return NULL;
    *name = n;
    *nlen = (size_t)(p - n);
    p += 2;
    const char *v = p;
    while (p < lim && *p != '"' && *p != '<' && *p != '>')
        p++;
    if (p >= lim || *p != '"')
        return NULL;
    *val = v;
    *vlen = (size_t)(p - v);
    return p + 1;
}

static bool attr_is(const char *name, size_t n, const char *want)
{
    return strlen(want) == n && strncasecmp(name, want, n) == 0;
}

/* Rewrites one <img ...> tag starting at p (after "<img"); returns the
 * position after its '>', or NULL when there is no '>' at all. */
static const char *rewrite_img(const char *p, const char *lim, const struct mailframe_image *images,
                               size_t nimages, bool remote, struct strbuf *out)
{
    const char *gt = memchr(p, '>', (size_t)(lim - p));
    if (gt == NULL)
        return NULL;
    struct strbuf tag = STRBUF_INIT;
    strbuf_adds(&tag, "<img");
    const char *q = p, *end = NULL;
    bool good = true;
    for (;;) {
        const char *name, *val;
        size_t nl, vl;
        const char *next = next_attr(q, gt + 1, &name, &nl, &val, &vl, &end);
        if (next == NULL) {
            good = end != NULL;
            break;
        }
        q = next;
        char text[4096];
        if (attr_is(name, nl, "src")) {
            attr_unescape(val, vl, text, sizeof(text));
            if (strncasecmp(text, "cid:", 4) == 0) {
                const char *url = find_image(text + 4, images, nimages);
                if (url)
                    strbuf_addf(&tag, " src=\"%s\"", url);   /* base64: nothing to escape */
            } else if (strncasecmp(text, "data:image/", 11) == 0) {
                strbuf_adds(&tag, " src=\"");
                strbuf_add(&tag, val, vl);
                strbuf_addc(&tag, '"');
            }
        } else if (attr_is(name, nl, "data-remote-src")) {
            strbuf_adds(&tag, remote ? " src=\"" : " data-remote-src=\"");
            strbuf_add(&tag, val, vl);
            strbuf_addc(&tag, '"');
        } else {
            strbuf_addc(&tag, ' ');
            strbuf_add(&tag, name, nl);
            strbuf_adds(&tag, "=\"");
            strbuf_add(&tag, val, vl);
            strbuf_addc(&tag, '"');
        }
    }
    if (good) {
        strbuf_add(out, tag.s, tag.len);
    } else {
        /* not the sanitiser's writing: keep nothing that could load */
        strbuf_adds(out, "<img alt=\"\"");
    }
    strbuf_addc(out, '>');
    strbuf_free(&tag);
    return gt + 1;
}

void mailframe_render(const char *html, size_t len, const struct mailframe_image *images,
                      size_t nimages, bool remote, struct strbuf *out)
{
    strbuf_adds(out, "<!doctype html><html><head><meta charset=\"utf-8\">"
                     "<meta name=\"referrer\" content=\"no-referrer\"><style>"
                     "body{margin:8px;font:15px/1.45 system-ui,sans-serif;color:#1b1f24;background:#fff;"
                     "overflow-wrap:anywhere}img{max-width:100%;height:auto}"
                     "blockquote{margin:.4em 0 .4em .6em;padding-left:.6em;border-left:3px solid #d0d7de;"
                     "color:#57606a}table{max-width:100%}pre{white-space:pre-wrap}"
                     "</style></head><body>");
    const char *p = html, *lim = html + len;
    while (p < lim) {
        const char *lt = memchr(p, '<', (size_t)(lim - p));
        if (lt == NULL) {
            strbuf_add(out, p, (size_t)(lim - p));
            break;
        }
        strbuf_add(out, p, (size_t)(lt - p));
        if (lim - lt >= 5 && strncasecmp(lt, "<img", 4) == 0 && (lt[4] == ' ' || lt[4] == '>')) {
            const char *next = rewrite_img(lt + 4, lim, images, nimages, remote, out);
            if (next == NULL)
                break;              /* a tag without its end: nothing more is shown */
            p = next;
        } else {
            strbuf_addc(out, '<');
            p = lt + 1;
        }
    }
    strbuf_adds(out, "</body></html>");
}
