/*
 * plugins/rag/rag_draft.c -- answers drafted by a language model from the
 * retrieved passages (rag_answer.h), always as a job (rag.answer), each a
 * row of rag_runs: the question, the passages given, the method, the raw
 * answer, the validated result, the time; replayable.  And the embedding
 * job (rag.embed): passages whose text is new or changed get an embedding
 * of the configured model, stored as float32 bytea.
 *
 * A run's result: {"answered": bool, "answer": text or null, "citations":
 * [hits with their passage], "relevance": best lexical relevance}.  No
 * passage above min_relevance: "I don't know" without asking the model.
 * A discarded model answer: the passages alone (method local), the
 * model's outcome and error kept in the run.
 */
#include "rag-private.h"
#include "rag_answer.h"
#include "../common/stem.h"
#include "../common/text.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define DRAFT_HITS 5
#define EMBED_BATCH 16
#define EMBED_TEXT_MAX 2000

float *rag_query_vec(struct rag *g, struct atum_job *job, const char *query, int *dim_r)
{
    *dim_r = 0;
    if (!llm_embed_enabled(g->llm))
        return NULL;
    const char *texts[] = { query };
    float *v = NULL;
    struct llm_call c;
    if (llm_embed(g->llm, job, texts, 1, &v, dim_r, &c) < 0)
        g->h->log(ATUM_LOG_INFO, "rag: no embedding for the question (%s: %s); lexical ranking only",
                  llm_outcome_name(c.outcome), c.error);
    llm_call_clear(&c);
    return v;
}

int rag_new_run(struct rag *g, struct atum_db *db, json_t *input, long long ticket_id, long long user_id,
                long long replay_of, long long *run_r, const char **error_r)
{
    const struct atum_host *h = g->h;
    char *in = json_dumps(input, JSON_COMPACT);
    char t[24], u[24], r0[24];
    snprintf(t, sizeof(t), "%lld", ticket_id);
    snprintf(u, sizeof(u), "%lld", user_id);
    snprintf(r0, sizeof(r0), "%lld", replay_of);
    const char *p[] = { in, ticket_id > 0 ? t : NULL, user_id > 0 ? u : NULL, replay_of > 0 ? r0 : NULL };
    struct atum_rows *r = NULL;
    int rc = h->sql(db, "INSERT INTO rag_runs (method, outcome, input, ticket_id, created_by, replay_of)"
                        " VALUES ('pending', 'pending', $1::jsonb, $2::bigint, $3::bigint, $4::bigint) RETURNING id",
                    4, p, &r, error_r);
    if (rc == 0)
        *run_r = atoll(plug_cell(h, r, 0, 0));
    h->rows_free(&r);
    free(in);
    return rc;
}

/* whether the queue lets the model draft (rag_settings.llm, default on) */
static int queue_llm_on(struct rag *g, struct atum_db *db, long long queue_id)
{
    if (queue_id <= 0)
        return 1;
    char q[24];
    snprintf(q, sizeof(q), "%lld", queue_id);
    const char *p[] = { q };
    struct atum_rows *r = NULL;
    const char *e = NULL;
    int on = 1;
    if (g->h->sql(db, "SELECT llm FROM rag_settings WHERE queue_id = $1", 1, p, &r, &e) == 0 && g->h->rows_count(r) == 1)
        on = strcmp(plug_cell(g->h, r, 0, 0), "t") == 0;
    g->h->rows_free(&r);
    return on;
}

