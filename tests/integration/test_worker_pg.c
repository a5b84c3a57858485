/* test_worker_pg -- worker threads, LISTEN/NOTIFY wake-ups, failures and a
 * PostgreSQL restart under a running pool. */
#include "config.h"
#include "core/jobrun.h"
#include "core/runtime_load.h"
#include "core/jobkind.h"
#include "core/jobs.h"
#include "core/runtime.h"
#include "testdb.h"
#include "lib/util.h"
#include "core/worker.h"

#include <jansson.h>
#include <stdatomic.h>
#include <time.h>
#include <unistd.h>

#define MAXJOBS 1000

static struct db_conn *db;
static struct runtime rt;
static struct atum_config *cfg;
static atomic_int runs[MAXJOBS];
static atomic_int started;

static void sleep_ms(long ms)
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000 };
    nanosleep(&ts, NULL);
}

static int payload_n(const struct atum_job *j)
{
    json_t *p = json_loads(j->payload, 0, NULL);
    int n = (int)json_integer_value(json_object_get(p, "n"));
    json_decref(p);
    return n >= 0 && n < MAXJOBS ? n : 0;
}

static int run_count(void *s, struct atum_job *j)
{
    (void)s;
    atomic_fetch_add(&runs[payload_n(j)], 1);
    return ATUM_JOB_DONE;
}

static int run_flaky(void *s, struct atum_job *j)
{
    (void)s;
    atomic_fetch_add(&runs[payload_n(j)], 1);
    if (j->attempt < 3) {
        struct job_run *jr = (struct job_run *)j;
        jr->retry_in_ms = 50;
        snprintf(jr->error, sizeof(jr->error), "flaky attempt %d", j->attempt);
        return ATUM_JOB_RETRY;
    }
    return ATUM_JOB_DONE;
}

static int run_permanent(void *s, struct atum_job *j)
{
    (void)s;
    struct job_run *jr = (struct job_run *)j;
    snprintf(jr->error, sizeof(jr->error), "no such customer");
    return ATUM_JOB_PERMANENT;
}

static int run_leaves_tx_open(void *s, struct atum_job *j)
{
    (void)s;
    atomic_fetch_add(&runs[payload_n(j)], 1);
    const char *e;
    if (j->attempt == 1) {
        db_begin(j->db->conn, &e);
        return ATUM_JOB_DONE;
    }
    return ATUM_JOB_DONE;
}

static int run_slow(void *s, struct atum_job *j)
{
    (void)s;
    atomic_fetch_add(&started, 1);
    sleep_ms(1500);
    atomic_fetch_add(&runs[payload_n(j)], 1);
    return ATUM_JOB_DONE;
}

/* Like mail.ingest: a while of work, then its effect and its completion
 * in one transaction (exactly once). */
static int run_txwrite(void *s, struct atum_job *j)
{
    (void)s;
    const char *e = NULL;
    atomic_fetch_add(&started, 1);
    sleep_ms(150);
    struct db_conn *c = jobrun_db(j);
    char id[24];
    snprintf(id, sizeof(id), "%lld", j->id);
    const char *p[] = { id };
    PGresult *r = NULL;
    if (db_begin(c, &e) < 0)
        return jobrun_fail(j, JOBRUN_RETRY, "%s", e);
    if ((r = db_exec(c, "INSERT INTO t_effects (job_id) VALUES ($1)", 1, p, &e)) == NULL
        || jobrun_complete_in_tx(j, &e) < 0 || db_commit(c, &e) < 0) {
        PQclear(r);
        db_rollback(c);
        return jobrun_fail(j, JOBRUN_RETRY, "%s", e);
    }
    PQclear(r);
    atomic_fetch_add(&runs[payload_n(j)], 1);
    return ATUM_JOB_DONE;
}

static int register_test_kinds(struct runtime *r, void *arg, const char **error_r)
{
    (void)arg;
    if (jobkind_register(&r->kinds, "t.count", "test", run_count, NULL, 0, 0, error_r) < 0
        || jobkind_register(&r->kinds, "t.flaky", "test", run_flaky, NULL, 5, 0, error_r) < 0
        || jobkind_register(&r->kinds, "t.permanent", "test", run_permanent, NULL, 0, 0, error_r) < 0
        || jobkind_register(&r->kinds, "t.txopen", "test", run_leaves_tx_open, NULL, 0, 0, error_r) < 0
        || jobkind_register(&r->kinds, "t.slow", "test", run_slow, NULL, 0, 0, error_r) < 0
        || jobkind_register(&r->kinds, "t.txwrite", "test", run_txwrite, NULL, 0, 0, error_r) < 0)
        return -1;
    return 0;
}

