/*
 * web/api_admin.c -- the directory: users, organisations, queues and their
 * members, mailboxes, canned responses.
 *
 * Mailboxes and canned responses share one small CRUD engine (struct
 * crud): each resource is a set of constant SQL statements and a field
 * list; PATCH passes, for every field, a "present" flag and the value, so
 * absent fields keep their value and null can still be set explicitly --
 * no SQL is ever assembled from input.  Organisations and queues are read
 * through the same engine but written through the desk domain
 * (desk/org.h, desk/queue.h), which owns their rules, audit rows and
 * events.  Users have their own handlers (passwords, role rules).
 */
#include "config.h"
#include "web/api.h"
#include "web/auth.h"
#include "lib/email.h"
#include "lib/err.h"
#include "lib/log.h"
#include "lib/passwd.h"
#include "desk/org.h"
#include "desk/queue.h"
#include "desk/mailbox.h"
#include "desk/user.h"
#include "core/runtime.h"
#include "lib/xalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PAGE_MAX 500

struct crud {
    const char *what;               /* "queue": problem texts and audit actions */
    enum atum_role read_role, write_role;
    const struct api_field *fields;
    const char *list_sql;           /* $1 limit, $2 after id, $3 user id, $4 role */
    int list_np;                    /* how many of those it uses: 2 or 4 */
    const char *get_sql;            /* $1 id, $2 user id, $3 role: one JSON cell */
    int get_np;                     /* 1 or 3 */
    const char *insert_sql;         /* field values in order; RETURNING id */
    const char *update_sql;         /* $1 id, then (present, value) per field; RETURNING id */
    const char *delete_sql;         /* $1 id; RETURNING id */
    int (*check)(struct api_req *r, json_t *body, bool create);
};

/* Text form of a validated body member (NULL for absent or null). */
static const char *param_text(json_t *v, char *buf, size_t size)
{
    if (v == NULL || json_is_null(v))
        return NULL;
    if (json_is_string(v))
        return json_string_value(v);
    if (json_is_boolean(v))
        return json_is_true(v) ? "t" : "f";
    if (json_is_integer(v)) {
        snprintf(buf, size, "%lld", (long long)json_integer_value(v));
        return buf;
    }
    if (json_is_array(v)) {
        /* text[] literal: {"a","b"} with quotes and backslashes escaped */
        struct strbuf b = STRBUF_INIT;
        size_t i;
        json_t *e;
        strbuf_addc(&b, '{');
        json_array_foreach(v, i, e) {
            if (i)
                strbuf_addc(&b, ',');
            strbuf_addc(&b, '"');
            for (const char *p = json_string_value(e); *p; p++) {
                if (*p == '"' || *p == '\\')
                    strbuf_addc(&b, '\\');
                strbuf_addc(&b, *p);
            }
            strbuf_addc(&b, '"');
        }
        strbuf_addc(&b, '}');
        snprintf(buf, size, "%s", strbuf_str(&b));
        bool fits = b.len < size;
        strbuf_free(&b);
        return fits ? buf : NULL;
    }
    return NULL;
}

/* The body field a failed constraint is about, from the names the schema
 * gives its constraints and indexes: <table>_<column>_fkey, _key or
 * _check (see sql/).  NULL when that column is not one of fields. */
static const char *constraint_field(struct api_req *r, const struct api_field *fields)
{
    const char *t = db_last_table(r->db), *c = db_last_constraint(r->db);
    size_t tl = strlen(t);
    if (tl == 0 || strncmp(c, t, tl) != 0 || c[tl] != '_')
        return NULL;
    const char *col = c + tl + 1;
    for (const struct api_field *f = fields; f && f->name; f++) {
        size_t fl = strlen(f->name);
        if (strncmp(col, f->name, fl) == 0
            && (strcmp(col + fl, "_fkey") == 0 || strcmp(col + fl, "_key") == 0
                || strcmp(col + fl, "_check") == 0))
            return f->name;
    }
    return NULL;
}

/* Maps constraint failures of a write with these body fields (NULL for a
 * delete) to client errors; anything else is ours. */
static int db_problem(struct api_req *r, const char *what, const char *doing, const char *e,
                      const struct api_field *fields)
{
    const char *st = db_last_sqlstate(r->db);
    const char *field = constraint_field(r, fields);
    if (strcmp(st, "23505") == 0)
        return api_problem(r, 409, field, "a %s with this name or address already exists", what);
    if (strcmp(st, "23503") == 0) {
        /* deleting: something still points here; writing: the body
         * points at something that is not there */
        if (fields == NULL)
            return api_problem(r, 409, NULL, "the %s is still referenced", what);
        if (field)
            return api_problem(r, 422, field, "field '%s' refers to something that does not "
                               "exist", field);
        return api_problem(r, 422, NULL, "the %s refers to something that does not exist", what);
    }
    if (strcmp(st, "23514") == 0 || strncmp(st, "22", 2) == 0)
        return api_problem(r, 422, field, "a value is not acceptable for a %s: %s", what, e);
    return api_db_fail(r, doing, e);
}

