/*
 * core/jobs.h -- the job queue in PostgreSQL: the heart of atumd.
 *
 * Life of a job (table `jobs`, see sql/001_core.sql):
 *
 *   enqueue ──► available ──claim──► running ──complete──► (moved to job_archive)
 *                   ▲                  │  │
 *                   └──retry/backoff───┘  └──dead (kept with last_error)
 *                   ▲                  │         │
 *                   └──lease expired───┘         └──requeue (operator)
 *
 *  - jobs_enqueue() runs in the caller's transaction when one is open, so a
 *    change and the work it causes commit together; it asks db_commit() for
 *    one NOTIFY.  Outside a transaction it commits (and notifies) itself.
 *    A unique_key makes it idempotent: while a job with that key is pending
 *    (available, running or dead) no second one is made and *id_r is 0.
 *  - jobs_claim() takes up to n available jobs in one short transaction:
 *    a CTE with ORDER BY priority, run_at, id ... FOR UPDATE SKIP LOCKED
 *    feeding an UPDATE ... RETURNING that sets state running, locked_by
 *    and a lease.  Jobs whose concurrency_key already has a running job
 *    are skipped.  Attempts are counted at claim time, so a job that kills
 *    its worker still runs out of attempts and goes dead.
 *  - every finish (complete, retry, dead, release, extend) is guarded by
 *    state = 'running' AND locked_by = worker: a worker that lost its lease
 *    changes nothing, and learns so (the count it gets back is smaller).
 *  - jobs_rescue_expired() makes jobs with an expired lease available again
 *    (or dead when out of attempts); jobs_prune_archive() deletes finished
 *    jobs older than keep_done in bounded batches.
 *
 * Memory: a struct jobs_batch is filled by jobs_claim() and owned by the
 * caller until jobs_batch_free().  Errors follow err.h.
 */
#ifndef ATUM_CORE_JOBS_H
#define ATUM_CORE_JOBS_H

#include <atum/plugin.h>
#include <stdbool.h>
#include "core/db.h"
#include "lib/strbuf.h"

#define JOBS_DEFAULT_PRIORITY 100
#define JOBS_KIND_MAX 64
#define JOBS_KEY_MAX 256

struct jobs_item {
    long long id;
    char *kind;
    char *payload;
    size_t payload_len;
    int attempts;            /* including this run */
    int max_attempts;
    char *concurrency_key;   /* NULL when none */
    int priority;
    char run_at[40];         /* as PostgreSQL printed it; orders the batch */
    double wait_seconds;     /* from run_at (due) to this claim */
};

struct jobs_batch {
    struct jobs_item *jobs;
    int n;
};

void jobs_batch_free(struct jobs_batch *b);

/* Checks a spec without touching the database (kind syntax, key sizes,
 * priority range).  jobs_enqueue() calls it too. */
int jobs_spec_check(const struct atum_job_spec *spec, const char **error_r);

int jobs_enqueue(struct db_conn *c, const struct atum_job_spec *spec, long long *id_r,
                  const char **error_r);
/* jobs_enqueue() decides to wake idle workers (one NOTIFY at commit) for
 * jobs that are due now.  wake = false enqueues without: the job is found
 * by the next claim -- at once by busy workers, within poll_interval by
 * idle ones.  A NOTIFY takes PostgreSQL's single notification lock at
 * commit, serialising every notifying transaction; work that is not
 * urgent should not pay for it on the hot path (mail/outbox.h). */
int jobs_enqueue_ex(struct db_conn *c, const struct atum_job_spec *spec, bool wake,
                     long long *id_r, const char **error_r);

int jobs_claim(struct db_conn *c, const char *worker, int limit, long long lease_ms,
                struct jobs_batch *batch_r, const char **error_r);

/* Finishes n jobs at once.  keep: move them to job_archive (else delete).
 * *finished_r (may be NULL): how many were still ours. */
int jobs_complete(struct db_conn *c, const char *worker, const long long *ids, int n,
                   bool keep, int *finished_r, const char **error_r);

/* Back to available after delay_ms, or dead when out of attempts.
 * *state_r (may be NULL) receives "available", "dead" or "" if the job
 * was no longer ours. */
int jobs_retry(struct db_conn *c, const char *worker, long long id, long long delay_ms,
                const char *error, char state_r[16], const char **error_r);
int jobs_dead(struct db_conn *c, const char *worker, long long id, const char *error,
               bool *was_ours_r, const char **error_r);

/* Gives unrun jobs back without counting the attempt (shutdown, reload,
 * concurrency conflict). */
int jobs_release(struct db_conn *c, const char *worker, const long long *ids, int n,
                  long long delay_ms, const char **error_r);

/* After the worker's connection broke and came back, with its recorded
 * completions flushed and its unrun jobs released: every job still
 * running under this worker's name was interrupted without committing
 * its completion -- available again now (dead when out of attempts, as a
 * lease expiry would make it), not when its lease runs out.  Only the
 * worker itself may call it: its name must not be running anything. */
int jobs_release_orphans(struct db_conn *c, const char *worker, int *released_r,
                         const char **error_r);

/* Extends the lease of jobs still ours; *still_ours_r counts them and
 * ours[i] (may be NULL) says which of ids[] they are. */
int jobs_extend(struct db_conn *c, const char *worker, const long long *ids, int n,
                 long long lease_ms, bool *ours, int *still_ours_r, const char **error_r);

int jobs_rescue_expired(struct db_conn *c, int limit, int *rescued_r, const char **error_r);
int jobs_prune_archive(struct db_conn *c, long long keep_ms, int batch, int *deleted_r,
                        const char **error_r);

/* Operator: a dead job (or, with id 0 and kind, all dead jobs of a kind,
 * or every dead job when kind is NULL too) back to available. */
int jobs_requeue_dead(struct db_conn *c, long long id, const char *kind, int *count_r,
                       const char **error_r);

/* The dead job with this unique key back to available, in the caller's
 * transaction (or its own statement); *count_r: 0 when there was none. */
int jobs_requeue_key(struct db_conn *c, const char *unique_key, int *count_r, const char **error_r);

/* Session advisory lock for a concurrency key: 1 taken, 0 busy, -1 error. */
int jobs_key_lock(struct db_conn *c, const char *key, const char **error_r);
int jobs_key_unlock(struct db_conn *c, const char *key, const char **error_r);

/* ---- pure helpers (unit-tested without a database) ------------------- */

/* attempt^4 seconds, +/-10 % jitter from unit in [0,1), capped at max_ms. */
long long jobs_backoff_ms(int attempt, long long max_ms, double unit);

/* "{1,2,3}": a PostgreSQL bigint[] literal, sent as a parameter. */
void jobs_ids_literal(struct strbuf *out, const long long *ids, int n);

/* Kind names: [a-z0-9] then [a-z0-9._:-], at most JOBS_KIND_MAX. */
bool jobs_kind_valid(const char *kind);

#endif
