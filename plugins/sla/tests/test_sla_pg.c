/* test_sla_pg -- the sla plugin's real .so through the fake host against
 * the test's private PostgreSQL (the core schema from atumctl migrate, the
 * plugin's own migrations applied at load), with the fake host's clock:
 * hooks record the ledger and schedule ticks for the exact moments,
 * ticks warn and breach once each with their actions (mail through the
 * outbox, priority, queue, events), edits of calendars and policies
 * recompute open tickets, the routes answer what the desk shows. */
#include "config.h"
#include "fakehost.h"
#include "slatest.h"
#include "engine.h"

#include <libpq-fe.h>

static struct fakehost *fh;
static PGconn *pg;
static long long q_support, q_escal, u_agent, u_agent2, u_manager, u_customer;
static long long next_message_id;   /* each hook's message is a message of its own */

/* ---- the test's own connection ------------------------------------------ */

static PGresult *sqlr(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static PGresult *sqlr(const char *fmt, ...)
{
    char buf[8192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    PGresult *r = PQexec(pg, buf);
    ck_assert_msg(PQresultStatus(r) == PGRES_TUPLES_OK || PQresultStatus(r) == PGRES_COMMAND_OK,
                  "%s: %s", buf, PQresultErrorMessage(r));
    return r;
}

static long long qint(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static long long qint(const char *fmt, ...)
{
    char buf[8192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    PGresult *r = sqlr("%s", buf);
    ck_assert_msg(PQntuples(r) == 1, "%s: %d rows", buf, PQntuples(r));
    long long v = PQgetisnull(r, 0, 0) ? -1 : atoll(PQgetvalue(r, 0, 0));
    PQclear(r);
    return v;
}

static char *qstr(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *qstr(const char *fmt, ...)
{
    static char out[4096];
    char buf[8192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    PGresult *r = sqlr("%s", buf);
    ck_assert_msg(PQntuples(r) == 1, "%s: %d rows", buf, PQntuples(r));
    snprintf(out, sizeof(out), "%s", PQgetisnull(r, 0, 0) ? "(null)" : PQgetvalue(r, 0, 0));
    PQclear(r);
    return out;
}

/* ---- the world ---------------------------------------------------------------- */

static void schema_once(void)
{
    static int done;
    if (done++)
        return;
    char conf[1024], cmd[2048];
    snprintf(conf, sizeof(conf), "%s/sla.conf", getenv("ATUM_TEST_TMP"));
    FILE *f = fopen(conf, "w");
    ck_assert_ptr_nonnull(f);
    fprintf(f, "[core]\ndatabase_url = %s\nsecret_key = sla-test-secret-0123456789abcdef\n",
            getenv("ATUM_TEST_DATABASE_URL"));
    fclose(f);
    snprintf(cmd, sizeof(cmd), "'%s/atumctl' -c '%s' migrate >/dev/null", getenv("ATUM_BUILDDIR"), conf);
    ck_assert_int_eq(system(cmd), 0);
}

static void setup(void)
{
    schema_once();
    next_message_id = 1000;
    pg = PQconnectdb(getenv("ATUM_TEST_DATABASE_URL"));
    ck_assert_int_eq(PQstatus(pg), CONNECTION_OK);
    PQclear(sqlr("SET client_min_messages = warning"));
    /* every test starts from an empty helpdesk and no SLA configuration */
    PQclear(sqlr("DROP TABLE IF EXISTS sla_tickets, sla_ledger, sla_policies, sla_calendars, sla_config, sla_schedule CASCADE;"
                 "DROP FUNCTION IF EXISTS sla_ledger_append_only CASCADE;"
                 "TRUNCATE tickets, queues, users, queue_members CASCADE"));
    q_support = qint("INSERT INTO queues (name, address) VALUES ('support', 'support@example.com') RETURNING id");
    q_escal = qint("INSERT INTO queues (name, address) VALUES ('escalations', 'esc@example.com') RETURNING id");
    u_agent = qint("INSERT INTO users (email, role) VALUES ('agent@example.com', 'agent') RETURNING id");
    u_agent2 = qint("INSERT INTO users (email, role) VALUES ('agent2@example.com', 'agent') RETURNING id");
    u_manager = qint("INSERT INTO users (email, role) VALUES ('boss@example.com', 'manager') RETURNING id");
    u_customer = qint("INSERT INTO users (email, role) VALUES ('cust@example.org', 'customer') RETURNING id");
    PQclear(sqlr("INSERT INTO queue_members VALUES (%lld, %lld), (%lld, %lld)", q_support, u_agent, q_support,
                 u_agent2));
    char path[1024];
    const char *why = NULL;
    snprintf(path, sizeof(path), "%s/plugins/sla/.libs/sla.so", getenv("ATUM_BUILDDIR"));
    fh = fakehost_new(getenv("ATUM_TEST_DATABASE_URL"));
    ck_assert_ptr_nonnull(fh);
    ck_assert_msg(fakehost_load(fh, path, &why) == 0, "%s", why);
}

static void teardown(void)
{
    fakehost_free(&fh);
    PQfinish(pg);
    pg = NULL;
}

static long long new_ticket(long long queue, const char *priority)
{
    return qint("INSERT INTO tickets (queue_id, subject, priority, requester_id, assignee_id)"
                " VALUES (%lld, 'Printer on fire', '%s', %lld, %lld) RETURNING id", queue, priority,
                u_customer, u_agent);
}

static void clock_at(int64_t ms)
{
    fakehost_set_now(fh, (double)ms / 1000.0);
}

static void hook(const char *event, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void hook(const char *event, const char *fmt, ...)
{
    char data[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(data, sizeof(data), fmt, ap);
    va_end(ap);
    struct fakehost_job_result r;
    ck_assert_int_eq(fakehost_run_hook(fh, event, data, &r), 0);
    ck_assert_msg(r.status == ATUM_JOB_DONE, "%s %s: %d %s", event, data, r.status, r.error);
}

/* the message that opened ticket t (queue and priority are the ticket's) */
static void created(long long t, long long queue, const char *prio)
{
    ck_assert_int_eq(qint("SELECT count(*) FROM tickets WHERE id = %lld AND queue_id = %lld AND priority = '%s'",
                          t, queue, prio), 1);
    hook("message.created", "{\"ticket_id\": %lld, \"message_id\": %lld, \"direction\": \"in\","
         " \"visibility\": \"public\", \"source\": \"mail\", \"robot\": \"none\", \"new_ticket\": true}", t,
         next_message_id++);
}

static void staff_reply(long long t)
{
    hook("message.created", "{\"ticket_id\": %lld, \"message_id\": %lld, \"direction\": \"out\","
         " \"visibility\": \"public\", \"source\": \"api\", \"robot\": \"none\", \"new_ticket\": false}", t,
         next_message_id++);
}

static void customer_wrote(long long t, const char *source)
{
    hook("message.created", "{\"ticket_id\": %lld, \"message_id\": %lld, \"direction\": \"in\","
         " \"visibility\": \"public\", \"source\": \"%s\", \"robot\": \"none\", \"new_ticket\": false}", t,
         next_message_id++, source);
}

static void status_to(long long t, const char *from, const char *to)
{
    hook("ticket.updated", "{\"ticket_id\": %lld, \"changes\": {\"status\": {\"from\": \"%s\", \"to\": \"%s\"}},"
         " \"source\": \"api\"}", t, from, to);
}

static int tick(void)
{
    struct fakehost_job_result r;
    ck_assert_int_eq(fakehost_run_job(fh, "sla.tick", "{}", 1, &r), 0);
    ck_assert_msg(r.status == ATUM_JOB_DONE, "tick: %s", r.error);
    return r.status;
}

static void run_job(const char *kind)
{
    struct fakehost_job_result r;
    ck_assert_int_eq(fakehost_run_job(fh, kind, "{}", 1, &r), 0);
    ck_assert_msg(r.status == ATUM_JOB_DONE, "%s: %s", kind, r.error);
}

static json_t *route(const char *method, const char *path, const char *query, const char *body,
                     enum atum_role role, long long user, int want)
{
    struct fakehost_response r;
    char b[4096];
    if (body) {
        snprintf(b, sizeof(b), "%s", body);
        for (char *p = b; *p; p++)
            if (*p == '\'')
                *p = '"';
    }
    ck_assert_int_eq(fakehost_route(fh, method, path, query, body ? b : NULL, user, role, &r), 0);
    ck_assert_msg(r.status == want, "%s %s?%s: %d, want %d: %s", method, path, query ? query : "", r.status,
                  want, r.body);
    return r.body_len ? json_loads(r.body, 0, NULL) : NULL;
}

static long long create(const char *path, const char *body)
{
    json_t *o = route("POST", path, NULL, body, ATUM_ROLE_ADMIN, u_manager, 201);
    long long id = json_integer_value(json_object_get(o, "id"));
    json_decref(o);
    ck_assert_int_gt(id, 0);
    return id;
}

static json_t *view(long long t)
{
    struct fakehost_response r;
    ck_assert_int_eq(fakehost_ticket_view(fh, t, &r), 0);
    ck_assert_msg(r.status == 200, "%s", r.body);
    json_t *o = json_loads(r.body, 0, NULL);
    ck_assert_ptr_nonnull(o);
    return o;
}

static const char *clock_field(json_t *state, const char *clock, const char *field)
{
    static char out[128];
    json_t *v = json_object_get(json_object_get(json_object_get(state, "clocks"), clock), field);
    if (json_is_string(v))
        snprintf(out, sizeof(out), "%s", json_string_value(v));
    else if (json_is_null(v) || v == NULL)
        snprintf(out, sizeof(out), "(null)");
    else
        snprintf(out, sizeof(out), "%g", json_number_value(v));
    return out;
}

/* The last enqueued sla.tick: its moment (ms), from the delay at the clock. */
static int64_t last_tick_at(void)
{
    for (size_t i = fakehost_nenqueued(fh); i-- > 0;) {
        const struct fakehost_enqueued *e = fakehost_enqueued_at(fh, i);
        if (strcmp(e->kind, "sla.tick") == 0) {
            json_t *p = json_loads(e->payload, 0, NULL);
            int64_t at = json_integer_value(json_object_get(p, "at"));
            json_decref(p);
            return at;
        }
    }
    return SLA_NONE;
}

static size_t count_enqueued(const char *kind)
{
    size_t n = 0;
    for (size_t i = 0; i < fakehost_nenqueued(fh); i++)
        n += strcmp(fakehost_enqueued_at(fh, i)->kind, kind) == 0;
    return n;
}

static size_t count_events(const char *name)
{
    size_t n = 0;
    for (size_t i = 0; i < fakehost_nevents(fh); i++)
        n += strcmp(fakehost_event_at(fh, i)->event, name) == 0;
    return n;
}

/* Ticket t's rows of the view sla_outcomes, "met decided_at" each (UTC),
 * "null" while undecided, in the order decided. */
static const char *outcomes(long long t)
{
    return qstr("SELECT coalesce(string_agg(coalesce(met::text, 'null') || coalesce(' '"
                " || to_char(decided_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI'), ''), ', '"
                " ORDER BY decided_at NULLS LAST, met), '') FROM sla_outcomes WHERE ticket_id = %lld", t);
}

static double counted(const char *family, const char *clock)
{
    char labels[64];
    snprintf(labels, sizeof(labels), "clock=\"%s\"", clock);
    return fakehost_metric(fh, family, labels);
}

#define BERLIN_OFFICE "{'name':'Berlin office','time_zone':'Europe/Berlin','hours':{'mon':['09:00-17:00']," \
    "'tue':['09:00-17:00'],'wed':['09:00-17:00'],'thu':['09:00-17:00'],'fri':['09:00-17:00']}}"

/* ---- escalation end to end ------------------------------------------------- */

START_TEST(warning_and_breach_fire_once_at_their_moments)
{
    create("/calendars", BERLIN_OFFICE);
    create("/policies", "{'name':'Support','queues':['support'],'calendar':'Berlin office',"
                        "'targets':{'first_response':{'hours':2},'resolution':{'hours':16}},'warn_percent':75,"
                        "'escalation':{'warning':[{'notify':'assignee'}],'breach':[{'notify':'queue'},"
                        "{'notify':'managers'},{'priority':'raise'},{'queue':'escalations'}]}}");
    long long t = new_ticket(q_support, "normal");
    /* Monday 2024-06-03 10:00 in Berlin (08:00Z): due 12:00 (10:00Z), warning 11:30 */
    clock_at(Z("2024-06-03 08:00"));
    fakehost_clear(fh);
    created(t, q_support, "normal");
    ck_assert_instant(last_tick_at(), Z("2024-06-03 09:30"));
    const struct fakehost_enqueued *e = fakehost_enqueued_at(fh, fakehost_nenqueued(fh) - 1);
    ck_assert(e->delay_seconds > 5399.9 && e->delay_seconds < 5400.1);
    json_t *v = view(t);
    ck_assert_str_eq(clock_field(v, "first_response", "due_at"), "2024-06-03T10:00:00Z");
    ck_assert_str_eq(clock_field(v, "first_response", "state"), "running");
    ck_assert_str_eq(clock_field(v, "resolution", "due_at"), "2024-06-05T08:00:00Z");   /* Wed 10:00 */
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(v, "calendar"), "time_zone")),
                     "Europe/Berlin");
    json_decref(v);

    /* a tick before the moment does nothing */
    clock_at(Z("2024-06-03 09:00"));
    fakehost_clear(fh);
    tick();
    ck_assert_uint_eq(fakehost_nmail(fh), 0);
    /* the warning: the assignee hears of it, webhooks get sla.warning */
    clock_at(Z("2024-06-03 09:30"));
    fakehost_clear(fh);
    tick();
    ck_assert_uint_eq(fakehost_nmail(fh), 1);
    ck_assert_str_eq(fakehost_mail_at(fh, 0)->to, "agent@example.com");
    ck_assert_ptr_nonnull(strstr(fakehost_mail_at(fh, 0)->title, "[SLA warning]"));
    ck_assert_ptr_nonnull(strstr(fakehost_mail_at(fh, 0)->title, "2024-06-03 12:00 Europe/Berlin"));
    ck_assert_uint_eq(count_events("sla.warning"), 1);
    ck_assert(counted("atum_sla_warnings_total", "first_response") == 1);
    ck_assert(counted("atum_sla_breaches_total", "first_response") == 0);
    ck_assert_uint_eq(fakehost_nticket_changes(fh), 0);
    ck_assert_instant(last_tick_at(), Z("2024-06-03 10:00"));
    ck_assert_str_eq(outcomes(t), "null, null");          /* first response and resolution running */
    /* the same tick again: nothing more */
    fakehost_clear(fh);
    tick();
    ck_assert_uint_eq(fakehost_nmail(fh), 0);
    ck_assert_uint_eq(count_events("sla.warning"), 0);

    /* the breach: the queue's agents and the managers, once each; priority
     * raised and the ticket moved, with a note saying why */
    clock_at(Z("2024-06-03 10:00"));
    fakehost_clear(fh);
    tick();
    ck_assert_uint_eq(fakehost_nmail(fh), 3);
    ck_assert_str_eq(fakehost_mail_at(fh, 0)->to, "agent@example.com");
    ck_assert_str_eq(fakehost_mail_at(fh, 1)->to, "agent2@example.com");
    ck_assert_str_eq(fakehost_mail_at(fh, 2)->to, "boss@example.com");
    ck_assert_ptr_nonnull(strstr(fakehost_mail_at(fh, 2)->body, "First response target: 2 h 00 min of business time"));
    ck_assert_uint_eq(count_events("sla.breached"), 1);
    ck_assert(counted("atum_sla_breaches_total", "first_response") == 1);
    ck_assert(counted("atum_sla_warnings_total", "first_response") == 0);
    ck_assert_ptr_nonnull(strstr(fakehost_event_at(fh, 0)->data, "\"clock\":\"first_response\""));
    ck_assert_str_eq(outcomes(t), "false 2024-06-03 10:00, null");
    ck_assert_uint_eq(fakehost_nticket_changes(fh), 1);
    const struct fakehost_ticket_change *c = fakehost_ticket_change_at(fh, 0);
    ck_assert_str_eq(c->priority, "high");
    ck_assert_int_eq(c->queue_id, q_escal);
    ck_assert_ptr_nonnull(strstr(c->note, "SLA breach: first response overdue"));
    ck_assert_int_eq(qint("SELECT count(*) FROM sla_ledger WHERE ticket_id = %lld AND kind = 'breach'", t), 1);
    ck_assert_str_eq(qstr("SELECT detail->'actions'->3->'priority'->>'to' FROM sla_ledger"
                          " WHERE ticket_id = %lld AND kind = 'breach'", t), "high");
    fakehost_clear(fh);
    tick();
    ck_assert_uint_eq(fakehost_nmail(fh), 0);
    ck_assert(counted("atum_sla_breaches_total", "first_response") == 0);

    /* the desk applies the change: the policy no longer matches (queue
     * escalations): recorded in the ledger, nothing owed any more */
    clock_at(Z("2024-06-03 10:00:05"));
    hook("ticket.updated", "{\"ticket_id\": %lld, \"changes\": {\"priority\": {\"from\": \"normal\", \"to\": \"high\"},"
         " \"queue_id\": {\"from\": %lld, \"to\": %lld}}, \"source\": \"plugin:sla\"}", t, q_support, q_escal);
    ck_assert_int_eq(qint("SELECT count(*) FROM sla_ledger WHERE ticket_id = %lld AND kind = 'policy'"
                          " AND detail->'to' = 'null' AND detail->'from'->>'name' = 'Support'", t), 1);
    ck_assert_int_eq(qint("SELECT count(*) FROM sla_tickets WHERE ticket_id = %lld AND next_due IS NULL", t), 1);
    v = view(t);
    ck_assert(json_is_false(json_object_get(v, "tracked")));
    json_decref(v);
    /* the missed first response stays missed; resolution has no target now */
    ck_assert_str_eq(outcomes(t), "false 2024-06-03 10:00");
}
END_TEST

/* pending from 11:00 to 15:00 over a 12:00 deadline; the staff reply, a
 * customer's reply by mail and by the portal restart next response */
START_TEST(pause_reply_and_next_response)
{
    create("/policies", "{'name':'Plain','warn_percent':0,'targets':{'first_response':{'hours':2,'time':'calendar'},"
                        "'next_response':{'minutes':30,'time':'calendar'}},'escalation':{'breach':[{'notify':'managers'}]}}");
    long long t = new_ticket(q_support, "normal");
    clock_at(Z("2024-06-03 10:00"));
    created(t, q_support, "normal");
    clock_at(Z("2024-06-03 11:00"));
    status_to(t, "new", "pending");
    clock_at(Z("2024-06-03 12:00"));           /* the old deadline: nothing owed while paused */
    fakehost_clear(fh);
    tick();
    ck_assert_uint_eq(fakehost_nmail(fh), 0);
    json_t *v = view(t);
    ck_assert_str_eq(clock_field(v, "first_response", "state"), "paused");
    ck_assert_str_eq(clock_field(v, "first_response", "paused_seconds"), "3600");
    json_decref(v);
    clock_at(Z("2024-06-03 15:00"));
    fakehost_clear(fh);
    status_to(t, "pending", "open");
    ck_assert_instant(last_tick_at(), Z("2024-06-03 16:00"));
    clock_at(Z("2024-06-03 15:30"));
    staff_reply(t);
    ck_assert_int_eq(qint("SELECT count(*) FROM sla_tickets WHERE ticket_id = %lld AND next_due IS NULL", t), 1);
    /* the customer answers by mail: next response runs for 30 minutes */
    clock_at(Z("2024-06-03 16:00"));
    fakehost_clear(fh);
    customer_wrote(t, "mail");
    ck_assert_uint_eq(count_enqueued("sla.tick"), 0);        /* the tick pending at 16:00 covers it */
    tick();                                                  /* it runs, and hands over */
    ck_assert_instant(last_tick_at(), Z("2024-06-03 16:30"));
    clock_at(Z("2024-06-03 16:10"));
    staff_reply(t);
    clock_at(Z("2024-06-03 16:30"));                         /* answered: nothing owed, nothing next */
    fakehost_clear(fh);
    tick();
    ck_assert_uint_eq(fakehost_nmail(fh) + fakehost_nevents(fh) + count_enqueued("sla.tick"), 0);
    /* ... and by the portal: a new round */
    clock_at(Z("2024-06-03 17:00"));
    fakehost_clear(fh);
    customer_wrote(t, "portal");
    ck_assert_instant(last_tick_at(), Z("2024-06-03 17:30"));
    clock_at(Z("2024-06-03 17:30"));
    fakehost_clear(fh);
    tick();
    ck_assert_uint_eq(count_events("sla.breached"), 1);
    ck_assert_ptr_nonnull(strstr(fakehost_event_at(fh, 0)->data, "\"round\":2"));
    v = view(t);
    ck_assert_str_eq(clock_field(v, "next_response", "round"), "2");
    ck_assert_str_eq(clock_field(v, "next_response", "rounds_breached"), "1");
    ck_assert_str_eq(clock_field(v, "first_response", "state"), "achieved");
    ck_assert(json_is_false(json_object_get(json_object_get(json_object_get(v, "clocks"), "first_response"),
                                            "breached")));
    json_decref(v);
    ck_assert(counted("atum_sla_breaches_total", "next_response") == 1);
    /* first response met at 15:30 (the pause kept it in time), round 1 of
     * next response met at 16:10, round 2 missed at 17:30 */
    ck_assert_str_eq(outcomes(t), "true 2024-06-03 15:30, true 2024-06-03 16:10, false 2024-06-03 17:30");
}
END_TEST

/* one pending tick covers every later moment: a ticket due later adds no
 * job, one due earlier does, and each tick hands over to the earliest
 * moment left when it has run */
START_TEST(one_pending_tick_covers_later_moments)
{
    create("/policies", "{'name':'Plain','warn_percent':0,'targets':{'first_response':{'hours':2,'time':'calendar'}},"
                        "'escalation':{'breach':[{'notify':'assignee'}]}}");
    long long a = new_ticket(q_support, "normal"), b = new_ticket(q_support, "normal"),
              c = new_ticket(q_support, "normal");
    fakehost_clear(fh);
    clock_at(Z("2024-06-03 10:00"));
    created(a, q_support, "normal");                         /* due 12:00 */
    ck_assert_uint_eq(count_enqueued("sla.tick"), 1);
    clock_at(Z("2024-06-03 11:00"));
    created(b, q_support, "normal");                         /* due 13:00: the 12:00 tick covers it */
    ck_assert_uint_eq(count_enqueued("sla.tick"), 1);
    clock_at(Z("2024-06-03 10:30"));
    created(c, q_support, "normal");                         /* due 12:30: covered too */
    ck_assert_uint_eq(count_enqueued("sla.tick"), 1);
    ck_assert_int_eq(qint("SELECT count(*) FROM sla_schedule"), 1);

    clock_at(Z("2024-06-03 12:00"));
    fakehost_clear(fh);
    tick();                                                  /* a breaches; hands over to 12:30 */
    ck_assert_uint_eq(fakehost_nmail(fh), 1);
    ck_assert_instant(last_tick_at(), Z("2024-06-03 12:30"));
    ck_assert_uint_eq(count_enqueued("sla.tick"), 1);
    clock_at(Z("2024-06-03 12:30"));
    fakehost_clear(fh);
    tick();                                                  /* c; then 13:00 */
    ck_assert_uint_eq(fakehost_nmail(fh), 1);
    ck_assert_instant(last_tick_at(), Z("2024-06-03 13:00"));
    clock_at(Z("2024-06-03 13:00"));
    fakehost_clear(fh);
    tick();                                                  /* b; nothing left */
    ck_assert_uint_eq(fakehost_nmail(fh), 1);
    ck_assert_uint_eq(count_enqueued("sla.tick"), 0);
    ck_assert_int_eq(qint("SELECT count(*) FROM sla_schedule"), 0);
    ck_assert_int_eq(qint("SELECT count(*) FROM sla_ledger WHERE kind = 'breach'"), 3);
}
END_TEST

/* hooks of one ticket may run in any order: a status change heard before
 * the opening message it followed still counts from the start */
START_TEST(hooks_out_of_order)
{
    create("/policies", "{'name':'Plain','targets':{'resolution':{'hours':8}}}");
    long long t = new_ticket(q_support, "normal");
    clock_at(Z("2024-06-03 12:00"));
    status_to(t, "new", "pending");            /* heard first, happened at 12:00 */
    clock_at(Z("2024-06-03 10:00"));
    created(t, q_support, "normal");           /* happened at 10:00 */
    clock_at(Z("2024-06-03 13:00"));
    json_t *v = view(t);
    ck_assert_str_eq(clock_field(v, "resolution", "used_seconds"), "7200");
    ck_assert_str_eq(clock_field(v, "resolution", "paused_seconds"), "3600");
    ck_assert_str_eq(clock_field(v, "resolution", "state"), "paused");
    json_decref(v);
}
END_TEST

/* ---- edits ----------------------------------------------------------------- */

START_TEST(calendar_edit_moves_deadlines)
{
    long long cal = create("/calendars", BERLIN_OFFICE);
    create("/policies", "{'name':'Support','calendar':'Berlin office','targets':{'resolution':{'hours':10}}}");
    long long t1 = new_ticket(q_support, "normal"), t2 = new_ticket(q_support, "high");
    clock_at(Z("2024-06-03 08:00"));                              /* Mon 10:00 Berlin */
    created(t1, q_support, "normal");
    created(t2, q_support, "high");
    ck_assert_str_eq(qstr("SELECT due_at AT TIME ZONE 'UTC' FROM sla_tickets WHERE ticket_id = %lld", t1),
                     "2024-06-04 10:00:00");                     /* Tue 12:00 Berlin */
    fakehost_clear(fh);
    char q[32];
    snprintf(q, sizeof(q), "id=%lld", cal);
    json_decref(route("PUT", "/calendar", q, "{'name':'Berlin office','time_zone':'Europe/Berlin','hours':{"
                      "'mon':['08:00-18:00'],'tue':['08:00-18:00'],'wed':['08:00-18:00'],'thu':['08:00-18:00'],"
                      "'fri':['08:00-18:00']}}", ATUM_ROLE_ADMIN, u_manager, 200));
    ck_assert_uint_eq(count_enqueued("sla.recompute"), 1);
    run_job("sla.recompute");
    /* 8 h on Monday (10-18), 2 more on Tuesday from 08:00 */
    ck_assert_str_eq(qstr("SELECT due_at AT TIME ZONE 'UTC' FROM sla_tickets WHERE ticket_id = %lld", t1),
                     "2024-06-04 08:00:00");
    ck_assert_int_eq(qint("SELECT count(*) FROM sla_tickets WHERE config_version = (SELECT version FROM sla_config)"), 2);
    ck_assert_instant(last_tick_at(), Z("2024-06-03 16:00"));   /* the warning: 80 % = 8 h, Mon 18:00 */
    /* the view says what the deadline is now */
    clock_at(Z("2024-06-03 09:00"));
    json_t *v = view(t2);
    ck_assert_str_eq(clock_field(v, "resolution", "due_at"), "2024-06-04T08:00:00Z");
    json_decref(v);
}
END_TEST

START_TEST(disabled_policy_clears_escalation)
{
    long long pol = create("/policies", "{'name':'Plain','warn_percent':0,'targets':{'first_response':{'hours':1,"
                                        "'time':'calendar'}},'escalation':{'breach':[{'notify':'managers'}]}}");
    long long t = new_ticket(q_support, "normal");
    clock_at(Z("2024-06-03 10:00"));
    created(t, q_support, "normal");
    ck_assert_instant(last_tick_at(), Z("2024-06-03 11:00"));
    char q[32];
    snprintf(q, sizeof(q), "id=%lld", pol);
    json_decref(route("PUT", "/policy", q, "{'name':'Plain','enabled':false,'warn_percent':0,'targets':{"
                      "'first_response':{'hours':1,'time':'calendar'}},'escalation':{'breach':[{'notify':'managers'}]}}",
                      ATUM_ROLE_ADMIN, u_manager, 200));
    run_job("sla.recompute");
    ck_assert_int_eq(qint("SELECT count(*) FROM sla_tickets WHERE ticket_id = %lld AND next_due IS NULL"
                          " AND policy_id IS NULL", t), 1);
    ck_assert_int_eq(qint("SELECT count(*) FROM sla_ledger WHERE ticket_id = %lld AND kind = 'policy'", t), 1);
    clock_at(Z("2024-06-03 11:00"));            /* the tick scheduled before the edit runs */
    fakehost_clear(fh);
    tick();
    ck_assert_uint_eq(fakehost_nmail(fh), 0);
    ck_assert_uint_eq(fakehost_nevents(fh), 0);
}
END_TEST

/* a priority change mid-ticket: the new policy's shorter target counts
 * the time used and keeps the pause */
START_TEST(priority_change_keeps_accrued_pause)
{
    create("/policies", "{'name':'Urgent','priorities':['urgent'],'targets':{'resolution':{'hours':4,'time':'calendar'}}}");
    create("/policies", "{'name':'Normal','targets':{'resolution':{'hours':24,'time':'calendar'}}}");
    long long t = new_ticket(q_support, "normal");
    clock_at(Z("2024-06-03 10:00"));
    created(t, q_support, "normal");
    clock_at(Z("2024-06-03 11:00"));
    status_to(t, "new", "pending");
    clock_at(Z("2024-06-03 13:00"));
    status_to(t, "pending", "open");
    clock_at(Z("2024-06-03 14:00"));
    fakehost_clear(fh);
    hook("ticket.updated", "{\"ticket_id\": %lld, \"changes\": {\"priority\": {\"from\": \"normal\","
         " \"to\": \"urgent\"}}, \"source\": \"api\"}", t);
    json_t *v = view(t);
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(v, "policy"), "name")), "Urgent");
    ck_assert_str_eq(clock_field(v, "resolution", "used_seconds"), "7200");
    ck_assert_str_eq(clock_field(v, "resolution", "paused_seconds"), "7200");
    ck_assert_str_eq(clock_field(v, "resolution", "due_at"), "2024-06-03T16:00:00Z");
    /* the ledger explains it: the change and the policy it brought */
    json_t *ledger = json_object_get(v, "ledger");
    json_t *last = json_array_get(ledger, json_array_size(ledger) - 1);
    ck_assert_str_eq(json_string_value(json_object_get(last, "kind")), "policy");
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(json_object_get(last, "detail"), "to"),
                                                       "name")), "Urgent");
    json_decref(v);
    ck_assert_instant(last_tick_at(), Z("2024-06-03 15:12"));     /* 80 % of 4 h: 1.2 h after 14:00 */
}
END_TEST

