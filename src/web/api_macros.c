/*
 * web/api_macros.c -- canned texts filled in for a ticket, and macros.
 *
 *   GET  /tickets/{id}/canned-responses/{canned_id}   the canned response
 *        with its placeholders filled for this ticket          staff
 *   GET  /macros[?queue_id=N]   the macros the caller may use  staff
 *   POST /macros                {"title", "body", "visibility", "actions",
 *                               "queue_id"}                    managers
 *   GET|PATCH|DELETE /macros/{id}                              staff | managers
 *   GET  /tickets/{id}/macros/{macro_id}    what applying it would post and
 *        change (text filled in)                               staff
 *   POST /tickets/{id}/macros/{macro_id}    {"body"?, "version"?}: applies it
 *        in one transaction: the text as a reply or note, then the changes;
 *        with If-Match (or "version") 409 and nothing done when the ticket
 *        moved on since (what changed, as for replies)          staff
 *
 * Placeholders ({{customer.name}}, {{ticket.number}} ...) are filled on
 * the server by desk/placeholder.h; an unknown one stays in the text as
 * written and is listed in "unknown_placeholders" -- never an error.
 * Macros are written and applied through desk/macro.h.  Canned responses
 * themselves are written through /canned-responses (api_admin.c).
 */
#include "config.h"
#include "web/api.h"
#include "web/api_tickets.h"
#include "desk/macro.h"
#include "desk/placeholder.h"
#include "core/runtime.h"
#include "lib/err.h"
#include "lib/strbuf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Managers and admins see every macro (and canned response); agents the
 * global ones and those of their queues.  $1 user id, $2 role. */
#define MINE(tbl) "($2::text IN ('manager', 'admin') OR " tbl ".queue_id IS NULL OR " tbl ".queue_id IN" \
    " (SELECT qm.queue_id FROM queue_members qm WHERE qm.user_id = $1::bigint))"

#define MACRO_JSON "json_build_object('id', x.id, 'title', x.title, 'body', x.body," \
    " 'visibility', x.visibility, 'actions', x.actions, 'queue_id', x.queue_id," \
    " 'created_by', x.created_by, 'created_at', x.created_at, 'updated_at', x.updated_at)"

static const char *role_text(struct api_req *r)
{
    return r->user.level >= ATUM_ROLE_ADMIN ? "admin" : r->user.level >= ATUM_ROLE_MANAGER ? "manager"
                                                                                            : "agent";
}

/* ---- canned responses, filled in --------------------------------------------------- */

static int h_canned_filled(struct api_req *r)
{
    const char *e = NULL;
    struct err err = { ERR_OK, NULL, NULL };
    if (api_query_check(r, NULL) < 0)
        return 0;
    char cid[24];
    snprintf(cid, sizeof(cid), "%lld", r->m.ids[1]);
    const char *p[] = { api_uid(r), role_text(r), cid };
    PGresult *res = db_exec(r->db, "SELECT x.title, x.body FROM canned_responses x WHERE x.id = $3 AND "
                            MINE("x"), 3, p, &e);
    if (res == NULL)
        return api_db_fail(r, "reading the canned response", e);
    if (PQntuples(res) == 0) {
        PQclear(res);
        return api_problem(r, 404, NULL, "no such canned response");
    }
    struct desk_actor who;
    struct desk_tx tx;
    api_actor(r, &who);
    api_desk_tx(r, &who, &tx);
    struct placeholder_values vals;
    if (placeholder_load(&tx, r->m.ids[0], &vals, &err) < 0) {
        PQclear(res);
        return api_desk_fail(r, "reading the ticket", &err);
    }
    struct strbuf out = STRBUF_INIT;
    json_t *unknown = json_array();
    placeholder_render(PQgetvalue(res, 0, 1), &vals, &out, unknown);
    placeholder_values_clear(&vals);
    json_t *o = json_pack("{s:I, s:s, s:s%, s:o}", "id", (json_int_t)r->m.ids[1], "title",
                          PQgetvalue(res, 0, 0), "body", strbuf_str(&out), out.len,
                          "unknown_placeholders", unknown);
    PQclear(res);
    strbuf_free(&out);
    if (o == NULL)
        return api_problem(r, 500, NULL, "the filled-in text cannot be encoded");
    return api_json(r, 200, o);
}

/* ---- macros ------------------------------------------------------------------------ */

