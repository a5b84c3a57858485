/*
 * web/api_admin_tools.c -- what the admin pages need besides the
 * directory (web/api_admin.c): "test connection" for a mailbox and for the
 * smarthost, the outbox with retry, the mail templates with a preview, and
 * an admin's reset of a user's TOTP.
 *
 * Mail-in and mail-out sit beside the web, not below it: their parts are
 * reached through the runtime's seam (core/mailadmin.h), so the tests use
 * the poller's guarded IMAP session and the outbox's smarthost client, and
 * the templates the outbox's renderer.  Writes are audited in the same
 * transaction; the TOTP reset goes through the desk domain (desk/user.h).
 * Connection tests give the request's database connection back to the
 * pool while they talk to the server (up to MAILADMIN_TEST_MAX_MS).
 */
#include "config.h"
#include "web/api.h"
#include "web/auth.h"
#include "core/dbpool.h"
#include "core/mailadmin.h"
#include "core/runtime.h"
#include "desk/mailbox.h"
#include "desk/user.h"
#include "lib/err.h"
#include "lib/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- connection tests ------------------------------------------------------ */

/* The pooled connection goes back while the test waits for a server. */
static void db_give_back(struct api_req *r)
{
    if (r->db != NULL) {
        db_pool_release(r->api->pool, r->db);
        r->db = NULL;
    }
}

/* Logged with who asked and where to: a test reaches any host and port
 * an admin names, so there is a trace of each. */
static int send_report(struct api_req *r, const char *what, const char *host, int port,
                       const struct mailadmin_report *rep)
{
    log_info("admin.connection_test", "what=%s server=%s:%d ok=%s user=%lld ip=%s", what,
             host ? host : "(configured)", port, rep->ok ? "yes" : "no", r->user.id, r->ip);
    return api_json(r, 200, mailadmin_report_json(rep));
}

static int run_imap_test(struct api_req *r, const struct mailadmin_imap *box)
{
    struct mailadmin_report rep;
    const char *e = NULL;
    db_give_back(r);
    if (mailadmin_imap_test(r->api->rt, box, &rep, &e) < 0)
        return api_problem(r, 503, NULL, "the test could not run: %s", e);
    return send_report(r, "imap", box->host, box->port, &rep);
}

/* A saved mailbox, with the password from where the poller reads it. */
static int h_mailbox_test(struct api_req *r)
{
    const char *e = NULL;
    if (api_no_body(r) < 0)
        return 0;
    char id[24];
    snprintf(id, sizeof(id), "%lld", r->m.ids[0]);
    const char *p[] = { id };
    PGresult *res = db_exec(r->db, "SELECT host, port, security, trust_any_certificate, username,"
                                   " password_env, folder FROM mailboxes WHERE id = $1", 1, p, &e);
    if (res == NULL)
        return api_db_fail(r, "reading the mailbox", e);
    if (PQntuples(res) != 1) {
        PQclear(res);
        return api_problem(r, 404, NULL, "no such mailbox");
    }
    char host[256], sec[16], user[321], env[128], folder[256];
    snprintf(host, sizeof(host), "%s", PQgetvalue(res, 0, 0));
    int port = atoi(PQgetvalue(res, 0, 1));
    snprintf(sec, sizeof(sec), "%s", PQgetvalue(res, 0, 2));
    bool trust = PQgetvalue(res, 0, 3)[0] == 't';
    snprintf(user, sizeof(user), "%s", PQgetvalue(res, 0, 4));
    bool no_env = PQgetisnull(res, 0, 5);
    snprintf(env, sizeof(env), "%s", PQgetvalue(res, 0, 5));
    snprintf(folder, sizeof(folder), "%s", PQgetvalue(res, 0, 6));
    PQclear(res);
    if (no_env)
        return api_problem(r, 422, "password_env", "the mailbox names no password variable "
                           "(password_env): set one, or test the settings with POST "
                           "/api/v1/mailboxes/test and a password");
    struct mailbox_link link = { host, sec, trust };
    const char *pw = mailbox_password(env, &link, r->api->imap_insecure_loopback, &e);
    if (pw == NULL) {
        /* the rule that failed names its field; the variable's own
         * problems (unset, outside the namespace) are password_env's */
        const char *field = mailbox_link_check(&link, r->api->imap_insecure_loopback, NULL) < 0
            ? (strcmp(sec, "none") == 0 ? "security" : "trust_any_certificate") : "password_env";
        return api_problem(r, 422, field, "%s", e);
    }
    struct mailadmin_imap box = { host, port, sec, trust, user, pw, folder };
    return run_imap_test(r, &box);
}

