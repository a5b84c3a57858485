/* desk/queue.c -- see desk/queue.h. */
#include "config.h"
#include "desk/queue.h"
#include "desk/audit.h"
#include "lib/email.h"
#include "lib/err.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int queue_add(struct db_conn *c, const char *name, const char *address, const char *actor,
                   long long *id_r, const char **error_r)
{
    const char *e = NULL;
    PGresult *r = NULL;
    char *det = NULL;
    int ret = -1;

    if (name == NULL || *name == '\0' || strlen(name) > 100)
        return err_set(error_r, "queue name must be 1..100 characters");
    if (!email_valid(address))
        return err_set(error_r, "invalid queue address '%s'", address ? address : "");
    if (db_begin(c, &e) < 0)
        return err_set(error_r, "%s", e);
    const char *params[] = { name, address };
    r = db_exec(c, "INSERT INTO queues (name, address) VALUES ($1, $2) RETURNING id", 2, params, &e);
    if (r == NULL) {
        if (strcmp(db_last_sqlstate(c), "23505") == 0)
            err_set(error_r, "a queue named '%s' or with address %s already exists", name, address);
        else
            err_set(error_r, "adding queue: %s", e);
        goto rollback;
    }
    char target[32];
    snprintf(target, sizeof(target), "queue:%s", PQgetvalue(r, 0, 0));
    json_t *o = json_pack("{s:s, s:s}", "name", name, "address", address);
    det = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    if (audit_append(c, 0, actor, "queue.create", target, det, NULL, &e) < 0) {
        err_set(error_r, "%s", e);
        goto rollback;
    }
    if (db_commit(c, &e) < 0) {
        err_set(error_r, "%s", e);
        goto out;
    }
    if (id_r)
        *id_r = atoll(PQgetvalue(r, 0, 0));
    ret = 0;
    goto out;
rollback:
    db_rollback(c);
out:
    PQclear(r);
    free(det);
    return ret;
}

int queue_add_member(struct db_conn *c, const char *queue, const char *email,
                          const char *actor, const char **error_r)
{
    const char *e = NULL;
    if (db_begin(c, &e) < 0)
        return err_set(error_r, "%s", e);
    const char *params[] = { queue, email };
    PGresult *r = db_exec(c,
        "INSERT INTO queue_members (queue_id, user_id)"
        " SELECT q.id, u.id FROM queues q, users u"
        "  WHERE q.name = $1 AND lower(u.email) = lower($2) AND u.role <> 'customer'"
        " ON CONFLICT DO NOTHING RETURNING queue_id, user_id", 2, params, &e);
    if (r == NULL) {
        db_rollback(c);
        return err_set(error_r, "adding member: %s", e);
    }
    if (PQntuples(r) == 0) {
        PQclear(r);
        db_rollback(c);
        return err_set(error_r, "no queue '%s', no staff user %s, or already a member", queue, email);
    }
    char target[64];
    snprintf(target, sizeof(target), "queue:%s", PQgetvalue(r, 0, 0));
    PQclear(r);
    json_t *o = json_pack("{s:s}", "member", email);
    char *det = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    int rc = audit_append(c, 0, actor, "queue.member_add", target, det, NULL, &e);
    free(det);
    if (rc < 0) {
        db_rollback(c);
        return err_set(error_r, "%s", e);
    }
    if (db_commit(c, &e) < 0)
        return err_set(error_r, "%s", e);
    return 0;
}
