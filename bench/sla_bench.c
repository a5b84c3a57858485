/*
 * bench/sla_bench.c -- the sla plugin's recompute after a calendar edit
 * (bench/run sla): the plugin's real .so through the fake host
 * (tests/lib/fakehost.h) on the bench's durable PostgreSQL, so the figure
 * is the plugin's own work -- its SQL and its engine -- without a worker
 * pool around it.
 *
 *   sla_bench DATABASE_URL PLUGIN_SO [TICKETS]
 *
 * Seeds TICKETS open tickets (default 100,000) with 3 to 6 ledger entries
 * each (start over the last 20 days, pauses and resumes, replies, customer
 * messages) under three business-time policies on one calendar with
 * holidays, brings them up to date once, then times PUT
 * /api/v1/plugins/sla/calendar (the edit) plus the sla.recompute job it
 * enqueues; then TICKETS / 5 tickets written while the plugin was off
 * (three messages and one or two status changes each), backfilled by
 * the sla.backfill job.  Also times two reference figures of the machine in the same
 * run: a fixed CPU loop and a fixed PostgreSQL write (100,000 rows).
 * Prints key=value pairs; the core schema must be migrated already.
 */
#include "config.h"
#include "lib/fakehost.h"

#include <libpq-fe.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

static PGconn *pg;

static double mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* this process's CPU seconds (the plugin's share of a phase) */
static double cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec
           + ru.ru_stime.tv_usec / 1e6;
}

static void exec_or_die(const char *sql)
{
    PGresult *r = PQexec(pg, sql);
    if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK) {
        fprintf(stderr, "sla_bench: %s\n%s", sql, PQresultErrorMessage(r));
        exit(1);
    }
    PQclear(r);
}

static long long count(const char *sql)
{
    PGresult *r = PQexec(pg, sql);
    long long n = PQresultStatus(r) == PGRES_TUPLES_OK ? atoll(PQgetvalue(r, 0, 0)) : -1;
    PQclear(r);
    return n;
}

static long long route(struct fakehost *fh, const char *method, const char *path, const char *query,
                       const char *body, int want)
{
    struct fakehost_response r;
    if (fakehost_route(fh, method, path, query, body, 1, ATUM_ROLE_ADMIN, &r) < 0 || r.status != want) {
        fprintf(stderr, "sla_bench: %s %s: %d %s\n", method, path, r.status, r.body ? r.body : "");
        exit(1);
    }
    const char *id = strstr(r.body, "\"id\":");
    return id ? atoll(id + 5) : 0;
}

static void recompute(struct fakehost *fh)
{
    struct fakehost_job_result res;
    if (fakehost_run_job(fh, "sla.recompute", "{}", 1, &res) < 0 || res.status != ATUM_JOB_DONE) {
        fprintf(stderr, "sla_bench: recompute: %s\n", res.error);
        exit(1);
    }
}

/* the CPU reference: a fixed amount of integer work */
static double ref_cpu(void)
{
    double t = mono();
    volatile uint64_t sink = 0;
    uint64_t x = 88172645463325252ULL;
    for (long i = 0; i < 400000000L; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        sink += x & 1;
    }
    (void)sink;
    return mono() - t;
}

/* the database reference: 100,000 rows of about the width of sla_tickets,
 * written and read back */
