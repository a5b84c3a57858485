/* desk/desk.c -- see desk/desk.h. */
#include "config.h"
#include "desk/desk.h"
#include "desk/audit.h"
#include "core/event.h"

#include <stdio.h>
#include <stdlib.h>

bool desk_is_staff(const struct desk_actor *who)
{
    return who->kind != DESK_USER || who->role >= ATUM_ROLE_AGENT;
}

bool desk_is_customer(const struct desk_actor *who)
{
    return who->kind == DESK_USER && who->role == ATUM_ROLE_CUSTOMER;
}

int desk_db_fail(struct err *err, const char *what, const char *e)
{
    return err_failed(err, "%s: %s", what, e ? e : "database error");
}

int desk_audit(const struct desk_tx *tx, const char *action, const char *target_kind,
               long long target_id, json_t *detail, struct err *err)
{
    const struct desk_actor *who = tx->who;
    if (who->kind == DESK_SYSTEM)
        return 0;
    char actor[64], target[64];
    const char *e = NULL;
    if (who->kind == DESK_OPERATOR)
        snprintf(actor, sizeof(actor), "%s", who->via ? who->via : "atumctl");
    else
        snprintf(actor, sizeof(actor), "user:%lld", who->user_id);
    snprintf(target, sizeof(target), "%s:%lld", target_kind, target_id);
    char *det = detail ? json_dumps(detail, JSON_COMPACT) : NULL;
    int rc = audit_append(tx->db, who->kind == DESK_USER ? who->user_id : 0, actor, action, target,
                          det, who->ip, &e);
    free(det);
    if (rc < 0)
        return desk_db_fail(err, "audit", e);
    return 0;
}

int desk_emit(const struct desk_tx *tx, const char *event, json_t *data, struct err *err)
{
    const char *e = NULL;
    if (tx->rt == NULL) {
        json_decref(data);
        return 0;
    }
    char *s = data ? json_dumps(data, JSON_COMPACT) : NULL;
    json_decref(data);
    if (s == NULL)
        return err_failed(err, "event %s: cannot encode its data", event);
    int rc = event_emit(tx->rt, tx->db, event, s, &e);
    free(s);
    if (rc < 0)
        return err_failed(err, "%s", e);
    return 0;
}