/* ---- the routes -------------------------------------------------------------- */

START_TEST(routes_refuse_bad_input_clearly)
{
    json_t *o = route("POST", "/calendars", NULL, "{'name':'x','time_zone':'Mars/Olympus','hours':'24/7'}",
                      ATUM_ROLE_ADMIN, u_manager, 422);
    ck_assert_str_eq(json_string_value(json_object_get(o, "detail")), "time_zone 'Mars/Olympus': unknown time zone");
    json_decref(o);
    json_decref(route("POST", "/calendars", NULL, "{not json", ATUM_ROLE_ADMIN, u_manager, 400));
    o = route("POST", "/calendars", NULL, "{'name':'x','time_zone':'UTC','hours':'24/7',"
              "'holidays':[{'easter':-2,'name':'Good Friday'},{'easter':99}]}", ATUM_ROLE_ADMIN, u_manager, 422);
    ck_assert_str_eq(json_string_value(json_object_get(o, "detail")),
                     "holidays[1].easter: days from Easter Sunday, -63..63");
    json_decref(o);
    json_decref(route("POST", "/calendars", NULL, "{'time_zone':'UTC','hours':'24/7'}", ATUM_ROLE_ADMIN, u_manager, 422));
    long long cal = create("/calendars", "{'name':'utc','time_zone':'UTC','hours':'24/7'}");
    o = route("POST", "/calendars", NULL, "{'name':'utc','time_zone':'UTC','hours':'24/7'}", ATUM_ROLE_ADMIN,
              u_manager, 409);
    json_decref(o);
    o = route("POST", "/policies", NULL, "{'name':'p','queues':['nope'],'targets':{'resolution':{'hours':1}}}",
              ATUM_ROLE_ADMIN, u_manager, 422);
    ck_assert_str_eq(json_string_value(json_object_get(o, "detail")), "queues[0]: no such queue");
    json_decref(o);
    create("/policies", "{'name':'p','calendar':'utc','queues':['support','escalations'],"
                        "'targets':{'resolution':{'hours':1}}}");
    char q[32];
    snprintf(q, sizeof(q), "id=%lld", cal);
    o = route("DELETE", "/calendar", q, NULL, ATUM_ROLE_ADMIN, u_manager, 409);
    ck_assert_str_eq(json_string_value(json_object_get(o, "detail")), "the calendar is used by a policy");
    json_decref(o);
    json_decref(route("GET", "/calendar", "id=999999", NULL, ATUM_ROLE_AGENT, u_agent, 404));
    json_decref(route("GET", "/calendar", "id=abc", NULL, ATUM_ROLE_AGENT, u_agent, 404));
    json_decref(route("PUT", "/policy", NULL, "{}", ATUM_ROLE_ADMIN, u_manager, 404));
    json_decref(route("GET", "/calendar/hours", "id=1&from=2024-13-01", NULL, ATUM_ROLE_AGENT, u_agent, 400));
    json_decref(route("GET", "/tickets", "limit=0", NULL, ATUM_ROLE_AGENT, u_agent, 400));
    /* nothing was stored by the refused requests */
    ck_assert_int_eq(qint("SELECT count(*) FROM sla_calendars"), 1);
    ck_assert_int_eq(qint("SELECT count(*) FROM sla_policies"), 1);
    /* names were stored as ids */
    char want[64];
    snprintf(want, sizeof(want), "[%lld, %lld]", q_support, q_escal);
    ck_assert_str_eq(qstr("SELECT spec->>'queues' FROM sla_policies"), want);
}
END_TEST

