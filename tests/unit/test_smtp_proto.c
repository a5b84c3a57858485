/* test_smtp_proto -- the SMTP command and DATA parsers (mail/smtp_proto.h)
 * on exact-size buffers with no NUL after them, as the header promises:
 * run under valgrind or ASan an over-read fails the test.  The cases the
 * fuzz target found are here too, so they stay fixed without clang. */
#include "config.h"
#include "mail/smtp_proto.h"

#include <check.h>
#include <stdbool.h>
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

/* The DATA stream as the listener reads it: whole, or one byte at a time
 * (a client may split its writes anywhere).  Returns how many bytes of it
 * were taken (the rest is the next command). */
static size_t feed_stream(struct smtp_data *d, const char *s, size_t n, bool bytewise)
{
    char *b = malloc(n ? n : 1);
    memcpy(b, s, n);
    size_t used = 0;
    while (used < n && d->state == SMTP_DATA_MORE) {
        size_t chunk = bytewise ? 1 : n - used;
        char *one = malloc(chunk);              /* exact size: over-reads show */
        memcpy(one, b + used, chunk);
        size_t k = smtp_data_feed(d, one, chunk);
        free(one);
        ck_assert_uint_le(k, chunk);
        used += k;
        if (k < chunk)
            break;
    }
    free(b);
    return used;
}

static void feed(struct smtp_data *d, const char *s)
{
    feed_stream(d, s, strlen(s), false);
}

START_TEST(data_stream)
{
    struct strbuf out = STRBUF_INIT;
    struct smtp_data d;
    smtp_data_init(&d, &out, 100, 9);
    feed(&d, "Subject: x\r\n");
    feed(&d, "..dot\r\n");
    ck_assert_int_eq(d.state, SMTP_DATA_MORE);
    feed(&d, ".\r\n");
    ck_assert_int_eq(d.state, SMTP_DATA_END);
    ck_assert_str_eq(out.s, "Subject: x\r\n.dot\r\n");
    ck_assert(d.line_too_long);         /* "Subject: x" is 10 > 9 */
    strbuf_free(&out);

    smtp_data_init(&d, &out, 5, 1000);
    feed(&d, "123456\r\n");
    ck_assert(d.too_big);
    ck_assert_uint_eq(out.len, 0);
    feed(&d, ".\r\n");
    ck_assert_int_eq(d.state, SMTP_DATA_END);
    strbuf_free(&out);
}
END_TEST

/* Every placement of CR and LF around the dot (SMTP smuggling, RFC 5321
 * 2.3.8 and 4.1.1.4): only CRLF "." CRLF after a CRLF ends the data; any
 * CR or LF that is not part of a CRLF refuses the message, wherever it
 * is, so no reading of the stream can find a second message in it. */
