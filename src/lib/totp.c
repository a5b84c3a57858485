/* lib/totp.c -- see lib/totp.h. */
#include "config.h"
#include "lib/totp.h"
#include "lib/secret.h"
#include "lib/strbuf.h"
#include "lib/util.h"

#include <ctype.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <string.h>




uint32_t hotp(const unsigned char *key, size_t keylen, uint64_t counter, int digits)
{
    unsigned char msg[8], mac[EVP_MAX_MD_SIZE];
    unsigned int maclen = 0;
    for (int i = 7; i >= 0; i--) {
        msg[i] = (unsigned char)(counter & 0xff);
        counter >>= 8;
    }
    HMAC(EVP_sha1(), key, (int)keylen, msg, sizeof(msg), mac, &maclen);
    int off = mac[maclen - 1] & 0x0f;
    uint32_t bin = (uint32_t)(mac[off] & 0x7f) << 24 | (uint32_t)mac[off + 1] << 16
                   | (uint32_t)mac[off + 2] << 8 | mac[off + 3];
    uint32_t mod = 1;
    for (int i = 0; i < digits; i++)
        mod *= 10;
    return bin % mod;
}

int totp_verify(const unsigned char *key, size_t keylen, const char *code, long long now_s,
                long long last_step, long long *step_r)
{
    if (code == NULL || strlen(code) != TOTP_DIGITS)
        return 0;
    uint32_t want = 0;
    for (const char *p = code; *p; p++) {
        if (*p < '0' || *p > '9')
            return 0;
        want = want * 10 + (uint32_t)(*p - '0');
    }
    long long now_step = now_s / TOTP_STEP_SECONDS;
    int found = 0;
    /* every candidate is computed, so timing does not tell which matched */
    for (long long s = now_step - 1; s <= now_step + 1; s++) {
        uint32_t v = hotp(key, keylen, (uint64_t)s, TOTP_DIGITS);
        if (v == want && s > last_step && !found) {
            found = 1;
            *step_r = s;
        }
    }
    return found;
}

static void pct(struct strbuf *b, const char *s)
{
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~' || c == '@')
            strbuf_addc(b, (char)c);
        else
            strbuf_addf(b, "%%%02X", c);
    }
}

char *totp_uri(const char *issuer, const char *account, const char *secret_b32)
{
    struct strbuf b = STRBUF_INIT;
    strbuf_adds(&b, "otpauth://totp/");
    pct(&b, issuer);
    strbuf_adds(&b, ":");
    pct(&b, account);
    strbuf_adds(&b, "?secret=");
    strbuf_adds(&b, secret_b32);
    strbuf_adds(&b, "&issuer=");
    pct(&b, issuer);
    strbuf_addf(&b, "&algorithm=SHA1&digits=%d&period=%d", TOTP_DIGITS, TOTP_STEP_SECONDS);
    return strbuf_steal(&b, NULL);
}

int totp_recovery_code(char out[TOTP_RECOVERY_CHARS + 1])
{
    /* 8 bytes encode to 13 characters; the first 12 take 60 random bits,
     * 5 each (7 bytes gave 56: their 12th character held 1 bit and 4
     * zero bits of padding, always 'a' or 'q') */
    unsigned char raw[8];
    char enc[16];
    if (rand_bytes(raw, sizeof(raw)) < 0)
        return -1;
    base32_encode(raw, sizeof(raw), enc);
    for (int i = 0; i < TOTP_RECOVERY_CHARS; i++)
        out[i] = (char)tolower((unsigned char)enc[i]);
    out[TOTP_RECOVERY_CHARS] = '\0';
    return 0;
}
