/* plugins/common/test_hostcall.c -- the request helpers the AI plugins
 * share: query parameters (decoding, cut to the buffer, a key that is
 * only a prefix of another) and bodies of one id (every shape that is
 * not exactly {"key": N > 0} is refused). */
#include "hostcall.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

START_TEST(query_values_are_decoded_and_found_by_whole_key)
{
    char b[64];
    ck_assert_int_eq(plug_query_get("qq=no&q=caf%C3%A9+au+lait&x=1", "q", b, sizeof(b)), 1);
    ck_assert_str_eq(b, "caf\xc3\xa9 au lait");
    ck_assert_int_eq(plug_query_get("qq=no&x=1", "q", b, sizeof(b)), 0);
    ck_assert_str_eq(b, "");
    ck_assert_int_eq(plug_query_get(NULL, "q", b, sizeof(b)), 0);
    ck_assert_int_eq(plug_query_get("q", "q", b, sizeof(b)), 0);        /* a key without '=' */
    ck_assert_int_eq(plug_query_get("q=", "q", b, sizeof(b)), 1);       /* there, and empty */
    ck_assert_str_eq(b, "");
    ck_assert_int_eq(plug_query_get("q=%4", "q", b, sizeof(b)), 1);     /* a cut escape is kept */
    ck_assert_str_eq(b, "%4");
}
END_TEST

START_TEST(query_values_are_cut_to_the_buffer)
{
    char b[4];
    ck_assert_int_eq(plug_query_get("q=abcdefgh", "q", b, sizeof(b)), 1);
    ck_assert_str_eq(b, "abc");
}
END_TEST

START_TEST(query_ids)
{
    ck_assert_int_eq(plug_query_id("id=42&x=1", "id"), 42);
    ck_assert_int_eq(plug_query_id("x=1&id=7", "id"), 7);
    ck_assert_int_eq(plug_query_id("ticket_id=9", "id"), 0);
    ck_assert_int_eq(plug_query_id("id=abc", "id"), 0);
    ck_assert_int_eq(plug_query_id(NULL, "id"), 0);
}
END_TEST

static int body_id(const char *body, size_t len, long long *id)
{
    struct atum_http_req req = { .method = "POST", .path = "/replay", .body = body, .body_len = len };
    return plug_body_id(&req, "run_id", id);
}

START_TEST(bodies_of_one_id)
{
    long long id = -1;
    ck_assert_int_eq(body_id("{\"run_id\": 12}", 14, &id), 0);
    ck_assert_int_eq(id, 12);
    static const char *const bad[] = {
        "", "null", "[]", "{}", "{\"run_id\": 0}", "{\"run_id\": -3}", "{\"run_id\": \"12\"}",
        "{\"run_id\": 1.5}", "{\"run_id\": 12, \"x\": 1}", "{\"run\": 12}", "{\"run_id\": 12",
        "\xff\xfe", NULL,
    };
    for (int i = 0; bad[i]; i++) {
        id = -1;
        ck_assert_msg(body_id(bad[i], strlen(bad[i]), &id) == -1, "accepted: %s", bad[i]);
        ck_assert_int_eq(id, -1);
    }
    ck_assert_int_eq(body_id(NULL, 0, &id), -1);
    /* a NUL inside the body is not the end of it */
    ck_assert_int_eq(body_id("{\"run_id\": 12}\0{\"x\":1}", 23, &id), -1);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("hostcall");
    TCase *tc = tcase_create("hostcall");
    tcase_add_test(tc, query_values_are_decoded_and_found_by_whole_key);
    tcase_add_test(tc, query_values_are_cut_to_the_buffer);
    tcase_add_test(tc, query_ids);
    tcase_add_test(tc, bodies_of_one_id);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
