/* test_engine -- the SLA clocks of a ticket (sla/engine.h) from its
 * ledger, with the test's own clock: the calendar matrix for each of
 * first response, next response and resolution, pauses, priority and
 * queue changes, policies switched off, rounds of next response, warnings
 * and breaches owed exactly once. */
#include "config.h"
#include "slatest.h"
#include "engine.h"
#include "policy.h"

#define WEEK(h) "'mon':[" h "],'tue':[" h "],'wed':[" h "],'thu':[" h "],'fri':[" h "]"
#define OFFICE "{'time_zone':'Europe/Berlin','hours':{" WEEK("'09:00-17:00'") "},'holidays':[" \
    "{'month':12,'day':25,'days':2},{'date':'2024-07-01','days':5},{'month':12,'day':31,'days':2}," \
    "{'month':2,'day':29}]}"
#define PLAIN "{'time_zone':'Europe/Berlin','hours':{" WEEK("'09:00-17:00'") "}}"

/* ---- a little world: policies, calendars, a ledger ---------------------- */
struct world {
    struct sla_policy pol[4];
    int npol;
    struct sla_calendar *cal[2];
    int ncal;
    struct sla_rules rules;
    struct sla_event ev[64];
    int nev;
    long long next_id;
};

static void world_init(struct world *w)
{
    memset(w, 0, sizeof(*w));
    w->next_id = 1;
}

static void world_free(struct world *w)
{
    for (int i = 0; i < w->ncal; i++)
        sla_calendar_free(&w->cal[i]);
}

static void add_cal(struct world *w, const char *json)
{
    w->cal[w->ncal] = cal_json(w->ncal + 1, json);
    w->ncal++;
}

static struct sla_policy *add_policy(struct world *w, const char *text)
{
    char buf[2048];
    snprintf(buf, sizeof(buf), "%s", text);
    for (char *p = buf; *p; p++)
        if (*p == '\'')
            *p = '"';
    json_error_t je;
    json_t *j = json_loads(buf, 0, &je);
    ck_assert_msg(j != NULL, "%s: %s", je.text, buf);
    const char *e = NULL;
    struct sla_policy *p = &w->pol[w->npol];
    ck_assert_msg(policy_parse(j, NULL, p, &e) == 0, "%s", e);
    json_decref(j);
    p->id = ++w->npol;
    return p;
}

static const struct sla_rules *rules(struct world *w)
{
    w->rules = (struct sla_rules){ w->pol, w->npol, w->cal, w->ncal };
    return &w->rules;
}

static void ev(struct world *w, int64_t at, enum sla_event_kind k, int status, long long queue, int prio)
{
    w->ev[w->nev++] = (struct sla_event){ w->next_id++, at, k, status, queue, prio, 0, 0, NULL };
}
#define START(w, at) ev(w, at, SLA_EV_START, SLA_ST_NEW, 1, 1)
#define STATUS(w, at, st) ev(w, at, SLA_EV_CHANGE, st, 0, -1)
#define PRIORITY(w, at, p) ev(w, at, SLA_EV_CHANGE, -1, 0, p)
#define QUEUE(w, at, q) ev(w, at, SLA_EV_CHANGE, -1, q, -1)
#define RESPONSE(w, at) ev(w, at, SLA_EV_RESPONSE, -1, 0, -1)
#define CUSTOMER(w, at) ev(w, at, SLA_EV_CUSTOMER, -1, 0, -1)

static void fired(struct world *w, int64_t at, enum sla_event_kind k, int clock, int round)
{
    w->ev[w->nev++] = (struct sla_event){ w->next_id++, at, k, -1, 0, -1, clock, round, NULL };
}

static void compute(struct world *w, int64_t now, struct sla_state *s)
{
    struct sla_event copy[64];
    memcpy(copy, w->ev, sizeof(copy));
    ck_assert_int_eq(sla_compute(rules(w), copy, w->nev, now, true, s), 0);
}

/* The clock under test starts at `at`: first response and resolution
 * with the ticket, next response with a customer's message on an older
 * ticket that was answered. */
static void clock_starts(struct world *w, int clock, int64_t at)
{
    if (clock == SLA_NEXT_RESPONSE) {
        START(w, at - 72 * H);
        RESPONSE(w, at - 72 * H + 1);
        CUSTOMER(w, at);
    } else {
        START(w, at);
    }
}

static void policy_for(struct world *w, int clock, const char *target, int warn)
{
    char buf[512];
    snprintf(buf, sizeof(buf), "{'name':'p','calendar':1,'warn_percent':%d,'targets':{'%s':%s}}", warn,
             sla_clock_name(clock), target);
    add_policy(w, buf);
}

/* ---- the calendar matrix, for each clock -------------------------------- */