static int page_params(struct api_req *r, char *lim, char *after)
{
    char buf[16];
    long long l = 100, a = 0;
    bool set;
    int n = api_query(r, "limit", buf, sizeof(buf));
    if (n < 0)
        return -1;
    if (n) {
        char *end;
        l = strtoll(buf, &end, 10);
        if (*end || end == buf || l < 1 || l > PAGE_MAX) {
            api_problem(r, 400, "limit", "limit must be an integer from 1 to %d", PAGE_MAX);
            return -1;
        }
    }
    if (api_query_id(r, "after_id", &a, &set) < 0)
        return -1;
    sprintf(lim, "%lld", l);
    sprintf(after, "%lld", a);
    return 0;
}

static int crud_list(struct api_req *r, const struct crud *c)
{
    static const char *const allowed[] = { "limit", "after_id", NULL };
    char lim[24], after[24];
    const char *e = NULL;
    if (api_query_check(r, allowed) < 0 || page_params(r, lim, after) < 0)
        return 0;
    const char *p[] = { lim, after, api_uid(r), r->user.role };
    PGresult *res = db_exec(r->db, c->list_sql, c->list_np, p, &e);
    if (res == NULL)
        return api_db_fail(r, "listing", e);
    api_send_cell(r, 200, res);
    PQclear(res);
    return 0;
}

static int crud_send_one(struct api_req *r, const struct crud *c, int status, const char *id)
{
    const char *e = NULL;
    const char *p[] = { id, api_uid(r), r->user.role };
    PGresult *res = db_exec(r->db, c->get_sql, c->get_np, p, &e);
    if (res == NULL)
        return api_db_fail(r, "reading", e);
    if (PQntuples(res) == 0 || PQgetisnull(res, 0, 0)) {
        PQclear(res);
        return api_problem(r, 404, NULL, "no such %s", c->what);
    }
    api_send_cell(r, status, res);
    PQclear(res);
    return 0;
}

static int crud_get(struct api_req *r, const struct crud *c)
{
    char id[24];
    if (api_query_check(r, NULL) < 0)
        return 0;
    snprintf(id, sizeof(id), "%lld", r->m.ids[0]);
    return crud_send_one(r, c, 200, id);
}

static int crud_audit(struct api_req *r, const struct crud *c, const char *verb, const char *id,
                      json_t *body, const char **e)
{
    char action[64], target[64];
    snprintf(action, sizeof(action), "%s.%s", c->what, verb);
    snprintf(target, sizeof(target), "%s:%s", c->what, id);
    return api_audit(r, action, target, body, e);
}

static int crud_write(struct api_req *r, const struct crud *c, bool create)
{
    const char *e = NULL;
    size_t nf = 0;
    for (const struct api_field *f = c->fields; f->name; f++)
        nf++;
    json_t *b = api_body(r, c->fields);
    if (b == NULL)
        return 0;
    if (c->check && c->check(r, b, create) < 0)
        return 0;
    const char **p = xcalloc(2 * nf + 1, sizeof(*p));
    char (*bufs)[4096] = xcalloc(nf, sizeof(*bufs));
    char id[24] = "";
    int np = 0;
    if (!create) {
        snprintf(id, sizeof(id), "%lld", r->m.ids[0]);
        p[np++] = id;
    }
    size_t i = 0;
    for (const struct api_field *f = c->fields; f->name; f++, i++) {
        json_t *v = json_object_get(b, f->name);
        if (!create)
            p[np++] = v ? "t" : "f";
        p[np++] = param_text(v, bufs[i], sizeof(bufs[i]));
    }
    PGresult *res = NULL;
    if (db_begin(r->db, &e) < 0)
        goto dbfail;
    res = db_exec(r->db, create ? c->insert_sql : c->update_sql, np, p, &e);
    if (res == NULL)
        goto dbfail;
    if (PQntuples(res) != 1) {
        PQclear(res);
        db_rollback(r->db);
        free(p);
        free(bufs);
        return api_problem(r, 404, NULL, "no such %s", c->what);
    }
    snprintf(id, sizeof(id), "%s", PQgetvalue(res, 0, 0));
    PQclear(res);
    if (crud_audit(r, c, create ? "create" : "update", id, b, &e) < 0 || db_commit(r->db, &e) < 0)
        goto dbfail;
    free(p);
    free(bufs);
    return crud_send_one(r, c, create ? 201 : 200, id);
dbfail:
    free(p);
    free(bufs);
    db_rollback(r->db);
    return db_problem(r, c->what, "saving", e, c->fields);
}

static int crud_delete(struct api_req *r, const struct crud *c)
{
    const char *e = NULL;
    char id[24];
    if (api_no_body(r) < 0)
        return 0;
    snprintf(id, sizeof(id), "%lld", r->m.ids[0]);
    const char *p[] = { id };
    if (db_begin(r->db, &e) < 0)
        return api_db_fail(r, "deleting", e);
    PGresult *res = db_exec(r->db, c->delete_sql, 1, p, &e);
    if (res == NULL) {
        db_rollback(r->db);
        return db_problem(r, c->what, "deleting", e, NULL);
    }
    int n = PQntuples(res);
    PQclear(res);
    if (n == 0) {
        db_rollback(r->db);
        return api_problem(r, 404, NULL, "no such %s", c->what);
    }
    if (crud_audit(r, c, "delete", id, NULL, &e) < 0 || db_commit(r->db, &e) < 0) {
        db_rollback(r->db);
        return api_db_fail(r, "deleting", e);
    }
    return api_no_content(r);
}

