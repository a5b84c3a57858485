/* test_triage -- the triage plugin unit-tested through the fake host
 * (tests/lib/fakehost.h), its SQL recorded and answered from tables: the
 * language guess, bad input, the triage of a new ticket (stored with its
 * trace, rules first), escalation of a negative ticket, a corrupt model
 * refused with a log line. */
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
    snprintf(path, sizeof(path), "%s/plugins/triage/.libs/triage.so", getenv("ATUM_BUILDDIR"));
    fh = fakehost_new(NULL);
    ck_assert_ptr_nonnull(fh);
    ck_assert_msg(fakehost_load(fh, path, &why) == 0, "%s", why);
}

static void teardown(void)
{
    fakehost_free(&fh);
}

static const char *predict(const char *body)
{
    static struct fakehost_response r;
    ck_assert_int_eq(fakehost_route(fh, "POST", "/predict", NULL, body, 1, ATUM_ROLE_AGENT, &r), 0);
    ck_assert_int_eq(r.status, 200);
    return r.body;
}

START_TEST(descriptor_offers_commands_and_filters)
{
    load();
    const struct atum_plugin *d = fakehost_plugin(fh);
    ck_assert_ptr_nonnull(d->commands);
    ck_assert_str_eq(d->commands[0].name, "triage");
    ck_assert_ptr_nonnull(d->list_filters);
    for (const struct atum_list_filter *f = d->list_filters; f->param; f++) {
        ck_assert(strncmp(f->param, "triage_", 7) == 0);
        ck_assert_ptr_nonnull(strstr(f->sql, "$1"));
        ck_assert_ptr_null(strstr(f->sql, "$2"));
    }
}
END_TEST

START_TEST(language_of_texts)
{
    load();
    ck_assert_ptr_nonnull(strstr(predict("{\"text\": \"My printer does not print anymore since the last update, please help.\"}"),
                                 "\"language\":{\"value\":\"en\""));
    ck_assert_ptr_nonnull(strstr(predict("{\"text\": \"Mein Drucker druckt seit dem letzten Update nicht mehr, bitte helfen Sie mir.\"}"),
                                 "\"value\":\"de\""));
    ck_assert_ptr_nonnull(strstr(predict("{\"text\": \"Mon imprimante n'imprime plus depuis la dernière mise à jour, aidez-moi.\"}"),
                                 "\"value\":\"fr\""));
    /* too short to tell: the language asked for, with a low confidence */
    const char *b = predict("{\"text\": \"ok\", \"language\": \"pt\"}");
    const char *pt = strstr(b, "\"value\":\"pt\",\"confidence\":");
    ck_assert_ptr_nonnull(pt);
    ck_assert(strtod(pt + strlen("\"value\":\"pt\",\"confidence\":"), NULL) < 0.5);
    /* no model yet: labels are null, never invented */
    ck_assert_ptr_nonnull(strstr(b, "\"category\":null"));
}
END_TEST

START_TEST(bad_input_never_crashes)
{
    load();
    struct fakehost_response r;
    ck_assert_int_eq(fakehost_route(fh, "POST", "/predict", NULL, "{\"text\": \"\"}", 1, ATUM_ROLE_AGENT, &r), 0);
    ck_assert_int_eq(r.status, 200);
    ck_assert_int_eq(fakehost_route(fh, "POST", "/predict", NULL, "not json", 1, ATUM_ROLE_AGENT, &r), 0);
    ck_assert_int_eq(r.status, 400);
    /* 1 MB of text, then binary-looking text (escaped control bytes and
     * invalid sequences once decoded by jansson are refused as JSON; the
     * tokenizer itself is fed raw bytes below through a ticket) */
    size_t n = 1024 * 1024;
    char *big = malloc(n + 64);
    strcpy(big, "{\"text\": \"");
    size_t o = strlen(big);
    for (size_t i = 0; o < n; i++)
        big[o++] = "refund please now "[i % 18];
    strcpy(big + o, "\"}");
    ck_assert_int_eq(fakehost_route(fh, "POST", "/predict", NULL, big, 1, ATUM_ROLE_AGENT, &r), 0);
    ck_assert_int_eq(r.status, 200);
    free(big);
    ck_assert_int_eq(fakehost_route(fh, "POST", "/predict", NULL,
                                    "{\"text\": \"\\u0001\\u0002\\u00ff\\u00fe\\uffff \\u4e2d\\u6587 English \\u0627\\u0644\"}",
                                    1, ATUM_ROLE_AGENT, &r), 0);
    ck_assert_int_eq(r.status, 200);
}
END_TEST

static void answer_ticket(const char *subject, const char *body, const char *from)
{
    const char *cells[] = { subject, body, "7", from, "normal" };
    fakehost_sql_answer(fh, "FROM tickets t WHERE t.id = $1", 5, 1, cells);
    const char *run[] = { "41" };
    fakehost_sql_answer(fh, "INSERT INTO triage_runs", 1, 1, run);
}

