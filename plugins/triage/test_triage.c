/* test_triage -- the triage plugin unit-tested through the fake host
 * (tests/lib/fakehost.h), its SQL recorded and answered from tables: the
 * language guess, bad input, the triage of a new ticket (stored with its
 * trace, rules first), escalation of a negative ticket, a corrupt model
 * refused with a log line and trained again; and, called directly, the
 * sentiment features (VADER's rules, elongations, the last sentence mark)
 * and the classifier's training, prediction and saving. */
#include "config.h"
#include "lib/fakehost.h"
#include "lexicon.h"
#include "model.h"
#include "vader.h"

#include <check.h>
#include <jansson.h>
#include <math.h>
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
    fakehost_set_now(fh, 1000000);
    const char *b = predict("{\"text\": \"this is awful, worst service ever\"}");
    ck_assert_ptr_nonnull(strstr(b, "\"sentiment\":null"));
    ck_assert_ptr_nonnull(fakehost_log_find(fh, "model sentiment v2 refused"));
    /* it is trained again from the labels in the database, once */
    ck_assert_int_eq(fakehost_nenqueued(fh), 1);
    ck_assert_str_eq(fakehost_enqueued_at(fh, 0)->kind, "triage.train");
    ck_assert_str_eq(fakehost_enqueued_at(fh, 0)->unique_key, "triage-train");
    fakehost_set_now(fh, 1000060);         /* past the next look for newer models */
    b = predict("{\"text\": \"still awful\"}");
    ck_assert_ptr_nonnull(strstr(b, "\"sentiment\":null"));
    ck_assert_int_eq(fakehost_nenqueued(fh), 1);
    fakehost_set_now(fh, -1);
}
END_TEST

/* the database failing under a route is the server's fault: 500, logged,
 * and not the database's words in the answer; a refused correction stores
 * nothing */
