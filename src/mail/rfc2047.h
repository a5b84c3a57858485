/*
 * mail/rfc2047.h -- header text to UTF-8: encoded-words (RFC 2047),
 * parameter values (RFC 2231), and the decoders both need.
 *
 * rfc2047_decode() takes an unfolded header value and:
 *  - decodes =?charset?B|Q?text?= words, tolerating lower case, spaces in
 *    Q text, missing padding, a language tag (charset*lang);
 *  - drops whitespace between two adjacent encoded words, and joins the
 *    bytes of adjacent words in the same charset before converting them,
 *    so a multi-byte character split across two words survives;
 *  - converts raw bytes outside encoded words with
 *    charset_header_to_utf8(): raw_charset is a hint (the message's text
 *    charset is a good one), ISO-2022 escapes and UTF-8 speak for
 *    themselves, Shift_JIS/EUC-JP are told apart, the rest is guessed.
 * Output is appended as valid UTF-8.
 */
#ifndef ATUM_MAIL_RFC2047_H
#define ATUM_MAIL_RFC2047_H

#include <stdbool.h>
#include <stddef.h>
#include "lib/strbuf.h"

void rfc2047_decode(const char *in, size_t len, const char *raw_charset, struct strbuf *out);

/* What rfc2047_decode_report() had to guess or repair, so the caller can
 * note it on the message. */
struct rfc2047_report {
    bool raw_repaired;       /* raw 8-bit (or ISO-2022) bytes outside words: charset guessed */
    bool word_repaired;      /* a word in an unknown charset, or bytes its charset refuses */
    size_t bad;              /* bytes replaced by U+FFFD */
    char used[64];           /* the charset that read the first repaired piece */
};
void rfc2047_decode_report(const char *in, size_t len, const char *raw_charset, struct strbuf *out,
                           struct rfc2047_report *rep);

/* A parameter as MIME hands it over (name without '=', raw value). */
struct mime_param {
    const char *name;
    const char *value;
};

/* The decoded value of parameter `name` (e.g. "filename"): RFC 2231
 * extended and continued forms first (name*, name*0*, name*1 ...), then
 * the plain form, whose value may itself hold encoded words.  Returns 1
 * and appends UTF-8 to out when found, 0 when absent. */
int rfc2231_param(const struct mime_param *params, size_t n, const char *name, struct strbuf *out);

/* Byte decoders used by the MIME code too; append to out. */
void decode_base64(const char *in, size_t len, struct strbuf *out);
void decode_qp(const char *in, size_t len, int header_mode, struct strbuf *out);

#endif
