/*
 * atum/plugin.h -- the whole contract between atumd and a plugin.
 *
 * A plugin is a shared object that exports exactly one symbol,
 * atum_plugin_entry(), returning a const descriptor.  The host checks the
 * descriptor's ABI version and size before it runs any other plugin code,
 * then calls init() with a table of host functions.  Plugins include only
 * this header: never src/ headers, never libpq or civetweb.
 *
 * Compatibility rules
 *  - ATUM_PLUGIN_ABI changes only when an existing field changes meaning or
 *    position.  New optional fields are appended to the end of a struct and
 *    announced by its `size` field, so an older plugin reads as "NULL" for
 *    everything it did not know about.
 *  - struct atum_host is versioned the same way: check host->size before
 *    calling a function added after ABI 1.
 *
 * Ownership
 *  - Everything the host hands to a callback is borrowed for the duration of
 *    that callback unless a function below says otherwise.
 *  - A struct atum_rows returned by host->sql() belongs to the caller:
 *    release it with host->rows_free().
 *  - Strings a plugin passes to the host are copied by the host.
 *
 * Threads
 *  - Job and hook callbacks run on the host's worker threads, route handlers
 *    on its web threads, possibly all at once.  Plugin state shared between
 *    them is the plugin's to lock.
 *  - Callbacks must never exit the process or block signals.
 */
#ifndef ATUM_PLUGIN_H
#define ATUM_PLUGIN_H

#include <stddef.h>
#include <stdarg.h>

