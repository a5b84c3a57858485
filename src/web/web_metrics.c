/* web/web_metrics.c -- see web/web_metrics.h. */
#include "config.h"
#include "web/web_metrics.h"
#include "lib/metrics.h"

#include <stdio.h>
#include <string.h>

static const char *method_label(const char *m)
{
    static const char *const known[] = { "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE",
                                         "OPTIONS", NULL };
    for (int i = 0; m && known[i]; i++)
        if (strcmp(m, known[i]) == 0)
            return known[i];
    return "other";
}

void web_metrics_request(const char *route, const char *method, int status, double seconds)
{
    char r[WEB_ROUTE_LABEL_MAX * 2], labels[WEB_ROUTE_LABEL_MAX * 2 + 64];
    metrics_label_value(r, sizeof(r), route && route[0] ? route : "unmatched");
    const char *m = method_label(method);
    snprintf(labels, sizeof(labels), "route=\"%s\",method=\"%s\"", r, m);
    metrics_observe("atum_http_request_duration_seconds", labels, seconds);
    snprintf(labels, sizeof(labels), "route=\"%s\",method=\"%s\",code=\"%d\"", r, m,
             status >= 100 && status <= 599 ? status : 0);
    metrics_counter_add("atum_http_requests_total", labels, 1);
}
