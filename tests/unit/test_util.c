/* test_util -- small shared modules: strbuf, email, passwd, metrics, util. */
#include "config.h"
#include "lib/email.h"
#include "lib/jsonlimit.h"
#include "lib/metrics.h"
#include "lib/passwd.h"
#include "lib/strbuf.h"
#include "lib/util.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

START_TEST(strbuf_binary_safe)
{
    struct strbuf b = STRBUF_INIT;
    ck_assert_str_eq(strbuf_str(&b), "");
    strbuf_add(&b, "a\0b", 3);
    ck_assert_uint_eq(b.len, 3);
    ck_assert_int_eq(memcmp(b.s, "a\0b", 3), 0);
    for (int i = 0; i < 1000; i++)
        strbuf_addf(&b, "%04d", i);
    ck_assert_uint_eq(b.len, 4003);
    size_t n;
    char *s = strbuf_steal(&b, &n);
    ck_assert_uint_eq(n, 4003);
    ck_assert_ptr_null(b.s);
    free(s);
    strbuf_free(&b);
}
END_TEST

START_TEST(email_addresses)
{
    ck_assert(email_valid("support@localhost"));
    ck_assert(email_valid("a.b+tag@example.co.uk"));
    ck_assert(!email_valid("no-at-sign"));
    ck_assert(!email_valid("@example.com"));
    ck_assert(!email_valid("a@"));
    ck_assert(!email_valid("a@@b"));
    ck_assert(!email_valid("a b@c"));
    ck_assert(!email_valid("<a@b>"));
    ck_assert(!email_valid("a@b..c"));
    ck_assert(!email_valid("a@.b"));
    ck_assert(!email_valid("a@b\n"));
    ck_assert(!email_valid(NULL));
}
END_TEST

START_TEST(passwords_yescrypt)
{
    const char *e = NULL;
    ck_assert_int_eq(passwd_policy_check("short", &e), -1);
    char *h = passwd_hash("correct horse battery", &e);
    ck_assert_msg(h != NULL, "%s", e);
    ck_assert_msg(strncmp(h, "$y$", 3) == 0, "not yescrypt: %s", h);
    ck_assert_int_eq(passwd_verify("correct horse battery", h, &e), 1);
    ck_assert_int_eq(passwd_verify("correct horse batterY", h, &e), 0);
    ck_assert(!passwd_needs_rehash(h));
    char *h2 = passwd_hash("correct horse battery", &e);
    ck_assert_str_ne(h, h2);   /* salted */
    ck_assert_int_eq(passwd_verify("x", "not a hash", &e), -1);
    /* an older, cheaper setting verifies but asks for an upgrade */
    ck_assert(passwd_needs_rehash("$y$j75$abcdefghijklmnopqrstuv$0123456789012345678901234567890123456789012"));
    free(h);
    free(h2);
}
END_TEST

START_TEST(metrics_exposition)
{
    metrics_reset();
    metrics_counter_add("atum_jobs_total", "kind=\"a\"", 2);
    metrics_counter_add("atum_jobs_total", "kind=\"a\"", 3);
    metrics_counter_add("atum_jobs_total", "kind=\"b\"", 1);
    metrics_counter_add("atum_jobs_total", "kind=\"b\"", -5);   /* counters never go down */
    metrics_gauge_set("atum_queue_depth", NULL, 7);
    metrics_gauge_set("atum_queue_depth", NULL, 4);
    metrics_counter_add("bad name", NULL, 1);
    metrics_counter_add("ok", "k=\"unterminated", 1);
    metrics_counter_add("ok2", "k=\"x\"\n# TYPE injected counter", 1);
    ck_assert(metrics_get("atum_jobs_total", "kind=\"a\"") == 5);
    ck_assert(metrics_get("atum_metrics_rejected_total", NULL) == 3);
    struct strbuf b = STRBUF_INIT;
    metrics_render(&b);
    ck_assert_ptr_nonnull(strstr(b.s, "# TYPE atum_jobs_total counter\natum_jobs_total{kind=\"a\"} 5\n"
                                      "atum_jobs_total{kind=\"b\"} 1\n"));
    ck_assert_ptr_nonnull(strstr(b.s, "# TYPE atum_queue_depth gauge\natum_queue_depth 4\n"));
    ck_assert_ptr_null(strstr(b.s, "injected"));
    strbuf_free(&b);
    metrics_reset();
}
END_TEST

