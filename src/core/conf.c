/* core/conf.c -- the INI parser, the declared key tables and the core's own
 * keys; see core/conf.h. */
#include "config.h"
#include "core/conf.h"
#include "lib/err.h"
#include "lib/log.h"
#include "lib/xalloc.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* The core's own keys ([core], [db], [queue]); the floors above declare
 * theirs in their own tables (conf_declare), the programs wire them in. */
static const struct conf_key core_keys[] = {
    { "core", "database_url", CONF_STR, CONF_OFF(database_url), "postgresql:///atum", 0, 0, NULL, CONF_RESTART },
    { "core", "node_name", CONF_STR, CONF_OFF(node_name), NULL, 0, 0, NULL, CONF_RESTART },
    { "core", "workers", CONF_INT, CONF_OFF(workers), "8", 1, 256, NULL, CONF_RESTART },
    { "core", "plugin_dir", CONF_STR, CONF_OFF(plugin_dir), PLUGIN_DIR, 0, 0, NULL, CONF_LIVE },
    { "core", "log_level", CONF_ENUM, CONF_OFF(log_level), "info", 0, 0, "debug|info|warn|error", CONF_LIVE },
    { "core", "log_target", CONF_ENUM, CONF_OFF(log_target), "stderr", 0, 0, "stderr|syslog", CONF_LIVE },
    { "core", "shutdown_timeout", CONF_DURATION, CONF_OFF(shutdown_timeout_ms), "30s", 0, 3600000LL, NULL, CONF_LIVE },
    { "core", "secret_key", CONF_STR, CONF_OFF(secret_key), NULL, 0, 0, NULL, CONF_RESTART },
    { "core", "public_url", CONF_STR, CONF_OFF(public_url), "http://127.0.0.1:8080", 0, 0, NULL, CONF_LIVE },
    { "db", "pool_size", CONF_INT, CONF_OFF(pool_size), "4", 1, 256, NULL, CONF_RESTART },
    { "db", "connect_timeout", CONF_DURATION, CONF_OFF(connect_timeout_ms), "5s", 1000, 600000, NULL, CONF_RESTART },
    { "db", "statement_timeout", CONF_DURATION, CONF_OFF(statement_timeout_ms), "60s", 0, 86400000LL, NULL, CONF_RESTART },
    { "db", "reconnect_max", CONF_DURATION, CONF_OFF(reconnect_max_ms), "30s", 100, 3600000LL, NULL, CONF_RESTART },
    { "queue", "batch_size", CONF_INT, CONF_OFF(batch_size), "32", 1, 1000, NULL, CONF_RESTART },
    { "queue", "lease", CONF_DURATION, CONF_OFF(lease_ms), "5m", 1000, 86400000LL, NULL, CONF_RESTART },
    { "queue", "poll_interval", CONF_DURATION, CONF_OFF(poll_interval_ms), "2s", 10, 3600000LL, NULL, CONF_RESTART },
    { "queue", "max_attempts", CONF_INT, CONF_OFF(max_attempts), "10", 1, 1000, NULL, CONF_LIVE },
    { "queue", "backoff_max", CONF_DURATION, CONF_OFF(backoff_max_ms), "6h", 1000, 30LL * 86400000LL, NULL, CONF_RESTART },
    { "queue", "keep_done", CONF_DURATION, CONF_OFF(keep_done_ms), "1d", 0, 365LL * 86400000LL, NULL, CONF_RESTART },
    { "queue", "prune_batch", CONF_INT, CONF_OFF(prune_batch), "5000", 1, 1000000, NULL, CONF_LIVE },
    { "queue", "maintenance_interval", CONF_DURATION, CONF_OFF(maintenance_interval_ms), "5s", 100, 3600000LL, NULL, CONF_LIVE },
};
static const struct conf_table core_table = { "core", core_keys, sizeof(core_keys) / sizeof(core_keys[0]) };

#define MAX_TABLES 16

/* The configuration subsystem's state: the declared tables.  Filled at
 * start-up, before any thread exists; read-only afterwards. */
static struct {
    const struct conf_table *v[MAX_TABLES];
    size_t n;
} schema = { { &core_table }, 1 };

void conf_declare(const struct conf_table *t)
{
    for (size_t i = 0; i < schema.n; i++)
        if (schema.v[i] == t)
            return;
    if (schema.n < MAX_TABLES)
        schema.v[schema.n++] = t;
}