#ifdef __cplusplus
extern "C" {
#endif

#define ATUM_PLUGIN_ABI 1

/* ---- opaque handles owned by the host --------------------------------- */
struct atum_conf;      /* the plugin's [plugin.NAME] config section */
struct atum_db;        /* a database connection borrowed for one callback */
struct atum_rows;      /* a result set from host->sql() */
struct atum_http_resp; /* the response a route handler fills in */

enum atum_log_level {
    ATUM_LOG_DEBUG = 0,
    ATUM_LOG_INFO = 1,
    ATUM_LOG_WARN = 2,
    ATUM_LOG_ERROR = 3
};

/* ---- jobs ------------------------------------------------------------- */

/* Return values of job and hook callbacks. */
enum atum_job_status {
    ATUM_JOB_DONE = 0,       /* finished: the job leaves the queue */
    ATUM_JOB_RETRY = -1,     /* failed: retried with backoff until max_attempts, then dead */
    ATUM_JOB_PERMANENT = -2  /* failed for good: dead now, kept with its error */
};

/* One claimed job, as a callback sees it.  Borrowed; valid during the call. */
struct atum_job {
    long long id;
    const char *kind;
    const char *payload;     /* JSON text, NUL-terminated */
    size_t payload_len;
    int attempt;             /* 1 on the first run */
    int max_attempts;
    struct atum_db *db;      /* the worker's own connection; no transaction open */
};

struct atum_job_kind {
    const char *kind;        /* "plugin.verb": letters, digits, '.', '_', '-' */
    int (*run)(void *state, struct atum_job *job);
    int max_attempts;        /* 0: host default */
    int lease_seconds;       /* 0: host default; extend with host->job_extend_lease */
};

/* A hook receives events emitted by the core or other plugins.  The event
 * data arrives as the job payload: {"event": "...", "data": {...}}.
 * Added after the first release of ABI 1: the payload also carries "at",
 * the moment the event was emitted (seconds since the epoch with
 * millisecond precision, the host's clock, the same as host->now()):
 * hooks run later than their event, and out of order across events of a
 * ticket, so plugins that keep time use "at" (fall back to host->now()
 * when it is absent). */
struct atum_hook {
    const char *event;       /* e.g. "ticket.created" */
    int (*run)(void *state, struct atum_job *job);
};

/* What enqueue needs.  Zero-initialise and fill in what you want. */
struct atum_job_spec {
    const char *kind;
    const char *payload;         /* JSON object text; NULL means {} */
    int priority;                /* lower runs first; 0 means the default (100) */
    double delay_seconds;        /* run no earlier than now + delay */
    int max_attempts;            /* 0: the kind's default */
    const char *unique_key;      /* NULL or: no second job while one with this key is pending */
    const char *concurrency_key; /* NULL or: jobs sharing it never run at the same time */
};

/* ---- metrics ---------------------------------------------------------- */
enum atum_metric_type {
    ATUM_METRIC_COUNTER = 0,
    ATUM_METRIC_GAUGE = 1,
    ATUM_METRIC_HISTOGRAM = 2
};

/* ---- HTTP routes ------------------------------------------------------ */

enum atum_role {
    ATUM_ROLE_NONE = 0,      /* public */
    ATUM_ROLE_CUSTOMER = 1,
    ATUM_ROLE_AGENT = 2,
    ATUM_ROLE_MANAGER = 3,
    ATUM_ROLE_ADMIN = 4
};

struct atum_http_req {
    const char *method;      /* "GET", "POST", ... */
    const char *path;        /* below /api/v1/plugins/NAME, starts with '/' */
    const char *query;       /* without '?', or NULL */
    const char *body;        /* NUL-terminated copy of the body, or NULL */
    size_t body_len;
    long long user_id;       /* 0 when anonymous */
    enum atum_role role;
    struct atum_db *db;      /* borrowed from the pool for this request */
};

struct atum_route {
    const char *method;      /* exact, e.g. "GET" */
    const char *path;        /* exact match below the plugin's prefix, e.g. "/status" */
    enum atum_role min_role;
    int (*handle)(void *state, const struct atum_http_req *req, struct atum_http_resp *resp);
};

/* ---- configuration declared by a plugin ------------------------------- */
struct atum_conf_key {
    const char *name;
    const char *default_value;   /* NULL: no default (key optional) */
    const char *help;
};

/* ---- migrations shipped by a plugin ----------------------------------- */
struct atum_migration {
    int version;             /* 1, 2, 3 ... applied in order, once */
    const char *name;
    const char *sql;         /* runs in one transaction; its checksum is recorded */
};

/* ---- what the host offers: passed to init(), valid until fini() ------- */
struct atum_http_call {
    const char *method;          /* NULL: GET, or POST when body != NULL */
    const char *url;
    const char *const *headers;  /* NULL-terminated "Name: value" list, or NULL */
    const char *body;
    size_t body_len;
    long timeout_ms;             /* 0: 10 000 */
};

struct atum_http_result {
    long status;
    char *body;                  /* NUL-terminated; free with host->http_result_free */
    size_t body_len;
};

/* A change of a ticket by a plugin (host->ticket_update).  Zero-initialise
 * and set what changes. */
struct atum_ticket_change {
    const char *status;          /* "new", "open", "pending", "solved", "closed", or NULL */
    const char *priority;        /* "low", "normal", "high", "urgent", or NULL */
    const char *category;        /* NULL: unchanged; "": cleared */
    long long queue_id;          /* 0: unchanged */
    long long assignee_id;       /* 0: unchanged; -1: unassigned */
    const char *note;            /* an internal note to add with the change, or NULL */
};

struct atum_host {
    unsigned abi;                /* ATUM_PLUGIN_ABI of the host */
    unsigned size;               /* sizeof(struct atum_host) of the host */

    /* Logging: one line per call, tagged with the plugin's name. */
    void (*log)(enum atum_log_level level, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));

    /* Configuration of this plugin's section; NULL when not set and no
     * default was declared.  The string lives until fini(). */
    const char *(*conf_get)(const struct atum_conf *conf, const char *key);
    long long (*conf_get_int)(const struct atum_conf *conf, const char *key, long long fallback);

    /* SQL with parameters (text format; NULL is SQL NULL).  Returns 0 and a
     * result in *rows_r (may pass NULL to discard it), or -1 with *error_r
     * set (valid until the next host call on this thread). */
    int (*sql)(struct atum_db *db, const char *sql, int nparams,
               const char *const *params, struct atum_rows **rows_r,
               const char **error_r);
    int (*rows_count)(const struct atum_rows *rows);
    const char *(*rows_value)(const struct atum_rows *rows, int row, int col); /* NULL for SQL NULL */
    void (*rows_free)(struct atum_rows **rows);

    /* Transactions on a borrowed connection.  Enqueues and emits made inside
     * commit with it; a NOTIFY is sent once, at commit. */
    int (*tx_begin)(struct atum_db *db, const char **error_r);
    int (*tx_commit)(struct atum_db *db, const char **error_r);
    void (*tx_rollback)(struct atum_db *db);

    /* Queue.  *id_r is 0 when unique_key matched a pending job. */
    int (*enqueue)(struct atum_db *db, const struct atum_job_spec *spec,
                   long long *id_r, const char **error_r);
    int (*emit)(struct atum_db *db, const char *event, const char *json_data,
                const char **error_r);

    /* Inside a job callback: record why it failed (copied), ask for a given
     * retry delay, or extend the lease before a long wait. */
    int (*job_error)(struct atum_job *job, const char *fmt, ...)
        __attribute__((format(printf, 2, 3))); /* returns ATUM_JOB_RETRY */
    void (*job_retry_in)(struct atum_job *job, double seconds);
    int (*job_extend_lease)(struct atum_job *job, int seconds, const char **error_r);
    /* Inside a job callback, within your own transaction (tx_begin) just
     * before tx_commit: the job is finished by that same commit, so its
     * effects and its completion happen exactly once together. */
    int (*job_complete_in_tx)(struct atum_job *job, const char **error_r);

    /* HTTP client (libcurl underneath, TLS verified).  0 when a response
     * arrived (any status), -1 on transport failure. */
    int (*http)(const struct atum_http_call *call, struct atum_http_result *res,
                const char **error_r);
    void (*http_result_free)(struct atum_http_result *res);

    /* Route responses: status, content type and body (copied). */
    void (*http_reply)(struct atum_http_resp *resp, int status,
                       const char *content_type, const char *body, size_t len);

    /* Metrics: monotonically increasing counters and gauges, by name and an
     * optional label set in Prometheus form ('queue="support"'). */
    void (*counter_add)(const char *name, const char *labels, double value);
    void (*gauge_set)(const char *name, const char *labels, double value);

    /* Added after the first release of ABI 1: check
     * host->size >= offsetof(struct atum_host, mail_notice) + sizeof(void *).
     *
     * Mails a notice about a ticket to one address through the outbox,
     * in the caller's transaction (tx_begin ... tx_commit): the built-in
     * "notice" template (overridable per queue) with the title as subject
     * and the body as text.  It is marked Auto-Submitted: auto-generated,
     * so well-behaved robots do not answer it. */
    int (*mail_notice)(struct atum_db *db, long long ticket_id, const char *to,
                       const char *title, const char *body, const char **error_r);

    /* Added after mail_notice: check
     * host->size >= offsetof(struct atum_host, ticket_update) + sizeof(void *).
     *
     * The wall clock in seconds since the epoch, with sub-second precision.
     * Plugins that reason about time (deadlines, schedules) ask the host,
     * so a test's fake host can move time without sleeping. */
    double (*now)(void);
    /* Changes a ticket the way every channel does (the desk's status
     * model, its audit row, ticket.updated, notifications), acting as the
     * plugin, in the caller's transaction (tx_begin ... tx_commit).  Fields
     * left at their zero value keep theirs.  -1 with *error_r when the
     * ticket does not exist, was merged, or the change is not allowed. */
    int (*ticket_update)(struct atum_db *db, long long ticket_id,
                         const struct atum_ticket_change *change, const char **error_r);

    /* Added for the metrics plugin: check
     * host->size >= offsetof(struct atum_host, http_client_addr) + sizeof(void *).
     *
     * One observation (seconds, bytes ...) into a histogram series, by
     * name and labels like counter_add.  Buckets are the family's (see
     * metric_describe), else 1 ms .. 60 s. */
    void (*histogram_observe)(const char *name, const char *labels, double value);
    /* Gives a family its type, help text and, for a histogram, the
     * ascending upper bounds of its buckets (NULL: the default); call it
     * from init(), before reporting.  The first description of a name
     * wins; -1 for an invalid name or a type the name already has not. */
    int (*metric_describe)(const char *name, enum atum_metric_type type, const char *help,
                           const double *buckets, size_t nbuckets);
    /* The host's metrics -- its own counters, gauges and histograms and
     * what plugins reported through it -- in the Prometheus text format
     * 0.0.4, every family with its HELP and TYPE lines, handed to emit in
     * pieces (borrowed for the call) before metrics_write returns. */
    void (*metrics_write)(void (*emit)(void *arg, const char *text, size_t len), void *arg);
    /* The address of the client of a route's request, as the host judged
     * it (behind a trusted proxy: the address the proxy names), e.g.
     * "127.0.0.1" or "::1"; "" when unknown.  Valid during the call. */
    const char *(*http_client_addr)(const struct atum_http_req *req);
};

