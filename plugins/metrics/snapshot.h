/*
 * plugins/metrics/snapshot.h -- the hourly snapshot: a job of kind
 * metrics.snapshot runs at every hour boundary H and stores, in
 * metrics_snapshots (hour = H):
 *   open             the dashboard's "open" object at that moment
 *   created, solved  tickets created / solved in [H - 1 h, H)
 *   jobs_available, jobs_dead   the queue's backlog at that moment
 * and deletes snapshots older than snapshot_keep_days.
 *
 * Scheduling: start() (every load, every node) and each run enqueue the
 * next boundary's job with delay_seconds up to it and the unique key
 * "metrics.snapshot:EPOCH", so however many nodes and reloads there are,
 * each hour has one job.  A run schedules the next hour before it takes
 * its snapshot, so a failing snapshot (retried, then dead) never breaks
 * the chain; the snapshot and its retention commit with the job.
 */
#ifndef ATUM_METRICS_SNAPSHOT_H
#define ATUM_METRICS_SNAPSHOT_H

#include "mx.h"

#define SNAPSHOT_KIND "metrics.snapshot"

/* The plugin's start(): schedules the next boundary's snapshot. */
int snapshot_start(void *state, struct atum_db *db);
int snapshot_run(void *state, struct atum_job *job);

/* The unique key and delay of the job for the first boundary after now. */
void snapshot_next(double now, double *boundary_r, double *delay_r);

#endif
