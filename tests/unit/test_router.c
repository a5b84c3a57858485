/* test_router -- path patterns: ids, names, exact matching, and hostile
 * paths that must not match. */
#include "config.h"
#include "web/router.h"

#include <check.h>
#include <string.h>

START_TEST(matches_and_captures)
{
    struct router_match m;
    ck_assert(router_match("/api/v1/tickets", "/api/v1/tickets", &m));
    ck_assert_int_eq(m.nids, 0);
    ck_assert(router_match("/api/v1/tickets/{id}", "/api/v1/tickets/42", &m));
    ck_assert_int_eq(m.nids, 1);
    ck_assert_int_eq(m.ids[0], 42);
    ck_assert(router_match("/api/v1/tickets/{id}/links/{other_id}", "/api/v1/tickets/7/links/900000000000000001", &m));
    ck_assert_int_eq(m.ids[0], 7);
    ck_assert_int_eq(m.ids[1], 900000000000000001LL);
    ck_assert(router_match("/api/v1/plugins/{name}", "/api/v1/plugins/triage", &m));
    ck_assert_str_eq(m.name, "triage");
}
END_TEST

START_TEST(refuses_what_is_not_exact)
{
    static const char *const bad[] = {
        "/api/v1/tickets/", "/api/v1/tickets/0", "/api/v1/tickets/-1", "/api/v1/tickets/01",
        "/api/v1/tickets/1e3", "/api/v1/tickets/1%20", "/api/v1/tickets/1;DROP",
        "/api/v1/tickets/' OR 1=1", "/api/v1/tickets/1/", "/api/v1/tickets/1/x",
        "/api/v1/tickets//1", "/api/v1/tickets/1234567890123456789", "/api/v1/ticket/1",
        "/api/v1/tickets/1\n", "",
    };
    struct router_match m;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        ck_assert_msg(!router_match("/api/v1/tickets/{id}", bad[i], &m), "matched '%s'", bad[i]);
    ck_assert(!router_match("/api/v1/plugins/{name}", "/api/v1/plugins/..", &m));
    ck_assert(!router_match("/api/v1/plugins/{name}", "/api/v1/plugins/.hidden", &m));
    ck_assert(!router_match("/api/v1/plugins/{name}", "/api/v1/plugins/Upper", &m));
    ck_assert(!router_match("/api/v1/plugins/{name}", "/api/v1/plugins/a b", &m));
    ck_assert(!router_match("/api/v1/plugins/{name}", "/api/v1/plugins/", &m));
}
END_TEST

START_TEST(raw_paths_must_be_plain)
{
    static const char *const ok[] = {
        "/", "/healthz", "/api/v1/tickets/12", "/api/v1/plugins/rag/search", "/desk/",
        "/desk/app.3f2a9c.js", "/a-b_c~d/e.f", "/..a/b..", "/.well-known/x",
    };
    static const char *const bad[] = {
        "", "api/v1", "*", "//", "/api//v1", "/api/v1//", "/.", "/..", "/api/./v1", "/api/../v1",
        "/api/v1/..", "/api/v1/.", "/api/%2e%2e/v1", "/api/v1/users%00", "/a%2Fb", "/%",
        "/a\\b", "/a b", "/a\tb", "/a\x80b", "/a?b", "/a#b", "/a;b", "/a:b", "/a@b",
    };
    const char *why = NULL;
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
        ck_assert_msg(router_path_plain(ok[i], &why), "refused '%s': %s", ok[i], why);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        why = NULL;
        ck_assert_msg(!router_path_plain(bad[i], &why), "accepted '%s'", bad[i]);
        ck_assert_ptr_nonnull(why);
    }
    ck_assert(!router_path_plain(NULL, &why));
}
END_TEST

START_TEST(id_routes_are_flagged)
{
    ck_assert(router_has_id("/api/v1/tickets/{id}"));
    ck_assert(router_has_id("/api/v1/plugins/{name}"));
    ck_assert(!router_has_id("/api/v1/tickets"));
}
END_TEST

int main(void)
{
    Suite *s = suite_create("router");
    TCase *tc = tcase_create("router");
    tcase_add_test(tc, matches_and_captures);
    tcase_add_test(tc, refuses_what_is_not_exact);
    tcase_add_test(tc, id_routes_are_flagged);
    tcase_add_test(tc, raw_paths_must_be_plain);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
