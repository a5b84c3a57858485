/*
 * web/api_tickets.c -- /api/v1/tickets: list (filters, full-text search,
 * cursor pagination), one ticket with its thread, create, public reply,
 * internal note, update, merge, links and the "being edited by" lock.
 *
 * Writes parse and check the request, call the desk domain
 * (desk/ticket.h) in one transaction -- which owns the rules, the audit
 * row, the events and the mail they cause -- and answer.  Reads are built
 * as JSON by PostgreSQL and passed through unchanged.
 */
#include "config.h"
#include "web/api_tickets.h"
#include "lib/email.h"
#include "lib/err.h"
#include "lib/log.h"
#include "desk/ticket.h"
#include "desk/presence.h"
#include "core/host_table.h"
#include "core/jobrun.h"
#include "core/plugin_loader.h"
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

void ticket_vis_params(struct api_req *r, struct ticket_visibility *v)
{
    struct desk_actor who;
    api_actor(r, &who);
    ticket_visibility_params(&who, v);
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

/* ---- plugins' list filters ------------------------------------------------- */
/* struct atum_list_filter (include/atum/plugin.h): a loaded plugin may add
 * query parameters to the list; each one given ANDs "t.id IN (<the
 * plugin's static SQL>)" into list_sql, its $1 renumbered to a parameter
 * after list_sql's fifteen.  The value is only ever a parameter. */
#define LIST_FILTER_MAX 16
#define LIST_FILTER_AT " ORDER BY t.updated_at DESC, t.id DESC LIMIT $15::int + 1)"
struct list_filters {
    size_t n;
    char *param[LIST_FILTER_MAX], *sql[LIST_FILTER_MAX];
};

static void list_filters_collect(struct runtime *rt, struct list_filters *f)
{
    memset(f, 0, sizeof(*f));
    runtime_rdlock(rt);
    for (size_t i = 0; i < rt->plugins.n; i++) {
        const struct plugin_instance *pi = &rt->plugins.v[i];
        for (const struct atum_list_filter *lf = pi->state == PLUGIN_LOADED ? pi->desc.list_filters : NULL;
             lf && lf->param && f->n < LIST_FILTER_MAX; lf++)
            if (lf->sql && strncmp(lf->param, pi->name, strlen(pi->name)) == 0) {
                f->param[f->n] = xstrdup(lf->param);
                f->sql[f->n] = xstrdup(lf->sql);
                f->n++;
            }
    }
    runtime_rdunlock(rt);
}

static void list_filters_free(struct list_filters *f)
{
    for (size_t i = 0; i < f->n; i++) {
        free(f->param[i]);
        free(f->sql[i]);
    }
}

/* list_sql with "AND t.id IN (sql)" for each used filter, $1 -> $16, $17 ... */
static char *list_sql_filtered(const struct list_filters *f, const bool *used)
{
    const char *at = strstr(list_sql, LIST_FILTER_AT);
    struct strbuf b = STRBUF_INIT;
    strbuf_add(&b, list_sql, (size_t)(at - list_sql));
    int next = 16;
    for (size_t i = 0; i < f->n; i++) {
        if (!used[i])
            continue;
        strbuf_addf(&b, " AND t.id IN (");
        for (const char *p = f->sql[i]; *p; p++) {
            if (p[0] == '$' && p[1] == '1' && !(p[2] >= '0' && p[2] <= '9')) {
                strbuf_addf(&b, "$%d", next);
                p++;
            } else {
                strbuf_add(&b, p, 1);
            }
        }
        strbuf_addf(&b, ")");
        next++;
    }
    strbuf_addf(&b, "%s", at);
    size_t len;
    return strbuf_steal(&b, &len);
}

static int list_answer(struct api_req *r, const char *const *allowed, const struct list_filters *lf,
                    char (*lfv)[256], bool *lfused);

static int h_list(struct api_req *r)
{
    static const char *const allowed[] = { "status", "priority", "queue_id", "assignee_id",
        "requester_id", "org_id", "updated_since", "q", "limit", "cursor", NULL };
    struct list_filters lf;
    list_filters_collect(r->api->rt, &lf);
    const char *allowed_all[sizeof(allowed) / sizeof(allowed[0]) + LIST_FILTER_MAX];
    size_t na = 0;
    for (; allowed[na]; na++)
        allowed_all[na] = allowed[na];
    for (size_t i = 0; i < lf.n; i++)
        allowed_all[na++] = lf.param[i];
    allowed_all[na] = NULL;
    char lfv[LIST_FILTER_MAX][256];
    bool lfused[LIST_FILTER_MAX] = { false };
    int rc = list_answer(r, allowed_all, &lf, lfv, lfused);
    list_filters_free(&lf);
    return rc;
}

static int list_answer(struct api_req *r, const char *const *allowed, const struct list_filters *lf,
                    char (*lfv)[256], bool *lfused)
{
    const char *e = NULL;
    char status[16], prio[16], since[64], q[512], lim[16], cur[80], us[24], cid[24];
    char ids[4][24];
    const char *idnames[4] = { "queue_id", "assignee_id", "requester_id", "org_id" };
    const char *idp[4] = { NULL, NULL, NULL, NULL };
    int n;
    size_t nused = 0;

    if (api_query_check(r, allowed) < 0)
        return 0;
    for (size_t i = 0; i < lf->n; i++) {
        if ((n = api_query(r, lf->param[i], lfv[i], sizeof(lfv[i]))) < 0)
            return 0;
        lfused[i] = n > 0;
        nused += lfused[i];
    }
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
    struct ticket_visibility v;
    ticket_vis_params(r, &v);
    const char *p[15 + LIST_FILTER_MAX] = { v.p[0], v.p[1], v.p[2], v.p[3], pstatus, pprio, idp[0], idp[1],
                          idp[2], idp[3], psince, pq, n ? us : NULL, n ? cid : NULL, lim };
    bool plain = !pstatus && !pprio && !idp[0] && !idp[1] && !idp[2] && !idp[3] && !psince && !pq
                 && nused == 0;
    char *filtered = NULL;
    if (nused > 0) {
        int k = 15;
        for (size_t i = 0; i < lf->n; i++)
            if (lfused[i])
                p[k++] = lfv[i];
        filtered = list_sql_filtered(lf, lfused);
    }
    PGresult *res = plain ? list_page(r, lim, n ? us : NULL, n ? cid : NULL, &e)
                          : db_exec(r->db, filtered ? filtered : list_sql, 15 + (int)nused, p, &e);
    free(filtered);
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
    " 'closed_at', t.closed_at, 'version', t.version,"
    " 'viewers', CASE WHEN $2::text <> 'customer' THEN " PRESENCE_VIEWERS_SQL("t") " END,"
    " 'csat', (SELECT json_build_object('score', c.score, 'comment', c.comment, 'via', c.via,"
    "            'created_at', c.created_at, 'updated_at', c.updated_at)"
    "            FROM csat_ratings c WHERE c.ticket_id = t.id),"
    " 'requester', (SELECT json_build_object('id', u.id, 'email', u.email, 'name', u.name)"
    "                 FROM users u WHERE u.id = t.requester_id),"
    " 'messages', coalesce((SELECT json_agg(json_build_object("
    "     'id', m.id, 'direction', m.direction, 'visibility', m.visibility,"
    "     'author_id', m.author_id, 'from_addr', m.from_addr, 'subject', m.subject,"
    "     'body_text', m.body_text, 'body_html', m.body_html, 'created_at', m.created_at,"
    "     'version', m.ticket_version, 'held', m.held,"
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
    "           WHERE k.ticket_id = t.id AND k.expires_at > now() AND $2::text <> 'customer')),"
    " t.version"
    " FROM tickets t WHERE t.id = $5 AND " TICKET_VISIBLE("t");

/* Each loaded plugin's part of the ticket (struct atum_plugin's
 * ticket_view), as {"NAME": {...}}; NULL when no plugin has one. */
static json_t *plugin_views(struct api_req *r, long long id)
{
    struct runtime *rt = r->api->rt;
    json_t *all = NULL;
    runtime_rdlock(rt);
    for (size_t i = 0; i < rt->plugins.n; i++) {
        const struct plugin_instance *pi = &rt->plugins.v[i];
        if (pi->state != PLUGIN_LOADED || pi->desc.ticket_view == NULL)
            continue;
        struct atum_db adb = { r->db, rt, pi->name };
        struct atum_http_resp resp = { 0, "", STRBUF_INIT };
        log_plugin_enter(pi->name);
        int rc = pi->desc.ticket_view(pi->pstate, &adb, id, &resp);
        log_plugin_leave();
        json_t *v = rc == 0 && resp.status == 200 ? json_loadb(strbuf_str(&resp.body), resp.body.len, 0, NULL)
                                                  : NULL;
        if (json_is_object(v)) {
            if (all == NULL)
                all = json_object();
            json_object_set_new(all, pi->name, v);
        } else {
            json_decref(v);
            if (rc != 0 || resp.status != 200)
                log_warn("api.plugin_view_failed", "plugin=%s ticket=%lld status=%d", pi->name, id,
                         resp.status);
        }
        strbuf_free(&resp.body);
    }
    runtime_rdunlock(rt);
    return all;
}

static int send_ticket(struct api_req *r, int status, long long id)
{
    const char *e = NULL;
    char sid[24];
    snprintf(sid, sizeof(sid), "%lld", id);
    struct ticket_visibility v;
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
    /* the version of the ticket's fields and thread (not of who is
     * viewing it): what If-Match names on a write */
    api_add_header(r, "ETag: \"v%s\"", PQgetvalue(res, 0, 1));
    json_t *plugins = r->user.level >= ATUM_ROLE_AGENT ? plugin_views(r, id) : NULL;
    if (plugins == NULL) {
        api_send_cell(r, status, res);
        PQclear(res);
        return 0;
    }
    json_t *t = json_loads(PQgetvalue(res, 0, 0), 0, NULL);
    PQclear(res);
    if (t == NULL) {
        json_decref(plugins);
        return api_problem(r, 500, NULL, "the ticket's JSON does not parse");
    }
    json_object_set_new(t, "plugins", plugins);
    return api_json(r, status, t);
}

static int h_get(struct api_req *r)
{
    if (api_query_check(r, NULL) < 0)
        return 0;
    return send_ticket(r, 200, r->m.ids[0]);
}

/* ---- the stale-send guard ------------------------------------------------------ */

/* The version a write was made against: If-Match ("v12", W/"v12"; "*"
 * is any) or the body's "version"; 0 when neither says.  -1 when a
 * problem was sent. */
static int expected_version(struct api_req *r, json_t *body, long long *v_r)
{
    *v_r = 0;
    long long hv = 0;
    const char *im = mg_get_header(r->conn, "If-Match");
    if (im != NULL) {
        while (*im == ' ')
            im++;
        if (strncmp(im, "W/", 2) == 0)
            im += 2;
        if (strcmp(im, "*") != 0) {
            char *end = NULL;
            if (strncmp(im, "\"v", 2) == 0)
                hv = strtoll(im + 2, &end, 10);
            if (end == NULL || end == im + 2 || strcmp(end, "\"") != 0 || hv <= 0)
                return api_problem(r, 400, "If-Match", "If-Match names a version as the ETag of "
                                   "GET /tickets/{id} gives it: \"v12\""), -1;
        }
    }
    json_t *bv = body ? json_object_get(body, "version") : NULL;
    long long b = json_is_integer(bv) ? (long long)json_integer_value(bv) : 0;
    if (hv > 0 && b > 0 && hv != b)
        return api_problem(r, 400, "version", "If-Match and the body's version differ"), -1;
    *v_r = hv > 0 ? hv : b;
    return 0;
}

/* A domain failure; a stale version is answered 409 with what changed
 * since the version the client saw (desk/ticket.h, ticket_changes_since). */
static int write_fail(struct api_req *r, long long id, long long expect, const char *what,
                      const struct err *err)
{
    if (err->code != ERR_CONFLICT || err->field == NULL || strcmp(err->field, "version") != 0
        || expect <= 0)
        return api_desk_fail(r, what, err);
    if (db_in_transaction(r->db))
        db_rollback(r->db);
    char detail[256];
    snprintf(detail, sizeof(detail), "%s", err->text ? err->text : "the ticket changed");
    struct desk_actor who;
    struct desk_tx tx;
    struct err e2 = { ERR_OK, NULL, NULL };
    api_actor(r, &who);
    api_desk_tx(r, &who, &tx);
    json_t *since = NULL;
    if (ticket_changes_since(&tx, id, expect, &since, &e2) < 0)
        return api_desk_fail(r, what, &e2);
    json_t *o = json_pack("{s:s, s:i, s:s, s:s}", "title", "Conflict", "status", 409, "detail", detail,
                          "field", "version");
    json_object_update(o, since);
    json_decref(since);
    char *s = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    if (s == NULL)
        return api_problem(r, 409, "version", "%s", detail);
    api_raw(r, 409, "application/problem+json", s, strlen(s));
    free(s);
    return 0;
}

/* Runs the domain under the runtime's read lock (events and mail-out read
 * the configuration a reload may swap). */
#define DESK_CALL(r, call) \
    (runtime_rdlock((r)->api->rt), _desk_rc = (call), runtime_rdunlock((r)->api->rt), _desk_rc)

/* ---- create ---------------------------------------------------------------- */

static int h_create(struct api_req *r)
{
    static const struct api_field f[] = {
        { "subject", F_STR, true, 500 }, { "body", F_STR, true, BODY_MAX },
        { "queue_id", F_INT, false, 0 }, { "priority", F_STR, false, 16 },
        { "category", F_STR_NULL, false, 100 }, { "requester_id", F_INT, false, 0 },
        { NULL, 0, 0, 0 } };
    const char *e = NULL;
    struct err err = { ERR_OK, NULL, NULL };
    int _desk_rc;
    json_t *b = api_body(r, f);
    if (b == NULL || api_db(r) == NULL)
        return 0;
    const char *subject = api_str(b, "subject"), *body = api_str(b, "body");
    const char *prio = api_str(b, "priority"), *cat = api_str(b, "category");
    if (subject[0] == '\0')
        return api_problem(r, 400, "subject", "field 'subject' must not be empty");
    if (body[0] == '\0')
        return api_problem(r, 400, "body", "field 'body' must not be empty");
    if (prio && !ticket_priority_valid(prio))
        return api_problem(r, 400, "priority", "priority must be one of " TICKET_PRIORITIES);
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
    } else {
        /* without a queue: the first one (staff must be able to work it) */
        char *v = db_query_value(r->db, "SELECT min(id) FROM queues", 0, NULL, &e);
        if (v == NULL) {
            db_rollback(r->db);
            return e ? api_db_fail(r, "creating the ticket", e)
                     : api_problem(r, 422, "queue_id", "no queue exists yet");
        }
        queue_id = atoll(v);
        free(v);
    }
    bool own = requester == r->user.id;
    struct desk_actor who;
    struct desk_tx tx;
    api_actor(r, &who);
    api_desk_tx(r, &who, &tx);
    struct ticket_new tn = {
        .queue_id = queue_id, .requester_id = requester, .subject = subject, .priority = prio,
        .category = cat,
        .first = { .author_id = r->user.id, .party = own ? PARTY_CUSTOMER : PARTY_STAFF,
                   .body_text = body, .from_addr = r->user.email },
    };
    long long tid = 0, mid = 0;
    if (DESK_CALL(r, ticket_open(&tx, &tn, &tid, &mid, &err)) < 0) {
        if (err.code == ERR_INVALID && !jq && staff && strcmp(err.field ? err.field : "", "queue_id") == 0)
            err.text = "field 'queue_id' is required for staff (a queue you are a member of)";
        return api_desk_fail(r, "creating the ticket", &err);
    }
    if (db_commit(r->db, &e) < 0) {
        db_rollback(r->db);
        return api_db_fail(r, "creating the ticket", e);
    }
    log_info("ticket.created", "ticket=%lld user=%lld", tid, r->user.id);
    return send_ticket(r, 201, tid);
}

/* ---- reply and note ----------------------------------------------------------- */

static int post_message(struct api_req *r, bool note)
{
    static const struct api_field f[] = {
        { "body", F_STR, true, BODY_MAX }, { "status", F_STR, false, 16 },
        { "version", F_INT, false, 0 }, { NULL, 0, 0, 0 } };
    const char *e = NULL;
    struct err err = { ERR_OK, NULL, NULL };
    int _desk_rc;
    json_t *b = api_body(r, f);
    if (b == NULL || api_db(r) == NULL)
        return 0;
    const char *body = api_str(b, "body"), *status = api_str(b, "status");
    bool staff = r->user.level >= ATUM_ROLE_AGENT;
    enum ticket_status st;
    if (body[0] == '\0')
        return api_problem(r, 400, "body", "field 'body' must not be empty");
    if (status && ticket_status_parse(status, &st) < 0)
        return api_problem(r, 400, "status", "status must be one of new, open, pending, solved, closed");
    if (status && !staff)
        return api_problem(r, 403, "status", "customers cannot set the status with a reply");
    long long expect = 0;
    if (expected_version(r, b, &expect) < 0)
        return 0;
    long long id = r->m.ids[0];
    struct desk_actor who;
    struct desk_tx tx;
    api_actor(r, &who);
    api_desk_tx(r, &who, &tx);
    struct message_new m = {
        .author_id = r->user.id,
        .party = note ? PARTY_NOTE : staff ? PARTY_STAFF : PARTY_CUSTOMER,
        .body_text = body, .from_addr = r->user.email, .status = status && !note ? &st : NULL,
        .expect_version = expect,
    };
    if (db_begin(r->db, &e) < 0)
        return api_db_fail(r, "adding the message", e);
    long long mid = 0;
    int rc = DESK_CALL(r, ticket_post_message(&tx, id, &m, &mid, &err));
    /* a note that also sets the status: one transaction, two changes */
    if (rc == 0 && note && status)
        rc = DESK_CALL(r, ticket_set_status(&tx, id, st, &err));
    if (rc < 0)
        return write_fail(r, id, expect, "adding the message", &err);
    if (db_commit(r->db, &e) < 0) {
        db_rollback(r->db);
        return api_db_fail(r, "adding the message", e);
    }
    return api_json(r, 201, json_pack("{s:I, s:I, s:s, s:s}", "id", (json_int_t)mid, "ticket_id",
                                      (json_int_t)id, "direction", staff ? "out" : "in",
                                      "visibility", note ? "internal" : "public"));
}

static int h_reply(struct api_req *r) { return post_message(r, false); }
static int h_note(struct api_req *r) { return post_message(r, true); }

/* ---- update ------------------------------------------------------------------ */

static int h_update(struct api_req *r)
{
    static const struct api_field f[] = {
        { "status", F_STR, false, 16 }, { "priority", F_STR, false, 16 },
        { "category", F_STR_NULL, false, 100 }, { "assignee_id", F_INT_NULL, false, 0 },
        { "queue_id", F_INT, false, 0 }, { "subject", F_STR, false, 500 },
        { "version", F_INT, false, 0 }, { NULL, 0, 0, 0 } };
    const char *e = NULL;
    struct err err = { ERR_OK, NULL, NULL };
    int _desk_rc;
    json_t *b = api_body(r, f);
    if (b == NULL || api_db(r) == NULL)
        return 0;
    bool staff = r->user.level >= ATUM_ROLE_AGENT;
    const char *status = api_str(b, "status"), *prio = api_str(b, "priority");
    const char *subject = api_str(b, "subject");
    enum ticket_status st;
    if (!staff) {
        const char *key;
        json_t *v;
        json_object_foreach(b, key, v) {
            if (strcmp(key, "status") != 0 && strcmp(key, "version") != 0)
                return api_problem(r, 403, key, "customers may only change the status");
        }
    }
    if (status && ticket_status_parse(status, &st) < 0)
        return api_problem(r, 400, "status", "status must be one of new, open, pending, solved, closed");
    if (prio && !ticket_priority_valid(prio))
        return api_problem(r, 400, "priority", "priority must be one of " TICKET_PRIORITIES);
    if (subject && subject[0] == '\0')
        return api_problem(r, 400, "subject", "field 'subject' must not be empty");
    long long expect = 0;
    if (expected_version(r, b, &expect) < 0)
        return 0;
    json_t *jc = json_object_get(b, "category"), *ja = json_object_get(b, "assignee_id");
    json_t *jq = json_object_get(b, "queue_id");
    struct ticket_change ch = {
        .status = status ? &st : NULL, .priority = prio, .subject = subject,
        .set_category = jc != NULL, .category = json_is_string(jc) ? json_string_value(jc) : NULL,
        .set_assignee = ja != NULL, .assignee_id = json_is_integer(ja) ? json_integer_value(ja) : 0,
        .queue_id = jq ? json_integer_value(jq) : 0, .expect_version = expect,
    };
    struct desk_actor who;
    struct desk_tx tx;
    api_actor(r, &who);
    api_desk_tx(r, &who, &tx);
    if (db_begin(r->db, &e) < 0)
        return api_db_fail(r, "updating the ticket", e);
    if (DESK_CALL(r, ticket_update(&tx, r->m.ids[0], &ch, NULL, &err)) < 0)
        return write_fail(r, r->m.ids[0], expect, "updating the ticket", &err);
    if (db_commit(r->db, &e) < 0) {
        db_rollback(r->db);
        return api_db_fail(r, "updating the ticket", e);
    }
    return send_ticket(r, 200, r->m.ids[0]);
}

/* ---- held replies ------------------------------------------------------------------ */

static int h_held(struct api_req *r)
{
    static const struct api_field f[] = { { "action", F_STR, true, 8 }, { "version", F_INT, false, 0 },
                                          { NULL, 0, 0, 0 } };
    const char *e = NULL;
    struct err err = { ERR_OK, NULL, NULL };
    int _desk_rc;
    json_t *b = api_body(r, f);
    if (b == NULL || api_db(r) == NULL)
        return 0;
    const char *action = api_str(b, "action");
    bool send = strcmp(action, "send") == 0;
    if (!send && strcmp(action, "drop") != 0)
        return api_problem(r, 400, "action", "action is send or drop");
    long long expect = 0;
    if (expected_version(r, b, &expect) < 0)
        return 0;
    long long id = r->m.ids[0];
    struct desk_actor who;
    struct desk_tx tx;
    api_actor(r, &who);
    api_desk_tx(r, &who, &tx);
    if (db_begin(r->db, &e) < 0)
        return api_db_fail(r, "releasing the held reply", e);
    if (DESK_CALL(r, ticket_release_held(&tx, id, r->m.ids[1], send, expect, NULL, &err)) < 0)
        return write_fail(r, id, expect, "releasing the held reply", &err);
    if (db_commit(r->db, &e) < 0) {
        db_rollback(r->db);
        return api_db_fail(r, "releasing the held reply", e);
    }
    return send_ticket(r, 200, id);
}

/* ---- merge and links ------------------------------------------------------------- */

static int h_merge(struct api_req *r)
{
    static const struct api_field f[] = { { "into_id", F_INT, true, 0 }, { "force", F_BOOL, false, 0 },
                                          { NULL, 0, 0, 0 } };
    const char *e = NULL;
    struct err err = { ERR_OK, NULL, NULL };
    int _desk_rc;
    json_t *b = api_body(r, f);
    if (b == NULL || api_db(r) == NULL)
        return 0;
    long long src = r->m.ids[0], dst = json_integer_value(json_object_get(b, "into_id"));
    bool force = json_is_true(json_object_get(b, "force"));
    struct desk_actor who;
    struct desk_tx tx;
    api_actor(r, &who);
    api_desk_tx(r, &who, &tx);
    if (db_begin(r->db, &e) < 0)
        return api_db_fail(r, "merging", e);
    if (DESK_CALL(r, ticket_merge(&tx, src, dst, force, NULL, &err)) < 0)
        return api_desk_fail(r, "merging", &err);
    if (db_commit(r->db, &e) < 0) {
        db_rollback(r->db);
        return api_db_fail(r, "merging", e);
    }
    return send_ticket(r, 200, dst);
}

static int h_link(struct api_req *r)
{
    static const struct api_field f[] = { { "ticket_id", F_INT, true, 0 }, { NULL, 0, 0, 0 } };
    const char *e = NULL;
    struct err err = { ERR_OK, NULL, NULL };
    int _desk_rc;
    json_t *b = api_body(r, f);
    if (b == NULL || api_db(r) == NULL)
        return 0;
    long long a = r->m.ids[0], o = json_integer_value(json_object_get(b, "ticket_id"));
    struct desk_actor who;
    struct desk_tx tx;
    api_actor(r, &who);
    api_desk_tx(r, &who, &tx);
    if (db_begin(r->db, &e) < 0)
        return api_db_fail(r, "linking", e);
    if (DESK_CALL(r, ticket_link(&tx, a, o, &err)) < 0)
        return api_desk_fail(r, "linking", &err);
    if (db_commit(r->db, &e) < 0) {
        db_rollback(r->db);
        return api_db_fail(r, "linking", e);
    }
    return api_json(r, 201, json_pack("{s:I, s:I}", "ticket_id", (json_int_t)a, "linked_id",
                                      (json_int_t)o));
}

static int h_unlink(struct api_req *r)
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
        return api_db_fail(r, "unlinking", e);
    if (DESK_CALL(r, ticket_unlink(&tx, r->m.ids[0], r->m.ids[1], &err)) < 0)
        return api_desk_fail(r, "unlinking", &err);
    if (db_commit(r->db, &e) < 0) {
        db_rollback(r->db);
        return api_db_fail(r, "unlinking", e);
    }
    return api_no_content(r);
}

