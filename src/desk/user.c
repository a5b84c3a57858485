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

/* ---- writes -------------------------------------------------------------- */

/* Managers manage customers and agents; admins and the operator everyone. */
static bool may_manage(const struct desk_tx *tx, const char *role)
{
    const struct desk_actor *who = tx->who;
    return who->kind != DESK_USER || who->role >= ATUM_ROLE_ADMIN
           || strcmp(role, "customer") == 0 || strcmp(role, "agent") == 0;
}

static int check_change(const struct desk_tx *tx, const struct user_change *c, struct err *err)
{
    if (c->email && !email_valid(c->email))
        return err_raise(err, ERR_INVALID, "email", "field 'email' must be an e-mail address");
    if (c->name && strlen(c->name) > 200)
        return err_raise(err, ERR_INVALID, "name", "a name is at most 200 characters");
    if (c->role && !user_role_valid(c->role))
        return err_raise(err, ERR_INVALID, "role", "field 'role' must be customer, agent, manager or admin");
    if (c->role && !may_manage(tx, c->role))
        return err_raise(err, ERR_FORBIDDEN, "role", "only admins grant the %s role", c->role);
    return 0;
}

/* An organisation named by the change must exist (a clear error naming the
 * field, rather than the foreign key's). */
static int check_org(const struct desk_tx *tx, const struct user_change *c, struct err *err)
{
    const char *e = NULL;
    if (!c->set_org || c->org_id == 0)
        return 0;
    char oid[24];
    snprintf(oid, sizeof(oid), "%lld", c->org_id);
    const char *p[] = { oid };
    PGresult *r = db_exec(tx->db, "SELECT 1 FROM orgs WHERE id = $1", 1, p, &e);
    if (r == NULL)
        return desk_db_fail(err, "reading the organisation", e);
    int n = PQntuples(r);
    PQclear(r);
    if (n == 0)
        return err_raise(err, ERR_INVALID, "org_id", "field 'org_id' refers to something that does not exist");
    return 0;
}

static int emit_user(const struct desk_tx *tx, const char *event, long long id, json_t *changes,
                     struct err *err)
{
    json_t *d = json_pack("{s:I}", "user_id", (json_int_t)id);
    if (d && changes)
        json_object_set(d, "changes", changes);
    return desk_emit(tx, event, d, err);
}

int user_create(const struct desk_tx *tx, const struct user_change *c, long long *id_r,
                struct err *err)
{
    const char *e = NULL;
    const char *role = c->role ? c->role : "customer";
    if (desk_need_role(tx, ATUM_ROLE_MANAGER, err) < 0)
        return -1;
    if (c->email == NULL)
        return err_raise(err, ERR_INVALID, "email", "field 'email' is required");
    if (check_change(tx, c, err) < 0 || check_org(tx, c, err) < 0)
        return -1;
    char org[24];
    snprintf(org, sizeof(org), "%lld", c->org_id);
    const char *p[] = { c->email, c->name ? c->name : "", role, c->set_org && c->org_id ? org : NULL,
                        c->password_hash, c->set_org_access && c->org_access ? "t" : "f",
                        c->set_disabled && c->disabled ? "t" : "f" };
    PGresult *r = db_exec(tx->db,
        "INSERT INTO users (email, name, role, org_id, password_hash, org_access, disabled)"
        " VALUES ($1, $2, $3, $4::bigint, $5, $6::boolean, $7::boolean) RETURNING id", 7, p, &e);
    if (r == NULL)
        return desk_write_fail(tx, "user", "email", e, err);
    long long id = atoll(PQgetvalue(r, 0, 0));
    PQclear(r);
    json_t *d = json_pack("{s:s, s:s, s:b}", "email", c->email, "role", role,
                          "disabled", c->set_disabled && c->disabled);
    int rc = desk_audit(tx, "user.create", "user", id, d, err);
    json_decref(d);
    if (rc < 0 || emit_user(tx, "user.created", id, NULL, err) < 0)
        return -1;
    if (id_r)
        *id_r = id;
    return 0;
}