static void setup(void)
{
    const char *e = NULL;
    db = testdb_connect();
    testdb_exec(db, "TRUNCATE jobs, job_archive");
    for (int i = 0; i < MAXJOBS; i++)
        atomic_store(&runs[i], 0);
    atomic_store(&started, 0);
    cfg = conf_defaults(&e);
    ck_assert_ptr_nonnull(cfg);
    runtime_init(&rt);
    runtime_add_registrar(&rt, register_test_kinds, NULL);
    ck_assert_msg(runtime_load(&rt, cfg, db, &e) == 0, "%s", e);
}

static void teardown(void)
{
    runtime_destroy(&rt);
    conf_free(&cfg);
    db_conn_free(&db);
}

static struct worker_pool *start_pool(int n, int batch, long long poll_ms)
{
    const char *e = NULL;
    struct worker_opts o = {
        .db = testdb_params("test-worker"),
        .node_id = "testnode",
        .nworkers = n,
        .batch_size = batch,
        .lease_ms = 60000,
        .poll_interval_ms = poll_ms,
        .backoff_max_ms = 60000,
        .keep_done = true,
    };
    struct worker_pool *p = NULL;
    ck_assert_msg(worker_pool_start(&p, &o, &rt, &e) == 0, "%s", e);
    return p;
}

static void enqueue_n(const char *kind, int from, int count)
{
    const char *e = NULL;
    ck_assert_int_eq(db_begin(db, &e), 0);
    for (int i = from; i < from + count; i++) {
        char payload[32];
        snprintf(payload, sizeof(payload), "{\"n\": %d}", i);
        struct atum_job_spec s = { .kind = kind, .payload = payload };
        ck_assert_msg(jobs_enqueue(db, &s, NULL, &e) == 0, "%s", e);
    }
    ck_assert_int_eq(db_commit(db, &e), 0);
}

/* Polls a count query until it reaches want or timeout_ms passes. */
static long long wait_for(const char *sql, long long want, long long timeout_ms)
{
    long long t0 = time_mono_ms(), v = -1;
    while (time_mono_ms() - t0 < timeout_ms) {
        v = testdb_int(db, sql);
        if (v == want)
            break;
        sleep_ms(20);
    }
    return v;
}

START_TEST(every_job_runs_exactly_once)
{
    struct worker_pool *p = start_pool(3, 16, 2000);
    enqueue_n("t.count", 0, 500);
    ck_assert_int_eq(wait_for("SELECT count(*) FROM job_archive", 500, 30000), 500);
    ck_assert_int_eq(worker_pool_stop(&p, 5000), 0);
    for (int i = 0; i < 500; i++)
        ck_assert_msg(atomic_load(&runs[i]) == 1, "job %d ran %d times", i, atomic_load(&runs[i]));
    ck_assert_int_eq(testdb_int(db, "SELECT count(*) FROM jobs"), 0);
    /* more than one worker took part */
    ck_assert_int_gt(testdb_int(db, "SELECT count(DISTINCT locked_by) FROM job_archive"), 1);
}
END_TEST

/* With a 60 s poll interval only NOTIFY can wake an idle worker fast. */
START_TEST(notify_wakes_idle_workers)
{
    struct worker_pool *p = start_pool(2, 8, 60000);
    /* idle: the listener has said LISTEN and waits (the workers, having
     * found nothing, wait for it or for their 60 s poll) */
    ck_assert_int_eq(wait_for("SELECT count(*) FROM pg_stat_activity WHERE application_name = 'atumd-listener'"
                              " AND query LIKE 'LISTEN%' AND state = 'idle'", 1, 5000), 1);
    long long t0 = time_mono_ms();
    enqueue_n("t.count", 0, 1);
    ck_assert_int_eq(wait_for("SELECT count(*) FROM job_archive", 1, 5000), 1);
    ck_assert_int_lt(time_mono_ms() - t0, 2000);
    ck_assert_int_eq(worker_pool_stop(&p, 5000), 0);
}
END_TEST

