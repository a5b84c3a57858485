/*
 * atumd.c -- the daemon: start-up, the main loop (signals + maintenance),
 * reload and drain.
 *
 * Threads: the main thread owns signals (sigtimedwait; every other thread
 * has them blocked) and one database connection for migrations,
 * maintenance (lease rescue, archive pruning, heartbeat) and plugin
 * migrations on reload.  Workers and the listener live in worker.c, HTTP
 * threads in civetweb.  The only process-wide state is struct atumd below,
 * owned by main().
 */
#include "config.h"
#include "core/conf.h"
#include "core/core_jobs.h"
#include "core/core_metrics.h"
#include "core/db.h"
#include "core/dbpool.h"
#include "lib/err.h"
#include "lib/httpc.h"
#include "lib/log.h"
#include "mailout/outbox.h"
#include "lib/metrics.h"
#include "lib/svcnotify.h"
#include "core/migrate.h"
#include "core/node.h"
#include "core/jobs.h"
#include "core/live_event.h"
#include "core/runtime.h"
#include "core/runtime_load.h"
#include "mailin/ingest.h"
#include "desk/desk_ops.h"
#include "lib/util.h"
#include "web/server.h"
#include "web/web_conf.h"
#include "mailin/mailin_conf.h"
#include "mailout/mailout_conf.h"
#include "desk/portal_conf.h"
#include "desk/account.h"
#include "mailin/smtpd.h"
#include "mailin/imap.h"
#include "core/worker.h"
#include "lib/xalloc.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define EXIT_CONFIG 78   /* sysexits EX_CONFIG */

struct atumd {
    char *conf_path;
    struct atum_config *cfg;
    char node_id[128];
    struct db_params dbp;
    struct runtime rt;
    struct db_conn *db;
    struct db_pool *pool;
    struct worker_pool *workers;
    struct web_server *web;
    struct smtpd *smtp;
    struct imap_manager *imap;
    long long last_heartbeat_ms;
    char *plugin_stamp;        /* last change seen in plugin_settings */
    struct svcnotify svc;      /* systemd: readiness, watchdog, stopping */
};

static void usage(FILE *out)
{
    fprintf(out,
        "usage: atumd [-c FILE] [--foreground] [--check-config]\n"
        "  -c, --config FILE    configuration (default %s)\n"
        "  -f, --foreground     stay in the foreground (development, systemd)\n"
        "  -t, --check-config   validate the configuration and exit\n"
        "  -V, --version        print the version\n",
        SYSCONF_FILE);
}

static void apply_log_config(const struct atum_config *cfg)
{
    enum log_level lv = LOG_LEVEL_INFO;
    const char *e = NULL;
    log_level_parse(cfg->log_level, &lv);
    if (log_configure(lv, cfg->log_target, &e) < 0)
        fprintf(stderr, "atumd: %s\n", e);
}

static void fill_db_params(struct atumd *d, const char *app)
{
    d->dbp.url = d->cfg->database_url;
    d->dbp.application_name = app;
    d->dbp.connect_timeout_ms = d->cfg->connect_timeout_ms;
    d->dbp.statement_timeout_ms = d->cfg->statement_timeout_ms;
    d->dbp.reconnect_max_ms = d->cfg->reconnect_max_ms;
}

/* Waits for a signal for up to ms; returns the signal or 0 on timeout. */
static int wait_signal(const sigset_t *set, long long ms)
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000 };
    int sig = sigtimedwait(set, NULL, &ts);
    return sig > 0 ? sig : 0;
}

/* Connects the main connection, waiting (and logging) while PostgreSQL is
 * not there yet.  Returns -1 only when a stop signal arrived. */
static int connect_waiting(struct atumd *d, const sigset_t *sigs)
{
    const char *e = NULL;
    long long logged = 0;
    for (;;) {
        if (db_conn_ensure(d->db, &e) == 0)
            return 0;
        if (time_mono_ms() - logged > 10000) {
            log_warn("atumd.waiting_for_database", "error=%s", e);
            logged = time_mono_ms();
        }
        long long wait = db_conn_retry_in_ms(d->db);
        /* still starting, not stuck: systemd waits on */
        svcnotify_waiting(&d->svc, "waiting for the database", 20000 + (wait < 100 ? 100 : wait));
        int sig = wait_signal(sigs, wait < 100 ? 100 : wait);
        if (sig == SIGTERM || sig == SIGINT)
            return -1;
    }
}

