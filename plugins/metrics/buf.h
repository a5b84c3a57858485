/*
 * plugins/metrics/buf.h -- a growing text buffer, and the two escapes the
 * plugin writes: a Prometheus label value and a JSON string.
 *
 * Ownership: the buffer owns its memory; buf_free() releases it and
 * leaves an empty buffer.  Out of memory aborts (a plugin cannot answer
 * without its buffer, and small allocations failing means the process is
 * lost anyway).
 */
#ifndef ATUM_METRICS_BUF_H
#define ATUM_METRICS_BUF_H

#include <stddef.h>

struct buf {
    char *s;                 /* NUL-terminated once anything was added */
    size_t len, cap;
};

#define BUF_INIT { NULL, 0, 0 }

void buf_add(struct buf *b, const char *data, size_t n);
void buf_adds(struct buf *b, const char *s);
void buf_addf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* value with \\, \" and \n escaped, for name="value" in a label set */
void buf_add_label_value(struct buf *b, const char *value);
/* "value" as a JSON string (quotes included); NULL gives null */
void buf_add_json_string(struct buf *b, const char *value);
/* A sample value: the shortest decimal that reads back, or +Inf/-Inf/NaN. */
void buf_add_number(struct buf *b, double v);
void buf_free(struct buf *b);

/* The same as host->metrics_write's emit: appends to the struct buf *arg. */
void buf_emit(void *arg, const char *text, size_t len);

#endif
