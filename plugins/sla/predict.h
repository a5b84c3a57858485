/*
 * sla/predict.h -- how likely a running clock is to breach, and when it
 * will probably be done, from its queue's recent history and load.
 *
 * History: the queue's tickets started in the last days (sla_tickets),
 * with the business time their first response and resolution took, how
 * long that was on the wall clock, and which clocks run now.
 *
 * Load: by Little's law the usual number of clocks running in a queue is
 * (tickets started per second) x (mean wall-clock time to done).  The
 * load factor is the number running now over that usual number (clamped
 * to 0.25..4): twice the usual backlog, twice the usual time.
 *
 * Risk of a clock that has used u of target T: among the recent
 * durations x (scaled by the load factor) that went past u -- the tickets
 * that had already waited as long -- the share that went past T, with a
 * half-count of smoothing: (k + 0.5) / (n + 1).  The expected time to
 * done is their median minus u.  With fewer than PREDICT_MIN_SAMPLES
 * such tickets the risk is the share of the target already used
 * ("elapsed share") and there is no expected time.  A breached clock's
 * risk is 1.
 *
 * next_response has no history of its own: first responses stand in.
 * Pure.  Ownership: sla_history_clear() frees the sample arrays.
 */
#ifndef SLA_PREDICT_H
#define SLA_PREDICT_H

#include <stdbool.h>
#include <stdint.h>
#include "bcal.h"
#include "engine.h"

#define PREDICT_MIN_SAMPLES 5

struct sla_history {
    int64_t window_ms;
    int started;                         /* tickets started in the window */
    int64_t *done[2];                    /* [0] first response, [1] resolution: business ms */
    int ndone[2], cap[2];
    double wall_sum[2];                  /* wall-clock ms start -> done, summed */
    int running[2];                      /* clocks running now */
};

/* One recent ticket; done_at / used SLA_NONE when not achieved. */
void sla_history_add(struct sla_history *h, int64_t started_at, bool fr_running, int64_t fr_used,
                     int64_t fr_done_at, bool res_running, int64_t res_used, int64_t res_done_at);
void sla_history_clear(struct sla_history *h);
double sla_load_factor(const struct sla_history *h, int clock);

struct sla_prediction {
    bool have;
    double risk;                         /* 0..1 */
    int64_t expected_done_at;            /* SLA_NONE when unknown */
    double load_factor;
    int samples;
    const char *basis;                   /* "queue history", "elapsed share", "breached" */
};

/* cal: the clock's business calendar, NULL for calendar time. */
void sla_predict(const struct sla_history *h, const struct sla_clock_state *cs, int clock,
                 const struct bcal *cal, int64_t now, struct sla_prediction *out);

#endif
