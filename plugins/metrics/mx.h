/*
 * plugins/metrics/mx.h -- the metrics plugin's state, shared by its
 * modules: scrape.c (GET /metrics), dbgauges.c (gauges read from the
 * database at scrape time), dashboard.c (the dashboard and history
 * routes), snapshot.c (the hourly snapshot job).  metrics.c holds the
 * descriptor, the configuration and the life cycle.
 *
 * The state is built by init() and only read afterwards, so route
 * handlers and jobs on several threads share it without a lock.
 * Ownership: the state owns its allow-list; fini() frees both.
 */
#ifndef ATUM_METRICS_MX_H
#define ATUM_METRICS_MX_H

#include <atum/plugin.h>
#include <stdbool.h>
#include "addr.h"
#include "buf.h"

struct mx {
    const struct atum_host *host;
    const struct atum_conf *conf;
    struct addr_list allow;      /* scrape_allow: answered without a token */
    enum atum_role scrape_role;  /* scrape_role: a token of at least this role */
    bool db_gauges;              /* database_gauges */
    char timezone[64];           /* timezone: the dashboard's days */
    long long keep_days;         /* snapshot_keep_days */
    long long gauges_interval;   /* gauges_interval: seconds between refreshes */
};

/* Answers a problem document (RFC 9457): {"title", "status", "detail"}. */
void mx_problem(const struct mx *m, struct atum_http_resp *resp, int status, const char *detail);
/* Answers 200 with a JSON body. */
void mx_json(const struct mx *m, struct atum_http_resp *resp, const struct buf *body);

/* The integer value of name in a query string ("a=1&b=2"): 1 and *v_r
 * when present and a decimal integer in [min, max], 0 when absent, -1
 * when present but not such a number. */
int mx_query_int(const char *query, const char *name, long long min, long long max,
                 long long *v_r);

#endif
