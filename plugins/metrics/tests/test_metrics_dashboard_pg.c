/* test_metrics_dashboard_pg -- the metrics plugin's SQL for real: its .so
 * against the fake host in database mode, on the test's private
 * PostgreSQL with the core schema (atumctl migrate), seeded with tickets
 * whose every time is known.  The dashboard's numbers, the database
 * gauges of /metrics and the hourly snapshots are compared with figures
 * computed by hand (in the comments), with the clock fixed through the
 * fake host. */
#include "fakehost.h"

#include <check.h>
#include <jansson.h>
#include <libpq-fe.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* 2026-03-10 12:00:00 UTC */
#define NOW 1773144000.0
#define N "to_timestamp(1773144000)"

static struct fakehost *fh;
static PGconn *pg;

static void exec_sql(const char *sql)
{
    PGresult *r = PQexec(pg, sql);
    ck_assert_msg(PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK,
                  "%s: %s", sql, PQresultErrorMessage(r));
    PQclear(r);
}

static long long count(const char *sql)
{
    PGresult *r = PQexec(pg, sql);
    ck_assert_int_eq(PQresultStatus(r), PGRES_TUPLES_OK);
    long long n = atoll(PQgetvalue(r, 0, 0));
    PQclear(r);
    return n;
}

/* The core schema, applied as operators do. */
static void migrate_core(void)
{
    char conf[1024], cmd[3072];
    snprintf(conf, sizeof(conf), "%s/metrics-test.conf", getenv("ATUM_TEST_TMP"));
    FILE *f = fopen(conf, "w");
    ck_assert_ptr_nonnull(f);
    fprintf(f, "[core]\ndatabase_url = %s\n", getenv("ATUM_TEST_DATABASE_URL"));
    fclose(f);
    snprintf(cmd, sizeof(cmd), "'%s/atumctl' -c '%s' migrate >/dev/null", getenv("ATUM_BUILDDIR"), conf);
    ck_assert_int_eq(system(cmd), 0);
}

/* Every time relative to NOW (12:00 UTC on 2026-03-10):
 *  #  queue    status   prio    created    first messages                 solved/closed
 *  1  support  open     high    -10 h      in; out +10 min                -
 *  2  support  solved   normal  -20 h      in; out +30 min                solved +2 h
 *  3  billing  pending  urgent  -2 d       in; note +1 min; out +1 h      -
 *  4  billing  new      normal  -3 d       in; out at NOW+1 h (future)    -
 *  5  support  closed   normal  -5 d       out (staff opened it)          closed +1 d
 *  6  support  solved   low     -40 d      in; out +2 min                 solved -35 d
 *  7  support  closed   normal  -1 h       in (merged into #1)            closed
 *  8  billing  solved   low     -1 d       in; out +5 min                 solved +10 min
 * #1 is assigned to agent1 and #5 too; the others are unassigned. */
