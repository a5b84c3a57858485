/*
 * lib/token.h -- secrets handed to clients: session tokens, API tokens, login
 * challenges, recovery codes, CSRF tokens.
 *
 * A token is 32 random bytes in base64url (43 characters) behind a short
 * prefix that says what it is ("atum_" for API tokens).  The server keeps
 * only token_hash(): HMAC-SHA256 keyed with core.secret_key, in hex, so a
 * copy of the database alone logs nobody in.  Comparisons of hashes happen
 * by equality in SQL on the HMAC (never on the secret itself); where C code
 * compares secrets it uses CRYPTO_memcmp.
 *
 * Everything here is pure (no database) and writes into caller buffers.
 */
#ifndef ATUM_LIB_TOKEN_H
#define ATUM_LIB_TOKEN_H

#include <stdbool.h>
#include <stddef.h>
#include "lib/secret.h"

#define TOKEN_RANDOM_BYTES 32
#define TOKEN_MAX 96           /* prefix + 43 characters + NUL, with room */
#define TOKEN_HASH_HEX 65

/* prefix + base64url(32 random bytes) into out (size >= TOKEN_MAX). */
int token_new(const char *prefix, char *out, size_t size, const char **error_r);
/* hex(HMAC-SHA256(key, data)) into out[65]. */
void token_hash(const char *key, const char *data, size_t len, char out[TOKEN_HASH_HEX]);
/* Only [A-Za-z0-9_-] and at most TOKEN_MAX-1 characters: what we hand out. */
bool token_syntax_ok(const char *s);
/* Constant-time equality of two NUL-terminated strings of equal length. */
bool token_equal(const char *a, const char *b);

#endif
