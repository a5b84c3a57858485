/*
 * tests/lib/fakehost.h -- a host for plugin unit tests.
 *
 * It implements struct atum_host (include/atum/plugin.h) without atumd:
 * a test loads the plugin's real .so (dlopen, descriptor check, init with
 * a configuration map), runs its job kinds, hooks and routes directly, and
 * looks at what the plugin asked the host to do:
 *  - SQL: against a real PostgreSQL (fakehost_new(url): the test database
 *    of tests/run-test, the plugin's migrations applied at load) or
 *    recorded (fakehost_new(NULL)): each statement and its parameters are
 *    kept, and answered from a table the test fills (fakehost_sql_answer:
 *    the first answer whose text occurs in the statement; none: 0 rows);
 *  - enqueue, emit and mail_notice: recorded, never run;
 *  - HTTP: answered from a table (fakehost_http_answer: method and URL
 *    prefix -> status and body, or a transport error), each call recorded;
 *  - configuration: a key/value map, then the plugin's declared defaults;
 *  - metrics: counters, gauges and histograms (count and sum) captured
 *    by name and labels, descriptions (metric_describe) kept;
 *    host->metrics_write hands the plugin what it reported, in the
 *    exposition format;
 *  - the client address of route requests (host->http_client_addr):
 *    127.0.0.1 until fakehost_set_client_addr();
 *  - start(): called by fakehost_load() after init, like atumd does;
 *  - log lines: captured (and echoed to stderr when FAKEHOST_VERBOSE is set);
 *  - jobs: the error, the retry delay, lease extensions and whether the
 *    job was completed in its transaction;
 *  - the clock (host->now): the real one until fakehost_set_now() fixes it,
 *    so tests move time without sleeping;
 *  - ticket changes (host->ticket_update): recorded, never applied.
 * The host functions of the ABI carry no context argument for logging and
 * metrics, so one fake host is current per process: the last one created.
 * A test library, not part of atumd.
 *
 * Ownership: the fake host owns every record and answer; strings passed in
 * are copied; pointers it returns stay valid until fakehost_free() or
 * fakehost_clear().
 */
#ifndef ATUM_TESTS_FAKEHOST_H
#define ATUM_TESTS_FAKEHOST_H

#include <atum/plugin.h>
#include <stdbool.h>
#include <stddef.h>

struct fakehost;

/* database_url: NULL records SQL instead of running it. */
struct fakehost *fakehost_new(const char *database_url);
void fakehost_free(struct fakehost **fh);
/* Forgets every record (not answers, configuration or the plugin). */
void fakehost_clear(struct fakehost *fh);
const struct atum_host *fakehost_table(void);

/* ---- the plugin ---------------------------------------------------------- */
void fakehost_conf_set(struct fakehost *fh, const char *key, const char *value);
/* dlopen(path), checks the descriptor like atumd, applies its migrations
 * (database mode), init() with the configuration.  0, or -1 and *why. */
int fakehost_load(struct fakehost *fh, const char *path, const char **why);
const struct atum_plugin *fakehost_plugin(const struct fakehost *fh);
/* The descriptor's hook_flags as atumd reads them (0 when the descriptor
 * ends before the member): ATUM_HOOKS_QUIET, ... */
unsigned fakehost_hook_flags(const struct fakehost *fh);
void *fakehost_state(const struct fakehost *fh);
/* Calls the plugin's start() again (fakehost_load() did once): its
 * return value, or -2 when it has none.  fakehost_start_result(): what
 * the call at load returned (0 when none). */
int fakehost_start(struct fakehost *fh);
int fakehost_start_result(const struct fakehost *fh);
/* fini() and dlclose(); fakehost_free() does it too. */
void fakehost_unload(struct fakehost *fh);

/* ---- running it ---------------------------------------------------------- */
struct fakehost_job_result {
    int status;                  /* what the callback returned: ATUM_JOB_DONE ... */
    char error[1024];            /* job_error() text, "" when none */
    double retry_in;             /* job_retry_in() seconds, -1 when not called */
    int lease_extended;          /* seconds asked for, 0 when not */
    bool completed_in_tx;
};
/* Runs a job kind (or, for a hook, the event's hook with payload
 * {"event": ..., "data": data, "at": the fake host's clock, as atumd's
 * payloads carry the moment of the event}).  -1 when the plugin has no
 * such kind. */
int fakehost_run_job(struct fakehost *fh, const char *kind, const char *payload, int attempt,
                     struct fakehost_job_result *out);
int fakehost_run_hook(struct fakehost *fh, const char *event, const char *data_json,
                      struct fakehost_job_result *out);

struct fakehost_response {
    int status;
    char content_type[128];
    char *body;                  /* owned by the fake host */
    size_t body_len;
    int handler_rc;
};
/* Calls the route (method, path below the plugin's prefix, or a root
 * route's path such as "/metrics"); -1 when the plugin has no such route.
 * The role is not checked here: that is the real host's job. */
