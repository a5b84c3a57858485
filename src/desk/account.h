/*
 * desk/account.h -- customer accounts by mail: the links that let a person
 * prove an address and set a password.
 *
 * Kinds of link (account_links.kind, and the mail template of the same
 * name, templates/mail/KIND.md):
 *   signin  "send me a sign-in link": a customer who has written in by mail
 *           (an account without a password) or has one and forgot it;
 *   reset   a password reset asked for by the customer;
 *   invite  sent by staff to a customer (portal.invite_ttl, longer);
 *   verify  a self sign-up (portal.signup, or the queue's own setting): the
 *           link names no account; the account is made when it is used, so
 *           an address nobody proved never has an account that sees
 *           anything.
 * Every link is 32 random bytes (lib/token.h) of which only
 * HMAC(core.secret_key, token) is stored; it is used at most once, dies at
 * expires_at (portal.link_ttl, portal.invite_ttl), and all open links of
 * an account die when its password is set.
 *
 * Who gets a link through the customer's path (account_request): only an
 * enabled customer, or for a sign-up an address without an account.
 * Staff addresses (agent, manager, admin) never: a staff password is not
 * something a mailbox alone may reset -- it would walk around the staff's
 * second factor and give the mailbox's reader the desk; staff passwords
 * are set by an admin (atumctl user passwd).  Disabled accounts get
 * nothing, and their links do nothing.  The request does the same work
 * whoever asks (it queues the job account.link, which looks the address
 * up), so neither the answer nor its timing tells whether an address has
 * an account.
 *
 * Every function runs in the caller's transaction (desk/desk.h) and
 * returns 0, or -1 with err.
 */
#ifndef ATUM_DESK_ACCOUNT_H
#define ATUM_DESK_ACCOUNT_H

#include <stdbool.h>
#include "desk/desk.h"

#define ACCOUNT_JOB_KIND "account.link"

enum account_link_kind { ACCOUNT_SIGNIN, ACCOUNT_RESET, ACCOUNT_INVITE, ACCOUNT_VERIFY };
const char *account_link_kind_name(enum account_link_kind k);

/* What the customer's path asks for. */
enum account_purpose { ACCOUNT_WANT_SIGNIN, ACCOUNT_WANT_RESET, ACCOUNT_WANT_SIGNUP };
int account_purpose_parse(const char *s, enum account_purpose *r);

/* The registrar (core/runtime.h): the account.link job kind. */
struct runtime;
int account_register(struct runtime *rt, void *arg, const char **error_r);

/* Counts one request against each key (auth_throttle rows "link-addr:..."
 * and "link-ip:..."), fixed windows of window_ms: 0 allowed; 1 over a
 * limit (*retry_after_r seconds); -1 database error.  Every request
 * counts, found or not, so the limits say nothing about accounts. */
int account_throttle(struct db_conn *c, const char *address, const char *ip, int limit_address,
                     int limit_ip, long long window_ms, long long *retry_after_r,
                     const char **error_r);

/* The customer's "send me a link" (signin, reset) or sign-up: queues the
 * job that decides and mails; the same work for any address.  name and
 * queue_id (0: none) matter for a sign-up only. */
int account_request(const struct desk_tx *tx, enum account_purpose purpose, const char *email,
                    const char *name, long long queue_id, struct err *err);

/* Whether sign-up is on for a queue (0: the portal as a whole): the
 * queue's setting (portal_settings.signup) when it has one, else
 * portal.signup. */
int account_signup_allowed(const struct desk_tx *tx, long long queue_id, bool *allowed_r,
                           struct err *err);

/* Staff invite a customer (an enabled customer account): an invite link
 * mailed to them.  ERR_NOT_FOUND no such user; ERR_INVALID a staff or
 * disabled account (field "user_id"). */
int account_invite(const struct desk_tx *tx, long long user_id, struct err *err);

/* What a link is now. */
enum account_link_state {
    LINK_VALID, LINK_USED, LINK_EXPIRED, LINK_UNKNOWN,
    LINK_REFUSED,            /* its account is disabled or staff: it does nothing */
};
const char *account_link_state_name(enum account_link_state s);

struct account_link {
    long long id, user_id, queue_id;   /* user_id 0: a sign-up's, no account yet */
    enum account_link_kind kind;
    char email[321];
    char name[201];
};

/* Looks a link up (no change): *state_r, and *l when it was found. */
int account_link_find(const struct desk_tx *tx, const char *token, struct account_link *l,
                      enum account_link_state *state_r, struct err *err);

/* Uses a link: when it is valid, sets the password (policy of
 * lib/passwd.h: ERR_INVALID field "password", the link stays usable),
 * makes the account of a sign-up, marks every open link of the account
 * used, ends the account's sessions, audits; *user_r is the account.
 * A link that is not valid changes nothing (0 with *state_r saying why). */
int account_link_redeem(const struct desk_tx *tx, const char *token, const char *password,
                        long long *user_r, enum account_link_state *state_r, struct err *err);

#endif
