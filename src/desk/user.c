/* desk/user.c -- see desk/user.h. */
#include "config.h"
#include "desk/user.h"
#include "desk/audit.h"
#include "lib/email.h"
#include "lib/err.h"
#include "lib/passwd.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool user_role_valid(const char *role)
{
    return role && (strcmp(role, "customer") == 0 || strcmp(role, "agent") == 0
                    || strcmp(role, "manager") == 0 || strcmp(role, "admin") == 0);
}

static char *detail(const char *k1, const char *v1, const char *k2, const char *v2)
{
    json_t *o = json_pack("{s:s?, s:s?}", k1, v1, k2, v2);
    char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    return s;
}

int user_add(struct db_conn *c, const char *email, const char *name, const char *role,
              const char *password, const char *actor, long long *id_r, const char **error_r)
{
    const char *e = NULL;
    char *hash = NULL, *det = NULL;
    int ret = -1;
    PGresult *r = NULL;

    if (!email_valid(email))
        return err_set(error_r, "invalid e-mail address '%s'", email ? email : "");
    if (!user_role_valid(role))
        return err_set(error_r, "invalid role '%s': customer, agent, manager or admin",
                       role ? role : "");
    if (name && strlen(name) > 200)
        return err_set(error_r, "name longer than 200 characters");
    if (password != NULL) {
        if (passwd_policy_check(password, error_r) < 0)
            return -1;
        if ((hash = passwd_hash(password, error_r)) == NULL)
            return -1;
    }
    if (db_begin(c, &e) < 0) {
        err_set(error_r, "%s", e);
        goto out;
    }
    const char *params[] = { email, name ? name : "", role, hash };
    r = db_exec(c, "INSERT INTO users (email, name, role, password_hash) VALUES ($1, $2, $3, $4)"
                   " RETURNING id", 4, params, &e);
    if (r == NULL) {
        if (strcmp(db_last_sqlstate(c), "23505") == 0)
            err_set(error_r, "a user with e-mail %s already exists", email);
        else
            err_set(error_r, "adding user: %s", e);
        goto rollback;
    }
    long long id = atoll(PQgetvalue(r, 0, 0));
    char target[32];
    snprintf(target, sizeof(target), "user:%lld", id);
    det = detail("email", email, "role", role);
    if (audit_append(c, 0, actor, "user.create", target, det, NULL, &e) < 0) {
        err_set(error_r, "%s", e);
        goto rollback;
    }
    if (db_commit(c, &e) < 0) {
        err_set(error_r, "%s", e);
        goto out;
    }
    if (id_r)
        *id_r = id;
    ret = 0;
    goto out;
rollback:
    db_rollback(c);
out:
    PQclear(r);
    free(det);
    free(hash);
    return ret;
}

int user_set_password(struct db_conn *c, const char *email, const char *password,
                       const char *actor, const char **error_r)
{
    const char *e = NULL;
    char *hash = NULL, *det = NULL;
    int ret = -1;
    PGresult *r = NULL;

    if (passwd_policy_check(password, error_r) < 0)
        return -1;
    if ((hash = passwd_hash(password, error_r)) == NULL)
        return -1;
    if (db_begin(c, &e) < 0) {
        err_set(error_r, "%s", e);
        goto out;
    }
    const char *params[] = { email, hash };
    r = db_exec(c, "UPDATE users SET password_hash = $2, updated_at = now()"
                   " WHERE lower(email) = lower($1) RETURNING id", 2, params, &e);
    if (r == NULL) {
        err_set(error_r, "setting password: %s", e);
        goto rollback;
    }
    if (PQntuples(r) == 0) {
        err_set(error_r, "no user with e-mail %s", email);
        goto rollback;
    }
    char target[32];
    snprintf(target, sizeof(target), "user:%s", PQgetvalue(r, 0, 0));
    det = detail("email", email, "via", actor);
    if (audit_append(c, 0, actor, "user.password", target, det, NULL, &e) < 0) {
        err_set(error_r, "%s", e);
        goto rollback;
    }
    if (db_commit(c, &e) < 0) {
        err_set(error_r, "%s", e);
        goto out;
    }
    ret = 0;
    goto out;
rollback:
    db_rollback(c);
out:
    PQclear(r);
    free(det);
    free(hash);
    return ret;
}

int user_check_password(struct db_conn *c, const char *email, const char *password,
                         long long *id_r, const char **error_r)
{
    const char *e = NULL;
    const char *params[] = { email };
    PGresult *r = db_exec(c, "SELECT id, password_hash FROM users"
                             " WHERE lower(email) = lower($1) AND NOT disabled", 1, params, &e);
    if (r == NULL)
        return err_set(error_r, "%s", e);
    int ok = 0;
    if (PQntuples(r) == 1 && !PQgetisnull(r, 0, 1)) {
        ok = passwd_verify(password, PQgetvalue(r, 0, 1), &e);
        if (ok < 0)
            ok = 0;
        if (ok && id_r)
            *id_r = atoll(PQgetvalue(r, 0, 0));
    }
    PQclear(r);
    return ok;
}

/* ---- the sender of a mail ------------------------------------------------------ */

