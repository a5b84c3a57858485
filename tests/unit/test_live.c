/* test_live -- the pure parts of the live channel: when a client can
 * resume from an id, which readers a fan-out row names, presence states,
 * the Origin of core.public_url, and the agent reply token that carries
 * the ticket version (and the old one without it, still valid). */
#include "config.h"
#include "core/live_event.h"
#include "desk/live_feed.h"
#include "desk/presence.h"
#include "mail/reply_token.h"
#include "web/api.h"
#include <check.h>
#include <stdlib.h>
#include <string.h>

START_TEST(resume_rules)
{
    /* nothing pruned: every id given so far resumes */
    ck_assert(live_event_resumable(0, 0, 1));
    ck_assert(live_event_resumable(0, 10, 1));
    ck_assert(live_event_resumable(10, 10, 1));
    /* an id never given (another database, a restore): reset */
    ck_assert(!live_event_resumable(11, 10, 1));
    ck_assert(!live_event_resumable(-1, 10, 1));
    /* pruned below 6: a client that saw 5 missed nothing; one that saw
     * 4 may have missed 5 */
    ck_assert(live_event_resumable(5, 10, 6));
    ck_assert(!live_event_resumable(4, 10, 6));
    ck_assert(!live_event_resumable(0, 10, 6));
    ck_assert(live_event_resumable(10, 10, 11));
}
END_TEST

START_TEST(fanout_readers)
{
    int out[8];
    ck_assert_uint_eq(live_feed_parse_readers("{0,3,7}", 8, out), 3);
    ck_assert_int_eq(out[0], 0);
    ck_assert_int_eq(out[1], 3);
    ck_assert_int_eq(out[2], 7);
    ck_assert_uint_eq(live_feed_parse_readers("{}", 8, out), 0);
    ck_assert_uint_eq(live_feed_parse_readers(NULL, 8, out), 0);
    ck_assert_uint_eq(live_feed_parse_readers("NULL", 8, out), 0);
    /* indexes past the readers, repeats and disorder are dropped */
    ck_assert_uint_eq(live_feed_parse_readers("{1,1,9,-2,4,2}", 5, out), 2);
    ck_assert_int_eq(out[0], 1);
    ck_assert_int_eq(out[1], 4);
    ck_assert_uint_eq(live_feed_parse_readers("{x,1}", 5, out), 0);
    ck_assert_uint_eq(live_feed_parse_readers("{0,1,2,3}", 2, out), 2);
}
END_TEST

START_TEST(presence_states)
{
    enum presence_state st;
    ck_assert_int_eq(presence_parse("viewing", &st), 0);
    ck_assert_int_eq(st, PRESENCE_VIEWING);
    ck_assert_int_eq(presence_parse("typing", &st), 0);
    ck_assert_int_eq(st, PRESENCE_TYPING);
    ck_assert_int_eq(presence_parse("left", &st), 0);
    ck_assert_int_eq(st, PRESENCE_LEFT);
    ck_assert_int_eq(presence_parse("Viewing", &st), -1);
    ck_assert_int_eq(presence_parse("", &st), -1);
    ck_assert_int_eq(presence_parse(NULL, &st), -1);
}
END_TEST

START_TEST(public_origin)
{
    char *o = api_origin_of("https://Desk.Example.com/desk/x?y");
    ck_assert_str_eq(o, "https://desk.example.com");
    free(o);
    o = api_origin_of("http://127.0.0.1:8080");
    ck_assert_str_eq(o, "http://127.0.0.1:8080");
    free(o);
    ck_assert_ptr_null(api_origin_of("ftp://x"));
    ck_assert_ptr_null(api_origin_of("https://"));
    ck_assert_ptr_null(api_origin_of(NULL));
}
END_TEST

#define SECRET "live-unit-secret-0123456789abcdef0123"

START_TEST(token_version)
{
    char tok[128], addr[200];
    struct reply_token_info info;
    ck_assert_int_eq(reply_token_make_agent_v(SECRET, 42, 7, 20000, 5, tok, sizeof(tok)), 0);
    ck_assert(strstr(tok, "t42a7d20000v5.") == tok);
    snprintf(addr, sizeof(addr), "support+%s@example.com", tok);
    ck_assert_int_eq(reply_token_parse(SECRET, addr, &info), REPLY_TOKEN_VALID);
    ck_assert_int_eq(info.ticket, 42);
    ck_assert_int_eq(info.user, 7);
    ck_assert_int_eq(info.day, 20000);
    ck_assert_int_eq(info.version, 5);
    /* the version is under the MAC: another version does not verify */
    char *v = strstr(addr, "v5.");
    v[1] = '6';
    ck_assert_int_eq(reply_token_parse(SECRET, addr, &info), REPLY_TOKEN_INVALID);
    /* tokens without a version (issued before) stay valid, version unknown */
    ck_assert_int_eq(reply_token_make_agent(SECRET, 42, 7, 20000, tok, sizeof(tok)), 0);
    ck_assert(strchr(tok, 'v') == NULL);
    snprintf(addr, sizeof(addr), "support+%s@example.com", tok);
    ck_assert_int_eq(reply_token_parse(SECRET, addr, &info), REPLY_TOKEN_VALID);
    ck_assert_int_eq(info.version, 0);
    /* version 0 makes the old form; a "v" with no digits is no token */
    char t0[128];
    ck_assert_int_eq(reply_token_make_agent_v(SECRET, 42, 7, 20000, 0, t0, sizeof(t0)), 0);
    ck_assert_str_eq(t0, tok);
    ck_assert_int_eq(reply_token_parse(SECRET, "support+t42a7d20000v.abcdefghijkl@example.com", &info),
                     REPLY_TOKEN_NONE);
    ck_assert_int_eq(reply_token_parse(SECRET, "support+t42a7d20000v0.abcdefghijkl@example.com", &info),
                     REPLY_TOKEN_NONE);
    ck_assert_int_eq(reply_token_make_agent_v(SECRET, 42, 7, 20000, -1, t0, sizeof(t0)), -1);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("live");
    TCase *tc = tcase_create("live");
    tcase_add_test(tc, resume_rules);
    tcase_add_test(tc, fanout_readers);
    tcase_add_test(tc, presence_states);
    tcase_add_test(tc, public_origin);
    tcase_add_test(tc, token_version);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
