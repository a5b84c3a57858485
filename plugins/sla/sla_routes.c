/* sla/sla_routes.c -- the sla plugin's HTTP routes (under
 * /api/v1/plugins/sla/, in the OpenAPI document) and its part of a
 * ticket's API answer.  Agents read; admins edit.  Every edit bumps the
 * configuration version in its own transaction and, when states can
 * change, enqueues the recompute there too.  See sla-private.h. */
#include "sla-private.h"
#include "civil.h"
#include "render.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- answers ---------------------------------------------------------------- */

static int reply(struct sla_plugin *p, struct atum_http_resp *resp, int status, json_t *body)
{
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    if (text == NULL) {
        static const char oom[] = "{\"title\":\"Internal Server Error\",\"status\":500}";
        p->host->http_reply(resp, 500, "application/problem+json", oom, sizeof(oom) - 1);
        return -1;
    }
    p->host->http_reply(resp, status, "application/json", text, strlen(text));
    free(text);
    return 0;
}

static int problem(struct sla_plugin *p, struct atum_http_resp *resp, int status, const char *title,
                   const char *detail)
{
    json_t *o = json_pack("{s:s, s:i, s:s?}", "title", title, "status", status, "detail", detail);
    char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    p->host->http_reply(resp, status, "application/problem+json", text ? text : "{}",
                        text ? strlen(text) : 2);
    free(text);
    return status >= 500 ? -1 : 0;
}

static int db_failed(struct sla_plugin *p, struct atum_http_resp *resp, const char *e)
{
    p->host->log(ATUM_LOG_ERROR, "route: %s", e);
    return problem(p, resp, 500, "Internal Server Error", "the database failed; see the log");
}

/* The value of name=... in the query (copied), or NULL. */
static const char *query_param(const char *query, const char *name, char *buf, size_t size)
{
    size_t n = strlen(name);
    for (const char *q = query; q && *q;) {
        const char *end = strchr(q, '&');
        size_t len = end ? (size_t)(end - q) : strlen(q);
        if (len > n && strncmp(q, name, n) == 0 && q[n] == '=') {
            if (len - n - 1 >= size)
                return NULL;
            memcpy(buf, q + n + 1, len - n - 1);
            buf[len - n - 1] = '\0';
            return buf;
        }
        q = end ? end + 1 : NULL;
    }
    return NULL;
}

/* A positive id from ?id= (or another name); 0 when absent or malformed. */
static long long query_id(const struct atum_http_req *req, const char *name)
{
    char buf[24];
    const char *v = query_param(req->query, name, buf, sizeof(buf));
    if (v == NULL || *v == '\0')
        return 0;
    char *end;
    long long id = strtoll(v, &end, 10);
    return *end == '\0' && id > 0 ? id : 0;
}

static json_t *body_object(const struct atum_http_req *req, const char **why)
{
    json_error_t je;
    if (req->body == NULL) {
        *why = "a JSON object is expected";
        return NULL;
    }
    json_t *j = json_loadb(req->body, req->body_len, JSON_REJECT_DUPLICATES, &je);
    if (!json_is_object(j)) {
        json_decref(j);
        *why = "the body is not a JSON object";
        return NULL;
    }
    return j;
}

/* ---- configuration edits ---------------------------------------------------- */

/* In the caller's transaction: the next configuration version, and the
 * recompute of open tickets when states may change. */
static int config_changed(struct sla_plugin *p, struct atum_db *db, bool recompute, const char **e)
{
    struct atum_rows *rows = NULL;
    if (p->host->sql(db, "UPDATE sla_config SET version = version + 1 RETURNING version", 0, NULL, &rows,
                     e) < 0)
        return -1;
    long long v = atoll(p->host->rows_value(rows, 0, 0));
    p->host->rows_free(&rows);
    return recompute ? sla_request_recompute(p, db, v, e) : 0;
}

static int commit_or_fail(struct sla_plugin *p, struct atum_db *db, struct atum_http_resp *resp,
                          const char *e)
{
    p->host->tx_rollback(db);
    return db_failed(p, resp, e);
}

/* ---- calendars ---------------------------------------------------------------- */

#define CAL_COLS "id, name, version, spec::text, " SQL_TS_TO_MS("updated_at")

