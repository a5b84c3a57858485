/* plugins/common/rankidx.c -- see rankidx.h. */
#include "rankidx.h"
#include "text.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NFIELDS 3
enum { F_TITLE, F_BODY, F_QUESTIONS };
static const double field_weight[NFIELDS] = { 2.5, 1.0, 2.0 };
static const double field_b[NFIELDS] = { 0.5, 0.75, 0.75 };
#define K1 1.2
#define RRF_K 60.0
#define CHAR_MIN 3
#define CHAR_MAX 5

static void *xgrow(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (q == NULL)
        abort();
    return q;
}

static char *xstrdup(const char *s)
{
    char *d = strdup(s ? s : "");
    if (d == NULL)
        abort();
    return d;
}

/* ---- a hash table: 64-bit key -> slot number ----------------------------------- */
struct table { uint64_t *keys; int32_t *vals; size_t cap, n; };

static void table_init(struct table *t, size_t cap)
{
    t->cap = cap;
    t->keys = xgrow(NULL, cap * sizeof(uint64_t));
    t->vals = xgrow(NULL, cap * sizeof(int32_t));
    memset(t->keys, 0, cap * sizeof(uint64_t));
    t->n = 0;
}

static void table_free(struct table *t)
{
    free(t->keys);
    free(t->vals);
    memset(t, 0, sizeof(*t));
}

static size_t table_slot(const struct table *t, uint64_t k)
{
    size_t i = (size_t)(k ^ (k >> 29)) & (t->cap - 1);
    while (t->keys[i] != 0 && t->keys[i] != k)
        i = (i + 1) & (t->cap - 1);
    return i;
}

static int32_t table_get(const struct table *t, uint64_t k)
{
    if (t->cap == 0)
        return -1;
    size_t s = table_slot(t, k);
    return t->keys[s] ? t->vals[s] : -1;
}

/* the value for k, inserting next_val when absent */
static int32_t table_put(struct table *t, uint64_t k, int32_t next_val)
{
    if ((t->n + 1) * 2 > t->cap) {
        struct table b;
        table_init(&b, t->cap ? t->cap * 2 : 1024);
        for (size_t i = 0; i < t->cap; i++)
            if (t->keys[i]) {
                size_t s = table_slot(&b, t->keys[i]);
                b.keys[s] = t->keys[i];
                b.vals[s] = t->vals[i];
                b.n++;
            }
        table_free(t);
        *t = b;
    }
    size_t s = table_slot(t, k);
    if (t->keys[s] == 0) {
        t->keys[s] = k;
        t->vals[s] = next_val;
        t->n++;
    }
    return t->vals[s];
}

/* ---- postings ---------------------------------------------------------------- */
struct tposting { int32_t doc; float tf[NFIELDS]; };
struct term { struct tposting *p; size_t n, cap; int32_t df, qdf; };
struct cposting { int32_t doc; float w; };
struct cgram { struct cposting *p; size_t n, cap; };

struct passage { char *heading, *text; };

struct rdoc {
    float len[NFIELDS];
    struct passage *passages;
    size_t npassages;
    char lang[8];
};

struct rankidx {
    size_t ndocs;
    struct rdoc *docs;
    struct table terms;          /* stem hash -> term index */
    struct term *tv;
    size_t nterms;
    struct table grams;          /* char-gram hash -> gram index */
    struct cgram *gv;
    size_t ngrams;
    double avglen[NFIELDS];
    size_t docs_with_questions;
};

size_t rankidx_ndocs(const struct rankidx *ix) { return ix->ndocs; }

size_t rankidx_npassages(const struct rankidx *ix, int doc)
{
    return doc >= 0 && (size_t)doc < ix->ndocs ? ix->docs[doc].npassages : 0;
}

int rankidx_passage(const struct rankidx *ix, int doc, size_t k, const char **heading_r, const char **text_r)
{
    if (k >= rankidx_npassages(ix, doc))
        return -1;
    *heading_r = ix->docs[doc].passages[k].heading;
    *text_r = ix->docs[doc].passages[k].text;
    return 0;
}

static uint64_t key_of(uint64_t seed, const char *s, size_t n)
{
    uint64_t k = text_hash(seed, s, n);
    return k ? k : 1;
}

/* Stems of the non-stop-word tokens of text: calls fn for each. */
static void each_stem(const char *text, const char *lang, struct stemmer_set *st,
                      void (*fn)(void *arg, const char *stem, size_t len), void *arg)
{
    struct text_tokens t;
    text_tokenize(text ? text : "", text ? strlen(text) : 0, &t);
    char buf[128];
    for (size_t i = 0; i < t.n; i++) {
        const struct text_token *k = &t.v[i];
        if (!(k->flags & TOK_WORD))
            continue;
        if (text_is_stopword(lang, k->s))
            continue;
        size_t n = stem_word(st, lang, k->s, k->len, buf, sizeof(buf));
        fn(arg, buf, n);
    }
    text_tokens_free(&t);
}

