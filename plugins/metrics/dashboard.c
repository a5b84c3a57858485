/* plugins/metrics/dashboard.c -- see dashboard.h. */
#include "dashboard.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

/* $1: queue id or NULL.  One scan of the open tickets, grouped five ways
 * at once; GROUPING() tells the sets apart (a bit per column left out). */
static const char q_open[] =
    "WITH g AS ("
    "  SELECT GROUPING(status, priority, queue_id, assignee_id) AS grp,"
    "         status, priority, queue_id, assignee_id, count(*) AS n"
    "    FROM tickets"
    "   WHERE status IN ('new', 'open', 'pending') AND merged_into IS NULL"
    "     AND ($1::bigint IS NULL OR queue_id = $1::bigint)"
    "   GROUP BY GROUPING SETS ((), (status), (priority), (queue_id), (assignee_id)))"
    " SELECT json_build_object("
    "  'total', coalesce((SELECT n FROM g WHERE grp = 15), 0),"
    "  'by_status', (SELECT json_object_agg(s, coalesce(g.n, 0) ORDER BY o)"
    "                  FROM unnest(ARRAY['new', 'open', 'pending']) WITH ORDINALITY AS v(s, o)"
    "                  LEFT JOIN g ON g.grp = 7 AND g.status = v.s),"
    "  'by_priority', (SELECT json_object_agg(p, coalesce(g.n, 0) ORDER BY o)"
    "                  FROM unnest(ARRAY['low', 'normal', 'high', 'urgent']) WITH ORDINALITY AS v(p, o)"
    "                  LEFT JOIN g ON g.grp = 11 AND g.priority = v.p),"
    "  'by_queue', (SELECT coalesce(json_agg(json_build_object('queue_id', q.id, 'name', q.name,"
    "                                        'count', coalesce(g.n, 0))"
    "                                        ORDER BY coalesce(g.n, 0) DESC, q.name), '[]')"
    "                 FROM queues q LEFT JOIN g ON g.grp = 13 AND g.queue_id = q.id"
    "                WHERE $1::bigint IS NULL OR q.id = $1::bigint),"
    "  'by_assignee', (SELECT coalesce(json_agg(json_build_object('assignee_id', g.assignee_id,"
    "                                           'name', u.name, 'email', u.email, 'count', g.n)"
    "                                           ORDER BY g.n DESC, g.assignee_id NULLS FIRST), '[]')"
    "                    FROM g LEFT JOIN users u ON u.id = g.assignee_id WHERE g.grp = 14))";

/* $1 now (epoch seconds), $2 days, $3 queue id or NULL.  A ticket counts
 * when its first message came from outside (a customer opened it); its
 * first response is the first public message from staff. */
static const char q_first_response[] =
    "WITH c AS ("
    "  SELECT t.created_at,"
    "         (SELECT m.direction FROM messages m WHERE m.ticket_id = t.id"
    "           ORDER BY m.created_at, m.id LIMIT 1) AS first_dir,"
    "         (SELECT min(m.created_at) FROM messages m WHERE m.ticket_id = t.id"
    "             AND m.direction = 'out' AND m.visibility = 'public'"
    "             AND m.created_at <= to_timestamp($1)) AS first_out"
    "    FROM tickets t"
    "   WHERE t.merged_into IS NULL"
    "     AND t.created_at > to_timestamp($1) - $2::int * interval '1 day'"
    "     AND t.created_at <= to_timestamp($1)"
    "     AND ($3::bigint IS NULL OR t.queue_id = $3::bigint)),"
    " r AS ("
    "  SELECT extract(epoch FROM greatest(first_out - created_at, interval '0'))::float8 AS s"
    "    FROM c WHERE first_dir = 'in' AND first_out IS NOT NULL)"
    " SELECT json_build_object("
    "  'tickets', (SELECT count(*) FROM c WHERE first_dir = 'in'),"
    "  'responded', (SELECT count(*) FROM r),"
    "  'median_seconds', (SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY s) FROM r),"
    "  'p90_seconds', (SELECT percentile_cont(0.9) WITHIN GROUP (ORDER BY s) FROM r))";

/* $1 now, $2 days, $3 queue: tickets solved (or closed without being
 * solved first) in the window; a reopened ticket lost its solved_at. */
static const char q_resolution[] =
    "SELECT json_build_object('tickets', count(*),"
    "  'median_seconds', percentile_cont(0.5) WITHIN GROUP (ORDER BY s),"
    "  'p90_seconds', percentile_cont(0.9) WITHIN GROUP (ORDER BY s))"
    "  FROM (SELECT extract(epoch FROM greatest(coalesce(solved_at, closed_at) - created_at,"
    "                                           interval '0'))::float8 AS s"
    "          FROM tickets"
    "         WHERE merged_into IS NULL AND status IN ('solved', 'closed')"
    "           AND coalesce(solved_at, closed_at) > to_timestamp($1) - $2::int * interval '1 day'"
    "           AND coalesce(solved_at, closed_at) <= to_timestamp($1)"
    "           AND ($3::bigint IS NULL OR queue_id = $3::bigint)) x";

