/* desk/queue.c -- see desk/queue.h. */
#include "config.h"
#include "desk/queue.h"
#include "lib/email.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int check(const char *name, const char *address, struct err *err)
{
    if (name && (name[0] == '\0' || strlen(name) > 100))
        return err_raise(err, ERR_INVALID, "name", "a queue's name is 1 to 100 characters");
    if (address && !email_valid(address))
        return err_raise(err, ERR_INVALID, "address", "field 'address' must be an e-mail address");
    return 0;
}

static int announce(const struct desk_tx *tx, const char *action, const char *event, long long id,
                    json_t *detail, struct err *err)
{
    int rc = desk_audit(tx, action, "queue", id, detail, err);
    if (rc == 0) {
        json_t *d = json_pack("{s:I}", "queue_id", (json_int_t)id);
        if (detail && json_object_get(detail, "user_id"))
            json_object_set(d, "user_id", json_object_get(detail, "user_id"));
        rc = desk_emit(tx, event, d, err);
    }
    return rc;
}

int queue_add(const struct desk_tx *tx, const char *name, const char *address, long long *id_r,
              struct err *err)
{
    const char *e = NULL;
    if (desk_need_role(tx, ATUM_ROLE_ADMIN, err) < 0)
        return -1;
    if (name == NULL || address == NULL)
        return err_raise(err, ERR_INVALID, name ? "address" : "name", "field '%s' is required",
                         name ? "address" : "name");
    if (check(name, address, err) < 0)
        return -1;
    const char *p[] = { name, address };
    PGresult *r = db_exec(tx->db, "INSERT INTO queues (name, address) VALUES ($1, $2) RETURNING id",
                          2, p, &e);
    if (r == NULL)
        return desk_write_fail(tx, "queue", "name", e, err);
    long long id = atoll(PQgetvalue(r, 0, 0));
    PQclear(r);
    json_t *d = json_pack("{s:s, s:s}", "name", name, "address", address);
    int rc = announce(tx, "queue.create", "queue.created", id, d, err);
    json_decref(d);
    if (rc == 0 && id_r)
        *id_r = id;
    return rc;
}

int queue_update(const struct desk_tx *tx, long long id, const char *name, const char *address,
                 struct err *err)
{
    const char *e = NULL;
    char sid[24];
    if (desk_need_role(tx, ATUM_ROLE_ADMIN, err) < 0 || check(name, address, err) < 0)
        return -1;
    snprintf(sid, sizeof(sid), "%lld", id);
    const char *p[] = { sid, name, address };
    PGresult *r = db_exec(tx->db, "UPDATE queues SET name = coalesce($2, name),"
                                  " address = coalesce($3, address) WHERE id = $1 RETURNING id",
                          3, p, &e);
    if (r == NULL)
        return desk_write_fail(tx, "queue", "name", e, err);
    int n = PQntuples(r);
    PQclear(r);
    if (n == 0)
        return err_raise(err, ERR_NOT_FOUND, NULL, "no such queue");
    json_t *d = json_pack("{s:s?, s:s?}", "name", name, "address", address);
    int rc = announce(tx, "queue.update", "queue.updated", id, d, err);
    json_decref(d);
    return rc;
}

int queue_delete(const struct desk_tx *tx, long long id, struct err *err)
{
    const char *e = NULL;
    char sid[24];
    if (desk_need_role(tx, ATUM_ROLE_ADMIN, err) < 0)
        return -1;
    snprintf(sid, sizeof(sid), "%lld", id);
    const char *p[] = { sid };
    PGresult *r = db_exec(tx->db, "DELETE FROM queues WHERE id = $1 RETURNING id", 1, p, &e);
    if (r == NULL)
        return desk_write_fail(tx, "queue", NULL, e, err);
    int n = PQntuples(r);
    PQclear(r);
    if (n == 0)
        return err_raise(err, ERR_NOT_FOUND, NULL, "no such queue");
    return announce(tx, "queue.delete", "queue.deleted", id, NULL, err);
}

int queue_add_member(const struct desk_tx *tx, long long queue_id, long long user_id,
                     bool *changed_r, struct err *err)
{
    const char *e = NULL;
    char q[24], u[24];
    if (changed_r)
        *changed_r = false;
    if (desk_need_role(tx, ATUM_ROLE_MANAGER, err) < 0)
        return -1;
    snprintf(q, sizeof(q), "%lld", queue_id);
    snprintf(u, sizeof(u), "%lld", user_id);
    const char *p[] = { q, u };
    PGresult *r = db_exec(tx->db,
        "WITH ok AS (SELECT q.id AS q, u.id AS u FROM queues q, users u"
        "             WHERE q.id = $1 AND u.id = $2 AND u.role <> 'customer'),"
        "     ins AS (INSERT INTO queue_members (queue_id, user_id) SELECT q, u FROM ok"
        "             ON CONFLICT DO NOTHING RETURNING 1)"
        " SELECT (SELECT count(*) FROM ok), (SELECT count(*) FROM ins)", 2, p, &e);
    if (r == NULL)
        return desk_db_fail(err, "adding a member", e);
    bool found = atoll(PQgetvalue(r, 0, 0)) > 0, added = atoll(PQgetvalue(r, 0, 1)) > 0;
    PQclear(r);
    if (!found)
        return err_raise(err, ERR_NOT_FOUND, NULL, "no such queue, or no such agent (customers "
                         "cannot be queue members)");
    if (!added)
        return 0;
    if (changed_r)
        *changed_r = true;
    json_t *d = json_pack("{s:I}", "user_id", (json_int_t)user_id);
    int rc = announce(tx, "queue.member_add", "queue.member_added", queue_id, d, err);
    json_decref(d);
    return rc;
}

int queue_remove_member(const struct desk_tx *tx, long long queue_id, long long user_id,
                        struct err *err)
{
    const char *e = NULL;
    char q[24], u[24];
    if (desk_need_role(tx, ATUM_ROLE_MANAGER, err) < 0)
        return -1;
    snprintf(q, sizeof(q), "%lld", queue_id);
    snprintf(u, sizeof(u), "%lld", user_id);
    const char *p[] = { q, u };
    PGresult *r = db_exec(tx->db, "DELETE FROM queue_members WHERE queue_id = $1 AND user_id = $2"
                                  " RETURNING 1", 2, p, &e);
    if (r == NULL)
        return desk_db_fail(err, "removing a member", e);
    int n = PQntuples(r);
    PQclear(r);
    if (n == 0)
        return err_raise(err, ERR_NOT_FOUND, NULL, "no such member");
    json_t *d = json_pack("{s:I}", "user_id", (json_int_t)user_id);
    int rc = announce(tx, "queue.member_remove", "queue.member_removed", queue_id, d, err);
    json_decref(d);
    return rc;
}

int queue_find(const struct desk_tx *tx, const char *name, long long *id_r, struct err *err)
{
    const char *e = NULL;
    const char *p[] = { name };
    PGresult *r = db_exec(tx->db, "SELECT id FROM queues WHERE name = $1", 1, p, &e);
    if (r == NULL)
        return desk_db_fail(err, "finding the queue", e);
    int n = PQntuples(r);
    if (n > 0)
        *id_r = atoll(PQgetvalue(r, 0, 0));
    PQclear(r);
    if (n == 0)
        return err_raise(err, ERR_NOT_FOUND, "queue", "no queue named '%s'", name);
    return 0;
}
