/* test_rag -- the rag plugin unit-tested through the fake host, the KB
 * answered from tables: search ranks the right article first, customers
 * never see internal articles, an unrelated question gets "I don't know",
 * suggestions, "this solved it" closes the customer's own ticket; the
 * acknowledgement's block; drafted answers by a language model (cited
 * passages only, discarded answers, no call below the threshold);
 * embeddings; solved tickets indexed; articles created and edited. */
#include "config.h"
#include "lib/fakehost.h"

#include <check.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct fakehost *fh;

static const char *const *kb_override;   /* the next load's articles instead of the default three */
static int kb_override_rows;

static void load_with(const char *const *conf)
{
    char path[1024];
    const char *why = NULL;
    snprintf(path, sizeof(path), "%s/plugins/rag/.libs/rag.so", getenv("ATUM_BUILDDIR"));
    fh = fakehost_new(NULL);
    ck_assert_ptr_nonnull(fh);
    for (size_t i = 0; conf && conf[i]; i += 2)
        fakehost_conf_set(fh, conf[i], conf[i + 1]);
    ck_assert_msg(fakehost_load(fh, path, &why) == 0, "%s", why);
    const char *stamp[] = { "3:x:0:0" };
    fakehost_sql_answer(fh, "FROM kb_questions)", 1, 1, stamp);
    const char *kb[] = {
        "1", "reset-password", "How do I reset my password?",
        "## Web\n\nOpen the login page and click *Forgot password*; a reset link arrives by mail.\n\n"
        "## App\n\nIn the app, tap Settings, then Account, then Reset password.", "en", "t", "0", "",
        "2", "invoice-copy", "Getting a copy of an invoice",
        "Invoices are listed under Billing. Click an invoice to download it as PDF.", "en", "t", "0",
        "where can I download my bill",
        "3", "vpn-internal", "Internal: VPN certificates for staff",
        "Staff renew the VPN certificate every year with the internal tool.", "en", "f", "0", "",
    };
    if (kb_override)
        fakehost_sql_answer(fh, "FROM kb_articles a WHERE a.status = 'published'", 8, kb_override_rows, kb_override);
    kb_override = NULL;
    fakehost_sql_answer(fh, "FROM kb_articles a WHERE a.status = 'published'", 8, 3, kb);
}

static void load(void)
{
    load_with(NULL);
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
    ck_assert(fakehost_metric(fh, "atum_rag_deflections_total", NULL) == 1);
    ck_assert_ptr_nonnull(fakehost_metric_help(fh, "atum_rag_deflections_total"));
}
END_TEST

/* ---- the acknowledgement's block ------------------------------------------------------- */

static void answer_ticket(const char *text)
{
    const char *t[] = { text, "0" };
    fakehost_sql_answer(fh, "FROM tickets t WHERE t.id = $1", 2, 1, t);
}

START_TEST(acknowledgement_lists_articles_that_may_help)
{
    const char *conf[] = { "public_url", "https://help.example.com/", NULL };
    load_with(conf);
    answer_ticket("Cannot log in\nI forgot my password and cannot reset it, please help");
    struct fakehost_response r;
    ck_assert_int_eq(fakehost_mail_block(fh, "ack", 7, &r), 0);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(r.content_type, "text/markdown");
    ck_assert_ptr_nonnull(strstr(r.body, "These articles may help"));
    ck_assert_ptr_nonnull(strstr(r.body, "- [How do I reset my password?]"
                                         "(https://help.example.com/portal/kb/reset-password?ticket=7)"));
    ck_assert_ptr_null(strstr(r.body, "vpn-internal"));          /* never internal articles */
    /* other templates get nothing; neither does a ticket nothing answers */
    ck_assert_int_eq(fakehost_mail_block(fh, "notify_new", 7, &r), 0);
    ck_assert_int_eq(r.status, 0);
    fakehost_free(&fh);
    load_with(conf);
    answer_ticket("Lunch\\nWhat is the capital of Mongolia?");
    ck_assert_int_eq(fakehost_mail_block(fh, "ack", 7, &r), 0);
    ck_assert_int_eq(r.status, 0);
    /* a queue that turned them off */
    fakehost_free(&fh);
    load_with(conf);
    answer_ticket("Cannot log in\nI forgot my password");
    const char *off[] = { "f", "3" };
    fakehost_sql_answer(fh, "FROM rag_settings WHERE queue_id", 2, 1, off);
    ck_assert_int_eq(fakehost_mail_block(fh, "ack", 7, &r), 0);
    ck_assert_int_eq(r.status, 0);
}
END_TEST

