/*
 * web/api_views.c -- what the desk's sidebar shows: the caller's saved
 * views and the counts of every view, in one request each.
 *
 *   GET    /views             the caller's saved views         staff
 *   POST   /views             {"name", "filter"}                staff
 *   PATCH  /views/{id}        {"name"?, "filter"?, "position"?} staff, own
 *   DELETE /views/{id}                                          staff, own
 *   GET    /tickets/counts    all, mine, unassigned, recent, each status,
 *                             each priority, each queue of the caller's,
 *                             each saved view                   staff
 *
 * A filter is checked by the list's own parser (ticket_list_filter_check)
 * before desk/view.h stores it, so a saved view always reads the way GET
 * /tickets would.  The counts are capped at COUNT_CAP ("1000+"): one
 * statement of LIMIT-ed counts for the built-in views and the caller's
 * queues, plus one capped count per saved view -- a handful of statements
 * whose cost does not grow with the number of tickets.
 */
#include "config.h"
#include "web/api.h"
#include "web/api_tickets.h"
#include "desk/view.h"
#include "core/runtime.h"
#include "lib/err.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define COUNT_CAP 1000

#define VIEW_JSON "json_build_object('id', v.id, 'name', v.name, 'filter', v.filter," \
    " 'position', v.position, 'created_at', v.created_at, 'updated_at', v.updated_at)"

static int send_view(struct api_req *r, int status, long long id)
{
    const char *e = NULL;
    char sid[24];
    snprintf(sid, sizeof(sid), "%lld", id);
    const char *p[] = { sid, api_uid(r) };
    PGresult *res = db_exec(r->db, "SELECT " VIEW_JSON " FROM saved_views v"
                                   " WHERE v.id = $1 AND v.user_id = $2", 2, p, &e);
    if (res == NULL)
        return api_db_fail(r, "reading the view", e);
    if (PQntuples(res) == 0) {
        PQclear(res);
        return api_problem(r, 404, NULL, "no such view");
    }
    api_send_cell(r, status, res);
    PQclear(res);
    return 0;
}

static int h_list(struct api_req *r)
{
    const char *e = NULL;
    if (api_query_check(r, NULL) < 0)
        return 0;
    const char *p[] = { api_uid(r) };
    PGresult *res = db_exec(r->db, "SELECT json_build_object('items', coalesce(json_agg(" VIEW_JSON
                                   " ORDER BY v.position, v.id), '[]')) FROM saved_views v"
                                   " WHERE v.user_id = $1", 1, p, &e);
    if (res == NULL)
        return api_db_fail(r, "listing views", e);
    api_send_cell(r, 200, res);
    PQclear(res);
    return 0;
}

static int h_create(struct api_req *r)
{
    static const struct api_field f[] = {
        { "name", F_STR, true, VIEW_NAME_MAX }, { "filter", F_OBJECT, true, 0 }, { NULL, 0, 0, 0 } };
    const char *e = NULL;
    struct err err = { ERR_OK, NULL, NULL };
    int _desk_rc;
    json_t *b = api_body(r, f);
    if (b == NULL || ticket_list_filter_check(r, json_object_get(b, "filter")) < 0)
        return 0;
    struct desk_actor who;
    struct desk_tx tx;
    api_actor(r, &who);
    api_desk_tx(r, &who, &tx);
    long long id = 0;
    if (db_begin(r->db, &e) < 0)
        return api_db_fail(r, "saving the view", e);
    if (DESK_CALL(r, view_add(&tx, api_str(b, "name"), json_object_get(b, "filter"), &id, &err)) < 0)
        return api_desk_fail(r, "saving the view", &err);
    if (db_commit(r->db, &e) < 0) {
        db_rollback(r->db);
        return api_db_fail(r, "saving the view", e);
    }
    return send_view(r, 201, id);
}

