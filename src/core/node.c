/* core/node.c -- see core/node.h. */
#include "config.h"
#include "core/node.h"
#include "lib/err.h"
#include "lib/util.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

void node_make_id(char *buf, size_t size, const char *name)
{
    char host[64] = "localhost";
    unsigned char rnd[3] = { 0, 0, 0 };
    char hex[7];
    gethostname(host, sizeof(host) - 1);
    host[sizeof(host) - 1] = '\0';
    (void)rand_bytes(rnd, sizeof(rnd));
    hex_encode(rnd, sizeof(rnd), hex);
    snprintf(buf, size, "%s:%ld:%s", name && *name ? name : host, (long)getpid(), hex);
}

int node_heartbeat(struct db_conn *c, const char *node_id, const char *info_json,
                   const char **error_r)
{
    char host[64] = "localhost", pid[16];
    gethostname(host, sizeof(host) - 1);
    host[sizeof(host) - 1] = '\0';
    snprintf(pid, sizeof(pid), "%ld", (long)getpid());
    const char *params[] = { node_id, host, pid, PACKAGE_VERSION, info_json ? info_json : "{}" };
    const char *e = NULL;
    PGresult *r = db_exec(c,
        "INSERT INTO nodes (id, host, pid, version, info) VALUES ($1, $2, $3, $4, $5::jsonb)"
        " ON CONFLICT (id) DO UPDATE SET heartbeat_at = now(), info = EXCLUDED.info",
        5, params, &e);
    if (r == NULL)
        return err_set(error_r, "heartbeat: %s", e);
    PQclear(r);
    r = db_exec(c, "DELETE FROM nodes WHERE heartbeat_at < now() - interval '1 day'", 0, NULL, &e);
    if (r == NULL)
        return err_set(error_r, "heartbeat: %s", e);
    PQclear(r);
    return 0;
}

int node_unregister(struct db_conn *c, const char *node_id, const char **error_r)
{
    const char *params[] = { node_id };
    const char *e = NULL;
    PGresult *r = db_exec(c, "DELETE FROM nodes WHERE id = $1", 1, params, &e);
    if (r == NULL)
        return err_set(error_r, "unregister node: %s", e);
    PQclear(r);
    return 0;
}
