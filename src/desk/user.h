/*
 * desk/user.h -- accounts: customers, agents, managers, admins.
 *
 * Used by atumctl now and by the API later.  Every change is written with
 * an audit_log row in the same transaction.  Passwords are hashed here
 * (passwd.h) and never stored or logged in clear.  Accounts are found by
 * the canonical form of their address (lib/email.h, email_canonical()).
 */
#ifndef ATUM_DESK_USER_H
#define ATUM_DESK_USER_H

#include <stdbool.h>
#include "core/db.h"
#include "desk/desk.h"

bool user_role_valid(const char *role);

/* Who changes an account, for its audit row. */
struct user_actor {
    long long id;             /* 0: no user (atumctl) */
    const char *name;         /* "atumctl", "user:5" */
    const char *ip;           /* NULL: none */
};

/* Ends the account's access, in the caller's open transaction: deletes
 * every session of the user but keep_session_id (0: none kept), revokes
 * every API token, drops pending TOTP login challenges, and writes a
 * "user.access_ended" audit row (reason, counts).  What a new password or
 * a disabled account calls: an attacker holding a stolen session or token
 * keeps nothing after the reset.  (Each atumd caches API tokens for
 * AUTH_CACHE_MS: nodes other than the caller's see the revocation within
 * that time.) */
int user_end_access(struct db_conn *c, long long user_id, long long keep_session_id,
                    const struct user_actor *actor, const char *reason, const char **error_r);

/* password may be NULL (an account that cannot log in yet).  actor: who
 * does it, for the audit log ("atumctl", "user:5"). */
int user_add(struct db_conn *c, const char *email, const char *name, const char *role,
              const char *password, const char *actor, long long *id_r, const char **error_r);
/* Sets a new password and ends every session and API token of the
 * account (user_end_access), in one transaction. */
int user_set_password(struct db_conn *c, const char *email, const char *password,
                       const char *actor, const char **error_r);
/* Verifies a login; 1 ok (and *id_r set), 0 wrong email or password. */
int user_check_password(struct db_conn *c, const char *email, const char *password,
                         long long *id_r, const char **error_r);

/* A user as the mail path needs it. */
struct user_ref {
    long long id;
    long long org_id;        /* 0: none */
    bool staff;              /* agent, manager or admin */
};

/* The user with this address, or a new customer (mail-only: no password),
 * in the organisation whose domain matches when org_by_domain.  Safe
 * against a concurrent insert of the same address. */
int user_find_or_add_customer(const struct desk_tx *tx, const char *email, const char *name,
                              bool org_by_domain, struct user_ref *u, struct err *err);

/* The user with this address (compared as the unique index does). */
int user_find(const struct desk_tx *tx, const char *email, long long *id_r, struct err *err);

#endif
