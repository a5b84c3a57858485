/* test_jobs_pg -- the job queue against a real PostgreSQL. */
#include "config.h"
#include "core/event.h"
#include "core/jobkind.h"
#include "core/jobs.h"
#include "core/runtime.h"
#include "testdb.h"
#include "lib/util.h"

#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static struct db_conn *db;

static void setup(void)
{
    db = testdb_connect();
    testdb_exec(db, "TRUNCATE jobs, job_archive");
}

static void teardown(void)
{
    db_conn_free(&db);
}

static long long enq(const char *kind, const char *payload, int prio, const char *ukey)
{
    const char *e = NULL;
    long long id = -1;
    struct atum_job_spec s = { .kind = kind, .payload = payload, .priority = prio, .unique_key = ukey };
    ck_assert_msg(jobs_enqueue(db, &s, &id, &e) == 0, "%s", e);
    return id;
}

static void sleep_ms(long ms)
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000 };
    nanosleep(&ts, NULL);
}

/* Claims for `who` until a job comes (a delay or backoff ran out) or
 * 10 s pass: tests wait for the condition, never for a guessed time. */
static void claim_when_due(const char *who, struct jobs_batch *b)
{
    const char *e = NULL;
    long long t0 = time_mono_ms();
    for (;;) {
        ck_assert_int_eq(jobs_claim(db, who, 10, 60000, b, &e), 0);
        if (b->n > 0 || time_mono_ms() - t0 > 10000)
            return;
        jobs_batch_free(b);
        sleep_ms(20);
    }
}

/* Rescues expired leases until `want` were rescued or 10 s pass. */
static int rescue_when_expired(int want)
{
    const char *e = NULL;
    int n = 0, total = 0;
    long long t0 = time_mono_ms();
    while (total < want && time_mono_ms() - t0 < 10000) {
        ck_assert_int_eq(jobs_rescue_expired(db, 100, &n, &e), 0);
        total += n;
        if (total < want)
            sleep_ms(20);
    }
    return total;
}

/* Waits until the database's clock is past the lease the jobs of `kind`
 * had when this was called (one lease end for all of them). */
static void wait_past_lease_of(const char *kind)
{
    char sql[256];
    snprintf(sql, sizeof(sql), "SELECT ceil(extract(epoch FROM max(locked_until)) * 1000)::bigint"
             " FROM jobs WHERE kind = '%s'", kind);
    long long until = testdb_int(db, sql);
    long long t0 = time_mono_ms();
    while (testdb_int(db, "SELECT (extract(epoch FROM clock_timestamp()) * 1000)::bigint") <= until
           && time_mono_ms() - t0 < 10000)
        sleep_ms(20);
}

START_TEST(claim_order_and_complete)
{
    const char *e = NULL;
    long long a = enq("t.a", "{\"n\":1}", 100, NULL);
    long long b = enq("t.b", NULL, 10, NULL);      /* runs first: lower priority value */
    long long c = enq("t.c", NULL, 100, NULL);
    struct jobs_batch batch;
    ck_assert_int_eq(jobs_claim(db, "w1", 10, 60000, &batch, &e), 0);
    ck_assert_int_eq(batch.n, 3);
    ck_assert_int_eq(batch.jobs[0].id, b);
    ck_assert_int_eq(batch.jobs[1].id, a);
    ck_assert_int_eq(batch.jobs[2].id, c);
    ck_assert_str_eq(batch.jobs[1].payload, "{\"n\": 1}");
    ck_assert_int_eq(batch.jobs[0].attempts, 1);
    ck_assert_int_eq(testdb_int(db, "SELECT count(*) FROM jobs WHERE state = 'running' AND locked_by = 'w1'"), 3);

    long long ids[] = { a, b, c };
    int finished = 0;
    ck_assert_int_eq(jobs_complete(db, "w1", ids, 3, true, &finished, &e), 0);
    ck_assert_int_eq(finished, 3);
    ck_assert_int_eq(testdb_int(db, "SELECT count(*) FROM jobs"), 0);
    ck_assert_int_eq(testdb_int(db, "SELECT count(*) FROM job_archive"), 3);
    jobs_batch_free(&batch);

    /* nothing left to claim */
    ck_assert_int_eq(jobs_claim(db, "w1", 10, 60000, &batch, &e), 0);
    ck_assert_int_eq(batch.n, 0);
}
END_TEST

