/* test_queue_sql -- the queue's pure parts: parameters it builds, backoff,
 * spec validation, job kind registry and migration lists. */
#include "config.h"
#include "core/jobkind.h"
#include "core/migrate.h"
#include "core/jobs.h"
#include "lib/strbuf.h"

#include <check.h>
#include <string.h>

START_TEST(ids_literal)
{
    struct strbuf b = STRBUF_INIT;
    long long ids[] = { 1, 22, 9000000000LL };
    jobs_ids_literal(&b, ids, 3);
    ck_assert_str_eq(b.s, "{1,22,9000000000}");
    strbuf_reset(&b);
    jobs_ids_literal(&b, ids, 0);
    ck_assert_str_eq(b.s, "{}");
    strbuf_free(&b);
}
END_TEST

START_TEST(backoff_grows_and_caps)
{
    /* attempt^4 seconds, +/-10 % */
    ck_assert_int_ge(jobs_backoff_ms(1, 3600000, 0.0), 900);
    ck_assert_int_le(jobs_backoff_ms(1, 3600000, 0.999), 1100);
    ck_assert_int_ge(jobs_backoff_ms(3, 3600000, 0.5), 81000 - 1);
    ck_assert_int_le(jobs_backoff_ms(3, 3600000, 0.5), 81000 + 1);
    long long prev = 0;
    for (int a = 1; a <= 8; a++) {
        long long d = jobs_backoff_ms(a, 1LL << 40, 0.5);
        ck_assert_int_gt(d, prev);
        prev = d;
    }
    /* capped, still jittered below the cap */
    for (int a = 10; a < 1000; a += 97) {
        long long d = jobs_backoff_ms(a, 60000, 0.999);
        ck_assert_int_le(d, 60000);
        ck_assert_int_ge(d, 54000);
    }
    ck_assert_int_ge(jobs_backoff_ms(0, 60000, 0), 1);
}
END_TEST

START_TEST(kind_names)
{
    ck_assert(jobs_kind_valid("mail.ingest"));
    ck_assert(jobs_kind_valid("hook.triage.ticket.created"));
    ck_assert(jobs_kind_valid("a"));
    ck_assert(!jobs_kind_valid(""));
    ck_assert(!jobs_kind_valid(NULL));
    ck_assert(!jobs_kind_valid("Mail.ingest"));
    ck_assert(!jobs_kind_valid(".x"));
    ck_assert(!jobs_kind_valid("x y"));
    ck_assert(!jobs_kind_valid("x'; DROP TABLE jobs;--"));
    char longk[80];
    memset(longk, 'a', sizeof(longk) - 1);
    longk[sizeof(longk) - 1] = '\0';
    ck_assert(!jobs_kind_valid(longk));
}
END_TEST

START_TEST(spec_checks)
{
    const char *e = NULL;
    struct atum_job_spec s = { .kind = "core.noop" };
    ck_assert_int_eq(jobs_spec_check(&s, &e), 0);
    s.priority = -1;
    ck_assert_int_eq(jobs_spec_check(&s, &e), -1);
    ck_assert_ptr_nonnull(strstr(e, "priority"));
    s.priority = 0;
    s.delay_seconds = -3;
    ck_assert_int_eq(jobs_spec_check(&s, &e), -1);
    s.delay_seconds = 0;
    s.unique_key = "";
    ck_assert_int_eq(jobs_spec_check(&s, &e), -1);
    s.unique_key = NULL;
    s.max_attempts = 5000;
    ck_assert_int_eq(jobs_spec_check(&s, &e), -1);
    s.max_attempts = 0;
    s.kind = "NOPE";
    ck_assert_int_eq(jobs_spec_check(&s, &e), -1);
    ck_assert_ptr_nonnull(strstr(e, "invalid job kind 'NOPE'"));
}
END_TEST

static int noop(void *st, struct atum_job *j)
{
    (void)st;
    (void)j;
    return 0;
}

START_TEST(registry)
{
    struct jobkind_registry r = { NULL, 0 };
    const char *e = NULL;
    ck_assert_int_eq(jobkind_register(&r, "core.noop", "core", noop, NULL, 3, 0, &e), 0);
    ck_assert_int_eq(jobkind_register(&r, "core.noop", "triage", noop, NULL, 0, 0, &e), -1);
    ck_assert_ptr_nonnull(strstr(e, "already registered by core"));
    ck_assert_int_eq(jobkind_register(&r, "x.y", "p", NULL, NULL, 0, 0, &e), -1);
    ck_assert_int_eq(jobkind_register_hook(&r, "triage", "ticket.created", noop, NULL, &e), 0);
    const struct jobkind *k = jobkind_find(&r, "hook.triage.ticket.created");
    ck_assert_ptr_nonnull(k);
    ck_assert_str_eq(k->event, "ticket.created");
    ck_assert_int_eq(jobkind_register_hook(&r, "triage", "Bad Event", noop, NULL, &e), -1);
    ck_assert_int_eq(jobkind_register_hook(&r, "triage", "noverb", noop, NULL, &e), -1);
    jobkind_remove_owner(&r, "triage");
    ck_assert_ptr_null(jobkind_find(&r, "hook.triage.ticket.created"));
    ck_assert_ptr_nonnull(jobkind_find(&r, "core.noop"));
    jobkind_registry_free(&r);
    ck_assert_int_eq(r.n, 0);
}
END_TEST

START_TEST(migration_lists)
{
    const char *e = NULL;
    ck_assert_int_eq(migrate_check_list("core", core_migrations, &e), 0);
    ck_assert_int_eq(core_migrations[0].version, 1);
    ck_assert_str_eq(core_migrations[0].name, "core");
    ck_assert_ptr_nonnull(strstr(core_migrations[0].sql, "CREATE TABLE jobs"));
    const struct atum_migration bad[] = {
        { 2, "b", "SELECT 1" }, { 1, "a", "SELECT 1" }, { 0, NULL, NULL }
    };
    ck_assert_int_eq(migrate_check_list("x", bad, &e), -1);
    ck_assert_ptr_nonnull(strstr(e, "out of order"));
    ck_assert_int_eq(migrate_check_list("x", NULL, &e), 0);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("queue_sql");
    TCase *tc = tcase_create("queue_sql");
    tcase_add_test(tc, ids_literal);
    tcase_add_test(tc, backoff_grows_and_caps);
    tcase_add_test(tc, kind_names);
    tcase_add_test(tc, spec_checks);
    tcase_add_test(tc, registry);
    tcase_add_test(tc, migration_lists);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
