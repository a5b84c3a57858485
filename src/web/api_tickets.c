/*
 * web/api_tickets.c -- /api/v1/tickets: list (filters, full-text search,
 * cursor pagination), one ticket with its thread, create, public reply,
 * internal note, update, merge, links and the "being edited by" lock.
 *
 * Writes parse and check the request, call the desk domain
 * (desk/ticket.h) in one transaction -- which owns the rules, the audit
 * row, the events and the mail they cause -- and answer.  Reads are built
 * as JSON by PostgreSQL and passed through unchanged.
 *
 * The stale-send guard: every write to a ticket (reply, note, PATCH, held
 * reply, merge -- with the target's "into_version" --, link, unlink; and
 * macros, api_macros.c, and bulk, api_bulk.c) takes the version the
 * client saw as If-Match or "version".  The domain checks it under the
 * ticket's lock; a stale one is answered 409 with what changed since
 * (ticket_stale_json); none applies the write to the ticket as it is.
 */
#include "config.h"
#include "web/api_tickets.h"
#include "lib/email.h"
#include "lib/err.h"
#include "lib/log.h"
#include "desk/ticket.h"
#include "desk/attachment.h"
#include "desk/draft.h"
#include "desk/presence.h"
#include "core/host_table.h"
#include "core/jobrun.h"
#include "core/plugin_loader.h"
#include "core/runtime.h"
#include "core/jobs.h"
#include "lib/xalloc.h"

#include <errno.h>
#include <stdarg.h>
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

/*
 * GET /tickets reads its parameters into struct list_params -- from the
 * query string, or from a saved view's filter (api_views.c) through the
 * very same checks -- and builds its SQL from fixed fragments: each
 * filter given adds "AND <column> = $n" with its value as a parameter,
 * each plugin filter "AND t.id IN (<the plugin's static SQL>)" with its
 * $1 renumbered.  No byte of input ever becomes SQL.
 *
 * Orders (sort=): each is (key, id) in one direction, so a keyset cursor
 * follows it and every page, however deep, is one range of an index
 * (tickets_updated_idx, tickets_created_idx, tickets_priority_idx, the
 * primary key; sql/021_desk.sql).  The default, -updated_at, keeps the
 * cursors it always had ("c1_<microseconds>_<id>"); the others are
 * "c2_<order>_<key>_<id>", refused under another order.
 */

/* A cursor's microseconds become 'epoch' + n * 1 microsecond in SQL, which
 * PostgreSQL computes in double precision: it works from its first
 * timestamp (4714-11-24 BC) to 294247 AD, and every updated_at a cursor
 * is made from lies in between.  Outside, the query would fail. */
#define CURSOR_US_MIN (-210866803200000000LL)
#define CURSOR_US_MAX 9223371331200000000LL

enum sort_key { KEY_TIME, KEY_RANK, KEY_ID };

struct sort_spec {
    const char *name;         /* the sort= value */
    const char *expr;         /* the key on the ticket row t; NULL for id */
    enum sort_key kind;
    bool desc;
};

static const struct sort_spec sorts[] = {
    { "-updated_at", "t.updated_at", KEY_TIME, true },     /* the default: first */
    { "updated_at", "t.updated_at", KEY_TIME, false },
    { "-created_at", "t.created_at", KEY_TIME, true },
    { "created_at", "t.created_at", KEY_TIME, false },
    { "-priority", "ticket_priority_rank(t.priority)", KEY_RANK, true },
    { "priority", "ticket_priority_rank(t.priority)", KEY_RANK, false },
    { "-id", NULL, KEY_ID, true },
    { "id", NULL, KEY_ID, false },
};
#define NSORTS (sizeof(sorts) / sizeof(sorts[0]))

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

/* "c1_<us>_<id>" (the default order) or "c2_<order>_<key>_<id>"; 0 ok,
 * -1 not a cursor, -2 a cursor of another order. */
static int parse_cursor(const char *s, const struct sort_spec *sort, char *key, size_t ksz, char *id,
                        size_t idsz)
{
    long long k, i, o;
    const char *end;
    if (strncmp(s, "c1_", 3) == 0) {
        if (!cursor_number(s + 3, '_', CURSOR_US_MIN, CURSOR_US_MAX, &k, &end)
            || !cursor_number(end + 1, '\0', 1, LLONG_MAX, &i, &end))
            return -1;
        if (sort != &sorts[0])
            return -2;
    } else if (strncmp(s, "c2_", 3) == 0) {
        if (!cursor_number(s + 3, '_', 1, (long long)NSORTS - 1, &o, &end))
            return -1;
        const struct sort_spec *cs = &sorts[o];
        long long lo = cs->kind == KEY_TIME ? CURSOR_US_MIN : 0;
        long long hi = cs->kind == KEY_TIME ? CURSOR_US_MAX : cs->kind == KEY_RANK ? 9 : 0;
        if (!cursor_number(end + 1, '_', lo, hi, &k, &end)
            || !cursor_number(end + 1, '\0', 1, LLONG_MAX, &i, &end))
            return -1;
        if (cs != sort)
            return -2;
    } else {
        return -1;
    }
    snprintf(key, ksz, "%lld", k);
    snprintf(id, idsz, "%lld", i);
    return 0;
}

