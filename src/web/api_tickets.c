/*
 * web/api_tickets.c -- /api/v1/tickets: list (filters, full-text search,
 * cursor pagination), one ticket with its thread, create, public reply,
 * internal note, update, merge, links and the "being edited by" lock.
 *
 * Every write runs in one transaction with its audit row, its events
 * (event_emit: ticket.created, ticket.updated, message.created ...) and,
 * for a public reply by staff, the mail.send job for the outbox.  Reads
 * are built as JSON by PostgreSQL and passed through unchanged.
 */
#include "config.h"
#include "web/api_tickets.h"
#include "lib/email.h"
#include "lib/err.h"
#include "lib/log.h"
#include "core/mailer.h"
#include "core/runtime.h"
#include "core/jobs.h"
#include "lib/xalloc.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LIST_DEFAULT 50
#define LIST_MAX 200
#define BODY_MAX (1024 * 1024)
#define LOCK_SECONDS "120"

static const char *const statuses[] = { "new", "open", "pending", "solved", "closed", NULL };
static const char *const priorities[] = { "low", "normal", "high", "urgent", NULL };

static bool in_set(const char *v, const char *const *set)
{
    for (; *set; set++)
        if (strcmp(v, *set) == 0)
            return true;
    return false;
}

void ticket_vis_params(struct api_req *r, struct ticket_vis *v)
{
    snprintf(v->uid, sizeof(v->uid), "%lld", r->user.id);
    snprintf(v->org, sizeof(v->org), "%lld", r->user.org_id);
    v->p[0] = v->uid;
    v->p[1] = r->user.role;
    v->p[2] = r->user.org_id ? v->org : NULL;
    v->p[3] = r->user.org_access ? "t" : "f";
}

/* ---- list ------------------------------------------------------------------ */

/* A cursor's microseconds become 'epoch' + n * 1 microsecond in SQL, which
 * PostgreSQL computes in double precision: it works from its first
 * timestamp (4714-11-24 BC) to 294247 AD, and every updated_at a cursor
 * is made from lies in between.  Outside, the query would fail. */
#define CURSOR_US_MIN (-210866803200000000LL)
#define CURSOR_US_MAX 9223371331200000000LL

/* Digits only (an optional '-' for the time), in range: strtoll alone
 * would take spaces, '+' and overflow. */
static bool cursor_number(const char *s, char stop, long long lo, long long hi, long long *v_r,
                          const char **end_r)
{
    const char *d = s[0] == '-' && lo < 0 ? s + 1 : s;
    if (*d < '0' || *d > '9')
        return false;
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno == ERANGE || *end != stop || v < lo || v > hi)
        return false;
    *v_r = v;
    *end_r = end;
    return true;
}

static int parse_cursor(const char *s, char *us, size_t usz, char *id, size_t idsz)
{
    /* "c1_<microseconds>_<id>" */
    long long u, i;
    const char *end;
    if (strncmp(s, "c1_", 3) != 0 || !cursor_number(s + 3, '_', CURSOR_US_MIN, CURSOR_US_MAX, &u, &end)
        || !cursor_number(end + 1, '\0', 1, LLONG_MAX, &i, &end))
        return -1;
    snprintf(us, usz, "%lld", u);
    snprintf(id, idsz, "%lld", i);
    return 0;
}

static const char list_sql[] =
    "WITH page AS ("
    " SELECT t.id, t.subject, t.status, t.priority, t.category, t.queue_id, t.requester_id,"
    "        t.assignee_id, t.org_id, t.merged_into, t.created_at, t.updated_at"
    "   FROM tickets t"
    "  WHERE " TICKET_VISIBLE("t")
    "    AND ($5::text IS NULL OR t.status = $5)"
    "    AND ($6::text IS NULL OR t.priority = $6)"
    "    AND ($7::bigint IS NULL OR t.queue_id = $7)"
    "    AND ($8::bigint IS NULL OR t.assignee_id = $8)"
    "    AND ($9::bigint IS NULL OR t.requester_id = $9)"
    "    AND ($10::bigint IS NULL OR t.org_id = $10)"
    "    AND ($11::timestamptz IS NULL OR t.updated_at >= $11)"
    "    AND ($12::text IS NULL OR t.search @@ websearch_to_tsquery('simple', $12)"
    "         OR t.id IN (SELECT m.ticket_id FROM messages m"
    "                      WHERE m.search @@ websearch_to_tsquery('simple', $12)"
    "                        AND ($2::text <> 'customer' OR m.visibility = 'public')))"
    "    AND ($13::bigint IS NULL OR (t.updated_at, t.id) <"
    "         ('epoch'::timestamptz + $13::bigint * interval '1 microsecond', $14::bigint))"
    "  ORDER BY t.updated_at DESC, t.id DESC LIMIT $15::int + 1)"
    " SELECT json_build_object("
    "   'items', coalesce((SELECT json_agg(p ORDER BY p.updated_at DESC, p.id DESC) FROM"
    "       (SELECT * FROM page ORDER BY updated_at DESC, id DESC LIMIT $15::int) p), '[]'),"
    "   'next_cursor', (SELECT 'c1_' || ((extract(epoch FROM l.updated_at) * 1000000)::bigint)::text"
    "                          || '_' || l.id"
    "                     FROM (SELECT * FROM page ORDER BY updated_at DESC, id DESC"
    "                           OFFSET $15::int - 1 LIMIT 1) l"
    "                    WHERE (SELECT count(*) FROM page) > $15::int))";

/* The unfiltered pages -- what a desk or an integration asks for most --
 * run as prepared statements, one per kind of caller and with or without
 * a cursor, so their plan is made once per connection (planning the general
 * query above costs more than running it).  Each visibility clause here is
 * TICKET_VISIBLE specialised for one role. */
#define PAGE_SQL(vis, cursor, lim) \
    "WITH page AS (" \
    " SELECT t.id, t.subject, t.status, t.priority, t.category, t.queue_id, t.requester_id," \
    "        t.assignee_id, t.org_id, t.merged_into, t.created_at, t.updated_at" \
    "   FROM tickets t WHERE " vis cursor \
    "  ORDER BY t.updated_at DESC, t.id DESC LIMIT " lim " + 1)" \
    " SELECT json_build_object(" \
    "   'items', coalesce((SELECT json_agg(p ORDER BY p.updated_at DESC, p.id DESC) FROM" \
    "       (SELECT * FROM page ORDER BY updated_at DESC, id DESC LIMIT " lim ") p), '[]')," \
    "   'next_cursor', (SELECT 'c1_' || ((extract(epoch FROM l.updated_at) * 1000000)::bigint)::text" \
    "                          || '_' || l.id" \
    "                     FROM (SELECT * FROM page ORDER BY updated_at DESC, id DESC" \
    "                           OFFSET " lim " - 1 LIMIT 1) l" \
    "                    WHERE (SELECT count(*) FROM page) > " lim "))"
