/* conf.c -- the INI parser and the table of core keys; see conf.h. */
#include "config.h"
#include "conf.h"
#include "err.h"
#include "log.h"
#include "xalloc.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum conf_type { CT_STR, CT_INT, CT_BOOL, CT_DURATION, CT_SIZE, CT_ENUM };

struct conf_def {
    const char *section;
    const char *key;
    enum conf_type type;
    size_t offset;
    const char *def;         /* parsed like a file value; NULL = unset string */
    long long min, max;      /* for int, duration (ms) and size */
    const char *choices;     /* for enum: "a|b|c" */
};

#define OFF(field) offsetof(struct atum_config, field)

/* The single source of truth for core configuration.  The sample file
 * etc/atum-desk.conf.sample documents each row; a unit test keeps them in
 * step. */
static const struct conf_def conf_defs[] = {
    { "core", "database_url", CT_STR, OFF(database_url), "postgresql:///atum", 0, 0, NULL },
    { "core", "node_name", CT_STR, OFF(node_name), NULL, 0, 0, NULL },
    { "core", "workers", CT_INT, OFF(workers), "8", 1, 256, NULL },
    { "core", "plugin_dir", CT_STR, OFF(plugin_dir), PLUGIN_DIR, 0, 0, NULL },
    { "core", "log_level", CT_ENUM, OFF(log_level), "info", 0, 0, "debug|info|warn|error" },
    { "core", "log_target", CT_ENUM, OFF(log_target), "stderr", 0, 0, "stderr|syslog" },
    { "core", "shutdown_timeout", CT_DURATION, OFF(shutdown_timeout_ms), "30s", 0, 3600000LL, NULL },
    { "core", "secret_key", CT_STR, OFF(secret_key), NULL, 0, 0, NULL },
    { "core", "public_url", CT_STR, OFF(public_url), "http://127.0.0.1:8080", 0, 0, NULL },

    { "db", "pool_size", CT_INT, OFF(pool_size), "4", 1, 256, NULL },
    { "db", "connect_timeout", CT_DURATION, OFF(connect_timeout_ms), "5s", 1000, 600000, NULL },
    { "db", "statement_timeout", CT_DURATION, OFF(statement_timeout_ms), "60s", 0, 86400000LL, NULL },
    { "db", "reconnect_max", CT_DURATION, OFF(reconnect_max_ms), "30s", 100, 3600000LL, NULL },

    { "queue", "batch_size", CT_INT, OFF(batch_size), "32", 1, 1000, NULL },
    { "queue", "lease", CT_DURATION, OFF(lease_ms), "5m", 1000, 86400000LL, NULL },
    { "queue", "poll_interval", CT_DURATION, OFF(poll_interval_ms), "2s", 10, 3600000LL, NULL },
    { "queue", "max_attempts", CT_INT, OFF(max_attempts), "10", 1, 1000, NULL },
    { "queue", "backoff_max", CT_DURATION, OFF(backoff_max_ms), "6h", 1000, 30LL * 86400000LL, NULL },
    { "queue", "keep_done", CT_DURATION, OFF(keep_done_ms), "1d", 0, 365LL * 86400000LL, NULL },
    { "queue", "prune_batch", CT_INT, OFF(prune_batch), "5000", 1, 1000000, NULL },
    { "queue", "maintenance_interval", CT_DURATION, OFF(maintenance_interval_ms), "5s", 100, 3600000LL, NULL },

    { "web", "listen", CT_STR, OFF(web_listen), "127.0.0.1:8080", 0, 0, NULL },
    { "web", "threads", CT_INT, OFF(web_threads), "32", 2, 1024, NULL },
    { "web", "max_body", CT_SIZE, OFF(web_max_body), "25M", 1024, 1LL << 32, NULL },
    { "web", "request_timeout", CT_DURATION, OFF(web_request_timeout_ms), "30s", 1000, 3600000LL, NULL },
    { "web", "keep_alive", CT_DURATION, OFF(web_keep_alive_ms), "5s", 0, 600000LL, NULL },
    { "web", "trusted_proxies", CT_STR, OFF(web_trusted_proxies), "", 0, 0, NULL },

    { "auth", "session_idle", CT_DURATION, OFF(auth_session_idle_ms), "2h", 60000, 30LL * 86400000LL, NULL },
    { "auth", "session_lifetime", CT_DURATION, OFF(auth_session_lifetime_ms), "1d", 60000, 365LL * 86400000LL, NULL },
    { "auth", "login_failures_account", CT_INT, OFF(auth_login_failures_account), "5", 1, 1000, NULL },
    { "auth", "login_failures_ip", CT_INT, OFF(auth_login_failures_ip), "50", 1, 100000, NULL },
    { "auth", "login_window", CT_DURATION, OFF(auth_login_window_ms), "15m", 1000, 86400000LL, NULL },
    { "auth", "totp_issuer", CT_STR, OFF(auth_totp_issuer), "ATUM DESK", 0, 0, NULL },
    { "auth", "cookie_secure", CT_ENUM, OFF(auth_cookie_secure), "auto", 0, 0, "auto|yes|no" },

    { "mail", "max_message_size", CT_SIZE, OFF(mail_max_message_size), "25M", 1024, 1LL << 30, NULL },
    { "mail", "max_attachment_size", CT_SIZE, OFF(mail_max_attachment), "25M", 1024, 1LL << 30, NULL },
    { "mail", "max_header_bytes", CT_SIZE, OFF(mail_max_header_bytes), "1M", 1024, 64LL << 20, NULL },
    { "mail", "max_parts", CT_INT, OFF(mail_max_parts), "1000", 1, 100000, NULL },
    { "mail", "default_queue", CT_STR, OFF(mail_default_queue), "", 0, 0, NULL },
    { "mail", "org_by_domain", CT_BOOL, OFF(mail_org_by_domain), "yes", 0, 0, NULL },
    { "mail", "acknowledge", CT_BOOL, OFF(mail_acknowledge), "yes", 0, 0, NULL },
    { "mail", "ack_limit", CT_INT, OFF(mail_ack_limit), "3", 0, 1000, NULL },
    { "mail", "ack_window", CT_DURATION, OFF(mail_ack_window_ms), "1h", 60000, 30LL * 86400000LL, NULL },
    { "mail", "notify_agents", CT_BOOL, OFF(mail_notify_agents), "yes", 0, 0, NULL },
    { "mail", "note_marker", CT_STR, OFF(mail_note_marker), "#note", 0, 0, NULL },
    { "mail", "agent_token_days", CT_INT, OFF(mail_agent_token_days), "90", 1, 3650, NULL },
    { "mail", "compose_lanes", CT_INT, OFF(mail_compose_lanes), "2", 1, 64, NULL },

    { "smarthost", "url", CT_STR, OFF(sh_url), "", 0, 0, NULL },
    { "smarthost", "starttls", CT_BOOL, OFF(sh_starttls), "yes", 0, 0, NULL },
    { "smarthost", "verify_certificate", CT_BOOL, OFF(sh_verify), "yes", 0, 0, NULL },
    { "smarthost", "ca_file", CT_STR, OFF(sh_ca_file), "", 0, 0, NULL },
    { "smarthost", "username", CT_STR, OFF(sh_username), "", 0, 0, NULL },
    { "smarthost", "password", CT_STR, OFF(sh_password), "", 0, 0, NULL },
    { "smarthost", "helo", CT_STR, OFF(sh_helo), "", 0, 0, NULL },
    { "smarthost", "timeout", CT_DURATION, OFF(sh_timeout_ms), "60s", 1000, 3600000LL, NULL },
    { "smarthost", "retry_for", CT_DURATION, OFF(sh_retry_for_ms), "3d", 1000, 30LL * 86400000LL, NULL },
    { "smarthost", "retry_min", CT_DURATION, OFF(sh_retry_min_ms), "1m", 100, 86400000LL, NULL },
    { "smarthost", "retry_max", CT_DURATION, OFF(sh_retry_max_ms), "1h", 100, 7LL * 86400000LL, NULL },

    { "smtp", "listen", CT_STR, OFF(smtp_listen), "", 0, 0, NULL },
    { "smtp", "mode", CT_ENUM, OFF(smtp_mode), "smtp", 0, 0, "smtp|lmtp" },
    { "smtp", "hostname", CT_STR, OFF(smtp_hostname), "", 0, 0, NULL },
    { "smtp", "max_connections", CT_INT, OFF(smtp_max_connections), "100", 1, 10000, NULL },
    { "smtp", "max_connections_per_ip", CT_INT, OFF(smtp_max_connections_per_ip), "10", 1, 10000, NULL },
    { "smtp", "max_junk_commands", CT_INT, OFF(smtp_max_junk_commands), "20", 1, 10000, NULL },
    { "smtp", "max_recipients", CT_INT, OFF(smtp_max_recipients), "100", 1, 10000, NULL },
    { "smtp", "max_line_length", CT_INT, OFF(smtp_max_line), "8192", 1000, 1048576, NULL },
    { "smtp", "idle_timeout", CT_DURATION, OFF(smtp_idle_timeout_ms), "5m", 1000, 3600000LL, NULL },
    { "smtp", "tls_cert", CT_STR, OFF(smtp_tls_cert), "", 0, 0, NULL },
    { "smtp", "tls_key", CT_STR, OFF(smtp_tls_key), "", 0, 0, NULL },

    { "imap", "enabled", CT_BOOL, OFF(imap_enabled), "yes", 0, 0, NULL },
    /* RFC 2177: servers may drop an IDLE after 30 minutes; libetpan's IDLE
     * can hang, so it is re-issued at least every 25 minutes */
    { "imap", "idle_refresh", CT_DURATION, OFF(imap_idle_refresh_ms), "25m", 1000, 25LL * 60000, NULL },
    { "imap", "timeout", CT_DURATION, OFF(imap_timeout_ms), "60s", 1000, 3600000LL, NULL },
    { "imap", "command_timeout", CT_DURATION, OFF(imap_command_timeout_ms), "5m", 1000, 86400000LL, NULL },
    { "imap", "reconnect_max", CT_DURATION, OFF(imap_reconnect_max_ms), "5m", 1000, 86400000LL, NULL },
    { "imap", "ca_file", CT_STR, OFF(imap_ca_file), "", 0, 0, NULL },
    { "imap", "rescan", CT_DURATION, OFF(imap_rescan_ms), "30s", 1000, 86400000LL, NULL },
};
#define N_DEFS (sizeof(conf_defs) / sizeof(conf_defs[0]))

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

