/* web/router.c -- see web/router.h. */
#include "config.h"
#include "web/router.h"

#include <string.h>

static bool seg_id(const char *s, size_t n, long long *v)
{
    if (n == 0 || n > 18 || s[0] == '0')
        return false;
    long long x = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        x = x * 10 + (s[i] - '0');
    }
    *v = x;
    return true;
}

static bool seg_name(const char *s, size_t n)
{
    if (n == 0 || n >= ROUTER_NAME_MAX || s[0] == '.')
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-'))
            return false;
    }
    return true;
}

static bool path_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
           || c == '-' || c == '.' || c == '_' || c == '~';
}

bool router_path_plain(const char *raw, const char **why_r)
{
    if (raw == NULL || raw[0] != '/') {
        *why_r = "the request target must be a path starting with '/'";
        return false;
    }
    const char *seg = raw + 1;
    for (;;) {
        size_t n = 0;
        while (seg[n] != '\0' && seg[n] != '/') {
            if (seg[n] == '%') {
                *why_r = "the path must not contain percent-encoded characters";
                return false;
            }
            if (!path_char(seg[n])) {
                *why_r = "the path may contain only letters, digits, '-', '.', '_', '~' and '/'";
                return false;
            }
            n++;
        }
        if ((n == 1 && seg[0] == '.') || (n == 2 && seg[0] == '.' && seg[1] == '.')) {
            *why_r = "the path must not contain '.' or '..' segments";
            return false;
        }
        if (seg[n] == '\0')
            return true;            /* "/a/b" or, with n == 0, "/" and "/a/" */
        if (n == 0) {
            *why_r = "the path must not contain empty segments ('//')";
            return false;
        }
        seg += n + 1;
    }
}

bool router_match(const char *pattern, const char *path, struct router_match *m)
{
    const char *p = pattern, *q = path;
    memset(m, 0, sizeof(*m));
    while (*p && *q) {
        if (*p != '/' || *q != '/')
            return false;
        p++;
        q++;
        const char *pe = strchr(p, '/'), *qe = strchr(q, '/');
        size_t pn = pe ? (size_t)(pe - p) : strlen(p);
        size_t qn = qe ? (size_t)(qe - q) : strlen(q);
        if (pn >= 2 && p[0] == '{' && p[pn - 1] == '}') {
            if (pn == 6 && strncmp(p, "{name}", 6) == 0) {
                if (!seg_name(q, qn))
                    return false;
                memcpy(m->name, q, qn);
                m->name[qn] = '\0';
            } else {
                if (m->nids >= ROUTER_MAX_IDS || !seg_id(q, qn, &m->ids[m->nids]))
                    return false;
                m->nids++;
            }
        } else if (pn != qn || strncmp(p, q, pn) != 0) {
            return false;
        }
        p += pn;
        q += qn;
    }
    return *p == '\0' && *q == '\0';
}

bool router_has_id(const char *pattern)
{
    return strchr(pattern, '{') != NULL;
}