#define CUR(a, b) " AND (t.updated_at, t.id) < ('epoch'::timestamptz + " a "::bigint" \
    " * interval '1 microsecond', " b "::bigint)"
#define VIS_AGENT "t.queue_id IN (SELECT qm.queue_id FROM queue_members qm WHERE qm.user_id = $1::bigint)"
#define VIS_CUST "(t.requester_id = $1::bigint OR ($3::boolean AND t.org_id = $2::bigint))"

static const struct db_stmt page_stmts[3][2] = {
    { { "tickets_page_all", PAGE_SQL("true", "", "$1::int"), 1 },
      { "tickets_page_all_c", PAGE_SQL("true", CUR("$2", "$3"), "$1::int"), 3 } },
    { { "tickets_page_agent", PAGE_SQL(VIS_AGENT, "", "$2::int"), 2 },
      { "tickets_page_agent_c", PAGE_SQL(VIS_AGENT, CUR("$3", "$4"), "$2::int"), 4 } },
    { { "tickets_page_cust", PAGE_SQL(VIS_CUST, "", "$4::int"), 4 },
      { "tickets_page_cust_c", PAGE_SQL(VIS_CUST, CUR("$5", "$6"), "$4::int"), 6 } },
};

static PGresult *list_page(struct api_req *r, const char *lim, const char *us, const char *cid,
                           const char **error_r)
{
    char uid[24], org[24];
    snprintf(uid, sizeof(uid), "%lld", r->user.id);
    snprintf(org, sizeof(org), "%lld", r->user.org_id);
    const char *acc = r->user.org_access && r->user.org_id ? "t" : "f";
    int c = us != NULL;
    switch (r->user.level) {
    case ATUM_ROLE_ADMIN:
    case ATUM_ROLE_MANAGER: {
        const char *p[] = { lim, us, cid };
        return db_exec_stmt(r->db, &page_stmts[0][c], p, error_r);
    }
    case ATUM_ROLE_AGENT: {
        const char *p[] = { uid, lim, us, cid };
        return db_exec_stmt(r->db, &page_stmts[1][c], p, error_r);
    }
    default: {
        const char *p[] = { uid, org, acc, lim, us, cid };
        return db_exec_stmt(r->db, &page_stmts[2][c], p, error_r);
    }
    }
}

static int h_list(struct api_req *r)
{
    static const char *const allowed[] = { "status", "priority", "queue_id", "assignee_id",
        "requester_id", "org_id", "updated_since", "q", "limit", "cursor", NULL };
    const char *e = NULL;
    char status[16], prio[16], since[64], q[512], lim[16], cur[80], us[24], cid[24];
    char ids[4][24];
    const char *idnames[4] = { "queue_id", "assignee_id", "requester_id", "org_id" };
    const char *idp[4] = { NULL, NULL, NULL, NULL };
    int n;

    if (api_query_check(r, allowed) < 0)
        return 0;
    if ((n = api_query(r, "status", status, sizeof(status))) < 0)
        return 0;
    if (n && !in_set(status, statuses))
        return api_problem(r, 400, "status", "status must be one of new, open, pending, solved, closed");
    const char *pstatus = n ? status : NULL;
    if ((n = api_query(r, "priority", prio, sizeof(prio))) < 0)
        return 0;
    if (n && !in_set(prio, priorities))
        return api_problem(r, 400, "priority", "priority must be one of low, normal, high, urgent");
    const char *pprio = n ? prio : NULL;
    for (int i = 0; i < 4; i++) {
        long long v;
        bool set;
        if (api_query_id(r, idnames[i], &v, &set) < 0)
            return 0;
        if (set) {
            snprintf(ids[i], sizeof(ids[i]), "%lld", v);
            idp[i] = ids[i];
        }
    }
    if ((n = api_query_time(r, "updated_since", since, sizeof(since))) < 0)
        return 0;
    const char *psince = n ? since : NULL;
    if ((n = api_query(r, "q", q, sizeof(q))) < 0)
        return 0;
    const char *pq = n && q[0] ? q : NULL;
    long long limit = LIST_DEFAULT;
    if ((n = api_query(r, "limit", lim, sizeof(lim))) < 0)
        return 0;
    if (n) {
        char *end;
        limit = strtoll(lim, &end, 10);
        if (*end != '\0' || end == lim || limit < 1 || limit > LIST_MAX)
            return api_problem(r, 400, "limit", "limit must be an integer from 1 to %d", LIST_MAX);
    }
    snprintf(lim, sizeof(lim), "%lld", limit);
    if ((n = api_query(r, "cursor", cur, sizeof(cur))) < 0)
        return 0;
    if (n && parse_cursor(cur, us, sizeof(us), cid, sizeof(cid)) < 0)
        return api_problem(r, 400, "cursor", "cursor is not one this server handed out");
    struct ticket_vis v;
    ticket_vis_params(r, &v);
    const char *p[15] = { v.p[0], v.p[1], v.p[2], v.p[3], pstatus, pprio, idp[0], idp[1], idp[2],
                          idp[3], psince, pq, n ? us : NULL, n ? cid : NULL, lim };
    bool plain = !pstatus && !pprio && !idp[0] && !idp[1] && !idp[2] && !idp[3] && !psince && !pq;
    PGresult *res = plain ? list_page(r, lim, n ? us : NULL, n ? cid : NULL, &e)
                          : db_exec(r->db, list_sql, 15, p, &e);
    if (res == NULL) {
        /* every parameter was checked above; should one still upset
         * PostgreSQL, it is the client's input, but which one is unknown */
        if (strncmp(db_last_sqlstate(r->db), "22", 2) == 0)
            return api_problem(r, 400, NULL, "a query parameter has a value the database "
                               "cannot use");
        return api_db_fail(r, "listing tickets", e);
    }
    api_send_cell(r, 200, res);
    PQclear(res);
    return 0;
}

/* ---- one ticket -------------------------------------------------------------- */

