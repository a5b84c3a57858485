/*
 * plugins/metrics/refresh.h -- gauges computed by a job instead of at every
 * scrape: counting the open tickets by status, priority and queue is a
 * pass over every open ticket (about 100 ms with 60,000 of them on a busy
 * 2-core machine), too slow for a scrape.  The metrics.refresh job
 * (periodic.h, every gauges_interval seconds, priority 10 so a backlog
 * does not starve it, one at a time) stores them in metrics_open_tickets
 * with the time in metrics_refresh; a scrape reads those few rows
 * (dbgauges.h) and reports their age as atum_tickets_open_age_seconds.
 */
#ifndef ATUM_METRICS_REFRESH_H
#define ATUM_METRICS_REFRESH_H

#include "mx.h"

#define REFRESH_KIND "metrics.refresh"
#define REFRESH_PRIORITY 10

/* Schedules the refresh of the current interval (at once) -- start(). */
int refresh_schedule_now(const struct mx *m, struct atum_db *db, const char **error_r);
int refresh_run(void *state, struct atum_job *job);

#endif