/* Every declared key, in declaration order: FOR_KEYS(k) { ... } */
#define FOR_KEYS(k, t) \
    for (size_t _t = 0; _t < schema.n; _t++) \
        for (const struct conf_table *t = schema.v[_t]; t; t = NULL) \
            for (const struct conf_key *k = t->keys; k < t->keys + t->n; k++)

static size_t key_count(void)
{
    size_t n = 0;
    for (size_t i = 0; i < schema.n; i++)
        n += schema.v[i]->n;
    return n;
}

/* ---- value parsers ---------------------------------------------------- */

int conf_parse_int(const char *s, long long *r)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0')
        return -1;
    *r = v;
    return 0;
}

int conf_parse_bool(const char *s, bool *r)
{
    static const char *const yes[] = { "yes", "true", "on", "1" };
    static const char *const no[] = { "no", "false", "off", "0" };
    for (size_t i = 0; i < 4; i++) {
        if (strcasecmp(s, yes[i]) == 0) { *r = true; return 0; }
        if (strcasecmp(s, no[i]) == 0) { *r = false; return 0; }
    }
    return -1;
}

/* Number followed by an optional unit from a table of multipliers. */
static int parse_with_unit(const char *s, const char *const *units,
                           const long long *mult, size_t nunits, long long dflt_mult,
                           long long *r)
{
    char *end;
    errno = 0;
    if (*s == '-' || !isdigit((unsigned char)*s))
        return -1;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno != 0)
        return -1;
    while (*end == ' ')
        end++;
    long long m = -1;
    if (*end == '\0') {
        m = dflt_mult;
    } else {
        for (size_t i = 0; i < nunits; i++) {
            if (strcasecmp(end, units[i]) == 0) {
                m = mult[i];
                break;
            }
        }
    }
    if (m < 0 || v > (unsigned long long)(LLONG_MAX / m))
        return -1;
    *r = (long long)v * m;
    return 0;
}

int conf_parse_duration_ms(const char *s, long long *r)
{
    static const char *const units[] = { "ms", "s", "m", "h", "d" };
    static const long long mult[] = { 1, 1000, 60000, 3600000, 86400000 };
    return parse_with_unit(s, units, mult, 5, 1000, r);
}

int conf_parse_size(const char *s, long long *r)
{
    static const char *const units[] = { "B", "K", "KB", "M", "MB", "G", "GB" };
    static const long long mult[] = { 1, 1LL << 10, 1LL << 10, 1LL << 20, 1LL << 20, 1LL << 30, 1LL << 30 };
    return parse_with_unit(s, units, mult, 7, 1, r);
}

static bool enum_has(const char *choices, const char *v)
{
    size_t n = strlen(v);
    const char *p = choices;
    while (*p) {
        const char *bar = strchr(p, '|');
        size_t len = bar ? (size_t)(bar - p) : strlen(p);
        if (len == n && strncmp(p, v, n) == 0)
            return true;
        if (!bar)
            break;
        p = bar + 1;
    }
    return false;
}

static void describe_limits(const struct conf_key *d, char *buf, size_t size)
{
    switch (d->type) {
    case CONF_INT:
        snprintf(buf, size, "an integer from %lld to %lld", d->min, d->max);
        break;
    case CONF_DURATION:
        snprintf(buf, size, "a duration from %lldms to %lldms (e.g. 250ms, 30s, 5m, 2h, 3d)",
                 d->min, d->max);
        break;
    case CONF_SIZE:
        snprintf(buf, size, "a size from %lld to %lld bytes (e.g. 512K, 25M)", d->min, d->max);
        break;
    case CONF_BOOL:
        snprintf(buf, size, "yes or no");
        break;
    case CONF_ENUM:
        snprintf(buf, size, "one of %s", d->choices);
        break;
    case CONF_STR:
        snprintf(buf, size, "a string");
        break;
    }
}

/* Stores value into cfg per its definition.  `where` names the origin for
 * error text ("file:12" or "environment ATUM_CORE_WORKERS"). */
