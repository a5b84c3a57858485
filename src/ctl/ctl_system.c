/* ctl/ctl_system.c -- atumctl migrate, status, jobs, plugins, audit: the
 * daemon's machinery as operators see it. */
#include "config.h"
#include "ctl/ctl.h"
#include "core/conf.h"
#include "core/db.h"
#include "lib/err.h"
#include "lib/strbuf.h"
#include "lib/xalloc.h"

#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "core/jobs.h"
#include "core/migrate.h"
#include "core/plugin_loader.h"
#include "desk/audit.h"

#include <dlfcn.h>

int ctl_migrate(struct ctl *ctl, int argc, char **argv)
{
    const char *e = NULL;
    int applied = 0, total = 0;
    (void)argc;
    (void)argv;
    if (migrate_apply(ctl->db, "core", core_migrations, &applied, &e) < 0)
        return ctl_fail("migrate", e);
    total += applied;
    /* Plugin migrations: opened and checked, never initialised here. */
    for (size_t i = 0; i < ctl->cfg->nplugins; i++) {
        const struct conf_plugin *sec = &ctl->cfg->plugins[i];
        if (!sec->enabled)
            continue;
        char *path = plugin_path_for(ctl->cfg, sec);
        void *dl = NULL;
        struct atum_plugin desc;
        if (plugin_open(path, sec->name, &dl, &desc, &e) < 0) {
            fprintf(stderr, "atumctl: plugin %s refused: %s\n", sec->name, e);
            free(path);
            continue;
        }
        int rc = migrate_apply(ctl->db, desc.name, desc.migrations, &applied, &e);
        dlclose(dl);
        free(path);
        if (rc < 0)
            return ctl_fail("migrate", e);
        total += applied;
    }
    int cur = 0, latest = 0;
    if (migrate_versions(ctl->db, "core", core_migrations, &cur, &latest, &e) < 0)
        return ctl_fail("migrate", e);
    if (ctl->json)
        ctl_print_json(json_pack("{s:i, s:i}", "applied", total, "core_version", cur));
    else
        printf("migrations applied: %d (core schema version %d)\n", total, cur);
    return 0;
}

int ctl_status(struct ctl *ctl, int argc, char **argv)
{
    const char *e = NULL;
    int cur = 0, latest = 0;
    (void)argc;
    (void)argv;
    if (migrate_versions(ctl->db, "core", core_migrations, &cur, &latest, &e) < 0)
        return ctl_fail("status", e);
    if (cur == 0) {
        if (ctl->json)
            ctl_print_json(json_pack("{s:s, s:i, s:i}", "database", "ok", "schema", 0, "expected", latest));
        else
            printf("database: ok\nschema: not migrated (run: atumctl migrate)\n");
        return 1;
    }
    PGresult *nodes = db_exec(ctl->db,
        "SELECT id, host, pid, version, started_at::timestamp(0)::text AS started,"
        "       extract(epoch FROM now() - heartbeat_at)::int AS heartbeat_age_s,"
        "       (heartbeat_at > now() - interval '1 minute') AS alive, info::text AS info"
        "  FROM nodes ORDER BY started_at", 0, NULL, &e);
    if (nodes == NULL)
        return ctl_fail("status", e);
    PGresult *jobs = db_exec(ctl->db,
        "SELECT state, count(*) FROM jobs GROUP BY state"
        " UNION ALL SELECT 'done (archived)', count(*) FROM job_archive ORDER BY 1", 0, NULL, &e);
    PGresult *mail = jobs ? db_exec(ctl->db,
        "SELECT state, count(*) FROM inbound_mail GROUP BY state ORDER BY 1", 0, NULL, &e) : NULL;
    if (jobs == NULL || mail == NULL) {
        PQclear(nodes);
        PQclear(jobs);
        return ctl_fail("status", e);
    }
    if (ctl->json) {
        json_t *jj = json_object(), *mm = json_object();
        for (int i = 0; i < PQntuples(jobs); i++)
            json_object_set_new(jj, PQgetvalue(jobs, i, 0), json_integer(atoll(PQgetvalue(jobs, i, 1))));
        for (int i = 0; i < PQntuples(mail); i++)
            json_object_set_new(mm, PQgetvalue(mail, i, 0), json_integer(atoll(PQgetvalue(mail, i, 1))));
        ctl_print_json(json_pack("{s:s, s:i, s:i, s:o, s:o, s:o}", "database", "ok", "schema", cur,
                             "expected", latest, "nodes", ctl_rows_json(nodes), "jobs", jj,
                             "inbound_mail", mm));
    } else {
        printf("database: ok\nschema: core version %d of %d%s\n\nnodes:\n", cur, latest,
               cur == latest ? "" : " (run: atumctl migrate)");
        if (PQntuples(nodes) == 0)
            printf("  (no atumd has registered)\n");
        for (int i = 0; i < PQntuples(nodes); i++)
            printf("  %s  pid %s  version %s  started %s  %s (heartbeat %ss ago)\n",
                   PQgetvalue(nodes, i, 0), PQgetvalue(nodes, i, 2), PQgetvalue(nodes, i, 3),
                   PQgetvalue(nodes, i, 4),
                   strcmp(PQgetvalue(nodes, i, 6), "t") == 0 ? "alive" : "silent",
                   PQgetvalue(nodes, i, 5));
        printf("\njobs:\n");
        for (int i = 0; i < PQntuples(jobs); i++)
            printf("  %-16s %s\n", PQgetvalue(jobs, i, 0), PQgetvalue(jobs, i, 1));
        printf("\ninbound mail:\n");
        if (PQntuples(mail) == 0)
            printf("  (none)\n");
        for (int i = 0; i < PQntuples(mail); i++)
            printf("  %-16s %s\n", PQgetvalue(mail, i, 0), PQgetvalue(mail, i, 1));
    }
    PQclear(nodes);
    PQclear(jobs);
    PQclear(mail);
    return cur == latest ? 0 : 1;
}

