/* plugin_host.c -- see plugin_host.h. */
#include "config.h"
#include "plugin_host.h"
#include "mail/outbox.h"
#include "email.h"
#include "err.h"
#include "event.h"
#include "hostapi.h"
#include "httpc.h"
#include "log.h"
#include "metrics.h"
#include "migrate.h"
#include "queue.h"
#include "runtime.h"
#include "xalloc.h"

#include <ctype.h>
#include <dlfcn.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The fields every ABI-1 plugin must provide: up to and including init. */
#define ABI1_MIN_SIZE (offsetof(struct atum_plugin, init) + sizeof(void *))

static _Thread_local const char *current_plugin;

void plugin_host_enter(const char *plugin)
{
    current_plugin = plugin;
}

void plugin_host_leave(void)
{
    current_plugin = NULL;
}

/* ---- descriptor checks ------------------------------------------------ */

static bool name_valid(const char *s)
{
    if (s == NULL || *s == '\0' || strlen(s) > 64)
        return false;
    for (; *s; s++)
        if (!(islower((unsigned char)*s) || isdigit((unsigned char)*s) || *s == '_'))
            return false;
    return true;
}

static bool method_valid(const char *m)
{
    static const char *const ok[] = { "GET", "POST", "PUT", "PATCH", "DELETE" };
    for (size_t i = 0; m && i < sizeof(ok) / sizeof(ok[0]); i++)
        if (strcmp(m, ok[i]) == 0)
            return true;
    return false;
}

int plugin_descriptor_check(const struct atum_plugin *d, const char *expected_name,
                            const char **error_r)
{
    if (d == NULL)
        return err_set(error_r, "atum_plugin_entry() returned NULL");
    if (d->abi != ATUM_PLUGIN_ABI)
        return err_set(error_r, "plugin ABI %u, but this atumd speaks ABI %u: rebuild the plugin "
                       "against this atum/plugin.h", d->abi, ATUM_PLUGIN_ABI);
    /* Larger than ours is fine: fields appended later are optional and
     * this host simply does not know them. */
    if (d->size < ABI1_MIN_SIZE)
        return err_set(error_r, "plugin descriptor size %u is too small for ABI %u (at least %zu)",
                       d->size, ATUM_PLUGIN_ABI, (size_t)ABI1_MIN_SIZE);
    if (!name_valid(d->name))
        return err_set(error_r, "plugin name '%s' is not [a-z0-9_]{1,64}", d->name ? d->name : "(null)");
    if (expected_name != NULL && strcmp(d->name, expected_name) != 0)
        return err_set(error_r, "the file declares plugin '%s', but it is configured as [plugin.%s]",
                       d->name, expected_name);
    if (d->version == NULL || d->version[0] == '\0')
        return err_set(error_r, "plugin %s has no version", d->name);
    for (const struct atum_job_kind *k = d->jobs; k && k->kind; k++) {
        if (!queue_kind_valid(k->kind) || k->run == NULL)
            return err_set(error_r, "plugin %s: job kind '%s' is invalid or has no run function",
                           d->name, k->kind);
        if (k->max_attempts < 0 || k->max_attempts > 1000 || k->lease_seconds < 0)
            return err_set(error_r, "plugin %s: job kind '%s' has out-of-range limits", d->name, k->kind);
    }
    for (const struct atum_hook *h = d->hooks; h && h->event; h++)
        if (!jobkind_event_valid(h->event) || h->run == NULL)
            return err_set(error_r, "plugin %s: hook for '%s' is invalid or has no run function",
                           d->name, h->event);
    for (const struct atum_route *r = d->routes; r && r->path; r++) {
        if (!method_valid(r->method) || r->path[0] != '/' || r->handle == NULL
            || r->min_role > ATUM_ROLE_ADMIN)
            return err_set(error_r, "plugin %s: route %s %s is invalid", d->name,
                           r->method ? r->method : "?", r->path);
    }
    for (const struct atum_conf_key *c = d->conf_keys; c && c->name; c++)
        if (!name_valid(c->name) || strcmp(c->name, "enabled") == 0 || strcmp(c->name, "path") == 0)
            return err_set(error_r, "plugin %s: config key '%s' is invalid or reserved", d->name, c->name);
    if (migrate_check_list(d->name, d->migrations, error_r) < 0)
        return -1;
    return 0;
}

