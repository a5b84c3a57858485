/* test_csat -- desk/csat.h's signed rating links: the documented format
 * round-trips, and a changed ticket, expiry, MAC, secret or shape is
 * refused. */
#include "config.h"
#include "desk/csat.h"

#include <check.h>
#include <stdio.h>
#include <string.h>

#define KEY "csat-test-secret-0123456789abcdef0123"

START_TEST(round_trip)
{
    char tok[CSAT_TOKEN_MAX];
    long long t = 0;
    csat_token_make(KEY, 42, 2000000000LL, tok, sizeof(tok));
    ck_assert_msg(strncmp(tok, "42-2000000000-", 14) == 0, "format: %s", tok);
    ck_assert_int_eq((int)strlen(tok), 14 + 22);
    ck_assert_int_eq(csat_token_check(KEY, tok, 1900000000LL, &t), 0);
    ck_assert_int_eq(t, 42);
    /* the same link after its expiry: ours, but expired */
    t = 0;
    ck_assert_int_eq(csat_token_check(KEY, tok, 2000000001LL, &t), 1);
    ck_assert_int_eq(t, 42);
}
END_TEST

START_TEST(tampering_is_refused)
{
    char tok[CSAT_TOKEN_MAX], bad[CSAT_TOKEN_MAX + 8];
    long long t = 0;
    csat_token_make(KEY, 42, 2000000000LL, tok, sizeof(tok));
    /* another ticket, a later expiry, one MAC character, another key */
    snprintf(bad, sizeof(bad), "43%s", tok + 2);
    ck_assert_int_eq(csat_token_check(KEY, bad, 0, &t), -1);
    snprintf(bad, sizeof(bad), "42-2000000009-%s", tok + 14);
    ck_assert_int_eq(csat_token_check(KEY, bad, 0, &t), -1);
    snprintf(bad, sizeof(bad), "%s", tok);
    bad[strlen(bad) - 1] = bad[strlen(bad) - 1] == 'A' ? 'B' : 'A';
    ck_assert_int_eq(csat_token_check(KEY, bad, 0, &t), -1);
    ck_assert_int_eq(csat_token_check("another-key-0123456789abcdef0123456", tok, 0, &t), -1);
    /* shapes */
    static const char *const shapes[] = {
        "", "42", "42-", "42-2000000000", "42-2000000000-", "-42-2000000000-abc", "0-2000000000-x",
        "4x-2000000000-abcdefghijklmnopqrstuv", "1234567890123456789-1-abcdefghijklmnopqrstuv",
    };
    for (size_t i = 0; i < sizeof(shapes) / sizeof(shapes[0]); i++)
        ck_assert_msg(csat_token_check(KEY, shapes[i], 0, &t) == -1, "accepted '%s'", shapes[i]);
    ck_assert_int_eq(csat_token_check(KEY, NULL, 0, &t), -1);
    /* a MAC with something after it */
    snprintf(bad, sizeof(bad), "%sX", tok);
    ck_assert_int_eq(csat_token_check(KEY, bad, 0, &t), -1);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("csat");
    TCase *tc = tcase_create("csat");
    tcase_add_test(tc, round_trip);
    tcase_add_test(tc, tampering_is_refused);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