/* ---- plugins' list filters ------------------------------------------------- */
/* struct atum_list_filter (include/atum/plugin.h): a loaded plugin may add
 * query parameters to the list; each one given ANDs "t.id IN (<the
 * plugin's static SQL>)" into the list's SQL, its $1 renumbered to the
 * value's parameter.  The value is only ever a parameter. */
#define LIST_FILTER_MAX 16
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
    memset(f, 0, sizeof(*f));
}

/* ---- the parameters ---------------------------------------------------------- */

static const char *const list_names[] = { "status", "priority", "queue_id", "assignee_id",
    "requester_id", "org_id", "updated_since", "q", "unassigned", "sort", "limit", "cursor", NULL };
static const char *const id_names[4] = { "queue_id", "assignee_id", "requester_id", "org_id" };

struct list_params {
    char status[16], priority[16], since[64], q[512], limit[16];
    bool since_ago;                        /* since is a duration: "P1D" = within the last day */
    char ids[4][24];
    int unassigned;                        /* -1 not given, 0 false, 1 true */
    const struct sort_spec *sort;
    bool has_cursor;
    char ckey[24], cid[24];
    struct list_filters lf;
    char lfv[LIST_FILTER_MAX][256];
    bool lfused[LIST_FILTER_MAX];
};

/* What is wrong with a parameter, for the caller to answer (or, counting
 * a saved view, to pass over).  sent: api_query() answered already. */
struct list_err {
    int status;               /* 400, or 500 for a database failure */
    bool sent;
    char field[96];
    char text[256];
    const char *db_error;
};

