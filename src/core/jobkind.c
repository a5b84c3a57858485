/* core/jobkind.c -- see core/jobkind.h. */
#include "config.h"
#include "core/jobkind.h"
#include "lib/err.h"
#include "core/jobs.h"
#include "lib/xalloc.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int jobkind_event_valid(const char *event)
{
    if (event == NULL || *event == '\0' || strlen(event) > 48)
        return 0;
    int dots = 0;
    for (const char *p = event; *p; p++) {
        if (*p == '.')
            dots++;
        else if (!(islower((unsigned char)*p) || isdigit((unsigned char)*p) || *p == '_'))
            return 0;
    }
    return dots > 0 && event[0] != '.' && event[strlen(event) - 1] != '.';
}

static int add(struct jobkind_registry *reg, const char *kind, const char *owner,
               const char *event, jobkind_run_fn run, void *state, int max_attempts,
               long long lease_ms, const char **error_r)
{
    if (!jobs_kind_valid(kind))
        return err_set(error_r, "invalid job kind name '%s'", kind);
    if (run == NULL)
        return err_set(error_r, "job kind '%s' has no run function", kind);
    const struct jobkind *dup = jobkind_find(reg, kind);
    if (dup != NULL)
        return err_set(error_r, "job kind '%s' is already registered by %s", kind, dup->owner);
    reg->v = xrealloc(reg->v, (reg->n + 1) * sizeof(*reg->v));
    struct jobkind *k = &reg->v[reg->n++];
    k->kind = xstrdup(kind);
    k->owner = xstrdup(owner);
    k->event = event ? xstrdup(event) : NULL;
    k->run = run;
    k->state = state;
    k->max_attempts = max_attempts;
    k->lease_ms = lease_ms;
    k->quiet = false;
    return 0;
}

int jobkind_register(struct jobkind_registry *reg, const char *kind, const char *owner,
                     jobkind_run_fn run, void *state, int max_attempts, long long lease_ms,
                     const char **error_r)
{
    if (max_attempts < 0 || max_attempts > 1000)
        return err_set(error_r, "job kind '%s': max_attempts %d out of range", kind, max_attempts);
    if (lease_ms < 0)
        return err_set(error_r, "job kind '%s': negative lease", kind);
    return add(reg, kind, owner, NULL, run, state, max_attempts, lease_ms, error_r);
}

int jobkind_register_hook(struct jobkind_registry *reg, const char *plugin, const char *event,
                          jobkind_run_fn run, void *state, const char **error_r)
{
    return jobkind_register_hook_ex(reg, plugin, event, run, state, false, error_r);
}

int jobkind_register_hook_ex(struct jobkind_registry *reg, const char *plugin, const char *event,
                             jobkind_run_fn run, void *state, bool quiet, const char **error_r)
{
    if (!jobkind_event_valid(event))
        return err_set(error_r, "plugin %s: invalid event name '%s'", plugin, event ? event : "(null)");
    char kind[JOBS_KIND_MAX + 8];
    int n = snprintf(kind, sizeof(kind), "hook.%s.%s", plugin, event);
    if (n < 0 || (size_t)n > JOBS_KIND_MAX)
        return err_set(error_r, "plugin %s: hook kind for '%s' longer than %d characters",
                       plugin, event, JOBS_KIND_MAX);
    if (add(reg, kind, plugin, event, run, state, 0, 0, error_r) < 0)
        return -1;
    reg->v[reg->n - 1].quiet = quiet;
    return 0;
}

const struct jobkind *jobkind_find(const struct jobkind_registry *reg, const char *kind)
{
    for (size_t i = 0; i < reg->n; i++)
        if (strcmp(reg->v[i].kind, kind) == 0)
            return &reg->v[i];
    return NULL;
}

static void kind_free(struct jobkind *k)
{
    free(k->kind);
    free(k->owner);
    free(k->event);
}

void jobkind_remove_owner(struct jobkind_registry *reg, const char *owner)
{
    size_t out = 0;
    for (size_t i = 0; i < reg->n; i++) {
        if (strcmp(reg->v[i].owner, owner) == 0)
            kind_free(&reg->v[i]);
        else
            reg->v[out++] = reg->v[i];
    }
    reg->n = out;
}

void jobkind_registry_free(struct jobkind_registry *reg)
{
    for (size_t i = 0; i < reg->n; i++)
        kind_free(&reg->v[i]);
    free(reg->v);
    reg->v = NULL;
    reg->n = 0;
}
