/* test_testplug -- the test plugin (tests/plugins/testplug.c) unit-tested
 * through the fake host (tests/lib/fakehost.h), without atumd or a
 * database: its real .so is loaded, its job, hook and routes run, and what
 * it asked of the host is checked. */
#include "config.h"
#include "lib/fakehost.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct fakehost *fh;

static void load(const char *greeting)
{
    char path[1024];
    const char *why = NULL;
    snprintf(path, sizeof(path), "%s/testplug.so", getenv("ATUM_TEST_PLUGIN_DIR"));
    fh = fakehost_new(NULL);
    ck_assert_ptr_nonnull(fh);
    if (greeting)
        fakehost_conf_set(fh, "greeting", greeting);
    ck_assert_msg(fakehost_load(fh, path, &why) == 0, "%s", why);
}

static void teardown(void)
{
    fakehost_free(&fh);
}

START_TEST(init_reads_config_and_defaults)
{
    load(NULL);
    ck_assert_ptr_nonnull(fakehost_log_find(fh, "testplug ready, greeting=hello"));
    struct fakehost_response r;
    ck_assert_int_eq(fakehost_route(fh, "GET", "/hello", NULL, NULL, 0, ATUM_ROLE_NONE, &r), 0);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(r.body, "{\"greeting\":\"hello\"}");
    fakehost_free(&fh);
    load("ahoy");
    ck_assert_int_eq(fakehost_route(fh, "GET", "/hello", NULL, NULL, 0, ATUM_ROLE_NONE, &r), 0);
    ck_assert_str_eq(r.body, "{\"greeting\":\"ahoy\"}");
}
END_TEST

START_TEST(unknown_config_key_refused)
{
    char path[1024];
    const char *why = NULL;
    snprintf(path, sizeof(path), "%s/testplug.so", getenv("ATUM_TEST_PLUGIN_DIR"));
    fh = fakehost_new(NULL);
    fakehost_conf_set(fh, "greting", "typo");
    ck_assert_int_eq(fakehost_load(fh, path, &why), -1);
    ck_assert_ptr_nonnull(strstr(why, "unknown key 'greting'"));
}
END_TEST

START_TEST(job_records_its_run)
{
    load(NULL);
    struct fakehost_job_result res;
    ck_assert_int_eq(fakehost_run_job(fh, "testplug.work", "{}", 1, &res), 0);
    ck_assert_int_eq(res.status, ATUM_JOB_DONE);
    const struct fakehost_sql *s = fakehost_sql_find(fh, "INSERT INTO testplug_runs");
    ck_assert_ptr_nonnull(s);
    ck_assert_int_eq(s->nparams, 3);
    ck_assert_str_eq(s->params[1], "1");      /* the attempt */
    ck_assert(fakehost_metric(fh, "testplug_work_total", NULL) == 1);
    ck_assert_int_eq(fakehost_run_job(fh, "no.such.kind", "{}", 1, &res), -1);
}
END_TEST

START_TEST(planned_failures)
{
    load(NULL);
    struct fakehost_job_result res;
    ck_assert_int_eq(fakehost_run_job(fh, "testplug.work", "{\"fail_times\": 2}", 1, &res), 0);
    ck_assert_int_eq(res.status, ATUM_JOB_RETRY);
    ck_assert_str_eq(res.error, "planned failure on attempt 1");
    ck_assert(res.retry_in > 0.04 && res.retry_in < 0.06);
    ck_assert_int_eq(fakehost_run_job(fh, "testplug.work", "{\"fail_times\": 2}", 3, &res), 0);
    ck_assert_int_eq(res.status, ATUM_JOB_DONE);
    ck_assert_int_eq(fakehost_run_job(fh, "testplug.work", "{\"permanent\": true}", 1, &res), 0);
    ck_assert_int_eq(res.status, ATUM_JOB_PERMANENT);
    ck_assert_str_eq(res.error, "planned permanent failure");
}
END_TEST

START_TEST(enqueue_emit_in_one_transaction)
{
    load(NULL);
    struct fakehost_job_result res;
    ck_assert_int_eq(fakehost_run_job(fh, "testplug.work",
                                      "{\"in_tx\": true, \"spawn\": true, \"emit\": true}", 1, &res), 0);
    ck_assert_int_eq(res.status, ATUM_JOB_DONE);
    ck_assert(res.completed_in_tx);
    ck_assert_uint_eq(fakehost_nenqueued(fh), 1);
    ck_assert_str_eq(fakehost_enqueued_at(fh, 0)->kind, "testplug.work");
    ck_assert_ptr_nonnull(strstr(fakehost_enqueued_at(fh, 0)->payload, "spawned_by"));
    ck_assert_uint_eq(fakehost_nevents(fh), 1);
    ck_assert_str_eq(fakehost_event_at(fh, 0)->event, "ticket.created");
    ck_assert(fakehost_sql_find(fh, "INSERT INTO testplug_runs")->in_tx);
    int b, c, r;
    fakehost_tx_counts(fh, &b, &c, &r);
    ck_assert_int_eq(b, 1);
    ck_assert_int_eq(c, 1);
    ck_assert_int_eq(r, 0);
    /* a failing statement rolls the transaction back */
    fakehost_clear(fh);
    fakehost_sql_fail(fh, "INSERT INTO testplug_runs", "disk full");
    ck_assert_int_eq(fakehost_run_job(fh, "testplug.work", "{\"in_tx\": true}", 1, &res), 0);
    ck_assert_int_eq(res.status, ATUM_JOB_RETRY);
    ck_assert_str_eq(res.error, "disk full");
    fakehost_tx_counts(fh, &b, &c, &r);
    ck_assert_int_eq(r, 1);
    ck_assert_int_eq(c, 0);
}
END_TEST

