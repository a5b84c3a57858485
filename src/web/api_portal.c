/*
 * web/api_portal.c -- what the customer portal needs beyond the ticket
 * API:
 *
 *   GET  /api/v1/portal/config               title, sign-up, logo (public)
 *   GET  /api/v1/portal/logo                 the logo image (public)
 *   PUT  /api/v1/portal/logo                 admins: PNG/JPEG/WebP body
 *   DELETE /api/v1/portal/logo               admins
 *   PUT  /api/v1/portal/queues/{id}          admins: a queue's sign-up, title
 *   GET  /api/v1/portal/queues               the queues a customer may write to
 *   POST /api/v1/portal/tickets              a customer's new ticket, with
 *                                            attachments
 *   POST /api/v1/portal/tickets/{id}/replies a customer's reply, with
 *                                            attachments
 *   POST /api/v1/tickets/{id}/csat           the requester rates (signed in)
 *   POST /api/v1/csat                        the same through the solved
 *                                            mail's signed link (public)
 *
 * Attachments travel in the JSON body as base64 ({"filename",
 * "content_type", "data"}), at most PORTAL_MAX_FILES of at most
 * mail.max_attachment_size each, within web.max_body; they go through the
 * desk domain like a mail's (desk/ticket.h).
 */
#include "config.h"
#include "web/api.h"
#include "web/http.h"
#include "desk/csat.h"
#include "desk/portal.h"
#include "desk/ticket.h"
#include "core/conf.h"
#include "core/runtime.h"
#include "lib/err.h"
#include "lib/jsonlimit.h"
#include "lib/log.h"
#include "lib/util.h"
#include "lib/xalloc.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define PORTAL_MAX_FILES 10
#define PORTAL_BODY_MAX (1024 * 1024)

/* A body of at most max bytes into b, read as api_request.c reads JSON
 * bodies (web.request_timeout, web.body_min_rate; chunked only with
 * credentials); -1 when a problem was sent. */
static int read_raw(struct api_req *r, long long max, const char *field, struct strbuf *b)
{
    struct http_body_limits lim = r->api->body;
    if (max < lim.max || lim.max <= 0)
        lim.max = max;
    lim.chunked_ok = r->via != API_AUTH_NONE;
    r->body_checked = true;
    int st = http_read_body(r->conn, &lim, b);
    if (st == 0)
        return 0;
    api_add_header(r, "Connection: close");
    if (st == 413)
        api_problem(r, 413, field, "the body is larger than this request takes (%lld bytes)", lim.max);
    else if (st == 411)
        api_problem(r, 411, field, "send the body with a Content-Length, not chunked");
    else if (st == 408)
        api_problem(r, 408, field, "the body came too slowly (web.request_timeout, web.body_min_rate)");
    else
        api_problem(r, 400, field, "the body could not be read completely");
    return -1;
}

static long long query_queue(struct api_req *r, bool *bad_r)
{
    long long q = 0;
    bool set = false;
    *bad_r = api_query_id(r, "queue_id", &q, &set) < 0;
    return set ? q : 0;
}

/* ---- look and settings ------------------------------------------------------ */

static int h_config(struct api_req *r)
{
    static const char *const allowed[] = { "queue_id", NULL };
    const char *e = NULL;
    bool bad;
    if (api_query_check(r, allowed) < 0)
        return 0;
    long long queue = query_queue(r, &bad);
    if (bad || api_db(r) == NULL)
        return 0;
    const struct atum_config *cfg = r->api->rt->cfg;
    char sq[24];
    snprintf(sq, sizeof(sq), "%lld", queue);
    const char *p[] = { sq, cfg->portal_title ? cfg->portal_title : "Support",
                        cfg->portal_signup ? "t" : "f" };
    PGresult *res = db_exec(r->db,
        "SELECT json_build_object('title', $2::text, 'signup', $3::boolean,"
        " 'logo_url', CASE WHEN EXISTS (SELECT 1 FROM portal_logos WHERE queue_id = 0)"
        "                  THEN '/api/v1/portal/logo' END,"
        " 'queue', (SELECT json_build_object('id', q.id, 'name', q.name,"
        "             'title', coalesce(s.title, q.name),"
        "             'signup', coalesce(s.signup, $3::boolean),"
        "             'logo_url', CASE WHEN EXISTS (SELECT 1 FROM portal_logos l WHERE l.queue_id = q.id)"
        "                              THEN '/api/v1/portal/logo?queue_id=' || q.id END)"
        "             FROM queues q LEFT JOIN portal_settings s ON s.queue_id = q.id"
        "            WHERE q.id = $1::bigint))", 3, p, &e);
    if (res == NULL)
        return api_db_fail(r, "reading the portal's settings", e);
    api_send_cell(r, 200, res);
    PQclear(res);
    return 0;
}

