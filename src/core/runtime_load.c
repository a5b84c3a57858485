/* core/runtime_load.c -- see core/runtime_load.h. */
#include "config.h"
#include "core/runtime_load.h"
#include "core/host_table.h"
#include "core/plugin_loader.h"

/* All three with the write lock held. */
static void unload_locked(struct runtime *rt)
{
    plugin_set_unload(&rt->plugins);
    jobkind_registry_free(&rt->kinds);
    rt->mailer = NULL;
    rt->domain = NULL;
    rt->intake = NULL;
    rt->mailadmin_in = NULL;
    rt->mailadmin_out = NULL;
}

static int load_locked(struct runtime *rt, const struct atum_config *cfg, struct db_conn *db,
                       const char **error_r)
{
    rt->cfg = cfg;
    for (size_t i = 0; i < rt->nregistrars; i++) {
        if (rt->registrars[i].fn(rt, rt->registrars[i].arg, error_r) < 0) {
            unload_locked(rt);
            return -1;
        }
    }
    plugin_set_load(&rt->plugins, cfg, &rt->kinds, db, host_table());
    /* everything is registered: plugins may enqueue their first jobs */
    plugin_set_start(&rt->plugins, rt, db);
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