static json_t *calendar_json(const struct atum_host *h, struct atum_rows *rows, int i)
{
    json_t *o = json_loads(h->rows_value(rows, i, 3), 0, NULL);
    if (!json_is_object(o)) {
        json_decref(o);
        o = json_object();
    }
    json_object_set_new(o, "id", json_integer(atoll(h->rows_value(rows, i, 0))));
    json_object_set_new(o, "name", json_string(h->rows_value(rows, i, 1)));
    json_object_set_new(o, "version", json_integer(atoll(h->rows_value(rows, i, 2))));
    json_object_set_new(o, "updated_at", sla_json_instant(atoll(h->rows_value(rows, i, 4))));
    return o;
}

/* A row of a list or one object, read by its column list. */
typedef json_t *(*row_json_fn)(const struct atum_host *h, struct atum_rows *rows, int i);

/* GET of a whole table: {"<key>": [rows...]} in the SELECT's order. */
static int list_rows(struct sla_plugin *p, const struct atum_http_req *req, struct atum_http_resp *resp,
                     const char *sql, const char *key, row_json_fn row_json)
{
    struct atum_rows *rows = NULL;
    const char *e = NULL;
    if (p->host->sql(req->db, sql, 0, NULL, &rows, &e) < 0)
        return db_failed(p, resp, e);
    json_t *list = json_array();
    for (int i = 0; i < p->host->rows_count(rows); i++)
        json_array_append_new(list, row_json(p->host, rows, i));
    p->host->rows_free(&rows);
    return reply(p, resp, 200, json_pack("{s:o}", key, list));
}

/* GET ?id=N of one row; 404 names what was not found. */
static int get_row(struct sla_plugin *p, const struct atum_http_req *req, struct atum_http_resp *resp,
                   const char *sql, const char *not_found, row_json_fn row_json)
{
    char id[24];
    snprintf(id, sizeof(id), "%lld", query_id(req, "id"));
    const char *params[] = { id };
    struct atum_rows *rows = NULL;
    const char *e = NULL;
    if (p->host->sql(req->db, sql, 1, params, &rows, &e) < 0)
        return db_failed(p, resp, e);
    if (p->host->rows_count(rows) == 0) {
        p->host->rows_free(&rows);
        return problem(p, resp, 404, "Not Found", not_found);
    }
    json_t *o = row_json(p->host, rows, 0);
    p->host->rows_free(&rows);
    return reply(p, resp, 200, o);
}

static int list_calendars(void *state, const struct atum_http_req *req, struct atum_http_resp *resp)
{
    return list_rows(state, req, resp, "SELECT " CAL_COLS " FROM sla_calendars ORDER BY name", "calendars",
                     calendar_json);
}

static int get_calendar(void *state, const struct atum_http_req *req, struct atum_http_resp *resp)
{
    return get_row(state, req, resp, "SELECT " CAL_COLS " FROM sla_calendars WHERE id = $1",
                   "no such calendar (?id=N)", calendar_json);
}

/* Checks a calendar body; *spec_r the stored form (without the name). */
static int calendar_body(struct sla_plugin *p, const struct atum_http_req *req, char **name_r,
                         char **spec_r, const char **why)
{
    json_t *j = body_object(req, why);
    if (j == NULL)
        return -1;
    const char *name = json_string_value(json_object_get(j, "name"));
    if (name == NULL || name[0] == '\0' || strlen(name) > 127) {
        json_decref(j);
        *why = "name: text of 1 to 127 bytes";
        return -1;
    }
    *name_r = strdup(name);
    json_object_del(j, "name");
    struct sla_calendar *cal = NULL;
    if (calspec_parse(j, p->zoneinfo, &cal, why) < 0) {
        json_decref(j);
        free(*name_r);
        *name_r = NULL;
        return -1;
    }
    sla_calendar_free(&cal);
    *spec_r = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    return 0;
}

