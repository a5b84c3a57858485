/*
 * plugins/common/rankidx.h -- the retrieval index of the knowledge base:
 * ranking without an LLM, better than plain BM25.
 *
 * Each document (a KB article, or the public answer of a solved ticket)
 * has three fields -- title, body and linked questions (customers'
 * questions that were answered with it, paraphrases an admin added) -- and
 * is cut into passages at its Markdown headings.  A query is ranked by
 * several ranked lists fused with reciprocal rank fusion (RRF, k = 60):
 *  1. BM25F over Snowball stems without stop words, title boosted, the
 *     questions field weighted like the title;
 *  1b. BM25 over the title alone: a KB title is usually the question a
 *     customer asks, and a dedicated list keeps a title match from being
 *     drowned by long bodies;
 *  2. cosine of TF-IDF character 3-5-grams of words (catches spelling
 *     variants and compounds the stemmer misses);
 *  3. BM25 over the questions field alone (when any document has one);
 *  4. optionally a list the caller supplies (embedding similarity from a
 *     configured LLM server), see rankidx_rank().
 *
 * Ownership: rankidx_build() copies what it needs; the index is read-only
 * afterwards, so threads may share it.  A struct stemmer_set is the
 * calling thread's.  rankidx_free() releases the index.
 */
#ifndef PLUGINS_RAG_RANKIDX_H
#define PLUGINS_RAG_RANKIDX_H

#include <stddef.h>
#include "stem.h"

struct rankidx_doc {
    const char *title;
    const char *body;        /* Markdown: "#"/"##" headings cut it into passages */
    const char *questions;   /* one question a line, or NULL */
    const char *lang;        /* ISO 639-1, NULL: "en" */
};

struct rankidx;

struct rankidx *rankidx_build(const struct rankidx_doc *docs, size_t n);
void rankidx_free(struct rankidx **ix);
size_t rankidx_ndocs(const struct rankidx *ix);
/* The passages of a document (its Markdown cut at headings): how many,
 * and passage k's heading ("" before the first heading) and text, both
 * borrowed from the index; -1 when there is no passage k. */
size_t rankidx_npassages(const struct rankidx *ix, int doc);
int rankidx_passage(const struct rankidx *ix, int doc, size_t k, const char **heading_r, const char **text_r);

struct rankidx_hit {
    int doc;                 /* index into the documents given to build */
    double score;            /* fused RRF score */
    double bm25;             /* BM25F score (0 when it did not match) */
    double chars;            /* character n-gram cosine */
    double relevance;        /* 0..1: how well the best evidence matches (for "I don't know") */
};

/* Ranks the documents for query; fills at most max hits, best first;
 * returns how many.  extra: another ranking (document indexes, best first,
 * n_extra of them) fused in, or NULL. */
size_t rankidx_rank(const struct rankidx *ix, const char *query, const char *lang,
                    struct stemmer_set *st, const int *extra, size_t n_extra,
                    struct rankidx_hit *hits, size_t max);

/* The passage of document doc that best answers query: its heading
 * (borrowed, "" for text before the first heading), its text (borrowed)
 * and its index; -1 when the document has no text. */
int rankidx_best_passage(const struct rankidx *ix, int doc, const char *query, const char *lang,
                         struct stemmer_set *st, const char **heading_r, const char **text_r);

#endif
