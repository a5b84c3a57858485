/*
 * core/core_metrics.h -- the metric families atumd reports, in one table:
 * their names, types, help texts and histogram buckets (lib/metrics.h).
 *
 * The counting itself stays where things happen (ingest, workers, the
 * outbox, the web server, the pool, events); this table only describes
 * what they count, so the exposition carries a HELP line for each family,
 * histograms get buckets that fit what they measure, and operators find
 * every name in one place.  Families the plugins report through the host
 * (SLA, LLM calls) are described here too, so their names stay stable
 * across plugins.  Label values are bounded by the code that counts:
 * route templates, job kinds, outcomes -- never ids or addresses.
 *
 * atumd calls core_metrics_init() once at start-up, before any thread
 * counts; programs that do not (atumctl, tests) still count, with
 * generic help texts and default buckets.
 */
#ifndef ATUM_CORE_CORE_METRICS_H
#define ATUM_CORE_CORE_METRICS_H

/* Describes every family and sets atum_build_info{version,abi}. */
void core_metrics_init(const char *version);

/* Bounded label values for what comes from outside the code: an event's
 * "source" ("api", "mail", "plugin:NAME" ...) as a channel, a robot class.
 * Both return a static string. */
const char *core_metrics_channel(const char *source);
const char *core_metrics_robot(const char *robot);

#endif