static int send_macro(struct api_req *r, int status, long long id)
{
    const char *e = NULL;
    char sid[24];
    snprintf(sid, sizeof(sid), "%lld", id);
    const char *p[] = { api_uid(r), role_text(r), sid };
    PGresult *res = db_exec(r->db, "SELECT " MACRO_JSON " FROM macros x WHERE x.id = $3 AND " MINE("x"),
                            3, p, &e);
    if (res == NULL)
        return api_db_fail(r, "reading the macro", e);
    if (PQntuples(res) == 0) {
        PQclear(res);
        return api_problem(r, 404, NULL, "no such macro");
    }
    api_send_cell(r, status, res);
    PQclear(res);
    return 0;
}

static int h_list(struct api_req *r)
{
    static const char *const allowed[] = { "queue_id", NULL };
    const char *e = NULL;
    long long q = 0;
    bool qset = false;
    if (api_query_check(r, allowed) < 0 || api_query_id(r, "queue_id", &q, &qset) < 0)
        return 0;
    char sq[24];
    snprintf(sq, sizeof(sq), "%lld", q);
    const char *p[] = { api_uid(r), role_text(r), qset ? sq : NULL };
    PGresult *res = db_exec(r->db,
        "SELECT json_build_object('items', coalesce(json_agg(" MACRO_JSON " ORDER BY x.title, x.id), '[]'))"
        "  FROM macros x WHERE " MINE("x")
        "   AND ($3::bigint IS NULL OR x.queue_id IS NULL OR x.queue_id = $3::bigint)", 3, p, &e);
    if (res == NULL)
        return api_db_fail(r, "listing macros", e);
    api_send_cell(r, 200, res);
    PQclear(res);
    return 0;
}

static int h_get(struct api_req *r)
{
    if (api_query_check(r, NULL) < 0)
        return 0;
    return send_macro(r, 200, r->m.ids[0]);
}

static int macro_write(struct api_req *r, bool create)
{
    static const struct api_field f[] = {
        { "title", F_STR, false, 200 }, { "body", F_STR, false, 100000 },
        { "visibility", F_STR, false, 16 }, { "actions", F_OBJECT, false, 0 },
        { "queue_id", F_INT_NULL, false, 0 }, { NULL, 0, 0, 0 } };
    const char *e = NULL;
    struct err err = { ERR_OK, NULL, NULL };
    int _desk_rc;
    json_t *b = api_body(r, f);
    if (b == NULL)
        return 0;
    json_t *jq = json_object_get(b, "queue_id");
    struct macro_in in = {
        .title = api_str(b, "title"), .body = api_str(b, "body"), .visibility = api_str(b, "visibility"),
        .actions = json_object_get(b, "actions"), .set_queue = jq != NULL,
        .queue_id = json_is_integer(jq) ? json_integer_value(jq) : 0,
    };
    if (create && in.title == NULL)
        return api_problem(r, 400, "title", "field 'title' is required");
    struct desk_actor who;
    struct desk_tx tx;
    api_actor(r, &who);
    api_desk_tx(r, &who, &tx);
    long long id = create ? 0 : r->m.ids[0];
    if (db_begin(r->db, &e) < 0)
        return api_db_fail(r, "saving the macro", e);
    int rc = create ? DESK_CALL(r, macro_add(&tx, &in, &id, &err))
                    : DESK_CALL(r, macro_update(&tx, id, &in, &err));
    if (rc < 0)
        return api_desk_fail(r, "saving the macro", &err);
    if (db_commit(r->db, &e) < 0) {
        db_rollback(r->db);
        return api_db_fail(r, "saving the macro", e);
    }
    return send_macro(r, create ? 201 : 200, id);
}

static int h_create(struct api_req *r) { return macro_write(r, true); }
static int h_update(struct api_req *r) { return macro_write(r, false); }

static int h_delete(struct api_req *r)
{
    const char *e = NULL;
    struct err err = { ERR_OK, NULL, NULL };
    int _desk_rc;
    if (api_no_body(r) < 0)
        return 0;
    struct desk_actor who;
    struct desk_tx tx;
    api_actor(r, &who);
    api_desk_tx(r, &who, &tx);
    if (db_begin(r->db, &e) < 0)
        return api_db_fail(r, "deleting the macro", e);
    if (DESK_CALL(r, macro_delete(&tx, r->m.ids[0], &err)) < 0)
        return api_desk_fail(r, "deleting the macro", &err);
    if (db_commit(r->db, &e) < 0) {
        db_rollback(r->db);
        return api_db_fail(r, "deleting the macro", e);
    }
    return api_no_content(r);
}

/* ---- a macro and a ticket ------------------------------------------------------------ */

