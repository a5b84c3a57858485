/*
 * testplug -- a plugin used only by the tests (never installed).
 *
 * It exercises every part of the ABI against a real host:
 *  - a migration creating its own tables;
 *  - a job kind "testplug.work" whose payload says how to behave
 *    ({"fail_times": N, "permanent": true, "sleep_ms": M, "in_tx": true,
 *    "record_first": true: record the run before the sleep, then touch no
 *    database}) and that uses the host's queue, events and HTTP client
 *    ({"spawn": true} enqueues a child job, {"emit": true} emits
 *    ticket.created, {"fetch": "URL", "post": "BODY"} calls URL and records
 *    the answer in testplug_events as event "http"; {"ticket": N,
 *    "priority": "high", "note": "why"} changes that ticket through
 *    host->ticket_update, in the job's transaction);
 *  - a hook on "ticket.created" that records the event;
 *  - routes GET /hello, POST /echo, GET /events, GET /secret (agents only);
 *  - a config key "greeting";
 *  - its part of a ticket's API answer (ticket_view): {"seen": N, "at": now}.
 * It includes only <atum/plugin.h>, like any real plugin.
 */
#include <atum/plugin.h>

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct testplug {
    const struct atum_host *host;
    const struct atum_conf *conf;
    char greeting[128];
};

/* Tiny helpers: the payload is trusted test input. */
static long payload_int(const char *json, const char *key)
{
    char pat[64];
    snprintf(pat, sizeof(pat), "\"%s\":", key);
    const char *p = strstr(json, pat);
    if (p == NULL) {
        snprintf(pat, sizeof(pat), "\"%s\": ", key);
        p = strstr(json, pat);
    }
    return p ? strtol(p + strlen(pat), NULL, 10) : 0;
}

static int payload_true(const char *json, const char *key)
{
    char pat[64];
    snprintf(pat, sizeof(pat), "\"%s\": true", key);
    return strstr(json, pat) != NULL;
}

/* The string value of "key" (no escapes: trusted test input); 1 if found. */
static int payload_str(const char *json, const char *key, char *out, size_t size)
{
    char pat[64];
    snprintf(pat, sizeof(pat), "\"%s\": \"", key);
    const char *p = strstr(json, pat);
    if (p == NULL) {
        snprintf(pat, sizeof(pat), "\"%s\":\"", key);
        p = strstr(json, pat);
    }
    if (p == NULL)
        return 0;
    p += strlen(pat);
    const char *end = strchr(p, '"');
    if (end == NULL || (size_t)(end - p) >= size)
        return 0;
    memcpy(out, p, (size_t)(end - p));
    out[end - p] = '\0';
    return 1;
}

/* host->enqueue, host->emit and host->http, as the payload asks; inside the
 * job's transaction when there is one. */
static int use_host(const struct atum_host *h, struct atum_job *job, const char **error_r)
{
    char buf[256], url[256], post[256];
    if (payload_true(job->payload, "spawn")) {
        char key[64];
        snprintf(buf, sizeof(buf), "{\"spawned_by\": %lld}", job->id);
        snprintf(key, sizeof(key), "testplug-spawn-%lld", job->id);
        struct atum_job_spec spec = { .kind = "testplug.work", .payload = buf, .unique_key = key };
        long long child = 0;
        if (h->enqueue(job->db, &spec, &child, error_r) < 0)
            return -1;
        h->log(ATUM_LOG_INFO, "job %lld spawned job %lld", job->id, child);
    }
    if (payload_true(job->payload, "emit")) {
        snprintf(buf, sizeof(buf), "{\"from\": \"testplug\", \"job\": %lld}", job->id);
        if (h->emit(job->db, "ticket.created", buf, error_r) < 0)
            return -1;
    }
    long ticket = payload_int(job->payload, "ticket");
    if (ticket > 0 && h->size >= offsetof(struct atum_host, ticket_update) + sizeof(void *)) {
        char prio[16] = "", note[128] = "";
        payload_str(job->payload, "priority", prio, sizeof(prio));
        payload_str(job->payload, "note", note, sizeof(note));
        struct atum_ticket_change ch = { .priority = prio[0] ? prio : NULL, .note = note[0] ? note : NULL };
        if (h->ticket_update(job->db, ticket, &ch, error_r) < 0)
            return -1;
    }
    if (payload_str(job->payload, "fetch", url, sizeof(url))) {
        int has_post = payload_str(job->payload, "post", post, sizeof(post));
        const char *hdrs[] = { "Content-Type: text/plain", NULL };
        struct atum_http_call call = {
            .url = url, .headers = hdrs, .timeout_ms = 5000,
            .body = has_post ? post : NULL, .body_len = has_post ? strlen(post) : 0,
        };
        struct atum_http_result res;
        const char *he = NULL;
        char status[16];
        if (h->http(&call, &res, &he) < 0) {
            const char *params[] = { url, he };
            return h->sql(job->db, "INSERT INTO testplug_events (event, payload) VALUES"
                          " ('http', jsonb_build_object('url', $1::text, 'error', $2::text))",
                          2, params, NULL, error_r);
        }
        snprintf(status, sizeof(status), "%ld", res.status);
        const char *params[] = { url, status, res.body };
        int rc = h->sql(job->db, "INSERT INTO testplug_events (event, payload) VALUES"
                        " ('http', jsonb_build_object('url', $1::text, 'status', $2::int, 'body', $3::text))",
                        3, params, NULL, error_r);
        h->http_result_free(&res);
        return rc;
    }
    return 0;
}