static void seed(void)
{
    exec_sql("INSERT INTO queues (id, name, address) OVERRIDING SYSTEM VALUE VALUES"
             " (1, 'support', 'support@example.com'), (2, 'billing', 'billing@example.com')");
    exec_sql("INSERT INTO users (id, email, name, role) OVERRIDING SYSTEM VALUE VALUES"
             " (1, 'c@example.org', 'Customer', 'customer'),"
             " (2, 'agent1@example.com', 'Agent One', 'agent')");
    exec_sql("INSERT INTO tickets (id, queue_id, subject, status, priority, requester_id, assignee_id,"
             "                     created_at, solved_at, closed_at, merged_into)"
             " OVERRIDING SYSTEM VALUE VALUES"
             " (1, 1, 'one', 'open', 'high', 1, 2, " N " - interval '10 hours', NULL, NULL, NULL),"
             " (2, 1, 'two', 'solved', 'normal', 1, NULL, " N " - interval '20 hours',"
             "     " N " - interval '18 hours', NULL, NULL),"
             " (3, 2, 'three', 'pending', 'urgent', 1, NULL, " N " - interval '2 days', NULL, NULL, NULL),"
             " (4, 2, 'four', 'new', 'normal', 1, NULL, " N " - interval '3 days', NULL, NULL, NULL),"
             " (5, 1, 'five', 'closed', 'normal', 1, 2, " N " - interval '5 days', NULL,"
             "     " N " - interval '4 days', NULL),"
             " (6, 1, 'six', 'solved', 'low', 1, NULL, " N " - interval '40 days',"
             "     " N " - interval '35 days', NULL, NULL),"
             " (7, 1, 'seven', 'closed', 'normal', 1, NULL, " N " - interval '1 hour', NULL,"
             "     " N " - interval '30 minutes', 1),"
             " (8, 2, 'eight', 'solved', 'low', 1, NULL, " N " - interval '1 day',"
             "     " N " - interval '1 day' + interval '10 minutes', NULL, NULL)");
    exec_sql("INSERT INTO messages (ticket_id, direction, visibility, created_at)"
             " SELECT t.id, m.dir, m.vis, t.created_at + m.after"
             "   FROM (VALUES (1, 'in', 'public', interval '0'), (1, 'out', 'public', interval '10 minutes'),"
             "                (2, 'in', 'public', interval '0'), (2, 'out', 'public', interval '30 minutes'),"
             "                (3, 'in', 'public', interval '0'), (3, 'out', 'internal', interval '1 minute'),"
             "                (3, 'out', 'public', interval '1 hour'),"
             "                (4, 'in', 'public', interval '0'), (4, 'out', 'public', interval '3 days 1 hour'),"
             "                (5, 'out', 'public', interval '0'),"
             "                (6, 'in', 'public', interval '0'), (6, 'out', 'public', interval '2 minutes'),"
             "                (7, 'in', 'public', interval '0'),"
             "                (8, 'in', 'public', interval '0'), (8, 'out', 'public', interval '5 minutes'))"
             "        AS m(id, dir, vis, after)"
             "   JOIN tickets t ON t.id = m.id");
}

static void load(const char *timezone, const char *keep_days)
{
    char path[1024];
    const char *why = NULL;
    snprintf(path, sizeof(path), "%s/plugins/metrics/.libs/metrics.so", getenv("ATUM_BUILDDIR"));
    fakehost_free(&fh);
    /* the fake host applies the plugin's migrations at every load */
    exec_sql("DROP TABLE IF EXISTS metrics_snapshots, metrics_open_tickets, metrics_refresh");
    fh = fakehost_new(getenv("ATUM_TEST_DATABASE_URL"));
    ck_assert_ptr_nonnull(fh);
    if (timezone)
        fakehost_conf_set(fh, "timezone", timezone);
    if (keep_days)
        fakehost_conf_set(fh, "snapshot_keep_days", keep_days);
    fakehost_set_now(fh, NOW);
    ck_assert_msg(fakehost_load(fh, path, &why) == 0, "%s", why);
    ck_assert_int_eq(fakehost_start_result(fh), 0);
}

static void setup(void)
{
    pg = PQconnectdb(getenv("ATUM_TEST_DATABASE_URL"));
    ck_assert_int_eq(PQstatus(pg), CONNECTION_OK);
    exec_sql("SET client_min_messages = warning");
    if (count("SELECT count(*) FROM pg_tables WHERE tablename = 'tickets'") == 0) {
        migrate_core();
        seed();
    }
}

static void teardown(void)
{
    fakehost_free(&fh);
    PQfinish(pg);
}

static json_t *get(const char *route, const char *query)
{
    struct fakehost_response r;
    ck_assert_int_eq(fakehost_route(fh, "GET", route, query, NULL, 1, ATUM_ROLE_MANAGER, &r), 0);
    ck_assert_msg(r.status == 200, "%s?%s: %d %s", route, query ? query : "", r.status, r.body);
    ck_assert_str_eq(r.content_type, "application/json");
    json_error_t je;
    json_t *v = json_loads(r.body, 0, &je);
    ck_assert_msg(v != NULL, "%s: %s", je.text, r.body);
    return v;
}

