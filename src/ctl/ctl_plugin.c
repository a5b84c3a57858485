/* ctl/ctl_plugin.c -- atumctl commands that plugins provide
 * (struct atum_plugin's `commands`, include/atum/plugin.h).
 *
 * atumctl never links plugin code: for a command it does not know itself
 * it opens each enabled plugin of the configuration, and the first whose
 * descriptor lists the command runs it -- after the core's and the
 * plugin's migrations, with init() given the host table, and fini() and
 * dlclose() afterwards. */
#include "config.h"
#include "core/host_table.h"
#include "core/jobrun.h"
#include "core/migrate.h"
#include "core/plugin_loader.h"
#include "ctl/ctl.h"

#include <dlfcn.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct atum_command *commands_of(const struct atum_plugin *d)
{
    if (d->size < offsetof(struct atum_plugin, commands) + sizeof(void *))
        return NULL;
    return d->commands;
}

/* Opens each enabled plugin and looks for name; *dl_r and *desc_r of the
 * one that has it.  NULL when none does. */
static const struct atum_command *find_command(struct ctl *ctl, const char *name,
                                               const struct conf_plugin **sec_r, void **dl_r,
                                               struct atum_plugin *desc_r)
{
    for (size_t i = 0; i < ctl->cfg->nplugins; i++) {
        const struct conf_plugin *sec = &ctl->cfg->plugins[i];
        if (!sec->enabled)
            continue;
        char *path = plugin_path_for(ctl->cfg, sec);
        const char *e = NULL;
        void *dl = NULL;
        int rc = plugin_open(path, sec->name, &dl, desc_r, &e);
        free(path);
        if (rc < 0)
            continue;
        for (const struct atum_command *c = commands_of(desc_r); c && c->name; c++)
            if (strcmp(c->name, name) == 0) {
                *sec_r = sec;
                *dl_r = dl;
                return c;
            }
        dlclose(dl);
    }
    return NULL;
}

bool ctl_plugin_has_command(struct ctl *ctl, const char *name)
{
    const struct conf_plugin *sec;
    void *dl = NULL;
    struct atum_plugin desc;
    if (find_command(ctl, name, &sec, &dl, &desc) == NULL)
        return false;
    dlclose(dl);
    return true;
}

void ctl_plugin_usage(struct ctl *ctl, FILE *out)
{
    for (size_t i = 0; ctl->cfg && i < ctl->cfg->nplugins; i++) {
        const struct conf_plugin *sec = &ctl->cfg->plugins[i];
        if (!sec->enabled)
            continue;
        char *path = plugin_path_for(ctl->cfg, sec);
        const char *e = NULL;
        void *dl = NULL;
        struct atum_plugin desc;
        int rc = plugin_open(path, sec->name, &dl, &desc, &e);
        free(path);
        if (rc < 0)
            continue;
        for (const struct atum_command *c = commands_of(&desc); c && c->name; c++) {
            const char *u = c->usage ? c->usage : c->name;
            /* one line per form */
            while (*u) {
                size_t n = strcspn(u, "\n");
                fprintf(out, "  %.*s   (plugin %s)\n", (int)n, u, desc.name);
                u += n + (u[n] == '\n');
            }
        }
        dlclose(dl);
    }
}

int ctl_plugin_command(struct ctl *ctl, int argc, char **argv)
{
    const struct conf_plugin *sec = NULL;
    void *dl = NULL;
    struct atum_plugin desc;
    const char *e = NULL;
    const struct atum_command *cmd = find_command(ctl, argv[0], &sec, &dl, &desc);
    if (cmd == NULL) {
        fprintf(stderr, "atumctl: unknown command '%s'\n", argv[0]);
        return 2;
    }
    int rc = 1, applied = 0;
    void *state = NULL;
    bool initialised = false;
    struct atum_conf conf = { desc.name, sec, desc.conf_keys };
    if (plugin_conf_check(sec, desc.conf_keys, ctl->cfg->path, &e) < 0) {
        rc = ctl_fail(desc.name, e);
        goto out;
    }
    if (migrate_apply(ctl->db, "core", core_migrations, &applied, &e) < 0
        || migrate_apply(ctl->db, desc.name, desc.migrations, &applied, &e) < 0) {
        rc = ctl_fail("migrate", e);
        goto out;
    }
    if (desc.init && desc.init(host_table(), &conf, &state) != 0) {
        rc = ctl_fail(desc.name, "init() failed (see the log line above)");
        goto out;
    }
    initialised = true;
    struct atum_db adb = { ctl->db, NULL, desc.name };
    fflush(stdout);
    rc = cmd->run(state, &adb, argc, argv);
    fflush(stdout);
out:
    if (initialised && desc.fini)
        desc.fini(state);
    dlclose(dl);
    return rc;
}