static const struct matrix_case {
    const char *what, *cal, *start;
    int minutes;
    const char *due;
    bool due_utc;
} matrix[] = {
    { "Berlin spring forward", "{'time_zone':'Europe/Berlin','hours':{'sun':['00:00-12:00']}}",
      "2024-03-31 00:00", 240, "2024-03-31 03:00", true },
    { "Berlin fall back", "{'time_zone':'Europe/Berlin','hours':{'sun':['00:00-12:00']}}",
      "2024-10-27 00:00", 240, "2024-10-27 02:00", true },
    { "New York spring forward", "{'time_zone':'America/New_York','hours':{'sun':['00:00-12:00']}}",
      "2024-03-10 00:00", 240, "2024-03-10 09:00", true },
    { "New York fall back", "{'time_zone':'America/New_York','hours':{'sun':['00:00-12:00']}}",
      "2024-11-03 00:00", 240, "2024-11-03 08:00", true },
    { "Sao Paulo midnight", "{'time_zone':'America/Sao_Paulo','hours':{'sun':['00:00-08:00']}}",
      "2018-11-03 23:00", 60, "2018-11-04 04:00", true },
    { "Lord Howe half hour", "{'time_zone':'Australia/Lord_Howe','hours':{'sun':['00:00-06:00']}}",
      "2024-10-06 00:00", 180, "2024-10-05 16:30", true },
    { "Kolkata no DST", "{'time_zone':'Asia/Kolkata','hours':{" WEEK("'09:30-18:00'") "}}",
      "2024-06-07 17:00", 120, "2024-06-10 10:30", false },
    { "Apia skipped day", "{'time_zone':'Pacific/Apia','hours':{" WEEK("'09:00-17:00'") ",'sat':['09:00-17:00']}}",
      "2011-12-29 16:00", 240, "2011-12-30 22:00", true },
    { "outside hours", OFFICE, "2024-06-04 20:00", 120, "2024-06-05 11:00", false },
    { "weekend", OFFICE, "2024-06-08 10:00", 120, "2024-06-10 11:00", false },
    { "holiday", OFFICE, "2024-12-25 10:00", 120, "2024-12-27 11:00", false },
    { "multi-day holiday", OFFICE, "2024-06-28 16:00", 120, "2024-07-08 10:00", false },
    { "yearly holiday across the year end", OFFICE, "2024-12-30 16:00", 120, "2025-01-02 10:00", false },
    { "leap day", OFFICE, "2024-02-28 16:00", 120, "2024-03-01 10:00", false },
    { "year end", PLAIN, "2024-12-31 16:30", 120, "2025-01-01 10:30", false },
    { "overnight shift", "{'time_zone':'Europe/Berlin','hours':{" WEEK("'22:00-06:00'") "}}",
      "2024-06-07 23:00", 480, "2024-06-10 23:00", false },
    { "24/7 across DST", "{'time_zone':'Europe/Berlin','hours':'24/7'}", "2024-03-30 12:00", 1440,
      "2024-03-31 11:00", true },
    { "split day", "{'time_zone':'Europe/Berlin','hours':{'mon':['09:00-12:00','13:00-17:00']}}",
      "2024-06-03 11:30", 60, "2024-06-03 13:30", false },
};

START_TEST(matrix_each_clock)
{
    const struct matrix_case *m = &matrix[_i / SLA_CLOCKS];
    int clock = _i % SLA_CLOCKS;
    struct world w;
    world_init(&w);
    add_cal(&w, m->cal);
    char target[64];
    snprintf(target, sizeof(target), "{'minutes':%d,'time':'business'}", m->minutes);
    policy_for(&w, clock, target, 0);
    int64_t start = L(w.cal[0], m->start);
    int64_t due = m->due_utc ? Z(m->due) : L(w.cal[0], m->due);
    clock_starts(&w, clock, start);

    struct sla_state s;
    compute(&w, start, &s);
    const struct sla_clock_state *c = &s.c[clock];
    ck_assert_msg(c->mode == SLA_MODE_RUNNING, "%s / %s: %s", m->what, sla_clock_name(clock),
                  sla_mode_name(c->mode));
    ck_assert_instant(c->due_at, due);
    ck_assert_instant(s.next_due, due);
    sla_state_clear(&s);
    /* any time before it, the same deadline; at it, breached */
    compute(&w, start + (due - start) / 3, &s);
    ck_assert_instant(s.c[clock].due_at, due);
    ck_assert(!s.c[clock].breached);
    sla_state_clear(&s);
    compute(&w, due, &s);
    ck_assert_msg(s.c[clock].breached, "%s / %s", m->what, sla_clock_name(clock));
    ck_assert_instant(s.c[clock].breached_at, due);
    ck_assert_int_eq(s.c[clock].used, (int64_t)m->minutes * MIN);
    struct sla_firing f[6];
    ck_assert_int_eq(sla_firings(&s, due, f), 1);
    ck_assert_int_eq(f[0].clock, clock);
    ck_assert_int_eq(f[0].level, SLA_BREACH);
    sla_state_clear(&s);
    /* once recorded in the ledger, it is owed no more */
    fired(&w, due + 1500, SLA_EV_BREACH, clock, clock == SLA_NEXT_RESPONSE ? 1 : 0);
    compute(&w, due + 2000, &s);
    ck_assert_int_eq(sla_firings(&s, due + 2000, f), 0);
    ck_assert_instant(s.next_due, SLA_NONE);
    sla_state_clear(&s);
    world_free(&w);
}
END_TEST

/* ---- pauses --------------------------------------------------------------- */

/* pending from Monday 12:00 to Tuesday 14:00: 2 h used, the 10 business
 * hours in between are paused, the 4 h target ends Tuesday 16:00 */