static json_t *at(json_t *v, const char *path)
{
    char copy[256];
    snprintf(copy, sizeof(copy), "%s", path);
    for (char *save = NULL, *k = strtok_r(copy, ".", &save); k; k = strtok_r(NULL, ".", &save))
        v = json_object_get(v, k);
    ck_assert_msg(v != NULL, "no %s", path);
    return v;
}

static long long int_at(json_t *v, const char *path)
{
    json_t *x = at(v, path);
    ck_assert_msg(json_is_integer(x), "%s is not an integer", path);
    return (long long)json_integer_value(x);
}

static double num_at(json_t *v, const char *path)
{
    json_t *x = at(v, path);
    ck_assert_msg(json_is_number(x), "%s is not a number", path);
    return json_number_value(x);
}

/* The entry of day (YYYY-MM-DD) in daily. */
static json_t *day(json_t *v, const char *date)
{
    size_t i;
    json_t *d;
    json_array_foreach(at(v, "daily"), i, d)
        if (strcmp(json_string_value(json_object_get(d, "date")), date) == 0)
            return d;
    ck_abort_msg("no day %s", date);
    return NULL;
}

START_TEST(dashboard_numbers)
{
    load(NULL, NULL);
    json_t *d = get("/dashboard", "days=30");
    ck_assert_str_eq(json_string_value(at(d, "generated_at")), "2026-03-10T12:00:00Z");
    ck_assert_int_eq(int_at(d, "window_days"), 30);

    /* open: #1 (open, high, support, agent1), #3 (pending, urgent,
     * billing), #4 (new, normal, billing); #7 is merged */
    ck_assert_int_eq(int_at(d, "open.total"), 3);
    ck_assert_int_eq(int_at(d, "open.by_status.new"), 1);
    ck_assert_int_eq(int_at(d, "open.by_status.open"), 1);
    ck_assert_int_eq(int_at(d, "open.by_status.pending"), 1);
    ck_assert_int_eq(int_at(d, "open.by_priority.low"), 0);
    ck_assert_int_eq(int_at(d, "open.by_priority.normal"), 1);
    ck_assert_int_eq(int_at(d, "open.by_priority.high"), 1);
    ck_assert_int_eq(int_at(d, "open.by_priority.urgent"), 1);
    json_t *q = at(d, "open.by_queue");
    ck_assert_uint_eq(json_array_size(q), 2);
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(q, 0), "name")), "billing");
    ck_assert_int_eq(json_integer_value(json_object_get(json_array_get(q, 0), "count")), 2);
    ck_assert_int_eq(json_integer_value(json_object_get(json_array_get(q, 1), "count")), 1);
    json_t *a = at(d, "open.by_assignee");
    ck_assert_uint_eq(json_array_size(a), 2);
    ck_assert(json_is_null(json_object_get(json_array_get(a, 0), "assignee_id")));
    ck_assert_int_eq(json_integer_value(json_object_get(json_array_get(a, 0), "count")), 2);
    ck_assert_int_eq(json_integer_value(json_object_get(json_array_get(a, 1), "assignee_id")), 2);
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(a, 1), "name")), "Agent One");

    /* first response, tickets a customer opened in the last 30 days:
     * #1 600 s, #2 1800 s, #3 3600 s (the note does not count), #8 300 s,
     * #4 none yet (its answer is after NOW); #5 staff-opened, #6 too old,
     * #7 merged.  Sorted 300, 600, 1800, 3600: median (600 + 1800) / 2 =
     * 1200; p90 at rank 0.9 * 3 = 2.7: 1800 + 0.7 * 1800 = 3060 */
    ck_assert_int_eq(int_at(d, "first_response.tickets"), 5);
    ck_assert_int_eq(int_at(d, "first_response.responded"), 4);
    ck_assert(fabs(num_at(d, "first_response.median_seconds") - 1200) < 1e-6);
    ck_assert(fabs(num_at(d, "first_response.p90_seconds") - 3060) < 1e-6);

    /* resolution, solved or closed in the window: #8 600 s, #2 7200 s, #5
     * 86400 s (closed without solved); #6 was solved 35 days ago.  Median
     * 7200; p90 at rank 1.8: 7200 + 0.8 * 79200 = 70560 */
    ck_assert_int_eq(int_at(d, "resolution.tickets"), 3);
    ck_assert(fabs(num_at(d, "resolution.median_seconds") - 7200) < 1e-6);
    ck_assert(fabs(num_at(d, "resolution.p90_seconds") - 70560) < 1e-6);

    /* no sla plugin; the portal's ratings table is there but empty */
    ck_assert(json_is_false(at(d, "sla.available")));
    ck_assert(json_is_null(at(d, "sla.compliance_percent")));
    ck_assert(json_is_true(at(d, "csat.available")));
    ck_assert(json_is_null(at(d, "csat.average")));
    ck_assert_int_eq(int_at(d, "csat.count"), 0);

    /* 90 days in UTC, oldest first */
    json_t *days = at(d, "daily");
    ck_assert_uint_eq(json_array_size(days), 90);
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(days, 0), "date")), "2025-12-11");
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(days, 89), "date")), "2026-03-10");
    ck_assert_int_eq(int_at(day(d, "2026-03-10"), "created"), 1);   /* #1 (#7 merged) */
    ck_assert_int_eq(int_at(day(d, "2026-03-10"), "solved"), 0);
    ck_assert_int_eq(int_at(day(d, "2026-03-09"), "created"), 2);   /* #2 16:00, #8 12:00 */
    ck_assert_int_eq(int_at(day(d, "2026-03-09"), "solved"), 2);    /* #2 18:00, #8 12:10 */
    ck_assert_int_eq(int_at(day(d, "2026-03-06"), "solved"), 1);    /* #5 closed */
    ck_assert_int_eq(int_at(day(d, "2026-02-03"), "solved"), 1);    /* #6 */
    ck_assert_int_eq(int_at(day(d, "2026-01-29"), "created"), 1);   /* #6 */
    long long created = 0, solved = 0;
    size_t i;
    json_t *x;
    json_array_foreach(days, i, x) {
        created += json_integer_value(json_object_get(x, "created"));
        solved += json_integer_value(json_object_get(x, "solved"));
    }
    ck_assert_int_eq(created, 7);
    ck_assert_int_eq(solved, 4);
    json_decref(d);

    /* a shorter window: only #1, #2, #8 were opened in the last day and a
     * half ... #2 and #8 were solved in it */
    d = get("/dashboard", "days=1");
    ck_assert_int_eq(int_at(d, "first_response.tickets"), 2);       /* #1, #2 (#8 is 24 h old: out) */
    ck_assert_int_eq(int_at(d, "resolution.tickets"), 2);           /* #2, #8 (+10 min) */
    json_decref(d);
}
END_TEST

