/*
 * runtime.h -- what can change on SIGHUP: the configuration in effect, the
 * loaded plugins and the job kind registry built from them.
 *
 * Readers (a worker running a job, a web thread calling a plugin route or
 * emitting an event) hold the read lock for the duration of that one call;
 * reload takes the write lock, so a plugin is never unloaded under a
 * running callback.  The read lock is re-entrant per thread (a job that
 * emits an event takes it again without deadlocking against a waiting
 * writer), and writers are preferred so a reload cannot starve.
 *
 * Ownership: the runtime owns its registry and plugin set; the config is
 * borrowed and must outlive the next runtime_load()/runtime_unload().
 */
#ifndef ATUM_RUNTIME_H
#define ATUM_RUNTIME_H

#include <pthread.h>
#include "conf.h"
#include "db.h"
#include "jobkind.h"
#include "plugin_host.h"

struct runtime {
    pthread_rwlock_t lock;
    const struct atum_config *cfg;
    struct jobkind_registry kinds;
    struct plugin_set plugins;
    /* hook for core job kinds (mail.ingest, ...): registers into kinds */
    int (*register_core)(struct runtime *rt, void *arg, const char **error_r);
    void *register_core_arg;
};

void runtime_init(struct runtime *rt);
void runtime_destroy(struct runtime *rt);

/* Registers the core kinds and loads the plugins of cfg.  Takes the write
 * lock.  Plugin refusals are logged, not errors; -1 only when the core
 * kinds cannot be registered. */
int runtime_load(struct runtime *rt, const struct atum_config *cfg, struct db_conn *db,
                 const char **error_r);
/* Unload and load again under one write lock: no job ever sees a
 * half-built registry.  cfg replaces the borrowed config. */
int runtime_reload(struct runtime *rt, const struct atum_config *cfg, struct db_conn *db,
                   const char **error_r);
/* runtime_reload() with the configuration already in effect (the web API
 * after an admin enabled or disabled a plugin).  Must be called without
 * the read lock held. */
int runtime_reload_current(struct runtime *rt, struct db_conn *db, const char **error_r);
/* fini + dlclose every plugin and clear the registry (write lock). */
void runtime_unload(struct runtime *rt);

void runtime_rdlock(struct runtime *rt);
void runtime_rdunlock(struct runtime *rt);

/* With the read lock held: */
int runtime_default_attempts(struct runtime *rt, const char *kind);
long long runtime_lease_ms(struct runtime *rt, const char *kind);

#endif
