/* plugins/triage/lexicon.c -- see lexicon.h. */
#include "lexicon.h"
#include "vader.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

struct afinn_entry { const char *word; signed char score; };
/* afinn_table.c, generated at build time from the npm package */
extern const struct afinn_entry afinn_entries[];
extern const unsigned afinn_count;

static int cmp(const void *key, const void *elem)
{
    return strcmp((const char *)key, ((const struct afinn_entry *)elem)->word);
}

int lexicon_score(const char *word)
{
    const struct afinn_entry *e = bsearch(word, afinn_entries, afinn_count, sizeof(afinn_entries[0]), cmp);
    return e ? e->score : 0;
}

#define NEGATION_SCOPE 3

void lexicon_features(const struct text_tokens *t, double *f)
{
    double pos = 0, neg = 0;
    unsigned npos = 0, nneg = 0, caps = 0;
    int emo = 0;
    int scope = 0;
    for (size_t i = 0; i < t->n; i++) {
        const struct text_token *k = &t->v[i];
        if (k->flags & TOK_EMOTICON) {
            emo += k->emo;
            continue;
        }
        if (k->flags & TOK_NEGATOR) {
            scope = NEGATION_SCOPE;
            continue;
        }
        if (k->flags & TOK_ALLCAPS)
            caps++;
        int s = (k->flags & TOK_WORD) ? lexicon_score(k->s) : 0;
        if (s == 0 && (k->flags & TOK_WORD) && i + 1 < t->n) {
            /* two-word entries ("does not work", "no fun") are listed with a space */
            char pair[128];
            size_t a = k->len, b = t->v[i + 1].len;
            if (a + b + 2 < sizeof(pair)) {
                memcpy(pair, k->s, a);
                pair[a] = ' ';
                memcpy(pair + a + 1, t->v[i + 1].s, b + 1);
                s = lexicon_score(pair);
            }
        }
        if (s != 0 && scope > 0)
            s = -s / 2 ? -s / 2 : -s;             /* "not good" is mildly bad, not very bad */
        if ((k->flags & TOK_ALLCAPS) && s != 0)
            s += s > 0 ? 1 : -1;
        if (s > 0) {
            pos += s;
            npos++;
        } else if (s < 0) {
            neg -= s;
            nneg++;
        }
        if (scope > 0)
            scope--;
        if (k->flags & TOK_CLAUSE_END)
            scope = 0;
    }
    f[0] = tanh(pos / 6.0);
    f[1] = tanh(neg / 6.0);
    f[2] = tanh(npos / 3.0);
    f[3] = tanh(nneg / 3.0);
    f[4] = tanh(t->exclamations / 2.0);
    f[5] = tanh(caps / 2.0);
    f[6] = t->letters ? (double)t->capitals / t->letters : 0;
    f[7] = emo > 0 ? tanh(emo) : 0;
    f[8] = emo < 0 ? tanh(-emo) : 0;
    f[9] = tanh(t->questions / 2.0);
    struct vader_scores vs;
    vader_score(t, &vs);
    f[10] = vs.compound > 0 ? vs.compound : 0;
    f[11] = vs.compound < 0 ? -vs.compound : 0;
    f[12] = vs.pos;
    f[13] = vs.neg;
}
