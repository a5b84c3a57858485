/*
 * desk/ticket.h -- tickets and their messages: the only code that writes
 * them.  The API, mail-in, mail-out, the desk, the portal and plugins all
 * change tickets through these functions, so the rules are the same
 * whoever asks:
 *  - the status model of desk/status.h (what reopens a ticket, who may
 *    reply to a closed one, which timestamps change);
 *  - who may do what (desk/desk.h's actor): the system and operators may
 *    do anything; a signed-in user acts only on tickets they can see
 *    (TICKET_VISIBLE); a customer only on their own tickets -- colleagues
 *    with organisation access see each other's tickets but do not change
 *    them;
 *  - merges are followed: a merged ticket takes no more messages or
 *    changes; ticket_survivor() names the ticket to use instead;
 *  - every change writes its audit row (desk/desk.h says whose) and its
 *    events: ticket.created, message.created, ticket.updated (every
 *    changed field, whatever the channel), ticket.merged, ticket.linked,
 *    ticket.unlinked; and causes its mail through core/mailer.h
 *    (acknowledgement and notifications of a new ticket, the notification
 *    of a customer's reply, the mail of a staff member's public reply, the
 *    notification of an assignment).
 *
 * Every function runs in the caller's transaction (struct desk_tx) and
 * returns 0, or -1 with err: ERR_NOT_FOUND (no such ticket, or not the
 * actor's to see), ERR_INVALID (err.field names the input), ERR_FORBIDDEN
 * (the actor may not), ERR_CONFLICT (the ticket's state forbids it:
 * closed, merged), ERR_FAILED (the database).
 *
 * Ownership: input structs and their strings are borrowed; struct ticket
 * filled by ticket_lock() owns its strings (ticket_clear()).
 */
#ifndef ATUM_DESK_TICKET_H
#define ATUM_DESK_TICKET_H

#include <stdbool.h>
#include <stddef.h>
#include "desk/desk.h"
#include "desk/status.h"

/* Who may see a ticket, as SQL on the ticket alias `a`, with parameters
 * $1 user id, $2 role ('system' for the system and operators), $3 the
 * user's organisation, $4 organisation access (ticket_visibility_params):
 *  - the system, operators, admins and managers: every ticket;
 *  - agents: the tickets of the queues they belong to;
 *  - customers: their own, and their organisation's with org_access. */
#define TICKET_VISIBLE(a) TICKET_VISIBLE_FOR(a, "$1::bigint", "$2::text", "$3::bigint", "$4::boolean")
/* The same rule for an actor given as SQL expressions (user id, role,
 * organisation, organisation access -- the values of
 * ticket_visibility_params()), so one query can ask it for many actors at
 * once (the live channel's fan-out, desk/live_feed.h). */
#define TICKET_VISIBLE_FOR(a, uid, role, org, access) \
    "(" role " IN ('system', 'admin', 'manager')" \
    " OR (" role " = 'agent' AND " a ".queue_id IN" \
    "     (SELECT qm.queue_id FROM queue_members qm WHERE qm.user_id = " uid "))" \
    " OR (" role " = 'customer' AND (" a ".requester_id = " uid \
    "     OR (" access " AND " a ".org_id = " org "))))"

struct ticket_visibility {
    char uid[24], org[24];
    const char *p[4];
};
void ticket_visibility_params(const struct desk_actor *who, struct ticket_visibility *v);

#define TICKET_PRIORITIES "low, normal, high, urgent"
bool ticket_priority_valid(const char *p);

/* A ticket as locked for a change. */
struct ticket {
    long long id, queue_id, requester_id, assignee_id, org_id, merged_into;
    long long version;       /* raised by every change (sql/020_live.sql) */
    enum ticket_status status;
    char priority[12];
    char *subject;
    char *category;          /* NULL: none */
};
void ticket_clear(struct ticket *t);

/* Locks a ticket the actor can see (SELECT ... FOR UPDATE). */
int ticket_lock(const struct desk_tx *tx, long long id, struct ticket *t, struct err *err);

/* The stale-send guard on a ticket locked by ticket_lock(): a write made
 * against version `expect` (> 0; 0 asks nothing) is refused with
 * ERR_CONFLICT on `field` (a static string naming the request's version:
 * "version", "into_version") when the ticket moved on since.  Checked
 * under the lock, so nothing can change the ticket between the check and
 * the write.  ticket_changes_since() then says what changed. */
int ticket_version_check(const struct ticket *t, long long expect, const char *field,
                         struct err *err);

/* Follows merged_into to the ticket that took a merged one's messages
 * (id itself when it was never merged; a chain is followed to its end). */
int ticket_survivor(const struct desk_tx *tx, long long id, long long *survivor_r,
                    struct err *err);

/* ---- messages ----------------------------------------------------------- */

struct message_attachment {
    const char *filename;
    const char *content_type;
    const char *content_id;      /* cid: of an inline image, or NULL */
    bool is_inline;
    const char *data;            /* decoded bytes */
    size_t size;
    const char *sha256;          /* hex of data */
};

struct message_new {
    long long author_id;         /* the user who wrote it, 0: none known */
    enum message_party party;    /* customer, unverified, robot, staff, note */
    const char *subject;         /* NULL: "Re: " + the ticket's subject */
    const char *body_text;
    const char *body_html;       /* sanitised, or NULL */
    const char *new_text;        /* without quoted history, or NULL (= body_text) */
    const char *from_addr;       /* NULL: the author's address */
    /* staff replies: the status the ticket takes with it (NULL: the rule's) */
    const enum ticket_status *status;
    /* a message read from a mail */
    long long inbound_id;
    const char *message_id, *in_reply_to, *date_header;
    const char *robot;           /* "none", "autoreply", "bounce", "list" */
    char *const *refs;
    size_t nrefs;
    char *const *to;
    size_t nto;
    const char *problems;        /* "one\nper\nline\n", or NULL */
    int remote_images;
    const struct message_attachment *att;
    size_t natt;
    /* the stale-send guard: > 0 refuses the message (ERR_CONFLICT, field
     * "version") when the ticket is no longer at this version */
    long long expect_version;
    /* an agent's reply by mail that crossed a newer message: stored as an
     * internal note with this reason, not sent (party must be PARTY_NOTE) */
    const char *held;
};

