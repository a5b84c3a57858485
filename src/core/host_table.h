/*
 * core/host_table.h -- the table of host functions every plugin gets
 * (struct atum_host of atum/plugin.h), and the host's side of the opaque
 * types a plugin only sees as pointers.
 *
 * The table is static and the same for every plugin; the functions find
 * their context in the arguments: a struct atum_db (core/jobrun.h) for
 * SQL, enqueue, emit and mail, a struct job_run behind a struct atum_job,
 * a struct atum_conf (core/plugin_loader.h) for configuration, a struct
 * atum_http_resp for route answers.  Job functions go through
 * core/jobrun.h, mail through core/mailer.h, so this module depends on no
 * floor above the core.
 *
 * Plugins never see this header.
 */
#ifndef ATUM_CORE_HOST_TABLE_H
#define ATUM_CORE_HOST_TABLE_H

#include <atum/plugin.h>
#include "lib/strbuf.h"

/* The answer a plugin route fills in (the web server sends it). */
struct atum_http_resp {
    int status;
    char content_type[128];
    struct strbuf body;
};

/* A route request as the host builds it: the plugin's view first, then
 * what only host functions read (host->http_client_addr).  Whoever calls
 * a plugin's route handler passes &req.pub of one of these. */
struct host_http_req {
    struct atum_http_req pub;    /* first: a plugin's pointer is cast back */
    char client_addr[64];        /* "" when unknown */
};

/* The table handed to every plugin's init(); valid for the process. */
const struct atum_host *host_table(void);

#endif
