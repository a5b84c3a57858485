/*
 * lib/filetype.h -- what a file someone uploads really is, and a name for
 * it that is safe to store, show and put in a mail.
 *
 * filetype_sniff() decides the content type from the bytes (magic
 * numbers, then "is it UTF-8 text?"), never from the name: a declared
 * type is kept only when the bytes do not say otherwise and it is not
 * one a browser would run or render as a page (HTML, SVG, XML, scripts),
 * so an upload cannot become active content by claiming a type.
 * filetype_clean_name() keeps the last path component of a name, valid
 * UTF-8 without control characters, quotes or path separators, no
 * leading dots, at most FILETYPE_NAME_MAX bytes (cut on a character
 * boundary, the extension kept), "attachment" when nothing is left.
 * Pure functions, no allocation beyond the caller's buffers.
 */
#ifndef ATUM_LIB_FILETYPE_H
#define ATUM_LIB_FILETYPE_H

#include <stddef.h>

#define FILETYPE_NAME_MAX 200
#define FILETYPE_TYPE_MAX 127

/* The content type of data into out (at most FILETYPE_TYPE_MAX bytes and a
 * NUL); declared may be NULL (or carry parameters: "text/plain;
 * charset=utf-8"). */
void filetype_sniff(const unsigned char *data, size_t len, const char *declared,
                    char out[FILETYPE_TYPE_MAX + 1]);

/* The stored name for what a client called the file (NULL: none). */
void filetype_clean_name(const char *name, char out[FILETYPE_NAME_MAX + 1]);

#endif
