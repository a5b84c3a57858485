/* test_smartreply -- the smartreply plugin through the fake host, its SQL
 * answered from tables: a local draft from the best canned response (its
 * placeholders filled, the unknown one reported) or from a KB passage
 * with its citation, nothing when nothing is relevant, a language model's
 * draft (its citations checked, a discarded one leaves the local draft),
 * drafts for customers' messages only, never anything sent or changed. */
#include "config.h"
#include "lib/fakehost.h"

#include <check.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct fakehost *fh;

static void load_with(const char *const *conf)
{
    char path[1024];
    const char *why = NULL;
    snprintf(path, sizeof(path), "%s/plugins/smartreply/.libs/smartreply.so", getenv("ATUM_BUILDDIR"));
    fh = fakehost_new(NULL);
    ck_assert_ptr_nonnull(fh);
    for (size_t i = 0; conf && conf[i]; i += 2)
        fakehost_conf_set(fh, conf[i], conf[i + 1]);
    ck_assert_msg(fakehost_load(fh, path, &why) == 0, "%s", why);
    const char *run[] = { "12", "0" };
    fakehost_sql_answer(fh, "FROM smartreply_drafts WHERE id = $1", 2, 1, run);
    const char *thread[] = {
        "Cannot log in", "2", "Support", "Carla Customer", "carla@example.org", "Ann Agent",
        "[{\"direction\": \"in\", \"text\": \"I forgot my password and cannot log in. Please reset it.\"}]",
    };
    fakehost_sql_answer(fh, "FROM tickets t LEFT JOIN queues q", 7, 1, thread);
}

static void teardown(void)
{
    fakehost_free(&fh);
}

static void with_canned(void)
{
    const char *canned[] = {
        "1", "Password reset",
        "Hello {{customer.first_name}},\n\nto reset your password, click Forgot password on the login page."
        " (ticket {{ticket.number}})\n\n{{agent.name}} {{order.id}}",
        "2", "Invoice copy", "Your invoices are under Billing.",
    };
    fakehost_sql_answer(fh, "FROM canned_responses", 3, 2, canned);
}

static void with_kb(void)
{
    const char *stamp[] = { "1:x" };
    fakehost_sql_answer(fh, "FROM kb_questions)", 1, 1, stamp);
    const char *kb[] = {
        "7", "reset-password", "How do I reset my password?",
        "## Web\n\nOpen the login page and click Forgot password; a reset link arrives by mail.", "en", "t", "0", "",
    };
    fakehost_sql_answer(fh, "FROM kb_articles a WHERE a.status = 'published'", 8, 1, kb);
}

static const struct fakehost_sql *stored(void)
{
    const struct fakehost_sql *u = fakehost_sql_find(fh, "UPDATE smartreply_drafts SET method");
    ck_assert_ptr_nonnull(u);
    ck_assert(u->in_tx);
    return u;
}

static void run_draft(void)
{
    struct fakehost_job_result res;
    ck_assert_int_eq(fakehost_run_job(fh, "smartreply.draft", "{\"run_id\": 3}", 1, &res), 0);
    ck_assert_msg(res.status == ATUM_JOB_DONE, "%s", res.error);
    ck_assert(res.completed_in_tx);
    /* advisory only */
    ck_assert_int_eq(fakehost_nticket_changes(fh), 0);
    ck_assert_int_eq(fakehost_nmail(fh), 0);
}

START_TEST(canned_response_with_placeholders_filled)
{
    load_with(NULL);
    with_canned();
    run_draft();
    const struct fakehost_sql *u = stored();
    ck_assert_str_eq(u->params[1], "local");
    json_t *r = json_loads(u->params[5], 0, NULL);
    const char *text = json_string_value(json_object_get(r, "text"));
    ck_assert_ptr_nonnull(text);
    ck_assert_ptr_nonnull(strstr(text, "Hello Carla,"));
    ck_assert_ptr_nonnull(strstr(text, "(ticket 12)"));
    ck_assert_ptr_nonnull(strstr(text, "Ann Agent {{order.id}}"));
    ck_assert_str_eq(json_string_value(json_object_get(r, "unfilled")), "order.id");
    ck_assert_str_eq(json_string_value(json_object_get(r, "insert")), text);
    json_t *src = json_array_get(json_object_get(r, "sources"), 0);
    ck_assert_str_eq(json_string_value(json_object_get(src, "kind")), "canned");
    ck_assert_int_eq(json_integer_value(json_object_get(src, "id")), 1);
    json_decref(r);
    ck_assert_double_eq(fakehost_metric(fh, "atum_smartreply_drafts_total", "method=\"local\""), 1);
    ck_assert_ptr_nonnull(fakehost_metric_help(fh, "atum_smartreply_drafts_total"));
    ck_assert_ptr_nonnull(fakehost_metric_help(fh, "atum_llm_calls_total"));
}
END_TEST

