/*
 * plugins/common/text.h -- tokenising text for the classifiers and the
 * retrieval index of the triage, rag and smartreply plugins.
 *
 * Input is UTF-8 of any length, possibly invalid or binary: invalid bytes
 * are skipped, never trusted.  A text becomes a list of tokens:
 *  - words: runs of letters and digits (apostrophes inside a word kept),
 *    lower-cased (ASCII, Latin-1, Latin Extended-A, Greek, Cyrillic);
 *  - URLs become the one token "<url>", @mentions "<user>" (their name is
 *    kept too), numbers of three digits or more "<num>";
 *  - emoji and emoticons (":)", ":-(", "<3" ...) become tokens of their own
 *    (flag TOK_EMOTICON, polarity in `emo`).
 * Each token remembers whether it was written in capitals and where it
 * was in the text.
 *
 * Ownership: a struct text_tokens owns its token strings; text_tokens_free()
 * releases them.  Nothing here keeps global state, so any thread may use it.
 */
#ifndef PLUGINS_COMMON_TEXT_H
#define PLUGINS_COMMON_TEXT_H

#include <stddef.h>
#include <stdint.h>

#define TEXT_MAX_INPUT (256u * 1024)   /* bytes read of one text: the rest is ignored */

enum text_token_flags {
    TOK_WORD = 1,
    TOK_ALLCAPS = 2,       /* written in capitals, at least 3 letters */
    TOK_EMOTICON = 4,
    TOK_SPECIAL = 8,       /* <url>, <user>, <num> */
    TOK_NEGATOR = 16,      /* not, no, never, n't ... (English) */
    TOK_CLAUSE_END = 32    /* followed by . , ; ! ? : a negation stops here */
};

struct text_token {
    char *s;               /* lower-cased UTF-8, NUL-terminated */
    unsigned len;
    unsigned flags;
    int emo;               /* emoticon polarity: -1, 0, +1 */
};

struct text_tokens {
    struct text_token *v;
    size_t n, cap;
    unsigned exclamations;   /* '!' in the text */
    unsigned questions;      /* '?' in the text */
    unsigned letters;        /* letters seen */
    unsigned capitals;       /* of which upper case */
    size_t bytes;            /* bytes read */
};

/* Tokenises text (len bytes).  Never fails: out of memory aborts. */
void text_tokenize(const char *text, size_t len, struct text_tokens *out);
void text_tokens_free(struct text_tokens *t);

/* Decodes one code point at *p (advancing it); invalid bytes give -1 and
 * advance by one. */
int32_t text_utf8_next(const unsigned char **p, const unsigned char *end);
/* Appends code point cp to buf (at most 4 bytes); returns bytes written. */
size_t text_utf8_put(char *buf, int32_t cp);
/* The lower-case form of cp (the ranges above). */
int32_t text_lower(int32_t cp);
int text_is_letter(int32_t cp);

/* Lower-cases text into a new NUL-terminated string with runs of
 * non-letters collapsed to one space; the caller frees it. */
char *text_fold(const char *text, size_t len, size_t *len_r);

/* 64-bit FNV-1a of bytes, seeded: feature hashing. */
uint64_t text_hash(uint64_t seed, const void *data, size_t len);

/* Whether word (lower case) is a stop word of language lang ("en", "de",
 * "es", "fr", "pt"); unknown languages have none. */
int text_is_stopword(const char *lang, const char *word);

#endif