int rag_run_answer(struct rag *g, struct atum_db *db, struct atum_job *job, long long run_id, const char **error_r)
{
    const struct atum_host *h = g->h;
    char rid[24];
    snprintf(rid, sizeof(rid), "%lld", run_id);
    const char *p[] = { rid };
    struct atum_rows *r = NULL;
    if (h->sql(db, "SELECT input::text FROM rag_runs WHERE id = $1", 1, p, &r, error_r) < 0)
        return -1;
    json_t *input = h->rows_count(r) == 1 ? json_loads(plug_cell(h, r, 0, 0), 0, NULL) : NULL;
    h->rows_free(&r);
    if (input == NULL) {
        *error_r = "no such run, or its input does not parse";
        return -1;
    }
    const char *question = json_string_value(json_object_get(input, "question"));
    const char *lang = json_string_value(json_object_get(input, "language"));
    int staff = json_is_true(json_object_get(input, "staff"));
    long long queue = json_integer_value(json_object_get(input, "queue_id"));
    double t0 = plug_mono_ms();

    struct kbindex *k = kbcache_get(&g->kb, db);
    int dim = 0;
    float *qv = k && k->dim > 0 ? rag_query_vec(g, job, question ? question : "", &dim) : NULL;
    struct stemmer_set *st = stemmer_set_new();
    struct kbhit hits[DRAFT_HITS];
    struct kbrank_opts o = { .staff = staff, .queue_id = queue, .qvec = qv, .qdim = dim };
    size_t m = k ? kbindex_rank(k, question ? question : "", &o, st, hits, DRAFT_HITS) : 0;
    double best = m ? hits[0].relevance : 0;
    /* the passages worth giving: relevant enough, at most DRAFT_HITS */
    struct rag_passage pass[DRAFT_HITS];
    size_t np = 0;
    json_t *given = json_array();
    for (size_t i = 0; best >= g->min_relevance && i < m; i++)
        if (hits[i].relevance >= g->min_relevance / 2 && hits[i].passage >= 0) {
            pass[np] = (struct rag_passage){ k->docs[hits[i].doc].title, hits[i].section, hits[i].text };
            json_array_append_new(given, rag_hit_json(g, k, &hits[i], 1));
            np++;
        }
    struct llm_call call = { 0 };
    struct rag_answer ans = { 0 };
    const char *method = "local";
    json_t *result;
    if (np == 0) {
        result = json_pack("{s:b, s:s, s:o, s:f}", "answered", 0, "answer", "I don't know: nothing in the knowledge"
                           " base answers this question.", "citations", json_array(), "relevance", best);
    } else if (llm_chat_enabled(g->llm) && queue_llm_on(g, db, queue)
               && rag_answer_ask(g->llm, job, question ? question : "", lang, pass, np, &ans, &call) == 0) {
        method = llm_method(g->llm);
        json_t *cites = json_array();
        for (size_t i = 0; ans.answered && i < ans.ncites; i++)
            json_array_append(cites, json_array_get(given, (size_t)ans.cites[i] - 1));
        result = json_pack("{s:b, s:s, s:o, s:f}", "answered", ans.answered, "answer", ans.answer, "citations",
                           cites, "relevance", best);
    } else {
        result = json_pack("{s:b, s:n, s:O, s:f}", "answered", 1, "answer", "citations", given, "relevance", best);
    }
    json_object_set(input, "passages", given);
    json_decref(given);
    if (qv)
        json_object_set_new(input, "embedding", json_pack("{s:s, s:i}", "model", llm_embed_model(g->llm), "dim", dim));
    double took = plug_mono_ms() - t0;
    char el[32];
    snprintf(el, sizeof(el), "%.3f", took);
    char *in_s = json_dumps(input, JSON_COMPACT), *res_s = json_dumps(result, JSON_COMPACT);
    char *use_s = call.usage ? json_dumps(call.usage, JSON_COMPACT) : NULL;
    int asked = call.outcome != LLM_OK || call.raw != NULL || call.model[0];
    const char *pu[] = { rid, method, asked ? llm_outcome_name(call.outcome) : "ok", in_s, call.raw, res_s,
                         asked && call.outcome != LLM_OK ? call.error : NULL, el, use_s };
    int rc = h->tx_begin(db, error_r);
    if (rc == 0)
        rc = h->sql(db, "UPDATE rag_runs SET method = $2, outcome = $3, input = $4::jsonb, raw = $5,"
                        " result = $6::jsonb, error = $7, elapsed_ms = $8::real, usage = $9::jsonb WHERE id = $1",
                    9, pu, NULL, error_r);
    if (rc == 0 && job != NULL)
        rc = h->job_complete_in_tx(job, error_r);
    if (rc == 0)
        rc = h->tx_commit(db, error_r);
    else
        h->tx_rollback(db);
    if (rc == 0) {
        char labels[64];
        snprintf(labels, sizeof(labels), "method=\"%s\"", strncmp(method, "llm:", 4) == 0 ? "llm" : "local");
        h->counter_add("atum_rag_drafts_total", labels, 1);
    }
    free(in_s);
    free(res_s);
    free(use_s);
    json_decref(result);
    json_decref(input);
    rag_answer_clear(&ans);
    llm_call_clear(&call);
    free(qv);
    stemmer_set_free(&st);
    kbcache_put(&g->kb, k);
    return rc;
}

