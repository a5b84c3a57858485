/* core/db.c -- see core/db.h. */
#include "config.h"
#include "core/db.h"
#include "lib/err.h"
#include "lib/log.h"
#include "lib/metrics.h"
#include "lib/util.h"
#include "lib/xalloc.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DB_MAX_PREPARED 64
/* a ticket's creation counts two or three things; a merge a few more */
#define DB_PENDING_COUNTS 16

struct db_conn {
    PGconn *pg;
    char *url;
    char *app_name;
    long long connect_timeout_ms;
    long long statement_timeout_ms;
    long long reconnect_max_ms;

    unsigned generation;
    const char *prepared[DB_MAX_PREPARED];   /* statement names prepared on pg */
    int nprepared;
    bool notify_pending;
    /* counters to add when the transaction commits (db_count_on_commit) */
    struct {
        const char *name;
        char labels[DB_METRIC_LABELS_MAX];
    } counts[DB_PENDING_COUNTS];
    int ncounts;
    char sqlstate[6];
    char err_table[64], err_constraint[64];   /* of the last failure, if named */

    /* backoff while the server is unreachable */
    long long next_try_ms;
    long long backoff_ms;
    unsigned outage_epoch;                   /* outage_count when connected */
};

/* One db.down per outage and process, not one per connection: the first
 * connection that notices logs it, the first one back logs db.up.  A
 * connection opened before the last logged outage that breaks later was
 * killed by that outage: it stays quiet, unless it cannot reconnect. */
static pthread_mutex_t outage_lock = PTHREAD_MUTEX_INITIALIZER;
static bool outage_down;                     /* db.down logged, db.up not yet */
static unsigned outage_count;                /* db.down lines logged */

struct db_conn *db_conn_new(const struct db_params *p)
{
    struct db_conn *c = xcalloc(1, sizeof(*c));
    c->url = xstrdup(p->url);
    c->app_name = xstrdup(p->application_name ? p->application_name : "atum");
    c->connect_timeout_ms = p->connect_timeout_ms > 0 ? p->connect_timeout_ms : 5000;
    c->statement_timeout_ms = p->statement_timeout_ms;
    c->reconnect_max_ms = p->reconnect_max_ms > 0 ? p->reconnect_max_ms : 30000;
    return c;
}

void db_conn_free(struct db_conn **cp)
{
    struct db_conn *c = *cp;
    if (c == NULL)
        return;
    if (c->pg != NULL)
        PQfinish(c->pg);
    free(c->url);
    free(c->app_name);
    free(c);
    *cp = NULL;
}

static void conn_lost(struct db_conn *c, const char *why, bool connect_failed)
{
    if (c->pg != NULL) {
        PQfinish(c->pg);
        c->pg = NULL;
    }
    c->nprepared = 0;
    c->notify_pending = false;
    pthread_mutex_lock(&outage_lock);
    if (!outage_down && (connect_failed || c->outage_epoch == outage_count)) {
        log_warn("db.down", "app=%s error=%s", c->app_name, why);
        outage_down = true;
        outage_count++;
    }
    pthread_mutex_unlock(&outage_lock);
    c->backoff_ms = c->backoff_ms ? c->backoff_ms * 2 : 100;
    if (c->backoff_ms > c->reconnect_max_ms)
        c->backoff_ms = c->reconnect_max_ms;
    /* ±20 % so a fleet of workers does not reconnect in lockstep */
    long long jitter = (long long)((rand_unit() - 0.5) * 0.4 * (double)c->backoff_ms);
    c->next_try_ms = time_mono_ms() + c->backoff_ms + jitter;
}

void db_conn_drop(struct db_conn *c)
{
    if (c->pg != NULL) {
        PQfinish(c->pg);
        c->pg = NULL;
    }
    c->nprepared = 0;
    c->notify_pending = false;
}

