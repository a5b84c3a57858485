/*
 * core/node.h -- this atumd process as other processes and operators see it:
 * a row in `nodes` with a heartbeat and a JSON summary (workers, plugins,
 * listeners).  Rows of nodes silent for a day are removed by any node.
 */
#ifndef ATUM_CORE_NODE_H
#define ATUM_CORE_NODE_H

#include <stddef.h>
#include "core/db.h"

/* "NAME:pid:random" into buf; NAME is name when not empty, else the host
 * name.  The pid and random part keep ids unique even when two processes
 * share a name, which the queue's ownership checks rely on. */
void node_make_id(char *buf, size_t size, const char *name);
int node_heartbeat(struct db_conn *c, const char *node_id, const char *info_json,
                   const char **error_r);
int node_unregister(struct db_conn *c, const char *node_id, const char **error_r);

#endif
