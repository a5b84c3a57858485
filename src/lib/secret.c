/* lib/secret.c -- see lib/secret.h. */
#include "config.h"
#include "lib/secret.h"

#include <ctype.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <string.h>

static const char b32[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

void base32_encode(const unsigned char *in, size_t n, char *out)
{
    size_t o = 0;
    unsigned buf = 0;
    int bits = 0;
    for (size_t i = 0; i < n; i++) {
        buf = buf << 8 | in[i];
        bits += 8;
        while (bits >= 5) {
            out[o++] = b32[(buf >> (bits - 5)) & 31];
            bits -= 5;
        }
    }
    if (bits > 0)
        out[o++] = b32[(buf << (5 - bits)) & 31];
    out[o] = '\0';
}

int base32_decode(const char *in, unsigned char *out, size_t size)
{
    unsigned buf = 0;
    int bits = 0;
    size_t o = 0;
    for (; *in; in++) {
        int c = toupper((unsigned char)*in);
        if (c == ' ' || c == '=' || c == '-')
            continue;
        const char *p = c ? strchr(b32, c) : NULL;
        if (p == NULL)
            return -1;
        buf = buf << 5 | (unsigned)(p - b32);
        bits += 5;
        if (bits >= 8) {
            if (o >= size)
                return -1;
            out[o++] = (unsigned char)(buf >> (bits - 8));
            bits -= 8;
        }
    }
    return (int)o;
}

void base32_encode_lower(const unsigned char *in, size_t n, char *out)
{
    base32_encode(in, n, out);
    for (; *out; out++)
        *out = (char)tolower((unsigned char)*out);
}

void base64url_encode(const unsigned char *in, size_t n, char *out)
{
    static const char al[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    size_t o = 0, i = 0;
    for (; i + 2 < n; i += 3) {
        unsigned v = (unsigned)in[i] << 16 | (unsigned)in[i + 1] << 8 | in[i + 2];
        out[o++] = al[v >> 18 & 63];
        out[o++] = al[v >> 12 & 63];
        out[o++] = al[v >> 6 & 63];
        out[o++] = al[v & 63];
    }
    if (n - i == 1) {
        unsigned v = (unsigned)in[i] << 16;
        out[o++] = al[v >> 18 & 63];
        out[o++] = al[v >> 12 & 63];
    } else if (n - i == 2) {
        unsigned v = (unsigned)in[i] << 16 | (unsigned)in[i + 1] << 8;
        out[o++] = al[v >> 18 & 63];
        out[o++] = al[v >> 12 & 63];
        out[o++] = al[v >> 6 & 63];
    }
    out[o] = '\0';
}

void hmac_sha256(const void *key, size_t keylen, const void *data, size_t len,
                 unsigned char out[32])
{
    unsigned int outlen = 32;
    HMAC(EVP_sha256(), key, (int)keylen, data, len, out, &outlen);
}
