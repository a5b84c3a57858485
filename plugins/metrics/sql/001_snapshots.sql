-- 001_snapshots: the metrics plugin's hourly snapshots (plugins/metrics/snapshot.h).
-- One row per hour boundary, written once by whichever node runs the
-- hour's metrics.snapshot job; `data` is the dashboard's "open" object plus
-- the hour's throughput and the queue's backlog at that moment.
CREATE TABLE metrics_snapshots (
    hour      timestamptz PRIMARY KEY,              -- the boundary it describes
    taken_at  timestamptz NOT NULL DEFAULT now(),   -- when the job ran
    data      jsonb NOT NULL
);
