/* dupkind -- a plugin claiming a job kind the core already owns (tests). */
#include <atum/plugin.h>

static int run(void *state, struct atum_job *job)
{
    (void)state;
    (void)job;
    return ATUM_JOB_DONE;
}

static const struct atum_job_kind jobs[] = {
    { "core.noop", run, 0, 0 },
    { NULL, NULL, 0, 0 }
};

static const struct atum_plugin descriptor = {
    .abi = ATUM_PLUGIN_ABI,
    .size = sizeof(struct atum_plugin),
    .name = "dupkind",
    .version = "1.0",
    .jobs = jobs,
};

const struct atum_plugin *atum_plugin_entry(void)
{
    return &descriptor;
}