START_TEST(markdown_in_titles_is_escaped)
{
    static const char *const kb[] = { "9", "brackets", "Reset [the] password *now*", "Click reset.", "en", "t", "0", "" };
    kb_override = kb;
    kb_override_rows = 1;
    load();
    answer_ticket("reset password now");
    struct fakehost_response r;
    ck_assert_int_eq(fakehost_mail_block(fh, "ack", 3, &r), 0);
    ck_assert_int_eq(r.status, 200);
    ck_assert_ptr_nonnull(strstr(r.body, "[Reset \\[the\\] password \\*now\\*]"));
}
END_TEST

/* ---- drafted answers ---------------------------------------------------------------- */

static const char *const llm_conf[] = { "llm", "ollama", "llm_url", "http://llm.test", "llm_model", "tiny", NULL };

static void llm_answers(const char *content)
{
    json_t *v = json_pack("{s:{s:s, s:s}, s:b, s:s}", "message", "role", "assistant", "content", content, "done", 1,
                          "done_reason", "stop");
    char *body = json_dumps(v, JSON_COMPACT);
    fakehost_http_forget(fh);
    fakehost_http_answer(fh, "POST", "http://llm.test/api/chat", 200, body, NULL);
    free(body);
    json_decref(v);
}

static void answer_run(const char *question)
{
    json_t *in = json_pack("{s:s, s:s, s:b, s:i}", "question", question, "language", "en", "staff", 1, "queue_id", 0);
    char *s = json_dumps(in, JSON_COMPACT);
    const char *cells[] = { s };
    fakehost_sql_answer(fh, "SELECT input::text FROM rag_runs WHERE id", 1, 1, cells);
    free(s);
    json_decref(in);
}

static const struct fakehost_sql *update_of_run(void)
{
    const struct fakehost_sql *u = fakehost_sql_find(fh, "UPDATE rag_runs SET method");
    ck_assert_ptr_nonnull(u);
    ck_assert(u->in_tx);
    return u;
}

START_TEST(a_draft_is_a_job_and_cites_retrieved_passages_only)
{
    load_with(llm_conf);
    const char *id[] = { "5" };
    fakehost_sql_answer(fh, "INSERT INTO rag_runs", 1, 1, id);
    struct fakehost_response r;
    ck_assert_int_eq(fakehost_route(fh, "POST", "/drafts", NULL, "{\"question\": \"how do I reset my password\"}", 4,
                                    ATUM_ROLE_AGENT, &r), 0);
    ck_assert_int_eq(r.status, 202);
    ck_assert_ptr_nonnull(strstr(r.body, "\"run_id\":5"));
    ck_assert_int_eq(fakehost_nhttp(fh), 0);                 /* never on the web thread */
    ck_assert_int_eq(fakehost_nenqueued(fh), 1);
    ck_assert_str_eq(fakehost_enqueued_at(fh, 0)->kind, "rag.answer");

    answer_run("how do I reset my password");
    llm_answers("{\"answered\": true, \"answer\": \"Use Forgot password on the login page [1].\", \"citations\": [1]}");
    struct fakehost_job_result res;
    ck_assert_int_eq(fakehost_run_job(fh, "rag.answer", "{\"run_id\": 5}", 1, &res), 0);
    ck_assert_int_eq(res.status, ATUM_JOB_DONE);
    ck_assert(res.completed_in_tx);
    ck_assert_int_ge(res.lease_extended, 20);
    ck_assert_int_eq(fakehost_nhttp(fh), 1);
    ck_assert_ptr_nonnull(strstr(fakehost_http_at(fh, 0)->body, "[1] How do I reset my password? -- "));  /* the passage */
    const struct fakehost_sql *u = update_of_run();
    ck_assert_str_eq(u->params[1], "llm:tiny");
    ck_assert_str_eq(u->params[2], "ok");
    ck_assert_ptr_nonnull(strstr(u->params[5], "\"answered\":true"));
    ck_assert_ptr_nonnull(strstr(u->params[5], "\"slug\":\"reset-password\""));
    ck_assert_ptr_nonnull(strstr(u->params[4], "\"done\":true"));     /* the raw answer */
}
END_TEST

