/* lib/util.c -- see lib/util.h. */
#include "config.h"
#include "lib/util.h"

#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdint.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

long long time_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

double time_mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

long long time_real_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* xorshift64*, seeded per thread from the kernel on first use */
static _Thread_local uint64_t rand_state;

double rand_unit(void)
{
    if (rand_state == 0) {
        if (getrandom(&rand_state, sizeof(rand_state), 0) != sizeof(rand_state) || rand_state == 0)
            rand_state = (uint64_t)time_real_ms() * 2654435761u + 1;
    }
    rand_state ^= rand_state >> 12;
    rand_state ^= rand_state << 25;
    rand_state ^= rand_state >> 27;
    uint64_t r = rand_state * 2685821657736338717ULL;
    return (double)(r >> 11) / (double)(1ULL << 53);
}

int rand_bytes(void *buf, size_t n)
{
    return RAND_bytes(buf, (int)n) == 1 ? 0 : -1;
}

void hex_encode(const unsigned char *in, size_t n, char *out)
{
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hex[in[i] >> 4];
        out[2 * i + 1] = hex[in[i] & 15];
    }
    out[2 * n] = '\0';
}

void sha256_hex(const void *data, size_t n, char out[65])
{
    unsigned char md[32];
    size_t mdlen = 0;
    EVP_Q_digest(NULL, "SHA256", NULL, data, n, md, &mdlen);
    hex_encode(md, 32, out);
}

bool str_has_prefix(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

bool str_utf8_valid(const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s, *end = p + len;
    while (p < end) {
        unsigned c = *p;
        size_t n;
        if (c < 0x80) {
            /* ASCII, most of any mail: eight bytes at a time */
            while (end - p >= 8) {
                uint64_t w;
                memcpy(&w, p, 8);
                if (w & 0x8080808080808080ULL)
                    break;
                p += 8;
            }
            if (p < end && *p < 0x80)
                p++;
            continue;
        }
        if ((c & 0xE0) == 0xC0)
            n = 1;
        else if ((c & 0xF0) == 0xE0)
            n = 2;
        else if ((c & 0xF8) == 0xF0)
            n = 3;
        else
            return false;   /* a continuation byte first, or 0xF8..0xFF */
        if ((size_t)(end - p) <= n)
            return false;
        unsigned cp = c & (0x3Fu >> n);
        for (size_t i = 1; i <= n; i++) {
            if ((p[i] & 0xC0) != 0x80)
                return false;
            cp = (cp << 6) | (p[i] & 0x3Fu);
        }
        if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000)
            || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return false;
        p += n + 1;
    }
    return true;
}