START_TEST(routes_answer_what_the_desk_shows)
{
    /* an Easter holiday through the route: Good Friday 2025 (04-18) is closed */
    long long easter = create("/calendars", "{'name':'Berlin Easter','time_zone':'Europe/Berlin',"
                                            "'hours':{'thu':['09:00-17:00'],'fri':['09:00-17:00']},"
                                            "'holidays':[{'easter':-2,'name':'Good Friday'}]}");
    char q[96];
    snprintf(q, sizeof(q), "id=%lld&from=2025-04-17&days=2", easter);
    json_t *o = route("GET", "/calendar/hours", q, NULL, ATUM_ROLE_AGENT, u_agent, 200);
    ck_assert_int_eq((int)json_array_size(json_object_get(o, "open")), 1);
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(json_object_get(o, "open"), 0), "from")),
                     "2025-04-17T07:00:00Z");
    json_decref(o);
    long long cal = create("/calendars", "{'name':'Sao Paulo','time_zone':'America/Sao_Paulo','hours':{'sun':['00:00-08:00']}}");
    snprintf(q, sizeof(q), "id=%lld&from=2018-11-04&days=1", cal);
    o = route("GET", "/calendar/hours", q, NULL, ATUM_ROLE_AGENT, u_agent, 200);
    json_t *span = json_array_get(json_object_get(o, "open"), 0);
    ck_assert_str_eq(json_string_value(json_object_get(span, "from")), "2018-11-04T03:00:00Z");
    ck_assert_str_eq(json_string_value(json_object_get(span, "to")), "2018-11-04T10:00:00Z");
    json_decref(o);
    create("/policies", "{'name':'Plain','queues':['support'],'targets':{'first_response':{'hours':1,'time':'calendar'}}}");
    o = route("GET", "/policies", NULL, NULL, ATUM_ROLE_AGENT, u_agent, 200);
    ck_assert_int_eq(json_array_size(json_object_get(o, "policies")), 1);
    json_decref(o);
    long long t = new_ticket(q_support, "normal"), other = new_ticket(q_escal, "normal");
    clock_at(Z("2024-06-03 10:00"));
    created(t, q_support, "normal");
    created(other, q_escal, "normal");
    snprintf(q, sizeof(q), "id=%lld", t);
    o = route("GET", "/ticket", q, NULL, ATUM_ROLE_AGENT, u_agent, 200);
    ck_assert_str_eq(clock_field(o, "first_response", "due_at"), "2024-06-03T11:00:00Z");
    ck_assert_int_eq(json_array_size(json_object_get(o, "ledger")), 1);
    json_t *eff = json_object_get(json_array_get(json_object_get(o, "ledger"), 0), "effects");
    ck_assert_int_ge(json_array_size(eff), 2);
    json_decref(o);
    /* an agent sees only the tickets of their queues */
    snprintf(q, sizeof(q), "id=%lld", other);
    json_decref(route("GET", "/ticket", q, NULL, ATUM_ROLE_AGENT, u_agent, 404));
    json_decref(route("GET", "/ticket", q, NULL, ATUM_ROLE_MANAGER, u_manager, 200));
    o = route("GET", "/tickets", NULL, NULL, ATUM_ROLE_AGENT, u_agent, 200);
    ck_assert_int_eq(json_array_size(json_object_get(o, "tickets")), 1);
    json_decref(o);
}
END_TEST