START_TEST(database_failures_answer_500)
{
    load();
    struct fakehost_response r;
    fakehost_sql_fail(fh, "FROM triage_models", "connection to server lost (secret detail)");
    ck_assert_int_eq(fakehost_route(fh, "GET", "/models", NULL, NULL, 1, ATUM_ROLE_ADMIN, &r), 0);
    ck_assert_int_eq(r.status, 500);
    ck_assert_ptr_null(strstr(r.body, "secret detail"));
    ck_assert_ptr_nonnull(strstr(r.body, "reading the models failed"));
    ck_assert_ptr_nonnull(fakehost_log_find(fh, "reading the models: connection to server lost"));
    fakehost_sql_fail(fh, "INSERT INTO triage_results", "disk full");
    const char *id[] = { "7" };
    fakehost_sql_answer(fh, "INSERT INTO triage_labels", 1, 1, id);
    ck_assert_int_eq(fakehost_route(fh, "POST", "/correct", NULL, "{\"ticket_id\": 7, \"sentiment\": \"negative\"}",
                                    1, ATUM_ROLE_AGENT, &r), 0);
    ck_assert_int_eq(r.status, 500);
    ck_assert_ptr_nonnull(strstr(r.body, "storing the correction failed"));
    ck_assert_ptr_nonnull(fakehost_log_find(fh, "storing the correction: disk full"));
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

/* ---- with a language model (its answers from the fake host's HTTP table) ---- */

static void load_llm(void)
{
    char path[1024];
    const char *why = NULL;
    snprintf(path, sizeof(path), "%s/plugins/triage/.libs/triage.so", getenv("ATUM_BUILDDIR"));
    fh = fakehost_new(NULL);
    fakehost_conf_set(fh, "llm", "ollama");
    fakehost_conf_set(fh, "llm_url", "http://llm.test:11434");
    fakehost_conf_set(fh, "llm_model", "tiny");
    fakehost_conf_set(fh, "categories", "Billing, Shipping,Technical");
    ck_assert_msg(fakehost_load(fh, path, &why) == 0, "%s", why);
}

static void llm_answers(long status, const char *content)
{
    json_t *v = json_pack("{s:s, s:{s:s, s:s}, s:b, s:s}", "model", "tiny", "message", "role", "assistant",
                          "content", content, "done", 1, "done_reason", "stop");
    char *body = json_dumps(v, JSON_COMPACT);
    fakehost_http_forget(fh);
    fakehost_http_answer(fh, "POST", "http://llm.test:11434/api/chat", status, body, NULL);
    free(body);
    json_decref(v);
}

static const char good_answer[] =
    "{\"category\": \"Billing\", \"category_confidence\": 0.9, \"priority\": \"high\", \"priority_confidence\": 0.8,"
    " \"sentiment\": \"negative\", \"sentiment_confidence\": 0.95, \"reason\": \"charged twice, angry\"}";

START_TEST(llm_answer_is_used_and_traced)
{
    load_llm();
    answer_ticket("Charged twice", "You charged my card twice. This is unacceptable.", "ann@example.org");
    llm_answers(200, good_answer);
    struct fakehost_job_result res;
    ck_assert_int_eq(fakehost_run_hook(fh, "ticket.created", "{\"ticket_id\": 12}", &res), 0);
    ck_assert_int_eq(res.status, ATUM_JOB_DONE);
    ck_assert_int_ge(res.lease_extended, 20);           /* the lease covers the wait */
    ck_assert_int_eq(fakehost_nhttp(fh), 1);
    const struct fakehost_http *call = fakehost_http_at(fh, 0);
    ck_assert_ptr_nonnull(strstr(call->body, "You charged my card twice"));
    ck_assert_ptr_nonnull(strstr(call->body, "\"enum\":[\"Billing\",\"Shipping\",\"Technical\"]"));
    const struct fakehost_sql *s = fakehost_sql_find(fh, "INSERT INTO triage_results");
    ck_assert_str_eq(s->params[1], "Billing");
    ck_assert_str_eq(s->params[3], "high");
    ck_assert_str_eq(s->params[5], "negative");
    ck_assert_str_eq(s->params[9], "llm:tiny");
    ck_assert_ptr_nonnull(strstr(s->params[10], "charged twice, angry"));
    /* one run: the model's, with its raw answer and outcome */
    const struct fakehost_sql *r = fakehost_sql_find(fh, "INSERT INTO triage_runs");
    ck_assert_str_eq(r->params[1], "llm:tiny");
    ck_assert_ptr_nonnull(strstr(r->params[3], "\"done\":true"));
    ck_assert_ptr_nonnull(strstr(r->params[4], "\"Billing\""));
    ck_assert_ptr_null(r->params[5]);
    ck_assert_str_eq(r->params[7], "ok");
    /* negative with confidence 0.95 escalates (default threshold 0.85) */
    ck_assert_int_eq(fakehost_nticket_changes(fh), 1);
    ck_assert_str_eq(fakehost_ticket_change_at(fh, 0)->priority, "high");
    ck_assert_double_eq(fakehost_metric(fh, "atum_triage_runs_total", "method=\"llm\""), 1);
    ck_assert_double_eq(fakehost_metric(fh, "atum_llm_calls_total", "plugin=\"triage\",kind=\"chat\",outcome=\"ok\""), 1);
    ck_assert_ptr_nonnull(fakehost_metric_help(fh, "atum_triage_runs_total"));
}
END_TEST

START_TEST(bad_llm_answers_fall_back_to_the_local_path)
{
    static const char *const bad[] = {
        "{\"category\": \"Gardening\", \"category_confidence\": 0.9, \"priority\": \"high\", \"priority_confidence\": 0.8,"
        " \"sentiment\": \"negative\", \"sentiment_confidence\": 0.9, \"reason\": \"x\"}",
        "{\"category\": \"Billing\", \"category_confidence\": 0.9, \"priority\": \"asap\", \"priority_confidence\": 0.8,"
        " \"sentiment\": \"negative\", \"sentiment_confidence\": 0.9, \"reason\": \"x\"}",
        "{\"category\": \"Billing\", \"category_confidence\": 0.9, \"priority\": \"high\", \"priority_confidence\": 0.8,"
        " \"sentiment\": \"negative\", \"sentiment_confidence\": 0.9, \"reason\": \"x\", \"queue\": \"vip\"}",
        "{\"category\": \"Billing\", \"category_confidence\": 9, \"priority\": \"high\", \"priority_confidence\": 0.8,"
        " \"sentiment\": \"negative\", \"sentiment_confidence\": 0.9, \"reason\": \"x\"}",
        "{\"category\": \"Billing\"",
        "I think this is about billing.",
    };
    static const char *const outcome[] = { "invalid", "invalid", "invalid", "invalid", "malformed", "malformed" };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        load_llm();
        answer_ticket("Charged twice", "You charged my card twice.", "ann@example.org");
        llm_answers(200, bad[i]);
        struct fakehost_job_result res;
        ck_assert_int_eq(fakehost_run_hook(fh, "ticket.created", "{\"ticket_id\": 12}", &res), 0);
        ck_assert_int_eq(res.status, ATUM_JOB_DONE);
        const struct fakehost_sql *s = fakehost_sql_find(fh, "INSERT INTO triage_results");
        ck_assert_str_eq(s->params[9], "local");
        ck_assert_ptr_nonnull(strstr(s->params[10], "the language model's answer was discarded"));
        /* two runs: the discarded answer (with why) and the local one */
        size_t runs = 0;
        for (size_t k = 0; k < fakehost_nsql(fh); k++) {
            const struct fakehost_sql *q = fakehost_sql_at(fh, k);
            if (strstr(q->sql, "INSERT INTO triage_runs") == NULL)
                continue;
            if (runs++ == 0) {
                ck_assert_str_eq(q->params[1], "llm:tiny");
                ck_assert_str_eq(q->params[7], outcome[i]);
                ck_assert_ptr_nonnull(q->params[5]);
                ck_assert_ptr_null(q->params[4]);
            } else {
                ck_assert_str_eq(q->params[1], "local");
            }
        }
        ck_assert_int_eq(runs, 2);
        fakehost_free(&fh);
    }
}
END_TEST