/* What applying would post and change: the text filled in, the actions. */
static int h_preview(struct api_req *r)
{
    const char *e = NULL;
    struct err err = { ERR_OK, NULL, NULL };
    if (api_query_check(r, NULL) < 0)
        return 0;
    char mid[24];
    snprintf(mid, sizeof(mid), "%lld", r->m.ids[1]);
    const char *p[] = { api_uid(r), role_text(r), mid };
    PGresult *res = db_exec(r->db, "SELECT x.title, x.body, x.visibility, x.actions::text,"
                            " coalesce(x.queue_id, 0) FROM macros x WHERE x.id = $3 AND " MINE("x"),
                            3, p, &e);
    if (res == NULL)
        return api_db_fail(r, "reading the macro", e);
    if (PQntuples(res) == 0) {
        PQclear(res);
        return api_problem(r, 404, NULL, "no such macro");
    }
    struct desk_actor who;
    struct desk_tx tx;
    api_actor(r, &who);
    api_desk_tx(r, &who, &tx);
    struct placeholder_values vals;
    if (placeholder_load(&tx, r->m.ids[0], &vals, &err) < 0) {
        PQclear(res);
        return api_desk_fail(r, "reading the ticket", &err);
    }
    struct strbuf out = STRBUF_INIT;
    json_t *unknown = json_array();
    placeholder_render(PQgetvalue(res, 0, 1), &vals, &out, unknown);
    placeholder_values_clear(&vals);
    json_t *actions = json_loads(PQgetvalue(res, 0, 3), 0, NULL);
    long long q = atoll(PQgetvalue(res, 0, 4));
    json_t *o = json_pack("{s:I, s:s, s:s%, s:s, s:o, s:o, s:o}", "id", (json_int_t)r->m.ids[1],
                          "title", PQgetvalue(res, 0, 0), "body", strbuf_str(&out), out.len,
                          "visibility", PQgetvalue(res, 0, 2), "actions", actions ? actions : json_object(),
                          "queue_id", q ? json_integer(q) : json_null(), "unknown_placeholders", unknown);
    PQclear(res);
    strbuf_free(&out);
    if (o == NULL)
        return api_problem(r, 500, NULL, "the filled-in text cannot be encoded");
    return api_json(r, 200, o);
}

static int h_apply(struct api_req *r)
{
    static const struct api_field f[] = { { "body", F_STR_NULL, false, 1024 * 1024 },
                                          { "version", F_INT, false, 0 }, { NULL, 0, 0, 0 } };
    const char *e = NULL;
    struct err err = { ERR_OK, NULL, NULL };
    int _desk_rc;
    long long expect = 0;
    json_t *b = api_body(r, f);
    if (b == NULL || ticket_if_match(r, b, &expect) < 0)
        return 0;
    struct desk_actor who;
    struct desk_tx tx;
    api_actor(r, &who);
    api_desk_tx(r, &who, &tx);
    struct macro_result res;
    if (db_begin(r->db, &e) < 0)
        return api_db_fail(r, "applying the macro", e);
    if (DESK_CALL(r, macro_apply(&tx, r->m.ids[0], r->m.ids[1], api_str(b, "body"), expect, &res,
                                 &err)) < 0)
        return ticket_write_fail(r, r->m.ids[0], expect, 0, 0, "applying the macro", &err);
    if (db_commit(r->db, &e) < 0) {
        json_decref(res.unknown);
        db_rollback(r->db);
        return api_db_fail(r, "applying the macro", e);
    }
    return api_json(r, 200, json_pack("{s:I, s:o, s:b, s:o}", "ticket_id", (json_int_t)r->m.ids[0],
                                      "message_id", res.message_id ? json_integer(res.message_id) : json_null(),
                                      "changed", res.changed, "unknown_placeholders",
                                      res.unknown ? res.unknown : json_array()));
}

const struct api_route api_macro_routes[] = {
    { "GET", "/api/v1/tickets/{id}/canned-responses/{canned_id}", ATUM_ROLE_AGENT, 0, h_canned_filled },
    { "GET", "/api/v1/macros", ATUM_ROLE_AGENT, 0, h_list },
    { "POST", "/api/v1/macros", ATUM_ROLE_MANAGER, 0, h_create },
    { "GET", "/api/v1/macros/{id}", ATUM_ROLE_AGENT, 0, h_get },
    { "PATCH", "/api/v1/macros/{id}", ATUM_ROLE_MANAGER, 0, h_update },
    { "DELETE", "/api/v1/macros/{id}", ATUM_ROLE_MANAGER, 0, h_delete },
    { "GET", "/api/v1/tickets/{id}/macros/{macro_id}", ATUM_ROLE_AGENT, 0, h_preview },
    { "POST", "/api/v1/tickets/{id}/macros/{macro_id}", ATUM_ROLE_AGENT, 0, h_apply },
    { NULL, NULL, 0, 0, NULL }
};