START_TEST(failures_retry_then_succeed_or_die)
{
    struct worker_pool *p = start_pool(2, 4, 100);
    enqueue_n("t.flaky", 0, 3);
    enqueue_n("t.permanent", 10, 1);
    enqueue_n("t.unknown", 20, 1);
    enqueue_n("t.txopen", 30, 1);
    ck_assert_int_eq(wait_for("SELECT count(*) FROM job_archive", 4, 15000), 4);
    ck_assert_int_eq(wait_for("SELECT count(*) FROM jobs WHERE state = 'dead'", 2, 5000), 2);
    ck_assert_int_eq(worker_pool_stop(&p, 5000), 0);
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(atomic_load(&runs[i]), 3);
    ck_assert_int_eq(testdb_int(db, "SELECT count(*) FROM job_archive WHERE kind = 't.flaky' AND attempts = 3"), 3);
    char *why = testdb_str(db, "SELECT last_error FROM jobs WHERE kind = 't.permanent'");
    ck_assert_str_eq(why, "no such customer");
    free(why);
    why = testdb_str(db, "SELECT last_error FROM jobs WHERE kind = 't.unknown'");
    ck_assert_ptr_nonnull(strstr(why, "unknown job kind 't.unknown'"));
    free(why);
    /* the handler that left its transaction open was rolled back and rerun */
    ck_assert_int_eq(atomic_load(&runs[30]), 2);
    ck_assert_int_eq(testdb_int(db, "SELECT count(*) FROM job_archive WHERE kind = 't.txopen' AND attempts = 2"), 1);
}
END_TEST

/* A job of a plugin that is configured here but not running (turned off
 * by an admin) waits for it: handed back for later, never dead. */
START_TEST(jobs_of_a_stopped_plugin_wait)
{
    struct plugin_instance stopped = { .name = "stopped", .state = PLUGIN_DISABLED };
    struct plugin_set loaded = rt.plugins;
    rt.plugins.v = &stopped;
    rt.plugins.n = 1;
    struct worker_pool *p = start_pool(1, 4, 100);
    enqueue_n("stopped.work", 0, 1);
    enqueue_n("gone.work", 1, 1);       /* no such plugin: dies as before */
    ck_assert_int_eq(wait_for("SELECT count(*) FROM jobs WHERE kind = 'stopped.work'"
                              " AND state = 'available' AND run_at > now() + interval '30 seconds'",
                              1, 10000), 1);
    ck_assert_int_eq(wait_for("SELECT count(*) FROM jobs WHERE kind = 'gone.work' AND state = 'dead'",
                              1, 10000), 1);
    ck_assert_int_eq(worker_pool_stop(&p, 5000), 0);
    rt.plugins = loaded;
    ck_assert_int_eq(testdb_int(db, "SELECT count(*) FROM jobs WHERE kind = 'stopped.work'"
                                    " AND state = 'dead'"), 0);
    ck_assert_int_eq(atomic_load(&runs[0]), 0);
}
END_TEST

/* SIGTERM semantics: the running job finishes, claimed ones go back. */
START_TEST(stop_drains_and_releases)
{
    struct worker_pool *p = start_pool(1, 20, 2000);
    enqueue_n("t.slow", 0, 6);
    long long t0 = time_mono_ms();
    while (atomic_load(&started) == 0 && time_mono_ms() - t0 < 5000)
        sleep_ms(10);
    ck_assert_int_eq(atomic_load(&started), 1);
    ck_assert_int_eq(worker_pool_stop(&p, 10000), 0);
    ck_assert_int_eq(atomic_load(&runs[0]) + atomic_load(&runs[1]), 1);
    ck_assert_int_eq(testdb_int(db, "SELECT count(*) FROM job_archive"), 1);
    ck_assert_int_eq(testdb_int(db, "SELECT count(*) FROM jobs WHERE state = 'running'"), 0);
    ck_assert_int_eq(testdb_int(db, "SELECT count(*) FROM jobs WHERE state = 'available' AND attempts = 0"), 5);
}
END_TEST

static void pgctl(const char *what)
{
    char cmd[600];
    snprintf(cmd, sizeof(cmd), "%s %s", getenv("ATUM_TEST_PGCTL"), what);
    ck_assert_msg(system(cmd) == 0, "%s failed", cmd);
}

/* PostgreSQL stops while jobs run and comes back: the pool reconnects,
 * records what finished meanwhile, and nothing runs twice. */