int fakehost_route(struct fakehost *fh, const char *method, const char *path, const char *query,
                   const char *body, long long user_id, enum atum_role role,
                   struct fakehost_response *out);

/* Runs the plugin's atumctl command argv[0] (plugin->commands) with the
 * fake host's connection; *exit_r is what it returned.  -1 when the plugin
 * has no such command. */
int fakehost_run_command(struct fakehost *fh, int argc, char **argv, int *exit_r);

/* The plugin's ticket_view (its part of a ticket's API answer); -1 when it
 * has none. */
int fakehost_ticket_view(struct fakehost *fh, long long ticket_id, struct fakehost_response *out);

/* The plugin's mail_block (its text for an outgoing mail of a template);
 * -1 when it has none.  out->status stays 0 when the plugin replied
 * nothing. */
int fakehost_mail_block(struct fakehost *fh, const char *template_name, long long ticket_id,
                        struct fakehost_response *out);

/* What host->http_client_addr() answers for the next route calls. */
void fakehost_set_client_addr(struct fakehost *fh, const char *addr);

/* ---- the clock ----------------------------------------------------------- */
/* From now on host->now() answers t (seconds since the epoch); a negative
 * t goes back to the real clock. */
void fakehost_set_now(struct fakehost *fh, double t);
void fakehost_advance(struct fakehost *fh, double seconds);

/* ---- answers ------------------------------------------------------------- */
/* SQL containing `match` answers these rows (ncols x nrows cells, row
 * by row; a NULL cell is SQL NULL).  fail: the statement fails with it. */
void fakehost_sql_answer(struct fakehost *fh, const char *match, int ncols, int nrows,
                         const char *const *cells);
void fakehost_sql_fail(struct fakehost *fh, const char *match, const char *error);
/* A call whose method matches (NULL: any) and whose URL starts with
 * prefix gets this answer; transport_error non-NULL: the call fails. */
void fakehost_http_answer(struct fakehost *fh, const char *method, const char *url_prefix,
                          long status, const char *body, const char *transport_error);
/* Forgets every HTTP answer (a test that changes what a server says). */
void fakehost_http_forget(struct fakehost *fh);

/* ---- records --------------------------------------------------------------- */
struct fakehost_sql { char *sql; char **params; int nparams; bool in_tx; };
struct fakehost_enqueued { char *kind; char *payload; char *unique_key; double delay_seconds;
                           int priority; };
struct fakehost_event { char *event; char *data; };
struct fakehost_http { char *method; char *url; char *body;
                       char *headers;       /* the request's headers, each followed by a newline */
                       long timeout_ms; };
struct fakehost_mail { long long ticket_id; char *to; char *title; char *body; };
struct fakehost_log { enum atum_log_level level; char *text; };
struct fakehost_ticket_change { long long ticket_id; char *status, *priority, *category, *note;
                                long long queue_id, assignee_id; bool in_tx; };

size_t fakehost_nsql(const struct fakehost *fh);
const struct fakehost_sql *fakehost_sql_at(const struct fakehost *fh, size_t i);
/* The last recorded statement containing match, or NULL. */
const struct fakehost_sql *fakehost_sql_find(const struct fakehost *fh, const char *match);
size_t fakehost_nenqueued(const struct fakehost *fh);
const struct fakehost_enqueued *fakehost_enqueued_at(const struct fakehost *fh, size_t i);
size_t fakehost_nevents(const struct fakehost *fh);
const struct fakehost_event *fakehost_event_at(const struct fakehost *fh, size_t i);
size_t fakehost_nhttp(const struct fakehost *fh);
const struct fakehost_http *fakehost_http_at(const struct fakehost *fh, size_t i);
size_t fakehost_nmail(const struct fakehost *fh);
const struct fakehost_mail *fakehost_mail_at(const struct fakehost *fh, size_t i);
size_t fakehost_nticket_changes(const struct fakehost *fh);
const struct fakehost_ticket_change *fakehost_ticket_change_at(const struct fakehost *fh, size_t i);
/* The first captured log line containing text, or NULL. */
const struct fakehost_log *fakehost_log_find(const struct fakehost *fh, const char *text);
/* A counter's or gauge's value (0 when never set). */
double fakehost_metric(const struct fakehost *fh, const char *name, const char *labels);
/* A histogram series' count and sum: 1 when it exists, else 0. */
int fakehost_histogram(const struct fakehost *fh, const char *name, const char *labels,
                       unsigned long long *count_r, double *sum_r);
/* The help text the plugin described a family with, or NULL. */
const char *fakehost_metric_help(const struct fakehost *fh, const char *name);
/* Transactions the plugin began, committed and rolled back. */
void fakehost_tx_counts(const struct fakehost *fh, int *begun, int *committed, int *rolled_back);

#endif
