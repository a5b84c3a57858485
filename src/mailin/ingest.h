/*
 * mailin/ingest.h -- the mail.ingest job: one stored raw mail becomes a
 * ticket, a reply on a ticket, a bounce record, or a duplicate.
 *
 * The job reads inbound_mail, parses it (mail/mime.h) outside any
 * transaction, then in ONE transaction: finds the ticket (thread.h),
 * finds or creates the sender (desk/user.h: a new customer, organisation
 * by domain when configured), opens the ticket or posts the message
 * through the desk domain (desk/ticket.h: the status model, events,
 * notifications and acknowledgement are the desk's, the same as for any
 * channel), marks the inbound mail ingested with its summary and completes
 * its own job -- so the mail turns into exactly one message even if a
 * worker dies anywhere.
 *
 * - A Message-ID already stored makes no second message: the inbound row
 *   is marked a duplicate of the first; so does one of our own outgoing
 *   mails coming back.
 * - A mail to an agent's reply token that agent_reply.h accepts is posted
 *   as that agent's public reply (mailed to the customer) or, behind the
 *   note marker, as an internal note; a refused one is an ordinary
 *   incoming message with the reason among its problems.
 * - A From of a staff address without that token is kept on the
 *   customer's side, marked unverified: never the agent's words, no effect
 *   on the ticket's status (thread.h also keeps it out of other queues).
 * - A customer's mail to a closed ticket opens a follow-up ticket linked
 *   to the closed one; mail for a merged ticket lands on the ticket it
 *   was merged into.
 * - Bounces (DSN, complaints) make no ticket: each reported recipient is
 *   recorded in mail_bounces, linked to our outgoing mail if known, and a
 *   failed delivery marks that recipient bounced (core/mailer.h).
 * - Reprocessing an ingested mail (atumctl reprocess) parses it again and
 *   rewrites its message in place.
 * - A job that runs out of attempts marks the inbound mail failed with
 *   the error; its raw bytes stay for `atumctl reprocess`.
 */
#ifndef ATUM_MAILIN_INGEST_H
#define ATUM_MAILIN_INGEST_H

#include <atum/plugin.h>
#include "core/db.h"

struct runtime;

/* The registrar (core/runtime.h) of the mail.ingest job kind. */
int ingest_register(struct runtime *rt, void *arg, const char **error_r);

/* The job handler (state: unused; config comes from the job's runtime). */
int ingest_run(void *state, struct atum_job *job);

#endif