START_TEST(pause_resume_across_closed_hours)
{
    int clock = _i;
    struct world w;
    world_init(&w);
    add_cal(&w, PLAIN);
    policy_for(&w, clock, "{'hours':4}", 0);
    const struct sla_calendar *c = w.cal[0];
    clock_starts(&w, clock, L(c, "2024-06-03 10:00"));
    STATUS(&w, L(c, "2024-06-03 12:00"), SLA_ST_PENDING);
    struct sla_state s;
    compute(&w, L(c, "2024-06-04 08:00"), &s);
    ck_assert_int_eq(s.c[clock].mode, SLA_MODE_PAUSED);
    ck_assert_instant(s.c[clock].due_at, SLA_NONE);
    ck_assert_instant(s.next_due, SLA_NONE);
    ck_assert_int_eq(s.c[clock].paused, 5 * H);
    sla_state_clear(&s);
    STATUS(&w, L(c, "2024-06-04 14:00"), SLA_ST_OPEN);
    compute(&w, L(c, "2024-06-04 14:00"), &s);
    ck_assert_int_eq(s.c[clock].mode, SLA_MODE_RUNNING);
    ck_assert_int_eq(s.c[clock].used, 2 * H);
    ck_assert_int_eq(s.c[clock].paused, 10 * H);
    ck_assert_instant(s.c[clock].due_at, L(c, "2024-06-04 16:00"));
    sla_state_clear(&s);
    world_free(&w);
}
END_TEST

/* a 24/7 calendar in Berlin: pending 22:00 Saturday to 10:00 Sunday
 * across the spring-forward night is 11 real hours paused */
START_TEST(pause_across_dst)
{
    int clock = _i;
    for (int business = 0; business < 2; business++) {
        struct world w;
        world_init(&w);
        add_cal(&w, "{'time_zone':'Europe/Berlin','hours':'24/7'}");
        policy_for(&w, clock, business ? "{'hours':10,'time':'business'}" : "{'hours':10,'time':'calendar'}", 0);
        const struct sla_calendar *c = w.cal[0];
        clock_starts(&w, clock, L(c, "2024-03-30 20:00"));
        STATUS(&w, L(c, "2024-03-30 22:00"), SLA_ST_PENDING);
        STATUS(&w, L(c, "2024-03-31 10:00"), SLA_ST_OPEN);
        struct sla_state s;
        compute(&w, L(c, "2024-03-31 10:00"), &s);
        ck_assert_int_eq(s.c[clock].paused, 11 * H);
        ck_assert_int_eq(s.c[clock].used, 2 * H);
        ck_assert_instant(s.c[clock].due_at, L(c, "2024-03-31 18:00"));
        sla_state_clear(&s);
        world_free(&w);
    }
}
END_TEST

/* pending from 11:00 to 15:00 with a 2 h target that would have ended at
 * 12:00: nothing is owed while paused, the deadline moves to 16:00 */
START_TEST(pause_over_the_deadline)
{
    int clock = _i;
    struct world w;
    world_init(&w);
    add_cal(&w, "{'time_zone':'UTC','hours':'24/7'}");
    policy_for(&w, clock, "{'hours':2,'time':'calendar'}", 50);
    clock_starts(&w, clock, Z("2024-06-03 10:00"));
    STATUS(&w, Z("2024-06-03 11:00"), SLA_ST_PENDING);
    struct sla_state s;
    struct sla_firing f[6];
    compute(&w, Z("2024-06-03 12:30"), &s);        /* the old deadline passed */
    ck_assert(!s.c[clock].breached);
    ck_assert(s.c[clock].warned);                   /* 50 % was reached at 11:00 */
    ck_assert_int_eq(sla_firings(&s, Z("2024-06-03 12:30"), f), 0);   /* paused: no warning now */
    ck_assert_instant(s.next_due, SLA_NONE);
    sla_state_clear(&s);
    STATUS(&w, Z("2024-06-03 15:00"), SLA_ST_OPEN);
    compute(&w, Z("2024-06-03 15:00"), &s);
    ck_assert_instant(s.c[clock].due_at, Z("2024-06-03 16:00"));
    ck_assert_instant(s.next_due, Z("2024-06-03 11:00"));   /* the warning is owed at once */
    ck_assert_int_eq(sla_firings(&s, Z("2024-06-03 15:00"), f), 1);
    ck_assert_int_eq(f[0].level, SLA_WARNING);
    sla_state_clear(&s);
    world_free(&w);
}
END_TEST

/* ---- policy changes ------------------------------------------------------ */

/* high -> 4 h, anything else -> 8 h; pending 11:00-13:00, priority high at
 * 14:00: the 2 h used and the 2 h paused carry over, due 16:00 */
