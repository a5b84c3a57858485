/* test_dbpool_pg -- the web pool hands connections to waiters first come,
 * first served; a waiter that times out leaves the queue cleanly. */
#include "config.h"
#include "core/dbpool.h"
#include "testdb.h"
#include "lib/util.h"

#include <pthread.h>
#include <time.h>
#include <unistd.h>

static struct db_pool *pool;
static pthread_mutex_t order_lock = PTHREAD_MUTEX_INITIALIZER;
static int order[8], norder;

struct borrower {
    int id;
    long long timeout_ms;
    int got;
};

static void *borrow(void *arg)
{
    struct borrower *b = arg;
    const char *e = NULL;
    struct db_conn *c = db_pool_acquire(pool, b->timeout_ms, &e);
    b->got = c != NULL;
    if (c) {
        pthread_mutex_lock(&order_lock);
        order[norder++] = b->id;
        pthread_mutex_unlock(&order_lock);
        usleep(20000);
        db_pool_release(pool, c);
    }
    return NULL;
}

START_TEST(fifo_and_timeouts)
{
    const char *e = NULL;
    struct db_params p = testdb_params("pooltest");
    pool = db_pool_new(&p, 1);
    struct db_conn *held = db_pool_acquire(pool, 1000, &e);
    ck_assert_msg(held != NULL, "%s", e);
    /* 1, 2, 3, 4, 5 queue up in this order; 3 gives up after 1 s, from
     * the middle of the queue */
    struct borrower b[5] = { { 1, 10000, 0 }, { 2, 10000, 0 }, { 3, 1000, 0 }, { 4, 10000, 0 }, { 5, 10000, 0 } };
    pthread_t t[5];
    for (int i = 0; i < 5; i++) {
        pthread_create(&t[i], NULL, borrow, &b[i]);
        long long t0 = time_mono_ms();   /* in the queue before the next one comes */
        while (db_pool_waiting(pool) < i + 1 && time_mono_ms() - t0 < 10000)
            usleep(1000);
    }
    ck_assert_int_eq(db_pool_waiting(pool), 5);
    pthread_join(t[2], NULL);            /* 3 timed out */
    ck_assert_int_eq(db_pool_waiting(pool), 4);
    db_pool_release(pool, held);
    for (int i = 0; i < 5; i++)
        if (i != 2)
            pthread_join(t[i], NULL);
    ck_assert_int_eq(b[2].got, 0);
    ck_assert_int_eq(norder, 4);
    ck_assert_int_eq(order[0], 1);
    ck_assert_int_eq(order[1], 2);
    ck_assert_int_eq(order[2], 4);
    ck_assert_int_eq(order[3], 5);
    /* and the pool is whole again */
    struct db_conn *c = db_pool_acquire(pool, 100, &e);
    ck_assert_ptr_nonnull(c);
    db_pool_release(pool, c);
    db_pool_free(&pool);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("dbpool_pg");
    TCase *tc = tcase_create("dbpool");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, fifo_and_timeouts);
    suite_add_tcase(s, tc);
    return testdb_run_suite(s);
}