/* Locks the account's row; its current role into role[16]. */
static int lock_user(const struct desk_tx *tx, long long id, const char *verb, char *role,
                     struct err *err)
{
    const char *e = NULL;
    char sid[24];
    snprintf(sid, sizeof(sid), "%lld", id);
    const char *p[] = { sid };
    PGresult *r = db_exec(tx->db, "SELECT role FROM users WHERE id = $1 FOR UPDATE", 1, p, &e);
    if (r == NULL)
        return desk_db_fail(err, "reading the user", e);
    if (PQntuples(r) != 1) {
        PQclear(r);
        return err_raise(err, ERR_NOT_FOUND, NULL, "no such user");
    }
    snprintf(role, 16, "%s", PQgetvalue(r, 0, 0));
    PQclear(r);
    if (!may_manage(tx, role))
        return err_raise(err, ERR_FORBIDDEN, NULL, "only admins %s managers and admins", verb);
    return 0;
}

static bool is_self(const struct desk_tx *tx, long long id)
{
    return tx->who->kind == DESK_USER && tx->who->user_id == id;
}

int user_update(const struct desk_tx *tx, long long id, const struct user_change *c,
                long long keep_session_id, struct err *err)
{
    const char *e = NULL;
    if (desk_need_role(tx, ATUM_ROLE_MANAGER, err) < 0)
        return -1;
    if (is_self(tx, id) && (c->role || c->set_disabled))
        return err_raise(err, ERR_CONFLICT, c->role ? "role" : "disabled",
                         "you cannot change your own role or disable yourself");
    char old_role[16];
    if (check_change(tx, c, err) < 0 || lock_user(tx, id, "change", old_role, err) < 0
        || check_org(tx, c, err) < 0)
        return -1;
    char sid[24], org[24];
    snprintf(sid, sizeof(sid), "%lld", id);
    snprintf(org, sizeof(org), "%lld", c->org_id);
    const char *p[] = {
        sid, c->email, c->name, c->role,
        c->set_org ? "t" : "f", c->set_org && c->org_id ? org : NULL,
        c->set_org_access ? "t" : "f", c->org_access ? "t" : "f",
        c->password_hash,
        c->set_disabled ? "t" : "f", c->disabled ? "t" : "f",
    };
    PGresult *r = db_exec(tx->db,
        "UPDATE users SET email = coalesce($2, email), name = coalesce($3, name),"
        " role = coalesce($4, role),"
        " org_id = CASE WHEN $5::boolean THEN $6::bigint ELSE org_id END,"
        " org_access = CASE WHEN $7::boolean THEN $8::boolean ELSE org_access END,"
        " password_hash = coalesce($9, password_hash),"
        " disabled = CASE WHEN $10::boolean THEN $11::boolean ELSE disabled END,"
        " updated_at = now() WHERE id = $1", 11, p, &e);
    if (r == NULL)
        return desk_write_fail(tx, "user", "email", e, err);
    PQclear(r);

    json_t *d = json_object(), *changed = json_array();
    if (c->email)
        json_object_set_new(d, "email", json_string(c->email));
    if (c->name)
        json_object_set_new(d, "name", json_string(c->name));
    if (c->role)
        json_object_set_new(d, "role", json_string(c->role));
    if (c->set_org)
        json_object_set_new(d, "org_id", c->org_id ? json_integer(c->org_id) : json_null());
    if (c->set_org_access)
        json_object_set_new(d, "org_access", json_boolean(c->org_access));
    if (c->password_hash)
        json_object_set_new(d, "password", json_string("(changed)"));
    if (c->set_disabled)
        json_object_set_new(d, "disabled", json_boolean(c->disabled));
    const char *k;
    json_t *v;
    json_object_foreach(d, k, v)
        json_array_append_new(changed, json_string(k));
    int rc = desk_audit(tx, "user.update", "user", id, d, err);
    json_decref(d);
    if (rc == 0 && c->role && strcmp(c->role, old_role) != 0) {
        json_t *rd = json_pack("{s:s, s:s}", "from", old_role, "to", c->role);
        rc = desk_audit(tx, "user.role", "user", id, rd, err);
        json_decref(rd);
    }
    if (rc == 0 && ((c->set_disabled && c->disabled) || c->password_hash))
        rc = user_end_access(tx, id, keep_session_id,
                             c->set_disabled && c->disabled ? "disabled" : "password changed", err);
    if (rc == 0)
        rc = emit_user(tx, "user.updated", id, changed, err);
    json_decref(changed);
    return rc;
}

