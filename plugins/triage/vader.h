/*
 * plugins/triage/vader.h -- a VADER-style sentiment score of a tokenised
 * text: the valence of each word or emoticon from the VADER lexicon
 * (compiled in from the npm package vader-sentiment, Apache-2.0; see
 * docs/libraries.md), adjusted by the rules of VADER (Hutto & Gilbert,
 * ICWSM 2014): degree adverbs that boost or dampen the next words, a
 * negation within three words before (x -0.74), "never so/this", "least",
 * capitals among lower-case words, a contrastive "but" (before x0.5, after
 * x1.5), and '!' / '?' emphasis.  Emoji the lexicon lacks count by the
 * tokenizer's polarity.
 *
 * Pure functions; the lexicon is a const sorted table.
 */
#ifndef PLUGINS_TRIAGE_VADER_H
#define PLUGINS_TRIAGE_VADER_H

#include "../common/text.h"

struct vader_scores {
    double compound;         /* -1 .. 1 */
    double pos, neg, neu;    /* shares, summing to 1 (all 0 for an empty text) */
};

/* The lexicon's valence of a token (-4 .. 4), 0 when it is not listed. */
double vader_valence(const char *token);

void vader_score(const struct text_tokens *t, struct vader_scores *out);

#endif