static char *node_info(struct atumd *d)
{
    json_t *plugins = json_array();
    runtime_rdlock(&d->rt);
    for (size_t i = 0; i < d->rt.plugins.n; i++) {
        const struct plugin_instance *pi = &d->rt.plugins.v[i];
        json_array_append_new(plugins, json_pack("{s:s, s:s, s:s?, s:s?, s:i}",
            "name", pi->name,
            "state", pi->state == PLUGIN_LOADED ? "loaded" : pi->state == PLUGIN_DISABLED ? "disabled" : "refused",
            "version", pi->desc.version, "reason", pi->reason, "abi", (int)pi->desc.abi));
    }
    runtime_rdunlock(&d->rt);
    json_t *o = json_pack("{s:i, s:s, s:o}", "workers", d->cfg->workers, "web", d->cfg->web_listen,
                          "plugins", plugins);
    char *s = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    return s;
}

/* Plugins switched on or off through the API (plugin_settings) on any
 * node: reload here too, so every node runs the same set. */
static void follow_plugin_settings(struct atumd *d)
{
    const char *e = NULL;
    char *v = db_query_value(d->db, "SELECT coalesce(max(changed_at)::text, '-') FROM plugin_settings",
                             0, NULL, &e);
    if (v == NULL)
        return;
    if (d->plugin_stamp != NULL && strcmp(v, d->plugin_stamp) != 0) {
        log_info("plugin.settings_changed", "hint=%s", "reloading plugins");
        if (runtime_reload(&d->rt, d->cfg, d->db, &e) < 0)
            log_error("plugin.reload_failed", "error=%s", e);
    }
    free(d->plugin_stamp);
    d->plugin_stamp = v;
}

/* At exit the node leaves the nodes table.  One connection attempt now,
 * whatever the reconnect backoff says: a database that came back just
 * before SIGTERM must not leave a ghost node behind. */
static void unregister_node(struct atumd *d)
{
    const char *e = NULL;
    if (db_conn_is_up(d->db) && node_unregister(d->db, d->node_id, &e) == 0)
        return;
    /* not connected, or the connection broke unnoticed: once more, fresh */
    if (db_conn_connect(d->db, &e) == 0 && node_unregister(d->db, d->node_id, &e) == 0)
        return;
    log_warn("node.unregister_failed", "node=%s error=%s", d->node_id, e ? e : "?");
}

static void maintenance(struct atumd *d)
{
    const char *e = NULL;
    if (db_conn_ensure(d->db, &e) < 0)
        return;
    int n = 0;
    if (jobs_rescue_expired(d->db, 1000, &n, &e) < 0)
        log_error("maintenance.rescue_failed", "error=%s", e);
    else if (n > 0)
        worker_pool_wake(d->workers, n);

    /* bounded work per tick: at most 10 batches of archive rows */
    for (int i = 0; i < 10; i++) {
        int deleted = 0;
        if (jobs_prune_archive(d->db, d->cfg->keep_done_ms, d->cfg->prune_batch, &deleted, &e) < 0) {
            log_error("maintenance.prune_failed", "error=%s", e);
            break;
        }
        if (deleted > 0)
            log_debug("maintenance.pruned", "rows=%d", deleted);
        if (deleted < d->cfg->prune_batch)
            break;
    }
    /* the live channel's events, past web.live_keep (bounded per tick) */
    for (int i = 0; i < 10; i++) {
        int deleted = 0;
        if (live_event_prune(d->db, d->cfg->web_live_keep_ms, d->cfg->prune_batch, &deleted, &e) < 0) {
            log_error("maintenance.live_prune_failed", "error=%s", e);
            break;
        }
        if (deleted < d->cfg->prune_batch)
            break;
    }
    follow_plugin_settings(d);
    if (time_mono_ms() - d->last_heartbeat_ms >= 10000) {
        char *info = node_info(d);
        if (node_heartbeat(d->db, d->node_id, info, &e) < 0)
            log_error("maintenance.heartbeat_failed", "error=%s", e);
        else
            d->last_heartbeat_ms = time_mono_ms();
        free(info);
    }
}

/* Every key the new file changes: applied (read afresh where it is used)
 * or named as needing a restart -- never silently ignored. */