static void notice_quiet(void *arg, const PGresult *res)
{
    (void)arg;
    if (log_enabled(LOG_LEVEL_DEBUG)) {
        const char *msg = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
        log_debug("db.notice", "msg=%s", msg ? msg : "");
    }
}

int db_conn_connect(struct db_conn *c, const char **error_r)
{
    char timeout[32], options[128];
    snprintf(timeout, sizeof(timeout), "%lld", (c->connect_timeout_ms + 999) / 1000);
    /* Sessions never sit in an open transaction for long: a stuck client
     * must not pin dead tuples in the jobs table. */
    snprintf(options, sizeof(options),
             "-c statement_timeout=%lld -c idle_in_transaction_session_timeout=%lld",
             c->statement_timeout_ms,
             c->statement_timeout_ms > 0 ? c->statement_timeout_ms * 2 : 600000LL);
    const char *keys[] = { "dbname", "application_name", "connect_timeout", "options",
                           "client_encoding", NULL };
    const char *vals[] = { c->url, c->app_name, timeout, options, "UTF8", NULL };

    if (c->pg != NULL)
        db_conn_drop(c);
    PGconn *pg = PQconnectdbParams(keys, vals, 1);
    if (pg == NULL || PQstatus(pg) != CONNECTION_OK) {
        const char *msg = pg ? PQerrorMessage(pg) : "out of memory";
        char *nl;
        const char *e = err_fmt("%s", msg);
        if ((nl = strchr(e, '\n')) != NULL && nl[1] == '\0')
            *nl = '\0';
        if (pg)
            PQfinish(pg);
        conn_lost(c, e, true);
        return err_set(error_r, "cannot connect to PostgreSQL: %s", e);
    }
    PQsetNoticeReceiver(pg, notice_quiet, NULL);
    c->pg = pg;
    c->generation++;
    c->nprepared = 0;
    c->notify_pending = false;
    c->backoff_ms = 0;
    c->next_try_ms = 0;
    pthread_mutex_lock(&outage_lock);
    if (outage_down) {
        log_info("db.up", "app=%s", c->app_name);
        outage_down = false;
    }
    c->outage_epoch = outage_count;
    pthread_mutex_unlock(&outage_lock);
    return 0;
}

int db_conn_ensure(struct db_conn *c, const char **error_r)
{
    if (c->pg != NULL && PQstatus(c->pg) == CONNECTION_OK)
        return 0;
    if (c->pg != NULL)
        conn_lost(c, "connection broken", false);
    long long wait = c->next_try_ms - time_mono_ms();
    if (wait > 0)
        return err_set(error_r, "database unavailable (next attempt in %lld ms)", wait);
    return db_conn_connect(c, error_r);
}

bool db_conn_is_up(const struct db_conn *c)
{
    return c->pg != NULL && PQstatus(c->pg) == CONNECTION_OK;
}

long long db_conn_retry_in_ms(const struct db_conn *c)
{
    long long wait = c->next_try_ms - time_mono_ms();
    return wait > 0 ? wait : 0;
}

PGconn *db_conn_pg(struct db_conn *c)
{
    return c->pg;
}

unsigned db_conn_generation(const struct db_conn *c)
{
    return c->generation;
}

const char *db_last_sqlstate(const struct db_conn *c)
{
    return c->sqlstate;
}

const char *db_last_table(const struct db_conn *c)
{
    return c->err_table;
}

const char *db_last_constraint(const struct db_conn *c)
{
    return c->err_constraint;
}

