/* core/jobs.c -- see core/jobs.h. */
#include "config.h"
#include "core/jobs.h"
#include "lib/err.h"
#include "lib/log.h"
#include "lib/xalloc.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- statements ------------------------------------------------------- */

static const struct db_stmt st_enqueue = {
    "jobs_enqueue",
    "INSERT INTO jobs (kind, payload, priority, run_at, max_attempts, unique_key, concurrency_key)"
    " VALUES ($1, $2::jsonb, $3, now() + $4::bigint * interval '1 millisecond', $5, $6, $7)"
    " ON CONFLICT (unique_key) WHERE unique_key IS NOT NULL DO NOTHING"
    " RETURNING id",
    7
};

/* The CTE picks rows in exactly the order of jobs_claim_idx, so the plan is
 * an index scan that stops after $2 unlocked rows; SKIP LOCKED lets other
 * workers claim past rows being claimed right now. */
static const struct db_stmt st_claim = {
    "jobs_claim",
    "WITH next AS ("
    "  SELECT id FROM jobs"
    "   WHERE state = 'available' AND run_at <= now()"
    "     AND (concurrency_key IS NULL OR NOT EXISTS ("
    "          SELECT 1 FROM jobs r WHERE r.state = 'running'"
    "             AND r.concurrency_key = jobs.concurrency_key))"
    "   ORDER BY priority, run_at, id"
    "   LIMIT $2"
    "   FOR UPDATE SKIP LOCKED)"
    " UPDATE jobs j SET state = 'running', locked_by = $1,"
    "        locked_until = now() + $3::bigint * interval '1 millisecond',"
    "        attempts = j.attempts + 1, updated_at = now()"
    "   FROM next WHERE j.id = next.id"
    " RETURNING j.id, j.kind, j.payload, j.attempts, j.max_attempts, j.concurrency_key,"
    "           j.priority, j.run_at, greatest(extract(epoch FROM now() - j.run_at), 0)",
    3
};

static const struct db_stmt st_complete_keep = {
    "queue_complete_keep",
    "WITH done AS ("
    "  DELETE FROM jobs WHERE id = ANY($2::bigint[]) AND state = 'running' AND locked_by = $1"
    "  RETURNING id, kind, payload, attempts, locked_by, created_at)"
    " INSERT INTO job_archive (id, kind, payload, attempts, locked_by, created_at)"
    " SELECT id, kind, payload, attempts, locked_by, created_at FROM done",
    2
};

static const struct db_stmt st_complete_drop = {
    "queue_complete_drop",
    "DELETE FROM jobs WHERE id = ANY($2::bigint[]) AND state = 'running' AND locked_by = $1",
    2
};

static const struct db_stmt st_retry = {
    "jobs_retry",
    "UPDATE jobs SET state = CASE WHEN attempts >= max_attempts THEN 'dead' ELSE 'available' END,"
    "       run_at = now() + $3::bigint * interval '1 millisecond',"
    "       last_error = $4, locked_by = NULL, locked_until = NULL, updated_at = now()"
    " WHERE id = $2 AND state = 'running' AND locked_by = $1"
    " RETURNING state",
    4
};

static const struct db_stmt st_dead = {
    "jobs_dead",
    "UPDATE jobs SET state = 'dead', last_error = $3, locked_by = NULL, locked_until = NULL,"
    "       updated_at = now()"
    " WHERE id = $2 AND state = 'running' AND locked_by = $1",
    3
};

static const struct db_stmt st_release = {
    "jobs_release",
    "UPDATE jobs SET state = 'available', locked_by = NULL, locked_until = NULL,"
    "       attempts = greatest(attempts - 1, 0),"
    "       run_at = now() + $3::bigint * interval '1 millisecond', updated_at = now()"
    " WHERE id = ANY($2::bigint[]) AND state = 'running' AND locked_by = $1",
    3
};

/* Whatever a worker still holds when its connection comes back: the run
 * that was going on when it broke did not commit its completion (a
 * completion committed with the job's effects removed the row, and one
 * recorded separately was recorded before this), so the job is given back
 * at once, as an expired lease would give it back later. */
static const struct db_stmt st_release_orphans = {
    "jobs_release_orphans",
    "UPDATE jobs SET state = CASE WHEN attempts >= max_attempts THEN 'dead' ELSE 'available' END,"
    "       last_error = 'the database connection of worker ' || $1"
    "                    || ' broke while it ran the job',"
    "       locked_by = NULL, locked_until = NULL, run_at = now(), updated_at = now()"
    " WHERE state = 'running' AND locked_by = $1",
    1
};