/* Settings not saved yet: the fields of POST /mailboxes, and the password
 * itself or the variable that holds it. */
static int h_mailbox_test_new(struct api_req *r)
{
    static const struct api_field f[] = {
        { "name", F_STR, false, 100 }, { "queue_id", F_INT, false, 0 }, { "host", F_STR, true, 253 },
        { "port", F_INT, true, 0 }, { "security", F_STR, false, 16 },
        { "trust_any_certificate", F_BOOL, false, 0 }, { "username", F_STR, true, 320 },
        { "password", F_STR, false, 1024 }, { "password_env", F_STR_NULL, false, 100 },
        { "folder", F_STR, false, 200 }, { "after_fetch", F_STR, false, 16 },
        { "move_to", F_STR, false, 200 }, { "enabled", F_BOOL, false, 0 }, { NULL, 0, 0, 0 } };
    const char *e = NULL;
    json_t *b = api_body(r, f);
    if (b == NULL)
        return 0;
    const char *host = api_str(b, "host"), *sec = api_str(b, "security");
    const char *pw = api_str(b, "password"), *env = api_str(b, "password_env");
    json_int_t port = json_integer_value(json_object_get(b, "port"));
    if (*host == '\0')
        return api_problem(r, 400, "host", "field 'host' must not be empty");
    if (port < 1 || port > 65535)
        return api_problem(r, 400, "port", "field 'port' must be from 1 to 65535");
    if (sec == NULL)
        sec = "tls";
    if (strcmp(sec, "tls") && strcmp(sec, "starttls") && strcmp(sec, "none"))
        return api_problem(r, 400, "security", "field 'security' must be tls, starttls or none");
    if ((pw == NULL) == (env == NULL))
        return api_problem(r, 400, "password", "give the password to test with ('password') or the "
                           "variable that holds it ('password_env'), not both");
    struct mailbox_link link = { host, sec, json_is_true(json_object_get(b, "trust_any_certificate")) };
    if (mailbox_link_check(&link, r->api->imap_insecure_loopback, &e) < 0)
        return api_problem(r, 400, strcmp(sec, "none") == 0 ? "security" : "trust_any_certificate",
                           "%s", e);
    if (env != NULL) {
        if (mailbox_password_env_check(env, &e) < 0)
            return api_problem(r, 400, "password_env", "%s", e);
        if ((pw = mailbox_password(env, &link, r->api->imap_insecure_loopback, &e)) == NULL)
            return api_problem(r, 422, "password_env", "%s", e);
    }
    const char *folder = api_str(b, "folder");
    struct mailadmin_imap box = { host, (int)port, sec, link.trust_any_certificate,
                                  api_str(b, "username"), pw, folder && *folder ? folder : "INBOX" };
    return run_imap_test(r, &box);
}

static int h_smarthost_test(struct api_req *r)
{
    struct mailadmin_report rep;
    const char *e = NULL;
    if (api_no_body(r) < 0)
        return 0;
    db_give_back(r);
    if (mailadmin_smarthost_test(r->api->rt, &rep, &e) < 0)
        return api_problem(r, 503, NULL, "the test could not run: %s", e);
    return send_report(r, "smarthost", NULL, 0, &rep);
}

/* ---- the outbox ---------------------------------------------------------------- */

static int h_outbox_list(struct api_req *r)
{
    static const char *const allowed[] = { "state", "limit", "before", "ticket_id", NULL };
    char state[32], lim[16];
    long long before = 0, ticket = 0;
    bool bset, tset;
    int ns, nl;
    if (api_query_check(r, allowed) < 0 || (ns = api_query(r, "state", state, sizeof(state))) < 0
        || (nl = api_query(r, "limit", lim, sizeof(lim))) < 0
        || api_query_id(r, "before", &before, &bset) < 0
        || api_query_id(r, "ticket_id", &ticket, &tset) < 0)
        return 0;
    long long l = 50;
    if (nl) {
        char *end;
        l = strtoll(lim, &end, 10);
        if (*end || end == lim || l < 1 || l > 500)
            return api_problem(r, 400, "limit", "limit must be an integer from 1 to 500");
    }
    struct mailadmin_outbox_query q = { ns ? state : NULL, ticket, before, (int)l };
    struct err err = { ERR_OK, NULL, NULL };
    json_t *v = mailadmin_outbox_list(r->api->rt, r->db, &q, &err);
    if (v == NULL) {
        if (err.code == ERR_INVALID)     /* a query parameter: the request's syntax */
            return api_problem(r, 400, err.field, "%s", err.text);
        return api_desk_fail(r, "listing outgoing mail", &err);
    }
    return api_json(r, 200, v);
}

