/*
 * ctl/atumctl.c -- the admin command line.
 *
 * Each command is one function taking the remaining arguments and a
 * connected struct ctl; it prints a result for people (or JSON with
 * --json) and returns the process exit code: 0 ok, 1 failed, 2 usage.
 * The commands live in one file per group (ctl_system.c, ctl_directory.c,
 * ctl_mail.c, ctl_outbox.c); this file holds the dispatch and the output
 * helpers they share.  Everything a command changes goes through the same
 * modules atumd uses (the desk domain, mail-in's store, the job queue,
 * migrations), so the rules -- validation, audit rows, one NOTIFY per
 * transaction -- are the same.
 */
#include "config.h"
#include "ctl/ctl.h"
#include "core/conf.h"
#include "core/db.h"
#include "mailin/mailin_conf.h"
#include "mailout/mailout_conf.h"
#include "desk/portal_conf.h"
#include "web/web_conf.h"
#include "lib/log.h"
#include "lib/strbuf.h"
#include "lib/xalloc.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int fail(const char *what, const char *e)
{
    fprintf(stderr, "atumctl: %s: %s\n", what, e ? e : "failed");
    return 1;
}

void ctl_usage(FILE *out)
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
json_t *ctl_rows_json(const PGresult *r)
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
        print_json(ctl_rows_json(r));
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


/* ---- migrate ---------------------------------------------------------- */


/* ---- status ----------------------------------------------------------- */


/* ---- users ------------------------------------------------------------ */


/* ---- queues ----------------------------------------------------------- */


/* ---- inject ----------------------------------------------------------- */


/* ---- jobs ------------------------------------------------------------- */


/* ---- plugins ---------------------------------------------------------- */


/* ---- received mail ---------------------------------------------------- */







/* ---- IMAP mailboxes --------------------------------------------------- */


/* ---- API tokens and the audit chain ----------------------------------- */



/* ---- main ------------------------------------------------------------- */

struct command {
    const char *name;
    int (*run)(struct ctl *ctl, int argc, char **argv);
    bool needs_db;
};

static const struct command commands[] = {
    { "migrate", ctl_migrate, true },
    { "status", ctl_status, true },
    { "user", ctl_user, true },
    { "queue", ctl_queue, true },
    { "inject", ctl_inject, true },
    { "jobs", ctl_jobs, true },
    { "plugins", ctl_plugins, false },
    { "inbound", ctl_inbound, true },
    { "reprocess", ctl_reprocess, true },
    { "parse", ctl_parse, false },
    { "mailbox", ctl_mailbox, true },
    { "token", ctl_token, true },
    { "audit", ctl_audit, true },
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
            ctl_usage(stdout);
            return 0;
        } else if (strcmp(argv[i], "-V") == 0 || strcmp(argv[i], "--version") == 0) {
            printf("atumctl %s\n", PACKAGE_VERSION);
            return 0;
        } else {
            ctl_usage(stderr);
            return 2;
        }
    }
    if (i >= argc) {
        ctl_usage(stderr);
        return 2;
    }
    const struct command *cmd = NULL;
    for (size_t k = 0; k < sizeof(commands) / sizeof(commands[0]); k++)
        if (strcmp(commands[k].name, argv[i]) == 0)
            cmd = &commands[k];
    /* atumctl reads every floor's keys (a file written for atumd loads) */
    conf_declare(&web_conf_table);
    conf_declare(&mailin_conf_table);
    conf_declare(&mailout_conf_table);
    conf_declare(&portal_conf_table);
    ctl.cfg = conf_load(conf_path, &e);
    if (cmd == NULL && (ctl.cfg == NULL || !ctl_plugin_has_command(&ctl, argv[i]))) {
        fprintf(stderr, "atumctl: unknown command '%s'\n", argv[i]);
        ctl_usage(stderr);
        if (ctl.cfg != NULL)
            ctl_plugin_usage(&ctl, stderr);
        conf_free(&ctl.cfg);
        return 2;
    }
    if (ctl.cfg == NULL) {
        fprintf(stderr, "atumctl: %s\n", e);
        return 78;
    }
    int rc = 1;
    if (cmd == NULL || cmd->needs_db) {
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
    /* a plugin's command gets its own name as argv[0] */
    rc = cmd ? cmd->run(&ctl, argc - i - 1, argv + i + 1) : ctl_plugin_command(&ctl, argc - i, argv + i);
out:
    db_conn_free(&ctl.db);
    conf_free(&ctl.cfg);
    return rc;
}