/* One outgoing mail and the fate of each recipient (staff only). */
#define OUTBOUND_JSON(o) \
    "json_build_object('id', " o ".id, 'kind', " o ".kind, 'message_id', " o ".message_id," \
    " 'rfc_message_id', " o ".rfc_message_id, 'subject', " o ".subject, 'state', " o ".state," \
    " 'attempts', " o ".attempts, 'last_error', " o ".last_error, 'unconfirmed', " o ".unconfirmed," \
    " 'created_at', " o ".created_at, 'last_attempt_at', " o ".last_attempt_at," \
    " 'sent_at', " o ".sent_at, 'recipients', coalesce((SELECT json_agg(json_build_object(" \
    "   'address', rc.address, 'state', rc.state, 'reply', rc.reply, 'updated_at', rc.updated_at)" \
    "   ORDER BY rc.address) FROM outbound_recipients rc WHERE rc.outbound_id = " o ".id), '[]'))"

static const char get_sql[] =
    "SELECT json_build_object("
    " 'id', t.id, 'subject', t.subject, 'status', t.status, 'priority', t.priority,"
    " 'category', t.category, 'queue_id', t.queue_id, 'requester_id', t.requester_id,"
    " 'assignee_id', t.assignee_id, 'org_id', t.org_id, 'merged_into', t.merged_into,"
    " 'created_at', t.created_at, 'updated_at', t.updated_at, 'solved_at', t.solved_at,"
    " 'closed_at', t.closed_at,"
    " 'requester', (SELECT json_build_object('id', u.id, 'email', u.email, 'name', u.name)"
    "                 FROM users u WHERE u.id = t.requester_id),"
    " 'messages', coalesce((SELECT json_agg(json_build_object("
    "     'id', m.id, 'direction', m.direction, 'visibility', m.visibility,"
    "     'author_id', m.author_id, 'from_addr', m.from_addr, 'subject', m.subject,"
    "     'body_text', m.body_text, 'body_html', m.body_html, 'created_at', m.created_at,"
    "     'attachments', coalesce((SELECT json_agg(json_build_object('id', a.id,"
    "         'filename', a.filename, 'content_type', a.content_type, 'size', a.size,"
    "         'inline', a.inline, 'content_id', a.content_id) ORDER BY a.id)"
    "       FROM attachments a WHERE a.message_id = m.id), '[]'),"
    "     'delivery', CASE WHEN $2::text <> 'customer' THEN (SELECT " OUTBOUND_JSON("o")
    "         FROM outbound_mail o WHERE o.message_id = m.id AND o.kind = 'reply') END)"
    "     ORDER BY m.created_at, m.id)"
    "   FROM messages m WHERE m.ticket_id = t.id"
    "    AND ($2::text <> 'customer' OR m.visibility = 'public')), '[]'),"
    " 'links', coalesce((SELECT json_agg(o.id ORDER BY o.id) FROM tickets o"
    "   WHERE o.id IN (SELECT ticket_b FROM ticket_links WHERE ticket_a = t.id"
    "                  UNION SELECT ticket_a FROM ticket_links WHERE ticket_b = t.id)"
    "     AND " TICKET_VISIBLE("o") "), '[]'),"
    " 'lock', (SELECT json_build_object('user_id', k.user_id, 'name', u.name, 'email', u.email,"
    "                 'locked_at', k.locked_at, 'expires_at', k.expires_at)"
    "            FROM ticket_locks k JOIN users u ON u.id = k.user_id"
    "           WHERE k.ticket_id = t.id AND k.expires_at > now() AND $2::text <> 'customer'))"
    " FROM tickets t WHERE t.id = $5 AND " TICKET_VISIBLE("t");

static int send_ticket(struct api_req *r, int status, long long id)
{
    const char *e = NULL;
    char sid[24];
    snprintf(sid, sizeof(sid), "%lld", id);
    struct ticket_vis v;
    ticket_vis_params(r, &v);
    const char *p[5] = { v.p[0], v.p[1], v.p[2], v.p[3], sid };
    /* one row by primary key: the generic plan is the right one for every
     * caller, so it is prepared once per connection */
    static const struct db_stmt get_stmt = { "ticket_get", get_sql, 5 };
    PGresult *res = db_exec_stmt(r->db, &get_stmt, p, &e);
    if (res == NULL)
        return api_db_fail(r, "reading the ticket", e);
    if (PQntuples(res) == 0) {
        PQclear(res);
        return api_problem(r, 404, NULL, "no such ticket");
    }
    api_send_cell(r, status, res);
    PQclear(res);
    return 0;
}

static int h_get(struct api_req *r)
{
    if (api_query_check(r, NULL) < 0)
        return 0;
    return send_ticket(r, 200, r->m.ids[0]);
}

/* Locks a visible ticket row in the open transaction.  1 found (fields
 * in *res_r: id, status, queue_id, priority, category, assignee_id,
 * subject, requester_id, merged_into), 0 not visible, -1 error. */
static int ticket_lock_row(struct api_req *r, long long id, PGresult **res_r, const char **error_r)
{
    char sid[24];
    snprintf(sid, sizeof(sid), "%lld", id);
    struct ticket_vis v;
    ticket_vis_params(r, &v);
    const char *p[5] = { v.p[0], v.p[1], v.p[2], v.p[3], sid };
    PGresult *res = db_exec(r->db,
        "SELECT t.id, t.status, t.queue_id, t.priority, t.category, t.assignee_id, t.subject,"
        "       t.requester_id, t.merged_into FROM tickets t"
        " WHERE t.id = $5 AND " TICKET_VISIBLE("t") " FOR UPDATE OF t", 5, p, error_r);
    if (res == NULL)
        return -1;
    if (PQntuples(res) != 1) {
        PQclear(res);
        return 0;
    }
    *res_r = res;
    return 1;
}

/* 1 when the user may work the queue (member, or manager/admin). */
static int queue_usable(struct api_req *r, long long queue_id, const char **error_r)
{
    char q[24];
    snprintf(q, sizeof(q), "%lld", queue_id);
    const char *p[] = { q, api_uid(r), r->user.level >= ATUM_ROLE_MANAGER ? "t" : "f",
                        r->user.level == ATUM_ROLE_CUSTOMER ? "t" : "f" };
    PGresult *res = db_exec(r->db,
        "SELECT 1 FROM queues q WHERE q.id = $1 AND ($3::boolean OR $4::boolean OR EXISTS"
        " (SELECT 1 FROM queue_members m WHERE m.queue_id = q.id AND m.user_id = $2))",
        4, p, error_r);
    if (res == NULL)
        return -1;
    int ok = PQntuples(res) == 1;
    PQclear(res);
    return ok;
}