START_TEST(new_ticket_is_triaged_and_traced)
{
    load();
    answer_ticket("Where is my refund?", "I returned the parcel two weeks ago and still have no refund.",
                  "ann@example.org");
    struct fakehost_job_result res;
    ck_assert_int_eq(fakehost_run_hook(fh, "ticket.created", "{\"ticket_id\": 12, \"queue_id\": 7}", &res), 0);
    ck_assert_int_eq(res.status, ATUM_JOB_DONE);
    ck_assert(res.completed_in_tx);
    const struct fakehost_sql *s = fakehost_sql_find(fh, "INSERT INTO triage_results");
    ck_assert_ptr_nonnull(s);
    ck_assert_str_eq(s->params[0], "12");
    ck_assert_str_eq(s->params[7], "en");      /* language */
    ck_assert_str_eq(s->params[9], "local");   /* method */
    ck_assert_str_eq(s->params[12], "41");     /* the trace */
    const struct fakehost_sql *t = fakehost_sql_find(fh, "INSERT INTO triage_runs");
    ck_assert_ptr_nonnull(strstr(t->params[2], "Where is my refund?"));
    /* suggest mode (the default): the ticket itself is left alone */
    ck_assert_int_eq(fakehost_nticket_changes(fh), 0);
}
END_TEST

START_TEST(rule_sets_category_in_auto_mode)
{
    char path[1024];
    const char *why = NULL;
    snprintf(path, sizeof(path), "%s/plugins/triage/.libs/triage.so", getenv("ATUM_BUILDDIR"));
    fh = fakehost_new(NULL);
    fakehost_conf_set(fh, "mode", "auto");
    ck_assert_msg(fakehost_load(fh, path, &why) == 0, "%s", why);
    answer_ticket("Invoice 2024-11", "Please send the invoice again.", "bob@billing.example.com");
    const char *rule[] = { "3", "domain", "example.com", "Billing", "high", "" };
    fakehost_sql_answer(fh, "FROM triage_rules", 6, 1, rule);
    struct fakehost_job_result res;
    ck_assert_int_eq(fakehost_run_hook(fh, "ticket.created", "{\"ticket_id\": 5}", &res), 0);
    ck_assert_int_eq(res.status, ATUM_JOB_DONE);
    const struct fakehost_sql *s = fakehost_sql_find(fh, "INSERT INTO triage_results");
    ck_assert_str_eq(s->params[1], "Billing");
    ck_assert_str_eq(s->params[9], "rule");
    ck_assert_ptr_nonnull(strstr(s->params[10], "rule 3: domain 'example.com'"));
    ck_assert_int_eq(fakehost_nticket_changes(fh), 1);
    const struct fakehost_ticket_change *c = fakehost_ticket_change_at(fh, 0);
    ck_assert_str_eq(c->category, "Billing");
    ck_assert_str_eq(c->priority, "high");
    ck_assert_ptr_nonnull(strstr(c->note, "rule 3"));
}
END_TEST

START_TEST(corrupt_model_is_refused_with_a_log_line)
{
    load();
    const char *versions[] = { "sentiment", "2" };
    fakehost_sql_answer(fh, "max(version) FROM triage_models", 2, 1, versions);
    const char *blob[] = { "415452494147453100000000deadbeef" };
    fakehost_sql_answer(fh, "encode(model, 'hex')", 1, 1, blob);
    const char *b = predict("{\"text\": \"this is awful, worst service ever\"}");
    ck_assert_ptr_nonnull(strstr(b, "\"sentiment\":null"));
    ck_assert_ptr_nonnull(fakehost_log_find(fh, "model sentiment v2 refused"));
}
END_TEST

START_TEST(correction_is_stored_and_retrains_when_enough)
{
    fh = fakehost_new(NULL);
    char path[1024];
    const char *why = NULL;
    snprintf(path, sizeof(path), "%s/plugins/triage/.libs/triage.so", getenv("ATUM_BUILDDIR"));
    fakehost_conf_set(fh, "retrain_after", "2");
    ck_assert_msg(fakehost_load(fh, path, &why) == 0, "%s", why);
    const char *id[] = { "9" };
    fakehost_sql_answer(fh, "INSERT INTO triage_labels", 1, 1, id);
    const char *fresh[] = { "2" };
    fakehost_sql_answer(fh, "SELECT count(*) FROM triage_labels", 1, 1, fresh);
    struct fakehost_response r;
    ck_assert_int_eq(fakehost_route(fh, "POST", "/correct", NULL,
                                    "{\"ticket_id\": 3, \"sentiment\": \"negative\"}", 4, ATUM_ROLE_AGENT, &r), 0);
    ck_assert_int_eq(r.status, 200);
    ck_assert_int_eq(fakehost_nenqueued(fh), 1);
    ck_assert_str_eq(fakehost_enqueued_at(fh, 0)->kind, "triage.train");
    ck_assert_int_eq(fakehost_route(fh, "POST", "/correct", NULL,
                                    "{\"ticket_id\": 3, \"sentiment\": \"furious\"}", 4, ATUM_ROLE_AGENT, &r), 0);
    ck_assert_int_eq(r.status, 400);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("triage");
    TCase *tc = tcase_create("plugin");
    tcase_add_checked_fixture(tc, NULL, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, descriptor_offers_commands_and_filters);
    tcase_add_test(tc, language_of_texts);
    tcase_add_test(tc, bad_input_never_crashes);
    tcase_add_test(tc, new_ticket_is_triaged_and_traced);
    tcase_add_test(tc, rule_sets_category_in_auto_mode);
    tcase_add_test(tc, corrupt_model_is_refused_with_a_log_line);
    tcase_add_test(tc, correction_is_stored_and_retrains_when_enough);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
