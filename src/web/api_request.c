/* web/api_request.c -- see web/api_request.h. */
#include "config.h"
#include "web/api_request.h"
#include "web/http.h"
#include "desk/audit.h"
#include "desk/desk.h"
#include "core/dbpool.h"
#include "core/event.h"
#include "core/runtime.h"
#include "lib/err.h"
#include "lib/jsonlimit.h"
#include "lib/log.h"
#include "lib/util.h"
#include "lib/xalloc.h"

#include <stdarg.h>
#include <strings.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define API_QUERY_MAX 4096

/* ---- answering ---------------------------------------------------------- */

void api_add_header(struct api_req *r, const char *fmt, ...)
{
    va_list ap;
    char line[1024];
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof(line) || strpbrk(line, "\r\n") != NULL)
        return;   /* never a header split */
    strbuf_adds(&r->headers, line);
    strbuf_adds(&r->headers, "\r\n");
}

int api_raw(struct api_req *r, int status, const char *content_type, const char *body, size_t len)
{
    if (r->answered) {
        log_error("api.double_answer", "path=%s", r->path);
        return 0;
    }
    r->answered = true;
    r->status = status;
    http_send(r->conn, status, content_type, body, len, r->headers.len ? r->headers.s : NULL);
    return 0;
}

int api_json(struct api_req *r, int status, json_t *value)
{
    char *s = value ? json_dumps(value, JSON_COMPACT) : NULL;
    json_decref(value);
    if (s == NULL)
        return api_problem(r, 500, NULL, "the response could not be encoded");
    api_raw(r, status, "application/json", s, strlen(s));
    free(s);
    return 0;
}

int api_no_content(struct api_req *r)
{
    return api_raw(r, 204, "application/json", "", 0);
}

int api_problem(struct api_req *r, int status, const char *field, const char *fmt, ...)
{
    char detail[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof(detail), fmt, ap);
    va_end(ap);
    json_t *o = json_pack("{s:s, s:i, s:s}", "title", http_status_text(status), "status", status,
                          "detail", detail);
    if (o == NULL)   /* detail with invalid UTF-8 (echoed input) */
        o = json_pack("{s:s, s:i, s:s}", "title", http_status_text(status), "status", status,
                      "detail", "invalid input");
    if (o && field) {
        json_t *f = json_string(field);
        if (f)
            json_object_set_new(o, "field", f);
    }
    char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    const char *body = s ? s : "{\"title\":\"Internal Server Error\",\"status\":500}";
    api_raw(r, status, "application/problem+json", body, strlen(body));
    free(s);
    return 0;
}

int api_db_fail(struct api_req *r, const char *what, const char *e)
{
    bool down = r->db == NULL || !db_conn_is_up(r->db);
    log_error("api.db_error", "path=%s what=%s error=%s", r->path, what, e ? e : "");
    if (down)
        return api_problem(r, 503, NULL, "the database is unavailable; try again later");
    return api_problem(r, 500, NULL, "internal error while %s", what);
}

/* ---- input ---------------------------------------------------------------- */

static bool is_id_field(const char *name)
{
    size_t n = strlen(name);
    return n >= 3 && strcmp(name + n - 3, "_id") == 0;
}

static bool json_content_type(struct api_req *r)
{
    const char *ct = mg_get_header(r->conn, "Content-Type");
    return ct != NULL && strncasecmp(ct, "application/json", 16) == 0
           && (ct[16] == '\0' || ct[16] == ';' || ct[16] == ' ');
}

/*
 * The largest JSON body a route can need: each of its fields at its
 * longest with every character escaped (\u0041: 6 bytes for 1), twice
 * over for whitespace, plus a little.  So a login takes about 17 KB, a
 * ticket reply (1 MiB of text) about 12 MiB -- never more than
 * web.max_body, and without credentials never more than
 * web.max_public_body: a body is refused from its Content-Length before a
 * byte of it is read, and a chunked one as soon as it passes the limit.
 */
