/*
 * desk/status.h -- the one status model of a ticket, for every channel
 * (the API, mail, the desk, the portal, plugins).  Pure functions: the
 * rules are decided here and unit-tested without a database; desk/ticket.c
 * applies them inside the transaction of the change.
 *
 *   new ──► open ──► pending ──► solved ──► closed
 *            ▲          │           │          │
 *            └──────────┴───────────┘          │ (staff only: reopen)
 *            ◄────────────────────────────────-┘
 *
 * A message:
 *  - from the customer's side (an incoming, human mail; a customer's reply
 *    through the API or portal) reopens a pending or solved ticket (open);
 *    on new or open it changes nothing.  It never lands on a closed
 *    ticket: mail-in opens a follow-up ticket linked to the closed one,
 *    the API answers 409 "open a new one".
 *  - from a robot (auto-reply, bounce, list) or an unverified sender (a
 *    staff address without the agent's reply token) never changes the
 *    status, and may be kept on a closed ticket.
 *  - from staff, public: a new ticket becomes open unless the reply sets a
 *    status itself; a closed ticket refuses it unless the same reply
 *    reopens the ticket (status "open" or "pending").
 *  - an internal note never changes the status and is allowed on closed
 *    tickets.
 * A merged ticket (merged_into set, always closed) takes nothing at all:
 * threading finds the ticket it was merged into instead.
 *
 * An explicit status change:
 *  - staff may set any status (closed -> open is a reopen, audited like
 *    any change);
 *  - a customer (the requester; colleagues with organisation access only
 *    see) may mark new/open/pending tickets solved or closed, and reopen a
 *    solved one; a closed ticket is final for customers.
 *
 * Timestamps: entering solved sets solved_at, entering closed sets
 * closed_at; leaving solved for anything but closed clears solved_at,
 * leaving closed clears closed_at.  Every change emits ticket.updated with
 * the changed fields, whatever the channel.
 */
#ifndef ATUM_DESK_STATUS_H
#define ATUM_DESK_STATUS_H

#include <stdbool.h>

enum ticket_status {
    TICKET_NEW = 0, TICKET_OPEN, TICKET_PENDING, TICKET_SOLVED, TICKET_CLOSED,
};
#define TICKET_STATUSES 5

/* "new", "open", ... ; parse returns -1 for anything else. */
const char *ticket_status_name(enum ticket_status s);
int ticket_status_parse(const char *s, enum ticket_status *r);

/* Who a message comes from, as the rules see it. */
enum message_party {
    PARTY_CUSTOMER,          /* the customer's side: human, verified or not */
    PARTY_UNVERIFIED,        /* customer side, but not to be trusted: no status effect */
    PARTY_ROBOT,             /* auto-reply, bounce, list mail */
    PARTY_STAFF,             /* an agent, manager or admin (public reply) */
    PARTY_NOTE,              /* an internal note (staff or the system) */
};

/* What a message does to the ticket. */
enum status_verdict {
    STATUS_KEEP,             /* accepted; the status stays */
    STATUS_MOVE,             /* accepted; the status becomes *next_r */
    STATUS_REFUSE_CLOSED,    /* refused: the ticket is closed */
    STATUS_REFUSE_MERGED,    /* refused: the ticket was merged away */
};

/* requested: the status a staff reply asks for, or NULL. */
enum status_verdict status_after_message(enum ticket_status cur, bool merged,
                                         enum message_party party,
                                         const enum ticket_status *requested,
                                         enum ticket_status *next_r);

/* Whether an explicit change cur -> to is allowed (the API answers 403
 * for CHANGE_FORBIDDEN, 409 for CHANGE_MERGED). */
enum status_change_rule { CHANGE_OK, CHANGE_FORBIDDEN, CHANGE_MERGED };
enum status_change_rule status_change_allowed(enum ticket_status cur, enum ticket_status to,
                                              bool merged, bool staff);

/* The SQL fragments of the timestamp rule, for UPDATE statements that take
 * the new status as a parameter (see desk/ticket.c): documented here so the
 * rule lives in one place. */
#define STATUS_SQL_SOLVED_AT(newp) \
    "solved_at = CASE WHEN " newp " = 'solved' AND status <> 'solved' THEN now()" \
    " WHEN " newp " NOT IN ('solved', 'closed') THEN NULL ELSE solved_at END"
#define STATUS_SQL_CLOSED_AT(newp) \
    "closed_at = CASE WHEN " newp " = 'closed' AND status <> 'closed' THEN now()" \
    " WHEN " newp " <> 'closed' THEN NULL ELSE closed_at END"

#endif
