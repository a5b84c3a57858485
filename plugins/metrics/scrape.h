/*
 * plugins/metrics/scrape.h -- GET /metrics: the Prometheus text format
 * (version 0.0.4) of
 *   - the host's registry (host->metrics_write): what the core counts
 *     where things happen (mail, jobs, HTTP, deliveries, pools ...) and
 *     what plugins reported through it;
 *   - the database gauges of dbgauges.h (unless database_gauges = no),
 *     with atum_database_up saying whether reading them worked;
 *   - the process_* figures from /proc (procstat.h).
 * Who may scrape: a caller authenticated (bearer API token or session)
 * with a role of at least scrape_role, or any caller whose address
 * (host->http_client_addr: behind a trusted proxy, the address it names)
 * is in scrape_allow.  Others get 401 (no credential) or 403 (a role too
 * low), as problem documents.
 */
#ifndef ATUM_METRICS_SCRAPE_H
#define ATUM_METRICS_SCRAPE_H

#include "mx.h"

#define SCRAPE_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* Describes the plugin's own families to the host (init). */
void scrape_describe(const struct atum_host *host);

int scrape_route(void *state, const struct atum_http_req *req, struct atum_http_resp *resp);

#endif
