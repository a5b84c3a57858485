/*
 * desk/macro.h -- macros: a canned text (with the placeholders of
 * desk/placeholder.h) plus field changes, applied to a ticket in one step
 * and one transaction.
 *
 * A macro has a title (unique), a body (may be empty when it changes
 * fields only), a visibility ("public": the text goes to the customer as
 * a reply; "internal": as a note), an optional queue (shown and usable
 * only for that queue's tickets) and actions, a JSON object of the
 * changes it makes:
 *
 *   {"status": "pending", "priority": "high", "category": "billing" | null,
 *    "assignee_id": 7 | null | "me", "queue_id": 3}
 *
 * ("me": whoever applies it).  Managers and admins write macros
 * (ERR_FORBIDDEN otherwise), audited as macro.create/update/delete;
 * agents apply those of their queues and the global ones.
 *
 * macro_apply() posts the text (ticket_post_message: the reply is mailed,
 * the status model applies; a public reply carries the macro's status
 * with it) and then the other changes (ticket_update, with its rules on
 * assignees and queues), and writes a "ticket.macro" audit row -- all in
 * the caller's transaction, so either everything happens or nothing.
 * body: the text the agent sent (perhaps edited from the filled-in
 * macro), NULL for the macro's own; placeholders are filled in either.
 *
 * Every function returns 0 or -1 with err: ERR_INVALID naming the field
 * ("title", "body", "visibility", "actions.<key>", "queue_id"),
 * ERR_CONFLICT on "title" for a title taken, ERR_NOT_FOUND, ERR_FORBIDDEN,
 * and whatever the ticket functions answer.
 */
#ifndef ATUM_DESK_MACRO_H
#define ATUM_DESK_MACRO_H

#include <jansson.h>
#include <stdbool.h>
#include "desk/desk.h"

struct macro_in {
    const char *title;          /* NULL: unchanged (required to add) */
    const char *body;           /* NULL: unchanged ("" to add) */
    const char *visibility;     /* NULL: unchanged ("public" to add) */
    json_t *actions;            /* NULL: unchanged ({} to add); borrowed */
    bool set_queue;
    long long queue_id;         /* with set_queue: 0 = every queue */
};

int macro_add(const struct desk_tx *tx, const struct macro_in *in, long long *id_r, struct err *err);
int macro_update(const struct desk_tx *tx, long long id, const struct macro_in *in, struct err *err);
int macro_delete(const struct desk_tx *tx, long long id, struct err *err);

/* Checks an actions object (ERR_INVALID on "actions.<key>"). */
int macro_actions_check(json_t *actions, struct err *err);

struct macro_result {
    long long message_id;       /* 0: the macro posted no text */
    bool changed;               /* a field changed */
    json_t *unknown;            /* placeholders left as written (owned: json_decref) */
};

/* expect_version > 0: the stale-send guard -- the ticket version the
 * agent saw when choosing the macro; ERR_CONFLICT on "version" and nothing
 * done when the ticket moved on since (checked under the ticket's lock,
 * before the text is posted).  0 applies it to the ticket as it is. */
int macro_apply(const struct desk_tx *tx, long long ticket_id, long long macro_id, const char *body,
                long long expect_version, struct macro_result *res, struct err *err);

#endif
