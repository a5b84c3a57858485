/*
 * plugins/metrics/dashboard.h -- what the desk's dashboard page shows,
 * computed from the tables at request time:
 *
 *   GET /api/v1/plugins/metrics/dashboard?days=30&queue_id=N   (managers)
 *     open         open tickets (new, open, pending; merged ones left
 *                  out): total, by_status, by_priority (every value, 0
 *                  included), by_queue (every queue), by_assignee (null:
 *                  unassigned)
 *     first_response  tickets opened by a customer within the last `days`
 *                  days: how many, how many got a public answer from
 *                  staff, median and p90 seconds to that first answer
 *     resolution   tickets solved (or closed) within the window: how
 *                  many, median and p90 seconds from creation
 *     sla          compliance % of the SLA targets decided in the window,
 *                  from the sla plugin's sla_outcomes (ticket_id, met,
 *                  decided_at); nulls and available: false without it
 *     csat         average rating and count in the window, from
 *                  csat_ratings (ticket_id, rating, created_at) when the
 *                  portal has made it; nulls and available: false before
 *     daily        the last 90 days in the configured time zone, oldest
 *                  first: {date, created, solved}
 *   GET /api/v1/plugins/metrics/history?hours=168                (managers)
 *     the hourly snapshots (snapshot.h) of the last `hours` hours
 *
 * Time comes from host->now(), so tests fix it.  Every number is
 * computed by PostgreSQL in a few statements that build the JSON.
 */
#ifndef ATUM_METRICS_DASHBOARD_H
#define ATUM_METRICS_DASHBOARD_H

#include "mx.h"

#define DASHBOARD_MAX_DAYS 365
#define HISTORY_MAX_HOURS (24 * 400)

int dashboard_route(void *state, const struct atum_http_req *req, struct atum_http_resp *resp);
int history_route(void *state, const struct atum_http_req *req, struct atum_http_resp *resp);

/* The "open" object of the dashboard (queue_id 0: every queue) appended
 * to out as JSON.  0, or -1 with *error_r. */
int dashboard_open_json(const struct mx *m, struct atum_db *db, long long queue_id,
                        struct buf *out, const char **error_r);

#endif