/* Role gate inside a handler for write operations on an id: 404. */
#define NEED(role) do { if (r->user.level < (role)) \
        return api_problem(r, router_has_id(r->route->pattern) ? 404 : 403, NULL, \
                           router_has_id(r->route->pattern) ? "no such resource" \
                           : "your role may not do this"); } while (0)

/* ---- organisations ---------------------------------------------------------- */

static const struct api_field org_fields[] = {
    { "name", F_STR, false, 200 }, { "domain", F_STR_NULL, false, 253 }, { NULL, 0, 0, 0 } };

static int org_check(struct api_req *r, json_t *b, bool create)
{
    const char *n = api_str(b, "name");
    if (create && n == NULL)
        return api_problem(r, 400, "name", "field 'name' is required"), -1;
    if (n && n[0] == '\0')
        return api_problem(r, 400, "name", "field 'name' must not be empty"), -1;
    const char *d = api_str(b, "domain");
    if (d && (d[0] == '\0' || strchr(d, '@') || strchr(d, ' ') || !strchr(d, '.')))
        return api_problem(r, 400, "domain", "field 'domain' must be a domain name like example.com"), -1;
    return 0;
}

static const struct crud orgs = {
    "org", ATUM_ROLE_AGENT, ATUM_ROLE_MANAGER, org_fields,
    "SELECT json_build_object('items', coalesce(json_agg(o ORDER BY o.id), '[]')) FROM"
    " (SELECT id, name, domain, created_at FROM orgs WHERE id > $2::bigint ORDER BY id LIMIT $1::int) o", 2,
    "SELECT row_to_json(o) FROM (SELECT id, name, domain, created_at FROM orgs WHERE id = $1) o", 1,
    NULL, NULL, NULL,          /* written through desk/org.h */
    org_check,
};

/* ---- queues -------------------------------------------------------------------- */

static const struct api_field queue_fields[] = {
    { "name", F_STR, false, 100 }, { "address", F_STR, false, EMAIL_MAX }, { NULL, 0, 0, 0 } };

static int queue_check(struct api_req *r, json_t *b, bool create)
{
    const char *n = api_str(b, "name"), *a = api_str(b, "address");
    if (create && (n == NULL || a == NULL))
        return api_problem(r, 400, n ? "address" : "name", "field '%s' is required",
                           n ? "address" : "name"), -1;
    if (n && n[0] == '\0')
        return api_problem(r, 400, "name", "field 'name' must not be empty"), -1;
    if (a && !email_valid(a))
        return api_problem(r, 400, "address", "field 'address' must be an e-mail address"), -1;
    return 0;
}

static const struct crud queues = {
    "queue", ATUM_ROLE_CUSTOMER, ATUM_ROLE_ADMIN, queue_fields,
    "SELECT json_build_object('items', coalesce(json_agg(q ORDER BY q.id), '[]')) FROM"
    " (SELECT id, name, address, created_at,"
    "         EXISTS (SELECT 1 FROM queue_members m WHERE m.queue_id = queues.id"
    "                 AND m.user_id = $3::bigint) AS member"
    "    FROM queues WHERE id > $2::bigint AND $4::text <> '' ORDER BY id LIMIT $1::int) q", 4,
    "SELECT row_to_json(q) FROM (SELECT id, name, address, created_at,"
    " (SELECT coalesce(json_agg(json_build_object('id', u.id, 'email', u.email, 'name', u.name)"
    "   ORDER BY u.id), '[]') FROM queue_members m JOIN users u ON u.id = m.user_id"
    "   WHERE m.queue_id = queues.id AND $3::text <> 'customer') AS members"
    " FROM queues WHERE id = $1 AND $2::bigint > 0) q", 3,
    NULL, NULL, NULL,          /* written through desk/queue.h */
    queue_check,
};

/* ---- mailboxes ------------------------------------------------------------------ */

static const struct api_field mailbox_fields[] = {
    { "name", F_STR, false, 100 }, { "queue_id", F_INT, false, 0 }, { "host", F_STR, false, 253 },
    { "port", F_INT, false, 0 }, { "security", F_STR, false, 16 },
    { "trust_any_certificate", F_BOOL, false, 0 }, { "username", F_STR, false, 320 },
    { "password_env", F_STR_NULL, false, 100 }, { "folder", F_STR, false, 200 },
    { "after_fetch", F_STR, false, 16 }, { "move_to", F_STR, false, 200 },
    { "enabled", F_BOOL, false, 0 }, { NULL, 0, 0, 0 } };