static int h_outbox_retry(struct api_req *r)
{
    const char *e = NULL;
    struct err err = { ERR_OK, NULL, NULL };
    long long id = r->m.ids[0];
    int n = 0;
    if (api_no_body(r) < 0)
        return 0;
    if (db_begin(r->db, &e) < 0)
        return api_db_fail(r, "retrying outgoing mail", e);
    if (mailadmin_outbox_retry(r->api->rt, r->db, id, &n, &err) < 0)
        return api_desk_fail(r, "retrying outgoing mail", &err);
    char target[40];
    snprintf(target, sizeof(target), "outbound:%lld", id);
    json_t *d = json_pack("{s:i}", "recipients", n);
    int rc = api_audit(r, "outbox.retry", target, d, &e);
    json_decref(d);
    if (rc < 0 || db_commit(r->db, &e) < 0) {
        db_rollback(r->db);
        return api_db_fail(r, "retrying outgoing mail", e);
    }
    return api_json(r, 200, json_pack("{s:I, s:s, s:i}", "id", (json_int_t)id, "state", "queued",
                                      "recipients", n));
}

/* ---- templates ------------------------------------------------------------------- */

static int h_template_list(struct api_req *r)
{
    struct err err = { ERR_OK, NULL, NULL };
    if (api_query_check(r, NULL) < 0)
        return 0;
    json_t *v = mailadmin_template_list(r->api->rt, r->db, &err);
    return v ? api_json(r, 200, v) : api_desk_fail(r, "listing templates", &err);
}

/* ?queue_id= of the template routes: 0 (global) when absent. */
static int template_scope(struct api_req *r, struct mailadmin_tmpl_scope *s)
{
    static const char *const allowed[] = { "queue_id", NULL };
    bool set;
    s->name = r->m.name;
    s->queue_id = 0;
    return api_query_check(r, allowed) < 0 || api_query_id(r, "queue_id", &s->queue_id, &set) < 0
        ? -1 : 0;
}

static int h_template_get(struct api_req *r)
{
    struct mailadmin_tmpl_scope s;
    struct err err = { ERR_OK, NULL, NULL };
    if (template_scope(r, &s) < 0)
        return 0;
    json_t *v = mailadmin_template_get(r->api->rt, r->db, &s, &err);
    return v ? api_json(r, 200, v) : api_desk_fail(r, "reading the template", &err);
}

/* A queue named in a write that does not exist is the input's fault. */
static int template_fail(struct api_req *r, const char *what, struct err *err)
{
    if (err->code == ERR_NOT_FOUND && err->field != NULL)
        err->code = ERR_INVALID;
    return api_desk_fail(r, what, err);
}

static int template_write(struct api_req *r, bool put)
{
    static const struct api_field f[] = {
        { "subject", F_STR, true, 998 }, { "body", F_STR, true, 200000 }, { NULL, 0, 0, 0 } };
    const char *e = NULL;
    struct mailadmin_tmpl_scope s;
    struct err err = { ERR_OK, NULL, NULL };
    bool created = false;
    if (template_scope(r, &s) < 0)
        return 0;
    json_t *b = NULL;
    if (put ? (b = api_body(r, f)) == NULL : api_no_body(r) < 0)
        return 0;
    if (db_begin(r->db, &e) < 0)
        return api_db_fail(r, "writing the template", e);
    int rc = put ? mailadmin_template_put(r->api->rt, r->db, &s, api_str(b, "subject"),
                                          api_str(b, "body"), &created, &err)
                 : mailadmin_template_reset(r->api->rt, r->db, &s, &err);
    if (rc < 0)
        return template_fail(r, "writing the template", &err);
    char target[96];
    snprintf(target, sizeof(target), "template:%s", s.name);
    json_t *d = json_pack("{s:o}", "queue_id", s.queue_id ? json_integer(s.queue_id) : json_null());
    rc = api_audit(r, put ? "template.set" : "template.reset", target, d, &e);
    json_decref(d);
    if (rc < 0 || db_commit(r->db, &e) < 0) {
        db_rollback(r->db);
        return api_db_fail(r, "writing the template", e);
    }
    /* the template now in effect for the scope */
    json_t *v = mailadmin_template_get(r->api->rt, r->db, &s, &err);
    return v ? api_json(r, created ? 201 : 200, v) : api_desk_fail(r, "reading the template", &err);
}

