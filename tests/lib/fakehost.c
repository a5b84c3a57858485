/* tests/lib/fakehost.c -- see tests/lib/fakehost.h. */
#include "config.h"
#include "fakehost.h"

#include <dlfcn.h>
#include <libpq-fe.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- the host's side of the opaque types --------------------------------- */
struct atum_db { struct fakehost *fh; };
struct atum_conf { struct fakehost *fh; };
struct atum_rows {
    PGresult *res;               /* database mode */
    int ncols, nrows;            /* recorded mode: cells row by row */
    char **cells;
};
struct atum_http_resp {
    int status;
    char content_type[128];
    char *body;
    size_t len;
};
struct fake_job {
    struct atum_job pub;         /* first: the plugin's pointer is cast back */
    struct fakehost_job_result *res;
};

struct kv { char *key, *value; };
struct sql_answer { char *match; int ncols, nrows; char **cells; char *error; };
struct http_answer { char *method, *prefix, *body, *error; long status; };
struct metric { char *name, *labels; double value; bool counter; };
struct hist { char *name, *labels; unsigned long long count; double sum; };
struct described { char *name, *help; enum atum_metric_type type; };

#define VEC(T) struct { T *v; size_t n; }
#define PUSH(vec, x) do { (vec).v = grow((vec).v, ((vec).n + 1) * sizeof(*(vec).v)); \
                          (vec).v[(vec).n++] = (x); } while (0)

struct fakehost {
    PGconn *pg;                  /* NULL: recorded SQL */
    bool in_tx;
    int tx_begun, tx_committed, tx_rolled_back;
    struct atum_db db;
    struct atum_conf conf;
    void *dl;
    const struct atum_plugin *plugin;
    void *state;
    bool initialised;
    long long next_job_id;
    char last_error[1024];
    char *last_body;             /* the last route answer's body */
    VEC(struct kv) confmap;
    VEC(struct sql_answer) sql_answers;
    VEC(struct http_answer) http_answers;
    VEC(struct fakehost_sql) sql;
    VEC(struct fakehost_enqueued) enqueued;
    VEC(struct fakehost_event) events;
    VEC(struct fakehost_http) http;
    VEC(struct fakehost_mail) mail;
    VEC(struct fakehost_log) logs;
    VEC(struct metric) metrics;
    VEC(struct hist) hists;
    VEC(struct described) described;
    char client_addr[64];        /* what host->http_client_addr answers */
    int start_rc;                /* the plugin's start(), 0 when it has none */
    VEC(struct fakehost_ticket_change) changes;
    double fixed_now;            /* < 0: the real clock */
};

/* the one current fake host: log and metrics get no context argument */
static struct fakehost *current;

static void *grow(void *p, size_t n)
{
    void *q = realloc(p, n);
    if (q == NULL)
        abort();
    return q;
}

static char *dup(const char *s)
{
    if (s == NULL)
        return NULL;
    char *d = strdup(s);
    if (d == NULL)
        abort();
    return d;
}

