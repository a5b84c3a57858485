/*
 * mail/summary.h -- what mail-in understood of a mail, as JSON.
 *
 * Stored on inbound_mail.summary and printed by `atumctl inbound show`
 * and `atumctl parse`, so an operator sees exactly what the ingest saw:
 * subject, sender, Message-ID, recipients, attachments (filename, type,
 * size, whether kept), robot class and reason, DSN details, problems.
 * The returned value belongs to the caller (json_decref).
 */
#ifndef ATUM_MAIL_SUMMARY_H
#define ATUM_MAIL_SUMMARY_H

#include <jansson.h>

struct mail_msg;

json_t *mail_summary_json(const struct mail_msg *msg);

#endif