static long long body_limit(const struct api_req *r, const struct api_field *fields)
{
    long long n = 0;
    for (const struct api_field *f = fields; f && f->name; f++) {
        long long len = f->max_len ? (long long)f->max_len : 10000;
        n += (long long)strlen(f->name) + 8;
        switch (f->type) {
        case F_STR: case F_STR_NULL: n += 6 * len + 2; break;
        case F_INT: case F_INT_NULL: n += 24; break;
        case F_BOOL: n += 5; break;
        case F_STR_ARRAY: n += 100 * (6 * 200 + 3) + 2; break;
        }
    }
    n = 1024 + 2 * n;
    if (n > r->api->max_body)
        n = r->api->max_body;
    if (r->via == API_AUTH_NONE && n > r->api->public_max)
        n = r->api->public_max;
    return n;
}

/* The whole body into b, within limit bytes; -1 when a problem was sent. */
static int read_body(struct api_req *r, struct strbuf *b, long long limit)
{
    struct http_body_limits lim = r->api->body;
    lim.max = limit;
    lim.chunked_ok = r->via != API_AUTH_NONE;
    int st = http_read_body(r->conn, &lim, b);
    if (st == 0)
        return 0;
    /* the rest of the body is not read: the connection cannot go on */
    api_add_header(r, "Connection: close");
    if (st == 413)
        api_problem(r, 413, NULL, "the request body is larger than this request takes (%lld bytes)",
                    limit);
    else if (st == 411)
        api_problem(r, 411, NULL, "a request without credentials must send its body with a "
                    "Content-Length, not chunked");
    else if (st == 408)
        api_problem(r, 408, NULL, "the request body came too slowly (web.request_timeout, "
                    "web.body_min_rate)");
    else
        api_problem(r, 400, NULL, "the request body could not be read completely");
    return -1;
}

/* Parses s as a JSON object with only these fields, of these types; NULL
 * when a problem was sent.  No fields at all: only {} passes. */
static json_t *parse_fields(struct api_req *r, const char *s, size_t len,
                            const struct api_field *fields)
{
    json_error_t je;
    /* before jansson recurses into it on this thread's small stack */
    if (!json_depth_ok(s ? s : "", len, JSON_MAX_DEPTH)) {
        api_problem(r, 400, NULL, "the body nests arrays or objects deeper than %d levels",
                    JSON_MAX_DEPTH);
        return NULL;
    }
    json_t *o = json_loadb(s ? s : "", len, JSON_REJECT_DUPLICATES, &je);
    if (o == NULL) {
        api_problem(r, 400, NULL, "the body is not valid JSON: %s (line %d, column %d)", je.text,
                    je.line, je.column);
        return NULL;
    }
    if (!json_is_object(o)) {
        api_problem(r, 400, NULL, "the body must be a JSON object");
        goto bad;
    }
    const char *key;
    json_t *v;
    json_object_foreach(o, key, v) {
        const struct api_field *f = NULL;
        for (const struct api_field *k = fields; k && k->name; k++)
            if (strcmp(k->name, key) == 0)
                f = k;
        if (f == NULL) {
            if (fields == NULL || fields->name == NULL)
                api_problem(r, 400, key, "unknown field '%s': this request takes no body", key);
            else
                api_problem(r, 400, key, "unknown field '%s'", key);
            goto bad;
        }
        size_t maxl = f->max_len ? f->max_len : 10000;
        switch (f->type) {
        case F_STR_NULL:
            if (json_is_null(v))
                break;
            /* fall through */
        case F_STR:
            if (!json_is_string(v)) {
                api_problem(r, 400, key, "field '%s' must be a string", key);
                goto bad;
            }
            if (json_string_length(v) > maxl) {
                api_problem(r, 400, key, "field '%s' is longer than %zu bytes", key, maxl);
                goto bad;
            }
            if (strlen(json_string_value(v)) != json_string_length(v)) {
                api_problem(r, 400, key, "field '%s' contains a NUL character", key);
                goto bad;
            }
            break;
        case F_INT_NULL:
            if (json_is_null(v))
                break;
            /* fall through */
        case F_INT:
            if (!json_is_integer(v)) {
                api_problem(r, 400, key, "field '%s' must be an integer", key);
                goto bad;
            }
            if (is_id_field(key) && json_integer_value(v) <= 0) {
                api_problem(r, 400, key, "field '%s' must be a positive id", key);
                goto bad;
            }
            break;
        case F_BOOL:
            if (!json_is_boolean(v)) {
                api_problem(r, 400, key, "field '%s' must be true or false", key);
                goto bad;
            }
            break;
        case F_STR_ARRAY: {
            if (!json_is_array(v)) {
                api_problem(r, 400, key, "field '%s' must be an array of strings", key);
                goto bad;
            }
            size_t i;
            json_t *e;
            json_array_foreach(v, i, e) {
                if (!json_is_string(e) || json_string_length(e) > 200) {
                    api_problem(r, 400, key, "field '%s' must be an array of strings "
                                "(each at most 200 bytes)", key);
                    goto bad;
                }
            }
            if (json_array_size(v) > 100) {
                api_problem(r, 400, key, "field '%s' has more than 100 entries", key);
                goto bad;
            }
            break;
        }
        }
    }
    for (const struct api_field *k = fields; k && k->name; k++) {
        if (k->required && json_object_get(o, k->name) == NULL) {
            api_problem(r, 400, k->name, "field '%s' is required", k->name);
            goto bad;
        }
    }
    return o;
bad:
    json_decref(o);
    return NULL;
}

