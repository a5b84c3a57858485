/*
 * mail/charset.h -- any bytes to valid UTF-8.
 *
 * Mail declares charsets that lie (us-ascii over UTF-8), that are subsets
 * of what was really used (gb2312 over GB18030 text, iso-8859-1 over
 * windows-1252 quotes), or none at all.  charset_to_utf8() always produces
 * valid UTF-8 without NUL bytes, and says how it got there:
 *  - declared charsets go through an alias table to the superset iconv
 *    knows (gb2312 -> GB18030, euc-kr -> CP949, shift_jis -> CP932,
 *    iso-8859-1 -> WINDOWS-1252, iso-2022-jp -> ISO-2022-JP-2 ...);
 *  - bytes that are valid UTF-8 are taken as UTF-8 when the declared
 *    charset is us-ascii, missing or unknown;
 *  - otherwise unlabelled 8-bit text is guessed with uchardet, then
 *    WINDOWS-1252;
 *  - bytes that do not decode become U+FFFD, counted in result->bad.
 * The output is appended to `out`; the caller owns it.
 */
#ifndef ATUM_MAIL_CHARSET_H
#define ATUM_MAIL_CHARSET_H

#include <stdbool.h>
#include <stddef.h>
#include "lib/strbuf.h"

struct charset_result {
    char used[64];           /* the iconv charset that decoded it, "UTF-8", ... */
    bool guessed;            /* not (only) what was declared */
    bool unknown_declared;   /* the declared name meant nothing to iconv */
    size_t bad;              /* bytes replaced by U+FFFD */
};

/* declared may be NULL or "".  Returns 0; -1 only on out-of-memory-like
 * iconv failures (the caller then has the bytes as U+FFFD at worst). */
int charset_to_utf8(const char *in, size_t len, const char *declared, struct strbuf *out,
                    struct charset_result *res);

/* Appends s, replacing invalid sequences and NUL by U+FFFD. */
void utf8_sanitize_append(struct strbuf *out, const char *s, size_t len);
/* The iconv name for a MIME charset label (aliases and supersets). */
const char *charset_canonical(const char *label, char *buf, size_t size);

#endif
