/*
 * plugins/common/stem.h -- Snowball stemmers (libstemmer) by ISO 639-1
 * language code.
 *
 * A libstemmer stemmer is not thread-safe, so a struct stemmer_set belongs
 * to one thread (or one call) at a time: it creates each language's
 * stemmer the first time it is asked for and frees them all in
 * stemmer_set_free().  Languages without a Snowball algorithm are left
 * unstemmed.
 */
#ifndef PLUGINS_COMMON_STEM_H
#define PLUGINS_COMMON_STEM_H

#include <stddef.h>

struct stemmer_set;

struct stemmer_set *stemmer_set_new(void);
void stemmer_set_free(struct stemmer_set **set);

/* The stem of word (lower case UTF-8) in lang: written into buf (size
 * bytes, NUL-terminated, cut when longer); returns its length.  Unknown
 * language or a word too long: the word itself. */
size_t stem_word(struct stemmer_set *set, const char *lang, const char *word, size_t len,
                 char *buf, size_t size);

#endif
