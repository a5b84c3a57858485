/* test_sla_plugin -- the sla plugin's real .so through the fake host with
 * recorded SQL: what it refuses at start, bad and irrelevant events, a
 * database that fails under a hook, a tick or a view -- each a clear
 * result, nothing half done, never a crash. */
#include "config.h"
#include "fakehost.h"

#include <check.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static struct fakehost *fh;

static const char *plugin_path(void)
{
    static char path[1024];
    snprintf(path, sizeof(path), "%s/plugins/sla/.libs/sla.so", getenv("ATUM_BUILDDIR"));
    return path;
}

static void load(const char *key, const char *value)
{
    const char *why = NULL;
    fh = fakehost_new(NULL);
    if (key)
        fakehost_conf_set(fh, key, value);
    ck_assert_msg(fakehost_load(fh, plugin_path(), &why) == 0, "%s", why);
}

static void teardown(void)
{
    fakehost_free(&fh);
}

START_TEST(refused_at_start_with_a_reason)
{
    const char *why = NULL;
    fh = fakehost_new(NULL);
    fakehost_conf_set(fh, "tick_bach", "5");
    ck_assert_int_eq(fakehost_load(fh, plugin_path(), &why), -1);
    ck_assert_ptr_nonnull(strstr(why, "unknown key 'tick_bach'"));
    fakehost_free(&fh);

    fh = fakehost_new(NULL);
    fakehost_conf_set(fh, "tick_batch", "0");
    ck_assert_int_eq(fakehost_load(fh, plugin_path(), &why), -1);
    ck_assert_ptr_nonnull(fakehost_log_find(fh, "[plugin.sla] tick_batch must be a whole number 1..100000"));
    fakehost_free(&fh);

    fh = fakehost_new(NULL);
    fakehost_conf_set(fh, "history_days", "a month");
    ck_assert_int_eq(fakehost_load(fh, plugin_path(), &why), -1);
    ck_assert_ptr_nonnull(fakehost_log_find(fh, "history_days must be a whole number"));
    fakehost_free(&fh);

    fh = fakehost_new(NULL);
    fakehost_conf_set(fh, "zoneinfo_dir", "/nonexistent/zoneinfo");
    ck_assert_int_eq(fakehost_load(fh, plugin_path(), &why), -1);
    ck_assert_ptr_nonnull(fakehost_log_find(fh, "zoneinfo_dir /nonexistent/zoneinfo: UTC: unknown time zone (install tzdata)"));
}
END_TEST

START_TEST(bad_events_fail_for_good_and_touch_nothing)
{
    load(NULL, NULL);
    struct fakehost_job_result r;
    const char *bad[] = { "[]", "{\"ticket_id\": \"7\"}", "{\"ticket_id\": -1}", "{}", "null" };
    const char *events[] = { "message.created", "ticket.updated" };
    for (size_t e = 0; e < 2; e++)
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
            ck_assert_int_eq(fakehost_run_hook(fh, events[e], bad[i], &r), 0);
            ck_assert_int_eq(r.status, ATUM_JOB_PERMANENT);
            ck_assert_ptr_nonnull(strstr(r.error, "not an event with a ticket_id"));
        }
    ck_assert_uint_eq(fakehost_nsql(fh), 0);
    /* its hooks wake no idle worker: the moment comes from the payload */
    ck_assert(fakehost_hook_flags(fh) & ATUM_HOOKS_QUIET);
    /* ticket.created is not needed: the opening message starts the clocks */
    ck_assert_int_eq(fakehost_run_hook(fh, "ticket.created", "{\"ticket_id\": 7}", &r), -1);
}
END_TEST

START_TEST(events_no_clock_cares_about)
{
    load(NULL, NULL);
    struct fakehost_job_result r;
    const char *quiet[][2] = {
        { "message.created", "{\"ticket_id\": 7, \"direction\": \"out\", \"visibility\": \"internal\"}" },
        { "message.created", "{\"ticket_id\": 7, \"direction\": \"in\", \"visibility\": \"public\", \"robot\": \"autoreply\"}" },
        { "ticket.updated", "{\"ticket_id\": 7, \"changes\": {\"assignee_id\": {\"from\": null, \"to\": 3}}}" },
        { "ticket.updated", "{\"ticket_id\": 7, \"changes\": {\"subject\": {\"from\": \"a\", \"to\": \"b\"}}}" },
    };
    for (size_t i = 0; i < sizeof(quiet) / sizeof(quiet[0]); i++) {
        ck_assert_int_eq(fakehost_run_hook(fh, quiet[i][0], quiet[i][1], &r), 0);
        ck_assert_int_eq(r.status, ATUM_JOB_DONE);
    }
    ck_assert_uint_eq(fakehost_nsql(fh), 0);
}
END_TEST

/* the database fails in the middle of a hook: the job is retried with
 * the reason, its transaction rolled back, nothing half recorded */
