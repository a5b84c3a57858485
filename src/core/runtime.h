/*
 * core/runtime.h -- what can change on SIGHUP: the configuration in effect, the
 * loaded plugins and the job kind registry built from them.
 *
 * Readers (a worker running a job, a web thread calling a plugin route or
 * emitting an event) hold the read lock for the duration of that one call;
 * reload takes the write lock, so a plugin is never unloaded under a
 * running callback.  The read lock is re-entrant per thread (a job that
 * emits an event takes it again without deadlocking against a waiting
 * writer), and writers are preferred so a reload cannot starve.
 *
 * Loading lives in core/runtime_load.h (it needs the plugins' host table,
 * which itself reads the runtime).
 *
 * Ownership: the runtime owns its registry and plugin set; the config is
 * borrowed and must outlive the next runtime_load()/runtime_unload().
 */
#ifndef ATUM_CORE_RUNTIME_H
#define ATUM_CORE_RUNTIME_H

#include <pthread.h>
#include "core/conf.h"
#include "core/db.h"
#include "core/jobkind.h"
#include "core/plugin_loader.h"

struct mailer;
struct domain;
struct intake;
struct mailadmin_in;
struct mailadmin_out;
struct runtime;

/* Registers job kinds of a floor above the core (mail-in, mail-out) into
 * rt->kinds, and may fill in rt->mailer.  Called under the write lock at
 * every (re)load, before the plugins. */
typedef int (*runtime_registrar_fn)(struct runtime *rt, void *arg, const char **error_r);

#define RUNTIME_MAX_REGISTRARS 8

struct runtime {
    pthread_rwlock_t lock;
    const struct atum_config *cfg;
    struct jobkind_registry kinds;
    struct plugin_set plugins;
    /* set by mail-out's registrar; NULL: no mail leaves (core/mailer.h) */
    const struct mailer *mailer;
    /* set by the desk's registrar; NULL: plugins cannot change tickets */
    const struct domain *domain;
    /* set by mail-in's registrar; NULL: no mail-in in this process */
    const struct intake *intake;
    /* set by mail-in's and mail-out's registrars: the admin's tests and
     * tools (core/mailadmin.h); NULL: not in this process */
    const struct mailadmin_in *mailadmin_in;
    const struct mailadmin_out *mailadmin_out;
    /* the programs (atumd, atumctl, tests) wire the floors above the core
     * in here; runtime_load() calls them in order */
    struct {
        runtime_registrar_fn fn;
        void *arg;
    } registrars[RUNTIME_MAX_REGISTRARS];
    size_t nregistrars;
};

void runtime_init(struct runtime *rt);
void runtime_destroy(struct runtime *rt);

/* Adds a registrar (before the first runtime_load). */
void runtime_add_registrar(struct runtime *rt, runtime_registrar_fn fn, void *arg);

/* fini + dlclose every plugin and clear the registry (write lock). */
void runtime_unload(struct runtime *rt);

void runtime_rdlock(struct runtime *rt);
void runtime_rdunlock(struct runtime *rt);

/* With the read lock held: */
int runtime_default_attempts(struct runtime *rt, const char *kind);
long long runtime_lease_ms(struct runtime *rt, const char *kind);

#endif
