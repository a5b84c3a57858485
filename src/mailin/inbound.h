/*
 * mailin/inbound.h -- the first durable step of every received mail, and
 * the mail.ingest job that takes it from there.
 *
 * inbound_store() writes the raw bytes, unchanged, with their envelope into
 * inbound_mail and enqueues the mail.ingest job for it, in one transaction.
 * Only after it returns 0 may a receiver acknowledge the mail (SMTP 250,
 * IMAP flag/move, atumctl exit 0): whatever happens next, the mail is in
 * the database and can be (re)processed from there.
 *
 * envelope_json: a JSON object (mail_from, rcpt_to, helo, peer, ...), or
 * NULL for {}.  raw is binary-safe (sent as a bytea parameter).
 *
 * The mail.ingest job of an inbound mail is described once, here
 * (inbound_ingest_job): its kind, priority, attempts and unique key.
 */
#ifndef ATUM_MAILIN_INBOUND_H
#define ATUM_MAILIN_INBOUND_H

#include <atum/plugin.h>
#include <stddef.h>
#include "core/db.h"

#define INBOUND_INGEST_KIND "mail.ingest"
/* a customer is waiting: before composing (70) and housekeeping (100) */
#define INBOUND_INGEST_PRIORITY 50
#define INBOUND_INGEST_ATTEMPTS 5

/* The job spec of one inbound mail's ingest; the strings live in *j. */
struct inbound_job {
    char payload[64];
    char unique_key[48];
    struct atum_job_spec spec;
};
void inbound_ingest_job(long long inbound_id, struct inbound_job *j);

int inbound_store(struct db_conn *c, const char *source, long long mailbox_id,
                  const char *envelope_json, const char *raw, size_t len,
                  long long *id_r, const char **error_r);

/* Puts an inbound mail back through ingest (atumctl reprocess): state
 * queued, its dead job requeued (or a new one), in its own transaction. */
int inbound_reprocess(struct db_conn *c, long long inbound_id, const char **error_r);

#endif