static int h_logo_get(struct api_req *r)
{
    static const char *const allowed[] = { "queue_id", NULL };
    const char *e = NULL;
    bool bad;
    if (api_query_check(r, allowed) < 0)
        return 0;
    long long queue = query_queue(r, &bad);
    if (bad || api_db(r) == NULL)
        return 0;
    char sq[24];
    snprintf(sq, sizeof(sq), "%lld", queue);
    const char *p[] = { sq };
    PGresult *res = db_exec_bin(r->db, "SELECT content_type, content FROM portal_logos WHERE queue_id = $1",
                                1, p, NULL, NULL, 1, &e);
    if (res == NULL)
        return api_db_fail(r, "reading the logo", e);
    if (PQntuples(res) != 1) {
        PQclear(res);
        return api_problem(r, 404, NULL, "no logo is set");
    }
    char type[32];
    snprintf(type, sizeof(type), "%.*s", PQgetlength(res, 0, 0), PQgetvalue(res, 0, 0));
    api_add_header(r, "Content-Security-Policy: sandbox");
    api_add_header(r, "Cross-Origin-Resource-Policy: same-origin");
    api_raw(r, 200, type, PQgetvalue(res, 0, 1), (size_t)PQgetlength(res, 0, 1));
    PQclear(res);
    return 0;
}

static void admin_tx(struct api_req *r, struct desk_actor *who, struct desk_tx *tx)
{
    api_actor(r, who);
    who->via = "portal-admin";
    api_desk_tx(r, who, tx);
}

static int h_logo_put(struct api_req *r)
{
    static const char *const allowed[] = { "queue_id", NULL };
    const char *e = NULL;
    struct err err = { ERR_OK, NULL, NULL };
    bool bad;
    if (api_query_check(r, allowed) < 0)
        return 0;
    long long queue = query_queue(r, &bad);
    if (bad)
        return 0;
    struct strbuf b = STRBUF_INIT;
    if (read_raw(r, PORTAL_LOGO_MAX, "logo", &b) < 0) {
        strbuf_free(&b);
        return 0;
    }
    const char *ct = mg_get_header(r->conn, "Content-Type");
    const char *type = portal_logo_type((const unsigned char *)b.s, b.len);
    if (type == NULL || ct == NULL || strncasecmp(ct, type, strlen(type)) != 0) {
        strbuf_free(&b);
        return api_problem(r, 415, "logo", "send a PNG, JPEG or WebP image with its Content-Type");
    }
    struct desk_actor who;
    struct desk_tx tx;
    admin_tx(r, &who, &tx);
    if (db_begin(r->db, &e) < 0) {
        strbuf_free(&b);
        return api_db_fail(r, "storing the logo", e);
    }
    int rc = portal_logo_set(&tx, queue, (const unsigned char *)b.s, b.len, &err);
    strbuf_free(&b);
    if (rc < 0)
        return api_desk_fail(r, "storing the logo", &err);
    if (db_commit(r->db, &e) < 0) {
        db_rollback(r->db);
        return api_db_fail(r, "storing the logo", e);
    }
    char url[80];
    if (queue > 0)
        snprintf(url, sizeof(url), "/api/v1/portal/logo?queue_id=%lld", queue);
    else
        snprintf(url, sizeof(url), "/api/v1/portal/logo");
    return api_json(r, 200, json_pack("{s:s}", "logo_url", url));
}

