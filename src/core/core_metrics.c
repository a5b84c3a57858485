/* core/core_metrics.c -- see core/core_metrics.h. */
#include "config.h"
#include "core/core_metrics.h"
#include "lib/log.h"
#include "lib/metrics.h"

#include <atum/plugin.h>
#include <stdio.h>
#include <string.h>

/* 1 ms .. 60 s */
static const double latency[] = { METRICS_LATENCY_BUCKETS };
/* a job may wait for hours behind a backlog or a retry delay */
static const double wait[] = { 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60,
                               300, 900, 3600, 14400 };
/* an HTTP request is fast or it is a problem */
static const double request[] = { 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
                                  1, 2.5, 5, 10 };
/* LLM calls take seconds */
static const double llm[] = { 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120 };

#define N(a) (sizeof(a) / sizeof((a)[0]))

struct family_desc {
    const char *name;
    enum metrics_type type;
    const double *bounds;
    size_t nbounds;
    const char *help;
};

static const struct family_desc families[] = {
    /* the process */
    { "atum_build_info", METRICS_GAUGE, NULL, 0,
      "Always 1; labels: version of atumd and the plugin ABI it offers." },
    { "atum_metrics_rejected_total", METRICS_COUNTER, NULL, 0,
      "Metric updates refused: invalid name or labels, a type conflict, or the series limit reached." },

    /* mail in */
    { "atum_mail_received_total", METRICS_COUNTER, NULL, 0,
      "Received mails through ingest, by source (smtp, lmtp, imap, cli) and outcome (ingested, bounce, failed)." },
    { "atum_mail_ingest_seconds", METRICS_HISTOGRAM, latency, N(latency),
      "Time to parse, thread and store one received mail (the mail.ingest job), by source." },
    { "atum_smtp_messages_total", METRICS_COUNTER, NULL, 0,
      "Messages offered to the SMTP/LMTP listener, by result (accepted, refused, tempfail)." },
    { "atum_smtp_connections_refused_total", METRICS_COUNTER, NULL, 0,
      "SMTP connections refused at the connection limit." },
    { "atum_imap_messages_total", METRICS_COUNTER, NULL, 0,
      "Mails taken from IMAP mailboxes." },
    { "atum_imap_held_total", METRICS_COUNTER, NULL, 0,
      "Mails left in their IMAP folder for being over mail.max_message_size." },
    { "atum_imap_errors_total", METRICS_COUNTER, NULL, 0,
      "IMAP sessions that failed (connection, login, protocol)." },

    /* the helpdesk, counted when the change commits */
    { "atum_tickets_created_total", METRICS_COUNTER, NULL, 0,
      "Tickets created, by channel (mail, api, atumctl, plugin, system)." },
    { "atum_messages_total", METRICS_COUNTER, NULL, 0,
      "Messages added to tickets, by direction (in, out) and kind (public, note, autoreply, bounce, list)." },
    { "atum_events_total", METRICS_COUNTER, NULL, 0,
      "Domain events committed, by event name (ticket.created, sla.breached ...)." },
    { "atum_sla_warnings_total", METRICS_COUNTER, NULL, 0,
      "SLA warnings raised (a target about to be missed), reported by the sla plugin." },
    { "atum_sla_breaches_total", METRICS_COUNTER, NULL, 0,
      "SLA targets missed, reported by the sla plugin." },

    /* the job queue */
    { "atum_jobs_total", METRICS_COUNTER, NULL, 0,
      "Jobs finished by a worker of this process, by kind and outcome (done, retry, dead)." },
    { "atum_job_seconds_total", METRICS_COUNTER, NULL, 0,
      "Time spent running jobs, by kind." },
    { "atum_job_run_seconds", METRICS_HISTOGRAM, latency, N(latency),
      "Time one job run took, by kind." },
    { "atum_job_wait_seconds", METRICS_HISTOGRAM, wait, N(wait),
      "Time from a job being due (run_at) to a worker claiming it, by kind." },

    /* mail out */
    { "atum_outbox_created_total", METRICS_COUNTER, NULL, 0,
      "Outgoing mails stored in the outbox." },
    { "atum_outbox_sent_total", METRICS_COUNTER, NULL, 0,
      "Outgoing mails delivered to every recipient." },
    { "atum_outbox_failed_total", METRICS_COUNTER, NULL, 0,
      "Outgoing mails that failed or expired for at least one recipient." },
    { "atum_outbox_bounced_total", METRICS_COUNTER, NULL, 0,
      "Recipients of sent mails reported as bounced by a delivery report." },
    { "atum_outbox_ack_limited_total", METRICS_COUNTER, NULL, 0,
      "Acknowledgements not sent because of the per-sender rate limit." },
    { "atum_mail_deliveries_total", METRICS_COUNTER, NULL, 0,
      "Outbound deliveries to the smarthost, per recipient, by result (sent, deferred, failed, "
      "bounced; expired counts mails given up)." },

    /* web */
    { "atum_http_requests_total", METRICS_COUNTER, NULL, 0,
      "HTTP requests answered, by route template, method and status code." },
    { "atum_http_request_duration_seconds", METRICS_HISTOGRAM, request, N(request),
      "Time to answer one HTTP request, by route template and method." },
    { "atum_websockets_open", METRICS_GAUGE, NULL, 0,
      "WebSocket connections open now (the live channel)." },
    { "atum_live_connections", METRICS_GAUGE, NULL, 0,
      "Live channel places taken now, WebSockets and long polls: each holds a civetweb thread, "
      "at most web.live_max_connections." },
    { "atum_live_refused_total", METRICS_COUNTER, NULL, 0,
      "Live channel connections refused with 503 because web.live_max_connections were taken "
      "(or the server was stopping)." },
    { "atum_live_events_total", METRICS_COUNTER, NULL, 0,
      "Live events handed to the connected readers: once per event that at least one reader "
      "may see, not once per reader." },

    /* plugins */
    { "atum_plugins_refused_total", METRICS_COUNTER, NULL, 0,
      "Plugins refused at load (ABI, symbol, configuration, migrations, init)." },
    { "atum_plugin_errors_total", METRICS_COUNTER, NULL, 0,
      "Plugin failures, by plugin and where (load, job, route)." },
    { "atum_llm_calls_total", METRICS_COUNTER, NULL, 0,
      "Calls to an LLM server by the AI plugins, by provider and result." },
    { "atum_llm_call_duration_seconds", METRICS_HISTOGRAM, llm, N(llm),
      "Time one LLM call took, by provider." },

    /* database */
    { "atum_db_pool_size", METRICS_GAUGE, NULL, 0,
      "Connections a pool may hold, by pool." },
    { "atum_db_pool_in_use", METRICS_GAUGE, NULL, 0,
      "Connections of a pool lent out now, by pool." },
    { "atum_db_pool_waits_total", METRICS_COUNTER, NULL, 0,
      "Borrowers that found no free connection and waited, by pool." },
    { "atum_db_pool_timeouts_total", METRICS_COUNTER, NULL, 0,
      "Borrowers that gave up waiting for a connection, by pool." },
};

