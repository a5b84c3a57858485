/* lib/err.c -- per-thread ring of error strings; see lib/err.h. */
#include "config.h"
#include "lib/err.h"

#include <stdarg.h>
#include <stdio.h>

struct err_ring {
    unsigned next;
    char buf[ERR_RING_SIZE][ERR_MAX];
};

static _Thread_local struct err_ring err_ring;

static const char *err_vfmt(const char *fmt, va_list ap)
{
    char *b = err_ring.buf[err_ring.next++ % ERR_RING_SIZE];
    vsnprintf(b, ERR_MAX, fmt, ap);
    return b;
}

const char *err_fmt(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    const char *s = err_vfmt(fmt, ap);
    va_end(ap);
    return s;
}

int err_set(const char **error_r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    const char *s = err_vfmt(fmt, ap);
    va_end(ap);
    if (error_r != NULL)
        *error_r = s;
    return -1;
}

int err_raise(struct err *err, enum err_code code, const char *field, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    const char *s = err_vfmt(fmt, ap);
    va_end(ap);
    if (err != NULL) {
        err->code = code;
        err->field = field;
        err->text = s;
    }
    return -1;
}

int err_failed(struct err *err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    const char *s = err_vfmt(fmt, ap);
    va_end(ap);
    if (err != NULL) {
        err->code = ERR_FAILED;
        err->field = NULL;
        err->text = s;
    }
    return -1;
}