/* Mail-out reads the configuration: under the runtime's read lock, like
 * every event emit (a reload swaps it). */
static int enqueue_mail_send(struct api_req *r, long long message_id, const char **error_r)
{
    runtime_rdlock(r->api->rt);
    int rc = mailer_reply(r->api->rt, r->db, message_id, false, error_r);
    runtime_rdunlock(r->api->rt);
    return rc;
}

static int mail_for(struct api_req *r, enum mailer_event what, long long ticket_id, long long id,
                    const char **error_r)
{
    runtime_rdlock(r->api->rt);
    int rc = mailer_later(r->api->rt, r->db, what, ticket_id, id, error_r);
    runtime_rdunlock(r->api->rt);
    return rc;
}

/* Inserts a message; *id_r its id. */
static int add_message(struct api_req *r, long long ticket_id, const char *direction,
                       const char *visibility, const char *subject, const char *body,
                       long long *id_r, const char **error_r)
{
    char tid[24];
    snprintf(tid, sizeof(tid), "%lld", ticket_id);
    const char *p[] = { tid, api_uid(r), direction, visibility, subject, r->user.email, body };
    PGresult *res = db_exec(r->db,
        "INSERT INTO messages (ticket_id, author_id, direction, visibility, subject, from_addr,"
        " body_text) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id", 7, p, error_r);
    if (res == NULL)
        return -1;
    *id_r = atoll(PQgetvalue(res, 0, 0));
    PQclear(res);
    return 0;
}

static int emit_message(struct api_req *r, long long tid, long long mid, const char *direction,
                        const char *visibility, const char **error_r)
{
    json_t *d = json_pack("{s:I, s:I, s:s, s:s, s:I}", "ticket_id", (json_int_t)tid, "message_id",
                          (json_int_t)mid, "direction", direction, "visibility", visibility,
                          "author_id", (json_int_t)r->user.id);
    int rc = api_emit(r, "message.created", d, error_r);
    json_decref(d);
    return rc;
}

static int audit_ticket(struct api_req *r, const char *action, long long tid, json_t *detail,
                        const char **error_r)
{
    char target[40];
    snprintf(target, sizeof(target), "ticket:%lld", tid);
    return api_audit(r, action, target, detail, error_r);
}

/* ---- create ---------------------------------------------------------------- */

static int h_create(struct api_req *r)
{
    static const struct api_field f[] = {
        { "subject", F_STR, true, 500 }, { "body", F_STR, true, BODY_MAX },
        { "queue_id", F_INT, false, 0 }, { "priority", F_STR, false, 16 },
        { "category", F_STR_NULL, false, 100 }, { "requester_id", F_INT, false, 0 },
        { NULL, 0, 0, 0 } };
    const char *e = NULL;
    json_t *b = api_body(r, f);
    if (b == NULL || api_db(r) == NULL)
        return 0;
    const char *subject = api_str(b, "subject"), *body = api_str(b, "body");
    const char *prio = api_str(b, "priority"), *cat = api_str(b, "category");
    if (subject[0] == '\0')
        return api_problem(r, 400, "subject", "field 'subject' must not be empty");
    if (prio && !in_set(prio, priorities))
        return api_problem(r, 400, "priority", "priority must be one of low, normal, high, urgent");
    bool staff = r->user.level >= ATUM_ROLE_AGENT;
    json_t *jq = json_object_get(b, "queue_id"), *jr = json_object_get(b, "requester_id");
    if (jr && !staff)
        return api_problem(r, 403, "requester_id", "customers open tickets for themselves only");
    long long requester = jr ? json_integer_value(jr) : r->user.id;
    if (db_begin(r->db, &e) < 0)
        return api_db_fail(r, "creating the ticket", e);
    long long queue_id;
    if (jq) {
        queue_id = json_integer_value(jq);
        int ok = queue_usable(r, queue_id, &e);
        if (ok < 0)
            goto dbfail;
        if (!ok) {
            db_rollback(r->db);
            return api_problem(r, 422, "queue_id", "no such queue (or you are not a member)");
        }
    } else {
        char *v = db_query_value(r->db, "SELECT min(id) FROM queues", 0, NULL, &e);
        if (v == NULL) {
            if (e)
                goto dbfail;
            db_rollback(r->db);
            return api_problem(r, 422, "queue_id", "no queue exists yet");
        }
        queue_id = atoll(v);
        free(v);
        if (staff && queue_usable(r, queue_id, &e) != 1) {
            db_rollback(r->db);
            return api_problem(r, 422, "queue_id", "field 'queue_id' is required for staff "
                               "(a queue you are a member of)");
        }
    }
    char rq[24], qid[24];
    snprintf(rq, sizeof(rq), "%lld", requester);
    snprintf(qid, sizeof(qid), "%lld", queue_id);
    const char *p[] = { qid, subject, prio ? prio : "normal", cat, rq };
    PGresult *res = db_exec(r->db,
        "INSERT INTO tickets (queue_id, subject, priority, category, requester_id, org_id)"
        " SELECT $1, $2, $3, $4, u.id, u.org_id FROM users u WHERE u.id = $5 AND NOT u.disabled"
        " RETURNING id", 5, p, &e);
    if (res == NULL)
        goto dbfail;
    if (PQntuples(res) != 1) {
        PQclear(res);
        db_rollback(r->db);
        return api_problem(r, 422, "requester_id", "no such user");
    }
    long long tid = atoll(PQgetvalue(res, 0, 0));
    PQclear(res);
    bool own = requester == r->user.id;
    const char *dir = own ? "in" : "out";
    long long mid;
    if (add_message(r, tid, dir, "public", subject, body, &mid, &e) < 0)
        goto dbfail;
    json_t *d = json_pack("{s:I, s:I, s:I, s:I, s:s, s:s, s:s}", "ticket_id", (json_int_t)tid,
                          "queue_id", (json_int_t)queue_id, "message_id", (json_int_t)mid,
                          "requester_id", (json_int_t)requester,
                          "subject", subject, "priority", prio ? prio : "normal", "source", "api");
    int rc = d ? api_emit(r, "ticket.created", d, &e) : err_set(&e, "cannot encode the event");
    if (rc == 0)
        rc = emit_message(r, tid, mid, dir, "public", &e);
    if (rc == 0 && !own)
        rc = enqueue_mail_send(r, mid, &e);
    if (rc == 0)
        rc = mail_for(r, MAILER_OPENED, tid, mid, &e);
    if (rc == 0)
        rc = audit_ticket(r, "ticket.create", tid, d, &e);
    json_decref(d);
    if (rc < 0 || db_commit(r->db, &e) < 0)
        goto dbfail;
    log_info("ticket.created", "ticket=%lld user=%lld", tid, r->user.id);
    return send_ticket(r, 201, tid);
dbfail:
    db_rollback(r->db);
    return api_db_fail(r, "creating the ticket", e);
}