START_TEST(dashboard_of_one_queue)
{
    load(NULL, NULL);
    json_t *d = get("/dashboard", "queue_id=2");
    ck_assert_int_eq(int_at(d, "queue_id"), 2);
    ck_assert_int_eq(int_at(d, "open.total"), 2);                   /* #3, #4 */
    ck_assert_int_eq(int_at(d, "open.by_status.open"), 0);
    ck_assert_uint_eq(json_array_size(at(d, "open.by_queue")), 1);
    ck_assert_int_eq(int_at(d, "first_response.tickets"), 3);       /* #3, #4, #8 */
    ck_assert(fabs(num_at(d, "first_response.median_seconds") - 1950) < 1e-6);   /* (300 + 3600) / 2 */
    ck_assert_int_eq(int_at(d, "resolution.tickets"), 1);           /* #8 */
    json_decref(d);
}
END_TEST

START_TEST(dashboard_days_in_a_time_zone)
{
    /* Tokyo is UTC+9: NOW is 21:00 there; #2, opened 16:00 UTC the day
     * before, is 01:00 on the 10th, and solved 03:00 on the 10th */
    load("Asia/Tokyo", NULL);
    json_t *d = get("/dashboard", NULL);
    ck_assert_str_eq(json_string_value(at(d, "timezone")), "Asia/Tokyo");
    ck_assert_int_eq(int_at(d, "window_days"), 30);
    ck_assert_int_eq(int_at(day(d, "2026-03-10"), "created"), 2);   /* #1, #2 */
    ck_assert_int_eq(int_at(day(d, "2026-03-10"), "solved"), 1);    /* #2 */
    ck_assert_int_eq(int_at(day(d, "2026-03-09"), "created"), 1);   /* #8 at 21:00 */
    ck_assert_int_eq(int_at(day(d, "2026-03-09"), "solved"), 1);    /* #8 at 21:10 */
    json_decref(d);
}
END_TEST