/* Whether the tables of other plugins are there, with the columns read. */
static const char q_sources[] =
    "SELECT (SELECT count(*) FROM information_schema.columns"
    "         WHERE table_schema = current_schema() AND table_name = 'sla_outcomes'"
    "           AND column_name IN ('ticket_id', 'met', 'decided_at')) = 3,"
    "       (SELECT count(*) FROM information_schema.columns"
    "         WHERE table_schema = current_schema() AND table_name = 'csat_ratings'"
    "           AND column_name IN ('ticket_id', 'score', 'created_at')) = 3";

static const char q_sla[] =
    "SELECT json_build_object('available', true,"
    "  'met', count(*) FILTER (WHERE o.met), 'missed', count(*) FILTER (WHERE NOT o.met),"
    "  'compliance_percent', round(100.0 * count(*) FILTER (WHERE o.met) / nullif(count(*), 0), 1))"
    "  FROM sla_outcomes o JOIN tickets t ON t.id = o.ticket_id"
    " WHERE o.met IS NOT NULL"
    "   AND o.decided_at > to_timestamp($1) - $2::int * interval '1 day'"
    "   AND o.decided_at <= to_timestamp($1)"
    "   AND ($3::bigint IS NULL OR t.queue_id = $3::bigint)";

static const char q_csat[] =
    "SELECT json_build_object('available', true,"
    "  'average', round(avg(c.score)::numeric, 2), 'count', count(*))"
    "  FROM csat_ratings c JOIN tickets t ON t.id = c.ticket_id"
    " WHERE c.created_at > to_timestamp($1) - $2::int * interval '1 day'"
    "   AND c.created_at <= to_timestamp($1)"
    "   AND ($3::bigint IS NULL OR t.queue_id = $3::bigint)";

/* $1 now, $2 time zone, $3 queue: the last 90 calendar days there. */
static const char q_daily[] =
    "WITH b AS (SELECT (to_timestamp($1) AT TIME ZONE $2::text)::date AS last_day),"
    " w AS (SELECT (b.last_day - 89)::timestamp AT TIME ZONE $2::text AS since FROM b),"
    " days AS (SELECT b.last_day - k AS day FROM b, generate_series(0, 89) k),"
    " created AS ("
    "  SELECT (t.created_at AT TIME ZONE $2::text)::date AS day, count(*) AS n FROM tickets t, w"
    "   WHERE t.merged_into IS NULL AND t.created_at >= w.since AND t.created_at <= to_timestamp($1)"
    "     AND ($3::bigint IS NULL OR t.queue_id = $3::bigint) GROUP BY 1),"
    " solved AS ("
    "  SELECT (coalesce(t.solved_at, t.closed_at) AT TIME ZONE $2::text)::date AS day, count(*) AS n"
    "    FROM tickets t, w"
    "   WHERE t.merged_into IS NULL AND t.status IN ('solved', 'closed')"
    "     AND coalesce(t.solved_at, t.closed_at) >= w.since"
    "     AND coalesce(t.solved_at, t.closed_at) <= to_timestamp($1)"
    "     AND ($3::bigint IS NULL OR t.queue_id = $3::bigint) GROUP BY 1)"
    " SELECT json_agg(json_build_object('date', d.day, 'created', coalesce(c.n, 0),"
    "                                   'solved', coalesce(s.n, 0)) ORDER BY d.day)"
    "   FROM days d LEFT JOIN created c ON c.day = d.day LEFT JOIN solved s ON s.day = d.day";

static const char q_history[] =
    "SELECT coalesce(json_agg(json_build_object("
    "         'hour', to_char(hour AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'),"
    "         'taken_at', to_char(taken_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'),"
    "         'data', data) ORDER BY hour), '[]')"
    "  FROM metrics_snapshots"
    " WHERE hour > to_timestamp($1) - $2::int * interval '1 hour' AND hour <= to_timestamp($1)";

/* Runs a statement answering one JSON value and appends it to out. */
static int add_json(const struct mx *m, struct atum_db *db, const char *sql, int n,
                    const char *const *params, struct buf *out, const char **error_r)
{
    struct atum_rows *r = NULL;
    if (m->host->sql(db, sql, n, params, &r, error_r) < 0)
        return -1;
    const char *v = m->host->rows_value(r, 0, 0);
    buf_adds(out, v ? v : "null");
    m->host->rows_free(&r);
    return 0;
}

int dashboard_open_json(const struct mx *m, struct atum_db *db, long long queue_id,
                        struct buf *out, const char **error_r)
{
    char q[24];
    snprintf(q, sizeof(q), "%lld", queue_id);
    const char *p[] = { queue_id > 0 ? q : NULL };
    return add_json(m, db, q_open, 1, p, out, error_r);
}

