/*
 * audit.h -- the append-only audit log.
 *
 * One row per privileged action, written in the same transaction as the
 * action when there is one.  The table refuses UPDATE, DELETE and TRUNCATE
 * (trigger in sql/001_core.sql).  detail_json must be a JSON object (NULL
 * means {}).
 */
#ifndef ATUM_AUDIT_H
#define ATUM_AUDIT_H

#include "db.h"

int audit_append(struct db_conn *c, long long actor_id, const char *actor, const char *action,
                 const char *target, const char *detail_json, const char *ip,
                 const char **error_r);

#endif
