/*
 * ctl/ctl.h -- what atumctl's command files share: the connected context
 * and the output helpers of ctl/atumctl.c.  A command takes the arguments after
 * its name and returns the exit code: 0 ok, 1 failed, 2 usage.
 */
#ifndef ATUM_CTL_CTL_H
#define ATUM_CTL_CTL_H

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include "core/conf.h"
#include "core/db.h"

struct ctl {
    struct atum_config *cfg;
    struct db_conn *db;
    bool json;
};

/* "atumctl: what: e" on stderr; returns 1. */
int ctl_fail(const char *what, const char *e);
/* Runs a parametrised query and prints the rows (a table, or JSON). */
int ctl_query_print(struct ctl *ctl, const char *sql, int n, const char *const *params);
/* The usage text (atumctl --help). */
void ctl_usage(FILE *out);
/* The rows of a result as a JSON array of objects. */
json_t *ctl_rows_json(const PGresult *r);
/* Prints and releases v. */
void ctl_print_json(json_t *v);

/* The commands, by group: each takes the arguments after its name. */
/* ctl/ctl_system.c */
int ctl_migrate(struct ctl *ctl, int argc, char **argv);
int ctl_status(struct ctl *ctl, int argc, char **argv);
int ctl_jobs(struct ctl *ctl, int argc, char **argv);
int ctl_plugins(struct ctl *ctl, int argc, char **argv);
int ctl_audit(struct ctl *ctl, int argc, char **argv);
/* ctl/ctl_directory.c */
int ctl_user(struct ctl *ctl, int argc, char **argv);
int ctl_queue(struct ctl *ctl, int argc, char **argv);
int ctl_mailbox(struct ctl *ctl, int argc, char **argv);
int ctl_token(struct ctl *ctl, int argc, char **argv);
/* ctl/ctl_mail.c */
int ctl_inject(struct ctl *ctl, int argc, char **argv);
int ctl_inbound(struct ctl *ctl, int argc, char **argv);
int ctl_reprocess(struct ctl *ctl, int argc, char **argv);
int ctl_parse(struct ctl *ctl, int argc, char **argv);
/* ctl/ctl_plugin.c: commands of the configured plugins (plugin.h's
 * struct atum_command); argv[0] is the command's name. */
bool ctl_plugin_has_command(struct ctl *ctl, const char *name);
int ctl_plugin_command(struct ctl *ctl, int argc, char **argv);
void ctl_plugin_usage(struct ctl *ctl, FILE *out);

/* ctl/ctl_outbox.c */
int ctl_outbox(struct ctl *ctl, int argc, char **argv);
int ctl_template(struct ctl *ctl, int argc, char **argv);

#endif