int plugin_open(const char *path, const char *expected_name, void **dl_r,
                struct atum_plugin *desc_r, const char **error_r)
{
    *dl_r = NULL;
    memset(desc_r, 0, sizeof(*desc_r));
    dlerror();
    void *dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (dl == NULL) {
        const char *e = dlerror();
        return err_set(error_r, "dlopen: %s", e ? e : path);
    }
    dlerror();
    void *sym = dlsym(dl, ATUM_PLUGIN_ENTRY_SYMBOL);
    const char *e = dlerror();
    if (sym == NULL || e != NULL) {
        /* format before dlclose: dlerror's text belongs to the handle */
        err_set(error_r, "%s does not export %s(): not an ATUM DESK plugin", path,
                ATUM_PLUGIN_ENTRY_SYMBOL);
        dlclose(dl);
        return -1;
    }
    const struct atum_plugin *(*entry)(void);
    *(void **)&entry = sym;
    const struct atum_plugin *d = entry();
    /* Read only the header fields until abi and size are known good. */
    if (d != NULL && d->abi == ATUM_PLUGIN_ABI && d->size >= ABI1_MIN_SIZE) {
        size_t n = d->size < sizeof(*desc_r) ? d->size : sizeof(*desc_r);
        memcpy(desc_r, d, n);
        if (plugin_descriptor_check(desc_r, expected_name, error_r) < 0)
            goto refuse;
    } else if (plugin_descriptor_check(d, expected_name, error_r) < 0) {
        goto refuse;
    }
    *dl_r = dl;
    return 0;
refuse:
    memset(desc_r, 0, sizeof(*desc_r));
    dlclose(dl);
    return -1;
}

int plugin_conf_check(const struct conf_plugin *section, const struct atum_conf_key *keys,
                      const char *config_path, const char **error_r)
{
    for (size_t i = 0; i < section->nkv; i++) {
        bool known = false;
        for (const struct atum_conf_key *k = keys; k && k->name && !known; k++)
            known = strcmp(k->name, section->kv[i].key) == 0;
        if (!known)
            return err_set(error_r, "%s:%d: unknown key '%s' in [plugin.%s]",
                           config_path ? config_path : "config", section->kv[i].line,
                           section->kv[i].key, section->name);
    }
    return 0;
}

char *plugin_path_for(const struct atum_config *cfg, const struct conf_plugin *section)
{
    if (section->path != NULL)
        return xstrdup(section->path);
    return xasprintf("%s/%s.so", cfg->plugin_dir, section->name);
}

/* ---- the host table --------------------------------------------------- */

static void h_log(enum atum_log_level level, const char *fmt, ...)
{
    enum log_level lv = level <= ATUM_LOG_DEBUG ? LOG_LEVEL_DEBUG
                      : level == ATUM_LOG_INFO ? LOG_LEVEL_INFO
                      : level == ATUM_LOG_WARN ? LOG_LEVEL_WARN : LOG_LEVEL_ERROR;
    if (!log_enabled(lv))
        return;
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    log_event(lv, "plugin.log", "plugin=%s msg=%s", current_plugin ? current_plugin : "?", msg);
}

static const char *h_conf_get(const struct atum_conf *conf, const char *key)
{
    if (conf == NULL || key == NULL)
        return NULL;
    char env[160], sect[96];
    snprintf(sect, sizeof(sect), "plugin.%s", conf->plugin);
    conf_env_name(env, sizeof(env), sect, key);
    const char *v = getenv(env);
    if (v != NULL)
        return v;
    for (size_t i = 0; conf->section && i < conf->section->nkv; i++)
        if (strcmp(conf->section->kv[i].key, key) == 0)
            return conf->section->kv[i].value;
    for (const struct atum_conf_key *k = conf->keys; k && k->name; k++)
        if (strcmp(k->name, key) == 0)
            return k->default_value;
    return NULL;
}