static int def_apply(const struct conf_key *d, struct atum_config *cfg, const char *value,
                     const char *where, const char **error_r)
{
    char *base = (char *)cfg + d->offset;
    long long v = 0;
    bool b;
    char limits[160];

    switch (d->type) {
    case CONF_STR:
    case CONF_ENUM:
        if (d->type == CONF_ENUM && !enum_has(d->choices, value))
            goto bad;
        free(*(char **)base);
        *(char **)base = xstrdup(value);
        return 0;
    case CONF_INT:
        if (conf_parse_int(value, &v) < 0 || v < d->min || v > d->max)
            goto bad;
        *(int *)base = (int)v;
        return 0;
    case CONF_BOOL:
        if (conf_parse_bool(value, &b) < 0)
            goto bad;
        *(bool *)base = b;
        return 0;
    case CONF_DURATION:
        if (conf_parse_duration_ms(value, &v) < 0 || v < d->min || v > d->max)
            goto bad;
        *(long long *)base = v;
        return 0;
    case CONF_SIZE:
        if (conf_parse_size(value, &v) < 0 || v < d->min || v > d->max)
            goto bad;
        *(long long *)base = v;
        return 0;
    }
bad:
    describe_limits(d, limits, sizeof(limits));
    return err_set(error_r, "%s: %s.%s must be %s, not '%s'", where, d->section, d->key,
                   limits, value);
}

/* The key and its index among all declared keys (for duplicate checks). */
static const struct conf_key *def_find(const char *section, const char *key, size_t *idx_r)
{
    size_t idx = 0;
    FOR_KEYS(k, t) {
        if (strcmp(k->section, section) == 0 && strcmp(k->key, key) == 0) {
            *idx_r = idx;
            return k;
        }
        idx++;
    }
    return NULL;
}

static bool section_known(const char *section)
{
    FOR_KEYS(k, t) {
        if (strcmp(k->section, section) == 0)
            return true;
    }
    return false;
}

void conf_env_name(char *buf, size_t size, const char *section, const char *key)
{
    size_t n = 0;
    const char *parts[3] = { "ATUM_", section, key };
    for (int p = 0; p < 3; p++) {
        for (const char *s = parts[p]; *s && n + 1 < size; s++) {
            char c = *s;
            buf[n++] = (c == '.' || c == '-') ? '_' : (char)toupper((unsigned char)c);
        }
        if (p == 1 && n + 1 < size)
            buf[n++] = '_';
    }
    buf[n] = '\0';
}

/* ---- the file --------------------------------------------------------- */

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r' || s[n - 1] == '\n'))
        s[--n] = '\0';
    return s;
}

/* Value after '=': "quoted" (with \" and \\) or bare up to a comment. */
static int parse_value(char *raw, char **value_r)
{
    char *v = trim(raw);
    if (*v == '"') {
        char *out = v, *in = v + 1;
        while (*in && *in != '"') {
            if (*in == '\\' && (in[1] == '"' || in[1] == '\\'))
                in++;
            *out++ = *in++;
        }
        if (*in != '"')
            return -1;
        char *rest = trim(in + 1);
        if (*rest != '\0' && *rest != '#' && *rest != ';')
            return -1;
        *out = '\0';
        *value_r = v;
        return 0;
    }
    /* a comment starts at " #" or " ;" so URLs with '#' inside survive */
    for (char *p = v; *p; p++) {
        if ((*p == '#' || *p == ';') && (p == v || p[-1] == ' ' || p[-1] == '\t')) {
            *p = '\0';
            break;
        }
    }
    *value_r = trim(v);
    return 0;
}

static bool valid_plugin_name(const char *s)
{
    if (*s == '\0' || strlen(s) > 64)
        return false;
    for (; *s; s++)
        if (!(islower((unsigned char)*s) || isdigit((unsigned char)*s) || *s == '_'))
            return false;
    return true;
}

static struct atum_config *config_new_defaults(const char **error_r)
{
    struct atum_config *cfg = xcalloc(1, sizeof(*cfg));
    FOR_KEYS(k, t) {
        if (k->def == NULL)
            continue;
        if (def_apply(k, cfg, k->def, "default", error_r) < 0) {
            conf_free(&cfg);
            return NULL;
        }
    }
    return cfg;
}

