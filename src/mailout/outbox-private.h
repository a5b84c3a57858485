/*
 * mailout/outbox-private.h -- what the outbox's files share (outbox.c,
 * outbox_reply.c, outbox_notify.c, outbox_send.c); nothing outside
 * mailout/ includes it.
 *
 * Ownership: outbox_ctx_load() fills a struct outbox_ctx whose strings the
 * caller releases with outbox_ctx_free(); functions returning char * hand
 * the caller a malloc'd string.
 */
#ifndef ATUM_MAILOUT_OUTBOX_PRIVATE_H
#define ATUM_MAILOUT_OUTBOX_PRIVATE_H

#include <atum/plugin.h>
#include <stdbool.h>
#include <stddef.h>
#include "core/conf.h"
#include "core/db.h"
#include "lib/err.h"
#include "lib/strbuf.h"
#include "mail/compose.h"
#include "mailout/template.h"

#define OUTBOX_MAX_REFS 12
#define OUTBOX_SEND_PRIORITY 60
#define OUTBOX_COMPOSE_PRIORITY 70     /* after ingest (50) and sending (60) */
#define OUTBOX_SEND_ATTEMPTS 1000      /* the real limit is smarthost.retry_for */
#define OUTBOX_NO_SMARTHOST_WAIT 300   /* seconds; a reload with a smarthost wakes them */

/* In-Reply-To and References: the given message, or else the customer's
 * latest one; its own references first (first one plus the latest few). */
struct thread_refs {
    char *in_reply_to;
    char *refs[OUTBOX_MAX_REFS + 1];
    size_t n;
};

/* What a mail about a ticket needs to know. */
struct outbox_ctx {
    long long id, queue_id, requester_id, assignee_id;
    char *subject, *queue_name, *queue_address, *customer_email, *customer_name;
    char *override;              /* the queue's version of the template, or NULL */
    char *text;                  /* the message's text (want_text), "" without */
    struct thread_refs refs;
};

/* Loads it all in one round trip (this runs inside the ingest transaction
 * of every new ticket): the ticket, queue and requester, the queue's
 * override of template_name, the message to thread under (message_id, or
 * the customer's latest), and with want_text that message's text. */
int outbox_ctx_load(struct db_conn *c, long long ticket_id, long long message_id,
                    const char *template_name, bool want_text, struct outbox_ctx *t,
                    const char **error_r);
void outbox_ctx_free(struct outbox_ctx *t);

/* "support+TOKEN@example.com" */
char *outbox_token_address(const char *queue_address, const char *token);
/* "Re: [#N] subject": the tag added when missing */
char *outbox_reply_subject(long long ticket, const char *subject);
/* public_url + "/area/tickets/N" */
char *outbox_url_for(const struct atum_config *cfg, const char *area, long long ticket);
/* Renders a template: the queue's override when it has one (a broken one
 * falls back to the built-in, with a warning). */
int outbox_render(const struct outbox_ctx *t, const char *name, const struct tmpl_var *vars,
                  size_t nvars, struct strbuf *subject, struct strbuf *text, struct strbuf *html,
                  const char **error_r);

/* The mail.send job for an outbound mail ("outbound_id") or a reply to
 * build first ("message_id"). */
int outbox_enqueue_send(struct db_conn *c, const struct atum_config *cfg, const char *field,
                        long long id, const char **error_r);

/* One outgoing mail to build and store. */
struct outbox_spec {
    const struct outbox_ctx *t;
    const char *from_name;           /* NULL: the queue's name */
    long long message_id;            /* the reply this sends, or 0 */
    const char *kind;
    char *const *to;
    size_t nto;
    const char *reply_to;
    const char *auto_submitted;
    bool threaded;                   /* In-Reply-To/References from t->refs */
    const char *subject, *text, *html;
    const struct compose_attachment *att;
    size_t natt;
};

/* Builds the MIME bytes, stores the mail and its recipients (a reply only
 * once: a second call finds the first), and with enqueue its send job. */
int outbox_store(struct db_conn *c, const struct atum_config *cfg, const struct outbox_spec *o,
                 bool enqueue, long long *id_r, const char **error_r);

/* Builds and stores the mail of an agent's public reply (message_id);
 * idempotent.  ERR_NOT_FOUND: no such message; ERR_CONFLICT: it is an
 * internal note (neither will ever be mailed); ERR_FAILED otherwise. */
int outbox_reply_build(struct db_conn *c, const struct atum_config *cfg, long long message_id,
                       bool enqueue, long long *outbound_r, struct err *err);

/* The solved mail of a ticket (outbox_account.c): the customer is asked
 * to rate it, once; 0 also when the rules skip it. */
int outbox_solved(struct db_conn *c, const struct atum_config *cfg, long long ticket_id,
                  const char **error_r);

/* The job handlers (outbox_send.c, outbox_notify.c). */
int outbox_send_run(void *state, struct atum_job *job);
int outbox_compose_run(void *state, struct atum_job *job);

/* outbox_retry() in the caller's open transaction (the API writes its
 * audit row in it; mailout/outbox_admin.h): ERR_NOT_FOUND, ERR_CONFLICT for
 * a mail in another state. */
int outbox_retry_tx(struct db_conn *c, const struct atum_config *cfg, long long id, int *recipients_r,
                    struct err *err);

#endif