/* a ticket staff opened for a customer: its first message is the start
 * and the first response at once */
START_TEST(staff_opened_ticket_is_answered)
{
    create("/policies", "{'name':'Plain','targets':{'first_response':{'hours':1,'time':'calendar'},"
                        "'resolution':{'hours':8,'time':'calendar'}}}");
    long long t = new_ticket(q_support, "high");
    clock_at(Z("2024-06-03 10:00"));
    hook("message.created", "{\"ticket_id\": %lld, \"message_id\": 1, \"direction\": \"out\","
         " \"visibility\": \"public\", \"source\": \"api\", \"robot\": \"none\", \"new_ticket\": true}", t);
    json_t *v = view(t);
    ck_assert_str_eq(clock_field(v, "first_response", "state"), "achieved");
    ck_assert_str_eq(clock_field(v, "resolution", "state"), "running");
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(json_object_get(v, "ledger"), 0), "priority")),
                     "high");
    json_decref(v);
}
END_TEST

START_TEST(the_ledger_is_append_only)
{
    create("/policies", "{'name':'Plain','targets':{'resolution':{'hours':8}}}");
    long long t = new_ticket(q_support, "normal");
    clock_at(Z("2024-06-03 10:00"));
    created(t, q_support, "normal");
    PGresult *r = PQexec(pg, "UPDATE sla_ledger SET at = now()");
    ck_assert_int_eq(PQresultStatus(r), PGRES_FATAL_ERROR);
    ck_assert_ptr_nonnull(strstr(PQresultErrorMessage(r), "sla_ledger is append-only"));
    PQclear(r);
    r = PQexec(pg, "DELETE FROM sla_ledger");
    ck_assert_int_eq(PQresultStatus(r), PGRES_FATAL_ERROR);
    PQclear(r);
    ck_assert_int_eq(qint("SELECT count(*) FROM sla_ledger"), 1);
}
END_TEST

