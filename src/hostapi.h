/*
 * hostapi.h -- the host's side of the opaque types in atum/plugin.h.
 *
 * Core code that calls plugin callbacks (workers, the web server) builds
 * these; the host functions in plugin_host.c cast the plugin's opaque
 * pointers back to them.  Plugins never see this header.
 */
#ifndef ATUM_HOSTAPI_H
#define ATUM_HOSTAPI_H

#include <atum/plugin.h>
#include <stdbool.h>
#include "db.h"
#include "strbuf.h"

struct runtime;

/* A connection lent to a plugin, with the runtime it may emit events to. */
struct atum_db {
    struct db_conn *conn;
    struct runtime *rt;
};

/* One job being run.  `pub` must stay the first member: the host casts the
 * plugin's struct atum_job * back to this. */
struct job_run {
    struct atum_job pub;
    struct atum_db db;
    const char *worker;        /* locked_by of this run */
    long long lease_ms;
    char error[1024];          /* job_error() text, "" when none */
    long long retry_in_ms;     /* job_retry_in(); -1: the queue's backoff */
    bool finished_in_tx;       /* completed inside the handler's transaction */
    bool keep_done;            /* archive vs delete, from the queue config */
};

struct atum_http_resp {
    int status;
    char content_type[128];
    struct strbuf body;
};

#endif