START_TEST(kb_passage_with_its_citation)
{
    const char *conf[] = { "public_url", "https://help.example.com", NULL };
    load_with(conf);
    with_kb();
    run_draft();
    json_t *r = json_loads(stored()->params[5], 0, NULL);
    const char *text = json_string_value(json_object_get(r, "text"));
    ck_assert_ptr_nonnull(strstr(text, "Hello Carla,"));
    ck_assert_ptr_nonnull(strstr(text, "\"How do I reset my password?\" (https://help.example.com/portal/kb/reset-password)"));
    ck_assert_ptr_nonnull(strstr(text, "a reset link arrives by mail"));
    json_t *src = json_array_get(json_object_get(r, "sources"), 0);
    ck_assert_str_eq(json_string_value(json_object_get(src, "kind")), "article");
    ck_assert_str_eq(json_string_value(json_object_get(src, "slug")), "reset-password");
    ck_assert_str_eq(json_string_value(json_object_get(src, "section")), "Web");
    json_decref(r);
}
END_TEST

START_TEST(nothing_relevant_no_draft)
{
    load_with(NULL);
    const char *canned[] = { "2", "Invoice copy", "Your invoices are under Billing." };
    fakehost_sql_answer(fh, "FROM canned_responses", 3, 1, canned);
    run_draft();
    json_t *r = json_loads(stored()->params[5], 0, NULL);
    ck_assert(json_is_null(json_object_get(r, "text")));
    ck_assert_ptr_nonnull(json_string_value(json_object_get(r, "reason")));
    json_decref(r);
}
END_TEST

static const char *const llm_conf[] = { "llm", "openai", "llm_url", "http://llm.test", "llm_model", "tiny", NULL };

static void llm_answers(const char *content)
{
    json_t *v = json_pack("{s:[{s:s, s:{s:s, s:s}}]}", "choices", "finish_reason", "stop", "message", "role",
                          "assistant", "content", content);
    char *body = json_dumps(v, JSON_COMPACT);
    fakehost_http_forget(fh);
    fakehost_http_answer(fh, "POST", "http://llm.test/v1/chat/completions", 200, body, NULL);
    free(body);
    json_decref(v);
}

START_TEST(llm_draft_in_the_customers_language_grounded_in_passages)
{
    load_with(llm_conf);
    with_kb();
    with_canned();
    const char *lang[] = { "de" };
    fakehost_sql_answer(fh, "FROM triage_results", 1, 1, lang);
    llm_answers("{\"reply\": \"Hallo Carla, klicken Sie auf Passwort vergessen [1].\\n\\nAnn Agent\", \"language\": \"de\","
                " \"citations\": [1], \"canned\": 1}");
    run_draft();
    ck_assert_int_eq(fakehost_nhttp(fh), 1);
    const char *sent = fakehost_http_at(fh, 0)->body;
    ck_assert_ptr_nonnull(strstr(sent, "Language of the customer: de"));
    ck_assert_ptr_nonnull(strstr(sent, "Passage [1] How do I reset my password?"));
    ck_assert_ptr_nonnull(strstr(sent, "Canned response 1: Password reset"));
    ck_assert_ptr_nonnull(strstr(sent, "Hello Carla"));                  /* the canned response, filled */
    const struct fakehost_sql *u = stored();
    ck_assert_str_eq(u->params[1], "llm:tiny");
    json_t *r = json_loads(u->params[5], 0, NULL);
    ck_assert_str_eq(json_string_value(json_object_get(r, "language")), "de");
    ck_assert_int_eq(json_array_size(json_object_get(r, "sources")), 2);
    json_decref(r);
}
END_TEST

