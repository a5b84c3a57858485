/*
 * mailin/thread.h -- which ticket an incoming mail belongs to.
 *
 * In order (the first that answers wins):
 *  1. a valid reply token in a recipient address (support+t42.mac@...);
 *  2. a "[#N]" tag in the subject, for a ticket that exists and where the
 *     sender is the requester or has written on it before -- a stranger
 *     cannot add to someone else's ticket by typing its number;
 *  3. In-Reply-To / References matching any Message-ID we stored
 *     (messages) or sent (outbound_mail: acknowledgements, replies,
 *     notifications);
 *  4. otherwise a new ticket.
 * Mail from a staff address without the agent's token (a From anyone can
 * forge) joins a ticket by 2 or 3 only when it was sent to that ticket's
 * queue address: a forged agent cannot reach into another queue's
 * tickets.
 * A merged ticket is followed to the ticket it was merged into
 * (desk/ticket.h, ticket_survivor), for the token too: whatever names the
 * old ticket lands on the survivor.
 * A token-shaped address whose MAC fails is reported (REPLY_TOKEN_INVALID) and
 * ignored for threading: it is never trusted.
 */
#ifndef ATUM_MAILIN_THREAD_H
#define ATUM_MAILIN_THREAD_H

#include <stddef.h>
#include "core/db.h"
#include "mail/reply_token.h"

struct thread_in {
    const char *secret;
    char *const *rcpts;          /* envelope recipients, then To/Cc */
    size_t nrcpt;
    const char *subject;
    char *const *refs;           /* without <> */
    size_t nrefs;
    const char *sender;          /* From addr-spec, or NULL */
};

struct thread_out {
    long long ticket_id;         /* 0: new ticket; never a merged one */
    const char *method;          /* "token", "subject", "references", "new" */
    enum reply_token_status token;     /* what the recipients' tokens said */
    long long token_ticket;      /* the token's ticket (after following merges) */
    long long token_user;        /* > 0: an agent's token (token.h) ... */
    long long token_day;         /* ... issued on this day */
    long long token_version;     /* ... showing this version of the ticket (0: unknown) */
};

int thread_find(struct db_conn *c, const struct thread_in *in, struct thread_out *out,
                const char **error_r);

/* The N of the first "[#N]" in a subject, or 0. */
long long thread_subject_tag(const char *subject);

#endif
