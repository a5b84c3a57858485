/* core/jobrun.c -- see core/jobrun.h. */
#include "config.h"
#include "core/jobrun.h"
#include "core/jobs.h"
#include "lib/err.h"

#include <stdarg.h>
#include <stdio.h>

struct job_run *jobrun_of(struct atum_job *job)
{
    return (struct job_run *)job;
}

struct db_conn *jobrun_db(struct atum_job *job)
{
    return jobrun_of(job)->db.conn;
}

struct runtime *jobrun_runtime(struct atum_job *job)
{
    return jobrun_of(job)->db.rt;
}

int jobrun_failv(struct atum_job *job, enum jobrun_verdict verdict, const char *fmt, va_list ap)
{
    struct job_run *jr = jobrun_of(job);
    vsnprintf(jr->error, sizeof(jr->error), fmt, ap);
    return verdict;
}

int jobrun_fail(struct atum_job *job, enum jobrun_verdict verdict, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = jobrun_failv(job, verdict, fmt, ap);
    va_end(ap);
    return rc;
}

void jobrun_retry_in(struct atum_job *job, double seconds)
{
    struct job_run *jr = jobrun_of(job);
    if (seconds < 0)
        seconds = 0;
    if (seconds > 30.0 * 86400)
        seconds = 30.0 * 86400;
    jr->retry_in_ms = (long long)(seconds * 1000.0);
}

int jobrun_extend_lease(struct atum_job *job, int seconds, const char **error_r)
{
    struct job_run *jr = jobrun_of(job);
    int ours = 0;
    if (seconds <= 0)
        return err_set(error_r, "lease extension must be positive");
    if (jobs_extend(jr->db.conn, jr->worker, &jr->pub.id, 1, (long long)seconds * 1000, NULL, &ours,
                    error_r) < 0)
        return -1;
    if (ours == 0)
        return err_set(error_r, "job %lld is no longer ours (lease expired)", jr->pub.id);
    return 0;
}

int jobrun_complete_in_tx(struct atum_job *job, const char **error_r)
{
    struct job_run *jr = jobrun_of(job);
    int n = 0;
    if (!db_in_transaction(jr->db.conn))
        return err_set(error_r, "completing a job in its transaction needs an open transaction");
    if (jobs_complete(jr->db.conn, jr->worker, &jr->pub.id, 1, jr->keep_done, &n, error_r) < 0)
        return -1;
    if (n == 0)
        return err_set(error_r, "job %lld is no longer ours (lease expired)", jr->pub.id);
    jr->finished_in_tx = true;
    return 0;
}
