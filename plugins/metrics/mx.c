/* plugins/metrics/mx.c -- see mx.h (the helpers the routes share). */
#include "mx.h"

#include <stdlib.h>
#include <string.h>

static const char *title_of(int status)
{
    switch (status) {
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 503: return "Service Unavailable";
    default: return "Internal Server Error";
    }
}

void mx_problem(const struct mx *m, struct atum_http_resp *resp, int status, const char *detail)
{
    struct buf b = BUF_INIT;
    buf_adds(&b, "{\"title\":");
    buf_add_json_string(&b, title_of(status));
    buf_addf(&b, ",\"status\":%d,\"detail\":", status);
    buf_add_json_string(&b, detail);
    buf_adds(&b, "}");
    m->host->http_reply(resp, status, "application/problem+json", b.s, b.len);
    buf_free(&b);
}

void mx_json(const struct mx *m, struct atum_http_resp *resp, const struct buf *body)
{
    m->host->http_reply(resp, 200, "application/json", body->s ? body->s : "{}",
                        body->s ? body->len : 2);
}

int mx_query_int(const char *query, const char *name, long long min, long long max,
                 long long *v_r)
{
    size_t nlen = strlen(name);
    for (const char *p = query; p && *p; p = strchr(p, '&') ? strchr(p, '&') + 1 : NULL) {
        if (strncmp(p, name, nlen) != 0 || p[nlen] != '=')
            continue;
        const char *v = p + nlen + 1;
        size_t len = strcspn(v, "&");
        if (len == 0 || len > 18)
            return -1;
        long long x = 0;
        for (size_t i = 0; i < len; i++) {
            if (v[i] < '0' || v[i] > '9')
                return -1;
            x = x * 10 + (v[i] - '0');
        }
        if (x < min || x > max)
            return -1;
        *v_r = x;
        return 1;
    }
    return 0;
}
