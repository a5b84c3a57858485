/*
 * plugins/metrics/snapshot.h -- the hourly snapshot: a job of kind
 * metrics.snapshot runs at every hour boundary H and stores, in
 * metrics_snapshots (hour = H):
 *   open             the dashboard's "open" object at that moment
 *   created, solved  tickets created / solved in [H - 1 h, H)
 *   jobs_available, jobs_dead   the queue's backlog at that moment
 * and deletes snapshots older than snapshot_keep_days.
 *
 * Scheduling: periodic.h, every hour ("metrics.snapshot:EPOCH"); the
 * snapshot and its retention commit with the job.
 */
#ifndef ATUM_METRICS_SNAPSHOT_H
#define ATUM_METRICS_SNAPSHOT_H

#include "mx.h"

#define SNAPSHOT_KIND "metrics.snapshot"

/* The plugin's start(): schedules the next boundary's snapshot. */
int snapshot_start(void *state, struct atum_db *db);
int snapshot_run(void *state, struct atum_job *job);

#endif