/* Character n-grams of the words of text: calls fn with each gram's key. */
static void each_gram(const char *text, void (*fn)(void *arg, uint64_t key), void *arg)
{
    struct text_tokens t;
    text_tokenize(text ? text : "", text ? strlen(text) : 0, &t);
    for (size_t i = 0; i < t.n; i++) {
        const struct text_token *k = &t.v[i];
        if (!(k->flags & TOK_WORD))
            continue;
        char buf[48 * 4 + 4];
        size_t off[52], n = 0, o = 0;
        buf[o++] = ' ';
        off[n++] = 0;
        const unsigned char *p = (const unsigned char *)k->s, *end = p + k->len;
        while (p < end && n < 48) {
            int32_t cp = text_utf8_next(&p, end);
            if (cp < 0)
                continue;
            off[n++] = o;
            o += text_utf8_put(buf + o, cp);
        }
        off[n++] = o;
        buf[o++] = ' ';
        off[n] = o;
        for (size_t g = CHAR_MIN; g <= CHAR_MAX; g++)
            for (size_t s = 0; s + g <= n; s++)
                fn(arg, key_of(11, buf + off[s], off[s + g] - off[s]));
    }
    text_tokens_free(&t);
}

/* ---- building ------------------------------------------------------------------ */

struct build_ctx { struct rankidx *ix; int32_t doc; int field; };

static void add_stem(void *arg, const char *s, size_t n)
{
    struct build_ctx *c = arg;
    struct rankidx *ix = c->ix;
    int32_t t = table_put(&ix->terms, key_of(5, s, n), (int32_t)ix->nterms);
    if ((size_t)t == ix->nterms) {
        ix->tv = xgrow(ix->tv, (ix->nterms + 1) * sizeof(struct term));
        memset(&ix->tv[t], 0, sizeof(struct term));
        ix->nterms++;
    }
    struct term *tm = &ix->tv[t];
    if (tm->n == 0 || tm->p[tm->n - 1].doc != c->doc) {
        if (tm->n == tm->cap) {
            tm->cap = tm->cap ? tm->cap * 2 : 4;
            tm->p = xgrow(tm->p, tm->cap * sizeof(struct tposting));
        }
        memset(&tm->p[tm->n], 0, sizeof(struct tposting));
        tm->p[tm->n++].doc = c->doc;
        tm->df++;
    }
    tm->p[tm->n - 1].tf[c->field] += 1;
    ix->docs[c->doc].len[c->field] += 1;
}

static void add_gram(void *arg, uint64_t key)
{
    struct build_ctx *c = arg;
    struct rankidx *ix = c->ix;
    int32_t g = table_put(&ix->grams, key, (int32_t)ix->ngrams);
    if ((size_t)g == ix->ngrams) {
        ix->gv = xgrow(ix->gv, (ix->ngrams + 1) * sizeof(struct cgram));
        memset(&ix->gv[g], 0, sizeof(struct cgram));
        ix->ngrams++;
    }
    struct cgram *cg = &ix->gv[g];
    if (cg->n == 0 || cg->p[cg->n - 1].doc != c->doc) {
        if (cg->n == cg->cap) {
            cg->cap = cg->cap ? cg->cap * 2 : 4;
            cg->p = xgrow(cg->p, cg->cap * sizeof(struct cposting));
        }
        cg->p[cg->n++] = (struct cposting){ c->doc, 0 };
    }
    cg->p[cg->n - 1].w += 1;
}

static void add_passage(struct rdoc *d, const char *heading, const char *start, const char *end)
{
    while (start < end && (*start == ' ' || *start == '\n' || *start == '\r' || *start == '\t'))
        start++;
    while (end > start && (end[-1] == ' ' || end[-1] == '\n' || end[-1] == '\r' || end[-1] == '\t'))
        end--;
    if (start == end)
        return;
    d->passages = xgrow(d->passages, (d->npassages + 1) * sizeof(struct passage));
    char *text = xgrow(NULL, (size_t)(end - start) + 1);
    memcpy(text, start, (size_t)(end - start));
    text[end - start] = '\0';
    d->passages[d->npassages++] = (struct passage){ xstrdup(heading), text };
}

