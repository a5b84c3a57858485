/*
 * plugins/triage/wordvec_table.h -- the word vectors' table, generated at
 * build time by build-aux/glove2c into wordvec_table.c (see wordvec.h).
 * Read-only data compiled into the plugin.
 */
#ifndef PLUGINS_TRIAGE_WORDVEC_TABLE_H
#define PLUGINS_TRIAGE_WORDVEC_TABLE_H

#define WORDVEC_DIM 100

extern const unsigned wordvec_count;        /* words in the table */
extern const unsigned wordvec_vocabulary;   /* words in the whole source (for Zipf's law) */
extern const char wordvec_source[];         /* what the table is, for models to check */
extern const char *const wordvec_words[];   /* sorted in byte order */
extern const unsigned wordvec_ranks[];      /* each word's frequency rank in the source (0: the most frequent) */
extern const float wordvec_scales[];        /* each word's vector = bytes * scale */
extern const char wordvec_bytes[];          /* WORDVEC_DIM signed bytes per word */

#endif