START_TEST(sla_and_csat_when_their_tables_exist)
{
    exec_sql("CREATE TABLE sla_outcomes (ticket_id bigint, met boolean, decided_at timestamptz)");
    exec_sql("INSERT INTO sla_outcomes VALUES (1, true, " N " - interval '1 hour'),"
             " (2, true, " N " - interval '19 hours'), (3, false, " N " - interval '1 day'),"
             " (8, true, " N " - interval '23 hours'), (4, NULL, " N " - interval '1 hour'),"
             " (6, false, " N " - interval '36 days')");
    /* the portal's table (core migration 022): ratings of 1 to 5 */
    exec_sql("INSERT INTO csat_ratings (ticket_id, score, via, created_at)"
             " VALUES (2, 5, 'link', " N " - interval '10 hours'),"
             " (8, 4, 'portal', " N " - interval '20 hours'), (5, 2, 'link', " N " - interval '3 days'),"
             " (6, 1, 'link', " N " - interval '35 days')");
    load(NULL, NULL);
    json_t *d = get("/dashboard", NULL);
    /* decided in the window: 3 met, 1 missed (#4 still running, #6 too old) */
    ck_assert(json_is_true(at(d, "sla.available")));
    ck_assert_int_eq(int_at(d, "sla.met"), 3);
    ck_assert_int_eq(int_at(d, "sla.missed"), 1);
    ck_assert(fabs(num_at(d, "sla.compliance_percent") - 75.0) < 1e-9);
    /* (5 + 4 + 2) / 3 = 3.67 */
    ck_assert(json_is_true(at(d, "csat.available")));
    ck_assert(fabs(num_at(d, "csat.average") - 3.67) < 1e-9);
    ck_assert_int_eq(int_at(d, "csat.count"), 3);
    json_decref(d);
    d = get("/dashboard", "queue_id=2");
    ck_assert(fabs(num_at(d, "sla.compliance_percent") - 50.0) < 1e-9);   /* #3 missed, #8 met */
    ck_assert(fabs(num_at(d, "csat.average") - 4.0) < 1e-9);              /* #8 */
    json_decref(d);
    exec_sql("DROP TABLE sla_outcomes");
    exec_sql("DELETE FROM csat_ratings");
}
END_TEST

