/*
 * lib/err.h -- error strings for the `const char **error_r` convention.
 *
 * err_fmt() formats into a small per-thread ring of buffers and returns a
 * pointer into it.  The string stays valid until ERR_RING_SIZE more calls to
 * err_fmt() on the same thread: long enough for a caller to log it or wrap
 * it ("claim: %s"), never long enough to store it.  Copy what you keep.
 *
 * Where a caller must act on the kind of failure (answer 404 or 409, give
 * a job up or retry it), the function fills a struct err instead: a code
 * to decide on, the input field at fault, and the text for the log or the
 * client.  Callers decide on err.code, never on the wording of err.text.
 */
#ifndef ATUM_LIB_ERR_H
#define ATUM_LIB_ERR_H

#define ERR_RING_SIZE 8
#define ERR_MAX 1024

const char *err_fmt(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Sets *error_r (if error_r is not NULL) and returns -1: `return err_set(error_r, ...)`. */
int err_set(const char **error_r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* What kind of failure it was. */
enum err_code {
    ERR_OK = 0,
    ERR_FAILED,        /* anything else (a database error ...): may work later */
    ERR_NOT_FOUND,     /* what was named does not exist, or is not the caller's to see */
    ERR_INVALID,       /* the input is wrong; err.field names it */
    ERR_CONFLICT,      /* the current state forbids it (closed, merged, taken) */
    ERR_FORBIDDEN,     /* the actor may not do this */
};

struct err {
    enum err_code code;
    const char *field;         /* the input at fault, or NULL (static strings) */
    const char *text;          /* in the per-thread ring, as err_fmt() */
};

/* Fills *err (if not NULL) and returns -1: `return err_raise(err, ERR_CONFLICT, NULL, ...)`. */
int err_raise(struct err *err, enum err_code code, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* ERR_FAILED with the text of a `const char **error_r` style failure. */
int err_failed(struct err *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
