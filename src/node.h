/*
 * node.h -- this atumd process as other processes and operators see it:
 * a row in `nodes` with a heartbeat and a JSON summary (workers, plugins,
 * listeners).  Rows of nodes silent for a day are removed by any node.
 */
#ifndef ATUM_NODE_H
#define ATUM_NODE_H

#include <stddef.h>
#include "db.h"

/* "host:pid:random" into buf. */
void node_make_id(char *buf, size_t size);
int node_heartbeat(struct db_conn *c, const char *node_id, const char *info_json,
                   const char **error_r);
int node_unregister(struct db_conn *c, const char *node_id, const char **error_r);

#endif