START_TEST(database_gauges)
{
    exec_sql("DELETE FROM jobs");
    exec_sql("INSERT INTO jobs (kind, state, run_at) VALUES"
             " ('mail.ingest', 'available', now() - interval '30 seconds'),"
             " ('mail.ingest', 'available', now() - interval '5 seconds'),"
             " ('mail.ingest', 'available', now() + interval '1 hour'),"
             " ('mail.send', 'dead', now()), ('mail.send', 'running', now())");
    load(NULL, NULL);
    struct fakehost_response r;
    /* before the first refresh: no ticket gauges, rather than zeros */
    ck_assert_int_eq(fakehost_route(fh, "GET", "/metrics", NULL, NULL, 0, ATUM_ROLE_NONE, &r), 0);
    ck_assert_int_eq(r.status, 200);
    ck_assert_ptr_null(strstr(r.body, "atum_tickets_open"));
    struct fakehost_job_result res;
    ck_assert_int_eq(fakehost_run_job(fh, "metrics.refresh", "{}", 1, &res), 0);
    ck_assert_msg(res.status == ATUM_JOB_DONE, "%s", res.error);
    ck_assert_int_eq(count("SELECT sum(n) FROM metrics_open_tickets"), 3);
    ck_assert_int_eq(fakehost_route(fh, "GET", "/metrics", NULL, NULL, 0, ATUM_ROLE_NONE, &r), 0);
    ck_assert_int_eq(r.status, 200);
    ck_assert_ptr_nonnull(strstr(r.body, "atum_queue_jobs{kind=\"mail.ingest\",state=\"available\"} 2\n"));
    ck_assert_ptr_nonnull(strstr(r.body, "atum_queue_jobs{kind=\"mail.ingest\",state=\"scheduled\"} 1\n"));
    ck_assert_ptr_nonnull(strstr(r.body, "atum_queue_jobs{kind=\"mail.send\",state=\"dead\"} 1\n"));
    ck_assert_ptr_nonnull(strstr(r.body, "atum_queue_jobs{kind=\"mail.send\",state=\"running\"} 1\n"));
    const char *old = strstr(r.body, "atum_queue_oldest_available_seconds{kind=\"mail.ingest\"} ");
    ck_assert_ptr_nonnull(old);
    double age = strtod(old + strlen("atum_queue_oldest_available_seconds{kind=\"mail.ingest\"} "), NULL);
    ck_assert_msg(age >= 30 && age < 600, "age %f", age);
    ck_assert_ptr_nonnull(strstr(r.body, "atum_tickets_open{status=\"open\",priority=\"high\",queue=\"support\"} 1\n"));
    ck_assert_ptr_nonnull(strstr(r.body, "atum_tickets_open{status=\"pending\",priority=\"urgent\",queue=\"billing\"} 1\n"));
    ck_assert_ptr_nonnull(strstr(r.body, "atum_tickets_open_age_seconds "));
    ck_assert_ptr_nonnull(strstr(r.body, "atum_outbox_pending 0\n"));
    ck_assert_ptr_nonnull(strstr(r.body, "atum_database_up 1\n"));

    /* a change shows at the next refresh, not before */
    exec_sql("UPDATE tickets SET status = 'open' WHERE id = 4");
    ck_assert_int_eq(fakehost_route(fh, "GET", "/metrics", NULL, NULL, 0, ATUM_ROLE_NONE, &r), 0);
    ck_assert_ptr_nonnull(strstr(r.body, "atum_tickets_open{status=\"new\",priority=\"normal\",queue=\"billing\"} 1\n"));
    ck_assert_int_eq(fakehost_run_job(fh, "metrics.refresh", "{}", 1, &res), 0);
    ck_assert_int_eq(fakehost_route(fh, "GET", "/metrics", NULL, NULL, 0, ATUM_ROLE_NONE, &r), 0);
    ck_assert_ptr_null(strstr(r.body, "atum_tickets_open{status=\"new\""));
    ck_assert_ptr_nonnull(strstr(r.body, "atum_tickets_open{status=\"open\",priority=\"normal\",queue=\"billing\"} 1\n"));
    exec_sql("UPDATE tickets SET status = 'new' WHERE id = 4");
    exec_sql("DELETE FROM jobs");
}
END_TEST

