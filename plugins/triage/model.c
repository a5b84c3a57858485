/* plugins/triage/model.c -- see model.h. */
#include "model.h"
#include "../common/text.h"

#include <linear.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BLOCK_CHAR 0x80000000u
#define MAGIC "ATRIAGE1"
#define FORMAT_VERSION 4u              /* 2: 14 lexicon features (VADER); 3: 21; 4: word vectors, calibration */
#define NDENSE (LEXICON_NFEATURES + WORDVEC_DIM)   /* the dense columns after the n-grams' */
#define LEX_WEIGHT 0.5               /* the lexicon block's scale beside two unit-norm blocks */

static void *xgrow(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (q == NULL)
        abort();
    return q;
}

/* ---- documents -------------------------------------------------------------- */

struct keybuf { uint32_t *v; size_t n, cap; };

static void keypush(struct keybuf *b, uint32_t k)
{
    if (b->n == b->cap) {
        b->cap = b->cap ? b->cap * 2 : 512;
        b->v = xgrow(b->v, b->cap * sizeof(uint32_t));
    }
    b->v[b->n++] = k;
}

static uint32_t word_key(uint64_t seed, const char *s, size_t n)
{
    return ((uint32_t)text_hash(seed, s, n) & 0x7fffffffu) | 1u;
}

