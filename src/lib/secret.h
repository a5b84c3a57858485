/*
 * lib/secret.h -- the encodings and the MAC every secret of atumd is made
 * with: API and session tokens (lib/token.h), TOTP secrets and recovery
 * codes (lib/totp.h), mail reply tokens (mail/reply_token.h), webhook
 * signatures.  One implementation of each, pure functions writing into
 * caller buffers.
 */
#ifndef ATUM_LIB_SECRET_H
#define ATUM_LIB_SECRET_H

#include <stddef.h>

/* RFC 4648 base32 (upper case, no padding) of n bytes into out (size >= 8n/5 + 2). */
void base32_encode(const unsigned char *in, size_t n, char *out);
/* The same in lower case (reply tokens live in mail addresses). */
void base32_encode_lower(const unsigned char *in, size_t n, char *out);
/* Decodes base32 (case-insensitive, spaces, '-' and '=' ignored); returns
 * the byte count or -1 on a bad character or overflow of out. */
int base32_decode(const char *in, unsigned char *out, size_t size);

/* Base64url without padding of n bytes into out (size >= 4n/3 + 2). */
void base64url_encode(const unsigned char *in, size_t n, char *out);

/* HMAC-SHA256 (32 bytes) with a binary key. */
void hmac_sha256(const void *key, size_t keylen, const void *data, size_t len,
                 unsigned char out[32]);

#endif
