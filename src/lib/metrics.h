/*
 * lib/metrics.h -- process-wide counters, gauges and histograms, rendered
 * in the Prometheus text exposition format (version 0.0.4).
 *
 * Series are identified by a metric name ([a-zA-Z_:][a-zA-Z0-9_:]*) and an
 * optional label set written as in the exposition format:
 *   metrics_counter_add("atum_jobs_total", "kind=\"mail.ingest\",outcome=\"done\"", 1);
 * Invalid names or label sets (bad syntax, a label named twice, more than
 * METRICS_MAX_LABELS labels, invalid UTF-8, "le" on a histogram) are
 * refused and counted in atum_metrics_rejected_total, so a plugin cannot
 * corrupt the output; so is a new series once METRICS_MAX_SERIES exist,
 * which bounds the memory a runaway label can take.  Label values must be
 * bounded by their callers (route templates, kinds, outcomes: never ids or
 * addresses); metrics_label_value() escapes a value for a label set.
 *
 * A family (all series of one name) has one type.  metrics_describe()
 * gives it its type, a help text and, for histograms, its bucket bounds;
 * a family used before (or without) being described gets the type of its
 * first use, a generic help text and, for histograms, the default
 * latency buckets (METRICS_LATENCY_BUCKETS).  The core describes its own
 * families at start-up (core/core_metrics.h).
 *
 * Cost on the hot path: one hash of name and labels and one mutex; no
 * allocation once a series exists.  Rendering copies the values under the
 * mutex and formats them outside it.
 *
 * The subsystem's state is one mutex-protected struct inside metrics.c.
 * Strings passed in are copied.
 */
#ifndef ATUM_LIB_METRICS_H
#define ATUM_LIB_METRICS_H

#include <stddef.h>
#include "lib/strbuf.h"

enum metrics_type { METRICS_COUNTER = 0, METRICS_GAUGE = 1, METRICS_HISTOGRAM = 2 };

#define METRICS_MAX_SERIES 20000
#define METRICS_MAX_LABELS 16
#define METRICS_MAX_BUCKETS 32

/* 1 ms .. 60 s: request, job and call durations in seconds. */
#define METRICS_LATENCY_BUCKETS \
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60

/* Describes a family.  bounds: ascending upper bounds of a histogram's
 * buckets (+Inf is implied), NULL for the default; ignored for counters
 * and gauges.  Describing a family again with the same type is a no-op;
 * with another type (or after it was used as another type) it fails. */
int metrics_describe(const char *name, enum metrics_type type, const char *help,
                     const double *bounds, size_t nbounds, const char **error_r);

void metrics_counter_add(const char *name, const char *labels, double value);
void metrics_gauge_set(const char *name, const char *labels, double value);
void metrics_gauge_add(const char *name, const char *labels, double delta);
/* One observation into a histogram. */
void metrics_observe(const char *name, const char *labels, double value);

/* The value of one counter or gauge series, a histogram's count, or 0 if
 * it does not exist (tests, status). */
double metrics_get(const char *name, const char *labels);
/* A histogram series' count and sum: 1 when it exists, else 0. */
int metrics_histogram_get(const char *name, const char *labels, unsigned long long *count_r,
                          double *sum_r);

/* Every family with samples, sorted by name, each with its HELP and TYPE
 * lines and its series sorted by labels. */
void metrics_render(struct strbuf *out);
/* Frees every series and description (end of process, tests). */
void metrics_reset(void);

int metrics_name_valid(const char *name);
int metrics_labels_valid(const char *labels);

/* Writes value into out (size bytes, NUL-terminated) escaped for a label
 * value (\\, \", \n); a value that does not fit is cut before an escape,
 * never inside one.  Returns the length written. */
size_t metrics_label_value(char *out, size_t size, const char *value);

/* A sample value as the exposition format writes it: the shortest
 * decimal that reads back as v, or +Inf, -Inf, NaN.  out: 32 bytes. */
void metrics_format_value(char out[32], double v);

#endif
