/* test_rag -- the rag plugin unit-tested through the fake host, the KB
 * answered from tables: search ranks the right article first, customers
 * never see internal articles, an unrelated question gets "I don't know",
 * suggestions, "this solved it" closes the customer's own ticket. */
#include "config.h"
#include "lib/fakehost.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct fakehost *fh;

static void load(void)
{
    char path[1024];
    const char *why = NULL;
    snprintf(path, sizeof(path), "%s/plugins/rag/.libs/rag.so", getenv("ATUM_BUILDDIR"));
    fh = fakehost_new(NULL);
    ck_assert_ptr_nonnull(fh);
    ck_assert_msg(fakehost_load(fh, path, &why) == 0, "%s", why);
    const char *stamp[] = { "3:x:0:0" };
    fakehost_sql_answer(fh, "FROM kb_questions)", 1, 1, stamp);
    const char *kb[] = {
        "1", "reset-password", "How do I reset my password?",
        "## Web\n\nOpen the login page and click *Forgot password*; a reset link arrives by mail.\n\n"
        "## App\n\nIn the app, tap Settings, then Account, then Reset password.", "en", "t", "",
        "2", "invoice-copy", "Getting a copy of an invoice",
        "Invoices are listed under Billing. Click an invoice to download it as PDF.", "en", "t",
        "where can I download my bill",
        "3", "vpn-internal", "Internal: VPN certificates for staff",
        "Staff renew the VPN certificate every year with the internal tool.", "en", "f", "",
    };
    fakehost_sql_answer(fh, "FROM kb_articles a WHERE a.status = 'published'", 7, 3, kb);
}

static void teardown(void)
{
    fakehost_free(&fh);
}

static const char *get(const char *path, const char *query, enum atum_role role)
{
    static struct fakehost_response r;
    ck_assert_int_eq(fakehost_route(fh, "GET", path, query, NULL, 0, role, &r), 0);
    ck_assert_int_eq(r.status, 200);
    return r.body;
}

START_TEST(search_ranks_the_right_article_first)
{
    load();
    const char *b = get("/search", "q=forgot+my+password%2C+how+to+reset", ATUM_ROLE_NONE);
    ck_assert_msg(strncmp(b, "{\"items\":[{\"id\":1,", 18) == 0, "%s", b);
    ck_assert_ptr_nonnull(strstr(b, "\"section\":\"Web\""));
    ck_assert_ptr_nonnull(strstr(b, "\"link\":\"/portal/kb/reset-password\""));
    /* the linked question carries an article whose text says "invoice" */
    b = get("/search", "q=download+bill", ATUM_ROLE_NONE);
    ck_assert_msg(strncmp(b, "{\"items\":[{\"id\":2,", 18) == 0, "%s", b);
}
END_TEST

START_TEST(internal_articles_only_for_staff)
{
    load();
    ck_assert_ptr_null(strstr(get("/search", "q=vpn+certificate", ATUM_ROLE_CUSTOMER), "vpn-internal"));
    ck_assert_ptr_nonnull(strstr(get("/search", "q=vpn+certificate", ATUM_ROLE_AGENT), "vpn-internal"));
}
END_TEST

START_TEST(unrelated_question_gets_i_dont_know)
{
    load();
    const char *b = get("/answer", "q=what+is+the+capital+of+mongolia", ATUM_ROLE_NONE);
    ck_assert_ptr_nonnull(strstr(b, "\"answered\":false"));
    ck_assert_ptr_nonnull(strstr(b, "\"citations\":[]"));
    b = get("/answer", "q=how+do+I+reset+my+password", ATUM_ROLE_NONE);
    ck_assert_ptr_nonnull(strstr(b, "\"answered\":true"));
    ck_assert_ptr_nonnull(strstr(b, "reset-password"));
    b = get("/suggest", "q=zzzz+qqqq", ATUM_ROLE_NONE);
    ck_assert_str_eq(b, "{\"items\":[]}");
    struct fakehost_response r;
    ck_assert_int_eq(fakehost_route(fh, "GET", "/search", "q=", NULL, 0, ATUM_ROLE_NONE, &r), 0);
    ck_assert_int_eq(r.status, 400);
}
END_TEST

START_TEST(solved_closes_the_customers_ticket)
{
    load();
    const char *own[] = { "1" };
    fakehost_sql_answer(fh, "FROM tickets WHERE id = $1 AND requester_id", 1, 1, own);
    struct fakehost_response r;
    ck_assert_int_eq(fakehost_route(fh, "POST", "/solved", NULL, "{\"article_id\": 1, \"ticket_id\": 44}", 9,
                                    ATUM_ROLE_CUSTOMER, &r), 0);
    ck_assert_int_eq(r.status, 201);
    ck_assert_int_eq(fakehost_nticket_changes(fh), 1);
    ck_assert_str_eq(fakehost_ticket_change_at(fh, 0)->status, "closed");
    ck_assert(fakehost_metric(fh, "rag_deflections_total", NULL) == 1);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("rag");
    TCase *tc = tcase_create("plugin");
    tcase_add_checked_fixture(tc, NULL, teardown);
    tcase_add_test(tc, search_ranks_the_right_article_first);
    tcase_add_test(tc, internal_articles_only_for_staff);
    tcase_add_test(tc, unrelated_question_gets_i_dont_know);
    tcase_add_test(tc, solved_closes_the_customers_ticket);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
