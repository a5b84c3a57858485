/*
 * sla -- SLA policies, business-hours calendars, deadlines and escalations
 * (plugins/sla/README.md; the modules: sla-private.h).
 *
 * Includes only <atum/plugin.h> of atumd and works through the host
 * table: hooks on message.created and ticket.updated record clock events
 * in an append-only ledger; warnings and breaches are
 * sla.tick jobs scheduled for their moment; edits of policies and
 * calendars recompute open tickets in an sla.recompute job; tickets older
 * than the plugin get their clocks from their history in an sla.backfill
 * job; routes under
 * /api/v1/plugins/sla/; its part of GET /api/v1/tickets/{id}.
 */
#include "sla-private.h"
#include "tzif.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern const struct atum_migration sla_migrations[];

int64_t sla_now_ms(const struct sla_plugin *p)
{
    return (int64_t)llround(p->host->now() * 1000.0);
}

static int conf_int(const struct atum_host *h, const struct atum_conf *conf, const char *key, long long lo,
                    long long hi, int *out)
{
    long long v = h->conf_get_int(conf, key, LLONG_MIN);
    if (v < lo || v > hi) {
        h->log(ATUM_LOG_ERROR, "[plugin.sla] %s must be a whole number %lld..%lld", key, lo, hi);
        return -1;
    }
    *out = (int)v;
    return 0;
}

static int init(const struct atum_host *host, const struct atum_conf *conf, void **state)
{
    /* now, ticket_update and mail_notice came after ABI 1's first release */
    if (host->abi != ATUM_PLUGIN_ABI
        || host->size < offsetof(struct atum_host, ticket_update) + sizeof(void *)) {
        host->log(ATUM_LOG_ERROR, "sla needs a host with now(), ticket_update() and mail_notice()");
        return -1;
    }
    struct sla_plugin *p = calloc(1, sizeof(*p));
    if (p == NULL)
        return -1;
    p->host = host;
    p->conf = conf;
    const char *dir = host->conf_get(conf, "zoneinfo_dir");
    snprintf(p->zoneinfo, sizeof(p->zoneinfo), "%s", dir ? dir : "/usr/share/zoneinfo");
    if (conf_int(host, conf, "tick_batch", 1, 100000, &p->tick_batch) < 0
        || conf_int(host, conf, "recompute_batch", 10, 100000, &p->recompute_batch) < 0
        || conf_int(host, conf, "history_days", 1, 3650, &p->history_days) < 0
        || conf_int(host, conf, "view_ledger", 0, 100000, &p->view_ledger) < 0) {
        free(p);
        return -1;
    }
    /* without zoneinfo no calendar works: refuse now, with the reason */
    struct tz_zone *z = NULL;
    const char *e = NULL;
    if (tz_zone_load(p->zoneinfo, "UTC", &z, &e) < 0) {
        host->log(ATUM_LOG_ERROR, "[plugin.sla] zoneinfo_dir %s: UTC: %s (install tzdata)", p->zoneinfo, e);
        free(p);
        return -1;
    }
    tz_zone_free(&z);
    /* atum_sla_warnings_total and atum_sla_breaches_total are the core's
     * families (it describes them); this one is the plugin's own */
    if (host->size >= offsetof(struct atum_host, metric_describe) + sizeof(void *))
        host->metric_describe("atum_sla_recomputed_total", ATUM_METRIC_COUNTER,
                              "Open tickets whose SLA state the sla plugin computed again after an edit"
                              " of policies or calendars.", NULL, 0);
    pthread_mutex_init(&p->lock, NULL);
    *state = p;
    return 0;
}

static void fini(void *state)
{
    struct sla_plugin *p = state;
    if (p == NULL)
        return;
    sla_snapshot_drop(p);
    for (int i = 0; i < SLA_STATS_SLOTS; i++)
        sla_history_clear(&p->stats[i].h);
    pthread_mutex_destroy(&p->lock);
    free(p);
}

static const struct atum_job_kind jobs[] = {
    { "sla.tick", sla_job_tick, 10, 0 },
    { "sla.recompute", sla_job_recompute, 5, 300 },
    { "sla.backfill", sla_job_backfill, 5, 300 },
    { NULL, NULL, 0, 0 }
};

static const struct atum_hook hooks[] = {
    { "message.created", sla_hook_message_created },
    { "ticket.updated", sla_hook_ticket_updated },
    { NULL, NULL }
};

static const struct atum_conf_key conf_keys[] = {
    { "zoneinfo_dir", "/usr/share/zoneinfo", "where the compiled time zones (TZif, package tzdata) are" },
    { "tick_batch", "200", "tickets one sla.tick job escalates before it hands on to the next" },
    { "recompute_batch", "2000", "tickets per statement when an edit recomputes open tickets" },
    { "history_days", "30", "how far back a queue's tickets inform risk and predictions" },
    { "view_ledger", "50", "ledger entries shown in a ticket's API answer (0: all)" },
    { NULL, NULL, NULL }
};

/* Tickets opened while the plugin was off get their clocks: one backfill
 * job at every start (a pending one is not doubled; with nothing to do it
 * is one query). */
static int start(void *state, struct atum_db *db)
{
    struct sla_plugin *p = state;
    const char *e = NULL;
    long long id = 0;
    if (sla_request_backfill(p, db, &id, &e) < 0) {
        p->host->log(ATUM_LOG_ERROR, "[plugin.sla] enqueueing the backfill: %s", e);
        return -1;
    }
    return 0;
}

static const struct atum_plugin descriptor = {
    .abi = ATUM_PLUGIN_ABI,
    .size = sizeof(struct atum_plugin),
    .name = "sla",
    .version = "1.0",
    .summary = "SLA policies, business-hours calendars, deadlines, breach prediction and escalation",
    .init = init,
    .fini = fini,
    .jobs = jobs,
    .hooks = hooks,
    .routes = sla_routes,
    .conf_keys = conf_keys,
    .migrations = sla_migrations,
    .ticket_view = sla_ticket_view,
    .start = start,
    /* the hooks take the event's moment from "at": no need to wake idle
     * workers at every ingested mail's commit */
    .hook_flags = ATUM_HOOKS_QUIET,
};

const struct atum_plugin *atum_plugin_entry(void)
{
    return &descriptor;
}
