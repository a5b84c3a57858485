/* plugins/common/kbindex.c -- see kbindex.h. */
#include "kbindex.h"
#include "hostcall.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LOOK_EVERY_S 2.0
#define EMBED_LIST 50            /* documents the embedding list contributes to the fusion */
#define RANK_POOL 200            /* hits ranked before filtering by audience */

static char *xstrdup(const char *s)
{
    char *d = strdup(s ? s : "");
    if (d == NULL)
        abort();
    return d;
}

static void *xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size);
    if (p == NULL)
        abort();
    return p;
}

/* ---- vectors as hex ------------------------------------------------------------ */

char *kb_vec_hex(const float *v, int dim)
{
    static const char digits[] = "0123456789abcdef";
    char *s = xcalloc((size_t)dim * 8 + 1, 1);
    for (int i = 0; i < dim; i++) {
        uint32_t u;
        memcpy(&u, &v[i], 4);
        for (int b = 0; b < 4; b++) {
            unsigned byte = (u >> (8 * b)) & 0xff;
            s[i * 8 + b * 2] = digits[byte >> 4];
            s[i * 8 + b * 2 + 1] = digits[byte & 15];
        }
    }
    return s;
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

float *kb_vec_unhex(const char *hex, int dim)
{
    if (dim <= 0 || strlen(hex) != (size_t)dim * 8)
        return NULL;
    float *v = xcalloc((size_t)dim, sizeof(float));
    for (int i = 0; i < dim; i++) {
        uint32_t u = 0;
        for (int b = 0; b < 4; b++) {
            int hi = hexval(hex[i * 8 + b * 2]), lo = hexval(hex[i * 8 + b * 2 + 1]);
            if (hi < 0 || lo < 0) {
                free(v);
                return NULL;
            }
            u |= (uint32_t)(hi << 4 | lo) << (8 * b);
        }
        memcpy(&v[i], &u, 4);
    }
    return v;
}

/* ---- building ----------------------------------------------------------------- */

static void kbindex_free(struct kbindex *k)
{
    if (k == NULL)
        return;
    rankidx_free(&k->ix);
    for (size_t i = 0; i < k->n; i++) {
        free(k->docs[i].slug);
        free(k->docs[i].title);
        free(k->docs[i].lang);
        if (k->vec) {
            free(k->vec[i]);
            free(k->vpass[i]);
        }
    }
    free(k->docs);
    free(k->vec);
    free(k->vpass);
    free(k->nvec);
    free(k);
}

void kbindex_unref(struct kbindex *k)
{
    if (k != NULL && --k->refs == 0)
        kbindex_free(k);
}

#define STAMP_SQL \
    "SELECT (SELECT count(*) || ':' || coalesce(max(updated_at)::text, '') FROM kb_articles) || ':' ||" \
    " (SELECT count(*) || ':' || coalesce(max(id), 0) FROM kb_questions) || ':' ||" \
    " (SELECT count(*) || ':' || coalesce(max(solved_at)::text, '') FROM rag_ticket_docs) || ':' ||" \
    " (SELECT count(*) || ':' || coalesce(max(created_at)::text, '') FROM rag_embeddings WHERE model = $1)"

/* document ids of one kind, sorted, to find an embedding's document */
struct idmap { long long *ids; int *doc; size_t n; };

static int cmp_ll(const void *a, const void *b)
{
    long long x = *(const long long *)a, y = *(const long long *)b;
    return x < y ? -1 : x > y;
}

static int idmap_find(const struct idmap *m, long long id)
{
    size_t lo = 0, hi = m->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (m->ids[mid] < id)
            lo = mid + 1;
        else if (m->ids[mid] > id)
            hi = mid;
        else
            return m->doc[mid];
    }
    return -1;
}

static void idmap_build(struct idmap *m, const struct kbindex *k, enum kbdoc_kind kind)
{
    m->ids = xcalloc(k->n, sizeof(long long));
    m->doc = xcalloc(k->n, sizeof(int));
    m->n = 0;
    /* pairs sorted by id: ids and docs are sorted together through an index */
    long long (*pairs)[2] = xcalloc(k->n, sizeof(*pairs));
    for (size_t i = 0; i < k->n; i++)
        if (k->docs[i].kind == kind) {
            pairs[m->n][0] = k->docs[i].id;
            pairs[m->n][1] = (long long)i;
            m->n++;
        }
    qsort(pairs, m->n, sizeof(*pairs), cmp_ll);
    for (size_t i = 0; i < m->n; i++) {
        m->ids[i] = pairs[i][0];
        m->doc[i] = (int)pairs[i][1];
    }
    free(pairs);
}

