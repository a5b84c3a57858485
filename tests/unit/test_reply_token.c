/* test_token -- reply tokens (mail/token.h) and the note marker of agents'
 * replies by mail (mail/agent_reply.h). */
#include "config.h"
#include "mailin/agent_reply.h"
#include "mail/reply_token.h"

#include <check.h>
#include <stdio.h>
#include <string.h>

static const char *secret = "unit-test-secret";

START_TEST(customer_token_round_trip)
{
    char tok[64], addr[128];
    struct reply_token_info ti;
    ck_assert_int_eq(reply_token_make(secret, 42, tok, sizeof(tok)), 0);
    ck_assert_int_eq(strncmp(tok, "t42.", 4), 0);
    snprintf(addr, sizeof(addr), "support+%s@example.com", tok);
    ck_assert_int_eq(reply_token_parse(secret, addr, &ti), REPLY_TOKEN_VALID);
    ck_assert_int_eq(ti.ticket, 42);
    ck_assert_int_eq(ti.user, 0);
    /* mail systems may upper-case the address */
    for (char *p = addr; *p; p++)
        if (*p >= 'a' && *p <= 'z')
            *p = (char)(*p - 32);
    ck_assert_int_eq(reply_token_parse(secret, addr, &ti), REPLY_TOKEN_VALID);
    ck_assert_int_eq(reply_token_make(NULL, 42, tok, sizeof(tok)), -1);
}
END_TEST

START_TEST(agent_token_binds_user_and_day)
{
    char tok[64], addr[128];
    struct reply_token_info ti;
    ck_assert_int_eq(reply_token_make_agent(secret, 42, 7, 20000, tok, sizeof(tok)), 0);
    ck_assert_int_eq(strncmp(tok, "t42a7d20000.", 12), 0);
    snprintf(addr, sizeof(addr), "support+%s@example.com", tok);
    ck_assert_int_eq(reply_token_parse(secret, addr, &ti), REPLY_TOKEN_VALID);
    ck_assert_int_eq(ti.ticket, 42);
    ck_assert_int_eq(ti.user, 7);
    ck_assert_int_eq(ti.day, 20000);
    /* another agent, day or ticket with the same MAC: forged */
    const char *mac = strchr(tok, '.') + 1;
    const char *forged[] = { "t42a8d20000", "t42a7d20001", "t43a7d20000", "t42" };
    for (size_t i = 0; i < 4; i++) {
        snprintf(addr, sizeof(addr), "support+%s.%s@example.com", forged[i], mac);
        ck_assert_msg(reply_token_parse(secret, addr, &ti) == REPLY_TOKEN_INVALID, "%s verified", forged[i]);
    }
    /* another secret */
    snprintf(addr, sizeof(addr), "support+%s@example.com", tok);
    ck_assert_int_eq(reply_token_parse("other-secret", addr, &ti), REPLY_TOKEN_INVALID);
}
END_TEST

START_TEST(not_tokens)
{
    struct reply_token_info ti;
    ck_assert_int_eq(reply_token_parse(secret, "support@example.com", &ti), REPLY_TOKEN_NONE);
    ck_assert_int_eq(reply_token_parse(secret, "support+sales@example.com", &ti), REPLY_TOKEN_NONE);
    ck_assert_int_eq(reply_token_parse(secret, "support+t12@example.com", &ti), REPLY_TOKEN_NONE);
    ck_assert_int_eq(reply_token_parse(secret, "support+t12a@example.com", &ti), REPLY_TOKEN_NONE);
    ck_assert_int_eq(reply_token_parse(secret, "support+t12.short@example.com", &ti), REPLY_TOKEN_INVALID);
    ck_assert_int_eq(reply_token_parse(secret, NULL, &ti), REPLY_TOKEN_NONE);
}
END_TEST

START_TEST(note_marker)
{
    struct strbuf b = STRBUF_INIT;
    ck_assert(agent_reply_note("\n  #note\nCalled them.\n", "#note", &b));
    ck_assert_str_eq(strbuf_str(&b), "Called them.");
    strbuf_reset(&b);
    ck_assert(agent_reply_note("#NOTE: on one line", "#note", &b));
    ck_assert_str_eq(strbuf_str(&b), "on one line");
    strbuf_reset(&b);
    ck_assert(!agent_reply_note("#notes are not a marker", "#note", &b));
    ck_assert_str_eq(strbuf_str(&b), "#notes are not a marker");
    strbuf_reset(&b);
    ck_assert(!agent_reply_note("Hello,\n#note later is no marker", "#note", &b));
    strbuf_reset(&b);
    ck_assert(!agent_reply_note("#note", "", &b));          /* an empty marker never matches */
    strbuf_reset(&b);
    ck_assert(agent_reply_note("#note\n\n", "#note", &b));
    ck_assert_uint_eq(b.len, 0);                           /* a note without text: empty */
    strbuf_free(&b);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("token");
    TCase *tc = tcase_create("token");
    tcase_add_test(tc, customer_token_round_trip);
    tcase_add_test(tc, agent_token_binds_user_and_day);
    tcase_add_test(tc, not_tokens);
    tcase_add_test(tc, note_marker);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