static int run_work(void *state, struct atum_job *job)
{
    struct testplug *t = state;
    const struct atum_host *h = t->host;
    const char *e = NULL;
    char id[32], attempt[16], pid[16];
    snprintf(id, sizeof(id), "%lld", job->id);
    snprintf(attempt, sizeof(attempt), "%d", job->attempt);
    snprintf(pid, sizeof(pid), "%ld", (long)getpid());

    const char *params[] = { id, attempt, pid };
    int record_first = payload_true(job->payload, "record_first");
    if (record_first
        && h->sql(job->db, "INSERT INTO testplug_runs (job_id, attempt, pid) VALUES ($1, $2, $3)",
                  3, params, NULL, &e) < 0)
        return h->job_error(job, "%s", e);
    long sleep_ms = payload_int(job->payload, "sleep_ms");
    if (sleep_ms > 0) {
        struct timespec ts = { sleep_ms / 1000, (sleep_ms % 1000) * 1000000 };
        nanosleep(&ts, NULL);
    }
    if (job->attempt <= payload_int(job->payload, "fail_times")) {
        h->job_retry_in(job, 0.05);
        return h->job_error(job, "planned failure on attempt %d", job->attempt);
    }
    if (payload_true(job->payload, "permanent"))
        return h->job_error(job, "planned permanent failure"), ATUM_JOB_PERMANENT;
    if (record_first)
        return ATUM_JOB_DONE;   /* touches no database after the sleep */
    if (payload_true(job->payload, "in_tx")) {
        if (h->tx_begin(job->db, &e) < 0)
            return h->job_error(job, "begin: %s", e);
        if (use_host(h, job, &e) < 0
            || h->sql(job->db, "INSERT INTO testplug_runs (job_id, attempt, pid) VALUES ($1, $2, $3)",
                   3, params, NULL, &e) < 0
            || h->job_complete_in_tx(job, &e) < 0) {
            h->tx_rollback(job->db);
            return h->job_error(job, "%s", e);
        }
        if (h->tx_commit(job->db, &e) < 0)
            return h->job_error(job, "commit: %s", e);
        return ATUM_JOB_DONE;
    }
    if (use_host(h, job, &e) < 0)
        return h->job_error(job, "%s", e);
    if (h->sql(job->db, "INSERT INTO testplug_runs (job_id, attempt, pid) VALUES ($1, $2, $3)",
               3, params, NULL, &e) < 0)
        return h->job_error(job, "%s", e);
    h->counter_add("testplug_work_total", NULL, 1);
    return ATUM_JOB_DONE;
}

static int on_ticket_created(void *state, struct atum_job *job)
{
    struct testplug *t = state;
    const char *e = NULL;
    const char *params[] = { job->payload };
    if (t->host->sql(job->db, "INSERT INTO testplug_events (event, payload) VALUES ('ticket.created', $1::jsonb)",
                     1, params, NULL, &e) < 0)
        return t->host->job_error(job, "%s", e);
    t->host->log(ATUM_LOG_INFO, "saw ticket.created: %s", job->payload);
    return ATUM_JOB_DONE;
}