static int mailbox_check(struct api_req *r, json_t *b, bool create)
{
    static const char *const req[] = { "name", "queue_id", "host", "port", "username", NULL };
    for (const char *const *k = req; create && *k; k++)
        if (json_object_get(b, *k) == NULL)
            return api_problem(r, 400, *k, "field '%s' is required", *k), -1;
    json_t *port = json_object_get(b, "port");
    if (port && (json_integer_value(port) < 1 || json_integer_value(port) > 65535))
        return api_problem(r, 400, "port", "field 'port' must be from 1 to 65535"), -1;
    const char *s = api_str(b, "security"), *af = api_str(b, "after_fetch");
    if (s && strcmp(s, "tls") && strcmp(s, "starttls") && strcmp(s, "none"))
        return api_problem(r, 400, "security", "field 'security' must be tls, starttls or none"), -1;
    if (af && strcmp(af, "move") && strcmp(af, "delete") && strcmp(af, "seen"))
        return api_problem(r, 400, "after_fetch", "field 'after_fetch' must be move, delete or seen"), -1;
    const char *e = NULL, *pe = api_str(b, "password_env");
    if (pe != NULL && mailbox_password_env_check(pe, &e) < 0)
        return api_problem(r, 400, "password_env", "%s", e), -1;
    /* the link as it will be: the body over the stored row (the IMAP
     * poller checks again before every LOGIN) */
    json_t *jt = json_object_get(b, "trust_any_certificate");
    struct mailbox_link link = { api_str(b, "host"), s ? s : "tls", json_is_true(jt) };
    char host[256] = "", sec[16] = "";
    if (!create) {
        char id[24];
        snprintf(id, sizeof(id), "%lld", r->m.ids[0]);
        const char *p[] = { id };
        PGresult *res = db_exec(r->db, "SELECT host, security, trust_any_certificate FROM mailboxes"
                                       " WHERE id = $1", 1, p, &e);
        if (res == NULL)
            return api_db_fail(r, "reading the mailbox", e), -1;
        if (PQntuples(res) == 1) {
            snprintf(host, sizeof(host), "%s", PQgetvalue(res, 0, 0));
            snprintf(sec, sizeof(sec), "%s", PQgetvalue(res, 0, 1));
            if (link.host == NULL)
                link.host = host;
            if (s == NULL)
                link.security = sec;
            if (jt == NULL)
                link.trust_any_certificate = PQgetvalue(res, 0, 2)[0] == 't';
        }
        PQclear(res);
        if (link.host == NULL)
            return 0;            /* no such mailbox: the update answers 404 */
    }
    if (mailbox_link_check(&link, r->api->imap_insecure_loopback, &e) < 0) {
        const char *blame = strcmp(link.security, "none") == 0 ? "security" : "trust_any_certificate";
        if (json_object_get(b, blame) == NULL && json_object_get(b, "host") != NULL)
            blame = "host";
        return api_problem(r, 400, blame, "%s", e), -1;
    }
    return 0;
}

#define MAILBOX_COLS "id, name, queue_id, host, port, security, trust_any_certificate, username," \
    " password_env, folder, after_fetch, move_to, enabled, last_uid, last_error, last_ok_at, created_at"

static const struct crud mailboxes = {
    "mailbox", ATUM_ROLE_ADMIN, ATUM_ROLE_ADMIN, mailbox_fields,
    "SELECT json_build_object('items', coalesce(json_agg(x ORDER BY x.id), '[]')) FROM"
    " (SELECT " MAILBOX_COLS " FROM mailboxes WHERE id > $2::bigint ORDER BY id LIMIT $1::int) x", 2,
    "SELECT row_to_json(x) FROM (SELECT " MAILBOX_COLS " FROM mailboxes WHERE id = $1) x", 1,
    "INSERT INTO mailboxes (name, queue_id, host, port, security, trust_any_certificate, username,"
    " password_env, folder, after_fetch, move_to, enabled) VALUES ($1, $2, $3, $4,"
    " coalesce($5, 'tls'), coalesce($6::boolean, false), $7, $8, coalesce($9, 'INBOX'),"
    " coalesce($10, 'move'), coalesce($11, 'Processed'), coalesce($12::boolean, true)) RETURNING id",
    "UPDATE mailboxes SET"
    " name = CASE WHEN $2::boolean THEN $3 ELSE name END,"
    " queue_id = CASE WHEN $4::boolean THEN $5::bigint ELSE queue_id END,"
    " host = CASE WHEN $6::boolean THEN $7 ELSE host END,"
    " port = CASE WHEN $8::boolean THEN $9::int ELSE port END,"
    " security = CASE WHEN $10::boolean THEN $11 ELSE security END,"
    " trust_any_certificate = CASE WHEN $12::boolean THEN $13::boolean ELSE trust_any_certificate END,"
    " username = CASE WHEN $14::boolean THEN $15 ELSE username END,"
    " password_env = CASE WHEN $16::boolean THEN $17 ELSE password_env END,"
    " folder = CASE WHEN $18::boolean THEN $19 ELSE folder END,"
    " after_fetch = CASE WHEN $20::boolean THEN $21 ELSE after_fetch END,"
    " move_to = CASE WHEN $22::boolean THEN $23 ELSE move_to END,"
    " enabled = CASE WHEN $24::boolean THEN $25::boolean ELSE enabled END"
    " WHERE id = $1 RETURNING id",
    "DELETE FROM mailboxes WHERE id = $1 RETURNING id",
    mailbox_check,
};

/* ---- canned responses ------------------------------------------------------------- */