START_TEST(priority_change_keeps_accrued_pause)
{
    int clock = _i;
    struct world w;
    world_init(&w);
    char p[256];
    snprintf(p, sizeof(p), "{'name':'high','priorities':['high'],'targets':{'%s':{'hours':4}}}",
             sla_clock_name(clock));
    add_policy(&w, p);
    snprintf(p, sizeof(p), "{'name':'other','targets':{'%s':{'hours':8}}}", sla_clock_name(clock));
    add_policy(&w, p);
    clock_starts(&w, clock, Z("2024-06-03 10:00"));
    STATUS(&w, Z("2024-06-03 11:00"), SLA_ST_PENDING);
    STATUS(&w, Z("2024-06-03 13:00"), SLA_ST_OPEN);
    struct sla_state s;
    compute(&w, Z("2024-06-03 13:30"), &s);
    ck_assert_str_eq(s.policy->name, "other");
    ck_assert_instant(s.c[clock].due_at, Z("2024-06-03 20:00"));
    sla_state_clear(&s);
    PRIORITY(&w, Z("2024-06-03 14:00"), 2);
    compute(&w, Z("2024-06-03 14:00"), &s);
    ck_assert_str_eq(s.policy->name, "high");
    ck_assert_int_eq(s.c[clock].used, 2 * H);
    ck_assert_int_eq(s.c[clock].paused, 2 * H);
    ck_assert_instant(s.c[clock].due_at, Z("2024-06-03 16:00"));
    /* the ledger's explanation names the change */
    bool seen = false;
    for (int i = 0; i < s.neffects; i++)
        seen = seen || (s.effects[i].clock == -1 && s.effects[i].policy_from == 2 && s.effects[i].policy_to == 1);
    ck_assert(seen);
    sla_state_clear(&s);
    /* a change to a policy whose target is already used up breaches at once */
    PRIORITY(&w, Z("2024-06-03 14:30"), 1);
    PRIORITY(&w, Z("2024-06-03 19:00"), 2);    /* 2 + 0.5 + 4.5 = 7 h used > 4 h */
    compute(&w, Z("2024-06-03 19:00"), &s);
    ck_assert(s.c[clock].breached);
    ck_assert_instant(s.c[clock].breached_at, Z("2024-06-03 19:00"));
    sla_state_clear(&s);
    world_free(&w);
}
END_TEST

START_TEST(queue_change_rematches)
{
    struct world w;
    world_init(&w);
    add_policy(&w, "{'name':'vip','queues':[7],'targets':{'first_response':{'minutes':30}}}");
    add_policy(&w, "{'name':'default','targets':{'first_response':{'hours':4}}}");
    START(&w, Z("2024-06-03 10:00"));
    QUEUE(&w, Z("2024-06-03 10:10"), 7);
    struct sla_state s;
    compute(&w, Z("2024-06-03 10:10"), &s);
    ck_assert_str_eq(s.policy->name, "vip");
    ck_assert_instant(s.c[SLA_FIRST_RESPONSE].due_at, Z("2024-06-03 10:30"));
    sla_state_clear(&s);
    world_free(&w);
}
END_TEST

/* a policy switched off no longer applies: nothing is owed, nothing fires */
START_TEST(disabled_policy_clears_escalation)
{
    struct world w;
    world_init(&w);
    struct sla_policy *p = add_policy(&w, "{'name':'p','warn_percent':50,"
                                          "'targets':{'first_response':{'hours':1},'resolution':{'hours':8}}}");
    START(&w, Z("2024-06-03 10:00"));
    struct sla_state s;
    struct sla_firing f[6];
    compute(&w, Z("2024-06-03 10:45"), &s);
    ck_assert_instant(s.next_due, Z("2024-06-03 10:30"));
    ck_assert_int_eq(sla_firings(&s, Z("2024-06-03 10:45"), f), 1);
    sla_state_clear(&s);
    p->enabled = false;
    compute(&w, Z("2024-06-03 12:00"), &s);
    ck_assert_ptr_null(s.policy);
    ck_assert(!s.c[SLA_FIRST_RESPONSE].tracked);
    ck_assert_instant(s.next_due, SLA_NONE);
    ck_assert_int_eq(sla_firings(&s, Z("2024-06-03 12:00"), f), 0);
    sla_state_clear(&s);
    world_free(&w);
}
END_TEST

/* ---- outcomes (the view sla_outcomes, the dashboard's SLA compliance) ---- */

static enum sla_verdict verdict(const struct sla_state *s, int clock, int64_t *at)
{
    struct sla_outcome o;
    ck_assert_int_eq(sla_clock_outcome(s, clock, &o), 1);
    *at = o.decided_at;
    return o.verdict;
}

/* first response met, resolution missed and answered later, next
 * response: round 1 met, round 2 missed (answered late), round 3 running;
 * a reopen makes a met resolution undecided again */
