/* core/host_table.c -- see core/host_table.h. */
#include "config.h"
#include "core/host_table.h"
#include "core/conf.h"
#include "core/domain.h"
#include "core/event.h"
#include "core/jobrun.h"
#include "core/jobs.h"
#include "core/mailer.h"
#include "core/plugin_loader.h"
#include "core/runtime.h"
#include "lib/email.h"
#include "lib/err.h"
#include "lib/httpc.h"
#include "lib/log.h"
#include "lib/metrics.h"
#include "lib/util.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void h_log(enum atum_log_level level, const char *fmt, ...)
{
    enum log_level lv = level <= ATUM_LOG_DEBUG ? LOG_LEVEL_DEBUG
                      : level == ATUM_LOG_INFO ? LOG_LEVEL_INFO
                      : level == ATUM_LOG_WARN ? LOG_LEVEL_WARN : LOG_LEVEL_ERROR;
    if (!log_enabled(lv))
        return;
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    log_event(lv, "plugin.log", "msg=%s", msg);
}

static const char *h_conf_get(const struct atum_conf *conf, const char *key)
{
    if (conf == NULL || key == NULL)
        return NULL;
    char env[160], sect[96];
    snprintf(sect, sizeof(sect), "plugin.%s", conf->plugin);
    conf_env_name(env, sizeof(env), sect, key);
    const char *v = getenv(env);
    if (v != NULL)
        return v;
    for (size_t i = 0; conf->section && i < conf->section->nkv; i++)
        if (strcmp(conf->section->kv[i].key, key) == 0)
            return conf->section->kv[i].value;
    for (const struct atum_conf_key *k = conf->keys; k && k->name; k++)
        if (strcmp(k->name, key) == 0)
            return k->default_value;
    return NULL;
}

static long long h_conf_get_int(const struct atum_conf *conf, const char *key, long long fallback)
{
    const char *v = h_conf_get(conf, key);
    long long r;
    if (v == NULL || conf_parse_int(v, &r) < 0)
        return fallback;
    return r;
}

static int h_sql(struct atum_db *db, const char *sql, int nparams, const char *const *params,
                 struct atum_rows **rows_r, const char **error_r)
{
    if (rows_r)
        *rows_r = NULL;
    if (db == NULL || db->conn == NULL || sql == NULL || nparams < 0)
        return err_set(error_r, "sql: invalid arguments");
    PGresult *r = db_exec(db->conn, sql, nparams, params, error_r);
    if (r == NULL)
        return -1;
    if (rows_r)
        *rows_r = (struct atum_rows *)r;
    else
        PQclear(r);
    return 0;
}

static int h_rows_count(const struct atum_rows *rows)
{
    return rows ? PQntuples((const PGresult *)rows) : 0;
}

static const char *h_rows_value(const struct atum_rows *rows, int row, int col)
{
    const PGresult *r = (const PGresult *)rows;
    if (r == NULL || row < 0 || row >= PQntuples(r) || col < 0 || col >= PQnfields(r)
        || PQgetisnull(r, row, col))
        return NULL;
    return PQgetvalue(r, row, col);
}

static void h_rows_free(struct atum_rows **rows)
{
    if (rows && *rows) {
        PQclear((PGresult *)*rows);
        *rows = NULL;
    }
}

static int h_tx_begin(struct atum_db *db, const char **error_r)
{
    if (db_in_transaction(db->conn))
        return err_set(error_r, "a transaction is already open");
    return db_begin(db->conn, error_r);
}

static int h_tx_commit(struct atum_db *db, const char **error_r)
{
    return db_commit(db->conn, error_r);
}

static void h_tx_rollback(struct atum_db *db)
{
    db_rollback(db->conn);
}

static int h_enqueue(struct atum_db *db, const struct atum_job_spec *spec, long long *id_r,
                     const char **error_r)
{
    struct atum_job_spec s = *spec;
    if (s.max_attempts == 0 && db->rt != NULL)
        s.max_attempts = runtime_default_attempts(db->rt, s.kind);
    return jobs_enqueue(db->conn, &s, id_r, error_r);
}

static int h_emit(struct atum_db *db, const char *event, const char *json, const char **error_r)
{
    if (db->rt == NULL)
        return err_set(error_r, "emit: no runtime on this connection");
    return event_emit(db->rt, db->conn, event, json, error_r);
}

static int h_job_error(struct atum_job *job, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = jobrun_failv(job, JOBRUN_RETRY, fmt, ap);
    va_end(ap);
    return rc;
}

static void h_job_retry_in(struct atum_job *job, double seconds)
{
    jobrun_retry_in(job, seconds);
}

static int h_job_extend_lease(struct atum_job *job, int seconds, const char **error_r)
{
    return jobrun_extend_lease(job, seconds, error_r);
}