START_TEST(an_answer_citing_what_was_not_given_is_discarded)
{
    static const char *const bad[] = {
        "{\"answered\": true, \"answer\": \"See [7].\", \"citations\": [7]}",
        "{\"answered\": true, \"answer\": \"See [1] and [4].\", \"citations\": [1]}",
        "{\"answered\": true, \"answer\": \"Just do it.\", \"citations\": []}",
        "{\"answered\": true, \"answer\": \"ok [1]\", \"citations\": [1], \"confidence\": 1}",
        "{\"answered\": \"yes\", \"answer\": \"ok [1]\", \"citations\": [1]}",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        load_with(llm_conf);
        answer_run("how do I reset my password");
        llm_answers(bad[i]);
        struct fakehost_job_result res;
        ck_assert_int_eq(fakehost_run_job(fh, "rag.answer", "{\"run_id\": 5}", 1, &res), 0);
        ck_assert_int_eq(res.status, ATUM_JOB_DONE);
        const struct fakehost_sql *u = update_of_run();
        ck_assert_str_eq(u->params[1], "local");
        ck_assert_str_eq(u->params[2], "invalid");
        ck_assert_ptr_nonnull(u->params[6]);
        /* the passages still answer, without the model's text */
        ck_assert_ptr_nonnull(strstr(u->params[5], "\"answer\":null"));
        ck_assert_ptr_nonnull(strstr(u->params[5], "reset-password"));
        fakehost_free(&fh);
    }
}
END_TEST

START_TEST(no_passage_above_the_threshold_is_i_dont_know_without_a_call)
{
    load_with(llm_conf);
    answer_run("what is the capital of mongolia");
    llm_answers("{\"answered\": true, \"answer\": \"Ulaanbaatar [1].\", \"citations\": [1]}");
    struct fakehost_job_result res;
    ck_assert_int_eq(fakehost_run_job(fh, "rag.answer", "{\"run_id\": 5}", 1, &res), 0);
    ck_assert_int_eq(fakehost_nhttp(fh), 0);
    const struct fakehost_sql *u = update_of_run();
    ck_assert_str_eq(u->params[1], "local");
    ck_assert_ptr_nonnull(strstr(u->params[5], "\"answered\":false"));
    ck_assert_ptr_nonnull(strstr(u->params[5], "I don't know"));
    /* the model may also say it does not know */
    fakehost_free(&fh);
    load_with(llm_conf);
    answer_run("how do I reset my password");
    llm_answers("{\"answered\": false, \"answer\": \"I don't know.\", \"citations\": []}");
    ck_assert_int_eq(fakehost_run_job(fh, "rag.answer", "{\"run_id\": 5}", 1, &res), 0);
    u = update_of_run();
    ck_assert_str_eq(u->params[1], "llm:tiny");
    ck_assert_ptr_nonnull(strstr(u->params[5], "\"answered\":false"));
}
END_TEST