START_TEST(batch_limit_and_delay)
{
    const char *e = NULL;
    for (int i = 0; i < 5; i++)
        enq("t.x", NULL, 0, NULL);
    struct atum_job_spec later = { .kind = "t.later", .delay_seconds = 0.4 };
    long long lid = 0;
    ck_assert_int_eq(jobs_enqueue(db, &later, &lid, &e), 0);
    struct jobs_batch b;
    ck_assert_int_eq(jobs_claim(db, "w1", 3, 60000, &b, &e), 0);
    ck_assert_int_eq(b.n, 3);
    jobs_batch_free(&b);
    ck_assert_int_eq(jobs_claim(db, "w2", 10, 60000, &b, &e), 0);
    ck_assert_int_eq(b.n, 2);            /* the delayed one is not due yet */
    jobs_batch_free(&b);
    claim_when_due("w2", &b);
    ck_assert_int_eq(b.n, 1);
    ck_assert_int_eq(b.jobs[0].id, lid);
    jobs_batch_free(&b);
}
END_TEST

START_TEST(unique_key_is_idempotent)
{
    const char *e = NULL;
    long long a = enq("t.u", NULL, 0, "ticket:7:ack");
    ck_assert_int_gt(a, 0);
    ck_assert_int_eq(enq("t.u", NULL, 0, "ticket:7:ack"), 0);
    ck_assert_int_eq(testdb_int(db, "SELECT count(*) FROM jobs"), 1);
    /* still pending while running */
    struct jobs_batch b;
    ck_assert_int_eq(jobs_claim(db, "w1", 10, 60000, &b, &e), 0);
    ck_assert_int_eq(enq("t.u", NULL, 0, "ticket:7:ack"), 0);
    int n = 0;
    ck_assert_int_eq(jobs_complete(db, "w1", &a, 1, true, &n, &e), 0);
    jobs_batch_free(&b);
    /* finished: the key is free again */
    ck_assert_int_gt(enq("t.u", NULL, 0, "ticket:7:ack"), a);
}
END_TEST

START_TEST(enqueue_joins_callers_transaction)
{
    const char *e = NULL;
    ck_assert_int_eq(db_begin(db, &e), 0);
    enq("t.tx", NULL, 0, NULL);
    db_rollback(db);
    ck_assert_int_eq(testdb_int(db, "SELECT count(*) FROM jobs"), 0);
    ck_assert_int_eq(db_begin(db, &e), 0);
    enq("t.tx", NULL, 0, NULL);
    ck_assert_int_eq(db_commit(db, &e), 0);
    ck_assert_int_eq(testdb_int(db, "SELECT count(*) FROM jobs"), 1);
}
END_TEST

START_TEST(bad_enqueues_are_refused)
{
    const char *e = NULL;
    struct atum_job_spec s = { .kind = "t.json", .payload = "{not json" };
    ck_assert_int_eq(jobs_enqueue(db, &s, NULL, &e), -1);
    ck_assert_ptr_nonnull(strstr(e, "json"));
    s.payload = NULL;
    s.kind = "Robert'); DROP TABLE jobs;--";
    ck_assert_int_eq(jobs_enqueue(db, &s, NULL, &e), -1);
    ck_assert_ptr_nonnull(strstr(e, "invalid job kind"));
    ck_assert_int_eq(testdb_int(db, "SELECT count(*) FROM jobs"), 0);
    /* payload text is data, never SQL */
    s.kind = "t.ok";
    s.payload = "{\"x\": \"'); DROP TABLE jobs;--\"}";
    ck_assert_int_eq(jobs_enqueue(db, &s, NULL, &e), 0);
    ck_assert_int_eq(testdb_int(db, "SELECT count(*) FROM jobs"), 1);
}
END_TEST

START_TEST(retry_backoff_then_dead_then_requeue)
{
    const char *e = NULL;
    struct atum_job_spec s = { .kind = "t.flaky", .max_attempts = 2 };
    long long id = 0;
    ck_assert_int_eq(jobs_enqueue(db, &s, &id, &e), 0);
    struct jobs_batch b;
    char st[16];

    ck_assert_int_eq(jobs_claim(db, "w1", 1, 60000, &b, &e), 0);
    ck_assert_int_eq(b.jobs[0].attempts, 1);
    jobs_batch_free(&b);
    ck_assert_int_eq(jobs_retry(db, "w1", id, 300, "boom 1", st, &e), 0);
    ck_assert_str_eq(st, "available");
    /* backoff: not claimable before run_at */
    ck_assert_int_eq(jobs_claim(db, "w1", 1, 60000, &b, &e), 0);
    ck_assert_int_eq(b.n, 0);
    claim_when_due("w1", &b);
    ck_assert_int_eq(b.n, 1);
    ck_assert_int_eq(b.jobs[0].attempts, 2);
    jobs_batch_free(&b);
    ck_assert_int_eq(jobs_retry(db, "w1", id, 0, "boom 2", st, &e), 0);
    ck_assert_str_eq(st, "dead");
    char *err = testdb_str(db, "SELECT last_error FROM jobs WHERE state = 'dead'");
    ck_assert_str_eq(err, "boom 2");
    free(err);

    /* dead jobs are not claimed; an operator requeues them */
    ck_assert_int_eq(jobs_claim(db, "w1", 1, 60000, &b, &e), 0);
    ck_assert_int_eq(b.n, 0);
    int n = 0;
    ck_assert_int_eq(jobs_requeue_dead(db, id, NULL, &n, &e), 0);
    ck_assert_int_eq(n, 1);
    ck_assert_int_eq(jobs_claim(db, "w1", 1, 60000, &b, &e), 0);
    ck_assert_int_eq(b.n, 1);
    ck_assert_int_eq(b.jobs[0].attempts, 1);
    jobs_batch_free(&b);
    /* requeueing a job that is not dead does nothing */
    ck_assert_int_eq(jobs_requeue_dead(db, id, NULL, &n, &e), 0);
    ck_assert_int_eq(n, 0);
}
END_TEST