static int h_logo_delete(struct api_req *r)
{
    static const char *const allowed[] = { "queue_id", NULL };
    const char *e = NULL;
    struct err err = { ERR_OK, NULL, NULL };
    bool bad;
    if (api_query_check(r, allowed) < 0 || api_no_body(r) < 0)
        return 0;
    long long queue = query_queue(r, &bad);
    if (bad)
        return 0;
    struct desk_actor who;
    struct desk_tx tx;
    admin_tx(r, &who, &tx);
    if (db_begin(r->db, &e) < 0)
        return api_db_fail(r, "removing the logo", e);
    if (portal_logo_set(&tx, queue, NULL, 0, &err) < 0)
        return api_desk_fail(r, "removing the logo", &err);
    if (db_commit(r->db, &e) < 0) {
        db_rollback(r->db);
        return api_db_fail(r, "removing the logo", e);
    }
    return api_no_content(r);
}

static int h_queue_settings(struct api_req *r)
{
    static const struct api_field f[] = {
        { "signup", F_STR, true, 16 }, { "title", F_STR_NULL, false, 200 }, { NULL, 0, 0, 0 } };
    const char *e = NULL;
    struct err err = { ERR_OK, NULL, NULL };
    json_t *b = api_body(r, f);
    if (b == NULL)
        return 0;
    const char *s = api_str(b, "signup");
    enum portal_signup su;
    if (strcmp(s, "on") == 0)
        su = PORTAL_SIGNUP_ON;
    else if (strcmp(s, "off") == 0)
        su = PORTAL_SIGNUP_OFF;
    else if (strcmp(s, "inherit") == 0)
        su = PORTAL_SIGNUP_INHERIT;
    else
        return api_problem(r, 400, "signup", "signup is 'on', 'off' or 'inherit' (portal.signup)");
    struct desk_actor who;
    struct desk_tx tx;
    admin_tx(r, &who, &tx);
    if (db_begin(r->db, &e) < 0)
        return api_db_fail(r, "storing the settings", e);
    if (portal_settings_set(&tx, r->m.ids[0], su, api_str(b, "title"), &err) < 0) {
        if (err.code == ERR_NOT_FOUND)
            err.field = NULL;
        return api_desk_fail(r, "storing the settings", &err);
    }
    if (db_commit(r->db, &e) < 0) {
        db_rollback(r->db);
        return api_db_fail(r, "storing the settings", e);
    }
    return api_json(r, 200, json_pack("{s:I, s:s, s:s?}", "queue_id", (json_int_t)r->m.ids[0],
                                      "signup", s, "title", api_str(b, "title")));
}

static int h_queues(struct api_req *r)
{
    const char *e = NULL;
    if (api_query_check(r, NULL) < 0)
        return 0;
    PGresult *res = db_exec(r->db,
        "SELECT json_build_object('items', coalesce(json_agg(json_build_object('id', q.id,"
        "  'name', coalesce(s.title, q.name)) ORDER BY q.id), '[]'))"
        "  FROM queues q LEFT JOIN portal_settings s ON s.queue_id = q.id", 0, NULL, &e);
    if (res == NULL)
        return api_db_fail(r, "listing the queues", e);
    api_send_cell(r, 200, res);
    PQclear(res);
    return 0;
}

/* ---- a customer writes, with attachments --------------------------------------- */

struct upload {
    json_t *body;                  /* the parsed request */
    struct message_attachment att[PORTAL_MAX_FILES];
    char *data[PORTAL_MAX_FILES];
    char sha[PORTAL_MAX_FILES][65];
    char *names[PORTAL_MAX_FILES];
    char types[PORTAL_MAX_FILES][128];
    size_t n;
};

static void upload_free(struct upload *u)
{
    for (size_t i = 0; i < u->n; i++) {
        free(u->data[i]);
        free(u->names[i]);
    }
    json_decref(u->body);
    memset(u, 0, sizeof(*u));
}

/* A file name as given, without any path, control characters or quotes;
 * "attachment" when nothing is left. */