/* ---- atumctl commands (plugin->commands) ------------------------------ */
struct atum_command {
    const char *name;        /* the word after "atumctl": [a-z][a-z0-9_-]* */
    const char *usage;       /* one line per form, e.g. "triage train FILE.tsv" */
    int (*run)(void *state, struct atum_db *db, int argc, char **argv);
};

/* ---- ticket list filters (plugin->list_filters) ------------------------ */
/* A query parameter of GET /api/v1/tickets and the static SQL that answers
 * it: a SELECT of ticket ids whose only parameter is $1, the parameter's
 * value as text, e.g.
 *   { "triage_sentiment",
 *     "SELECT ticket_id FROM triage_results WHERE sentiment = $1", ... }
 * The host ANDs "t.id IN (<sql>)" into the list query with $1 renumbered
 * to a parameter of its own; the value never becomes SQL text.  Names
 * must start with the plugin's name and an underscore. */
struct atum_list_filter {
    const char *param;
    const char *sql;
    const char *help;        /* for the OpenAPI document and error messages */
};

/* ---- the descriptor --------------------------------------------------- */
struct atum_plugin {
    unsigned abi;            /* must equal ATUM_PLUGIN_ABI */
    unsigned size;           /* sizeof(struct atum_plugin) as the plugin saw it */
    const char *name;        /* [a-z0-9_]+, also the config section plugin.NAME */
    const char *version;
    const char *summary;

