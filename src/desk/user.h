/*
 * desk/user.h -- accounts: customers, agents, managers, admins.
 *
 * Used by atumctl now and by the API later.  Every change is written with
 * an audit_log row in the same transaction.  Passwords are hashed here
 * (passwd.h) and never stored or logged in clear.
 */
#ifndef ATUM_DESK_USER_H
#define ATUM_DESK_USER_H

#include <stdbool.h>
#include "core/db.h"
#include "desk/desk.h"

bool user_role_valid(const char *role);

/* password may be NULL (an account that cannot log in yet).  actor: who
 * does it, for the audit log ("atumctl", "user:5"). */
int user_add(struct db_conn *c, const char *email, const char *name, const char *role,
              const char *password, const char *actor, long long *id_r, const char **error_r);
int user_set_password(struct db_conn *c, const char *email, const char *password,
                       const char *actor, const char **error_r);
/* Verifies a login; 1 ok (and *id_r set), 0 wrong email or password. */
int user_check_password(struct db_conn *c, const char *email, const char *password,
                         long long *id_r, const char **error_r);

/* A signed-in person changes their own password (POST /auth/password),
 * in the caller's open transaction: the current password must match
 * (ERR_FORBIDDEN on "current_password" when it does not: nothing
 * changes), the new one must pass the policy and differ from the current
 * one (ERR_INVALID on "new_password").  Every other session of the
 * account ends (keep_session_id stays; 0 ends them all) with its pending
 * second-step login challenges; the change is audited as user.password
 * with the number of sessions ended.  The actor is the account. */
int user_change_password(const struct desk_tx *tx, const char *current, const char *new_password,
                         long long keep_session_id, struct err *err);

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