START_TEST(database_failure_under_a_hook)
{
    load(NULL, NULL);
    /* start() asked for one backfill (a unique job: reloads make one) */
    ck_assert_uint_eq(fakehost_nenqueued(fh), 1);
    ck_assert_str_eq(fakehost_enqueued_at(fh, 0)->kind, "sla.backfill");
    ck_assert_str_eq(fakehost_enqueued_at(fh, 0)->unique_key, "sla.backfill");
    ck_assert_int_eq(fakehost_start_result(fh), 0);
    fakehost_clear(fh);
    fakehost_sql_fail(fh, "WITH lk AS (INSERT INTO sla_tickets", "server closed the connection unexpectedly");
    struct fakehost_job_result r;
    ck_assert_int_eq(fakehost_run_hook(fh, "message.created", "{\"ticket_id\": 7, \"direction\": \"in\","
                                       " \"new_ticket\": true}", &r), 0);
    ck_assert_int_eq(r.status, ATUM_JOB_RETRY);
    ck_assert_str_eq(r.error, "ticket 7: server closed the connection unexpectedly");
    ck_assert(!r.completed_in_tx);
    int b, c, rb;
    fakehost_tx_counts(fh, &b, &c, &rb);
    ck_assert_int_eq(b, 1);
    ck_assert_int_eq(c, 0);
    ck_assert_int_eq(rb, 1);
    ck_assert_uint_eq(fakehost_nenqueued(fh), 0);
    /* the statement carried the event's moment and its fields as parameters */
    const struct fakehost_sql *s = fakehost_sql_find(fh, "WITH lk AS (INSERT INTO sla_tickets");
    ck_assert_str_eq(s->params[0], "7");
    ck_assert_str_eq(s->params[2], "start");
    ck_assert_ptr_null(s->params[5]);          /* the priority: the ticket's own */
    ck_assert(s->in_tx);
}
END_TEST

/* a ticket whose escalation cannot be computed is put back a minute
 * later with its reason; the tick itself succeeds */
START_TEST(a_failing_ticket_does_not_stop_the_tick)
{
    load("tick_batch", "1");
    fakehost_set_now(fh, 1717400000.0);
    const char *due[] = { "42", "5", "1717399990000", "1", "3" };
    fakehost_sql_answer(fh, "FOR UPDATE SKIP LOCKED", 5, 1, due);
    fakehost_sql_fail(fh, "FROM sla_ledger WHERE ticket_id = $1 ORDER BY", "relation \"sla_ledger\" is locked");
    struct fakehost_job_result r;
    ck_assert_int_eq(fakehost_run_job(fh, "sla.tick", "{}", 1, &r), 0);
    ck_assert_int_eq(r.status, ATUM_JOB_DONE);
    const struct fakehost_sql *s = fakehost_sql_find(fh, "SET next_due = ");
    ck_assert_ptr_nonnull(s);
    ck_assert_str_eq(s->params[0], "42");
    ck_assert_str_eq(s->params[1], "1717400060000");
    ck_assert_str_eq(s->params[2], "relation \"sla_ledger\" is locked");
    ck_assert(!s->in_tx);
    ck_assert_ptr_nonnull(fakehost_log_find(fh, "ticket 42: escalation failed, retried in a minute"));
    /* the tick then hands over to the earliest moment left (which covers
     * the minute-later retry), under the schedule's lock */
    ck_assert_ptr_nonnull(fakehost_sql_find(fh, "pg_advisory_xact_lock(hashtext('atum.sla.schedule'))"));
    ck_assert_ptr_nonnull(fakehost_sql_find(fh, "SELECT (extract(epoch FROM min(next_due))"));
    ck_assert_uint_eq(fakehost_nmail(fh), 0);
    ck_assert_uint_eq(fakehost_nevents(fh), 0);
    /* and when the database itself is gone, the tick is retried */
    fakehost_free(&fh);
    load(NULL, NULL);
    fakehost_sql_fail(fh, "SELECT ticket_id, ledger_last", "could not connect to server");
    ck_assert_int_eq(fakehost_run_job(fh, "sla.tick", "{}", 1, &r), 0);
    ck_assert_int_eq(r.status, ATUM_JOB_RETRY);
    ck_assert_str_eq(r.error, "tick: could not connect to server");
}
END_TEST