START_TEST(hourly_snapshots)
{
    load(NULL, "1");
    struct fakehost_job_result res;
    /* 03:00:05 UTC: the 03:00 boundary; #1 was opened at 02:00 */
    fakehost_set_now(fh, NOW - 9 * 3600 + 5);
    ck_assert_int_eq(fakehost_run_job(fh, "metrics.snapshot", "{}", 1, &res), 0);
    ck_assert_msg(res.status == ATUM_JOB_DONE, "%s", res.error);
    ck_assert(res.completed_in_tx);
    /* 12:00:05: nothing opened in the hour before (#7 is merged) */
    fakehost_set_now(fh, NOW + 5);
    ck_assert_int_eq(fakehost_run_job(fh, "metrics.snapshot", "{}", 1, &res), 0);
    ck_assert_int_eq(res.status, ATUM_JOB_DONE);
    /* the same hour again (a retry, another node): still one row */
    ck_assert_int_eq(fakehost_run_job(fh, "metrics.snapshot", "{}", 2, &res), 0);
    ck_assert_int_eq(res.status, ATUM_JOB_DONE);
    ck_assert_int_eq(count("SELECT count(*) FROM metrics_snapshots"), 2);
    /* each run scheduled its next hour (13:00 was already scheduled by
     * start() at load, at NOW: one job per key) */
    bool at4 = false, at13 = false;
    for (size_t i = 0; i < fakehost_nenqueued(fh); i++) {
        const char *key = fakehost_enqueued_at(fh, i)->unique_key;
        at4 = at4 || strcmp(key, "metrics.snapshot:1773115200") == 0;    /* 04:00 */
        at13 = at13 || strcmp(key, "metrics.snapshot:1773147600") == 0;  /* 13:00 */
    }
    ck_assert(at4 && at13);
    size_t snapshots = 0;
    for (size_t i = 0; i < fakehost_nenqueued(fh); i++)
        snapshots += strcmp(fakehost_enqueued_at(fh, i)->kind, "metrics.snapshot") == 0;
    ck_assert_uint_eq(snapshots, 2);

    fakehost_set_now(fh, NOW + 10);
    json_t *h = get("/history", "hours=24");
    json_t *snaps = at(h, "snapshots");
    ck_assert_uint_eq(json_array_size(snaps), 2);
    json_t *first = json_array_get(snaps, 0), *second = json_array_get(snaps, 1);
    ck_assert_int_eq(int_at(first, "data.open.total"), 3);
    ck_assert_int_eq(int_at(first, "data.created"), 1);
    ck_assert_int_eq(int_at(second, "data.created"), 0);
    ck_assert_int_eq(int_at(second, "data.solved"), 0);
    ck_assert_int_eq(int_at(second, "data.open.by_status.pending"), 1);
    ck_assert_str_eq(json_string_value(at(first, "hour")), "2026-03-10T03:00:00Z");
    json_decref(h);
    h = get("/history", "hours=5");
    ck_assert_uint_eq(json_array_size(at(h, "snapshots")), 1);
    json_decref(h);

    /* two days later with snapshot_keep_days = 1: both are pruned */
    fakehost_set_now(fh, NOW + 2 * 86400 + 5);
    ck_assert_int_eq(fakehost_run_job(fh, "metrics.snapshot", "{}", 1, &res), 0);
    ck_assert_int_eq(res.status, ATUM_JOB_DONE);
    ck_assert_int_eq(count("SELECT count(*) FROM metrics_snapshots"), 1);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("metrics_dashboard");
    TCase *tc = tcase_create("dashboard");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, dashboard_numbers);
    tcase_add_test(tc, dashboard_of_one_queue);
    tcase_add_test(tc, dashboard_days_in_a_time_zone);
    tcase_add_test(tc, sla_and_csat_when_their_tables_exist);
    tcase_add_test(tc, database_gauges);
    tcase_add_test(tc, hourly_snapshots);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
