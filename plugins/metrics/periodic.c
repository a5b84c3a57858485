/* plugins/metrics/periodic.c -- see periodic.h. */
#include "periodic.h"

#include <math.h>
#include <stdio.h>

void periodic_next(double now, double period_s, double *boundary_r, double *delay_r)
{
    double boundary = floor(now / period_s) * period_s + period_s;
    *boundary_r = boundary;
    *delay_r = boundary - now;
}

int periodic_schedule_at(const struct atum_host *host, struct atum_db *db, const char *kind,
                         double boundary, double delay, int priority, const char **error_r)
{
    char key[128], payload[64];
    snprintf(key, sizeof(key), "%s:%.0f", kind, boundary);
    snprintf(payload, sizeof(payload), "{\"at\": %.0f}", boundary);
    struct atum_job_spec spec = {
        .kind = kind,
        .payload = payload,
        .priority = priority,
        .delay_seconds = delay > 0 ? delay : 0,
        .unique_key = key,
        .concurrency_key = kind,
    };
    long long id = 0;
    return host->enqueue(db, &spec, &id, error_r);
}

int periodic_schedule(const struct atum_host *host, struct atum_db *db, const char *kind,
                      double period_s, int priority, double now, const char **error_r)
{
    double boundary, delay;
    periodic_next(now, period_s, &boundary, &delay);
    return periodic_schedule_at(host, db, kind, boundary, delay, priority, error_r);
}
