/*
 * web/live.h -- the live channel's hub: one per server.
 *
 * One poller thread owns a database connection of its own.  It LISTENs
 * for atum_live_pending (a change committed events) and atum_live
 * (another node published), publishes (core/live_event.h), reads each new
 * batch of events ONCE with, for every connected reader, whether they may
 * see each event (desk/live_feed.h: one query per batch, whatever the
 * number of sockets), and queues the frames to the readers.  It also
 * checks every LIVE_CHECK_MS even without a notification (a lost NOTIFY,
 * a reconnect), expires presence, and re-checks every reader's session or
 * token each LIVE_RECHECK_MS: a socket whose session ended is closed.
 *
 * Readers: a WebSocket (its frames written by a few writer threads, so a
 * slow peer holds up only itself) or a long poll (its civetweb thread
 * waits for frames).  A reader registered at id F gets every event after
 * F from the hub; it reads what came before (since, F] from the
 * database itself (live_feed_read), so nothing is missed or doubled.  A
 * reader whose queue passes LIVE_QUEUE_MAX bytes is closed (code 4000):
 * it reconnects and catches up from the database.
 *
 * Both kinds count against max_connections (web.live_max_connections):
 * civetweb holds a thread for each.  The count is the gauge
 * atum_live_connections, the WebSockets among them atum_websockets_open;
 * refusals count in atum_live_refused_total, events handed to readers in
 * atum_live_events_total (families described in core/core_metrics.c,
 * rendered by the metrics plugin's GET /metrics).
 *
 * Threads and ownership: the hub is the server's (web/server.c); readers
 * are created by web/api_live.c and freed by live_reader_close(), after
 * which no writer touches their connection.
 */
#ifndef ATUM_WEB_LIVE_H
#define ATUM_WEB_LIVE_H

#include <civetweb.h>
#include <stdbool.h>
#include "core/db.h"
#include "desk/desk.h"
#include "lib/strbuf.h"

#define LIVE_CHECK_MS 1000
#define LIVE_RECHECK_MS 60000
#define LIVE_PRESENCE_SWEEP_MS 2000
#define LIVE_QUEUE_MAX (256 * 1024)
#define LIVE_WRITERS 2
#define LIVE_CLOSE_BEHIND 4000     /* WebSocket close code: fell behind, reconnect */
#define LIVE_CLOSE_ENDED 4001      /* the session ended */

struct live_hub;
struct live_reader;

struct live_opts {
    int max_connections;
    struct db_params db;             /* the poller's own connection */
    const char *node_id;
    /* re-checks a reader's credential: 1 still valid, 0 not, -1 error
     * (kept open).  arg: the API context. */
    int (*credential_ok)(void *arg, struct db_conn *c, int via, const char *hash);
    void *credential_arg;
};

int live_hub_start(struct live_hub **hub_r, const struct live_opts *o, const char **error_r);
/* Wakes every long poll, refuses new readers; the WebSockets end with
 * civetweb (mg_stop) -- call live_hub_free() after mg_stop. */
void live_hub_stopping(struct live_hub *hub);
void live_hub_free(struct live_hub **hub);

/* Takes a place under the cap: 0, or -1 when full (counted as refused). */
int live_admit(struct live_hub *hub);
/* Gives a place back (a reader that was never registered). */
void live_release(struct live_hub *hub);

struct live_stats {
    int websockets, polls, max;
    long long refused, last_id;
};
void live_stats(struct live_hub *hub, struct live_stats *st);

/* A reader for an admitted connection: conn is the WebSocket, or NULL for
 * a long poll.  who is copied; via/hash name the credential re-checked. */
struct live_reader *live_reader_new(struct live_hub *hub, struct mg_connection *conn,
                                    const struct desk_actor *who, int via, const char *hash);
/* The key prefix of its presence rows ("ws:NODE:N:"). */
const char *live_reader_client(const struct live_reader *rd);
const struct desk_actor *live_reader_actor(const struct live_reader *rd);

/* Registers the reader with the hub and brings it up to date from
 * `since` (< 0: only new events): a WebSocket gets the frames written
 * (a {"reset": true, "last_id": N} frame first when it cannot resume), a
 * long poll gets them queued.  *reset_r says whether it could not resume.
 * db: a pooled connection for the catch-up. */
int live_reader_start(struct live_reader *rd, struct db_conn *db, long long since, bool *reset_r,
                      const char **error_r);

/* Long poll: waits up to wait_ms for frames, then appends them to out
 * as a JSON array's elements (comma-separated); *last_r: the id to resume
 * after; *more_r: it fell behind (nothing was appended: poll again from
 * the same id).  0; -1 when the hub stops; -2 when the reader's session
 * ended. */
int live_reader_wait(struct live_reader *rd, long long wait_ms, struct strbuf *out,
                     long long *last_r, bool *more_r);

/* Unregisters, waits for a writer still writing to it, gives its place
 * back and frees it; the poller ends its presence (with the events). */
void live_reader_close(struct live_reader **rd);

#endif
