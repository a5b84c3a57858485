/*
 * test_llm -- the plugins' language-model client (plugins/common/llm.h)
 * against the fake host's HTTP answer table: both formats, every way an
 * answer is discarded, the circuit breaker on the host's clock, the API
 * key from the environment, embeddings.  The same code runs against a
 * real server of the test suite (tests/llmserver.py) in the plugins'
 * integration test.
 */
#include "llm.h"
#include "lib/fakehost.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

static struct fakehost *fh;

static void setup(void)
{
    fh = fakehost_new(NULL);
    fakehost_set_now(fh, 1000000.0);
}

static void teardown(void)
{
    fakehost_free(&fh);
}

/* {"label": "a"|"b", "score": number 0..1} and nothing else */
static int validate_ab(json_t *v, void *arg, const char **error_r)
{
    (void)arg;
    const char *label = NULL;
    double score = 0;
    json_error_t je;
    static __thread char err[200];
    if (json_unpack_ex(v, &je, JSON_STRICT, "{s:s, s:F}", "label", &label, "score", &score) < 0) {
        snprintf(err, sizeof(err), "%s", je.text);
        *error_r = err;
        return -1;
    }
    if (strcmp(label, "a") != 0 && strcmp(label, "b") != 0) {
        *error_r = "label: not one of a, b";
        return -1;
    }
    if (score < 0 || score > 1) {
        *error_r = "score: not within 0..1";
        return -1;
    }
    return 0;
}

static const struct llm_schema schema = {
    "test",
    "{\"type\": \"object\", \"properties\": {\"label\": {\"type\": \"string\", \"enum\": [\"a\", \"b\"]},"
    " \"score\": {\"type\": \"number\", \"minimum\": 0, \"maximum\": 1}}, \"required\": [\"label\", \"score\"],"
    " \"additionalProperties\": false}",
    validate_ab, NULL
};

static struct llm *make(const char *provider, const char *url)
{
    fakehost_conf_set(fh, "llm", provider);
    fakehost_conf_set(fh, "llm_url", url);
    fakehost_conf_set(fh, "llm_model", "test-model");
    fakehost_conf_set(fh, "llm_embed_model", "test-embed");
    const char *e = NULL;
    struct llm *l = llm_new(fakehost_table(), NULL, "test", &e);
    ck_assert_msg(l != NULL, "%s", e);
    return l;
}

static char *ollama_env(const char *content)
{
    json_t *v = json_pack("{s:s, s:{s:s, s:s}, s:b, s:s}", "model", "test-model", "message", "role", "assistant",
                          "content", content, "done", 1, "done_reason", "stop");
    char *s = json_dumps(v, JSON_COMPACT);
    json_decref(v);
    return s;
}

static char *openai_env(const char *content, const char *refusal, const char *finish)
{
    json_t *v = json_pack("{s:[{s:i, s:s, s:{s:s, s:s?, s:s?}}], s:{s:i}}", "choices", "index", 0,
                          "finish_reason", finish, "message", "role", "assistant", "content", content,
                          "refusal", refusal, "usage", "prompt_tokens", 12);
    char *s = json_dumps(v, JSON_COMPACT);
    json_decref(v);
    return s;
}

