/*
 * core_jobs.h -- the job kinds the core itself runs.
 *
 *   core.noop    does nothing and succeeds: a probe that the queue, the
 *                workers and the database work end to end
 *                (`atumctl jobs enqueue core.noop`), and the unit of the
 *                queue benchmark.
 *
 *   mail.ingest  a stored raw mail becomes a ticket or a reply (mail/ingest.h)
 *   webhook.deliver  one signed POST of an event to a registered webhook
 *                (webhook.h)
 * core_jobs_register() has the signature of runtime.register_core.
 */
#ifndef ATUM_CORE_JOBS_H
#define ATUM_CORE_JOBS_H

struct runtime;

int core_jobs_register(struct runtime *rt, void *arg, const char **error_r);

#endif