static const struct api_field canned_fields[] = {
    { "title", F_STR, false, 200 }, { "body", F_STR, false, 100000 },
    { "queue_id", F_INT_NULL, false, 0 }, { NULL, 0, 0, 0 } };

static int canned_check(struct api_req *r, json_t *b, bool create)
{
    const char *t = api_str(b, "title"), *body = api_str(b, "body");
    if (create && (t == NULL || body == NULL))
        return api_problem(r, 400, t ? "body" : "title", "field '%s' is required",
                           t ? "body" : "title"), -1;
    if (t && t[0] == '\0')
        return api_problem(r, 400, "title", "field 'title' must not be empty"), -1;
    return 0;
}

/* Agents see the global ones and those of their queues; managers all. */
#define CANNED_VISIBLE "($4::text IN ('manager', 'admin') OR c.queue_id IS NULL OR c.queue_id IN" \
    " (SELECT m.queue_id FROM queue_members m WHERE m.user_id = $3::bigint))"
#define CANNED_VISIBLE1 "($3::text IN ('manager', 'admin') OR c.queue_id IS NULL OR c.queue_id IN" \
    " (SELECT m.queue_id FROM queue_members m WHERE m.user_id = $2::bigint))"

static const struct crud canned = {
    "canned_response", ATUM_ROLE_AGENT, ATUM_ROLE_MANAGER, canned_fields,
    "SELECT json_build_object('items', coalesce(json_agg(x ORDER BY x.id), '[]')) FROM"
    " (SELECT c.id, c.title, c.body, c.queue_id, c.created_by, c.created_at, c.updated_at"
    "    FROM canned_responses c WHERE c.id > $2::bigint AND " CANNED_VISIBLE
    "   ORDER BY c.id LIMIT $1::int) x", 4,
    "SELECT row_to_json(x) FROM (SELECT c.id, c.title, c.body, c.queue_id, c.created_by,"
    " c.created_at, c.updated_at FROM canned_responses c WHERE c.id = $1 AND " CANNED_VISIBLE1 ") x", 3,
    "INSERT INTO canned_responses (title, body, queue_id) VALUES ($1, $2, $3::bigint) RETURNING id",
    "UPDATE canned_responses SET title = CASE WHEN $2::boolean THEN $3 ELSE title END,"
    " body = CASE WHEN $4::boolean THEN $5 ELSE body END,"
    " queue_id = CASE WHEN $6::boolean THEN $7::bigint ELSE queue_id END, updated_at = now()"
    " WHERE id = $1 RETURNING id",
    "DELETE FROM canned_responses WHERE id = $1 RETURNING id",
    canned_check,
};

#define CRUD_HANDLERS(pfx, res) \
    static int pfx##_list(struct api_req *r) { return crud_list(r, &res); } \
    static int pfx##_get(struct api_req *r) { return crud_get(r, &res); } \
    static int pfx##_create(struct api_req *r) { NEED(res.write_role); return crud_write(r, &res, true); } \
    static int pfx##_update(struct api_req *r) { NEED(res.write_role); return crud_write(r, &res, false); } \
    static int pfx##_delete(struct api_req *r) { NEED(res.write_role); return crud_delete(r, &res); }

CRUD_HANDLERS(mailbox, mailboxes)
CRUD_HANDLERS(canned, canned)

/* ---- organisations and queues: reads here, writes through the desk --------- */

/* Runs under the runtime's read lock: the domain emits events. */
#define DESK(r, call) \
    (runtime_rdlock((r)->api->rt), _rc = (call), runtime_rdunlock((r)->api->rt), _rc)

static int desk_write(struct api_req *r, const char *what, int (*fn)(struct api_req *, const struct desk_tx *,
                      json_t *, long long *, struct err *), json_t *b, const struct crud *c, int status)
{
    const char *e = NULL;
    struct err err = { ERR_OK, NULL, NULL };
    struct desk_actor who;
    struct desk_tx tx;
    long long id = r->m.nids ? r->m.ids[0] : 0;
    int _rc;
    api_actor(r, &who);
    api_desk_tx(r, &who, &tx);
    if (db_begin(r->db, &e) < 0)
        return api_db_fail(r, what, e);
    if (DESK(r, fn(r, &tx, b, &id, &err)) < 0)
        return api_desk_fail(r, what, &err);
    if (db_commit(r->db, &e) < 0) {
        db_rollback(r->db);
        return api_db_fail(r, what, e);
    }
    if (status == 204)
        return api_no_content(r);
    char sid[24];
    snprintf(sid, sizeof(sid), "%lld", id);
    return crud_send_one(r, c, status, sid);
}

static int org_add_fn(struct api_req *r, const struct desk_tx *tx, json_t *b, long long *id,
                      struct err *err)
{
    (void)r;
    return org_add(tx, api_str(b, "name"), api_str(b, "domain"), id, err);
}

static int org_update_fn(struct api_req *r, const struct desk_tx *tx, json_t *b, long long *id,
                         struct err *err)
{
    (void)r;
    return org_update(tx, *id, api_str(b, "name"), json_object_get(b, "domain") != NULL,
                      api_str(b, "domain"), err);
}

