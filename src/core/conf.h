/*
 * core/conf.h -- etc/atum-desk.conf: INI sections, one declarative key table.
 *
 * Every module declares its own keys in a table (struct conf_table: for
 * each key its section, name, type, offset into struct atum_config,
 * default, limits, and whether a change needs a restart): the core its
 * [core], [db] and [queue] here, the web [web] and [auth]
 * (web/web_conf.h), mail-in [smtp], [imap] and most of [mail]
 * (mailin/mailin_conf.h), mail-out [smarthost] and the rest of [mail]
 * (mailout/mailout_conf.h).  The programs declare the tables of the
 * floors they run (conf_declare) before loading a file.  The same tables
 * drive parsing, defaults, validation, environment overrides, the check
 * that etc/atum-desk.conf.sample documents every key, and reload: on
 * SIGHUP, conf_changes() names each changed key, which atumd applies
 * (CONF_LIVE: read afresh where it is used) or logs as needing a restart
 * (CONF_RESTART: copied into a running component at start).
 *
 * Syntax:  [section]  key = value  # or ; comments   "quoted values"
 * Types:   string, integer, boolean (yes/no/true/false/on/off/1/0),
 *          duration ("250ms", "30s", "5m", "2h", "3d"; a bare number is
 *          seconds), size ("512", "64K", "25M", "1G"), enum (listed choices).
 *
 * Environment: ATUM_<SECTION>_<KEY> (upper case, '.' and '-' as '_')
 * overrides a key, e.g. ATUM_CORE_DATABASE_URL -- the way to keep secrets
 * out of the file.  For a plugin key: ATUM_PLUGIN_<NAME>_<KEY>.
 *
 * [plugin.NAME] sections are kept as raw key/value pairs with their line
 * numbers; the plugin host validates them against the keys the plugin
 * declares once it is loaded.
 *
 * Ownership: conf_load() returns a heap struct the caller frees with
 * conf_free(), which also frees every string inside it.
 */
#ifndef ATUM_CORE_CONF_H
#define ATUM_CORE_CONF_H

#include <stdbool.h>
#include <stddef.h>

enum conf_type { CONF_STR, CONF_INT, CONF_BOOL, CONF_DURATION, CONF_SIZE, CONF_ENUM };

/* What a changed value does on SIGHUP. */
enum conf_reload {
    CONF_LIVE,               /* read from the current configuration where it is used */
    CONF_RESTART,            /* copied into a running component: takes effect at restart */
};

struct conf_key {
    const char *section;
    const char *key;
    enum conf_type type;
    size_t offset;           /* into struct atum_config: OFF(field) */
    const char *def;         /* parsed like a file value; NULL = unset string */
    long long min, max;      /* for int, duration (ms) and size */
    const char *choices;     /* for enum: "a|b|c" */
    enum conf_reload reload;
};

struct conf_table {
    const char *owner;       /* the module that declares it: "core", "web" ... */
    const struct conf_key *keys;
    size_t n;
};

#define CONF_OFF(field) offsetof(struct atum_config, field)

struct conf_kv {
    char *key;
    char *value;
    int line;
};

struct conf_plugin {
    char *name;              /* NAME of [plugin.NAME] */
    bool enabled;            /* key "enabled", default yes */
    char *path;              /* key "path": .so file; default plugin_dir/NAME.so */
    struct conf_kv *kv;      /* every other key, validated by the plugin host */
    size_t nkv;
    int line;                /* line of the section header */
};

struct atum_config {
    char *path;              /* the file this came from */

    /* [core] */
    char *database_url;
    char *node_name;
    int workers;
    char *plugin_dir;
    char *log_level;
    char *log_target;
    long long shutdown_timeout_ms;
    char *secret_key;        /* HMAC key for reply tokens, sessions ... */
    char *public_url;

    /* [db] */
    int pool_size;
    long long connect_timeout_ms;
    long long statement_timeout_ms;
    long long reconnect_max_ms;

    /* [queue] */
    int batch_size;
    long long lease_ms;
    long long poll_interval_ms;
    int max_attempts;
    long long backoff_max_ms;
    long long keep_done_ms;
    int prune_batch;
    long long maintenance_interval_ms;