void core_metrics_init(const char *version)
{
    const char *e = NULL;
    for (size_t i = 0; i < N(families); i++) {
        const struct family_desc *f = &families[i];
        if (metrics_describe(f->name, f->type, f->help, f->bounds, f->nbounds, &e) < 0)
            log_warn("metrics.describe_failed", "error=%s", e);
    }
    char v[96], labels[160];
    metrics_label_value(v, sizeof(v), version);
    snprintf(labels, sizeof(labels), "version=\"%s\",abi=\"%d\"", v, ATUM_PLUGIN_ABI);
    metrics_gauge_set("atum_build_info", labels, 1);
}

const char *core_metrics_channel(const char *source)
{
    static const char *const known[] = { "mail", "api", "atumctl", "system", "desk", "portal", NULL };
    if (source == NULL || source[0] == '\0')
        return "system";
    if (strncmp(source, "plugin:", 7) == 0)
        return "plugin";
    for (int i = 0; known[i]; i++)
        if (strcmp(source, known[i]) == 0)
            return known[i];
    return "other";
}

const char *core_metrics_robot(const char *robot)
{
    static const char *const known[] = { "autoreply", "bounce", "list", NULL };
    for (int i = 0; robot && known[i]; i++)
        if (strcmp(robot, known[i]) == 0)
            return known[i];
    return NULL;
}