static int save_calendar(struct sla_plugin *p, const struct atum_http_req *req, struct atum_http_resp *resp,
                         long long id)
{
    const struct atum_host *h = p->host;
    char *name = NULL, *spec = NULL;
    const char *why = NULL, *e = NULL;
    if (calendar_body(p, req, &name, &spec, &why) < 0)
        return problem(p, resp, why && strstr(why, "JSON") ? 400 : 422,
                       why && strstr(why, "JSON") ? "Bad Request" : "Unprocessable Content", why);
    char sid[24];
    snprintf(sid, sizeof(sid), "%lld", id);
    const char *params[] = { name, spec, sid };
    struct atum_rows *rows = NULL;
    int ret;
    if (h->tx_begin(req->db, &e) < 0) {
        ret = db_failed(p, resp, e);
        goto out;
    }
    /* a duplicate name is answered without an error in the log */
    const char *dup[] = { name, sid };
    if (h->sql(req->db, "SELECT 1 FROM sla_calendars WHERE name = $1 AND id <> $2::bigint", 2, dup, &rows,
               &e) < 0) {
        ret = commit_or_fail(p, req->db, resp, e);
        goto out;
    }
    bool taken = h->rows_count(rows) > 0;
    h->rows_free(&rows);
    if (taken) {
        h->tx_rollback(req->db);
        ret = problem(p, resp, 409, "Conflict", "a calendar of that name exists");
        goto out;
    }
    int rc = id == 0
        ? h->sql(req->db, "INSERT INTO sla_calendars (name, spec) VALUES ($1, $2::jsonb) RETURNING " CAL_COLS,
                 2, params, &rows, &e)
        : h->sql(req->db, "UPDATE sla_calendars SET name = $1, spec = $2::jsonb, version = version + 1,"
                          " updated_at = now() WHERE id = $3::bigint RETURNING " CAL_COLS, 3, params, &rows, &e);
    if (rc < 0) {
        ret = commit_or_fail(p, req->db, resp, e);
        goto out;
    }
    if (h->rows_count(rows) == 0) {
        h->rows_free(&rows);
        h->tx_rollback(req->db);
        ret = problem(p, resp, 404, "Not Found", "no such calendar (?id=N)");
        goto out;
    }
    /* an edited calendar moves deadlines: every open ticket is recomputed */
    if (config_changed(p, req->db, id != 0, &e) < 0 || h->tx_commit(req->db, &e) < 0) {
        h->rows_free(&rows);
        ret = commit_or_fail(p, req->db, resp, e);
        goto out;
    }
    json_t *o = calendar_json(h, rows, 0);
    h->rows_free(&rows);
    ret = reply(p, resp, id == 0 ? 201 : 200, o);
out:
    free(name);
    free(spec);
    return ret;
}

static int create_calendar(void *state, const struct atum_http_req *req, struct atum_http_resp *resp)
{
    return save_calendar(state, req, resp, 0);
}

static int update_calendar(void *state, const struct atum_http_req *req, struct atum_http_resp *resp)
{
    long long id = query_id(req, "id");
    if (id == 0)
        return problem(state, resp, 404, "Not Found", "no such calendar (?id=N)");
    return save_calendar(state, req, resp, id);
}

static int delete_row(struct sla_plugin *p, const struct atum_http_req *req, struct atum_http_resp *resp,
                      const char *what, const char *sql_used, const char *sql_delete, bool recompute)
{
    const struct atum_host *h = p->host;
    char id[24], detail[96];
    snprintf(id, sizeof(id), "%lld", query_id(req, "id"));
    const char *params[] = { id };
    struct atum_rows *rows = NULL;
    const char *e = NULL;
    if (h->tx_begin(req->db, &e) < 0)
        return db_failed(p, resp, e);
    if (sql_used != NULL) {
        if (h->sql(req->db, sql_used, 1, params, &rows, &e) < 0)
            return commit_or_fail(p, req->db, resp, e);
        bool used = h->rows_count(rows) > 0;
        h->rows_free(&rows);
        if (used) {
            h->tx_rollback(req->db);
            snprintf(detail, sizeof(detail), "the %s is used by a policy", what);
            return problem(p, resp, 409, "Conflict", detail);
        }
    }
    if (h->sql(req->db, sql_delete, 1, params, &rows, &e) < 0)
        return commit_or_fail(p, req->db, resp, e);
    bool gone = h->rows_count(rows) > 0;
    h->rows_free(&rows);
    if (!gone) {
        h->tx_rollback(req->db);
        snprintf(detail, sizeof(detail), "no such %s (?id=N)", what);
        return problem(p, resp, 404, "Not Found", detail);
    }
    if (config_changed(p, req->db, recompute, &e) < 0 || h->tx_commit(req->db, &e) < 0)
        return commit_or_fail(p, req->db, resp, e);
    h->http_reply(resp, 204, "application/json", NULL, 0);
    return 0;
}