static char *clean_name(const char *s)
{
    const char *base = s;
    for (const char *p = s; *p; p++)
        if (*p == '/' || *p == '\\')
            base = p + 1;
    char *out = xstrdup(base);
    size_t n = 0;
    for (const char *p = base; *p && n < 200; p++)
        if ((unsigned char)*p >= 0x20 && *p != 0x7f && *p != '"')
            out[n++] = *p;
    out[n] = '\0';
    /* never cut a UTF-8 sequence in two */
    while (n > 0 && !str_utf8_valid(out, n))
        out[--n] = '\0';
    if (n == 0 || strcmp(out, ".") == 0 || strcmp(out, "..") == 0) {
        free(out);
        out = xstrdup("attachment");
    }
    return out;
}

/* type/subtype of token characters, lower-cased; else octet-stream */
static void clean_type(const char *s, char *out, size_t size)
{
    size_t n = 0, slash = 0;
    bool ok = s != NULL && s[0] != '\0';
    for (const char *p = s ? s : ""; *p && ok; p++) {
        char c = *p;
        if (c >= 'A' && c <= 'Z')
            c = (char)(c - 'A' + 'a');
        if (c == '/')
            slash++;
        else if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || strchr("+-.", c)))
            ok = false;
        if (n + 1 >= size)
            ok = false;
        else
            out[n++] = c;
    }
    out[n] = '\0';
    if (!ok || slash != 1 || out[0] == '/' || out[n - 1] == '/')
        snprintf(out, size, "application/octet-stream");
}

/* Reads and checks the body: fields (text ones as named) and the
 * attachments, decoded.  -1 when a problem was sent. */
static int read_upload(struct api_req *r, const char *const *text_fields, const size_t *text_max,
                       struct upload *u)
{
    memset(u, 0, sizeof(*u));
    r->body_checked = true;
    const char *ct = mg_get_header(r->conn, "Content-Type");
    if (ct == NULL || strncasecmp(ct, "application/json", 16) != 0)
        return api_problem(r, 415, NULL, "the request body must be JSON (Content-Type: application/json)"), -1;
    struct strbuf b = STRBUF_INIT;
    if (read_raw(r, r->api->max_body, NULL, &b) < 0) {
        strbuf_free(&b);
        return -1;
    }
    if (!json_depth_ok(b.s ? b.s : "", b.len, JSON_MAX_DEPTH)) {
        strbuf_free(&b);
        return api_problem(r, 400, NULL, "the body nests deeper than " JSON_MAX_DEPTH_TEXT " levels"), -1;
    }
    json_error_t je;
    u->body = json_loadb(b.s ? b.s : "", b.len, JSON_REJECT_DUPLICATES, &je);
    strbuf_free(&b);
    if (!json_is_object(u->body))
        return api_problem(r, 400, NULL, "the body must be a JSON object"), -1;
    const char *key;
    json_t *v;
    json_object_foreach(u->body, key, v) {
        int known = -1;
        for (int i = 0; text_fields[i]; i++)
            if (strcmp(text_fields[i], key) == 0)
                known = i;
        if (known >= 0) {
            if (strcmp(key, "queue_id") == 0) {
                if (!json_is_integer(v) || json_integer_value(v) <= 0)
                    return api_problem(r, 400, key, "field 'queue_id' must be a positive id"), -1;
                continue;
            }
            if (!json_is_string(v))
                return api_problem(r, 400, key, "field '%s' must be a string", key), -1;
            if (json_string_length(v) > text_max[known])
                return api_problem(r, 400, key, "field '%s' is longer than %zu bytes", key,
                                   text_max[known]), -1;
            if (strlen(json_string_value(v)) != json_string_length(v))
                return api_problem(r, 400, key, "field '%s' contains a NUL character", key), -1;
            continue;
        }
        if (strcmp(key, "attachments") != 0)
            return api_problem(r, 400, key, "unknown field '%s'", key), -1;
        if (!json_is_array(v) || json_array_size(v) > PORTAL_MAX_FILES)
            return api_problem(r, 400, key, "field 'attachments' is an array of at most %d files",
                               PORTAL_MAX_FILES), -1;
    }
    for (int i = 0; text_fields[i]; i++) {
        if (strcmp(text_fields[i], "queue_id") == 0)
            continue;
        json_t *tv = json_object_get(u->body, text_fields[i]);
        if (tv == NULL || json_string_length(tv) == 0)
            return api_problem(r, 400, text_fields[i], "field '%s' must not be empty", text_fields[i]), -1;
    }
    long long max = r->api->rt->cfg->mail_max_attachment > 0 ? r->api->rt->cfg->mail_max_attachment
                                                             : 25LL * 1024 * 1024;
    size_t i;
    json_t *a;
    json_array_foreach(json_object_get(u->body, "attachments"), i, a) {
        const char *name = NULL, *type = NULL, *data = NULL;
        json_error_t ue;
        if (json_unpack_ex(a, &ue, JSON_STRICT, "{s:s, s?s, s:s}", "filename", &name,
                           "content_type", &type, "data", &data) < 0)
            return api_problem(r, 400, "attachments", "attachment %zu: %s (give filename, "
                               "content_type and data in base64)", i + 1, ue.text), -1;
        size_t len = strlen(data);
        if (len % 4 != 0 || (long long)(len / 4 * 3) > max + 3)
            return api_problem(r, len % 4 ? 400 : 413, "attachments", len % 4
                               ? "attachment %zu: the data is not base64" : "attachment %zu is "
                               "larger than mail.max_attachment_size", i + 1), -1;
        unsigned char *out = xmalloc(len / 4 * 3 + 1);
        int n = len ? EVP_DecodeBlock(out, (const unsigned char *)data, (int)len) : 0;
        if (n < 0) {
            free(out);
            return api_problem(r, 400, "attachments", "attachment %zu: the data is not base64", i + 1), -1;
        }
        if (len >= 1 && data[len - 1] == '=')
            n--;
        if (len >= 2 && data[len - 2] == '=')
            n--;
        if (n == 0 || n > max) {
            free(out);
            return api_problem(r, n ? 413 : 400, "attachments", n ? "attachment %zu is larger than "
                               "mail.max_attachment_size" : "attachment %zu is empty", i + 1), -1;
        }
        size_t k = u->n++;
        u->data[k] = (char *)out;
        u->names[k] = clean_name(name);
        clean_type(type, u->types[k], sizeof(u->types[k]));
        sha256_hex(out, (size_t)n, u->sha[k]);
        u->att[k] = (struct message_attachment){
            .filename = u->names[k], .content_type = u->types[k], .data = u->data[k],
            .size = (size_t)n, .sha256 = u->sha[k] };
    }
    return 0;
}