static int apply_environment(struct atum_config *cfg, const char **error_r)
{
    char name[128], where[160];
    FOR_KEYS(k, t) {
        conf_env_name(name, sizeof(name), k->section, k->key);
        const char *v = getenv(name);
        if (v == NULL)
            continue;
        snprintf(where, sizeof(where), "environment %s", name);
        if (def_apply(k, cfg, v, where, error_r) < 0)
            return -1;
    }
    return 0;
}

static int plugin_add_kv(struct conf_plugin *p, const char *key, const char *value, int line,
                         const char *path, const char **error_r)
{
    if (strcmp(key, "enabled") == 0) {
        if (conf_parse_bool(value, &p->enabled) < 0)
            return err_set(error_r, "%s:%d: plugin.%s.enabled must be yes or no, not '%s'",
                           path, line, p->name, value);
        return 0;
    }
    if (strcmp(key, "path") == 0) {
        free(p->path);
        p->path = xstrdup(value);
        return 0;
    }
    for (size_t i = 0; i < p->nkv; i++)
        if (strcmp(p->kv[i].key, key) == 0)
            return err_set(error_r, "%s:%d: plugin.%s.%s is set twice (first on line %d)",
                           path, line, p->name, key, p->kv[i].line);
    p->kv = xrealloc(p->kv, (p->nkv + 1) * sizeof(*p->kv));
    p->kv[p->nkv].key = xstrdup(key);
    p->kv[p->nkv].value = xstrdup(value);
    p->kv[p->nkv].line = line;
    p->nkv++;
    return 0;
}

struct atum_config *conf_defaults(const char **error_r)
{
    struct atum_config *cfg = config_new_defaults(error_r);
    if (cfg == NULL)
        return NULL;
    if (apply_environment(cfg, error_r) < 0) {
        conf_free(&cfg);
        return NULL;
    }
    return cfg;
}

struct atum_config *conf_load(const char *path, const char **error_r)
{
    FILE *f = NULL;
    struct atum_config *cfg = NULL;
    char *line = NULL;
    size_t cap = 0;
    int lineno = 0;
    char section[96] = "";
    struct conf_plugin *cur_plugin = NULL;
    /* which line set each key, to refuse duplicates */
    int *set_on = xcalloc(key_count() + 1, sizeof(*set_on));

    f = fopen(path, "r");
    if (f == NULL) {
        err_set(error_r, "%s: cannot read configuration: %s", path, strerror(errno));
        goto fail;
    }
    cfg = config_new_defaults(error_r);
    if (cfg == NULL)
        goto fail;
    cfg->path = xstrdup(path);

