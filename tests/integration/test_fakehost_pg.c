/* test_fakehost_pg -- the fake host's database mode: a plugin's
 * migrations and SQL run against the test's private PostgreSQL, with real
 * transactions, no atumd. */
#include "config.h"
#include "lib/fakehost.h"

#include <check.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static long long count(const char *sql)
{
    PGconn *c = PQconnectdb(getenv("ATUM_TEST_DATABASE_URL"));
    PGresult *r = PQexec(c, sql);
    ck_assert_int_eq(PQresultStatus(r), PGRES_TUPLES_OK);
    long long n = atoll(PQgetvalue(r, 0, 0));
    PQclear(r);
    PQfinish(c);
    return n;
}

START_TEST(plugin_sql_runs_for_real)
{
    char path[1024];
    const char *why = NULL;
    snprintf(path, sizeof(path), "%s/testplug.so", getenv("ATUM_TEST_PLUGIN_DIR"));
    struct fakehost *fh = fakehost_new(getenv("ATUM_TEST_DATABASE_URL"));
    ck_assert_ptr_nonnull(fh);
    ck_assert_msg(fakehost_load(fh, path, &why) == 0, "%s", why);
    /* the migration made the tables */
    ck_assert_int_eq(count("SELECT count(*) FROM testplug_runs"), 0);
    struct fakehost_job_result res;
    ck_assert_int_eq(fakehost_run_job(fh, "testplug.work", "{}", 1, &res), 0);
    ck_assert_int_eq(res.status, ATUM_JOB_DONE);
    ck_assert_int_eq(fakehost_run_job(fh, "testplug.work", "{\"in_tx\": true}", 1, &res), 0);
    ck_assert(res.completed_in_tx);
    ck_assert_int_eq(count("SELECT count(*) FROM testplug_runs"), 2);
    ck_assert_int_eq(fakehost_run_hook(fh, "ticket.created", "{\"ticket_id\": 3}", &res), 0);
    struct fakehost_response r;
    ck_assert_int_eq(fakehost_route(fh, "GET", "/events", NULL, NULL, 0, ATUM_ROLE_NONE, &r), 0);
    ck_assert_str_eq(r.body, "{\"events\":1}");
    /* a statement the database refuses fails the job with its message */
    fakehost_clear(fh);
    ck_assert_int_eq(fakehost_run_job(fh, "testplug.work", "{\"fetch\": \"http://nowhere.test/\"}", 1, &res), 0);
    ck_assert_int_eq(res.status, ATUM_JOB_DONE);   /* the transport error is recorded in its table */
    ck_assert_int_eq(count("SELECT count(*) FROM testplug_events WHERE event = 'http'"
                           " AND payload->>'error' LIKE 'fake host: no answer%'"), 1);
    fakehost_free(&fh);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("fakehost");
    TCase *tc = tcase_create("fakehost");
    tcase_add_test(tc, plugin_sql_runs_for_real);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
