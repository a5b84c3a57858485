/* core/core_jobs.c -- see core/core_jobs.h. */
#include "config.h"
#include "core/core_jobs.h"
#include "core/jobkind.h"
#include "core/runtime.h"
#include "core/webhook.h"

static int run_noop(void *state, struct atum_job *job)
{
    (void)state;
    (void)job;
    return ATUM_JOB_DONE;
}

int core_jobs_register(struct runtime *rt, void *arg, const char **error_r)
{
    (void)arg;
    if (jobkind_register(&rt->kinds, "core.noop", "core", run_noop, NULL, 3, 0, error_r) < 0)
        return -1;
    return webhook_register(rt, error_r);
}
