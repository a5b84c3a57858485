/* plugins/triage/vader.c -- see vader.h.  The constants are VADER's
 * published, empirically derived ones. */
#include "vader.h"
#include "lexicon.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

struct vader_entry { const char *token; float valence; };
/* vader_table.c, generated at build time from the npm package */
extern const struct vader_entry vader_entries[];
extern const unsigned vader_count;

#define B_INCR 0.293
#define B_DECR (-0.293)
#define C_INCR 0.733
#define N_SCALAR (-0.74)
#define EMOJI_VALENCE 1.5

static int cmp_entry(const void *key, const void *elem)
{
    return strcmp((const char *)key, ((const struct vader_entry *)elem)->token);
}

double vader_valence(const char *token)
{
    const struct vader_entry *e = bsearch(token, vader_entries, vader_count, sizeof(vader_entries[0]), cmp_entry);
    return e ? e->valence : 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int in_list(const char *w, const char *const *list, size_t n)
{
    return bsearch(&w, list, n, sizeof(char *), cmp_str) != NULL;
}

/* VADER's negations (sorted by bytes) */
static const char *const negate[] = {
    "ain't", "aint", "aren't", "arent", "can't", "cannot", "cant", "couldn't", "couldnt", "daren't",
    "darent", "despite", "didn't", "didnt", "doesn't", "doesnt", "don't", "dont", "hadn't", "hadnt",
    "hasn't", "hasnt", "haven't", "havent", "isn't", "isnt", "mightn't", "mightnt", "mustn't",
    "mustnt", "needn't", "neednt", "neither", "never", "none", "nope", "nor", "not", "nothing",
    "nowhere", "oughtn't", "oughtnt", "rarely", "seldom", "shan't", "shant", "shouldn't",
    "shouldnt", "uh-uh", "uhuh", "wasn't", "wasnt", "weren't", "werent", "without", "won't", "wont",
    "wouldn't", "wouldnt",
};

static int negated(const char *w)
{
    return in_list(w, negate, sizeof(negate) / sizeof(negate[0])) || strstr(w, "n't") != NULL;
}

/* degree adverbs: boosters (+) and dampeners (-), sorted by bytes */
static const char *const boosters[] = {
    "absolutely", "amazingly", "awfully", "completely", "considerably", "decidedly", "deeply",
    "effing", "enormously", "entirely", "especially", "exceptionally", "extremely", "fabulously",
    "flippin", "flipping", "frickin", "fricking", "friggin", "frigging", "fucking", "fully",
    "greatly", "hella", "highly", "hugely", "incredibly", "intensely", "majorly", "more", "most",
    "particularly", "purely", "quite", "really", "remarkably", "so", "substantially", "thoroughly",
    "totally", "tremendously", "uber", "unbelievably", "unusually", "utterly", "very",
};
static const char *const dampeners[] = {
    "almost", "barely", "hardly", "kinda", "kindof", "less", "little", "marginally", "occasionally",
    "partly", "scarcely", "slightly", "somewhat", "sorta", "sortof",
};

static double booster_of(const char *w)
{
    if (in_list(w, boosters, sizeof(boosters) / sizeof(boosters[0])))
        return B_INCR;
    if (in_list(w, dampeners, sizeof(dampeners) / sizeof(dampeners[0])))
        return B_DECR;
    return 0;
}

/* the valence of token i as the lexicon gives it (a two-word entry such
 * as "fed up" counts on its first word) */
static double base_valence(const struct text_tokens *t, size_t i)
{
    const struct text_token *k = &t->v[i];
    if ((k->flags & TOK_SPECIAL) || lexicon_is_mention(t, i))
        return 0;
    double v = vader_valence(k->s);
    if (v == 0 && (k->flags & TOK_WORD))
        v = lexicon_lookup_elongated(k->s, vader_valence);
    if (v == 0 && (k->flags & TOK_WORD) && i + 1 < t->n && (t->v[i + 1].flags & TOK_WORD)) {
        char pair[160];
        size_t a = k->len, b = t->v[i + 1].len;
        if (a + b + 2 <= sizeof(pair)) {
            memcpy(pair, k->s, a);
            pair[a] = ' ';
            memcpy(pair + a + 1, t->v[i + 1].s, b + 1);
            v = vader_valence(pair);
        }
    }
    if (v == 0 && (k->flags & TOK_EMOTICON))
        v = k->emo * EMOJI_VALENCE;
    return v;
}

static int is_word(const struct text_tokens *t, size_t i, const char *w)
{
    return strcmp(t->v[i].s, w) == 0;
}

void vader_score(const struct text_tokens *t, struct vader_scores *out)
{
    memset(out, 0, sizeof(*out));
    if (t->n == 0)
        return;
    double *s = calloc(t->n, sizeof(double));
    if (s == NULL)
        abort();
    /* capitals count as emphasis only when some words are not in capitals */
    size_t caps = 0;
    for (size_t i = 0; i < t->n; i++)
        caps += (t->v[i].flags & TOK_ALLCAPS) != 0;
    int cap_diff = caps > 0 && caps < t->n;
    long but_at = -1;
    for (size_t i = 0; i < t->n; i++) {
        const struct text_token *k = &t->v[i];
        if (but_at < 0 && is_word(t, i, "but"))
            but_at = (long)i;
        if (booster_of(k->s) != 0 || (i + 1 < t->n && is_word(t, i, "kind") && is_word(t, i + 1, "of")))
            continue;                                   /* a degree adverb has no valence of its own */
        double v = base_valence(t, i);
        if (v == 0)
            continue;
        if ((k->flags & TOK_ALLCAPS) && cap_diff)
            v += v > 0 ? C_INCR : -C_INCR;
        for (size_t d = 0; d < 3 && i > d; d++) {
            const struct text_token *p = &t->v[i - d - 1];
            if (vader_valence(p->s) != 0)
                continue;
            double b = booster_of(p->s);
            if (b != 0) {
                if (v < 0)
                    b = -b;
                if (cap_diff && (p->flags & TOK_ALLCAPS))
                    b += v > 0 ? C_INCR : -C_INCR;
                v += d == 0 ? b : d == 1 ? b * 0.95 : b * 0.9;
            }
            /* negation (and "never so ..." as emphasis) */
            if (d == 0) {
                if (negated(p->s))
                    v *= N_SCALAR;
            } else if (d == 1) {
                if (is_word(t, i - 2, "never") && (is_word(t, i - 1, "so") || is_word(t, i - 1, "this")))
                    v *= 1.5;
                else if (negated(p->s))
                    v *= N_SCALAR;
            } else {
                if ((is_word(t, i - 3, "never") && (is_word(t, i - 2, "so") || is_word(t, i - 2, "this")))
                    || is_word(t, i - 1, "so") || is_word(t, i - 1, "this"))
                    v *= 1.25;
                else if (negated(p->s))
                    v *= N_SCALAR;
            }
        }
        /* "least" negates unless "at least" / "very least" */
        if (i > 0 && is_word(t, i - 1, "least")
            && !(i > 1 && (is_word(t, i - 2, "at") || is_word(t, i - 2, "very"))))
            v *= N_SCALAR;
        s[i] = v;
    }
    if (but_at >= 0)
        for (size_t i = 0; i < t->n; i++)
            s[i] *= (long)i < but_at ? 0.5 : (long)i > but_at ? 1.5 : 1.0;
    double sum = 0, pos = 0, neg = 0;
    size_t neu = 0;
    for (size_t i = 0; i < t->n; i++) {
        sum += s[i];
        if (s[i] > 0)
            pos += s[i] + 1;
        else if (s[i] < 0)
            neg += s[i] - 1;
        else
            neu++;
    }
    free(s);
    unsigned ep = t->exclamations > 4 ? 4 : t->exclamations;
    double amp = ep * 0.292;
    if (t->questions > 1)
        amp += t->questions <= 3 ? t->questions * 0.18 : 0.96;
    if (sum > 0)
        sum += amp;
    else if (sum < 0)
        sum -= amp;
    out->compound = sum / sqrt(sum * sum + 15.0);
    if (out->compound > 1)
        out->compound = 1;
    if (out->compound < -1)
        out->compound = -1;
    if (pos > fabs(neg))
        pos += amp;
    else if (pos < fabs(neg))
        neg -= amp;
    double total = pos + fabs(neg) + (double)neu;
    if (total > 0) {
        out->pos = pos / total;
        out->neg = fabs(neg) / total;
        out->neu = (double)neu / total;
    }
}