/* ---- reply and note ----------------------------------------------------------- */

static int post_message(struct api_req *r, bool note)
{
    static const struct api_field f[] = {
        { "body", F_STR, true, BODY_MAX }, { "status", F_STR, false, 16 }, { NULL, 0, 0, 0 } };
    const char *e = NULL;
    PGresult *t = NULL;
    json_t *b = api_body(r, f);
    if (b == NULL || api_db(r) == NULL)
        return 0;
    const char *body = api_str(b, "body"), *status = api_str(b, "status");
    bool staff = r->user.level >= ATUM_ROLE_AGENT;
    if (body[0] == '\0')
        return api_problem(r, 400, "body", "field 'body' must not be empty");
    if (status && !in_set(status, statuses))
        return api_problem(r, 400, "status", "status must be one of new, open, pending, solved, closed");
    if (status && !staff)
        return api_problem(r, 403, "status", "customers cannot set the status with a reply");
    long long id = r->m.ids[0];
    if (db_begin(r->db, &e) < 0)
        return api_db_fail(r, "adding the message", e);
    int found = ticket_lock_row(r, id, &t, &e);
    if (found < 0)
        goto dbfail;
    if (found == 0) {
        db_rollback(r->db);
        return api_problem(r, 404, NULL, "no such ticket");
    }
    const char *old = PQgetvalue(t, 0, 1);
    if (!note && strcmp(old, "closed") == 0 && !staff) {
        PQclear(t);
        db_rollback(r->db);
        return api_problem(r, 409, NULL, "the ticket is closed; open a new one");
    }
    char subj[600];
    snprintf(subj, sizeof(subj), "Re: %s", PQgetvalue(t, 0, 6));
    const char *dir = staff ? "out" : "in";
    const char *vis = note ? "internal" : "public";
    long long mid;
    if (add_message(r, id, dir, vis, subj, body, &mid, &e) < 0)
        goto dbfail;
    const char *next = status;
    if (next == NULL && !note)
        next = staff ? (strcmp(old, "new") == 0 ? "open" : NULL)
                     : (strcmp(old, "open") != 0 && strcmp(old, "new") != 0 ? "open" : NULL);
    if (next && strcmp(next, old) == 0)
        next = NULL;
    char sid[24];
    snprintf(sid, sizeof(sid), "%lld", id);
    const char *up[] = { sid, next };
    PGresult *u = db_exec(r->db,
        "UPDATE tickets SET updated_at = now(), status = coalesce($2, status),"
        " solved_at = CASE WHEN $2 = 'solved' THEN now() ELSE solved_at END,"
        " closed_at = CASE WHEN $2 = 'closed' THEN now() ELSE closed_at END WHERE id = $1",
        2, up, &e);
    if (u == NULL)
        goto dbfail;
    PQclear(u);
    int rc = emit_message(r, id, mid, dir, vis, &e);
    if (rc == 0 && !note && staff)
        rc = enqueue_mail_send(r, mid, &e);
    if (rc == 0 && !staff)
        rc = mail_for(r, MAILER_CUSTOMER_WROTE, id, mid, &e);
    if (rc == 0 && next) {
        json_t *d = json_pack("{s:I, s:{s:{s:s, s:s}}}", "ticket_id", (json_int_t)id, "changes",
                              "status", "from", old, "to", next);
        rc = api_emit(r, "ticket.updated", d, &e);
        json_decref(d);
    }
    if (rc == 0) {
        json_t *d = json_pack("{s:I, s:s}", "message_id", (json_int_t)mid, "visibility", vis);
        rc = audit_ticket(r, note ? "ticket.note" : "ticket.reply", id, d, &e);
        json_decref(d);
    }
    PQclear(t);
    t = NULL;
    if (rc < 0 || db_commit(r->db, &e) < 0)
        goto dbfail;
    return api_json(r, 201, json_pack("{s:I, s:I, s:s, s:s}", "id", (json_int_t)mid, "ticket_id",
                                      (json_int_t)id, "direction", dir, "visibility", vis));
dbfail:
    PQclear(t);
    db_rollback(r->db);
    return api_db_fail(r, "adding the message", e);
}

static int h_reply(struct api_req *r) { return post_message(r, false); }
static int h_note(struct api_req *r) { return post_message(r, true); }

/* ---- update ------------------------------------------------------------------ */

static void change(json_t *changes, const char *field, const char *from, const char *to)
{
    if ((from == NULL && to == NULL) || (from && to && strcmp(from, to) == 0))
        return;
    json_t *c = json_object();
    json_object_set_new(c, "from", from ? json_string(from) : json_null());
    json_object_set_new(c, "to", to ? json_string(to) : json_null());
    json_object_set_new(changes, field, c);
}

