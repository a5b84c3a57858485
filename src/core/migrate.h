/*
 * core/migrate.h -- versioned schema migrations, for the core and for plugins.
 *
 * A component ("core" or a plugin's name) owns a list of migrations
 * (struct atum_migration from atum/plugin.h: version, name, sql), built
 * into the binary from sql/NNN_name.sql by build-aux/sql2c.  Each pending
 * migration runs in its own transaction together with the row that records
 * it (component, version, name, SHA-256 of the SQL) in schema_migrations.
 *
 * Refusals, each with a message that says what to do:
 *  - an applied migration whose SQL changed (checksum mismatch);
 *  - a database that has a version this build does not know (newer schema);
 *  - a list that is not in strictly increasing version order.
 *
 * Concurrent runs (several atumd starting at once) serialise on a
 * session advisory lock; the second finds nothing left to do.
 */
#ifndef ATUM_CORE_MIGRATE_H
#define ATUM_CORE_MIGRATE_H

#include <atum/plugin.h>
#include "core/db.h"

extern const struct atum_migration core_migrations[];

int migrate_check_list(const char *component, const struct atum_migration *list,
                       const char **error_r);

/* Applies what is pending.  *applied_r (may be NULL) counts the migrations
 * this call applied. */
int migrate_apply(struct db_conn *c, const char *component,
                  const struct atum_migration *list, int *applied_r, const char **error_r);

/* The highest applied version (0 if none) and the highest known one. */
int migrate_versions(struct db_conn *c, const char *component,
                     const struct atum_migration *list, int *current_r, int *latest_r,
                     const char **error_r);

#endif
