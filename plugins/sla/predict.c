/* sla/predict.c -- see predict.h. */
#include "predict.h"

#include <stdlib.h>
#include <string.h>

static void push(struct sla_history *h, int k, int64_t v)
{
    if (h->ndone[k] == h->cap[k]) {
        int cap = h->cap[k] ? h->cap[k] * 2 : 64;
        int64_t *a = realloc(h->done[k], (size_t)cap * sizeof(*a));
        if (a == NULL)
            return;                      /* a smaller sample, not a failure */
        h->done[k] = a;
        h->cap[k] = cap;
    }
    h->done[k][h->ndone[k]++] = v;
}

void sla_history_add(struct sla_history *h, int64_t started_at, bool fr_running, int64_t fr_used,
                     int64_t fr_done_at, bool res_running, int64_t res_used, int64_t res_done_at)
{
    h->started++;
    h->running[0] += fr_running;
    h->running[1] += res_running;
    if (fr_done_at != SLA_NONE && fr_used != SLA_NONE && started_at != SLA_NONE) {
        push(h, 0, fr_used);
        h->wall_sum[0] += (double)(fr_done_at - started_at);
    }
    if (res_done_at != SLA_NONE && res_used != SLA_NONE && started_at != SLA_NONE) {
        push(h, 1, res_used);
        h->wall_sum[1] += (double)(res_done_at - started_at);
    }
}

void sla_history_clear(struct sla_history *h)
{
    free(h->done[0]);
    free(h->done[1]);
    memset(h, 0, sizeof(*h));
}

double sla_load_factor(const struct sla_history *h, int clock)
{
    int k = clock == SLA_RESOLUTION;
    if (h->window_ms <= 0 || h->ndone[k] == 0 || h->started == 0)
        return 1.0;
    double arrivals = (double)h->started / (double)h->window_ms;
    double usual = arrivals * (h->wall_sum[k] / h->ndone[k]);
    if (usual <= 0)
        return 1.0;
    double f = (double)h->running[k] / usual;
    return f < 0.25 ? 0.25 : f > 4.0 ? 4.0 : f;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

void sla_predict(const struct sla_history *h, const struct sla_clock_state *cs, int clock,
                 const struct bcal *cal, int64_t now, struct sla_prediction *out)
{
    memset(out, 0, sizeof(*out));
    out->expected_done_at = SLA_NONE;
    out->load_factor = 1.0;
    if (!cs->tracked || (cs->mode != SLA_MODE_RUNNING && cs->mode != SLA_MODE_PAUSED))
        return;
    out->have = true;
    if (cs->breached) {
        out->risk = 1.0;
        out->basis = "breached";
        return;
    }
    int k = clock == SLA_RESOLUTION;
    double f = h ? sla_load_factor(h, clock) : 1.0;
    out->load_factor = f;
    double u = (double)cs->used, t = (double)cs->target;
    int n = 0, over = 0;
    double *later = h && h->ndone[k] ? malloc((size_t)h->ndone[k] * sizeof(double)) : NULL;
    for (int i = 0; later && i < h->ndone[k]; i++) {
        double y = f * (double)h->done[k][i];
        if (y > u) {
            later[n++] = y;
            over += y >= t;
        }
    }
    out->samples = n;
    if (n >= PREDICT_MIN_SAMPLES) {
        out->risk = (over + 0.5) / (n + 1.0);
        out->basis = "queue history";
        qsort(later, (size_t)n, sizeof(double), cmp_double);
        double median = n % 2 ? later[n / 2] : (later[n / 2 - 1] + later[n / 2]) / 2;
        int64_t rest = (int64_t)(median - u);
        if (cs->mode == SLA_MODE_RUNNING) {
            int64_t at = cal ? bcal_add(cal, now, rest) : now + rest;
            out->expected_done_at = at == BCAL_NEVER ? SLA_NONE : at;
        }
    } else {
        out->risk = t > 0 ? (u / t > 1.0 ? 1.0 : u / t) : 0;
        out->basis = "elapsed share";
    }
    free(later);
}
