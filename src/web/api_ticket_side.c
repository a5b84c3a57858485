/*
 * web/api_ticket_side.c -- what the desk shows beside a ticket and keeps
 * while an agent works on it:
 *
 *   GET    /tickets/{id}/history   the audit rows of the ticket (who, what,
 *                                  when, a summary in words)        staff
 *   GET    /tickets/{id}/related   the requester and organisation with
 *                                  their other tickets              staff
 *   GET    /tickets/{id}/draft     the caller's draft on it         staff
 *   PUT    /tickets/{id}/draft     saves it (as the agent types)    staff
 *   DELETE /tickets/{id}/draft                                      staff
 *
 * Everything answers 404 for a ticket the caller cannot see, like GET
 * /tickets/{id}.  The history is the audit log's (desk/desk.h: what
 * people did, through any channel), so mail the system turned into
 * messages on its own is in the thread, not here.  Drafts are written
 * through desk/draft.h.
 */
#include "config.h"
#include "web/api.h"
#include "web/api_tickets.h"
#include "desk/draft.h"
#include "core/runtime.h"
#include "lib/err.h"
#include "lib/strbuf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HISTORY_MAX 500
#define RELATED_MAX 10

/* 1 visible, 0 not (404 sent), -1 error sent. */
static int visible(struct api_req *r, long long id)
{
    const char *e = NULL;
    char sid[24];
    snprintf(sid, sizeof(sid), "%lld", id);
    struct ticket_visibility v;
    ticket_vis_params(r, &v);
    const char *p[5] = { v.p[0], v.p[1], v.p[2], v.p[3], sid };
    PGresult *res = db_exec(r->db, "SELECT 1 FROM tickets t WHERE t.id = $5 AND " TICKET_VISIBLE("t"),
                            5, p, &e);
    if (res == NULL)
        return api_db_fail(r, "reading the ticket", e), -1;
    int n = PQntuples(res);
    PQclear(res);
    if (n == 0)
        api_problem(r, 404, NULL, "no such ticket");
    return n > 0;
}

/* ---- history --------------------------------------------------------------------- */

/* Names of the people and queues the rows mention, by id. */
struct names {
    json_t *users;           /* {"5": "Alex Agent"} */
    json_t *queues;
};

static void ids_in(json_t *changes, const char *field, struct strbuf *out)
{
    json_t *c = json_object_get(changes, field);
    for (int k = 0; k < 2; k++) {
        json_t *v = json_object_get(c, k ? "to" : "from");
        if (json_is_integer(v))
            strbuf_addf(out, "%s%lld", out->len > 1 ? "," : "", (long long)json_integer_value(v));
    }
}

static int names_load(struct api_req *r, json_t *rows, struct names *nm, const char **error_r)
{
    struct strbuf u = STRBUF_INIT, q = STRBUF_INIT;
    strbuf_addc(&u, '{');
    strbuf_addc(&q, '{');
    size_t i;
    json_t *row;
    json_array_foreach(rows, i, row) {
        json_t *ch = json_object_get(json_object_get(row, "detail"), "changes");
        ids_in(ch, "assignee_id", &u);
        ids_in(ch, "queue_id", &q);
    }
    strbuf_addc(&u, '}');
    strbuf_addc(&q, '}');
    const char *p[] = { u.s, q.s };
    PGresult *res = db_exec(r->db,
        "SELECT json_build_object("
        " 'users', coalesce((SELECT json_object_agg(id, coalesce(nullif(name, ''), email))"
        "                     FROM users WHERE id = ANY ($1::bigint[])), '{}'),"
        " 'queues', coalesce((SELECT json_object_agg(id, name) FROM queues"
        "                      WHERE id = ANY ($2::bigint[])), '{}'))", 2, p, error_r);
    strbuf_free(&u);
    strbuf_free(&q);
    if (res == NULL)
        return -1;
    json_t *o = json_loads(PQgetvalue(res, 0, 0), 0, NULL);
    PQclear(res);
    nm->users = json_incref(json_object_get(o, "users"));
    nm->queues = json_incref(json_object_get(o, "queues"));
    json_decref(o);
    return 0;
}

static const char *name_of(json_t *map, json_t *id, char *buf, size_t size)
{
    if (!json_is_integer(id))
        return NULL;
    snprintf(buf, size, "%lld", (long long)json_integer_value(id));
    const char *n = json_string_value(json_object_get(map, buf));
    if (n)
        return n;
    snprintf(buf, size, "#%lld", (long long)json_integer_value(id));
    return buf;
}