/* Cuts a Markdown body at its headings (lines starting with '#'). */
static void cut_passages(struct rdoc *d, const char *body)
{
    char heading[256] = "";
    const char *p = body ? body : "", *start = p;
    while (*p) {
        const char *nl = strchr(p, '\n');
        const char *eol = nl ? nl : p + strlen(p);
        if (*p == '#') {
            add_passage(d, heading, start, p);
            const char *h = p;
            while (*h == '#')
                h++;
            while (*h == ' ')
                h++;
            size_t hn = (size_t)(eol - h);
            while (hn > 0 && (h[hn - 1] == '\r' || h[hn - 1] == ' '))
                hn--;
            if (hn >= sizeof(heading))
                hn = sizeof(heading) - 1;
            memcpy(heading, h, hn);
            heading[hn] = '\0';
            start = nl ? nl + 1 : eol;
        }
        p = nl ? nl + 1 : eol;
    }
    add_passage(d, heading, start, p);
}

struct rankidx *rankidx_build(const struct rankidx_doc *docs, size_t n)
{
    struct rankidx *ix = xgrow(NULL, sizeof(*ix));
    memset(ix, 0, sizeof(*ix));
    ix->ndocs = n;
    ix->docs = xgrow(NULL, (n ? n : 1) * sizeof(struct rdoc));
    memset(ix->docs, 0, (n ? n : 1) * sizeof(struct rdoc));
    table_init(&ix->terms, 4096);
    table_init(&ix->grams, 16384);
    struct stemmer_set *st = stemmer_set_new();
    for (size_t i = 0; i < n; i++) {
        const char *lang = docs[i].lang && docs[i].lang[0] ? docs[i].lang : "en";
        snprintf(ix->docs[i].lang, sizeof(ix->docs[i].lang), "%s", lang);
        struct build_ctx c = { ix, (int32_t)i, F_TITLE };
        each_stem(docs[i].title, lang, st, add_stem, &c);
        c.field = F_BODY;
        each_stem(docs[i].body, lang, st, add_stem, &c);
        c.field = F_QUESTIONS;
        each_stem(docs[i].questions, lang, st, add_stem, &c);
        if (docs[i].questions && docs[i].questions[0])
            ix->docs_with_questions++;
        each_gram(docs[i].title, add_gram, &c);
        each_gram(docs[i].title, add_gram, &c);
        each_gram(docs[i].body, add_gram, &c);
        cut_passages(&ix->docs[i], docs[i].body);
    }
    stemmer_set_free(&st);
    for (int f = 0; f < NFIELDS; f++) {
        double sum = 0;
        for (size_t i = 0; i < n; i++)
            sum += ix->docs[i].len[f];
        ix->avglen[f] = n && sum > 0 ? sum / (double)n : 1;
    }
    /* questions-field document frequencies, for its own list */
    for (size_t t = 0; t < ix->nterms; t++)
        for (size_t k = 0; k < ix->tv[t].n; k++)
            ix->tv[t].qdf += ix->tv[t].p[k].tf[F_QUESTIONS] > 0;
    /* character n-grams: sublinear tf x idf, each document unit length */
    double *norm = xgrow(NULL, (n ? n : 1) * sizeof(double));
    memset(norm, 0, (n ? n : 1) * sizeof(double));
    for (size_t g = 0; g < ix->ngrams; g++) {
        struct cgram *cg = &ix->gv[g];
        double idf = log((1.0 + (double)n) / (1.0 + (double)cg->n)) + 1.0;
        for (size_t k = 0; k < cg->n; k++) {
            cg->p[k].w = (float)((1.0 + log(cg->p[k].w)) * idf);
            norm[cg->p[k].doc] += (double)cg->p[k].w * cg->p[k].w;
        }
    }
    for (size_t g = 0; g < ix->ngrams; g++)
        for (size_t k = 0; k < ix->gv[g].n; k++) {
            struct cposting *p = &ix->gv[g].p[k];
            p->w = (float)(p->w / sqrt(norm[p->doc]));
        }
    free(norm);
    return ix;
}

void rankidx_free(struct rankidx **ixp)
{
    struct rankidx *ix = *ixp;
    if (ix == NULL)
        return;
    for (size_t i = 0; i < ix->ndocs; i++) {
        for (size_t k = 0; k < ix->docs[i].npassages; k++) {
            free(ix->docs[i].passages[k].heading);
            free(ix->docs[i].passages[k].text);
        }
        free(ix->docs[i].passages);
    }
    for (size_t t = 0; t < ix->nterms; t++)
        free(ix->tv[t].p);
    for (size_t g = 0; g < ix->ngrams; g++)
        free(ix->gv[g].p);
    free(ix->tv);
    free(ix->gv);
    free(ix->docs);
    table_free(&ix->terms);
    table_free(&ix->grams);
    free(ix);
    *ixp = NULL;
}

