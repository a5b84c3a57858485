/* plugins/triage/lang.c -- see lang.h. */
#include "lang.h"
#include "../common/text.h"

#include <libexttextcat/fingerprint.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_DIR "/usr/share/libexttextcat"
#define MIN_LETTERS 12          /* fewer letters than this: too short to tell */
#define MAX_SAMPLE 2000         /* bytes of cleaned text compared: plenty for a language */

struct lang_guesser {
    int n;
    char code[LANG_MAX][8];
    void *fp[LANG_MAX];
};

void lang_guesser_free(struct lang_guesser **gp)
{
    struct lang_guesser *g = *gp;
    if (g == NULL)
        return;
    for (int i = 0; i < g->n; i++)
        fp_Done(g->fp[i]);
    free(g);
    *gp = NULL;
}

struct lang_guesser *lang_guesser_new(const char *dir, const char *languages, const char **error_r)
{
    static __thread char err[600];
    struct lang_guesser *g = calloc(1, sizeof(*g));
    if (g == NULL)
        abort();
    const char *p = languages ? languages : "en";
    while (*p) {
        while (*p == ',' || *p == ' ')
            p++;
        size_t n = strcspn(p, ", ");
        if (n == 0)
            break;
        if (n > 7 || g->n == LANG_MAX) {
            snprintf(err, sizeof(err), "languages: '%.*s' is not a language code (or too many)", (int)n, p);
            goto fail;
        }
        for (size_t i = 0; i < n; i++)
            if (!((p[i] >= 'a' && p[i] <= 'z') || p[i] == '-' || p[i] == '_')) {
                snprintf(err, sizeof(err), "languages: '%.*s' is not a language code", (int)n, p);
                goto fail;
            }
        char path[512];
        memcpy(g->code[g->n], p, n);
        g->code[g->n][n] = '\0';
        snprintf(path, sizeof(path), "%s/%s.lm", dir ? dir : DEFAULT_DIR, g->code[g->n]);
        void *fp = fp_Init(g->code[g->n]);
        if (fp == NULL || fp_Read(fp, path, 400) == 0) {
            if (fp)
                fp_Done(fp);
            snprintf(err, sizeof(err), "no language profile %s (libexttextcat-data)", path);
            goto fail;
        }
        g->fp[g->n++] = fp;
        p += n;
    }
    if (g->n == 0) {
        snprintf(err, sizeof(err), "no languages configured");
        goto fail;
    }
    return g;
fail:
    *error_r = err;
    lang_guesser_free(&g);
    return NULL;
}

/* The words of the text, lower case, without mentions, URLs and numbers. */
static char *clean(const char *text, size_t len, size_t *len_r, unsigned *letters_r)
{
    struct text_tokens t;
    text_tokenize(text, len, &t);
    char *out = malloc(MAX_SAMPLE + 64);
    if (out == NULL)
        abort();
    size_t o = 0;
    unsigned letters = 0;
    for (size_t i = 0; i < t.n && o < MAX_SAMPLE; i++) {
        const struct text_token *k = &t.v[i];
        if (!(k->flags & TOK_WORD))
            continue;
        if (i > 0 && strcmp(t.v[i - 1].s, "<user>") == 0)
            continue;                            /* a mention's name */
        int digits = 0;
        for (unsigned c = 0; c < k->len; c++)
            digits += k->s[c] >= '0' && k->s[c] <= '9';
        if (digits)
            continue;
        size_t n = k->len < 60 ? k->len : 60;
        if (o + n + 1 > MAX_SAMPLE)
            break;
        if (o)
            out[o++] = ' ';
        memcpy(out + o, k->s, n);
        o += n;
        letters += (unsigned)n;
    }
    out[o] = '\0';
    text_tokens_free(&t);
    *len_r = o;
    *letters_r = letters;
    return out;
}

void lang_guess(const struct lang_guesser *g, const char *text, size_t len, const char *fallback,
                char lang_r[8], double *confidence_r)
{
    const char *fb = fallback && *fallback ? fallback : g->code[0];
    snprintf(lang_r, 8, "%s", fb);
    *confidence_r = 0.3;
    if (g->n == 1) {
        snprintf(lang_r, 8, "%s", g->code[0]);
        *confidence_r = 1.0;
        return;
    }
    size_t n;
    unsigned letters;
    char *s = clean(text ? text : "", text ? len : 0, &n, &letters);
    if (letters < MIN_LETTERS) {
        free(s);
        return;
    }
    void *fp = fp_Init("text");
    if (fp == NULL || fp_Create(fp, s, (uint4)n, 400) == 0) {
        if (fp)
            fp_Done(fp);
        free(s);
        return;
    }
    int best = -1;
    long bscore = LONG_MAX, second = LONG_MAX, fbscore = LONG_MAX;
    for (int i = 0; i < g->n; i++) {
        long sc = (long)fp_Compare(g->fp[i], fp, INT_MAX);
        if (strcmp(g->code[i], fb) == 0)
            fbscore = sc;
        if (sc < bscore) {
            second = bscore;
            bscore = sc;
            best = i;
        } else if (sc < second) {
            second = sc;
        }
    }
    fp_Done(fp);
    free(s);
    if (best < 0 || bscore <= 0)
        return;
    /* textcat's own rule: candidates within 3 % of the best are a tie.  In a
     * tie the fallback (the queue's language) wins when it is among them. */
    double ratio = (double)second / (double)bscore;
    if (fbscore != LONG_MAX && (double)fbscore <= (double)bscore * 1.03) {
        snprintf(lang_r, 8, "%s", fb);
        *confidence_r = fbscore == bscore ? 0.5 + (ratio - 1.0) * 8 : 0.5;
    } else {
        snprintf(lang_r, 8, "%s", g->code[best]);
        *confidence_r = 0.5 + (ratio - 1.0) * 8;
    }
    if (*confidence_r > 0.99)
        *confidence_r = 0.99;
    /* little text: never very sure */
    if (letters < 40 && *confidence_r > 0.8)
        *confidence_r = 0.8;
}