int rag_job_answer(void *state, struct atum_job *job)
{
    struct rag *g = state;
    json_t *v = json_loads(job->payload ? job->payload : "{}", 0, NULL);
    long long run = json_integer_value(json_object_get(v, "run_id"));
    json_decref(v);
    if (run <= 0)
        return ATUM_JOB_PERMANENT;
    const char *e = NULL;
    if (rag_run_answer(g, job->db, job, run, &e) < 0)
        return g->h->job_error(job, "drafting run %lld: %s", run, e);
    return ATUM_JOB_DONE;
}

/* ---- routes ---------------------------------------------------------------------- */

static int enqueue_answer(struct rag *g, struct atum_db *db, long long run, long long *job_r, const char **e)
{
    char payload[64];
    snprintf(payload, sizeof(payload), "{\"run_id\": %lld}", run);
    struct atum_job_spec spec = { .kind = "rag.answer", .payload = payload, .priority = 90 };
    return g->h->enqueue(db, &spec, job_r, e);
}

/* POST /drafts {"question": "...", "ticket_id"?, "language"?, "queue_id"?}:
 * a drafted answer, as a job; 202 {"run_id", "job_id"}; the answer is
 * GET /runs?id=RUN once done.  Customers ask about their own tickets and
 * get public articles only. */
int rag_route_drafts(void *state, const struct atum_http_req *req, struct atum_http_resp *resp)
{
    struct rag *g = state;
    const struct atum_host *h = g->h;
    json_t *b = json_loads(req->body ? req->body : "", 0, NULL);
    const char *q = NULL, *lang = NULL;
    json_int_t tid = 0, queue = 0;
    json_error_t je;
    if (b == NULL || json_unpack_ex(b, &je, JSON_STRICT, "{s:s, s?I, s?s, s?I}", "question", &q, "ticket_id", &tid,
                                    "language", &lang, "queue_id", &queue) < 0
        || q[0] == '\0' || strlen(q) > 8000 || (lang && strlen(lang) > 8)) {
        json_decref(b);
        return plug_problem(h, resp, 400, "expected {\"question\": \"...\" (at most 8000 bytes), \"ticket_id\"?,"
                                         " \"language\"?, \"queue_id\"?}");
    }
    int staff = req->role >= ATUM_ROLE_AGENT;
    const char *e = NULL;
    struct atum_rows *r = NULL;
    if (tid > 0) {
        char t[24], u[24];
        snprintf(t, sizeof(t), "%lld", (long long)tid);
        snprintf(u, sizeof(u), "%lld", req->user_id);
        const char *p[] = { t, u, staff ? "t" : "f" };
        if (h->sql(req->db, "SELECT queue_id FROM tickets WHERE id = $1 AND ($3::boolean OR requester_id = $2::bigint)",
                   3, p, &r, &e) < 0 || h->rows_count(r) != 1) {
            h->rows_free(&r);
            json_decref(b);
            return plug_problem(h, resp, 404, "no such ticket");
        }
        if (queue <= 0)
            queue = atoll(plug_cell(h, r, 0, 0));
        h->rows_free(&r);
    }
    json_t *input = json_pack("{s:s, s:s, s:b, s:I, s:I}", "question", q, "language", lang ? lang : "en", "staff",
                              staff, "queue_id", queue, "ticket_id", tid);
    json_decref(b);
    long long run = 0, job = 0;
    int rc = h->tx_begin(req->db, &e);
    if (rc == 0)
        rc = rag_new_run(g, req->db, input, tid, req->user_id, 0, &run, &e);
    if (rc == 0)
        rc = enqueue_answer(g, req->db, run, &job, &e);
    if (rc == 0)
        rc = h->tx_commit(req->db, &e);
    json_decref(input);
    if (rc < 0) {
        h->tx_rollback(req->db);
        return plug_problem(h, resp, 400, e);
    }
    plug_reply_json(h, resp, 202, json_pack("{s:I, s:I}", "run_id", (json_int_t)run, "job_id", (json_int_t)job));
    return 0;
}

