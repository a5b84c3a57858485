/*
 * plugins/rag/rag-private.h -- what the rag plugin's files share: its
 * state and small helpers.  Nothing outside plugins/rag includes it.
 *
 *   rag.c        life cycle, atumctl kb, search and answers without a
 *                language model, solved tickets, the acknowledgement's
 *                block, the ticket view
 *   rag_admin.c  articles (create, edit with revisions), per-queue settings
 *   rag_draft.c  drafted answers by a language model (jobs, traces,
 *                replay) and the embeddings job
 */
#ifndef PLUGINS_RAG_RAG_PRIVATE_H
#define PLUGINS_RAG_RAG_PRIVATE_H

#include <atum/plugin.h>
#include "../common/hostcall.h"
#include <jansson.h>
#include "../common/kbindex.h"
#include "../common/llm.h"

struct rag {
    const struct atum_host *h;
    const struct atum_conf *conf;
    struct kbcache kb;               /* the index, shared by every thread */
    struct llm *llm;                 /* chat and embeddings; off when not configured */
    double min_relevance;
};

/* Whether the caller reads as staff (internal articles, drafts, solved
 * tickets): an agent or above who did not ask for ?audience=public (the
 * portal asks for it, so staff see its knowledge base as customers do). */
int rag_staff_view(const struct atum_http_req *req);
/* A link to an article for people outside (mail, portal). */
void rag_article_link(const struct rag *g, const char *slug, char *buf, size_t size);
/* A hit as JSON: id, kind, slug, title, score, relevance, link and, with
 * passage, {"index", "section", "text"}. */
json_t *rag_hit_json(const struct rag *g, const struct kbindex *k, const struct kbhit *hit, int passage);

/* Queues the embedding job (unique while one is pending); no-op without
 * an embedding model. */
int rag_embed_soon(struct rag *g, struct atum_db *db, const char **error_r);

/* rag_admin.c */
int rag_route_articles(void *state, const struct atum_http_req *req, struct atum_http_resp *resp);
int rag_route_article_put(void *state, const struct atum_http_req *req, struct atum_http_resp *resp);
int rag_route_revisions(void *state, const struct atum_http_req *req, struct atum_http_resp *resp);
int rag_route_settings(void *state, const struct atum_http_req *req, struct atum_http_resp *resp);

/* rag_draft.c */
int rag_route_drafts(void *state, const struct atum_http_req *req, struct atum_http_resp *resp);
int rag_route_runs(void *state, const struct atum_http_req *req, struct atum_http_resp *resp);
int rag_route_replay(void *state, const struct atum_http_req *req, struct atum_http_resp *resp);
int rag_job_answer(void *state, struct atum_job *job);
int rag_job_embed(void *state, struct atum_job *job);
/* atumctl kb embed / kb replay ID: the same work, here and now */
int rag_embed_all(struct rag *g, struct atum_db *db, struct atum_job *job, size_t *done_r, const char **error_r);
int rag_run_answer(struct rag *g, struct atum_db *db, struct atum_job *job, long long run_id, const char **error_r);
int rag_new_run(struct rag *g, struct atum_db *db, json_t *input, long long ticket_id, long long user_id,
                long long replay_of, long long *run_r, const char **error_r);
/* the query's embedding within a job (NULL without a model or on failure) */
float *rag_query_vec(struct rag *g, struct atum_job *job, const char *query, int *dim_r);

#endif
