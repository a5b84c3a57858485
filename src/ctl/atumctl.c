/*
 * ctl/atumctl.c -- the admin command line.
 *
 * Each command is one function taking the remaining arguments and a
 * connected struct ctl; it prints a result for people (or JSON with
 * --json) and returns the process exit code: 0 ok, 1 failed, 2 usage.
 * Everything it changes goes through the same modules atumd uses
 * (desk/user.c, desk/queue.c, mailin/inbound.c, core/jobs.c, core/migrate.c), so the rules --
 * validation, audit rows, one NOTIFY per transaction -- are the same.
 */
#include "config.h"
#include "core/conf.h"
#include "core/db.h"
#include "desk/mailbox.h"
#include "desk/queue.h"
#include "lib/err.h"
#include "mailin/inbound.h"
#include "lib/log.h"
#include "mailin/ingest.h"
#include "mail/mime.h"
#include "mail/summary.h"
#include "core/migrate.h"
#include "core/plugin_loader.h"
#include "core/jobs.h"
#include "desk/audit.h"
#include "lib/token.h"
#include "lib/strbuf.h"
#include "desk/user.h"
#include "lib/xalloc.h"

#include <dlfcn.h>
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>
#include "ctl/ctl.h"

static int fail(const char *what, const char *e)
{
    fprintf(stderr, "atumctl: %s: %s\n", what, e ? e : "failed");
    return 1;
}

static void usage(FILE *out)
{
    fprintf(out,
        "usage: atumctl [-c FILE] [--json] COMMAND ...\n"
        "\n"
        "  migrate                            apply pending core and plugin migrations\n"
        "  status                             database, schema, nodes, queue summary\n"
        "  user add EMAIL [--name N] [--role customer|agent|manager|admin]\n"
        "           [--password-stdin | --no-password]\n"
        "  user list\n"
        "  user passwd EMAIL [--password-stdin]\n"
        "  queue add NAME ADDRESS             a helpdesk queue and its address\n"
        "  queue list\n"
        "  queue member QUEUE EMAIL           add an agent to a queue\n"
        "  inject [--from ADDR] [--to ADDR]   store one mail from stdin, print its id\n"
        "  jobs list [--state S] [--kind K] [--limit N]\n"
        "  jobs stats\n"
        "  jobs retry ID | --all-dead [--kind K]\n"
        "  jobs enqueue KIND [JSON] [--priority N] [--delay SECONDS] [--unique KEY]\n"
        "  plugins                            configured plugins: ABI, version, state\n"
        "  inbound show ID                    what became of a received mail\n"
        "  inbound list [--failed] [--limit N]\n"
        "  reprocess ID                       run a received mail through ingest again\n"
        "  parse < mail.eml                   how atumd reads a mail (stores nothing)\n"
        "  mailbox add NAME --queue Q --host H [--port P] [--security tls|starttls|none]\n"
        "              --user U --password-env ATUM_IMAP_PASSWORD_NAME [--folder F] [--after move|delete|seen]\n"
        "              [--move-to F] [--trust-any-certificate] [--no-idle] [--poll S]\n"
        "  outbox list [--failed] [--ticket N] [--limit N]   outgoing mail and its state\n"
        "  outbox show ID [--raw]             one outgoing mail, its recipients (or its bytes)\n"
        "  outbox retry ID                    send a failed or expired mail again\n"
        "  template list | show NAME [--queue Q] | set QUEUE NAME < FILE | reset QUEUE NAME\n"
        "                                     mail templates and per-queue overrides\n"
        "  mailbox list | mailbox remove NAME\n"
        "  token add EMAIL [--name N] [--days D]  create an API token (printed once)\n"
        "  audit verify                       check the audit log's hash chain\n"
        "\n"
        "  -c, --config FILE   configuration (default $ATUM_CONFIG or %s)\n"
        "      --json          machine-readable output\n",
        SYSCONF_FILE);
}

/* ---- small helpers ---------------------------------------------------- */

static void print_json(json_t *v)
{
    char *s = json_dumps(v, JSON_INDENT(2) | JSON_SORT_KEYS);
    if (s) {
        puts(s);
        free(s);
    }
    json_decref(v);
}

/* A result set as JSON rows (all values as strings, NULL as null). */
static json_t *rows_json(const PGresult *r)
{
    json_t *arr = json_array();
    for (int i = 0; i < PQntuples(r); i++) {
        json_t *o = json_object();
        for (int c = 0; c < PQnfields(r); c++)
            json_object_set_new(o, PQfname(r, c),
                                PQgetisnull(r, i, c) ? json_null() : json_string(PQgetvalue(r, i, c)));
        json_array_append_new(arr, o);
    }
    return arr;
}