START_TEST(survives_database_restart)
{
    struct worker_pool *p = start_pool(2, 1, 500);
    enqueue_n("t.slow", 0, 4);
    long long t0 = time_mono_ms();
    while (atomic_load(&started) < 2 && time_mono_ms() - t0 < 5000)
        sleep_ms(10);
    ck_assert_int_eq(atomic_load(&started), 2);
    db_conn_free(&db);
    pgctl("stop");
    /* the two jobs finish while it is down */
    t0 = time_mono_ms();
    while (atomic_load(&runs[0]) + atomic_load(&runs[1]) + atomic_load(&runs[2]) + atomic_load(&runs[3]) < 2
           && time_mono_ms() - t0 < 10000)
        sleep_ms(10);
    ck_assert_int_eq(atomic_load(&runs[0]) + atomic_load(&runs[1]) + atomic_load(&runs[2]) + atomic_load(&runs[3]), 2);
    pgctl("start");
    db = testdb_connect();
    enqueue_n("t.count", 100, 10);
    ck_assert_int_eq(wait_for("SELECT count(*) FROM job_archive", 14, 30000), 14);
    ck_assert_int_eq(worker_pool_stop(&p, 10000), 0);
    for (int i = 0; i < 4; i++)
        ck_assert_msg(atomic_load(&runs[i]) == 1, "slow job %d ran %d times", i, atomic_load(&runs[i]));
    for (int i = 100; i < 110; i++)
        ck_assert_int_eq(atomic_load(&runs[i]), 1);
    ck_assert_int_eq(testdb_int(db, "SELECT count(*) FROM job_archive WHERE attempts <> 1"), 0);
}
END_TEST

/* PostgreSQL restarts in the middle of a burst (a 1-second blip): the
 * jobs whose connection broke mid-run -- and the rest of their workers'
 * batches -- are given back as soon as the connection returns, not after
 * their 5-minute lease; still exactly once (each job's effect commits
 * with its completion). */
START_TEST(restart_mid_burst_delays_by_seconds_not_a_lease)
{
    testdb_exec(db, "DROP TABLE IF EXISTS t_effects");
    testdb_exec(db, "CREATE TABLE t_effects (job_id bigint NOT NULL)");
    const char *e = NULL;
    struct worker_opts o = {
        .db = testdb_params("test-worker"), .node_id = "blipnode", .nworkers = 2, .batch_size = 5,
        .lease_ms = 300000, .poll_interval_ms = 200, .backoff_max_ms = 60000, .keep_done = true,
    };
    struct worker_pool *p = NULL;
    ck_assert_msg(worker_pool_start(&p, &o, &rt, &e) == 0, "%s", e);
    enqueue_n("t.txwrite", 0, 60);
    long long t0 = time_mono_ms();
    while (atomic_load(&started) < 8 && time_mono_ms() - t0 < 10000)
        sleep_ms(5);
    ck_assert_int_ge(atomic_load(&started), 8);
    db_conn_free(&db);
    pgctl("stop");                           /* mid-job: each worker holds a batch */
    pgctl("start");
    long long up = time_mono_ms();
    db = testdb_connect();
    long long done = wait_for("SELECT count(*) FROM job_archive WHERE kind = 't.txwrite'", 60, 60000);
    long long took = time_mono_ms() - up;
    ck_assert_int_eq(worker_pool_stop(&p, 10000), 0);
    ck_assert_msg(done == 60, "%lld of 60 jobs done %lld ms after the restart (%lld running)", done, took,
                  testdb_int(db, "SELECT count(*) FROM jobs WHERE state = 'running'"));
    /* the work itself takes about 5 s; a job left to its lease would take 300 */
    ck_assert_msg(took < 30000, "the restart delayed the work by %lld ms", took);
    fprintf(stderr, "    restart mid-burst: all 60 jobs done %lld ms after PostgreSQL was back\n", took);
    /* exactly once: one effect per job, none twice, none lost */
    ck_assert_int_eq(testdb_int(db, "SELECT count(*) FROM t_effects"), 60);
    ck_assert_int_eq(testdb_int(db, "SELECT count(DISTINCT job_id) FROM t_effects"), 60);
    ck_assert_int_eq(testdb_int(db, "SELECT count(*) FROM jobs"), 0);
    /* jobs that never started were given back without spending an attempt */
    ck_assert_int_eq(testdb_int(db, "SELECT count(*) FROM job_archive WHERE kind = 't.txwrite'"
                                    " AND attempts > 2"), 0);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("worker_pg");
    TCase *tc = tcase_create("worker");
    tcase_set_timeout(tc, 120);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, every_job_runs_exactly_once);
    tcase_add_test(tc, notify_wakes_idle_workers);
    tcase_add_test(tc, failures_retry_then_succeed_or_die);
    tcase_add_test(tc, jobs_of_a_stopped_plugin_wait);
    tcase_add_test(tc, stop_drains_and_releases);
    tcase_add_test(tc, survives_database_restart);
    tcase_add_test(tc, restart_mid_burst_delays_by_seconds_not_a_lease);
    suite_add_tcase(s, tc);
    return testdb_run_suite(s);
}