static int h_template_put(struct api_req *r) { return template_write(r, true); }
static int h_template_delete(struct api_req *r) { return template_write(r, false); }

static int h_template_preview(struct api_req *r)
{
    static const struct api_field f[] = {
        { "name", F_STR, true, 64 }, { "queue_id", F_INT_NULL, false, 0 },
        { "subject", F_STR, true, 998 }, { "body", F_STR, true, 200000 }, { NULL, 0, 0, 0 } };
    struct err err = { ERR_OK, NULL, NULL };
    json_t *b = api_body(r, f);
    if (b == NULL)
        return 0;
    json_t *q = json_object_get(b, "queue_id");
    struct mailadmin_tmpl_scope s = { api_str(b, "name"), json_is_integer(q) ? json_integer_value(q) : 0 };
    json_t *v = mailadmin_template_preview(r->api->rt, r->db, &s, api_str(b, "subject"),
                                           api_str(b, "body"), &err);
    if (v == NULL) {
        if (err.code == ERR_NOT_FOUND && err.field == NULL)
            err.field = "name";              /* an unknown template, named in the body */
        return template_fail(r, "previewing the template", &err);
    }
    return api_json(r, 200, v);
}

/* ---- users ------------------------------------------------------------------------ */

static int h_totp_reset(struct api_req *r)
{
    const char *e = NULL;
    struct err err = { ERR_OK, NULL, NULL };
    struct desk_actor who;
    struct desk_tx tx;
    long long id = r->m.ids[0];
    if (api_no_body(r) < 0)
        return 0;
    api_actor(r, &who);
    api_desk_tx(r, &who, &tx);
    if (db_begin(r->db, &e) < 0)
        return api_db_fail(r, "resetting TOTP", e);
    runtime_rdlock(r->api->rt);
    int rc = user_totp_reset(&tx, id, &err);
    runtime_rdunlock(r->api->rt);
    if (rc < 0)
        return api_desk_fail(r, "resetting TOTP", &err);
    if (db_commit(r->db, &e) < 0) {
        db_rollback(r->db);
        return api_db_fail(r, "resetting TOTP", e);
    }
    auth_cache_forget_user(r->api->token_cache, id);
    return api_json(r, 200, json_pack("{s:I, s:b}", "user_id", (json_int_t)id, "totp_enabled", 0));
}

const struct api_route api_admin_tool_routes[] = {
    { "POST", "/api/v1/mailboxes/test", ATUM_ROLE_ADMIN, 0, h_mailbox_test_new },
    { "POST", "/api/v1/mailboxes/{id}/test", ATUM_ROLE_ADMIN, 0, h_mailbox_test },
    { "POST", "/api/v1/smarthost/test", ATUM_ROLE_ADMIN, 0, h_smarthost_test },
    { "GET", "/api/v1/outbox", ATUM_ROLE_MANAGER, 0, h_outbox_list },
    { "POST", "/api/v1/outbox/{id}/retry", ATUM_ROLE_MANAGER, 0, h_outbox_retry },
    { "GET", "/api/v1/templates", ATUM_ROLE_MANAGER, 0, h_template_list },
    { "POST", "/api/v1/templates/preview", ATUM_ROLE_MANAGER, 0, h_template_preview },
    { "GET", "/api/v1/templates/{name}", ATUM_ROLE_MANAGER, 0, h_template_get },
    { "PUT", "/api/v1/templates/{name}", ATUM_ROLE_ADMIN, 0, h_template_put },
    { "DELETE", "/api/v1/templates/{name}", ATUM_ROLE_ADMIN, 0, h_template_delete },
    { "POST", "/api/v1/users/{id}/totp/reset", ATUM_ROLE_ADMIN, 0, h_totp_reset },
    { NULL, NULL, 0, 0, NULL }
};
