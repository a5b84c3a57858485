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
 *  - converts raw 8-bit bytes outside encoded words from raw_charset
 *    (the message's body charset is a good hint) or by guessing.
 * Output is appended as valid UTF-8.
 */
#ifndef ATUM_MAIL_RFC2047_H
#define ATUM_MAIL_RFC2047_H

#include <stddef.h>
#include "lib/strbuf.h"

void rfc2047_decode(const char *in, size_t len, const char *raw_charset, struct strbuf *out);

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
