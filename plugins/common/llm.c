/* plugins/common/llm.c -- see llm.h. */
#include "llm.h"
#include "hostcall.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define RAW_KEEP (64 * 1024)        /* bytes of a raw answer kept for the trace */
#define LEASE_MARGIN_S 30           /* lease beyond the call's own time limit */

enum breaker_state { BREAKER_CLOSED = 0, BREAKER_OPEN, BREAKER_HALF_OPEN };

struct llm {
    const struct atum_host *h;
    enum llm_provider provider;
    char plugin[32];
    char url[512];
    char model[128], embed_model[128], method[136];
    char key_env[128];
    long timeout_ms;
    int breaker_failures;
    double cooldown_s;

    pthread_mutex_t lock;            /* guards everything below */
    enum breaker_state state;
    int consecutive;                 /* failed calls in a row */
    double open_until;               /* host clock */
    int probing;                     /* a half-open probe is under way */
    long long calls, failed;
    char last_error[256];
};

const char *llm_outcome_name(enum llm_outcome o)
{
    switch (o) {
    case LLM_OK: return "ok";
    case LLM_SKIPPED: return "skipped";
    case LLM_TRANSPORT: return "transport";
    case LLM_LATE: return "late";
    case LLM_HTTP: return "http";
    case LLM_MALFORMED: return "malformed";
    case LLM_INVALID: return "invalid";
    case LLM_REFUSED: return "refused";
    }
    return "unknown";
}

static void labels_of(const struct llm *l, char *buf, size_t size)
{
    snprintf(buf, size, "plugin=\"%s\"", l->plugin);
}

void llm_metric_describe(const struct atum_host *h, const char *name, enum atum_metric_type type,
                         const char *help)
{
    if (h->size >= offsetof(struct atum_host, metric_describe) + sizeof(void *) && h->metric_describe != NULL)
        h->metric_describe(name, type, help, NULL, 0);
}

/* Seconds a language-model call takes: local servers answer in tenths of a
 * second, large models in tens of seconds; the limit is llm_timeout_ms. */
static const double call_buckets[] = { 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 30, 60, 120 };

static void describe_families(const struct atum_host *h)
{
    llm_metric_describe(h, "atum_llm_calls_total", ATUM_METRIC_COUNTER,
                        "Language-model calls by plugin, kind (chat, embed) and outcome (ok, skipped, transport,"
                        " late, http, malformed, invalid, refused); every outcome but ok was answered locally");
    llm_metric_describe(h, "atum_llm_breaker_open", ATUM_METRIC_GAUGE,
                        "1 while the plugin's circuit breaker keeps it from calling its language-model server");
    if (h->size >= offsetof(struct atum_host, metric_describe) + sizeof(void *) && h->metric_describe != NULL)
        h->metric_describe("atum_llm_call_duration_seconds", ATUM_METRIC_HISTOGRAM,
                           "Time of the language-model calls made (not skipped), by plugin and kind", call_buckets,
                           sizeof(call_buckets) / sizeof(call_buckets[0]));
}

/* Counts one call (and times it when it was made). */
static void count_call(const struct llm *l, const char *kind, const struct llm_call *c)
{
    char labels[160];
    snprintf(labels, sizeof(labels), "plugin=\"%s\",kind=\"%s\",outcome=\"%s\"", l->plugin, kind,
             llm_outcome_name(c->outcome));
    l->h->counter_add("atum_llm_calls_total", labels, 1);
    if (c->outcome == LLM_SKIPPED
        || l->h->size < offsetof(struct atum_host, histogram_observe) + sizeof(void *)
        || l->h->histogram_observe == NULL)
        return;
    snprintf(labels, sizeof(labels), "plugin=\"%s\",kind=\"%s\"", l->plugin, kind);
    l->h->histogram_observe("atum_llm_call_duration_seconds", labels, c->elapsed_ms / 1000.0);
}