/* A result set as an aligned text table. */
static void print_table(const PGresult *r)
{
    int nf = PQnfields(r), nt = PQntuples(r);
    int *w = xcalloc((size_t)nf, sizeof(*w));
    for (int c = 0; c < nf; c++) {
        w[c] = (int)strlen(PQfname(r, c));
        for (int i = 0; i < nt; i++) {
            int l = PQgetlength(r, i, c);
            if (l > 60)
                l = 60;
            if (l > w[c])
                w[c] = l;
        }
    }
    for (int c = 0; c < nf; c++)
        printf("%-*s%s", w[c], PQfname(r, c), c + 1 < nf ? "  " : "\n");
    for (int i = 0; i < nt; i++)
        for (int c = 0; c < nf; c++)
            printf("%-*.60s%s", w[c], PQgetisnull(r, i, c) ? "" : PQgetvalue(r, i, c),
                   c + 1 < nf ? "  " : "\n");
    free(w);
}

static int query_print(struct ctl *ctl, const char *sql, int n, const char *const *params)
{
    const char *e = NULL;
    PGresult *r = db_exec(ctl->db, sql, n, params, &e);
    if (r == NULL)
        return fail("query", e);
    if (ctl->json)
        print_json(rows_json(r));
    else
        print_table(r);
    PQclear(r);
    return 0;
}

int ctl_fail(const char *what, const char *e)
{
    return fail(what, e);
}

int ctl_query_print(struct ctl *ctl, const char *sql, int n, const char *const *params)
{
    return query_print(ctl, sql, n, params);
}

void ctl_print_json(json_t *v)
{
    print_json(v);
}

/* Reads a password: one line from stdin, or prompted twice without echo. */
static char *read_password(bool from_stdin)
{
    char *line = NULL;
    size_t cap = 0;
    if (from_stdin || !isatty(STDIN_FILENO)) {
        ssize_t n = getline(&line, &cap, stdin);
        if (n <= 0) {
            free(line);
            return NULL;
        }
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
            line[--n] = '\0';
        return line;
    }
    struct termios old, quiet;
    tcgetattr(STDIN_FILENO, &old);
    quiet = old;
    quiet.c_lflag &= ~(tcflag_t)ECHO;
    char *again = NULL;
    size_t cap2 = 0;
    fprintf(stderr, "password: ");
    tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
    ssize_t n1 = getline(&line, &cap, stdin);
    fprintf(stderr, "\nagain: ");
    ssize_t n2 = getline(&again, &cap2, stdin);
    tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
    fprintf(stderr, "\n");
    if (n1 <= 0 || n2 <= 0 || strcmp(line, again) != 0) {
        fprintf(stderr, "atumctl: passwords do not match\n");
        free(line);
        free(again);
        return NULL;
    }
    free(again);
    line[strcspn(line, "\r\n")] = '\0';
    return line;
}

/* ---- migrate ---------------------------------------------------------- */

static int cmd_migrate(struct ctl *ctl, int argc, char **argv)
{
    const char *e = NULL;
    int applied = 0, total = 0;
    (void)argc;
    (void)argv;
    if (migrate_apply(ctl->db, "core", core_migrations, &applied, &e) < 0)
        return fail("migrate", e);
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
            return fail("migrate", e);
        total += applied;
    }
    int cur = 0, latest = 0;
    if (migrate_versions(ctl->db, "core", core_migrations, &cur, &latest, &e) < 0)
        return fail("migrate", e);
    if (ctl->json)
        print_json(json_pack("{s:i, s:i}", "applied", total, "core_version", cur));
    else
        printf("migrations applied: %d (core schema version %d)\n", total, cur);
    return 0;
}

/* ---- status ----------------------------------------------------------- */

