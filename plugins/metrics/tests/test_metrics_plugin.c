/* test_metrics_plugin -- the metrics plugin's real .so against the fake host
 * (tests/lib/fakehost.h), SQL recorded and answered from tables: who may
 * scrape, what a scrape contains, what happens when the database fails,
 * the configuration it refuses, the snapshot's scheduling; and its pure
 * modules (the allow-list, /proc parsing, the escapes). */
#include "fakehost.h"
#include "addr.h"
#include "buf.h"
#include "procstat.h"

#include <check.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct fakehost *fh;

static const char *plugin_path(void)
{
    static char path[1024];
    snprintf(path, sizeof(path), "%s/plugins/metrics/.libs/metrics.so", getenv("ATUM_BUILDDIR"));
    return path;
}

/* conf: "key", "value", ..., NULL */
static int load_with(const char **why, ...)
{
    va_list ap;
    fh = fakehost_new(NULL);
    ck_assert_ptr_nonnull(fh);
    va_start(ap, why);
    for (const char *k; (k = va_arg(ap, const char *)) != NULL;)
        fakehost_conf_set(fh, k, va_arg(ap, const char *));
    va_end(ap);
    return fakehost_load(fh, plugin_path(), why);
}

static void load(void)
{
    const char *why = NULL;
    ck_assert_msg(load_with(&why, NULL) == 0, "%s", why);
}

static void teardown(void)
{
    fakehost_free(&fh);
}

/* The recorded answers of the three gauge statements. */
static void answer_gauges(void)
{
    const char *jobs[] = { "mail.ingest", "2", "1", "1", "0", "12.5",
                           "mail.send", "0", "3", "0", "1", "0" };
    fakehost_sql_answer(fh, "FROM jobs GROUP BY kind", 6, 2, jobs);
    const char *tickets[] = { "new", "high", "support \"1st\" line", "4",
                              "open", "low", "billing", "1" };
    fakehost_sql_answer(fh, "FROM metrics_open_tickets", 4, 2, tickets);
    const char *age[] = { "3.25" };
    fakehost_sql_answer(fh, "FROM metrics_refresh", 1, 1, age);
    const char *outbox[] = { "7" };
    fakehost_sql_answer(fh, "FROM outbound_mail", 1, 1, outbox);
}

static struct fakehost_response scrape(const char *addr, long long user, enum atum_role role)
{
    struct fakehost_response r;
    fakehost_set_client_addr(fh, addr);
    ck_assert_int_eq(fakehost_route(fh, "GET", "/metrics", NULL, NULL, user, role, &r), 0);
    return r;
}

