/* lib/strbuf.c -- see lib/strbuf.h. */
#include "config.h"
#include "lib/strbuf.h"
#include "lib/xalloc.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void strbuf_reserve(struct strbuf *b, size_t extra)
{
    size_t need = b->len + extra + 1;
    if (need <= b->cap)
        return;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need)
        cap *= 2;
    b->s = xrealloc(b->s, cap);
    b->cap = cap;
}

void strbuf_add(struct strbuf *b, const void *data, size_t n)
{
    strbuf_reserve(b, n);
    if (n > 0)
        memcpy(b->s + b->len, data, n);
    b->len += n;
    b->s[b->len] = '\0';
}

void strbuf_adds(struct strbuf *b, const char *s)
{
    strbuf_add(b, s, strlen(s));
}

void strbuf_addc(struct strbuf *b, char c)
{
    strbuf_add(b, &c, 1);
}

void strbuf_addf(struct strbuf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char tmp[256];
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    if (n < 0) {
        va_end(ap2);
        return;
    }
    if ((size_t)n < sizeof(tmp)) {
        strbuf_add(b, tmp, (size_t)n);
    } else {
        strbuf_reserve(b, (size_t)n);
        vsnprintf(b->s + b->len, (size_t)n + 1, fmt, ap2);
        b->len += (size_t)n;
    }
    va_end(ap2);
}

void strbuf_reset(struct strbuf *b)
{
    b->len = 0;
    if (b->s)
        b->s[0] = '\0';
}

char *strbuf_steal(struct strbuf *b, size_t *len_r)
{
    if (b->s == NULL)
        strbuf_reserve(b, 0), b->s[0] = '\0';
    char *s = b->s;
    if (len_r)
        *len_r = b->len;
    b->s = NULL;
    b->len = b->cap = 0;
    return s;
}

void strbuf_free(struct strbuf *b)
{
    free(b->s);
    b->s = NULL;
    b->len = b->cap = 0;
}

const char *strbuf_str(const struct strbuf *b)
{
    return b->s ? b->s : "";
}

void strbuf_add_html(struct strbuf *out, const char *s)
{
    for (; s && *s; s++) {
        switch (*s) {
        case '&': strbuf_adds(out, "&amp;"); break;
        case '<': strbuf_adds(out, "&lt;"); break;
        case '>': strbuf_adds(out, "&gt;"); break;
        case '"': strbuf_adds(out, "&quot;"); break;
        case '\'': strbuf_adds(out, "&#39;"); break;
        default: strbuf_addc(out, *s);
        }
    }
}