static int cmd_status(struct ctl *ctl, int argc, char **argv)
{
    const char *e = NULL;
    int cur = 0, latest = 0;
    (void)argc;
    (void)argv;
    if (migrate_versions(ctl->db, "core", core_migrations, &cur, &latest, &e) < 0)
        return fail("status", e);
    if (cur == 0) {
        if (ctl->json)
            print_json(json_pack("{s:s, s:i, s:i}", "database", "ok", "schema", 0, "expected", latest));
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
        return fail("status", e);
    PGresult *jobs = db_exec(ctl->db,
        "SELECT state, count(*) FROM jobs GROUP BY state"
        " UNION ALL SELECT 'done (archived)', count(*) FROM job_archive ORDER BY 1", 0, NULL, &e);
    PGresult *mail = jobs ? db_exec(ctl->db,
        "SELECT state, count(*) FROM inbound_mail GROUP BY state ORDER BY 1", 0, NULL, &e) : NULL;
    if (jobs == NULL || mail == NULL) {
        PQclear(nodes);
        PQclear(jobs);
        return fail("status", e);
    }
    if (ctl->json) {
        json_t *jj = json_object(), *mm = json_object();
        for (int i = 0; i < PQntuples(jobs); i++)
            json_object_set_new(jj, PQgetvalue(jobs, i, 0), json_integer(atoll(PQgetvalue(jobs, i, 1))));
        for (int i = 0; i < PQntuples(mail); i++)
            json_object_set_new(mm, PQgetvalue(mail, i, 0), json_integer(atoll(PQgetvalue(mail, i, 1))));
        print_json(json_pack("{s:s, s:i, s:i, s:o, s:o, s:o}", "database", "ok", "schema", cur,
                             "expected", latest, "nodes", rows_json(nodes), "jobs", jj,
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

/* ---- users ------------------------------------------------------------ */

static int cmd_user(struct ctl *ctl, int argc, char **argv)
{
    const char *e = NULL;
    if (argc < 1) {
        usage(stderr);
        return 2;
    }
    if (strcmp(argv[0], "list") == 0)
        return query_print(ctl, "SELECT u.id, u.email, u.name, u.role, o.name AS org,"
                                " u.password_hash IS NOT NULL AS can_login, u.disabled,"
                                " u.created_at::timestamp(0)::text AS created"
                                " FROM users u LEFT JOIN orgs o ON o.id = u.org_id ORDER BY u.id",
                           0, NULL);

    bool add = strcmp(argv[0], "add") == 0, passwd = strcmp(argv[0], "passwd") == 0;
    if (!add && !passwd) {
        fprintf(stderr, "atumctl: unknown user command '%s'\n", argv[0]);
        return 2;
    }
    static const struct option opts[] = {
        { "name", required_argument, NULL, 'n' },
        { "role", required_argument, NULL, 'r' },
        { "password-stdin", no_argument, NULL, 'p' },
        { "no-password", no_argument, NULL, 'N' },
        { NULL, 0, NULL, 0 }
    };
    const char *name = "", *role = "customer";
    bool pw_stdin = false, no_pw = false;
    int ch;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (ch) {
        case 'n': name = optarg; break;
        case 'r': role = optarg; break;
        case 'p': pw_stdin = true; break;
        case 'N': no_pw = true; break;
        default: return 2;
        }
    }
    if (optind + 1 != argc) {
        fprintf(stderr, "atumctl: user %s needs exactly one EMAIL\n", argv[0]);
        return 2;
    }
    const char *email = argv[optind];
    char *pw = NULL;
    if (passwd || !no_pw) {
        pw = read_password(pw_stdin);
        if (pw == NULL)
            return fail("user", "no password given (use --password-stdin or --no-password)");
    }
    int rc;
    if (add) {
        long long id = 0;
        rc = user_add(ctl->db, email, name, role, pw, "atumctl", &id, &e);
        if (rc == 0) {
            if (ctl->json)
                print_json(json_pack("{s:I, s:s, s:s}", "id", (json_int_t)id, "email", email, "role", role));
            else
                printf("user %lld: %s (%s)\n", id, email, role);
        }
    } else {
        rc = user_set_password(ctl->db, email, pw, "atumctl", &e);
        if (rc == 0 && !ctl->json)
            printf("password changed for %s\n", email);
    }
    if (pw) {
        memset(pw, 0, strlen(pw));
        free(pw);
    }
    return rc < 0 ? fail("user", e) : 0;
}

/* ---- queues ----------------------------------------------------------- */

static int cmd_queue(struct ctl *ctl, int argc, char **argv)
{
    const char *e = NULL;
    if (argc >= 1 && strcmp(argv[0], "list") == 0)
        return query_print(ctl, "SELECT q.id, q.name, q.address,"
                                " (SELECT count(*) FROM queue_members m WHERE m.queue_id = q.id) AS agents,"
                                " (SELECT count(*) FROM tickets t WHERE t.queue_id = q.id) AS tickets"
                                " FROM queues q ORDER BY q.id", 0, NULL);
    if (argc == 3 && strcmp(argv[0], "add") == 0) {
        long long id = 0;
        if (queue_add(ctl->db, argv[1], argv[2], "atumctl", &id, &e) < 0)
            return fail("queue add", e);
        if (ctl->json)
            print_json(json_pack("{s:I, s:s, s:s}", "id", (json_int_t)id, "name", argv[1], "address", argv[2]));
        else
            printf("queue %lld: %s <%s>\n", id, argv[1], argv[2]);
        return 0;
    }
    if (argc == 3 && strcmp(argv[0], "member") == 0) {
        if (queue_add_member(ctl->db, argv[1], argv[2], "atumctl", &e) < 0)
            return fail("queue member", e);
        if (!ctl->json)
            printf("%s is now a member of %s\n", argv[2], argv[1]);
        return 0;
    }
    usage(stderr);
    return 2;
}

/* ---- inject ----------------------------------------------------------- */

static int cmd_inject(struct ctl *ctl, int argc, char **argv)
{
    static const struct option opts[] = {
        { "from", required_argument, NULL, 'f' },
        { "to", required_argument, NULL, 't' },
        { NULL, 0, NULL, 0 }
    };
    const char *from = NULL;
    json_t *rcpt = json_array();
    int ch;
    optind = 1;
    /* no subcommand: argv[-1] is "inject", which getopt wants in front */
    while ((ch = getopt_long(argc + 1, argv - 1, "", opts, NULL)) != -1) {
        if (ch == 'f')
            from = optarg;
        else if (ch == 't')
            json_array_append_new(rcpt, json_string(optarg));
        else {
            json_decref(rcpt);
            return 2;
        }
    }
    struct strbuf raw = STRBUF_INIT;
    char buf[65536];
    size_t n;
    long long max = ctl->cfg->mail_max_message_size;
    while ((n = fread(buf, 1, sizeof(buf), stdin)) > 0) {
        if ((long long)(raw.len + n) > max) {
            strbuf_free(&raw);
            json_decref(rcpt);
            return fail("inject", err_fmt("message larger than mail.max_message_size (%lld bytes): nothing stored", max));
        }
        strbuf_add(&raw, buf, n);
    }
    if (ferror(stdin)) {
        strbuf_free(&raw);
        json_decref(rcpt);
        return fail("inject", err_fmt("reading stdin: %s: nothing stored", strerror(errno)));
    }
    if (raw.len == 0) {
        json_decref(rcpt);
        return fail("inject", "empty message on stdin: nothing stored");
    }
    json_t *env = json_pack("{s:s?, s:o}", "mail_from", from, "rcpt_to", rcpt);
    char *envs = json_dumps(env, JSON_COMPACT);
    json_decref(env);
    long long id = 0;
    const char *e = NULL;
    int rc = inbound_store(ctl->db, "cli", 0, envs, raw.s, raw.len, &id, &e);
    free(envs);
    size_t len = raw.len;
    strbuf_free(&raw);
    if (rc < 0)
        return fail("inject", e);
    if (ctl->json)
        print_json(json_pack("{s:I, s:I}", "inbound_id", (json_int_t)id, "bytes", (json_int_t)len));
    else
        printf("%lld\n", id);
    return 0;
}

/* ---- jobs ------------------------------------------------------------- */

static int cmd_jobs(struct ctl *ctl, int argc, char **argv)
{
    const char *e = NULL;
    if (argc < 1) {
        usage(stderr);
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
        return query_print(ctl,
            "SELECT id, kind, state, priority, attempts || '/' || max_attempts AS attempts,"
            "       run_at::timestamp(0)::text AS run_at, locked_by, left(last_error, 80) AS last_error"
            "  FROM jobs WHERE ($1::text IS NULL OR state = $1) AND ($2::text IS NULL OR kind = $2)"
            " ORDER BY id DESC LIMIT $3::int", 3, params);
    }
    if (strcmp(sub, "stats") == 0)
        return query_print(ctl,
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
            return fail("jobs retry", e);
        if (!all_dead && count == 0)
            return fail("jobs retry", err_fmt("job %lld is not dead (or does not exist)", id));
        if (ctl->json)
            print_json(json_pack("{s:i}", "requeued", count));
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
            return fail("jobs enqueue", e);
        if (ctl->json)
            print_json(json_pack("{s:I}", "id", (json_int_t)id));
        else if (id == 0)
            printf("not enqueued: a pending job has unique key '%s'\n", unique);
        else
            printf("%lld\n", id);
        return 0;
    }
    fprintf(stderr, "atumctl: unknown jobs command '%s'\n", sub);
    return 2;
}

/* ---- plugins ---------------------------------------------------------- */

static int cmd_plugins(struct ctl *ctl, int argc, char **argv)
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
        print_json(arr);
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

/* ---- received mail ---------------------------------------------------- */

static struct mail_limits ctl_limits(const struct ctl *ctl)
{
    struct mail_limits lim;
    mail_limits_default(&lim);
    lim.max_attachment = (size_t)ctl->cfg->mail_max_attachment;
    lim.max_header_bytes = (size_t)ctl->cfg->mail_max_header_bytes;
    lim.max_parts = ctl->cfg->mail_max_parts;
    return lim;
}

static void print_summary_text(json_t *s)
{
    const char *from_name = json_string_value(json_object_get(s, "from_name"));
    const char *from = json_string_value(json_object_get(s, "from"));
    printf("subject:     %s\n", json_string_value(json_object_get(s, "subject")));
    if (from_name)
        printf("from:        %s <%s>\n", from_name, from ? from : "");
    else
        printf("from:        %s\n", from ? from : "(no address)");
    const char *mid = json_string_value(json_object_get(s, "message_id"));
    printf("message-id:  %s\n", mid ? mid : "(none)");
    printf("robot:       %s", json_string_value(json_object_get(s, "robot")));
    const char *why = json_string_value(json_object_get(s, "robot_reason"));
    printf("%s%s%s\n", why ? " (" : "", why ? why : "", why ? ")" : "");
    json_t *att = json_object_get(s, "attachments");
    printf("attachments: %zu\n", json_array_size(att));
    size_t i;
    json_t *a;
    json_array_foreach(att, i, a)
        printf("  %s  %s  %lld bytes%s\n", json_string_value(json_object_get(a, "filename")),
               json_string_value(json_object_get(a, "content_type")),
               (long long)json_integer_value(json_object_get(a, "size")),
               json_is_true(json_object_get(a, "kept")) ? "" : "  (not kept: too large)");
    json_t *pr = json_object_get(s, "problems");
    if (json_array_size(pr) > 0) {
        printf("problems:\n");
        json_array_foreach(pr, i, a)
            printf("  %s\n", json_string_value(a));
    }
}

static int inbound_show(struct ctl *ctl, const char *sid)
{
    const char *e = NULL;
    const char *p[] = { sid };
    PGresult *r = db_exec(ctl->db,
        "SELECT id, state, error, source, received_at::timestamp(0)::text, size, ticket_id,"
        "       message_id, duplicate, envelope::text, summary::text, raw"
        "  FROM inbound_mail WHERE id = $1::bigint", 1, p, &e);
    if (r == NULL)
        return fail("inbound show", e);
    if (PQntuples(r) == 0) {
        PQclear(r);
        return fail("inbound show", err_fmt("no inbound mail %s", sid));
    }
    json_t *summary = PQgetisnull(r, 0, 10) ? NULL : json_loads(PQgetvalue(r, 0, 10), 0, NULL);
    if (summary == NULL) {
        /* not ingested yet (or failed early): read the raw mail now */
        size_t n = 0;
        unsigned char *raw = PQunescapeBytea((const unsigned char *)PQgetvalue(r, 0, 11), &n);
        struct mail_limits lim = ctl_limits(ctl);
        struct mail_msg *m = mail_parse((const char *)raw, n, &lim);
        summary = mail_summary_json(m);
        mail_msg_free(&m);
        PQfreemem(raw);
    }
    json_t *o = json_pack("{s:I, s:s, s:s?, s:s, s:s, s:I, s:o, s:o, s:b, s:o}",
        "id", (json_int_t)atoll(PQgetvalue(r, 0, 0)), "state", PQgetvalue(r, 0, 1),
        "error", PQgetisnull(r, 0, 2) ? NULL : PQgetvalue(r, 0, 2),
        "source", PQgetvalue(r, 0, 3), "received_at", PQgetvalue(r, 0, 4),
        "size", (json_int_t)atoll(PQgetvalue(r, 0, 5)),
        "ticket", PQgetisnull(r, 0, 6) ? json_null() : json_integer(atoll(PQgetvalue(r, 0, 6))),
        "message", PQgetisnull(r, 0, 7) ? json_null() : json_integer(atoll(PQgetvalue(r, 0, 7))),
        "duplicate", strcmp(PQgetvalue(r, 0, 8), "t") == 0,
        "envelope", json_loads(PQgetvalue(r, 0, 9), 0, NULL));
    json_object_update(o, summary);
    json_decref(summary);
    PQclear(r);
    if (ctl->json) {
        print_json(o);
        return 0;
    }
    printf("inbound %lld: %s%s (%s, %lld bytes, received %s)\n",
           (long long)json_integer_value(json_object_get(o, "id")),
           json_string_value(json_object_get(o, "state")),
           json_is_true(json_object_get(o, "duplicate")) ? ", duplicate" : "",
           json_string_value(json_object_get(o, "source")),
           (long long)json_integer_value(json_object_get(o, "size")),
           json_string_value(json_object_get(o, "received_at")));
    if (json_string_value(json_object_get(o, "error")))
        printf("error:       %s\n", json_string_value(json_object_get(o, "error")));
    if (json_is_integer(json_object_get(o, "ticket")))
        printf("ticket:      #%lld (message %lld)\n",
               (long long)json_integer_value(json_object_get(o, "ticket")),
               (long long)json_integer_value(json_object_get(o, "message")));
    print_summary_text(o);
    json_decref(o);
    return 0;
}

static int cmd_inbound(struct ctl *ctl, int argc, char **argv)
{
    if (argc == 2 && strcmp(argv[0], "show") == 0)
        return inbound_show(ctl, argv[1]);
    if (argc >= 1 && strcmp(argv[0], "list") == 0) {
        static const struct option opts[] = {
            { "failed", no_argument, NULL, 'f' }, { "limit", required_argument, NULL, 'l' },
            { NULL, 0, NULL, 0 }
        };
        bool failed = false;
        const char *limit = "50";
        int ch;
        optind = 1;
        while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
            if (ch == 'f')
                failed = true;
            else if (ch == 'l')
                limit = optarg;
            else
                return 2;
        }
        const char *params[] = { failed ? "failed" : NULL, limit };
        return query_print(ctl,
            "SELECT id, state, source, received_at::timestamp(0)::text AS received, size,"
            "       ticket_id AS ticket, robot, left(coalesce(summary->>'subject', ''), 50) AS subject,"
            "       left(error, 60) AS error"
            "  FROM inbound_mail WHERE ($1::text IS NULL OR state = $1)"
            " ORDER BY id DESC LIMIT $2::int", 2, params);
    }
    usage(stderr);
    return 2;
}

static int cmd_reprocess(struct ctl *ctl, int argc, char **argv)
{
    const char *e = NULL;
    long long id = argc == 1 ? atoll(argv[0]) : 0;
    if (id <= 0) {
        fprintf(stderr, "atumctl: reprocess needs an inbound mail ID\n");
        return 2;
    }
    /* a held IMAP mail (over mail.max_message_size) has only its headers
     * here: ingesting them would make a ticket without the mail */
    const char *p[] = { argv[0] };
    PGresult *r = db_exec(ctl->db, "SELECT error FROM inbound_mail WHERE id = $1::bigint"
                                   " AND envelope->>'too_large' = 'true'", 1, p, &e);
    if (r == NULL)
        return fail("reprocess", e);
    if (PQntuples(r) > 0) {
        fprintf(stderr, "atumctl: reprocess: inbound %lld was %s\n"
                "  raise mail.max_message_size and restart atumd: the poller then takes it in\n",
                id, PQgetvalue(r, 0, 0));
        PQclear(r);
        return 1;
    }
    PQclear(r);
    if (ingest_reprocess(ctl->db, id, &e) < 0)
        return fail("reprocess", e);
    if (!ctl->json)
        printf("inbound %lld queued for ingest\n", id);
    return 0;
}

static int cmd_parse(struct ctl *ctl, int argc, char **argv)
{
    (void)argc;
    (void)argv;
    struct strbuf raw = STRBUF_INIT;
    char buf[65536];
    size_t n;
    while ((n = fread(buf, 1, sizeof(buf), stdin)) > 0)
        strbuf_add(&raw, buf, n);
    struct mail_limits lim = ctl_limits(ctl);
    struct mail_msg *m = mail_parse(raw.s ? raw.s : "", raw.len, &lim);
    json_t *s = mail_summary_json(m);
    if (ctl->json) {
        json_object_set_new(s, "text", json_stringn(m->text.s ? m->text.s : "", m->text.len));
        json_object_set_new(s, "new_text", json_stringn(m->new_text.s ? m->new_text.s : "", m->new_text.len));
        json_object_set_new(s, "html", json_stringn(m->html.s ? m->html.s : "", m->html.len));
        print_json(s);
    } else {
        print_summary_text(s);
        printf("\n%s\n", m->new_text.s ? m->new_text.s : "");
        json_decref(s);
    }
    mail_msg_free(&m);
    strbuf_free(&raw);
    return 0;
}

/* ---- IMAP mailboxes --------------------------------------------------- */

static int cmd_mailbox(struct ctl *ctl, int argc, char **argv)
{
    const char *e = NULL;
    if (argc >= 1 && strcmp(argv[0], "list") == 0)
        return query_print(ctl,
            "SELECT m.id, m.name, q.name AS queue, m.host || ':' || m.port AS server, m.security,"
            "       m.username, m.folder, m.after_fetch, m.enabled, m.idle, m.last_uid,"
            "       m.locked_by, m.last_ok_at::timestamp(0)::text AS last_ok, left(m.last_error, 90) AS last_error"
            "  FROM mailboxes m JOIN queues q ON q.id = m.queue_id ORDER BY m.id", 0, NULL);
    if (argc == 2 && strcmp(argv[0], "remove") == 0) {
        const char *p[] = { argv[1] };
        PGresult *r = db_exec(ctl->db, "DELETE FROM mailboxes WHERE name = $1", 1, p, &e);
        if (r == NULL)
            return fail("mailbox remove", e);
        bool gone = atoi(PQcmdTuples(r)) > 0;
        PQclear(r);
        if (!gone)
            return fail("mailbox remove", err_fmt("no mailbox named %s", argv[1]));
        return 0;
    }
    if (argc < 2 || strcmp(argv[0], "add") != 0) {
        usage(stderr);
        return 2;
    }
    static const struct option opts[] = {
        { "queue", required_argument, NULL, 'q' }, { "host", required_argument, NULL, 'h' },
        { "port", required_argument, NULL, 'p' }, { "security", required_argument, NULL, 's' },
        { "user", required_argument, NULL, 'u' }, { "password-env", required_argument, NULL, 'P' },
        { "folder", required_argument, NULL, 'f' }, { "after", required_argument, NULL, 'a' },
        { "move-to", required_argument, NULL, 'm' }, { "trust-any-certificate", no_argument, NULL, 'T' },
        { "no-idle", no_argument, NULL, 'I' }, { "poll", required_argument, NULL, 'o' },
        { NULL, 0, NULL, 0 }
    };
    const char *queue = NULL, *host = NULL, *port = NULL, *sec = "tls", *user = NULL, *pwenv = NULL,
               *folder = "INBOX", *after = "move", *move_to = "Processed", *poll = "60";
    bool trust = false, idle = true;
    int ch;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (ch) {
        case 'q': queue = optarg; break;
        case 'h': host = optarg; break;
        case 'p': port = optarg; break;
        case 's': sec = optarg; break;
        case 'u': user = optarg; break;
        case 'P': pwenv = optarg; break;
        case 'f': folder = optarg; break;
        case 'a': after = optarg; break;
        case 'm': move_to = optarg; break;
        case 'T': trust = true; break;
        case 'I': idle = false; break;
        case 'o': poll = optarg; break;
        default: return 2;
        }
    }
    if (optind + 1 != argc || queue == NULL || host == NULL || user == NULL || pwenv == NULL) {
        fprintf(stderr, "atumctl: mailbox add NAME --queue Q --host H --user U --password-env VAR\n");
        return 2;
    }
    /* the rules the API and the IMAP poller apply too (desk/mailbox.h) */
    const struct mailbox_link link = { host, sec, trust };
    if (mailbox_password_env_check(pwenv, &e) < 0
        || mailbox_link_check(&link, ctl->cfg->imap_allow_insecure_loopback, &e) < 0)
        return fail("mailbox add", e);
    if (port == NULL)
        port = strcmp(sec, "tls") == 0 ? "993" : "143";
    const char *p[] = { argv[optind], queue, host, port, sec, trust ? "true" : "false", user, pwenv,
                        folder, after, move_to, idle ? "true" : "false", poll };
    PGresult *r = db_exec(ctl->db,
        "INSERT INTO mailboxes (name, queue_id, host, port, security, trust_any_certificate,"
        " username, password_env, folder, after_fetch, move_to, idle, poll_interval_s)"
        " SELECT $1, q.id, $3, $4::int, $5, $6::bool, $7, $8, $9, $10, $11, $12::bool, $13::int"
        "   FROM queues q WHERE q.name = $2 RETURNING id", 13, p, &e);
    if (r == NULL)
        return fail("mailbox add", e);
    if (PQntuples(r) == 0) {
        PQclear(r);
        return fail("mailbox add", err_fmt("no queue named %s", queue));
    }
    printf("mailbox %s: %s@%s:%s (%s), folder %s -> queue %s\n", PQgetvalue(r, 0, 0), user, host,
           port, sec, folder, queue);
    PQclear(r);
    return 0;
}

/* ---- API tokens and the audit chain ----------------------------------- */

static int cmd_token(struct ctl *ctl, int argc, char **argv)
{
    const char *name = "atumctl", *email = NULL, *days = NULL, *e = NULL;
    if (argc < 2 || strcmp(argv[0], "add") != 0) {
        usage(stderr);
        return 2;
    }
    email = argv[1];
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--name") == 0 && i + 1 < argc) {
            name = argv[++i];
        } else if (strcmp(argv[i], "--days") == 0 && i + 1 < argc) {
            days = argv[++i];
        } else {
            usage(stderr);
            return 2;
        }
    }
    long long d = 0;
    if (days && (conf_parse_int(days, &d) < 0 || d < 1 || d > 3650))
        return fail("token", "--days must be from 1 to 3650");
    if (ctl->cfg->secret_key == NULL || ctl->cfg->secret_key[0] == '\0')
        return fail("token", "core.secret_key (ATUM_CORE_SECRET_KEY) must be set, and be the "
                    "one atumd uses");
    if (name[0] == '\0' || strlen(name) > 100)
        return fail("token", "--name must have 1 to 100 characters");
    char tok[TOKEN_MAX], h[TOKEN_HASH_HEX], prefix[16];
    if (token_new("atum_", tok, sizeof(tok), &e) < 0)
        return fail("token", e);
    token_hash(ctl->cfg->secret_key, tok, strlen(tok), h);
    snprintf(prefix, sizeof(prefix), "%.12s", tok);
    if (db_begin(ctl->db, &e) < 0)
        return fail("token", e);
    /* every token expires: --days, or auth.token_lifetime */
    char life_ms[32];
    snprintf(life_ms, sizeof(life_ms), "%lld", days ? d * 86400000LL : ctl->cfg->auth_token_lifetime_ms);
    const char *p[] = { email, name, h, prefix, life_ms };
    PGresult *r = db_exec(ctl->db,
        "INSERT INTO api_tokens (user_id, name, token_hash, prefix, expires_at)"
        " SELECT id, $2, $3, $4, now() + $5::bigint * interval '1 millisecond' FROM users"
        "  WHERE email_canonical(email) = email_canonical($1) AND NOT disabled RETURNING id, user_id", 5, p, &e);
    if (r == NULL || PQntuples(r) != 1) {
        PQclear(r);
        db_rollback(ctl->db);
        return fail("token", e ? e : "no such (enabled) user");
    }
    char target[40], detail[160];
    snprintf(target, sizeof(target), "token:%s", PQgetvalue(r, 0, 0));
    json_t *dj = json_pack("{s:s, s:s}", "name", name, "prefix", prefix);
    char *ds = json_dumps(dj, JSON_COMPACT);
    snprintf(detail, sizeof(detail), "%s", ds ? ds : "{}");
    free(ds);
    json_decref(dj);
    long long uid = atoll(PQgetvalue(r, 0, 1));
    PQclear(r);
    if (audit_append(ctl->db, uid, "atumctl", "token.create", target, detail, NULL, &e) < 0
        || db_commit(ctl->db, &e) < 0) {
        db_rollback(ctl->db);
        return fail("token", e);
    }
    puts(tok);
    return 0;
}