START_TEST(llm_draft_citing_the_unknown_is_discarded)
{
    load_with(llm_conf);
    with_kb();
    llm_answers("{\"reply\": \"See [3].\", \"language\": \"en\", \"citations\": [3], \"canned\": null}");
    run_draft();
    const struct fakehost_sql *u = stored();
    ck_assert_str_eq(u->params[1], "local");
    ck_assert_str_eq(u->params[2], "invalid");
    ck_assert_ptr_nonnull(strstr(u->params[5], "reset-password"));
}
END_TEST

START_TEST(drafts_for_customers_messages_only)
{
    load_with(NULL);
    with_canned();
    const char *q[] = { "2" };
    fakehost_sql_answer(fh, "SELECT queue_id FROM tickets", 1, 1, q);
    struct fakehost_job_result res;
    const char *skip[] = {
        "{\"ticket_id\": 12, \"message_id\": 5, \"direction\": \"out\", \"visibility\": \"public\", \"robot\": \"none\"}",
        "{\"ticket_id\": 12, \"message_id\": 5, \"direction\": \"in\", \"visibility\": \"public\", \"robot\": \"autoreply\"}",
        "{\"ticket_id\": 12, \"message_id\": 5, \"direction\": \"out\", \"visibility\": \"internal\", \"robot\": \"none\"}",
    };
    for (size_t i = 0; i < sizeof(skip) / sizeof(skip[0]); i++) {
        ck_assert_int_eq(fakehost_run_hook(fh, "message.created", skip[i], &res), 0);
        ck_assert_int_eq(res.status, ATUM_JOB_DONE);
    }
    ck_assert_ptr_null(fakehost_sql_find(fh, "INSERT INTO smartreply_drafts"));
    ck_assert_int_eq(fakehost_run_hook(fh, "message.created", "{\"ticket_id\": 12, \"message_id\": 5, \"direction\":"
                                       " \"in\", \"visibility\": \"public\", \"robot\": \"none\"}", &res), 0);
    ck_assert_int_eq(res.status, ATUM_JOB_DONE);
    /* one statement stores the whole draft, in the job's own transaction */
    const struct fakehost_sql *ins = fakehost_sql_find(fh, "INSERT INTO smartreply_drafts (ticket_id, message_id, method");
    ck_assert_ptr_nonnull(ins);
    ck_assert(ins->in_tx);
    ck_assert_str_eq(ins->params[9], "12");
    ck_assert_str_eq(ins->params[10], "5");
    ck_assert_ptr_nonnull(strstr(ins->params[5], "Hello Carla"));
    ck_assert_ptr_null(fakehost_sql_find(fh, "UPDATE smartreply_drafts"));
    /* a queue that drafts on demand only */
    fakehost_clear(fh);
    const char *off[] = { "t", "f" };
    fakehost_sql_answer(fh, "FROM smartreply_settings WHERE queue_id", 2, 1, off);
    ck_assert_int_eq(fakehost_run_hook(fh, "message.created", "{\"ticket_id\": 12, \"message_id\": 6, \"direction\":"
                                       " \"in\", \"visibility\": \"public\", \"robot\": \"none\"}", &res), 0);
    ck_assert_ptr_null(fakehost_sql_find(fh, "INSERT INTO smartreply_drafts"));
}
END_TEST

START_TEST(on_demand_is_a_job_and_the_view_shows_the_latest)
{
    load_with(llm_conf);
    const char *one[] = { "1" };
    fakehost_sql_answer(fh, "SELECT 1 FROM tickets", 1, 1, one);
    const char *id[] = { "3" };
    fakehost_sql_answer(fh, "INSERT INTO smartreply_drafts", 1, 1, id);
    struct fakehost_response r;
    ck_assert_int_eq(fakehost_route(fh, "POST", "/drafts", NULL, "{\"ticket_id\": 12}", 4, ATUM_ROLE_AGENT, &r), 0);
    ck_assert_int_eq(r.status, 202);
    ck_assert_int_eq(fakehost_nhttp(fh), 0);
    ck_assert_str_eq(fakehost_enqueued_at(fh, 0)->kind, "smartreply.draft");
    ck_assert_int_eq(fakehost_route(fh, "POST", "/drafts", NULL, "{\"ticket\": 12}", 4, ATUM_ROLE_AGENT, &r), 0);
    ck_assert_int_eq(r.status, 400);
    const char *latest[] = { "[{\"id\": 3, \"state\": \"done\", \"result\": {\"text\": \"Hello\", \"insert\": \"Hello\","
                             " \"sources\": []}}]" };
    fakehost_sql_answer(fh, "FROM smartreply_drafts WHERE ticket_id = $1 ORDER BY id DESC LIMIT", 1, 1, latest);
    ck_assert_int_eq(fakehost_ticket_view(fh, 12, &r), 0);
    ck_assert_int_eq(r.status, 200);
    ck_assert_ptr_nonnull(strstr(r.body, "\"insert\":\"Hello\""));
}
END_TEST