/* a tick whose transaction fails fires nothing and counts nothing: the
 * breach is fired, and counted, once the ticket's retry commits */
START_TEST(a_rolled_back_breach_is_not_counted)
{
    create("/policies", "{'name':'Plain','warn_percent':0,'targets':{'first_response':{'hours':1,'time':'calendar'}},"
                        "'escalation':{'breach':[{'notify':'managers'}]}}");
    long long t = new_ticket(q_support, "normal");
    clock_at(Z("2024-06-03 10:00"));
    created(t, q_support, "normal");
    /* saving the breached state fails (the database refuses it): the
     * ticket's whole transaction rolls back */
    PQclear(sqlr("CREATE FUNCTION sla_test_refuse() RETURNS trigger LANGUAGE plpgsql AS $$"
                 " BEGIN RAISE EXCEPTION 'refused by the test'; END $$;"
                 "CREATE TRIGGER sla_test_refuse BEFORE UPDATE ON sla_tickets FOR EACH ROW"
                 " WHEN (NEW.fr_met = false) EXECUTE FUNCTION sla_test_refuse()"));
    clock_at(Z("2024-06-03 11:00"));
    fakehost_clear(fh);
    tick();
    ck_assert(counted("atum_sla_breaches_total", "first_response") == 0);
    ck_assert_int_eq(qint("SELECT count(*) FROM sla_ledger WHERE ticket_id = %lld AND kind = 'breach'", t), 0);
    ck_assert_ptr_nonnull(strstr(qstr("SELECT last_error FROM sla_tickets WHERE ticket_id = %lld", t),
                                 "refused by the test"));
    ck_assert_str_eq(qstr("SELECT next_due AT TIME ZONE 'UTC' FROM sla_tickets WHERE ticket_id = %lld", t),
                     "2024-06-03 11:01:00");                  /* retried a minute later */
    ck_assert_str_eq(outcomes(t), "null");                   /* the state saved before */
    int begun, committed, rolled_back;
    fakehost_tx_counts(fh, &begun, &committed, &rolled_back);
    ck_assert_int_ge(rolled_back, 1);
    /* the retry commits: fired and counted once */
    PQclear(sqlr("DROP FUNCTION sla_test_refuse() CASCADE"));
    clock_at(Z("2024-06-03 11:01"));
    fakehost_clear(fh);
    tick();
    ck_assert(counted("atum_sla_breaches_total", "first_response") == 1);
    ck_assert_uint_eq(count_events("sla.breached"), 1);
    ck_assert_int_eq(qint("SELECT count(*) FROM sla_ledger WHERE ticket_id = %lld AND kind = 'breach'", t), 1);
    ck_assert_str_eq(outcomes(t), "false 2024-06-03 11:00");
}
END_TEST

