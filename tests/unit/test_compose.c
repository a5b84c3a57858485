/* test_compose -- outgoing mail bytes (mail/compose.h): header folding and
 * RFC 2047 words within 78 columns, quoted-printable and base64 bodies,
 * attachments with RFC 2231 names; every built mail is read back with our
 * own MIME parser (mail/mime.h), which must recover what went in. */
#include "config.h"
#include "mail/compose.h"
#include "mail/mime.h"
#include "lib/strbuf.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* every line CRLF-terminated and at most 78 characters */
static void assert_lines(const struct strbuf *b)
{
    size_t start = 0;
    for (size_t i = 0; i < b->len; i++) {
        if (b->s[i] == '\n') {
            ck_assert_msg(i > 0 && b->s[i - 1] == '\r', "bare LF at %zu", i);
            size_t n = i - 1 - start;
            ck_assert_msg(n <= 78, "line of %zu characters: %.*s", n, (int)n, b->s + start);
            start = i + 1;
        }
    }
    ck_assert_msg(start == b->len, "the mail does not end with CRLF");
}

static struct mail_msg *reparse(const struct strbuf *b)
{
    struct mail_limits lim;
    mail_limits_default(&lim);
    return mail_parse(b->s, b->len, &lim);
}

START_TEST(long_utf8_subject_folds_and_decodes)
{
    /* 3-byte characters, so a careless split would cut one in half */
    struct strbuf subj = STRBUF_INIT, out = STRBUF_INIT;
    for (int i = 0; i < 40; i++)
        strbuf_adds(&subj, "€uro ");
    strbuf_adds(&subj, "Grüße aus Köln");
    char *to[] = { "kunde@example.org" };
    struct compose_mail m = { .from_name = "Support Köln", .from_addr = "support@example.com",
                              .to = to, .nto = 1, .subject = subj.s, .message_id = "x1@example.com",
                              .text = "Hallo", .date = 1700000000 };
    ck_assert_int_eq(compose_build(&m, &out, NULL), 0);
    assert_lines(&out);
    struct mail_msg *p = reparse(&out);
    ck_assert_str_eq(p->subject, subj.s);
    ck_assert_str_eq(p->from_name, "Support Köln");
    ck_assert_str_eq(p->from_addr, "support@example.com");
    ck_assert_str_eq(p->message_id, "x1@example.com");
    mail_msg_free(&p);
    strbuf_free(&subj);
    strbuf_free(&out);
}
END_TEST

START_TEST(plain_header_folds_at_spaces)
{
    struct strbuf out = STRBUF_INIT;
    compose_header(&out, "Subject", "a fairly long subject line that goes on and on and on beyond "
                                    "the seventy-eight columns that RFC 5322 recommends for a line");
    assert_lines(&out);
    ck_assert_ptr_nonnull(strstr(out.s, "\r\n "));
    strbuf_free(&out);
}
END_TEST

START_TEST(quoted_printable_round_trip)
{
    const char *text = "Line with trailing space \n"
                       ".a line starting with a dot\n"
                       "From the start of a line\n"
                       "= signs and ümlauts and a very long line that has to be broken somewhere "
                       "because quoted-printable allows only seventy-six characters per line\n";
    char *to[] = { "a@example.org" };
    const char *html = "<p>x</p>";
    struct compose_mail m = { .from_addr = "s@example.com", .to = to, .nto = 1, .subject = "qp",
                              .message_id = "qp@example.com", .text = text, .html = html };
    struct strbuf out = STRBUF_INIT;
    ck_assert_int_eq(compose_build(&m, &out, NULL), 0);
    assert_lines(&out);
    /* no line of the body may start with "." or "From " in the clear */
    ck_assert_ptr_null(strstr(out.s, "\r\n.a line"));
    ck_assert_ptr_null(strstr(out.s, "\r\nFrom the"));
    struct mail_msg *p = reparse(&out);
    /* the parser drops the final line end; everything else comes back */
    ck_assert_uint_eq(p->text.len, strlen(text) - 1);
    ck_assert_mem_eq(p->text.s, text, strlen(text) - 1);
    ck_assert_ptr_nonnull(strstr(p->html.s, "x"));
    mail_msg_free(&p);
    strbuf_free(&out);
}
END_TEST