struct llm *llm_new(const struct atum_host *h, const struct atum_conf *conf, const char *plugin,
                    const char **error_r)
{
    static __thread char err[256];
    const char *prov = h->conf_get(conf, "llm");
    enum llm_provider p;
    if (prov == NULL || prov[0] == '\0' || strcmp(prov, "none") == 0)
        p = LLM_NONE;
    else if (strcmp(prov, "ollama") == 0)
        p = LLM_OLLAMA;
    else if (strcmp(prov, "openai") == 0)
        p = LLM_OPENAI;
    else {
        snprintf(err, sizeof(err), "llm = %s: expected none, ollama or openai", prov);
        *error_r = err;
        return NULL;
    }
    const char *url = h->conf_get(conf, "llm_url"), *model = h->conf_get(conf, "llm_model");
    const char *emodel = h->conf_get(conf, "llm_embed_model"), *key = h->conf_get(conf, "llm_api_key_env");
    if (p != LLM_NONE && (url == NULL || url[0] == '\0')) {
        snprintf(err, sizeof(err), "llm = %s needs llm_url", prov);
        *error_r = err;
        return NULL;
    }
    if (p != LLM_NONE && strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0) {
        snprintf(err, sizeof(err), "llm_url = %s: an http:// or https:// URL is expected", url);
        *error_r = err;
        return NULL;
    }
    if (p != LLM_NONE && (model == NULL || model[0] == '\0') && (emodel == NULL || emodel[0] == '\0')) {
        snprintf(err, sizeof(err), "llm = %s needs llm_model or llm_embed_model", prov);
        *error_r = err;
        return NULL;
    }
    struct llm *l = calloc(1, sizeof(*l));
    if (l == NULL)
        abort();
    l->h = h;
    l->provider = p;
    snprintf(l->plugin, sizeof(l->plugin), "%s", plugin);
    if (p != LLM_NONE) {
        snprintf(l->url, sizeof(l->url), "%s", url);
        size_t ul = strlen(l->url);
        while (ul > 0 && l->url[ul - 1] == '/')
            l->url[--ul] = '\0';
        snprintf(l->model, sizeof(l->model), "%s", model ? model : "");
        snprintf(l->embed_model, sizeof(l->embed_model), "%s",
                 emodel && strcmp(emodel, "none") != 0 ? emodel : "");
        snprintf(l->key_env, sizeof(l->key_env), "%s", key ? key : "");
    }
    snprintf(l->method, sizeof(l->method), "llm:%s", l->model);
    l->timeout_ms = (long)h->conf_get_int(conf, "llm_timeout_ms", 20000);
    if (l->timeout_ms < 100)
        l->timeout_ms = 100;
    l->breaker_failures = (int)h->conf_get_int(conf, "llm_breaker_failures", 3);
    if (l->breaker_failures < 1)
        l->breaker_failures = 1;
    l->cooldown_s = (double)h->conf_get_int(conf, "llm_breaker_cooldown_s", 60);
    if (l->cooldown_s < 1)
        l->cooldown_s = 1;
    pthread_mutex_init(&l->lock, NULL);
    describe_families(h);
    char labels[96];
    labels_of(l, labels, sizeof(labels));
    h->gauge_set("atum_llm_breaker_open", labels, 0);
    return l;
}

void llm_free(struct llm **lp)
{
    struct llm *l = *lp;
    if (l == NULL)
        return;
    pthread_mutex_destroy(&l->lock);
    free(l);
    *lp = NULL;
}

int llm_chat_enabled(const struct llm *l) { return l && l->provider != LLM_NONE && l->model[0]; }
int llm_embed_enabled(const struct llm *l) { return l && l->provider != LLM_NONE && l->embed_model[0]; }
enum llm_provider llm_provider_of(const struct llm *l) { return l ? l->provider : LLM_NONE; }
const char *llm_model(const struct llm *l) { return l ? l->model : ""; }
const char *llm_embed_model(const struct llm *l) { return l ? l->embed_model : ""; }
const char *llm_method(const struct llm *l) { return l ? l->method : "llm:"; }

void llm_call_clear(struct llm_call *c)
{
    free(c->raw);
    json_decref(c->result);
    json_decref(c->usage);
    memset(c, 0, sizeof(*c));
}

/* ---- the breaker ---------------------------------------------------------- */

/* Whether a call may go out now; a half-open breaker lets exactly one
 * caller through (*probe_r set). */