static int org_delete_fn(struct api_req *r, const struct desk_tx *tx, json_t *b, long long *id,
                         struct err *err)
{
    (void)r;
    (void)b;
    return org_delete(tx, *id, err);
}

static int queue_add_fn(struct api_req *r, const struct desk_tx *tx, json_t *b, long long *id,
                        struct err *err)
{
    (void)r;
    return queue_add(tx, api_str(b, "name"), api_str(b, "address"), id, err);
}

static int queue_update_fn(struct api_req *r, const struct desk_tx *tx, json_t *b, long long *id,
                           struct err *err)
{
    (void)r;
    return queue_update(tx, *id, api_str(b, "name"), api_str(b, "address"), err);
}

static int queue_delete_fn(struct api_req *r, const struct desk_tx *tx, json_t *b, long long *id,
                           struct err *err)
{
    (void)r;
    (void)b;
    return queue_delete(tx, *id, err);
}

static int h_org_list(struct api_req *r) { return crud_list(r, &orgs); }
static int h_org_get(struct api_req *r) { return crud_get(r, &orgs); }
static int h_queue_list(struct api_req *r) { return crud_list(r, &queues); }
static int h_queue_get(struct api_req *r) { return crud_get(r, &queues); }

static int h_org_create(struct api_req *r)
{
    NEED(orgs.write_role);
    json_t *b = api_body(r, org_fields);
    if (b == NULL || org_check(r, b, true) < 0)
        return 0;
    return desk_write(r, "creating the organisation", org_add_fn, b, &orgs, 201);
}

static int h_org_update(struct api_req *r)
{
    NEED(orgs.write_role);
    json_t *b = api_body(r, org_fields);
    if (b == NULL || org_check(r, b, false) < 0)
        return 0;
    return desk_write(r, "updating the organisation", org_update_fn, b, &orgs, 200);
}

static int h_org_delete(struct api_req *r)
{
    NEED(orgs.write_role);
    if (api_no_body(r) < 0)
        return 0;
    return desk_write(r, "deleting the organisation", org_delete_fn, NULL, &orgs, 204);
}

static int h_queue_create(struct api_req *r)
{
    NEED(queues.write_role);
    json_t *b = api_body(r, queue_fields);
    if (b == NULL || queue_check(r, b, true) < 0)
        return 0;
    return desk_write(r, "creating the queue", queue_add_fn, b, &queues, 201);
}

static int h_queue_update(struct api_req *r)
{
    NEED(queues.write_role);
    json_t *b = api_body(r, queue_fields);
    if (b == NULL || queue_check(r, b, false) < 0)
        return 0;
    return desk_write(r, "updating the queue", queue_update_fn, b, &queues, 200);
}

static int h_queue_delete(struct api_req *r)
{
    NEED(queues.write_role);
    if (api_no_body(r) < 0)
        return 0;
    return desk_write(r, "deleting the queue", queue_delete_fn, NULL, &queues, 204);
}

/* ---- queue members ------------------------------------------------------------ */

static int member_change(struct api_req *r, bool add)
{
    const char *e = NULL;
    struct err err = { ERR_OK, NULL, NULL };
    int _rc;
    NEED(ATUM_ROLE_MANAGER);
    if (api_no_body(r) < 0)
        return 0;
    struct desk_actor who;
    struct desk_tx tx;
    api_actor(r, &who);
    api_desk_tx(r, &who, &tx);
    if (db_begin(r->db, &e) < 0)
        return api_db_fail(r, "changing members", e);
    if (DESK(r, add ? queue_add_member(&tx, r->m.ids[0], r->m.ids[1], NULL, &err)
                    : queue_remove_member(&tx, r->m.ids[0], r->m.ids[1], &err)) < 0)
        return api_desk_fail(r, "changing members", &err);
    if (db_commit(r->db, &e) < 0) {
        db_rollback(r->db);
        return api_db_fail(r, "changing members", e);
    }
    return api_no_content(r);
}

static int member_add(struct api_req *r) { return member_change(r, true); }
static int member_remove(struct api_req *r) { return member_change(r, false); }

/* ---- users ------------------------------------------------------------------------ */

#define USER_COLS "id, email, name, role, org_id, org_access, disabled, created_at, updated_at," \
    " password_hash IS NOT NULL AS has_password"

static int user_send(struct api_req *r, int status, const char *id)
{
    const char *e = NULL;
    const char *p[] = { id };
    PGresult *res = db_exec(r->db, "SELECT row_to_json(x) FROM (SELECT " USER_COLS
                                   " FROM users WHERE id = $1) x", 1, p, &e);
    if (res == NULL)
        return api_db_fail(r, "reading the user", e);
    int rc = api_send_cell(r, status, res);
    PQclear(res);
    return rc;
}