START_TEST(failing_server_opens_the_breaker_and_is_left_alone)
{
    load_llm();
    answer_ticket("Help", "It does not work.", "ann@example.org");
    fakehost_http_answer(fh, "POST", "http://llm.test:11434/api/chat", 500, "{\"error\": \"boom\"}", NULL);
    struct fakehost_job_result res;
    for (int i = 0; i < 5; i++) {
        ck_assert_int_eq(fakehost_run_hook(fh, "ticket.created", "{\"ticket_id\": 12}", &res), 0);
        ck_assert_int_eq(res.status, ATUM_JOB_DONE);
        ck_assert_str_eq(fakehost_sql_find(fh, "INSERT INTO triage_results")->params[9], "local");
    }
    ck_assert_int_eq(fakehost_nhttp(fh), 3);            /* three failures, then no more calls */
    struct fakehost_response r;
    ck_assert_int_eq(fakehost_route(fh, "GET", "/status", NULL, NULL, 1, ATUM_ROLE_AGENT, &r), 0);
    ck_assert_int_eq(r.status, 200);
    ck_assert_ptr_nonnull(strstr(r.body, "\"state\":\"open\""));
    ck_assert_double_eq(fakehost_metric(fh, "atum_llm_breaker_open", "plugin=\"triage\""), 1);
    /* after the cool-down a probe goes out again */
    fakehost_set_now(fh, 4e9);
    ck_assert_int_eq(fakehost_run_hook(fh, "ticket.created", "{\"ticket_id\": 12}", &res), 0);
    ck_assert_int_eq(fakehost_nhttp(fh), 4);
}
END_TEST

START_TEST(queue_with_llm_off_makes_no_call)
{
    load_llm();
    answer_ticket("Help", "It does not work.", "ann@example.org");
    llm_answers(200, good_answer);
    const char *settings[] = { "t", "suggest", "0.8", "t", "0.85", "", "", "f" };
    fakehost_sql_answer(fh, "FROM triage_settings WHERE queue_id", 8, 1, settings);
    struct fakehost_job_result res;
    ck_assert_int_eq(fakehost_run_hook(fh, "ticket.created", "{\"ticket_id\": 12}", &res), 0);
    ck_assert_int_eq(fakehost_nhttp(fh), 0);
    ck_assert_str_eq(fakehost_sql_find(fh, "INSERT INTO triage_results")->params[9], "local");
}
END_TEST

START_TEST(a_run_is_replayed)
{
    load_llm();
    llm_answers(200, good_answer);
    const char *run[] = { "llm:tiny", "{\"ticket_id\": 12, \"text\": \"Charged twice\", \"from\": \"a@b.c\","
                          " \"queue_language\": \"en\", \"categories\": [\"Billing\", \"Shipping\"]}", "12" };
    fakehost_sql_answer(fh, "FROM triage_runs WHERE id = $1", 3, 1, run);
    const char *one[] = { "1" };
    fakehost_sql_answer(fh, "SELECT 1 FROM triage_runs", 1, 1, one);
    const char *nid[] = { "77" };
    fakehost_sql_answer(fh, "INSERT INTO triage_runs", 1, 1, nid);
    struct fakehost_response r;
    ck_assert_int_eq(fakehost_route(fh, "POST", "/replay", NULL, "{\"run_id\": 41}", 1, ATUM_ROLE_AGENT, &r), 0);
    ck_assert_int_eq(r.status, 202);
    ck_assert_int_eq(fakehost_nenqueued(fh), 1);
    ck_assert_str_eq(fakehost_enqueued_at(fh, 0)->kind, "triage.replay");
    ck_assert_int_eq(fakehost_route(fh, "POST", "/replay", NULL, "{\"run\": 41}", 1, ATUM_ROLE_AGENT, &r), 0);
    ck_assert_int_eq(r.status, 400);
    struct fakehost_job_result res;
    ck_assert_int_eq(fakehost_run_job(fh, "triage.replay", fakehost_enqueued_at(fh, 0)->payload, 1, &res), 0);
    ck_assert_int_eq(res.status, ATUM_JOB_DONE);
    ck_assert(res.completed_in_tx);
    /* the same input went to the model again; the new run says what it replays */
    ck_assert_int_eq(fakehost_nhttp(fh), 1);
    ck_assert_ptr_nonnull(strstr(fakehost_http_at(fh, 0)->body, "Charged twice"));
    const struct fakehost_sql *q = fakehost_sql_find(fh, "INSERT INTO triage_runs");
    ck_assert_str_eq(q->params[8], "41");
    ck_assert_str_eq(q->params[1], "llm:tiny");
    ck_assert_ptr_nonnull(strstr(q->params[4], "\"Billing\""));
    /* nothing of the ticket changed */
    ck_assert_ptr_null(fakehost_sql_find(fh, "INSERT INTO triage_results"));
    ck_assert_int_eq(fakehost_nticket_changes(fh), 0);
}
END_TEST

