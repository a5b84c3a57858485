/*
 * sla/engine.h -- the SLA clocks of one ticket, computed from its ledger.
 *
 * The ledger (table sla_ledger) holds what happened to a ticket, each at
 * its UTC instant: it started (queue, priority, status), a field changed
 * (status, queue, priority), staff answered in public, the customer wrote,
 * a warning or a breach was fired.  The state is a pure function of that
 * list, the policies, the calendars and "now": events are put in time
 * order whatever order they were recorded in (hooks of one ticket may run
 * out of order), then walked:
 *  - first_response runs from the start until the first public staff
 *    reply; resolution from the start until solved or closed (a reopen
 *    resumes it, keeping the time used); next_response starts a round at
 *    a customer's message once the first response is done and no round is
 *    running, and ends it at the next public staff reply;
 *  - between two events a clock counts (business or calendar time, per
 *    its policy) unless its policy pauses it in the ticket's status
 *    (then that time is paused time) or the ticket is solved or closed;
 *  - the policy is the first enabled one matching the ticket's queue and
 *    priority, chosen again at every change of either; time used and
 *    paused carries over, the new target applies from then on (a target
 *    already used up is breached at that moment);
 *  - crossing warn_percent of a target, or the target, inside a stretch
 *    of time gives the exact instant (bcal_add), not the next event's.
 * Warnings and breaches already fired are in the ledger, so next_due --
 * the moment the next escalation is owed -- never repeats one.
 *
 * Instants and durations are milliseconds; SLA_NONE marks "none".
 * Ownership: sla_compute() sorts the caller's events in place; the state
 * borrows the policy from the rules and owns its effects
 * (sla_state_clear()).
 */
#ifndef SLA_ENGINE_H
#define SLA_ENGINE_H

#include <stdbool.h>
#include <stdint.h>
#include "calspec.h"
#include "policy.h"

#define SLA_NONE INT64_MIN

enum sla_event_kind {
    SLA_EV_START, SLA_EV_CHANGE, SLA_EV_CUSTOMER, SLA_EV_RESPONSE,
    SLA_EV_POLICY,               /* a record of a policy change: explains, changes nothing */
    SLA_EV_WARNING, SLA_EV_BREACH,
};
const char *sla_event_kind_name(enum sla_event_kind k);
int sla_event_kind_parse(const char *s);

struct sla_event {
    long long id;                /* ledger order: breaks ties of equal instants */
    int64_t at;
    enum sla_event_kind kind;
    int status;                  /* START, CHANGE: enum sla_status, -1 unchanged */
    long long queue_id;          /* START, CHANGE: 0 unchanged */
    int priority;                /* START, CHANGE: -1 unchanged */
    int clock;                   /* WARNING, BREACH */
    int round;                   /* WARNING, BREACH of next_response */
    const json_t *detail;        /* the ledger row's detail, borrowed; the engine ignores it */
};

/* What the engine works with: policies in their order, calendars by id. */
struct sla_rules {
    const struct sla_policy *policies;
    int npolicies;
    struct sla_calendar *const *calendars;
    int ncalendars;
};
const struct sla_policy *sla_rules_match(const struct sla_rules *r, long long queue_id, int priority);
const struct sla_calendar *sla_rules_calendar(const struct sla_rules *r, long long id);

enum sla_mode { SLA_MODE_NONE, SLA_MODE_RUNNING, SLA_MODE_PAUSED, SLA_MODE_STOPPED, SLA_MODE_ACHIEVED };
const char *sla_mode_name(enum sla_mode m);

struct sla_clock_state {
    enum sla_mode mode;
    bool tracked;                /* the policy has a target for this clock */
    enum sla_measure measure;
    int64_t target, used, paused;
    int64_t started_at, achieved_at;
    int64_t due_at;              /* running: when the target is used up; breached: when it was */
    int64_t warn_at;             /* when warn_percent is (or was) reached */
    bool warned, breached;
    int64_t breached_at;
    bool warning_fired, breach_fired;
    int round;                   /* next_response: rounds started */
    int rounds_breached;         /* next_response: rounds breached, this one included */
    bool no_open_hours;          /* the calendar never opens: no due time */
    bool achieved_tracked;       /* achieved while a policy had a target for it */
};

/* A change an event made to a clock's mode (clock -1: the policy changed). */
struct sla_effect {
    int event;                   /* index into the sorted events */
    int clock;
    enum sla_mode from, to;
    long long policy_from, policy_to;
};

/* A target's outcome, what table sla_outcomes shows (the dashboard's SLA
 * compliance): met or missed once decided, undecided while it can go
 * either way.  Missed is decided at the moment the target ran out (also
 * when the clock was answered later, or its policy stopped applying);
 * met at the moment the clock was achieved under a target. */
enum sla_verdict { SLA_UNDECIDED, SLA_MET, SLA_MISSED };
struct sla_outcome {
    int round;                   /* next_response: the round; else 0 */
    enum sla_verdict verdict;
    int64_t decided_at;          /* SLA_NONE while undecided */
};

struct sla_state {
    bool started;
    const struct sla_policy *policy;     /* NULL: no policy applies */
    int status;
    long long queue_id;
    int priority;
    int64_t computed_at;
    struct sla_clock_state c[SLA_CLOCKS];
    int64_t next_due;            /* the next warning or breach owed, SLA_NONE */
    struct sla_effect *effects;  /* with want_effects */
    int neffects;
    /* next_response rounds already answered, in order, each with the
     * outcome it had when answered (those without a target then and not
     * missed are left out); the round running now is in c[] */
    struct sla_outcome *rounds;
    int nrounds;
};

/* 0, or -1 when out of memory (effects). */
int sla_compute(const struct sla_rules *rules, struct sla_event *events, int n, int64_t now,
                bool want_effects, struct sla_state *out);
void sla_state_clear(struct sla_state *s);

/* The outcome of a clock's current target (for next_response: the round
 * running now; the answered ones are in s->rounds).  0 when it has none
 * (no target, never missed; next_response: no round running). */
int sla_clock_outcome(const struct sla_state *s, int clock, struct sla_outcome *out);

/* What is owed at `now`: at most one warning and one breach per clock.
 * A warning owed together with its clock's breach is superseded: it is
 * recorded, but only the breach escalates. */
struct sla_firing {
    int clock;
    enum sla_level level;
    int round;
    int64_t at;                  /* the moment it was owed */
    bool superseded;
};
int sla_firings(const struct sla_state *s, int64_t now, struct sla_firing out[2 * SLA_CLOCKS]);

#endif