static int user_list(struct api_req *r)
{
    static const char *const allowed[] = { "limit", "after_id", "role", "q", "org_id", NULL };
    char lim[24], after[24], role[16], q[256], org[24];
    const char *e = NULL;
    long long o;
    bool oset;
    int n1, n2;
    if (api_query_check(r, allowed) < 0 || page_params(r, lim, after) < 0)
        return 0;
    if ((n1 = api_query(r, "role", role, sizeof(role))) < 0 || (n2 = api_query(r, "q", q, sizeof(q))) < 0
        || api_query_id(r, "org_id", &o, &oset) < 0)
        return 0;
    if (n1 && !user_role_valid(role))
        return api_problem(r, 400, "role", "role must be customer, agent, manager or admin");
    snprintf(org, sizeof(org), "%lld", oset ? o : 0);
    const char *p[] = { lim, after, n1 ? role : NULL, n2 && q[0] ? q : NULL, oset ? org : NULL };
    PGresult *res = db_exec(r->db,
        "SELECT json_build_object('items', coalesce(json_agg(x ORDER BY x.id), '[]')) FROM"
        " (SELECT " USER_COLS " FROM users WHERE id > $2::bigint"
        "   AND ($3::text IS NULL OR role = $3)"
        "   AND ($4::text IS NULL OR strpos(lower(email), lower($4)) > 0"
        "        OR strpos(lower(name), lower($4)) > 0)"
        "   AND ($5::bigint IS NULL OR org_id = $5)"
        "  ORDER BY id LIMIT $1::int) x", 5, p, &e);
    if (res == NULL)
        return api_db_fail(r, "listing users", e);
    api_send_cell(r, 200, res);
    PQclear(res);
    return 0;
}

static int user_get(struct api_req *r)
{
    char id[24];
    if (api_query_check(r, NULL) < 0)
        return 0;
    snprintf(id, sizeof(id), "%lld", r->m.ids[0]);
    return user_send(r, 200, id);
}

static const struct api_field user_fields[] = {
    { "email", F_STR, false, EMAIL_MAX }, { "name", F_STR, false, 200 },
    { "role", F_STR, false, 16 }, { "org_id", F_INT_NULL, false, 0 },
    { "org_access", F_BOOL, false, 0 }, { "password", F_STR, false, PASSWD_MAX_LEN },
    { "disabled", F_BOOL, false, 0 }, { NULL, 0, 0, 0 } };

/* The body as a change of the account (desk/user.h); the password hashed
 * here, before the transaction (*hash_r: the caller frees).  Malformed
 * input is 400 here; who may do what is the domain's. */
static int user_parse(struct api_req *r, json_t *b, struct user_change *c, char **hash_r)
{
    const char *e = NULL;
    const char *email = api_str(b, "email"), *role = api_str(b, "role"), *pw = api_str(b, "password");
    json_t *jo = json_object_get(b, "org_id"), *ja = json_object_get(b, "org_access"),
           *jd = json_object_get(b, "disabled");
    if (email && !email_valid(email))
        return api_problem(r, 400, "email", "field 'email' must be an e-mail address"), -1;
    if (role && !user_role_valid(role))
        return api_problem(r, 400, "role", "field 'role' must be customer, agent, manager or admin"), -1;
    if (pw) {
        if (passwd_policy_check(pw, &e) < 0)
            return api_problem(r, 400, "password", "%s", e), -1;
        if ((*hash_r = passwd_hash(pw, &e)) == NULL)
            return api_problem(r, 500, NULL, "%s", e), -1;
    }
    *c = (struct user_change){
        .email = email, .name = api_str(b, "name"), .role = role,
        .set_org = jo != NULL, .org_id = json_is_integer(jo) ? json_integer_value(jo) : 0,
        .set_org_access = ja != NULL, .org_access = json_is_true(ja),
        .password_hash = *hash_r,
        .set_disabled = jd != NULL, .disabled = json_is_true(jd),
    };
    return 0;
}

/* One account write through the domain, in a transaction of its own. */
struct user_write {
    enum { USER_CREATE, USER_UPDATE, USER_DISABLE } op;
    const struct user_change *change;
    long long id;
    long long keep_session;
};

static int user_write_fn(struct api_req *r, const struct desk_tx *tx, const struct user_write *w,
                         long long *id_r, struct err *err)
{
    (void)r;
    switch (w->op) {
    case USER_CREATE:
        return user_create(tx, w->change, id_r, err);
    case USER_UPDATE:
        *id_r = w->id;
        return user_update(tx, w->id, w->change, w->keep_session, err);
    case USER_DISABLE:
        *id_r = w->id;
        return user_disable(tx, w->id, err);
    }
    return err_failed(err, "unknown account write");
}

static int user_write(struct api_req *r, const struct user_write *w, long long *id_r)
{
    const char *e = NULL;
    struct err err = { ERR_OK, NULL, NULL };
    struct desk_actor who;
    struct desk_tx tx;
    int _rc;
    api_actor(r, &who);
    api_desk_tx(r, &who, &tx);
    if (db_begin(r->db, &e) < 0)
        return api_db_fail(r, "the user", e), -1;
    if (DESK(r, user_write_fn(r, &tx, w, id_r, &err)) < 0)
        return api_desk_fail(r, "the user", &err), -1;
    if (db_commit(r->db, &e) < 0) {
        db_rollback(r->db);
        return api_db_fail(r, "the user", e), -1;
    }
    return 0;
}

