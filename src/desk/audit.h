/*
 * desk/audit.h -- the append-only audit log.
 *
 * One row per privileged action, written in the same transaction as the
 * action when there is one.  The table refuses UPDATE, DELETE and TRUNCATE
 * (trigger in sql/001_core.sql).  detail_json must be a JSON object (NULL
 * means {}).
 *
 * Hash chain (sql/010_api.sql): a trigger gives each row seq (gap-free, in
 * commit order), prev_hash and hash = sha256(prev_hash || the row's
 * canonical JSON text).  audit_verify() recomputes every link from the
 * stored columns, so an edited, deleted or inserted row shows up as the
 * first seq whose link is broken.
 */
#ifndef ATUM_DESK_AUDIT_H
#define ATUM_DESK_AUDIT_H

#include <stddef.h>
#include "core/db.h"

int audit_append(struct db_conn *c, long long actor_id, const char *actor, const char *action,
                 const char *target, const char *detail_json, const char *ip,
                 const char **error_r);

/* Walks the whole chain.  0 and *bad_seq_r = 0 when intact, 0 and the
 * first broken seq otherwise (*why_r says what is wrong); -1 on a
 * database error.  *rows_r: rows checked. */
int audit_verify(struct db_conn *c, long long *rows_r, long long *bad_seq_r, char *why_r,
                 size_t why_size, const char **error_r);

#endif
