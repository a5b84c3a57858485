/* test_bouncetext -- the words of bounces and auto-replies (mail/bouncetext.h). */
#include "config.h"
#include "mail/bouncetext.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

static const char *mta(const char *text)
{
    return bouncetext_mta(text, strlen(text));
}

START_TEST(known_programs)
{
    ck_assert_str_eq(mta("Hi. This is the qmail-send program at mx.example.org.\n"), "qmail");
    ck_assert_str_eq(mta("This message was created automatically by mail delivery software.\n\nA message"), "Exim");
    ck_assert_str_eq(mta("This is the mail system at host mx.example.org.\n"), "Postfix");
    ck_assert_str_eq(mta("\n   ----- The following addresses had permanent fatal errors -----\n<a@b.example>\n"),
                     "Sendmail");
    ck_assert_str_eq(mta("The original message was received at Fri, 30 Jun 2023 05:58:02 +1000\n"
                         "from desk.example.com [192.0.2.10]\n"), "Sendmail");
    ck_assert_str_eq(mta("Your message did not reach some or all of the intended recipients.\n"), "Exchange");
    ck_assert_str_eq(mta("\nYour message to kim@example.org couldn't be delivered.\n"), "Exchange");
    ck_assert_ptr_null(mta("I think your message to kim couldn't be delivered.\n"));
    ck_assert_str_eq(mta("Your message\n\n  Subject: x\n\nwas not delivered to:\n\n  a@b.example\n"), "Domino");
    ck_assert_str_eq(mta("** Address not found **\n\nYour message wasn't delivered\n"), "Gmail");
    ck_assert_str_eq(mta("Your mail sent on: Thu, 29 Apr 2010 11:04:47 +0900\n"), "KDDI");
    ck_assert_str_eq(mta("The user(s) account is disabled.\n"), "EZweb");
    /* case and indentation do not matter */
    ck_assert_str_eq(mta("    THIS IS THE MAILER-DAEMON, PLEASE DO NOT REPLY TO THIS E-MAIL.\n"), "OpenSMTPD");
}
END_TEST

START_TEST(not_bounces)
{
    /* quoted by a person */
    ck_assert_ptr_null(mta("Why did I get this?\n\n> This is the mail system at host mx.example.org.\n"));
    /* far down a long mail (a bounce says so at the top) */
    char *long_text = malloc(20000);
    memset(long_text, 'x', 19999);
    for (int i = 60; i < 19999; i += 61)
        long_text[i] = '\n';
    long_text[19999] = '\0';
    memcpy(long_text + 12000, "\nHi. This is the qmail-send program at x.\n", 42);
    ck_assert_ptr_null(mta(long_text));
    free(long_text);
    /* ordinary words */
    ck_assert_ptr_null(mta("The parcel was not delivered to our office yet.\nRegards\n"));
    ck_assert_ptr_null(bouncetext_mta(NULL, 0));
    /* an anchored sentence only at the start of its line */
    ck_assert_ptr_null(mta("I wrote: was not delivered to: you\n"));
}
END_TEST

START_TEST(subjects)
{
    ck_assert(bouncetext_failure_subject("Undeliverable: Quarterly report"));
    ck_assert(bouncetext_failure_subject("Returned mail: see transcript for details"));
    ck_assert(bouncetext_failure_subject("failure notice"));
    ck_assert(bouncetext_failure_subject("Mail delivery failed: returning message to sender"));
    ck_assert(bouncetext_failure_subject("Delivery Status Notification (Delay)"));
    ck_assert(bouncetext_failure_subject("Unzustellbar: Rechnung"));
    ck_assert(bouncetext_failure_subject("【配信エラー】メールをお届けできませんでした"));
    /* replies, forwards and auto-replies never say a delivery failed */
    ck_assert(!bouncetext_failure_subject("Re: Undelivered Mail Returned to Sender"));
    ck_assert(!bouncetext_failure_subject("Fwd: failure notice"));
    ck_assert(!bouncetext_failure_subject("Automatic reply: Undeliverable: invoice"));
    ck_assert(!bouncetext_failure_subject("Out of Office: Returned mail"));
    ck_assert(!bouncetext_failure_subject("Invoice 4711"));
    ck_assert(!bouncetext_failure_subject(NULL));

    ck_assert(bouncetext_autoreply_subject("Automatic reply: Undeliverable: invoice"));
    ck_assert(bouncetext_autoreply_subject("Out of Office: Re: your order"));
    ck_assert(bouncetext_autoreply_subject("  Auto: Meeting"));
    ck_assert(bouncetext_autoreply_subject("Abwesenheitsnotiz: Angebot"));
    ck_assert(bouncetext_autoreply_subject("自動応答: お問い合わせ"));
    ck_assert(bouncetext_autoreply_subject("Your order (out of office)"));
    ck_assert(!bouncetext_autoreply_subject("Re: out of office policy"));
    ck_assert(!bouncetext_autoreply_subject("Question about automation"));
    ck_assert(!bouncetext_autoreply_subject(NULL));
}
END_TEST

int main(void)
{
    Suite *s = suite_create("bouncetext");
    TCase *tc = tcase_create("bouncetext");
    tcase_add_test(tc, known_programs);
    tcase_add_test(tc, not_bounces);
    tcase_add_test(tc, subjects);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}