static int breaker_admit(struct llm *l, int *probe_r, char *why, size_t size)
{
    double now = l->h->now();
    int ok = 1;
    *probe_r = 0;
    pthread_mutex_lock(&l->lock);
    if (l->state == BREAKER_OPEN && now >= l->open_until)
        l->state = BREAKER_HALF_OPEN;
    if (l->state == BREAKER_OPEN) {
        snprintf(why, size, "circuit breaker open for %.0f s more after %d failed calls", l->open_until - now,
                 l->consecutive);
        ok = 0;
    } else if (l->state == BREAKER_HALF_OPEN) {
        if (l->probing) {
            snprintf(why, size, "circuit breaker half-open: a probe call is under way");
            ok = 0;
        } else {
            l->probing = 1;
            *probe_r = 1;
        }
    }
    pthread_mutex_unlock(&l->lock);
    return ok;
}

/* A probe that never reached the server (no lease, a broken request) lets
 * the next caller probe instead. */
static void probe_release(struct llm *l, int probe)
{
    if (!probe)
        return;
    pthread_mutex_lock(&l->lock);
    l->probing = 0;
    pthread_mutex_unlock(&l->lock);
}

static void breaker_record(struct llm *l, int probe, enum llm_outcome o, const char *error)
{
    char labels[96];
    labels_of(l, labels, sizeof(labels));
    int failed = o != LLM_OK && o != LLM_REFUSED;
    int opened = -1;                 /* -1: unchanged, 0: closed, 1: opened */
    pthread_mutex_lock(&l->lock);
    l->calls++;
    if (probe)
        l->probing = 0;
    if (failed) {
        l->failed++;
        l->consecutive++;
        snprintf(l->last_error, sizeof(l->last_error), "%s: %s", llm_outcome_name(o), error);
        if (probe || l->consecutive >= l->breaker_failures) {
            if (l->state != BREAKER_OPEN)
                opened = 1;
            l->state = BREAKER_OPEN;
            l->open_until = l->h->now() + l->cooldown_s;
        }
    } else {
        if (l->state != BREAKER_CLOSED)
            opened = 0;
        l->consecutive = 0;
        l->state = BREAKER_CLOSED;
    }
    int consecutive = l->consecutive;
    pthread_mutex_unlock(&l->lock);
    if (opened == 1) {
        l->h->gauge_set("atum_llm_breaker_open", labels, 1);
        l->h->log(ATUM_LOG_WARN, "%s: language model circuit breaker open after %d failed calls (%s: %s);"
                                 " the local path answers, a probe follows in %.0f s",
                  l->plugin, consecutive, llm_outcome_name(o), error, l->cooldown_s);
    } else if (opened == 0) {
        l->h->gauge_set("atum_llm_breaker_open", labels, 0);
        l->h->log(ATUM_LOG_INFO, "%s: language model answers again: circuit breaker closed", l->plugin);
    }
}

int llm_available(struct llm *l)
{
    if (l == NULL || l->provider == LLM_NONE)
        return 0;
    double now = l->h->now();
    pthread_mutex_lock(&l->lock);
    int ok = l->state == BREAKER_CLOSED || (l->state == BREAKER_OPEN && now >= l->open_until)
        || (l->state == BREAKER_HALF_OPEN && !l->probing);
    pthread_mutex_unlock(&l->lock);
    return ok;
}

json_t *llm_status_json(struct llm *l)
{
    if (l == NULL || l->provider == LLM_NONE)
        return json_pack("{s:s, s:{s:s}}", "provider", "none", "breaker", "state", "off");
    double now = l->h->now();
    pthread_mutex_lock(&l->lock);
    enum breaker_state st = l->state;
    if (st == BREAKER_OPEN && now >= l->open_until)
        st = BREAKER_HALF_OPEN;
    json_t *v = json_pack("{s:s, s:s, s:s, s:s, s:{s:s, s:i, s:f}, s:I, s:I, s:s}",
                          "provider", l->provider == LLM_OLLAMA ? "ollama" : "openai", "model", l->model,
                          "embed_model", l->embed_model, "url", l->url, "breaker", "state",
                          st == BREAKER_CLOSED ? "closed" : st == BREAKER_OPEN ? "open" : "half-open",
                          "failures", l->consecutive, "open_until",
                          st == BREAKER_CLOSED ? 0.0 : l->open_until, "calls", (json_int_t)l->calls,
                          "failed", (json_int_t)l->failed, "last_error", l->last_error);
    pthread_mutex_unlock(&l->lock);
    return v;
}