static int delete_calendar(void *state, const struct atum_http_req *req, struct atum_http_resp *resp)
{
    return delete_row(state, req, resp, "calendar",
                      "SELECT 1 FROM sla_policies WHERE calendar_id = $1::bigint LIMIT 1",
                      "DELETE FROM sla_calendars WHERE id = $1::bigint RETURNING id", false);
}

/* The open hours of a calendar, as UTC intervals: what an admin checks an
 * edit against.  ?id=N&from=YYYY-MM-DD&days=1..62 */
static int calendar_hours(void *state, const struct atum_http_req *req, struct atum_http_resp *resp)
{
    struct sla_plugin *p = state;
    long long id = query_id(req, "id");
    char from[16], days_s[8];
    int64_t day;
    if (query_param(req->query, "from", from, sizeof(from)) == NULL || civil_parse_date(from, &day) < 0)
        return problem(p, resp, 400, "Bad Request", "from: a date YYYY-MM-DD");
    int days = query_param(req->query, "days", days_s, sizeof(days_s)) ? atoi(days_s) : 7;
    if (days < 1 || days > 62)
        return problem(p, resp, 400, "Bad Request", "days: 1..62");
    struct sla_snapshot *snap = NULL;
    const char *e = NULL;
    if (sla_snapshot_get(p, req->db, -1, &snap, &e) < 0)
        return db_failed(p, resp, e);
    const struct sla_calendar *cal = sla_rules_calendar(&snap->rules, id);
    if (cal == NULL) {
        sla_snapshot_put(p, snap);
        return problem(p, resp, 404, "Not Found", "no such calendar (?id=N), or it is unusable (see the log)");
    }
    json_t *spans = json_array();
    for (int64_t d = day; d < day + days; d++) {
        int64_t a[2 * BCAL_MAX_PER_DAY], b[2 * BCAL_MAX_PER_DAY];
        int n = bcal_day_spans(cal->bcal, d, a, b);
        for (int i = 0; i < n; i++)
            json_array_append_new(spans, json_pack("{s:o, s:o}", "from", sla_json_instant(a[i]), "to",
                                                   sla_json_instant(b[i])));
    }
    json_t *o = json_pack("{s:I, s:s, s:s, s:i, s:o}", "id", (json_int_t)id, "time_zone",
                          tz_zone_name(cal->zone), "from", from, "days", days, "open", spans);
    sla_snapshot_put(p, snap);
    return reply(p, resp, 200, o);
}

/* ---- policies ----------------------------------------------------------------- */

struct resolver_ctx {
    struct sla_plugin *p;
    struct atum_db *db;
};

static int resolve(struct resolver_ctx *c, const json_t *ref, const char *by_id, const char *by_name,
                   long long *id_r)
{
    char buf[24];
    const char *param;
    if (json_is_integer(ref) && json_integer_value(ref) > 0) {
        snprintf(buf, sizeof(buf), "%lld", (long long)json_integer_value(ref));
        param = buf;
    } else if (json_is_string(ref)) {
        param = json_string_value(ref);
    } else {
        return -1;
    }
    const char *params[] = { param };
    struct atum_rows *rows = NULL;
    const char *e = NULL;
    if (c->p->host->sql(c->db, json_is_string(ref) ? by_name : by_id, 1, params, &rows, &e) < 0)
        return -1;
    int found = c->p->host->rows_count(rows) == 1;
    if (found)
        *id_r = atoll(c->p->host->rows_value(rows, 0, 0));
    c->p->host->rows_free(&rows);
    return found ? 0 : -1;
}

static int resolve_queue(void *ctx, const json_t *ref, long long *id_r)
{
    return resolve(ctx, ref, "SELECT id FROM queues WHERE id = $1::bigint",
                   "SELECT id FROM queues WHERE name = $1", id_r);
}

static int resolve_calendar(void *ctx, const json_t *ref, long long *id_r)
{
    return resolve(ctx, ref, "SELECT id FROM sla_calendars WHERE id = $1::bigint",
                   "SELECT id FROM sla_calendars WHERE name = $1", id_r);
}

#define POL_COLS "id, version, spec::text, " SQL_TS_TO_MS("updated_at")