START_TEST(outcomes_met_missed_undecided)
{
    struct world w;
    world_init(&w);
    add_policy(&w, "{'name':'p','warn_percent':0,'targets':{'first_response':{'hours':1},"
                   "'next_response':{'minutes':30},'resolution':{'hours':4}}}");
    START(&w, Z("2024-06-03 10:00"));
    struct sla_state s;
    int64_t at;
    struct sla_outcome o;
    compute(&w, Z("2024-06-03 10:10"), &s);
    ck_assert_int_eq(verdict(&s, SLA_FIRST_RESPONSE, &at), SLA_UNDECIDED);
    ck_assert_instant(at, SLA_NONE);
    ck_assert_int_eq(verdict(&s, SLA_RESOLUTION, &at), SLA_UNDECIDED);
    ck_assert_int_eq(sla_clock_outcome(&s, SLA_NEXT_RESPONSE, &o), 0);   /* no round yet */
    ck_assert_int_eq(s.nrounds, 0);
    sla_state_clear(&s);

    RESPONSE(&w, Z("2024-06-03 10:40"));
    CUSTOMER(&w, Z("2024-06-03 11:00"));
    RESPONSE(&w, Z("2024-06-03 11:20"));            /* round 1 in time */
    CUSTOMER(&w, Z("2024-06-03 12:00"));
    RESPONSE(&w, Z("2024-06-03 13:00"));            /* round 2 late: missed at 12:30 */
    CUSTOMER(&w, Z("2024-06-03 15:00"));            /* round 3 running */
    compute(&w, Z("2024-06-03 15:10"), &s);
    ck_assert_int_eq(verdict(&s, SLA_FIRST_RESPONSE, &at), SLA_MET);
    ck_assert_instant(at, Z("2024-06-03 10:40"));
    ck_assert_int_eq(verdict(&s, SLA_RESOLUTION, &at), SLA_MISSED);
    ck_assert_instant(at, Z("2024-06-03 14:00"));
    ck_assert_int_eq(s.nrounds, 2);
    ck_assert_int_eq(s.rounds[0].round, 1);
    ck_assert_int_eq(s.rounds[0].verdict, SLA_MET);
    ck_assert_instant(s.rounds[0].decided_at, Z("2024-06-03 11:20"));
    ck_assert_int_eq(s.rounds[1].round, 2);
    ck_assert_int_eq(s.rounds[1].verdict, SLA_MISSED);
    ck_assert_instant(s.rounds[1].decided_at, Z("2024-06-03 12:30"));
    ck_assert_int_eq(verdict(&s, SLA_NEXT_RESPONSE, &at), SLA_UNDECIDED);
    sla_state_clear(&s);

    /* round 3 answered in time: in the rounds, no running round */
    RESPONSE(&w, Z("2024-06-03 15:20"));
    compute(&w, Z("2024-06-03 15:30"), &s);
    ck_assert_int_eq(s.nrounds, 3);
    ck_assert_int_eq(s.rounds[2].verdict, SLA_MET);
    ck_assert_int_eq(sla_clock_outcome(&s, SLA_NEXT_RESPONSE, &o), 0);
    sla_state_clear(&s);
    world_free(&w);

    /* resolution met when solved in time; a reopen undecides it */
    world_init(&w);
    add_policy(&w, "{'name':'p','targets':{'resolution':{'hours':4}}}");
    START(&w, Z("2024-06-03 10:00"));
    STATUS(&w, Z("2024-06-03 11:00"), SLA_ST_SOLVED);
    compute(&w, Z("2024-06-03 12:00"), &s);
    ck_assert_int_eq(verdict(&s, SLA_RESOLUTION, &at), SLA_MET);
    ck_assert_instant(at, Z("2024-06-03 11:00"));
    ck_assert_int_eq(sla_clock_outcome(&s, SLA_FIRST_RESPONSE, &o), 0);   /* no target */
    sla_state_clear(&s);
    STATUS(&w, Z("2024-06-03 13:00"), SLA_ST_OPEN);
    compute(&w, Z("2024-06-03 13:00"), &s);
    ck_assert_int_eq(verdict(&s, SLA_RESOLUTION, &at), SLA_UNDECIDED);
    sla_state_clear(&s);
    world_free(&w);
}
END_TEST

/* a missed target stays missed when the ticket leaves its policy (moved
 * to a queue no policy covers); a target met under a policy stays met */
START_TEST(outcomes_outlive_the_policy)
{
    struct world w;
    world_init(&w);
    add_policy(&w, "{'name':'support','queues':[1],'targets':{'first_response':{'hours':1},"
                   "'resolution':{'hours':2}}}");
    START(&w, Z("2024-06-03 10:00"));
    RESPONSE(&w, Z("2024-06-03 10:30"));
    QUEUE(&w, Z("2024-06-03 12:30"), 9);            /* resolution missed at 12:00, then moved */
    struct sla_state s;
    int64_t at;
    compute(&w, Z("2024-06-03 13:00"), &s);
    ck_assert_ptr_null(s.policy);
    ck_assert_int_eq(verdict(&s, SLA_FIRST_RESPONSE, &at), SLA_MET);
    ck_assert_instant(at, Z("2024-06-03 10:30"));
    ck_assert_int_eq(verdict(&s, SLA_RESOLUTION, &at), SLA_MISSED);
    ck_assert_instant(at, Z("2024-06-03 12:00"));
    sla_state_clear(&s);
    world_free(&w);
}
END_TEST

/* ---- the clocks' own rules ------------------------------------------------ */