static int h_job_complete_in_tx(struct atum_job *job, const char **error_r)
{
    return jobrun_complete_in_tx(job, error_r);
}

static int h_http(const struct atum_http_call *call, struct atum_http_result *res,
                  const char **error_r)
{
    return httpc_request(call, res, error_r);
}

static void h_http_result_free(struct atum_http_result *res)
{
    httpc_result_free(res);
}

static void h_http_reply(struct atum_http_resp *resp, int status, const char *content_type,
                         const char *body, size_t len)
{
    resp->status = status >= 100 && status <= 599 ? status : 500;
    snprintf(resp->content_type, sizeof(resp->content_type), "%s",
             content_type ? content_type : "application/octet-stream");
    strbuf_reset(&resp->body);
    if (body != NULL)
        strbuf_add(&resp->body, body, len);
}

static int h_mail_notice(struct atum_db *db, long long ticket_id, const char *to, const char *title,
                         const char *body, const char **error_r)
{
    if (db->rt == NULL)
        return err_set(error_r, "mail_notice: no runtime on this connection");
    if (!db_in_transaction(db->conn))
        return err_set(error_r, "mail_notice needs an open transaction (tx_begin)");
    if (to == NULL || !email_valid(to))
        return err_set(error_r, "mail_notice: '%s' is not a mail address", to ? to : "(null)");
    if (!mailer_present(db->rt))
        return err_set(error_r, "mail_notice: this atumd sends no mail (mail-out is not loaded)");
    return mailer_notice(db->rt, db->conn, ticket_id, to, title ? title : "", body ? body : "",
                         error_r);
}

static double h_now(void)
{
    return (double)time_real_ms() / 1000.0;
}

static int h_ticket_update(struct atum_db *db, long long ticket_id,
                           const struct atum_ticket_change *change, const char **error_r)
{
    if (db == NULL || db->rt == NULL || change == NULL)
        return err_set(error_r, "ticket_update: invalid arguments");
    if (!db_in_transaction(db->conn))
        return err_set(error_r, "ticket_update needs an open transaction (tx_begin)");
    return domain_ticket_update(db->rt, db->conn, db->owner ? db->owner : "plugin", ticket_id,
                                change, error_r);
}

static void h_histogram_observe(const char *name, const char *labels, double value)
{
    metrics_observe(name, labels, value);
}

static int h_metric_describe(const char *name, enum atum_metric_type type, const char *help,
                             const double *buckets, size_t nbuckets)
{
    enum metrics_type t = type == ATUM_METRIC_COUNTER ? METRICS_COUNTER
                        : type == ATUM_METRIC_GAUGE ? METRICS_GAUGE : METRICS_HISTOGRAM;
    const char *e = NULL;
    if (type != ATUM_METRIC_COUNTER && type != ATUM_METRIC_GAUGE && type != ATUM_METRIC_HISTOGRAM)
        return -1;
    if (metrics_describe(name, t, help, buckets, nbuckets, &e) < 0) {
        log_warn("plugin.metric_refused", "error=%s", e);
        return -1;
    }
    return 0;
}

static void h_metrics_write(void (*emit)(void *arg, const char *text, size_t len), void *arg)
{
    struct strbuf b = STRBUF_INIT;
    metrics_render(&b);
    if (b.len > 0)
        emit(arg, b.s, b.len);
    strbuf_free(&b);
}

static const char *h_http_client_addr(const struct atum_http_req *req)
{
    return req ? ((const struct host_http_req *)req)->client_addr : "";
}

static const struct atum_host table = {
    .abi = ATUM_PLUGIN_ABI,
    .size = sizeof(struct atum_host),
    .log = h_log,
    .conf_get = h_conf_get,
    .conf_get_int = h_conf_get_int,
    .sql = h_sql,
    .rows_count = h_rows_count,
    .rows_value = h_rows_value,
    .rows_free = h_rows_free,
    .tx_begin = h_tx_begin,
    .tx_commit = h_tx_commit,
    .tx_rollback = h_tx_rollback,
    .enqueue = h_enqueue,
    .emit = h_emit,
    .job_error = h_job_error,
    .job_retry_in = h_job_retry_in,
    .job_extend_lease = h_job_extend_lease,
    .job_complete_in_tx = h_job_complete_in_tx,
    .http = h_http,
    .http_result_free = h_http_result_free,
    .http_reply = h_http_reply,
    .counter_add = metrics_counter_add,
    .gauge_set = metrics_gauge_set,
    .mail_notice = h_mail_notice,
    .now = h_now,
    .ticket_update = h_ticket_update,
    .histogram_observe = h_histogram_observe,
    .metric_describe = h_metric_describe,
    .metrics_write = h_metrics_write,
    .http_client_addr = h_http_client_addr,
};

const struct atum_host *host_table(void)
{
    return &table;
}

