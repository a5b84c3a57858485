/*
 * lib/strbuf.h -- a growable byte buffer that carries its length.
 *
 * Always NUL-terminated after its content (so text can be passed on as a C
 * string) but may hold NUL bytes inside: use len, never strlen.  The
 * buffer owns its memory; strbuf_free() releases it, strbuf_steal() hands
 * it to the caller (who frees it with free()).
 */
#ifndef ATUM_LIB_STRBUF_H
#define ATUM_LIB_STRBUF_H

#include <stddef.h>

struct strbuf {
    char *s;
    size_t len, cap;
};

#define STRBUF_INIT { NULL, 0, 0 }

void strbuf_reserve(struct strbuf *b, size_t extra);
void strbuf_add(struct strbuf *b, const void *data, size_t n);
void strbuf_adds(struct strbuf *b, const char *s);
void strbuf_addc(struct strbuf *b, char c);
void strbuf_addf(struct strbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void strbuf_reset(struct strbuf *b);
char *strbuf_steal(struct strbuf *b, size_t *len_r);
void strbuf_free(struct strbuf *b);
/* Appends s with & < > " ' as HTML entities: text for HTML. */
void strbuf_add_html(struct strbuf *out, const char *s);
/* The content as a C string: "" for an empty, never-grown buffer. */
const char *strbuf_str(const struct strbuf *b);

#endif