START_TEST(customer_reply_restarts_next_response)
{
    struct world w;
    world_init(&w);
    add_policy(&w, "{'name':'p','warn_percent':0,'targets':{'next_response':{'minutes':20}}}");
    START(&w, Z("2024-06-03 09:00"));
    CUSTOMER(&w, Z("2024-06-03 09:05"));           /* before the first response: no round */
    struct sla_state s;
    compute(&w, Z("2024-06-03 09:06"), &s);
    ck_assert_int_eq(s.c[SLA_NEXT_RESPONSE].mode, SLA_MODE_NONE);
    sla_state_clear(&s);
    RESPONSE(&w, Z("2024-06-03 09:10"));
    CUSTOMER(&w, Z("2024-06-03 10:00"));           /* round 1 (a mail) */
    CUSTOMER(&w, Z("2024-06-03 10:05"));           /* the same round: the oldest unanswered counts */
    compute(&w, Z("2024-06-03 10:05"), &s);
    ck_assert_int_eq(s.c[SLA_NEXT_RESPONSE].round, 1);
    ck_assert_instant(s.c[SLA_NEXT_RESPONSE].due_at, Z("2024-06-03 10:20"));
    sla_state_clear(&s);
    RESPONSE(&w, Z("2024-06-03 10:30"));           /* late: round 1 breached */
    CUSTOMER(&w, Z("2024-06-03 12:00"));           /* round 2 (the portal) */
    compute(&w, Z("2024-06-03 12:01"), &s);
    ck_assert_int_eq(s.c[SLA_NEXT_RESPONSE].round, 2);
    ck_assert(!s.c[SLA_NEXT_RESPONSE].breached);
    ck_assert_int_eq(s.c[SLA_NEXT_RESPONSE].rounds_breached, 1);
    ck_assert_instant(s.c[SLA_NEXT_RESPONSE].due_at, Z("2024-06-03 12:20"));
    ck_assert_int_eq(s.c[SLA_NEXT_RESPONSE].used, 1 * MIN);
    sla_state_clear(&s);
    /* round 1's breach in the ledger does not count for round 2 */
    fired(&w, Z("2024-06-03 10:21"), SLA_EV_BREACH, SLA_NEXT_RESPONSE, 1);
    compute(&w, Z("2024-06-03 12:30"), &s);
    ck_assert(!s.c[SLA_NEXT_RESPONSE].breach_fired);
    ck_assert_int_eq(s.c[SLA_NEXT_RESPONSE].rounds_breached, 2);
    struct sla_firing f[6];
    ck_assert_int_eq(sla_firings(&s, Z("2024-06-03 12:30"), f), 1);
    ck_assert_int_eq(f[0].round, 2);
    sla_state_clear(&s);
    world_free(&w);
}
END_TEST

START_TEST(reopen_resumes_resolution)
{
    struct world w;
    world_init(&w);
    add_policy(&w, "{'name':'p','targets':{'resolution':{'hours':4},'first_response':{'hours':2}}}");
    START(&w, Z("2024-06-03 10:00"));
    STATUS(&w, Z("2024-06-03 11:00"), SLA_ST_SOLVED);
    struct sla_state s;
    compute(&w, Z("2024-06-03 12:00"), &s);
    ck_assert_int_eq(s.c[SLA_RESOLUTION].mode, SLA_MODE_ACHIEVED);
    ck_assert_int_eq(s.c[SLA_FIRST_RESPONSE].mode, SLA_MODE_STOPPED);   /* solved without an answer */
    ck_assert_instant(s.next_due, SLA_NONE);
    sla_state_clear(&s);
    STATUS(&w, Z("2024-06-03 13:00"), SLA_ST_OPEN);
    compute(&w, Z("2024-06-03 13:00"), &s);
    ck_assert_int_eq(s.c[SLA_RESOLUTION].mode, SLA_MODE_RUNNING);
    ck_assert_int_eq(s.c[SLA_RESOLUTION].used, 1 * H);
    ck_assert_instant(s.c[SLA_RESOLUTION].due_at, Z("2024-06-03 16:00"));
    sla_state_clear(&s);
    world_free(&w);
}
END_TEST

START_TEST(warning_then_breach_each_once)
{
    struct world w;
    world_init(&w);
    add_policy(&w, "{'name':'p','warn_percent':80,'targets':{'first_response':{'minutes':100}}}");
    START(&w, Z("2024-06-03 10:00"));
    struct sla_state s;
    struct sla_firing f[6];
    compute(&w, Z("2024-06-03 10:00"), &s);
    ck_assert_instant(s.c[SLA_FIRST_RESPONSE].warn_at, Z("2024-06-03 11:20"));
    ck_assert_instant(s.next_due, Z("2024-06-03 11:20"));
    sla_state_clear(&s);
    compute(&w, Z("2024-06-03 11:20"), &s);
    ck_assert_int_eq(sla_firings(&s, Z("2024-06-03 11:20"), f), 1);
    ck_assert_int_eq(f[0].level, SLA_WARNING);
    ck_assert(!f[0].superseded);
    sla_state_clear(&s);
    fired(&w, Z("2024-06-03 11:20"), SLA_EV_WARNING, SLA_FIRST_RESPONSE, 0);
    compute(&w, Z("2024-06-03 11:21"), &s);
    ck_assert_instant(s.next_due, Z("2024-06-03 11:40"));
    ck_assert_int_eq(sla_firings(&s, Z("2024-06-03 11:21"), f), 0);
    sla_state_clear(&s);

    /* a late tick owes both: the warning is recorded but superseded */
    struct world w2;
    world_init(&w2);
    add_policy(&w2, "{'name':'p','warn_percent':80,'targets':{'first_response':{'minutes':100}}}");
    START(&w2, Z("2024-06-03 10:00"));
    compute(&w2, Z("2024-06-03 12:00"), &s);
    ck_assert_int_eq(sla_firings(&s, Z("2024-06-03 12:00"), f), 2);
    ck_assert_int_eq(f[0].level, SLA_WARNING);
    ck_assert(f[0].superseded);
    ck_assert_int_eq(f[1].level, SLA_BREACH);
    ck_assert_instant(f[1].at, Z("2024-06-03 11:40"));
    sla_state_clear(&s);
    world_free(&w);
    world_free(&w2);
}
END_TEST

