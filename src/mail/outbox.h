/*
 * mail/outbox.h -- outgoing mail: built once, stored, sent by jobs.
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
 *  - notice:  a generic mail for plugins.
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
#ifndef ATUM_MAIL_OUTBOX_H
#define ATUM_MAIL_OUTBOX_H

#include "db.h"

struct atum_config;
struct runtime;

#define OUTBOX_SEND_KIND "mail.send"
#define OUTBOX_COMPOSE_KIND "mail.compose"

/* Registers the mail.send and mail.compose job kinds. */
int outbox_register(struct runtime *rt, const char **error_r);

/* All of these run in the caller's open transaction. */

/* The mail.send job for a reply saved elsewhere (the API): the job builds
 * the mail when it first runs (outbox_reply), so the request that saved
 * the reply does not wait for templates and MIME. */
int outbox_enqueue_reply(struct db_conn *c, const struct atum_config *cfg, long long message_id,
                         const char **error_r);

/* What a change mails: called in the change's own transaction (mail-in,
 * the API), it enqueues one mail.compose job that builds the mails (and
 * their mail.send jobs) a moment later, so composing never slows down
 * the ingest of mail:
 *  - OUTBOX_OPENED (id: the first message): the customer's acknowledgement
 *    (outbox_ack's rules) and the queue's agents (notify_new);
 *  - OUTBOX_CUSTOMER_WROTE (id: the message): when it is a customer's
 *    public, human one, the assignee or else the queue's agents
 *    (notify_reply);
 *  - OUTBOX_ASSIGNED (id: the new assignee): that agent (notify_assign).
 * The job is enqueued without a NOTIFY (queue_enqueue_ex) and runs in
 * mail.compose_lanes lanes at most at once. */
enum outbox_event { OUTBOX_OPENED = 0, OUTBOX_CUSTOMER_WROTE = 1, OUTBOX_ASSIGNED = 2 };
int outbox_later(struct db_conn *c, const struct atum_config *cfg, enum outbox_event ev,
                 long long ticket_id, long long id, const char **error_r);

/* An agent's public reply (a messages row, direction out) to the
 * customer.  Idempotent: one outbound mail per reply.  *outbound_r (may be
 * NULL) gets its id.  enqueue: also add the mail.send job. */
int outbox_reply(struct db_conn *c, const struct atum_config *cfg, long long message_id,
                 bool enqueue, long long *outbound_r, const char **error_r);

/* A message from a plugin to one address about a ticket. */
int outbox_notice(struct db_conn *c, const struct atum_config *cfg, long long ticket_id,
                  const char *to, const char *title, const char *body, const char **error_r);

/* A delivery report (bounce) named this outgoing Message-ID: mark the
 * recipient (NULL: every recipient) bounced, note it on the ticket.  A
 * report read again changes nothing; an unknown Message-ID is no error. */
int outbox_bounced(struct db_conn *c, const char *rfc_message_id, const char *recipient,
                   const char *status, const char *diagnostic, const char **error_r);

/* An operator's retry of a failed, partial, expired or unconfirmed mail:
 * its failed, bounced and unconfirmed recipients become pending,
 * smarthost.retry_for starts again, a mail.send job is queued.  Its own transaction.
 * *recipients_r: how many recipients get it again. */
int outbox_retry(struct db_conn *c, const struct atum_config *cfg, long long id, int *recipients_r,
                 const char **error_r);

/* The smarthost setting changed (reload): mail.send jobs that sleep for
 * want of one run now.  Outside a transaction or in the caller's. */
int outbox_smarthost_changed(struct db_conn *c, const char **error_r);

#endif
