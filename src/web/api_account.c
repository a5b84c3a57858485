/*
 * web/api_account.c -- customer accounts by mail (desk/account.h) and a
 * customer's own data:
 *
 *   POST /api/v1/account/link          {"email", "purpose": "signin"|"reset"}
 *   POST /api/v1/account/signup        {"email", "name", "queue_id"}
 *   POST /api/v1/account/link/check    {"token"}  what a mailed link is now
 *   POST /api/v1/account/password      {"token", "password"}  use it: set
 *                                      the password and sign in
 *   POST /api/v1/users/{id}/invite     staff invite a customer
 *   GET  /api/v1/me/export             everything of the caller's, as JSON
 *
 * The first two answer 202 with the same body whether or not the address
 * has an account, after the same work (count the request against
 * portal.link_limit_address and portal.link_limit_ip, audit it, queue
 * the account.link job that decides): an address cannot be probed by
 * the answer or its timing.  Over a limit: 429 with Retry-After, counted
 * for any address alike.  The token of a link arrives in the body, never
 * in a URL.
 */
#include "config.h"
#include "web/api.h"
#include "web/auth.h"
#include "desk/account.h"
#include "core/conf.h"
#include "core/runtime.h"
#include "lib/email.h"
#include "lib/err.h"
#include "lib/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SENT_DETAIL "If the address may have a link, it is on its way: look in your mail " \
                    "(and the spam folder) in a minute or two."

static int same_answer(struct api_req *r)
{
    return api_json(r, 202, json_pack("{s:s, s:s}", "status", "accepted", "detail", SENT_DETAIL));
}

/* Throttle, audit and queue: the same for every address.  -1 when a
 * problem was sent. */
static int request_link(struct api_req *r, enum account_purpose purpose, const char *email,
                        const char *name, long long queue_id)
{
    const char *e = NULL;
    struct err err = { ERR_OK, NULL, NULL };
    const struct atum_config *cfg = r->api->rt->cfg;
    if (db_begin(r->db, &e) < 0)
        return api_db_fail(r, "asking for a link", e), -1;
    long long wait = 0;
    runtime_rdlock(r->api->rt);
    int over = account_throttle(r->db, email, r->ip, cfg->portal_link_limit_address,
                                cfg->portal_link_limit_ip, cfg->portal_link_window_ms, &wait, &e);
    runtime_rdunlock(r->api->rt);
    if (over < 0) {
        db_rollback(r->db);
        return api_db_fail(r, "counting the request", e), -1;
    }
    if (over > 0) {
        /* the count stays: a flood keeps paying */
        if (db_commit(r->db, &e) < 0)
            db_rollback(r->db);
        log_warn("account.throttled", "ip=%s retry_after=%lld", r->ip, wait);
        api_add_header(r, "Retry-After: %lld", wait);
        api_problem(r, 429, NULL, "too many links asked for; try again in %lld seconds", wait);
        return -1;
    }
    struct desk_actor who;
    struct desk_tx tx;
    api_actor(r, &who);
    who.kind = DESK_SYSTEM;     /* nobody is signed in: the portal asks */
    who.via = "portal";
    api_desk_tx(r, &who, &tx);
    static const char *const purpose_names[] = { "signin", "reset", "signup" };
    json_t *d = json_pack("{s:s, s:s}", "purpose", purpose_names[purpose], "email", email);
    runtime_rdlock(r->api->rt);
    int rc = account_request(&tx, purpose, email, name, queue_id, &err);
    runtime_rdunlock(r->api->rt);
    if (rc < 0) {
        json_decref(d);
        return api_desk_fail(r, "asking for a link", &err), -1;
    }
    rc = api_audit(r, "account.link_request", NULL, d, &e);
    json_decref(d);
    if (rc < 0 || db_commit(r->db, &e) < 0) {
        db_rollback(r->db);
        return api_db_fail(r, "asking for a link", e), -1;
    }
    return 0;
}

static int check_email(struct api_req *r, const char *email)
{
    if (!email_valid(email)) {
        api_problem(r, 400, "email", "this is not an e-mail address");
        return -1;
    }
    return 0;
}

static int h_link(struct api_req *r)
{
    static const struct api_field f[] = {
        { "email", F_STR, true, 320 }, { "purpose", F_STR, false, 16 }, { NULL, 0, 0, 0 } };
    json_t *b = api_body(r, f);
    if (b == NULL || api_db(r) == NULL)
        return 0;
    const char *email = api_str(b, "email"), *ps = api_str(b, "purpose");
    enum account_purpose purpose = ACCOUNT_WANT_SIGNIN;
    if (ps && (account_purpose_parse(ps, &purpose) < 0 || purpose == ACCOUNT_WANT_SIGNUP))
        return api_problem(r, 400, "purpose", "purpose is 'signin' or 'reset'");
    if (check_email(r, email) < 0 || request_link(r, purpose, email, NULL, 0) < 0)
        return 0;
    return same_answer(r);
}