static long long h_conf_get_int(const struct atum_conf *conf, const char *key, long long fallback)
{
    const char *v = h_conf_get(conf, key);
    long long r;
    if (v == NULL || conf_parse_int(v, &r) < 0)
        return fallback;
    return r;
}

static int h_sql(struct atum_db *db, const char *sql, int nparams, const char *const *params,
                 struct atum_rows **rows_r, const char **error_r)
{
    if (rows_r)
        *rows_r = NULL;
    if (db == NULL || db->conn == NULL || sql == NULL || nparams < 0)
        return err_set(error_r, "sql: invalid arguments");
    PGresult *r = db_exec(db->conn, sql, nparams, params, error_r);
    if (r == NULL)
        return -1;
    if (rows_r)
        *rows_r = (struct atum_rows *)r;
    else
        PQclear(r);
    return 0;
}

static int h_rows_count(const struct atum_rows *rows)
{
    return rows ? PQntuples((const PGresult *)rows) : 0;
}

static const char *h_rows_value(const struct atum_rows *rows, int row, int col)
{
    const PGresult *r = (const PGresult *)rows;
    if (r == NULL || row < 0 || row >= PQntuples(r) || col < 0 || col >= PQnfields(r)
        || PQgetisnull(r, row, col))
        return NULL;
    return PQgetvalue(r, row, col);
}

static void h_rows_free(struct atum_rows **rows)
{
    if (rows && *rows) {
        PQclear((PGresult *)*rows);
        *rows = NULL;
    }
}

static int h_tx_begin(struct atum_db *db, const char **error_r)
{
    if (db_in_transaction(db->conn))
        return err_set(error_r, "a transaction is already open");
    return db_begin(db->conn, error_r);
}

static int h_tx_commit(struct atum_db *db, const char **error_r)
{
    return db_commit(db->conn, error_r);
}

static void h_tx_rollback(struct atum_db *db)
{
    db_rollback(db->conn);
}

static int h_enqueue(struct atum_db *db, const struct atum_job_spec *spec, long long *id_r,
                     const char **error_r)
{
    struct atum_job_spec s = *spec;
    if (s.max_attempts == 0 && db->rt != NULL)
        s.max_attempts = runtime_default_attempts(db->rt, s.kind);
    return queue_enqueue(db->conn, &s, id_r, error_r);
}

static int h_emit(struct atum_db *db, const char *event, const char *json, const char **error_r)
{
    if (db->rt == NULL)
        return err_set(error_r, "emit: no runtime on this connection");
    return event_emit(db->rt, db->conn, event, json, error_r);
}

static int h_job_error(struct atum_job *job, const char *fmt, ...)
{
    struct job_run *jr = (struct job_run *)job;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(jr->error, sizeof(jr->error), fmt, ap);
    va_end(ap);
    return ATUM_JOB_RETRY;
}

static void h_job_retry_in(struct atum_job *job, double seconds)
{
    struct job_run *jr = (struct job_run *)job;
    if (seconds < 0)
        seconds = 0;
    if (seconds > 30.0 * 86400)
        seconds = 30.0 * 86400;
    jr->retry_in_ms = (long long)(seconds * 1000.0);
}

static int h_job_extend_lease(struct atum_job *job, int seconds, const char **error_r)
{
    struct job_run *jr = (struct job_run *)job;
    int ours = 0;
    if (seconds <= 0)
        return err_set(error_r, "lease extension must be positive");
    if (queue_extend(jr->db.conn, jr->worker, &jr->pub.id, 1, (long long)seconds * 1000, NULL, &ours,
                     error_r) < 0)
        return -1;
    if (ours == 0)
        return err_set(error_r, "job %lld is no longer ours (lease expired)", jr->pub.id);
    return 0;
}