static const struct db_stmt st_extend = {
    "jobs_extend",
    "UPDATE jobs SET locked_until = now() + $3::bigint * interval '1 millisecond'"
    " WHERE id = ANY($2::bigint[]) AND state = 'running' AND locked_by = $1"
    " RETURNING id",
    3
};

static const struct db_stmt st_rescue = {
    "queue_rescue",
    "WITH expired AS ("
    "  SELECT id, locked_by FROM jobs"
    "   WHERE state = 'running' AND locked_until < now()"
    "   ORDER BY locked_until LIMIT $1 FOR UPDATE SKIP LOCKED)"
    " UPDATE jobs j SET state = CASE WHEN j.attempts >= j.max_attempts THEN 'dead' ELSE 'available' END,"
    "        last_error = 'lease expired: worker ' || coalesce(expired.locked_by, '?')"
    "                     || ' did not finish in time (crashed, killed or stuck)',"
    "        locked_by = NULL, locked_until = NULL, run_at = now(), updated_at = now()"
    "   FROM expired WHERE j.id = expired.id"
    " RETURNING j.id, j.kind, j.state, expired.locked_by",
    1
};

/* ---- pure helpers ----------------------------------------------------- */

long long jobs_backoff_ms(int attempt, long long max_ms, double unit)
{
    if (attempt < 1)
        attempt = 1;
    double s = pow((double)attempt, 4.0);   /* 1, 16, 81, 256, 625 ... seconds */
    double ms = s * 1000.0 * (0.9 + 0.2 * unit);
    if (ms > (double)max_ms)
        ms = (double)max_ms * (0.9 + 0.1 * unit);
    if (ms < 1)
        ms = 1;
    return (long long)ms;
}

void jobs_ids_literal(struct strbuf *out, const long long *ids, int n)
{
    strbuf_addc(out, '{');
    for (int i = 0; i < n; i++)
        strbuf_addf(out, i ? ",%lld" : "%lld", ids[i]);
    strbuf_addc(out, '}');
}

bool jobs_kind_valid(const char *kind)
{
    if (kind == NULL || *kind == '\0' || strlen(kind) > JOBS_KIND_MAX)
        return false;
    if (!(islower((unsigned char)kind[0]) || isdigit((unsigned char)kind[0])))
        return false;
    for (const char *p = kind; *p; p++) {
        unsigned char ch = (unsigned char)*p;
        if (!(islower(ch) || isdigit(ch) || ch == '.' || ch == '_' || ch == '-' || ch == ':'))
            return false;
    }
    return true;
}

int jobs_spec_check(const struct atum_job_spec *spec, const char **error_r)
{
    if (!jobs_kind_valid(spec->kind))
        return err_set(error_r, "invalid job kind '%s': use [a-z0-9][a-z0-9._:-]*, at most %d characters",
                       spec->kind ? spec->kind : "(null)", JOBS_KIND_MAX);
    if (spec->priority < 0 || spec->priority > 32767)
        return err_set(error_r, "job priority %d out of range 0..32767", spec->priority);
    if (spec->max_attempts < 0 || spec->max_attempts > 1000)
        return err_set(error_r, "max_attempts %d out of range 0..1000", spec->max_attempts);
    if (spec->delay_seconds < 0 || spec->delay_seconds > 10.0 * 365 * 86400 || isnan(spec->delay_seconds))
        return err_set(error_r, "job delay %.0f s out of range", spec->delay_seconds);
    if (spec->unique_key && (*spec->unique_key == '\0' || strlen(spec->unique_key) > JOBS_KEY_MAX))
        return err_set(error_r, "unique_key must be 1..%d bytes", JOBS_KEY_MAX);
    if (spec->concurrency_key && (*spec->concurrency_key == '\0' || strlen(spec->concurrency_key) > JOBS_KEY_MAX))
        return err_set(error_r, "concurrency_key must be 1..%d bytes", JOBS_KEY_MAX);
    return 0;
}

/* Same session time zone for every row, so the text compares like the time. */
static int job_order(const void *a, const void *b)
{
    const struct jobs_item *x = a, *y = b;
    if (x->priority != y->priority)
        return x->priority < y->priority ? -1 : 1;
    int c = strcmp(x->run_at, y->run_at);
    if (c != 0)
        return c;
    return x->id < y->id ? -1 : x->id > y->id;
}

void jobs_batch_free(struct jobs_batch *b)
{
    for (int i = 0; i < b->n; i++) {
        free(b->jobs[i].kind);
        free(b->jobs[i].payload);
        free(b->jobs[i].concurrency_key);
    }
    free(b->jobs);
    b->jobs = NULL;
    b->n = 0;
}

