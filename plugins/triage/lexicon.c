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

int lexicon_is_mention(const struct text_tokens *t, size_t i)
{
    return i > 0 && i < t->n && (t->v[i - 1].flags & TOK_SPECIAL) && strcmp(t->v[i - 1].s, "<user>") == 0;
}

int lexicon_elongated(const char *word)
{
    const unsigned char *p = (const unsigned char *)word;
    for (size_t i = 0; p[i] && p[i + 1] && p[i + 2]; i++)
        if (p[i] == p[i + 1] && p[i] == p[i + 2] && ((p[i] >= 'a' && p[i] <= 'z') || p[i] >= 0x80))
            return 1;
    return 0;
}

size_t lexicon_squeeze(const char *word, size_t len, unsigned keep, char *out, size_t size)
{
    size_t o = 0, run = 0;
    if (size == 0)
        return 0;
    for (size_t i = 0; i < len && o + 1 < size; i++) {
        unsigned char c = (unsigned char)word[i];
        run = o > 0 && c == (unsigned char)out[o - 1] && c < 0x80 ? run + 1 : 1;
        if (run > keep)
            continue;
        out[o++] = (char)c;
    }
    out[o] = '\0';
    return o;
}

double lexicon_lookup_elongated(const char *word, double (*lookup)(const char *))
{
    char buf[128];
    size_t len = strlen(word);
    if (!lexicon_elongated(word) || len >= sizeof(buf))
        return 0;
    for (unsigned keep = 2; keep >= 1; keep--) {
        lexicon_squeeze(word, len, keep, buf, sizeof(buf));
        double v = lookup(buf);
        if (v != 0)
            return v;
    }
    return 0;
}

static double afinn_lookup(const char *word)
{
    return lexicon_score(word);
}

int lexicon_last_mark(const char *text, size_t len)
{
    for (size_t i = len; text && i > 0; i--)
        if (text[i - 1] == '.' || text[i - 1] == '!' || text[i - 1] == '?') {
            /* a dot inside a URL or a number ("t.co", "3.5") ends nothing */
            if (text[i - 1] == '.' && i < len && text[i] != ' ' && text[i] != '\n' && text[i] != '\t')
                continue;
            return text[i - 1];
        }
    return 0;
}

void lexicon_features(const struct text_tokens *t, const char *text, size_t len, double *f)
{
    double pos = 0, neg = 0;
    unsigned npos = 0, nneg = 0, caps = 0, elongated = 0, negated_pos = 0;
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
        if ((k->flags & TOK_WORD) && lexicon_elongated(k->s))
            elongated++;
        int word = (k->flags & TOK_WORD) && !lexicon_is_mention(t, i);
        int s = word ? lexicon_score(k->s) : 0;
        if (s == 0 && word)
            s = (int)lexicon_lookup_elongated(k->s, afinn_lookup);
        if (s == 0 && word && i + 1 < t->n) {
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
        if (s > 0 && scope > 0)
            negated_pos++;
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
    f[14] = tanh(elongated);
    int mark = lexicon_last_mark(text, len);
    f[15] = mark == '?';
    f[16] = mark == '!';
    f[17] = vs.compound >= 0.05;
    f[18] = vs.compound <= -0.05;
    f[19] = vs.neu;
    f[20] = tanh(negated_pos / 2.0);
}