int user_disable(const struct desk_tx *tx, long long id, struct err *err)
{
    const char *e = NULL;
    char role[16], sid[24];
    if (desk_need_role(tx, ATUM_ROLE_MANAGER, err) < 0)
        return -1;
    if (is_self(tx, id))
        return err_raise(err, ERR_CONFLICT, NULL, "you cannot disable yourself");
    if (lock_user(tx, id, "disable", role, err) < 0)
        return -1;
    snprintf(sid, sizeof(sid), "%lld", id);
    const char *p[] = { sid };
    PGresult *r = db_exec(tx->db, "UPDATE users SET disabled = true, updated_at = now() WHERE id = $1",
                          1, p, &e);
    if (r == NULL)
        return desk_db_fail(err, "disabling the user", e);
    PQclear(r);
    if (desk_audit(tx, "user.disable", "user", id, NULL, err) < 0
        || user_end_access(tx, id, 0, "disabled", err) < 0)
        return -1;
    return emit_user(tx, "user.disabled", id, NULL, err);
}

int user_end_access(const struct desk_tx *tx, long long user_id, long long keep_session_id,
                    const char *reason, struct err *err)
{
    const char *e = NULL;
    char uid[24], keep[24];
    snprintf(uid, sizeof(uid), "%lld", user_id);
    snprintf(keep, sizeof(keep), "%lld", keep_session_id);
    const char *p[] = { uid, keep };
    PGresult *r = db_exec(tx->db,
        "WITH s AS (DELETE FROM sessions WHERE user_id = $1 AND id <> $2 RETURNING 1),"
        "     t AS (UPDATE api_tokens SET revoked_at = now() WHERE user_id = $1"
        "           AND revoked_at IS NULL RETURNING 1),"
        "     c AS (DELETE FROM login_challenges WHERE user_id = $1 RETURNING 1)"
        " SELECT (SELECT count(*) FROM s), (SELECT count(*) FROM t)", 2, p, &e);
    if (r == NULL)
        return desk_db_fail(err, "ending the sessions and tokens", e);
    json_t *d = json_pack("{s:s, s:I, s:I, s:b}", "reason", reason ? reason : "",
                          "sessions_ended", (json_int_t)atoll(PQgetvalue(r, 0, 0)),
                          "tokens_revoked", (json_int_t)atoll(PQgetvalue(r, 0, 1)),
                          "kept_current_session", keep_session_id != 0);
    PQclear(r);
    int rc = desk_audit(tx, "user.access_ended", "user", user_id, d, err);
    json_decref(d);
    return rc;
}

int user_totp_reset(const struct desk_tx *tx, long long id, struct err *err)
{
    const char *e = NULL;
    char role[16], sid[24];
    if (desk_need_role(tx, ATUM_ROLE_ADMIN, err) < 0)
        return -1;
    if (is_self(tx, id))
        return err_raise(err, ERR_CONFLICT, NULL, "you cannot reset your own TOTP here: turn it off "
                         "with POST /api/v1/auth/totp/disable and a current code or a recovery code");
    if (lock_user(tx, id, "reset TOTP of", role, err) < 0)
        return -1;
    snprintf(sid, sizeof(sid), "%lld", id);
    const char *p[] = { sid };
    PGresult *r = db_exec(tx->db,
        "WITH t AS (DELETE FROM user_totp WHERE user_id = $1 RETURNING enabled),"
        "     c AS (DELETE FROM recovery_codes WHERE user_id = $1 RETURNING 1)"
        " SELECT (SELECT count(*) FROM t), coalesce((SELECT bool_or(enabled) FROM t), false),"
        "        (SELECT count(*) FROM c)", 1, p, &e);
    if (r == NULL)
        return desk_db_fail(err, "resetting TOTP", e);
    bool had = atoll(PQgetvalue(r, 0, 0)) > 0, was_enabled = PQgetvalue(r, 0, 1)[0] == 't';
    long long codes = atoll(PQgetvalue(r, 0, 2));
    PQclear(r);
    if (!had)
        return err_raise(err, ERR_CONFLICT, NULL, "this account has no TOTP to reset");
    json_t *d = json_pack("{s:b, s:I}", "was_enabled", was_enabled, "recovery_codes_removed",
                          (json_int_t)codes);
    int rc = desk_audit(tx, "user.totp_reset", "user", id, d, err);
    json_decref(d);
    if (rc < 0 || user_end_access(tx, id, 0, "TOTP reset by an admin", err) < 0)
        return -1;
    json_t *changed = json_pack("[s]", "totp");
    rc = emit_user(tx, "user.updated", id, changed, err);
    json_decref(changed);
    return rc;
}