static void idmap_free(struct idmap *m)
{
    free(m->ids);
    free(m->doc);
}

static void load_embeddings(const struct atum_host *h, struct atum_db *db, struct kbindex *k)
{
    if (k->emb_model[0] == '\0' || k->n == 0)
        return;
    const char *p[] = { k->emb_model };
    struct atum_rows *r = NULL;
    const char *e = NULL;
    if (h->sql(db, "SELECT doc_kind, doc_id, passage, dim, encode(vec, 'hex') FROM rag_embeddings"
                   " WHERE model = $1 ORDER BY doc_kind, doc_id, passage", 1, p, &r, &e) < 0) {
        h->log(ATUM_LOG_WARN, "kb: embeddings not readable: %s", e);
        return;
    }
    struct idmap arts, tix;
    idmap_build(&arts, k, KBDOC_ARTICLE);
    idmap_build(&tix, k, KBDOC_TICKET);
    k->nvec = xcalloc(k->n, sizeof(size_t));
    k->vec = xcalloc(k->n, sizeof(float *));
    k->vpass = xcalloc(k->n, sizeof(int *));
    size_t bad = 0;
    for (int i = 0; i < h->rows_count(r); i++) {
        int dim = atoi(plug_cell(h, r, i, 3));
        if (k->dim == 0 && dim > 0 && dim <= 65536)
            k->dim = dim;
        if (dim != k->dim) {
            bad++;
            continue;
        }
        long long id = atoll(plug_cell(h, r, i, 1));
        int doc = strcmp(plug_cell(h, r, i, 0), "article") == 0 ? idmap_find(&arts, id) : idmap_find(&tix, id);
        int passage = atoi(plug_cell(h, r, i, 2));
        if (doc < 0 || passage < 0 || (size_t)passage >= rankidx_npassages(k->ix, doc))
            continue;                        /* stale: the next embedding job removes it */
        float *v = kb_vec_unhex(plug_cell(h, r, i, 4), dim);
        if (v == NULL) {
            bad++;
            continue;
        }
        double norm = 0;
        for (int d = 0; d < dim; d++)
            norm += (double)v[d] * v[d];
        norm = sqrt(norm);
        size_t m = k->nvec[doc]++;
        k->vec[doc] = realloc(k->vec[doc], (m + 1) * (size_t)dim * sizeof(float));
        k->vpass[doc] = realloc(k->vpass[doc], (m + 1) * sizeof(int));
        if (k->vec[doc] == NULL || k->vpass[doc] == NULL)
            abort();
        for (int d = 0; d < dim; d++)
            k->vec[doc][m * (size_t)dim + (size_t)d] = norm > 0 ? (float)(v[d] / norm) : 0.0f;
        k->vpass[doc][m] = passage;
        free(v);
    }
    if (bad)
        h->log(ATUM_LOG_WARN, "kb: %zu embeddings of %s skipped (dimension or encoding wrong)", bad, k->emb_model);
    h->rows_free(&r);
    idmap_free(&arts);
    idmap_free(&tix);
}