START_TEST(permanent_failure_goes_dead)
{
    const char *e = NULL;
    long long id = enq("t.perm", NULL, 0, NULL);
    struct jobs_batch b;
    ck_assert_int_eq(jobs_claim(db, "w1", 1, 60000, &b, &e), 0);
    jobs_batch_free(&b);
    bool ours = false;
    ck_assert_int_eq(jobs_dead(db, "w1", id, "cannot ever work", &ours, &e), 0);
    ck_assert(ours);
    ck_assert_int_eq(testdb_int(db, "SELECT count(*) FROM jobs WHERE state = 'dead' AND attempts = 1"), 1);
}
END_TEST

START_TEST(finish_is_guarded_by_owner)
{
    const char *e = NULL;
    long long id = enq("t.own", NULL, 0, NULL);
    struct jobs_batch b;
    ck_assert_int_eq(jobs_claim(db, "w1", 1, 60000, &b, &e), 0);
    jobs_batch_free(&b);
    int n = -1;
    ck_assert_int_eq(jobs_complete(db, "intruder", &id, 1, true, &n, &e), 0);
    ck_assert_int_eq(n, 0);
    char st[16];
    ck_assert_int_eq(jobs_retry(db, "intruder", id, 0, "x", st, &e), 0);
    ck_assert_str_eq(st, "");
    bool ours = true;
    ck_assert_int_eq(jobs_dead(db, "intruder", id, "x", &ours, &e), 0);
    ck_assert(!ours);
    ck_assert_int_eq(testdb_int(db, "SELECT count(*) FROM jobs WHERE state = 'running' AND locked_by = 'w1'"), 1);
}
END_TEST

START_TEST(expired_lease_is_rescued)
{
    const char *e = NULL;
    long long id = enq("t.slow", NULL, 0, NULL);
    struct jobs_batch b;
    ck_assert_int_eq(jobs_claim(db, "w1", 1, 200, &b, &e), 0);
    jobs_batch_free(&b);
    int n = -1;
    ck_assert_int_eq(jobs_rescue_expired(db, 100, &n, &e), 0);
    ck_assert_int_eq(n, 0);                      /* lease still valid */
    ck_assert_int_eq(rescue_when_expired(1), 1);
    ck_assert_int_eq(jobs_claim(db, "w2", 1, 60000, &b, &e), 0);
    ck_assert_int_eq(b.n, 1);
    ck_assert_int_eq(b.jobs[0].attempts, 2);
    jobs_batch_free(&b);
    /* the first worker comes back late: its completion changes nothing */
    ck_assert_int_eq(jobs_complete(db, "w1", &id, 1, true, &n, &e), 0);
    ck_assert_int_eq(n, 0);
    ck_assert_int_eq(jobs_complete(db, "w2", &id, 1, true, &n, &e), 0);
    ck_assert_int_eq(n, 1);
}
END_TEST

START_TEST(expired_lease_out_of_attempts_goes_dead)
{
    const char *e = NULL;
    struct atum_job_spec s = { .kind = "t.crashy", .max_attempts = 1 };
    ck_assert_int_eq(jobs_enqueue(db, &s, NULL, &e), 0);
    struct jobs_batch b;
    ck_assert_int_eq(jobs_claim(db, "w1", 1, 100, &b, &e), 0);
    jobs_batch_free(&b);
    ck_assert_int_eq(rescue_when_expired(1), 1);
    char *err = testdb_str(db, "SELECT last_error FROM jobs WHERE state = 'dead'");
    ck_assert_ptr_nonnull(strstr(err, "lease expired: worker w1"));
    free(err);
}
END_TEST