START_TEST(inconsistent_llm_configuration_refuses_the_plugin)
{
    char path[1024];
    const char *why = NULL;
    snprintf(path, sizeof(path), "%s/plugins/triage/.libs/triage.so", getenv("ATUM_BUILDDIR"));
    fh = fakehost_new(NULL);
    fakehost_conf_set(fh, "llm", "openai");
    ck_assert_int_eq(fakehost_load(fh, path, &why), -1);
    ck_assert_ptr_nonnull(fakehost_log_find(fh, "llm = openai needs llm_url"));
}
END_TEST

/* ---- the sentiment features, called directly ---------------------------------- */

static double compound(const char *text)
{
    struct text_tokens t;
    struct vader_scores vs;
    text_tokenize(text, strlen(text), &t);
    vader_score(&t, &vs);
    text_tokens_free(&t);
    return vs.compound;
}

static void features(const char *text, double *f)
{
    struct text_tokens t;
    text_tokenize(text, strlen(text), &t);
    lexicon_features(&t, text, strlen(text), f);
    text_tokens_free(&t);
}

START_TEST(elongated_words_are_found_and_squeezed)
{
    ck_assert(lexicon_elongated("sooo"));
    ck_assert(lexicon_elongated("pleeease"));
    ck_assert(!lexicon_elongated("soo"));
    ck_assert(!lexicon_elongated("good"));
    ck_assert(!lexicon_elongated("1000"));           /* digits are not emphasis */
    ck_assert(!lexicon_elongated(""));
    char buf[16];
    ck_assert_uint_eq(lexicon_squeeze("goooood", 7, 2, buf, sizeof(buf)), 4);
    ck_assert_str_eq(buf, "good");
    ck_assert_uint_eq(lexicon_squeeze("goooood", 7, 1, buf, sizeof(buf)), 3);
    ck_assert_str_eq(buf, "god");
    ck_assert_uint_eq(lexicon_squeeze("aaaaaaab", 8, 2, buf, 3), 2);   /* cut to the buffer, terminated */
    ck_assert_str_eq(buf, "aa");
    ck_assert_uint_eq(lexicon_squeeze("", 0, 2, buf, sizeof(buf)), 0);
    ck_assert_str_eq(buf, "");
    /* the lists find elongated words: cut to two letters, else to one */
    ck_assert(vader_valence("good") > 0);
    ck_assert(lexicon_lookup_elongated("goooood", vader_valence) == vader_valence("good"));
    ck_assert(lexicon_lookup_elongated("baaaad", vader_valence) == vader_valence("bad"));
    ck_assert(lexicon_lookup_elongated("good", vader_valence) == 0);   /* not elongated: the caller's exact look-up */
    ck_assert(lexicon_lookup_elongated("zzzzz", vader_valence) == 0);
    ck_assert(compound("this is goooood") > 0.3);
    ck_assert(compound("this is goooood") == compound("this is good"));
}
END_TEST

START_TEST(last_sentence_mark)
{
    const char *q = "@united where is my bag?";
    ck_assert_int_eq(lexicon_last_mark(q, strlen(q)), '?');
    const char *url = "Thanks so much! http://t.co/1ESmMnIZEk";
    ck_assert_int_eq(lexicon_last_mark(url, strlen(url)), '!');   /* the URL's dots end nothing */
    const char *num = "the fare went up to 3.5";
    ck_assert_int_eq(lexicon_last_mark(num, strlen(num)), 0);
    const char *two = "Great. Really?";
    ck_assert_int_eq(lexicon_last_mark(two, strlen(two)), '?');
    const char *dot = "Fine, thanks.";
    ck_assert_int_eq(lexicon_last_mark(dot, strlen(dot)), '.');
    ck_assert_int_eq(lexicon_last_mark("", 0), 0);
    ck_assert_int_eq(lexicon_last_mark(NULL, 0), 0);
    /* only len bytes count */
    ck_assert_int_eq(lexicon_last_mark(q, strlen(q) - 1), 0);
}
END_TEST

