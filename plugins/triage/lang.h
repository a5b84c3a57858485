/*
 * plugins/triage/lang.h -- the language of a text, by libexttextcat's
 * n-gram fingerprints restricted to the configured languages.
 *
 * With all ~160 profiles short texts are often mistaken; restricted to
 * the languages a helpdesk really receives it is reliable.  Mentions, URLs
 * and numbers are removed first (they carry no language).  A text with too
 * few letters to tell gets the fallback language (the queue's) with a low
 * confidence.
 *
 * Ownership: lang_guesser_new() loads the fingerprints once; the guesser
 * is read-only afterwards, so threads may share it (fp_Create works on a
 * fingerprint of the call's own).  lang_guesser_free() releases it.
 */
#ifndef PLUGINS_TRIAGE_LANG_H
#define PLUGINS_TRIAGE_LANG_H

#include <stddef.h>

#define LANG_MAX 32

struct lang_guesser;

/* dir: libexttextcat's profile folder (NULL: the Debian default);
 * languages: comma-separated ISO 639-1 codes, e.g. "en,de,es,fr,pt". */
struct lang_guesser *lang_guesser_new(const char *dir, const char *languages, const char **error_r);
void lang_guesser_free(struct lang_guesser **g);

/* Writes the code (at most 7 bytes + NUL) into lang_r and the confidence
 * (0..1) into *confidence_r.  fallback may be NULL (then the first
 * configured language). */
void lang_guess(const struct lang_guesser *g, const char *text, size_t len, const char *fallback,
                char lang_r[8], double *confidence_r);

#endif