START_TEST(extend_and_release)
{
    const char *e = NULL;
    long long ids[2] = { enq("t.e", NULL, 0, NULL), enq("t.e", NULL, 0, NULL) };
    struct jobs_batch b;
    ck_assert_int_eq(jobs_claim(db, "w1", 2, 200, &b, &e), 0);
    jobs_batch_free(&b);
    /* the end of the 200 ms lease, before it is extended */
    long long first_end = testdb_int(db, "SELECT ceil(extract(epoch FROM max(locked_until)) * 1000)::bigint"
                                         " FROM jobs WHERE kind = 't.e'");
    bool ours[2];
    int n = 0;
    ck_assert_int_eq(jobs_extend(db, "w1", ids, 2, 60000, ours, &n, &e), 0);
    ck_assert_int_eq(n, 2);
    ck_assert(ours[0] && ours[1]);
    long long t0 = time_mono_ms();
    while (testdb_int(db, "SELECT (extract(epoch FROM clock_timestamp()) * 1000)::bigint") <= first_end
           && time_mono_ms() - t0 < 10000)
        sleep_ms(20);                            /* the first lease would be over now */
    ck_assert_int_eq(jobs_rescue_expired(db, 100, &n, &e), 0);
    ck_assert_int_eq(n, 0);                      /* extended: still ours */
    ck_assert_int_eq(jobs_extend(db, "w2", ids, 2, 60000, ours, &n, &e), 0);
    ck_assert_int_eq(n, 0);
    ck_assert(!ours[0] && !ours[1]);
    /* released jobs do not lose an attempt */
    ck_assert_int_eq(jobs_release(db, "w1", ids, 2, 0, &e), 0);
    ck_assert_int_eq(testdb_int(db, "SELECT count(*) FROM jobs WHERE state = 'available' AND attempts = 0"), 2);
}
END_TEST

START_TEST(concurrency_key_serialises)
{
    const char *e = NULL;
    struct atum_job_spec s = { .kind = "t.ck", .concurrency_key = "ticket:9" };
    ck_assert_int_eq(jobs_enqueue(db, &s, NULL, &e), 0);
    ck_assert_int_eq(jobs_enqueue(db, &s, NULL, &e), 0);
    enq("t.free", NULL, 0, NULL);
    struct jobs_batch b1, b2;
    ck_assert_int_eq(jobs_claim(db, "w1", 1, 60000, &b1, &e), 0);
    ck_assert_str_eq(b1.jobs[0].kind, "t.ck");
    /* the second t.ck waits while the first runs */
    ck_assert_int_eq(jobs_claim(db, "w2", 10, 60000, &b2, &e), 0);
    ck_assert_int_eq(b2.n, 1);
    ck_assert_str_eq(b2.jobs[0].kind, "t.free");
    jobs_batch_free(&b2);

    /* the run-time lock closes the race between two claims */
    struct db_conn *other = testdb_connect();
    ck_assert_int_eq(jobs_key_lock(db, "ticket:9", &e), 1);
    ck_assert_int_eq(jobs_key_lock(other, "ticket:9", &e), 0);
    ck_assert_int_eq(jobs_key_unlock(db, "ticket:9", &e), 0);
    ck_assert_int_eq(jobs_key_lock(other, "ticket:9", &e), 1);
    db_conn_free(&other);

    int n = 0;
    ck_assert_int_eq(jobs_complete(db, "w1", &b1.jobs[0].id, 1, true, &n, &e), 0);
    jobs_batch_free(&b1);
    ck_assert_int_eq(jobs_claim(db, "w2", 10, 60000, &b2, &e), 0);
    ck_assert_int_eq(b2.n, 1);
    ck_assert_str_eq(b2.jobs[0].kind, "t.ck");
    jobs_batch_free(&b2);
}
END_TEST

/* One NOTIFY per committing transaction, none on rollback. */
START_TEST(one_notify_per_transaction)
{
    const char *e = NULL;
    struct db_conn *lc = testdb_connect();
    testdb_exec(lc, "LISTEN " DB_NOTIFY_CHANNEL);
    testdb_exec(lc, "LISTEN test_marker");
    ck_assert_int_eq(db_begin(db, &e), 0);
    for (int i = 0; i < 5; i++)
        enq("t.n", NULL, 0, NULL);
    ck_assert_int_eq(db_commit(db, &e), 0);
    ck_assert_int_eq(db_begin(db, &e), 0);
    enq("t.n", NULL, 0, NULL);
    db_rollback(db);
    enq("t.n", NULL, 0, NULL);                  /* autocommit: its own */
    /* a no-op transaction sends nothing */
    ck_assert_int_eq(db_begin(db, &e), 0);
    ck_assert_int_eq(db_commit(db, &e), 0);
    /* notifications of one session arrive in commit order: once this
     * marker is in, everything sent before it is too */
    testdb_exec(db, "NOTIFY test_marker");
    PGconn *pg = db_conn_pg(lc);
    int n = 0;
    bool marker = false;
    long long t0 = time_mono_ms();
    while (!marker && time_mono_ms() - t0 < 10000) {
        struct pollfd pf = { PQsocket(pg), POLLIN, 0 };
        poll(&pf, 1, 100);
        ck_assert_int_eq(PQconsumeInput(pg), 1);
        PGnotify *nt;
        while ((nt = PQnotifies(pg)) != NULL) {
            if (strcmp(nt->relname, "test_marker") == 0)
                marker = true;
            else
                n++;
            PQfreemem(nt);
        }
    }
    ck_assert(marker);
    ck_assert_int_eq(n, 2);
    db_conn_free(&lc);
}
END_TEST