static int h_update(struct api_req *r)
{
    static const struct api_field f[] = {
        { "name", F_STR, false, VIEW_NAME_MAX }, { "filter", F_OBJECT, false, 0 },
        { "position", F_INT, false, 0 }, { NULL, 0, 0, 0 } };
    const char *e = NULL;
    struct err err = { ERR_OK, NULL, NULL };
    int _desk_rc;
    json_t *b = api_body(r, f);
    if (b == NULL)
        return 0;
    json_t *filter = json_object_get(b, "filter"), *jp = json_object_get(b, "position");
    if (filter && ticket_list_filter_check(r, filter) < 0)
        return 0;
    int pos = 0;
    if (jp) {
        if (json_integer_value(jp) < 0 || json_integer_value(jp) > 100000)
            return api_problem(r, 400, "position", "field 'position' must be from 0 to 100000");
        pos = (int)json_integer_value(jp);
    }
    struct desk_actor who;
    struct desk_tx tx;
    api_actor(r, &who);
    api_desk_tx(r, &who, &tx);
    if (db_begin(r->db, &e) < 0)
        return api_db_fail(r, "changing the view", e);
    if (DESK_CALL(r, view_update(&tx, r->m.ids[0], api_str(b, "name"), filter, jp ? &pos : NULL, &err)) < 0)
        return api_desk_fail(r, "changing the view", &err);
    if (db_commit(r->db, &e) < 0) {
        db_rollback(r->db);
        return api_db_fail(r, "changing the view", e);
    }
    return send_view(r, 200, r->m.ids[0]);
}

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
        return api_db_fail(r, "deleting the view", e);
    if (DESK_CALL(r, view_delete(&tx, r->m.ids[0], &err)) < 0)
        return api_desk_fail(r, "deleting the view", &err);
    if (db_commit(r->db, &e) < 0) {
        db_rollback(r->db);
        return api_db_fail(r, "deleting the view", e);
    }
    return api_no_content(r);
}

/* ---- counts ---------------------------------------------------------------------- */

/*
 * Every count is capped: each reads at most COUNT_CAP + 1 of the tickets
 * the caller sees (LIMIT $5), along an index where the condition has one
 * (status, assignee, unassigned, updated_at, priority rank, queue), so the
 * answer costs the same at 1,000 tickets as at 1,000,000 -- where the one
 * aggregate over every ticket it replaced took 0.5 s at 100,000.  A count
 * above the cap is answered as COUNT_CAP with its "more" flag set, as the
 * saved views' counts always were.
 */
#define CAPPED(cond) "(SELECT count(*) FROM (SELECT 1 FROM tickets t WHERE " TICKET_VISIBLE("t") \
    " AND " cond " LIMIT $5::int) x)"
#define CAPPED_PRIORITY(p) CAPPED("ticket_priority_rank(t.priority) = ticket_priority_rank('" p "')")

/* the queues listed are the caller's (every queue for managers and
 * admins), with 0 for those without tickets; a queue of the caller's is
 * visible as a whole, so its count needs no visibility test */
static const char counts_sql[] =
    "SELECT json_build_object("
    "  'all', " CAPPED("true") ", 'mine', " CAPPED("t.assignee_id = $1::bigint") ","
    "  'unassigned', " CAPPED("t.assignee_id IS NULL") ","
    "  'recent', " CAPPED("t.updated_at >= now() - interval '1 day'") ","
    "  'status', json_build_object('new', " CAPPED("t.status = 'new'") ","
    "     'open', " CAPPED("t.status = 'open'") ", 'pending', " CAPPED("t.status = 'pending'") ","
    "     'solved', " CAPPED("t.status = 'solved'") ", 'closed', " CAPPED("t.status = 'closed'") "),"
    "  'priority', json_build_object('urgent', " CAPPED_PRIORITY("urgent") ","
    "     'high', " CAPPED_PRIORITY("high") ", 'normal', " CAPPED_PRIORITY("normal") ","
    "     'low', " CAPPED_PRIORITY("low") "),"
    "  'queues', (SELECT coalesce(json_agg(json_build_object('id', q.id, 'name', q.name,"
    "       'count', (SELECT count(*) FROM (SELECT 1 FROM tickets t WHERE t.queue_id = q.id LIMIT $5::int) x))"
    "       ORDER BY q.name), '[]')"
    "     FROM queues q WHERE $2::text IN ('admin', 'manager', 'system')"
    "       OR q.id IN (SELECT qm.queue_id FROM queue_members qm WHERE qm.user_id = $1::bigint)))";

/* o[key], counted up to COUNT_CAP + 1: COUNT_CAP in o, and more[key]
 * true when there are more (false otherwise) */
