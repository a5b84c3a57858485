/* test_imap_scan -- the check of an IMAP server's bytes before libetpan
 * parses them (mail/imap_scan.h): literal sizes, line length and nesting,
 * whole and split at every byte, on buffers of exactly their size. */
#include "config.h"
#include "mail/imap_scan.h"

#include <check.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_LITERAL 1000
#define MAX_LINE 200
#define MAX_DEPTH 8

static enum imap_scan_verdict scan(const char *s, size_t n, bool bytewise, struct imap_scan *sc)
{
    imap_scan_init(sc, MAX_LITERAL, MAX_LINE, MAX_DEPTH);
    enum imap_scan_verdict v = IMAP_SCAN_OK;
    for (size_t i = 0; i < n;) {
        size_t k = bytewise ? 1 : n - i;
        char *b = malloc(k);
        memcpy(b, s + i, k);
        v = imap_scan_feed(sc, b, k);
        free(b);
        i += k;
    }
    return v;
}

static enum imap_scan_verdict both(const char *s, size_t n, uint64_t *refused_r)
{
    struct imap_scan a, b;
    enum imap_scan_verdict va = scan(s, n, false, &a), vb = scan(s, n, true, &b);
    ck_assert_int_eq(va, vb);
    ck_assert(a.refused_literal == b.refused_literal);
    if (refused_r)
        *refused_r = a.refused_literal;
    return va;
}

static enum imap_scan_verdict check_str(const char *s, uint64_t *refused_r)
{
    return both(s, strlen(s), refused_r);
}

START_TEST(literals)
{
    uint64_t r = 0;
    ck_assert_int_eq(check_str("* 1 FETCH (UID 1 BODY[] {5}\r\nhello)\r\nA1 OK done\r\n", NULL), IMAP_SCAN_OK);
    ck_assert_int_eq(check_str("* 1 FETCH (BODY[] {1000}\r\n", NULL), IMAP_SCAN_OK);
    ck_assert_int_eq(check_str("* 1 FETCH (BODY[] {1001}\r\n", &r), IMAP_SCAN_LITERAL_TOO_LARGE);
    ck_assert(r == 1001);
    /* what the outside probe sent */
    ck_assert_int_eq(check_str("* 1 FETCH (UID 1 BODY[] {999999999}\r\n", &r), IMAP_SCAN_LITERAL_TOO_LARGE);
    ck_assert(r == 999999999ULL);
    ck_assert_int_eq(check_str("* 1 FETCH (UID 1 BODY[] {4294967295}\r\n", &r), IMAP_SCAN_LITERAL_TOO_LARGE);
    ck_assert(r == 4294967295ULL);
    /* 2^32 + 5: a 32-bit reader takes 5 bytes of it as the whole mail */
    ck_assert_int_eq(check_str("* 1 FETCH (UID 1 BODY[] {4294967301}\r\nhello)\r\n", &r),
                     IMAP_SCAN_LITERAL_TOO_LARGE);
    ck_assert(r == 4294967301ULL);
    ck_assert_int_eq(check_str("* 1 FETCH (BODY[] {18446744073709551616999}\r\n", &r),
                     IMAP_SCAN_LITERAL_TOO_LARGE);
    ck_assert(r == UINT64_MAX);
    /* refused wherever it stands, even without CRLF after it */
    ck_assert_int_eq(check_str("* OK [ALERT] {99999}", NULL), IMAP_SCAN_LITERAL_TOO_LARGE);
    ck_assert_int_eq(check_str("* 1 FETCH (BODY[] ~{5000}\r\n", NULL), IMAP_SCAN_LITERAL_TOO_LARGE);
    /* not sizes */
    ck_assert_int_eq(check_str("* OK {12abc} {} {-5} {5+}\r\n", NULL), IMAP_SCAN_OK);
    ck_assert_int_eq(check_str("* OK \"{99999}\" quoted\r\n", NULL), IMAP_SCAN_OK);
    /* a literal's content is not scanned: sizes, nesting, long lines in a mail */
    char body[1200];
    size_t n = (size_t)snprintf(body, sizeof(body), "* 1 FETCH (BODY[] {%d}\r\n", 900);
    size_t start = n;
    memset(body + n, '(', 300);
    memcpy(body + n + 300, "{999999999}", 11);
    memset(body + n + 311, 'x', 589);
    n += 900;
    memcpy(body + n, ")\r\nA1 OK\r\n", 10);
    n += 10;
    ck_assert_int_eq(both(body, n, NULL), IMAP_SCAN_OK);
    (void)start;
    /* several literals in one response, the line going on after each */
    ck_assert_int_eq(check_str("* 1 FETCH (BODY[HEADER] {3}\r\nabc BODY[TEXT] {2}\r\nde)\r\n", NULL),
                     IMAP_SCAN_OK);
    ck_assert_int_eq(check_str("* 1 FETCH (BODY[] {0}\r\n)\r\n", NULL), IMAP_SCAN_OK);
}
END_TEST

