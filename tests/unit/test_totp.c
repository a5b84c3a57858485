/* test_totp -- RFC 6238/4226 vectors, base32, replay refusal, and the
 * token helpers (token.h). */
#include "config.h"
#include "lib/token.h"
#include "lib/totp.h"

#include <check.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const unsigned char rfc_key[] = "12345678901234567890";

START_TEST(hotp_rfc4226_vectors)
{
    static const unsigned want[] = { 755224, 287082, 359152, 969429, 338314, 254676, 287922,
                                     162583, 399871, 520489 };
    for (unsigned i = 0; i < 10; i++)
        ck_assert_uint_eq(hotp(rfc_key, 20, i, 6), want[i]);
}
END_TEST

START_TEST(totp_rfc6238_vectors)
{
    /* SHA-1 column of RFC 6238 appendix B, 8 digits */
    static const struct { long long t; unsigned code; } v[] = {
        { 59, 94287082 }, { 1111111109, 7081804 }, { 1111111111, 14050471 },
        { 1234567890, 89005924 }, { 2000000000, 69279037 }, { 20000000000LL, 65353130 },
    };
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++)
        ck_assert_uint_eq(hotp(rfc_key, 20, (uint64_t)(v[i].t / 30), 8), v[i].code);
}
END_TEST

START_TEST(totp_window_and_replay)
{
    long long now = 1111111111, step = 0;
    char code[8];
    snprintf(code, sizeof(code), "%06u", hotp(rfc_key, 20, (uint64_t)(now / 30), 6));
    ck_assert_int_eq(totp_verify(rfc_key, 20, code, now, 0, &step), 1);
    ck_assert_int_eq(step, now / 30);
    /* the same code again (last_step recorded) is refused: no replay */
    ck_assert_int_eq(totp_verify(rfc_key, 20, code, now, step, &step), 0);
    /* one step of clock drift either way is accepted, two is not */
    ck_assert_int_eq(totp_verify(rfc_key, 20, code, now + 30, 0, &step), 1);
    ck_assert_int_eq(totp_verify(rfc_key, 20, code, now - 30, 0, &step), 1);
    ck_assert_int_eq(totp_verify(rfc_key, 20, code, now + 90, 0, &step), 0);
    /* malformed codes */
    ck_assert_int_eq(totp_verify(rfc_key, 20, "12345", now, 0, &step), 0);
    ck_assert_int_eq(totp_verify(rfc_key, 20, "12345a", now, 0, &step), 0);
    ck_assert_int_eq(totp_verify(rfc_key, 20, "' OR 1=1 --", now, 0, &step), 0);
    ck_assert_int_eq(totp_verify(rfc_key, 20, NULL, now, 0, &step), 0);
}
END_TEST

START_TEST(base32_round_trip)
{
    char enc[64];
    unsigned char dec[40];
    base32_encode(rfc_key, 20, enc);
    ck_assert_str_eq(enc, "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
    ck_assert_int_eq(base32_decode("gezdgnbvgy3tqojq gezdgnbvgy3tqojq", dec, sizeof(dec)), 20);
    ck_assert_int_eq(memcmp(dec, rfc_key, 20), 0);
    ck_assert_int_eq(base32_decode("GEZ1", dec, sizeof(dec)), -1);   /* 1 is not base32 */
    ck_assert_int_eq(base32_decode("GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ", dec, 4), -1);
}
END_TEST

START_TEST(uri_is_percent_encoded)
{
    char *u = totp_uri("ATUM DESK", "a+b@example.com", "ABC");
    ck_assert_str_eq(u, "otpauth://totp/ATUM%20DESK:a%2Bb@example.com?secret=ABC&issuer=ATUM%20DESK"
                        "&algorithm=SHA1&digits=6&period=30");
    free(u);
}
END_TEST

/* Every character of a recovery code is random: 12 characters, 60 bits.
 * (The last one used to be 'a' or 'q' only: 56 bits.)  Over 400 codes a
 * position that carries 5 random bits shows all 32 letters with
 * overwhelming probability (missing one: 32 * (31/32)^400 < 1e-4), and
 * fewer than 16 only with a probability below 1e-60. */
START_TEST(recovery_codes_carry_60_bits)
{
    bool seen[TOTP_RECOVERY_CHARS][32];
    memset(seen, 0, sizeof(seen));
    for (int n = 0; n < 400; n++) {
        char code[TOTP_RECOVERY_CHARS + 1];
        ck_assert_int_eq(totp_recovery_code(code), 0);
        ck_assert_uint_eq(strlen(code), TOTP_RECOVERY_CHARS);
        for (int i = 0; i < TOTP_RECOVERY_CHARS; i++) {
            const char *p = strchr("abcdefghijklmnopqrstuvwxyz234567", code[i]);
            ck_assert_msg(p != NULL && code[i] != '\0', "'%c' in %s", code[i], code);
            seen[i][p - "abcdefghijklmnopqrstuvwxyz234567"] = true;
        }
    }
    for (int i = 0; i < TOTP_RECOVERY_CHARS; i++) {
        int distinct = 0;
        for (int k = 0; k < 32; k++)
            distinct += seen[i][k];
        ck_assert_msg(distinct >= 16, "character %d of a recovery code took only %d values",
                      i + 1, distinct);
    }
}
END_TEST

START_TEST(tokens)
{
    char a[TOKEN_MAX], b[TOKEN_MAX], ha[TOKEN_HASH_HEX], hb[TOKEN_HASH_HEX];
    const char *e = NULL;
    ck_assert_int_eq(token_new("atum_", a, sizeof(a), &e), 0);
    ck_assert_int_eq(token_new("atum_", b, sizeof(b), &e), 0);
    ck_assert_uint_eq(strlen(a), 5 + 43);
    ck_assert_str_ne(a, b);
    ck_assert(token_syntax_ok(a));
    ck_assert(!token_syntax_ok("atum_x'; DROP TABLE users; --"));
    ck_assert(!token_syntax_ok(""));
    /* the stored hash depends on the server key */
    token_hash("key-one", a, strlen(a), ha);
    token_hash("key-two", a, strlen(a), hb);
    ck_assert_str_ne(ha, hb);
    ck_assert_uint_eq(strlen(ha), 64);
    /* HMAC-SHA256 test vector (RFC 4231 case 2) */
    token_hash("Jefe", "what do ya want for nothing?", 28, ha);
    ck_assert_str_eq(ha, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    ck_assert(token_equal("abc", "abc"));
    ck_assert(!token_equal("abc", "abd"));
    ck_assert(!token_equal("abc", "abcd"));
    char small[8];
    ck_assert_int_eq(token_new("atum_", small, sizeof(small), &e), -1);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("totp");
    TCase *tc = tcase_create("totp");
    tcase_add_test(tc, hotp_rfc4226_vectors);
    tcase_add_test(tc, totp_rfc6238_vectors);
    tcase_add_test(tc, totp_window_and_replay);
    tcase_add_test(tc, base32_round_trip);
    tcase_add_test(tc, uri_is_percent_encoded);
    tcase_add_test(tc, tokens);
    tcase_add_test(tc, recovery_codes_carry_60_bits);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