static bool customer_only(struct api_req *r)
{
    if (r->user.level >= ATUM_ROLE_AGENT) {
        api_problem(r, 403, NULL, "this is the customers' route; staff use /api/v1/tickets");
        return false;
    }
    return true;
}

static void portal_actor(struct api_req *r, struct desk_actor *who, struct desk_tx *tx)
{
    api_actor(r, who);
    who->via = "portal";
    api_desk_tx(r, who, tx);
}

static int h_ticket_new(struct api_req *r)
{
    static const char *const fields[] = { "subject", "body", "queue_id", NULL };
    static const size_t max[] = { 500, PORTAL_BODY_MAX, 0 };
    const char *e = NULL;
    struct err err = { ERR_OK, NULL, NULL };
    struct upload u;
    if (!customer_only(r))
        return 0;
    if (read_upload(r, fields, max, &u) < 0) {
        upload_free(&u);
        return 0;
    }
    json_t *jq = json_object_get(u.body, "queue_id");
    if (db_begin(r->db, &e) < 0) {
        upload_free(&u);
        return api_db_fail(r, "creating the ticket", e);
    }
    long long queue_id = jq ? json_integer_value(jq) : 0;
    if (queue_id == 0) {
        char *v = db_query_value(r->db, "SELECT min(id) FROM queues", 0, NULL, &e);
        if (v == NULL) {
            db_rollback(r->db);
            upload_free(&u);
            return e ? api_db_fail(r, "creating the ticket", e)
                     : api_problem(r, 422, "queue_id", "no queue exists yet");
        }
        queue_id = atoll(v);
        free(v);
    }
    struct desk_actor who;
    struct desk_tx tx;
    portal_actor(r, &who, &tx);
    struct ticket_new tn = {
        .queue_id = queue_id, .requester_id = r->user.id,
        .subject = json_string_value(json_object_get(u.body, "subject")),
        .first = { .author_id = r->user.id, .party = PARTY_CUSTOMER,
                   .body_text = json_string_value(json_object_get(u.body, "body")),
                   .from_addr = r->user.email, .att = u.att, .natt = u.n },
    };
    long long tid = 0, mid = 0;
    runtime_rdlock(r->api->rt);
    int rc = ticket_open(&tx, &tn, &tid, &mid, &err);
    runtime_rdunlock(r->api->rt);
    upload_free(&u);
    if (rc < 0)
        return api_desk_fail(r, "creating the ticket", &err);
    if (db_commit(r->db, &e) < 0) {
        db_rollback(r->db);
        return api_db_fail(r, "creating the ticket", e);
    }
    log_info("ticket.created", "ticket=%lld user=%lld via=portal", tid, r->user.id);
    return api_json(r, 201, json_pack("{s:I, s:I}", "id", (json_int_t)tid, "message_id", (json_int_t)mid));
}

