/* plugins/triage/wordvec.c -- see wordvec.h. */
#include "wordvec.h"
#include "lexicon.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define SIF_A 1e-3          /* Arora et al.'s weight parameter: their suggested 1e-3 */

static int cmp_word(const void *key, const void *entry)
{
    return strcmp((const char *)key, *(const char *const *)entry);
}

long wordvec_find(const char *word)
{
    const char *const *hit = bsearch(word, wordvec_words, wordvec_count, sizeof(char *), cmp_word);
    return hit ? (long)(hit - wordvec_words) : -1;
}

void wordvec_get(long i, double *out)
{
    const signed char *q = (const signed char *)wordvec_bytes + (size_t)i * WORDVEC_DIM;
    for (int j = 0; j < WORDVEC_DIM; j++)
        out[j] = q[j] * (double)wordvec_scales[i];
}

/* a / (a + p(w)), p(w) = 1 / ((rank + 1) H) by Zipf's law, H the harmonic
 * number of the source's vocabulary */
static double sif_weight(long i)
{
    double h = log((double)wordvec_vocabulary) + 0.5772156649;
    double p = 1.0 / (((double)wordvec_ranks[i] + 1.0) * h);
    return SIF_A / (SIF_A + p);
}

int wordvec_text(const struct text_tokens *t, double *out)
{
    int found = 0;
    double v[WORDVEC_DIM];
    memset(out, 0, WORDVEC_DIM * sizeof(double));
    for (size_t i = 0; i < t->n; i++) {
        const struct text_token *k = &t->v[i];
        if (!(k->flags & TOK_WORD) || lexicon_is_mention(t, i))
            continue;
        long at = wordvec_find(k->s);
        if (at < 0 && lexicon_elongated(k->s)) {
            char squeezed[128];
            for (unsigned keep = 2; keep >= 1 && at < 0; keep--) {
                lexicon_squeeze(k->s, k->len, keep, squeezed, sizeof(squeezed));
                at = wordvec_find(squeezed);
            }
        }
        if (at < 0)
            continue;
        wordvec_get(at, v);
        double w = sif_weight(at);
        for (int j = 0; j < WORDVEC_DIM; j++)
            out[j] += w * v[j];
        found++;
    }
    double norm = 0;
    for (int j = 0; j < WORDVEC_DIM; j++)
        norm += out[j] * out[j];
    if (norm > 0) {
        norm = sqrt(norm);
        for (int j = 0; j < WORDVEC_DIM; j++)
            out[j] /= norm;
    }
    return found;
}