/* Adds a message to a ticket and applies the status model.  A customer's
 * message on a closed ticket, or a staff reply that does not reopen it, is
 * ERR_CONFLICT; on a merged ticket ERR_CONFLICT too (err.field
 * "merged_into"); with m->expect_version set and the ticket at another
 * version, ERR_CONFLICT with err.field "version" (ticket_changes_since()
 * says what changed).  A staff member's public reply is mailed to the
 * customer; a customer's reply is announced to the agents. */
int ticket_post_message(const struct desk_tx *tx, long long ticket_id, const struct message_new *m,
                        long long *message_r, struct err *err);

/* Re-reading a mail (atumctl reprocess) rewrites its message in place:
 * text, headers, problems and attachments; nothing is mailed again. */
int ticket_rewrite_message(const struct desk_tx *tx, long long message_id,
                           const struct message_new *m, struct err *err);

/* ---- tickets ------------------------------------------------------------ */

struct ticket_new {
    long long queue_id;
    long long requester_id;      /* an existing, enabled user */
    const char *subject;
    const char *priority;        /* NULL: normal */
    const char *category;        /* NULL: none */
    struct message_new first;    /* its first message */
};

/* Opens a ticket with its first message; acknowledgement and agents'
 * notifications follow (mail-out decides whether to send them). */
int ticket_open(const struct desk_tx *tx, const struct ticket_new *in, long long *ticket_r,
                long long *message_r, struct err *err);

/* A change of fields; absent ones (NULL / set_* false) keep their value. */
struct ticket_change {
    const enum ticket_status *status;
    const char *priority;
    bool set_category;
    const char *category;        /* with set_category: NULL clears it */
    bool set_assignee;
    long long assignee_id;       /* with set_assignee: 0 unassigns */
    long long queue_id;          /* 0: unchanged */
    const char *subject;
    long long expect_version;    /* > 0: the stale-send guard, as for messages */
};

/* Changes a ticket: status by the rules of desk/status.h, the assignee
 * only to staff who may work the ticket's (new) queue, the queue only to
 * one the actor may work.  One ticket.updated event and one audit row list
 * every changed field; *changed_r (may be NULL) says whether anything did. */
int ticket_update(const struct desk_tx *tx, long long id, const struct ticket_change *ch,
                  bool *changed_r, struct err *err);

int ticket_set_status(const struct desk_tx *tx, long long id, enum ticket_status status,
                      struct err *err);
int ticket_assign(const struct desk_tx *tx, long long id, long long assignee_id, struct err *err);
int ticket_move(const struct desk_tx *tx, long long id, long long queue_id, struct err *err);

struct ticket_merge_in {
    long long source, target;
    bool force;                  /* across organisations */
    /* the stale-send guard (> 0): the versions the merge was asked
     * against; ERR_CONFLICT on "version" (the source) or "into_version"
     * (the target) when that ticket moved on since */
    long long expect_source, expect_target;
};

struct ticket_merge_out {
    long long moved;             /* messages moved */
    long long target_version;    /* the target's version after the merge */
};

/* Merges source into target: every message moves, the source is closed
 * with merged_into set, its edit lock ends; both versions rise by one.
 * Tickets of two different organisations are merged only with force
 * (ERR_CONFLICT, field "force", otherwise), and the audit row names both
 * organisations.  out may be NULL. */
int ticket_merge(const struct desk_tx *tx, const struct ticket_merge_in *in,
                 struct ticket_merge_out *out, struct err *err);

/* ---- versions ------------------------------------------------------------ */

/* What changed on a ticket the actor can see since `version`, as
 * {"version": now, "since": version, "changes": [{"version", "kind",
 * "message_id", "changes", "actor_id", "created_at"}...], "messages":
 * [the newer messages the actor may read, with their text]}.  *out_r is
 * the caller's (json_decref). */
int ticket_changes_since(const struct desk_tx *tx, long long id, long long version,
                         json_t **out_r, struct err *err);

/* A held reply (message_new.held): the agent sends it after all -- a
 * public reply with the same text, by the actor, guarded by
 * expect_version like any reply -- or drops it; either way it is held no
 * more.  ERR_NOT_FOUND when the ticket has no such held message. */
int ticket_release_held(const struct desk_tx *tx, long long ticket_id, long long message_id,
                        bool send, long long expect_version, long long *reply_r,
                        struct err *err);

/* Links two tickets (idempotent) / removes the link (ERR_NOT_FOUND when
 * there is none).  A link changes neither ticket's fields nor thread, so
 * it leaves their versions as they are; the _guarded form and unlink
 * refuse it (ERR_CONFLICT on "version") when ticket a moved on since
 * expect_a (> 0; 0 asks nothing).  Mail-in links without a version. */
int ticket_link(const struct desk_tx *tx, long long a, long long b, struct err *err);
int ticket_link_guarded(const struct desk_tx *tx, long long a, long long b, long long expect_a,
                        struct err *err);
int ticket_unlink(const struct desk_tx *tx, long long a, long long b, long long expect_a,
                  struct err *err);

#endif
