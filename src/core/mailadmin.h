/*
 * core/mailadmin.h -- what an administrator's tools need from mail-in and
 * mail-out, as two tables those floors register at start-up (the same
 * seam as core/mailer.h and core/intake.h): the web API's admin pages test
 * a mailbox's IMAP settings and the smarthost, list and retry outgoing
 * mail, and read, write and preview the mail templates -- with the code
 * that does it for real (the guarded IMAP session, the smarthost client,
 * the outbox, the template renderer), never a copy of it.
 *
 * Without the floor (a process that does not run it) the calls fail with
 * a clear error (ERR_FAILED, or -1 and a report saying so).
 *
 * Locking: the connection tests talk to servers for up to
 * MAILADMIN_TEST_MAX_MS; they must not hold the runtime's read lock that
 * long (a reload would wait, and every reader behind it), so the calls
 * below take it themselves, only to copy the settings they need.  They
 * run on a thread of their own with an 8 MiB stack, which the caller
 * waits for: libetpan's parser and a TLS handshake overflow the small
 * stacks of the web server's threads.  The
 * database functions run in the caller's connection: the outbox and
 * template writes in the caller's open transaction (the caller writes the
 * audit row and commits), the reads outside or inside one.
 *
 * Ownership: strings in arguments are borrowed; returned json_t values
 * belong to the caller.
 */
#ifndef ATUM_CORE_MAILADMIN_H
#define ATUM_CORE_MAILADMIN_H

#include <jansson.h>
#include <stdbool.h>
#include "core/db.h"
#include "lib/err.h"

struct runtime;

/* A connection test ends within this time, whatever the server does
 * (short of a name lookup that hangs: getaddrinfo cannot be cancelled). */
#define MAILADMIN_TEST_MAX_MS 20000
/* and each read waits at most this long for the server */
#define MAILADMIN_READ_MAX_MS 10000

#define MAILADMIN_MAX_STEPS 6

/* One step of a connection test: "connect", "tls", "login", "folder"
 * (IMAP) or "connect", "ehlo", "starttls", "auth" (SMTP), in the order
 * tried; the report stops at the first step that failed. */
struct mailadmin_step {
    const char *step;            /* static */
    bool ok;
    char detail[400];            /* for a person: what happened, what to check */
};

struct mailadmin_report {
    bool ok;                     /* every step passed */
    int n;
    struct mailadmin_step steps[MAILADMIN_MAX_STEPS];
};

void mailadmin_report_init(struct mailadmin_report *rep);
/* Appends a step (ignored past MAILADMIN_MAX_STEPS); a failed step makes
 * the report fail. */
void mailadmin_step(struct mailadmin_report *rep, const char *step, bool ok, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* {"ok": bool, "steps": [{"step", "ok", "detail"}]} */
json_t *mailadmin_report_json(const struct mailadmin_report *rep);

/* An IMAP mailbox to test: its settings as stored or as typed. */
struct mailadmin_imap {
    const char *host;
    int port;
    const char *security;        /* "tls", "starttls" or "none" */
    bool trust_any_certificate;
    const char *username;
    const char *password;        /* already allowed by desk/mailbox.h's rules */
    const char *folder;
};

/* Which outgoing mails to list, newest first. */
struct mailadmin_outbox_query {
    const char *state;           /* an outbound_mail state, "problem" (failed, partial,
                                    expired or unconfirmed), or NULL: all */
    long long ticket_id;         /* 0: any */
    long long before_id;         /* 0: from the newest */
    int limit;                   /* 1..500 */
};

/* Where a template override applies: one queue, or every queue. */
struct mailadmin_tmpl_scope {
    const char *name;            /* a template name (tmpl_variables) */
    long long queue_id;          /* 0: the global override */
};

struct mailadmin_in {
    /* connect, TLS, LOGIN, EXAMINE the folder; 0 with the report filled
     * (ok or not), -1 only when the test could not be run at all */
    int (*imap_test)(struct runtime *rt, const struct mailadmin_imap *box,
                     struct mailadmin_report *rep, const char **error_r);
};

struct mailadmin_out {
    /* connect, EHLO, STARTTLS when configured, AUTH when configured, with
     * the [smarthost] settings in effect; as imap_test */
    int (*smarthost_test)(struct runtime *rt, struct mailadmin_report *rep, const char **error_r);
    /* {"items": [...], "next_before": id or null} */
    json_t *(*outbox_list)(struct db_conn *c, const struct mailadmin_outbox_query *q,
                           struct err *err);
    /* A failed, partial, expired or unconfirmed mail back to the queue, in
     * the caller's transaction: ERR_NOT_FOUND, ERR_CONFLICT (other states). */
    int (*outbox_retry)(struct db_conn *c, struct runtime *rt, long long id, int *recipients_r,
                        struct err *err);
    /* {"items": [{"name", "variables", "global", "queues": [...]}]} */
    json_t *(*template_list)(struct db_conn *c, struct err *err);
    /* The template in effect for the scope: {"name", "queue_id", "origin":
     * "queue"|"global"|"default", "subject", "body", "variables",
     * "updated_at"}; ERR_NOT_FOUND for an unknown name or queue. */
    json_t *(*template_get)(struct db_conn *c, const struct mailadmin_tmpl_scope *s,
                            struct err *err);
    /* Sets the override (ERR_INVALID, field "subject"/"body", when it would
     * not render); *created_r: there was none before.  Caller's transaction. */
    int (*template_put)(struct db_conn *c, const struct mailadmin_tmpl_scope *s,
                        const char *subject, const char *body, bool *created_r, struct err *err);
    /* Removes the override (back to the global one, or the built-in);
     * ERR_NOT_FOUND when there is none.  Caller's transaction. */
    int (*template_reset)(struct db_conn *c, const struct mailadmin_tmpl_scope *s,
                          struct err *err);
    /* Renders subject and body with a sample ticket and customer:
     * {"ok", "subject", "text", "html", "errors": [{"field", "line",
     * "message"}]}; ERR_NOT_FOUND for an unknown name or queue. */
    json_t *(*template_preview)(struct db_conn *c, struct runtime *rt,
                                const struct mailadmin_tmpl_scope *s, const char *subject,
                                const char *body, struct err *err);
};

/* The calls through the runtime (see Locking above). */
int mailadmin_imap_test(struct runtime *rt, const struct mailadmin_imap *box,
                        struct mailadmin_report *rep, const char **error_r);
int mailadmin_smarthost_test(struct runtime *rt, struct mailadmin_report *rep, const char **error_r);
json_t *mailadmin_outbox_list(struct runtime *rt, struct db_conn *c,
                              const struct mailadmin_outbox_query *q, struct err *err);
int mailadmin_outbox_retry(struct runtime *rt, struct db_conn *c, long long id, int *recipients_r,
                           struct err *err);
json_t *mailadmin_template_list(struct runtime *rt, struct db_conn *c, struct err *err);
json_t *mailadmin_template_get(struct runtime *rt, struct db_conn *c,
                               const struct mailadmin_tmpl_scope *s, struct err *err);
int mailadmin_template_put(struct runtime *rt, struct db_conn *c, const struct mailadmin_tmpl_scope *s,
                           const char *subject, const char *body, bool *created_r, struct err *err);
int mailadmin_template_reset(struct runtime *rt, struct db_conn *c,
                             const struct mailadmin_tmpl_scope *s, struct err *err);
json_t *mailadmin_template_preview(struct runtime *rt, struct db_conn *c,
                                   const struct mailadmin_tmpl_scope *s, const char *subject,
                                   const char *body, struct err *err);

#endif