START_TEST(routes_refuse_before_touching_anything)
{
    load(NULL, NULL);
    struct fakehost_response r;
    ck_assert_int_eq(fakehost_route(fh, "POST", "/calendars", NULL, "{\"name\": \"x\", \"time_zone\": \"UTC\","
                                    " \"hours\": {\"mon\": [\"09:00-12:00\", \"11:00-13:00\"]}}",
                                    1, ATUM_ROLE_ADMIN, &r), 0);
    ck_assert_int_eq(r.status, 422);
    ck_assert_str_eq(r.content_type, "application/problem+json");
    ck_assert_ptr_nonnull(strstr(r.body, "hours.mon[1]: intervals of one day overlap"));
    ck_assert_int_eq(fakehost_route(fh, "POST", "/policies", NULL, "[1, 2]", 1, ATUM_ROLE_ADMIN, &r), 0);
    ck_assert_int_eq(r.status, 400);
    ck_assert_int_eq(fakehost_route(fh, "POST", "/policies", NULL, "{\"name\": \"p\", \"name\": \"q\"}", 1,
                                    ATUM_ROLE_ADMIN, &r), 0);
    ck_assert_int_eq(r.status, 400);                           /* duplicate keys are not guessed at */
    ck_assert_int_eq(fakehost_route(fh, "POST", "/policies", NULL, NULL, 1, ATUM_ROLE_ADMIN, &r), 0);
    ck_assert_int_eq(r.status, 400);
    ck_assert_int_eq(fakehost_route(fh, "GET", "/calendar/hours", "id=1&from=yesterday", NULL, 1,
                                    ATUM_ROLE_AGENT, &r), 0);
    ck_assert_int_eq(r.status, 400);
    ck_assert_int_eq(fakehost_route(fh, "GET", "/calendar/hours", "id=1&from=2024-01-01&days=400", NULL, 1,
                                    ATUM_ROLE_AGENT, &r), 0);
    ck_assert_int_eq(r.status, 400);
    int b, c, rb;
    fakehost_tx_counts(fh, &b, &c, &rb);
    ck_assert_int_eq(b, 0);
    /* a failing database answers 500 with a problem, and the log says why */
    fakehost_sql_fail(fh, "FROM sla_policies ORDER BY position", "out of shared memory");
    ck_assert_int_eq(fakehost_route(fh, "GET", "/policies", NULL, NULL, 1, ATUM_ROLE_AGENT, &r), 0);
    ck_assert_int_eq(r.status, 500);
    ck_assert_ptr_nonnull(fakehost_log_find(fh, "out of shared memory"));
    /* the view too: the host leaves the plugin out of the ticket's answer */
    fakehost_sql_fail(fh, "FROM sla_ledger WHERE ticket_id", "canceling statement due to statement timeout");
    ck_assert_int_eq(fakehost_ticket_view(fh, 9, &r), 0);
    ck_assert_int_eq(r.status, 500);
    ck_assert_ptr_nonnull(fakehost_log_find(fh, "ticket 9 view: canceling statement"));
}
END_TEST

/* the routes and the OpenAPI document (src/web/openapi.json) agree:
 * every route documented with its method and role, nothing documented
 * that the plugin does not answer */
START_TEST(routes_are_in_the_openapi_document)
{
    load(NULL, NULL);
    char path[1024];
    snprintf(path, sizeof(path), "%s/src/web/openapi.json", getenv("ATUM_SRCDIR"));
    json_error_t je;
    json_t *doc = json_load_file(path, 0, &je);
    ck_assert_msg(doc != NULL, "%s: %s", path, je.text);
    json_t *paths = json_object_get(doc, "paths");
    int routes = 0, documented = 0;
    for (const struct atum_route *r = fakehost_plugin(fh)->routes; r->path; r++, routes++) {
        char full[256], method[16];
        snprintf(full, sizeof(full), "/api/v1/plugins/sla%s", r->path);
        snprintf(method, sizeof(method), "%s", r->method);
        for (char *m = method; *m; m++)
            *m = (char)(*m - 'A' + 'a');
        json_t *op = json_object_get(json_object_get(paths, full), method);
        ck_assert_msg(op != NULL, "%s %s is not documented", r->method, full);
        const char *desc = json_string_value(json_object_get(op, "description"));
        ck_assert_msg(strstr(desc, r->min_role == ATUM_ROLE_ADMIN ? "Roles: admin." : "Roles: staff.") != NULL,
                      "%s %s: the roles documented are not the route's", r->method, full);
    }
    const char *key;
    json_t *item;
    json_object_foreach(paths, key, item) {
        if (strncmp(key, "/api/v1/plugins/sla/", 20) != 0)
            continue;
        const char *method;
        json_t *op;
        json_object_foreach(item, method, op) {
            bool found = false;
            for (const struct atum_route *r = fakehost_plugin(fh)->routes; r->path && !found; r++)
                found = strcmp(key + 19, r->path) == 0 && strcasecmp(method, r->method) == 0;
            ck_assert_msg(found, "%s %s is documented but not a route", method, key);
            documented++;
        }
    }
    ck_assert_int_eq(documented, routes);
    json_decref(doc);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("sla_plugin");
    TCase *tc = tcase_create("sla_plugin");
    tcase_add_checked_fixture(tc, NULL, teardown);
    tcase_add_test(tc, refused_at_start_with_a_reason);
    tcase_add_test(tc, bad_events_fail_for_good_and_touch_nothing);
    tcase_add_test(tc, events_no_clock_cares_about);
    tcase_add_test(tc, database_failure_under_a_hook);
    tcase_add_test(tc, a_failing_ticket_does_not_stop_the_tick);
    tcase_add_test(tc, routes_refuse_before_touching_anything);
    tcase_add_test(tc, routes_are_in_the_openapi_document);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