START_TEST(lines_and_nesting)
{
    char line[MAX_LINE + 10];
    memset(line, 'a', MAX_LINE);
    line[MAX_LINE] = '\0';
    ck_assert_int_eq(check_str(line, NULL), IMAP_SCAN_OK);
    line[MAX_LINE] = 'a';
    ck_assert_int_eq(both(line, MAX_LINE + 1, NULL), IMAP_SCAN_LINE_TOO_LONG);
    /* line ends start the count again */
    char two[2 * MAX_LINE + 2];
    memset(two, 'b', sizeof(two));
    two[MAX_LINE] = '\n';
    ck_assert_int_eq(both(two, sizeof(two) - 1, NULL), IMAP_SCAN_OK);

    ck_assert_int_eq(check_str("* 1 FETCH ((((((((x))))))))\r\n", NULL), IMAP_SCAN_OK);     /* 8 */
    ck_assert_int_eq(check_str("* 1 FETCH (((((((((x)))))))))\r\n", NULL), IMAP_SCAN_TOO_DEEP); /* 9 */
    ck_assert_int_eq(check_str("* 1 FETCH (\"((((((((((((\" x)\r\n", NULL), IMAP_SCAN_OK);
    ck_assert_int_eq(check_str("* 1 FETCH (\"a\\\"((((((((((\" x)\r\n", NULL), IMAP_SCAN_OK);
    /* depth does not carry over to the next line ... */
    ck_assert_int_eq(check_str("* OK ((((((((\r\n* OK ((((((((\r\n", NULL), IMAP_SCAN_OK);
    /* ... but goes on across a literal */
    ck_assert_int_eq(check_str("* 1 FETCH ((((((((BODY[] {1}\r\nx(x\r\n", NULL), IMAP_SCAN_TOO_DEEP);
    /* an unbalanced quote ends with its line */
    ck_assert_int_eq(check_str("* OK it\"s\r\n* 1 FETCH (((((((((x\r\n", NULL), IMAP_SCAN_TOO_DEEP);
}
END_TEST

START_TEST(verdict_sticks)
{
    struct imap_scan sc;
    imap_scan_init(&sc, MAX_LITERAL, MAX_LINE, MAX_DEPTH);
    ck_assert_int_eq(imap_scan_feed(&sc, "{5000}", 6), IMAP_SCAN_LITERAL_TOO_LARGE);
    ck_assert_int_eq(imap_scan_feed(&sc, "\r\nA1 OK\r\n", 9), IMAP_SCAN_LITERAL_TOO_LARGE);
    /* a raised limit applies to what comes next */
    imap_scan_init(&sc, 10, MAX_LINE, MAX_DEPTH);
    imap_scan_set_max_literal(&sc, 5000);
    ck_assert_int_eq(imap_scan_feed(&sc, "{5000}\r\n", 8), IMAP_SCAN_OK);
    ck_assert(sc.literal_left == 5000);
    ck_assert_str_eq(imap_scan_verdict_text(IMAP_SCAN_TOO_DEEP),
                     "the server nested parentheses deeper than allowed");
}
END_TEST

int main(void)
{
    Suite *s = suite_create("imap_scan");
    TCase *tc = tcase_create("imap_scan");
    tcase_add_test(tc, literals);
    tcase_add_test(tc, lines_and_nesting);
    tcase_add_test(tc, verdict_sticks);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