static int user_create_h(struct api_req *r)
{
    char *hash = NULL;
    struct user_change c;
    long long id = 0;
    NEED(ATUM_ROLE_MANAGER);
    json_t *b = api_body(r, user_fields);
    if (b == NULL)
        return 0;
    if (api_str(b, "email") == NULL)
        return api_problem(r, 400, "email", "field 'email' is required");
    if (user_parse(r, b, &c, &hash) < 0)
        return 0;
    const struct user_write w = { USER_CREATE, &c, 0, 0 };
    int rc = user_write(r, &w, &id);
    free(hash);
    if (rc < 0)
        return 0;
    char sid[24];
    snprintf(sid, sizeof(sid), "%lld", id);
    return user_send(r, 201, sid);
}

static int user_update_h(struct api_req *r)
{
    char *hash = NULL;
    struct user_change c;
    long long id = r->m.ids[0];
    NEED(ATUM_ROLE_MANAGER);
    json_t *b = api_body(r, user_fields);
    if (b == NULL)
        return 0;
    if (user_parse(r, b, &c, &hash) < 0)
        return 0;
    /* who changes their own password keeps the session they did it from */
    const struct user_write w = { USER_UPDATE, &c, id,
                                  id == r->user.id && r->via == API_AUTH_SESSION ? r->session_id : 0 };
    int rc = user_write(r, &w, &id);
    free(hash);
    if (rc < 0)
        return 0;
    auth_cache_forget_user(r->api->token_cache, id);
    char sid[24];
    snprintf(sid, sizeof(sid), "%lld", id);
    return user_send(r, 200, sid);
}

static int user_delete(struct api_req *r)
{
    long long id = r->m.ids[0];
    if (api_no_body(r) < 0)
        return 0;
    const struct user_write w = { USER_DISABLE, NULL, id, 0 };
    if (user_write(r, &w, &id) < 0)
        return 0;
    auth_cache_forget_user(r->api->token_cache, id);
    return api_no_content(r);
}

const struct api_route api_admin_routes[] = {
    { "GET", "/api/v1/users", ATUM_ROLE_AGENT, 0, user_list },
    { "POST", "/api/v1/users", ATUM_ROLE_MANAGER, 0, user_create_h },
    { "GET", "/api/v1/users/{id}", ATUM_ROLE_AGENT, 0, user_get },
    { "PATCH", "/api/v1/users/{id}", ATUM_ROLE_MANAGER, 0, user_update_h },
    { "DELETE", "/api/v1/users/{id}", ATUM_ROLE_MANAGER, 0, user_delete },
    { "GET", "/api/v1/orgs", ATUM_ROLE_AGENT, 0, h_org_list },
    { "POST", "/api/v1/orgs", ATUM_ROLE_MANAGER, 0, h_org_create },
    { "GET", "/api/v1/orgs/{id}", ATUM_ROLE_AGENT, 0, h_org_get },
    { "PATCH", "/api/v1/orgs/{id}", ATUM_ROLE_MANAGER, 0, h_org_update },
    { "DELETE", "/api/v1/orgs/{id}", ATUM_ROLE_MANAGER, 0, h_org_delete },
    { "GET", "/api/v1/queues", ATUM_ROLE_CUSTOMER, 0, h_queue_list },
    { "POST", "/api/v1/queues", ATUM_ROLE_ADMIN, 0, h_queue_create },
    { "GET", "/api/v1/queues/{id}", ATUM_ROLE_CUSTOMER, 0, h_queue_get },
    { "PATCH", "/api/v1/queues/{id}", ATUM_ROLE_ADMIN, 0, h_queue_update },
    { "DELETE", "/api/v1/queues/{id}", ATUM_ROLE_ADMIN, 0, h_queue_delete },
    { "PUT", "/api/v1/queues/{id}/members/{user_id}", ATUM_ROLE_MANAGER, 0, member_add },
    { "DELETE", "/api/v1/queues/{id}/members/{user_id}", ATUM_ROLE_MANAGER, 0, member_remove },
    { "GET", "/api/v1/mailboxes", ATUM_ROLE_ADMIN, 0, mailbox_list },
    { "POST", "/api/v1/mailboxes", ATUM_ROLE_ADMIN, 0, mailbox_create },
    { "GET", "/api/v1/mailboxes/{id}", ATUM_ROLE_ADMIN, 0, mailbox_get },
    { "PATCH", "/api/v1/mailboxes/{id}", ATUM_ROLE_ADMIN, 0, mailbox_update },
    { "DELETE", "/api/v1/mailboxes/{id}", ATUM_ROLE_ADMIN, 0, mailbox_delete },
    { "GET", "/api/v1/canned-responses", ATUM_ROLE_AGENT, 0, canned_list },
    { "POST", "/api/v1/canned-responses", ATUM_ROLE_MANAGER, 0, canned_create },
    { "GET", "/api/v1/canned-responses/{id}", ATUM_ROLE_AGENT, 0, canned_get },
    { "PATCH", "/api/v1/canned-responses/{id}", ATUM_ROLE_MANAGER, 0, canned_update },
    { "DELETE", "/api/v1/canned-responses/{id}", ATUM_ROLE_MANAGER, 0, canned_delete },
    { NULL, NULL, 0, 0, NULL }
};
