/*
 * plugins/metrics/dbgauges.h -- the gauges a scrape reads from the
 * database, which every node shares (so each node reports the same
 * values: aggregate them with max(), or set database_gauges = no on all
 * nodes but one):
 *   atum_queue_jobs{kind,state}                 available (due), scheduled
 *                                               (due later), running, dead
 *   atum_queue_oldest_available_seconds{kind}   age of the oldest due job
 *   atum_tickets_open{status,priority,queue}    new, open, pending; merged
 *                                               tickets left out; as the
 *                                               last metrics.refresh job
 *                                               counted them (refresh.h)
 *   atum_tickets_open_age_seconds               how long ago that was
 *   atum_outbox_pending                         outgoing mails not settled
 * Four small statements on the request's connection, none holding locks:
 * the cost does not grow with the number of tickets.
 */
#ifndef ATUM_METRICS_DBGAUGES_H
#define ATUM_METRICS_DBGAUGES_H

#include "mx.h"

/* Appends the families to out.  -1 with *error_r when a statement failed
 * (out then holds the families read before). */
int dbgauges_render(const struct mx *m, struct atum_db *db, struct buf *out, const char **error_r);

#endif
