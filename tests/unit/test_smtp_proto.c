/* test_smtp_proto -- the SMTP command and DATA parsers (mail/smtp_proto.h)
 * on exact-size buffers with no NUL after them, as the header promises:
 * run under valgrind or ASan an over-read fails the test.  The cases the
 * fuzz target found are here too, so they stay fixed without clang. */
#include "config.h"
#include "mail/smtp_proto.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

static struct smtp_cmd cmd;
static char reply[256];

/* Parses s from a heap copy of exactly strlen(s) bytes. */
static int parse(const char *s)
{
    size_t n = strlen(s);
    char *b = malloc(n ? n : 1);
    memcpy(b, s, n);
    reply[0] = '\0';
    int rc = smtp_parse_command(b, n, &cmd, reply, sizeof(reply));
    free(b);
    return rc;
}

START_TEST(commands)
{
    ck_assert_int_eq(parse("EHLO client.example\r\n"), 0);
    ck_assert_int_eq(cmd.verb, SMTP_EHLO);
    ck_assert_str_eq(cmd.arg, "client.example");
    ck_assert_int_eq(parse("MAIL FROM:<a@b.example> SIZE=1000 BODY=8BITMIME SMTPUTF8"), 0);
    ck_assert_str_eq(cmd.path, "a@b.example");
    ck_assert_int_eq(cmd.size, 1000);
    ck_assert(cmd.body_8bit && cmd.smtputf8);
    ck_assert_int_eq(parse("MAIL FROM:<>"), 0);
    ck_assert_str_eq(cmd.path, "");
    ck_assert_int_eq(parse("rcpt to:<@relay:u@h.example>"), 0);
    ck_assert_str_eq(cmd.path, "u@h.example");
    ck_assert_int_eq(parse("RCPT TO:u@h.example"), 0);      /* brackets omitted */
    ck_assert_str_eq(cmd.path, "u@h.example");
    ck_assert_int_eq(parse("DATA"), 0);
    ck_assert_int_eq(parse("DATA x"), -1);
    ck_assert_str_eq(reply, "501 5.5.4 No parameters allowed");
    ck_assert_int_eq(parse("MAIL FROM:<a@b> SIZE=-1"), -1);
    ck_assert_int_eq(parse("BOGUS"), -1);
    ck_assert_int_eq(strncmp(reply, "500 5.5.2", 9), 0);
}
END_TEST

/* Found by tests/fuzz/fuzz_smtp. */
START_TEST(fuzz_findings)
{
    /* a short parameter read past the end of the line ("R" vs "RET=") */
    ck_assert_int_eq(parse("MAIL FROM:<x@y.example> R"), -1);
    ck_assert_str_eq(reply, "555 5.5.4 Unsupported parameter");
    ck_assert_int_eq(parse("MAIL FROM:<x@y.example> RE"), -1);
    ck_assert_int_eq(parse("MAIL FROM:<x@y.example> ENVI"), -1);
    ck_assert_int_eq(parse("MAIL FROM:<x@y.example> AUT"), -1);
    ck_assert_int_eq(parse("MAIL FROM:<x@y.example> RET=HDRS ENVID=1 AUTH=<>"), 0);
    /* without brackets an address was taken with '@' anywhere */
    ck_assert_int_eq(parse("MAIL FROM:X@"), -1);
    ck_assert_int_eq(parse("RCPT TO:@host.example"), -1);
    ck_assert_int_eq(parse("RCPT TO:<x@>"), -1);
}
END_TEST

static void feed(struct smtp_data *d, const char *s)
{
    size_t n = strlen(s);
    char *b = malloc(n ? n : 1);
    memcpy(b, s, n);
    smtp_data_line(d, b, n);
    free(b);
}

START_TEST(data_stream)
{
    struct strbuf out = STRBUF_INIT;
    struct smtp_data d;
    smtp_data_init(&d, &out, 100, 9);
    feed(&d, "Subject: x\r\n");
    feed(&d, "..dot\r\n");
    feed(&d, ".\n");                    /* bare LF after CRLF: not the end */
    ck_assert(!d.done);
    feed(&d, ".\r\n");
    ck_assert(d.done);
    ck_assert_str_eq(out.s, "Subject: x\r\n.dot\r\n\n");
    ck_assert(d.line_too_long);         /* "Subject: x" is 10 > 9 */
    strbuf_free(&out);

    smtp_data_init(&d, &out, 5, 1000);
    feed(&d, "123456\n");
    ck_assert(d.too_big);
    ck_assert_uint_eq(out.len, 0);
    feed(&d, ".\n");
    ck_assert(d.done);
    strbuf_free(&out);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("smtp_proto");
    TCase *tc = tcase_create("smtp_proto");
    tcase_add_test(tc, commands);
    tcase_add_test(tc, fuzz_findings);
    tcase_add_test(tc, data_stream);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
