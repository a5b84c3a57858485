/*
 * sla/backfill.h -- the ledger a ticket older than the plugin would have,
 * read from its history: what the hooks would have recorded had the
 * plugin been there when it happened.
 *
 *  - start at the ticket's created_at, status new, with the queue and the
 *    priority it had then (the "from" of its first change of each, else
 *    the present ones);
 *  - the opening message (the earliest): a public staff message is also
 *    the first response (a ticket staff opened for a customer);
 *  - every later message: public from staff -> response; public from the
 *    customer, no robot -> customer; internal notes and robots -> nothing;
 *  - every recorded change of status, queue or priority (ticket_changes)
 *    -> change at its moment;
 *  - the history may end short of the present (tickets from before
 *    ticket_changes existed have none): when the replayed status, queue
 *    or priority differ from the ticket's present ones, one change to the
 *    present values at the ticket's updated_at (or the last event, if
 *    later) -- the ticket is taken to have been in its replayed state
 *    until its last update and in its present one since.
 *
 * Each entry carries its source, the key the hooks record under too
 * ("start", "message:<id>", "version:<n>", "current"), so an event the
 * hook and the backfill both see is recorded once.
 *
 * Pure: no database.  Ownership: *out is malloc'd, the caller frees it.
 */
#ifndef SLA_BACKFILL_H
#define SLA_BACKFILL_H

#include <stdbool.h>
#include <stdint.h>
#include "engine.h"

struct sla_bf_ticket {
    int64_t created_at, updated_at;
    int status, priority;                /* enum sla_status, enum sla_priority: now */
    long long queue_id;
};

struct sla_bf_message {
    long long id;
    int64_t at;
    bool staff;                          /* direction out */
    bool public;                         /* not an internal note */
    bool human;                          /* robot none */
};

struct sla_bf_change {
    long long version;
    int64_t at;
    int status_from, status_to;          /* -1: not changed */
    int priority_from, priority_to;      /* -1: not changed */
    long long queue_from, queue_to;      /* 0: not changed */
};

struct sla_bf_entry {
    struct sla_event ev;
    char source[32];
};

/* Sorts the caller's messages (by moment, then id) and changes (by
 * version); 0, or -1 when out of memory. */
int sla_backfill_entries(const struct sla_bf_ticket *t, struct sla_bf_message *msgs, int nmsgs,
                         struct sla_bf_change *changes, int nchanges, struct sla_bf_entry **out_r,
                         int *n_r);

#endif
