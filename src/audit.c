/* audit.c -- see audit.h. */
#include "config.h"
#include "audit.h"
#include "err.h"

#include <stdio.h>

int audit_append(struct db_conn *c, long long actor_id, const char *actor, const char *action,
                 const char *target, const char *detail_json, const char *ip,
                 const char **error_r)
{
    char sid[32];
    snprintf(sid, sizeof(sid), "%lld", actor_id);
    const char *params[] = { actor_id > 0 ? sid : NULL, actor, action, target,
                             detail_json ? detail_json : "{}", ip };
    const char *e = NULL;
    PGresult *r = db_exec(c, "INSERT INTO audit_log (actor_id, actor, action, target, detail, ip)"
                             " VALUES ($1, $2, $3, $4, $5::jsonb, $6::inet)", 6, params, &e);
    if (r == NULL)
        return err_set(error_r, "audit log: %s", e);
    PQclear(r);
    return 0;
}