static const struct {
    const char *in;
    enum smtp_data_state want;
    const char *msg;                    /* the message when it ends */
    const char *rest;                   /* what is left for the commands */
} eol_cases[] = {
    { "a\r\n.\r\n", SMTP_DATA_END, "a\r\n", "" },
    { ".\r\n", SMTP_DATA_END, "", "" },
    { "a\r\n\r\n.\r\n", SMTP_DATA_END, "a\r\n\r\n", "" },
    { "a\r\n..\r\n.\r\n", SMTP_DATA_END, "a\r\n.\r\n", "" },
    { "a\r\n. b\r\n.\r\n", SMTP_DATA_END, "a\r\n b\r\n", "" },
    { "a\r\n.\r\nMAIL FROM:<x@y>\r\n", SMTP_DATA_END, "a\r\n", "MAIL FROM:<x@y>\r\n" },
    { "a\r\n.\r\n.\r\n", SMTP_DATA_END, "a\r\n", ".\r\n" },
    /* bare LF: around the dot, before it, after it, alone */
    { "a\n.\n", SMTP_DATA_BAD_EOL, NULL, NULL },
    { "a\r\n.\n", SMTP_DATA_BAD_EOL, NULL, NULL },
    { "a\n.\r\n", SMTP_DATA_BAD_EOL, NULL, NULL },
    { "a\r\n\n.\r\n", SMTP_DATA_BAD_EOL, NULL, NULL },
    { "a\r\n.\n\r\n", SMTP_DATA_BAD_EOL, NULL, NULL },
    { "\n.\n", SMTP_DATA_BAD_EOL, NULL, NULL },
    { "\n.\r\n", SMTP_DATA_BAD_EOL, NULL, NULL },
    { ".\n", SMTP_DATA_BAD_EOL, NULL, NULL },
    { "a\nb\r\n.\r\n", SMTP_DATA_BAD_EOL, NULL, NULL },
    { "a\r\n..\n.\r\n", SMTP_DATA_BAD_EOL, NULL, NULL },
    /* bare CR */
    { "a\r.\r", SMTP_DATA_BAD_EOL, NULL, NULL },
    { "a\r.\r\n", SMTP_DATA_BAD_EOL, NULL, NULL },
    { "a\r\n.\r", SMTP_DATA_MORE, NULL, NULL },      /* the LF may still come */
    { "a\r\n.\rX", SMTP_DATA_BAD_EOL, NULL, NULL },
    { "a\r\n.\r.\r\n", SMTP_DATA_BAD_EOL, NULL, NULL },
    { "a\r\n.\r\r\n", SMTP_DATA_BAD_EOL, NULL, NULL },
    { "a\r\r\n.\r\n", SMTP_DATA_BAD_EOL, NULL, NULL },
    { "a\rb\r\n.\r\n", SMTP_DATA_BAD_EOL, NULL, NULL },
    { "\r.\r\n", SMTP_DATA_BAD_EOL, NULL, NULL },
    { "a\r\n\r.\r\n", SMTP_DATA_BAD_EOL, NULL, NULL },
    /* CR and LF the wrong way round */
    { "a\n\r.\n\r", SMTP_DATA_BAD_EOL, NULL, NULL },
    { "a\r\n.\n\r", SMTP_DATA_BAD_EOL, NULL, NULL },
    /* the smuggling probe: a second envelope after <LF>.<CR><LF> */
    { "Subject: s\r\n\r\nfirst\r\n\n.\r\nMAIL FROM:<agent@desk.example>\r\n"
      "RCPT TO:<support@desk.example>\r\nDATA\r\nforged\r\n.\r\n", SMTP_DATA_BAD_EOL, NULL, NULL },
    { "Subject: s\r\n\r\nfirst\n.\nMAIL FROM:<agent@desk.example>\r\n.\r\n", SMTP_DATA_BAD_EOL, NULL, NULL },
    { "Subject: s\r\n\r\nfirst\r.\r\nMAIL FROM:<agent@desk.example>\r\n.\r\n", SMTP_DATA_BAD_EOL, NULL, NULL },
    /* no end yet */
    { "a\r\n", SMTP_DATA_MORE, NULL, NULL },
    { "a\r\n.", SMTP_DATA_MORE, NULL, NULL },
    { "a\r\n.x\r\n", SMTP_DATA_MORE, NULL, NULL },
};

START_TEST(data_line_ends)
{
    for (int bytewise = 0; bytewise <= 1; bytewise++) {
        for (size_t i = 0; i < sizeof(eol_cases) / sizeof(eol_cases[0]); i++) {
            struct strbuf out = STRBUF_INIT;
            struct smtp_data d;
            smtp_data_init(&d, &out, 1000, 1000);
            size_t n = strlen(eol_cases[i].in);
            size_t used = feed_stream(&d, eol_cases[i].in, n, bytewise);
            ck_assert_msg(d.state == eol_cases[i].want, "case %zu (%s): state %d, want %d",
                          i, bytewise ? "bytewise" : "whole", (int)d.state, (int)eol_cases[i].want);
            if (eol_cases[i].want == SMTP_DATA_END) {
                ck_assert_msg(out.len == strlen(eol_cases[i].msg)
                              && memcmp(out.s ? out.s : "", eol_cases[i].msg, out.len) == 0,
                              "case %zu: message differs", i);
                ck_assert_msg(strcmp(eol_cases[i].in + used, eol_cases[i].rest) == 0,
                              "case %zu: %zu bytes taken", i, used);
            }
            strbuf_free(&out);
        }
    }
}
END_TEST

int main(void)
{
    Suite *s = suite_create("smtp_proto");
    TCase *tc = tcase_create("smtp_proto");
    tcase_add_test(tc, commands);
    tcase_add_test(tc, fuzz_findings);
    tcase_add_test(tc, data_stream);
    tcase_add_test(tc, data_line_ends);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