/* ---- querying ------------------------------------------------------------------- */

struct qterm { uint64_t key; int32_t term; float qtf; };
struct query_ctx { struct qterm *v; size_t n, cap; const struct rankidx *ix; };

static void add_qstem(void *arg, const char *s, size_t n)
{
    struct query_ctx *q = arg;
    uint64_t k = key_of(5, s, n);
    for (size_t i = 0; i < q->n; i++)
        if (q->v[i].key == k) {
            q->v[i].qtf += 1;
            return;
        }
    if (q->n == q->cap) {
        q->cap = q->cap ? q->cap * 2 : 16;
        q->v = xgrow(q->v, q->cap * sizeof(struct qterm));
    }
    q->v[q->n++] = (struct qterm){ k, table_get(&q->ix->terms, k), 1 };
}

struct qgram_ctx { uint64_t *v; size_t n, cap; };

static void add_qgram(void *arg, uint64_t key)
{
    struct qgram_ctx *q = arg;
    if (q->n == q->cap) {
        q->cap = q->cap ? q->cap * 2 : 256;
        q->v = xgrow(q->v, q->cap * sizeof(uint64_t));
    }
    q->v[q->n++] = key;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static double idf_of(size_t N, double df)
{
    return log(1.0 + ((double)N - df + 0.5) / (df + 0.5));
}

struct scored { int doc; double s; };

static int cmp_scored(const void *a, const void *b)
{
    const struct scored *x = a, *y = b;
    if (x->s != y->s)
        return x->s < y->s ? 1 : -1;
    return x->doc - y->doc;
}

/* Adds 1/(k + rank) for the documents of list (those scoring > 0). */
static void fuse(double *fused, const double *score, size_t n, struct scored *tmp)
{
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        if (score[i] > 0)
            tmp[m++] = (struct scored){ (int)i, score[i] };
    qsort(tmp, m, sizeof(*tmp), cmp_scored);
    for (size_t r = 0; r < m; r++)
        fused[tmp[r].doc] += 1.0 / (RRF_K + (double)r + 1.0);
}

size_t rankidx_rank(const struct rankidx *ix, const char *query, const char *lang,
                    struct stemmer_set *st, const int *extra, size_t n_extra,
                    struct rankidx_hit *hits, size_t max)
{
    size_t N = ix->ndocs;
    if (N == 0 || max == 0)
        return 0;
    const char *lg = lang && lang[0] ? lang : "en";
    struct query_ctx q = { NULL, 0, 0, ix };
    each_stem(query, lg, st, add_qstem, &q);
    double *bm = xgrow(NULL, N * sizeof(double)), *qs = xgrow(NULL, N * sizeof(double));
    double *ch = xgrow(NULL, N * sizeof(double)), *fused = xgrow(NULL, N * sizeof(double));
    double *ti = xgrow(NULL, N * sizeof(double));
    struct scored *tmp = xgrow(NULL, N * sizeof(struct scored));
    memset(bm, 0, N * sizeof(double));
    memset(qs, 0, N * sizeof(double));
    memset(ch, 0, N * sizeof(double));
    memset(fused, 0, N * sizeof(double));
    memset(ti, 0, N * sizeof(double));

    /* 1. BM25F; 1b. BM25 of the title alone; 3. BM25 of the questions field */
    double max_possible = 0;
    for (size_t i = 0; i < q.n; i++) {
        if (q.v[i].term < 0) {
            max_possible += idf_of(N, 0) * (K1 + 1);
            continue;
        }
        const struct term *t = &ix->tv[q.v[i].term];
        double idf = idf_of(N, t->df), qidf = idf_of(N, t->qdf);
        max_possible += idf * (K1 + 1);
        for (size_t k = 0; k < t->n; k++) {
            const struct tposting *p = &t->p[k];
            const struct rdoc *d = &ix->docs[p->doc];
            double tf = 0;
            for (int f = 0; f < NFIELDS; f++)
                if (p->tf[f] > 0)
                    tf += field_weight[f] * p->tf[f]
                        / (1.0 - field_b[f] + field_b[f] * d->len[f] / ix->avglen[f]);
            bm[p->doc] += idf * tf * (K1 + 1) / (K1 + tf);
            if (p->tf[F_TITLE] > 0) {
                double ttf = p->tf[F_TITLE] / (0.25 + 0.75 * d->len[F_TITLE] / ix->avglen[F_TITLE]);
                ti[p->doc] += idf * ttf * (K1 + 1) / (K1 + ttf);
            }
            if (p->tf[F_QUESTIONS] > 0) {
                double qtf = p->tf[F_QUESTIONS]
                    / (1.0 - field_b[F_QUESTIONS] + field_b[F_QUESTIONS] * d->len[F_QUESTIONS] / ix->avglen[F_QUESTIONS]);
                qs[p->doc] += qidf * qtf * (K1 + 1) / (K1 + qtf);
            }
        }
    }
    /* 2. character n-gram cosine */
    struct qgram_ctx g = { NULL, 0, 0 };
    each_gram(query, add_qgram, &g);
    qsort(g.v, g.n, sizeof(uint64_t), cmp_u64);
    double qnorm = 0;
    for (size_t i = 0; i < g.n;) {
        size_t j = i;
        while (j < g.n && g.v[j] == g.v[i])
            j++;
        int32_t gi = table_get(&ix->grams, g.v[i]);
        if (gi >= 0) {
            const struct cgram *cg = &ix->gv[gi];
            double w = (1.0 + log((double)(j - i))) * (log((1.0 + (double)N) / (1.0 + (double)cg->n)) + 1.0);
            qnorm += w * w;
            for (size_t k = 0; k < cg->n; k++)
                ch[cg->p[k].doc] += w * cg->p[k].w;
        } else {
            double w = (1.0 + log((double)(j - i))) * (log(1.0 + (double)N) + 1.0);
            qnorm += w * w;
        }
        i = j;
    }
    if (qnorm > 0)
        for (size_t d = 0; d < N; d++)
            ch[d] /= sqrt(qnorm);

    fuse(fused, bm, N, tmp);
    fuse(fused, ti, N, tmp);
    fuse(fused, ch, N, tmp);
    if (ix->docs_with_questions > 0)
        fuse(fused, qs, N, tmp);
    for (size_t r = 0; extra && r < n_extra; r++)
        if (extra[r] >= 0 && (size_t)extra[r] < N)
            fused[extra[r]] += 1.0 / (RRF_K + (double)r + 1.0);

    size_t m = 0;
    for (size_t d = 0; d < N; d++)
        if (fused[d] > 0)
            tmp[m++] = (struct scored){ (int)d, fused[d] };
    qsort(tmp, m, sizeof(*tmp), cmp_scored);
    size_t out = m < max ? m : max;
    for (size_t r = 0; r < out; r++) {
        int d = tmp[r].doc;
        double rel_bm = max_possible > 0 ? bm[d] / max_possible : 0;
        hits[r] = (struct rankidx_hit){ d, tmp[r].s, bm[d], ch[d], rel_bm > ch[d] ? rel_bm : ch[d] };
        if (hits[r].relevance > 1)
            hits[r].relevance = 1;
    }
    free(q.v);
    free(g.v);
    free(bm);
    free(qs);
    free(ch);
    free(ti);
    free(fused);
    free(tmp);
    return out;
}

struct overlap_ctx { const struct query_ctx *q; double score; };

static void count_overlap(void *arg, const char *s, size_t n)
{
    struct overlap_ctx *o = arg;
    uint64_t k = key_of(5, s, n);
    for (size_t i = 0; i < o->q->n; i++)
        if (o->q->v[i].key == k) {
            const struct term *t = o->q->v[i].term >= 0 ? &o->q->ix->tv[o->q->v[i].term] : NULL;
            o->score += t ? idf_of(o->q->ix->ndocs, t->df) : 0;
        }
}

int rankidx_best_passage(const struct rankidx *ix, int doc, const char *query, const char *lang,
                         struct stemmer_set *st, const char **heading_r, const char **text_r)
{
    if (doc < 0 || (size_t)doc >= ix->ndocs || ix->docs[doc].npassages == 0)
        return -1;
    const struct rdoc *d = &ix->docs[doc];
    struct query_ctx q = { NULL, 0, 0, ix };
    each_stem(query, lang && lang[0] ? lang : d->lang, st, add_qstem, &q);
    int best = 0;
    double best_score = -1;
    for (size_t k = 0; k < d->npassages; k++) {
        struct overlap_ctx o = { &q, 0 };
        each_stem(d->passages[k].text, d->lang, st, count_overlap, &o);
        /* idf mass matched, damped by length so a long passage does not win by size */
        double len = (double)strlen(d->passages[k].text) + 200.0;
        double s = o.score / log(len);
        if (s > best_score) {
            best_score = s;
            best = (int)k;
        }
    }
    free(q.v);
    *heading_r = d->passages[best].heading;
    *text_r = d->passages[best].text;
    return best;
}
