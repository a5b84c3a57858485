/*
 * core/core_jobs.h -- the job kinds the core itself runs.
 *
 *   core.noop    does nothing and succeeds: a probe that the queue, the
 *                workers and the database work end to end
 *                (`atumctl jobs enqueue core.noop`), and the unit of the
 *                queue benchmark.
 *
 *   webhook.deliver  one signed POST of an event to a registered webhook
 *                (core/webhook.h)
 *
 * The floors above register their own kinds the same way (mail-in:
 * mail.ingest; mail-out: mail.compose, mail.send); the programs wire them
 * all in with runtime_add_registrar().
 */
#ifndef ATUM_CORE_CORE_JOBS_H
#define ATUM_CORE_CORE_JOBS_H

struct runtime;

int core_jobs_register(struct runtime *rt, void *arg, const char **error_r);

#endif