static void report_change(const struct conf_key *k, const char *owner, void *arg)
{
    (void)arg;
    if (k->reload == CONF_RESTART)
        log_warn("reload.needs_restart", "key=%s.%s owner=%s hint=%s", k->section, k->key, owner,
                 "the running value stays until atumd restarts");
    else
        log_info("reload.applied", "key=%s.%s owner=%s", k->section, k->key, owner);
}

static void reload(struct atumd *d)
{
    const char *e = NULL;
    log_info("reload.start", "config=%s", d->conf_path);
    struct atum_config *next = conf_load(d->conf_path, &e);
    if (next == NULL) {
        log_error("reload.refused", "error=%s hint=%s", e, "the running configuration stays in effect");
        return;
    }
    int changed = conf_changes(d->cfg, next, report_change, NULL);
    apply_log_config(next);
    if (db_conn_ensure(d->db, &e) < 0)
        log_warn("reload.no_database", "error=%s hint=%s", e, "plugin migrations cannot run now");
    if (runtime_reload(&d->rt, next, db_conn_is_up(d->db) ? d->db : NULL, &e) < 0) {
        log_error("reload.failed", "error=%s", e);
    }
    /* mail that slept for want of a smarthost goes now */
    if (strcmp(d->cfg->sh_url ? d->cfg->sh_url : "", next->sh_url ? next->sh_url : "") != 0
        && next->sh_url && next->sh_url[0] && db_conn_is_up(d->db)
        && outbox_smarthost_changed(d->db, &e) < 0)
        log_warn("reload.outbox", "error=%s", e);
    /* the old config is no longer referenced by the runtime */
    struct atum_config *old = d->cfg;
    d->cfg = next;
    conf_free(&old);
    d->last_heartbeat_ms = 0;
    log_info("reload.done", "changed_keys=%d plugins=%zu", changed, d->rt.plugins.n);
}

static int daemonize(void)
{
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid > 0)
        _exit(0);
    if (setsid() < 0)
        return -1;
    pid = fork();
    if (pid < 0)
        return -1;
    if (pid > 0)
        _exit(0);
    int fd = open("/dev/null", O_RDWR);
    if (fd >= 0) {
        dup2(fd, STDIN_FILENO);
        dup2(fd, STDOUT_FILENO);
        dup2(fd, STDERR_FILENO);
        if (fd > 2)
            close(fd);
    }
    return 0;
}