static void describe_limits(const struct conf_def *d, char *buf, size_t size)
{
    switch (d->type) {
    case CT_INT:
        snprintf(buf, size, "an integer from %lld to %lld", d->min, d->max);
        break;
    case CT_DURATION:
        snprintf(buf, size, "a duration from %lldms to %lldms (e.g. 250ms, 30s, 5m, 2h, 3d)",
                 d->min, d->max);
        break;
    case CT_SIZE:
        snprintf(buf, size, "a size from %lld to %lld bytes (e.g. 512K, 25M)", d->min, d->max);
        break;
    case CT_BOOL:
        snprintf(buf, size, "yes or no");
        break;
    case CT_ENUM:
        snprintf(buf, size, "one of %s", d->choices);
        break;
    case CT_STR:
        snprintf(buf, size, "a string");
        break;
    }
}

/* Stores value into cfg per its definition.  `where` names the origin for
 * error text ("file:12" or "environment ATUM_CORE_WORKERS"). */
static int def_apply(const struct conf_def *d, struct atum_config *cfg, const char *value,
                     const char *where, const char **error_r)
{
    char *base = (char *)cfg + d->offset;
    long long v = 0;
    bool b;
    char limits[160];

    switch (d->type) {
    case CT_STR:
    case CT_ENUM:
        if (d->type == CT_ENUM && !enum_has(d->choices, value))
            goto bad;
        free(*(char **)base);
        *(char **)base = xstrdup(value);
        return 0;
    case CT_INT:
        if (conf_parse_int(value, &v) < 0 || v < d->min || v > d->max)
            goto bad;
        *(int *)base = (int)v;
        return 0;
    case CT_BOOL:
        if (conf_parse_bool(value, &b) < 0)
            goto bad;
        *(bool *)base = b;
        return 0;
    case CT_DURATION:
        if (conf_parse_duration_ms(value, &v) < 0 || v < d->min || v > d->max)
            goto bad;
        *(long long *)base = v;
        return 0;
    case CT_SIZE:
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

static const struct conf_def *def_find(const char *section, const char *key)
{
    for (size_t i = 0; i < N_DEFS; i++)
        if (strcmp(conf_defs[i].section, section) == 0 && strcmp(conf_defs[i].key, key) == 0)
            return &conf_defs[i];
    return NULL;
}

static bool section_known(const char *section)
{
    for (size_t i = 0; i < N_DEFS; i++)
        if (strcmp(conf_defs[i].section, section) == 0)
            return true;
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
    for (size_t i = 0; i < N_DEFS; i++) {
        if (conf_defs[i].def == NULL)
            continue;
        if (def_apply(&conf_defs[i], cfg, conf_defs[i].def, "default", error_r) < 0) {
            conf_free(&cfg);
            return NULL;
        }
    }
    return cfg;
}

static int apply_environment(struct atum_config *cfg, const char **error_r)
{
    char name[128], where[160];
    for (size_t i = 0; i < N_DEFS; i++) {
        conf_env_name(name, sizeof(name), conf_defs[i].section, conf_defs[i].key);
        const char *v = getenv(name);
        if (v == NULL)
            continue;
        snprintf(where, sizeof(where), "environment %s", name);
        if (def_apply(&conf_defs[i], cfg, v, where, error_r) < 0)
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
    /* which line set each core key, to refuse duplicates */
    int set_on[N_DEFS];
    memset(set_on, 0, sizeof(set_on));

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
        const struct conf_def *d = def_find(section, key);
        if (d == NULL) {
            err_set(error_r, "%s:%d: unknown key '%s' in [%s]", path, lineno, key, section);
            goto fail;
        }
        size_t idx = (size_t)(d - conf_defs);
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
    fclose(f);
    return cfg;

fail:
    free(line);
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
    for (size_t i = 0; i < N_DEFS; i++)
        fn(conf_defs[i].section, conf_defs[i].key, ctx);
}

void conf_free(struct atum_config **cfgp)
{
    struct atum_config *cfg = *cfgp;
    if (cfg == NULL)
        return;
    for (size_t i = 0; i < N_DEFS; i++) {
        if (conf_defs[i].type == CT_STR || conf_defs[i].type == CT_ENUM)
            free(*(char **)((char *)cfg + conf_defs[i].offset));
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
