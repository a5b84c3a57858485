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
 *  - charsets whose 7-bit bytes are not ASCII (UTF-7, HZ, UTF-16,
 *    ISO-2022-*) always go through iconv;
 *  - ISO-2022-JP is read as Windows does (CP50221, through EUC-JP-MS), so
 *    NEC special characters and half-width katakana survive;
 *  - bytes that are valid UTF-8 are taken as UTF-8 when the declared
 *    charset is us-ascii, missing or unknown; 7-bit text with ISO-2022
 *    escape sequences under such a label is decoded as what they announce;
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

/* Raw bytes of a header outside encoded words (RFC 2047 says they are
 * ASCII; real mail has raw Latin-1, KOI8-R, Shift_JIS, EUC-JP, UTF-8 and
 * ISO-2022-JP escapes there).  In order: 7-bit text as it is, or decoded
 * when its ISO-2022 escape sequences say so; valid UTF-8 as UTF-8; with a
 * Japanese hint (the message's ISO-2022-JP body), Shift_JIS or EUC-JP,
 * whichever decodes and reads as Japanese; the hint when it decodes every
 * byte; uchardet's guess when that decodes every byte; else the hint or
 * Windows-1252 with U+FFFD.  `hint` may be NULL ("us-ascii" counts as
 * none).  Always appends valid UTF-8 without NUL; returns 0. */
int charset_header_to_utf8(const char *in, size_t len, const char *hint, struct strbuf *out,
                           struct charset_result *res);

/* uchardet's guess for the bytes, as an iconv name into buf, or NULL. */
const char *charset_guess(const char *in, size_t len, char *buf, size_t size);

/* "ISO-2022-JP-2", "ISO-2022-KR" ... when 7-bit text holds the escape
 * sequences of one, else NULL. */
const char *charset_iso2022_flavour(const char *in, size_t len);

/* Appends s, replacing invalid sequences and NUL by U+FFFD. */
void utf8_sanitize_append(struct strbuf *out, const char *s, size_t len);
/* The iconv name for a MIME charset label (aliases and supersets). */
const char *charset_canonical(const char *label, char *buf, size_t size);

#endif
