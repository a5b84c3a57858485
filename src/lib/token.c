/* lib/token.c -- see lib/token.h. */
#include "config.h"
#include "lib/token.h"
#include "lib/secret.h"
#include "lib/err.h"
#include "lib/util.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <string.h>


int token_new(const char *prefix, char *out, size_t size, const char **error_r)
{
    unsigned char raw[TOKEN_RANDOM_BYTES];
    char enc[TOKEN_RANDOM_BYTES * 2];
    if (rand_bytes(raw, sizeof(raw)) < 0)
        return err_set(error_r, "no random bytes available");
    base64url_encode(raw, sizeof(raw), enc);
    OPENSSL_cleanse(raw, sizeof(raw));
    size_t pl = strlen(prefix);
    if (pl + strlen(enc) + 1 > size)
        return err_set(error_r, "token buffer too small");
    memcpy(out, prefix, pl);
    memcpy(out + pl, enc, strlen(enc) + 1);
    OPENSSL_cleanse(enc, sizeof(enc));
    return 0;
}


void token_hash(const char *key, const char *data, size_t len, char out[TOKEN_HASH_HEX])
{
    unsigned char mac[32];
    hmac_sha256(key, strlen(key), data, len, mac);
    hex_encode(mac, sizeof(mac), out);
}

bool token_syntax_ok(const char *s)
{
    size_t n = 0;
    if (s == NULL || *s == '\0')
        return false;
    for (; s[n]; n++) {
        char c = s[n];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
              || c == '-' || c == '_'))
            return false;
        if (n >= TOKEN_MAX - 1)
            return false;
    }
    return true;
}

bool token_equal(const char *a, const char *b)
{
    size_t n = strlen(a);
    return n == strlen(b) && CRYPTO_memcmp(a, b, n) == 0;
}
