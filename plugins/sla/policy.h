/*
 * sla/policy.h -- SLA policies: which tickets they apply to, their three
 * targets and what happens at a warning and at a breach.
 *
 *   {"name": "Gold", "enabled": true,
 *    "queues": [1, "support"], "priorities": ["urgent", "high"],
 *    "calendar": "Berlin office",
 *    "targets": {"first_response": {"minutes": 30, "time": "business"},
 *                "next_response": {"hours": 4},
 *                "resolution": {"hours": 24, "time": "calendar"}},
 *    "pause": {"resolution": ["pending"]},
 *    "warn_percent": 80,
 *    "escalation": {"warning": [{"notify": "assignee"}],
 *                   "breach": [{"notify": "queue"}, {"notify": "managers"},
 *                              {"priority": "raise"}, {"queue": "escalations"}]}}
 *
 * - queues / priorities: empty or absent means any.  Policies are kept in
 *   an order (position); the first enabled one that matches a ticket's
 *   queue and priority is its policy.
 * - a target is {"seconds"|"minutes"|"hours": N} with "time": "business"
 *   (counted while the calendar is open; the default when the policy has
 *   a calendar) or "calendar" (every second counts); an absent target is
 *   not tracked.
 * - pause: per clock, the statuses (new, open, pending) in which it does
 *   not count; default ["pending"] (waiting on the customer).  solved and
 *   closed always stop every clock.
 * - warn_percent: 1..99 of a target (default 80), 0 for no warning.
 * - escalation actions: notify assignee / queue (its agents) / managers,
 *   priority "raise" (one step) or a level, queue (move the ticket).
 *
 * Queue and calendar references may be names or ids on input; a resolver
 * turns them into ids, and policy_to_json() writes the stored form (ids
 * only), which policy_parse() reads back without a resolver.
 * Pure.  Error strings live until the next call on the same thread.
 */
#ifndef SLA_POLICY_H
#define SLA_POLICY_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

enum sla_clock { SLA_FIRST_RESPONSE = 0, SLA_NEXT_RESPONSE = 1, SLA_RESOLUTION = 2 };
#define SLA_CLOCKS 3
const char *sla_clock_name(enum sla_clock c);
int sla_clock_parse(const char *s);

/* the desk's status model (desk/status.h), as plugins see it: by name */
enum sla_status { SLA_ST_NEW, SLA_ST_OPEN, SLA_ST_PENDING, SLA_ST_SOLVED, SLA_ST_CLOSED };
#define SLA_STATUSES 5
const char *sla_status_name(int s);
int sla_status_parse(const char *s);

#define SLA_PRIORITIES 4          /* low, normal, high, urgent */
const char *sla_priority_name(int p);
int sla_priority_parse(const char *s);

enum sla_measure { SLA_BUSINESS_TIME, SLA_CALENDAR_TIME };

struct sla_target {
    bool set;
    int64_t ms;
    enum sla_measure measure;
    unsigned pause_mask;          /* bit per enum sla_status */
};

enum sla_action_kind {
    SLA_NOTIFY_ASSIGNEE, SLA_NOTIFY_QUEUE, SLA_NOTIFY_MANAGERS, SLA_SET_PRIORITY, SLA_MOVE_QUEUE
};
#define SLA_PRIORITY_RAISE 100     /* one step up (not a level) */
struct sla_action {
    enum sla_action_kind kind;
    int priority;                 /* SET_PRIORITY: a level or SLA_PRIORITY_RAISE */
    long long queue_id;           /* MOVE_QUEUE */
};

enum sla_level { SLA_WARNING = 0, SLA_BREACH = 1 };
#define SLA_MAX_QUEUES 64
#define SLA_MAX_ACTIONS 8

struct sla_policy {
    long long id;
    char name[128];
    int position;
    bool enabled;
    int nqueues;
    long long queues[SLA_MAX_QUEUES];
    unsigned priority_mask;       /* bit per priority; 0: any */
    long long calendar_id;        /* 0: none */
    struct sla_target target[SLA_CLOCKS];
    int warn_percent;
    int nactions[2];
    struct sla_action actions[2][SLA_MAX_ACTIONS];
};

/* Turns a queue or calendar reference (a JSON integer or name) into an id;
 * 0, or -1 when there is no such thing. */
struct policy_resolver {
    void *ctx;
    int (*queue)(void *ctx, const json_t *ref, long long *id_r);
    int (*calendar)(void *ctx, const json_t *ref, long long *id_r);
};

/* resolver NULL: references must be ids (the stored form). */
int policy_parse(const json_t *spec, const struct policy_resolver *resolver,
                 struct sla_policy *p, const char **error_r);
/* The stored form; a new reference. */
json_t *policy_to_json(const struct sla_policy *p);

bool policy_matches(const struct sla_policy *p, long long queue_id, int priority);

#endif