static json_t *policy_row_json(const struct atum_host *h, struct atum_rows *rows, int i)
{
    json_t *o = json_loads(h->rows_value(rows, i, 2), 0, NULL);
    if (!json_is_object(o)) {
        json_decref(o);
        o = json_object();
    }
    json_object_set_new(o, "id", json_integer(atoll(h->rows_value(rows, i, 0))));
    json_object_set_new(o, "version", json_integer(atoll(h->rows_value(rows, i, 1))));
    json_object_set_new(o, "updated_at", sla_json_instant(atoll(h->rows_value(rows, i, 3))));
    return o;
}

static int list_policies(void *state, const struct atum_http_req *req, struct atum_http_resp *resp)
{
    return list_rows(state, req, resp, "SELECT " POL_COLS " FROM sla_policies ORDER BY position, id", "policies",
                     policy_row_json);
}

static int get_policy(void *state, const struct atum_http_req *req, struct atum_http_resp *resp)
{
    return get_row(state, req, resp, "SELECT " POL_COLS " FROM sla_policies WHERE id = $1",
                   "no such policy (?id=N)", policy_row_json);
}

static int save_policy(struct sla_plugin *p, const struct atum_http_req *req, struct atum_http_resp *resp,
                       long long id)
{
    const struct atum_host *h = p->host;
    const char *why = NULL, *e = NULL;
    json_t *j = body_object(req, &why);
    if (j == NULL)
        return problem(p, resp, 400, "Bad Request", why);
    struct sla_policy pol;
    struct resolver_ctx rc = { p, req->db };
    struct policy_resolver r = { &rc, resolve_queue, resolve_calendar };
    int prc = policy_parse(j, &r, &pol, &why);
    json_decref(j);
    if (prc < 0)
        return problem(p, resp, 422, "Unprocessable Content", why);
    json_t *stored = policy_to_json(&pol);
    char *spec = json_dumps(stored, JSON_COMPACT);
    json_decref(stored);
    char sid[24], pos[16], cal[24];
    snprintf(sid, sizeof(sid), "%lld", id);
    snprintf(pos, sizeof(pos), "%d", pol.position);
    snprintf(cal, sizeof(cal), "%lld", pol.calendar_id);
    const char *params[] = { pol.name, pos, pol.enabled ? "true" : "false", pol.calendar_id ? cal : NULL,
                             spec, sid };
    struct atum_rows *rows = NULL;
    int ret;
    if (spec == NULL || h->tx_begin(req->db, &e) < 0) {
        free(spec);
        return db_failed(p, resp, spec ? e : "out of memory");
    }
    int src = id == 0
        ? h->sql(req->db, "INSERT INTO sla_policies (name, position, enabled, calendar_id, spec)"
                          " VALUES ($1, $2::int, $3::boolean, $4::bigint, $5::jsonb) RETURNING " POL_COLS,
                 5, params, &rows, &e)
        : h->sql(req->db, "UPDATE sla_policies SET name = $1, position = $2::int, enabled = $3::boolean,"
                          " calendar_id = $4::bigint, spec = $5::jsonb, version = version + 1,"
                          " updated_at = now() WHERE id = $6::bigint RETURNING " POL_COLS,
                 6, params, &rows, &e);
    free(spec);
    if (src < 0)
        return commit_or_fail(p, req->db, resp, e);
    if (h->rows_count(rows) == 0) {
        h->rows_free(&rows);
        h->tx_rollback(req->db);
        return problem(p, resp, 404, "Not Found", "no such policy (?id=N)");
    }
    if (config_changed(p, req->db, true, &e) < 0 || h->tx_commit(req->db, &e) < 0) {
        h->rows_free(&rows);
        return commit_or_fail(p, req->db, resp, e);
    }
    json_t *o = policy_row_json(h, rows, 0);
    h->rows_free(&rows);
    ret = reply(p, resp, id == 0 ? 201 : 200, o);
    return ret;
}

static int create_policy(void *state, const struct atum_http_req *req, struct atum_http_resp *resp)
{
    return save_policy(state, req, resp, 0);
}

static int update_policy(void *state, const struct atum_http_req *req, struct atum_http_resp *resp)
{
    long long id = query_id(req, "id");
    if (id == 0)
        return problem(state, resp, 404, "Not Found", "no such policy (?id=N)");
    return save_policy(state, req, resp, id);
}

static int delete_policy(void *state, const struct atum_http_req *req, struct atum_http_resp *resp)
{
    return delete_row(state, req, resp, "policy", NULL,
                      "DELETE FROM sla_policies WHERE id = $1::bigint RETURNING id", true);
}

