/* plugins/metrics/dbgauges.c -- see dbgauges.h. */
#include "dbgauges.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

static const char q_jobs[] =
    "SELECT kind,"
    "       count(*) FILTER (WHERE state = 'available' AND run_at <= now()),"
    "       count(*) FILTER (WHERE state = 'available' AND run_at > now()),"
    "       count(*) FILTER (WHERE state = 'running'),"
    "       count(*) FILTER (WHERE state = 'dead'),"
    "       coalesce(extract(epoch FROM now() - min(run_at)"
    "                FILTER (WHERE state = 'available' AND run_at <= now())), 0)"
    "  FROM jobs GROUP BY kind ORDER BY kind";

/* computed by the metrics.refresh job (refresh.h): a few rows */
static const char q_tickets[] =
    "SELECT status, priority, queue, n FROM metrics_open_tickets ORDER BY 1, 2, 3";
static const char q_tickets_age[] =
    "SELECT extract(epoch FROM now() - at) FROM metrics_refresh WHERE what = 'tickets_open'";

/* the partial index on outbound_mail (state <> 'sent') keeps this small */
static const char q_outbox[] =
    "SELECT count(*) FROM outbound_mail WHERE state IN ('queued', 'sending')";

static double num(const struct atum_host *h, const struct atum_rows *r, int row, int col)
{
    const char *v = h->rows_value(r, row, col);
    return v ? strtod(v, NULL) : 0;
}

static void head(struct buf *b, const char *name, const char *help)
{
    buf_addf(b, "# HELP %s %s\n# TYPE %s gauge\n", name, help, name);
}

static void sample(struct buf *b, const char *name, const char *const *labels, int nlabels,
                   double v)
{
    buf_adds(b, name);
    for (int i = 0; i < nlabels; i++) {
        buf_addf(b, "%s%s=\"", i ? "," : "{", labels[2 * i]);
        buf_add_label_value(b, labels[2 * i + 1]);
        buf_adds(b, "\"");
    }
    buf_adds(b, nlabels ? "} " : " ");
    buf_add_number(b, v);
    buf_adds(b, "\n");
}

static void render_jobs(const struct atum_host *h, const struct atum_rows *r, struct buf *out)
{
    static const char *const states[] = { "available", "scheduled", "running", "dead" };
    int n = h->rows_count(r);
    if (n == 0)
        return;
    head(out, "atum_queue_jobs", "Jobs in the queue, by kind and state (available: due now; "
         "scheduled: due later; running; dead).");
    for (int i = 0; i < n; i++)
        for (int s = 0; s < 4; s++) {
            const char *l[] = { "kind", h->rows_value(r, i, 0), "state", states[s] };
            sample(out, "atum_queue_jobs", l, 2, num(h, r, i, 1 + s));
        }
    head(out, "atum_queue_oldest_available_seconds",
         "Age of the oldest due job no worker has claimed yet, by kind (0 when none waits).");
    for (int i = 0; i < n; i++) {
        const char *l[] = { "kind", h->rows_value(r, i, 0) };
        sample(out, "atum_queue_oldest_available_seconds", l, 1, num(h, r, i, 5));
    }
}

static void render_tickets(const struct atum_host *h, const struct atum_rows *r, struct buf *out)
{
    int n = h->rows_count(r);
    if (n == 0)
        return;
    head(out, "atum_tickets_open", "Tickets not solved or closed (merged ones left out), by status, "
         "priority and queue.");
    for (int i = 0; i < n; i++) {
        const char *l[] = { "status", h->rows_value(r, i, 0), "priority", h->rows_value(r, i, 1),
                            "queue", h->rows_value(r, i, 2) };
        sample(out, "atum_tickets_open", l, 3, num(h, r, i, 3));
    }
}

int dbgauges_render(const struct mx *m, struct atum_db *db, struct buf *out, const char **error_r)
{
    const struct atum_host *h = m->host;
    struct atum_rows *r = NULL;
    if (h->sql(db, q_jobs, 0, NULL, &r, error_r) < 0)
        return -1;
    render_jobs(h, r, out);
    h->rows_free(&r);
    if (h->sql(db, q_tickets_age, 0, NULL, &r, error_r) < 0)
        return -1;
    bool refreshed = h->rows_count(r) == 1;
    double age = num(h, r, 0, 0);
    h->rows_free(&r);
    if (refreshed) {   /* nothing to tell before the first refresh */
        if (h->sql(db, q_tickets, 0, NULL, &r, error_r) < 0)
            return -1;
        render_tickets(h, r, out);
        h->rows_free(&r);
        head(out, "atum_tickets_open_age_seconds", "Seconds since atum_tickets_open was computed "
             "(the metrics.refresh job, every gauges_interval).");
        sample(out, "atum_tickets_open_age_seconds", NULL, 0, age);
    }
    if (h->sql(db, q_outbox, 0, NULL, &r, error_r) < 0)
        return -1;
    head(out, "atum_outbox_pending", "Outgoing mails not settled yet (queued or being sent).");
    sample(out, "atum_outbox_pending", NULL, 0, num(h, r, 0, 0));
    h->rows_free(&r);
    return 0;
}