static void text_change(struct strbuf *s, const char *label, json_t *c)
{
    const char *from = json_string_value(json_object_get(c, "from"));
    const char *to = json_string_value(json_object_get(c, "to"));
    strbuf_addf(s, "%s%s: %s → %s", s->len ? "; " : "", label, from ? from : "none", to ? to : "none");
}

/* The change of a ticket.update row, in words. */
static void update_summary(json_t *changes, const struct names *nm, struct strbuf *s)
{
    char b1[64], b2[64];
    json_t *c;
    if ((c = json_object_get(changes, "status")))
        text_change(s, "Status", c);
    if ((c = json_object_get(changes, "priority")))
        text_change(s, "Priority", c);
    if ((c = json_object_get(changes, "assignee_id"))) {
        const char *to = name_of(nm->users, json_object_get(c, "to"), b1, sizeof(b1));
        const char *from = name_of(nm->users, json_object_get(c, "from"), b2, sizeof(b2));
        if (to)
            strbuf_addf(s, "%sAssigned to %s", s->len ? "; " : "", to);
        else
            strbuf_addf(s, "%sUnassigned (was %s)", s->len ? "; " : "", from ? from : "nobody");
    }
    if ((c = json_object_get(changes, "queue_id"))) {
        const char *to = name_of(nm->queues, json_object_get(c, "to"), b1, sizeof(b1));
        const char *from = name_of(nm->queues, json_object_get(c, "from"), b2, sizeof(b2));
        strbuf_addf(s, "%sMoved to the queue %s (from %s)", s->len ? "; " : "", to ? to : "?",
                    from ? from : "?");
    }
    if ((c = json_object_get(changes, "category"))) {
        const char *to = json_string_value(json_object_get(c, "to"));
        if (to)
            text_change(s, "Category", c);
        else
            strbuf_addf(s, "%sCategory cleared", s->len ? "; " : "");
    }
    if ((c = json_object_get(changes, "subject")))
        strbuf_addf(s, "%sSubject changed to “%s”", s->len ? "; " : "",
                    json_string_value(json_object_get(c, "to")) ? json_string_value(json_object_get(c, "to")) : "");
}

static json_t *summary_of(const char *action, json_t *detail, long long ticket, const struct names *nm)
{
    struct strbuf s = STRBUF_INIT;
    json_t *other = json_object_get(detail, "linked_id");
    long long into = json_integer_value(json_object_get(detail, "into_id"));
    long long src = json_integer_value(json_object_get(detail, "ticket_id"));
    if (strcmp(action, "ticket.create") == 0)
        strbuf_adds(&s, "Opened the ticket");
    else if (strcmp(action, "ticket.reply") == 0)
        strbuf_adds(&s, "Replied to the customer");
    else if (strcmp(action, "ticket.note") == 0)
        strbuf_adds(&s, "Added an internal note");
    else if (strcmp(action, "ticket.update") == 0)
        update_summary(json_object_get(detail, "changes"), nm, &s);
    else if (strcmp(action, "ticket.merge") == 0 && into == ticket)
        strbuf_addf(&s, "Merged ticket #%lld into this one", src);
    else if (strcmp(action, "ticket.merge") == 0)
        strbuf_addf(&s, "Merged into #%lld", into);
    else if (strcmp(action, "ticket.link") == 0 || strcmp(action, "ticket.unlink") == 0) {
        long long a = src, b = json_integer_value(other);
        strbuf_addf(&s, "%s #%lld", action[7] == 'l' ? "Linked with" : "Unlinked from", a == ticket ? b : a);
    } else if (strcmp(action, "ticket.macro") == 0)
        strbuf_addf(&s, "Applied the macro “%s”", json_string_value(json_object_get(detail, "title"))
                    ? json_string_value(json_object_get(detail, "title")) : "?");
    else
        strbuf_adds(&s, action);
    json_t *j = json_string(strbuf_str(&s));
    strbuf_free(&s);
    return j ? j : json_string(action);
}

