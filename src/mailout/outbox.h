/*
 * mailout/outbox.h -- outgoing mail: built once, stored, sent by jobs.
 *
 * Every outgoing mail is a row in outbound_mail holding the exact bytes to
 * send (so every attempt sends the same message, with the same
 * Message-ID), one row per recipient in outbound_recipients, and a
 * mail.send job -- all written in the transaction of the change that
 * causes the mail (a new ticket, an agent's reply, an assignment).
 *
 * What is built (templates in templates/mail, overridable per queue):
 *  - reply:   an agent's public reply to the customer (From the queue,
 *             Reply-To the ticket's token address, In-Reply-To/References
 *             chained to the customer's last message, "[#N]" in Subject);
 *  - ack:     the acknowledgement of a human's new ticket (Auto-Submitted:
 *             auto-replied), at most mail.ack_limit per sender per
 *             mail.ack_window, never to robots or our own addresses;
 *  - notify:  agents hear of new tickets, customer replies and
 *             assignments, with a Reply-To token bound to each agent;
 *  - notice:  a generic mail for plugins;
 *  - account: the portal's account links (signin, reset, invite, verify);
 *  - solved:  a solved ticket's request for a rating, once (desk/csat.h).
 *
 * mail.send (the job) talks to the smarthost (smtp_client.h), records the
 * answer per recipient, retries 4xx with backoff until smarthost.retry_for
 * has passed (then "expired"), and records 5xx as permanent failures, with
 * an internal note on the ticket.  Before the final "." of the message the
 * attempt is marked "data_end" and committed: a worker that dies after the
 * smarthost accepted the mail and before recording it leaves that mark,
 * and the next run does not send again (at most once; see
 * docs/decisions/0007).
 */
#ifndef ATUM_MAILOUT_OUTBOX_H
#define ATUM_MAILOUT_OUTBOX_H

#include <stdbool.h>
#include "core/db.h"
#include "core/mailer.h"

struct atum_config;
struct runtime;

#define OUTBOX_SEND_KIND "mail.send"
#define OUTBOX_COMPOSE_KIND "mail.compose"

/* The registrar (core/runtime.h): the mail.send and mail.compose job
 * kinds, and the outbox as the runtime's mailer (core/mailer.h), through
 * which the desk domain, mail-in and plugins cause mail. */
int outbox_register(struct runtime *rt, void *arg, const char **error_r);

/* ---- the mailer's functions (core/mailer.h); in the caller's open
 * transaction, the runtime read-locked ---- */

/* What a change mails: one mail.compose job (enqueued without a NOTIFY,
 * at most mail.compose_lanes composing at once) builds the mails a moment
 * later, so composing never slows down the ingest of mail:
 *  - MAILER_OPENED (id: the first message): the customer's
 *    acknowledgement and the queue's agents (notify_new);
 *  - MAILER_CUSTOMER_WROTE (id: the message): when it is a customer's
 *    public, human one, the assignee or else the queue's agents
 *    (notify_reply);
 *  - MAILER_ASSIGNED (id: the new assignee): that agent (notify_assign);
 *  - MAILER_SOLVED: the customer's solved mail with the rating links
 *    (template solved), at most once per ticket. */
int outbox_later(struct db_conn *c, struct runtime *rt, enum mailer_event ev, long long ticket_id,
                 long long id, const char **error_r);

/* An agent's public reply (a messages row) to the customer.  Idempotent:
 * one outbound mail per reply.  now: build it in this transaction and
 * queue its send job; else queue a send job that builds it first (the
 * request that saved the reply does not wait for templates and MIME). */
int outbox_reply(struct db_conn *c, struct runtime *rt, long long message_id, bool now,
                 const char **error_r);

/* A message from a plugin to one address about a ticket. */
int outbox_notice(struct db_conn *c, struct runtime *rt, long long ticket_id, const char *to,
                  const char *title, const char *body, const char **error_r);

/* An account link (desk/account.h) to one address: templates signin,
 * reset, invite, verify of the link's queue (else the first queue), kind
 * "account", no ticket.  The outgoing mail holds the link's secret until
 * it is sent (it must be sent as built); the link itself is stored only
 * as a hash and dies when used or expired. */
int outbox_account(struct db_conn *c, struct runtime *rt, const struct mailer_account_link *link,
                   const char **error_r);

/* A delivery report (bounce) named this outgoing Message-ID: mark the
 * recipient (NULL: every recipient) bounced, note it on the ticket.  A
 * report read again changes nothing; an unknown Message-ID is no error. */
int outbox_bounced(struct db_conn *c, struct runtime *rt, const char *rfc_message_id,
                   const char *recipient, const char *status, const char *diagnostic,
                   const char **error_r);

/* ---- operators ---- */

/* An operator's retry of a failed, partial, expired or unconfirmed mail:
 * its failed, bounced and unconfirmed recipients become pending,
 * smarthost.retry_for starts again, a mail.send job is queued.  Its own
 * transaction.  *recipients_r: how many recipients get it again. */
int outbox_retry(struct db_conn *c, const struct atum_config *cfg, long long id, int *recipients_r,
                 const char **error_r);

/* The smarthost setting changed (reload): mail.send jobs that sleep for
 * want of one run now.  Outside a transaction or in the caller's. */
int outbox_smarthost_changed(struct db_conn *c, const char **error_r);

#endif
