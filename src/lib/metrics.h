/*
 * lib/metrics.h -- process-wide counters and gauges, rendered in Prometheus
 * text format.
 *
 * Series are identified by a metric name ([a-zA-Z_:][a-zA-Z0-9_:]*) and an
 * optional label set written as in the exposition format:
 *   metrics_counter_add("atum_jobs_total", "kind=\"mail.ingest\",outcome=\"done\"", 1);
 * Invalid names or label sets are refused (and counted in
 * atum_metrics_rejected_total) so a plugin cannot corrupt the output.
 * The subsystem's state is one mutex-protected struct inside metrics.c.
 */
#ifndef ATUM_LIB_METRICS_H
#define ATUM_LIB_METRICS_H

#include "lib/strbuf.h"

void metrics_counter_add(const char *name, const char *labels, double value);
void metrics_gauge_set(const char *name, const char *labels, double value);
/* The value of one series, or 0 if it does not exist (tests, status). */
double metrics_get(const char *name, const char *labels);
void metrics_render(struct strbuf *out);
/* Frees every series (end of process, tests). */
void metrics_reset(void);

int metrics_name_valid(const char *name);
int metrics_labels_valid(const char *labels);

#endif