/* The claim must stay an index scan on jobs_claim_idx. */
START_TEST(claim_plan_uses_partial_index)
{
    testdb_exec(db, "INSERT INTO jobs (kind, priority, run_at) SELECT 't.bulk', (g % 3) * 50,"
                    " now() - (g || ' ms')::interval FROM generate_series(1, 20000) g");
    testdb_exec(db, "UPDATE jobs SET state = 'dead' WHERE id % 10 = 0");
    testdb_exec(db, "ANALYZE jobs");
    const char *e = NULL;
    PGresult *r = db_exec(db,
        "EXPLAIN SELECT id FROM jobs WHERE state = 'available' AND run_at <= now()"
        " AND (concurrency_key IS NULL OR NOT EXISTS (SELECT 1 FROM jobs r WHERE r.state = 'running'"
        " AND r.concurrency_key = jobs.concurrency_key))"
        " ORDER BY priority, run_at, id LIMIT 32 FOR UPDATE SKIP LOCKED", 0, NULL, &e);
    ck_assert_msg(r != NULL, "%s", e);
    struct strbuf plan = STRBUF_INIT;
    for (int i = 0; i < PQntuples(r); i++) {
        strbuf_adds(&plan, PQgetvalue(r, i, 0));
        strbuf_addc(&plan, '\n');
    }
    PQclear(r);
    ck_assert_msg(strstr(plan.s, "Index Scan using jobs_claim_idx") != NULL, "plan:\n%s", plan.s);
    ck_assert_msg(strstr(plan.s, "Sort") == NULL, "plan sorts:\n%s", plan.s);
    strbuf_free(&plan);
}
END_TEST

START_TEST(prune_archive_in_batches)
{
    const char *e = NULL;
    testdb_exec(db, "INSERT INTO job_archive (id, kind, payload, attempts, created_at, finished_at)"
                    " SELECT g, 't.old', '{}', 1, now(), now() - interval '2 days'"
                    " FROM generate_series(1, 2500) g");
    testdb_exec(db, "INSERT INTO job_archive (id, kind, payload, attempts, created_at)"
                    " SELECT g, 't.new', '{}', 1, now() FROM generate_series(3001, 3010) g");
    int n = 0, total = 0, rounds = 0;
    do {
        ck_assert_int_eq(jobs_prune_archive(db, 86400000LL, 1000, &n, &e), 0);
        ck_assert_int_le(n, 1000);
        total += n;
        rounds++;
    } while (n == 1000);
    ck_assert_int_eq(total, 2500);
    ck_assert_int_eq(rounds, 3);
    ck_assert_int_eq(testdb_int(db, "SELECT count(*) FROM job_archive"), 10);
}
END_TEST