static uint32_t char_key(const char *s, size_t n)
{
    return ((uint32_t)text_hash(7, s, n) & 0x7fffffffu) | 1u | BLOCK_CHAR;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

/* character 2..5-grams of " word " (code points, not bytes) */
static void char_grams(struct keybuf *b, const char *w, size_t len)
{
    if (len > 40)
        len = 40;                               /* longer "words" are noise */
    char buf[48 * 4];
    size_t off[50], n = 0, o = 0;
    buf[o++] = ' ';
    off[n++] = 0;
    const unsigned char *p = (const unsigned char *)w, *end = p + len;
    while (p < end && n < 48) {
        int32_t cp = text_utf8_next(&p, end);
        if (cp < 0)
            continue;
        off[n++] = o;
        o += text_utf8_put(buf + o, cp);
    }
    off[n++] = o;
    buf[o++] = ' ';
    off[n] = o;                                 /* n code points, off[n] = end */
    for (size_t g = 2; g <= 5; g++)
        for (size_t i = 0; i + g <= n; i++)
            keypush(b, char_key(buf + off[i], off[i + g] - off[i]));
}

void tdoc_build(struct tdoc *d, const char *text, size_t len, const char *lang,
                struct stemmer_set *stemmers)
{
    memset(d, 0, sizeof(*d));
    struct text_tokens t;
    text_tokenize(text ? text : "", text ? len : 0, &t);
    struct keybuf b = { 0 };
    char stem[128], prev[128] = "", pair[260], word[256];
    size_t prevlen = 0;
    int neg = 0;
    for (size_t i = 0; i < t.n; i++) {
        const struct text_token *k = &t.v[i];
        size_t sl;
        size_t wl = (k->flags & TOK_WORD) ? lexicon_squeeze(k->s, k->len, 2, word, sizeof(word)) : 0;
        if (k->flags & TOK_WORD)
            sl = stem_word(stemmers, lang, word, wl, stem, sizeof(stem));
        else
            sl = (size_t)snprintf(stem, sizeof(stem), "%s", k->s);
        if (sl >= sizeof(stem))
            sl = sizeof(stem) - 1;
        keypush(&b, word_key(1, stem, sl));
        if (neg > 0 && (k->flags & TOK_WORD))
            keypush(&b, word_key(3, stem, sl));   /* the word inside a negation's scope */
        if (prevlen) {
            memcpy(pair, prev, prevlen);
            pair[prevlen] = ' ';
            memcpy(pair + prevlen + 1, stem, sl);
            keypush(&b, word_key(2, pair, prevlen + 1 + sl));
        }
        memcpy(prev, stem, sl);
        prevlen = sl;
        if (k->flags & TOK_WORD)
            char_grams(&b, word, wl);
        if (k->flags & TOK_NEGATOR)
            neg = 3;
        else if (neg > 0)
            neg--;
        if (k->flags & TOK_CLAUSE_END) {
            neg = 0;
            prevlen = 0;                            /* no bigram across sentences */
        }
    }
    lexicon_features(&t, text, text ? len : 0, d->lex);
    wordvec_text(&t, d->vec);
    text_tokens_free(&t);
    qsort(b.v, b.n, sizeof(uint32_t), cmp_u32);
    d->f = xgrow(NULL, (b.n ? b.n : 1) * sizeof(struct tfeat));
    for (size_t i = 0; i < b.n; i++) {
        if (d->n > 0 && d->f[d->n - 1].key == b.v[i])
            d->f[d->n - 1].count += 1;
        else
            d->f[d->n++] = (struct tfeat){ b.v[i], 1 };
    }
    free(b.v);
}

void tdoc_free(struct tdoc *d)
{
    free(d->f);
    memset(d, 0, sizeof(*d));
}

/* ---- the vocabulary: key -> column, open addressing ------------------------- */

struct vocab {
    uint32_t *keys;          /* 0: empty */
    int32_t *cols;
    size_t cap, n;
};

static void vocab_init(struct vocab *v, size_t expect)
{
    v->cap = 1024;
    while (v->cap < expect * 2)
        v->cap *= 2;
    v->keys = xgrow(NULL, v->cap * sizeof(uint32_t));
    v->cols = xgrow(NULL, v->cap * sizeof(int32_t));
    memset(v->keys, 0, v->cap * sizeof(uint32_t));
    v->n = 0;
}

static void vocab_free(struct vocab *v)
{
    free(v->keys);
    free(v->cols);
    memset(v, 0, sizeof(*v));
}

static size_t slot(const struct vocab *v, uint32_t key)
{
    size_t i = (key * 2654435761u) & (v->cap - 1);
    while (v->keys[i] != 0 && v->keys[i] != key)
        i = (i + 1) & (v->cap - 1);
    return i;
}

static int32_t *vocab_put(struct vocab *v, uint32_t key)
{
    if ((v->n + 1) * 2 > v->cap) {
        struct vocab bigger;
        vocab_init(&bigger, v->cap);
        for (size_t i = 0; i < v->cap; i++)
            if (v->keys[i]) {
                size_t s = slot(&bigger, v->keys[i]);
                bigger.keys[s] = v->keys[i];
                bigger.cols[s] = v->cols[i];
                bigger.n++;
            }
        vocab_free(v);
        *v = bigger;
    }
    size_t s = slot(v, key);
    if (v->keys[s] == 0) {
        v->keys[s] = key;
        v->cols[s] = 0;
        v->n++;
    }
    return &v->cols[s];
}

static int32_t vocab_get(const struct vocab *v, uint32_t key)
{
    if (v->cap == 0)
        return 0;
    size_t s = slot(v, key);
    return v->keys[s] ? v->cols[s] : 0;
}

/* ---- the model ---------------------------------------------------------------- */

struct tmodel {
    int lexicon;
    double vec_weight;       /* the word vector block's scale; 0: no vectors */
    double C;
    struct vocab vocab;      /* key -> column 1..V */
    uint32_t *col_keys;      /* V: the key of each column (for saving) */
    float *idf;              /* V + 1, by column */
    size_t V;
    char **labels;           /* nlabels */
    int nlabels;
    int balanced;            /* class weights: 0 none, 1 square root of the inverse frequency, 2 inverse frequency */
    struct model *lin;       /* liblinear's model (our own allocation when loaded) */
    double *calib;           /* K x (nw + 1): the calibration of the decisions; NULL: liblinear's own probabilities */
};

int tmodel_nclasses(const struct tmodel *m) { return m->lin->nr_class; }
const char *tmodel_label(const struct tmodel *m, int i) { return m->labels[m->lin->label[i] - 1]; }
double tmodel_C(const struct tmodel *m) { return m->C; }
int tmodel_balanced(const struct tmodel *m) { return m->balanced; }
size_t tmodel_nfeatures(const struct tmodel *m) { return m->V; }
double tmodel_wordvec_weight(const struct tmodel *m) { return m->vec_weight; }

void tmodel_free(struct tmodel **mp)
{
    struct tmodel *m = *mp;
    if (m == NULL)
        return;
    vocab_free(&m->vocab);
    free(m->col_keys);
    free(m->idf);
    for (int i = 0; m->labels && i < m->nlabels; i++)
        free(m->labels[i]);
    free(m->labels);
    free(m->calib);
    if (m->lin)
        free_and_destroy_model(&m->lin);
    free(m);
    *mp = NULL;
}

/* The TF-IDF vector of d as liblinear nodes (terminated by index -1);
 * nodes must hold d->n + NDENSE + 2. */
static void vectorize(const struct tmodel *m, const struct tdoc *d, struct feature_node *x)
{
    size_t k = 0;
    double norm[2] = { 0, 0 };
    for (size_t i = 0; i < d->n; i++) {
        int32_t c = vocab_get(&m->vocab, d->f[i].key);
        if (c <= 0)
            continue;
        double v = (1.0 + log(d->f[i].count)) * m->idf[c];
        x[k].index = c;
        x[k].value = v;
        norm[(d->f[i].key & BLOCK_CHAR) ? 1 : 0] += v * v;
        k++;
    }
    /* each block unit length, both together of length 1 */
    for (size_t i = 0, j = 0; i < d->n && j < k; i++) {
        int32_t c = vocab_get(&m->vocab, d->f[i].key);
        if (c <= 0)
            continue;
        int b = (d->f[i].key & BLOCK_CHAR) ? 1 : 0;
        x[j].value /= sqrt(norm[b]) * M_SQRT2;
        j++;
    }
    /* columns in ascending order: liblinear wants sorted indexes */
    for (size_t i = 1; i < k; i++) {
        struct feature_node t = x[i];
        size_t j = i;
        while (j > 0 && x[j - 1].index > t.index) {
            x[j] = x[j - 1];
            j--;
        }
        x[j] = t;
    }
    if (m->lexicon)
        for (int i = 0; i < LEXICON_NFEATURES; i++)
            if (d->lex[i] != 0) {
                x[k].index = (int)m->V + 1 + i;
                x[k].value = d->lex[i] * LEX_WEIGHT;
                k++;
            }
    if (m->vec_weight > 0)
        for (int i = 0; i < WORDVEC_DIM; i++)
            if (d->vec[i] != 0) {
                x[k].index = (int)m->V + LEXICON_NFEATURES + 1 + i;
                x[k].value = d->vec[i] * m->vec_weight;
                k++;
            }
    x[k].index = (int)m->V + NDENSE + 1;   /* the bias */
    x[k].value = 1.0;
    k++;
    x[k].index = -1;
}

static void quiet(const char *s) { (void)s; }

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Macro-F1 of predictions against truth (classes 1..K). */
static double macro_f1(const double *truth, const double *pred, size_t n, int K)
{
    double sum = 0;
    for (int c = 1; c <= K; c++) {
        double tp = 0, fp = 0, fn = 0;
        for (size_t i = 0; i < n; i++) {
            int t = (int)truth[i] == c, p = (int)pred[i] == c;
            tp += t && p;
            fp += !t && p;
            fn += t && !p;
        }
        sum += tp > 0 ? 2 * tp / (2 * tp + fp + fn) : 0;
    }
    return sum / K;
}

/* ---- training: one logistic regression per class against the rest -------- */

/* The rows of a training set as liblinear vectors (unscaled), with their
 * classes 1..K. */
struct trainset {
    struct feature_node **x;
    const double *y;
    int K;
    int nf;                  /* columns, the bias included */
};

struct fitopts {
    double C;
    const double *class_weight;  /* K, or NULL */
};

/* Trains on rows idx[0..n) and returns the weights in liblinear's layout
 * (w[(col - 1) * nw + k]; nw = 1 for two classes: class 1 against class 2,
 * else K: class k + 1 against the rest), as liblinear's own multi-class
 * logistic regression would, but on any subset of the rows without
 * copying them.  NULL when liblinear refuses. */
static double *fit(const struct trainset *ts, const size_t *idx, size_t n, const struct fitopts *o,
                   const char **error_r)
{
    int nw = ts->K == 2 ? 1 : ts->K;
    double *w = xgrow(NULL, (size_t)ts->nf * (size_t)nw * sizeof(double));
    memset(w, 0, (size_t)ts->nf * (size_t)nw * sizeof(double));
    set_print_string_function(quiet);
    double *by = xgrow(NULL, n * sizeof(double));
    struct feature_node **sx = xgrow(NULL, n * sizeof(*sx));
    for (size_t i = 0; i < n; i++)
        sx[i] = ts->x[idx[i]];
    for (int k = 0; k < nw; k++) {
        int c = k + 1;
        size_t npos = 0;
        for (size_t i = 0; i < n; i++) {
            by[i] = ts->y[idx[i]] == c ? 1 : -1;
            npos += by[i] > 0;
        }
        if (npos == 0 || npos == n)
            continue;                       /* a class with no rows here (or all of them): nothing to learn, weights 0 */
        struct problem prob = { .l = (int)n, .n = ts->nf, .y = by, .x = sx, .bias = 1.0 };
        /* liblinear's own one-against-the-rest: the class's rows weighted,
         * the others not (two classes: each weighted) */
        int wl[2] = { 1, -1 };
        double wv[2] = { 1, 1 };
        if (o->class_weight) {
            wv[0] = o->class_weight[c - 1];
            if (ts->K == 2)
                wv[1] = o->class_weight[1];
        }
        struct parameter param = { .solver_type = L2R_LR, .eps = 0.01, .C = o->C,
                                   .nr_weight = o->class_weight ? 2 : 0, .weight_label = wl, .weight = wv };
        const char *bad = check_parameter(&prob, &param);
        struct model *lin = bad ? NULL : train(&prob, &param);
        if (lin == NULL) {
            *error_r = bad ? bad : "training failed";
            free(w);
            w = NULL;
            break;
        }
        /* liblinear's first label is the one a positive value predicts */
        double sign = lin->label[0] == 1 ? 1 : -1;
        for (int j = 0; j < ts->nf; j++)
            w[(size_t)j * (size_t)nw + (size_t)k] = sign * lin->w[j];
        free_and_destroy_model(&lin);
    }
    free(by);
    free(sx);
    return w;
}

/* The decision values (nw of them) that weights w give a vector. */
static void decisions(int nw, const double *w, const struct feature_node *x, double *dec)
{
    for (int k = 0; k < nw; k++)
        dec[k] = 0;
    for (; x->index != -1; x++)
        for (int k = 0; k < nw; k++)
            dec[k] += w[(size_t)(x->index - 1) * (size_t)nw + (size_t)k] * x->value;
}

/* The class (1..K) that weights w give a vector; its decision values to
 * dec_r (nw) when not NULL. */
static int fit_predict(const struct trainset *ts, const double *w, const struct feature_node *x,
                       double *dec_r)
{
    int nw = ts->K == 2 ? 1 : ts->K;
    double local[64], *dec = nw <= 64 ? local : xgrow(NULL, (size_t)nw * sizeof(double));
    decisions(nw, w, x, dec);
    if (dec_r)
        memcpy(dec_r, dec, (size_t)nw * sizeof(double));
    int best = 0;
    if (ts->K == 2)
        best = dec[0] > 0 ? 0 : 1;
    else
        for (int k = 1; k < nw; k++)
            if (dec[k] > dec[best])
                best = k;
    if (dec != local)
        free(dec);
    return best + 1;
}

/* The mean of accuracy and macro-F1 of options o by 3-fold cross-validation
 * over the rows (folds stratified by class, rows dealt in order), or -1. */
static double inner_cv(const struct trainset *ts, size_t nrows, const struct fitopts *o, double *oof)
{
    int nw = ts->K == 2 ? 1 : ts->K;
    enum { INNER_FOLDS = 3 };
    int *fold = xgrow(NULL, nrows * sizeof(int));
    size_t *seen = xgrow(NULL, (size_t)ts->K * sizeof(size_t));
    memset(seen, 0, (size_t)ts->K * sizeof(size_t));
    for (size_t i = 0; i < nrows; i++)
        fold[i] = (int)(seen[(int)ts->y[i] - 1]++ % INNER_FOLDS);
    free(seen);
    size_t *train_idx = xgrow(NULL, nrows * sizeof(size_t));
    double *pred = xgrow(NULL, nrows * sizeof(double));
    double score = 0;
    for (int f = 0; f < INNER_FOLDS && score >= 0; f++) {
        size_t n = 0;
        for (size_t i = 0; i < nrows; i++)
            if (fold[i] != f)
                train_idx[n++] = i;
        const char *e = NULL;
        double *w = fit(ts, train_idx, n, o, &e);
        if (w == NULL) {
            score = -1;
            break;
        }
        for (size_t i = 0; i < nrows; i++)
            if (fold[i] == f)
                pred[i] = fit_predict(ts, w, ts->x[i], oof ? oof + i * (size_t)nw : NULL);
        free(w);
    }
    if (score >= 0) {
        size_t right = 0;
        for (size_t i = 0; i < nrows; i++)
            right += ts->y[i] == pred[i];
        score = (macro_f1(ts->y, pred, nrows, ts->K) + (double)right / (double)nrows) / 2;
    }
    free(fold);
    free(train_idx);
    free(pred);
    return score;
}

/* ---- calibration: a multinomial logistic regression on the decisions ------ */

/* The one-against-the-rest models' decision values are not probabilities
 * (each was trained on its own question, and class weights shift them), so
 * a small multinomial logistic regression maps them to probabilities:
 * "matrix scaling" (Guo et al. 2017), fitted on out-of-fold decisions of
 * the inner cross-validation, never on rows the model was trained on.  Its
 * argmax is the prediction.  A: K rows of nw + 1 (the last: the bias). */

/* Class probabilities of decisions z (nw) under A; p: K. */
static void calib_probs(const double *A, int K, int nw, const double *z, double *p)
{
    double top = -INFINITY;
    for (int c = 0; c < K; c++) {
        const double *a = A + (size_t)c * (size_t)(nw + 1);
        double l = a[nw];
        for (int j = 0; j < nw; j++)
            l += a[j] * z[j];
        p[c] = l;
        if (l > top)
            top = l;
    }
    double sum = 0;
    for (int c = 0; c < K; c++)
        sum += p[c] = exp(p[c] - top);
    for (int c = 0; c < K; c++)
        p[c] /= sum;
}

/* Mean negative log-likelihood of rows z (n x nw) with classes y (1..K)
 * plus lambda/2 |A without the biases|^2; its gradient to grad. */
static double calib_loss(const double *A, int K, int nw, const double *z, const double *y, size_t n,
                         double lambda, double *grad)
{
    size_t na = (size_t)K * (size_t)(nw + 1);
    double p[64], loss = 0;
    memset(grad, 0, na * sizeof(double));
    for (size_t i = 0; i < n; i++) {
        const double *zi = z + i * (size_t)nw;
        calib_probs(A, K, nw, zi, p);
        int t = (int)y[i] - 1;
        loss -= log(p[t] > 1e-300 ? p[t] : 1e-300);
        for (int c = 0; c < K; c++) {
            double g = (p[c] - (c == t)) / (double)n;
            double *gc = grad + (size_t)c * (size_t)(nw + 1);
            for (int j = 0; j < nw; j++)
                gc[j] += g * zi[j];
            gc[nw] += g;
        }
    }
    loss /= (double)n;
    for (int c = 0; c < K; c++)
        for (int j = 0; j < nw; j++) {
            size_t a = (size_t)c * (size_t)(nw + 1) + (size_t)j;
            loss += lambda / 2 * A[a] * A[a];
            grad[a] += lambda * A[a];
        }
    return loss;
}

/* Fits A by gradient descent with a backtracking line search, starting from
 * the uncalibrated decisions (class k's logit = its own decision).  The
 * problem is small (K x (nw + 1) weights) and convex. */
static double *calib_fit(int K, int nw, const double *z, const double *y, size_t n)
{
    size_t na = (size_t)K * (size_t)(nw + 1);
    double *A = xgrow(NULL, na * sizeof(double)), *g = xgrow(NULL, na * sizeof(double)),
           *next = xgrow(NULL, na * sizeof(double)), *gn = xgrow(NULL, na * sizeof(double));
    memset(A, 0, na * sizeof(double));
    if (nw == 1)
        A[0] = 1;                                   /* two classes: class 1's logit is the decision */
    else
        for (int c = 0; c < K; c++)
            A[(size_t)c * (size_t)(nw + 1) + (size_t)c] = 1;
    const double lambda = 1e-3;
    double step = 1, f = calib_loss(A, K, nw, z, y, n, lambda, g);
    for (int it = 0; it < 500; it++) {
        double gg = 0;
        for (size_t a = 0; a < na; a++)
            gg += g[a] * g[a];
        if (gg < 1e-12)
            break;
        double fn;
        for (;;) {
            for (size_t a = 0; a < na; a++)
                next[a] = A[a] - step * g[a];
            fn = calib_loss(next, K, nw, z, y, n, lambda, gn);
            if (fn <= f - step * gg / 2 || step < 1e-8)
                break;
            step /= 2;
        }
        if (fn > f)
            break;
        double *t = A; A = next; next = t;
        t = g; g = gn; gn = t;
        int flat = f - fn < 1e-10;
        f = fn;
        if (flat)
            break;
        step *= 2;
    }
    free(g);
    free(next);
    free(gn);
    return A;
}

/* The word vectors' weight set to weight and the rows' vectors (docs[rows[r]]
 * as xs[r]) made again with it. */
static void reweigh_vectors(struct tmodel *m, double weight, const struct tdoc *docs, const size_t *rows,
                            size_t nrows, struct feature_node **xs)
{
    m->vec_weight = weight;
    for (size_t r = 0; r < nrows; r++)
        vectorize(m, &docs[rows[r]], xs[r]);
}

struct tmodel *tmodel_train(const struct tdoc *docs, const char *const *labels, size_t n,
                            const struct tmodel_opts *opts, const char **error_r)
{
    static __thread char err[256];
    struct tmodel *m = xgrow(NULL, sizeof(*m));
    memset(m, 0, sizeof(*m));
    m->lexicon = opts->lexicon;
    struct feature_node **xs = NULL;
    double *y = NULL, *weights = NULL;
    size_t *rows = NULL;
    size_t nrows = 0;

    /* classes, sorted by name so a model never depends on row order */
    const char **names = xgrow(NULL, (n + 1) * sizeof(char *));
    size_t nnames = 0;
    rows = xgrow(NULL, (n + 1) * sizeof(size_t));
    for (size_t i = 0; i < n; i++)
        if (labels[i] && labels[i][0]) {
            rows[nrows++] = i;
            names[nnames++] = labels[i];
        }
    qsort(names, nnames, sizeof(char *), cmp_str);
    size_t K = 0;
    for (size_t i = 0; i < nnames; i++)
        if (K == 0 || strcmp(names[K - 1], names[i]) != 0)
            names[K++] = names[i];
    if (K < 2 || nrows < 4) {
        snprintf(err, sizeof(err), "training needs at least two classes and four rows (got %zu, %zu)", K, nrows);
        *error_r = err;
        free(names);
        free(rows);
        tmodel_free(&m);
        return NULL;
    }
    m->labels = xgrow(NULL, K * sizeof(char *));
    m->nlabels = (int)K;
    for (size_t i = 0; i < K; i++)
        m->labels[i] = strdup(names[i]);
    free(names);

    /* document frequencies, then the vocabulary: keys seen in >= min_df rows */
    struct vocab df;
    vocab_init(&df, 1 << 16);
    for (size_t r = 0; r < nrows; r++) {
        const struct tdoc *d = &docs[rows[r]];
        for (size_t i = 0; i < d->n; i++)
            (*vocab_put(&df, d->f[i].key))++;
    }
    int min_df = nrows >= 50 ? 2 : 1;
    vocab_init(&m->vocab, df.n);
    m->col_keys = xgrow(NULL, (df.n + 1) * sizeof(uint32_t));
    m->idf = xgrow(NULL, (df.n + 1) * sizeof(float));
    /* columns in key order: deterministic whatever the table's layout */
    uint32_t *keys = xgrow(NULL, (df.n + 1) * sizeof(uint32_t));
    size_t nk = 0;
    for (size_t i = 0; i < df.cap; i++)
        if (df.keys[i] && df.cols[i] >= min_df)
            keys[nk++] = df.keys[i];
    qsort(keys, nk, sizeof(uint32_t), cmp_u32);
    m->idf[0] = 0;
    for (size_t i = 0; i < nk; i++) {
        int32_t c = (int32_t)(i + 1);
        *vocab_put(&m->vocab, keys[i]) = c;
        m->col_keys[i] = keys[i];
        m->idf[c] = (float)(log((1.0 + (double)nrows) / (1.0 + vocab_get(&df, keys[i]))) + 1.0);
    }
    m->V = nk;
    free(keys);
    vocab_free(&df);

    /* the rows as vectors */
    m->vec_weight = opts->wordvec ? 1.0 : 0.0;
    xs = xgrow(NULL, nrows * sizeof(*xs));
    y = xgrow(NULL, nrows * sizeof(double));
    for (size_t r = 0; r < nrows; r++) {
        const struct tdoc *d = &docs[rows[r]];
        xs[r] = xgrow(NULL, (d->n + NDENSE + 2) * sizeof(struct feature_node));
        vectorize(m, d, xs[r]);
        const char *key = labels[rows[r]];
        const char **hit = bsearch(&key, (const char **)m->labels, K, sizeof(char *), cmp_str);
        y[r] = (double)(hit - (const char **)m->labels + 1);
    }
    struct trainset ts = { .x = xs, .y = y, .K = (int)K, .nf = (int)(m->V + NDENSE + 1) };
    /* class weights: the inverse class frequency to the power 0 (none),
     * 1/2 (half way) or 1 (balanced) */
    double *full = xgrow(NULL, K * sizeof(double));
    weights = xgrow(NULL, K * sizeof(double));
    size_t fewest = nrows;
    for (size_t c = 0; c < K; c++) {
        size_t cnt = 0;
        for (size_t r = 0; r < nrows; r++)
            cnt += (size_t)y[r] == c + 1;
        full[c] = cnt ? (double)nrows / ((double)K * (double)cnt) : 1.0;
        if (cnt < fewest)
            fewest = cnt;
    }
    struct fitopts fo = { .C = opts->C > 0 ? opts->C : 1.0 };
    int nw = K == 2 ? 1 : (int)K;
    double *oof = NULL;      /* out-of-fold decisions of the chosen options (nrows x nw) */
    int balanced = opts->balanced ? 2 : 0;
    if (opts->C <= 0 && nrows >= 30) {
        /* C, class weighting and the word vectors' weight by 3-fold
         * stratified cross-validation on these rows only (the mean of
         * accuracy and macro-F1): the choice never sees the rows a model
         * is later scored on.  Class weights only when every class has
         * rows enough to be in each fold's training part.  The vectors'
         * weight: half, as much as or twice the n-grams together (each
         * block is of unit length). */
        static const double grid[] = { 1, 4, 16, 64 };
        static const double vec_grid[] = { 0.5, 1, 2 };
        size_t nvec = opts->wordvec ? sizeof(vec_grid) / sizeof(vec_grid[0]) : 1;
        int max_bal = fewest >= 10 ? 2 : 0;
        double best = -1, best_vec = m->vec_weight;
        oof = xgrow(NULL, nrows * (size_t)nw * sizeof(double));
        double *scratch = xgrow(NULL, nrows * (size_t)nw * sizeof(double));
        for (size_t v = 0; v < nvec; v++) {
            if (opts->wordvec)
                reweigh_vectors(m, vec_grid[v], docs, rows, nrows, xs);
            for (int bal = 0; bal <= max_bal; bal++)
                for (size_t g = 0; g < sizeof(grid) / sizeof(grid[0]); g++) {
                    for (size_t c = 0; c < K; c++)
                        weights[c] = bal == 2 ? full[c] : sqrt(full[c]);
                    struct fitopts t = { .C = grid[g], .class_weight = bal ? weights : NULL };
                    double sc = inner_cv(&ts, nrows, &t, scratch);
                    if (sc > best + 1e-9) {
                        best = sc;
                        fo.C = grid[g];
                        balanced = bal;
                        best_vec = m->vec_weight;
                        double *swap = oof; oof = scratch; scratch = swap;
                    }
                }
        }
        if (m->vec_weight != best_vec)
            reweigh_vectors(m, best_vec, docs, rows, nrows, xs);
        free(scratch);
        if (best < 0) {
            free(oof);
            oof = NULL;
        }
    }
    for (size_t c = 0; c < K; c++)
        weights[c] = balanced == 2 ? full[c] : sqrt(full[c]);
    fo.class_weight = balanced ? weights : NULL;
    free(full);
    m->C = fo.C;
    m->balanced = balanced;
    if (oof == NULL && nrows >= 30) {
        oof = xgrow(NULL, nrows * (size_t)nw * sizeof(double));
        if (inner_cv(&ts, nrows, &fo, oof) < 0) {
            free(oof);
            oof = NULL;
        }
    }
    if (oof && K <= 64)
        m->calib = calib_fit((int)K, nw, oof, y, nrows);
    free(oof);
    size_t *all = xgrow(NULL, nrows * sizeof(size_t));
    for (size_t r = 0; r < nrows; r++)
        all[r] = r;
    const char *bad = NULL;
    double *w = fit(&ts, all, nrows, &fo, &bad);
    free(all);
    if (w == NULL) {
        snprintf(err, sizeof(err), "liblinear: %s", bad);
        *error_r = err;
        goto fail;
    }
    /* a liblinear model of our own making (freed by liblinear like a loaded one) */
    m->lin = xgrow(NULL, sizeof(struct model));
    memset(m->lin, 0, sizeof(struct model));
    m->lin->param.solver_type = L2R_LR;
    m->lin->nr_class = (int)K;
    m->lin->nr_feature = ts.nf - 1;
    m->lin->bias = 1.0;
    m->lin->w = w;
    m->lin->label = xgrow(NULL, K * sizeof(int));
    for (size_t c = 0; c < K; c++)
        m->lin->label[c] = (int)c + 1;
    goto out;
fail:
    tmodel_free(&m);
out:
    for (size_t r = 0; xs && r < nrows; r++)
        free(xs[r]);
    free(xs);
    free(y);
    free(rows);
    free(weights);
    return m;
}

const char *tmodel_predict(const struct tmodel *m, const struct tdoc *d, double *confidence_r,
                           double *probs_r)
{
    struct feature_node stackx[1024];
    struct feature_node *x = d->n + NDENSE + 2 <= 1024 ? stackx
        : xgrow(NULL, (d->n + NDENSE + 2) * sizeof(struct feature_node));
    double probs[64];
    double *p = m->lin->nr_class <= 64 ? probs : xgrow(NULL, (size_t)m->lin->nr_class * sizeof(double));
    vectorize(m, d, x);
    double lab;
    if (m->calib) {
        int K = m->lin->nr_class, nw = K == 2 ? 1 : K;
        double dec[64];
        decisions(nw, m->lin->w, x, dec);
        calib_probs(m->calib, K, nw, dec, p);
        int top = 0;
        for (int i = 1; i < K; i++)
            if (p[i] > p[top])
                top = i;
        lab = m->lin->label[top];
    } else
        lab = predict_probability(m->lin, x, p);
    int best = 0;
    for (int i = 0; i < m->lin->nr_class; i++) {
        if (m->lin->label[i] == (int)lab)
            best = i;
        if (probs_r)
            probs_r[i] = p[i];
    }
    if (confidence_r)
        *confidence_r = p[best];
    if (x != stackx)
        free(x);
    if (p != probs)
        free(p);
    return m->labels[(int)lab - 1];
}

/* ---- serialising ---------------------------------------------------------------- */

struct wbuf { unsigned char *v; size_t n, cap; };

static void put(struct wbuf *b, const void *p, size_t n)
{
    if (b->n + n > b->cap) {
        b->cap = (b->n + n) * 2;
        b->v = xgrow(b->v, b->cap);
    }
    memcpy(b->v + b->n, p, n);
    b->n += n;
}

static void put_u32(struct wbuf *b, uint32_t v) { put(b, &v, 4); }
static void put_f32(struct wbuf *b, float v) { put(b, &v, 4); }

static size_t nweights(const struct model *lin)
{
    return lin->nr_class == 2 ? 1 : (size_t)lin->nr_class;
}

unsigned char *tmodel_save(const struct tmodel *m, size_t *len_r)
{
    struct wbuf b = { 0 };
    put(&b, MAGIC, 8);
    put_u32(&b, FORMAT_VERSION);
    put_u32(&b, (uint32_t)m->lexicon);
    put(&b, &m->C, sizeof(double));
    put(&b, &m->vec_weight, sizeof(double));
    if (m->vec_weight > 0) {
        /* the vectors a model was trained with: others would mean nothing to it */
        uint32_t l = (uint32_t)strlen(wordvec_source);
        put_u32(&b, l);
        put(&b, wordvec_source, l);
    }
    put_u32(&b, (uint32_t)m->lin->nr_class);
    for (int i = 0; i < m->lin->nr_class; i++) {
        uint32_t l = (uint32_t)strlen(m->labels[i]);
        put_u32(&b, l);
        put(&b, m->labels[i], l);
        put_u32(&b, (uint32_t)m->lin->label[i]);
    }
    size_t ncal = (size_t)m->lin->nr_class * (nweights(m->lin) + 1);
    put_u32(&b, m->calib ? 1 : 0);
    if (m->calib)
        put(&b, m->calib, ncal * sizeof(double));
    put_u32(&b, (uint32_t)m->V);
    for (size_t c = 0; c < m->V; c++) {
        put_u32(&b, m->col_keys[c]);
        put_f32(&b, m->idf[c + 1]);
    }
    size_t nw = nweights(m->lin), nf = m->V + NDENSE + 1;
    for (size_t i = 0; i < nf * nw; i++)
        put_f32(&b, (float)m->lin->w[i]);
    uint64_t h = text_hash(0, b.v, b.n);
    put(&b, &h, 8);
    *len_r = b.n;
    return b.v;
}

struct rbuf { const unsigned char *p, *end; int bad; };

static void get(struct rbuf *r, void *out, size_t n)
{
    if (r->bad || (size_t)(r->end - r->p) < n) {
        r->bad = 1;
        memset(out, 0, n);
        return;
    }
    memcpy(out, r->p, n);
    r->p += n;
}

static uint32_t get_u32(struct rbuf *r) { uint32_t v; get(r, &v, 4); return v; }
static float get_f32(struct rbuf *r) { float v; get(r, &v, 4); return v; }

struct tmodel *tmodel_load(const unsigned char *buf, size_t len, const char **error_r)
{
    static __thread char err[400];
    if (buf == NULL || len < 8 + 8 || memcmp(buf, MAGIC, 8) != 0) {
        *error_r = "not a triage model (bad magic)";
        return NULL;
    }
    uint64_t h;
    memcpy(&h, buf + len - 8, 8);
    if (text_hash(0, buf, len - 8) != h) {
        *error_r = "triage model corrupt (checksum mismatch)";
        return NULL;
    }
    struct rbuf r = { buf + 8, buf + len - 8, 0 };
    uint32_t version = get_u32(&r);
    if (version != FORMAT_VERSION) {
        snprintf(err, sizeof(err), "triage model format %u, this build reads %u", version, FORMAT_VERSION);
        *error_r = err;
        return NULL;
    }
    struct tmodel *m = xgrow(NULL, sizeof(*m));
    memset(m, 0, sizeof(*m));
    m->lexicon = (int)get_u32(&r);
    get(&r, &m->C, sizeof(double));
    get(&r, &m->vec_weight, sizeof(double));
    if (!(m->vec_weight >= 0 && m->vec_weight <= 100)) {
        *error_r = "triage model corrupt (word vector weight)";
        free(m);
        return NULL;
    }
    if (m->vec_weight > 0) {
        uint32_t l = get_u32(&r);
        char source[256];
        if (r.bad || l >= sizeof(source) || (size_t)(r.end - r.p) < l) {
            *error_r = "triage model corrupt (word vector source)";
            free(m);
            return NULL;
        }
        get(&r, source, l);
        source[l] = '\0';
        if (strcmp(source, wordvec_source) != 0) {
            snprintf(err, sizeof(err), "triage model trained with other word vectors (%s), this build has %s",
                     source, wordvec_source);
            *error_r = err;
            free(m);
            return NULL;
        }
    }
    uint32_t K = get_u32(&r);
    if (K < 2 || K > 10000) {
        *error_r = "triage model corrupt (class count)";
        free(m);
        return NULL;
    }
    m->lin = xgrow(NULL, sizeof(struct model));
    memset(m->lin, 0, sizeof(struct model));
    m->lin->param.solver_type = L2R_LR;
    m->lin->nr_class = (int)K;
    m->lin->bias = 1.0;
    m->lin->label = xgrow(NULL, K * sizeof(int));
    m->labels = xgrow(NULL, K * sizeof(char *));
    memset(m->labels, 0, K * sizeof(char *));
    m->nlabels = (int)K;
    for (uint32_t i = 0; i < K; i++) {
        uint32_t l = get_u32(&r);
        if (r.bad || l > 4096) {
            r.bad = 1;
            break;
        }
        m->labels[i] = xgrow(NULL, l + 1);
        get(&r, m->labels[i], l);
        m->labels[i][l] = '\0';
        m->lin->label[i] = (int)get_u32(&r);
        if (m->lin->label[i] < 1 || m->lin->label[i] > (int)K)
            r.bad = 1;
    }
    uint32_t has_calib = r.bad ? 0 : get_u32(&r);
    if (has_calib > 1 || (has_calib && K > 64))
        r.bad = 1;
    else if (has_calib) {
        size_t ncal = (size_t)K * (nweights(m->lin) + 1);
        if ((size_t)(r.end - r.p) < ncal * sizeof(double))
            r.bad = 1;
        else {
            m->calib = xgrow(NULL, ncal * sizeof(double));
            get(&r, m->calib, ncal * sizeof(double));
            for (size_t i = 0; i < ncal; i++)
                if (!isfinite(m->calib[i]))
                    r.bad = 1;
        }
    }
    uint32_t V = r.bad ? 0 : get_u32(&r);
    if (!r.bad && (size_t)(r.end - r.p) / 8 < V)
        r.bad = 1;
    if (!r.bad) {
        m->V = V;
        vocab_init(&m->vocab, V);
        m->col_keys = xgrow(NULL, ((size_t)V + 1) * sizeof(uint32_t));
        m->idf = xgrow(NULL, ((size_t)V + 1) * sizeof(float));
        m->idf[0] = 0;
        for (uint32_t c = 0; c < V; c++) {
            m->col_keys[c] = get_u32(&r);
            m->idf[c + 1] = get_f32(&r);
            if (m->col_keys[c] == 0)
                r.bad = 1;
            else
                *vocab_put(&m->vocab, m->col_keys[c]) = (int32_t)(c + 1);
        }
        m->lin->nr_feature = (int)(V + NDENSE);
        size_t nw = nweights(m->lin), nf = (size_t)V + NDENSE + 1;
        if ((size_t)(r.end - r.p) != nf * nw * 4)
            r.bad = 1;
        else {
            m->lin->w = xgrow(NULL, nf * nw * sizeof(double));
            for (size_t i = 0; i < nf * nw; i++)
                m->lin->w[i] = get_f32(&r);
        }
    }
    if (r.bad) {
        *error_r = "triage model corrupt (truncated or inconsistent)";
        tmodel_free(&m);
        return NULL;
    }
    return m;
}