START_TEST(vader_negation_reaches_three_words_back)
{
    ck_assert(compound("the crew was good") > 0.3);
    ck_assert(compound("the crew was not good") < -0.3);
    ck_assert(compound("the crew wasn't good") < -0.3);
    ck_assert(compound("not a b good") < 0);           /* three words before: in scope */
    ck_assert(compound("not a b c good") > 0);         /* four: out of scope */
    /* "least" negates, "at least" does not */
    ck_assert(compound("the least helpful") < 0);
    ck_assert(compound("at least helpful") > 0);
}
END_TEST

START_TEST(vader_but_clause_weighs_the_second_part)
{
    /* great (3.1) outweighs bad (-2.5) alone; after "but" bad counts 1.5x and great 0.5x */
    ck_assert(compound("the food was great and the service was bad") > 0);
    ck_assert(compound("the food was great but the service was bad") < 0);
    ck_assert(compound("the service was bad but the food was great") > 0);
}
END_TEST

START_TEST(vader_boosters_capitals_and_exclamations)
{
    double plain = compound("the seat was good");
    ck_assert(compound("the seat was very good") > plain);
    ck_assert(compound("the seat was slightly good") < plain);
    ck_assert(compound("the seat was GOOD") > plain);            /* capitals among lower case */
    ck_assert(compound("THE SEAT WAS GOOD") == compound("the seat was good"));   /* all capitals: no contrast */
    ck_assert(compound("the seat was good!!!") > plain);
    ck_assert(compound("the seat was bad!!!") < compound("the seat was bad"));
    ck_assert(compound("") == 0);
}
END_TEST

START_TEST(lexicon_features_of_short_texts)
{
    double f[LEXICON_NFEATURES];
    features("@united where is my bag?", f);
    ck_assert(f[15] == 1 && f[16] == 0);                 /* ends asking */
    ck_assert(f[17] == 0 && f[18] == 0);                 /* VADER: neutral */
    ck_assert(f[19] > 0.9);                               /* neutral share */
    features("Thanks so much!", f);
    ck_assert(f[15] == 0 && f[16] == 1);
    ck_assert(f[17] == 1 && f[18] == 0);                 /* VADER: positive */
    features("I am not happy with the crew.", f);
    ck_assert(f[17] == 0 && f[18] == 1);                 /* VADER: negative */
    ck_assert(f[20] > 0);                                 /* praise under a negation */
    features("I am happy with the crew.", f);
    ck_assert(f[20] == 0);
    ck_assert(f[14] == 0);
    features("sooo happy with the crew", f);
    ck_assert(f[14] > 0);                                 /* one elongated word */
    features("", f);
    for (int i = 0; i < LEXICON_NFEATURES; i++)
        ck_assert(f[i] == 0);
}
END_TEST

/* ---- the classifier, trained in-process ----------------------------------------- */

static const char *const sent_texts[] = {
    "thank you so much, great crew", "great flight, loved it", "awesome service thanks", "love the new seats, great",
    "wonderful staff thank you", "great job, thanks a lot", "the flight was awful", "terrible service, lost my bag",
    "worst airline ever, awful", "delayed again, terrible", "rude staff and a lost bag", "awful delay, worst trip",
    "what time does flight 12 leave", "is the flight on time today", "which gate for flight 40", "when does boarding start",
    "does the flight have wifi", "what is the baggage allowance",
};
static const char *const sent_labels[] = {
    "positive", "positive", "positive", "positive", "positive", "positive", "negative", "negative",
    "negative", "negative", "negative", "negative", "neutral", "neutral", "neutral", "neutral",
    "neutral", "neutral",
};

static void train_and_check(size_t n, int lexicon)
{
    struct stemmer_set *st = stemmer_set_new();
    struct tdoc docs[18];
    for (size_t i = 0; i < n; i++)
        tdoc_build(&docs[i], sent_texts[i], strlen(sent_texts[i]), "en", st);
    struct tmodel_opts o = { .lexicon = lexicon, .C = 16 };
    const char *e = NULL;
    struct tmodel *m = tmodel_train(docs, sent_labels, n, &o, &e);
    ck_assert_msg(m != NULL, "%s", e);
    ck_assert_int_eq(tmodel_nclasses(m), n > 12 ? 3 : 2);
    size_t len = 0;
    unsigned char *buf = tmodel_save(m, &len);
    struct tmodel *back = tmodel_load(buf, len, &e);
    ck_assert_msg(back != NULL, "%s", e);
    for (size_t i = 0; i < n; i++) {
        double conf = 0, probs[3], sum = 0;
        const char *got = tmodel_predict(m, &docs[i], &conf, probs);
        ck_assert_msg(strcmp(got, sent_labels[i]) == 0, "'%s': %s, not %s", sent_texts[i], got, sent_labels[i]);
        for (int k = 0; k < tmodel_nclasses(m); k++)
            sum += probs[k];
        ck_assert(fabs(sum - 1) < 1e-9 && conf > 1.0 / tmodel_nclasses(m));
        double conf2 = 0;
        ck_assert_str_eq(tmodel_predict(back, &docs[i], &conf2, NULL), got);
        ck_assert(fabs(conf - conf2) < 1e-4);          /* weights saved as floats */
    }
    free(buf);
    tmodel_free(&back);
    tmodel_free(&m);
    for (size_t i = 0; i < n; i++)
        tdoc_free(&docs[i]);
    stemmer_set_free(&st);
}