/* hooks of one ticket may run in any order: the ledger is put in time order */
START_TEST(order_of_recording_does_not_matter)
{
    struct world w;
    world_init(&w);
    add_cal(&w, PLAIN);
    add_policy(&w, "{'name':'p','calendar':1,'targets':{'first_response':{'hours':2},"
                   "'next_response':{'hours':1},'resolution':{'hours':8}}}");
    const struct sla_calendar *c = w.cal[0];
    START(&w, L(c, "2024-06-03 10:00"));
    STATUS(&w, L(c, "2024-06-03 11:00"), SLA_ST_PENDING);
    STATUS(&w, L(c, "2024-06-03 14:00"), SLA_ST_OPEN);
    RESPONSE(&w, L(c, "2024-06-03 15:00"));
    CUSTOMER(&w, L(c, "2024-06-03 16:30"));
    PRIORITY(&w, L(c, "2024-06-04 09:30"), 3);
    struct sla_state want;
    compute(&w, L(c, "2024-06-04 10:00"), &want);
    for (int round = 0; round < 50; round++) {
        for (int i = w.nev - 1; i > 0; i--) {
            int j = (int)(rnd() % (uint64_t)(i + 1));
            struct sla_event t = w.ev[i];
            w.ev[i] = w.ev[j];
            w.ev[j] = t;
        }
        struct sla_state got;
        compute(&w, L(c, "2024-06-04 10:00"), &got);
        for (int k = 0; k < SLA_CLOCKS; k++) {
            ck_assert_int_eq(got.c[k].used, want.c[k].used);
            ck_assert_int_eq(got.c[k].paused, want.c[k].paused);
            ck_assert_int_eq(got.c[k].due_at, want.c[k].due_at);
            ck_assert_int_eq(got.c[k].mode, want.c[k].mode);
        }
        ck_assert_int_eq(got.next_due, want.next_due);
        sla_state_clear(&got);
    }
    ck_assert_int_eq(want.c[SLA_FIRST_RESPONSE].used, 2 * H);        /* 10-11, 14-15 */
    ck_assert_int_eq(want.c[SLA_FIRST_RESPONSE].paused, 3 * H);
    ck_assert_instant(want.c[SLA_NEXT_RESPONSE].due_at, L(c, "2024-06-04 09:30"));
    ck_assert(want.c[SLA_NEXT_RESPONSE].breached);
    sla_state_clear(&want);
    world_free(&w);
}
END_TEST

/* the same ledger under an edited calendar: the deadline moves */
START_TEST(calendar_edit_moves_deadline)
{
    struct world w;
    world_init(&w);
    add_cal(&w, PLAIN);
    add_policy(&w, "{'name':'p','calendar':1,'targets':{'resolution':{'hours':10}}}");
    START(&w, L(w.cal[0], "2024-06-03 10:00"));
    struct sla_state s;
    compute(&w, L(w.cal[0], "2024-06-03 10:00"), &s);
    ck_assert_instant(s.c[SLA_RESOLUTION].due_at, L(w.cal[0], "2024-06-04 12:00"));
    sla_state_clear(&s);
    sla_calendar_free(&w.cal[0]);
    w.cal[0] = cal_json(1, "{'time_zone':'Europe/Berlin','hours':{" WEEK("'08:00-18:00'") "}}");
    compute(&w, L(w.cal[0], "2024-06-03 10:00"), &s);
    ck_assert_instant(s.c[SLA_RESOLUTION].due_at, L(w.cal[0], "2024-06-04 10:00"));
    sla_state_clear(&s);
    world_free(&w);
}
END_TEST

START_TEST(no_start_no_clock)
{
    struct world w;
    world_init(&w);
    add_policy(&w, "{'name':'p','targets':{'first_response':{'hours':1}}}");
    RESPONSE(&w, Z("2024-06-03 10:00"));
    CUSTOMER(&w, Z("2024-06-03 11:00"));
    struct sla_state s;
    compute(&w, Z("2024-06-03 12:00"), &s);
    ck_assert(!s.started);
    ck_assert_instant(s.next_due, SLA_NONE);
    sla_state_clear(&s);
    /* a calendar that never opens: no deadline, said so */
    add_cal(&w, "{'time_zone':'UTC','hours':{}}");
    world_free(&w);
    world_init(&w);
    add_cal(&w, "{'time_zone':'UTC','hours':{}}");
    add_policy(&w, "{'name':'p','calendar':1,'targets':{'first_response':{'hours':1}}}");
    START(&w, Z("2024-06-03 10:00"));
    compute(&w, Z("2024-06-03 12:00"), &s);
    ck_assert(s.c[SLA_FIRST_RESPONSE].no_open_hours);
    ck_assert_instant(s.next_due, SLA_NONE);
    sla_state_clear(&s);
    world_free(&w);
}
END_TEST

/* ---- policies admins get wrong -------------------------------------------- */

