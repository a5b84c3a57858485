/*
 * mailin/agent_reply.h -- when a mail is an agent's answer to a ticket.
 *
 * Agents get notifications whose Reply-To carries a token bound to the
 * ticket, to them (their user id) and to the day it was issued (token.h).
 * A mail sent to such a token is posted as that agent's reply only when
 * every one of these holds:
 *  - the token's MAC verifies (thread.h already checked) and it names the
 *    ticket the mail is threaded to;
 *  - the From address is the agent's registered address;
 *  - the agent still exists, is not disabled and is staff; an agent (not
 *    a manager or admin) is still a member of the ticket's queue;
 *  - the token is at most mail.agent_token_days old;
 *  - the mail is not automatic (mail-in checks that before: an agent's
 *    out-of-office answering a notification is refused).
 * Anything else is refused with a reason: the mail is then an ordinary
 * incoming message, never trusted as an agent's (mail/ingest.h).
 *
 * A reply whose first non-blank line starts with mail.note_marker
 * ("#note") is an internal note: that marker is removed, the rest of the
 * line and what follows is the note.
 */
#ifndef ATUM_MAILIN_AGENT_REPLY_H
#define ATUM_MAILIN_AGENT_REPLY_H

#include <atum/plugin.h>
#include <stdbool.h>
#include <stddef.h>
#include "core/db.h"
#include "lib/strbuf.h"

struct atum_config;
struct thread_out;

/* 1 accepted (*agent_r = the user id, *role_r their role), 0 refused
 * (why says so; *agent_r = 0), -1 database error.  A thread_out without
 * an agent token gives 0 with why "". */
int agent_reply_check(struct db_conn *c, const struct atum_config *cfg,
                      const struct thread_out *th, long long ticket_id, const char *sender,
                      long long today, long long *agent_r, enum atum_role *role_r, char *why,
                      size_t why_size, const char **error_r);

/* Splits an agent's reply text: true when it starts with the marker (a
 * note).  *body_r gets the text without the marker, trimmed; the caller
 * frees it.  An empty marker never matches. */
bool agent_reply_note(const char *text, const char *marker, struct strbuf *body_r);

#endif