#define RAG_RUN_JSON \
    "json_build_object('id', x.id, 'ticket_id', x.ticket_id, 'state', CASE WHEN x.method = 'pending'" \
    " THEN 'pending' ELSE 'done' END, 'method', x.method, 'outcome', x.outcome, 'input', x.input, 'raw', x.raw," \
    " 'result', x.result, 'error', x.error, 'elapsed_ms', x.elapsed_ms, 'usage', x.usage," \
    " 'replay_of', x.replay_of, 'created_at', x.created_at)"

/* GET /runs?id=N: a drafted answer and its trace, with its replays;
 * customers see their own runs only (without the raw trace). */
int rag_route_runs(void *state, const struct atum_http_req *req, struct atum_http_resp *resp)
{
    struct rag *g = state;
    const struct atum_host *h = g->h;
    char id[24], u[24];
    if (!plug_query_get(req->query, "id", id, sizeof(id)) || atoll(id) <= 0)
        return plug_problem(h, resp, 400, "id: a run id is required");
    snprintf(id, sizeof(id), "%lld", atoll(id));
    snprintf(u, sizeof(u), "%lld", req->user_id);
    const char *p[] = { id, u, req->role >= ATUM_ROLE_AGENT ? "t" : "f" };
    struct atum_rows *r = NULL;
    const char *e = NULL;
    if (h->sql(req->db,
               "SELECT CASE WHEN $3::boolean THEN json_build_object("
               "  'run', (SELECT " RAG_RUN_JSON " FROM rag_runs x WHERE x.id = $1),"
               "  'replays', (SELECT coalesce(json_agg(" RAG_RUN_JSON " ORDER BY x.id), '[]') FROM rag_runs x"
               "              WHERE x.replay_of = $1))"
               " ELSE json_build_object('run', (SELECT json_build_object('id', x.id, 'state', CASE WHEN"
               "   x.method = 'pending' THEN 'pending' ELSE 'done' END, 'result', x.result, 'created_at', x.created_at)"
               "   FROM rag_runs x WHERE x.id = $1 AND x.created_by = $2::bigint)) END::text", 3, p, &r, &e) < 0)
        return plug_problem(h, resp, 500, e);
    json_t *v = json_loads(plug_cell(h, r, 0, 0), 0, NULL);
    h->rows_free(&r);
    if (v == NULL || json_is_null(json_object_get(v, "run"))) {
        json_decref(v);
        return plug_problem(h, resp, 404, "no such run");
    }
    plug_reply_json(h, resp, 200, v);
    return 0;
}