static int h_update(struct api_req *r)
{
    static const struct api_field f[] = {
        { "status", F_STR, false, 16 }, { "priority", F_STR, false, 16 },
        { "category", F_STR_NULL, false, 100 }, { "assignee_id", F_INT_NULL, false, 0 },
        { "queue_id", F_INT, false, 0 }, { "subject", F_STR, false, 500 }, { NULL, 0, 0, 0 } };
    const char *e = NULL;
    PGresult *t = NULL;
    json_t *changes = NULL;
    json_t *b = api_body(r, f);
    if (b == NULL || api_db(r) == NULL)
        return 0;
    bool staff = r->user.level >= ATUM_ROLE_AGENT;
    const char *status = api_str(b, "status"), *prio = api_str(b, "priority");
    const char *subject = api_str(b, "subject");
    if (!staff) {
        const char *key;
        json_t *v;
        json_object_foreach(b, key, v) {
            if (strcmp(key, "status") != 0)
                return api_problem(r, 403, key, "customers may only change the status");
        }
        if (status && strcmp(status, "solved") != 0 && strcmp(status, "closed") != 0)
            return api_problem(r, 403, "status", "customers may only mark a ticket solved or closed");
    }
    if (status && !in_set(status, statuses))
        return api_problem(r, 400, "status", "status must be one of new, open, pending, solved, closed");
    if (prio && !in_set(prio, priorities))
        return api_problem(r, 400, "priority", "priority must be one of low, normal, high, urgent");
    if (subject && subject[0] == '\0')
        return api_problem(r, 400, "subject", "field 'subject' must not be empty");
    long long id = r->m.ids[0];
    if (db_begin(r->db, &e) < 0)
        return api_db_fail(r, "updating the ticket", e);
    int found = ticket_lock_row(r, id, &t, &e);
    if (found < 0)
        goto dbfail;
    if (found == 0) {
        db_rollback(r->db);
        return api_problem(r, 404, NULL, "no such ticket");
    }
    /* final values: current ones unless the body changes them */
    char qid[24], aid[24];
    snprintf(qid, sizeof(qid), "%s", PQgetvalue(t, 0, 2));
    const char *cur_assignee = PQgetisnull(t, 0, 5) ? NULL : PQgetvalue(t, 0, 5);
    const char *new_assignee = cur_assignee;
    json_t *jq = json_object_get(b, "queue_id"), *ja = json_object_get(b, "assignee_id");
    if (jq) {
        long long q = json_integer_value(jq);
        int ok = queue_usable(r, q, &e);
        if (ok < 0)
            goto dbfail;
        if (!ok) {
            PQclear(t);
            db_rollback(r->db);
            return api_problem(r, 422, "queue_id", "no such queue (or you are not a member)");
        }
        snprintf(qid, sizeof(qid), "%lld", q);
    }
    if (ja) {
        if (json_is_null(ja)) {
            new_assignee = NULL;
        } else {
            snprintf(aid, sizeof(aid), "%lld", (long long)json_integer_value(ja));
            const char *ap[] = { aid, qid };
            PGresult *a = db_exec(r->db,
                "SELECT 1 FROM users u WHERE u.id = $1 AND NOT u.disabled AND (u.role IN ('manager', 'admin')"
                " OR (u.role = 'agent' AND EXISTS (SELECT 1 FROM queue_members m"
                "      WHERE m.user_id = u.id AND m.queue_id = $2)))", 2, ap, &e);
            if (a == NULL)
                goto dbfail;
            int ok = PQntuples(a) == 1;
            PQclear(a);
            if (!ok) {
                PQclear(t);
                db_rollback(r->db);
                return api_problem(r, 422, "assignee_id", "the assignee must be an agent of the "
                                   "ticket's queue, a manager or an admin");
            }
            new_assignee = aid;
        }
    }
    json_t *jc = json_object_get(b, "category");
    const char *cur_cat = PQgetisnull(t, 0, 4) ? NULL : PQgetvalue(t, 0, 4);
    const char *new_cat = jc ? (json_is_null(jc) ? NULL : json_string_value(jc)) : cur_cat;
    const char *new_status = status ? status : PQgetvalue(t, 0, 1);
    const char *new_prio = prio ? prio : PQgetvalue(t, 0, 3);
    const char *new_subject = subject ? subject : PQgetvalue(t, 0, 6);
    changes = json_object();
    change(changes, "status", PQgetvalue(t, 0, 1), new_status);
    change(changes, "priority", PQgetvalue(t, 0, 3), new_prio);
    change(changes, "category", cur_cat, new_cat);
    change(changes, "assignee_id", cur_assignee, new_assignee);
    change(changes, "queue_id", PQgetvalue(t, 0, 2), qid);
    change(changes, "subject", PQgetvalue(t, 0, 6), new_subject);
    if (json_object_size(changes) > 0) {
        char sid[24];
        snprintf(sid, sizeof(sid), "%lld", id);
        const char *up[] = { sid, new_status, new_prio, new_cat, new_assignee, qid, new_subject };
        PGresult *u = db_exec(r->db,
            "UPDATE tickets SET status = $2, priority = $3, category = $4, assignee_id = $5,"
            " queue_id = $6, subject = $7, updated_at = now(),"
            " solved_at = CASE WHEN $2 = 'solved' AND status <> 'solved' THEN now() ELSE solved_at END,"
            " closed_at = CASE WHEN $2 = 'closed' AND status <> 'closed' THEN now() ELSE closed_at END"
            " WHERE id = $1", 7, up, &e);
        if (u == NULL)
            goto dbfail;
        PQclear(u);
        json_t *d = json_pack("{s:I, s:O}", "ticket_id", (json_int_t)id, "changes", changes);
        int rc = d ? api_emit(r, "ticket.updated", d, &e) : err_set(&e, "cannot encode the event");
        if (rc == 0)
            rc = audit_ticket(r, "ticket.update", id, d, &e);
        if (rc == 0 && new_assignee != NULL
            && (cur_assignee == NULL || strcmp(cur_assignee, new_assignee) != 0)
            && atoll(new_assignee) != r->user.id)      /* nobody is told what they did */
            rc = mail_for(r, MAILER_ASSIGNED, id, atoll(new_assignee), &e);
        json_decref(d);
        if (rc < 0)
            goto dbfail;
    }
    PQclear(t);
    t = NULL;
    json_decref(changes);
    changes = NULL;
    if (db_commit(r->db, &e) < 0)
        goto dbfail;
    return send_ticket(r, 200, id);
dbfail:
    PQclear(t);
    json_decref(changes);
    db_rollback(r->db);
    return api_db_fail(r, "updating the ticket", e);
}

/* ---- merge and links ------------------------------------------------------------- */

/* Locks two visible tickets in id order (no deadlock between two merges). */
static int lock_pair(struct api_req *r, long long a, long long b, PGresult **ra, PGresult **rb,
                     const char **error_r)
{
    int fa, fb;
    if (a < b) {
        fa = ticket_lock_row(r, a, ra, error_r);
        fb = fa > 0 ? ticket_lock_row(r, b, rb, error_r) : fa;
    } else {
        fb = ticket_lock_row(r, b, rb, error_r);
        fa = fb > 0 ? ticket_lock_row(r, a, ra, error_r) : fb;
    }
    if (fa < 0 || fb < 0)
        return -1;
    return fa > 0 && fb > 0;
}