/* Two processes claiming from one queue never both get a job. */
START_TEST(two_processes_never_share_a_job)
{
    enum { N = 3000 };
    testdb_exec(db, "CREATE TABLE IF NOT EXISTS claims (job_id bigint NOT NULL, pid int NOT NULL)");
    testdb_exec(db, "TRUNCATE claims");
    testdb_exec(db, "INSERT INTO jobs (kind) SELECT 't.race' FROM generate_series(1, 3000)");
    db_conn_free(&db);            /* never fork with an open connection */

    pid_t kids[2];
    for (int k = 0; k < 2; k++) {
        kids[k] = fork();
        ck_assert_int_ge(kids[k], 0);
        if (kids[k] == 0) {
            struct db_params p = testdb_params("racer");
            struct db_conn *c = db_conn_new(&p);
            const char *e = NULL;
            char wid[32], pid[16];
            snprintf(wid, sizeof(wid), "racer%d", k);
            snprintf(pid, sizeof(pid), "%d", (int)getpid());
            if (db_conn_connect(c, &e) < 0)
                _exit(2);
            for (;;) {
                struct jobs_batch b;
                if (jobs_claim(c, wid, 7, 60000, &b, &e) < 0)
                    _exit(3);
                if (b.n == 0)
                    break;
                long long ids[7];
                for (int i = 0; i < b.n; i++) {
                    char id[24];
                    snprintf(id, sizeof(id), "%lld", b.jobs[i].id);
                    const char *params[] = { id, pid };
                    PGresult *r = db_exec(c, "INSERT INTO claims VALUES ($1, $2)", 2, params, &e);
                    if (r == NULL)
                        _exit(4);
                    PQclear(r);
                    ids[i] = b.jobs[i].id;
                }
                int n = 0;
                if (jobs_complete(c, wid, ids, b.n, false, &n, &e) < 0 || n != b.n)
                    _exit(5);
                jobs_batch_free(&b);
            }
            db_conn_free(&c);
            _exit(0);
        }
    }
    for (int k = 0; k < 2; k++) {
        int st = 0;
        waitpid(kids[k], &st, 0);
        ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "racer %d failed: %d", k, st);
    }
    db = testdb_connect();
    ck_assert_int_eq(testdb_int(db, "SELECT count(*) FROM claims"), N);
    ck_assert_int_eq(testdb_int(db, "SELECT count(DISTINCT job_id) FROM claims"), N);
    /* both really worked */
    ck_assert_int_eq(testdb_int(db, "SELECT count(DISTINCT pid) FROM claims"), 2);
    ck_assert_int_eq(testdb_int(db, "SELECT count(*) FROM jobs"), 0);
}
END_TEST

/* A worker killed with SIGKILL: its job runs again after the lease. */
START_TEST(killed_worker_job_reruns_after_lease)
{
    long long id = enq("t.victim", NULL, 0, NULL);
    db_conn_free(&db);
    int pipefd[2];
    ck_assert_int_eq(pipe(pipefd), 0);
    pid_t kid = fork();
    if (kid == 0) {
        struct db_params p = testdb_params("victim");
        struct db_conn *c = db_conn_new(&p);
        const char *e = NULL;
        struct jobs_batch b;
        if (db_conn_connect(c, &e) < 0 || jobs_claim(c, "victim", 1, 700, &b, &e) < 0 || b.n != 1)
            _exit(3);
        ssize_t w = write(pipefd[1], "x", 1);
        (void)w;
        pause();               /* "running" until killed */
        _exit(0);
    }
    char ch;
    ck_assert_int_eq(read(pipefd[0], &ch, 1), 1);
    kill(kid, SIGKILL);
    waitpid(kid, NULL, 0);

    db = testdb_connect();
    const char *e = NULL;
    struct jobs_batch b;
    ck_assert_int_eq(jobs_claim(db, "survivor", 1, 60000, &b, &e), 0);
    ck_assert_int_eq(b.n, 0);                    /* still leased to the dead worker */
    wait_past_lease_of("t.victim");
    int n = 0;
    ck_assert_int_eq(jobs_rescue_expired(db, 10, &n, &e), 0);
    ck_assert_int_eq(n, 1);
    ck_assert_int_eq(jobs_claim(db, "survivor", 1, 60000, &b, &e), 0);
    ck_assert_int_eq(b.n, 1);
    ck_assert_int_eq(b.jobs[0].id, id);
    ck_assert_int_eq(b.jobs[0].attempts, 2);
    ck_assert_int_eq(jobs_complete(db, "survivor", &id, 1, true, &n, &e), 0);
    ck_assert_int_eq(n, 1);
    jobs_batch_free(&b);
}
END_TEST

static int hook_run(void *s, struct atum_job *j)
{
    (void)s;
    (void)j;
    return 0;
}

