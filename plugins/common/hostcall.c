/* plugins/common/hostcall.c -- see hostcall.h */
#include "hostcall.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

const char *plug_cell(const struct atum_host *h, struct atum_rows *r, int row, int col)
{
    const char *v = h->rows_value(r, row, col);
    return v ? v : "";
}

void plug_reply_json(const struct atum_host *h, struct atum_http_resp *resp, int status, json_t *v)
{
    char *s = json_dumps(v, JSON_COMPACT);
    h->http_reply(resp, status, "application/json", s ? s : "{}", s ? strlen(s) : 2);
    free(s);
    json_decref(v);
}

int plug_problem(const struct atum_host *h, struct atum_http_resp *resp, int status, const char *detail)
{
    const char *title = status == 404 ? "not found" : status == 409 ? "conflict"
                      : status == 503 ? "unavailable" : status >= 500 ? "internal error" : "bad request";
    json_t *v = json_pack("{s:s, s:i, s:s}", "title", title, "status", status, "detail", detail ? detail : "");
    char *s = json_dumps(v, JSON_COMPACT);
    h->http_reply(resp, status, "application/problem+json", s ? s : "{}", s ? strlen(s) : 2);
    free(s);
    json_decref(v);
    return 0;
}

int plug_query_get(const char *query, const char *key, char *buf, size_t size)
{
    size_t kl = strlen(key);
    for (const char *p = query; p && *p;) {
        const char *amp = strchr(p, '&');
        size_t n = amp ? (size_t)(amp - p) : strlen(p);
        if (n > kl && strncmp(p, key, kl) == 0 && p[kl] == '=') {
            size_t o = 0;
            for (size_t i = kl + 1; i < n && o + 1 < size; i++) {
                char c = p[i];
                if (c == '+')
                    c = ' ';
                else if (c == '%' && i + 2 < n) {
                    char hx[3] = { p[i + 1], p[i + 2], 0 };
                    c = (char)strtol(hx, NULL, 16);
                    i += 2;
                }
                buf[o++] = c;
            }
            buf[o] = '\0';
            return 1;
        }
        p = amp ? amp + 1 : NULL;
    }
    buf[0] = '\0';
    return 0;
}

long long plug_query_id(const char *query, const char *key)
{
    char v[24];
    return plug_query_get(query, key, v, sizeof(v)) ? atoll(v) : 0;
}

int plug_body_id(const struct atum_http_req *req, const char *key, long long *id_r)
{
    json_t *b = req->body ? json_loadb(req->body, req->body_len, 0, NULL) : NULL;
    json_int_t id = 0;
    json_error_t je;
    int ok = b != NULL && json_unpack_ex(b, &je, JSON_STRICT, "{s:I}", key, &id) == 0 && id > 0;
    json_decref(b);
    if (!ok)
        return -1;
    *id_r = (long long)id;
    return 0;
}

double plug_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}
