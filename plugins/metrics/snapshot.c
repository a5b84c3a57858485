/* plugins/metrics/snapshot.c -- see snapshot.h. */
#include "snapshot.h"
#include "dashboard.h"
#include "periodic.h"

#include <math.h>
#include <stdio.h>

static const char q_counts[] =
    "SELECT json_build_object("
    "  'created', (SELECT count(*) FROM tickets WHERE merged_into IS NULL"
    "               AND created_at >= to_timestamp($1) - interval '1 hour'"
    "               AND created_at < to_timestamp($1)),"
    "  'solved', (SELECT count(*) FROM tickets WHERE merged_into IS NULL"
    "              AND status IN ('solved', 'closed')"
    "              AND coalesce(solved_at, closed_at) >= to_timestamp($1) - interval '1 hour'"
    "              AND coalesce(solved_at, closed_at) < to_timestamp($1)),"
    "  'jobs_available', (SELECT count(*) FROM jobs WHERE state = 'available' AND run_at <= now()),"
    "  'jobs_dead', (SELECT count(*) FROM jobs WHERE state = 'dead'))";

static const char q_insert[] =
    "INSERT INTO metrics_snapshots (hour, data)"
    " VALUES (to_timestamp($1), $2::jsonb || $3::jsonb) ON CONFLICT (hour) DO NOTHING";

static const char q_prune[] =
    "DELETE FROM metrics_snapshots WHERE hour < to_timestamp($1) - $2::int * interval '1 day'";

/* The hour's job: the default priority, it can wait behind a burst. */
static int schedule(const struct mx *m, struct atum_db *db, double now, const char **error_r)
{
    return periodic_schedule(m->host, db, SNAPSHOT_KIND, 3600.0, 0, now, error_r);
}

int snapshot_start(void *state, struct atum_db *db)
{
    struct mx *m = state;
    const char *e = NULL;
    /* an unknown time zone shows here, at start, not at the first dashboard */
    const char *tz[] = { m->timezone };
    if (m->host->sql(db, "SELECT now() AT TIME ZONE $1::text", 1, tz, NULL, &e) < 0)
        m->host->log(ATUM_LOG_ERROR, "timezone '%s' is not known to PostgreSQL: %s", m->timezone, e);
    if (schedule(m, db, m->host->now(), &e) < 0) {
        m->host->log(ATUM_LOG_ERROR, "cannot schedule the hourly snapshot: %s", e);
        return -1;
    }
    return 0;
}

int snapshot_run(void *state, struct atum_job *job)
{
    struct mx *m = state;
    const struct atum_host *h = m->host;
    const char *e = NULL;
    double now = h->now();
    if (schedule(m, job->db, now, &e) < 0)
        return h->job_error(job, "scheduling the next snapshot: %s", e);

    char hour[32], keep[24];
    snprintf(hour, sizeof(hour), "%.0f", floor(now / 3600.0) * 3600.0);
    snprintf(keep, sizeof(keep), "%lld", m->keep_days);
    struct buf open = BUF_INIT, counts = BUF_INIT;
    struct atum_rows *r = NULL;
    int rc = ATUM_JOB_RETRY;
    buf_adds(&open, "{\"open\":");
    if (dashboard_open_json(m, job->db, 0, &open, &e) < 0)
        goto fail;
    buf_adds(&open, "}");
    const char *pc[] = { hour };
    if (h->sql(job->db, q_counts, 1, pc, &r, &e) < 0)
        goto fail;
    buf_adds(&counts, h->rows_value(r, 0, 0) ? h->rows_value(r, 0, 0) : "{}");
    h->rows_free(&r);

    const char *pi[] = { hour, open.s, counts.s };
    const char *pp[] = { hour, keep };
    if (h->tx_begin(job->db, &e) < 0)
        goto fail;
    if (h->sql(job->db, q_insert, 3, pi, NULL, &e) < 0 || h->sql(job->db, q_prune, 2, pp, NULL, &e) < 0
        || h->job_complete_in_tx(job, &e) < 0) {
        h->tx_rollback(job->db);
        goto fail;
    }
    if (h->tx_commit(job->db, &e) < 0)
        goto fail;
    rc = ATUM_JOB_DONE;
    goto out;
fail:
    rc = h->job_error(job, "snapshot: %s", e);
out:
    buf_free(&open);
    buf_free(&counts);
    return rc;
}