/* sla_outcomes is what the metrics plugin's dashboard reads: exactly
 * (ticket_id, met, decided_at), and its SLA compliance % over them */
START_TEST(the_dashboard_reads_the_outcomes)
{
    /* the columns, as the dashboard looks for them */
    PGresult *r = sqlr("SELECT column_name, data_type FROM information_schema.columns"
                       " WHERE table_schema = current_schema() AND table_name = 'sla_outcomes'"
                       " ORDER BY ordinal_position");
    ck_assert_int_eq(PQntuples(r), 3);
    ck_assert_str_eq(PQgetvalue(r, 0, 0), "ticket_id");
    ck_assert_str_eq(PQgetvalue(r, 0, 1), "bigint");
    ck_assert_str_eq(PQgetvalue(r, 1, 0), "met");
    ck_assert_str_eq(PQgetvalue(r, 1, 1), "boolean");
    ck_assert_str_eq(PQgetvalue(r, 2, 0), "decided_at");
    ck_assert_str_eq(PQgetvalue(r, 2, 1), "timestamp with time zone");
    PQclear(r);

    create("/policies", "{'name':'Plain','warn_percent':0,'targets':{'first_response':{'hours':1,'time':'calendar'},"
                        "'resolution':{'hours':4,'time':'calendar'}}}");
    long long a = new_ticket(q_support, "normal"), b = new_ticket(q_support, "normal"),
              c = new_ticket(q_escal, "normal");
    clock_at(Z("2024-06-03 10:00"));
    created(a, q_support, "normal");
    created(b, q_support, "normal");
    created(c, q_escal, "normal");
    clock_at(Z("2024-06-03 10:30"));
    staff_reply(a);                                   /* a: first response met */
    status_to(a, "open", "solved");                   /* a: resolution met */
    clock_at(Z("2024-06-03 11:30"));
    staff_reply(b);                                   /* b: first response missed at 11:00 */
    tick();
    clock_at(Z("2024-06-03 12:00"));
    staff_reply(c);                                   /* c: missed at 11:00; resolution running */
    ck_assert_str_eq(outcomes(a), "true 2024-06-03 10:30, true 2024-06-03 10:30");
    ck_assert_str_eq(outcomes(b), "false 2024-06-03 11:00, null");
    ck_assert_str_eq(outcomes(c), "false 2024-06-03 11:00, null");
    /* a calendar-time policy switched to a 3-hour first response: the
     * recompute turns b's and c's into met ones (open tickets follow the
     * configuration; a, solved, keeps what it had) */
    long long pol = qint("SELECT id FROM sla_policies");
    char q[32];
    snprintf(q, sizeof(q), "id=%lld", pol);
    json_decref(route("PUT", "/policy", q, "{'name':'Plain','warn_percent':0,'targets':{'first_response':{'hours':3,"
                      "'time':'calendar'},'resolution':{'hours':4,'time':'calendar'}}}", ATUM_ROLE_ADMIN, u_manager, 200));
    run_job("sla.recompute");
    ck_assert_str_eq(outcomes(b), "true 2024-06-03 11:30, null");
    ck_assert_str_eq(outcomes(c), "true 2024-06-03 12:00, null");
    json_decref(route("PUT", "/policy", q, "{'name':'Plain','warn_percent':0,'targets':{'first_response':{'hours':1,"
                      "'time':'calendar'},'resolution':{'hours':4,'time':'calendar'}}}", ATUM_ROLE_ADMIN, u_manager, 200));
    run_job("sla.recompute");
    ck_assert_str_eq(outcomes(b), "false 2024-06-03 11:00, null");

    /* the metrics plugin's dashboard, on the same database: 2 met (a's),
     * 2 missed (b's and c's first responses); the support queue alone: 2 of 3 */
    PQclear(sqlr("DROP TABLE IF EXISTS metrics_snapshots, metrics_open_tickets, metrics_refresh CASCADE"));
    struct fakehost *mfh = fakehost_new(getenv("ATUM_TEST_DATABASE_URL"));
    ck_assert_ptr_nonnull(mfh);
    char path[1024];
    const char *why = NULL;
    snprintf(path, sizeof(path), "%s/plugins/metrics/.libs/metrics.so", getenv("ATUM_BUILDDIR"));
    ck_assert_msg(fakehost_load(mfh, path, &why) == 0, "%s", why);
    fakehost_set_now(mfh, (double)Z("2024-06-04 12:00") / 1000.0);
    struct fakehost_response resp;
    ck_assert_int_eq(fakehost_route(mfh, "GET", "/dashboard", "days=30", NULL, u_manager, ATUM_ROLE_MANAGER,
                                    &resp), 0);
    ck_assert_msg(resp.status == 200, "%s", resp.body);
    json_t *d = json_loads(resp.body, 0, NULL);
    json_t *sla = json_object_get(d, "sla");
    ck_assert(json_is_true(json_object_get(sla, "available")));
    ck_assert_int_eq(json_integer_value(json_object_get(sla, "met")), 2);
    ck_assert_int_eq(json_integer_value(json_object_get(sla, "missed")), 2);
    ck_assert(json_number_value(json_object_get(sla, "compliance_percent")) == 50.0);
    json_decref(d);
    char qq[64];
    snprintf(qq, sizeof(qq), "days=30&queue_id=%lld", q_support);
    ck_assert_int_eq(fakehost_route(mfh, "GET", "/dashboard", qq, NULL, u_manager, ATUM_ROLE_MANAGER, &resp), 0);
    ck_assert_msg(resp.status == 200, "%s", resp.body);
    d = json_loads(resp.body, 0, NULL);
    sla = json_object_get(d, "sla");
    ck_assert_int_eq(json_integer_value(json_object_get(sla, "met")), 2);
    ck_assert_int_eq(json_integer_value(json_object_get(sla, "missed")), 1);
    ck_assert(json_number_value(json_object_get(sla, "compliance_percent")) == 66.7);
    json_decref(d);
    fakehost_free(&mfh);
}
END_TEST

/* a tick that runs a little before its moment (a job's run_at counts
 * from its enqueuing transaction's start) hands over to that moment
 * again: the moment is never lost */
START_TEST(a_tick_run_early_hands_over_to_its_moment)
{
    create("/policies", "{'name':'Plain','warn_percent':0,'targets':{'first_response':{'hours':1,'time':'calendar'}},"
                        "'escalation':{'breach':[{'notify':'managers'}]}}");
    long long t = new_ticket(q_support, "normal");
    clock_at(Z("2024-06-03 10:00"));
    created(t, q_support, "normal");
    ck_assert_instant(last_tick_at(), Z("2024-06-03 11:00"));
    clock_at(Z("2024-06-03 11:00") - 50);
    fakehost_clear(fh);
    char payload[64];
    snprintf(payload, sizeof(payload), "{\"at\": %lld}", (long long)Z("2024-06-03 11:00"));
    struct fakehost_job_result r;
    ck_assert_int_eq(fakehost_run_job(fh, "sla.tick", payload, 1, &r), 0);
    ck_assert_int_eq(r.status, ATUM_JOB_DONE);
    ck_assert_uint_eq(fakehost_nevents(fh), 0);                 /* nothing is due yet */
    ck_assert_uint_eq(count_enqueued("sla.tick"), 1);           /* the moment, arranged again */
    ck_assert_instant(last_tick_at(), Z("2024-06-03 11:00"));
    clock_at(Z("2024-06-03 11:00"));
    fakehost_clear(fh);
    tick();
    ck_assert_uint_eq(count_events("sla.breached"), 1);
}
END_TEST


/* ---- backfill: tickets older than the plugin ------------------------------------ */

/* A ticket as the desk wrote it while the plugin was off ("2024-06-03 08:00" UTC). */
static long long old_ticket(const char *status, const char *priority, const char *created, const char *updated)
{
    return qint("INSERT INTO tickets (queue_id, subject, status, priority, requester_id, assignee_id,"
                " created_at, updated_at) VALUES (%lld, 'Old one', '%s', '%s', %lld, %lld, '%s+00', '%s+00')"
                " RETURNING id", q_support, status, priority, u_customer, u_agent, created, updated);
}