START_TEST(scrape_from_loopback_has_everything)
{
    load();
    answer_gauges();
    /* what the core would have counted */
    fakehost_table()->counter_add("atum_jobs_total", "kind=\"mail.ingest\",outcome=\"done\"", 3);
    struct fakehost_response r = scrape("127.0.0.1", 0, ATUM_ROLE_NONE);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(r.content_type, "text/plain; version=0.0.4; charset=utf-8");
    /* the host's registry, passed through */
    ck_assert_ptr_nonnull(strstr(r.body, "atum_jobs_total{kind=\"mail.ingest\",outcome=\"done\"} 3\n"));
    /* the database gauges, labels escaped */
    ck_assert_ptr_nonnull(strstr(r.body, "# TYPE atum_queue_jobs gauge\n"
                                         "atum_queue_jobs{kind=\"mail.ingest\",state=\"available\"} 2\n"
                                         "atum_queue_jobs{kind=\"mail.ingest\",state=\"scheduled\"} 1\n"
                                         "atum_queue_jobs{kind=\"mail.ingest\",state=\"running\"} 1\n"
                                         "atum_queue_jobs{kind=\"mail.ingest\",state=\"dead\"} 0\n"));
    ck_assert_ptr_nonnull(strstr(r.body, "atum_queue_oldest_available_seconds{kind=\"mail.ingest\"} 12.5\n"));
    ck_assert_ptr_nonnull(strstr(r.body, "atum_tickets_open{status=\"new\",priority=\"high\","
                                         "queue=\"support \\\"1st\\\" line\"} 4\n"));
    ck_assert_ptr_nonnull(strstr(r.body, "atum_tickets_open_age_seconds 3.25\n"));
    ck_assert_ptr_nonnull(strstr(r.body, "atum_outbox_pending 7\n"));
    ck_assert_ptr_nonnull(strstr(r.body, "atum_database_up 1\n"));
    /* the process, from /proc */
    ck_assert_ptr_nonnull(strstr(r.body, "# TYPE process_cpu_seconds_total counter\n"));
    ck_assert_ptr_nonnull(strstr(r.body, "process_resident_memory_bytes "));
    ck_assert_ptr_nonnull(strstr(r.body, "process_open_fds "));
    /* every family has its HELP line */
    int helps = 0, types = 0;
    for (const char *p = r.body; (p = strstr(p, "# HELP ")) != NULL; p++)
        helps++;
    for (const char *p = r.body; (p = strstr(p, "# TYPE ")) != NULL; p++)
        types++;
    ck_assert_int_eq(helps, types);
    /* the scrape counts itself */
    ck_assert(fakehost_metric(fh, "atum_metrics_scrapes_total", "result=\"ok\"") == 1);
    unsigned long long n = 0;
    double sum = 0;
    ck_assert_int_eq(fakehost_histogram(fh, "atum_metrics_scrape_seconds", NULL, &n, &sum), 1);
    ck_assert_uint_eq(n, 1);
    ck_assert_ptr_nonnull(fakehost_metric_help(fh, "atum_metrics_scrape_seconds"));
    /* the statements are plain reads without parameters */
    const struct fakehost_sql *s = fakehost_sql_find(fh, "FROM jobs GROUP BY kind");
    ck_assert_ptr_nonnull(s);
    ck_assert(!s->in_tx);
}
END_TEST

START_TEST(who_may_scrape)
{
    load();
    answer_gauges();
    /* not in scrape_allow and no credential: 401, a problem document */
    struct fakehost_response r = scrape("192.0.2.7", 0, ATUM_ROLE_NONE);
    ck_assert_int_eq(r.status, 401);
    ck_assert_str_eq(r.content_type, "application/problem+json");
    ck_assert_ptr_nonnull(strstr(r.body, "\"status\":401"));
    /* a customer's token: 403 */
    r = scrape("192.0.2.7", 12, ATUM_ROLE_CUSTOMER);
    ck_assert_int_eq(r.status, 403);
    /* an agent's token (scrape_role defaults to agent): 200 */
    r = scrape("192.0.2.7", 13, ATUM_ROLE_AGENT);
    ck_assert_int_eq(r.status, 200);
    /* ::1 and IPv4-mapped loopback are loopback */
    ck_assert_int_eq(scrape("::1", 0, ATUM_ROLE_NONE).status, 200);
    ck_assert_int_eq(scrape("::ffff:127.0.0.1", 0, ATUM_ROLE_NONE).status, 200);
    ck_assert_int_eq(scrape("", 0, ATUM_ROLE_NONE).status, 401);
    ck_assert(fakehost_metric(fh, "atum_metrics_scrapes_total", "result=\"refused\"") == 3);
    fakehost_free(&fh);

    const char *why = NULL;
    ck_assert_msg(load_with(&why, "scrape_allow", "none", "scrape_role", "admin", NULL) == 0, "%s", why);
    ck_assert_int_eq(scrape("127.0.0.1", 0, ATUM_ROLE_NONE).status, 401);
    ck_assert_int_eq(scrape("127.0.0.1", 5, ATUM_ROLE_MANAGER).status, 403);
    ck_assert_int_eq(scrape("127.0.0.1", 5, ATUM_ROLE_ADMIN).status, 200);
    fakehost_free(&fh);

    ck_assert_msg(load_with(&why, "scrape_allow", "10.0.0.0/8 2001:db8::/32", NULL) == 0, "%s", why);
    ck_assert_int_eq(scrape("10.200.3.4", 0, ATUM_ROLE_NONE).status, 200);
    ck_assert_int_eq(scrape("2001:db8:1::5", 0, ATUM_ROLE_NONE).status, 200);
    ck_assert_int_eq(scrape("127.0.0.1", 0, ATUM_ROLE_NONE).status, 401);
}
END_TEST