START_TEST(trained_models_predict_their_rows)
{
    train_and_check(12, 0);      /* two classes: one weight vector, the first label positive */
    train_and_check(12, 1);
    train_and_check(18, 0);      /* three: one against the rest each */
    train_and_check(18, 1);
}
END_TEST

START_TEST(many_classes_are_chosen_by_inner_cv)
{
    /* more classes than a decision fits on the stack: 70 classes of two
     * rows each, C chosen by cross-validation over them */
    enum { NCLASS = 70, NROWS = 2 * NCLASS };
    static char texts[NROWS][64], names[NCLASS][16];
    const char *labels[NROWS];
    struct tdoc docs[NROWS];
    struct stemmer_set *st = stemmer_set_new();
    static const char *const words[] = { "alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf",
                                         "hotel", "india", "juliet" };
    for (int i = 0; i < NROWS; i++) {
        int c = i % NCLASS;
        snprintf(names[c], sizeof(names[c]), "c%02d", c);
        snprintf(texts[i], sizeof(texts[i]), "%s%s %s%s %s", words[c % 10], words[c / 10], words[c / 10],
                 words[c % 10], i < NCLASS ? "first" : "second");
        labels[i] = names[c];
        tdoc_build(&docs[i], texts[i], strlen(texts[i]), "en", st);
    }
    struct tmodel_opts o = { .lexicon = 0, .C = 0 };
    const char *e = NULL;
    struct tmodel *m = tmodel_train(docs, labels, NROWS, &o, &e);
    ck_assert_msg(m != NULL, "%s", e);
    ck_assert_int_eq(tmodel_nclasses(m), NCLASS);
    ck_assert(tmodel_C(m) > 0);
    int right = 0;
    for (int i = 0; i < NROWS; i++)
        right += strcmp(tmodel_predict(m, &docs[i], NULL, NULL), labels[i]) == 0;
    ck_assert_int_ge(right, NROWS * 9 / 10);
    tmodel_free(&m);
    for (int i = 0; i < NROWS; i++)
        tdoc_free(&docs[i]);
    stemmer_set_free(&st);
}
END_TEST

START_TEST(elongations_are_the_same_ngrams)
{
    struct stemmer_set *st = stemmer_set_new();
    struct tdoc a, b, c;
    tdoc_build(&a, "sooooo goooood", 14, "en", st);
    tdoc_build(&b, "soo good", 8, "en", st);
    tdoc_build(&c, "so good", 7, "en", st);
    ck_assert_uint_eq(a.n, b.n);
    for (size_t i = 0; i < a.n; i++)
        ck_assert(a.f[i].key == b.f[i].key && a.f[i].count == b.f[i].count);
    ck_assert(a.lex[14] > 0 && b.lex[14] == 0);          /* the emphasis is kept as evidence */
    int same = c.n == b.n;
    for (size_t i = 0; same && i < c.n; i++)
        same = c.f[i].key == b.f[i].key;
    ck_assert(!same);                                     /* two letters stay: "soo" is not "so" */
    tdoc_free(&a);
    tdoc_free(&b);
    tdoc_free(&c);
    stemmer_set_free(&st);
}
END_TEST

/* ---- word vectors ------------------------------------------------------------------- */

static double cosine(const double *a, const double *b)
{
    double ab = 0, aa = 0, bb = 0;
    for (int j = 0; j < WORDVEC_DIM; j++) {
        ab += a[j] * b[j];
        aa += a[j] * a[j];
        bb += b[j] * b[j];
    }
    return aa > 0 && bb > 0 ? ab / sqrt(aa * bb) : 0;
}

static double word_cosine(const char *x, const char *y)
{
    double a[WORDVEC_DIM], b[WORDVEC_DIM];
    long i = wordvec_find(x), j = wordvec_find(y);
    ck_assert_msg(i >= 0 && j >= 0, "%s or %s not in the table", x, y);
    wordvec_get(i, a);
    wordvec_get(j, b);
    return cosine(a, b);
}