/* event_emit: one job per subscribed hook, in the caller's transaction. */
START_TEST(events_fan_out_to_hooks)
{
    const char *e = NULL;
    struct runtime rt;
    runtime_init(&rt);
    ck_assert_int_eq(jobkind_register_hook(&rt.kinds, "triage", "ticket.created", hook_run, NULL, &e), 0);
    ck_assert_int_eq(jobkind_register_hook(&rt.kinds, "sla", "ticket.created", hook_run, NULL, &e), 0);
    ck_assert_int_eq(jobkind_register_hook(&rt.kinds, "sla", "ticket.updated", hook_run, NULL, &e), 0);
    int n = 0;
    runtime_rdlock(&rt);
    ck_assert_int_eq(db_begin(db, &e), 0);
    ck_assert_int_eq(event_emit_n(&rt, db, "ticket.created", "{\"ticket_id\": 42}", &n, &e), 0);
    ck_assert_int_eq(n, 2);
    db_rollback(db);
    ck_assert_int_eq(testdb_int(db, "SELECT count(*) FROM jobs"), 0);
    ck_assert_int_eq(db_begin(db, &e), 0);
    ck_assert_int_eq(event_emit_n(&rt, db, "ticket.created", "{\"ticket_id\": 42}", &n, &e), 0);
    ck_assert_int_eq(db_commit(db, &e), 0);
    ck_assert_int_eq(event_emit_n(&rt, db, "nobody.listens", "{}", &n, &e), 0);
    ck_assert_int_eq(n, 0);
    ck_assert_int_eq(event_emit_n(&rt, db, "ticket.created", "{broken", &n, &e), -1);
    ck_assert_int_eq(event_emit_n(&rt, db, "BAD EVENT", "{}", &n, &e), -1);
    runtime_rdunlock(&rt);
    ck_assert_int_eq(testdb_int(db, "SELECT count(*) FROM jobs WHERE kind LIKE 'hook.%.ticket.created'"
                                    " AND payload->>'event' = 'ticket.created'"
                                    " AND (payload->'data'->>'ticket_id')::int = 42"
                                    /* the moment of the event rides along */
                                    " AND abs((payload->>'at')::float8 - extract(epoch from created_at)) < 60"
                                    " AND concurrency_key = kind || ':ticket:42'"), 2);
    runtime_destroy(&rt);
}
END_TEST

/* Job notifications that arrive before a sentinel NOTIFY sent after the
 * transactions in question (notifications arrive in commit order). */
static int notifies_before_sentinel(struct db_conn *lc)
{
    const char *e = NULL;
    PGresult *r = db_exec(db, "NOTIFY atum_test_sentinel", 0, NULL, &e);
    ck_assert_msg(r != NULL, "%s", e);
    PQclear(r);
    PGconn *pg = db_conn_pg(lc);
    int jobs = 0;
    for (int waited = 0; waited < 10000; waited += 10) {
        ck_assert_int_eq(PQconsumeInput(pg), 1);
        PGnotify *nt;
        while ((nt = PQnotifies(pg)) != NULL) {
            bool sentinel = strcmp(nt->relname, "atum_test_sentinel") == 0;
            jobs += strcmp(nt->relname, DB_NOTIFY_CHANNEL) == 0;
            PQfreemem(nt);
            if (sentinel)
                return jobs;
        }
        sleep_ms(10);                            /* polling for the sentinel, bounded */
    }
    ck_abort_msg("the sentinel notification never came");
    return -1;
}

/* Quiet hooks (ATUM_HOOKS_QUIET) are enqueued like any other, but the
 * transaction that emitted the event sends no NOTIFY for them. */
START_TEST(quiet_hooks_do_not_wake_workers)
{
    const char *e = NULL;
    struct runtime rt;
    runtime_init(&rt);
    ck_assert_int_eq(jobkind_register_hook_ex(&rt.kinds, "sla", "message.created", hook_run, NULL, true, &e), 0);
    ck_assert_int_eq(jobkind_register_hook_ex(&rt.kinds, "triage", "ticket.created", hook_run, NULL, false, &e), 0);
    struct db_conn *lc = testdb_connect();
    testdb_exec(lc, "LISTEN " DB_NOTIFY_CHANNEL);
    testdb_exec(lc, "LISTEN atum_test_sentinel");
    runtime_rdlock(&rt);
    ck_assert_int_eq(db_begin(db, &e), 0);
    ck_assert_int_eq(event_emit(&rt, db, "message.created", "{\"ticket_id\": 7}", &e), 0);
    ck_assert_int_eq(db_commit(db, &e), 0);
    ck_assert_int_eq(notifies_before_sentinel(lc), 0);
    ck_assert_int_eq(db_begin(db, &e), 0);
    ck_assert_int_eq(event_emit(&rt, db, "ticket.created", "{\"ticket_id\": 7}", &e), 0);
    ck_assert_int_eq(db_commit(db, &e), 0);
    ck_assert_int_eq(notifies_before_sentinel(lc), 1);
    runtime_rdunlock(&rt);
    ck_assert_int_eq(testdb_int(db, "SELECT count(*) FROM jobs WHERE kind = 'hook.sla.message.created'"
                                    " AND run_at <= now()"), 1);
    db_conn_free(&lc);
    runtime_destroy(&rt);
}
END_TEST

