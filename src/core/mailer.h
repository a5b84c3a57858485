/*
 * core/mailer.h -- what the floors below mail-out need from it, as a table
 * of functions that mail-out registers at start-up.
 *
 * The desk domain, the web and the plugins' host table cause mail (an
 * agent's reply goes to the customer, a new ticket is acknowledged, a
 * plugin sends a notice) but sit below mail-out: they call these
 * functions, and mail-out (mailout/outbox.h) fills the table in when its
 * job kinds are registered, exactly like a plugin registers its job kinds.
 * Without mail-out (atumctl commands, unit tests of lower floors) the
 * calls do nothing and succeed, so the changes themselves still commit.
 *
 * Every function runs in the caller's open transaction with the runtime
 * read-locked: the mail, its recipients and its jobs commit with the
 * change that causes them, or vanish with it.  A function pointer call
 * costs what the direct call cost (decision 0008).
 */
#ifndef ATUM_CORE_MAILER_H
#define ATUM_CORE_MAILER_H

#include <stdbool.h>
#include "core/db.h"

struct runtime;

/* What a change mails (mail-out decides to whom, and whether at all). */
enum mailer_event {
    MAILER_OPENED = 0,          /* id: the ticket's first message: acknowledgement, agents */
    MAILER_CUSTOMER_WROTE = 1,  /* id: the customer's message: assignee or queue */
    MAILER_ASSIGNED = 2,        /* id: the new assignee */
    MAILER_SOLVED = 3,          /* id: 0; the customer is asked to rate it, once */
};

/* An account link mailed to one address (desk/account.h): what it is
 * for, where it leads.  The link's secret is in url; mail-out keeps it
 * only in the outgoing mail. */
struct mailer_account_link {
    const char *kind;           /* "signin", "invite", "verify", "reset" (the template) */
    const char *to;
    const char *name;           /* the person's name, or "" */
    const char *url;
    const char *expires;        /* "in 1 hour", "in 7 days" ... */
    long long queue_id;         /* whose look and templates, 0: the first queue */
};

struct mailer {
    /* The change's mails are composed a moment later by a job. */
    int (*later)(struct db_conn *c, struct runtime *rt, enum mailer_event ev, long long ticket_id,
                 long long id, const char **error_r);
    /* An agent's public reply (a messages row) to the customer.  now: build
     * the mail in this transaction; else its send job builds it. */
    int (*reply)(struct db_conn *c, struct runtime *rt, long long message_id, bool now,
                 const char **error_r);
    /* A notice about a ticket to one address (plugins). */
    int (*notice)(struct db_conn *c, struct runtime *rt, long long ticket_id, const char *to,
                  const char *title, const char *body, const char **error_r);
    /* A delivery report named one of our outgoing mails: mark it bounced. */
    int (*bounced)(struct db_conn *c, struct runtime *rt, const char *rfc_message_id,
                   const char *recipient, const char *status, const char *diagnostic,
                   const char **error_r);
    /* An account link to one address (no ticket). */
    int (*account)(struct db_conn *c, struct runtime *rt, const struct mailer_account_link *link,
                   const char **error_r);
};

/* The calls through rt->mailer; 0 and nothing done when none is registered. */
int mailer_later(struct runtime *rt, struct db_conn *c, enum mailer_event ev, long long ticket_id,
                 long long id, const char **error_r);
int mailer_reply(struct runtime *rt, struct db_conn *c, long long message_id, bool now,
                 const char **error_r);
int mailer_notice(struct runtime *rt, struct db_conn *c, long long ticket_id, const char *to,
                  const char *title, const char *body, const char **error_r);
int mailer_bounced(struct runtime *rt, struct db_conn *c, const char *rfc_message_id,
                   const char *recipient, const char *status, const char *diagnostic,
                   const char **error_r);
int mailer_account(struct runtime *rt, struct db_conn *c, const struct mailer_account_link *link,
                   const char **error_r);
/* Whether mail-out is there (a plugin's mail_notice says so when not). */
bool mailer_present(const struct runtime *rt);

#endif
