/*
 * plugins/common/llm.h -- a language-model server for the triage, rag and
 * smartreply plugins, reached only through the host's HTTP client
 * (host->http): Ollama (/api/chat, /api/embed) or any OpenAI-compatible
 * server (/v1/chat/completions, /v1/embeddings).
 *
 * Configuration (each plugin's own section; LLM_CONF_KEYS declares the
 * keys): llm = none | ollama | openai, llm_url (the server's base URL),
 * llm_model, llm_embed_model, llm_api_key_env (the NAME of the environment
 * variable that holds the API key: the key itself is never in a file, a
 * log line or a trace), llm_timeout_ms, llm_breaker_failures,
 * llm_breaker_cooldown_s.
 *
 * Answers are asked for as JSON that meets a JSON Schema (Ollama's
 * "format", OpenAI's response_format json_schema) and are checked again
 * here, strictly, by the caller's validator (jansson's JSON_STRICT unpack
 * and enum checks): a transport error, a timeout, an HTTP error, a
 * malformed or truncated envelope, JSON that does not parse, an answer
 * that fails the schema, or a refusal is discarded, and the caller answers
 * by its local path instead.
 *
 * Circuit breaker: llm_breaker_failures failed calls in a row open it;
 * while open no call is made (outcome LLM_SKIPPED); after
 * llm_breaker_cooldown_s one call is let through as a probe (half-open):
 * its success closes the breaker, its failure opens it again.  A refusal
 * is the model's verdict on a text, not a failing server: it does not
 * count.  The state is in llm_status_json() (the plugins' /status routes)
 * and in the gauge atum_llm_breaker_open{plugin="NAME"}; every call counts
 * in atum_llm_calls_total{plugin,kind,outcome} (kind: chat or embed), and
 * every call made (not skipped) in the histogram
 * atum_llm_call_duration_seconds{plugin,kind}.  llm_new() describes these
 * families to the host (HELP text for GET /metrics).
 * Time is the host's clock (host->now), so tests move it.
 *
 * Calls block for up to llm_timeout_ms: make them only from a job (never
 * on the mail path or a web thread).  Given the job, a call first extends
 * its lease by the timeout plus a margin, so a slow server never lets the
 * lease run out under a waiting worker.  job may be NULL only in an
 * atumctl command.
 *
 * Threads: a struct llm is shared by the plugin's threads; its breaker is
 * behind a mutex.  Ownership: llm_new() returns an object freed with
 * llm_free(); a struct llm_call owns its raw text and result, released by
 * llm_call_clear(); embeddings are malloc'd for the caller.
 */
#ifndef PLUGINS_COMMON_LLM_H
#define PLUGINS_COMMON_LLM_H

#include <atum/plugin.h>
#include <jansson.h>
#include <stddef.h>

/* The keys a plugin declares in its conf_keys table (put this macro
 * before the terminating { NULL }). */
#define LLM_CONF_KEYS \
    { "llm", "none", "language model server: none | ollama | openai (any OpenAI-compatible server)" }, \
    { "llm_url", NULL, "the server's base URL, e.g. http://127.0.0.1:11434 (Ollama) or https://api.example.com (OpenAI-compatible; /v1 is added)" }, \
    { "llm_model", NULL, "the chat model, e.g. llama3.1:8b" }, \
    { "llm_embed_model", NULL, "the embedding model (rag), e.g. nomic-embed-text; none: no embeddings" }, \
    { "llm_api_key_env", NULL, "the name of the environment variable holding the API key (sent as a Bearer token)" }, \
    { "llm_timeout_ms", "20000", "one call's time limit; a later answer is discarded" }, \
    { "llm_breaker_failures", "3", "failed calls in a row that open the circuit breaker" }, \
    { "llm_breaker_cooldown_s", "60", "seconds the breaker stays open before one probe call" }

enum llm_provider { LLM_NONE = 0, LLM_OLLAMA, LLM_OPENAI };

enum llm_outcome {
    LLM_OK = 0,
    LLM_SKIPPED,         /* not configured, off for the queue, or the breaker is open */
    LLM_TRANSPORT,       /* no answer: connection, TLS, size limit */
    LLM_LATE,            /* no answer within llm_timeout_ms */
    LLM_HTTP,            /* an answer with a status other than 2xx */
    LLM_MALFORMED,       /* the envelope or the JSON inside does not parse, or was cut off */
    LLM_INVALID,         /* JSON that does not meet the schema */
    LLM_REFUSED          /* the model declined (refusal, content filter) */
};

const char *llm_outcome_name(enum llm_outcome o);

struct llm;

/* Reads the configuration; NULL with *error_r when it is inconsistent (an
 * unknown provider, a provider without llm_url or llm_model). llm = none
 * gives an object that is simply off. plugin: the metrics label. */
struct llm *llm_new(const struct atum_host *h, const struct atum_conf *conf, const char *plugin,
                    const char **error_r);
void llm_free(struct llm **l);

int llm_chat_enabled(const struct llm *l);       /* a provider and a chat model */
int llm_embed_enabled(const struct llm *l);      /* a provider and an embedding model */
enum llm_provider llm_provider_of(const struct llm *l);
const char *llm_model(const struct llm *l);      /* "" when off */
const char *llm_embed_model(const struct llm *l);
/* "llm:MODEL": the method name of a run answered by the model */
const char *llm_method(const struct llm *l);

/* What a call expects back. */
struct llm_schema {
    const char *name;            /* [a-z_]+, e.g. "triage" */
    const char *json_schema;     /* a JSON Schema object as text, sent to the server */
    /* strict check of the parsed answer (an object): 0, or -1 with *error_r */
    int (*validate)(json_t *answer, void *arg, const char **error_r);
    void *arg;
};

/* What one call did: the trace a plugin records. */
struct llm_call {
    enum llm_outcome outcome;
    long status;                 /* HTTP status, 0 without an answer */
    char *raw;                   /* the server's body (at most 64 KiB kept), or NULL */
    json_t *result;              /* the validated answer (LLM_OK), owned */
    char error[512];             /* why it was discarded, "" when LLM_OK */
    double elapsed_ms;
    char model[128];
    json_t *usage;               /* token counts the server reported, or NULL */
};

void llm_call_clear(struct llm_call *c);

/* One chat turn: system and user text, an answer meeting schema.  0 when
 * c->outcome is LLM_OK (c->result set), else -1 (c->error says why). */
int llm_chat_json(struct llm *l, struct atum_job *job, const char *system, const char *user,
                  const struct llm_schema *schema, struct llm_call *c);

/* Embeddings of n texts: *vecs_r gets n * *dim_r floats (row i is text
 * i), the caller frees it.  0 on LLM_OK, else -1. */
int llm_embed(struct llm *l, struct atum_job *job, const char *const *texts, size_t n,
              float **vecs_r, int *dim_r, struct llm_call *c);

/* The breaker and the call counts:
 * {"provider", "model", "embed_model", "url", "breaker": {"state":
 *  "closed"|"open"|"half-open"|"off", "failures", "open_until"}, "calls",
 *  "failed", "last_error"}. */
json_t *llm_status_json(struct llm *l);

/* Whether a call would be made now (not off, breaker not open). */
int llm_available(struct llm *l);

/* Describes a metric family (type and HELP text) when the host has
 * metric_describe (hosts before the metrics plugin's ABI additions do
 * not: then nothing).  For the plugins' own families, from init(). */
void llm_metric_describe(const struct atum_host *h, const char *name, enum atum_metric_type type,
                         const char *help);

#endif
