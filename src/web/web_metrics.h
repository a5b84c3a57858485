/*
 * web/web_metrics.h -- what the web server counts of every request it
 * answers: atum_http_requests_total{route,method,code} and the latency
 * histogram atum_http_request_duration_seconds{route,method}
 * (core/core_metrics.h).
 *
 * The route label is a template -- an API pattern such as
 * "/api/v1/tickets/{id}", a plugin's declared route, a fixed path of the
 * server -- or "unmatched", never the path as sent, so ids and probes
 * cannot grow the number of series.  Methods outside the usual ones
 * count as "other".
 */
#ifndef ATUM_WEB_WEB_METRICS_H
#define ATUM_WEB_WEB_METRICS_H

#define WEB_ROUTE_LABEL_MAX 160

/* status 0 (nothing was answered) counts as code "0". */
void web_metrics_request(const char *route, const char *method, int status, double seconds);

#endif