START_TEST(ollama_answer_is_validated_and_used)
{
    struct llm *l = make("ollama", "http://llm.test:11434/");
    char *env = ollama_env("{\"label\": \"b\", \"score\": 0.75}");
    fakehost_http_answer(fh, "POST", "http://llm.test:11434/api/chat", 200, env, NULL);
    free(env);
    struct llm_call c;
    ck_assert_int_eq(llm_chat_json(l, NULL, "You classify.", "some text", &schema, &c), 0);
    ck_assert_int_eq(c.outcome, LLM_OK);
    ck_assert_str_eq(json_string_value(json_object_get(c.result, "label")), "b");
    ck_assert_str_eq(c.model, "test-model");
    ck_assert_ptr_nonnull(c.raw);
    ck_assert_ptr_nonnull(strstr(c.raw, "\"done\""));
    /* what went out: the schema as "format", no streaming, temperature 0 */
    ck_assert_int_eq(fakehost_nhttp(fh), 1);
    const struct fakehost_http *r = fakehost_http_at(fh, 0);
    ck_assert_str_eq(r->url, "http://llm.test:11434/api/chat");
    json_t *body = json_loads(r->body, 0, NULL);
    ck_assert_ptr_nonnull(body);
    ck_assert(json_is_false(json_object_get(body, "stream")));
    ck_assert_str_eq(json_string_value(json_object_get(body, "model")), "test-model");
    ck_assert(json_is_object(json_object_get(body, "format")));
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(json_object_get(body, "messages"), 1),
                                                       "content")), "some text");
    ck_assert_int_eq(r->timeout_ms, 20000);
    ck_assert_ptr_null(strstr(r->headers, "Authorization"));
    json_decref(body);
    llm_call_clear(&c);
    ck_assert_double_eq(fakehost_metric(fh, "atum_llm_calls_total", "plugin=\"test\",kind=\"chat\",outcome=\"ok\""), 1);
    /* the call is timed, and every family has its HELP text for /metrics */
    unsigned long long n = 0;
    double sum = -1;
    ck_assert_int_eq(fakehost_histogram(fh, "atum_llm_call_duration_seconds", "plugin=\"test\",kind=\"chat\"", &n, &sum), 1);
    ck_assert_uint_eq(n, 1);
    ck_assert(sum >= 0 && sum < 20);
    ck_assert_ptr_nonnull(fakehost_metric_help(fh, "atum_llm_calls_total"));
    ck_assert_ptr_nonnull(fakehost_metric_help(fh, "atum_llm_call_duration_seconds"));
    ck_assert_ptr_nonnull(fakehost_metric_help(fh, "atum_llm_breaker_open"));
    llm_free(&l);
}
END_TEST

START_TEST(openai_format_and_api_key_from_the_environment)
{
    setenv("ATUM_TEST_LLM_KEY", "sk-secret-123", 1);
    fakehost_conf_set(fh, "llm_api_key_env", "ATUM_TEST_LLM_KEY");
    struct llm *l = make("openai", "https://api.test/v1");
    char *env = openai_env("{\"label\": \"a\", \"score\": 1}", NULL, "stop");
    fakehost_http_answer(fh, "POST", "https://api.test/v1/chat/completions", 200, env, NULL);
    free(env);
    struct llm_call c;
    ck_assert_int_eq(llm_chat_json(l, NULL, "sys", "user", &schema, &c), 0);
    ck_assert_str_eq(json_string_value(json_object_get(c.result, "label")), "a");
    ck_assert_int_eq(json_integer_value(json_object_get(c.usage, "prompt_tokens")), 12);
    const struct fakehost_http *r = fakehost_http_at(fh, 0);
    ck_assert_ptr_nonnull(strstr(r->headers, "Authorization: Bearer sk-secret-123\n"));
    json_t *body = json_loads(r->body, 0, NULL);
    json_t *rf = json_object_get(body, "response_format");
    ck_assert_str_eq(json_string_value(json_object_get(rf, "type")), "json_schema");
    ck_assert(json_is_true(json_object_get(json_object_get(rf, "json_schema"), "strict")));
    json_decref(body);
    /* the key is in no status, error or trace */
    json_t *st = llm_status_json(l);
    char *sts = json_dumps(st, 0);
    ck_assert_ptr_null(strstr(sts, "sk-secret"));
    free(sts);
    json_decref(st);
    llm_call_clear(&c);
    llm_free(&l);
    unsetenv("ATUM_TEST_LLM_KEY");
}
END_TEST