START_TEST(customers_draft_only_about_their_own_tickets)
{
    load_with(llm_conf);
    struct fakehost_response r;
    ck_assert_int_eq(fakehost_route(fh, "POST", "/drafts", NULL, "{\"question\": \"password\", \"ticket_id\": 8}", 4,
                                    ATUM_ROLE_CUSTOMER, &r), 0);
    ck_assert_int_eq(r.status, 404);
    ck_assert_int_eq(fakehost_route(fh, "POST", "/drafts", NULL, "{\"q\": \"password\"}", 4, ATUM_ROLE_CUSTOMER, &r), 0);
    ck_assert_int_eq(r.status, 400);
    ck_assert_int_eq(fakehost_nenqueued(fh), 0);
}
END_TEST

/* ---- embeddings, solved tickets, articles --------------------------------------------- */

START_TEST(embeddings_are_computed_by_a_job)
{
    const char *conf[] = { "llm", "ollama", "llm_url", "http://llm.test", "llm_embed_model", "emb", NULL };
    load_with(conf);
    /* 4 passages: reset-password (Web, App), invoice-copy, vpn-internal */
    fakehost_http_answer(fh, "POST", "http://llm.test/api/embed", 200,
                         "{\"embeddings\": [[1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 1, 0]]}", NULL);
    struct fakehost_job_result res;
    ck_assert_int_eq(fakehost_run_job(fh, "rag.embed", "{}", 1, &res), 0);
    ck_assert_int_eq(res.status, ATUM_JOB_DONE);
    size_t inserts = 0;
    for (size_t i = 0; i < fakehost_nsql(fh); i++) {
        const struct fakehost_sql *q = fakehost_sql_at(fh, i);
        if (strstr(q->sql, "INSERT INTO rag_embeddings")) {
            inserts++;
            ck_assert_str_eq(q->params[3], "emb");
            ck_assert_str_eq(q->params[4], "3");
            ck_assert_int_eq(strlen(q->params[6]), 24);   /* 3 float32 as hex */
        }
    }
    ck_assert_int_eq(inserts, 4);
    ck_assert_double_eq(fakehost_metric(fh, "atum_rag_embedded_passages_total", NULL), 4);
    /* a server that fails: the job retries, nothing half-stored */
    fakehost_free(&fh);
    load_with(conf);
    fakehost_http_answer(fh, "POST", "http://llm.test/api/embed", 503, "{\"error\": \"loading\"}", NULL);
    ck_assert_int_eq(fakehost_run_job(fh, "rag.embed", "{}", 1, &res), 0);
    ck_assert_int_eq(res.status, ATUM_JOB_RETRY);
    ck_assert_ptr_null(fakehost_sql_find(fh, "INSERT INTO rag_embeddings"));
}
END_TEST

START_TEST(a_solved_ticket_is_indexed)
{
    load();
    struct fakehost_job_result res;
    ck_assert_int_eq(fakehost_run_hook(fh, "ticket.updated",
                                       "{\"ticket_id\": 9, \"changes\": {\"priority\": {\"from\": \"low\", \"to\": \"high\"}}}",
                                       &res), 0);
    ck_assert_int_eq(res.status, ATUM_JOB_DONE);
    ck_assert_ptr_null(fakehost_sql_find(fh, "rag_ticket_docs"));
    const char *ans[] = { "See https://help.example.com/portal/kb/reset-password" };
    fakehost_sql_answer(fh, "INSERT INTO rag_ticket_docs", 1, 1, ans);
    ck_assert_int_eq(fakehost_run_hook(fh, "ticket.updated",
                                       "{\"ticket_id\": 9, \"changes\": {\"status\": {\"from\": \"open\", \"to\": \"solved\"}}}",
                                       &res), 0);
    ck_assert_int_eq(res.status, ATUM_JOB_DONE);
    ck_assert(res.completed_in_tx);
    ck_assert_str_eq(fakehost_sql_find(fh, "INSERT INTO rag_ticket_docs")->params[0], "9");
    ck_assert_ptr_nonnull(fakehost_sql_find(fh, "INSERT INTO kb_questions"));
}
END_TEST