static char *dupn(const char *s, size_t n)
{
    char *d = grow(NULL, n + 1);
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

static const char *fail(struct fakehost *fh, const char **error_r, const char *fmt, ...)
{
    /* formatted apart first: the arguments may be the last error itself */
    char buf[sizeof(fh->last_error)];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    memcpy(fh->last_error, buf, sizeof(buf));
    if (error_r)
        *error_r = fh->last_error;
    return fh->last_error;
}

/* ---- the host functions -------------------------------------------------------- */

static void h_log(enum atum_log_level level, const char *fmt, ...)
{
    char buf[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    if (getenv("FAKEHOST_VERBOSE"))
        fprintf(stderr, "fakehost log %d: %s\n", (int)level, buf);
    if (current)
        PUSH(current->logs, ((struct fakehost_log){ level, dup(buf) }));
}

static const char *h_conf_get(const struct atum_conf *conf, const char *key)
{
    struct fakehost *fh = conf ? conf->fh : current;
    if (fh == NULL || key == NULL)
        return NULL;
    for (size_t i = 0; i < fh->confmap.n; i++)
        if (strcmp(fh->confmap.v[i].key, key) == 0)
            return fh->confmap.v[i].value;
    for (const struct atum_conf_key *k = fh->plugin ? fh->plugin->conf_keys : NULL; k && k->name; k++)
        if (strcmp(k->name, key) == 0)
            return k->default_value;
    return NULL;
}

static long long h_conf_get_int(const struct atum_conf *conf, const char *key, long long fallback)
{
    const char *v = h_conf_get(conf, key);
    char *end;
    if (v == NULL || *v == '\0')
        return fallback;
    long long r = strtoll(v, &end, 10);
    return *end == '\0' ? r : fallback;
}

static const struct sql_answer *sql_answer_for(struct fakehost *fh, const char *sql)
{
    for (size_t i = 0; i < fh->sql_answers.n; i++)
        if (strstr(sql, fh->sql_answers.v[i].match))
            return &fh->sql_answers.v[i];
    return NULL;
}

static int h_sql(struct atum_db *db, const char *sql, int nparams, const char *const *params,
                 struct atum_rows **rows_r, const char **error_r)
{
    struct fakehost *fh = db ? db->fh : NULL;
    if (rows_r)
        *rows_r = NULL;
    if (fh == NULL || sql == NULL || nparams < 0)
        return error_r ? (*error_r = "sql: invalid arguments", -1) : -1;
    struct fakehost_sql rec = { dup(sql), NULL, nparams, fh->in_tx };
    rec.params = nparams ? grow(NULL, (size_t)nparams * sizeof(char *)) : NULL;
    for (int i = 0; i < nparams; i++)
        rec.params[i] = dup(params[i]);
    PUSH(fh->sql, rec);

    struct atum_rows *rows = grow(NULL, sizeof(*rows));
    memset(rows, 0, sizeof(*rows));
    if (fh->pg != NULL) {
        PGresult *r = PQexecParams(fh->pg, sql, nparams, NULL, params, NULL, NULL, 0);
        ExecStatusType st = PQresultStatus(r);
        if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
            fail(fh, error_r, "%s", PQresultErrorMessage(r));
            PQclear(r);
            free(rows);
            return -1;
        }
        rows->res = r;
    } else {
        const struct sql_answer *a = sql_answer_for(fh, sql);
        if (a && a->error) {
            fail(fh, error_r, "%s", a->error);
            free(rows);
            return -1;
        }
        if (a) {
            rows->ncols = a->ncols;
            rows->nrows = a->nrows;
            rows->cells = a->cells;      /* borrowed from the answer table */
        }
    }
    if (rows_r)
        *rows_r = rows;
    else {
        PQclear(rows->res);
        free(rows);
    }
    return 0;
}

static int h_rows_count(const struct atum_rows *rows)
{
    if (rows == NULL)
        return 0;
    return rows->res ? PQntuples(rows->res) : rows->nrows;
}

static const char *h_rows_value(const struct atum_rows *rows, int row, int col)
{
    if (rows == NULL || row < 0 || col < 0)
        return NULL;
    if (rows->res) {
        if (row >= PQntuples(rows->res) || col >= PQnfields(rows->res)
            || PQgetisnull(rows->res, row, col))
            return NULL;
        return PQgetvalue(rows->res, row, col);
    }
    if (row >= rows->nrows || col >= rows->ncols)
        return NULL;
    return rows->cells[row * rows->ncols + col];
}

static void h_rows_free(struct atum_rows **rows)
{
    if (rows && *rows) {
        PQclear((*rows)->res);
        free(*rows);
        *rows = NULL;
    }
}

static int exec_plain(struct fakehost *fh, const char *sql, const char **error_r)
{
    if (fh->pg == NULL)
        return 0;
    PGresult *r = PQexec(fh->pg, sql);
    int ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    if (!ok)
        fail(fh, error_r, "%s", PQresultErrorMessage(r));
    PQclear(r);
    return ok ? 0 : -1;
}

static int h_tx_begin(struct atum_db *db, const char **error_r)
{
    struct fakehost *fh = db->fh;
    if (fh->in_tx) {
        fail(fh, error_r, "a transaction is already open");
        return -1;
    }
    if (exec_plain(fh, "BEGIN", error_r) < 0)
        return -1;
    fh->in_tx = true;
    fh->tx_begun++;
    return 0;
}

static int h_tx_commit(struct atum_db *db, const char **error_r)
{
    struct fakehost *fh = db->fh;
    if (!fh->in_tx) {
        fail(fh, error_r, "no transaction is open");
        return -1;
    }
    fh->in_tx = false;
    if (exec_plain(fh, "COMMIT", error_r) < 0)
        return -1;
    fh->tx_committed++;
    return 0;
}

static void h_tx_rollback(struct atum_db *db)
{
    struct fakehost *fh = db->fh;
    if (fh->in_tx)
        (void)exec_plain(fh, "ROLLBACK", NULL);
    fh->in_tx = false;
    fh->tx_rolled_back++;
}

static int h_enqueue(struct atum_db *db, const struct atum_job_spec *spec, long long *id_r,
                     const char **error_r)
{
    struct fakehost *fh = db->fh;
    if (spec == NULL || spec->kind == NULL || spec->kind[0] == '\0') {
        fail(fh, error_r, "enqueue: a job needs a kind");
        return -1;
    }
    for (size_t i = 0; spec->unique_key && i < fh->enqueued.n; i++)
        if (fh->enqueued.v[i].unique_key && strcmp(fh->enqueued.v[i].unique_key, spec->unique_key) == 0) {
            if (id_r)
                *id_r = 0;      /* the queue's rule: one pending job per key */
            return 0;
        }
    PUSH(fh->enqueued, ((struct fakehost_enqueued){ dup(spec->kind), dup(spec->payload ? spec->payload : "{}"),
                                                     dup(spec->unique_key), spec->delay_seconds,
                                                     spec->priority }));
    if (id_r)
        *id_r = (long long)fh->enqueued.n;
    return 0;
}

static int h_emit(struct atum_db *db, const char *event, const char *json, const char **error_r)
{
    struct fakehost *fh = db->fh;
    if (event == NULL || strchr(event, '.') == NULL) {
        fail(fh, error_r, "emit: invalid event name");
        return -1;
    }
    PUSH(fh->events, ((struct fakehost_event){ dup(event), dup(json ? json : "{}") }));
    return 0;
}

static int h_job_error(struct atum_job *job, const char *fmt, ...)
{
    struct fake_job *j = (struct fake_job *)job;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(j->res->error, sizeof(j->res->error), fmt, ap);
    va_end(ap);
    return ATUM_JOB_RETRY;
}

static void h_job_retry_in(struct atum_job *job, double seconds)
{
    ((struct fake_job *)job)->res->retry_in = seconds;
}

static int h_job_extend_lease(struct atum_job *job, int seconds, const char **error_r)
{
    struct fake_job *j = (struct fake_job *)job;
    if (seconds <= 0)
        return error_r ? (*error_r = "lease extension must be positive", -1) : -1;
    j->res->lease_extended = seconds;
    return 0;
}

static int h_job_complete_in_tx(struct atum_job *job, const char **error_r)
{
    struct fake_job *j = (struct fake_job *)job;
    if (!job->db->fh->in_tx)
        return error_r ? (*error_r = "job_complete_in_tx needs an open transaction", -1) : -1;
    j->res->completed_in_tx = true;
    return 0;
}

static int h_http(const struct atum_http_call *call, struct atum_http_result *res,
                  const char **error_r)
{
    struct fakehost *fh = current;
    const char *method = call->method ? call->method : call->body ? "POST" : "GET";
    memset(res, 0, sizeof(*res));
    size_t hl = 1;
    for (const char *const *hp = call->headers; hp && *hp; hp++)
        hl += strlen(*hp) + 1;
    char *headers = grow(NULL, hl);
    headers[0] = '\0';
    for (const char *const *hp = call->headers; hp && *hp; hp++) {
        strcat(headers, *hp);
        strcat(headers, "\n");
    }
    PUSH(fh->http, ((struct fakehost_http){ dup(method), dup(call->url),
                                            call->body ? dupn(call->body, call->body_len) : NULL,
                                            headers, call->timeout_ms }));
    for (size_t i = 0; i < fh->http_answers.n; i++) {
        const struct http_answer *a = &fh->http_answers.v[i];
        if ((a->method && strcmp(a->method, method) != 0)
            || strncmp(call->url ? call->url : "", a->prefix, strlen(a->prefix)) != 0)
            continue;
        if (a->error) {
            fail(fh, error_r, "%s", a->error);
            return -1;
        }
        res->status = a->status;
        res->body = dup(a->body ? a->body : "");
        res->body_len = strlen(res->body);
        return 0;
    }
    fail(fh, error_r, "fake host: no answer for %s %s", method, call->url ? call->url : "");
    return -1;
}

static void h_http_result_free(struct atum_http_result *res)
{
    free(res->body);
    res->body = NULL;
    res->body_len = 0;
}

static void h_http_reply(struct atum_http_resp *resp, int status, const char *content_type,
                         const char *body, size_t len)
{
    resp->status = status;
    snprintf(resp->content_type, sizeof(resp->content_type), "%s",
             content_type ? content_type : "application/octet-stream");
    free(resp->body);
    resp->body = dupn(body ? body : "", body ? len : 0);
    resp->len = body ? len : 0;
}

static void metric_set(const char *name, const char *labels, double value, bool add)
{
    struct fakehost *fh = current;
    if (fh == NULL || name == NULL)
        return;
    for (size_t i = 0; i < fh->metrics.n; i++) {
        struct metric *m = &fh->metrics.v[i];
        if (strcmp(m->name, name) == 0 && strcmp(m->labels, labels ? labels : "") == 0) {
            m->value = add ? m->value + value : value;
            return;
        }
    }
    PUSH(fh->metrics, ((struct metric){ dup(name), dup(labels ? labels : ""), value, add }));
}

static void h_counter_add(const char *name, const char *labels, double value)
{
    metric_set(name, labels, value, true);
}

static void h_gauge_set(const char *name, const char *labels, double value)
{
    metric_set(name, labels, value, false);
}

static void h_histogram_observe(const char *name, const char *labels, double value)
{
    struct fakehost *fh = current;
    if (fh == NULL || name == NULL)
        return;
    for (size_t i = 0; i < fh->hists.n; i++) {
        struct hist *h = &fh->hists.v[i];
        if (strcmp(h->name, name) == 0 && strcmp(h->labels, labels ? labels : "") == 0) {
            h->count++;
            h->sum += value;
            return;
        }
    }
    PUSH(fh->hists, ((struct hist){ dup(name), dup(labels ? labels : ""), 1, value }));
}

static int h_metric_describe(const char *name, enum atum_metric_type type, const char *help,
                             const double *buckets, size_t nbuckets)
{
    struct fakehost *fh = current;
    (void)buckets;
    (void)nbuckets;
    if (fh == NULL || name == NULL || name[0] == '\0')
        return -1;
    for (size_t i = 0; i < fh->described.n; i++)
        if (strcmp(fh->described.v[i].name, name) == 0)
            return fh->described.v[i].type == type ? 0 : -1;
    PUSH(fh->described, ((struct described){ dup(name), dup(help ? help : ""), type }));
    return 0;
}

static const char *help_of(const struct fakehost *fh, const char *name)
{
    for (size_t i = 0; i < fh->described.n; i++)
        if (strcmp(fh->described.v[i].name, name) == 0)
            return fh->described.v[i].help;
    return "captured by the fake host";
}

/* What the plugin reported, in the exposition format, grouped by name in
 * first-report order: enough for a plugin that passes it on. */
static void h_metrics_write(void (*emit)(void *arg, const char *text, size_t len), void *arg)
{
    struct fakehost *fh = current;
    char line[1024];
    int n;
    for (size_t i = 0; fh && i < fh->metrics.n; i++) {
        const struct metric *m = &fh->metrics.v[i];
        bool first = true;
        for (size_t k = 0; k < i && first; k++)
            first = strcmp(fh->metrics.v[k].name, m->name) != 0;
        if (!first)
            continue;
        n = snprintf(line, sizeof(line), "# HELP %s %s\n# TYPE %s %s\n", m->name, help_of(fh, m->name),
                     m->name, m->counter ? "counter" : "gauge");
        emit(arg, line, (size_t)n);
        for (size_t k = i; k < fh->metrics.n; k++) {
            const struct metric *x = &fh->metrics.v[k];
            if (strcmp(x->name, m->name) != 0)
                continue;
            n = snprintf(line, sizeof(line), x->labels[0] ? "%s{%s} %.17g\n" : "%s%s %.17g\n",
                         x->name, x->labels, x->value);
            emit(arg, line, (size_t)n);
        }
    }
    for (size_t i = 0; fh && i < fh->hists.n; i++) {
        const struct hist *h = &fh->hists.v[i];
        bool first = true;
        for (size_t k = 0; k < i && first; k++)
            first = strcmp(fh->hists.v[k].name, h->name) != 0;
        if (!first)
            continue;
        n = snprintf(line, sizeof(line), "# HELP %s %s\n# TYPE %s histogram\n", h->name,
                     help_of(fh, h->name), h->name);
        emit(arg, line, (size_t)n);
        for (size_t k = i; k < fh->hists.n; k++) {
            const struct hist *x = &fh->hists.v[k];
            if (strcmp(x->name, h->name) != 0)
                continue;
            const char *sep = x->labels[0] ? "," : "";
            n = snprintf(line, sizeof(line), "%s_bucket{%s%sle=\"+Inf\"} %llu\n%s_sum%s%s%s %.17g\n"
                         "%s_count%s%s%s %llu\n", x->name, x->labels, sep, x->count,
                         x->name, x->labels[0] ? "{" : "", x->labels, x->labels[0] ? "}" : "", x->sum,
                         x->name, x->labels[0] ? "{" : "", x->labels, x->labels[0] ? "}" : "", x->count);
            emit(arg, line, (size_t)n);
        }
    }
}

static const char *h_http_client_addr(const struct atum_http_req *req)
{
    return req && req->db ? req->db->fh->client_addr : "";
}

static int h_mail_notice(struct atum_db *db, long long ticket_id, const char *to, const char *title,
                         const char *body, const char **error_r)
{
    struct fakehost *fh = db->fh;
    if (!fh->in_tx) {
        fail(fh, error_r, "mail_notice needs an open transaction (tx_begin)");
        return -1;
    }
    if (to == NULL || strchr(to, '@') == NULL) {
        fail(fh, error_r, "mail_notice: '%s' is not a mail address", to ? to : "(null)");
        return -1;
    }
    PUSH(fh->mail, ((struct fakehost_mail){ ticket_id, dup(to), dup(title), dup(body) }));
    return 0;
}

static double h_now(void)
{
    if (current && current->fixed_now >= 0)
        return current->fixed_now;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int h_ticket_update(struct atum_db *db, long long ticket_id,
                           const struct atum_ticket_change *ch, const char **error_r)
{
    struct fakehost *fh = db->fh;
    if (!fh->in_tx) {
        fail(fh, error_r, "ticket_update needs an open transaction (tx_begin)");
        return -1;
    }
    if (ticket_id <= 0 || ch == NULL) {
        fail(fh, error_r, "ticket_update: invalid arguments");
        return -1;
    }
    PUSH(fh->changes, ((struct fakehost_ticket_change){ ticket_id, dup(ch->status), dup(ch->priority),
                                                        dup(ch->category), dup(ch->note), ch->queue_id,
                                                        ch->assignee_id, true }));
    return 0;
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
    .counter_add = h_counter_add,
    .gauge_set = h_gauge_set,
    .mail_notice = h_mail_notice,
    .now = h_now,
    .ticket_update = h_ticket_update,
    .histogram_observe = h_histogram_observe,
    .metric_describe = h_metric_describe,
    .metrics_write = h_metrics_write,
    .http_client_addr = h_http_client_addr,
};

const struct atum_host *fakehost_table(void)
{
    return &table;
}

/* ---- life cycle ------------------------------------------------------------------ */

struct fakehost *fakehost_new(const char *database_url)
{
    struct fakehost *fh = grow(NULL, sizeof(*fh));
    memset(fh, 0, sizeof(*fh));
    fh->db.fh = fh;
    fh->conf.fh = fh;
    fh->next_job_id = 1;
    fh->fixed_now = -1;
    snprintf(fh->client_addr, sizeof(fh->client_addr), "127.0.0.1");
    if (database_url != NULL) {
        fh->pg = PQconnectdb(database_url);
        if (PQstatus(fh->pg) != CONNECTION_OK) {
            fprintf(stderr, "fakehost: %s", PQerrorMessage(fh->pg));
            PQfinish(fh->pg);
            free(fh);
            return NULL;
        }
    }
    current = fh;
    return fh;
}

void fakehost_clear(struct fakehost *fh)
{
    for (size_t i = 0; i < fh->sql.n; i++) {
        for (int k = 0; k < fh->sql.v[i].nparams; k++)
            free(fh->sql.v[i].params[k]);
        free(fh->sql.v[i].params);
        free(fh->sql.v[i].sql);
    }
    for (size_t i = 0; i < fh->enqueued.n; i++) {
        free(fh->enqueued.v[i].kind);
        free(fh->enqueued.v[i].payload);
        free(fh->enqueued.v[i].unique_key);
    }
    for (size_t i = 0; i < fh->events.n; i++) {
        free(fh->events.v[i].event);
        free(fh->events.v[i].data);
    }
    for (size_t i = 0; i < fh->http.n; i++) {
        free(fh->http.v[i].method);
        free(fh->http.v[i].url);
        free(fh->http.v[i].body);
        free(fh->http.v[i].headers);
    }
    for (size_t i = 0; i < fh->mail.n; i++) {
        free(fh->mail.v[i].to);
        free(fh->mail.v[i].title);
        free(fh->mail.v[i].body);
    }
    for (size_t i = 0; i < fh->logs.n; i++)
        free(fh->logs.v[i].text);
    for (size_t i = 0; i < fh->metrics.n; i++) {
        free(fh->metrics.v[i].name);
        free(fh->metrics.v[i].labels);
    }
    for (size_t i = 0; i < fh->hists.n; i++) {
        free(fh->hists.v[i].name);
        free(fh->hists.v[i].labels);
    }
    fh->hists.n = 0;
    for (size_t i = 0; i < fh->changes.n; i++) {
        free(fh->changes.v[i].status);
        free(fh->changes.v[i].priority);
        free(fh->changes.v[i].category);
        free(fh->changes.v[i].note);
    }
    fh->changes.n = 0;
    fh->sql.n = fh->enqueued.n = fh->events.n = fh->http.n = fh->mail.n = fh->logs.n = 0;
    fh->metrics.n = 0;
    fh->tx_begun = fh->tx_committed = fh->tx_rolled_back = 0;
}

void fakehost_unload(struct fakehost *fh)
{
    if (fh->initialised && fh->plugin && fh->plugin->fini)
        fh->plugin->fini(fh->state);
    fh->initialised = false;
    fh->state = NULL;
    fh->plugin = NULL;
    if (fh->dl)
        dlclose(fh->dl);
    fh->dl = NULL;
}

void fakehost_free(struct fakehost **fhp)
{
    struct fakehost *fh = *fhp;
    if (fh == NULL)
        return;
    fakehost_unload(fh);
    fakehost_clear(fh);
    for (size_t i = 0; i < fh->confmap.n; i++) {
        free(fh->confmap.v[i].key);
        free(fh->confmap.v[i].value);
    }
    for (size_t i = 0; i < fh->sql_answers.n; i++) {
        struct sql_answer *a = &fh->sql_answers.v[i];
        for (int k = 0; k < a->ncols * a->nrows; k++)
            free(a->cells[k]);
        free(a->cells);
        free(a->match);
        free(a->error);
    }
    fakehost_http_forget(fh);
    free(fh->last_body);
    free(fh->confmap.v);
    free(fh->sql_answers.v);
    free(fh->http_answers.v);
    free(fh->sql.v);
    free(fh->enqueued.v);
    free(fh->events.v);
    free(fh->http.v);
    free(fh->mail.v);
    free(fh->logs.v);
    free(fh->metrics.v);
    free(fh->hists.v);
    for (size_t i = 0; i < fh->described.n; i++) {
        free(fh->described.v[i].name);
        free(fh->described.v[i].help);
    }
    free(fh->described.v);
    free(fh->changes.v);
    if (fh->pg)
        PQfinish(fh->pg);
    if (current == fh)
        current = NULL;
    free(fh);
    *fhp = NULL;
}

void fakehost_conf_set(struct fakehost *fh, const char *key, const char *value)
{
    for (size_t i = 0; i < fh->confmap.n; i++)
        if (strcmp(fh->confmap.v[i].key, key) == 0) {
            free(fh->confmap.v[i].value);
            fh->confmap.v[i].value = dup(value);
            return;
        }
    PUSH(fh->confmap, ((struct kv){ dup(key), dup(value) }));
}

int fakehost_load(struct fakehost *fh, const char *path, const char **why)
{
    fakehost_unload(fh);
    fh->dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (fh->dl == NULL) {
        fail(fh, why, "dlopen %s: %s", path, dlerror());
        return -1;
    }
    const struct atum_plugin *(*entry)(void) =
        (const struct atum_plugin *(*)(void))dlsym(fh->dl, ATUM_PLUGIN_ENTRY_SYMBOL);
    if (entry == NULL) {
        fail(fh, why, "%s has no %s", path, ATUM_PLUGIN_ENTRY_SYMBOL);
        return -1;
    }
    const struct atum_plugin *d = entry();
    if (d == NULL || d->abi != ATUM_PLUGIN_ABI || d->size > sizeof(struct atum_plugin)
        || d->size < offsetof(struct atum_plugin, init) + sizeof(void *) || d->name == NULL) {
        fail(fh, why, "%s: a descriptor the host refuses (ABI or size)", path);
        return -1;
    }
    fh->plugin = d;
    /* every configured key must be declared, as atumd checks */
    for (size_t i = 0; i < fh->confmap.n; i++) {
        bool known = false;
        for (const struct atum_conf_key *k = d->conf_keys; k && k->name; k++)
            known = known || strcmp(k->name, fh->confmap.v[i].key) == 0;
        if (!known) {
            fail(fh, why, "unknown key '%s' in [plugin.%s]", fh->confmap.v[i].key, d->name);
            return -1;
        }
    }
    for (const struct atum_migration *m = d->migrations; fh->pg && m && m->sql; m++) {
        const char *e = NULL;
        if (exec_plain(fh, "BEGIN", &e) < 0 || exec_plain(fh, m->sql, &e) < 0
            || exec_plain(fh, "COMMIT", &e) < 0) {
            (void)exec_plain(fh, "ROLLBACK", NULL);
            fail(fh, why, "migration %d (%s): %s", m->version, m->name, e);
            return -1;
        }
    }
    if (d->init && d->init(&table, &fh->conf, &fh->state) != 0) {
        fail(fh, why, "init() failed");
        return -1;
    }
    fh->initialised = true;
    /* like atumd: start() once everything is registered; its failure is
     * logged there, not a refusal */
    fh->start_rc = fakehost_start(fh);
    if (fh->start_rc == -2)
        fh->start_rc = 0;
    return 0;
}

int fakehost_start(struct fakehost *fh)
{
    const struct atum_plugin *d = fh->plugin;
    if (d == NULL || d->size < offsetof(struct atum_plugin, start) + sizeof(void *) || d->start == NULL)
        return -2;
    int rc = d->start(fh->state, &fh->db);
    if (fh->in_tx)
        h_tx_rollback(&fh->db);   /* atumd rolls back what start() left open */
    return rc;
}

int fakehost_start_result(const struct fakehost *fh)
{
    return fh->start_rc;
}

const struct atum_plugin *fakehost_plugin(const struct fakehost *fh)
{
    return fh->plugin;
}

unsigned fakehost_hook_flags(const struct fakehost *fh)
{
    const struct atum_plugin *d = fh->plugin;
    if (d == NULL || d->size < offsetof(struct atum_plugin, hook_flags) + sizeof(d->hook_flags))
        return 0;
    return d->hook_flags;
}

void *fakehost_state(const struct fakehost *fh)
{
    return fh->state;
}

/* ---- running ------------------------------------------------------------------- */

static int run(struct fakehost *fh, int (*fn)(void *, struct atum_job *), const char *kind,
               const char *payload, int attempt, int max_attempts, struct fakehost_job_result *out)
{
    memset(out, 0, sizeof(*out));
    out->retry_in = -1;
    struct fake_job j;
    memset(&j, 0, sizeof(j));
    j.pub.id = fh->next_job_id++;
    j.pub.kind = kind;
    j.pub.payload = payload;
    j.pub.payload_len = strlen(payload);
    j.pub.attempt = attempt > 0 ? attempt : 1;
    j.pub.max_attempts = max_attempts > 0 ? max_attempts : 10;
    j.pub.db = &fh->db;
    j.res = out;
    out->status = fn(fh->state, &j.pub);
    if (fh->in_tx) {
        /* atumd rolls back what a handler left open, and retries it */
        h_tx_rollback(&fh->db);
        if (out->status == ATUM_JOB_DONE) {
            out->status = ATUM_JOB_RETRY;
            snprintf(out->error, sizeof(out->error), "handler returned with its transaction open");
        }
    }
    return 0;
}

int fakehost_run_job(struct fakehost *fh, const char *kind, const char *payload, int attempt,
                     struct fakehost_job_result *out)
{
    for (const struct atum_job_kind *k = fh->plugin ? fh->plugin->jobs : NULL; k && k->kind; k++)
        if (strcmp(k->kind, kind) == 0)
            return run(fh, k->run, kind, payload ? payload : "{}", attempt, k->max_attempts, out);
    return -1;
}

int fakehost_run_hook(struct fakehost *fh, const char *event, const char *data_json,
                      struct fakehost_job_result *out)
{
    for (const struct atum_hook *h = fh->plugin ? fh->plugin->hooks : NULL; h && h->event; h++)
        if (strcmp(h->event, event) == 0) {
            size_t n = strlen(event) + strlen(data_json ? data_json : "{}") + 64;
            char *payload = grow(NULL, n);
            /* "at": the moment of the event, on the fake host's clock */
            snprintf(payload, n, "{\"event\": \"%s\", \"data\": %s, \"at\": %.3f}", event,
                     data_json ? data_json : "{}", h_now());
            char kind[200];
            snprintf(kind, sizeof(kind), "hook.%s.%s", fh->plugin->name, event);
            int rc = run(fh, h->run, kind, payload, 1, 10, out);
            free(payload);
            return rc;
        }
    return -1;
}

int fakehost_route(struct fakehost *fh, const char *method, const char *path, const char *query,
                   const char *body, long long user_id, enum atum_role role,
                   struct fakehost_response *out)
{
    free(fh->last_body);
    fh->last_body = NULL;
    memset(out, 0, sizeof(*out));
    const struct atum_route *roots = fh->plugin && fh->plugin->size >= offsetof(struct atum_plugin, root_routes)
                                     + sizeof(void *) ? fh->plugin->root_routes : NULL;
    const struct atum_route *tables[2] = { fh->plugin ? fh->plugin->routes : NULL, roots };
    for (int t = 0; t < 2; t++)
    for (const struct atum_route *r = tables[t]; r && r->path; r++) {
        if (strcmp(r->method, method) != 0 || strcmp(r->path, path) != 0)
            continue;
        struct atum_http_req req = { method, path, query, body, body ? strlen(body) : 0, user_id,
                                     role, &fh->db };
        struct atum_http_resp resp = { 500, "text/plain", NULL, 0 };
        out->handler_rc = r->handle(fh->state, &req, &resp);
        out->status = resp.status;
        snprintf(out->content_type, sizeof(out->content_type), "%s", resp.content_type);
        out->body = fh->last_body = resp.body ? resp.body : dup("");
        out->body_len = resp.len;
        if (fh->in_tx)
            h_tx_rollback(&fh->db);
        return 0;
    }
    return -1;
}

/* ---- answers -------------------------------------------------------------------- */

void fakehost_sql_answer(struct fakehost *fh, const char *match, int ncols, int nrows,
                         const char *const *cells)
{
    struct sql_answer a = { dup(match), ncols, nrows, NULL, NULL };
    a.cells = ncols > 0 && nrows > 0 ? grow(NULL, (size_t)(ncols * nrows) * sizeof(char *)) : NULL;
    for (int i = 0; i < ncols * nrows; i++)
        a.cells[i] = dup(cells[i]);
    PUSH(fh->sql_answers, a);
}

void fakehost_sql_fail(struct fakehost *fh, const char *match, const char *error)
{
    PUSH(fh->sql_answers, ((struct sql_answer){ dup(match), 0, 0, NULL, dup(error) }));
}

void fakehost_http_forget(struct fakehost *fh)
{
    for (size_t i = 0; i < fh->http_answers.n; i++) {
        struct http_answer *a = &fh->http_answers.v[i];
        free(a->method);
        free(a->prefix);
        free(a->body);
        free(a->error);
    }
    fh->http_answers.n = 0;
}

void fakehost_http_answer(struct fakehost *fh, const char *method, const char *url_prefix,
                          long status, const char *body, const char *transport_error)
{
    PUSH(fh->http_answers, ((struct http_answer){ dup(method), dup(url_prefix), dup(body),
                                                  dup(transport_error), status }));
}

/* ---- records -------------------------------------------------------------------- */

size_t fakehost_nsql(const struct fakehost *fh) { return fh->sql.n; }
const struct fakehost_sql *fakehost_sql_at(const struct fakehost *fh, size_t i)
{
    return i < fh->sql.n ? &fh->sql.v[i] : NULL;
}

const struct fakehost_sql *fakehost_sql_find(const struct fakehost *fh, const char *match)
{
    for (size_t i = fh->sql.n; i-- > 0;)
        if (strstr(fh->sql.v[i].sql, match))
            return &fh->sql.v[i];
    return NULL;
}

size_t fakehost_nenqueued(const struct fakehost *fh) { return fh->enqueued.n; }
const struct fakehost_enqueued *fakehost_enqueued_at(const struct fakehost *fh, size_t i)
{
    return i < fh->enqueued.n ? &fh->enqueued.v[i] : NULL;
}

size_t fakehost_nevents(const struct fakehost *fh) { return fh->events.n; }
const struct fakehost_event *fakehost_event_at(const struct fakehost *fh, size_t i)
{
    return i < fh->events.n ? &fh->events.v[i] : NULL;
}

size_t fakehost_nhttp(const struct fakehost *fh) { return fh->http.n; }
const struct fakehost_http *fakehost_http_at(const struct fakehost *fh, size_t i)
{
    return i < fh->http.n ? &fh->http.v[i] : NULL;
}

size_t fakehost_nmail(const struct fakehost *fh) { return fh->mail.n; }
const struct fakehost_mail *fakehost_mail_at(const struct fakehost *fh, size_t i)
{
    return i < fh->mail.n ? &fh->mail.v[i] : NULL;
}

const struct fakehost_log *fakehost_log_find(const struct fakehost *fh, const char *text)
{
    for (size_t i = 0; i < fh->logs.n; i++)
        if (strstr(fh->logs.v[i].text, text))
            return &fh->logs.v[i];
    return NULL;
}

double fakehost_metric(const struct fakehost *fh, const char *name, const char *labels)
{
    for (size_t i = 0; i < fh->metrics.n; i++)
        if (strcmp(fh->metrics.v[i].name, name) == 0
            && strcmp(fh->metrics.v[i].labels, labels ? labels : "") == 0)
            return fh->metrics.v[i].value;
    return 0;
}

void fakehost_tx_counts(const struct fakehost *fh, int *begun, int *committed, int *rolled_back)
{
    *begun = fh->tx_begun;
    *committed = fh->tx_committed;
    *rolled_back = fh->tx_rolled_back;
}

int fakehost_run_command(struct fakehost *fh, int argc, char **argv, int *exit_r)
{
    const struct atum_plugin *d = fh->plugin;
    if (d == NULL || argc < 1 || d->size < offsetof(struct atum_plugin, commands) + sizeof(void *))
        return -1;
    for (const struct atum_command *c = d->commands; c && c->name; c++)
        if (strcmp(c->name, argv[0]) == 0) {
            *exit_r = c->run(fh->state, &fh->db, argc, argv);
            if (fh->in_tx)
                h_tx_rollback(&fh->db);
            return 0;
        }
    return -1;
}

int fakehost_ticket_view(struct fakehost *fh, long long ticket_id, struct fakehost_response *out)
{
    memset(out, 0, sizeof(*out));
    if (fh->plugin == NULL || fh->plugin->size < offsetof(struct atum_plugin, ticket_view) + sizeof(void *)
        || fh->plugin->ticket_view == NULL)
        return -1;
    free(fh->last_body);
    struct atum_http_resp resp = { 500, "text/plain", NULL, 0 };
    out->handler_rc = fh->plugin->ticket_view(fh->state, &fh->db, ticket_id, &resp);
    out->status = resp.status;
    snprintf(out->content_type, sizeof(out->content_type), "%s", resp.content_type);
    out->body = fh->last_body = resp.body ? resp.body : dup("");
    out->body_len = resp.len;
    return 0;
}

int fakehost_mail_block(struct fakehost *fh, const char *template_name, long long ticket_id,
                        struct fakehost_response *out)
{
    memset(out, 0, sizeof(*out));
    if (fh->plugin == NULL || fh->plugin->size < offsetof(struct atum_plugin, mail_block) + sizeof(void *)
        || fh->plugin->mail_block == NULL)
        return -1;
    free(fh->last_body);
    /* as the host: status 0 until the plugin replies (no reply: nothing added) */
    struct atum_http_resp resp = { 0, "", NULL, 0 };
    out->handler_rc = fh->plugin->mail_block(fh->state, &fh->db, template_name, ticket_id, &resp);
    out->status = resp.status;
    snprintf(out->content_type, sizeof(out->content_type), "%s", resp.content_type);
    out->body = fh->last_body = resp.body ? resp.body : dup("");
    out->body_len = resp.len;
    return 0;
}

void fakehost_set_now(struct fakehost *fh, double t)
{
    fh->fixed_now = t;
}

void fakehost_advance(struct fakehost *fh, double seconds)
{
    if (fh->fixed_now < 0)
        fh->fixed_now = h_now();
    fh->fixed_now += seconds;
}

size_t fakehost_nticket_changes(const struct fakehost *fh) { return fh->changes.n; }
const struct fakehost_ticket_change *fakehost_ticket_change_at(const struct fakehost *fh, size_t i)
{
    return i < fh->changes.n ? &fh->changes.v[i] : NULL;
}

void fakehost_set_client_addr(struct fakehost *fh, const char *addr)
{
    snprintf(fh->client_addr, sizeof(fh->client_addr), "%s", addr ? addr : "");
}

int fakehost_histogram(const struct fakehost *fh, const char *name, const char *labels,
                       unsigned long long *count_r, double *sum_r)
{
    for (size_t i = 0; i < fh->hists.n; i++)
        if (strcmp(fh->hists.v[i].name, name) == 0
            && strcmp(fh->hists.v[i].labels, labels ? labels : "") == 0) {
            *count_r = fh->hists.v[i].count;
            *sum_r = fh->hists.v[i].sum;
            return 1;
        }
    return 0;
}

const char *fakehost_metric_help(const struct fakehost *fh, const char *name)
{
    for (size_t i = 0; i < fh->described.n; i++)
        if (strcmp(fh->described.v[i].name, name) == 0)
            return fh->described.v[i].help;
    return NULL;
}