START_TEST(database_failure_still_answers)
{
    load();
    const char *age[] = { "1" };
    fakehost_sql_answer(fh, "FROM metrics_refresh", 1, 1, age);
    fakehost_sql_fail(fh, "FROM metrics_open_tickets", "canceling statement due to statement timeout");
    const char *jobs[] = { "core.noop", "1", "0", "0", "0", "0.5" };
    fakehost_sql_answer(fh, "FROM jobs GROUP BY kind", 6, 1, jobs);
    struct fakehost_response r = scrape("127.0.0.1", 0, ATUM_ROLE_NONE);
    ck_assert_int_eq(r.status, 200);
    ck_assert_ptr_nonnull(strstr(r.body, "atum_database_up 0\n"));
    ck_assert_ptr_nonnull(strstr(r.body, "atum_queue_jobs{kind=\"core.noop\",state=\"available\"} 1\n"));
    ck_assert_ptr_null(strstr(r.body, "atum_tickets_open"));
    ck_assert_ptr_nonnull(strstr(r.body, "process_cpu_seconds_total "));
    ck_assert(fakehost_metric(fh, "atum_metrics_scrapes_total", "result=\"database_error\"") == 1);
    ck_assert_ptr_nonnull(fakehost_log_find(fh, "statement timeout"));
}
END_TEST

START_TEST(database_gauges_off)
{
    const char *why = NULL;
    ck_assert_msg(load_with(&why, "database_gauges", "no", NULL) == 0, "%s", why);
    fakehost_clear(fh);
    struct fakehost_response r = scrape("127.0.0.1", 0, ATUM_ROLE_NONE);
    ck_assert_int_eq(r.status, 200);
    ck_assert_uint_eq(fakehost_nsql(fh), 0);
    ck_assert_ptr_null(strstr(r.body, "atum_database_up"));
}
END_TEST

START_TEST(bad_configuration_refused)
{
    static const char *const bad[][2] = {
        { "scrape_allow", "300.1.1.1" }, { "scrape_allow", "10.0.0.0/33" },
        { "scrape_allow", "::1/129" }, { "scrape_role", "boss" }, { "scrape_role", "customer" },
        { "database_gauges", "maybe" }, { "timezone", "Europe/Ber lin" }, { "timezone", "" },
        { "snapshot_keep_days", "0" }, { "snapshot_keep_days", "ten" },
        { "gauges_interval", "0" }, { "gauges_interval", "3601" },
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        const char *why = NULL;
        ck_assert_msg(load_with(&why, bad[i][0], bad[i][1], NULL) == -1, "%s = %s was accepted",
                      bad[i][0], bad[i][1]);
        ck_assert_ptr_nonnull(strstr(why, "init() failed"));
        ck_assert_ptr_nonnull(fakehost_log_find(fh, bad[i][0]));
        fakehost_free(&fh);
    }
}
END_TEST

START_TEST(start_schedules_the_next_hour_once)
{
    fh = fakehost_new(NULL);
    fakehost_set_now(fh, 1773144000.0 + 1234.5);   /* 2026-03-10 12:20:34.5 UTC */
    const char *why = NULL;
    ck_assert_msg(fakehost_load(fh, plugin_path(), &why) == 0, "%s", why);
    ck_assert_int_eq(fakehost_start_result(fh), 0);
    ck_assert_uint_eq(fakehost_nenqueued(fh), 2);
    const struct fakehost_enqueued *j = fakehost_enqueued_at(fh, 0);
    ck_assert_str_eq(j->kind, "metrics.snapshot");
    ck_assert_str_eq(j->unique_key, "metrics.snapshot:1773147600");
    ck_assert(j->delay_seconds > 2365.4 && j->delay_seconds < 2365.6);
    /* the gauges' refresh of the current 15 s: at once, ahead of other work */
    j = fakehost_enqueued_at(fh, 1);
    ck_assert_str_eq(j->kind, "metrics.refresh");
    ck_assert_str_eq(j->unique_key, "metrics.refresh:1773145230");
    ck_assert(j->delay_seconds == 0);
    ck_assert_int_eq(j->priority, 10);
    /* the time zone is checked at start */
    ck_assert_ptr_nonnull(fakehost_sql_find(fh, "AT TIME ZONE"));
    /* again (a reload, another node): the same keys, no more jobs */
    ck_assert_int_eq(fakehost_start(fh), 0);
    ck_assert_uint_eq(fakehost_nenqueued(fh), 2);
}
END_TEST

