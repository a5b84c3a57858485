/*
 * mailin/ingest.h -- the mail.ingest job: one stored raw mail becomes a
 * ticket, a reply on a ticket, a bounce record, or a duplicate.
 *
 * The job reads inbound_mail, parses it (mime.h) outside any transaction,
 * then in ONE transaction: finds the ticket (thread.h), creates the
 * customer if unknown (organisation by domain when configured), writes
 * the ticket / message / attachments (stored once per SHA-256), marks the
 * inbound mail ingested with its summary, enqueues the events
 * (ticket.created, message.received) and completes its own job -- so the
 * mail turns into exactly one message even if a worker dies anywhere.
 *
 * - A Message-ID already stored makes no second message: the inbound row
 *   is marked a duplicate of the first; so does one of our own outgoing
 *   mails coming back.
 * - A mail to an agent's reply token that agent_reply.h accepts is posted
 *   as that agent's public reply (mailed to the customer through the
 *   outbox in the same transaction) or, behind the note marker, as an
 *   internal note; a refused one is an ordinary incoming message with the
 *   reason among its problems.
 * - A new ticket or a customer's reply enqueues the mail.compose job of
 *   its acknowledgement and notifications (mail/outbox.h).
 * - Bounces (DSN, complaints) make no ticket: each reported recipient is
 *   recorded in mail_bounces, linked to our outgoing mail if known, and a
 *   failed delivery marks that recipient bounced (outbox_bounced).
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

/* Puts an inbound mail back through ingest: state queued, its job
 * requeued (or enqueued).  0, or -1 with *error_r. */
int ingest_reprocess(struct db_conn *c, long long inbound_id, const char **error_r);

#endif