static const struct db_stmt st_user_find = {
    "desk_user_find", "SELECT id, coalesce(org_id, 0), role FROM users WHERE lower(email) = lower($1)", 1
};
static const struct db_stmt st_user_add_customer = {
    "desk_user_add_customer",
    "INSERT INTO users (email, name, role, org_id)"
    " VALUES ($1, $2, 'customer',"
    "         (SELECT id FROM orgs WHERE $3::bool AND lower(domain) = lower(split_part($1, '@', 2)) LIMIT 1))"
    " ON CONFLICT ((lower(email))) DO NOTHING RETURNING id, coalesce(org_id, 0), role",
    3
};

int user_find_or_add_customer(const struct desk_tx *tx, const char *email, const char *name,
                              bool org_by_domain, struct user_ref *u, struct err *err)
{
    const char *e = NULL;
    const char *p1[] = { email };
    memset(u, 0, sizeof(*u));
    for (int round = 0; round < 2; round++) {
        PGresult *r = db_exec_stmt(tx->db, &st_user_find, p1, &e);
        if (r == NULL)
            return desk_db_fail(err, "finding the sender", e);
        if (PQntuples(r) == 0 && round == 0) {
            PQclear(r);
            const char *p2[] = { email, name ? name : "", org_by_domain ? "true" : "false" };
            r = db_exec_stmt(tx->db, &st_user_add_customer, p2, &e);
            if (r == NULL)
                return desk_db_fail(err, "adding the sender", e);
            if (PQntuples(r) == 0) {
                PQclear(r);    /* someone else added them just now: read it */
                continue;
            }
        }
        if (PQntuples(r) > 0) {
            u->id = atoll(PQgetvalue(r, 0, 0));
            u->org_id = atoll(PQgetvalue(r, 0, 1));
            u->staff = strcmp(PQgetvalue(r, 0, 2), "customer") != 0;
            PQclear(r);
            return 0;
        }
        PQclear(r);
    }
    return err_failed(err, "the sender %s could not be found or added", email);
}

int user_find(const struct desk_tx *tx, const char *email, long long *id_r, struct err *err)
{
    const char *e = NULL;
    const char *p[] = { email };
    PGresult *r = db_exec_stmt(tx->db, &st_user_find, p, &e);
    if (r == NULL)
        return desk_db_fail(err, "finding the user", e);
    int n = PQntuples(r);
    if (n > 0)
        *id_r = atoll(PQgetvalue(r, 0, 0));
    PQclear(r);
    if (n == 0)
        return err_raise(err, ERR_NOT_FOUND, "email", "no user with address %s", email);
    return 0;
}

/* ---- one's own password ---------------------------------------------------------- */

int user_change_password(const struct desk_tx *tx, const char *current, const char *new_password,
                         long long keep_session_id, struct err *err)
{
    const char *e = NULL;
    char uid[24], keep[24];
    if (tx->who->kind != DESK_USER)
        return err_raise(err, ERR_FORBIDDEN, NULL, "only a signed-in person changes their own password");
    snprintf(uid, sizeof(uid), "%lld", tx->who->user_id);
    snprintf(keep, sizeof(keep), "%lld", keep_session_id);
    const char *p1[] = { uid };
    PGresult *r = db_exec(tx->db, "SELECT password_hash FROM users WHERE id = $1 AND NOT disabled"
                                  " FOR UPDATE", 1, p1, &e);
    if (r == NULL)
        return desk_db_fail(err, "reading the account", e);
    if (PQntuples(r) != 1 || PQgetisnull(r, 0, 0)) {
        PQclear(r);
        return err_raise(err, ERR_FORBIDDEN, "current_password", "the current password is wrong");
    }
    int ok = passwd_verify(current ? current : "", PQgetvalue(r, 0, 0), &e);
    PQclear(r);
    if (ok != 1)
        return err_raise(err, ERR_FORBIDDEN, "current_password", "the current password is wrong");
    const char *why = NULL;
    if (passwd_policy_check(new_password, &why) < 0)
        return err_raise(err, ERR_INVALID, "new_password", "%s", why);
    if (strcmp(current, new_password) == 0)
        return err_raise(err, ERR_INVALID, "new_password", "the new password is the one you have");
    char *hash = passwd_hash(new_password, &e);
    if (hash == NULL)
        return err_failed(err, "hashing the password: %s", e);
    const char *p2[] = { uid, hash, keep };
    r = db_exec(tx->db,
        "WITH u AS (UPDATE users SET password_hash = $2, updated_at = now() WHERE id = $1 RETURNING id),"
        "     s AS (DELETE FROM sessions WHERE user_id = $1 AND id <> $3::bigint RETURNING 1),"
        "     c AS (DELETE FROM login_challenges WHERE user_id = $1 RETURNING 1)"
        " SELECT (SELECT count(*) FROM s)", 3, p2, &e);
    free(hash);
    if (r == NULL)
        return desk_db_fail(err, "changing the password", e);
    long long ended = atoll(PQgetvalue(r, 0, 0));
    PQclear(r);
    json_t *d = json_pack("{s:s, s:I}", "via", tx->who->via ? tx->who->via : "api",
                          "sessions_ended", (json_int_t)ended);
    int rc = desk_audit(tx, "user.password", "user", tx->who->user_id, d, err);
    json_decref(d);
    return rc;
}
