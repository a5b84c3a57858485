/*
 * plugins/common/kbindex.h -- the knowledge base as the rag and
 * smartreply plugins rank it: the published articles (kb_articles with
 * their linked questions, kb_questions), the public answers of solved
 * tickets (rag_ticket_docs) and, when an embedding model is configured,
 * the passages' embeddings (rag_embeddings), read from the rag plugin's
 * tables through host->sql and built into a rankidx.h index.
 *
 * A struct kbcache keeps one index per plugin, shared by its threads,
 * rebuilt when the tables change (a stamp of counts and times, looked up
 * at most every two seconds): every atumd answers from the same KB.
 * Without the rag plugin's tables (smartreply alone) the cache has no
 * index and callers go on without the KB.
 *
 * Visibility: customers and the public see published public articles
 * only; solved tickets' answers and internal articles are for staff.
 *
 * Ownership: kbcache_get() hands out a reference released with
 * kbcache_put(); kbindex_build() returns an index with one reference,
 * released with kbindex_unref().  An index is read-only once built.
 */
#ifndef PLUGINS_COMMON_KBINDEX_H
#define PLUGINS_COMMON_KBINDEX_H

#include <atum/plugin.h>
#include <pthread.h>
#include <stddef.h>
#include "rankidx.h"
#include "stem.h"

enum kbdoc_kind { KBDOC_ARTICLE = 0, KBDOC_TICKET = 1 };

struct kbdoc {
    enum kbdoc_kind kind;
    long long id;            /* kb_articles.id or the ticket's id */
    char *slug;              /* article slug, "ticket-N" for a ticket */
    char *title;
    char *lang;
    int public;              /* a published public article */
    long long queue_id;      /* 0: every queue */
};

struct kbindex {
    int refs;                /* guarded by the cache's lock */
    struct rankidx *ix;
    size_t n;
    struct kbdoc *docs;
    /* embeddings of emb_model (empty: none), L2-normalised: doc i has
     * nvec[i] rows of dim floats in vec[i], row k for passage vpass[i][k] */
    char emb_model[128];
    int dim;
    size_t *nvec;
    float **vec;
    int **vpass;
    char stamp[256];
};

/* Reads the tables and builds an index (emb_model: "" for none). */
struct kbindex *kbindex_build(const struct atum_host *h, struct atum_db *db, const char *emb_model,
                              const char **error_r);
void kbindex_unref(struct kbindex *k);   /* without a cache: frees at zero */

struct kbcache {
    const struct atum_host *h;
    pthread_mutex_t lock;
    struct kbindex *cur;
    double checked_at;
    char emb_model[128];
    int warned;              /* the tables are missing: said once */
};

void kbcache_init(struct kbcache *c, const struct atum_host *h, const char *emb_model);
void kbcache_fini(struct kbcache *c);
/* The current index (rebuilt when the tables changed), or NULL. */
struct kbindex *kbcache_get(struct kbcache *c, struct atum_db *db);
void kbcache_put(struct kbcache *c, struct kbindex *k);
/* Forget the time of the last look: the next get looks again. */
void kbcache_touch(struct kbcache *c);

struct kbhit {
    int doc;                 /* index into k->docs */
    double score;            /* fused RRF score */
    double relevance;        /* 0..1, lexical: "I don't know" below a threshold */
    double cosine;           /* best passage's embedding similarity, 0 without */
    int passage;             /* the passage that answers best, -1 when none */
    const char *section;     /* its heading (borrowed), "" */
    const char *text;        /* its text (borrowed), "" */
};

struct kbrank_opts {
    int staff;               /* internal articles and solved tickets too */
    int articles_only;       /* no solved tickets even for staff (evaluation) */
    long long queue_id;      /* > 0: articles of this queue or of every queue */
    const float *qvec;       /* the query's embedding (dim of the index), or NULL */
    int qdim;
};

/* Ranks query; fills at most max hits, best first; returns how many. */
size_t kbindex_rank(const struct kbindex *k, const char *query, const struct kbrank_opts *o,
                    struct stemmer_set *st, struct kbhit *hits, size_t max);

/* Float32 arrays as bytea text (hex) and back: little-endian IEEE 754. */
char *kb_vec_hex(const float *v, int dim);
float *kb_vec_unhex(const char *hex, int dim);   /* NULL when the length is wrong */

#endif