START_TEST(snapshot_job)
{
    load();
    fakehost_clear(fh);
    fakehost_set_now(fh, 1773144000.0 + 2.0);   /* just after 12:00 */
    const char *open[] = { "{\"total\": 3}" };
    fakehost_sql_answer(fh, "GROUPING SETS", 1, 1, open);
    const char *counts[] = { "{\"created\": 1, \"solved\": 0}" };
    fakehost_sql_answer(fh, "'jobs_available'", 1, 1, counts);
    struct fakehost_job_result res;
    ck_assert_int_eq(fakehost_run_job(fh, "metrics.snapshot", "{}", 1, &res), 0);
    ck_assert_int_eq(res.status, ATUM_JOB_DONE);
    ck_assert(res.completed_in_tx);
    /* the next hour first, outside the transaction */
    ck_assert_uint_eq(fakehost_nenqueued(fh), 1);
    ck_assert_str_eq(fakehost_enqueued_at(fh, 0)->unique_key, "metrics.snapshot:1773147600");
    const struct fakehost_sql *ins = fakehost_sql_find(fh, "INSERT INTO metrics_snapshots");
    ck_assert_ptr_nonnull(ins);
    ck_assert(ins->in_tx);
    ck_assert_str_eq(ins->params[0], "1773144000");
    ck_assert_str_eq(ins->params[1], "{\"open\":{\"total\": 3}}");
    ck_assert_str_eq(ins->params[2], "{\"created\": 1, \"solved\": 0}");
    const struct fakehost_sql *del = fakehost_sql_find(fh, "DELETE FROM metrics_snapshots");
    ck_assert_ptr_nonnull(del);
    ck_assert_str_eq(del->params[1], "400");

    /* a failing statement: retried, nothing committed, the chain kept */
    fakehost_clear(fh);
    fakehost_sql_fail(fh, "INSERT INTO metrics_snapshots", "disk full");
    ck_assert_int_eq(fakehost_run_job(fh, "metrics.snapshot", "{}", 1, &res), 0);
    ck_assert_int_eq(res.status, ATUM_JOB_RETRY);
    ck_assert_ptr_nonnull(strstr(res.error, "disk full"));
    int begun, committed, rolled;
    fakehost_tx_counts(fh, &begun, &committed, &rolled);
    ck_assert_int_eq(committed, 0);
    ck_assert_int_eq(rolled, 1);
}
END_TEST

