/* core/runtime.c -- see core/runtime.h. */
#include "config.h"
#include "core/runtime.h"
#include "lib/log.h"

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

void runtime_add_registrar(struct runtime *rt, runtime_registrar_fn fn, void *arg)
{
    if (rt->nregistrars >= RUNTIME_MAX_REGISTRARS) {
        log_error("runtime.registrars_full", "max=%d", RUNTIME_MAX_REGISTRARS);
        return;
    }
    rt->registrars[rt->nregistrars].fn = fn;
    rt->registrars[rt->nregistrars].arg = arg;
    rt->nregistrars++;
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

void runtime_unload(struct runtime *rt)
{
    pthread_rwlock_wrlock(&rt->lock);
    plugin_set_unload(&rt->plugins);
    jobkind_registry_free(&rt->kinds);
    rt->mailer = NULL;
    rt->domain = NULL;
    rt->intake = NULL;
    rt->mailadmin_in = NULL;
    rt->mailadmin_out = NULL;
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