int ctl_jobs(struct ctl *ctl, int argc, char **argv)
{
    const char *e = NULL;
    if (argc < 1) {
        ctl_usage(stderr);
        return 2;
    }
    const char *sub = argv[0];
    static const struct option opts[] = {
        { "state", required_argument, NULL, 's' },
        { "kind", required_argument, NULL, 'k' },
        { "limit", required_argument, NULL, 'l' },
        { "all-dead", no_argument, NULL, 'a' },
        { "priority", required_argument, NULL, 'p' },
        { "delay", required_argument, NULL, 'd' },
        { "unique", required_argument, NULL, 'u' },
        { NULL, 0, NULL, 0 }
    };
    const char *state = NULL, *kind = NULL, *limit = "50", *unique = NULL;
    bool all_dead = false;
    int priority = 0;
    double delay = 0;
    int ch;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (ch) {
        case 's': state = optarg; break;
        case 'k': kind = optarg; break;
        case 'l': limit = optarg; break;
        case 'a': all_dead = true; break;
        case 'p': priority = atoi(optarg); break;
        case 'd': delay = atof(optarg); break;
        case 'u': unique = optarg; break;
        default: return 2;
        }
    }
    int nargs = argc - optind;
    char **args = argv + optind;

    if (strcmp(sub, "list") == 0) {
        const char *params[] = { state, kind, limit };
        return ctl_query_print(ctl,
            "SELECT id, kind, state, priority, attempts || '/' || max_attempts AS attempts,"
            "       run_at::timestamp(0)::text AS run_at, locked_by, left(last_error, 80) AS last_error"
            "  FROM jobs WHERE ($1::text IS NULL OR state = $1) AND ($2::text IS NULL OR kind = $2)"
            " ORDER BY id DESC LIMIT $3::int", 3, params);
    }
    if (strcmp(sub, "stats") == 0)
        return ctl_query_print(ctl,
            "SELECT kind, count(*) FILTER (WHERE state = 'available' AND run_at <= now()) AS ready,"
            "       count(*) FILTER (WHERE state = 'available' AND run_at > now()) AS scheduled,"
            "       count(*) FILTER (WHERE state = 'running') AS running,"
            "       count(*) FILTER (WHERE state = 'dead') AS dead,"
            "       (SELECT count(*) FROM job_archive a WHERE a.kind = j.kind"
            "          AND a.finished_at > now() - interval '1 hour') AS done_last_hour"
            "  FROM (SELECT kind, state, run_at FROM jobs"
            "        UNION ALL SELECT DISTINCT kind, 'archived', now() FROM job_archive"
            "         WHERE finished_at > now() - interval '1 hour') j"
            " GROUP BY kind ORDER BY kind", 0, NULL);
    if (strcmp(sub, "retry") == 0) {
        long long id = 0;
        if (!all_dead) {
            if (nargs != 1 || (id = atoll(args[0])) <= 0) {
                fprintf(stderr, "atumctl: jobs retry needs a job ID or --all-dead\n");
                return 2;
            }
        }
        int count = 0;
        if (jobs_requeue_dead(ctl->db, id, kind, &count, &e) < 0)
            return ctl_fail("jobs retry", e);
        if (!all_dead && count == 0)
            return ctl_fail("jobs retry", err_fmt("job %lld is not dead (or does not exist)", id));
        if (ctl->json)
            ctl_print_json(json_pack("{s:i}", "requeued", count));
        else
            printf("requeued %d job%s\n", count, count == 1 ? "" : "s");
        return 0;
    }
    if (strcmp(sub, "enqueue") == 0) {
        if (nargs < 1 || nargs > 2) {
            fprintf(stderr, "atumctl: jobs enqueue KIND [JSON]\n");
            return 2;
        }
        struct atum_job_spec spec = {
            .kind = args[0],
            .payload = nargs == 2 ? args[1] : NULL,
            .priority = priority,
            .delay_seconds = delay,
            .unique_key = unique,
        };
        long long id = 0;
        if (jobs_enqueue(ctl->db, &spec, &id, &e) < 0)
            return ctl_fail("jobs enqueue", e);
        if (ctl->json)
            ctl_print_json(json_pack("{s:I}", "id", (json_int_t)id));
        else if (id == 0)
            printf("not enqueued: a pending job has unique key '%s'\n", unique);
        else
            printf("%lld\n", id);
        return 0;
    }
    fprintf(stderr, "atumctl: unknown jobs command '%s'\n", sub);
    return 2;
}