/* 1 when the caller can see the ticket (the edit lock needs no more). */
static int ticket_seen(struct api_req *r, long long id, const char **error_r)
{
    char sid[24];
    snprintf(sid, sizeof(sid), "%lld", id);
    struct ticket_visibility v;
    ticket_vis_params(r, &v);
    const char *p[5] = { v.p[0], v.p[1], v.p[2], v.p[3], sid };
    PGresult *res = db_exec(r->db, "SELECT 1 FROM tickets t WHERE t.id = $5 AND "
                            TICKET_VISIBLE("t") " FOR UPDATE OF t", 5, p, error_r);
    if (res == NULL)
        return -1;
    int n = PQntuples(res);
    PQclear(res);
    return n == 1;
}

/* ---- "being edited by" ---------------------------------------------------------- */

static int h_lock(struct api_req *r)
{
    const char *e = NULL;
    long long id = r->m.ids[0];
    if (api_no_body(r) < 0)
        return 0;
    if (db_begin(r->db, &e) < 0)
        return api_db_fail(r, "locking", e);
    int found = ticket_seen(r, id, &e);
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
    struct ticket_visibility v;
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
    struct ticket_visibility v;
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
    { "POST", "/api/v1/tickets/{id}/held/{message_id}", ATUM_ROLE_AGENT, 0, h_held },
    { NULL, NULL, 0, 0, NULL }
};