static int h_signup(struct api_req *r)
{
    static const struct api_field f[] = {
        { "email", F_STR, true, 320 }, { "name", F_STR, false, 200 }, { "queue_id", F_INT, false, 0 },
        { NULL, 0, 0, 0 } };
    struct err err = { ERR_OK, NULL, NULL };
    json_t *b = api_body(r, f);
    if (b == NULL || api_db(r) == NULL)
        return 0;
    const char *email = api_str(b, "email"), *name = api_str(b, "name");
    json_t *jq = json_object_get(b, "queue_id");
    long long queue_id = jq ? json_integer_value(jq) : 0;
    if (check_email(r, email) < 0)
        return 0;
    /* whether sign-up is on is no secret: the portal shows it */
    struct desk_actor who;
    struct desk_tx tx;
    api_actor(r, &who);
    who.kind = DESK_SYSTEM;
    api_desk_tx(r, &who, &tx);
    bool allowed = false;
    runtime_rdlock(r->api->rt);
    int rc = account_signup_allowed(&tx, queue_id, &allowed, &err);
    runtime_rdunlock(r->api->rt);
    if (rc < 0)
        return api_desk_fail(r, "reading the sign-up setting", &err);
    if (!allowed)
        return api_problem(r, 403, NULL, "sign-up is off here: ask for a sign-in link if you have "
                           "written to us before, or ask us for an invitation");
    if (request_link(r, ACCOUNT_WANT_SIGNUP, email, name, queue_id) < 0)
        return 0;
    return same_answer(r);
}

static const char *state_text(enum account_link_state s)
{
    switch (s) {
    case LINK_VALID: return "the link is valid";
    case LINK_USED: return "this link was already used; ask for a new one";
    case LINK_EXPIRED: return "this link has expired; ask for a new one";
    case LINK_REFUSED: return "this link can no longer be used";
    case LINK_UNKNOWN: break;
    }
    return "this link is not valid; ask for a new one";
}

static int h_link_check(struct api_req *r)
{
    static const struct api_field f[] = { { "token", F_STR, true, 200 }, { NULL, 0, 0, 0 } };
    struct err err = { ERR_OK, NULL, NULL };
    json_t *b = api_body(r, f);
    if (b == NULL || api_db(r) == NULL)
        return 0;
    struct desk_actor who;
    struct desk_tx tx;
    api_actor(r, &who);
    who.kind = DESK_SYSTEM;
    api_desk_tx(r, &who, &tx);
    struct account_link l;
    enum account_link_state st;
    runtime_rdlock(r->api->rt);
    int rc = account_link_find(&tx, api_str(b, "token"), &l, &st, &err);
    runtime_rdunlock(r->api->rt);
    if (rc < 0)
        return api_desk_fail(r, "reading the link", &err);
    json_t *o = json_pack("{s:s, s:s}", "state", account_link_state_name(st), "detail", state_text(st));
    if (st == LINK_VALID) {
        json_object_set_new(o, "kind", json_string(account_link_kind_name(l.kind)));
        json_object_set_new(o, "email", json_string(l.email));
    }
    return api_json(r, 200, o);
}

static int h_password(struct api_req *r)
{
    static const struct api_field f[] = {
        { "token", F_STR, true, 200 }, { "password", F_STR, true, 1024 }, { NULL, 0, 0, 0 } };
    const char *e = NULL;
    struct err err = { ERR_OK, NULL, NULL };
    json_t *b = api_body(r, f);
    if (b == NULL || api_db(r) == NULL)
        return 0;
    struct desk_actor who;
    struct desk_tx tx;
    api_actor(r, &who);
    who.kind = DESK_SYSTEM;
    who.via = "portal";
    api_desk_tx(r, &who, &tx);
    if (db_begin(r->db, &e) < 0)
        return api_db_fail(r, "using the link", e);
    long long uid = 0;
    enum account_link_state st;
    runtime_rdlock(r->api->rt);
    int rc = account_link_redeem(&tx, api_str(b, "token"), api_str(b, "password"), &uid, &st, &err);
    runtime_rdunlock(r->api->rt);
    if (rc < 0)
        return api_desk_fail(r, "using the link", &err);
    if (st != LINK_VALID) {
        db_rollback(r->db);
        log_info("account.link_refused", "state=%s ip=%s", account_link_state_name(st), r->ip);
        /* 410: it was (or may have been) a link once; it opens nothing now */
        api_problem(r, 410, "token", "%s", state_text(st));
        return 0;
    }
    /* with a second factor the password alone does not sign in */
    char sid[24];
    snprintf(sid, sizeof(sid), "%lld", uid);
    const char *p[] = { sid };
    PGresult *res = db_exec(r->db, "SELECT coalesce((SELECT enabled FROM user_totp WHERE user_id = $1),"
                                   " false)", 1, p, &e);
    if (res == NULL) {
        db_rollback(r->db);
        return api_db_fail(r, "using the link", e);
    }
    bool totp = PQgetvalue(res, 0, 0)[0] == 't';
    PQclear(res);
    log_info("account.password_set", "user=%lld ip=%s", uid, r->ip);
    if (totp) {
        if (db_commit(r->db, &e) < 0) {
            db_rollback(r->db);
            return api_db_fail(r, "using the link", e);
        }
        return api_json(r, 200, json_pack("{s:b, s:s}", "signed_in", 0, "detail",
                                          "the password is set; sign in with it and your code"));
    }
    return auth_session_begin(r, uid, "link");
}