static int route_hello(void *state, const struct atum_http_req *req, struct atum_http_resp *resp)
{
    struct testplug *t = state;
    char body[256];
    (void)req;
    int n = snprintf(body, sizeof(body), "{\"greeting\":\"%s\"}", t->greeting);
    t->host->http_reply(resp, 200, "application/json", body, (size_t)n);
    return 0;
}

static int route_echo(void *state, const struct atum_http_req *req, struct atum_http_resp *resp)
{
    struct testplug *t = state;
    t->host->http_reply(resp, 200, "application/octet-stream", req->body ? req->body : "", req->body_len);
    return 0;
}

static int route_events(void *state, const struct atum_http_req *req, struct atum_http_resp *resp)
{
    struct testplug *t = state;
    struct atum_rows *rows = NULL;
    const char *e = NULL;
    if (t->host->sql(req->db, "SELECT count(*) FROM testplug_events", 0, NULL, &rows, &e) < 0) {
        t->host->http_reply(resp, 500, "text/plain", e, strlen(e));
        return -1;
    }
    char body[64];
    int n = snprintf(body, sizeof(body), "{\"events\":%s}", t->host->rows_value(rows, 0, 0));
    t->host->rows_free(&rows);
    t->host->http_reply(resp, 200, "application/json", body, (size_t)n);
    return 0;
}

static int ticket_view(void *state, struct atum_db *db, long long ticket_id,
                       struct atum_http_resp *resp)
{
    struct testplug *t = state;
    (void)db;
    char body[128];
    int n = snprintf(body, sizeof(body), "{\"seen\": %lld, \"at\": %.0f}", ticket_id, t->host->now());
    t->host->http_reply(resp, 200, "application/json", body, (size_t)n);
    return 0;
}

static int init(const struct atum_host *host, const struct atum_conf *conf, void **state)
{
    if (host->abi != ATUM_PLUGIN_ABI || host->size < sizeof(struct atum_host))
        return -1;
    struct testplug *t = calloc(1, sizeof(*t));
    if (t == NULL)
        return -1;
    t->host = host;
    t->conf = conf;
    snprintf(t->greeting, sizeof(t->greeting), "%s", host->conf_get(conf, "greeting"));
    host->log(ATUM_LOG_INFO, "testplug ready, greeting=%s", t->greeting);
    *state = t;
    return 0;
}

static void fini(void *state)
{
    free(state);
}

static const struct atum_job_kind jobs[] = {
    { "testplug.work", run_work, 3, 0 },
    { NULL, NULL, 0, 0 }
};

static const struct atum_hook hooks[] = {
    { "ticket.created", on_ticket_created },
    { NULL, NULL }
};

static const struct atum_route routes[] = {
    { "GET", "/hello", ATUM_ROLE_NONE, route_hello },
    { "POST", "/echo", ATUM_ROLE_NONE, route_echo },
    { "GET", "/events", ATUM_ROLE_NONE, route_events },
    { "GET", "/secret", ATUM_ROLE_AGENT, route_hello },
    { NULL, NULL, 0, NULL }
};

static const struct atum_conf_key conf_keys[] = {
    { "greeting", "hello", "what GET /hello answers" },
    { NULL, NULL, NULL }
};

static const struct atum_migration migrations[] = {
    { 1, "tables",
      "CREATE TABLE testplug_runs (id bigserial PRIMARY KEY, job_id bigint NOT NULL,"
      " attempt int NOT NULL, pid int NOT NULL, at timestamptz NOT NULL DEFAULT now());"
      "CREATE TABLE testplug_events (id bigserial PRIMARY KEY, event text NOT NULL,"
      " payload jsonb NOT NULL, at timestamptz NOT NULL DEFAULT now());" },
    { 0, NULL, NULL }
};

static const struct atum_plugin descriptor = {
    .abi = ATUM_PLUGIN_ABI,
    .size = sizeof(struct atum_plugin),
    .name = "testplug",
    .version = "1.0",
    .summary = "exercises the plugin ABI in tests",
    .init = init,
    .fini = fini,
    .jobs = jobs,
    .hooks = hooks,
    .routes = routes,
    .conf_keys = conf_keys,
    .migrations = migrations,
    .ticket_view = ticket_view,
};

const struct atum_plugin *atum_plugin_entry(void)
{
    return &descriptor;
}
