/* core/plugin_loader.c -- see core/plugin_loader.h. */
#include "config.h"
#include "core/plugin_loader.h"
#include "core/jobrun.h"
#include "core/jobs.h"
#include "core/migrate.h"
#include "lib/err.h"
#include "lib/log.h"
#include "lib/metrics.h"
#include "lib/xalloc.h"

#include <ctype.h>
#include <dlfcn.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The fields every ABI-1 plugin must provide: up to and including init. */
#define ABI1_MIN_SIZE (offsetof(struct atum_plugin, init) + sizeof(void *))

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
        if (!jobs_kind_valid(k->kind) || k->run == NULL)
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
    /* root routes (appended to ABI 1; NULL in older descriptors): never
     * "/" itself and never under /api/, which belongs to the API */
    for (const struct atum_route *r = d->root_routes; r && r->path; r++) {
        if (!method_valid(r->method) || r->path[0] != '/' || r->path[1] == '\0'
            || strncmp(r->path, "/api/", 5) == 0 || strcmp(r->path, "/api") == 0
            || r->handle == NULL || r->min_role > ATUM_ROLE_ADMIN)
            return err_set(error_r, "plugin %s: root route %s %s is invalid", d->name,
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

/* ---- loading a set ---------------------------------------------------- */

static void refuse(struct plugin_instance *pi, const char *why)
{
    pi->state = PLUGIN_REFUSED;
    free(pi->reason);
    pi->reason = xstrdup(why);
    log_error("plugin.refused", "plugin=%s path=%s reason=%s", pi->name, pi->path, why);
    metrics_counter_add("atum_plugins_refused_total", NULL, 1);
    char name[72], labels[128];
    metrics_label_value(name, sizeof(name), pi->name);
    snprintf(labels, sizeof(labels), "plugin=\"%s\",where=\"load\"", name);
    metrics_counter_add("atum_plugin_errors_total", labels, 1);
}

static void load_one(struct plugin_instance *pi, const struct atum_config *cfg,
                     const struct conf_plugin *sec, struct jobkind_registry *reg,
                     struct db_conn *db, const struct atum_host *host)
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
        log_plugin_enter(pi->name);
        int rc = d->init(host, &pi->conf, &pi->pstate);
        log_plugin_leave();
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
    /* pi->desc is the descriptor copied up to its size, zero beyond */
    bool quiet = (pi->desc.hook_flags & ATUM_HOOKS_QUIET) != 0;
    for (const struct atum_hook *h = d->hooks; h && h->event; h++) {
        if (jobkind_register_hook_ex(reg, pi->name, h->event, h->run, pi->pstate, quiet, &e) < 0)
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
            log_plugin_enter(pi->name);
            d->fini(pi->pstate);
            log_plugin_leave();
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
                     struct jobkind_registry *reg, struct db_conn *db,
                     const struct atum_host *host)
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
        load_one(pi, cfg, sec, reg, db, host);
    }
}

void plugin_set_unload(struct plugin_set *set)
{
    for (size_t i = set->n; i-- > 0;) {
        struct plugin_instance *pi = &set->v[i];
        if (pi->initialised && pi->desc.fini != NULL) {
            log_plugin_enter(pi->name);
            pi->desc.fini(pi->pstate);
            log_plugin_leave();
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

void plugin_set_start(struct plugin_set *set, struct runtime *rt, struct db_conn *db)
{
    for (size_t i = 0; i < set->n; i++) {
        struct plugin_instance *pi = &set->v[i];
        if (pi->state != PLUGIN_LOADED || pi->desc.start == NULL)
            continue;
        if (db == NULL || db_in_transaction(db)) {
            log_warn("plugin.start_skipped", "plugin=%s hint=%s", pi->name,
                     "no database connection now; it starts at the next reload");
            continue;
        }
        struct atum_db adb = { db, rt, pi->name };
        log_plugin_enter(pi->name);
        int rc = pi->desc.start(pi->pstate, &adb);
        log_plugin_leave();
        if (db_in_transaction(db)) {
            log_warn("plugin.tx_left_open", "plugin=%s callback=start", pi->name);
            db_rollback(db);
        }
        if (rc != 0) {
            char name[72], labels[128];
            metrics_label_value(name, sizeof(name), pi->name);
            snprintf(labels, sizeof(labels), "plugin=\"%s\",where=\"start\"", name);
            metrics_counter_add("atum_plugin_errors_total", labels, 1);
            log_error("plugin.start_failed", "plugin=%s rc=%d", pi->name, rc);
        }
    }
}

const struct plugin_instance *plugin_set_find_root(const struct plugin_set *set, const char *path)
{
    for (size_t i = 0; i < set->n; i++) {
        const struct plugin_instance *pi = &set->v[i];
        if (pi->state != PLUGIN_LOADED)
            continue;
        for (const struct atum_route *r = pi->desc.root_routes; r && r->path; r++)
            if (strcmp(r->path, path) == 0)
                return pi;
    }
    return NULL;
}