START_TEST(bad_policies_are_refused_with_a_reason)
{
    static const struct { const char *json, *error; } cases[] = {
        { "[]", "a policy is a JSON object" },
        { "{'targets':{'first_response':{'hours':1}}}", "name: text of 1 to 127 bytes" },
        { "{'name':'p'}", "targets: an object with first_response, next_response and/or resolution" },
        { "{'name':'p','targets':{'first':{'hours':1}}}", "targets: unknown key 'first'" },
        { "{'name':'p','targets':{'resolution':{'hours':0}}}",
          "targets.resolution.hours: a positive whole number, at most 10 years" },
        { "{'name':'p','targets':{'resolution':{'hours':1,'minutes':3}}}",
          "targets.resolution: exactly one of seconds, minutes, hours" },
        { "{'name':'p','targets':{'resolution':{'hours':1,'time':'business'}}}",
          "targets.resolution: business time needs the policy's \"calendar\"" },
        { "{'name':'p','calendar':1,'targets':{'resolution':{'hours':1,'time':'wall'}}}",
          "targets.resolution.time: \"business\" or \"calendar\"" },
        { "{'name':'p','priorities':['critical'],'targets':{'resolution':{'hours':1}}}",
          "priorities[0]: low, normal, high or urgent" },
        { "{'name':'p','queues':['support'],'targets':{'resolution':{'hours':1}}}", "queues[0]: no such queue" },
        { "{'name':'p','pause':{'resolution':['solved']},'targets':{'resolution':{'hours':1}}}",
          "pause.resolution[0]: new, open or pending (solved and closed stop every clock anyway)" },
        { "{'name':'p','warn_percent':100,'targets':{'resolution':{'hours':1}}}", "warn_percent: 0 (no warning) to 99" },
        { "{'name':'p','targets':{'resolution':{'hours':1}},'escalation':{'breach':[{'notify':'boss'}]}}",
          "escalation.breach[0].notify: assignee, queue or managers" },
        { "{'name':'p','targets':{'resolution':{'hours':1}},'escalation':{'breach':[{'priority':'max'}]}}",
          "escalation.breach[0].priority: \"raise\" or low, normal, high, urgent" },
        { "{'name':'p','targets':{'resolution':{'hours':1}},'escalation':{'late':[]}}",
          "escalation: unknown key 'late'" },
        { "{'name':'p','targets':{'resolution':{'hours':1}},'escalation':{'breach':[{'notify':'queue','priority':'raise'}]}}",
          "escalation.breach[0]: one of {\"notify\": ...}, {\"priority\": ...}, {\"queue\": ...}" },
        { "{'name':'p','targets':{'resolution':{'hours':1}},'colour':'red'}", "policy: unknown key 'colour'" },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char buf[1024];
        snprintf(buf, sizeof(buf), "%s", cases[i].json);
        for (char *p = buf; *p; p++)
            if (*p == '\'')
                *p = '"';
        json_t *j = json_loads(buf, 0, NULL);
        ck_assert_ptr_nonnull(j);
        struct sla_policy p;
        const char *e = NULL;
        ck_assert_msg(policy_parse(j, NULL, &p, &e) == -1, "accepted %s", cases[i].json);
        ck_assert_str_eq(e, cases[i].error);
        json_decref(j);
    }
    /* the stored form reads back to the same policy */
    json_t *j = json_loads("{\"name\":\"Gold\",\"queues\":[3,4],\"priorities\":[\"urgent\"],\"calendar\":2,"
                           "\"targets\":{\"first_response\":{\"minutes\":30},\"resolution\":{\"hours\":8,"
                           "\"time\":\"calendar\"}},\"pause\":{\"resolution\":[\"pending\",\"new\"]},"
                           "\"escalation\":{\"breach\":[{\"notify\":\"managers\"},{\"priority\":\"raise\"},"
                           "{\"queue\":9}]}}", 0, NULL);
    struct sla_policy a, b;
    const char *e = NULL;
    ck_assert_int_eq(policy_parse(j, NULL, &a, &e), 0);
    json_t *stored = policy_to_json(&a);
    ck_assert_int_eq(policy_parse(stored, NULL, &b, &e), 0);
    ck_assert_int_eq(memcmp(&a, &b, sizeof(a)), 0);
    json_decref(stored);
    json_decref(j);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("engine");
    TCase *tc = tcase_create("engine");
    tcase_add_loop_test(tc, matrix_each_clock, 0, (int)(sizeof(matrix) / sizeof(matrix[0])) * SLA_CLOCKS);
    tcase_add_loop_test(tc, pause_resume_across_closed_hours, 0, SLA_CLOCKS);
    tcase_add_loop_test(tc, pause_across_dst, 0, SLA_CLOCKS);
    tcase_add_loop_test(tc, pause_over_the_deadline, 0, SLA_CLOCKS);
    tcase_add_loop_test(tc, priority_change_keeps_accrued_pause, 0, SLA_CLOCKS);
    tcase_add_test(tc, queue_change_rematches);
    tcase_add_test(tc, disabled_policy_clears_escalation);
    tcase_add_test(tc, customer_reply_restarts_next_response);
    tcase_add_test(tc, reopen_resumes_resolution);
    tcase_add_test(tc, warning_then_breach_each_once);
    tcase_add_test(tc, order_of_recording_does_not_matter);
    tcase_add_test(tc, calendar_edit_moves_deadline);
    tcase_add_test(tc, no_start_no_clock);
    tcase_add_test(tc, outcomes_met_missed_undecided);
    tcase_add_test(tc, outcomes_outlive_the_policy);
    tcase_add_test(tc, bad_policies_are_refused_with_a_reason);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
