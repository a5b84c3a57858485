/*
 * core/jobrun.h -- one run of one job, as its handler sees it.
 *
 * The worker (core/worker.h) builds a struct job_run for every job it
 * runs and hands the handler `&run->pub`, the plugin ABI's struct
 * atum_job.  Core job handlers (mail.ingest, mail.send, webhook.deliver)
 * and the plugins' host table (core/host_table.h) both finish a run
 * through the functions here:
 *
 *   return jobrun_fail(job, JOBRUN_RETRY, "smarthost: %s", e);
 *   return jobrun_fail(job, JOBRUN_PERMANENT, "no such mail");
 *
 * so the verdict is a value the handler decides from error codes, never
 * from the wording of a message.  The message is copied into the run and
 * recorded on the job (last_error) by the worker.
 *
 * struct atum_db is the connection a callback borrows (a job's worker
 * connection, or a web request's pooled one) with the runtime it may emit
 * events to.  Plugins see it only as an opaque pointer.
 *
 * Ownership: the worker owns the run; everything in it is borrowed by the
 * handler for the duration of the call.
 */
#ifndef ATUM_CORE_JOBRUN_H
#define ATUM_CORE_JOBRUN_H

#include <atum/plugin.h>
#include <stdarg.h>
#include <stdbool.h>
#include "core/db.h"

struct runtime;

/* A connection lent to a callback, with the runtime it may emit events to. */
struct atum_db {
    struct db_conn *conn;
    struct runtime *rt;
    const char *owner;       /* the plugin (or "core") whose callback borrows it */
};

/* How a failed run ends: the ABI's values. */
enum jobrun_verdict {
    JOBRUN_RETRY = ATUM_JOB_RETRY,           /* backoff, then again (dead after max_attempts) */
    JOBRUN_PERMANENT = ATUM_JOB_PERMANENT,   /* dead now, kept with its error */
};

/* One job being run.  `pub` must stay the first member: a struct atum_job
 * pointer is cast back to this. */
struct job_run {
    struct atum_job pub;
    struct atum_db db;
    const char *worker;        /* locked_by of this run */
    long long lease_ms;
    char error[1024];          /* jobrun_fail() text, "" when none */
    long long retry_in_ms;     /* jobrun_retry_in(); -1: the queue's backoff */
    bool finished_in_tx;       /* completed inside the handler's transaction */
    bool keep_done;            /* archive vs delete, from the queue config */
};

/* The run behind a handler's job pointer. */
struct job_run *jobrun_of(struct atum_job *job);
/* The worker's connection (no transaction open when the handler starts). */
struct db_conn *jobrun_db(struct atum_job *job);
/* The runtime the job runs under (read-locked for the whole call). */
struct runtime *jobrun_runtime(struct atum_job *job);

/* Records why the run failed (a copy) and returns the verdict, so that
 * `return jobrun_fail(...)` ends a handler. */
int jobrun_fail(struct atum_job *job, enum jobrun_verdict verdict, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int jobrun_failv(struct atum_job *job, enum jobrun_verdict verdict, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));
/* The next attempt no sooner than this (0 .. 30 days); else the backoff. */
void jobrun_retry_in(struct atum_job *job, double seconds);
/* Extends the lease before a long wait: -1 when the job is no longer ours. */
int jobrun_extend_lease(struct atum_job *job, int seconds, const char **error_r);
/* Inside the handler's own transaction, just before its commit: the job is
 * finished by that same commit (effects and completion exactly once). */
int jobrun_complete_in_tx(struct atum_job *job, const char **error_r);

#endif