/* Classifies a failed result; drops the connection when it is unusable. */
static const char *result_error(struct db_conn *c, PGresult *res)
{
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    const char *msg = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    const char *detail = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL) : NULL;
    if (msg == NULL) {
        msg = c->pg ? PQerrorMessage(c->pg) : "no connection";
        if (*msg == '\0')
            msg = "unknown error";
    }
    bool broken = c->pg == NULL || PQstatus(c->pg) != CONNECTION_OK
                  || (state && (strncmp(state, "08", 2) == 0 || strncmp(state, "57P", 3) == 0));
    snprintf(c->sqlstate, sizeof(c->sqlstate), "%s", state ? state : (broken ? "08006" : "XX000"));
    const char *table = res ? PQresultErrorField(res, PG_DIAG_TABLE_NAME) : NULL;
    const char *cons = res ? PQresultErrorField(res, PG_DIAG_CONSTRAINT_NAME) : NULL;
    snprintf(c->err_table, sizeof(c->err_table), "%s", table ? table : "");
    snprintf(c->err_constraint, sizeof(c->err_constraint), "%s", cons ? cons : "");
    const char *e = detail ? err_fmt("%s (%s)", msg, detail) : err_fmt("%s", msg);
    /* libpq messages end in a newline */
    char *nl = strchr(e, '\n');
    if (nl)
        *nl = '\0';
    if (broken && c->pg != NULL)
        conn_lost(c, e, false);
    return e;
}

static PGresult *check_result(struct db_conn *c, PGresult *res, const char **error_r)
{
    ExecStatusType st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
        c->sqlstate[0] = '\0';
        c->err_table[0] = c->err_constraint[0] = '\0';
        return res;
    }
    const char *e = result_error(c, res);
    if (error_r)
        *error_r = e;
    PQclear(res);
    return NULL;
}

static int require_conn(struct db_conn *c, const char **error_r)
{
    if (c->pg == NULL || PQstatus(c->pg) != CONNECTION_OK) {
        snprintf(c->sqlstate, sizeof(c->sqlstate), "08006");
        c->err_table[0] = c->err_constraint[0] = '\0';
        if (c->pg != NULL)
            conn_lost(c, "connection broken", false);
        return err_set(error_r, "no database connection");
    }
    return 0;
}

PGresult *db_exec_bin(struct db_conn *c, const char *sql, int nparams,
                      const char *const *params, const int *lengths,
                      const int *formats, int result_format, const char **error_r)
{
    if (require_conn(c, error_r) < 0)
        return NULL;
    PGresult *res = PQexecParams(c->pg, sql, nparams, NULL, params, lengths, formats, result_format);
    return check_result(c, res, error_r);
}

PGresult *db_exec(struct db_conn *c, const char *sql, int nparams,
                  const char *const *params, const char **error_r)
{
    return db_exec_bin(c, sql, nparams, params, NULL, NULL, 0, error_r);
}

static bool is_prepared(const struct db_conn *c, const char *name)
{
    for (int i = 0; i < c->nprepared; i++)
        if (c->prepared[i] == name || strcmp(c->prepared[i], name) == 0)
            return true;
    return false;
}

PGresult *db_exec_stmt_bin(struct db_conn *c, const struct db_stmt *stmt,
                           const char *const *params, const int *lengths, const int *formats,
                           const char **error_r)
{
    if (require_conn(c, error_r) < 0)
        return NULL;
    if (!is_prepared(c, stmt->name)) {
        if (c->nprepared >= DB_MAX_PREPARED) {
            /* not expected: fall back to an unnamed statement */
            return db_exec_bin(c, stmt->sql, stmt->nparams, params, lengths, formats, 0, error_r);
        }
        PGresult *pr = check_result(c, PQprepare(c->pg, stmt->name, stmt->sql, stmt->nparams, NULL),
                                    error_r);
        if (pr == NULL)
            return NULL;
        PQclear(pr);
        c->prepared[c->nprepared++] = stmt->name;
    }
    PGresult *res = PQexecPrepared(c->pg, stmt->name, stmt->nparams, params, lengths, formats, 0);
    return check_result(c, res, error_r);
}

PGresult *db_exec_stmt(struct db_conn *c, const struct db_stmt *stmt,
                       const char *const *params, const char **error_r)
{
    return db_exec_stmt_bin(c, stmt, params, NULL, NULL, error_r);
}