/* the unit-length vector of a text; the number of words found to *found_r */
static void text_vector(const char *text, double *out, int *found_r)
{
    struct text_tokens t;
    text_tokenize(text, strlen(text), &t);
    *found_r = wordvec_text(&t, out);
    text_tokens_free(&t);
}

START_TEST(word_vectors_of_words)
{
    ck_assert_uint_ge(wordvec_count, 10000);
    for (unsigned i = 1; i < wordvec_count; i++)
        ck_assert_msg(strcmp(wordvec_words[i - 1], wordvec_words[i]) < 0, "table not sorted at %u", i);
    ck_assert_int_ge(wordvec_find("the"), 0);
    ck_assert_int_ge(wordvec_find("awful"), 0);
    ck_assert_int_eq(wordvec_find("qzxqzxq"), -1);
    ck_assert_int_eq(wordvec_find(""), -1);
    ck_assert_int_eq(wordvec_find("The"), -1);               /* the table is lower case, as tokens are */
    ck_assert_uint_eq(wordvec_ranks[wordvec_find("the")], 0); /* the most frequent word */
    /* what the vectors are for: words of one meaning lie close */
    ck_assert(word_cosine("awful", "terrible") > word_cosine("awful", "table"));
    ck_assert(word_cosine("great", "excellent") > word_cosine("great", "luggage"));
    ck_assert(word_cosine("rude", "arrogant") > word_cosine("rude", "airport"));
}
END_TEST

START_TEST(word_vectors_of_texts)
{
    double v[WORDVEC_DIM], w[WORDVEC_DIM], awful[WORDVEC_DIM];
    int found;
    text_vector("the flight was awful", v, &found);
    ck_assert_int_eq(found, 4);
    double norm = 0;
    for (int j = 0; j < WORDVEC_DIM; j++)
        norm += v[j] * v[j];
    ck_assert(fabs(norm - 1) < 1e-9);
    /* smooth inverse frequency: "the" three times hardly moves the mean */
    wordvec_get(wordvec_find("awful"), awful);
    text_vector("the the the awful", v, &found);
    ck_assert_int_eq(found, 4);
    ck_assert_msg(cosine(v, awful) > 0.95, "cosine %g", cosine(v, awful));
    /* an @mention's name is not a word of the text */
    text_vector("@united awful", v, &found);
    text_vector("awful", w, &found);
    ck_assert_int_eq(found, 1);
    ck_assert(cosine(v, w) > 1 - 1e-9);
    /* elongations are looked up squeezed */
    text_vector("awfuuuul", v, &found);
    ck_assert_int_eq(found, 1);
    ck_assert(cosine(v, w) > 1 - 1e-9);
    /* nothing known, nothing there */
    const char *none[] = { "", "qzxqzxq vbnvbnq", "!!! ???" };
    for (size_t i = 0; i < sizeof(none) / sizeof(none[0]); i++) {
        text_vector(none[i], v, &found);
        double any = 0;
        for (int j = 0; j < WORDVEC_DIM; j++)
            any += fabs(v[j]);
        ck_assert_msg(found == 0 && any == 0, "'%s': %d words", none[i], found);
    }
    /* one known word among unknown ones: its vector, of unit length */
    text_vector("qzxqzxq awful vbnvbnq", v, &found);
    ck_assert_int_eq(found, 1);
    ck_assert(cosine(v, w) > 1 - 1e-9);
    norm = 0;
    for (int j = 0; j < WORDVEC_DIM; j++)
        norm += v[j] * v[j];
    ck_assert(fabs(norm - 1) < 1e-9);
}
END_TEST

START_TEST(word_vector_models_keep_their_vectors)
{
    struct stemmer_set *st = stemmer_set_new();
    struct tdoc docs[18];
    for (size_t i = 0; i < 18; i++)
        tdoc_build(&docs[i], sent_texts[i], strlen(sent_texts[i]), "en", st);
    struct tmodel_opts o = { .lexicon = 1, .wordvec = 1, .C = 16 };
    const char *e = NULL;
    struct tmodel *m = tmodel_train(docs, sent_labels, 18, &o, &e);
    ck_assert_msg(m != NULL, "%s", e);
    ck_assert(tmodel_wordvec_weight(m) == 1);
    /* a text of none of the training rows' words, only their meaning */
    struct tdoc unseen;
    tdoc_build(&unseen, "dreadful horrible trip", 22, "en", st);
    ck_assert_str_eq(tmodel_predict(m, &unseen, NULL, NULL), "negative");
    size_t len = 0;
    unsigned char *buf = tmodel_save(m, &len);
    struct tmodel *back = tmodel_load(buf, len, &e);
    ck_assert_msg(back != NULL, "%s", e);
    ck_assert(tmodel_wordvec_weight(back) == 1);
    ck_assert_str_eq(tmodel_predict(back, &unseen, NULL, NULL), "negative");
    tmodel_free(&back);
    /* a model made with other vectors is refused, with a reason */
    unsigned char *at = memmem(buf, len, wordvec_source, strlen(wordvec_source));
    ck_assert(at != NULL);
    at[0] ^= 0x20;
    uint64_t h = text_hash(0, buf, len - 8);
    memcpy(buf + len - 8, &h, 8);
    e = NULL;
    ck_assert(tmodel_load(buf, len, &e) == NULL);
    ck_assert_msg(e && strstr(e, "other word vectors"), "%s", e ? e : "(none)");
    free(buf);
    tmodel_free(&m);
    tdoc_free(&unseen);
    for (size_t i = 0; i < 18; i++)
        tdoc_free(&docs[i]);
    stemmer_set_free(&st);
}
END_TEST