/* POST /replay {"run_id": N}: the same input again, a new run (replay_of). */
int rag_route_replay(void *state, const struct atum_http_req *req, struct atum_http_resp *resp)
{
    struct rag *g = state;
    const struct atum_host *h = g->h;
    long long run = 0;
    if (plug_body_id(req, "run_id", &run) < 0)
        return plug_problem(h, resp, 400, "expected {\"run_id\": N}");
    char rid[24];
    snprintf(rid, sizeof(rid), "%lld", (long long)run);
    const char *p[] = { rid };
    struct atum_rows *r = NULL;
    const char *e = NULL;
    if (h->sql(req->db, "SELECT input::text, coalesce(ticket_id, 0) FROM rag_runs WHERE id = $1", 1, p, &r, &e) < 0)
        return plug_problem(h, resp, 500, e);
    json_t *input = h->rows_count(r) == 1 ? json_loads(plug_cell(h, r, 0, 0), 0, NULL) : NULL;
    long long tid = h->rows_count(r) == 1 ? atoll(plug_cell(h, r, 0, 1)) : 0;
    h->rows_free(&r);
    if (input == NULL)
        return plug_problem(h, resp, 404, "no such run");
    json_object_del(input, "passages");        /* retrieved again */
    json_object_del(input, "embedding");
    long long nrun = 0, job = 0;
    int rc = h->tx_begin(req->db, &e);
    if (rc == 0)
        rc = rag_new_run(g, req->db, input, tid, req->user_id, run, &nrun, &e);
    if (rc == 0)
        rc = enqueue_answer(g, req->db, nrun, &job, &e);
    if (rc == 0)
        rc = h->tx_commit(req->db, &e);
    json_decref(input);
    if (rc < 0) {
        h->tx_rollback(req->db);
        return plug_problem(h, resp, 400, e);
    }
    plug_reply_json(h, resp, 202, json_pack("{s:I, s:I, s:I}", "run_id", (json_int_t)nrun, "replay_of", run,
                                           "job_id", (json_int_t)job));
    return 0;
}

/* ---- embeddings -------------------------------------------------------------------- */

struct todo { const char *kind; long long id; int passage; char hash[20]; char *text; };

