/*
 * core/plugin_loader.h -- loading plugins: dlopen, checks, migrations, init
 * with the host table (core/host_table.h), their job kinds and hooks.
 *
 * For each enabled [plugin.NAME] section, in file order:
 *   dlopen(path, RTLD_NOW | RTLD_LOCAL)       -- dlerror() on failure
 *   dlsym("atum_plugin_entry")                -- missing symbol: refused
 *   descriptor check (ABI, size, name, tables) -- before any other plugin code
 *   config check: every key set in the section must be declared by the plugin
 *   plugin migrations (component = NAME)
 *   init(host, conf, &state)                  -- non-zero: refused
 *   register its job kinds and hooks          -- a clash: fini, refused
 * A refused plugin is logged with the reason and kept in the set (state
 * "refused") so operators can see it; atumd runs on without it.
 *
 * Ownership: a plugin_set owns its instances, their dlopen handles and the
 * plugin states; plugin_set_unload() calls fini() and dlclose() in reverse
 * load order.  Config sections are borrowed from the atum_config the set was
 * loaded from, which must outlive the set.
 */
#ifndef ATUM_CORE_PLUGIN_LOADER_H
#define ATUM_CORE_PLUGIN_LOADER_H

#include <atum/plugin.h>
#include <stdbool.h>
#include "core/conf.h"
#include "core/db.h"
#include "core/jobkind.h"

enum plugin_state { PLUGIN_LOADED, PLUGIN_REFUSED, PLUGIN_DISABLED };

struct atum_conf {
    const char *plugin;                  /* the plugin's name */
    const struct conf_plugin *section;   /* borrowed from the config */
    const struct atum_conf_key *keys;    /* declared by the plugin, or NULL */
};

struct plugin_instance {
    char *name;
    char *path;
    enum plugin_state state;
    char *reason;                        /* why refused, or NULL */
    void *dl;
    struct atum_plugin desc;             /* copy, zero-filled past desc.size */
    void *pstate;                        /* what init() returned */
    struct atum_conf conf;
    bool initialised;
};

struct plugin_set {
    struct plugin_instance *v;
    size_t n;
};

/* Pure check of a descriptor (reads abi and size before anything else);
 * expected_name may be NULL. */
int plugin_descriptor_check(const struct atum_plugin *d, const char *expected_name,
                            const char **error_r);

/* dlopen + symbol + descriptor check.  On success *dl_r must later be
 * dlclose()d by the caller; *desc_r is a zero-filled copy. */
int plugin_open(const char *path, const char *expected_name, void **dl_r,
                struct atum_plugin *desc_r, const char **error_r);

/* Checks a section's keys against what the plugin declares. */
int plugin_conf_check(const struct conf_plugin *section, const struct atum_conf_key *keys,
                      const char *config_path, const char **error_r);

/* The .so path for a section: its `path` key or plugin_dir/NAME.so. */
char *plugin_path_for(const struct atum_config *cfg, const struct conf_plugin *section);

/* Loads every enabled plugin, handing each init() the host table.  db may
 * be NULL (no migrations: then a plugin with migrations is refused).
 * Never fails as a whole: refusals are per plugin. */
void plugin_set_load(struct plugin_set *set, const struct atum_config *cfg,
                     struct jobkind_registry *reg, struct db_conn *db,
                     const struct atum_host *host);
void plugin_set_unload(struct plugin_set *set);
const struct plugin_instance *plugin_set_find(const struct plugin_set *set, const char *name);

/* Calls each loaded plugin's start() (atum/plugin.h) on db, lent with the
 * runtime rt; skipped with a log line when db is NULL.  Failures are
 * logged and counted, the plugins stay loaded. */
struct runtime;
void plugin_set_start(struct plugin_set *set, struct runtime *rt, struct db_conn *db);

/* The first loaded plugin with a root route of this exact path (any
 * method); NULL when none claims it. */
const struct plugin_instance *plugin_set_find_root(const struct plugin_set *set, const char *path);


#endif
