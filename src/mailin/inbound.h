/*
 * mailin/inbound.h -- the first durable step of every received mail.
 *
 * inbound_store() writes the raw bytes, unchanged, with their envelope into
 * inbound_mail and enqueues the mail.ingest job for it, in one transaction.
 * Only after it returns 0 may a receiver acknowledge the mail (SMTP 250,
 * IMAP flag/move, atumctl exit 0): whatever happens next, the mail is in
 * the database and can be (re)processed from there.
 *
 * envelope_json: a JSON object (mail_from, rcpt_to, helo, peer, ...), or
 * NULL for {}.  raw is binary-safe (sent as a bytea parameter).
 */
#ifndef ATUM_MAILIN_INBOUND_H
#define ATUM_MAILIN_INBOUND_H

#include <stddef.h>
#include "core/db.h"

#define INBOUND_INGEST_KIND "mail.ingest"

int inbound_store(struct db_conn *c, const char *source, long long mailbox_id,
                  const char *envelope_json, const char *raw, size_t len,
                  long long *id_r, const char **error_r);

#endif