json_t *api_body(struct api_req *r, const struct api_field *fields)
{
    struct strbuf b = STRBUF_INIT;
    json_t *o = NULL;
    r->body_checked = true;
    if (!json_content_type(r)) {
        api_problem(r, 415, NULL, "the request body must be JSON (Content-Type: application/json)");
        goto out;
    }
    if (read_body(r, &b, body_limit(r, fields)) < 0)
        goto out;
    o = parse_fields(r, b.s, b.len, fields);
    r->body = o;
out:
    strbuf_free(&b);
    return o;
}

int api_no_body(struct api_req *r)
{
    static const struct api_field none[] = { { NULL, 0, false, 0 } };
    struct strbuf b = STRBUF_INIT;
    int ret = -1;
    r->body_checked = true;
    if (read_body(r, &b, body_limit(r, none)) < 0)
        goto out;
    if (b.len > 0) {
        /* whatever a client meant with it, the request would be carried
         * out without it: refuse rather than pretend it was understood */
        if (!json_content_type(r)) {
            api_problem(r, 400, NULL, "this request takes no body");
            goto out;
        }
        json_t *o = parse_fields(r, b.s, b.len, none);
        if (o == NULL)
            goto out;
        json_decref(o);
    }
    ret = 0;
out:
    strbuf_free(&b);
    return ret;
}