struct kbindex *kbindex_build(const struct atum_host *h, struct atum_db *db, const char *emb_model,
                              const char **error_r)
{
    struct atum_rows *ra = NULL, *rt = NULL;
    if (h->sql(db, "SELECT a.id, a.slug, a.title, a.body, a.language,"
                   " a.visibility = 'public', coalesce(a.queue_id, 0),"
                   " coalesce((SELECT string_agg(q.question, E'\\n' ORDER BY q.id) FROM kb_questions q"
                   "           WHERE q.article_id = a.id), '')"
                   " FROM kb_articles a WHERE a.status = 'published' ORDER BY a.slug", 0, NULL, &ra, error_r) < 0)
        return NULL;
    if (h->sql(db, "SELECT ticket_id, subject, answer, question, language, coalesce(queue_id, 0)"
                   " FROM rag_ticket_docs ORDER BY ticket_id", 0, NULL, &rt, error_r) < 0) {
        h->rows_free(&ra);
        return NULL;
    }
    struct kbindex *k = xcalloc(1, sizeof(*k));
    k->refs = 1;
    size_t na = (size_t)h->rows_count(ra), nt = (size_t)h->rows_count(rt);
    k->n = na + nt;
    k->docs = xcalloc(k->n, sizeof(struct kbdoc));
    struct rankidx_doc *rd = xcalloc(k->n, sizeof(*rd));
    for (size_t i = 0; i < na; i++) {
        int row = (int)i;
        k->docs[i] = (struct kbdoc){ KBDOC_ARTICLE, atoll(plug_cell(h, ra, row, 0)), xstrdup(plug_cell(h, ra, row, 1)),
                                     xstrdup(plug_cell(h, ra, row, 2)), xstrdup(plug_cell(h, ra, row, 4)),
                                     strcmp(plug_cell(h, ra, row, 5), "t") == 0, atoll(plug_cell(h, ra, row, 6)) };
        rd[i] = (struct rankidx_doc){ plug_cell(h, ra, row, 2), plug_cell(h, ra, row, 3), plug_cell(h, ra, row, 7),
                                      plug_cell(h, ra, row, 4) };
    }
    for (size_t j = 0; j < nt; j++) {
        int row = (int)j;
        char slug[40];
        snprintf(slug, sizeof(slug), "ticket-%s", plug_cell(h, rt, row, 0));
        k->docs[na + j] = (struct kbdoc){ KBDOC_TICKET, atoll(plug_cell(h, rt, row, 0)), xstrdup(slug),
                                          xstrdup(plug_cell(h, rt, row, 1)), xstrdup(plug_cell(h, rt, row, 4)), 0,
                                          atoll(plug_cell(h, rt, row, 5)) };
        rd[na + j] = (struct rankidx_doc){ plug_cell(h, rt, row, 1), plug_cell(h, rt, row, 2), plug_cell(h, rt, row, 3),
                                           plug_cell(h, rt, row, 4) };
    }
    k->ix = rankidx_build(rd, k->n);
    free(rd);
    h->rows_free(&ra);
    h->rows_free(&rt);
    snprintf(k->emb_model, sizeof(k->emb_model), "%s", emb_model ? emb_model : "");
    load_embeddings(h, db, k);
    return k;
}

/* ---- the cache ---------------------------------------------------------------- */

void kbcache_init(struct kbcache *c, const struct atum_host *h, const char *emb_model)
{
    memset(c, 0, sizeof(*c));
    c->h = h;
    pthread_mutex_init(&c->lock, NULL);
    snprintf(c->emb_model, sizeof(c->emb_model), "%s", emb_model ? emb_model : "");
}

void kbcache_fini(struct kbcache *c)
{
    if (c->cur)
        kbindex_free(c->cur);
    c->cur = NULL;
    pthread_mutex_destroy(&c->lock);
}

void kbcache_put(struct kbcache *c, struct kbindex *k)
{
    if (k == NULL)
        return;
    pthread_mutex_lock(&c->lock);
    int left = --k->refs;
    pthread_mutex_unlock(&c->lock);
    if (left == 0)
        kbindex_free(k);
}

void kbcache_touch(struct kbcache *c)
{
    pthread_mutex_lock(&c->lock);
    c->checked_at = 0;
    pthread_mutex_unlock(&c->lock);
}

struct kbindex *kbcache_get(struct kbcache *c, struct atum_db *db)
{
    const struct atum_host *h = c->h;
    double now = h->now();
    pthread_mutex_lock(&c->lock);
    int look = c->cur == NULL || now - c->checked_at > LOOK_EVERY_S || now < c->checked_at;
    if (look)
        c->checked_at = now;
    struct kbindex *cur = c->cur;
    if (cur)
        cur->refs++;
    pthread_mutex_unlock(&c->lock);
    if (!look || db == NULL)
        return cur;
    struct atum_rows *r = NULL;
    const char *e = NULL;
    const char *p[] = { c->emb_model };
    if (h->sql(db, STAMP_SQL, 1, p, &r, &e) < 0) {
        if (!c->warned)
            h->log(ATUM_LOG_WARN, "kb: the knowledge base is not readable (is the rag plugin loaded?): %s", e);
        c->warned = 1;
        return cur;
    }
    char stamp[256];
    snprintf(stamp, sizeof(stamp), "%s", plug_cell(h, r, 0, 0));
    h->rows_free(&r);
    if (cur && strcmp(cur->stamp, stamp) == 0)
        return cur;
    struct kbindex *k = kbindex_build(h, db, c->emb_model, &e);
    if (k == NULL) {
        h->log(ATUM_LOG_WARN, "kb: index not built: %s", e);
        return cur;
    }
    snprintf(k->stamp, sizeof(k->stamp), "%s", stamp);
    k->refs++;                       /* the cache's and the caller's */
    pthread_mutex_lock(&c->lock);
    struct kbindex *old = c->cur;
    c->cur = k;
    pthread_mutex_unlock(&c->lock);
    kbcache_put(c, old);             /* the cache's reference to the old index */
    kbcache_put(c, cur);             /* ours */
    return k;
}

