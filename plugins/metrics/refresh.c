/* plugins/metrics/refresh.c -- see refresh.h. */
#include "refresh.h"
#include "periodic.h"

#include <math.h>

static const char q_clear[] = "DELETE FROM metrics_open_tickets";

static const char q_fill[] =
    "INSERT INTO metrics_open_tickets (status, priority, queue, n)"
    " SELECT t.status, t.priority, q.name, count(*)"
    "   FROM tickets t JOIN queues q ON q.id = t.queue_id"
    "  WHERE t.status IN ('new', 'open', 'pending') AND t.merged_into IS NULL"
    "  GROUP BY 1, 2, 3";

static const char q_stamp[] =
    "INSERT INTO metrics_refresh (what, at) VALUES ('tickets_open', now())"
    " ON CONFLICT (what) DO UPDATE SET at = excluded.at";

int refresh_schedule_now(const struct mx *m, struct atum_db *db, const char **error_r)
{
    /* the current period's run, due now: the gauges are there at once */
    double period = (double)m->gauges_interval;
    double current = floor(m->host->now() / period) * period;
    return periodic_schedule_at(m->host, db, REFRESH_KIND, current, 0, REFRESH_PRIORITY, error_r);
}

int refresh_run(void *state, struct atum_job *job)
{
    struct mx *m = state;
    const struct atum_host *h = m->host;
    const char *e = NULL;
    if (periodic_schedule(h, job->db, REFRESH_KIND, (double)m->gauges_interval, REFRESH_PRIORITY,
                          h->now(), &e) < 0)
        return h->job_error(job, "scheduling the next refresh: %s", e);
    if (h->tx_begin(job->db, &e) < 0)
        return h->job_error(job, "refresh: %s", e);
    if (h->sql(job->db, q_clear, 0, NULL, NULL, &e) < 0 || h->sql(job->db, q_fill, 0, NULL, NULL, &e) < 0
        || h->sql(job->db, q_stamp, 0, NULL, NULL, &e) < 0 || h->job_complete_in_tx(job, &e) < 0) {
        h->tx_rollback(job->db);
        return h->job_error(job, "refresh: %s", e);
    }
    if (h->tx_commit(job->db, &e) < 0)
        return h->job_error(job, "refresh: %s", e);
    return ATUM_JOB_DONE;
}