int user_store_rehash(struct db_conn *c, long long user_id, const char *hash, const char **error_r)
{
    const char *e = NULL;
    char uid[24];
    snprintf(uid, sizeof(uid), "%lld", user_id);
    const char *p[] = { uid, hash };
    PGresult *r = db_exec(c, "UPDATE users SET password_hash = $2 WHERE id = $1", 2, p, &e);
    if (r == NULL)
        return err_set(error_r, "storing the new password hash: %s", e);
    PQclear(r);
    return 0;
}

/* ---- atumctl's: a transaction of their own, the operator acting ------------ */

static int operator_tx(struct db_conn *c, const char *actor, struct desk_actor *who,
                       struct desk_tx *tx, const char **error_r)
{
    *who = (struct desk_actor){ .kind = DESK_OPERATOR, .via = actor ? actor : "atumctl" };
    *tx = (struct desk_tx){ c, NULL, who };
    return db_begin(c, error_r);
}

static int operator_end(struct db_conn *c, int rc, const struct err *err, const char **error_r)
{
    const char *e = NULL;
    if (rc < 0) {
        db_rollback(c);
        return err_set(error_r, "%s", err->text ? err->text : "failed");
    }
    if (db_commit(c, &e) < 0)
        return err_set(error_r, "%s", e);
    return 0;
}

int user_add(struct db_conn *c, const char *email, const char *name, const char *role,
             const char *password, const char *actor, long long *id_r, const char **error_r)
{
    char *hash = NULL;
    struct desk_actor who;
    struct desk_tx tx;
    struct err err = { ERR_OK, NULL, NULL };
    if (password != NULL) {
        if (passwd_policy_check(password, error_r) < 0)
            return -1;
        if ((hash = passwd_hash(password, error_r)) == NULL)
            return -1;
    }
    const struct user_change ch = { .email = email, .name = name, .role = role, .password_hash = hash };
    int rc = operator_tx(c, actor, &who, &tx, error_r);
    if (rc == 0)
        rc = operator_end(c, user_create(&tx, &ch, id_r, &err), &err, error_r);
    free(hash);
    return rc;
}

int user_set_password(struct db_conn *c, const char *email, const char *password,
                      const char *actor, const char **error_r)
{
    const char *e = NULL;
    char *hash = NULL;
    struct desk_actor who;
    struct desk_tx tx;
    struct err err = { ERR_OK, NULL, NULL };
    if (passwd_policy_check(password, error_r) < 0)
        return -1;
    if ((hash = passwd_hash(password, error_r)) == NULL)
        return -1;
    int rc = operator_tx(c, actor, &who, &tx, error_r);
    if (rc < 0)
        goto out;
    const char *p[] = { email, hash };
    PGresult *r = db_exec(c, "UPDATE users SET password_hash = $2, updated_at = now()"
                             " WHERE email_canonical(email) = email_canonical($1) RETURNING id", 2, p, &e);
    if (r == NULL) {
        rc = desk_db_fail(&err, "setting the password", e);
    } else if (PQntuples(r) == 0) {
        rc = err_raise(&err, ERR_NOT_FOUND, "email", "no user with e-mail %s", email);
    } else {
        long long uid = atoll(PQgetvalue(r, 0, 0));
        json_t *d = json_pack("{s:s, s:s}", "email", email, "via", who.via);
        rc = desk_audit(&tx, "user.password", "user", uid, d, &err);
        json_decref(d);
        /* whoever held a session or a token before the reset holds nothing */
        if (rc == 0)
            rc = user_end_access(&tx, uid, 0, "password changed", &err);
    }
    PQclear(r);
    rc = operator_end(c, rc, &err, error_r);
out:
    free(hash);
    return rc;
}

int user_check_password(struct db_conn *c, const char *email, const char *password,
                         long long *id_r, const char **error_r)
{
    const char *e = NULL;
    const char *params[] = { email };
    PGresult *r = db_exec(c, "SELECT id, password_hash FROM users"
                             " WHERE email_canonical(email) = email_canonical($1) AND NOT disabled", 1, params, &e);
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
    "desk_user_find", "SELECT id, coalesce(org_id, 0), role FROM users"
                      " WHERE email_canonical(email) = email_canonical($1)", 1
};
static const struct db_stmt st_user_add_customer = {
    "desk_user_add_customer",
    "INSERT INTO users (email, name, role, org_id)"
    " VALUES ($1, $2, 'customer',"
    "         (SELECT id FROM orgs WHERE $3::bool AND lower(domain) = lower(split_part($1, '@', 2)) LIMIT 1))"
    " ON CONFLICT ((email_canonical(email))) DO NOTHING RETURNING id, coalesce(org_id, 0), role",
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
