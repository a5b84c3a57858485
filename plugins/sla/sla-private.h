/*
 * sla/sla-private.h -- what the sla plugin's glue modules share: the
 * plugin's state (one per loaded plugin, the only mutable state it has),
 * the configuration snapshot, the ledger as read from the database, and
 * the operations each module offers the others.
 *
 *   sla.c          descriptor, init/fini, configuration keys
 *   sla_config.c   policies and calendars from the database, cached per
 *                  configuration version (a snapshot threads share)
 *   sla_store.c    the SQL: tickets' rows, the ledger, saving states,
 *                  scheduling the tick
 *   sla_hooks.c    message.created / ticket.updated -> ledger entries,
 *                  state recomputed
 *   sla_tick.c     the sla.tick job: warnings and breaches owed now,
 *                  escalation actions
 *   sla_recompute.c the sla.recompute job: every open ticket after an
 *                  edit of policies or calendars
 *   sla_routes.c   HTTP routes and the ticket view
 *
 * Time: every instant comes from the event's "at" or host->now(), never
 * from the database's clock, so the fake host's clock drives tests.
 * Instants and durations are milliseconds.
 */
#ifndef SLA_PRIVATE_H
#define SLA_PRIVATE_H

#include <atum/plugin.h>
#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "engine.h"
#include "predict.h"

/* SQL for instants kept as timestamptz, exchanged as milliseconds */
#define SQL_MS_TO_TS(p) "('epoch'::timestamptz + (" p ")::bigint * interval '1 millisecond')"
#define SQL_TS_TO_MS(c) "(extract(epoch FROM " c ") * 1000)::bigint"

struct sla_snapshot {
    long long version;
    int refs;                              /* under sla_plugin.lock */
    struct sla_policy *policies;           /* in order */
    int npolicies;
    struct sla_calendar **calendars;
    int ncalendars;
    struct sla_rules rules;
};

#define SLA_STATS_SLOTS 64
struct sla_stats_slot {
    long long queue_id;
    int64_t loaded_at;
    struct sla_history h;
};

struct sla_plugin {
    const struct atum_host *host;
    const struct atum_conf *conf;
    char zoneinfo[1024];
    int tick_batch;                        /* tickets one tick job handles */
    int recompute_batch;                   /* tickets per statement of a recompute */
    int history_days;                      /* the window of predictions */
    int view_ledger;                       /* ledger entries in the ticket view */
    pthread_mutex_t lock;                  /* guards snap and stats */
    struct sla_snapshot *snap;
    struct sla_stats_slot stats[SLA_STATS_SLOTS];
};

int64_t sla_now_ms(const struct sla_plugin *p);

/* ---- sla_config.c ---- */
/* The snapshot of configuration `version` (-1: read the current one);
 * release it with sla_snapshot_put(). */
int sla_snapshot_get(struct sla_plugin *p, struct atum_db *db, long long version,
                     struct sla_snapshot **snap_r, const char **error_r);
void sla_snapshot_put(struct sla_plugin *p, struct sla_snapshot *s);
void sla_snapshot_drop(struct sla_plugin *p);

/* ---- sla_store.c ---- */
/* A ticket's ledger as read (events sorted by sla_compute later). */
struct sla_ledger {
    struct sla_event *ev;
    json_t **detail;                       /* owned, parallel to ev (NULL allowed) */
    int n, cap;
    long long last_id;
};
void sla_ledger_free(struct sla_ledger *l);
int sla_ledger_push(struct sla_ledger *l, const struct sla_event *e, json_t *detail);
/* Fills a ledger from rows whose columns from `off` on are (id, at_ms,
 * kind, status, queue_id, priority, clock, round, detail), from row *row
 * on -- while column tcol equals ticket, or to the end (tcol -1). */
void sla_ledger_from_rows(const struct atum_host *h, const struct atum_rows *rows, int *row, int off,
                          int tcol, long long ticket, struct sla_ledger *l);

struct sla_ticket_row {
    long long ledger_last;
    int64_t next_due;                      /* SLA_NONE */
    long long policy_id;                   /* 0 */
    long long config_version;              /* the configuration now */
};
/* In a transaction: locks the ticket's row (created if needed), appends
 * the event (unless an entry of the same source -- "start",
 * "message:<id>", "version:<n>"; NULL: none -- is there already), reads
 * the whole ledger, and makes the commit asynchronous (the caller
 * completes its job in the same transaction). */