/* ---- ranking ------------------------------------------------------------------- */

static double dot(const float *a, const float *b, int dim)
{
    double s = 0;
    for (int i = 0; i < dim; i++)
        s += (double)a[i] * b[i];
    return s;
}

struct docscore { int doc; double s; };

static int cmp_docscore(const void *a, const void *b)
{
    const struct docscore *x = a, *y = b;
    if (x->s != y->s)
        return x->s < y->s ? 1 : -1;
    return x->doc - y->doc;
}

static int visible(const struct kbindex *k, int d, const struct kbrank_opts *o)
{
    const struct kbdoc *doc = &k->docs[d];
    if (doc->kind == KBDOC_TICKET && (!o->staff || o->articles_only))
        return 0;
    if (!o->staff && !doc->public)
        return 0;
    if (o->queue_id > 0 && doc->queue_id > 0 && doc->queue_id != o->queue_id)
        return 0;
    return 1;
}

size_t kbindex_rank(const struct kbindex *k, const char *query, const struct kbrank_opts *o,
                    struct stemmer_set *st, struct kbhit *hits, size_t max)
{
    if (k == NULL || k->n == 0 || max == 0)
        return 0;
    /* the query's normalised embedding and each document's best passage */
    float *q = NULL;
    double *best = NULL;
    int *bestp = NULL;
    int *extra = NULL;
    size_t n_extra = 0;
    if (o->qvec && o->qdim == k->dim && k->dim > 0 && k->vec) {
        q = xcalloc((size_t)k->dim, sizeof(float));
        double norm = sqrt(dot(o->qvec, o->qvec, k->dim));
        for (int i = 0; i < k->dim; i++)
            q[i] = norm > 0 ? (float)(o->qvec[i] / norm) : 0.0f;
        best = xcalloc(k->n, sizeof(double));
        bestp = xcalloc(k->n, sizeof(int));
        struct docscore *ds = xcalloc(k->n, sizeof(*ds));
        size_t m = 0;
        for (size_t d = 0; d < k->n; d++) {
            bestp[d] = -1;
            for (size_t v = 0; v < k->nvec[d]; v++) {
                double c = dot(q, &k->vec[d][v * (size_t)k->dim], k->dim);
                if (bestp[d] < 0 || c > best[d]) {
                    best[d] = c;
                    bestp[d] = k->vpass[d][v];
                }
            }
            if (bestp[d] >= 0 && best[d] > 0 && visible(k, (int)d, o))
                ds[m++] = (struct docscore){ (int)d, best[d] };
        }
        qsort(ds, m, sizeof(*ds), cmp_docscore);
        n_extra = m < EMBED_LIST ? m : EMBED_LIST;
        extra = xcalloc(n_extra, sizeof(int));
        for (size_t i = 0; i < n_extra; i++)
            extra[i] = ds[i].doc;
        free(ds);
    }
    struct rankidx_hit *rh = xcalloc(RANK_POOL, sizeof(*rh));
    size_t m = rankidx_rank(k->ix, query ? query : "", NULL, st, extra, n_extra, rh, RANK_POOL);
    size_t out = 0;
    for (size_t i = 0; i < m && out < max; i++) {
        int d = rh[i].doc;
        if (!visible(k, d, o))
            continue;
        struct kbhit *hit = &hits[out++];
        *hit = (struct kbhit){ d, rh[i].score, rh[i].relevance, best ? best[d] : 0, -1, "", "" };
        const char *head = NULL, *text = NULL;
        if (bestp && bestp[d] >= 0 && rankidx_passage(k->ix, d, (size_t)bestp[d], &head, &text) == 0)
            hit->passage = bestp[d];
        else
            hit->passage = rankidx_best_passage(k->ix, d, query ? query : "", k->docs[d].lang, st, &head, &text);
        if (hit->passage >= 0) {
            hit->section = head;
            hit->text = text;
        }
    }
    free(rh);
    free(q);
    free(best);
    free(bestp);
    free(extra);
    return out;
}