/* ---- statements' callers ---------------------------------------------- */

int jobs_enqueue(struct db_conn *c, const struct atum_job_spec *spec, long long *id_r,
                  const char **error_r)
{
    return jobs_enqueue_ex(c, spec, spec->delay_seconds <= 0, id_r, error_r);
}

int jobs_enqueue_ex(struct db_conn *c, const struct atum_job_spec *spec, bool wake,
                     long long *id_r, const char **error_r)
{
    const char *e = NULL;
    if (id_r)
        *id_r = 0;
    if (jobs_spec_check(spec, error_r) < 0)
        return -1;

    bool own_tx = !db_in_transaction(c);
    if (own_tx && db_begin(c, &e) < 0)
        return err_set(error_r, "enqueue %s: %s", spec->kind, e);

    char prio[16], delay[32], attempts[16];
    snprintf(prio, sizeof(prio), "%d", spec->priority ? spec->priority : JOBS_DEFAULT_PRIORITY);
    snprintf(delay, sizeof(delay), "%lld", (long long)(spec->delay_seconds * 1000.0));
    snprintf(attempts, sizeof(attempts), "%d", spec->max_attempts > 0 ? spec->max_attempts : 10);
    const char *params[] = {
        spec->kind, spec->payload ? spec->payload : "{}", prio, delay, attempts,
        spec->unique_key, spec->concurrency_key
    };
    PGresult *r = db_exec_stmt(c, &st_enqueue, params, &e);
    if (r == NULL) {
        if (own_tx)
            db_rollback(c);
        return err_set(error_r, "enqueue %s: %s", spec->kind, e);
    }
    long long id = PQntuples(r) > 0 ? atoll(PQgetvalue(r, 0, 0)) : 0;
    PQclear(r);
    if (id > 0 && wake)
        db_want_notify(c);
    if (own_tx && db_commit(c, &e) < 0)
        return err_set(error_r, "enqueue %s: commit: %s", spec->kind, e);
    if (id_r)
        *id_r = id;
    return 0;
}

int jobs_claim(struct db_conn *c, const char *worker, int limit, long long lease_ms,
                struct jobs_batch *batch_r, const char **error_r)
{
    char slimit[16], slease[32];
    snprintf(slimit, sizeof(slimit), "%d", limit);
    snprintf(slease, sizeof(slease), "%lld", lease_ms);
    const char *params[] = { worker, slimit, slease };
    const char *e = NULL;

    batch_r->jobs = NULL;
    batch_r->n = 0;
    PGresult *r = db_exec_stmt(c, &st_claim, params, &e);
    if (r == NULL)
        return err_set(error_r, "claim: %s", e);
    int n = PQntuples(r);
    if (n > 0) {
        batch_r->jobs = xcalloc((size_t)n, sizeof(*batch_r->jobs));
        for (int i = 0; i < n; i++) {
            struct jobs_item *j = &batch_r->jobs[i];
            j->id = atoll(PQgetvalue(r, i, 0));
            j->kind = xstrdup(PQgetvalue(r, i, 1));
            j->payload_len = (size_t)PQgetlength(r, i, 2);
            j->payload = xstrndup(PQgetvalue(r, i, 2), j->payload_len);
            j->attempts = atoi(PQgetvalue(r, i, 3));
            j->max_attempts = atoi(PQgetvalue(r, i, 4));
            j->concurrency_key = PQgetisnull(r, i, 5) ? NULL : xstrdup(PQgetvalue(r, i, 5));
            j->priority = atoi(PQgetvalue(r, i, 6));
            snprintf(j->run_at, sizeof(j->run_at), "%s", PQgetvalue(r, i, 7));
            j->wait_seconds = strtod(PQgetvalue(r, i, 8), NULL);
        }
        batch_r->n = n;
        /* UPDATE ... RETURNING gives no order: run the batch in claim order */
        qsort(batch_r->jobs, (size_t)n, sizeof(*batch_r->jobs), job_order);
    }
    PQclear(r);
    return 0;
}

/* Runs a statement whose parameters are (worker, ids[], extra) and returns
 * the number of rows it touched. */
static int exec_ids(struct db_conn *c, const struct db_stmt *st, const char *worker,
                    const long long *ids, int n, const char *extra, int *count_r,
                    const char **error_r)
{
    struct strbuf lit = STRBUF_INIT;
    jobs_ids_literal(&lit, ids, n);
    const char *params[] = { worker, lit.s, extra };
    PGresult *r = db_exec_stmt(c, st, params, error_r);
    strbuf_free(&lit);
    if (r == NULL)
        return -1;
    if (count_r)
        *count_r = atoi(PQcmdTuples(r));
    PQclear(r);
    return 0;
}