START_TEST(a_base_url_without_v1_gets_it)
{
    struct llm *l = make("openai", "http://gw.test:8080");
    char *env = openai_env("{\"label\": \"a\", \"score\": 0.5}", NULL, "stop");
    fakehost_http_answer(fh, "POST", "http://gw.test:8080/v1/chat/completions", 200, env, NULL);
    free(env);
    struct llm_call c;
    ck_assert_int_eq(llm_chat_json(l, NULL, "sys", "user", &schema, &c), 0);
    llm_call_clear(&c);
    llm_free(&l);
}
END_TEST

/* every way an answer is discarded, and what each is called */
static enum llm_outcome outcome_for(const char *provider, long status, const char *body, const char *transport)
{
    fakehost_http_forget(fh);
    const char *url = strcmp(provider, "ollama") == 0 ? "http://llm.test/api/chat" : "http://llm.test/v1/chat";
    fakehost_http_answer(fh, "POST", url, status, body, transport);
    struct llm *l = make(provider, "http://llm.test");
    struct llm_call c;
    int rc = llm_chat_json(l, NULL, "sys", "user", &schema, &c);
    enum llm_outcome o = c.outcome;
    ck_assert_int_eq(rc, o == LLM_OK ? 0 : -1);
    ck_assert(o == LLM_OK || c.error[0] != '\0');
    ck_assert_ptr_null(o == LLM_OK ? NULL : c.result);
    llm_call_clear(&c);
    llm_free(&l);
    return o;
}

START_TEST(bad_answers_are_discarded)
{
    char *s;
    /* transport and HTTP */
    ck_assert_int_eq(outcome_for("ollama", 0, NULL, "connection refused"), LLM_TRANSPORT);
    ck_assert_int_eq(outcome_for("ollama", 500, "{\"error\": \"boom\"}", NULL), LLM_HTTP);
    ck_assert_int_eq(outcome_for("openai", 429, "{\"error\": {\"message\": \"slow down\"}}", NULL), LLM_HTTP);
    /* malformed envelopes */
    ck_assert_int_eq(outcome_for("ollama", 200, "<html>bad gateway</html>", NULL), LLM_MALFORMED);
    ck_assert_int_eq(outcome_for("ollama", 200, "{\"message\": {\"content\": \"{\\\"label\\\"", NULL), LLM_MALFORMED);
    ck_assert_int_eq(outcome_for("ollama", 200, "[1, 2]", NULL), LLM_MALFORMED);
    ck_assert_int_eq(outcome_for("ollama", 200, "{\"message\": {\"content\": \"{}\"}, \"done\": false}", NULL),
                     LLM_MALFORMED);
    ck_assert_int_eq(outcome_for("openai", 200, "{\"choices\": []}", NULL), LLM_MALFORMED);
    /* the model's text: not JSON, cut off, another JSON value */
    s = ollama_env("Sure! Here is the JSON you asked for: {\"label\": \"a\"}");
    ck_assert_int_eq(outcome_for("ollama", 200, s, NULL), LLM_MALFORMED);
    free(s);
    s = ollama_env("{\"label\": \"a\", \"sco");
    ck_assert_int_eq(outcome_for("ollama", 200, s, NULL), LLM_MALFORMED);
    free(s);
    s = ollama_env("[\"a\"]");
    ck_assert_int_eq(outcome_for("ollama", 200, s, NULL), LLM_MALFORMED);
    free(s);
    s = openai_env("{\"label\": \"a\", \"sc", NULL, "length");
    ck_assert_int_eq(outcome_for("openai", 200, s, NULL), LLM_MALFORMED);
    free(s);
    /* well-formed, wrong schema: extra key, missing key, enum, range, type, duplicate key */
    const char *wrong[] = {
        "{\"label\": \"a\", \"score\": 0.5, \"extra\": 1}", "{\"label\": \"a\"}",
        "{\"label\": \"c\", \"score\": 0.5}", "{\"label\": \"a\", \"score\": 7}",
        "{\"label\": 1, \"score\": 0.5}", "{\"label\": \"a\", \"label\": \"b\", \"score\": 0.5}",
    };
    for (size_t i = 0; i < sizeof(wrong) / sizeof(wrong[0]); i++) {
        s = ollama_env(wrong[i]);
        enum llm_outcome o = outcome_for("ollama", 200, s, NULL);
        ck_assert_msg(o == LLM_INVALID || (i == 5 && o == LLM_MALFORMED), "%s: %s", wrong[i], llm_outcome_name(o));
        free(s);
    }
    /* refusals */
    s = openai_env(NULL, "I can't help with that.", "stop");
    ck_assert_int_eq(outcome_for("openai", 200, s, NULL), LLM_REFUSED);
    free(s);
    s = openai_env(NULL, NULL, "content_filter");
    ck_assert_int_eq(outcome_for("openai", 200, s, NULL), LLM_REFUSED);
    free(s);
}
END_TEST