START_TEST(refresh_job)
{
    const char *why = NULL;
    ck_assert_msg(load_with(&why, "gauges_interval", "60", NULL) == 0, "%s", why);
    fakehost_clear(fh);
    fakehost_set_now(fh, 1773144000.0 + 61);   /* 12:01:01 */
    struct fakehost_job_result res;
    ck_assert_int_eq(fakehost_run_job(fh, "metrics.refresh", "{}", 1, &res), 0);
    ck_assert_int_eq(res.status, ATUM_JOB_DONE);
    ck_assert(res.completed_in_tx);
    /* the next minute first */
    ck_assert_uint_eq(fakehost_nenqueued(fh), 1);
    ck_assert_str_eq(fakehost_enqueued_at(fh, 0)->unique_key, "metrics.refresh:1773144120");
    ck_assert(fakehost_enqueued_at(fh, 0)->delay_seconds == 59);
    /* then one transaction: clear, count, stamp */
    const struct fakehost_sql *clear = fakehost_sql_find(fh, "DELETE FROM metrics_open_tickets");
    const struct fakehost_sql *fill = fakehost_sql_find(fh, "INSERT INTO metrics_open_tickets");
    const struct fakehost_sql *stamp = fakehost_sql_find(fh, "INSERT INTO metrics_refresh");
    ck_assert(clear && fill && stamp && clear->in_tx && fill->in_tx && stamp->in_tx);
    ck_assert(clear < fill && fill < stamp);
    int begun, committed, rolled;
    fakehost_tx_counts(fh, &begun, &committed, &rolled);
    ck_assert_int_eq(committed, 1);
    /* a failure rolls back the whole set */
    fakehost_clear(fh);
    fakehost_sql_fail(fh, "INSERT INTO metrics_open_tickets", "deadlock detected");
    ck_assert_int_eq(fakehost_run_job(fh, "metrics.refresh", "{}", 1, &res), 0);
    ck_assert_int_eq(res.status, ATUM_JOB_RETRY);
    fakehost_tx_counts(fh, &begun, &committed, &rolled);
    ck_assert_int_eq(committed, 0);
    ck_assert_int_eq(rolled, 1);
}
END_TEST

START_TEST(routes_check_their_parameters)
{
    load();
    struct fakehost_response r;
    static const char *const bad[] = { "days=0", "days=366", "days=x", "days=", "queue_id=-1",
                                       "queue_id=0", "days=30&queue_id=1e3" };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ck_assert_int_eq(fakehost_route(fh, "GET", "/dashboard", bad[i], NULL, 1, ATUM_ROLE_MANAGER, &r), 0);
        ck_assert_msg(r.status == 400, "%s: %d", bad[i], r.status);
        ck_assert_str_eq(r.content_type, "application/problem+json");
    }
    ck_assert_int_eq(fakehost_route(fh, "GET", "/history", "hours=9601", NULL, 1, ATUM_ROLE_MANAGER, &r), 0);
    ck_assert_int_eq(r.status, 400);
    /* a failing statement is a 500 problem, logged */
    fakehost_sql_fail(fh, "GROUPING SETS", "boom");
    ck_assert_int_eq(fakehost_route(fh, "GET", "/dashboard", "days=7", NULL, 1, ATUM_ROLE_MANAGER, &r), 0);
    ck_assert_int_eq(r.status, 500);
    ck_assert_ptr_nonnull(fakehost_log_find(fh, "boom"));
}
END_TEST

/* ---- the pure modules ----------------------------------------------------- */

START_TEST(allow_list)
{
    struct addr_list l;
    char why[128];
    ck_assert_int_eq(addr_list_parse("127.0.0.0/8, ::1 ,192.168.1.0/24", &l, why, sizeof(why)), 0);
    ck_assert_uint_eq(l.n, 3);
    ck_assert(addr_list_match(&l, "127.1.2.3"));
    ck_assert(addr_list_match(&l, "::1"));
    ck_assert(addr_list_match(&l, "192.168.1.255"));
    ck_assert(!addr_list_match(&l, "192.168.2.1"));
    ck_assert(!addr_list_match(&l, "128.0.0.1"));
    ck_assert(!addr_list_match(&l, "::2"));
    ck_assert(!addr_list_match(&l, "localhost"));
    ck_assert(!addr_list_match(&l, NULL));
    addr_list_free(&l);
    ck_assert_int_eq(addr_list_parse("10.0.0.1/31", &l, why, sizeof(why)), 0);
    ck_assert(addr_list_match(&l, "10.0.0.0"));
    ck_assert(!addr_list_match(&l, "10.0.0.2"));
    addr_list_free(&l);
    /* an odd prefix length in the middle of a byte */
    ck_assert_int_eq(addr_list_parse("172.16.0.0/12", &l, why, sizeof(why)), 0);
    ck_assert(addr_list_match(&l, "172.31.255.1"));
    ck_assert(!addr_list_match(&l, "172.32.0.1"));
    addr_list_free(&l);
    ck_assert_int_eq(addr_list_parse("::ffff:10.0.0.0/104", &l, why, sizeof(why)), 0);
    ck_assert(addr_list_match(&l, "10.9.9.9"));
    addr_list_free(&l);
    ck_assert_int_eq(addr_list_parse("", &l, why, sizeof(why)), 0);
    ck_assert_uint_eq(l.n, 0);
    ck_assert(!addr_list_match(&l, "127.0.0.1"));
    ck_assert_int_eq(addr_list_parse("127.0.0.1/", &l, why, sizeof(why)), -1);
    ck_assert_int_eq(addr_list_parse("1.2.3.4, nope", &l, why, sizeof(why)), -1);
    ck_assert_ptr_nonnull(strstr(why, "'nope'"));
    ck_assert_uint_eq(l.n, 0);
}
END_TEST