int main(int argc, char **argv)
{
    struct atumd d;
    memset(&d, 0, sizeof(d));
    const char *conf_path = getenv("ATUM_CONFIG") ? getenv("ATUM_CONFIG") : SYSCONF_FILE;
    bool foreground = false, check_only = false;
    const char *e = NULL;
    int exit_code = 1;

    static const struct option longopts[] = {
        { "config", required_argument, NULL, 'c' },
        { "foreground", no_argument, NULL, 'f' },
        { "check-config", no_argument, NULL, 't' },
        { "version", no_argument, NULL, 'V' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 }
    };
    int ch;
    while ((ch = getopt_long(argc, argv, "c:ftVh", longopts, NULL)) != -1) {
        switch (ch) {
        case 'c': conf_path = optarg; break;
        case 'f': foreground = true; break;
        case 't': check_only = true; break;
        case 'V': printf("atumd %s\n", PACKAGE_VERSION); return 0;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind < argc) {
        usage(stderr);
        return 2;
    }

    log_init("atumd");
    d.conf_path = xstrdup(conf_path);
    /* the keys of every floor atumd runs */
    conf_declare(&web_conf_table);
    conf_declare(&mailin_conf_table);
    conf_declare(&mailout_conf_table);
    conf_declare(&portal_conf_table);
    d.cfg = conf_load(conf_path, &e);
    if (d.cfg == NULL) {
        fprintf(stderr, "atumd: %s\n", e);
        free(d.conf_path);
        return EXIT_CONFIG;
    }
    if (check_only) {
        printf("atumd: %s: configuration ok\n", conf_path);
        conf_free(&d.cfg);
        free(d.conf_path);
        return 0;
    }
    if (!foreground) {
        if (strcmp(d.cfg->log_target, "stderr") == 0) {
            /* stderr goes to /dev/null once detached */
            free(d.cfg->log_target);
            d.cfg->log_target = xstrdup("syslog");
        }
        if (daemonize() < 0) {
            fprintf(stderr, "atumd: cannot detach: %s\n", strerror(errno));
            goto out_cfg;
        }
    }
    apply_log_config(d.cfg);
    core_metrics_init(PACKAGE_VERSION);   /* before any thread counts */
    svcnotify_init(&d.svc);               /* after detaching: systemd knows this pid */

    /* Signals: blocked everywhere, taken synchronously by this thread. */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);

    if (httpc_global_init(&e) < 0) {
        log_error("atumd.fatal", "error=%s", e);
        goto out_cfg;
    }
    node_make_id(d.node_id, sizeof(d.node_id), d.cfg->node_name);
    if (d.cfg->secret_key == NULL || d.cfg->secret_key[0] == '\0')
        log_warn("atumd.no_secret_key", "hint=%s",
                 "core.secret_key (or ATUM_CORE_SECRET_KEY) is not set: reply tokens are not recognised");
    log_info("atumd.starting", "version=%s node=%s config=%s", PACKAGE_VERSION, d.node_id, conf_path);

    fill_db_params(&d, "atumd");
    d.db = db_conn_new(&d.dbp);
    if (connect_waiting(&d, &sigs) < 0) {
        exit_code = 0;
        goto out_db;
    }
    int applied = 0;
    if (migrate_apply(d.db, "core", core_migrations, &applied, &e) < 0) {
        log_error("atumd.fatal", "error=%s", e);
        goto out_db;
    }
    runtime_init(&d.rt);
    /* the floors above the core register their job kinds (and mail-out
     * the mailer the lower floors call) at every (re)load */
    runtime_add_registrar(&d.rt, core_jobs_register, NULL);
    runtime_add_registrar(&d.rt, desk_register, NULL);
    runtime_add_registrar(&d.rt, account_register, NULL);
    runtime_add_registrar(&d.rt, ingest_register, NULL);
    runtime_add_registrar(&d.rt, outbox_register, NULL);
    if (runtime_load(&d.rt, d.cfg, d.db, &e) < 0) {
        log_error("atumd.fatal", "error=%s", e);
        goto out_rt;
    }

    struct worker_opts wo = {
        .db = d.dbp,
        .node_id = d.node_id,
        .nworkers = d.cfg->workers,
        .batch_size = d.cfg->batch_size,
        .lease_ms = d.cfg->lease_ms,
        .poll_interval_ms = d.cfg->poll_interval_ms,
        .backoff_max_ms = d.cfg->backoff_max_ms,
        .keep_done = d.cfg->keep_done_ms > 0,
    };
    wo.db.application_name = "atumd-worker";
    if (worker_pool_start(&d.workers, &wo, &d.rt, &e) < 0) {
        log_error("atumd.fatal", "error=%s", e);
        goto out_rt;
    }
    struct db_params pool_params = d.dbp;
    pool_params.application_name = "atumd-web";
    d.pool = db_pool_new(&pool_params, d.cfg->pool_size);
    struct web_opts webo = {
        .listen = d.cfg->web_listen,
        .threads = d.cfg->web_threads,
        .max_body = d.cfg->web_max_body,
        .request_timeout_ms = d.cfg->web_request_timeout_ms,
        .node_id = d.node_id,
        .cfg = d.cfg,
        .keep_alive_ms = d.cfg->web_keep_alive_ms,
        .live_db = &d.dbp,
        .live_max_connections = d.cfg->web_live_max_connections,
        .live_ping_ms = d.cfg->web_live_ping_ms,
        .header_timeout_ms = d.cfg->web_header_timeout_ms,
        .body_min_rate = d.cfg->web_body_min_rate,
        .client_connections = d.cfg->web_client_connections,
        .max_public_body = d.cfg->web_max_public_body,
    };
    if (web_start(&d.web, &webo, &d.rt, d.pool, &e) < 0) {
        log_error("atumd.fatal", "error=%s", e);
        goto out_workers;
    }
    if (d.cfg->smtp_listen[0] != '\0') {
        struct smtpd_opts so = {
            .listen = d.cfg->smtp_listen,
            .lmtp = strcmp(d.cfg->smtp_mode, "lmtp") == 0,
            .hostname = d.cfg->smtp_hostname,
            .max_connections = d.cfg->smtp_max_connections,
            .max_connections_per_ip = d.cfg->smtp_max_connections_per_ip,
            .max_junk_commands = d.cfg->smtp_max_junk_commands,
            .max_recipients = d.cfg->smtp_max_recipients,
            .max_message_size = d.cfg->mail_max_message_size,
            .max_line = d.cfg->smtp_max_line,
            .idle_timeout_ms = d.cfg->smtp_idle_timeout_ms,
            .tls_cert = d.cfg->smtp_tls_cert,
            .tls_key = d.cfg->smtp_tls_key,
            .db = d.dbp,
            .db_connections = d.cfg->pool_size,
        };
        if (smtpd_start(&d.smtp, &so, &e) < 0) {
            log_error("atumd.fatal", "error=%s", e);
            web_stop(&d.web);
            goto out_workers;
        }
    }
    if (d.cfg->imap_enabled) {
        struct imap_opts io = {
            .db = d.dbp,
            .node_id = d.node_id,
            .idle_refresh_ms = d.cfg->imap_idle_refresh_ms,
            .timeout_ms = d.cfg->imap_timeout_ms,
            .command_timeout_ms = d.cfg->imap_command_timeout_ms,
            .reconnect_max_ms = d.cfg->imap_reconnect_max_ms,
            .rescan_ms = d.cfg->imap_rescan_ms,
            .ca_file = d.cfg->imap_ca_file,
            .allow_insecure_loopback = d.cfg->imap_allow_insecure_loopback,
            .max_message_size = d.cfg->mail_max_message_size,
        };
        if (imap_start(&d.imap, &io, &e) < 0) {
            log_error("atumd.fatal", "error=%s", e);
            smtpd_stop(&d.smtp);
            web_stop(&d.web);
            goto out_workers;
        }
    }
    maintenance(&d);
    log_info("atumd.ready", "node=%s web=http://%s smtp=%s workers=%d", d.node_id, d.cfg->web_listen,
             d.cfg->smtp_listen[0] ? d.cfg->smtp_listen : "off", d.cfg->workers);
    svcnotify_ready(&d.svc, "ready");

    /* The main loop: signals, maintenance every maintenance_interval, and
     * the watchdog's keep-alive on every turn (the wait is shortened to
     * the watchdog's interval), so systemd restarts a loop that hangs. */
    long long last_maintenance = time_mono_ms();
    for (;;) {
        long long wait = d.cfg->maintenance_interval_ms;
        long long wd = svcnotify_watchdog_interval_ms(&d.svc);
        long long due = last_maintenance + d.cfg->maintenance_interval_ms - time_mono_ms();
        if (due < wait)
            wait = due < 0 ? 0 : due;
        if (wd > 0 && wd < wait)
            wait = wd;
        int sig = wait_signal(&sigs, wait);
        if (sig == SIGTERM || sig == SIGINT) {
            log_info("atumd.stopping", "signal=%s", sig == SIGTERM ? "TERM" : "INT");
            svcnotify_stopping(&d.svc);
            break;
        }
        if (sig == SIGHUP) {
            svcnotify_reloading(&d.svc);
            reload(&d);
            svcnotify_ready(&d.svc, "ready (reloaded)");
        } else if (time_mono_ms() - last_maintenance >= d.cfg->maintenance_interval_ms) {
            maintenance(&d);
            last_maintenance = time_mono_ms();
        }
        svcnotify_watchdog(&d.svc);
    }
    exit_code = 0;
    smtpd_stop(&d.smtp);       /* first: no new mail is accepted */
    imap_stop(&d.imap);
    web_stop(&d.web);
out_workers:
    if (worker_pool_stop(&d.workers, d.cfg->shutdown_timeout_ms) < 0) {
        /* a job is still running on a worker thread: its plugin must not be
         * unloaded under it, and its lease will hand it to another node */
        log_warn("atumd.exit_busy", "hint=%s", "jobs still running at the deadline will run again");
        unregister_node(&d);
        log_info("atumd.stopped", "exit=%d", exit_code);
        fflush(NULL);
        _exit(exit_code);
    }
    unregister_node(&d);
out_rt:
    db_pool_free(&d.pool);
    runtime_destroy(&d.rt);
out_db:
    db_conn_free(&d.db);
    httpc_global_cleanup();
out_cfg:
    log_info("atumd.stopped", "exit=%d", exit_code);
    conf_free(&d.cfg);
    free(d.conf_path);
    free(d.plugin_stamp);
    metrics_reset();
    return exit_code;
}