static int h_invite(struct api_req *r)
{
    const char *e = NULL;
    struct err err = { ERR_OK, NULL, NULL };
    if (api_no_body(r) < 0 || api_db(r) == NULL)
        return 0;
    struct desk_actor who;
    struct desk_tx tx;
    api_actor(r, &who);
    api_desk_tx(r, &who, &tx);
    if (db_begin(r->db, &e) < 0)
        return api_db_fail(r, "inviting", e);
    runtime_rdlock(r->api->rt);
    int rc = account_invite(&tx, r->m.ids[0], &err);
    runtime_rdunlock(r->api->rt);
    if (rc < 0) {
        if (err.code == ERR_NOT_FOUND)
            err.field = NULL;
        return api_desk_fail(r, "inviting", &err);
    }
    if (db_commit(r->db, &e) < 0) {
        db_rollback(r->db);
        return api_db_fail(r, "inviting", e);
    }
    return api_json(r, 202, json_pack("{s:s, s:I}", "status", "invited", "user_id",
                                      (json_int_t)r->m.ids[0]));
}

/* ---- the caller's own data ---------------------------------------------------- */

static const char export_sql[] =
    "SELECT json_build_object("
    " 'format', 1, 'exported_at', now(),"
    " 'profile', (SELECT json_build_object('id', u.id, 'email', u.email, 'name', u.name,"
    "     'role', u.role, 'created_at', u.created_at, 'updated_at', u.updated_at,"
    "     'has_password', u.password_hash IS NOT NULL,"
    "     'organisation', (SELECT json_build_object('id', o.id, 'name', o.name, 'domain', o.domain)"
    "                        FROM orgs o WHERE o.id = u.org_id))"
    "   FROM users u WHERE u.id = $1),"
    " 'tickets', coalesce((SELECT json_agg(json_build_object("
    "     'id', t.id, 'subject', t.subject, 'status', t.status, 'queue', q.name,"
    "     'created_at', t.created_at, 'updated_at', t.updated_at, 'solved_at', t.solved_at,"
    "     'closed_at', t.closed_at,"
    "     'rating', (SELECT json_build_object('score', c.score, 'comment', c.comment,"
    "                  'created_at', c.created_at, 'updated_at', c.updated_at)"
    "                  FROM csat_ratings c WHERE c.ticket_id = t.id),"
    "     'messages', coalesce((SELECT json_agg(json_build_object("
    "         'id', m.id, 'direction', m.direction, 'from', m.from_addr, 'subject', m.subject,"
    "         'body_text', m.body_text, 'created_at', m.created_at,"
    "         'attachments', coalesce((SELECT json_agg(json_build_object('id', a.id,"
    "             'filename', a.filename, 'content_type', a.content_type, 'size', a.size,"
    "             'sha256', a.sha256) ORDER BY a.id) FROM attachments a WHERE a.message_id = m.id),"
    "           '[]')) ORDER BY m.created_at, m.id)"
    "       FROM messages m WHERE m.ticket_id = t.id AND m.visibility = 'public'), '[]'))"
    "     ORDER BY t.id)"
    "   FROM tickets t JOIN queues q ON q.id = t.queue_id"
    "  WHERE t.requester_id = $1 AND t.merged_into IS NULL), '[]'))";

static int h_export(struct api_req *r)
{
    const char *e = NULL;
    if (api_query_check(r, NULL) < 0)
        return 0;
    const char *p[] = { api_uid(r) };
    PGresult *res = db_exec(r->db, export_sql, 1, p, &e);
    if (res == NULL)
        return api_db_fail(r, "exporting", e);
    api_add_header(r, "Content-Disposition: attachment; filename=\"my-data.json\"");
    api_send_cell(r, 200, res);
    PQclear(res);
    return 0;
}

const struct api_route api_account_routes[] = {
    { "POST", "/api/v1/account/link", ATUM_ROLE_NONE, API_PUBLIC | API_NO_CSRF, h_link },
    { "POST", "/api/v1/account/signup", ATUM_ROLE_NONE, API_PUBLIC | API_NO_CSRF, h_signup },
    { "POST", "/api/v1/account/link/check", ATUM_ROLE_NONE, API_PUBLIC | API_NO_CSRF, h_link_check },
    { "POST", "/api/v1/account/password", ATUM_ROLE_NONE, API_PUBLIC | API_NO_CSRF, h_password },
    { "POST", "/api/v1/users/{id}/invite", ATUM_ROLE_AGENT, 0, h_invite },
    { "GET", "/api/v1/me/export", ATUM_ROLE_CUSTOMER, 0, h_export },
    { NULL, NULL, 0, 0, NULL }
};
