/*
 * core/worker.h -- the threads that run jobs.
 *
 * A pool of N worker threads, each with its own PostgreSQL connection, plus
 * one listener thread with a dedicated connection that LISTENs on
 * atum_jobs.  Idle workers sleep on a condition variable; a notification
 * wakes one, and a worker that claimed a full batch wakes the next, so a
 * burst spreads over the pool without a thundering herd.  When no
 * notification comes, workers still poll every poll_interval (jobs whose
 * run_at arrives, notifications lost while the listener reconnected).
 *
 * A worker claims a batch, runs each job with the runtime read-locked,
 * completes the successful ones in one statement, and records retries and
 * dead jobs one by one.  If the database goes away, completions it could
 * not record are kept and sent first after reconnecting (their leases
 * normally outlive a restart), so a finished job is not run again; claimed
 * jobs it had not started are given back when it stops.
 *
 * Ownership: the pool borrows opts' strings and the runtime; both must
 * outlive it.  worker_pool_stop() frees the pool when every thread joined.
 */
#ifndef ATUM_CORE_WORKER_H
#define ATUM_CORE_WORKER_H

#include <stdbool.h>
#include "core/db.h"

struct runtime;
struct worker_pool;

struct worker_opts {
    struct db_params db;
    const char *node_id;        /* prefix of each worker's locked_by */
    int nworkers;
    int batch_size;
    long long lease_ms;
    long long poll_interval_ms;
    long long backoff_max_ms;
    bool keep_done;             /* archive finished jobs (else delete) */
};

int worker_pool_start(struct worker_pool **pool_r, const struct worker_opts *opts,
                      struct runtime *rt, const char **error_r);

/* Stops claiming, lets running jobs finish (up to timeout_ms), gives unrun
 * claimed jobs back, joins the threads and frees the pool.  Returns 0 when
 * everything drained in time; -1 when a job was still running at the
 * deadline (the pool is then left to the exiting process and its lease
 * makes the job run again elsewhere). */
int worker_pool_stop(struct worker_pool **pool, long long timeout_ms);

/* Wakes up to n idle workers (a NOTIFY arrived, jobs were requeued). */
void worker_pool_wake(struct worker_pool *pool, int n);

#endif