START_TEST(http_answered_from_the_table)
{
    load(NULL);
    struct fakehost_job_result res;
    fakehost_http_answer(fh, "POST", "http://llm.test/", 200, "{\"ok\":1}", NULL);
    fakehost_http_answer(fh, NULL, "http://down.test/", 0, NULL, "connection refused");
    ck_assert_int_eq(fakehost_run_job(fh, "testplug.work",
                                      "{\"fetch\": \"http://llm.test/v1\", \"post\": \"hi\"}", 1, &res), 0);
    ck_assert_int_eq(res.status, ATUM_JOB_DONE);
    ck_assert_uint_eq(fakehost_nhttp(fh), 1);
    ck_assert_str_eq(fakehost_http_at(fh, 0)->method, "POST");
    ck_assert_str_eq(fakehost_http_at(fh, 0)->body, "hi");
    const struct fakehost_sql *s = fakehost_sql_find(fh, "'status'");
    ck_assert_ptr_nonnull(s);
    ck_assert_str_eq(s->params[1], "200");
    ck_assert_str_eq(s->params[2], "{\"ok\":1}");
    ck_assert_int_eq(fakehost_run_job(fh, "testplug.work", "{\"fetch\": \"http://down.test/x\"}", 1, &res), 0);
    s = fakehost_sql_find(fh, "'error'");
    ck_assert_ptr_nonnull(s);
    ck_assert_str_eq(s->params[1], "connection refused");
}
END_TEST

START_TEST(hook_and_routes)
{
    load(NULL);
    struct fakehost_job_result res;
    ck_assert_int_eq(fakehost_run_hook(fh, "ticket.created", "{\"ticket_id\": 7}", &res), 0);
    ck_assert_int_eq(res.status, ATUM_JOB_DONE);
    const struct fakehost_sql *s = fakehost_sql_find(fh, "INSERT INTO testplug_events");
    ck_assert_ptr_nonnull(s);
    ck_assert_ptr_nonnull(strstr(s->params[0], "\"ticket_id\": 7"));
    ck_assert_int_eq(fakehost_run_hook(fh, "ticket.updated", "{}", &res), -1);

    const char *cells[] = { "42" };
    fakehost_sql_answer(fh, "FROM testplug_events", 1, 1, cells);
    struct fakehost_response r;
    ck_assert_int_eq(fakehost_route(fh, "GET", "/events", NULL, NULL, 0, ATUM_ROLE_NONE, &r), 0);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(r.body, "{\"events\":42}");
    ck_assert_int_eq(fakehost_route(fh, "POST", "/echo", NULL, "ping", 0, ATUM_ROLE_NONE, &r), 0);
    ck_assert_str_eq(r.body, "ping");
    ck_assert_int_eq(fakehost_route(fh, "GET", "/nope", NULL, NULL, 0, ATUM_ROLE_NONE, &r), -1);
}
END_TEST

START_TEST(ticket_update_and_view)
{
    load(NULL);
    struct fakehost_job_result res;
    ck_assert_int_eq(fakehost_run_job(fh, "testplug.work",
                                      "{\"in_tx\": true, \"ticket\": 12, \"priority\": \"high\", \"note\": \"why\"}",
                                      1, &res), 0);
    ck_assert_int_eq(res.status, ATUM_JOB_DONE);
    ck_assert_uint_eq(fakehost_nticket_changes(fh), 1);
    const struct fakehost_ticket_change *c = fakehost_ticket_change_at(fh, 0);
    ck_assert_int_eq(c->ticket_id, 12);
    ck_assert_str_eq(c->priority, "high");
    ck_assert_str_eq(c->note, "why");
    ck_assert_ptr_null(c->status);
    /* outside a transaction the host refuses, as atumd does */
    ck_assert_int_eq(fakehost_run_job(fh, "testplug.work", "{\"ticket\": 12, \"priority\": \"low\"}", 1, &res), 0);
    ck_assert_int_eq(res.status, ATUM_JOB_RETRY);
    ck_assert_ptr_nonnull(strstr(res.error, "open transaction"));
    /* the view carries the host's clock, which the test controls */
    fakehost_set_now(fh, 1800000000.0);
    fakehost_advance(fh, 60);
    struct fakehost_response r;
    ck_assert_int_eq(fakehost_ticket_view(fh, 12, &r), 0);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(r.body, "{\"seen\": 12, \"at\": 1800000060}");
}
END_TEST

int main(void)
{
    Suite *s = suite_create("testplug");
    TCase *tc = tcase_create("testplug");
    tcase_add_checked_fixture(tc, NULL, teardown);
    tcase_add_test(tc, init_reads_config_and_defaults);
    tcase_add_test(tc, unknown_config_key_refused);
    tcase_add_test(tc, job_records_its_run);
    tcase_add_test(tc, planned_failures);
    tcase_add_test(tc, enqueue_emit_in_one_transaction);
    tcase_add_test(tc, http_answered_from_the_table);
    tcase_add_test(tc, hook_and_routes);
    tcase_add_test(tc, ticket_update_and_view);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