/* The same migrations twice: the second run applies nothing. */
START_TEST(migrations_rerun_as_noop_and_edits_refused)
{
    const char *e = NULL;
    int applied = -1;
    ck_assert_int_eq(migrate_apply(db, "core", core_migrations, &applied, &e), 0);
    ck_assert_int_eq(applied, 0);

    static const struct atum_migration v1[] = {
        { 1, "first", "CREATE TABLE mig_t (a int)" }, { 0, NULL, NULL }
    };
    static const struct atum_migration v2[] = {
        { 1, "first", "CREATE TABLE mig_t (a int)" },
        { 2, "second", "ALTER TABLE mig_t ADD b int; INSERT INTO mig_t VALUES (1, 2)" },
        { 0, NULL, NULL }
    };
    static const struct atum_migration edited[] = {
        { 1, "first", "CREATE TABLE mig_t (a bigint)" }, { 0, NULL, NULL }
    };
    static const struct atum_migration broken[] = {
        { 1, "first", "CREATE TABLE mig_t (a int)" },
        { 2, "second", "ALTER TABLE mig_t ADD b int; INSERT INTO mig_t VALUES (1, 2)" },
        { 3, "third", "CREATE TABLE mig_u (x int); SELECT no_such_function()" },
        { 0, NULL, NULL }
    };
    ck_assert_int_eq(migrate_apply(db, "mig", v1, &applied, &e), 0);
    ck_assert_int_eq(applied, 1);
    ck_assert_int_eq(migrate_apply(db, "mig", v2, &applied, &e), 0);
    ck_assert_int_eq(applied, 1);
    ck_assert_int_eq(migrate_apply(db, "mig", v2, &applied, &e), 0);
    ck_assert_int_eq(applied, 0);
    ck_assert_int_eq(migrate_apply(db, "mig", edited, &applied, &e), -1);
    ck_assert_msg(strstr(e, "mig migration 001_first was edited after it was applied") != NULL, "%s", e);
    ck_assert_int_eq(migrate_apply(db, "mig", v1, &applied, &e), -1);
    ck_assert_msg(strstr(e, "which this build does not know") != NULL, "%s", e);
    /* a failing migration leaves nothing behind */
    ck_assert_int_eq(migrate_apply(db, "mig", broken, &applied, &e), -1);
    ck_assert_msg(strstr(e, "migration mig 003_third failed") != NULL, "%s", e);
    ck_assert_int_eq(testdb_int(db, "SELECT count(*) FROM pg_tables WHERE tablename = 'mig_u'"), 0);
    ck_assert_int_eq(testdb_int(db, "SELECT max(version) FROM schema_migrations WHERE component = 'mig'"), 2);
    int cur = 0, latest = 0;
    ck_assert_int_eq(migrate_versions(db, "mig", v2, &cur, &latest, &e), 0);
    ck_assert_int_eq(cur, 2);
    ck_assert_int_eq(latest, 2);
}
END_TEST

START_TEST(audit_log_is_append_only)
{
    const char *e = NULL;
    testdb_exec(db, "INSERT INTO audit_log (actor, action) VALUES ('test', 'x.y')");
    ck_assert_int_eq(db_command(db, "UPDATE audit_log SET action = 'forged'", &e), -1);
    ck_assert_msg(strstr(e, "append-only") != NULL, "%s", e);
    ck_assert_int_eq(db_command(db, "DELETE FROM audit_log", &e), -1);
    ck_assert_int_eq(db_command(db, "TRUNCATE audit_log", &e), -1);
    ck_assert_int_ge(testdb_int(db, "SELECT count(*) FROM audit_log WHERE action = 'x.y'"), 1);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("queue_pg");
    TCase *tc = tcase_create("queue");
    tcase_set_timeout(tc, 120);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, claim_order_and_complete);
    tcase_add_test(tc, batch_limit_and_delay);
    tcase_add_test(tc, unique_key_is_idempotent);
    tcase_add_test(tc, enqueue_joins_callers_transaction);
    tcase_add_test(tc, bad_enqueues_are_refused);
    tcase_add_test(tc, retry_backoff_then_dead_then_requeue);
    tcase_add_test(tc, permanent_failure_goes_dead);
    tcase_add_test(tc, finish_is_guarded_by_owner);
    tcase_add_test(tc, expired_lease_is_rescued);
    tcase_add_test(tc, expired_lease_out_of_attempts_goes_dead);
    tcase_add_test(tc, extend_and_release);
    tcase_add_test(tc, concurrency_key_serialises);
    tcase_add_test(tc, one_notify_per_transaction);
    tcase_add_test(tc, quiet_hooks_do_not_wake_workers);
    tcase_add_test(tc, claim_plan_uses_partial_index);
    tcase_add_test(tc, prune_archive_in_batches);
    tcase_add_test(tc, two_processes_never_share_a_job);
    tcase_add_test(tc, killed_worker_job_reruns_after_lease);
    tcase_add_test(tc, events_fan_out_to_hooks);
    tcase_add_test(tc, migrations_rerun_as_noop_and_edits_refused);
    tcase_add_test(tc, audit_log_is_append_only);
    suite_add_tcase(s, tc);
    return testdb_run_suite(s);
}