START_TEST(proc_parsing)
{
    /* a comm with spaces and a ')' of its own */
    const char *stat = "4242 (atumd (x) y) S 1 4242 4242 0 -1 4194560 100 0 0 0 "
                       "250 150 0 0 20 0 7 0 1000 123456789 300 18446744073709551615";
    struct procstat ps;
    ck_assert_int_eq(procstat_parse_stat(stat, 100, 4096, 1700000000, &ps), 0);
    ck_assert(ps.cpu_seconds == 4.0);            /* (250 + 150) / 100 */
    ck_assert(ps.threads == 7);
    ck_assert(ps.start_time_seconds == 1700000010.0);
    ck_assert(ps.virtual_bytes == 123456789);
    ck_assert(ps.resident_bytes == 300.0 * 4096);
    ck_assert_int_eq(procstat_parse_stat("4242 (x) S 1 2", 100, 4096, 0, &ps), -1);
    ck_assert_int_eq(procstat_parse_stat("no parenthesis", 100, 4096, 0, &ps), -1);
    ck_assert(procstat_btime("cpu  1 2 3\nintr 5\nbtime 1700000000\nprocesses 9\n") == 1700000000);
    ck_assert(procstat_btime("cpu 1\n") < 0);
    /* and the live files of this process */
    char why[256];
    ck_assert_msg(procstat_read("/proc", &ps, why, sizeof(why)) == 0, "%s", why);
    ck_assert(ps.resident_bytes > 0 && ps.open_fds >= 3 && ps.threads >= 1 && ps.cpu_seconds >= 0);
    ck_assert_int_eq(procstat_read("/nonexistent", &ps, why, sizeof(why)), -1);
}
END_TEST

START_TEST(escapes)
{
    struct buf b = BUF_INIT;
    buf_add_label_value(&b, "a\"b\\c\nd");
    ck_assert_str_eq(b.s, "a\\\"b\\\\c\\nd");
    buf_free(&b);
    buf_add_json_string(&b, "q\"\\\x01\n");
    ck_assert_str_eq(b.s, "\"q\\\"\\\\\\u0001\\u000a\"");
    buf_free(&b);
    buf_add_json_string(&b, NULL);
    ck_assert_str_eq(b.s, "null");
    buf_free(&b);
    buf_add_number(&b, 0.1);
    buf_adds(&b, " ");
    buf_add_number(&b, 1e300 * 1e300);
    ck_assert_str_eq(b.s, "0.1 +Inf");
    buf_free(&b);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("metrics_plugin");
    TCase *tc = tcase_create("plugin");
    tcase_add_checked_fixture(tc, NULL, teardown);
    tcase_add_test(tc, scrape_from_loopback_has_everything);
    tcase_add_test(tc, who_may_scrape);
    tcase_add_test(tc, database_failure_still_answers);
    tcase_add_test(tc, database_gauges_off);
    tcase_add_test(tc, bad_configuration_refused);
    tcase_add_test(tc, start_schedules_the_next_hour_once);
    tcase_add_test(tc, snapshot_job);
    tcase_add_test(tc, refresh_job);
    tcase_add_test(tc, routes_check_their_parameters);
    suite_add_tcase(s, tc);
    TCase *pure = tcase_create("modules");
    tcase_add_test(pure, allow_list);
    tcase_add_test(pure, proc_parsing);
    tcase_add_test(pure, escapes);
    suite_add_tcase(s, pure);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