static int h_history(struct api_req *r)
{
    const char *e = NULL;
    long long id = r->m.ids[0];
    if (api_query_check(r, NULL) < 0)
        return 0;
    int vis = visible(r, id);
    if (vis <= 0)
        return 0;
    char target[40], sid[24];
    snprintf(target, sizeof(target), "ticket:%lld", id);
    snprintf(sid, sizeof(sid), "%lld", id);
    const char *p[] = { target, sid };
    PGresult *res = db_exec(r->db,
        "SELECT coalesce(json_agg(x ORDER BY x.id), '[]') FROM (SELECT a.id, a.at AS created_at,"
        "   json_build_object('id', a.actor_id, 'name', coalesce(nullif(u.name, ''), u.email, a.actor),"
        "                     'email', u.email) AS actor, a.action, a.detail"
        "   FROM audit_log a LEFT JOIN users u ON u.id = a.actor_id"
        "  WHERE a.target = $1"
        "     OR (a.action IN ('ticket.merge', 'ticket.link', 'ticket.unlink')"
        "         AND coalesce(a.detail->>'into_id', a.detail->>'linked_id') = $2)"
        "  ORDER BY a.id DESC LIMIT " "501" ") x", 2, p, &e);
    if (res == NULL)
        return api_db_fail(r, "reading the history", e);
    json_t *rows = json_loads(PQgetvalue(res, 0, 0), 0, NULL);
    PQclear(res);
    if (!json_is_array(rows)) {
        json_decref(rows);
        return api_problem(r, 500, NULL, "the history's JSON does not parse");
    }
    bool more = json_array_size(rows) > HISTORY_MAX;
    if (more)
        json_array_remove(rows, 0);          /* the oldest of HISTORY_MAX + 1 */
    struct names nm = { NULL, NULL };
    if (names_load(r, rows, &nm, &e) < 0) {
        json_decref(rows);
        return api_db_fail(r, "reading the history", e);
    }
    size_t i;
    json_t *row;
    json_array_foreach(rows, i, row) {
        const char *action = json_string_value(json_object_get(row, "action"));
        json_object_set_new(row, "summary", summary_of(action ? action : "", json_object_get(row, "detail"),
                                                        id, &nm));
    }
    json_decref(nm.users);
    json_decref(nm.queues);
    return api_json(r, 200, json_pack("{s:o, s:b}", "items", rows, "more", more));
}

/* ---- requester and organisation ----------------------------------------------------- */

#define OTHER_JSON "json_build_object('id', o.id, 'subject', o.subject, 'status', o.status," \
    " 'priority', o.priority, 'updated_at', o.updated_at)"

static int h_related(struct api_req *r)
{
    const char *e = NULL;
    if (api_query_check(r, NULL) < 0)
        return 0;
    char sid[24];
    snprintf(sid, sizeof(sid), "%lld", r->m.ids[0]);
    struct ticket_visibility v;
    ticket_vis_params(r, &v);
    const char *p[5] = { v.p[0], v.p[1], v.p[2], v.p[3], sid };
    /* the other tickets are those the caller may see, newest change first */
    PGresult *res = db_exec(r->db,
        "SELECT json_build_object("
        " 'requester', (SELECT json_build_object('id', u.id, 'name', u.name, 'email', u.email,"
        "     'created_at', u.created_at) FROM users u WHERE u.id = t.requester_id),"
        " 'org', (SELECT json_build_object('id', g.id, 'name', g.name, 'domain', g.domain)"
        "     FROM orgs g WHERE g.id = t.org_id),"
        " 'requester_tickets', coalesce((SELECT json_agg(" OTHER_JSON " ORDER BY o.updated_at DESC, o.id DESC)"
        "     FROM (SELECT o.* FROM tickets o WHERE o.requester_id = t.requester_id AND o.id <> t.id"
        "             AND " TICKET_VISIBLE("o") " ORDER BY o.updated_at DESC, o.id DESC LIMIT 10) o), '[]'),"
        " 'requester_total', (SELECT count(*) FROM tickets o WHERE o.requester_id = t.requester_id"
        "     AND o.id <> t.id AND " TICKET_VISIBLE("o") "),"
        " 'org_tickets', coalesce((SELECT json_agg(" OTHER_JSON " ORDER BY o.updated_at DESC, o.id DESC)"
        "     FROM (SELECT o.* FROM tickets o WHERE t.org_id IS NOT NULL AND o.org_id = t.org_id"
        "             AND o.requester_id <> t.requester_id AND " TICKET_VISIBLE("o")
        "           ORDER BY o.updated_at DESC, o.id DESC LIMIT 10) o), '[]'))"
        " FROM tickets t WHERE t.id = $5 AND " TICKET_VISIBLE("t"), 5, p, &e);
    if (res == NULL)
        return api_db_fail(r, "reading the related tickets", e);
    if (PQntuples(res) == 0) {
        PQclear(res);
        return api_problem(r, 404, NULL, "no such ticket");
    }
    api_send_cell(r, 200, res);
    PQclear(res);
    return 0;
}

/* ---- drafts ---------------------------------------------------------------------- */