static int recompute_all(void *state, const struct atum_http_req *req, struct atum_http_resp *resp)
{
    struct sla_plugin *p = state;
    const char *e = NULL;
    if (p->host->tx_begin(req->db, &e) < 0)
        return db_failed(p, resp, e);
    if (config_changed(p, req->db, true, &e) < 0 || p->host->tx_commit(req->db, &e) < 0)
        return commit_or_fail(p, req->db, resp, e);
    return reply(p, resp, 202, json_pack("{s:s}", "status", "recompute queued"));
}

static int backfill(void *state, const struct atum_http_req *req, struct atum_http_resp *resp)
{
    struct sla_plugin *p = state;
    const char *e = NULL;
    long long id = 0;
    if (sla_request_backfill(p, req->db, &id, &e) < 0)
        return db_failed(p, resp, e);
    return reply(p, resp, 202, json_pack("{s:s}", "status", id > 0 ? "backfill queued" : "backfill already queued"));
}

/* ---- tickets ---------------------------------------------------------------- */

static int load_history(struct sla_plugin *p, struct atum_db *db, long long queue, int64_t now,
                        struct sla_history *hist)
{
    const struct atum_host *h = p->host;
    char q[24], since[24];
    int64_t window = (int64_t)p->history_days * 86400000;
    snprintf(q, sizeof(q), "%lld", queue);
    snprintf(since, sizeof(since), "%lld", (long long)(now - window));
    const char *params[] = { q, since };
    struct atum_rows *rows = NULL;
    const char *e = NULL;
    memset(hist, 0, sizeof(*hist));
    if (h->sql(db, "SELECT " SQL_TS_TO_MS("started_at") ", fr_mode, fr_used_ms, " SQL_TS_TO_MS("fr_done_at") ","
                   " res_mode, res_used_ms, " SQL_TS_TO_MS("res_done_at") " FROM sla_tickets"
                   " WHERE queue_id = $1::bigint AND started_at > " SQL_MS_TO_TS("$2")
                   " ORDER BY started_at DESC LIMIT 2000",
               2, params, &rows, &e) < 0) {
        h->log(ATUM_LOG_WARN, "queue %lld history: %s", queue, e);
        return -1;
    }
    int n = h->rows_count(rows);
    hist->window_ms = window;
    for (int i = 0; i < n; i++) {
        const char *v[7];
        for (int k = 0; k < 7; k++)
            v[k] = h->rows_value(rows, i, k);
        int64_t started = v[0] ? atoll(v[0]) : SLA_NONE;
        if (i == n - 1 && n == 2000 && started != SLA_NONE)
            hist->window_ms = now - started;     /* a busy queue: the window the rows span */
        sla_history_add(hist, started, v[1] && strcmp(v[1], "running") == 0, v[2] ? atoll(v[2]) : SLA_NONE,
                        v[3] ? atoll(v[3]) : SLA_NONE, v[4] && strcmp(v[4], "running") == 0,
                        v[5] ? atoll(v[5]) : SLA_NONE, v[6] ? atoll(v[6]) : SLA_NONE);
    }
    h->rows_free(&rows);
    return 0;
}

void sla_predictions(struct sla_plugin *p, struct atum_db *db, const struct sla_rules *rules,
                     const struct sla_state *s, int64_t now, struct sla_prediction pred[SLA_CLOCKS])
{
    memset(pred, 0, sizeof(*pred) * SLA_CLOCKS);
    if (!s->started || s->policy == NULL)
        return;
    long long queue = s->queue_id;
    int slot = -1;
    pthread_mutex_lock(&p->lock);
    for (int i = 0; i < SLA_STATS_SLOTS && slot < 0; i++)
        if (p->stats[i].queue_id == queue && now - p->stats[i].loaded_at < 60000)
            slot = i;
    pthread_mutex_unlock(&p->lock);
    if (slot < 0) {
        /* loaded outside the lock; a minute of staleness is fine for a forecast */
        struct sla_history fresh;
        if (load_history(p, db, queue, now, &fresh) < 0)
            return;
        pthread_mutex_lock(&p->lock);
        slot = (int)((unsigned long long)queue % SLA_STATS_SLOTS);
        sla_history_clear(&p->stats[slot].h);
        p->stats[slot] = (struct sla_stats_slot){ queue, now, fresh };
        pthread_mutex_unlock(&p->lock);
    }
    pthread_mutex_lock(&p->lock);
    for (int c = 0; c < SLA_CLOCKS; c++) {
        const struct sla_calendar *cal = s->c[c].measure == SLA_BUSINESS_TIME
            ? sla_rules_calendar(rules, s->policy->calendar_id) : NULL;
        sla_predict(p->stats[slot].queue_id == queue ? &p->stats[slot].h : NULL, &s->c[c], c,
                    cal ? cal->bcal : NULL, now, &pred[c]);
    }
    pthread_mutex_unlock(&p->lock);
}