static int h_reply(struct api_req *r)
{
    static const char *const fields[] = { "body", NULL };
    static const size_t max[] = { PORTAL_BODY_MAX };
    const char *e = NULL;
    struct err err = { ERR_OK, NULL, NULL };
    struct upload u;
    if (!customer_only(r))
        return 0;
    if (read_upload(r, fields, max, &u) < 0) {
        upload_free(&u);
        return 0;
    }
    struct desk_actor who;
    struct desk_tx tx;
    portal_actor(r, &who, &tx);
    struct message_new m = {
        .author_id = r->user.id, .party = PARTY_CUSTOMER,
        .body_text = json_string_value(json_object_get(u.body, "body")), .from_addr = r->user.email,
        .att = u.att, .natt = u.n,
    };
    if (db_begin(r->db, &e) < 0) {
        upload_free(&u);
        return api_db_fail(r, "adding the reply", e);
    }
    long long mid = 0;
    runtime_rdlock(r->api->rt);
    int rc = ticket_post_message(&tx, r->m.ids[0], &m, &mid, &err);
    runtime_rdunlock(r->api->rt);
    upload_free(&u);
    if (rc < 0)
        return api_desk_fail(r, "adding the reply", &err);
    if (db_commit(r->db, &e) < 0) {
        db_rollback(r->db);
        return api_db_fail(r, "adding the reply", e);
    }
    return api_json(r, 201, json_pack("{s:I, s:I, s:s, s:s}", "id", (json_int_t)mid, "ticket_id",
                                      (json_int_t)r->m.ids[0], "direction", "in", "visibility", "public"));
}

/* ---- ratings ------------------------------------------------------------------ */

static int rate(struct api_req *r, struct desk_tx *tx, long long ticket, json_t *b, const char *via)
{
    const char *e = NULL;
    struct err err = { ERR_OK, NULL, NULL };
    json_t *js = json_object_get(b, "score");
    long long score = json_integer_value(js);
    if (score < 1 || score > 5)
        return api_problem(r, 400, "score", "the score is 1 (bad) to 5 (good)");
    if (db_begin(r->db, &e) < 0)
        return api_db_fail(r, "storing the rating", e);
    runtime_rdlock(r->api->rt);
    int rc = csat_rate(tx, ticket, (int)score, api_str(b, "comment"), via,
                       r->api->rt->cfg->portal_csat_ttl_ms, &err);
    runtime_rdunlock(r->api->rt);
    if (rc < 0)
        return api_desk_fail(r, "storing the rating", &err);
    char st[24];
    snprintf(st, sizeof(st), "%lld", ticket);
    const char *p[] = { st };
    PGresult *res = db_exec(r->db,
        "SELECT json_build_object('ticket_id', t.id, 'subject', t.subject, 'score', c.score,"
        " 'comment', c.comment, 'created_at', c.created_at, 'updated_at', c.updated_at)"
        "  FROM csat_ratings c JOIN tickets t ON t.id = c.ticket_id WHERE c.ticket_id = $1", 1, p, &e);
    if (res == NULL || db_commit(r->db, &e) < 0) {
        PQclear(res);
        db_rollback(r->db);
        return api_db_fail(r, "storing the rating", e);
    }
    api_send_cell(r, 200, res);
    PQclear(res);
    return 0;
}

