/*
 * queue_bench -- enqueue + claim + complete of N no-op jobs through the
 * real worker pool (core/worker.c, core/jobs.c, core.noop), with 1, 2 and 4
 * workers.
 *
 * For each worker count: empty the tables, start the pool, let one
 * producer thread enqueue N jobs in transactions of 100 (one NOTIFY each,
 * as the application does), and time until the pool has finished all N.
 * The figure is N / that time: the end-to-end rate of the queue, enqueue
 * included.
 *
 * Dead tuples: each job leaves two dead row versions in `jobs` (the
 * INSERT's, made dead by the claim's UPDATE, and the claim's, made dead by
 * the DELETE that archives the job), so without any vacuum a run leaves
 * 2 x N.  Reported from pg_stat_user_tables, once the backends have
 * flushed their statistics: dead_tuples (n_dead_tup when the run ends),
 * autovacuums (autovacuum runs on `jobs` during the run) and
 * dead_after_vacuum (n_dead_tup after a plain VACUUM right after the run:
 * 0 means nothing, e.g. an open transaction, kept any of them alive).
 *
 * usage: queue_bench DATABASE_URL [N] [WORKER_COUNTS...]
 * Last line: queue_jobs_per_s_w1=... queue_jobs_per_s_w2=... ...
 */
#include "config.h"
#include "core/conf.h"
#include "core/core_jobs.h"
#include "core/db.h"
#include "lib/log.h"
#include "lib/metrics.h"
#include "core/migrate.h"
#include "core/jobs.h"
#include "core/runtime.h"
#include "core/runtime_load.h"
#include "lib/strbuf.h"
#include "lib/util.h"
#include "core/worker.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define TX_SIZE 100

struct producer {
    struct db_params params;
    int n;
    long long elapsed_ms;
    int failed;
};

static void *produce(void *arg)
{
    struct producer *p = arg;
    const char *e = NULL;
    struct db_conn *c = db_conn_new(&p->params);
    long long t0 = time_mono_ms();
    if (db_conn_connect(c, &e) < 0)
        goto fail;
    for (int i = 0; i < p->n; i += TX_SIZE) {
        if (db_begin(c, &e) < 0)
            goto fail;
        for (int k = i; k < i + TX_SIZE && k < p->n; k++) {
            struct atum_job_spec s = { .kind = "core.noop" };
            if (jobs_enqueue(c, &s, NULL, &e) < 0)
                goto fail;
        }
        if (db_commit(c, &e) < 0)
            goto fail;
    }
    p->elapsed_ms = time_mono_ms() - t0;
    db_conn_free(&c);
    return NULL;
fail:
    fprintf(stderr, "producer: %s\n", e);
    p->failed = 1;
    db_conn_free(&c);
    return NULL;
}

static long long query_int(struct db_conn *c, const char *sql)
{
    const char *e = NULL;
    char *v = db_query_value(c, sql, 0, NULL, &e);
    long long n = v ? atoll(v) : -1;
    free(v);
    return n;
}

static double done_count(void)
{
    return metrics_get("atum_jobs_total", "kind=\"core.noop\",outcome=\"done\"");
}

