/*
 * core/event.h -- fan-out of domain events to plugin hooks, transactionally.
 *
 * event_emit(rt, db, "ticket.created", "{...}") enqueues one job per hook
 * subscribed to the event (kind "hook.PLUGIN.EVENT", payload
 * {"event": ..., "data": ...}) on the caller's connection.  Called inside
 * the transaction that made the change, the events commit or vanish with
 * it.  When the data carries "ticket_id", each hook's jobs for that ticket
 * share a concurrency key, so one plugin never handles two events of one
 * ticket at the same time.
 *
 * Call with the runtime read-locked (workers and web handlers do).
 */
#ifndef ATUM_CORE_EVENT_H
#define ATUM_CORE_EVENT_H

#include "core/db.h"

struct runtime;

/* Also enqueues the deliveries of admins' webhooks for the event (webhook.h).
 * *jobs_r (may be NULL): how many hook and webhook jobs were enqueued. */
int event_emit_n(struct runtime *rt, struct db_conn *c, const char *event, const char *json_data,
                 int *jobs_r, const char **error_r);
int event_emit(struct runtime *rt, struct db_conn *c, const char *event, const char *json_data,
               const char **error_r);

#endif