/* ---- one HTTP exchange ----------------------------------------------------- */

static void set_error(struct llm_call *c, enum llm_outcome o, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_error(struct llm_call *c, enum llm_outcome o, const char *fmt, ...)
{
    va_list ap;
    c->outcome = o;
    va_start(ap, fmt);
    vsnprintf(c->error, sizeof(c->error), fmt, ap);
    va_end(ap);
}

/* POSTs body to path below the base URL; fills c->status, c->raw;
 * returns the parsed JSON body or NULL (c->outcome and c->error set). */
static json_t *post_json(struct llm *l, struct atum_job *job, const char *path, json_t *body,
                         struct llm_call *c)
{
    const struct atum_host *h = l->h;
    const char *e = NULL;
    if (job != NULL && h->job_extend_lease(job, (int)(l->timeout_ms / 1000) + LEASE_MARGIN_S, &e) < 0) {
        set_error(c, LLM_SKIPPED, "the job's lease could not be extended: %s", e);
        return NULL;
    }
    char url[700];
    snprintf(url, sizeof(url), "%s%s", l->url, path);
    char auth[1100] = "";
    const char *headers[3] = { "Content-Type: application/json", NULL, NULL };
    const char *key = l->key_env[0] ? getenv(l->key_env) : NULL;
    if (key != NULL && key[0] != '\0') {
        snprintf(auth, sizeof(auth), "Authorization: Bearer %s", key);
        headers[1] = auth;
    }
    char *text = json_dumps(body, JSON_COMPACT);
    if (text == NULL) {
        set_error(c, LLM_MALFORMED, "the request could not be encoded (text not UTF-8?)");
        return NULL;
    }
    struct atum_http_call call = { .method = "POST", .url = url, .headers = headers, .body = text,
                                   .body_len = strlen(text), .timeout_ms = l->timeout_ms };
    struct atum_http_result res = { 0 };
    double t0 = plug_mono_ms();
    int rc = h->http(&call, &res, &e);
    double took = plug_mono_ms() - t0;
    free(text);
    if (auth[0])
        memset(auth, 0, sizeof(auth));
    if (rc < 0) {
        /* a transport failure at the time limit is a late answer: told by
         * the clock, not by the error's wording */
        set_error(c, took >= (double)l->timeout_ms * 0.95 ? LLM_LATE : LLM_TRANSPORT, "%s", e);
        return NULL;
    }
    c->status = res.status;
    if (res.body != NULL) {
        size_t keep = res.body_len > RAW_KEEP ? RAW_KEEP : res.body_len;
        c->raw = malloc(keep + 1);
        if (c->raw == NULL)
            abort();
        memcpy(c->raw, res.body, keep);
        c->raw[keep] = '\0';
    }
    json_t *v = NULL;
    if (res.status < 200 || res.status > 299) {
        char st[64];
        snprintf(st, sizeof(st), "HTTP %ld", res.status);
        set_error(c, LLM_HTTP, "the server answered %s", st);
    } else {
        json_error_t je;
        v = json_loadb(res.body ? res.body : "", res.body_len, 0, &je);
        if (!json_is_object(v)) {
            json_decref(v);
            v = NULL;
            set_error(c, LLM_MALFORMED, "the answer is not a JSON object: %s", je.text);
        }
    }
    h->http_result_free(&res);
    return v;
}

/* ---- chat -------------------------------------------------------------------- */

/* The model's text out of the provider's envelope (borrowed from env), or
 * NULL with c->outcome/c->error set. */
static const char *chat_content(struct llm *l, json_t *env, struct llm_call *c)
{
    json_t *msg = NULL;
    const char *finish = NULL;
    if (l->provider == LLM_OLLAMA) {
        msg = json_object_get(env, "message");
        finish = json_string_value(json_object_get(env, "done_reason"));
        if (!json_is_true(json_object_get(env, "done"))) {
            set_error(c, LLM_MALFORMED, "the answer is not complete (done is not true)");
            return NULL;
        }
    } else {
        json_t *choice = json_array_get(json_object_get(env, "choices"), 0);
        msg = json_object_get(choice, "message");
        finish = json_string_value(json_object_get(choice, "finish_reason"));
        const char *refusal = json_string_value(json_object_get(msg, "refusal"));
        if (refusal != NULL) {
            set_error(c, LLM_REFUSED, "the model refused: %.300s", refusal);
            return NULL;
        }
        if (finish && strcmp(finish, "content_filter") == 0) {
            set_error(c, LLM_REFUSED, "the server's content filter stopped the answer");
            return NULL;
        }
    }
    if (finish && strcmp(finish, "length") == 0) {
        set_error(c, LLM_MALFORMED, "the answer was cut off at the token limit");
        return NULL;
    }
    const char *content = json_string_value(json_object_get(msg, "content"));
    if (content == NULL) {
        set_error(c, LLM_MALFORMED, "no message content in the answer");
        return NULL;
    }
    json_t *usage = l->provider == LLM_OLLAMA
        ? json_pack("{s:O?, s:O?}", "prompt_eval_count", json_object_get(env, "prompt_eval_count"),
                    "eval_count", json_object_get(env, "eval_count"))
        : json_incref(json_object_get(env, "usage"));
    c->usage = usage;
    return content;
}

int llm_chat_json(struct llm *l, struct atum_job *job, const char *system, const char *user,
                  const struct llm_schema *schema, struct llm_call *c)
{
    memset(c, 0, sizeof(*c));
    if (!llm_chat_enabled(l)) {
        set_error(c, LLM_SKIPPED, "no language model is configured");
        return -1;
    }
    snprintf(c->model, sizeof(c->model), "%s", l->model);
    int probe = 0;
    char why[200];
    if (!breaker_admit(l, &probe, why, sizeof(why))) {
        set_error(c, LLM_SKIPPED, "%s", why);
        count_call(l, "chat", c);
        return -1;
    }
    json_error_t je;
    json_t *fmt = json_loads(schema->json_schema, 0, &je);
    if (fmt == NULL) {
        /* the plugin's own schema text is broken: a bug, not the server's fault */
        set_error(c, LLM_SKIPPED, "the answer schema does not parse: %s", je.text);
        probe_release(l, probe);
        return -1;
    }
    json_t *msgs = json_pack("[{s:s, s:s}, {s:s, s:s}]", "role", "system", "content", system ? system : "",
                             "role", "user", "content", user ? user : "");
    json_t *body;
    const char *path;
    if (l->provider == LLM_OLLAMA) {
        body = json_pack("{s:s, s:o, s:b, s:o, s:{s:i}}", "model", l->model, "messages", msgs, "stream", 0,
                         "format", fmt, "options", "temperature", 0);
        path = "/api/chat";
    } else {
        body = json_pack("{s:s, s:o, s:i, s:{s:s, s:{s:s, s:b, s:o}}}", "model", l->model, "messages", msgs,
                         "temperature", 0, "response_format", "type", "json_schema", "json_schema", "name",
                         schema->name, "strict", 1, "schema", fmt);
        path = strlen(l->url) >= 3 && strcmp(l->url + strlen(l->url) - 3, "/v1") == 0 ? "/chat/completions"
                                                                                     : "/v1/chat/completions";
    }
    double t0 = plug_mono_ms();
    json_t *env = body ? post_json(l, job, path, body, c) : NULL;
    if (body == NULL)
        set_error(c, LLM_MALFORMED, "the request could not be built (text not UTF-8?)");
    json_decref(body);
    if (env != NULL) {
        const char *content = chat_content(l, env, c);
        if (content != NULL) {
            json_t *ans = json_loads(content, JSON_REJECT_DUPLICATES, &je);
            const char *ve = NULL;
            if (!json_is_object(ans))
                set_error(c, LLM_MALFORMED, "the model's text is not a JSON object: %s",
                          ans ? "another JSON value" : je.text);
            else if (schema->validate(ans, schema->arg, &ve) < 0)
                set_error(c, LLM_INVALID, "the answer does not meet the schema: %s", ve);
            else {
                c->outcome = LLM_OK;
                c->result = json_incref(ans);
            }
            json_decref(ans);
        }
        json_decref(env);
    }
    c->elapsed_ms = plug_mono_ms() - t0;
    if (c->outcome == LLM_SKIPPED)
        probe_release(l, probe);
    else
        breaker_record(l, probe, c->outcome, c->error);
    count_call(l, "chat", c);
    return c->outcome == LLM_OK ? 0 : -1;
}

/* ---- embeddings -------------------------------------------------------------- */

int llm_embed(struct llm *l, struct atum_job *job, const char *const *texts, size_t n, float **vecs_r,
              int *dim_r, struct llm_call *c)
{
    memset(c, 0, sizeof(*c));
    *vecs_r = NULL;
    *dim_r = 0;
    if (!llm_embed_enabled(l)) {
        set_error(c, LLM_SKIPPED, "no embedding model is configured");
        return -1;
    }
    snprintf(c->model, sizeof(c->model), "%s", l->embed_model);
    int probe = 0;
    char why[200];
    if (!breaker_admit(l, &probe, why, sizeof(why))) {
        set_error(c, LLM_SKIPPED, "%s", why);
        count_call(l, "embed", c);
        return -1;
    }
    json_t *input = json_array();
    for (size_t i = 0; i < n; i++) {
        json_t *s = json_string(texts[i] ? texts[i] : "");
        json_array_append_new(input, s ? s : json_string(""));   /* invalid UTF-8: embedded as empty */
    }
    json_t *body = json_pack("{s:s, s:o}", "model", l->embed_model, "input", input);
    const char *path = l->provider == LLM_OLLAMA ? "/api/embed"
        : strlen(l->url) >= 3 && strcmp(l->url + strlen(l->url) - 3, "/v1") == 0 ? "/embeddings" : "/v1/embeddings";
    double t0 = plug_mono_ms();
    json_t *env = post_json(l, job, path, body, c);
    json_decref(body);
    float *vecs = NULL;
    if (env != NULL) {
        /* Ollama: {"embeddings": [[...], ...]}; OpenAI: {"data": [{"index": i, "embedding": [...]}]} */
        json_t *rows = l->provider == LLM_OLLAMA ? json_object_get(env, "embeddings") : json_object_get(env, "data");
        int dim = 0, bad = !json_is_array(rows) || json_array_size(rows) != n;
        for (size_t i = 0; !bad && i < n; i++) {
            json_t *row = json_array_get(rows, i);
            size_t at = i;
            if (l->provider == LLM_OPENAI) {
                json_t *idx = json_object_get(row, "index");
                if (json_is_integer(idx)) {
                    if (json_integer_value(idx) < 0 || (size_t)json_integer_value(idx) >= n) {
                        bad = 1;
                        break;
                    }
                    at = (size_t)json_integer_value(idx);
                }
                row = json_object_get(row, "embedding");
            }
            if (!json_is_array(row) || json_array_size(row) == 0 || json_array_size(row) > 65536
                || (dim && json_array_size(row) != (size_t)dim)) {
                bad = 1;
                break;
            }
            if (dim == 0) {
                dim = (int)json_array_size(row);
                vecs = calloc(n * (size_t)dim, sizeof(float));
                if (vecs == NULL)
                    abort();
            }
            for (size_t k = 0; k < (size_t)dim; k++) {
                json_t *x = json_array_get(row, k);
                if (!json_is_number(x)) {
                    bad = 1;
                    break;
                }
                vecs[at * (size_t)dim + k] = (float)json_number_value(x);
            }
        }
        if (bad) {
            free(vecs);
            vecs = NULL;
            set_error(c, LLM_INVALID, "the embeddings are not %zu equally long arrays of numbers", n);
        } else {
            c->outcome = LLM_OK;
            *vecs_r = vecs;
            *dim_r = dim;
        }
        json_decref(env);
    }
    c->elapsed_ms = plug_mono_ms() - t0;
    if (c->outcome == LLM_SKIPPED)
        probe_release(l, probe);
    else
        breaker_record(l, probe, c->outcome, c->error);
    count_call(l, "embed", c);
    return c->outcome == LLM_OK ? 0 : -1;
}
