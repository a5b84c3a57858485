/*
 * desk/user.h -- accounts: customers, agents, managers, admins.
 *
 * Every write of an account -- the API, atumctl, the portal -- goes
 * through here, with its audit rows and events in the same transaction.
 * Passwords are stored hashed (lib/passwd.h), never in clear and never
 * logged.  Accounts are found by the canonical form of their address
 * (lib/email.h, email_canonical(); the SQL function of the same name).
 */
#ifndef ATUM_DESK_USER_H
#define ATUM_DESK_USER_H

#include <stdbool.h>
#include "core/db.h"
#include "desk/desk.h"

bool user_role_valid(const char *role);

/* What creating or updating an account sets.  A NULL string or a false
 * set_ flag leaves the field as it is (on create: its default). */
struct user_change {
    const char *email;         /* required to create; checked (email_valid) */
    const char *name;          /* up to 200 characters */
    const char *role;          /* customer (create's default), agent, manager, admin */
    bool set_org;
    long long org_id;          /* 0: none */
    bool set_org_access, org_access;
    /* Already hashed (passwd_hash): hashing is slow on purpose, so the
     * caller does it before its transaction.  NULL: unchanged. */
    const char *password_hash;
    bool set_disabled, disabled;
};

/* Who may manage whom: managers create and change customers and agents,
 * admins everyone (and atumctl, the operator).  Every write below needs at
 * least a manager (ERR_FORBIDDEN), refuses to grant or touch a role the
 * actor may not manage (ERR_FORBIDDEN, field "role"), writes its audit
 * rows and emits user.created / user.updated / user.disabled
 * ({"user_id", and "changes": [field names] for updates}) in the
 * caller's transaction.  A duplicate address is ERR_CONFLICT on "email". */
int user_create(const struct desk_tx *tx, const struct user_change *c, long long *id_r,
                struct err *err);
/* Changes the given fields (ERR_NOT_FOUND: no such user).  Nobody changes
 * their own role or disables themselves (ERR_CONFLICT).  A role change
 * writes a "user.role" row besides "user.update"; a new password or
 * disabling ends the account's access (user_end_access), keeping the
 * session keep_session_id (0: none) -- the one a person changing their own
 * password does it from. */
int user_update(const struct desk_tx *tx, long long id, const struct user_change *c,
                long long keep_session_id, struct err *err);
/* Accounts are never deleted (tickets, messages and the audit log point
 * at them): this disables one and ends its access. */
int user_disable(const struct desk_tx *tx, long long id, struct err *err);

/* Ends the account's access, in the caller's open transaction: deletes
 * every session of the user but keep_session_id (0: none kept), revokes
 * every API token, drops pending TOTP login challenges, and writes a
 * "user.access_ended" audit row (reason, counts).  What a new password or
 * a disabled account calls: an attacker holding a stolen session or token
 * keeps nothing after the reset.  (Each atumd caches API tokens for
 * AUTH_CACHE_MS: nodes other than the caller's see the revocation within
 * that time.) */
int user_end_access(const struct desk_tx *tx, long long user_id, long long keep_session_id,
                    const char *reason, struct err *err);

/* An admin clears an account's TOTP (the person lost their device), in the
 * caller's open transaction: the TOTP secret and recovery codes go, a
 * "user.totp_reset" audit row is written, and the account's access ends
 * (user_end_access: sessions, API tokens, login challenges), since
 * whoever holds a session made with the old second factor should sign in
 * again.  Admins only (ERR_FORBIDDEN); not one's own (ERR_CONFLICT: use
 * POST /auth/totp/disable, which asks for a code); ERR_NOT_FOUND: no
 * such user; ERR_CONFLICT when the account has no TOTP.  Emits
 * user.updated with changes ["totp"]. */
int user_totp_reset(const struct desk_tx *tx, long long id, struct err *err);

/* A newer hash of the same password (passwd_needs_rehash at login): not a
 * change of the account, so no audit row and no event. */
int user_store_rehash(struct db_conn *c, long long user_id, const char *hash, const char **error_r);

/* For atumctl and tests: each runs user_create / a password change in a
 * transaction of its own, as the operator named `actor` ("atumctl").
 * password may be NULL (an account that cannot log in yet); it is checked
 * against the policy and hashed here. */
int user_add(struct db_conn *c, const char *email, const char *name, const char *role,
             const char *password, const char *actor, long long *id_r, const char **error_r);
/* Sets a new password ("user.password" audit row) and ends every session
 * and API token of the account. */
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
