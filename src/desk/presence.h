/*
 * desk/presence.h -- who is viewing, and who is typing on, a ticket.
 *
 * Staff say so through the live channel (a small client message on the
 * WebSocket) or POST /tickets/{id}/presence; each browser tab or API
 * client is one `client` (a key the web floor makes: the socket's, or the
 * session's, plus the tab's).  A row lasts `ttl_s` unless said again;
 * typing lasts PRESENCE_TYPING_S.  When the list of a ticket's viewers
 * changes -- someone comes, starts or stops typing, leaves, their socket
 * closes or their row expires -- a ticket.presence live event carries the
 * whole new list ({"ticket_id", "viewers": [{"user_id", "name",
 * "state": "viewing"|"typing"}]}), staff only, so the latest event is the
 * state and an old one replayed does no harm.
 *
 * Presence is no change of the ticket: no version, no audit row, no hook.
 * Changes of one ticket's presence are serialised (an advisory lock per
 * ticket), so the events come in the order the lists changed.
 */
#ifndef ATUM_DESK_PRESENCE_H
#define ATUM_DESK_PRESENCE_H

#include "desk/desk.h"

#define PRESENCE_TTL_S 60        /* a row without news for this long ends */
#define PRESENCE_TYPING_S 8      /* "typing" without news for this long is "viewing" */
#define PRESENCE_CLIENT_MAX 200
#define PRESENCE_STR_(x) #x
#define PRESENCE_STR(x) PRESENCE_STR_(x)      /* a number as SQL text */

enum presence_state { PRESENCE_VIEWING, PRESENCE_TYPING, PRESENCE_LEFT };

/* "viewing", "typing", "left": 0; else -1. */
int presence_parse(const char *s, enum presence_state *st_r);

/* The viewers of the ticket `t`.id as a JSON array (SQL of a subquery,
 * without parameters): for GET /tickets/{id}. */
#define PRESENCE_VIEWERS_SQL(t) \
    "(SELECT coalesce(json_agg(json_build_object('user_id', v.user_id, 'name', v.name," \
    "                                           'state', v.state) ORDER BY v.user_id), '[]')" \
    "   FROM (SELECT p.user_id, coalesce(nullif(u.name, ''), u.email) AS name," \
    "                CASE WHEN bool_or(p.typing_until > now()) THEN 'typing' ELSE 'viewing' END AS state" \
    "           FROM ticket_presence p JOIN users u ON u.id = p.user_id" \
    "          WHERE p.ticket_id = " t ".id AND p.expires_at > now()" \
    "          GROUP BY p.user_id, u.name, u.email) v)"

/* Sets the actor's presence on a ticket they can see (staff only:
 * ERR_FORBIDDEN for customers, ERR_NOT_FOUND for a ticket not theirs to
 * see), in the caller's transaction. */
int presence_set(const struct desk_tx *tx, long long ticket_id, const char *client,
                 enum presence_state st, int ttl_s, struct err *err);

/* Ends every presence of the clients whose key starts with prefix (a
 * socket that closed), with the events of the tickets it was on. */
int presence_end_clients(const struct desk_tx *tx, const char *prefix, int *ended_r,
                         struct err *err);

/* Ends rows past their time and typing past its time, with events.
 * *changed_r: how many tickets' lists changed. */
int presence_expire(const struct desk_tx *tx, int *changed_r, struct err *err);

#endif