static int h_job_complete_in_tx(struct atum_job *job, const char **error_r)
{
    struct job_run *jr = (struct job_run *)job;
    int n = 0;
    if (!db_in_transaction(jr->db.conn))
        return err_set(error_r, "job_complete_in_tx needs an open transaction (tx_begin)");
    if (queue_complete(jr->db.conn, jr->worker, &jr->pub.id, 1, jr->keep_done, &n, error_r) < 0)
        return -1;
    if (n == 0)
        return err_set(error_r, "job %lld is no longer ours (lease expired)", jr->pub.id);
    jr->finished_in_tx = true;
    return 0;
}

static int h_http(const struct atum_http_call *call, struct atum_http_result *res,
                  const char **error_r)
{
    return httpc_request(call, res, error_r);
}

static void h_http_result_free(struct atum_http_result *res)
{
    httpc_result_free(res);
}

static void h_http_reply(struct atum_http_resp *resp, int status, const char *content_type,
                         const char *body, size_t len)
{
    resp->status = status >= 100 && status <= 599 ? status : 500;
    snprintf(resp->content_type, sizeof(resp->content_type), "%s",
             content_type ? content_type : "application/octet-stream");
    strbuf_reset(&resp->body);
    if (body != NULL)
        strbuf_add(&resp->body, body, len);
}

static int h_mail_notice(struct atum_db *db, long long ticket_id, const char *to, const char *title,
                         const char *body, const char **error_r)
{
    if (db->rt == NULL)
        return err_set(error_r, "mail_notice: no runtime on this connection");
    if (!db_in_transaction(db->conn))
        return err_set(error_r, "mail_notice needs an open transaction (tx_begin)");
    if (to == NULL || !email_valid(to))
        return err_set(error_r, "mail_notice: '%s' is not a mail address", to ? to : "(null)");
    return outbox_notice(db->conn, db->rt->cfg, ticket_id, to, title ? title : "", body ? body : "",
                         error_r);
}

static const struct atum_host host_table = {
    .abi = ATUM_PLUGIN_ABI,
    .size = sizeof(struct atum_host),
    .log = h_log,
    .conf_get = h_conf_get,
    .conf_get_int = h_conf_get_int,
    .sql = h_sql,
    .rows_count = h_rows_count,
    .rows_value = h_rows_value,
    .rows_free = h_rows_free,
    .tx_begin = h_tx_begin,
    .tx_commit = h_tx_commit,
    .tx_rollback = h_tx_rollback,
    .enqueue = h_enqueue,
    .emit = h_emit,
    .job_error = h_job_error,
    .job_retry_in = h_job_retry_in,
    .job_extend_lease = h_job_extend_lease,
    .job_complete_in_tx = h_job_complete_in_tx,
    .http = h_http,
    .http_result_free = h_http_result_free,
    .http_reply = h_http_reply,
    .counter_add = metrics_counter_add,
    .gauge_set = metrics_gauge_set,
    .mail_notice = h_mail_notice,
};

const struct atum_host *plugin_host_table(void)
{
    return &host_table;
}

/* ---- loading a set ---------------------------------------------------- */

static void refuse(struct plugin_instance *pi, const char *why)
{
    pi->state = PLUGIN_REFUSED;
    free(pi->reason);
    pi->reason = xstrdup(why);
    log_error("plugin.refused", "plugin=%s path=%s reason=%s", pi->name, pi->path, why);
    metrics_counter_add("atum_plugins_refused_total", NULL, 1);
}

static void load_one(struct plugin_instance *pi, const struct atum_config *cfg,
                     const struct conf_plugin *sec, struct jobkind_registry *reg,
                     struct db_conn *db)
{
    const char *e = NULL;
    const struct atum_plugin *d = &pi->desc;