static long long old_message(long long t, const char *direction, const char *visibility, const char *robot,
                             const char *at)
{
    return qint("INSERT INTO messages (ticket_id, direction, visibility, robot, created_at)"
                " VALUES (%lld, '%s', '%s', '%s', '%s+00') RETURNING id", t, direction, visibility, robot, at);
}

static void old_change(long long t, int version, const char *changes, const char *at)
{
    PQclear(sqlr("INSERT INTO ticket_changes (ticket_id, version, kind, changes, created_at)"
                 " VALUES (%lld, %d, 'update', '%s', '%s+00')", t, version, changes, at));
}

/* ticket t's ledger as "kind source" in time order */
static const char *ledger_text(long long t)
{
    return qstr("SELECT coalesce(string_agg(kind || coalesce(' ' || source, ''), ', ' ORDER BY at, id), '')"
                " FROM sla_ledger WHERE ticket_id = %lld", t);
}

static void backfill(void)
{
    run_job("sla.backfill");
}

START_TEST(backfill_starts_clocks_from_history)
{
    /* the plugin's start() asked for a backfill */
    ck_assert_uint_eq(count_enqueued("sla.backfill"), 1);
    create("/policies", "{'name':'Plain','targets':{'first_response':{'hours':1,'time':'calendar'},"
                        "'next_response':{'hours':2,'time':'calendar'},'resolution':{'hours':8,'time':'calendar'}}}");
    /* opened 08:00, answered 08:30 (new -> open), a note, the customer
     * again at 09:00, an autoreply, pending since 09:30 */
    long long a = old_ticket("pending", "normal", "2024-06-03 08:00", "2024-06-03 09:30");
    old_message(a, "in", "public", "none", "2024-06-03 08:00");
    long long a2 = old_message(a, "out", "public", "none", "2024-06-03 08:30");
    old_change(a, 2, "{\"status\": {\"from\": \"new\", \"to\": \"open\"}}", "2024-06-03 08:30");
    old_message(a, "out", "internal", "none", "2024-06-03 08:40");
    long long a4 = old_message(a, "in", "public", "none", "2024-06-03 09:00");
    old_message(a, "in", "public", "autoreply", "2024-06-03 09:05");
    old_change(a, 6, "{\"status\": {\"from\": \"open\", \"to\": \"pending\"}}", "2024-06-03 09:30");
    /* a ticket from before the change history: pending and high since its last update */
    long long d = old_ticket("pending", "high", "2024-06-03 07:00", "2024-06-03 09:00");
    old_message(d, "in", "public", "none", "2024-06-03 07:00");
    /* moved and raised: it opened in escalations, normal */
    long long m = old_ticket("new", "high", "2024-06-03 08:00", "2024-06-03 08:10");
    old_message(m, "in", "public", "none", "2024-06-03 08:00");
    PQclear(sqlr("UPDATE tickets SET queue_id = %lld WHERE id = %lld", q_support, m));
    char ch[256];
    snprintf(ch, sizeof(ch), "{\"queue_id\": {\"from\": %lld, \"to\": %lld}, \"priority\": {\"from\": \"normal\","
             " \"to\": \"high\"}}", q_escal, q_support);
    old_change(m, 2, ch, "2024-06-03 08:10");
    /* solved and merged tickets are not tracked */
    long long solved = old_ticket("solved", "normal", "2024-06-01 08:00", "2024-06-01 09:00");
    long long merged = old_ticket("open", "normal", "2024-06-01 08:00", "2024-06-01 09:00");
    PQclear(sqlr("UPDATE tickets SET merged_into = %lld WHERE id = %lld", a, merged));
    /* a ticket its hooks started */
    clock_at(Z("2024-06-03 09:45"));
    long long b = new_ticket(q_support, "normal");
    created(b, q_support, "normal");
    char want_b[512];
    snprintf(want_b, sizeof(want_b), "%s", ledger_text(b));

    clock_at(Z("2024-06-03 10:00"));
    backfill();
    char want[512];
    snprintf(want, sizeof(want), "start start, response message:%lld, change version:2, customer message:%lld,"
             " change version:6", a2, a4);
    ck_assert_str_eq(ledger_text(a), want);
    json_t *v = view(a);
    ck_assert(json_is_true(json_object_get(v, "tracked")));
    ck_assert_str_eq(clock_field(v, "first_response", "state"), "achieved");
    ck_assert_str_eq(clock_field(v, "resolution", "state"), "paused");
    ck_assert_str_eq(clock_field(v, "resolution", "used_seconds"), "5400");      /* 08:00 - 09:30 */
    ck_assert_str_eq(clock_field(v, "next_response", "state"), "paused");
    ck_assert_str_eq(clock_field(v, "next_response", "used_seconds"), "1800");   /* 09:00 - 09:30 */
    json_decref(v);
    /* its first response was owed at 08:00: recorded, not escalated */
    ck_assert_str_eq(ledger_text(d), "start start, warning, breach, change current");
    /* no history of its priority: it had the present one from the start */
    ck_assert_str_eq(qstr("SELECT status || ' ' || coalesce(priority, '-') || ' ' || to_char(at AT TIME ZONE 'UTC', 'HH24:MI')"
                          " FROM sla_ledger WHERE ticket_id = %lld AND kind = 'change'", d), "pending - 09:00");
    ck_assert_str_eq(qstr("SELECT priority FROM sla_ledger WHERE ticket_id = %lld AND kind = 'start'", d), "high");
    v = view(d);
    ck_assert_str_eq(clock_field(v, "resolution", "used_seconds"), "7200");      /* 07:00 - 09:00 */
    ck_assert_str_eq(clock_field(v, "first_response", "state"), "paused");
    json_decref(v);
    ck_assert_str_eq(qstr("SELECT queue_id || ' ' || priority FROM sla_ledger WHERE ticket_id = %lld"
                          " AND kind = 'start'", m), (snprintf(ch, sizeof(ch), "%lld normal", q_escal), ch));
    ck_assert_str_eq(ledger_text(m), "start start, change version:2, warning, breach");
    ck_assert_int_eq(qint("SELECT count(*) FROM sla_tickets WHERE ticket_id IN (%lld, %lld)", solved, merged), 0);
    ck_assert_str_eq(ledger_text(b), want_b);                                    /* left alone */
    ck_assert_str_eq(ledger_text(b), "start start");

    /* twice: the same ledger, the same states */
    long long n = qint("SELECT count(*) FROM sla_ledger");
    char states[2048];
    snprintf(states, sizeof(states), "%s", qstr("SELECT string_agg(s::text, '|' ORDER BY ticket_id) FROM"
                                                " (SELECT ticket_id, policy_id, ledger_last, due_at, fr_used_ms, res_used_ms"
                                                " FROM sla_tickets) s"));
    clock_at(Z("2024-06-03 10:05"));
    backfill();
    ck_assert_int_eq(qint("SELECT count(*) FROM sla_ledger"), n);
    ck_assert_str_eq(qstr("SELECT string_agg(s::text, '|' ORDER BY ticket_id) FROM"
                          " (SELECT ticket_id, policy_id, ledger_last, due_at, fr_used_ms, res_used_ms FROM sla_tickets) s"),
                     states);
    ck_assert_str_eq(ledger_text(a), want);

    /* the admin route asks for one */
    fakehost_clear(fh);
    json_t *o = route("POST", "/backfill", NULL, NULL, ATUM_ROLE_ADMIN, u_manager, 202);
    ck_assert_str_eq(json_string_value(json_object_get(o, "status")), "backfill queued");
    json_decref(o);
    ck_assert_uint_eq(count_enqueued("sla.backfill"), 1);
}
END_TEST

