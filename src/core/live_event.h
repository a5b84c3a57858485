/*
 * core/live_event.h -- the events of the live channel, in PostgreSQL
 * (table live_events, sql/020_live.sql): written in the transaction of the
 * change they describe, published with increasing ids, pruned after a
 * while.  The desk domain stores its ticket events here (desk_emit); the
 * web floor reads them (desk/live_feed.h says who may see which) and
 * sends them to browsers.
 *
 * Ids: a writer cannot take its public id from a sequence -- a
 * transaction that took id 10 may commit after one that took 11, and a
 * client that already resumed from 11 would never see 10.  So a row is
 * written without an id, and live_event_publish() later gives ids to the
 * rows that are committed, in one short transaction that holds the lock
 * of live_counter's single row: every id a reader can see was committed
 * together with all lower ones.  Writers never wait on each other
 * (decision 0013).
 *
 * Notifications: a writer's transaction sends NOTIFY atum_live_pending
 * (delivered at its commit); a publisher that gave ids sends NOTIFY
 * atum_live with the last id.  Every node's live channel listens to both.
 */
#ifndef ATUM_CORE_LIVE_EVENT_H
#define ATUM_CORE_LIVE_EVENT_H

#include <stdbool.h>
#include "core/db.h"

#define LIVE_CHANNEL_PENDING "atum_live_pending"
#define LIVE_CHANNEL_PUBLISHED "atum_live"

/* At most this many events are published (and read) in one go. */
#define LIVE_BATCH 1000

/* Stores one event in the caller's transaction.  json_data: an object
 * (borrowed), without message bodies.  staff_only: customers never get it
 * (internal notes, presence, held replies). */
int live_event_store(struct db_conn *c, const char *event, long long ticket_id, bool staff_only,
                     const char *json_data, const char **error_r);

/* Gives ids to committed, unpublished events (at most LIVE_BATCH; call
 * again while *published_r == LIVE_BATCH), in its own transaction: the
 * caller has none open.  *last_r: the last id given so far (also when
 * nothing was new). */
int live_event_publish(struct db_conn *c, int *published_r, long long *last_r,
                       const char **error_r);

/* The last id published and the lowest id still kept. */
int live_event_bounds(struct db_conn *c, long long *last_r, long long *pruned_below_r,
                      const char **error_r);

/* Whether a client that saw every event up to `since` can resume from
 * there: not when events after it were pruned, nor when it names an id
 * this database never gave (another database, a restore).  Pure. */
bool live_event_resumable(long long since, long long last, long long pruned_below);

/* Deletes events published more than keep_ms ago (and unpublished ones
 * written that long ago: no publisher ran), at most `batch` rows. */
int live_event_prune(struct db_conn *c, long long keep_ms, int batch, int *deleted_r,
                     const char **error_r);

#endif
