/* plugins/metrics/buf.c -- see buf.h. */
#include "buf.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void reserve(struct buf *b, size_t extra)
{
    if (b->len + extra + 1 <= b->cap)
        return;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + extra + 1)
        cap *= 2;
    char *s = realloc(b->s, cap);
    if (s == NULL)
        abort();
    b->s = s;
    b->cap = cap;
}

void buf_add(struct buf *b, const char *data, size_t n)
{
    reserve(b, n);
    memcpy(b->s + b->len, data, n);
    b->len += n;
    b->s[b->len] = '\0';
}

void buf_adds(struct buf *b, const char *s)
{
    buf_add(b, s, strlen(s));
}

void buf_addf(struct buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    reserve(b, (size_t)n);
    va_start(ap, fmt);
    vsnprintf(b->s + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

void buf_add_label_value(struct buf *b, const char *v)
{
    for (const char *p = v ? v : ""; *p; p++) {
        if (*p == '\\')
            buf_add(b, "\\\\", 2);
        else if (*p == '"')
            buf_add(b, "\\\"", 2);
        else if (*p == '\n')
            buf_add(b, "\\n", 2);
        else
            buf_add(b, p, 1);
    }
}

void buf_add_json_string(struct buf *b, const char *v)
{
    if (v == NULL) {
        buf_adds(b, "null");
        return;
    }
    buf_add(b, "\"", 1);
    for (const unsigned char *p = (const unsigned char *)v; *p; p++) {
        if (*p == '"' || *p == '\\')
            buf_addf(b, "\\%c", *p);
        else if (*p < 0x20)
            buf_addf(b, "\\u%04x", *p);
        else
            buf_add(b, (const char *)p, 1);
    }
    buf_add(b, "\"", 1);
}

void buf_add_number(struct buf *b, double v)
{
    char s[32];
    if (isnan(v)) {
        buf_adds(b, "NaN");
        return;
    }
    if (isinf(v)) {
        buf_adds(b, v > 0 ? "+Inf" : "-Inf");
        return;
    }
    snprintf(s, sizeof(s), "%.15g", v);
    if (strtod(s, NULL) != v)
        snprintf(s, sizeof(s), "%.17g", v);
    buf_adds(b, s);
}

void buf_free(struct buf *b)
{
    free(b->s);
    b->s = NULL;
    b->len = b->cap = 0;
}

void buf_emit(void *arg, const char *text, size_t len)
{
    buf_add(arg, text, len);
}
