/* desk/desk.c -- see desk/desk.h. */
#include "config.h"
#include "desk/desk.h"
#include "desk/audit.h"
#include "core/event.h"
#include "core/live_event.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

int desk_need_role(const struct desk_tx *tx, enum atum_role role, struct err *err)
{
    const struct desk_actor *who = tx->who;
    if (who->kind != DESK_USER || who->role >= role)
        return 0;
    return err_raise(err, ERR_FORBIDDEN, NULL, "your role may not do this");
}

/* The input field a constraint is about, from the names the schema gives
 * its constraints and indexes (<table>_<column>_key, _fkey or _check),
 * as one of the static names the domain's inputs use. */
static const char *constraint_field(struct db_conn *c)
{
    static const char *const fields[] = { "name", "domain", "address", "email", "org_id",
                                          "queue_id", "user_id", "role", NULL };
    const char *t = db_last_table(c), *k = db_last_constraint(c);
    size_t tl = strlen(t);
    if (tl == 0 || strncmp(k, t, tl) != 0 || k[tl] != '_')
        return NULL;
    const char *col = k + tl + 1;
    for (const char *const *f = fields; *f; f++) {
        size_t n = strlen(*f);
        if (strncmp(col, *f, n) == 0
            && (strcmp(col + n, "_key") == 0 || strcmp(col + n, "_fkey") == 0
                || strcmp(col + n, "_check") == 0))
            return *f;
    }
    return NULL;
}

int desk_write_fail(const struct desk_tx *tx, const char *what, const char *field, const char *e,
                    struct err *err)
{
    const char *st = db_last_sqlstate(tx->db);
    const char *named = constraint_field(tx->db);
    if (named != NULL)
        field = named;
    if (strcmp(st, "23505") == 0)
        return err_raise(err, ERR_CONFLICT, field, "a %s with this %s already exists", what,
                         field ? field : "name");
    if (strcmp(st, "23503") == 0)
        return err_raise(err, ERR_CONFLICT, NULL, "the %s is still referenced", what);
    if (strcmp(st, "23514") == 0 || strncmp(st, "22", 2) == 0)
        return err_raise(err, ERR_INVALID, field, "a value is not acceptable for a %s: %s", what, e);
    return desk_db_fail(err, what, e);
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

/* Internal notes and held replies are staff's: customers never hear of
 * them, live or otherwise. */
static bool staff_only(const char *event, json_t *data)
{
    const char *vis = json_string_value(json_object_get(data, "visibility"));
    return (vis && strcmp(vis, "internal") == 0) || strcmp(event, "ticket.held") == 0;
}

int desk_emit(const struct desk_tx *tx, const char *event, json_t *data, struct err *err)
{
    const char *e = NULL;
    char *s = data ? json_dumps(data, JSON_COMPACT) : NULL;
    if (s == NULL) {
        json_decref(data);
        return err_failed(err, "event %s: cannot encode its data", event);
    }
    /* every event about a ticket is also a live event (core/live_event.h),
     * stored in this transaction whether or not hooks run */
    json_t *tid = json_object_get(data, "ticket_id");
    int rc = 0;
    if (json_is_integer(tid))
        rc = live_event_store(tx->db, event, (long long)json_integer_value(tid),
                              staff_only(event, data), s, &e);
    json_decref(data);
    if (rc == 0 && tx->rt != NULL)
        rc = event_emit(tx->rt, tx->db, event, s, &e);
    free(s);
    if (rc < 0)
        return err_failed(err, "%s", e);
    return 0;
}
