/*
 * core/jobkind.h -- which code runs which job kind, and which hooks hear which
 * event.
 *
 * A registry is plain data built at start-up (core kinds, then each loaded
 * plugin's kinds and hooks) and replaced as a whole on reload; runtime.h
 * guards who may read it when.  A hook is registered as the job kind
 * "hook.PLUGIN.EVENT", so delivering an event is just enqueueing one job per
 * subscribed hook (event.h), and retries, leases and dead letters come from
 * the queue like for any other job.
 *
 * Strings passed in are copied; the registry owns its memory and frees it
 * with jobkind_registry_free().  `state` pointers are borrowed.
 */
#ifndef ATUM_CORE_JOBKIND_H
#define ATUM_CORE_JOBKIND_H

#include <atum/plugin.h>
#include <stdbool.h>
#include <stddef.h>

typedef int (*jobkind_run_fn)(void *state, struct atum_job *job);

struct jobkind {
    char *kind;
    char *owner;             /* "core" or the plugin's name */
    char *event;             /* for hooks: the event; NULL for plain kinds */
    jobkind_run_fn run;
    void *state;
    int max_attempts;        /* 0: queue default */
    long long lease_ms;      /* 0: queue default */
    bool quiet;              /* hooks: enqueued without waking idle workers (ATUM_HOOKS_QUIET) */
};

struct jobkind_registry {
    struct jobkind *v;
    size_t n;
};

int jobkind_register(struct jobkind_registry *reg, const char *kind, const char *owner,
                     jobkind_run_fn run, void *state, int max_attempts, long long lease_ms,
                     const char **error_r);
int jobkind_register_hook(struct jobkind_registry *reg, const char *plugin, const char *event,
                          jobkind_run_fn run, void *state, const char **error_r);
/* The same, quiet: event.h enqueues its jobs without a NOTIFY. */
int jobkind_register_hook_ex(struct jobkind_registry *reg, const char *plugin, const char *event,
                             jobkind_run_fn run, void *state, bool quiet, const char **error_r);
const struct jobkind *jobkind_find(const struct jobkind_registry *reg, const char *kind);
/* Removes every kind owned by owner (a plugin that failed half-way). */
void jobkind_remove_owner(struct jobkind_registry *reg, const char *owner);
void jobkind_registry_free(struct jobkind_registry *reg);

/* Events are "noun.verb" names: [a-z0-9_]+ '.' [a-z0-9_.]+ */
int jobkind_event_valid(const char *event);

#endif
