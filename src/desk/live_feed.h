/*
 * desk/live_feed.h -- which live events (core/live_event.h) a person may
 * see, by the API's own rule: TICKET_VISIBLE of desk/ticket.h on the
 * event's ticket as it is now (staff of its queue, managers and admins;
 * customers their own tickets and, with organisation access, their
 * organisation's), and staff-only events (internal notes, presence, held
 * replies) never to customers -- as GET /tickets/{id} hides internal
 * messages from them.
 *
 * Each event goes out as one text frame, built by PostgreSQL:
 *   {"id": 41, "event": "ticket.updated", "created_at": "...",
 *    "ticket_id": 7, "queue_id": 2, "data": {"ticket_id": 7, ...}}
 *
 * Two reads: live_feed_read() for one reader (a client catching up from
 * `since`), live_feed_fanout() for a batch of new events and every reader
 * connected at once -- one query however many readers, not one per
 * reader and event.
 *
 * Ownership: the frames and arrays filled here are the caller's
 * (live_frames_clear, live_fanout_clear).
 */
#ifndef ATUM_DESK_LIVE_FEED_H
#define ATUM_DESK_LIVE_FEED_H

#include <stddef.h>
#include "desk/desk.h"

struct live_frame {
    long long id;
    char *text;              /* the JSON frame */
    size_t len;
    int *readers;            /* fan-out: indexes into the readers given */
    size_t nreaders;
};

struct live_frames {
    struct live_frame *v;
    size_t n;
};
void live_frames_clear(struct live_frames *f);

/* The events after `after`, up to `upto` (inclusive), that `who` may
 * see, oldest first, at most `limit`.  *next_r: the id to continue after
 * (the last one looked at, seen or not; `after` when none). */
int live_feed_read(struct db_conn *c, const struct desk_actor *who, long long after,
                   long long upto, int limit, struct live_frames *out, long long *next_r,
                   const char **error_r);

/* The events after `after` up to `upto`, each with the indexes of the
 * readers (of who[0..n-1]) that may see it; events nobody may see are
 * left out.  *next_r as above. */
int live_feed_fanout(struct db_conn *c, const struct desk_actor *const *who, size_t n,
                     long long after, long long upto, int limit, struct live_frames *out,
                     long long *next_r, const char **error_r);

/* The readers of a fan-out row: PostgreSQL's int[] text ("{0,3,7}",
 * increasing) into out (room for n), indexes below n only.  Pure. */
size_t live_feed_parse_readers(const char *pg_array, size_t n, int *out);

#endif
