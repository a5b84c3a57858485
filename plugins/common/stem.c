/* plugins/common/stem.c -- see stem.h. */
#include "stem.h"

#include <libstemmer.h>
#include <stdlib.h>
#include <string.h>

static const struct { const char *code, *algorithm; } algorithms[] = {
    { "en", "english" }, { "de", "german" }, { "es", "spanish" }, { "fr", "french" },
    { "pt", "portuguese" }, { "it", "italian" }, { "nl", "dutch" }, { "sv", "swedish" },
    { "da", "danish" }, { "no", "norwegian" }, { "fi", "finnish" }, { "ru", "russian" },
    { "hu", "hungarian" }, { "ro", "romanian" }, { "tr", "turkish" }, { "ca", "catalan" },
};
#define NALG (sizeof(algorithms) / sizeof(algorithms[0]))

struct stemmer_set {
    struct sb_stemmer *s[NALG];
    unsigned char failed[NALG];
};

struct stemmer_set *stemmer_set_new(void)
{
    struct stemmer_set *set = calloc(1, sizeof(*set));
    if (set == NULL)
        abort();
    return set;
}

void stemmer_set_free(struct stemmer_set **setp)
{
    struct stemmer_set *set = *setp;
    if (set == NULL)
        return;
    for (size_t i = 0; i < NALG; i++)
        if (set->s[i])
            sb_stemmer_delete(set->s[i]);
    free(set);
    *setp = NULL;
}

static struct sb_stemmer *get(struct stemmer_set *set, const char *lang)
{
    if (lang == NULL)
        return NULL;
    for (size_t i = 0; i < NALG; i++) {
        if (strcmp(algorithms[i].code, lang) != 0)
            continue;
        if (set->s[i] == NULL && !set->failed[i]) {
            set->s[i] = sb_stemmer_new(algorithms[i].algorithm, "UTF_8");
            set->failed[i] = set->s[i] == NULL;
        }
        return set->s[i];
    }
    return NULL;
}

size_t stem_word(struct stemmer_set *set, const char *lang, const char *word, size_t len,
                 char *buf, size_t size)
{
    struct sb_stemmer *st = set ? get(set, lang) : NULL;
    const char *src = word;
    size_t n = len;
    if (st != NULL && len < 64) {
        const sb_symbol *r = sb_stemmer_stem(st, (const sb_symbol *)word, (int)len);
        if (r != NULL) {
            src = (const char *)r;
            n = (size_t)sb_stemmer_length(st);
        }
    }
    if (n >= size)
        n = size - 1;
    memcpy(buf, src, n);
    buf[n] = '\0';
    return n;
}
