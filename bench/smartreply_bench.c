/*
 * bench/smartreply_bench -- the smartreply plugin's local draft on the
 * knowledge-base questions (bench/run smartreply): each dev question is
 * a customer's message; the draft is made the plugin's way (the KB ranked
 * by plugins/common/rankidx.c, the draft chosen and written by
 * plugins/smartreply/compose.c with the plugin's default threshold, no
 * canned responses) and its first source is compared with the question's
 * article.
 *
 * Usage: smartreply_bench KBDIR   (../shared/testdata/kb)
 *
 * Prints: drafted (a draft was made: something was relevant enough),
 * first_source_right (of all questions: the draft's source is the right
 * article), precision (of the drafted ones), and the time per draft.
 */
#include "../plugins/common/rankidx.h"
#include "../plugins/common/stem.h"
#include "../plugins/common/tsv.h"
#include "../plugins/rag/kbfile.h"
#include "../plugins/smartreply/compose.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MIN_RELEVANCE 0.30        /* the plugin's min_relevance_percent default */
#define HITS 4                    /* the plugin's MAX_KB_HITS */

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

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: smartreply_bench KBDIR\n");
        return 2;
    }
    char path[2048];
    snprintf(path, sizeof(path), "%s/articles", argv[1]);
    DIR *d = opendir(path);
    if (d == NULL) {
        fprintf(stderr, "smartreply_bench: cannot read %s\n", path);
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
    struct rankidx_doc *docs = calloc(nn, sizeof(*docs));
    for (size_t i = 0; i < nn; i++) {
        const char *err = NULL;
        char p[4096];
        snprintf(p, sizeof(p), "%s/%s", path, names[i]);
        if (kbfile_read(p, &arts[i], &err) < 0) {
            fprintf(stderr, "smartreply_bench: %s: %s\n", p, err);
            return 1;
        }
        docs[i] = (struct rankidx_doc){ arts[i].title, arts[i].body, NULL, "en" };
    }
    struct rankidx *ix = rankidx_build(docs, nn);
    snprintf(path, sizeof(path), "%s/dev_questions.tsv", argv[1]);
    FILE *f = fopen(path, "r");
    struct tsv qs;
    const char *err = NULL;
    if (f == NULL || tsv_read(f, &qs, &err) < 0) {
        fprintf(stderr, "smartreply_bench: cannot read %s\n", path);
        return 1;
    }
    fclose(f);
    int ca = tsv_col(&qs, "article_id"), cq = tsv_col(&qs, "question");
    struct stemmer_set *st = stemmer_set_new();
    size_t drafted = 0, right = 0;
    double total_ms = 0;
    struct fill_values fv = { "Carla Customer", "carla@example.org", "1", "", "Support", "Ann Agent" };
    for (size_t i = 0; i < qs.nrows; i++) {
        const char *q = tsv_cell(&qs, i, cq);
        double t0 = now_ms();
        struct rankidx_hit hits[HITS];
        size_t m = rankidx_rank(ix, q, "en", st, NULL, 0, hits, HITS);
        struct candidate c[HITS];
        for (size_t k = 0; k < m; k++) {
            const char *head = "", *text = "";
            rankidx_best_passage(ix, hits[k].doc, q, "en", st, &head, &text);
            c[k] = (struct candidate){ CAND_KB, hits[k].doc, arts[hits[k].doc].title, text, head, "",
                                       arts[hits[k].doc].slug, hits[k].relevance };
        }
        struct draft dr;
        compose_draft(c, m, MIN_RELEVANCE, &fv, "en", &dr);
        total_ms += now_ms() - t0;
        if (dr.text != NULL) {
            drafted++;
            right += strcmp(c[dr.source].slug, tsv_cell(&qs, i, ca)) == 0;
        }
        draft_clear(&dr);
    }
    size_t n = qs.nrows;
    printf("articles: %zu, questions: %zu, threshold %.2f\n", nn, n, MIN_RELEVANCE);
    printf("drafted=%.3f first_source_right=%.3f precision=%.3f draft_ms=%.3f\n", (double)drafted / (double)n,
           (double)right / (double)n, drafted ? (double)right / (double)drafted : 0.0, total_ms / (double)n);
    printf("smartreply_drafted=%.3f smartreply_first_source_right=%.3f smartreply_precision=%.3f "
           "smartreply_draft_ms=%.3f\n", (double)drafted / (double)n, (double)right / (double)n,
           drafted ? (double)right / (double)drafted : 0.0, total_ms / (double)n);
    stemmer_set_free(&st);
    rankidx_free(&ix);
    for (size_t i = 0; i < nn; i++) {
        kbfile_free(&arts[i]);
        free(names[i]);
    }
    free(arts);
    free(docs);
    free(names);
    tsv_free(&qs);
    return 0;
}