/* The state of a ticket now, rendered; NULL with *e on failure. */
static json_t *ticket_state(struct sla_plugin *p, struct atum_db *db, long long ticket, int max_ledger,
                            const char **e)
{
    struct sla_ledger l;
    struct sla_snapshot *snap = NULL;
    struct sla_state st;
    memset(&l, 0, sizeof(l));
    memset(&st, 0, sizeof(st));
    json_t *out = NULL;
    if (sla_store_read(p, db, ticket, &l, e) < 0 || sla_snapshot_get(p, db, -1, &snap, e) < 0)
        goto done;
    int64_t now = sla_now_ms(p);
    if (sla_compute(&snap->rules, l.ev, l.n, now, true, &st) < 0) {
        *e = "out of memory";
        goto done;
    }
    struct sla_prediction pred[SLA_CLOCKS];
    sla_predictions(p, db, &snap->rules, &st, now, pred);
    out = sla_render(&st, &snap->rules, l.ev, l.n, pred, now, max_ledger);
    if (out == NULL)
        *e = "out of memory";
    else
        json_object_set_new(out, "ticket_id", json_integer(ticket));
done:
    sla_state_clear(&st);
    sla_snapshot_put(p, snap);
    sla_ledger_free(&l);
    return out;
}

static const char *role_name(enum atum_role r)
{
    return r == ATUM_ROLE_ADMIN ? "admin" : r == ATUM_ROLE_MANAGER ? "manager" : r == ATUM_ROLE_AGENT
           ? "agent" : "customer";
}

static int get_ticket(void *state, const struct atum_http_req *req, struct atum_http_resp *resp)
{
    struct sla_plugin *p = state;
    const struct atum_host *h = p->host;
    long long id = query_id(req, "id");
    char sid[24], uid[24];
    snprintf(sid, sizeof(sid), "%lld", id);
    snprintf(uid, sizeof(uid), "%lld", req->user_id);
    const char *params[] = { sid, role_name(req->role), uid };
    struct atum_rows *rows = NULL;
    const char *e = NULL;
    /* agents see the tickets of their queues, as in the rest of the API */
    if (h->sql(req->db, "SELECT 1 FROM tickets t WHERE t.id = $1::bigint AND ($2 IN ('manager', 'admin')"
                        " OR EXISTS (SELECT 1 FROM queue_members m WHERE m.queue_id = t.queue_id"
                        "            AND m.user_id = $3::bigint))",
               3, params, &rows, &e) < 0)
        return db_failed(p, resp, e);
    bool visible = h->rows_count(rows) == 1;
    h->rows_free(&rows);
    if (!visible)
        return problem(p, resp, 404, "Not Found", "no such ticket (?id=N)");
    json_t *o = ticket_state(p, req->db, id, 0, &e);
    if (o == NULL)
        return db_failed(p, resp, e);
    return reply(p, resp, 200, o);
}

/* Open tickets by their earliest deadline: what the desk lists as "due
 * soon" / "breached".  ?queue_id=N&breached=true&limit=1..500 */