static int lerr(struct list_err *le, const char *pfx, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int lerr(struct list_err *le, const char *pfx, const char *name, const char *fmt, ...)
{
    va_list ap;
    le->status = 400;
    snprintf(le->field, sizeof(le->field), "%s%s", pfx, name);
    va_start(ap, fmt);
    vsnprintf(le->text, sizeof(le->text), fmt, ap);
    va_end(ap);
    return -1;
}

/* Sends the problem le describes (unless it was sent). */
static int lerr_answer(struct api_req *r, const struct list_err *le)
{
    if (le->sent)
        return 0;
    if (le->status >= 500)
        return api_db_fail(r, "reading a timestamp parameter", le->db_error);
    return api_problem(r, le->status, le->field[0] ? le->field : NULL, "%s", le->text);
}

/* Where the parameters come from: 1 found (in buf), 0 absent, -1 wrong
 * (le says why). */
typedef int (*param_get_fn)(struct api_req *r, void *src, const char *name, char *buf, size_t size,
                            struct list_err *le);

static int from_query(struct api_req *r, void *src, const char *name, char *buf, size_t size,
                      struct list_err *le)
{
    (void)src;
    int n = api_query(r, name, buf, size);
    if (n < 0)
        le->sent = true;
    return n;
}

/* A saved view's filter: strings as in a query string (numbers and
 * booleans are taken as their text). */
static int from_filter(struct api_req *r, void *src, const char *name, char *buf, size_t size,
                       struct list_err *le)
{
    (void)r;
    json_t *v = json_object_get(src, name);
    if (v == NULL)
        return 0;
    if (json_is_integer(v)) {
        snprintf(buf, size, "%lld", (long long)json_integer_value(v));
        return 1;
    }
    if (json_is_boolean(v)) {
        snprintf(buf, size, "%s", json_is_true(v) ? "true" : "false");
        return 1;
    }
    if (!json_is_string(v))
        return lerr(le, "filter.", name, "'%s' in a filter must be a string, as in a query string", name);
    if (json_string_length(v) >= size)
        return lerr(le, "filter.", name, "'%s' in a filter is too long", name);
    if (strlen(json_string_value(v)) != json_string_length(v))
        return lerr(le, "filter.", name, "'%s' in a filter contains a NUL character", name);
    memcpy(buf, json_string_value(v), json_string_length(v) + 1);
    return 1;
}

static bool is_plugin_param(const struct list_filters *lf, const char *name)
{
    for (size_t i = 0; i < lf->n; i++)
        if (strcmp(lf->param[i], name) == 0)
            return true;
    return false;
}

static bool is_list_name(const char *name, bool saved)
{
    for (const char *const *n = list_names; *n; n++)
        if (strcmp(*n, name) == 0)
            return !saved || (strcmp(name, "limit") != 0 && strcmp(name, "cursor") != 0);
    return false;
}

/* Reads and checks every parameter; -1 when one is wrong (le says why).
 * pfx: "" for a query string, "filter." for a saved view (which holds no
 * limit or cursor).  lp->lf must hold the plugins' filters already. */
static int list_read(struct api_req *r, param_get_fn get, void *src, const char *pfx,
                     struct list_params *lp, struct list_err *le)
{
    char buf[96];
    int n;
    lp->unassigned = -1;
    lp->sort = &sorts[0];
    snprintf(lp->limit, sizeof(lp->limit), "%d", LIST_DEFAULT);
    for (size_t i = 0; i < lp->lf.n; i++) {
        if ((n = get(r, src, lp->lf.param[i], lp->lfv[i], sizeof(lp->lfv[i]), le)) < 0)
            return -1;
        lp->lfused[i] = n > 0;
    }
    if ((n = get(r, src, "status", lp->status, sizeof(lp->status), le)) < 0)
        return -1;
    if (n && !in_set(lp->status, statuses))
        return lerr(le, pfx, "status", "status must be one of new, open, pending, solved, closed");
    if (!n)
        lp->status[0] = '\0';
    if ((n = get(r, src, "priority", lp->priority, sizeof(lp->priority), le)) < 0)
        return -1;
    if (n && !in_set(lp->priority, priorities))
        return lerr(le, pfx, "priority", "priority must be one of low, normal, high, urgent");
    if (!n)
        lp->priority[0] = '\0';
    for (int i = 0; i < 4; i++) {
        lp->ids[i][0] = '\0';
        if ((n = get(r, src, id_names[i], buf, sizeof(buf), le)) < 0)
            return -1;
        if (n == 0)
            continue;
        char *end;
        errno = 0;
        long long v = strtoll(buf, &end, 10);
        if (buf[0] < '1' || buf[0] > '9' || *end != '\0' || errno == ERANGE || v <= 0 || strlen(buf) > 18)
            return lerr(le, pfx, id_names[i], "'%s' must be a positive integer", id_names[i]);
        snprintf(lp->ids[i], sizeof(lp->ids[i]), "%lld", v);
    }
    if ((n = get(r, src, "updated_since", lp->since, sizeof(lp->since), le)) < 0)
        return -1;
    if (n) {
        /* checked by PostgreSQL's own parser, so it means what the query
         * compares with; an ISO 8601 duration ("P1D", "PT12H") counts back
         * from now, so a saved view of "the last day" stays one */
        const char *e = NULL;
        const char *p[] = { lp->since };
        lp->since_ago = lp->since[0] == 'P';
        if (api_db(r) == NULL) {
            le->sent = true;
            return -1;
        }
        PGresult *res = db_exec(r->db, lp->since_ago ? "SELECT $1::interval WHERE $1::interval > interval '0'"
                                                     : "SELECT $1::timestamptz", 1, p, &e);
        if (res != NULL && PQntuples(res) == 0) {
            PQclear(res);
            return lerr(le, pfx, "updated_since", "a duration in 'updated_since' must be positive, e.g. P1D");
        }
        if (res == NULL) {
            if (strncmp(db_last_sqlstate(r->db), "22", 2) == 0)
                return lerr(le, pfx, "updated_since", "'updated_since' must be an ISO 8601 timestamp, e.g. "
                                   "2026-01-31T12:00:00Z, or a duration back from now, e.g. P1D");
            le->status = 500;
            le->db_error = e;
            return -1;
        }
        PQclear(res);
    } else {
        lp->since[0] = '\0';
    }
    if ((n = get(r, src, "q", lp->q, sizeof(lp->q), le)) < 0)
        return -1;
    if (!n)
        lp->q[0] = '\0';
    if ((n = get(r, src, "unassigned", buf, sizeof(buf), le)) < 0)
        return -1;
    if (n) {
        if (strcmp(buf, "true") != 0 && strcmp(buf, "false") != 0)
            return lerr(le, pfx, "unassigned", "'unassigned' must be true or false");
        lp->unassigned = buf[0] == 't';
        if (lp->unassigned == 1 && lp->ids[1][0])
            return lerr(le, pfx, "unassigned", "'unassigned=true' and 'assignee_id' exclude each other");
    }
    if ((n = get(r, src, "sort", buf, sizeof(buf), le)) < 0)
        return -1;
    if (n) {
        lp->sort = NULL;
        for (size_t i = 0; i < NSORTS; i++)
            if (strcmp(buf, sorts[i].name) == 0)
                lp->sort = &sorts[i];
        if (lp->sort == NULL)
            return lerr(le, pfx, "sort", "sort must be one of "
                               "updated_at, created_at, priority, id, each with - in front for "
                               "descending");
    }
    if (pfx[0] != '\0')
        return 0;            /* a saved view has no page size or cursor */
    if ((n = get(r, src, "limit", buf, sizeof(buf), le)) < 0)
        return -1;
    if (n) {
        char *end;
        long long limit = strtoll(buf, &end, 10);
        if (*end != '\0' || end == buf || limit < 1 || limit > LIST_MAX)
            return lerr(le, "", "limit", "limit must be an integer from 1 to %d", LIST_MAX);
        snprintf(lp->limit, sizeof(lp->limit), "%lld", limit);
    }
    char cur[128];
    if ((n = get(r, src, "cursor", cur, sizeof(cur), le)) < 0)
        return -1;
    if (n) {
        int c = parse_cursor(cur, lp->sort, lp->ckey, sizeof(lp->ckey), lp->cid, sizeof(lp->cid));
        if (c == -2)
            return lerr(le, "", "cursor", "this cursor belongs to another order (sort)");
        if (c < 0)
            return lerr(le, "", "cursor", "cursor is not one this server handed out");
        lp->has_cursor = true;
    }
    return 0;
}

static bool list_plain(const struct list_params *lp)
{
    bool plugin = false;
    for (size_t i = 0; i < lp->lf.n; i++)
        plugin |= lp->lfused[i];
    return !lp->status[0] && !lp->priority[0] && !lp->ids[0][0] && !lp->ids[1][0] && !lp->ids[2][0]
           && !lp->ids[3][0] && !lp->since[0] && !lp->q[0] && lp->unassigned < 0 && !plugin
           && lp->sort == &sorts[0];
}

/* ---- the SQL ---------------------------------------------------------------------- */

#define LIST_PARAMS_MAX (4 + 12 + LIST_FILTER_MAX)

struct list_sql {
    struct strbuf where;      /* "<visible> AND ..." on tickets t */
    const char *p[LIST_PARAMS_MAX];
    int np;
};

static int list_param(struct list_sql *ls, const char *v)
{
    ls->p[ls->np++] = v;
    return ls->np;
}

/* The WHERE clause of lp for the caller (visibility $1..$4 first). */
static void list_where(const struct list_params *lp, const struct ticket_visibility *v,
                       bool with_cursor, struct list_sql *ls)
{
    ls->where = (struct strbuf)STRBUF_INIT;
    ls->np = 0;
    for (int i = 0; i < 4; i++)
        list_param(ls, v->p[i]);
    strbuf_adds(&ls->where, TICKET_VISIBLE("t"));
    if (lp->status[0])
        strbuf_addf(&ls->where, " AND t.status = $%d", list_param(ls, lp->status));
    if (lp->priority[0])
        strbuf_addf(&ls->where, " AND t.priority = $%d", list_param(ls, lp->priority));
    static const char *const cols[4] = { "t.queue_id", "t.assignee_id", "t.requester_id", "t.org_id" };
    for (int i = 0; i < 4; i++)
        if (lp->ids[i][0])
            strbuf_addf(&ls->where, " AND %s = $%d::bigint", cols[i], list_param(ls, lp->ids[i]));
    if (lp->unassigned >= 0)
        strbuf_adds(&ls->where, lp->unassigned ? " AND t.assignee_id IS NULL" : " AND t.assignee_id IS NOT NULL");
    if (lp->since[0] && lp->since_ago)
        strbuf_addf(&ls->where, " AND t.updated_at >= now() - $%d::interval", list_param(ls, lp->since));
    else if (lp->since[0])
        strbuf_addf(&ls->where, " AND t.updated_at >= $%d::timestamptz", list_param(ls, lp->since));
    if (lp->q[0]) {
        int k = list_param(ls, lp->q);
        strbuf_addf(&ls->where, " AND (t.search @@ websearch_to_tsquery('simple', $%d)"
                    " OR t.id IN (SELECT m.ticket_id FROM messages m"
                    "  WHERE m.search @@ websearch_to_tsquery('simple', $%d)"
                    "    AND ($2::text <> 'customer' OR m.visibility = 'public')))", k, k);
    }
    for (size_t i = 0; i < lp->lf.n; i++) {
        if (!lp->lfused[i])
            continue;
        int k = list_param(ls, lp->lfv[i]);
        strbuf_adds(&ls->where, " AND t.id IN (");
        for (const char *s = lp->lf.sql[i]; *s; s++) {
            if (s[0] == '$' && s[1] == '1' && !(s[2] >= '0' && s[2] <= '9')) {
                strbuf_addf(&ls->where, "$%d", k);
                s++;
            } else {
                strbuf_add(&ls->where, s, 1);
            }
        }
        strbuf_addc(&ls->where, ')');
    }
    if (with_cursor && lp->has_cursor) {
        const struct sort_spec *s = lp->sort;
        int kk = list_param(ls, lp->ckey), ki = list_param(ls, lp->cid);
        const char *op = s->desc ? "<" : ">";
        if (s->kind == KEY_TIME)
            strbuf_addf(&ls->where, " AND (%s, t.id) %s ('epoch'::timestamptz + $%d::bigint"
                        " * interval '1 microsecond', $%d::bigint)", s->expr, op, kk, ki);
        else if (s->kind == KEY_RANK)
            strbuf_addf(&ls->where, " AND (%s, t.id) %s ($%d::int, $%d::bigint)", s->expr, op, kk, ki);
        else
            strbuf_addf(&ls->where, " AND t.id %s $%d::bigint AND $%d::bigint = 0", op, ki, kk);
    }
}

/* One list item: the ticket and the names the list shows (the requester
 * with their address, the assignee's name). */
#define ITEM_JSON(p) \
    "json_build_object('id', " p ".id, 'subject', " p ".subject, 'status', " p ".status," \
    " 'priority', " p ".priority, 'category', " p ".category, 'queue_id', " p ".queue_id," \
    " 'requester_id', " p ".requester_id, 'assignee_id', " p ".assignee_id, 'org_id', " p ".org_id," \
    " 'merged_into', " p ".merged_into, 'created_at', " p ".created_at, 'updated_at', " p ".updated_at," \
    " 'version', " p ".version," \
    " 'requester', (SELECT json_build_object('id', u.id, 'name', u.name, 'email', u.email)" \
    "                 FROM users u WHERE u.id = " p ".requester_id)," \
    " 'assignee', (SELECT json_build_object('id', u.id, 'name', u.name)" \
    "                FROM users u WHERE u.id = " p ".assignee_id))"
#define PAGE_COLS "t.id, t.subject, t.status, t.priority, t.category, t.queue_id, t.requester_id," \
    " t.assignee_id, t.org_id, t.merged_into, t.created_at, t.updated_at, t.version"

/* The page of a list: lim + 1 rows to learn whether there is a next page;
 * the cursor is made from the last row shown. */
static char *list_page_sql(const struct sort_spec *s, const char *where, const char *lim)
{
    const char *dir = s->desc ? "DESC" : "ASC";
    size_t idx = (size_t)(s - sorts);
    struct strbuf b = STRBUF_INIT;
    strbuf_addf(&b, "WITH page AS (SELECT " PAGE_COLS ", %s AS sort_key FROM tickets t WHERE %s"
                " ORDER BY %s %s, t.id %s LIMIT %s + 1)", s->expr ? s->expr : "0", where,
                s->expr ? s->expr : "t.id", dir, dir, lim);
    strbuf_addf(&b, " SELECT json_build_object('items', coalesce((SELECT json_agg(" ITEM_JSON("p")
                " ORDER BY p.sort_key %s, p.id %s) FROM (SELECT * FROM page ORDER BY sort_key %s, id %s"
                " LIMIT %s) p), '[]'), 'next_cursor', (SELECT ", dir, dir, dir, dir, lim);
    if (idx == 0)
        strbuf_adds(&b, "'c1_' || ((extract(epoch FROM l.sort_key) * 1000000)::bigint)::text");
    else if (s->kind == KEY_TIME)
        strbuf_addf(&b, "'c2_%zu_' || ((extract(epoch FROM l.sort_key) * 1000000)::bigint)::text", idx);
    else
        strbuf_addf(&b, "'c2_%zu_' || l.sort_key::text", idx);
    strbuf_addf(&b, " || '_' || l.id FROM (SELECT * FROM page ORDER BY sort_key %s, id %s OFFSET %s - 1"
                " LIMIT 1) l WHERE (SELECT count(*) FROM page) > %s))", dir, dir, lim, lim);
    size_t len;
    return strbuf_steal(&b, &len);
}

/* The unfiltered first and later pages in the default order -- what a
 * desk or an integration asks for most -- run as prepared statements,
 * one per kind of caller and with or without a cursor, so their plan is
 * made once per connection (planning costs more than running them).
 * Each visibility clause here is TICKET_VISIBLE specialised for one role. */
#define PAGE_SQL(vis, cursor, lim) \
    "WITH page AS (SELECT " PAGE_COLS ", t.updated_at AS sort_key FROM tickets t WHERE " vis cursor \
    "  ORDER BY t.updated_at DESC, t.id DESC LIMIT " lim " + 1)" \
    " SELECT json_build_object(" \
    "   'items', coalesce((SELECT json_agg(" ITEM_JSON("p") " ORDER BY p.updated_at DESC, p.id DESC) FROM" \
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
    { { "tickets_page_all2", PAGE_SQL("true", "", "$1::int"), 1 },
      { "tickets_page_all2_c", PAGE_SQL("true", CUR("$2", "$3"), "$1::int"), 3 } },
    { { "tickets_page_agent2", PAGE_SQL(VIS_AGENT, "", "$2::int"), 2 },
      { "tickets_page_agent2_c", PAGE_SQL(VIS_AGENT, CUR("$3", "$4"), "$2::int"), 4 } },
    { { "tickets_page_cust2", PAGE_SQL(VIS_CUST, "", "$4::int"), 4 },
      { "tickets_page_cust2_c", PAGE_SQL(VIS_CUST, CUR("$5", "$6"), "$4::int"), 6 } },
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

static void list_params_free(struct list_params *lp)
{
    list_filters_free(&lp->lf);
}

static int h_list(struct api_req *r)
{
    const char *e = NULL;
    struct list_params lp;
    memset(&lp, 0, sizeof(lp));
    list_filters_collect(r->api->rt, &lp.lf);
    const char *allowed[sizeof(list_names) / sizeof(list_names[0]) + LIST_FILTER_MAX];
    size_t na = 0;
    for (; list_names[na]; na++)
        allowed[na] = list_names[na];
    for (size_t i = 0; i < lp.lf.n; i++)
        allowed[na++] = lp.lf.param[i];
    allowed[na] = NULL;
    struct list_err le = { 0, false, "", "", NULL };
    if (api_query_check(r, allowed) < 0 || list_read(r, from_query, NULL, "", &lp, &le) < 0) {
        lerr_answer(r, &le);
        list_params_free(&lp);
        return 0;
    }
    PGresult *res;
    if (list_plain(&lp)) {
        res = list_page(r, lp.limit, lp.has_cursor ? lp.ckey : NULL, lp.has_cursor ? lp.cid : NULL, &e);
    } else {
        struct ticket_visibility v;
        struct list_sql ls;
        ticket_vis_params(r, &v);
        list_where(&lp, &v, true, &ls);
        char lim[24];
        snprintf(lim, sizeof(lim), "$%d::int", list_param(&ls, lp.limit));
        char *sql = list_page_sql(lp.sort, strbuf_str(&ls.where), lim);
        res = db_exec(r->db, sql, ls.np, ls.p, &e);
        free(sql);
        strbuf_free(&ls.where);
    }
    list_params_free(&lp);
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

/* ---- for saved views (api_tickets.h) -------------------------------------------- */

int ticket_list_filter_check(struct api_req *r, json_t *filter)
{
    struct list_params lp;
    memset(&lp, 0, sizeof(lp));
    if (!json_is_object(filter))
        return api_problem(r, 400, "filter", "field 'filter' must be an object of list parameters"), -1;
    list_filters_collect(r->api->rt, &lp.lf);
    const char *key;
    json_t *v;
    int rc = 0;
    struct list_err le = { 0, false, "", "", NULL };
    json_object_foreach(filter, key, v) {
        if (!is_list_name(key, true) && !is_plugin_param(&lp.lf, key)) {
            rc = lerr(&le, "filter.", key, "'%s' is not a parameter a saved view can hold (those of "
                      "GET /api/v1/tickets but limit and cursor)", key);
            break;
        }
    }
    if (rc == 0)
        rc = list_read(r, from_filter, filter, "filter.", &lp, &le);
    if (rc < 0)
        lerr_answer(r, &le);
    list_params_free(&lp);
    return rc;
}

int ticket_list_count(struct api_req *r, json_t *filter, long long cap, long long *count_r,
                      const char **error_r)
{
    struct list_params lp;
    struct list_err le = { 0, false, "", "", NULL };
    memset(&lp, 0, sizeof(lp));
    list_filters_collect(r->api->rt, &lp.lf);
    /* a stored filter was checked when saved; one a plugin no longer
     * offers (or that no longer reads) counts as unknown */
    int rc = json_is_object(filter);
    const char *key;
    json_t *v;
    if (rc == 1)
        json_object_foreach(filter, key, v)
            if (!is_list_name(key, true) && !is_plugin_param(&lp.lf, key))
                rc = 0;
    if (rc == 1 && list_read(r, from_filter, filter, "filter.", &lp, &le) < 0) {
        rc = le.status >= 500 || le.sent ? -1 : 0;
        if (rc < 0)
            err_set(error_r, "%s", le.db_error ? le.db_error : "no database connection");
    }
    if (rc == 1) {
        struct ticket_visibility vis;
        struct list_sql ls;
        ticket_vis_params(r, &vis);
        list_where(&lp, &vis, false, &ls);
        char capt[24];
        snprintf(capt, sizeof(capt), "%lld", cap + 1);
        struct strbuf sql = STRBUF_INIT;
        strbuf_addf(&sql, "SELECT count(*) FROM (SELECT 1 FROM tickets t WHERE %s LIMIT $%d::int) x",
                    strbuf_str(&ls.where), list_param(&ls, capt));
        PGresult *res = db_exec(r->db, sql.s, ls.np, ls.p, error_r);
        strbuf_free(&sql);
        strbuf_free(&ls.where);
        if (res == NULL) {
            rc = strncmp(db_last_sqlstate(r->db), "22", 2) == 0 ? 0 : -1;
        } else {
            *count_r = atoll(PQgetvalue(res, 0, 0));
            PQclear(res);
        }
    }
    list_params_free(&lp);
    return rc;
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
    " 'assignee', (SELECT json_build_object('id', u.id, 'name', u.name)"
    "                FROM users u WHERE u.id = t.assignee_id),"
    " 'queue', (SELECT json_build_object('id', q.id, 'name', q.name) FROM queues q WHERE q.id = t.queue_id),"
    " 'org', (SELECT json_build_object('id', o.id, 'name', o.name) FROM orgs o WHERE o.id = t.org_id),"
    " 'draft', CASE WHEN $2::text <> 'customer' THEN (SELECT json_build_object('kind', d.kind,"
    "     'body', d.body, 'status', d.status, 'updated_at', d.updated_at,"
    "     'attachments', coalesce((SELECT json_agg(json_build_object('id', a.id, 'filename', a.filename,"
    "         'content_type', a.content_type, 'size', a.size) ORDER BY a.id) FROM attachments a"
    "       WHERE a.id = ANY (d.attachment_ids) AND a.message_id IS NULL"
    "         AND a.uploaded_by = $1::bigint), '[]'))"
    "   FROM ticket_drafts d WHERE d.ticket_id = t.id AND d.user_id = $1::bigint) END,"
    " 'messages', coalesce((SELECT json_agg(json_build_object("
    "     'id', m.id, 'direction', m.direction, 'visibility', m.visibility,"
    "     'author_id', m.author_id, 'from_addr', m.from_addr, 'subject', m.subject,"
    "     'body_text', m.body_text, 'body_html', m.body_html, 'created_at', m.created_at,"
    "     'new_text', coalesce(m.new_text, m.body_text), 'remote_images', m.remote_images,"
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
    static const struct db_stmt get_stmt = { "ticket_get2", get_sql, 5 };
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
int ticket_if_match(struct api_req *r, json_t *body, long long *v_r)
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
    if (bv != NULL && b <= 0)
        return api_problem(r, 400, "version", "a version is a positive number (the ticket's "
                           "ETag \"vN\")"), -1;
    if (hv > 0 && b > 0 && hv != b)
        return api_problem(r, 400, "version", "If-Match and the body's version differ"), -1;
    *v_r = hv > 0 ? hv : b;
    return 0;
}

/* {"ticket_id", "version", "since", "changes", "messages"} of one ticket. */
static json_t *stale_part(struct api_req *r, long long id, long long since, struct err *err)
{
    struct desk_actor who;
    struct desk_tx tx;
    api_actor(r, &who);
    api_desk_tx(r, &who, &tx);
    json_t *o = NULL;
    if (ticket_changes_since(&tx, id, since, &o, err) < 0)
        return NULL;
    json_object_set_new(o, "ticket_id", json_integer(id));
    return o;
}

bool ticket_stale(const struct err *err)
{
    return err->code == ERR_CONFLICT && err->field != NULL
           && (strcmp(err->field, "version") == 0 || strcmp(err->field, "into_version") == 0);
}

json_t *ticket_stale_json(struct api_req *r, const struct err *conflict, long long id,
                          long long expect, long long into_id, long long into_expect,
                          struct err *err)
{
    /* the text lives in a per-thread ring (lib/err.h): kept before more calls */
    char detail[256];
    snprintf(detail, sizeof(detail), "%s", conflict->text ? conflict->text
                                           : "the ticket changed since you saw it");
    const char *field = conflict->field;
    bool into = strcmp(field, "into_version") == 0;
    json_t *o = into ? stale_part(r, into_id, into_expect, err) : stale_part(r, id, expect, err);
    if (o == NULL)
        return NULL;
    json_object_set_new(o, "detail", json_string(detail));
    json_object_set_new(o, "field", json_string(field));
    /* a merge whose source moved on: the target may have too */
    if (!into && into_id > 0 && into_expect > 0) {
        json_t *t = stale_part(r, into_id, into_expect, err);
        if (t == NULL) {
            json_decref(o);
            return NULL;
        }
        if (json_integer_value(json_object_get(t, "version")) != into_expect)
            json_object_set_new(o, "into", t);
        else
            json_decref(t);
    }
    return o;
}

int ticket_write_fail(struct api_req *r, long long id, long long expect, long long into_id,
                      long long into_expect, const char *what, const struct err *err)
{
    if (!ticket_stale(err)
        || (strcmp(err->field, "version") == 0 ? expect : into_expect) <= 0)
        return api_desk_fail(r, what, err);
    struct err conflict = *err;
    char detail[256];
    snprintf(detail, sizeof(detail), "%s", err->text ? err->text : "the ticket changed");
    conflict.text = detail;
    if (db_in_transaction(r->db))
        db_rollback(r->db);
    struct err e2 = { ERR_OK, NULL, NULL };
    json_t *since = ticket_stale_json(r, &conflict, id, expect, into_id, into_expect, &e2);
    if (since == NULL)
        return api_desk_fail(r, what, &e2);
    json_t *o = json_pack("{s:s, s:i}", "title", "Conflict", "status", 409);
    json_object_update(o, since);
    json_decref(since);
    char *s = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    if (s == NULL)
        return api_problem(r, 409, conflict.field, "%s", detail);
    api_raw(r, 409, "application/problem+json", s, strlen(s));
    free(s);
    return 0;
}

static int write_fail(struct api_req *r, long long id, long long expect, const char *what,
                      const struct err *err)
{
    return ticket_write_fail(r, id, expect, 0, 0, what, err);
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

/* Uploads a reply or note takes: no more than their bytes would let
 * its mail be sent (mail.max_message_size, when mail-in's keys are
 * loaded; else web.max_body). */
static long long attachments_total_max(struct api_req *r)
{
    runtime_rdlock(r->api->rt);
    long long m = r->api->rt->cfg ? r->api->rt->cfg->mail_max_message_size : 0;
    runtime_rdunlock(r->api->rt);
    return m > 0 ? m : r->api->max_body;
}

static int post_message(struct api_req *r, bool note)
{
    static const struct api_field f[] = {
        { "body", F_STR, true, BODY_MAX }, { "status", F_STR, false, 16 },
        { "attachment_ids", F_ID_ARRAY, false, ATTACHMENT_MAX_PER_MESSAGE },
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
    if (ticket_if_match(r, b, &expect) < 0)
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
    /* the uploads it carries, before its mail is built (after the commit) */
    json_t *ja = json_object_get(b, "attachment_ids");
    if (rc == 0 && json_array_size(ja) > 0) {
        long long ids[ATTACHMENT_MAX_PER_MESSAGE];
        size_t n = 0, i;
        json_t *x;
        json_array_foreach(ja, i, x)
            ids[n++] = json_integer_value(x);
        rc = attachment_claim(&tx, mid, ids, n, attachments_total_max(r), &err);
    }
    /* what was being written is sent: its draft goes */
    if (rc == 0 && staff)
        rc = draft_delete(&tx, id, NULL, &err);
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
    if (ticket_if_match(r, b, &expect) < 0)
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
    if (ticket_if_match(r, b, &expect) < 0)
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
                                          { "version", F_INT, false, 0 },
                                          { "into_version", F_INT, false, 0 }, { NULL, 0, 0, 0 } };
    const char *e = NULL;
    struct err err = { ERR_OK, NULL, NULL };
    int _desk_rc;
    json_t *b = api_body(r, f);
    if (b == NULL || api_db(r) == NULL)
        return 0;
    struct ticket_merge_in in = {
        .source = r->m.ids[0], .target = json_integer_value(json_object_get(b, "into_id")),
        .force = json_is_true(json_object_get(b, "force")),
        .expect_target = json_integer_value(json_object_get(b, "into_version")),
    };
    if (ticket_if_match(r, b, &in.expect_source) < 0)
        return 0;
    if (json_object_get(b, "into_version") && in.expect_target <= 0)
        return api_problem(r, 400, "into_version", "a version is a positive number (the "
                           "target ticket's ETag \"vN\")");
    struct desk_actor who;
    struct desk_tx tx;
    api_actor(r, &who);
    api_desk_tx(r, &who, &tx);
    if (db_begin(r->db, &e) < 0)
        return api_db_fail(r, "merging", e);
    if (DESK_CALL(r, ticket_merge(&tx, &in, NULL, &err)) < 0)
        return ticket_write_fail(r, in.source, in.expect_source, in.target, in.expect_target,
                                 "merging", &err);
    if (db_commit(r->db, &e) < 0) {
        db_rollback(r->db);
        return api_db_fail(r, "merging", e);
    }
    return send_ticket(r, 200, in.target);
}

static int h_link(struct api_req *r)
{
    static const struct api_field f[] = { { "ticket_id", F_INT, true, 0 }, { "version", F_INT, false, 0 },
                                          { NULL, 0, 0, 0 } };
    const char *e = NULL;
    struct err err = { ERR_OK, NULL, NULL };
    int _desk_rc;
    json_t *b = api_body(r, f);
    if (b == NULL || api_db(r) == NULL)
        return 0;
    long long a = r->m.ids[0], o = json_integer_value(json_object_get(b, "ticket_id"));
    long long expect = 0;
    if (ticket_if_match(r, b, &expect) < 0)
        return 0;
    struct desk_actor who;
    struct desk_tx tx;
    api_actor(r, &who);
    api_desk_tx(r, &who, &tx);
    if (db_begin(r->db, &e) < 0)
        return api_db_fail(r, "linking", e);
    if (DESK_CALL(r, ticket_link_guarded(&tx, a, o, expect, &err)) < 0)
        return write_fail(r, a, expect, "linking", &err);
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
    long long expect = 0;
    if (api_no_body(r) < 0 || ticket_if_match(r, NULL, &expect) < 0)
        return 0;
    struct desk_actor who;
    struct desk_tx tx;
    api_actor(r, &who);
    api_desk_tx(r, &who, &tx);
    if (db_begin(r->db, &e) < 0)
        return api_db_fail(r, "unlinking", e);
    if (DESK_CALL(r, ticket_unlink(&tx, r->m.ids[0], r->m.ids[1], expect, &err)) < 0)
        return write_fail(r, r->m.ids[0], expect, "unlinking", &err);
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