START_TEST(invalid_utf8_in_the_prompt_is_no_crash)
{
    struct llm *l = make("ollama", "http://llm.test");
    struct llm_call c;
    ck_assert_int_eq(llm_chat_json(l, NULL, "sys", "bad \xff\xfe bytes", &schema, &c), -1);
    ck_assert_int_eq(c.outcome, LLM_MALFORMED);
    ck_assert_int_eq(fakehost_nhttp(fh), 0);
    llm_call_clear(&c);
    llm_free(&l);
}
END_TEST

START_TEST(breaker_opens_probes_and_closes)
{
    fakehost_conf_set(fh, "llm_breaker_failures", "3");
    fakehost_conf_set(fh, "llm_breaker_cooldown_s", "60");
    struct llm *l = make("ollama", "http://llm.test");
    fakehost_http_answer(fh, "POST", "http://llm.test/api/chat", 503, "{\"error\": \"overloaded\"}", NULL);
    struct llm_call c;
    for (int i = 0; i < 3; i++) {
        ck_assert(llm_available(l));
        ck_assert_int_eq(llm_chat_json(l, NULL, "s", "u", &schema, &c), -1);
        ck_assert_int_eq(c.outcome, LLM_HTTP);
        llm_call_clear(&c);
    }
    ck_assert_int_eq(fakehost_nhttp(fh), 3);
    ck_assert(!llm_available(l));
    ck_assert_double_eq(fakehost_metric(fh, "atum_llm_breaker_open", "plugin=\"test\""), 1);
    ck_assert_ptr_nonnull(fakehost_log_find(fh, "circuit breaker open after 3 failed calls"));
    json_t *st = llm_status_json(l);
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(st, "breaker"), "state")), "open");
    json_decref(st);

    /* open: no call goes out */
    ck_assert_int_eq(llm_chat_json(l, NULL, "s", "u", &schema, &c), -1);
    ck_assert_int_eq(c.outcome, LLM_SKIPPED);
    ck_assert_ptr_nonnull(strstr(c.error, "circuit breaker open"));
    llm_call_clear(&c);
    ck_assert_int_eq(fakehost_nhttp(fh), 3);

    /* after the cool-down one probe goes; it fails: open again */
    fakehost_advance(fh, 61);
    ck_assert(llm_available(l));
    st = llm_status_json(l);
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(st, "breaker"), "state")), "half-open");
    json_decref(st);
    ck_assert_int_eq(llm_chat_json(l, NULL, "s", "u", &schema, &c), -1);
    ck_assert_int_eq(c.outcome, LLM_HTTP);
    llm_call_clear(&c);
    ck_assert_int_eq(fakehost_nhttp(fh), 4);
    ck_assert(!llm_available(l));
    fakehost_advance(fh, 30);
    ck_assert_int_eq(llm_chat_json(l, NULL, "s", "u", &schema, &c), -1);
    ck_assert_int_eq(c.outcome, LLM_SKIPPED);
    llm_call_clear(&c);

    /* the server recovers: the next probe closes the breaker */
    fakehost_http_forget(fh);
    char *env = ollama_env("{\"label\": \"a\", \"score\": 0.5}");
    fakehost_http_answer(fh, "POST", "http://llm.test/api/chat", 200, env, NULL);
    free(env);
    fakehost_advance(fh, 31);
    ck_assert_int_eq(llm_chat_json(l, NULL, "s", "u", &schema, &c), 0);
    llm_call_clear(&c);
    ck_assert(llm_available(l));
    ck_assert_double_eq(fakehost_metric(fh, "atum_llm_breaker_open", "plugin=\"test\""), 0);
    st = llm_status_json(l);
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(st, "breaker"), "state")), "closed");
    ck_assert_int_eq(json_integer_value(json_object_get(st, "calls")), 5);   /* skipped calls are no calls */
    ck_assert_int_eq(json_integer_value(json_object_get(st, "failed")), 4);
    json_decref(st);
    /* skipped calls are counted by their outcome but not timed: 5 made */
    ck_assert_double_eq(fakehost_metric(fh, "atum_llm_calls_total", "plugin=\"test\",kind=\"chat\",outcome=\"skipped\""), 2);
    ck_assert_double_eq(fakehost_metric(fh, "atum_llm_calls_total", "plugin=\"test\",kind=\"chat\",outcome=\"http\""), 4);
    unsigned long long made = 0;
    double secs = 0;
    ck_assert_int_eq(fakehost_histogram(fh, "atum_llm_call_duration_seconds", "plugin=\"test\",kind=\"chat\"", &made, &secs), 1);
    ck_assert_uint_eq(made, 5);
    llm_free(&l);

}
END_TEST