int ctl_plugins(struct ctl *ctl, int argc, char **argv)
{
    (void)argc;
    (void)argv;
    json_t *arr = json_array();
    int refused = 0;
    for (size_t i = 0; i < ctl->cfg->nplugins; i++) {
        const struct conf_plugin *sec = &ctl->cfg->plugins[i];
        char *path = plugin_path_for(ctl->cfg, sec);
        const char *e = NULL;
        json_t *o = json_pack("{s:s, s:s, s:b}", "name", sec->name, "path", path, "enabled", sec->enabled);
        void *dl = NULL;
        struct atum_plugin desc;
        if (plugin_open(path, sec->name, &dl, &desc, &e) < 0) {
            json_object_set_new(o, "state", json_string("refused"));
            json_object_set_new(o, "reason", json_string(e));
            refused += sec->enabled;
        } else {
            if (plugin_conf_check(sec, desc.conf_keys, ctl->cfg->path, &e) < 0) {
                json_object_set_new(o, "state", json_string("refused"));
                json_object_set_new(o, "reason", json_string(e));
                refused += sec->enabled;
            } else {
                json_object_set_new(o, "state", json_string(sec->enabled ? "ok" : "disabled"));
            }
            json_object_set_new(o, "version", json_string(desc.version));
            json_object_set_new(o, "abi", json_integer(desc.abi));
            json_object_set_new(o, "summary", json_string(desc.summary ? desc.summary : ""));
            int nk = 0, nh = 0, nr = 0, nm = 0;
            for (const struct atum_job_kind *k = desc.jobs; k && k->kind; k++) nk++;
            for (const struct atum_hook *h = desc.hooks; h && h->event; h++) nh++;
            for (const struct atum_route *r = desc.routes; r && r->path; r++) nr++;
            for (const struct atum_migration *m = desc.migrations; m && m->sql; m++) nm++;
            json_object_set_new(o, "job_kinds", json_integer(nk));
            json_object_set_new(o, "hooks", json_integer(nh));
            json_object_set_new(o, "routes", json_integer(nr));
            json_object_set_new(o, "migrations", json_integer(nm));
            dlclose(dl);
        }
        free(path);
        json_array_append_new(arr, o);
    }
    if (ctl->json) {
        ctl_print_json(arr);
    } else {
        if (json_array_size(arr) == 0)
            printf("no plugins configured ([plugin.NAME] sections in %s)\n", ctl->cfg->path);
        size_t i;
        json_t *o;
        json_array_foreach(arr, i, o) {
            const char *st = json_string_value(json_object_get(o, "state"));
            printf("%-12s %-9s", json_string_value(json_object_get(o, "name")), st);
            if (json_object_get(o, "version"))
                printf(" v%s ABI %lld  %s", json_string_value(json_object_get(o, "version")),
                       (long long)json_integer_value(json_object_get(o, "abi")),
                       json_string_value(json_object_get(o, "summary")));
            if (json_object_get(o, "reason"))
                printf(" %s", json_string_value(json_object_get(o, "reason")));
            printf("\n");
        }
        json_decref(arr);
    }
    return refused ? 1 : 0;
}

int ctl_audit(struct ctl *ctl, int argc, char **argv)
{
    const char *e = NULL;
    if (argc != 1 || strcmp(argv[0], "verify") != 0) {
        ctl_usage(stderr);
        return 2;
    }
    long long rows = 0, bad = 0;
    char why[256];
    if (audit_verify(ctl->db, &rows, &bad, why, sizeof(why), &e) < 0)
        return ctl_fail("audit verify", e);
    if (ctl->json) {
        json_t *o = json_pack("{s:b, s:I}", "ok", bad == 0, "rows", (json_int_t)rows);
        if (bad) {
            json_object_set_new(o, "first_bad_seq", json_integer(bad));
            json_object_set_new(o, "reason", json_string(why));
        }
        ctl_print_json(o);
    } else if (bad == 0) {
        printf("audit log intact: %lld rows, hash chain verified\n", rows);
    } else {
        printf("audit log TAMPERED: %s (first bad seq %lld)\n", why, bad);
    }
    return bad == 0 ? 0 : 1;
}
