/*
 * plugins/metrics/metrics.c -- the metrics plugin: Prometheus GET
 * /metrics at the server's root, the dashboard API and its hourly
 * snapshots (see the README section "The metrics plugin").
 *
 * This file is the descriptor and the life cycle: configuration, init,
 * fini.  What each part does is in its own module: scrape.h, dbgauges.h,
 * procstat.h, dashboard.h, snapshot.h, addr.h.
 * It includes only <atum/plugin.h> of ATUM DESK, like every plugin.
 */
#include <atum/plugin.h>

#include <ctype.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dashboard.h"
#include "mx.h"
#include "refresh.h"
#include "scrape.h"
#include "snapshot.h"

/* the migrations, compiled in from sql/ (build-aux/sql2c) */
extern const struct atum_migration metrics_migrations[];

/* This plugin needs the host functions appended up to http_client_addr. */
#define HOST_MIN_SIZE (offsetof(struct atum_host, http_client_addr) + sizeof(void *))

static int parse_role(const char *s, enum atum_role *r)
{
    if (s && strcmp(s, "agent") == 0)
        *r = ATUM_ROLE_AGENT;
    else if (s && strcmp(s, "manager") == 0)
        *r = ATUM_ROLE_MANAGER;
    else if (s && strcmp(s, "admin") == 0)
        *r = ATUM_ROLE_ADMIN;
    else
        return -1;
    return 0;
}

/* A name PostgreSQL's time zone database could hold ("UTC",
 * "Europe/Berlin", "Etc/GMT+1"); start() asks PostgreSQL itself. */
static int timezone_plausible(const char *s)
{
    if (s == NULL || s[0] == '\0' || strlen(s) >= 64)
        return 0;
    for (; *s; s++)
        if (!(isalnum((unsigned char)*s) || strchr("/_+-", *s)))
            return 0;
    return 1;
}

static int init(const struct atum_host *host, const struct atum_conf *conf, void **state)
{
    if (host->abi != ATUM_PLUGIN_ABI || host->size < HOST_MIN_SIZE) {
        host->log(ATUM_LOG_ERROR, "this atumd's host table lacks metrics_write and "
                  "http_client_addr: upgrade atumd");
        return -1;
    }
    struct mx *m = calloc(1, sizeof(*m));
    if (m == NULL)
        return -1;
    m->host = host;
    m->conf = conf;
    char why[256];
    const char *allow = host->conf_get(conf, "scrape_allow");
    if (addr_list_parse(allow, &m->allow, why, sizeof(why)) < 0) {
        host->log(ATUM_LOG_ERROR, "scrape_allow: %s", why);
        goto fail;
    }
    const char *role = host->conf_get(conf, "scrape_role");
    if (parse_role(role, &m->scrape_role) < 0) {
        host->log(ATUM_LOG_ERROR, "scrape_role must be agent, manager or admin, not '%s'",
                  role ? role : "");
        goto fail;
    }
    const char *gauges = host->conf_get(conf, "database_gauges");
    if (gauges == NULL || (strcmp(gauges, "yes") != 0 && strcmp(gauges, "no") != 0)) {
        host->log(ATUM_LOG_ERROR, "database_gauges must be yes or no");
        goto fail;
    }
    m->db_gauges = strcmp(gauges, "yes") == 0;
    const char *tz = host->conf_get(conf, "timezone");
    if (!timezone_plausible(tz)) {
        host->log(ATUM_LOG_ERROR, "timezone '%s' is not a time zone name", tz ? tz : "");
        goto fail;
    }
    snprintf(m->timezone, sizeof(m->timezone), "%s", tz);
    m->keep_days = host->conf_get_int(conf, "snapshot_keep_days", -1);
    if (m->keep_days < 1 || m->keep_days > 36500) {
        host->log(ATUM_LOG_ERROR, "snapshot_keep_days must be a number of days from 1 to 36500");
        goto fail;
    }
    m->gauges_interval = host->conf_get_int(conf, "gauges_interval", -1);
    if (m->gauges_interval < 1 || m->gauges_interval > 3600) {
        host->log(ATUM_LOG_ERROR, "gauges_interval must be a number of seconds from 1 to 3600");
        goto fail;
    }
    scrape_describe(host);
    host->log(ATUM_LOG_INFO, "metrics ready: scrape_allow=%s scrape_role=%s database_gauges=%s",
              allow && allow[0] ? allow : "none", role, gauges);
    *state = m;
    return 0;
fail:
    addr_list_free(&m->allow);
    free(m);
    return -1;
}

static void fini(void *state)
{
    struct mx *m = state;
    if (m == NULL)
        return;
    addr_list_free(&m->allow);
    free(m);
}

/* start(): the first snapshot and, when the gauges are read, the refresh */
static int start(void *state, struct atum_db *db)
{
    struct mx *m = state;
    const char *e = NULL;
    int rc = snapshot_start(state, db);
    if (m->db_gauges && refresh_schedule_now(m, db, &e) < 0) {
        m->host->log(ATUM_LOG_ERROR, "cannot schedule the gauges' refresh: %s", e);
        rc = -1;
    }
    return rc;
}

static const struct atum_job_kind jobs[] = {
    { SNAPSHOT_KIND, snapshot_run, 5, 0 },
    { REFRESH_KIND, refresh_run, 3, 0 },
    { NULL, NULL, 0, 0 }
};

static const struct atum_route routes[] = {
    { "GET", "/dashboard", ATUM_ROLE_MANAGER, dashboard_route },
    { "GET", "/history", ATUM_ROLE_MANAGER, history_route },
    { NULL, NULL, 0, NULL }
};

/* GET /metrics at the root: whoever may scrape is decided in scrape.c */
static const struct atum_route root_routes[] = {
    { "GET", "/metrics", ATUM_ROLE_NONE, scrape_route },
    { NULL, NULL, 0, NULL }
};

static const struct atum_conf_key conf_keys[] = {
    { "scrape_allow", "127.0.0.0/8, ::1",
      "addresses and networks (CIDR) whose GET /metrics needs no token; \"none\": a token always" },
    { "scrape_role", "agent", "the least role of a token's user that may read /metrics" },
    { "database_gauges", "yes",
      "read queue, ticket and outbox gauges from the database at each scrape (no: on all nodes but one)" },
    { "timezone", "UTC", "the time zone of the dashboard's days (a PostgreSQL time zone name)" },
    { "snapshot_keep_days", "400", "how long hourly snapshots are kept" },
    { "gauges_interval", "15", "seconds between two counts of the open tickets for /metrics" },
    { NULL, NULL, NULL }
};

static const struct atum_plugin descriptor = {
    .abi = ATUM_PLUGIN_ABI,
    .size = sizeof(struct atum_plugin),
    .name = "metrics",
    .version = "1.0",
    .summary = "Prometheus /metrics, the dashboard API and hourly snapshots",
    .init = init,
    .fini = fini,
    .jobs = jobs,
    .routes = routes,
    .conf_keys = conf_keys,
    .migrations = metrics_migrations,
    .root_routes = root_routes,
    .start = start,
};

ATUM_PLUGIN_EXPORT const struct atum_plugin *atum_plugin_entry(void)
{
    return &descriptor;
}