START_TEST(an_article_is_rendered_for_readers_without_raw_html)
{
    load();
    const char *art[] = { "{\"id\":5,\"slug\":\"reset\",\"title\":\"Reset\",\"body\":\"## Steps\\n\\n1. Open *Settings*"
                          "\\n\\n<script>alert(1)</script>\\n\\n[x](javascript:alert(2))\"}" };
    fakehost_sql_answer(fh, "FROM kb_articles a LEFT JOIN kb_categories", 1, 1, art);
    struct fakehost_response r;
    ck_assert_int_eq(fakehost_route(fh, "GET", "/article", "slug=reset", NULL, 0, ATUM_ROLE_NONE, &r), 0);
    ck_assert_int_eq(r.status, 200);
    json_t *a = json_loads(r.body, 0, NULL);
    ck_assert_ptr_nonnull(a);
    const char *html = json_string_value(json_object_get(a, "html"));
    ck_assert_ptr_nonnull(html);
    ck_assert_ptr_nonnull(strstr(html, "<h2>Steps</h2>"));
    ck_assert_ptr_nonnull(strstr(html, "<em>Settings</em>"));
    ck_assert_ptr_null(strstr(html, "<script"));
    ck_assert_ptr_null(strstr(html, "javascript:"));
    ck_assert_ptr_nonnull(strstr(json_string_value(json_object_get(a, "body")), "<script>"));   /* the source as written */
    json_decref(a);
    /* the visibility rule is a parameter: anonymous callers ask for public, published ones */
    const struct fakehost_sql *q = fakehost_sql_find(fh, "FROM kb_articles a LEFT JOIN kb_categories");
    ck_assert_str_eq(q->params[2], "f");
}
END_TEST

/* The page's title is the only first-level heading; the related articles
 * are ranked on the title and tags, never the article itself, and never
 * one the caller may not see. */
START_TEST(an_article_has_related_ones_the_caller_may_see)
{
    load();
    const char *art[] = { "{\"id\":9,\"slug\":\"vpn-password\",\"title\":\"Reset the VPN password\","
                          "\"tags\":[\"vpn\",\"certificate\"],\"body\":\"# Steps\\n\\nAsk us.\"}" };
    fakehost_sql_answer(fh, "FROM kb_articles a LEFT JOIN kb_categories", 1, 1, art);
    struct fakehost_response r;
    ck_assert_int_eq(fakehost_route(fh, "GET", "/article", "slug=vpn-password", NULL, 0, ATUM_ROLE_NONE, &r), 0);
    ck_assert_int_eq(r.status, 200);
    json_t *a = json_loads(r.body, 0, NULL);
    ck_assert_ptr_nonnull(a);
    const char *html = json_string_value(json_object_get(a, "html"));
    ck_assert_ptr_nonnull(strstr(html, "<h2>Steps</h2>"));
    ck_assert_ptr_null(strstr(html, "<h1"));
    json_t *rel = json_object_get(a, "related");
    ck_assert(json_is_array(rel));
    ck_assert_msg(json_array_size(rel) >= 1, "%s", r.body);
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(rel, 0), "slug")), "reset-password");
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(rel, 0), "link")), "/portal/kb/reset-password");
    ck_assert_msg(strstr(r.body, "vpn-internal") == NULL, "an internal article is related for the public: %s", r.body);
    json_decref(a);
    /* staff see the internal one related too */
    ck_assert_int_eq(fakehost_route(fh, "GET", "/article", "slug=vpn-password", NULL, 0, ATUM_ROLE_AGENT, &r), 0);
    ck_assert_msg(strstr(r.body, "vpn-internal") != NULL, "%s", r.body);
    /* an article is never related to itself (the first answer wins: a new host) */
    teardown();
    load();
    const char *self[] = { "{\"id\":1,\"slug\":\"reset-password\",\"title\":\"How do I reset my password?\","
                           "\"body\":\"x\"}" };
    fakehost_sql_answer(fh, "FROM kb_articles a LEFT JOIN kb_categories", 1, 1, self);
    ck_assert_int_eq(fakehost_route(fh, "GET", "/article", "slug=reset-password", NULL, 0, ATUM_ROLE_NONE, &r), 0);
    ck_assert_int_eq(r.status, 200);
    a = json_loads(r.body, 0, NULL);
    rel = json_object_get(a, "related");
    for (size_t i = 0; i < json_array_size(rel); i++)
        ck_assert_int_ne(json_integer_value(json_object_get(json_array_get(rel, i), "id")), 1);
    json_decref(a);
}
END_TEST