const char *api_str(json_t *body, const char *name)
{
    json_t *v = json_object_get(body, name);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

int api_query_check(struct api_req *r, const char *const *allowed)
{
    const char *q = r->ri->query_string;
    if (q == NULL || *q == '\0')
        return 0;
    if (strlen(q) > API_QUERY_MAX)
        return api_problem(r, 400, NULL, "the query string is too long"), -1;
    while (*q) {
        const char *amp = strchr(q, '&');
        size_t n = amp ? (size_t)(amp - q) : strlen(q);
        const char *eq = memchr(q, '=', n);
        size_t kn = eq ? (size_t)(eq - q) : n;
        bool ok = kn == 0;   /* "a=1&&b=2": an empty pair is harmless */
        for (const char *const *a = allowed; a && *a && !ok; a++)
            ok = strlen(*a) == kn && strncmp(*a, q, kn) == 0;
        if (!ok) {
            char name[64];
            snprintf(name, sizeof(name), "%.*s", (int)(kn < 60 ? kn : 60), q);
            for (char *p = name; *p; p++)
                if ((unsigned char)*p < 0x20 || (unsigned char)*p > 0x7e)
                    *p = '?';
            api_problem(r, 400, name, "unknown query parameter '%s'", name);
            return -1;
        }
        q += n;
        if (*q == '&')
            q++;
    }
    return 0;
}

int api_query(struct api_req *r, const char *name, char *buf, size_t size)
{
    const char *q = r->ri->query_string;
    if (q == NULL)
        return 0;
    int n = mg_get_var(q, strlen(q), name, buf, size);
    if (n == -1)
        return 0;
    if (n < 0) {
        api_problem(r, 400, name, "query parameter '%s' is too long", name);
        return -1;
    }
    if (strlen(buf) != (size_t)n) {
        api_problem(r, 400, name, "query parameter '%s' contains a NUL character", name);
        return -1;
    }
    if (!str_utf8_valid(buf, (size_t)n)) {
        api_problem(r, 400, name, "query parameter '%s' is not valid UTF-8", name);
        return -1;
    }
    return 1;
}

int api_query_time(struct api_req *r, const char *name, char *buf, size_t size)
{
    const char *e = NULL;
    int n = api_query(r, name, buf, size);
    if (n <= 0)
        return n;
    if (api_db(r) == NULL)
        return -1;
    /* one more round trip, only when the filter is used: PostgreSQL
     * accepts more spellings than an ISO 8601 parser here would */
    const char *p[] = { buf };
    PGresult *res = db_exec(r->db, "SELECT $1::timestamptz", 1, p, &e);
    if (res == NULL) {
        if (strncmp(db_last_sqlstate(r->db), "22", 2) == 0)
            api_problem(r, 400, name, "query parameter '%s' must be an ISO 8601 timestamp, "
                        "e.g. 2026-01-31T12:00:00Z", name);
        else
            api_db_fail(r, "reading a timestamp parameter", e);
        return -1;
    }
    PQclear(res);
    return 1;
}

int api_query_id(struct api_req *r, const char *name, long long *v_r, bool *set_r)
{
    char buf[32];
    *set_r = false;
    int got = api_query(r, name, buf, sizeof(buf));
    if (got <= 0)
        return got;
    char *end;
    long long v = strtoll(buf, &end, 10);
    if (buf[0] < '1' || buf[0] > '9' || *end != '\0' || v <= 0 || strlen(buf) > 18) {
        api_problem(r, 400, name, "query parameter '%s' must be a positive integer", name);
        return -1;
    }
    *v_r = v;
    *set_r = true;
    return 1;
}

/* ---- resources -------------------------------------------------------------- */

struct db_conn *api_db(struct api_req *r)
{
    if (r->db != NULL)
        return r->db;
    const char *e = NULL;
    r->db = db_pool_acquire(r->api->pool, 5000, &e);
    if (r->db == NULL) {
        log_warn("api.no_database", "path=%s error=%s", r->path, e);
        api_problem(r, 503, NULL, "the database is unavailable; try again later");
    }
    return r->db;
}

const char *api_uid(struct api_req *r)
{
    static _Thread_local char buf[24];
    snprintf(buf, sizeof(buf), "%lld", r->user.id);
    return buf;
}

int api_audit(struct api_req *r, const char *action, const char *target, json_t *detail,
              const char **error_r)
{
    char actor[40];
    char *det = detail ? json_dumps(detail, JSON_COMPACT) : NULL;
    snprintf(actor, sizeof(actor), r->user.id ? "user:%lld" : "anonymous", r->user.id);
    int rc = audit_append(r->db, r->user.id, actor, action, target, det, r->ip[0] ? r->ip : NULL,
                          error_r);
    free(det);
    return rc;
}

int api_emit(struct api_req *r, const char *event, json_t *data, const char **error_r)
{
    char *s = json_dumps(data, JSON_COMPACT);
    if (s == NULL)
        return err_set(error_r, "event %s: cannot encode data", event);
    runtime_rdlock(r->api->rt);
    int rc = event_emit(r->api->rt, r->db, event, s, error_r);
    runtime_rdunlock(r->api->rt);
    free(s);
    return rc;
}

int api_send_cell(struct api_req *r, int status, PGresult *res)
{
    if (PQntuples(res) < 1 || PQgetisnull(res, 0, 0))
        return api_problem(r, 404, NULL, "not found");
    return api_raw(r, status, "application/json", PQgetvalue(res, 0, 0),
                   (size_t)PQgetlength(res, 0, 0));
}

/* "2026-11-22 14:25:25.07+00" -> "2026-11-22T14:25:25.07+00:00" */
static json_t *iso_time(const char *s)
{
    char buf[64];
    size_t n = strlen(s);
    if (n + 4 >= sizeof(buf))
        return json_string(s);
    memcpy(buf, s, n + 1);
    char *sp = strchr(buf, ' ');
    if (sp)
        *sp = 'T';
    if (n > 3 && (buf[n - 3] == '+' || buf[n - 3] == '-'))
        memcpy(buf + n, ":00", 4);
    return json_string(buf);
}

json_t *api_row(const PGresult *res, int row)
{
    json_t *o = json_object();
    for (int c = 0; c < PQnfields(res); c++) {
        const char *name = PQfname(res, c);
        size_t nl = strlen(name);
        json_t *v;
        if (PQgetisnull(res, row, c)) {
            v = json_null();
        } else {
            const char *s = PQgetvalue(res, row, c);
            Oid t = PQftype(res, c);
            if (nl > 5 && strcmp(name + nl - 5, "_json") == 0) {
                v = json_loads(s, JSON_DECODE_ANY, NULL);
                char key[64];
                snprintf(key, sizeof(key), "%.*s", (int)(nl - 5), name);
                json_object_set_new(o, key, v ? v : json_null());
                continue;
            }
            if (t == 16)                              /* bool */
                v = json_boolean(s[0] == 't');
            else if (t == 20 || t == 21 || t == 23)   /* int8, int2, int4 */
                v = json_integer(strtoll(s, NULL, 10));
            else if (t == 1184)                       /* timestamptz: ISO 8601 */
                v = iso_time(s);
            else
                v = json_string(s);
            if (v == NULL)
                v = json_null();
        }
        json_object_set_new(o, name, v);
    }
    return o;
}

enum atum_role api_role_level(const char *role)
{
    if (strcmp(role, "admin") == 0) return ATUM_ROLE_ADMIN;
    if (strcmp(role, "manager") == 0) return ATUM_ROLE_MANAGER;
    if (strcmp(role, "agent") == 0) return ATUM_ROLE_AGENT;
    if (strcmp(role, "customer") == 0) return ATUM_ROLE_CUSTOMER;
    return ATUM_ROLE_NONE;
}

bool api_role_at_least(const struct api_req *r, enum atum_role level)
{
    return r->user.level >= level;
}


/* ---- the desk domain ---------------------------------------------------------- */

void api_actor(struct api_req *r, struct desk_actor *who)
{
    memset(who, 0, sizeof(*who));
    who->kind = DESK_USER;
    who->user_id = r->user.id;
    who->role = r->user.level;
    who->org_id = r->user.org_id;
    who->org_access = r->user.org_access;
    who->via = "api";
    who->ip = r->ip[0] ? r->ip : NULL;
}

void api_desk_tx(struct api_req *r, const struct desk_actor *who, struct desk_tx *tx)
{
    tx->db = r->db;
    tx->rt = r->api->rt;
    tx->who = who;
}

int api_desk_fail(struct api_req *r, const char *what, const struct err *err)
{
    if (r->db != NULL && db_in_transaction(r->db))
        db_rollback(r->db);
    const char *text = err->text ? err->text : "failed";
    switch (err->code) {
    case ERR_NOT_FOUND:
        return api_problem(r, 404, err->field, "%s", text);
    case ERR_INVALID:
        return api_problem(r, 422, err->field, "%s", text);
    case ERR_FORBIDDEN:
        return api_problem(r, 403, err->field, "%s", text);
    case ERR_CONFLICT:
        return api_problem(r, 409, err->field, "%s", text);
    case ERR_OK:
    case ERR_FAILED:
        break;
    }
    return api_db_fail(r, what, text);
}