START_TEST(backfill_records_past_breaches_without_escalating)
{
    create("/policies", "{'name':'Strict','targets':{'first_response':{'hours':1,'time':'calendar'},"
                        "'resolution':{'hours':4,'time':'calendar'}},"
                        "'escalation':{'warning':[{'notify':'assignee'}],'breach':[{'notify':'managers'},"
                        "{'priority':'raise'}]}}");
    /* two days old, never answered */
    long long e = old_ticket("new", "normal", "2024-06-01 08:00", "2024-06-01 08:00");
    old_message(e, "in", "public", "none", "2024-06-01 08:00");
    /* half an hour old: its deadlines are still to come */
    long long f = old_ticket("new", "normal", "2024-06-03 09:30", "2024-06-03 09:30");
    old_message(f, "in", "public", "none", "2024-06-03 09:30");
    clock_at(Z("2024-06-03 10:00"));
    fakehost_clear(fh);
    backfill();
    /* recorded at the moments they were owed, not escalated */
    ck_assert_str_eq(ledger_text(e), "start start, warning, breach, warning, breach");
    ck_assert_str_eq(qstr("SELECT string_agg(kind || ' ' || clock || ' ' || to_char(at AT TIME ZONE 'UTC',"
                          " 'MM-DD HH24:MI') || ' ' || (detail->>'backfill') || ' ' || (detail->>'superseded')"
                          " || ' ' || (detail->'actions')::text, ', ' ORDER BY at, id) FROM sla_ledger"
                          " WHERE ticket_id = %lld AND kind IN ('warning', 'breach')", e),
                     "warning first_response 06-01 08:48 true true [], breach first_response 06-01 09:00 true false [],"
                     " warning resolution 06-01 11:12 true true [], breach resolution 06-01 12:00 true false []");
    ck_assert_uint_eq(fakehost_nmail(fh), 0);
    ck_assert_uint_eq(fakehost_nticket_changes(fh), 0);
    ck_assert_uint_eq(count_events("sla.breached"), 0);
    ck_assert_uint_eq(count_events("sla.warning"), 0);
    ck_assert(counted("atum_sla_breaches_total", "first_response") == 0);
    json_t *v = view(e);
    ck_assert_str_eq(clock_field(v, "first_response", "breached_at"), "2024-06-01T09:00:00Z");
    ck_assert(json_is_true(json_object_get(json_object_get(json_object_get(v, "clocks"), "resolution"), "breached")));
    json_decref(v);
    ck_assert_str_eq(outcomes(e), "false 2024-06-01 09:00, false 2024-06-01 12:00");
    ck_assert_str_eq(ledger_text(f), "start start");
    /* the tick has nothing owed for the old one; the new one escalates at its moment */
    fakehost_clear(fh);
    tick();
    ck_assert_uint_eq(fakehost_nmail(fh), 0);
    clock_at(Z("2024-06-03 10:30"));
    fakehost_clear(fh);
    tick();
    ck_assert_uint_eq(count_events("sla.breached"), 1);
    ck_assert_uint_eq(fakehost_nmail(fh), 1);
    ck_assert_str_eq(fakehost_mail_at(fh, 0)->to, "boss@example.com");
    ck_assert_uint_eq(fakehost_nticket_changes(fh), 1);
    ck_assert_int_eq(qint("SELECT count(*) FROM sla_ledger WHERE ticket_id = %lld AND kind = 'breach'"
                          " AND detail->>'backfill' IS NULL", f), 1);
    ck_assert_int_eq(qint("SELECT count(*) FROM sla_ledger WHERE ticket_id = %lld AND kind = 'breach'", e), 2);
}
END_TEST

/* The hook of the same ticket before the backfill, and after it (pending
 * while the backfill ran): one start, each event once. */
START_TEST(backfill_and_hooks_record_each_event_once)
{
    create("/policies", "{'name':'Plain','targets':{'first_response':{'hours':1,'time':'calendar'},"
                        "'next_response':{'hours':2,'time':'calendar'},'resolution':{'hours':8,'time':'calendar'}}}");
    char sbuf[64];
    /* hook first: the customer writes on an old ticket, then the backfill */
    long long g = old_ticket("new", "normal", "2024-06-03 08:00", "2024-06-03 08:00");
    old_message(g, "in", "public", "none", "2024-06-03 08:00");
    long long g2 = old_message(g, "in", "public", "none", "2024-06-03 09:00");
    clock_at(Z("2024-06-03 09:00"));
    hook("message.created", "{\"ticket_id\": %lld, \"message_id\": %lld, \"direction\": \"in\","
         " \"visibility\": \"public\", \"robot\": \"none\", \"new_ticket\": false}", g, g2);
    snprintf(sbuf, sizeof(sbuf), "customer message:%lld", g2);
    ck_assert_str_eq(ledger_text(g), sbuf);
    json_t *v = view(g);
    ck_assert(!json_is_true(json_object_get(v, "tracked")));
    json_decref(v);
    /* backfill first: the hooks of its opening message, its reply and
     * its status change were still pending */
    long long h = old_ticket("open", "normal", "2024-06-03 08:00", "2024-06-03 08:20");
    long long h1 = old_message(h, "in", "public", "none", "2024-06-03 08:00");
    long long h2 = old_message(h, "out", "public", "none", "2024-06-03 08:20");
    old_change(h, 2, "{\"status\": {\"from\": \"new\", \"to\": \"open\"}}", "2024-06-03 08:20");

    clock_at(Z("2024-06-03 09:10"));
    backfill();
    char want[256];
    /* (its first response was owed at 09:00: recorded by the backfill) */
    snprintf(want, sizeof(want), "start start, warning, customer message:%lld, breach", g2);
    ck_assert_str_eq(ledger_text(g), want);
    v = view(g);
    ck_assert_str_eq(clock_field(v, "first_response", "state"), "running");
    ck_assert_str_eq(clock_field(v, "first_response", "due_at"), "2024-06-03T09:00:00Z");
    json_decref(v);
    snprintf(want, sizeof(want), "start start, response message:%lld, change version:2", h2);
    ck_assert_str_eq(ledger_text(h), want);
    long long before = qint("SELECT ledger_last FROM sla_tickets WHERE ticket_id = %lld", h);

    clock_at(Z("2024-06-03 09:11"));
    hook("message.created", "{\"ticket_id\": %lld, \"message_id\": %lld, \"direction\": \"in\","
         " \"visibility\": \"public\", \"robot\": \"none\", \"new_ticket\": true}", h, h1);
    hook("message.created", "{\"ticket_id\": %lld, \"message_id\": %lld, \"direction\": \"out\","
         " \"visibility\": \"public\", \"robot\": \"none\", \"new_ticket\": false}", h, h2);
    hook("ticket.updated", "{\"ticket_id\": %lld, \"changes\": {\"status\": {\"from\": \"new\", \"to\": \"open\"}},"
         " \"version\": 2}", h);
    ck_assert_str_eq(ledger_text(h), want);
    ck_assert_int_eq(qint("SELECT ledger_last FROM sla_tickets WHERE ticket_id = %lld", h), before);
    /* a hook run twice records once too; a new event after the backfill is recorded */
    long long h3 = old_message(h, "in", "public", "none", "2024-06-03 09:12");
    clock_at(Z("2024-06-03 09:12"));
    for (int i = 0; i < 2; i++)
        hook("message.created", "{\"ticket_id\": %lld, \"message_id\": %lld, \"direction\": \"in\","
             " \"visibility\": \"public\", \"robot\": \"none\", \"new_ticket\": false}", h, h3);
    snprintf(want, sizeof(want), "start start, response message:%lld, change version:2, customer message:%lld", h2, h3);
    ck_assert_str_eq(ledger_text(h), want);
    v = view(h);
    ck_assert_str_eq(clock_field(v, "next_response", "state"), "running");
    json_decref(v);
    /* and the backfill again finds nothing to do */
    backfill();
    ck_assert_str_eq(ledger_text(h), want);
    ck_assert_int_eq(qint("SELECT count(*) FROM sla_ledger WHERE kind = 'start'"), 2);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("sla_pg");
    TCase *tc = tcase_create("sla_pg");
    tcase_set_timeout(tc, 120);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, warning_and_breach_fire_once_at_their_moments);
    tcase_add_test(tc, pause_reply_and_next_response);
    tcase_add_test(tc, one_pending_tick_covers_later_moments);
    tcase_add_test(tc, hooks_out_of_order);
    tcase_add_test(tc, calendar_edit_moves_deadlines);
    tcase_add_test(tc, disabled_policy_clears_escalation);
    tcase_add_test(tc, priority_change_keeps_accrued_pause);
    tcase_add_test(tc, routes_refuse_bad_input_clearly);
    tcase_add_test(tc, routes_answer_what_the_desk_shows);
    tcase_add_test(tc, staff_opened_ticket_is_answered);
    tcase_add_test(tc, the_ledger_is_append_only);
    tcase_add_test(tc, a_rolled_back_breach_is_not_counted);
    tcase_add_test(tc, the_dashboard_reads_the_outcomes);
    tcase_add_test(tc, a_tick_run_early_hands_over_to_its_moment);
    tcase_add_test(tc, backfill_starts_clocks_from_history);
    tcase_add_test(tc, backfill_records_past_breaches_without_escalating);
    tcase_add_test(tc, backfill_and_hooks_record_each_event_once);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
