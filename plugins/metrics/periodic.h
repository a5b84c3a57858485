/*
 * plugins/metrics/periodic.h -- recurring jobs without a scheduler: the job
 * for the first boundary of a period after now (every hour, every 15 s),
 * with the unique key "KIND:BOUNDARY", so however many nodes and reloads
 * ask, each boundary gets one job.  start() asks once per load; each run
 * asks for the next before doing its work, so a failing run (retried,
 * then dead) never breaks the chain.
 */
#ifndef ATUM_METRICS_PERIODIC_H
#define ATUM_METRICS_PERIODIC_H

#include <atum/plugin.h>

/* The first multiple of period_s after now, and the delay to it. */
void periodic_next(double now, double period_s, double *boundary_r, double *delay_r);

/* Enqueues kind for that boundary (priority 0: the host's default), with
 * the kind as concurrency key so two runs never overlap.  0, or -1 with
 * *error_r. */
int periodic_schedule(const struct atum_host *host, struct atum_db *db, const char *kind,
                      double period_s, int priority, double now, const char **error_r);

/* The same for a given boundary and delay (<= 0: at once), e.g. the
 * current period's run at start. */
int periodic_schedule_at(const struct atum_host *host, struct atum_db *db, const char *kind,
                         double boundary, double delay, int priority, const char **error_r);

#endif