int main(int argc, char **argv)
{
    const char *e = NULL;
    if (argc < 2) {
        fprintf(stderr, "usage: queue_bench DATABASE_URL [N] [WORKERS...]\n");
        return 2;
    }
    const char *url = argv[1];
    int n = argc > 2 ? atoi(argv[2]) : 100000;
    int counts[8] = { 1, 2, 4 }, ncounts = 3;
    if (argc > 3) {
        ncounts = 0;
        for (int i = 3; i < argc && ncounts < 8; i++)
            counts[ncounts++] = atoi(argv[i]);
    }
    log_init("queue_bench");
    log_configure(LOG_LEVEL_WARN, "stderr", &e);

    struct db_params params = { url, "queue_bench", 5000, 0, 2000 };
    struct db_conn *c = db_conn_new(&params);
    if (db_conn_connect(c, &e) < 0 || migrate_apply(c, "core", core_migrations, NULL, &e) < 0) {
        fprintf(stderr, "queue_bench: %s\n", e);
        return 1;
    }
    struct atum_config *cfg = conf_defaults(&e);
    struct runtime rt;
    runtime_init(&rt);
    runtime_add_registrar(&rt, core_jobs_register, NULL);
    if (cfg == NULL || runtime_load(&rt, cfg, c, &e) < 0) {
        fprintf(stderr, "queue_bench: %s\n", e);
        return 1;
    }

    struct strbuf last = STRBUF_INIT;
    for (int ci = 0; ci < ncounts; ci++) {
        int w = counts[ci];
        db_command(c, "TRUNCATE jobs, job_archive", &e);
        db_command(c, "VACUUM ANALYZE jobs", &e);
        metrics_reset();
        long long av0 = query_int(c, "SELECT autovacuum_count FROM pg_stat_user_tables WHERE relname = 'jobs'");

        struct worker_opts wo = {
            .db = params, .node_id = "bench", .nworkers = w, .batch_size = cfg->batch_size,
            .lease_ms = cfg->lease_ms, .poll_interval_ms = cfg->poll_interval_ms,
            .backoff_max_ms = cfg->backoff_max_ms, .keep_done = cfg->keep_done_ms > 0,
        };
        struct worker_pool *pool = NULL;
        if (worker_pool_start(&pool, &wo, &rt, &e) < 0) {
            fprintf(stderr, "queue_bench: %s\n", e);
            return 1;
        }
        /* started: its listener waits for NOTIFY (no guessed settle time) */
        for (long long ts0 = time_mono_ms();
             query_int(c, "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'atumd-listener'"
                          " AND query LIKE 'LISTEN%' AND state = 'idle'") < 1
             && time_mono_ms() - ts0 < 10000;) {
            struct timespec ts = { 0, 5000000 };
            nanosleep(&ts, NULL);
        }
        long long changes0 = query_int(c, "SELECT n_tup_ins + n_tup_upd + n_tup_del FROM pg_stat_user_tables"
                                          " WHERE relname = 'jobs'");

        struct producer prod = { params, n, 0, 0 };
        pthread_t th;
        long long t0 = time_mono_ms();
        pthread_create(&th, NULL, produce, &prod);
        while (done_count() < n && time_mono_ms() - t0 < 600000) {
            struct timespec ts = { 0, 1000000 };
            nanosleep(&ts, NULL);
        }
        long long elapsed = time_mono_ms() - t0;
        pthread_join(th, NULL);
        worker_pool_stop(&pool, 10000);
        if (prod.failed || done_count() < n) {
            fprintf(stderr, "queue_bench: only %.0f of %d jobs done\n", done_count(), n);
            return 1;
        }
        /* the workers' backends report their statistics when they end:
         * wait until every job's insert, claim and finish are counted */
        for (long long ts0 = time_mono_ms();
             query_int(c, "SELECT n_tup_ins + n_tup_upd + n_tup_del FROM pg_stat_user_tables"
                          " WHERE relname = 'jobs'") - changes0 < 3LL * n
             && time_mono_ms() - ts0 < 15000;) {
            struct timespec ts = { 0, 20000000 };
            nanosleep(&ts, NULL);
        }
        long long dead = query_int(c, "SELECT n_dead_tup FROM pg_stat_user_tables WHERE relname = 'jobs'");
        long long av = query_int(c, "SELECT autovacuum_count FROM pg_stat_user_tables WHERE relname = 'jobs'") - av0;
        long long left = query_int(c, "SELECT count(*) FROM jobs");
        db_command(c, "VACUUM jobs", &e);
        long long dead_vac = query_int(c, "SELECT n_dead_tup FROM pg_stat_user_tables WHERE relname = 'jobs'");
        double rate = (double)n * 1000.0 / (double)elapsed;
        printf("workers=%d jobs=%d seconds=%.2f jobs_per_s=%.0f enqueue_per_s=%.0f "
               "jobs_left=%lld dead_tuples=%lld autovacuums=%lld dead_after_vacuum=%lld\n",
               w, n, elapsed / 1000.0, rate, (double)n * 1000.0 / (double)prod.elapsed_ms, left, dead,
               av, dead_vac);
        fflush(stdout);
        strbuf_addf(&last, "%squeue_jobs_per_s_w%d=%.0f queue_dead_tuples_w%d=%lld"
                    " queue_autovacuums_w%d=%lld queue_dead_after_vacuum_w%d=%lld", ci ? " " : "",
                    w, rate, w, dead, w, av, w, dead_vac);
    }
    printf("%s\n", last.s);
    strbuf_free(&last);
    runtime_destroy(&rt);
    conf_free(&cfg);
    db_conn_free(&c);
    metrics_reset();
    return 0;
}