START_TEST(bad_input_never_crashes)
{
    /* a 1 MB customer message of mixed scripts and control characters,
     * and a subject with bytes that are not UTF-8 */
    size_t n = 1024 * 1024;
    char *big = malloc(n + 1);
    static const char piece[] = "password reset Passwort zur\xc3\xbc" "cksetzen \xe4\xb8\xad\xe6\x96\x87 \x01\x02 ";
    for (size_t i = 0; i < n; i++)
        big[i] = piece[i % (sizeof(piece) - 1)];
    big[n] = '\0';
    while (n > 0 && ((unsigned char)big[n - 1] & 0x80))
        big[--n] = '\0';                         /* no sequence cut at the end */
    json_t *msgs = json_pack("[{s:s, s:s}]", "direction", "in", "text", big);
    ck_assert_ptr_nonnull(msgs);
    char *cell = json_dumps(msgs, JSON_COMPACT);
    json_decref(msgs);
    for (int llm = 0; llm <= 1; llm++) {
        const char *thread[] = { "Hilfe \xff\xfe bitte", "2", "Support", "", "", "", cell };
        /* loaded by hand: load_with's thread would answer first */
        char path[1024];
        const char *why = NULL;
        snprintf(path, sizeof(path), "%s/plugins/smartreply/.libs/smartreply.so", getenv("ATUM_BUILDDIR"));
        fh = fakehost_new(NULL);
        for (size_t i = 0; llm && llm_conf[i]; i += 2)
            fakehost_conf_set(fh, llm_conf[i], llm_conf[i + 1]);
        ck_assert_msg(fakehost_load(fh, path, &why) == 0, "%s", why);
        const char *run[] = { "12", "0" };
        fakehost_sql_answer(fh, "FROM smartreply_drafts WHERE id = $1", 2, 1, run);
        fakehost_sql_answer(fh, "FROM tickets t LEFT JOIN queues q", 7, 1, thread);
        with_kb();
        fakehost_http_answer(fh, "POST", "http://llm.test/v1/chat/completions", 200, "{\"choices\": []}", NULL);
        run_draft();
        const struct fakehost_sql *u = stored();
        ck_assert_str_eq(u->params[1], "local");
        json_t *r = json_loads(u->params[5], 0, NULL);
        ck_assert_ptr_nonnull(r);
        json_decref(r);
        /* what went to the model was valid JSON and bounded */
        if (llm) {
            ck_assert_int_eq(fakehost_nhttp(fh), 1);
            ck_assert_int_lt(strlen(fakehost_http_at(fh, 0)->body), 64 * 1024);
            json_t *sent = json_loads(fakehost_http_at(fh, 0)->body, 0, NULL);
            ck_assert_ptr_nonnull(sent);
            json_decref(sent);
        }
        fakehost_free(&fh);
    }
    free(cell);
    free(big);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("smartreply");
    TCase *tc = tcase_create("plugin");
    tcase_add_checked_fixture(tc, NULL, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, canned_response_with_placeholders_filled);
    tcase_add_test(tc, kb_passage_with_its_citation);
    tcase_add_test(tc, nothing_relevant_no_draft);
    tcase_add_test(tc, llm_draft_in_the_customers_language_grounded_in_passages);
    tcase_add_test(tc, llm_draft_citing_the_unknown_is_discarded);
    tcase_add_test(tc, drafts_for_customers_messages_only);
    tcase_add_test(tc, on_demand_is_a_job_and_the_view_shows_the_latest);
    tcase_add_test(tc, bad_input_never_crashes);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