static int h_draft_get(struct api_req *r)
{
    const char *e = NULL;
    if (api_query_check(r, NULL) < 0)
        return 0;
    if (visible(r, r->m.ids[0]) <= 0)
        return 0;
    char sid[24];
    snprintf(sid, sizeof(sid), "%lld", r->m.ids[0]);
    const char *p[] = { sid, api_uid(r) };
    PGresult *res = db_exec(r->db,
        "SELECT json_build_object('kind', d.kind, 'body', d.body, 'status', d.status,"
        " 'updated_at', d.updated_at, 'attachments', coalesce((SELECT json_agg(json_build_object("
        "   'id', a.id, 'filename', a.filename, 'content_type', a.content_type, 'size', a.size)"
        "   ORDER BY a.id) FROM attachments a WHERE a.id = ANY (d.attachment_ids)"
        "   AND a.message_id IS NULL AND a.uploaded_by = $2::bigint), '[]'))"
        " FROM ticket_drafts d WHERE d.ticket_id = $1 AND d.user_id = $2", 2, p, &e);
    if (res == NULL)
        return api_db_fail(r, "reading the draft", e);
    if (PQntuples(res) == 0) {
        PQclear(res);
        return api_problem(r, 404, NULL, "you have no draft on this ticket");
    }
    api_send_cell(r, 200, res);
    PQclear(res);
    return 0;
}

static int h_draft_put(struct api_req *r)
{
    static const struct api_field f[] = {
        { "kind", F_STR, true, 8 }, { "body", F_STR, true, DRAFT_BODY_MAX },
        { "status", F_STR_NULL, false, 16 },
        { "attachment_ids", F_ID_ARRAY, false, DRAFT_ATTACHMENTS_MAX }, { NULL, 0, 0, 0 } };
    const char *e = NULL;
    struct err err = { ERR_OK, NULL, NULL };
    int _desk_rc;
    json_t *b = api_body(r, f);
    if (b == NULL)
        return 0;
    long long ids[DRAFT_ATTACHMENTS_MAX];
    size_t n = 0, i;
    json_t *x;
    json_array_foreach(json_object_get(b, "attachment_ids"), i, x)
        ids[n++] = json_integer_value(x);
    struct draft d = { api_str(b, "kind"), api_str(b, "body"), api_str(b, "status"), ids, n };
    struct desk_actor who;
    struct desk_tx tx;
    api_actor(r, &who);
    api_desk_tx(r, &who, &tx);
    char at[64] = "";
    if (db_begin(r->db, &e) < 0)
        return api_db_fail(r, "saving the draft", e);
    if (DESK_CALL(r, draft_put(&tx, r->m.ids[0], &d, at, &err)) < 0)
        return api_desk_fail(r, "saving the draft", &err);
    if (db_commit(r->db, &e) < 0) {
        db_rollback(r->db);
        return api_db_fail(r, "saving the draft", e);
    }
    return api_json(r, 200, json_pack("{s:I, s:s}", "ticket_id", (json_int_t)r->m.ids[0], "updated_at", at));
}

static int h_draft_delete(struct api_req *r)
{
    const char *e = NULL;
    struct err err = { ERR_OK, NULL, NULL };
    int _desk_rc;
    if (api_no_body(r) < 0)
        return 0;
    if (visible(r, r->m.ids[0]) <= 0)
        return 0;
    struct desk_actor who;
    struct desk_tx tx;
    api_actor(r, &who);
    api_desk_tx(r, &who, &tx);
    bool deleted = false;
    if (db_begin(r->db, &e) < 0)
        return api_db_fail(r, "removing the draft", e);
    if (DESK_CALL(r, draft_delete(&tx, r->m.ids[0], &deleted, &err)) < 0)
        return api_desk_fail(r, "removing the draft", &err);
    if (db_commit(r->db, &e) < 0) {
        db_rollback(r->db);
        return api_db_fail(r, "removing the draft", e);
    }
    if (!deleted)
        return api_problem(r, 404, NULL, "you have no draft on this ticket");
    return api_no_content(r);
}

const struct api_route api_ticket_side_routes[] = {
    { "GET", "/api/v1/tickets/{id}/history", ATUM_ROLE_AGENT, 0, h_history },
    { "GET", "/api/v1/tickets/{id}/related", ATUM_ROLE_AGENT, 0, h_related },
    { "GET", "/api/v1/tickets/{id}/draft", ATUM_ROLE_AGENT, 0, h_draft_get },
    { "PUT", "/api/v1/tickets/{id}/draft", ATUM_ROLE_AGENT, 0, h_draft_put },
    { "DELETE", "/api/v1/tickets/{id}/draft", ATUM_ROLE_AGENT, 0, h_draft_delete },
    { NULL, NULL, 0, 0, NULL }
};
