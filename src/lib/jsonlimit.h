/*
 * lib/jsonlimit.h -- limits checked on JSON text before a parser sees it.
 *
 * jansson parses nested arrays and objects by recursion, and so do
 * json_decref() and json_dumps() on the result: a body of a few kilobytes
 * nested a thousand levels deep overflows the small stack of a web worker
 * thread (civetweb's are about 100 KB) before any handler could refuse
 * it.  Every JSON text that arrives from outside is therefore scanned
 * first, iteratively, and refused past JSON_MAX_DEPTH -- whatever the
 * stack size of the thread that reads it.  Nothing we accept nests deeper
 * than a few levels; 32 leaves room for plugins.
 *
 * Pure code, no allocation.
 */
#ifndef ATUM_LIB_JSONLIMIT_H
#define ATUM_LIB_JSONLIMIT_H

#include <stdbool.h>
#include <stddef.h>

#define JSON_MAX_DEPTH 32
#define JSON_MAX_DEPTH_TEXT "32"

/* true when the arrays and objects of s[0..n) nest at most max_depth
 * levels deep (a scalar is depth 0, [] and {} depth 1).  It does not
 * validate the JSON: the parser does that afterwards.  Brackets inside
 * strings do not count. */
bool json_depth_ok(const char *s, size_t n, int max_depth);

#endif