static int list_tickets(void *state, const struct atum_http_req *req, struct atum_http_resp *resp)
{
    struct sla_plugin *p = state;
    const struct atum_host *h = p->host;
    char q[24], uid[24], lim[16], b[8];
    long long queue = query_id(req, "queue_id");
    int limit = query_param(req->query, "limit", lim, sizeof(lim)) ? atoi(lim) : 50;
    if (limit < 1 || limit > 500)
        return problem(p, resp, 400, "Bad Request", "limit: 1..500");
    const char *bv = query_param(req->query, "breached", b, sizeof(b));
    snprintf(q, sizeof(q), "%lld", queue);
    snprintf(uid, sizeof(uid), "%lld", req->user_id);
    snprintf(lim, sizeof(lim), "%d", limit);
    const char *params[] = { queue ? q : NULL, role_name(req->role), uid, lim,
                             bv && strcmp(bv, "true") == 0 ? "true" : NULL };
    struct atum_rows *rows = NULL;
    const char *e = NULL;
    if (h->sql(req->db, "SELECT s.ticket_id, s.queue_id, s.policy_id, " SQL_TS_TO_MS("s.due_at") ","
                        " " SQL_TS_TO_MS("s.next_due") ", s.breached, s.fr_mode, s.nr_mode, s.res_mode"
                        " FROM sla_tickets s WHERE s.open AND s.policy_id IS NOT NULL"
                        " AND ($1::bigint IS NULL OR s.queue_id = $1::bigint)"
                        " AND ($5::boolean IS NULL OR s.breached)"
                        " AND ($2 IN ('manager', 'admin') OR s.queue_id IN"
                        "      (SELECT m.queue_id FROM queue_members m WHERE m.user_id = $3::bigint))"
                        " ORDER BY s.due_at NULLS LAST, s.ticket_id LIMIT $4::int",
               5, params, &rows, &e) < 0)
        return db_failed(p, resp, e);
    json_t *list = json_array();
    for (int i = 0; i < h->rows_count(rows); i++) {
        const char *v[9];
        for (int k = 0; k < 9; k++)
            v[k] = h->rows_value(rows, i, k);
        json_array_append_new(list, json_pack(
            "{s:I, s:I, s:I, s:o, s:o, s:b, s:s?, s:s?, s:s?}",
            "ticket_id", (json_int_t)atoll(v[0]), "queue_id", (json_int_t)(v[1] ? atoll(v[1]) : 0),
            "policy_id", (json_int_t)(v[2] ? atoll(v[2]) : 0),
            "due_at", sla_json_instant(v[3] ? atoll(v[3]) : SLA_NONE),
            "next_escalation_at", sla_json_instant(v[4] ? atoll(v[4]) : SLA_NONE),
            "breached", v[5] && strcmp(v[5], "t") == 0,
            "first_response", v[6], "next_response", v[7], "resolution", v[8]));
    }
    h->rows_free(&rows);
    return reply(p, resp, 200, json_pack("{s:o}", "tickets", list));
}

int sla_ticket_view(void *state, struct atum_db *db, long long ticket_id, struct atum_http_resp *resp)
{
    struct sla_plugin *p = state;
    const char *e = NULL;
    json_t *o = ticket_state(p, db, ticket_id, p->view_ledger, &e);
    if (o == NULL) {
        p->host->log(ATUM_LOG_WARN, "ticket %lld view: %s", ticket_id, e);
        return problem(p, resp, 500, "Internal Server Error", "the SLA state could not be computed");
    }
    return reply(p, resp, 200, o);
}

const struct atum_route sla_routes[] = {
    { "GET", "/calendars", ATUM_ROLE_AGENT, list_calendars },
    { "POST", "/calendars", ATUM_ROLE_ADMIN, create_calendar },
    { "GET", "/calendar", ATUM_ROLE_AGENT, get_calendar },
    { "PUT", "/calendar", ATUM_ROLE_ADMIN, update_calendar },
    { "DELETE", "/calendar", ATUM_ROLE_ADMIN, delete_calendar },
    { "GET", "/calendar/hours", ATUM_ROLE_AGENT, calendar_hours },
    { "GET", "/policies", ATUM_ROLE_AGENT, list_policies },
    { "POST", "/policies", ATUM_ROLE_ADMIN, create_policy },
    { "GET", "/policy", ATUM_ROLE_AGENT, get_policy },
    { "PUT", "/policy", ATUM_ROLE_ADMIN, update_policy },
    { "DELETE", "/policy", ATUM_ROLE_ADMIN, delete_policy },
    { "GET", "/ticket", ATUM_ROLE_AGENT, get_ticket },
    { "GET", "/tickets", ATUM_ROLE_AGENT, list_tickets },
    { "POST", "/recompute", ATUM_ROLE_ADMIN, recompute_all },
    { "POST", "/backfill", ATUM_ROLE_ADMIN, backfill },
    { NULL, NULL, 0, NULL }
};