START_TEST(refusals_do_not_open_the_breaker)
{
    fakehost_conf_set(fh, "llm_breaker_failures", "2");
    struct llm *l = make("openai", "http://llm.test");
    char *env = openai_env(NULL, "no", "stop");
    fakehost_http_answer(fh, "POST", "http://llm.test/v1/chat/completions", 200, env, NULL);
    free(env);
    struct llm_call c;
    for (int i = 0; i < 4; i++) {
        ck_assert_int_eq(llm_chat_json(l, NULL, "s", "u", &schema, &c), -1);
        ck_assert_int_eq(c.outcome, LLM_REFUSED);
        llm_call_clear(&c);
    }
    ck_assert(llm_available(l));
    llm_free(&l);
}
END_TEST

START_TEST(configuration_errors)
{
    const char *e = NULL;
    fakehost_conf_set(fh, "llm", "gpt");
    ck_assert_ptr_null(llm_new(fakehost_table(), NULL, "test", &e));
    ck_assert_ptr_nonnull(strstr(e, "expected none, ollama or openai"));
    fakehost_conf_set(fh, "llm", "ollama");
    ck_assert_ptr_null(llm_new(fakehost_table(), NULL, "test", &e));
    ck_assert_ptr_nonnull(strstr(e, "llm_url"));
    fakehost_conf_set(fh, "llm_url", "ftp://x");
    ck_assert_ptr_null(llm_new(fakehost_table(), NULL, "test", &e));
    fakehost_conf_set(fh, "llm_url", "http://x");
    ck_assert_ptr_null(llm_new(fakehost_table(), NULL, "test", &e));
    ck_assert_ptr_nonnull(strstr(e, "llm_model"));
    /* none: an object that is off, calls skipped without a request */
    fakehost_conf_set(fh, "llm", "none");
    struct llm *l = llm_new(fakehost_table(), NULL, "test", &e);
    ck_assert_ptr_nonnull(l);
    ck_assert(!llm_chat_enabled(l) && !llm_embed_enabled(l) && !llm_available(l));
    struct llm_call c;
    ck_assert_int_eq(llm_chat_json(l, NULL, "s", "u", &schema, &c), -1);
    ck_assert_int_eq(c.outcome, LLM_SKIPPED);
    llm_call_clear(&c);
    json_t *st = llm_status_json(l);
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(st, "breaker"), "state")), "off");
    json_decref(st);
    ck_assert_int_eq(fakehost_nhttp(fh), 0);
    llm_free(&l);
}
END_TEST