    /* [web] */
    char *web_listen;
    int web_threads;
    long long web_max_body;
    long long web_request_timeout_ms;   /* a request body's grace period */
    long long web_header_timeout_ms;    /* request line and headers; any one read */
    long long web_body_min_rate;        /* bytes/s a body must keep up past the grace */
    int web_client_connections;         /* per client address; 0: no cap */
    long long web_max_public_body;      /* bodies of requests without credentials */
    long long web_keep_alive_ms;
    char *web_trusted_proxies;   /* comma-separated addresses whose X-Forwarded-* are believed */
    char *web_assets_dir;        /* the built browser application (web/dist, manifest.json) */
    int web_live_max_connections;    /* live sockets and long polls (web/live.h) */
    long long web_live_ping_ms;      /* WebSocket ping interval */
    long long web_live_keep_ms;      /* how long live events are kept */

    /* [auth] */
    long long auth_session_idle_ms;
    long long auth_session_lifetime_ms;
    int auth_login_failures_account;
    int auth_login_failures_ip;
    long long auth_login_window_ms;
    char *auth_totp_issuer;
    char *auth_cookie_secure;    /* auto, yes, no */
    long long auth_token_lifetime_ms;   /* API tokens expire after this unless asked otherwise */

    /* [mail] */
    long long mail_max_message_size;
    long long mail_max_attachment;
    long long mail_max_header_bytes;
    int mail_max_parts;
    char *mail_default_queue;
    bool mail_org_by_domain;

    bool mail_acknowledge;
    int mail_ack_limit;
    long long mail_ack_window_ms;
    bool mail_notify_agents;
    char *mail_note_marker;
    int mail_agent_token_days;
    int mail_compose_lanes;

    /* [smarthost] */
    char *sh_url;
    bool sh_starttls;
    bool sh_verify;
    char *sh_ca_file;
    char *sh_username;
    char *sh_password;
    char *sh_helo;
    long long sh_timeout_ms;
    long long sh_retry_for_ms;
    long long sh_retry_min_ms;
    long long sh_retry_max_ms;

    /* [smtp] */
    char *smtp_listen;
    char *smtp_mode;
    char *smtp_hostname;
    int smtp_max_connections;
    int smtp_max_connections_per_ip;
    int smtp_max_junk_commands;
    int smtp_max_recipients;
    int smtp_max_line;
    long long smtp_idle_timeout_ms;
    char *smtp_tls_cert;
    char *smtp_tls_key;

    /* [imap] */
    bool imap_enabled;
    long long imap_idle_refresh_ms;
    long long imap_timeout_ms;
    long long imap_command_timeout_ms;
    long long imap_reconnect_max_ms;
    char *imap_ca_file;
    long long imap_rescan_ms;
    bool imap_allow_insecure_loopback;   /* security none / trust any certificate, loopback only */

    /* [portal] (desk/portal_conf.h) */
    bool portal_signup;
    char *portal_title;
    long long portal_link_ttl_ms;
    long long portal_invite_ttl_ms;
    long long portal_csat_ttl_ms;
    int portal_link_limit_address;
    int portal_link_limit_ip;
    long long portal_link_window_ms;

    /* plugin sections in file order */
    struct conf_plugin *plugins;
    size_t nplugins;
};

/* Adds a module's keys to those the configuration knows (the core's are
 * always there).  At start-up, before threads; the same table twice is
 * ignored.  Keys of an undeclared table are unknown in a file. */
void conf_declare(const struct conf_table *t);

/* Loads path, applies defaults and environment overrides, validates.
 * On error returns NULL and sets *error_r to "file:line: what is wrong". */
struct atum_config *conf_load(const char *path, const char **error_r);

/* Defaults only (plus the environment): for tools and tests. */
struct atum_config *conf_defaults(const char **error_r);

void conf_free(struct atum_config **cfg);

/* Finds a plugin section by name, or NULL. */
const struct conf_plugin *conf_plugin_find(const struct atum_config *cfg, const char *name);

/* For the documentation test: calls fn for every declared key. */
void conf_foreach_key(void (*fn)(const char *section, const char *key, void *ctx), void *ctx);

/* Calls fn for every declared key whose value differs between a and b
 * (owner: the declaring module); returns how many. */
int conf_changes(const struct atum_config *a, const struct atum_config *b,
                 void (*fn)(const struct conf_key *k, const char *owner, void *arg), void *arg);

/* Parses one value of a given kind; exposed for the plugin host and tests. */
int conf_parse_bool(const char *s, bool *r);
int conf_parse_duration_ms(const char *s, long long *r);
int conf_parse_size(const char *s, long long *r);
int conf_parse_int(const char *s, long long *r);

/* The environment variable that overrides section.key, in buf. */
void conf_env_name(char *buf, size_t size, const char *section, const char *key);

#endif