static void cap_count(json_t *o, const char *key, json_t *more)
{
    json_int_t n = json_integer_value(json_object_get(o, key));
    if (n > COUNT_CAP)
        json_object_set_new(o, key, json_integer(COUNT_CAP));
    json_object_set_new(more, key, json_boolean(n > COUNT_CAP));
}

static void cap_group(json_t *o, const char *group, json_t *more)
{
    json_t *g = json_object_get(o, group), *m = json_object(), *v;
    const char *key;
    json_object_foreach(g, key, v)
        cap_count(g, key, m);
    json_object_set_new(more, group, m);
}

static int h_counts(struct api_req *r)
{
    const char *e = NULL;
    if (api_query_check(r, NULL) < 0)
        return 0;
    struct ticket_visibility v;
    ticket_vis_params(r, &v);
    char capt[24];
    snprintf(capt, sizeof(capt), "%d", COUNT_CAP + 1);
    const char *cp[] = { v.p[0], v.p[1], v.p[2], v.p[3], capt };
    static const struct db_stmt st = { "ticket_counts_capped", counts_sql, 5 };
    PGresult *res = db_exec_stmt(r->db, &st, cp, &e);
    if (res == NULL)
        return api_db_fail(r, "counting tickets", e);
    json_t *o = json_loads(PQgetvalue(res, 0, 0), 0, NULL);
    PQclear(res);
    if (o == NULL)
        return api_problem(r, 500, NULL, "the counts' JSON does not parse");
    json_t *more = json_object();
    static const char *const single[] = { "all", "mine", "unassigned", "recent" };
    for (size_t i = 0; i < sizeof(single) / sizeof(single[0]); i++)
        cap_count(o, single[i], more);
    cap_group(o, "status", more);
    cap_group(o, "priority", more);
    size_t qi;
    json_t *q;
    json_array_foreach(json_object_get(o, "queues"), qi, q) {
        json_int_t n = json_integer_value(json_object_get(q, "count"));
        if (n > COUNT_CAP)
            json_object_set_new(q, "count", json_integer(COUNT_CAP));
        json_object_set_new(q, "more", json_boolean(n > COUNT_CAP));
    }
    json_object_set_new(o, "more", more);
    const char *p[] = { api_uid(r) };
    res = db_exec(r->db, "SELECT id, filter::text FROM saved_views WHERE user_id = $1"
                         " ORDER BY position, id", 1, p, &e);
    if (res == NULL) {
        json_decref(o);
        return api_db_fail(r, "counting tickets", e);
    }
    json_t *views = json_array();
    for (int i = 0; i < PQntuples(res); i++) {
        json_t *filter = json_loads(PQgetvalue(res, i, 1), 0, NULL);
        long long n = 0;
        int rc = filter ? ticket_list_count(r, filter, COUNT_CAP, &n, &e) : 0;
        json_decref(filter);
        if (rc < 0) {
            PQclear(res);
            json_decref(views);
            json_decref(o);
            return api_db_fail(r, "counting a view's tickets", e);
        }
        json_array_append_new(views, json_pack("{s:I, s:o, s:b}", "id",
                              (json_int_t)atoll(PQgetvalue(res, i, 0)),
                              "count", rc == 1 ? json_integer(n > COUNT_CAP ? COUNT_CAP : n) : json_null(),
                              "more", rc == 1 && n > COUNT_CAP));
    }
    PQclear(res);
    json_object_set_new(o, "views", views);
    json_object_set_new(o, "view_cap", json_integer(COUNT_CAP));
    return api_json(r, 200, o);
}

const struct api_route api_view_routes[] = {
    { "GET", "/api/v1/views", ATUM_ROLE_AGENT, 0, h_list },
    { "POST", "/api/v1/views", ATUM_ROLE_AGENT, 0, h_create },
    { "PATCH", "/api/v1/views/{id}", ATUM_ROLE_AGENT, 0, h_update },
    { "DELETE", "/api/v1/views/{id}", ATUM_ROLE_AGENT, 0, h_delete },
    { "GET", "/api/v1/tickets/counts", ATUM_ROLE_AGENT, 0, h_counts },
    { NULL, NULL, 0, 0, NULL }
};