    int  (*init)(const struct atum_host *host, const struct atum_conf *conf, void **state);
    void (*fini)(void *state);

    const struct atum_job_kind *jobs;        /* terminated by kind == NULL */
    const struct atum_hook *hooks;           /* terminated by event == NULL */
    const struct atum_route *routes;         /* terminated by path == NULL */
    const struct atum_conf_key *conf_keys;   /* terminated by name == NULL */
    const struct atum_migration *migrations; /* terminated by sql == NULL */

    /* Appended after the first release of ABI 1 (a descriptor whose size
     * ends before a member reads as NULL there).
     *
     * The plugin's part of one ticket as staff see it (GET
     * /api/v1/tickets/{id}): answer a JSON object with host->http_reply(resp,
     * 200, "application/json", ...); the host embeds it as
     * "plugins": {"NAME": ...}.  Any other status, or invalid JSON, leaves
     * the plugin out of that answer.  Called on a web thread with a pooled
     * connection (no transaction): keep it to a query or two. */
    int (*ticket_view)(void *state, struct atum_db *db, long long ticket_id,
                       struct atum_http_resp *resp);

    /* Appended after ticket_view: atumctl commands the plugin runs with
     * its own code (terminated by name == NULL), e.g. "atumctl triage
     * train FILE".  atumctl loads the configured plugin, applies its
     * migrations, calls init() with the host table, then run() with a
     * connection of its own (no transaction open; enqueue works, emit
     * does not: there is no running atumd in the process), and fini().
     * argv[0] is the command's name; run() returns the exit code (0 ok,
     * 1 failed, 2 usage) and writes to stdout/stderr itself. */
    const struct atum_command *commands;