static int cmd_audit(struct ctl *ctl, int argc, char **argv)
{
    const char *e = NULL;
    if (argc != 1 || strcmp(argv[0], "verify") != 0) {
        usage(stderr);
        return 2;
    }
    long long rows = 0, bad = 0;
    char why[256];
    if (audit_verify(ctl->db, &rows, &bad, why, sizeof(why), &e) < 0)
        return fail("audit verify", e);
    if (ctl->json) {
        json_t *o = json_pack("{s:b, s:I}", "ok", bad == 0, "rows", (json_int_t)rows);
        if (bad) {
            json_object_set_new(o, "first_bad_seq", json_integer(bad));
            json_object_set_new(o, "reason", json_string(why));
        }
        print_json(o);
    } else if (bad == 0) {
        printf("audit log intact: %lld rows, hash chain verified\n", rows);
    } else {
        printf("audit log TAMPERED: %s (first bad seq %lld)\n", why, bad);
    }
    return bad == 0 ? 0 : 1;
}

/* ---- main ------------------------------------------------------------- */

struct command {
    const char *name;
    int (*run)(struct ctl *ctl, int argc, char **argv);
    bool needs_db;
};

static const struct command commands[] = {
    { "migrate", cmd_migrate, true },
    { "status", cmd_status, true },
    { "user", cmd_user, true },
    { "queue", cmd_queue, true },
    { "inject", cmd_inject, true },
    { "jobs", cmd_jobs, true },
    { "plugins", cmd_plugins, false },
    { "inbound", cmd_inbound, true },
    { "reprocess", cmd_reprocess, true },
    { "parse", cmd_parse, false },
    { "mailbox", cmd_mailbox, true },
    { "token", cmd_token, true },
    { "audit", cmd_audit, true },
    { "outbox", ctl_outbox, true },
    { "template", ctl_template, true },
};

