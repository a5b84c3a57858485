/* core/migrate.c -- see core/migrate.h. */
#include "config.h"
#include "core/migrate.h"
#include "lib/err.h"
#include "lib/log.h"
#include "lib/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One key for every component: migrations of the core and of plugins may
 * depend on each other's tables, so they never run side by side. */
#define MIGRATE_LOCK_SQL "SELECT pg_advisory_lock(7308127163512201)"
#define MIGRATE_UNLOCK_SQL "SELECT pg_advisory_unlock(7308127163512201)"

static const char bootstrap_sql[] =
    "CREATE TABLE IF NOT EXISTS schema_migrations ("
    " component text NOT NULL,"
    " version integer NOT NULL,"
    " name text NOT NULL,"
    " checksum text NOT NULL,"
    " applied_at timestamptz NOT NULL DEFAULT now(),"
    " PRIMARY KEY (component, version))";

int migrate_check_list(const char *component, const struct atum_migration *list,
                       const char **error_r)
{
    int prev = 0;
    for (const struct atum_migration *m = list; m != NULL && m->sql != NULL; m++) {
        if (m->version <= prev)
            return err_set(error_r, "%s migrations out of order: version %d after %d",
                           component, m->version, prev);
        prev = m->version;
    }
    return 0;
}

static int exec_simple(struct db_conn *c, const char *sql, const char **error_r)
{
    PGresult *r = db_exec(c, sql, 0, NULL, error_r);
    if (r == NULL)
        return -1;
    PQclear(r);
    return 0;
}

static const struct atum_migration *find_version(const struct atum_migration *list, int v)
{
    for (const struct atum_migration *m = list; m != NULL && m->sql != NULL; m++)
        if (m->version == v)
            return m;
    return NULL;
}

static int apply_one(struct db_conn *c, const char *component, const struct atum_migration *m,
                     const char *checksum, const char **error_r)
{
    const char *e = NULL;
    if (db_begin(c, &e) < 0)
        return err_set(error_r, "%s", e);
    /* Our own SQL text from the build, never input: the simple protocol
     * lets one file hold many statements and dollar-quoted bodies. */
    if (db_command(c, m->sql, &e) < 0) {
        db_rollback(c);
        return err_set(error_r, "migration %s %03d_%s failed: %s", component, m->version,
                       m->name, e);
    }
    char ver[16];
    snprintf(ver, sizeof(ver), "%d", m->version);
    const char *params[] = { component, ver, m->name, checksum };
    PGresult *r = db_exec(c, "INSERT INTO schema_migrations (component, version, name, checksum)"
                             " VALUES ($1, $2, $3, $4)", 4, params, &e);
    if (r == NULL) {
        db_rollback(c);
        return err_set(error_r, "recording migration %s %d: %s", component, m->version, e);
    }
    PQclear(r);
    if (db_commit(c, &e) < 0)
        return err_set(error_r, "committing migration %s %d: %s", component, m->version, e);
    log_info("migrate.applied", "component=%s version=%d name=%s", component, m->version, m->name);
    return 0;
}

int migrate_apply(struct db_conn *c, const char *component,
                  const struct atum_migration *list, int *applied_r, const char **error_r)
{
    const char *e = NULL;
    PGresult *r = NULL;
    int ret = -1, applied = 0;
    bool locked = false;

    if (applied_r)
        *applied_r = 0;
    if (migrate_check_list(component, list, error_r) < 0)
        return -1;
    if (exec_simple(c, MIGRATE_LOCK_SQL, &e) < 0) {
        err_set(error_r, "taking the migration lock: %s", e);
        goto out;
    }
    locked = true;
    if (exec_simple(c, "SET client_min_messages = warning", &e) < 0
        || exec_simple(c, bootstrap_sql, &e) < 0) {
        err_set(error_r, "creating schema_migrations: %s", e);
        goto out;
    }

    const char *params[] = { component };
    r = db_exec(c, "SELECT version, name, checksum FROM schema_migrations"
                   " WHERE component = $1 ORDER BY version", 1, params, &e);
    if (r == NULL) {
        err_set(error_r, "reading schema_migrations: %s", e);
        goto out;
    }
    int latest_known = 0;
    for (const struct atum_migration *m = list; m && m->sql; m++)
        latest_known = m->version;

    /* Check what is applied before touching anything. */
    for (int i = 0; i < PQntuples(r); i++) {
        int v = atoi(PQgetvalue(r, i, 0));
        const struct atum_migration *m = find_version(list, v);
        if (m == NULL) {
            err_set(error_r,
                    "the database has %s migration %d (%s), which this build does not know "
                    "(it knows up to %d): run a newer atumd, or restore a matching backup",
                    component, v, PQgetvalue(r, i, 1), latest_known);
            goto out;
        }
        char sum[65];
        sha256_hex(m->sql, strlen(m->sql), sum);
        if (strcmp(sum, PQgetvalue(r, i, 2)) != 0) {
            err_set(error_r,
                    "%s migration %03d_%s was edited after it was applied (checksum in database "
                    "%.12s..., in this build %.12s...): restore the original file and put the "
                    "change in a new migration", component, v, m->name, PQgetvalue(r, i, 2), sum);
            goto out;
        }
    }

    for (const struct atum_migration *m = list; m && m->sql; m++) {
        bool done = false;
        for (int i = 0; i < PQntuples(r) && !done; i++)
            done = atoi(PQgetvalue(r, i, 0)) == m->version;
        if (done)
            continue;
        char sum[65];
        sha256_hex(m->sql, strlen(m->sql), sum);
        if (apply_one(c, component, m, sum, error_r) < 0)
            goto out;
        applied++;
    }
    ret = 0;
out:
    PQclear(r);
    if (locked && db_conn_is_up(c))
        (void)exec_simple(c, MIGRATE_UNLOCK_SQL, &e);
    if (applied_r)
        *applied_r = applied;
    return ret;
}

int migrate_versions(struct db_conn *c, const char *component,
                     const struct atum_migration *list, int *current_r, int *latest_r,
                     const char **error_r)
{
    *latest_r = 0;
    for (const struct atum_migration *m = list; m && m->sql; m++)
        *latest_r = m->version;
    *current_r = 0;
    const char *e = NULL;
    char *exists = db_query_value(c, "SELECT to_regclass('schema_migrations') IS NOT NULL",
                                  0, NULL, &e);
    if (exists == NULL)
        return err_set(error_r, "%s", e ? e : "no result");
    bool have_table = strcmp(exists, "t") == 0;
    free(exists);
    if (!have_table)
        return 0;
    const char *params[] = { component };
    char *v = db_query_value(c, "SELECT coalesce(max(version), 0) FROM schema_migrations"
                                " WHERE component = $1", 1, params, &e);
    if (v == NULL)
        return err_set(error_r, "%s", e ? e : "no result");
    *current_r = atoi(v);
    free(v);
    return 0;
}