START_TEST(embeddings_both_formats)
{
    fakehost_conf_set(fh, "llm_breaker_failures", "10");
    struct llm *l = make("ollama", "http://llm.test");
    fakehost_http_answer(fh, "POST", "http://llm.test/api/embed", 200,
                         "{\"model\": \"e\", \"embeddings\": [[1, 0, 0], [0, 0.5, 0.5]]}", NULL);
    const char *texts[] = { "one", "two" };
    float *v = NULL;
    int dim = 0;
    struct llm_call c;
    ck_assert_int_eq(llm_embed(l, NULL, texts, 2, &v, &dim, &c), 0);
    ck_assert_int_eq(dim, 3);
    ck_assert(v[0] == 1.0f && v[4] == 0.5f);
    free(v);
    llm_call_clear(&c);
    json_t *body = json_loads(fakehost_http_at(fh, 0)->body, 0, NULL);
    ck_assert_str_eq(json_string_value(json_object_get(body, "model")), "test-embed");
    ck_assert_int_eq(json_array_size(json_object_get(body, "input")), 2);
    json_decref(body);
    ck_assert_double_eq(fakehost_metric(fh, "atum_llm_calls_total", "plugin=\"test\",kind=\"embed\",outcome=\"ok\""), 1);
    llm_free(&l);

    fakehost_http_forget(fh);
    l = make("openai", "http://oa.test");
    fakehost_http_answer(fh, "POST", "http://oa.test/v1/embeddings", 200,
                         "{\"data\": [{\"index\": 1, \"embedding\": [3, 4]}, {\"index\": 0, \"embedding\": [1, 2]}]}", NULL);
    ck_assert_int_eq(llm_embed(l, NULL, texts, 2, &v, &dim, &c), 0);
    ck_assert_int_eq(dim, 2);
    ck_assert(v[0] == 1.0f && v[3] == 4.0f);       /* rows placed by their index */
    free(v);
    llm_call_clear(&c);
    /* unequal lengths, wrong count, a string among the numbers, an index out of range */
    const char *bad[] = {
        "{\"data\": [{\"index\": 0, \"embedding\": [1, 2]}, {\"index\": 1, \"embedding\": [1]}]}",
        "{\"data\": [{\"index\": 0, \"embedding\": [1, 2]}]}",
        "{\"data\": [{\"index\": 0, \"embedding\": [1, \"x\"]}, {\"index\": 1, \"embedding\": [1, 2]}]}",
        "{\"data\": [{\"index\": 0, \"embedding\": [1, 2]}, {\"index\": 9, \"embedding\": [1, 2]}]}",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        fakehost_http_forget(fh);
        fakehost_http_answer(fh, "POST", "http://oa.test/v1/embeddings", 200, bad[i], NULL);
        ck_assert_int_eq(llm_embed(l, NULL, texts, 2, &v, &dim, &c), -1);
        ck_assert_int_eq(c.outcome, LLM_INVALID);
        ck_assert_ptr_null(v);
        llm_call_clear(&c);
    }
    llm_free(&l);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("llm");
    TCase *tc = tcase_create("llm");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, ollama_answer_is_validated_and_used);
    tcase_add_test(tc, openai_format_and_api_key_from_the_environment);
    tcase_add_test(tc, a_base_url_without_v1_gets_it);
    tcase_add_test(tc, bad_answers_are_discarded);
    tcase_add_test(tc, invalid_utf8_in_the_prompt_is_no_crash);
    tcase_add_test(tc, breaker_opens_probes_and_closes);
    tcase_add_test(tc, refusals_do_not_open_the_breaker);
    tcase_add_test(tc, configuration_errors);
    tcase_add_test(tc, embeddings_both_formats);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_set_tap(sr, "-");
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