static double ref_db(void)
{
    double t = mono();
    exec_or_die("CREATE TEMP TABLE ref (id bigint PRIMARY KEY, a bigint, b timestamptz, c text, d boolean)");
    exec_or_die("INSERT INTO ref SELECT g, g * 7, now() + g * interval '1 s', 'running', g % 2 = 0"
                " FROM generate_series(1, 100000) g");
    exec_or_die("UPDATE ref SET a = a + 1, b = b + interval '1 h', c = 'paused'");
    exec_or_die("DROP TABLE ref");
    return mono() - t;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: sla_bench DATABASE_URL PLUGIN_SO [TICKETS]\n");
        return 2;
    }
    long n = argc > 3 ? atol(argv[3]) : 100000;
    pg = PQconnectdb(argv[1]);
    if (PQstatus(pg) != CONNECTION_OK) {
        fprintf(stderr, "sla_bench: %s", PQerrorMessage(pg));
        return 1;
    }
    exec_or_die("SET client_min_messages = warning");
    struct fakehost *fh = fakehost_new(argv[1]);
    const char *why = NULL;
    if (fh == NULL || fakehost_load(fh, argv[2], &why) < 0) {
        fprintf(stderr, "sla_bench: %s\n", why ? why : "no database");
        return 1;
    }
    exec_or_die("INSERT INTO queues (name, address) VALUES ('bench-a', 'a@bench.example'),"
                " ('bench-b', 'b@bench.example') ON CONFLICT DO NOTHING");
    const char *hours = "\"hours\": {\"mon\": [\"08:00-12:00\", \"13:00-17:00\"], \"tue\": [\"08:00-12:00\", \"13:00-17:00\"],"
                        " \"wed\": [\"08:00-12:00\", \"13:00-17:00\"], \"thu\": [\"08:00-12:00\", \"13:00-17:00\"],"
                        " \"fri\": [\"08:00-12:00\", \"13:00-15:00\"], \"sat\": [\"22:00-02:00\"]}";
    const char *holidays = "\"holidays\": [{\"month\": 1, \"day\": 1}, {\"month\": 5, \"day\": 1},"
                           " {\"month\": 12, \"day\": 24, \"days\": 3}, {\"month\": 5, \"weekday\": \"mon\", \"nth\": -1},"
                           " {\"month\": 10, \"day\": 3}, {\"date\": \"2026-11-30\", \"days\": 2}]";
    char body[2048];
    snprintf(body, sizeof(body), "{\"name\": \"bench\", \"time_zone\": \"Europe/Berlin\", %s, %s}", hours, holidays);
    long long cal = route(fh, "POST", "/calendars", NULL, body, 201);
    route(fh, "POST", "/policies", NULL,
          "{\"name\": \"urgent\", \"priorities\": [\"urgent\"], \"calendar\": \"bench\", \"targets\":"
          " {\"first_response\": {\"minutes\": 30}, \"next_response\": {\"hours\": 1}, \"resolution\": {\"hours\": 8}}}", 201);
    route(fh, "POST", "/policies", NULL,
          "{\"name\": \"a\", \"queues\": [\"bench-a\"], \"calendar\": \"bench\", \"targets\":"
          " {\"first_response\": {\"hours\": 4}, \"next_response\": {\"hours\": 8}, \"resolution\": {\"hours\": 40}}}", 201);
    route(fh, "POST", "/policies", NULL,
          "{\"name\": \"b\", \"calendar\": \"bench\", \"targets\": {\"first_response\": {\"hours\": 8},"
          " \"resolution\": {\"hours\": 80, \"time\": \"calendar\"}}}", 201);

    /* the tickets and their ledgers, in a few statements */
    double t = mono();
    char sql[4096];
    snprintf(sql, sizeof(sql),
        "WITH t AS (SELECT g AS id, now() - (g %% 28800) * interval '1 min' AS t0,"
        "                  (SELECT id FROM queues WHERE name = CASE WHEN g %% 3 = 0 THEN 'bench-b' ELSE 'bench-a' END) AS q,"
        "                  (ARRAY['low', 'normal', 'normal', 'high', 'urgent'])[1 + g %% 5] AS prio"
        "             FROM generate_series(1, %ld) g),"
        " l AS (SELECT id, t0, 'start' AS kind, 'new' AS status, q, prio FROM t"
        "       UNION ALL SELECT id, t0 + interval '1 h', 'change', 'pending', NULL, NULL FROM t WHERE id %% 10 < 3"
        "       UNION ALL SELECT id, t0 + interval '5 h', 'change', 'open', NULL, NULL FROM t WHERE id %% 10 < 2"
        "       UNION ALL SELECT id, t0 + interval '2 h', 'response', NULL, NULL, NULL FROM t WHERE id %% 10 >= 4"
        "       UNION ALL SELECT id, t0 + interval '6 h', 'customer', NULL, NULL, NULL FROM t WHERE id %% 10 >= 6"
        "       UNION ALL SELECT id, t0 + interval '7 h', 'change', NULL, NULL, 'urgent' FROM t WHERE id %% 17 = 0)"
        " INSERT INTO sla_ledger (ticket_id, at, kind, status, queue_id, priority)"
        " SELECT id, t0, kind, status, q, prio FROM l ORDER BY id, t0", n);
    exec_or_die(sql);
    snprintf(sql, sizeof(sql), "INSERT INTO sla_tickets (ticket_id) SELECT g FROM generate_series(1, %ld) g", n);
    exec_or_die(sql);
    exec_or_die("ANALYZE sla_ledger");
    exec_or_die("ANALYZE sla_tickets");
    long long entries = count("SELECT count(*) FROM sla_ledger");
    double seeded = mono() - t;
    t = mono();
    recompute(fh);                               /* bring every ticket up to date once */
    double first = mono() - t;

    /* the edit: longer Friday hours, one holiday less */
    snprintf(body, sizeof(body), "{\"name\": \"bench\", \"time_zone\": \"Europe/Berlin\", %s, %s}",
             "\"hours\": {\"mon\": [\"08:00-12:00\", \"13:00-17:00\"], \"tue\": [\"08:00-12:00\", \"13:00-17:00\"],"
             " \"wed\": [\"08:00-12:00\", \"13:00-17:00\"], \"thu\": [\"08:00-12:00\", \"13:00-17:00\"],"
             " \"fri\": [\"08:00-12:00\", \"13:00-17:00\"], \"sat\": [\"22:00-02:00\"]}",
             "\"holidays\": [{\"month\": 1, \"day\": 1}, {\"month\": 12, \"day\": 24, \"days\": 3}]");
    char q[32];
    snprintf(q, sizeof(q), "id=%lld", cal);
    long long open = count("SELECT count(*) FROM sla_tickets WHERE open");
    t = mono();
    double c0 = cpu_s();
    route(fh, "PUT", "/calendar", q, body, 200);
    recompute(fh);
    double secs = mono() - t, plugin_cpu = cpu_s() - c0;
    long long fresh = count("SELECT count(*) FROM sla_tickets WHERE open"
                            " AND config_version = (SELECT version FROM sla_config)");
    long long due = count("SELECT count(*) FROM sla_tickets WHERE next_due IS NOT NULL");

    /* the plugin's work per ingested mail: the hook of a new ticket's
     * opening message, one after another on one connection */
    long hooks = n / 20 > 2000 ? 2000 : n / 20;
    exec_or_die("INSERT INTO users (email, role) VALUES ('bench-customer@bench.example', 'customer')"
                " ON CONFLICT DO NOTHING");
    snprintf(sql, sizeof(sql),
             "INSERT INTO tickets (queue_id, subject, requester_id)"
             " SELECT (SELECT id FROM queues WHERE name = 'bench-a'), 'bench ' || g,"
             " (SELECT id FROM users WHERE email = 'bench-customer@bench.example')"
             " FROM generate_series(1, %ld) g", hooks);
    exec_or_die(sql);
    PGresult *ids = PQexec(pg, "SELECT id FROM tickets ORDER BY id DESC LIMIT 2000");
    t = mono();
    for (int i = 0; i < PQntuples(ids); i++) {
        char data[256];
        snprintf(data, sizeof(data), "{\"ticket_id\": %s, \"direction\": \"in\", \"visibility\": \"public\","
                 " \"robot\": \"none\", \"new_ticket\": true}", PQgetvalue(ids, i, 0));
        struct fakehost_job_result res;
        if (fakehost_run_hook(fh, "message.created", data, &res) < 0 || res.status != ATUM_JOB_DONE) {
            fprintf(stderr, "sla_bench: hook: %s\n", res.error);
            return 1;
        }
    }
    double hook_s = mono() - t;
    int nhooks = PQntuples(ids);
    PQclear(ids);

    /* the backfill: tickets written while the plugin was off, each with
     * its opening message, a staff reply that opened it, a customer's
     * message and, for a third, a pause -- the sla.backfill job run until
     * none is left (recompute_batch tickets per job, as atumd would) */
    long nbf = n / 5;
    snprintf(sql, sizeof(sql),
             "INSERT INTO tickets (id, queue_id, subject, status, requester_id, created_at, updated_at)"
             " OVERRIDING SYSTEM VALUE"
             " SELECT %ld + g, (SELECT id FROM queues WHERE name = CASE WHEN g %% 3 = 0 THEN 'bench-b' ELSE 'bench-a' END),"
             " 'old ' || g, CASE WHEN g %% 3 = 1 THEN 'pending' ELSE 'open' END,"
             " (SELECT id FROM users WHERE email = 'bench-customer@bench.example'),"
             " now() - (g %% 28800) * interval '1 min', now() - (g %% 28800) * interval '1 min' + interval '3 h'"
             " FROM generate_series(1, %ld) g", 10L * n, nbf);
    exec_or_die(sql);
    snprintf(sql, sizeof(sql),
             "INSERT INTO messages (ticket_id, direction, visibility, body_text, created_at)"
             " SELECT id, 'in', 'public', 'help', created_at FROM tickets WHERE id > %ld"
             " UNION ALL SELECT id, 'out', 'public', 'on it', created_at + interval '1 h' FROM tickets WHERE id > %ld"
             " UNION ALL SELECT id, 'in', 'public', 'still', created_at + interval '2 h' FROM tickets WHERE id > %ld",
             10L * n, 10L * n, 10L * n);
    exec_or_die(sql);
    snprintf(sql, sizeof(sql),
             "INSERT INTO ticket_changes (ticket_id, version, kind, changes, created_at)"
             " SELECT id, 2, 'message', '{\"status\": {\"from\": \"new\", \"to\": \"open\"}}'::jsonb, created_at + interval '1 h'"
             " FROM tickets WHERE id > %ld"
             " UNION ALL SELECT id, 4, 'update', '{\"status\": {\"from\": \"open\", \"to\": \"pending\"}}'::jsonb,"
             " created_at + interval '3 h' FROM tickets WHERE id > %ld AND status = 'pending'", 10L * n, 10L * n);
    exec_or_die(sql);
    exec_or_die("ANALYZE tickets");
    exec_or_die("ANALYZE messages");
    exec_or_die("ANALYZE ticket_changes");
    long long before = count("SELECT count(*) FROM sla_ledger WHERE kind = 'start'");
    t = mono();
    c0 = cpu_s();
    int bf_jobs = 0;
    for (;;) {
        long long left = count("SELECT count(*) FROM tickets t WHERE t.status IN ('new', 'open', 'pending')"
                               " AND NOT EXISTS (SELECT 1 FROM sla_ledger l WHERE l.ticket_id = t.id AND l.kind = 'start')");
        if (left == 0)
            break;
        struct fakehost_job_result res;
        if (fakehost_run_job(fh, "sla.backfill", "{}", 1, &res) < 0 || res.status != ATUM_JOB_DONE
            || ++bf_jobs > nbf) {
            fprintf(stderr, "sla_bench: backfill: %s (%lld left)\n", res.error, left);
            return 1;
        }
    }
    double bf_s = mono() - t, bf_cpu = cpu_s() - c0;
    long long backfilled = count("SELECT count(*) FROM sla_ledger WHERE kind = 'start'") - before;

    double cpu = ref_cpu(), db = ref_db();
    printf("tickets=%ld ledger_entries=%lld seeded_in_s=%.1f first_recompute_s=%.2f open=%lld\n", n, entries,
           seeded, first, open);
    printf("reference: cpu_loop_s=%.3f pg_100k_rows_s=%.3f\n", cpu, db);
    printf("sla_recompute_tickets=%lld sla_recompute_s=%.2f sla_recompute_per_s=%.0f sla_recompute_plugin_cpu_s=%.2f"
           " sla_with_next_due=%lld sla_ratio_to_cpu_loop=%.2f sla_ratio_to_pg_rows=%.2f\n",
           fresh, secs, fresh / secs, plugin_cpu, due, secs / cpu, secs / db);
    printf("sla_hooks=%d sla_hook_ms=%.2f sla_hooks_per_s=%.0f\n", nhooks, hook_s * 1000 / nhooks,
           nhooks / hook_s);
    printf("sla_backfill_tickets=%lld sla_backfill_jobs=%d sla_backfill_s=%.2f sla_backfill_per_s=%.0f"
           " sla_backfill_plugin_cpu_s=%.2f sla_backfill_ratio_to_cpu_loop=%.2f sla_backfill_ratio_to_pg_rows=%.2f\n",
           backfilled, bf_jobs, bf_s, backfilled / bf_s, bf_cpu, bf_s / cpu, bf_s / db);
    fakehost_free(&fh);
    PQfinish(pg);
    return fresh == open && backfilled == nbf ? 0 : 1;
}
