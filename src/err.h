/*
 * err.h -- error strings for the `const char **error_r` convention.
 *
 * err_fmt() formats into a small per-thread ring of buffers and returns a
 * pointer into it.  The string stays valid until ERR_RING_SIZE more calls to
 * err_fmt() on the same thread: long enough for a caller to log it or wrap
 * it ("claim: %s"), never long enough to store it.  Copy what you keep.
 */
#ifndef ATUM_ERR_H
#define ATUM_ERR_H

#define ERR_RING_SIZE 8
#define ERR_MAX 1024

const char *err_fmt(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Sets *error_r (if error_r is not NULL) and returns -1: `return err_set(error_r, ...)`. */
int err_set(const char **error_r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