    if (plugin_open(pi->path, sec->name, &pi->dl, &pi->desc, &e) < 0) {
        refuse(pi, e);
        return;
    }
    pi->conf.plugin = pi->name;
    pi->conf.section = sec;
    pi->conf.keys = d->conf_keys;
    if (plugin_conf_check(sec, d->conf_keys, cfg->path, &e) < 0)
        goto refused;
    if (d->migrations != NULL && d->migrations[0].sql != NULL) {
        int applied = 0;
        if (db == NULL) {
            e = "it ships migrations but no database connection is available";
            goto refused;
        }
        if (migrate_apply(db, d->name, d->migrations, &applied, &e) < 0)
            goto refused;
    }
    if (d->init != NULL) {
        plugin_host_enter(pi->name);
        int rc = d->init(&host_table, &pi->conf, &pi->pstate);
        plugin_host_leave();
        if (rc != 0) {
            e = err_fmt("init() failed with %d", rc);
            goto refused;
        }
    }
    pi->initialised = true;
    for (const struct atum_job_kind *k = d->jobs; k && k->kind; k++) {
        if (jobkind_register(reg, k->kind, pi->name, k->run, pi->pstate, k->max_attempts,
                             (long long)k->lease_seconds * 1000, &e) < 0)
            goto refused;
    }
    for (const struct atum_hook *h = d->hooks; h && h->event; h++) {
        if (jobkind_register_hook(reg, pi->name, h->event, h->run, pi->pstate, &e) < 0)
            goto refused;
    }
    pi->state = PLUGIN_LOADED;
    log_info("plugin.loaded", "plugin=%s version=%s path=%s", d->name, d->version, pi->path);
    return;

refused:
    {
        char *why = xstrdup(e ? e : "unknown error");
        jobkind_remove_owner(reg, pi->name);
        if (pi->initialised && d->fini != NULL) {
            plugin_host_enter(pi->name);
            d->fini(pi->pstate);
            plugin_host_leave();
        }
        pi->initialised = false;
        pi->pstate = NULL;
        if (pi->dl) {
            dlclose(pi->dl);
            pi->dl = NULL;
        }
        memset(&pi->desc, 0, sizeof(pi->desc));
        refuse(pi, why);
        free(why);
    }
}

/* The config's enabled = ..., unless an admin changed it through the API
 * (table plugin_settings, sql/010_api.sql). */
static bool plugin_enabled(const struct conf_plugin *sec, struct db_conn *db)
{
    if (db == NULL || db_in_transaction(db))
        return sec->enabled;
    const char *e = NULL;
    const char *p[] = { sec->name };
    PGresult *r = db_exec(db, "SELECT enabled FROM plugin_settings WHERE name = $1", 1, p, &e);
    bool on = sec->enabled;
    if (r != NULL && PQntuples(r) == 1)
        on = PQgetvalue(r, 0, 0)[0] == 't';
    PQclear(r);
    return on;
}

void plugin_set_load(struct plugin_set *set, const struct atum_config *cfg,
                     struct jobkind_registry *reg, struct db_conn *db)
{
    set->v = cfg->nplugins ? xcalloc(cfg->nplugins, sizeof(*set->v)) : NULL;
    set->n = 0;
    for (size_t i = 0; i < cfg->nplugins; i++) {
        const struct conf_plugin *sec = &cfg->plugins[i];
        struct plugin_instance *pi = &set->v[set->n++];
        pi->name = xstrdup(sec->name);
        pi->path = plugin_path_for(cfg, sec);
        if (!plugin_enabled(sec, db)) {
            pi->state = PLUGIN_DISABLED;
            log_info("plugin.disabled", "plugin=%s", pi->name);
            continue;
        }
        load_one(pi, cfg, sec, reg, db);
    }
}

void plugin_set_unload(struct plugin_set *set)
{
    for (size_t i = set->n; i-- > 0;) {
        struct plugin_instance *pi = &set->v[i];
        if (pi->initialised && pi->desc.fini != NULL) {
            plugin_host_enter(pi->name);
            pi->desc.fini(pi->pstate);
            plugin_host_leave();
        }
        if (pi->dl)
            dlclose(pi->dl);
        free(pi->name);
        free(pi->path);
        free(pi->reason);
    }
    free(set->v);
    set->v = NULL;
    set->n = 0;
}

const struct plugin_instance *plugin_set_find(const struct plugin_set *set, const char *name)
{
    for (size_t i = 0; i < set->n; i++)
        if (strcmp(set->v[i].name, name) == 0)
            return &set->v[i];
    return NULL;
}