    while (getline(&line, &cap, f) >= 0) {
        lineno++;
        if (strlen(line) > 8192) {
            err_set(error_r, "%s:%d: line too long", path, lineno);
            goto fail;
        }
        char *s = trim(line);
        if (*s == '\0' || *s == '#' || *s == ';')
            continue;
        if (*s == '[') {
            char *close = strchr(s, ']');
            if (close == NULL || *trim(close + 1) != '\0') {
                err_set(error_r, "%s:%d: malformed section header '%s'", path, lineno, s);
                goto fail;
            }
            *close = '\0';
            char *name = trim(s + 1);
            cur_plugin = NULL;
            if (strncmp(name, "plugin.", 7) == 0) {
                const char *pname = name + 7;
                if (!valid_plugin_name(pname)) {
                    err_set(error_r, "%s:%d: plugin name '%s' must be [a-z0-9_]+", path, lineno, pname);
                    goto fail;
                }
                if (conf_plugin_find(cfg, pname) != NULL) {
                    err_set(error_r, "%s:%d: section [plugin.%s] appears twice", path, lineno, pname);
                    goto fail;
                }
                cfg->plugins = xrealloc(cfg->plugins, (cfg->nplugins + 1) * sizeof(*cfg->plugins));
                cur_plugin = &cfg->plugins[cfg->nplugins++];
                memset(cur_plugin, 0, sizeof(*cur_plugin));
                cur_plugin->name = xstrdup(pname);
                cur_plugin->enabled = true;
                cur_plugin->line = lineno;
            } else if (!section_known(name)) {
                err_set(error_r, "%s:%d: unknown section [%s]", path, lineno, name);
                goto fail;
            }
            snprintf(section, sizeof(section), "%s", name);
            continue;
        }
        char *eq = strchr(s, '=');
        if (eq == NULL) {
            err_set(error_r, "%s:%d: expected 'key = value', got '%s'", path, lineno, s);
            goto fail;
        }
        *eq = '\0';
        char *key = trim(s);
        char *value;
        if (*key == '\0') {
            err_set(error_r, "%s:%d: missing key before '='", path, lineno);
            goto fail;
        }
        if (parse_value(eq + 1, &value) < 0) {
            err_set(error_r, "%s:%d: unterminated or malformed quoted value for '%s'", path, lineno, key);
            goto fail;
        }
        if (section[0] == '\0') {
            err_set(error_r, "%s:%d: key '%s' outside of any [section]", path, lineno, key);
            goto fail;
        }
        if (cur_plugin != NULL) {
            if (plugin_add_kv(cur_plugin, key, value, lineno, path, error_r) < 0)
                goto fail;
            continue;
        }
        size_t idx = 0;
        const struct conf_key *d = def_find(section, key, &idx);
        if (d == NULL) {
            err_set(error_r, "%s:%d: unknown key '%s' in [%s]", path, lineno, key, section);
            goto fail;
        }
        if (set_on[idx] != 0) {
            err_set(error_r, "%s:%d: %s.%s is set twice (first on line %d)", path, lineno,
                    section, key, set_on[idx]);
            goto fail;
        }
        set_on[idx] = lineno;
        char where[600];
        snprintf(where, sizeof(where), "%s:%d", path, lineno);
        if (def_apply(d, cfg, value, where, error_r) < 0)
            goto fail;
    }
    if (ferror(f)) {
        err_set(error_r, "%s: read error: %s", path, strerror(errno));
        goto fail;
    }
    if (apply_environment(cfg, error_r) < 0)
        goto fail;
    free(line);
    free(set_on);
    fclose(f);
    return cfg;

fail:
    free(line);
    free(set_on);
    if (f != NULL)
        fclose(f);
    conf_free(&cfg);
    return NULL;
}

const struct conf_plugin *conf_plugin_find(const struct atum_config *cfg, const char *name)
{
    for (size_t i = 0; i < cfg->nplugins; i++)
        if (strcmp(cfg->plugins[i].name, name) == 0)
            return &cfg->plugins[i];
    return NULL;
}

void conf_foreach_key(void (*fn)(const char *section, const char *key, void *ctx), void *ctx)
{
    FOR_KEYS(k, t) {
        fn(k->section, k->key, ctx);
    }
}

static bool value_equal(const struct conf_key *k, const struct atum_config *a,
                        const struct atum_config *b)
{
    const char *pa = (const char *)a + k->offset, *pb = (const char *)b + k->offset;
    switch (k->type) {
    case CONF_STR:
    case CONF_ENUM: {
        const char *sa = *(char *const *)pa, *sb = *(char *const *)pb;
        return (sa == NULL && sb == NULL) || (sa && sb && strcmp(sa, sb) == 0);
    }
    case CONF_INT:
        return *(const int *)pa == *(const int *)pb;
    case CONF_BOOL:
        return *(const bool *)pa == *(const bool *)pb;
    case CONF_DURATION:
    case CONF_SIZE:
        return *(const long long *)pa == *(const long long *)pb;
    }
    return true;
}

int conf_changes(const struct atum_config *a, const struct atum_config *b,
                 void (*fn)(const struct conf_key *k, const char *owner, void *arg), void *arg)
{
    int n = 0;
    FOR_KEYS(k, t) {
        if (!value_equal(k, a, b)) {
            fn(k, t->owner, arg);
            n++;
        }
    }
    return n;
}

void conf_free(struct atum_config **cfgp)
{
    struct atum_config *cfg = *cfgp;
    if (cfg == NULL)
        return;
    FOR_KEYS(k, t) {
        if (k->type == CONF_STR || k->type == CONF_ENUM)
            free(*(char **)((char *)cfg + k->offset));
    }
    for (size_t i = 0; i < cfg->nplugins; i++) {
        struct conf_plugin *p = &cfg->plugins[i];
        for (size_t k = 0; k < p->nkv; k++) {
            free(p->kv[k].key);
            free(p->kv[k].value);
        }
        free(p->kv);
        free(p->name);
        free(p->path);
    }
    free(cfg->plugins);
    free(cfg->path);
    free(cfg);
    *cfgp = NULL;
}