int jobs_complete(struct db_conn *c, const char *worker, const long long *ids, int n,
                   bool keep, int *finished_r, const char **error_r)
{
    const char *e = NULL;
    if (finished_r)
        *finished_r = 0;
    if (n == 0)
        return 0;
    if (exec_ids(c, keep ? &st_complete_keep : &st_complete_drop, worker, ids, n, NULL,
                 finished_r, &e) < 0)
        return err_set(error_r, "complete: %s", e);
    return 0;
}

int jobs_retry(struct db_conn *c, const char *worker, long long id, long long delay_ms,
                const char *error, char state_r[16], const char **error_r)
{
    char sid[32], sdelay[32];
    snprintf(sid, sizeof(sid), "%lld", id);
    snprintf(sdelay, sizeof(sdelay), "%lld", delay_ms);
    const char *params[] = { worker, sid, sdelay, error ? error : "failed" };
    const char *e = NULL;
    PGresult *r = db_exec_stmt(c, &st_retry, params, &e);
    if (r == NULL)
        return err_set(error_r, "retry job %lld: %s", id, e);
    if (state_r)
        snprintf(state_r, 16, "%s", PQntuples(r) > 0 ? PQgetvalue(r, 0, 0) : "");
    PQclear(r);
    return 0;
}

int jobs_dead(struct db_conn *c, const char *worker, long long id, const char *error,
               bool *was_ours_r, const char **error_r)
{
    char sid[32];
    snprintf(sid, sizeof(sid), "%lld", id);
    const char *params[] = { worker, sid, error ? error : "failed" };
    const char *e = NULL;
    PGresult *r = db_exec_stmt(c, &st_dead, params, &e);
    if (r == NULL)
        return err_set(error_r, "dead job %lld: %s", id, e);
    if (was_ours_r)
        *was_ours_r = atoi(PQcmdTuples(r)) > 0;
    PQclear(r);
    return 0;
}

int jobs_release(struct db_conn *c, const char *worker, const long long *ids, int n,
                  long long delay_ms, const char **error_r)
{
    if (n == 0)
        return 0;
    char sdelay[32];
    const char *e = NULL;
    snprintf(sdelay, sizeof(sdelay), "%lld", delay_ms);
    if (exec_ids(c, &st_release, worker, ids, n, sdelay, NULL, &e) < 0)
        return err_set(error_r, "release: %s", e);
    return 0;
}

int jobs_release_orphans(struct db_conn *c, const char *worker, int *released_r,
                         const char **error_r)
{
    const char *e = NULL;
    const char *params[] = { worker };
    PGresult *r = db_exec_stmt(c, &st_release_orphans, params, &e);
    if (r == NULL)
        return err_set(error_r, "release orphans: %s", e);
    if (released_r)
        *released_r = atoi(PQcmdTuples(r));
    PQclear(r);
    return 0;
}

int jobs_extend(struct db_conn *c, const char *worker, const long long *ids, int n,
                 long long lease_ms, bool *ours, int *still_ours_r, const char **error_r)
{
    char slease[32];
    const char *e = NULL;
    struct strbuf lit = STRBUF_INIT;
    snprintf(slease, sizeof(slease), "%lld", lease_ms);
    jobs_ids_literal(&lit, ids, n);
    const char *params[] = { worker, lit.s, slease };
    PGresult *r = db_exec_stmt(c, &st_extend, params, &e);
    strbuf_free(&lit);
    if (r == NULL)
        return err_set(error_r, "extend lease: %s", e);
    if (ours != NULL) {
        for (int i = 0; i < n; i++) {
            ours[i] = false;
            for (int k = 0; k < PQntuples(r) && !ours[i]; k++)
                ours[i] = atoll(PQgetvalue(r, k, 0)) == ids[i];
        }
    }
    if (still_ours_r)
        *still_ours_r = PQntuples(r);
    PQclear(r);
    return 0;
}

