/*
 * lib/util.h -- clocks, randomness and small string helpers shared by modules.
 */
#ifndef ATUM_LIB_UTIL_H
#define ATUM_LIB_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Milliseconds on the monotonic clock (for timeouts and backoff). */
long long time_mono_ms(void);
/* Milliseconds since the epoch (for display and SQL). */
long long time_real_ms(void);
/* Seconds on the monotonic clock, to the nanosecond (durations for metrics). */
double time_mono_s(void);

/* A fast, non-cryptographic random double in [0, 1), per thread (jitter). */
double rand_unit(void);
/* Cryptographically random bytes (OpenSSL); 0 or -1. */
int rand_bytes(void *buf, size_t n);

/* Lower-case hex of n bytes into out (2n+1 bytes). */
void hex_encode(const unsigned char *in, size_t n, char *out);

/* SHA-256 of data as 64 hex characters + NUL into out. */
void sha256_hex(const void *data, size_t n, char out[65]);

bool str_has_prefix(const char *s, const char *prefix);

/* true when s[0..len) is well-formed UTF-8 as PostgreSQL accepts it: no
 * overlong forms, no surrogates, nothing above U+10FFFF.  NUL bytes are
 * valid UTF-8; callers that pass strings on to SQL check them apart. */
bool str_utf8_valid(const char *s, size_t len);

#endif