START_TEST(articles_are_created_and_edited_with_revisions)
{
    load();
    const char *id[] = { "4" };
    fakehost_sql_answer(fh, "INSERT INTO kb_articles", 1, 1, id);
    const char *art[] = { "{\"id\":4,\"slug\":\"printer-on-fire\",\"version\":1}" };
    fakehost_sql_answer(fh, "FROM kb_articles a WHERE a.id = $1", 1, 1, art);
    struct fakehost_response r;
    ck_assert_int_eq(fakehost_route(fh, "POST", "/articles", NULL,
                                    "{\"title\": \"Printer on fire?\", \"body\": \"Unplug it.\", \"tags\": [\"printer\"]}",
                                    1, ATUM_ROLE_ADMIN, &r), 0);
    ck_assert_int_eq(r.status, 201);
    const struct fakehost_sql *ins = fakehost_sql_find(fh, "INSERT INTO kb_articles");
    ck_assert_str_eq(ins->params[0], "printer-on-fire");
    ck_assert_str_eq(ins->params[3], "printer");
    ck_assert_ptr_nonnull(fakehost_sql_find(fh, "INSERT INTO kb_revisions"));
    /* a bad body, and an edit that crosses a newer version */
    ck_assert_int_eq(fakehost_route(fh, "POST", "/articles", NULL, "{\"title\": \"\", \"body\": \"x\"}", 1,
                                    ATUM_ROLE_ADMIN, &r), 0);
    ck_assert_int_eq(r.status, 400);
    const char *ver[] = { "3" };
    fakehost_sql_answer(fh, "SELECT version FROM kb_articles", 1, 1, ver);
    ck_assert_int_eq(fakehost_route(fh, "PUT", "/article", "id=4", "{\"version\": 1, \"title\": \"New\"}", 1,
                                    ATUM_ROLE_ADMIN, &r), 0);
    ck_assert_int_eq(r.status, 409);
    ck_assert_ptr_nonnull(strstr(r.body, "version is now 3"));
}
END_TEST

int main(void)
{
    Suite *s = suite_create("rag");
    TCase *tc = tcase_create("plugin");
    tcase_add_checked_fixture(tc, NULL, teardown);
    tcase_add_test(tc, search_ranks_the_right_article_first);
    tcase_add_test(tc, internal_articles_only_for_staff);
    tcase_add_test(tc, an_article_has_related_ones_the_caller_may_see);
    tcase_add_test(tc, unrelated_question_gets_i_dont_know);
    tcase_add_test(tc, solved_closes_the_customers_ticket);
    tcase_add_test(tc, acknowledgement_lists_articles_that_may_help);
    tcase_add_test(tc, markdown_in_titles_is_escaped);
    tcase_add_test(tc, a_draft_is_a_job_and_cites_retrieved_passages_only);
    tcase_add_test(tc, an_answer_citing_what_was_not_given_is_discarded);
    tcase_add_test(tc, no_passage_above_the_threshold_is_i_dont_know_without_a_call);
    tcase_add_test(tc, customers_draft_only_about_their_own_tickets);
    tcase_add_test(tc, embeddings_are_computed_by_a_job);
    tcase_add_test(tc, a_solved_ticket_is_indexed);
    tcase_add_test(tc, an_article_is_rendered_for_readers_without_raw_html);
    tcase_add_test(tc, articles_are_created_and_edited_with_revisions);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
