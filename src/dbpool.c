/* dbpool.c -- see dbpool.h. */
#include "config.h"
#include "dbpool.h"
#include "err.h"
#include "util.h"
#include "xalloc.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

struct db_pool {
    pthread_mutex_t lock;
    pthread_cond_t freed;
    int size;
    int nfree;
    struct db_conn **all;
    struct db_conn **free_list;
};

struct db_pool *db_pool_new(const struct db_params *params, int size)
{
    struct db_pool *p = xcalloc(1, sizeof(*p));
    pthread_mutex_init(&p->lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&p->freed, &ca);
    pthread_condattr_destroy(&ca);
    p->size = size;
    p->all = xcalloc((size_t)size, sizeof(*p->all));
    p->free_list = xcalloc((size_t)size, sizeof(*p->free_list));
    for (int i = 0; i < size; i++) {
        p->all[i] = db_conn_new(params);
        p->free_list[p->nfree++] = p->all[i];
    }
    return p;
}

void db_pool_free(struct db_pool **pp)
{
    struct db_pool *p = *pp;
    if (p == NULL)
        return;
    for (int i = 0; i < p->size; i++)
        db_conn_free(&p->all[i]);
    free(p->all);
    free(p->free_list);
    pthread_cond_destroy(&p->freed);
    pthread_mutex_destroy(&p->lock);
    free(p);
    *pp = NULL;
}

struct db_conn *db_pool_acquire(struct db_pool *p, long long timeout_ms, const char **error_r)
{
    struct timespec deadline;
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    deadline.tv_sec += timeout_ms / 1000;
    deadline.tv_nsec += (timeout_ms % 1000) * 1000000;
    if (deadline.tv_nsec >= 1000000000) {
        deadline.tv_sec++;
        deadline.tv_nsec -= 1000000000;
    }

    pthread_mutex_lock(&p->lock);
    while (p->nfree == 0) {
        if (pthread_cond_timedwait(&p->freed, &p->lock, &deadline) == ETIMEDOUT && p->nfree == 0) {
            pthread_mutex_unlock(&p->lock);
            err_set(error_r, "all %d database connections are busy", p->size);
            return NULL;
        }
    }
    struct db_conn *c = p->free_list[--p->nfree];
    pthread_mutex_unlock(&p->lock);

    if (db_conn_ensure(c, error_r) < 0) {
        db_pool_release(p, c);
        return NULL;
    }
    return c;
}

void db_pool_release(struct db_pool *p, struct db_conn *c)
{
    if (c == NULL)
        return;
    if (db_in_transaction(c))
        db_rollback(c);
    pthread_mutex_lock(&p->lock);
    p->free_list[p->nfree++] = c;
    pthread_cond_signal(&p->freed);
    pthread_mutex_unlock(&p->lock);
}