START_TEST(attachments_and_threading_headers)
{
    char bin[3000];
    for (size_t i = 0; i < sizeof(bin); i++)
        bin[i] = (char)(i * 7 + 3);
    struct compose_attachment att[] = {
        { "report.pdf", "application/pdf", bin, sizeof(bin) },
        { "Übersicht März.txt", "text/plain", "hello", 5 },
    };
    char *to[] = { "a@example.org", "b@example.org" };
    char *refs[] = { "r1@example.org", "r2@example.org", "r3@example.org" };
    struct compose_mail m = { .from_addr = "s@example.com", .reply_to = "s+t1.abc@example.com",
                              .to = to, .nto = 2, .subject = "att", .message_id = "att@example.com",
                              .in_reply_to = "r3@example.org", .references = refs, .nrefs = 3,
                              .text = "see attached", .html = "<p>see attached</p>", .att = att,
                              .natt = 2, .auto_submitted = "auto-replied" };
    struct strbuf out = STRBUF_INIT;
    ck_assert_int_eq(compose_build(&m, &out, NULL), 0);
    assert_lines(&out);
    ck_assert_ptr_nonnull(strstr(out.s, "Auto-Submitted: auto-replied\r\n"));
    ck_assert_ptr_nonnull(strstr(out.s, "Reply-To: <s+t1.abc@example.com>\r\n"));
    struct mail_msg *p = reparse(&out);
    ck_assert_uint_eq(p->natt, 2);
    ck_assert_str_eq(p->att[0].filename, "report.pdf");
    ck_assert_uint_eq(p->att[0].size, sizeof(bin));
    ck_assert_mem_eq(p->att[0].data, bin, sizeof(bin));
    ck_assert_str_eq(p->att[1].filename, "Übersicht März.txt");
    ck_assert_str_eq(p->in_reply_to, "r3@example.org");
    ck_assert_uint_eq(p->nrefs, 3);
    ck_assert_str_eq(p->refs[0], "r1@example.org");
    ck_assert_uint_eq(p->nto, 2);
    ck_assert_str_eq(p->text.s, "see attached");
    ck_assert_int_eq(p->robot, MAIL_ROBOT_AUTOREPLY);   /* our own ack reads as automatic */
    mail_msg_free(&p);
    strbuf_free(&out);
}
END_TEST

START_TEST(header_injection_is_refused)
{
    char *bad_to[] = { "a@example.org\r\nBcc: victim@example.net" };
    char *to[] = { "a@example.org" };
    struct strbuf out = STRBUF_INIT;
    const char *e = NULL;
    struct compose_mail m = { .from_addr = "s@example.com", .to = bad_to, .nto = 1, .subject = "x",
                              .message_id = "i@example.com", .text = "" };
    ck_assert_int_eq(compose_build(&m, &out, &e), -1);
    ck_assert_ptr_nonnull(e);
    /* a subject with line breaks stays one header */
    struct compose_mail m2 = { .from_addr = "s@example.com", .to = to, .nto = 1,
                               .subject = "hello\r\nBcc: victim@example.net", .message_id = "i2@example.com",
                               .text = "" };
    strbuf_reset(&out);
    ck_assert_int_eq(compose_build(&m2, &out, NULL), 0);
    ck_assert_ptr_null(strstr(out.s, "\r\nBcc:"));
    strbuf_free(&out);
}
END_TEST

START_TEST(date_is_rfc5322)
{
    char d[64];
    compose_date(d, sizeof(d), 0);
    ck_assert_str_eq(d, "Thu, 01 Jan 1970 00:00:00 +0000");
}
END_TEST

int main(void)
{
    Suite *s = suite_create("compose");
    TCase *tc = tcase_create("compose");
    tcase_add_test(tc, long_utf8_subject_folds_and_decodes);
    tcase_add_test(tc, plain_header_folds_at_spaces);
    tcase_add_test(tc, quoted_printable_round_trip);
    tcase_add_test(tc, attachments_and_threading_headers);
    tcase_add_test(tc, header_injection_is_refused);
    tcase_add_test(tc, date_is_rfc5322);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
