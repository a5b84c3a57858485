/*
 * desk/queue.h -- helpdesk queues: a name, the address customers write to
 * (support@example.com), and the agents who work it.  (The job queue is
 * core/jobs.h.)
 *
 * Every function runs in the caller's transaction (desk/desk.h), writes
 * the audit row and emits queue.created / queue.updated / queue.deleted /
 * queue.member_added / queue.member_removed, and returns 0, or -1 with
 * err: ERR_INVALID (err.field names the input), ERR_CONFLICT (a name or
 * address that exists; a queue that still has tickets), ERR_NOT_FOUND,
 * ERR_FORBIDDEN, ERR_FAILED.  Queues are an admin's to create, change and
 * delete; members a manager's.
 */
#ifndef ATUM_DESK_QUEUE_H
#define ATUM_DESK_QUEUE_H

#include <stdbool.h>
#include "desk/desk.h"

int queue_add(const struct desk_tx *tx, const char *name, const char *address, long long *id_r,
              struct err *err);
/* NULL: unchanged. */
int queue_update(const struct desk_tx *tx, long long id, const char *name, const char *address,
                 struct err *err);
int queue_delete(const struct desk_tx *tx, long long id, struct err *err);

/* Staff only (customers cannot be members).  Adding an existing member and
 * removing one that is not (ERR_NOT_FOUND) are told apart; *changed_r
 * (may be NULL) says whether adding changed anything. */
int queue_add_member(const struct desk_tx *tx, long long queue_id, long long user_id,
                     bool *changed_r, struct err *err);
int queue_remove_member(const struct desk_tx *tx, long long queue_id, long long user_id,
                        struct err *err);

/* The ids for the command line: a queue by name, a user by address. */
int queue_find(const struct desk_tx *tx, const char *name, long long *id_r, struct err *err);

#endif