    /* Appended after commands: query parameters the plugin adds to GET
     * /api/v1/tickets (terminated by param == NULL).  See struct
     * atum_list_filter. */
    const struct atum_list_filter *list_filters;

    /* Appended for the metrics plugin (read as NULL in older descriptors).
     *
     * Routes answered at the root of the web server instead of below
     * /api/v1/plugins/NAME/ -- e.g. GET /metrics for Prometheus.  The
     * path is matched exactly; the server's own paths (/, /healthz,
     * /readyz, /api/..., the web application) always win, a path under
     * /api/ is refused, and when two loaded plugins claim one path the
     * first loaded answers.  Unlike routes below the prefix, a credential
     * (bearer token or session) is checked whenever one is presented
     * (an invalid one answers 401), so a min_role of ATUM_ROLE_NONE still
     * tells the handler who called (req->user_id, req->role) and the
     * handler decides; host->http_client_addr() gives the address. */
    const struct atum_route *root_routes;    /* terminated by path == NULL */
    /* Called after init() and the registration of the plugin's job kinds,
     * at every (re)load of the plugins when a database connection is
     * available, on that connection (no transaction open): work that
     * needs the database once, such as enqueueing the first run of a
     * recurring job (host->enqueue with a unique_key, so several nodes
     * and reloads make one).  A failure is logged; the plugin stays
     * loaded. */
    int (*start)(void *state, struct atum_db *db);

    /* Appended after start (after list_filters before the metrics plugin's
     * members were merged): a block of text the plugin adds to an
     * outgoing mail of the given template ("ack": the acknowledgement of a
     * customer's new ticket), e.g. the rag plugin's "these articles may
     * help".  Answer CommonMark with host->http_reply(resp, 200,
     * "text/markdown", text, len); any other status, or no reply, adds
     * nothing.  The host renders it (raw HTML suppressed) below the
     * template's own text, in both the HTML and the plain-text part, in
     * plugin load order.  Called by the mail.compose job on its worker's
     * connection outside any transaction, before the mail is built: keep
     * it to a query or two, and never call a slow server here. */
    int (*mail_block)(void *state, struct atum_db *db, const char *template_name,
                      long long ticket_id, struct atum_http_resp *resp);

    /* Appended after mail_block (a descriptor whose size ends before it
     * reads as 0): ATUM_HOOKS_* flags for all of the plugin's hooks. */
    unsigned hook_flags;
};

/* The plugin's hook jobs are enqueued without waking idle workers: no
 * NOTIFY at the commit of the transaction that emitted the event.  Busy
 * workers take them at once, idle ones within [queue] poll_interval.
 * For hooks that are not urgent: every transaction that emits an event
 * the plugin hears (each ingested mail, each reply) is then spared a
 * NOTIFY, which PostgreSQL serialises over all committing transactions. */
#define ATUM_HOOKS_QUIET 1u

/* Build plugins with -fvisibility=hidden: this is then the one symbol they
 * export. */
#define ATUM_PLUGIN_EXPORT __attribute__((visibility("default")))
#define ATUM_PLUGIN_ENTRY_SYMBOL "atum_plugin_entry"
ATUM_PLUGIN_EXPORT const struct atum_plugin *atum_plugin_entry(void);

#ifdef __cplusplus
}
#endif
#endif /* ATUM_PLUGIN_H */
