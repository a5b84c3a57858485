/*
 * bench/rag_bench -- the rag plugin's ranking measured on the knowledge
 * base (bench/run rag): recall@1, recall@5, MRR and query times.
 *
 * Usage: rag_bench KBDIR   (KBDIR: ../shared/testdata/kb, with articles/
 * and dev_questions.tsv)
 *
 * Two runs:
 *  - "articles": the articles alone (title, body), what a fresh KB has;
 *  - "linked questions": each question is scored with the *other* dev
 *    questions linked to the articles (2-fold: the questions of an article
 *    are split in two halves, each half scored with the other half linked),
 *    which is what the questions field brings once customers' solved
 *    tickets and admins' paraphrases are linked.  No question is ever
 *    linked while it is scored.
 * Nothing is tuned here: field weights, BM25 and RRF constants are fixed
 * in plugins/common/rankidx.c.
 */
#include "../plugins/common/stem.h"
#include "../plugins/common/tsv.h"
#include "../plugins/rag/kbfile.h"
#include "../plugins/common/rankidx.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

struct result { double r1, r5, mrr, p50, p95; size_t n; };

static void evaluate(struct kbfile *arts, size_t na, const struct tsv *qs, const int *target,
                     const int *half, int linked, struct result *res)
{
    size_t nq = qs->nrows;
    int cq = tsv_col(qs, "question");
    double *times = malloc(nq * sizeof(double));
    size_t hits1 = 0, hits5 = 0, n = 0;
    double mrr = 0;
    struct stemmer_set *st = stemmer_set_new();
    for (int h = 0; h < (linked ? 2 : 1); h++) {
        /* link the questions of the other half */
        char **questions = calloc(na, sizeof(char *));
        for (size_t i = 0; linked && i < nq; i++) {
            if (half[i] == h || target[i] < 0)
                continue;
            const char *q = tsv_cell(qs, i, cq);
            char *old = questions[target[i]];
            size_t l = (old ? strlen(old) : 0) + strlen(q) + 2;
            char *s = malloc(l);
            snprintf(s, l, "%s%s%s", old ? old : "", old ? "\n" : "", q);
            free(old);
            questions[target[i]] = s;
        }
        struct rankidx_doc *docs = calloc(na, sizeof(*docs));
        for (size_t a = 0; a < na; a++)
            docs[a] = (struct rankidx_doc){ arts[a].title, arts[a].body, questions[a], "en" };
        struct rankidx *ix = rankidx_build(docs, na);
        for (size_t i = 0; i < nq; i++) {
            if (linked && half[i] != h)
                continue;
            struct rankidx_hit hits[10];
            const char *q = tsv_cell(qs, i, cq);
            double t0 = now_ms();
            size_t k = rankidx_rank(ix, q, "en", st, NULL, 0, hits, 10);
            times[n] = now_ms() - t0;
            n++;
            for (size_t r = 0; r < k; r++)
                if (hits[r].doc == target[i]) {
                    hits1 += r == 0;
                    hits5 += r < 5;
                    mrr += 1.0 / (double)(r + 1);
                    break;
                }
        }
        rankidx_free(&ix);
        free(docs);
        for (size_t a = 0; a < na; a++)
            free(questions[a]);
        free(questions);
    }
    qsort(times, n, sizeof(double), cmp_double);
    res->n = n;
    res->r1 = (double)hits1 / (double)n;
    res->r5 = (double)hits5 / (double)n;
    res->mrr = mrr / (double)n;
    res->p50 = times[n / 2];
    res->p95 = times[(size_t)((double)n * 0.95)];
    free(times);
    stemmer_set_free(&st);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: rag_bench KBDIR\n");
        return 2;
    }
    char path[2048];
    snprintf(path, sizeof(path), "%s/articles", argv[1]);
    DIR *d = opendir(path);
    if (d == NULL) {
        fprintf(stderr, "rag_bench: cannot read %s\n", path);
        return 1;
    }
    char **names = NULL;
    size_t nn = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        size_t l = strlen(e->d_name);
        if (l > 3 && strcmp(e->d_name + l - 3, ".md") == 0) {
            names = realloc(names, (nn + 1) * sizeof(char *));
            names[nn++] = strdup(e->d_name);
        }
    }
    closedir(d);
    qsort(names, nn, sizeof(char *), cmp_str);
    struct kbfile *arts = calloc(nn, sizeof(*arts));
    double t0 = now_ms();
    for (size_t i = 0; i < nn; i++) {
        const char *err = NULL;
        char p[4096];
        snprintf(p, sizeof(p), "%s/%s", path, names[i]);
        if (kbfile_read(p, &arts[i], &err) < 0) {
            fprintf(stderr, "rag_bench: %s: %s\n", p, err);
            return 1;
        }
    }
    struct rankidx_doc *docs = calloc(nn, sizeof(*docs));
    for (size_t a = 0; a < nn; a++)
        docs[a] = (struct rankidx_doc){ arts[a].title, arts[a].body, NULL, "en" };
    struct rankidx *ix = rankidx_build(docs, nn);
    double build_ms = now_ms() - t0;
    rankidx_free(&ix);
    free(docs);

    snprintf(path, sizeof(path), "%s/dev_questions.tsv", argv[1]);
    FILE *f = fopen(path, "r");
    struct tsv qs;
    const char *err = NULL;
    if (f == NULL || tsv_read(f, &qs, &err) < 0) {
        fprintf(stderr, "rag_bench: cannot read %s\n", path);
        return 1;
    }
    fclose(f);
    int ca = tsv_col(&qs, "article_id");
    int *target = malloc(qs.nrows * sizeof(int)), *half = malloc(qs.nrows * sizeof(int));
    int *seen = calloc(nn, sizeof(int));
    for (size_t i = 0; i < qs.nrows; i++) {
        target[i] = -1;
        for (size_t a = 0; a < nn; a++)
            if (strcmp(arts[a].slug, tsv_cell(&qs, i, ca)) == 0)
                target[i] = (int)a;
        half[i] = target[i] >= 0 ? seen[target[i]]++ % 2 : 0;
    }
    struct result plain, linked;
    evaluate(arts, nn, &qs, target, half, 0, &plain);
    evaluate(arts, nn, &qs, target, half, 1, &linked);
    printf("articles: %zu, questions: %zu, index built in %.1f ms (files read and parsed included)\n", nn,
           qs.nrows, build_ms);
    printf("articles alone      recall@1=%.3f recall@5=%.3f mrr=%.3f p50=%.2f ms p95=%.2f ms\n", plain.r1,
           plain.r5, plain.mrr, plain.p50, plain.p95);
    printf("+ linked questions  recall@1=%.3f recall@5=%.3f mrr=%.3f p50=%.2f ms p95=%.2f ms (2-fold)\n",
           linked.r1, linked.r5, linked.mrr, linked.p50, linked.p95);
    printf("rag_recall1=%.3f rag_recall5=%.3f rag_mrr=%.3f rag_p95_ms=%.2f rag_linked_recall1=%.3f "
           "rag_linked_recall5=%.3f rag_linked_mrr=%.3f\n",
           plain.r1, plain.r5, plain.mrr, plain.p95, linked.r1, linked.r5, linked.mrr);
    for (size_t i = 0; i < nn; i++) {
        kbfile_free(&arts[i]);
        free(names[i]);
    }
    free(arts);
    free(names);
    free(target);
    free(half);
    free(seen);
    tsv_free(&qs);
    return 0;
}
