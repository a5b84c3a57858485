/*
 * lib/xalloc.h -- allocation that aborts on out-of-memory.
 *
 * Small allocations failing means the process is already lost; sizes that
 * come from the network must be checked against limits before they get
 * here.  Memory from these functions is freed with free().
 */
#ifndef ATUM_LIB_XALLOC_H
#define ATUM_LIB_XALLOC_H

#include <stddef.h>

void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
