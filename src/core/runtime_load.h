/*
 * core/runtime_load.h -- (re)building a runtime: the registrars' job kinds
 * (core, mail-in, mail-out), then the plugins of the configuration, each
 * handed the host table (core/host_table.h).
 *
 * Every function takes the runtime's write lock, so no job or request ever
 * sees a half-built registry.  Plugin refusals are logged, not errors; -1
 * only when a registrar fails.
 */
#ifndef ATUM_CORE_RUNTIME_LOAD_H
#define ATUM_CORE_RUNTIME_LOAD_H

#include "core/conf.h"
#include "core/db.h"
#include "core/runtime.h"

int runtime_load(struct runtime *rt, const struct atum_config *cfg, struct db_conn *db,
                 const char **error_r);
/* Unload and load again under one write lock.  cfg replaces the borrowed
 * config. */
int runtime_reload(struct runtime *rt, const struct atum_config *cfg, struct db_conn *db,
                   const char **error_r);
/* runtime_reload() with the configuration already in effect (the web API
 * after an admin enabled or disabled a plugin).  Must be called without
 * the read lock held. */
int runtime_reload_current(struct runtime *rt, struct db_conn *db, const char **error_r);

#endif