START_TEST(hashing_and_random)
{
    char hex[65];
    sha256_hex("abc", 3, hex);
    ck_assert_str_eq(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    for (int i = 0; i < 10000; i++) {
        double u = rand_unit();
        ck_assert(u >= 0.0 && u < 1.0);
    }
    unsigned char a[16], b[16];
    ck_assert_int_eq(rand_bytes(a, sizeof(a)), 0);
    ck_assert_int_eq(rand_bytes(b, sizeof(b)), 0);
    ck_assert(memcmp(a, b, sizeof(a)) != 0);
}
END_TEST

START_TEST(utf8_validation)
{
    static const struct { const char *s; size_t len; bool ok; } cases[] = {
        { "", 0, true }, { "plain ascii", 11, true }, { "caf\xc3\xa9", 5, true },
        { "\xe2\x82\xac", 3, true }, { "\xf0\x9f\x98\x80", 4, true },
        { "\xf4\x8f\xbf\xbf", 4, true },                 /* U+10FFFF */
        { "a\0b", 3, true },                               /* NUL is UTF-8 */
        { "\xff", 1, false }, { "\xfe\xff", 2, false }, { "\x80", 1, false },
        { "\xc3", 1, false }, { "\xc3\x28", 2, false },   /* truncated, bad continuation */
        { "\xc0\xaf", 2, false }, { "\xc1\xbf", 2, false }, /* overlong '/' and DEL */
        { "\xe0\x80\xaf", 3, false }, { "\xf0\x80\x80\xaf", 4, false },
        { "\xed\xa0\x80", 3, false },                     /* a surrogate */
        { "\xf4\x90\x80\x80", 4, false },                 /* above U+10FFFF */
        { "\xf8\x88\x80\x80\x80", 5, false },             /* five-byte form */
        { "ok\xe2\x82", 5, false },                        /* cut at the end */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        ck_assert_msg(str_utf8_valid(cases[i].s, cases[i].len) == cases[i].ok, "case %zu", i);
    /* long ASCII runs (read eight bytes at a time) with a bad or good byte
     * at every offset, and cut sequences right after a run */
    char buf[40];
    for (size_t at = 0; at < sizeof(buf); at++) {
        memset(buf, 'a', sizeof(buf));
        buf[at] = (char)0xff;
        ck_assert_msg(!str_utf8_valid(buf, sizeof(buf)), "0xff at %zu", at);
        memset(buf, 'a', sizeof(buf));
        if (at + 1 < sizeof(buf)) {
            buf[at] = (char)0xc3;
            buf[at + 1] = (char)0xa9;
            ck_assert_msg(str_utf8_valid(buf, sizeof(buf)), "e-acute at %zu", at);
        }
        ck_assert_msg(!str_utf8_valid("aaaaaaaaaaaaaaaa\xe2\x82", 18), "cut after a run");
        ck_assert_msg(str_utf8_valid(buf, at), "prefix of %zu", at);
    }
}
END_TEST

static char *nested(int depth, const char *open, const char *close, const char *inner)
{
    size_t ol = strlen(open), cl = strlen(close), il = strlen(inner);
    char *s = malloc((size_t)depth * (ol + cl) + il + 1), *p = s;
    for (int i = 0; i < depth; i++, p += ol)
        memcpy(p, open, ol);
    memcpy(p, inner, il);
    p += il;
    for (int i = 0; i < depth; i++, p += cl)
        memcpy(p, close, cl);
    *p = '\0';
    return s;
}

START_TEST(email_canonical_form)
{
    char out[EMAIL_MAX + 1];
    ck_assert_int_eq(email_canonical("Kim.O+Tag@Example.COM", out), 0);
    ck_assert_str_eq(out, "kim.o+tag@example.com");
    /* only ASCII letters fold: the Kelvin sign and I-with-dot stay themselves */
    ck_assert_int_eq(email_canonical("\xe2\x84\xaaIM@x", out), 0);
    ck_assert_str_eq(out, "\xe2\x84\xaaim@x");
    ck_assert_int_eq(email_canonical("K\xc4\xb0M@X", out), 0);
    ck_assert_str_eq(out, "k\xc4\xb0m@x");
    char big[EMAIL_MAX + 2];
    memset(big, 'A', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    ck_assert_int_eq(email_canonical(big, out), -1);
    ck_assert_str_eq(out, "");
    big[EMAIL_MAX] = '\0';
    ck_assert_int_eq(email_canonical(big, out), 0);
    ck_assert_uint_eq(strlen(out), EMAIL_MAX);
}
END_TEST

START_TEST(json_depth_limit)
{
    char *ok = nested(JSON_MAX_DEPTH, "[", "]", "1");
    char *deep = nested(JSON_MAX_DEPTH + 1, "[", "]", "1");
    char *objs = nested(JSON_MAX_DEPTH + 1, "{\"a\":", "}", "1");
    char *huge = nested(100000, "[", "]", "");
    ck_assert(json_depth_ok(ok, strlen(ok), JSON_MAX_DEPTH));
    ck_assert(!json_depth_ok(deep, strlen(deep), JSON_MAX_DEPTH));
    ck_assert(!json_depth_ok(objs, strlen(objs), JSON_MAX_DEPTH));
    ck_assert(!json_depth_ok(huge, strlen(huge), JSON_MAX_DEPTH));
    /* siblings do not add up; brackets in strings (escaped quotes too) do not count */
    ck_assert(json_depth_ok("[[1],[2],[3],[[4]]]", 19, 3));
    ck_assert(!json_depth_ok("[[1],[2],[3],[[[4]]]]", 21, 3));
    const char *str = "{\"s\": \"[[[[[[\\\"{{{{{{\", \"t\": [\"]]]]\"]}";
    ck_assert(json_depth_ok(str, strlen(str), 2));
    ck_assert(!json_depth_ok(str, strlen(str), 1));
    /* not JSON: left to the parser, no crash */
    ck_assert(json_depth_ok("]]]}}}", 6, 1));
    ck_assert(json_depth_ok("\"unterminated [[[[", 18, 1));
    ck_assert(json_depth_ok("", 0, 1));
    free(ok);
    free(deep);
    free(objs);
    free(huge);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("util");
    TCase *tc = tcase_create("util");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, strbuf_binary_safe);
    tcase_add_test(tc, email_addresses);
    tcase_add_test(tc, passwords_yescrypt);
    tcase_add_test(tc, metrics_exposition);
    tcase_add_test(tc, hashing_and_random);
    tcase_add_test(tc, utf8_validation);
    tcase_add_test(tc, json_depth_limit);
    tcase_add_test(tc, email_canonical_form);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