int rag_embed_all(struct rag *g, struct atum_db *db, struct atum_job *job, size_t *done_r, const char **error_r)
{
    const struct atum_host *h = g->h;
    static __thread char err[600];
    *done_r = 0;
    if (!llm_embed_enabled(g->llm))
        return 0;
    const char *model = llm_embed_model(g->llm);
    struct kbindex *k = kbindex_build(h, db, "", error_r);
    if (k == NULL)
        return -1;
    struct atum_rows *r = NULL;
    const char *pm[] = { model };
    if (h->sql(db, "SELECT doc_kind || ':' || doc_id || ':' || passage || ':' || content_hash FROM rag_embeddings"
                   " WHERE model = $1 ORDER BY 1", 1, pm, &r, error_r) < 0) {
        kbindex_unref(k);
        return -1;
    }
    size_t nhave = (size_t)h->rows_count(r);
    struct todo *todo = NULL;
    size_t ntodo = 0, cap = 0;
    for (size_t d = 0; d < k->n; d++) {
        const struct kbdoc *doc = &k->docs[d];
        for (size_t pi = 0; pi < rankidx_npassages(k->ix, (int)d); pi++) {
            const char *head = "", *text = "";
            rankidx_passage(k->ix, (int)d, pi, &head, &text);
            size_t len = strlen(doc->title) + strlen(head) + strlen(text) + 8;
            char *t = malloc(len);
            if (t == NULL)
                abort();
            snprintf(t, len, "%s\n%s\n%s", doc->title, head, text);
            if (strlen(t) > EMBED_TEXT_MAX) {
                size_t cut = EMBED_TEXT_MAX;
                while (cut > 0 && ((unsigned char)t[cut] & 0xc0) == 0x80)
                    cut--;                           /* not inside a UTF-8 sequence */
                t[cut] = '\0';
            }
            char key[96], hash[20];
            snprintf(hash, sizeof(hash), "%016llx", (unsigned long long)text_hash(11, t, strlen(t)));
            snprintf(key, sizeof(key), "%s:%lld:%zu:%s", doc->kind == KBDOC_ARTICLE ? "article" : "ticket",
                     doc->id, pi, hash);
            int have = 0;
            for (size_t i = 0; i < nhave && !have; i++)         /* rows are few hundred to thousands */
                have = strcmp(plug_cell(h, r, (int)i, 0), key) == 0;
            if (have) {
                free(t);
                continue;
            }
            if (ntodo == cap) {
                cap = cap ? cap * 2 : 64;
                todo = realloc(todo, cap * sizeof(*todo));
                if (todo == NULL)
                    abort();
            }
            todo[ntodo] = (struct todo){ doc->kind == KBDOC_ARTICLE ? "article" : "ticket", doc->id, (int)pi, "", t };
            snprintf(todo[ntodo].hash, sizeof(todo[ntodo].hash), "%s", hash);
            ntodo++;
        }
    }
    h->rows_free(&r);
    int rc = 0;
    for (size_t b = 0; b < ntodo && rc == 0; b += EMBED_BATCH) {
        size_t n = ntodo - b < EMBED_BATCH ? ntodo - b : EMBED_BATCH;
        const char *texts[EMBED_BATCH];
        for (size_t i = 0; i < n; i++)
            texts[i] = todo[b + i].text;
        float *vecs = NULL;
        int dim = 0;
        struct llm_call c;
        if (llm_embed(g->llm, job, texts, n, &vecs, &dim, &c) < 0) {
            snprintf(err, sizeof(err), "embedding passages: %s: %s", llm_outcome_name(c.outcome), c.error);
            *error_r = err;
            llm_call_clear(&c);
            rc = -1;
            break;
        }
        llm_call_clear(&c);
        rc = h->tx_begin(db, error_r);
        for (size_t i = 0; rc == 0 && i < n; i++) {
            char id[24], pas[16], dm[16];
            snprintf(id, sizeof(id), "%lld", todo[b + i].id);
            snprintf(pas, sizeof(pas), "%d", todo[b + i].passage);
            snprintf(dm, sizeof(dm), "%d", dim);
            char *hex = kb_vec_hex(&vecs[i * (size_t)dim], dim);
            const char *p[] = { todo[b + i].kind, id, pas, model, dm, todo[b + i].hash, hex };
            rc = h->sql(db, "INSERT INTO rag_embeddings (doc_kind, doc_id, passage, model, dim, content_hash, vec)"
                            " VALUES ($1, $2, $3, $4, $5, $6, decode($7, 'hex'))"
                            " ON CONFLICT (doc_kind, doc_id, passage, model) DO UPDATE SET dim = EXCLUDED.dim,"
                            " content_hash = EXCLUDED.content_hash, vec = EXCLUDED.vec, created_at = now()",
                        7, p, NULL, error_r);
            free(hex);
        }
        free(vecs);
        if (rc == 0)
            rc = h->tx_commit(db, error_r);
        else
            h->tx_rollback(db);
        if (rc == 0)
            *done_r += n;
    }
    /* passages and documents that are gone */
    if (rc == 0)
        rc = h->sql(db, "DELETE FROM rag_embeddings e WHERE e.model = $1 AND NOT EXISTS (SELECT 1 FROM"
                        " (SELECT 'article' k, id FROM kb_articles WHERE status = 'published'"
                        "  UNION ALL SELECT 'ticket', ticket_id FROM rag_ticket_docs) d"
                        " WHERE d.k = e.doc_kind AND d.id = e.doc_id)", 1, pm, NULL, error_r);
    for (size_t d = 0; rc == 0 && d < k->n; d++) {
        char id[24], np[16];
        snprintf(id, sizeof(id), "%lld", k->docs[d].id);
        snprintf(np, sizeof(np), "%zu", rankidx_npassages(k->ix, (int)d));
        const char *p[] = { k->docs[d].kind == KBDOC_ARTICLE ? "article" : "ticket", id, model, np };
        rc = h->sql(db, "DELETE FROM rag_embeddings WHERE doc_kind = $1 AND doc_id = $2 AND model = $3"
                        " AND passage >= $4::int", 4, p, NULL, error_r);
    }
    for (size_t i = 0; i < ntodo; i++)
        free(todo[i].text);
    free(todo);
    kbindex_unref(k);
    if (rc == 0)
        kbcache_touch(&g->kb);
    return rc;
}

int rag_job_embed(void *state, struct atum_job *job)
{
    struct rag *g = state;
    size_t done = 0;
    const char *e = NULL;
    if (rag_embed_all(g, job->db, job, &done, &e) < 0)
        return g->h->job_error(job, "%s (%zu passages embedded before)", e, done);
    if (done > 0)
        g->h->log(ATUM_LOG_INFO, "rag: %zu passages embedded with %s", done, llm_embed_model(g->llm));
    g->h->counter_add("atum_rag_embedded_passages_total", NULL, (double)done);
    return ATUM_JOB_DONE;
}