int jobs_rescue_expired(struct db_conn *c, int limit, int *rescued_r, const char **error_r)
{
    char slimit[16];
    snprintf(slimit, sizeof(slimit), "%d", limit);
    const char *params[] = { slimit };
    const char *e = NULL;
    PGresult *r = db_exec_stmt(c, &st_rescue, params, &e);
    if (r == NULL)
        return err_set(error_r, "rescue expired leases: %s", e);
    int n = PQntuples(r);
    for (int i = 0; i < n; i++)
        log_warn("job.lease_expired", "job=%s kind=%s now=%s worker=%s", PQgetvalue(r, i, 0),
                 PQgetvalue(r, i, 1), PQgetvalue(r, i, 2), PQgetvalue(r, i, 3));
    PQclear(r);
    if (rescued_r)
        *rescued_r = n;
    if (n > 0) {
        /* wake the workers: rescued jobs are runnable now */
        (void)db_command(c, "NOTIFY " DB_NOTIFY_CHANNEL, NULL);
    }
    return 0;
}

int jobs_prune_archive(struct db_conn *c, long long keep_ms, int batch, int *deleted_r,
                        const char **error_r)
{
    char skeep[32], sbatch[16];
    snprintf(skeep, sizeof(skeep), "%lld", keep_ms);
    snprintf(sbatch, sizeof(sbatch), "%d", batch);
    const char *params[] = { skeep, sbatch };
    const char *e = NULL;
    /* ctid batches: bounded work per statement, no ordering needed (BRIN) */
    PGresult *r = db_exec(c,
        "DELETE FROM job_archive WHERE ctid = ANY (ARRAY("
        " SELECT ctid FROM job_archive"
        "  WHERE finished_at < now() - $1::bigint * interval '1 millisecond' LIMIT $2))",
        2, params, &e);
    if (r == NULL)
        return err_set(error_r, "prune job_archive: %s", e);
    if (deleted_r)
        *deleted_r = atoi(PQcmdTuples(r));
    PQclear(r);
    return 0;
}

int jobs_requeue_dead(struct db_conn *c, long long id, const char *kind, int *count_r,
                       const char **error_r)
{
    char sid[32];
    snprintf(sid, sizeof(sid), "%lld", id);
    const char *params[] = { id > 0 ? sid : NULL, kind };
    const char *e = NULL;
    if (db_begin(c, &e) < 0)
        return err_set(error_r, "requeue: %s", e);
    PGresult *r = db_exec(c,
        "UPDATE jobs SET state = 'available', attempts = 0, run_at = now(),"
        "       locked_by = NULL, locked_until = NULL, updated_at = now()"
        " WHERE state = 'dead' AND ($1::bigint IS NULL OR id = $1::bigint)"
        "   AND ($2::text IS NULL OR kind = $2::text)",
        2, params, &e);
    if (r == NULL) {
        db_rollback(c);
        return err_set(error_r, "requeue: %s", e);
    }
    int n = atoi(PQcmdTuples(r));
    PQclear(r);
    if (n > 0)
        db_want_notify(c);
    if (db_commit(c, &e) < 0)
        return err_set(error_r, "requeue: %s", e);
    if (count_r)
        *count_r = n;
    return 0;
}

int jobs_requeue_key(struct db_conn *c, const char *unique_key, int *count_r, const char **error_r)
{
    const char *e = NULL;
    const char *params[] = { unique_key };
    PGresult *r = db_exec(c,
        "UPDATE jobs SET state = 'available', attempts = 0, run_at = now(), last_error = NULL,"
        "       locked_by = NULL, locked_until = NULL, updated_at = now()"
        " WHERE unique_key = $1 AND state = 'dead' RETURNING id", 1, params, &e);
    if (r == NULL)
        return err_set(error_r, "requeue: %s", e);
    int n = PQntuples(r);
    PQclear(r);
    if (n > 0)
        db_want_notify(c);
    if (count_r)
        *count_r = n;
    return 0;
}

/* hashtextextended gives a stable 64-bit key; the high bit pattern of the
 * 2-int form of advisory locks is left to migrate.c and the IMAP poller. */
int jobs_key_lock(struct db_conn *c, const char *key, const char **error_r)
{
    const char *params[] = { key };
    const char *e = NULL;
    char *v = db_query_value(c, "SELECT pg_try_advisory_lock(hashtextextended('job:' || $1, 0))",
                             1, params, &e);
    if (v == NULL)
        return err_set(error_r, "concurrency lock: %s", e ? e : "no result");
    int got = strcmp(v, "t") == 0;
    free(v);
    return got;
}

int jobs_key_unlock(struct db_conn *c, const char *key, const char **error_r)
{
    const char *params[] = { key };
    const char *e = NULL;
    char *v = db_query_value(c, "SELECT pg_advisory_unlock(hashtextextended('job:' || $1, 0))",
                             1, params, &e);
    if (v == NULL)
        return err_set(error_r, "concurrency unlock: %s", e ? e : "no result");
    free(v);
    return 0;
}
