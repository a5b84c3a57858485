/*
 * lib/totp.h -- time-based one-time passwords (RFC 6238 over RFC 4226 HOTP),
 * as authenticator apps use them: HMAC-SHA1, 6 digits, 30-second steps.
 *
 * A code is accepted for the current step and one step either side (clock
 * drift), and only for a step later than the last one accepted for that
 * account, so a code cannot be replayed.  Pure functions: the caller
 * stores the secret and the last step.
 */
#ifndef ATUM_LIB_TOTP_H
#define ATUM_LIB_TOTP_H

#include <stddef.h>
#include <stdint.h>
#include "lib/secret.h"

#define TOTP_SECRET_BYTES 20
#define TOTP_STEP_SECONDS 30
#define TOTP_DIGITS 6

/* Decodes base32 (case-insensitive, spaces and '=' ignored); returns the
 * byte count or -1 on a bad character or overflow of out. */
int base32_decode(const char *in, unsigned char *out, size_t size);

/* The HOTP value of counter, truncated to digits (6..8). */
uint32_t hotp(const unsigned char *key, size_t keylen, uint64_t counter, int digits);

/* 1 and *step_r when code (digits only) matches a step in
 * [now_step-1, now_step+1] that is > last_step; 0 otherwise. */
int totp_verify(const unsigned char *key, size_t keylen, const char *code, long long now_s,
                long long last_step, long long *step_r);

/* A recovery code: TOTP_RECOVERY_CHARS lower-case base32 characters, each
 * carrying 5 random bits (60 bits in all), into out; shown to the user
 * as xxxx-xxxx-xxxx.  0, or -1 when no random bytes are available. */
#define TOTP_RECOVERY_CHARS 12
int totp_recovery_code(char out[TOTP_RECOVERY_CHARS + 1]);

/* otpauth://totp/ISSUER:ACCOUNT?secret=...&issuer=... (percent-encoded). */
char *totp_uri(const char *issuer, const char *account, const char *secret_b32);

#endif