static void iso_time(char out[32], double t)
{
    time_t s = (time_t)t;
    struct tm tm;
    gmtime_r(&s, &tm);
    strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

int dashboard_route(void *state, const struct atum_http_req *req, struct atum_http_resp *resp)
{
    struct mx *m = state;
    const struct atum_host *h = m->host;
    long long days = 30, queue = 0;
    if (mx_query_int(req->query, "days", 1, DASHBOARD_MAX_DAYS, &days) < 0) {
        mx_problem(m, resp, 400, "days must be a whole number from 1 to 365");
        return 0;
    }
    if (mx_query_int(req->query, "queue_id", 1, 999999999999999999LL, &queue) < 0) {
        mx_problem(m, resp, 400, "queue_id must be a queue's id");
        return 0;
    }
    double now = h->now();
    char snow[32], sdays[16], squeue[24], iso[32];
    snprintf(snow, sizeof(snow), "%.6f", now);
    snprintf(sdays, sizeof(sdays), "%lld", days);
    snprintf(squeue, sizeof(squeue), "%lld", queue);
    iso_time(iso, now);
    const char *pw[] = { snow, sdays, queue > 0 ? squeue : NULL };
    const char *pd[] = { snow, m->timezone, queue > 0 ? squeue : NULL };
    struct buf b = BUF_INIT;
    struct atum_rows *r = NULL;
    const char *e = NULL;
    int ret = -1;

    buf_adds(&b, "{\"generated_at\":");
    buf_add_json_string(&b, iso);
    buf_addf(&b, ",\"window_days\":%lld,\"timezone\":", days);
    buf_add_json_string(&b, m->timezone);
    if (queue > 0)
        buf_addf(&b, ",\"queue_id\":%lld", queue);
    else
        buf_adds(&b, ",\"queue_id\":null");
    buf_adds(&b, ",\"open\":");
    if (dashboard_open_json(m, req->db, queue, &b, &e) < 0)
        goto fail;
    buf_adds(&b, ",\"first_response\":");
    if (add_json(m, req->db, q_first_response, 3, pw, &b, &e) < 0)
        goto fail;
    buf_adds(&b, ",\"resolution\":");
    if (add_json(m, req->db, q_resolution, 3, pw, &b, &e) < 0)
        goto fail;
    if (h->sql(req->db, q_sources, 0, NULL, &r, &e) < 0)
        goto fail;
    const char *has_sla = h->rows_value(r, 0, 0), *has_csat = h->rows_value(r, 0, 1);
    bool sla = has_sla && has_sla[0] == 't', csat = has_csat && has_csat[0] == 't';
    h->rows_free(&r);
    buf_adds(&b, ",\"sla\":");
    if (!sla)
        buf_adds(&b, "{\"available\":false,\"met\":null,\"missed\":null,\"compliance_percent\":null}");
    else if (add_json(m, req->db, q_sla, 3, pw, &b, &e) < 0)
        goto fail;
    buf_adds(&b, ",\"csat\":");
    if (!csat)
        buf_adds(&b, "{\"available\":false,\"average\":null,\"count\":null}");
    else if (add_json(m, req->db, q_csat, 3, pw, &b, &e) < 0)
        goto fail;
    buf_adds(&b, ",\"daily\":");
    if (add_json(m, req->db, q_daily, 3, pd, &b, &e) < 0)
        goto fail;
    buf_adds(&b, "}");
    mx_json(m, resp, &b);
    ret = 0;
    goto out;
fail:
    h->log(ATUM_LOG_ERROR, "dashboard: %s", e);
    mx_problem(m, resp, 500, "the dashboard could not be computed (see the log)");
out:
    buf_free(&b);
    return ret;
}

int history_route(void *state, const struct atum_http_req *req, struct atum_http_resp *resp)
{
    struct mx *m = state;
    long long hours = 168;
    if (mx_query_int(req->query, "hours", 1, HISTORY_MAX_HOURS, &hours) < 0) {
        mx_problem(m, resp, 400, "hours must be a whole number from 1 to 9600");
        return 0;
    }
    char snow[32], shours[16];
    snprintf(snow, sizeof(snow), "%.6f", m->host->now());
    snprintf(shours, sizeof(shours), "%lld", hours);
    const char *p[] = { snow, shours };
    struct buf b = BUF_INIT;
    const char *e = NULL;
    buf_addf(&b, "{\"hours\":%lld,\"snapshots\":", hours);
    int rc = add_json(m, req->db, q_history, 2, p, &b, &e);
    if (rc == 0) {
        buf_adds(&b, "}");
        mx_json(m, resp, &b);
    } else {
        m->host->log(ATUM_LOG_ERROR, "history: %s", e);
        mx_problem(m, resp, 500, "the history could not be read (see the log)");
    }
    buf_free(&b);
    return rc;
}
