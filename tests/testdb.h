/*
 * tests/testdb.h -- helpers for integration tests against the private
 * PostgreSQL that tests/run-test starts (ATUM_TEST_DATABASE_URL).
 */
#ifndef ATUM_TESTDB_H
#define ATUM_TESTDB_H

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/db.h"
#include "core/migrate.h"

static inline const char *testdb_url(void)
{
    const char *u = getenv("ATUM_TEST_DATABASE_URL");
    if (u == NULL) {
        fprintf(stderr, "ATUM_TEST_DATABASE_URL is not set: run through tests/run-test\n");
        exit(99);
    }
    return u;
}

static inline struct db_params testdb_params(const char *app)
{
    struct db_params p = { testdb_url(), app, 5000, 60000, 2000 };
    return p;
}

/* A connected, migrated connection; the caller frees it. */
static inline struct db_conn *testdb_connect(void)
{
    struct db_params p = testdb_params("test");
    struct db_conn *c = db_conn_new(&p);
    const char *e = NULL;
    ck_assert_msg(db_conn_connect(c, &e) == 0, "%s", e);
    ck_assert_msg(migrate_apply(c, "core", core_migrations, NULL, &e) == 0, "%s", e);
    return c;
}

static inline void testdb_exec(struct db_conn *c, const char *sql)
{
    const char *e = NULL;
    ck_assert_msg(db_command(c, sql, &e) == 0, "%s: %s", sql, e);
}

static inline long long testdb_int(struct db_conn *c, const char *sql)
{
    const char *e = NULL;
    char *v = db_query_value(c, sql, 0, NULL, &e);
    ck_assert_msg(v != NULL, "%s: %s", sql, e ? e : "no row");
    long long n = atoll(v);
    free(v);
    return n;
}

static inline char *testdb_str(struct db_conn *c, const char *sql)
{
    const char *e = NULL;
    char *v = db_query_value(c, sql, 0, NULL, &e);
    ck_assert_msg(v != NULL, "%s: %s", sql, e ? e : "no row");
    return v;
}

static inline int testdb_run_suite(Suite *s)
{
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}

#endif
