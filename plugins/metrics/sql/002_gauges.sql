-- 002_gauges: gauges too costly to compute at every scrape (a pass over
-- every open ticket), refreshed by the metrics.refresh job every
-- gauges_interval and read by GET /metrics (plugins/metrics/refresh.h).
CREATE TABLE metrics_open_tickets (
    status    text NOT NULL,
    priority  text NOT NULL,
    queue     text NOT NULL,               -- the queue's name (unique)
    n         bigint NOT NULL,
    PRIMARY KEY (status, priority, queue)
);
-- When each refreshed set was computed: its age is a gauge of its own.
CREATE TABLE metrics_refresh (
    what  text PRIMARY KEY,
    at    timestamptz NOT NULL
);
