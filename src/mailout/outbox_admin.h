/*
 * mailout/outbox_admin.h -- mail-out's side of the administrator's tools
 * (core/mailadmin.h): the smarthost test (smtp_client.h's smtp_check with
 * the [smarthost] settings in effect), the list of outgoing mail and its
 * retry (outbox.h's outbox_retry_tx, as `atumctl outbox` does), and the
 * mail templates (mailout/template_admin.h).
 */
#ifndef ATUM_MAILOUT_OUTBOX_ADMIN_H
#define ATUM_MAILOUT_OUTBOX_ADMIN_H

#include "core/mailadmin.h"

/* mail-out's table for rt->mailadmin_out (set by outbox_register). */
extern const struct mailadmin_out outbox_admin_ops;

/* The outgoing mails of q, newest first: {"items": [{"id", "kind",
 * "state" (sent mail that may not have arrived: "unconfirmed"),
 * "attempts", "last_error", "ticket_id", "subject", "recipients":
 * [{"address", "state", "reply"}], "created_at", "last_attempt_at",
 * "sent_at"}], "next_before": the id to page on, or null}.  A state that
 * is not one of outbound_mail's, "unconfirmed" or "problem" is
 * ERR_INVALID (field "state"). */
json_t *outbox_admin_list(struct db_conn *c, const struct mailadmin_outbox_query *q, struct err *err);

#endif