int main(int argc, char **argv)
{
    const char *conf_path = getenv("ATUM_CONFIG") ? getenv("ATUM_CONFIG") : SYSCONF_FILE;
    struct ctl ctl = { NULL, NULL, false };
    const char *e = NULL;
    int i = 1;

    log_init("atumctl");
    (void)log_configure(LOG_LEVEL_WARN, "stderr", &e);
    for (; i < argc && argv[i][0] == '-'; i++) {
        if ((strcmp(argv[i], "-c") == 0 || strcmp(argv[i], "--config") == 0) && i + 1 < argc) {
            conf_path = argv[++i];
        } else if (strcmp(argv[i], "--json") == 0) {
            ctl.json = true;
        } else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            usage(stdout);
            return 0;
        } else if (strcmp(argv[i], "-V") == 0 || strcmp(argv[i], "--version") == 0) {
            printf("atumctl %s\n", PACKAGE_VERSION);
            return 0;
        } else {
            usage(stderr);
            return 2;
        }
    }
    if (i >= argc) {
        usage(stderr);
        return 2;
    }
    const struct command *cmd = NULL;
    for (size_t k = 0; k < sizeof(commands) / sizeof(commands[0]); k++)
        if (strcmp(commands[k].name, argv[i]) == 0)
            cmd = &commands[k];
    if (cmd == NULL) {
        fprintf(stderr, "atumctl: unknown command '%s'\n", argv[i]);
        usage(stderr);
        return 2;
    }
    ctl.cfg = conf_load(conf_path, &e);
    if (ctl.cfg == NULL) {
        fprintf(stderr, "atumctl: %s\n", e);
        return 78;
    }
    int rc = 1;
    if (cmd->needs_db) {
        struct db_params p = {
            .url = ctl.cfg->database_url,
            .application_name = "atumctl",
            .connect_timeout_ms = ctl.cfg->connect_timeout_ms,
            .statement_timeout_ms = ctl.cfg->statement_timeout_ms,
            .reconnect_max_ms = ctl.cfg->reconnect_max_ms,
        };
        ctl.db = db_conn_new(&p);
        if (db_conn_connect(ctl.db, &e) < 0) {
            rc = fail("database", e);
            goto out;
        }
    }
    rc = cmd->run(&ctl, argc - i - 1, argv + i + 1);
out:
    db_conn_free(&ctl.db);
    conf_free(&ctl.cfg);
    return rc;
}