START_TEST(probabilities_are_calibrated_to_the_classes)
{
    /* texts that share nothing: all a model can learn is how often each
     * class is.  Whatever class weights the cross-validation picks, the
     * calibrated probability of a new text is that frequency (4 in 5). */
    enum { NROWS = 60 };
    static char texts[NROWS][32];
    const char *labels[NROWS];
    struct tdoc docs[NROWS];
    struct stemmer_set *st = stemmer_set_new();
    uint32_t seed = 12345;
    for (int i = 0; i < NROWS; i++) {
        /* six letters drawn at random, twice: no letter pattern follows the class */
        char *p = texts[i];
        for (int k = 0; k < 13; k++) {
            seed = seed * 1103515245u + 12345u;
            *p++ = k == 6 ? ' ' : (char)('a' + (seed >> 16) % 26);
        }
        *p = '\0';
        labels[i] = i % 5 == 0 ? "rare" : "common";
        tdoc_build(&docs[i], texts[i], strlen(texts[i]), NULL, st);
    }
    struct tmodel_opts o = { .C = 0 };
    const char *e = NULL;
    struct tmodel *m = tmodel_train(docs, labels, NROWS, &o, &e);
    ck_assert_msg(m != NULL, "%s", e);
    struct tdoc fresh;
    tdoc_build(&fresh, "something else", 14, NULL, st);
    double conf = 0;
    ck_assert_str_eq(tmodel_predict(m, &fresh, &conf, NULL), "common");
    ck_assert_msg(fabs(conf - 0.8) < 0.05, "confidence %g", conf);
    /* and so after a round trip */
    size_t len = 0;
    unsigned char *buf = tmodel_save(m, &len);
    struct tmodel *back = tmodel_load(buf, len, &e);
    ck_assert_msg(back != NULL, "%s", e);
    double conf2 = 0;
    tmodel_predict(back, &fresh, &conf2, NULL);
    ck_assert(fabs(conf - conf2) < 1e-6);
    free(buf);
    tmodel_free(&back);
    tmodel_free(&m);
    tdoc_free(&fresh);
    for (int i = 0; i < NROWS; i++)
        tdoc_free(&docs[i]);
    stemmer_set_free(&st);
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
    tcase_add_test(tc, database_failures_answer_500);
    tcase_add_test(tc, correction_is_stored_and_retrains_when_enough);
    tcase_add_test(tc, llm_answer_is_used_and_traced);
    tcase_add_test(tc, bad_llm_answers_fall_back_to_the_local_path);
    tcase_add_test(tc, failing_server_opens_the_breaker_and_is_left_alone);
    tcase_add_test(tc, queue_with_llm_off_makes_no_call);
    tcase_add_test(tc, a_run_is_replayed);
    tcase_add_test(tc, inconsistent_llm_configuration_refuses_the_plugin);
    suite_add_tcase(s, tc);
    TCase *feat = tcase_create("features");
    tcase_set_timeout(feat, 60);
    tcase_add_test(feat, elongated_words_are_found_and_squeezed);
    tcase_add_test(feat, last_sentence_mark);
    tcase_add_test(feat, vader_negation_reaches_three_words_back);
    tcase_add_test(feat, vader_but_clause_weighs_the_second_part);
    tcase_add_test(feat, vader_boosters_capitals_and_exclamations);
    tcase_add_test(feat, lexicon_features_of_short_texts);
    tcase_add_test(feat, trained_models_predict_their_rows);
    tcase_add_test(feat, many_classes_are_chosen_by_inner_cv);
    tcase_add_test(feat, elongations_are_the_same_ngrams);
    tcase_add_test(feat, word_vectors_of_words);
    tcase_add_test(feat, word_vectors_of_texts);
    tcase_add_test(feat, word_vector_models_keep_their_vectors);
    tcase_add_test(feat, probabilities_are_calibrated_to_the_classes);
    suite_add_tcase(s, feat);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
