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
/* Prints and releases v. */
void ctl_print_json(json_t *v);

/* ctl/ctl_plugin.c: commands of the configured plugins (plugin.h's
 * struct atum_command); argv[0] is the command's name. */
bool ctl_plugin_has_command(struct ctl *ctl, const char *name);
int ctl_plugin_command(struct ctl *ctl, int argc, char **argv);
void ctl_plugin_usage(struct ctl *ctl, FILE *out);

/* ctl/ctl_outbox.c */
int ctl_outbox(struct ctl *ctl, int argc, char **argv);
int ctl_template(struct ctl *ctl, int argc, char **argv);

#endif