int db_command(struct db_conn *c, const char *sql, const char **error_r)
{
    if (require_conn(c, error_r) < 0)
        return -1;
    PGresult *res = check_result(c, PQexec(c->pg, sql), error_r);
    if (res == NULL)
        return -1;
    PQclear(res);
    return 0;
}

int db_begin(struct db_conn *c, const char **error_r)
{
    c->notify_pending = false;
    c->ncounts = 0;
    return db_command(c, "BEGIN", error_r);
}

int db_commit(struct db_conn *c, const char **error_r)
{
    /* NOTIFY is transactional: listeners hear it only if COMMIT succeeds,
     * and one per transaction keeps a bulk enqueue from storming them. */
    const char *sql = c->notify_pending ? "NOTIFY " DB_NOTIFY_CHANNEL "; COMMIT" : "COMMIT";
    c->notify_pending = false;
    if (require_conn(c, error_r) < 0)
        return -1;
    PGresult *res = PQexec(c->pg, sql);
    res = check_result(c, res, error_r);
    if (res == NULL) {
        if (c->pg != NULL && PQtransactionStatus(c->pg) != PQTRANS_IDLE)
            db_rollback(c);
        return -1;
    }
    /* A COMMIT of an aborted transaction answers "ROLLBACK". */
    bool rolled_back = strcmp(PQcmdStatus(res), "ROLLBACK") == 0;
    PQclear(res);
    int n = c->ncounts;
    c->ncounts = 0;
    if (rolled_back)
        return err_set(error_r, "transaction was aborted and has been rolled back");
    for (int i = 0; i < n; i++)
        metrics_counter_add(c->counts[i].name, c->counts[i].labels, 1);
    return 0;
}

void db_rollback(struct db_conn *c)
{
    c->notify_pending = false;
    c->ncounts = 0;
    if (c->pg == NULL || PQstatus(c->pg) != CONNECTION_OK)
        return;
    if (PQtransactionStatus(c->pg) == PQTRANS_IDLE)
        return;
    PGresult *res = PQexec(c->pg, "ROLLBACK");
    if (PQresultStatus(res) != PGRES_COMMAND_OK)
        (void)result_error(c, res);
    PQclear(res);
}

bool db_in_transaction(struct db_conn *c)
{
    if (c->pg == NULL)
        return false;
    PGTransactionStatusType st = PQtransactionStatus(c->pg);
    return st == PQTRANS_INTRANS || st == PQTRANS_INERROR;
}

void db_want_notify(struct db_conn *c)
{
    c->notify_pending = true;
}

void db_count_on_commit(struct db_conn *c, const char *name, const char *labels)
{
    size_t len = labels ? strlen(labels) : 0;
    if (!db_in_transaction(c) || c->ncounts == DB_PENDING_COUNTS || len >= DB_METRIC_LABELS_MAX) {
        metrics_counter_add(name, labels, 1);
        return;
    }
    c->counts[c->ncounts].name = name;
    memcpy(c->counts[c->ncounts].labels, labels ? labels : "", len + 1);
    c->ncounts++;
}

char *db_query_value(struct db_conn *c, const char *sql, int nparams,
                     const char *const *params, const char **error_r)
{
    PGresult *res = db_exec(c, sql, nparams, params, error_r);
    if (res == NULL)
        return NULL;
    char *v = NULL;
    if (PQntuples(res) > 0 && !PQgetisnull(res, 0, 0))
        v = xstrdup(PQgetvalue(res, 0, 0));
    else if (error_r)
        *error_r = NULL;
    PQclear(res);
    return v;
}

void db_text_array(struct strbuf *b, char *const *v, size_t n)
{
    strbuf_addc(b, '{');
    for (size_t i = 0; i < n; i++) {
        if (i)
            strbuf_addc(b, ',');
        strbuf_addc(b, '"');
        for (const char *p = v[i]; *p; p++) {
            if (*p == '"' || *p == '\\')
                strbuf_addc(b, '\\');
            strbuf_addc(b, *p);
        }
        strbuf_addc(b, '"');
    }
    strbuf_addc(b, '}');
}
