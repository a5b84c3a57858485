/* runtime.c -- see runtime.h. */
#include "config.h"
#include "runtime.h"
#include "err.h"
#include "log.h"

#include <string.h>

static _Thread_local int rd_depth;

void runtime_init(struct runtime *rt)
{
    memset(rt, 0, sizeof(*rt));
    pthread_rwlockattr_t a;
    pthread_rwlockattr_init(&a);
    pthread_rwlockattr_setkind_np(&a, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
    pthread_rwlock_init(&rt->lock, &a);
    pthread_rwlockattr_destroy(&a);
}

void runtime_destroy(struct runtime *rt)
{
    runtime_unload(rt);
    pthread_rwlock_destroy(&rt->lock);
}

void runtime_rdlock(struct runtime *rt)
{
    if (rd_depth++ == 0)
        pthread_rwlock_rdlock(&rt->lock);
}

void runtime_rdunlock(struct runtime *rt)
{
    if (--rd_depth == 0)
        pthread_rwlock_unlock(&rt->lock);
}

/* Both with the write lock held. */
static void unload_locked(struct runtime *rt)
{
    plugin_set_unload(&rt->plugins);
    jobkind_registry_free(&rt->kinds);
}

static int load_locked(struct runtime *rt, const struct atum_config *cfg, struct db_conn *db,
                       const char **error_r)
{
    rt->cfg = cfg;
    if (rt->register_core != NULL && rt->register_core(rt, rt->register_core_arg, error_r) < 0) {
        jobkind_registry_free(&rt->kinds);
        return -1;
    }
    plugin_set_load(&rt->plugins, cfg, &rt->kinds, db);
    return 0;
}

int runtime_load(struct runtime *rt, const struct atum_config *cfg, struct db_conn *db,
                 const char **error_r)
{
    pthread_rwlock_wrlock(&rt->lock);
    int ret = load_locked(rt, cfg, db, error_r);
    pthread_rwlock_unlock(&rt->lock);
    return ret;
}

int runtime_reload(struct runtime *rt, const struct atum_config *cfg, struct db_conn *db,
                   const char **error_r)
{
    pthread_rwlock_wrlock(&rt->lock);
    unload_locked(rt);
    int ret = load_locked(rt, cfg, db, error_r);
    pthread_rwlock_unlock(&rt->lock);
    return ret;
}

int runtime_reload_current(struct runtime *rt, struct db_conn *db, const char **error_r)
{
    pthread_rwlock_wrlock(&rt->lock);
    /* rt->cfg only changes under this lock, and its owner frees an old one
     * only after runtime_reload() returned: it is current and alive here */
    const struct atum_config *cfg = rt->cfg;
    unload_locked(rt);
    int ret = load_locked(rt, cfg, db, error_r);
    pthread_rwlock_unlock(&rt->lock);
    return ret;
}

void runtime_unload(struct runtime *rt)
{
    pthread_rwlock_wrlock(&rt->lock);
    unload_locked(rt);
    pthread_rwlock_unlock(&rt->lock);
}

int runtime_default_attempts(struct runtime *rt, const char *kind)
{
    const struct jobkind *k = jobkind_find(&rt->kinds, kind);
    if (k != NULL && k->max_attempts > 0)
        return k->max_attempts;
    return rt->cfg ? rt->cfg->max_attempts : 10;
}

long long runtime_lease_ms(struct runtime *rt, const char *kind)
{
    const struct jobkind *k = jobkind_find(&rt->kinds, kind);
    if (k != NULL && k->lease_ms > 0)
        return k->lease_ms;
    return rt->cfg ? rt->cfg->lease_ms : 300000;
}
