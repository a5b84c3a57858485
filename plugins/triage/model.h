/*
 * plugins/triage/model.h -- one label's local classifier (category,
 * priority or sentiment): hashed word 1-2-grams of Snowball stems and
 * character 2-5-grams of words, TF-IDF (sublinear tf, smoothed idf, each
 * block L2-normalised), optional sentiment-lexicon features and word
 * vectors (wordvec.h), and liblinear's L2-regularised logistic regression
 * (one against the rest), whose decisions a small multinomial regression
 * fitted on out-of-fold decisions turns into calibrated probabilities: the
 * confidences.
 *
 * A text becomes a struct tdoc (its raw feature counts) once; a model
 * turns tdocs into TF-IDF vectors with the vocabulary and idf it learned.
 * Models serialise to a self-checking byte string (magic, version,
 * checksum) stored in the database; a corrupt one is refused on load.
 *
 * Ownership: tdoc_build() fills a caller-owned struct released with
 * tdoc_free(); tmodel_train() and tmodel_load() return a model the caller
 * frees with tmodel_free().  A model is read-only after it is made, so
 * threads may share it; a struct stemmer_set may not be shared.
 */
#ifndef PLUGINS_TRIAGE_MODEL_H
#define PLUGINS_TRIAGE_MODEL_H

#include <stddef.h>
#include <stdint.h>
#include "../common/stem.h"
#include "lexicon.h"
#include "wordvec.h"

struct tfeat { uint32_t key; float count; };

struct tdoc {
    struct tfeat *f;         /* sorted by key, keys unique */
    size_t n;
    double lex[LEXICON_NFEATURES];
    double vec[WORDVEC_DIM]; /* the words' mean vector (wordvec.h) */
};

/* lang: the text's language (stemming and stop words); NULL: no stemming. */
void tdoc_build(struct tdoc *d, const char *text, size_t len, const char *lang,
                struct stemmer_set *stemmers);
void tdoc_free(struct tdoc *d);

struct tmodel_opts {
    int lexicon;             /* add the sentiment lexicon features */
    int wordvec;             /* add the text's word vector (its weight chosen by the cross-validation, else 1) */
    double C;                /* 0: C and the class weights chosen by 3-fold cross-validation (stratified) on the training rows */
    int balanced;            /* weight classes inversely to their frequency (when C is given) */
};

struct tmodel;

/* Trains on n documents with their labels (NULL or "" rows are skipped).
 * NULL with *error_r when fewer than two classes or rows remain. */
struct tmodel *tmodel_train(const struct tdoc *docs, const char *const *labels, size_t n,
                            const struct tmodel_opts *opts, const char **error_r);
/* The most probable label (borrowed from the model) and its probability;
 * probs_r (optional) gets every class's probability in tmodel_label() order. */
const char *tmodel_predict(const struct tmodel *m, const struct tdoc *d, double *confidence_r,
                           double *probs_r);
int tmodel_nclasses(const struct tmodel *m);
const char *tmodel_label(const struct tmodel *m, int i);
double tmodel_C(const struct tmodel *m);
/* 0: no class weights, 1: square root of the inverse frequency, 2: inverse frequency */
int tmodel_balanced(const struct tmodel *m);
size_t tmodel_nfeatures(const struct tmodel *m);
/* The word vector block's weight (0: not used). */
double tmodel_wordvec_weight(const struct tmodel *m);

/* Serialise: a malloc'd buffer the caller frees. */
unsigned char *tmodel_save(const struct tmodel *m, size_t *len_r);
struct tmodel *tmodel_load(const unsigned char *buf, size_t len, const char **error_r);
void tmodel_free(struct tmodel **m);

#endif