static int h_csat_portal(struct api_req *r)
{
    static const struct api_field f[] = {
        { "score", F_INT, true, 0 }, { "comment", F_STR_NULL, false, CSAT_COMMENT_MAX },
        { NULL, 0, 0, 0 } };
    json_t *b = api_body(r, f);
    if (b == NULL)
        return 0;
    struct desk_actor who;
    struct desk_tx tx;
    portal_actor(r, &who, &tx);
    return rate(r, &tx, r->m.ids[0], b, "portal");
}

static int h_csat_link(struct api_req *r)
{
    static const struct api_field f[] = {
        { "token", F_STR, true, CSAT_TOKEN_MAX }, { "score", F_INT, true, 0 },
        { "comment", F_STR_NULL, false, CSAT_COMMENT_MAX }, { NULL, 0, 0, 0 } };
    const char *e = NULL;
    json_t *b = api_body(r, f);
    if (b == NULL || api_db(r) == NULL)
        return 0;
    long long ticket = 0;
    int ok = csat_token_check(r->api->secret, api_str(b, "token"), (long long)time(NULL), &ticket);
    if (ok < 0) {
        log_warn("csat.link_refused", "reason=%s ip=%s", "signature", r->ip);
        return api_problem(r, 403, "token", "this rating link is not valid (was it changed?)");
    }
    if (ok > 0)
        return api_problem(r, 410, "token", "this rating link has expired; sign in to the portal "
                           "to rate the ticket");
    /* the link stands for the ticket's requester */
    char st[24];
    snprintf(st, sizeof(st), "%lld", ticket);
    const char *p[] = { st };
    PGresult *res = db_exec(r->db, "SELECT u.id, coalesce(u.org_id, 0) FROM tickets t"
                                   " JOIN users u ON u.id = t.requester_id"
                                   " WHERE t.id = $1 AND NOT u.disabled", 1, p, &e);
    if (res == NULL)
        return api_db_fail(r, "reading the ticket", e);
    if (PQntuples(res) != 1) {
        PQclear(res);
        return api_problem(r, 404, NULL, "no such ticket");
    }
    struct desk_actor who;
    memset(&who, 0, sizeof(who));
    who.kind = DESK_USER;
    who.user_id = atoll(PQgetvalue(res, 0, 0));
    who.role = ATUM_ROLE_CUSTOMER;
    who.org_id = atoll(PQgetvalue(res, 0, 1));
    who.via = "link";
    who.ip = r->ip[0] ? r->ip : NULL;
    PQclear(res);
    struct desk_tx tx;
    api_desk_tx(r, &who, &tx);
    return rate(r, &tx, ticket, b, "link");
}

const struct api_route api_portal_routes[] = {
    { "GET", "/api/v1/portal/config", ATUM_ROLE_NONE, API_PUBLIC, h_config },
    { "GET", "/api/v1/portal/logo", ATUM_ROLE_NONE, API_PUBLIC, h_logo_get },
    { "PUT", "/api/v1/portal/logo", ATUM_ROLE_ADMIN, 0, h_logo_put },
    { "DELETE", "/api/v1/portal/logo", ATUM_ROLE_ADMIN, 0, h_logo_delete },
    { "PUT", "/api/v1/portal/queues/{id}", ATUM_ROLE_ADMIN, 0, h_queue_settings },
    { "GET", "/api/v1/portal/queues", ATUM_ROLE_CUSTOMER, 0, h_queues },
    { "POST", "/api/v1/portal/tickets", ATUM_ROLE_CUSTOMER, 0, h_ticket_new },
    { "POST", "/api/v1/portal/tickets/{id}/replies", ATUM_ROLE_CUSTOMER, 0, h_reply },
    { "POST", "/api/v1/tickets/{id}/csat", ATUM_ROLE_CUSTOMER, 0, h_csat_portal },
    { "POST", "/api/v1/csat", ATUM_ROLE_NONE, API_PUBLIC | API_NO_CSRF, h_csat_link },
    { NULL, NULL, 0, 0, NULL }
};
