/*
 * desk/draft.h -- what a staff member is writing on a ticket, kept on the
 * server as they type, so it survives a reload, a crash or a change of
 * device: one draft per person and ticket (a reply or a note, its text,
 * the status to set with it and the uploads it will carry).
 *
 * Only tickets the person can see take a draft (ERR_NOT_FOUND otherwise,
 * like any ticket they cannot see); the text is at most DRAFT_BODY_MAX
 * bytes.  Sending the reply or note removes the draft in the same
 * transaction (draft_delete by the caller of ticket_post_message).
 * Drafts are private working state: not audited, no event.
 *
 * Every function runs in the caller's transaction and returns 0 or -1
 * with err (ERR_INVALID naming the field, ERR_NOT_FOUND, ERR_FORBIDDEN
 * for customers and the system, ERR_FAILED).
 */
#ifndef ATUM_DESK_DRAFT_H
#define ATUM_DESK_DRAFT_H

#include <stdbool.h>
#include <stddef.h>
#include "desk/desk.h"

#define DRAFT_BODY_MAX (1024 * 1024)
#define DRAFT_ATTACHMENTS_MAX 20

struct draft {
    const char *kind;               /* "reply" or "note" */
    const char *body;
    const char *status;             /* status to set when sending, or NULL */
    const long long *attachment_ids;
    size_t nattachments;
};

/* Creates or replaces the actor's draft on the ticket; *updated_at_r (64
 * bytes, may be NULL) gets the time it was saved, ISO 8601. */
int draft_put(const struct desk_tx *tx, long long ticket_id, const struct draft *d,
              char *updated_at_r, struct err *err);

/* Removes the actor's draft on the ticket; *deleted_r (may be NULL) says
 * whether there was one.  Never ERR_NOT_FOUND: sending calls it whether
 * or not a draft was saved. */
int draft_delete(const struct desk_tx *tx, long long ticket_id, bool *deleted_r, struct err *err);

#endif