static int h_merge(struct api_req *r)
{
    static const struct api_field f[] = { { "into_id", F_INT, true, 0 }, { NULL, 0, 0, 0 } };
    const char *e = NULL;
    PGresult *ra = NULL, *rb = NULL;
    json_t *b = api_body(r, f);
    if (b == NULL || api_db(r) == NULL)
        return 0;
    long long src = r->m.ids[0], dst = json_integer_value(json_object_get(b, "into_id"));
    if (src == dst)
        return api_problem(r, 422, "into_id", "a ticket cannot be merged into itself");
    if (db_begin(r->db, &e) < 0)
        return api_db_fail(r, "merging", e);
    int ok = lock_pair(r, src, dst, &ra, &rb, &e);
    if (ok < 0)
        goto dbfail;
    if (!ok) {
        bool src_seen = ra != NULL;
        PQclear(ra);
        PQclear(rb);
        db_rollback(r->db);
        if (!src_seen)
            return api_problem(r, 404, NULL, "no such ticket");
        return api_problem(r, 422, "into_id", "no such ticket");
    }
    if (!PQgetisnull(ra, 0, 8) || !PQgetisnull(rb, 0, 8)) {
        PQclear(ra);
        PQclear(rb);
        db_rollback(r->db);
        return api_problem(r, 409, NULL, "one of the tickets was already merged");
    }
    PQclear(ra);
    PQclear(rb);
    ra = rb = NULL;
    char s[24], d[24];
    snprintf(s, sizeof(s), "%lld", src);
    snprintf(d, sizeof(d), "%lld", dst);
    const char *p[] = { s, d };
    PGresult *res = db_exec(r->db, "UPDATE messages SET ticket_id = $2 WHERE ticket_id = $1", 2, p, &e);
    if (res == NULL)
        goto dbfail;
    long long moved = atoll(PQcmdTuples(res));
    PQclear(res);
    res = db_exec(r->db,
        "WITH a AS (UPDATE tickets SET merged_into = $2, status = 'closed', closed_at = now(),"
        "                  updated_at = now() WHERE id = $1 RETURNING 1),"
        "     b AS (UPDATE tickets SET updated_at = now() WHERE id = $2 RETURNING 1),"
        "     l AS (UPDATE ticket_locks SET expires_at = now() WHERE ticket_id = $1 RETURNING 1)"
        " SELECT (SELECT count(*) FROM a), (SELECT count(*) FROM b)", 2, p, &e);
    if (res == NULL)
        goto dbfail;
    PQclear(res);
    json_t *ev = json_pack("{s:I, s:I, s:I}", "ticket_id", (json_int_t)src, "into_id",
                           (json_int_t)dst, "messages_moved", (json_int_t)moved);
    int rc = api_emit(r, "ticket.merged", ev, &e);
    if (rc == 0) {
        json_t *u = json_pack("{s:I, s:{s:{s:s, s:s}}}", "ticket_id", (json_int_t)src, "changes",
                              "status", "from", "any", "to", "closed");
        rc = api_emit(r, "ticket.updated", u, &e);
        json_decref(u);
    }
    if (rc == 0)
        rc = audit_ticket(r, "ticket.merge", src, ev, &e);
    json_decref(ev);
    if (rc < 0 || db_commit(r->db, &e) < 0)
        goto dbfail;
    return send_ticket(r, 200, dst);
dbfail:
    PQclear(ra);
    PQclear(rb);
    db_rollback(r->db);
    return api_db_fail(r, "merging", e);
}

static int h_link(struct api_req *r)
{
    static const struct api_field f[] = { { "ticket_id", F_INT, true, 0 }, { NULL, 0, 0, 0 } };
    const char *e = NULL;
    PGresult *ra = NULL, *rb = NULL;
    json_t *b = api_body(r, f);
    if (b == NULL || api_db(r) == NULL)
        return 0;
    long long a = r->m.ids[0], o = json_integer_value(json_object_get(b, "ticket_id"));
    if (a == o)
        return api_problem(r, 422, "ticket_id", "a ticket cannot be linked to itself");
    if (db_begin(r->db, &e) < 0)
        return api_db_fail(r, "linking", e);
    int ok = lock_pair(r, a, o, &ra, &rb, &e);
    bool a_seen = ra != NULL;
    PQclear(ra);
    PQclear(rb);
    if (ok < 0)
        goto dbfail;
    if (!ok) {
        db_rollback(r->db);
        return a_seen ? api_problem(r, 422, "ticket_id", "no such ticket")
                      : api_problem(r, 404, NULL, "no such ticket");
    }
    char lo[24], hi[24];
    snprintf(lo, sizeof(lo), "%lld", a < o ? a : o);
    snprintf(hi, sizeof(hi), "%lld", a < o ? o : a);
    const char *p[] = { lo, hi, api_uid(r) };
    PGresult *res = db_exec(r->db, "INSERT INTO ticket_links (ticket_a, ticket_b, created_by)"
                                   " VALUES ($1, $2, $3) ON CONFLICT DO NOTHING", 3, p, &e);
    if (res == NULL)
        goto dbfail;
    PQclear(res);
    json_t *d = json_pack("{s:I, s:I}", "ticket_id", (json_int_t)a, "linked_id", (json_int_t)o);
    int rc = api_emit(r, "ticket.linked", d, &e);
    if (rc == 0)
        rc = audit_ticket(r, "ticket.link", a, d, &e);
    json_decref(d);
    if (rc < 0 || db_commit(r->db, &e) < 0)
        goto dbfail;
    return api_json(r, 201, json_pack("{s:I, s:I}", "ticket_id", (json_int_t)a, "linked_id",
                                      (json_int_t)o));
dbfail:
    db_rollback(r->db);
    return api_db_fail(r, "linking", e);
}

static int h_unlink(struct api_req *r)
{
    const char *e = NULL;
    PGresult *ra = NULL, *rb = NULL;
    long long a = r->m.ids[0], o = r->m.ids[1];
    if (api_no_body(r) < 0)
        return 0;
    if (db_begin(r->db, &e) < 0)
        return api_db_fail(r, "unlinking", e);
    int ok = lock_pair(r, a, o, &ra, &rb, &e);
    PQclear(ra);
    PQclear(rb);
    if (ok < 0)
        goto dbfail;
    if (!ok) {
        db_rollback(r->db);
        return api_problem(r, 404, NULL, "no such ticket or link");
    }
    char lo[24], hi[24];
    snprintf(lo, sizeof(lo), "%lld", a < o ? a : o);
    snprintf(hi, sizeof(hi), "%lld", a < o ? o : a);
    const char *p[] = { lo, hi };
    PGresult *res = db_exec(r->db, "DELETE FROM ticket_links WHERE ticket_a = $1 AND ticket_b = $2",
                            2, p, &e);
    if (res == NULL)
        goto dbfail;
    int n = atoi(PQcmdTuples(res));
    PQclear(res);
    if (n == 0) {
        db_rollback(r->db);
        return api_problem(r, 404, NULL, "no such ticket or link");
    }
    json_t *d = json_pack("{s:I, s:I}", "ticket_id", (json_int_t)a, "linked_id", (json_int_t)o);
    int rc = audit_ticket(r, "ticket.unlink", a, d, &e);
    json_decref(d);
    if (rc < 0 || db_commit(r->db, &e) < 0)
        goto dbfail;
    return api_no_content(r);
dbfail:
    db_rollback(r->db);
    return api_db_fail(r, "unlinking", e);
}

