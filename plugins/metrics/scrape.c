/* plugins/metrics/scrape.c -- see scrape.h. */
#include "scrape.h"
#include "dbgauges.h"
#include "procstat.h"

#include <stdio.h>
#include <time.h>

static const double scrape_buckets[] = { 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5 };

void scrape_describe(const struct atum_host *h)
{
    h->metric_describe("atum_metrics_scrapes_total", ATUM_METRIC_COUNTER,
                       "GET /metrics requests, by result (ok, database_error, refused).", NULL, 0);
    h->metric_describe("atum_metrics_scrape_seconds", ATUM_METRIC_HISTOGRAM,
                       "Time to build one answer of GET /metrics (database gauges included).",
                       scrape_buckets, sizeof(scrape_buckets) / sizeof(scrape_buckets[0]));
}

static double mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static const char *role_name(enum atum_role r)
{
    return r == ATUM_ROLE_ADMIN ? "admin" : r == ATUM_ROLE_MANAGER ? "manager"
         : r == ATUM_ROLE_AGENT ? "agent" : "customer";
}

int scrape_route(void *state, const struct atum_http_req *req, struct atum_http_resp *resp)
{
    struct mx *m = state;
    const struct atum_host *h = m->host;
    double started = mono();

    bool by_role = req->user_id > 0 && req->role >= m->scrape_role;
    if (!by_role && !addr_list_match(&m->allow, h->http_client_addr(req))) {
        char detail[256];
        h->counter_add("atum_metrics_scrapes_total", "result=\"refused\"", 1);
        if (req->user_id > 0) {
            snprintf(detail, sizeof(detail), "reading metrics needs the role %s or higher "
                     "([plugin.metrics] scrape_role)", role_name(m->scrape_role));
            mx_problem(m, resp, 403, detail);
        } else {
            snprintf(detail, sizeof(detail), "send an API token of a user with the role %s or "
                     "higher (Authorization: Bearer ...), or scrape from an address in "
                     "[plugin.metrics] scrape_allow", role_name(m->scrape_role));
            mx_problem(m, resp, 401, detail);
        }
        return 0;
    }

    struct buf out = BUF_INIT;
    h->metrics_write(buf_emit, &out);
    const char *result = "result=\"ok\"";
    if (m->db_gauges) {
        const char *e = NULL;
        int ok = dbgauges_render(m, req->db, &out, &e) == 0;
        if (!ok) {
            h->log(ATUM_LOG_WARN, "database gauges left out of this scrape: %s", e);
            result = "result=\"database_error\"";
        }
        buf_adds(&out, "# HELP atum_database_up 1 when this scrape could read the database "
                       "gauges, else 0.\n# TYPE atum_database_up gauge\n");
        buf_addf(&out, "atum_database_up %d\n", ok);
    }
    struct procstat ps;
    char why[256];
    if (procstat_read("/proc", &ps, why, sizeof(why)) == 0)
        procstat_render(&ps, &out);
    else
        h->log(ATUM_LOG_WARN, "process figures left out of this scrape: %s", why);
    h->http_reply(resp, 200, SCRAPE_CONTENT_TYPE, out.s ? out.s : "", out.len);
    buf_free(&out);
    h->counter_add("atum_metrics_scrapes_total", result, 1);
    h->histogram_observe("atum_metrics_scrape_seconds", NULL, mono() - started);
    return 0;
}