int sla_store_begin_event(struct sla_plugin *p, struct atum_db *db, long long ticket,
                          const struct sla_event *e, const char *source, struct sla_ticket_row *row,
                          struct sla_ledger *l, const char **error_r);
int sla_store_read(struct sla_plugin *p, struct atum_db *db, long long ticket,
                   struct sla_ledger *l, const char **error_r);
/* Appends an entry; *id_r its ledger id. */
int sla_store_append(struct sla_plugin *p, struct atum_db *db, long long ticket,
                     const struct sla_event *e, const char *detail_json, long long *id_r,
                     const char **error_r);
/* The same with its source (NULL: none): *id_r is 0 when an entry of
 * that source was there already and nothing was appended. */
int sla_store_append_from(struct sla_plugin *p, struct atum_db *db, long long ticket,
                          const struct sla_event *e, const char *detail_json, const char *source,
                          long long *id_r, const char **error_r);
/* Writes the computed state.  When its next escalation moment is new or
 * earlier than old_next_due, makes sure a tick is pending at or before it
 * (table sla_schedule; a tick job only when none is). */
int sla_store_save(struct sla_plugin *p, struct atum_db *db, long long ticket,
                   const struct sla_state *s, long long ledger_last, long long config_version,
                   int64_t old_next_due, const char **error_r);
/* A ticket's target outcomes as sla_tickets keeps them for the view
 * sla_outcomes (sql/002_outcomes.sql): first response and resolution as
 * met "true" / "false" (NULL: undecided or no target) with the moment a
 * missed one ran out (SLA_NONE; a met one's moment is its *_done_at);
 * next response's rounds as a JSON array of [met, decided_at_ms] (NULL:
 * no round counts).  Filled by sla_outcome_cols (-1: out of memory),
 * freed by sla_outcome_cols_free. */
struct sla_outcome_cols {
    const char *fr_met, *res_met;
    int64_t fr_missed_at, res_missed_at;
    char *nr_json;
};
int sla_outcome_cols(const struct sla_state *s, struct sla_outcome_cols *o);
void sla_outcome_cols_free(struct sla_outcome_cols *o);

/* An sla.tick job at `at` (unique per millisecond; `tag` tells hand-overs apart). */
int sla_store_schedule(struct sla_plugin *p, struct atum_db *db, int64_t at, const char *tag,
                       const char **error_r);
/* After a tick or a recompute, in its own transaction: forgets the ticks
 * that have run -- every moment up to now, and up to ran_for, the moment
 * the tick that runs was scheduled for (SLA_NONE: none), which may be a
 * little later than now: a job's run_at is counted from its enqueuing
 * transaction's start -- and arranges one for the earliest moment left. */
int sla_store_schedule_earliest(struct sla_plugin *p, struct atum_db *db, const char *tag,
                                int64_t ran_for, const char **error_r);

/* ---- sla_hooks.c ---- */
int sla_hook_message_created(void *state, struct atum_job *job);
int sla_hook_ticket_updated(void *state, struct atum_job *job);

/* Recomputes one locked ticket from its ledger and saves it; a change of
 * its policy is recorded in the ledger at policy_at. */
int sla_recompute_locked(struct sla_plugin *p, struct atum_db *db, long long ticket,
                         const struct sla_ticket_row *row, struct sla_ledger *l, int64_t now,
                         int64_t policy_at, const char **error_r);

/* ---- sla_backfill.c ---- */
/* The sla.backfill job: open tickets without a start get their clocks
 * from their history; enqueued at start() and by POST /backfill. */
int sla_job_backfill(void *state, struct atum_job *job);
int sla_request_backfill(struct sla_plugin *p, struct atum_db *db, long long *id_r, const char **error_r);

/* ---- sla_tick.c / sla_recompute.c ---- */
int sla_job_tick(void *state, struct atum_job *job);
int sla_job_recompute(void *state, struct atum_job *job);
/* Enqueues a recompute after a change of configuration (in the caller's
 * transaction). */
int sla_request_recompute(struct sla_plugin *p, struct atum_db *db, long long version,
                          const char **error_r);

/* ---- sla_routes.c ---- */
extern const struct atum_route sla_routes[];
int sla_ticket_view(void *state, struct atum_db *db, long long ticket_id, struct atum_http_resp *resp);
/* The queue's recent history for predictions (cached a minute). */
void sla_predictions(struct sla_plugin *p, struct atum_db *db, const struct sla_rules *rules,
                     const struct sla_state *s, int64_t now, struct sla_prediction pred[SLA_CLOCKS]);

#endif