/* ---- "being edited by" ---------------------------------------------------------- */

static int h_lock(struct api_req *r)
{
    const char *e = NULL;
    PGresult *t = NULL;
    long long id = r->m.ids[0];
    if (api_no_body(r) < 0)
        return 0;
    if (db_begin(r->db, &e) < 0)
        return api_db_fail(r, "locking", e);
    int found = ticket_lock_row(r, id, &t, &e);
    PQclear(t);
    if (found < 0)
        goto dbfail;
    if (found == 0) {
        db_rollback(r->db);
        return api_problem(r, 404, NULL, "no such ticket");
    }
    char sid[24];
    snprintf(sid, sizeof(sid), "%lld", id);
    const char *p[] = { sid, api_uid(r) };
    PGresult *res = db_exec(r->db,
        "WITH up AS (INSERT INTO ticket_locks AS k (ticket_id, user_id, expires_at)"
        "   VALUES ($1, $2, now() + interval '" LOCK_SECONDS " seconds')"
        "   ON CONFLICT (ticket_id) DO UPDATE SET user_id = excluded.user_id,"
        "     locked_at = CASE WHEN k.user_id = excluded.user_id THEN k.locked_at ELSE now() END,"
        "     expires_at = excluded.expires_at"
        "   WHERE k.user_id = excluded.user_id OR k.expires_at < now() RETURNING 1)"
        " SELECT (SELECT count(*) FROM up) > 0", 2, p, &e);
    if (res == NULL)
        goto dbfail;
    bool acquired = PQgetvalue(res, 0, 0)[0] == 't';
    PQclear(res);
    if (db_commit(r->db, &e) < 0)
        goto dbfail;
    res = db_exec(r->db,
        "SELECT json_build_object('acquired', $2::boolean, 'lock', json_build_object("
        " 'user_id', k.user_id, 'name', u.name, 'email', u.email, 'locked_at', k.locked_at,"
        " 'expires_at', k.expires_at))"
        " FROM ticket_locks k JOIN users u ON u.id = k.user_id WHERE k.ticket_id = $1",
        2, (const char *[]){ sid, acquired ? "t" : "f" }, &e);
    if (res == NULL)
        return api_db_fail(r, "locking", e);
    api_send_cell(r, acquired ? 200 : 409, res);
    PQclear(res);
    return 0;
dbfail:
    db_rollback(r->db);
    return api_db_fail(r, "locking", e);
}

/* ---- outgoing mail of a ticket ------------------------------------------------ */

static int h_mail(struct api_req *r)
{
    const char *e = NULL;
    if (api_query_check(r, NULL) < 0 || api_db(r) == NULL)
        return 0;
    char sid[24];
    snprintf(sid, sizeof(sid), "%lld", r->m.ids[0]);
    struct ticket_vis v;
    ticket_vis_params(r, &v);
    const char *p[5] = { v.p[0], v.p[1], v.p[2], v.p[3], sid };
    PGresult *res = db_exec(r->db,
        "SELECT json_build_object('items', coalesce((SELECT json_agg(" OUTBOUND_JSON("o") " ORDER BY o.id)"
        "   FROM outbound_mail o WHERE o.ticket_id = t.id), '[]'))"
        "  FROM tickets t WHERE t.id = $5 AND " TICKET_VISIBLE("t"), 5, p, &e);
    if (res == NULL)
        return api_db_fail(r, "reading the ticket's mail", e);
    if (PQntuples(res) == 0) {
        PQclear(res);
        return api_problem(r, 404, NULL, "no such ticket");
    }
    api_send_cell(r, 200, res);
    PQclear(res);
    return 0;
}

static int h_unlock(struct api_req *r)
{
    const char *e = NULL;
    if (api_no_body(r) < 0)
        return 0;
    struct ticket_vis v;
    ticket_vis_params(r, &v);
    char sid[24];
    snprintf(sid, sizeof(sid), "%lld", r->m.ids[0]);
    const char *p[5] = { v.p[0], v.p[1], v.p[2], v.p[3], sid };
    PGresult *res = db_exec(r->db,
        "DELETE FROM ticket_locks k USING tickets t WHERE k.ticket_id = $5 AND t.id = k.ticket_id"
        " AND k.user_id = $1::bigint AND " TICKET_VISIBLE("t"), 5, p, &e);
    if (res == NULL)
        return api_db_fail(r, "unlocking", e);
    int n = atoi(PQcmdTuples(res));
    PQclear(res);
    if (n == 0)
        return api_problem(r, 404, NULL, "you hold no lock on such a ticket");
    return api_no_content(r);
}

const struct api_route api_ticket_routes[] = {
    { "GET", "/api/v1/tickets", ATUM_ROLE_CUSTOMER, 0, h_list },
    { "POST", "/api/v1/tickets", ATUM_ROLE_CUSTOMER, 0, h_create },
    { "GET", "/api/v1/tickets/{id}", ATUM_ROLE_CUSTOMER, 0, h_get },
    { "PATCH", "/api/v1/tickets/{id}", ATUM_ROLE_CUSTOMER, 0, h_update },
    { "POST", "/api/v1/tickets/{id}/replies", ATUM_ROLE_CUSTOMER, 0, h_reply },
    { "POST", "/api/v1/tickets/{id}/notes", ATUM_ROLE_AGENT, 0, h_note },
    { "POST", "/api/v1/tickets/{id}/merge", ATUM_ROLE_AGENT, 0, h_merge },
    { "POST", "/api/v1/tickets/{id}/links", ATUM_ROLE_AGENT, 0, h_link },
    { "DELETE", "/api/v1/tickets/{id}/links/{other_id}", ATUM_ROLE_AGENT, 0, h_unlink },
    { "POST", "/api/v1/tickets/{id}/lock", ATUM_ROLE_AGENT, 0, h_lock },
    { "DELETE", "/api/v1/tickets/{id}/lock", ATUM_ROLE_AGENT, 0, h_unlock },
    { "GET", "/api/v1/tickets/{id}/mail", ATUM_ROLE_AGENT, 0, h_mail },
    { NULL, NULL, 0, 0, NULL }
};
