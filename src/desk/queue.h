/*
 * desk/queue.h -- helpdesk queues: a name and the address customers write
 * to (support@example.com).  Not to be confused with queue.h, the job
 * queue.  Changes are audited in the same transaction.
 */
#ifndef ATUM_DESK_QUEUE_H
#define ATUM_DESK_QUEUE_H

#include "core/db.h"

int queue_add(struct db_conn *c, const char *name, const char *address, const char *actor,
                   long long *id_r, const char **error_r);
/* Adds an agent (by e-mail) to a queue (by name). */
int queue_add_member(struct db_conn *c, const char *queue, const char *email,
                          const char *actor, const char **error_r);

#endif
