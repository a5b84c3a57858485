/* test_plugin_pg -- real plugins in a real host: load and refusal, their
 * migrations, a job kind, hook delivery, HTTP routes and reload, and the
 * host's enqueue, emit and HTTP client as a plugin uses them. */
#include "config.h"
#include "core/core_jobs.h"
#include "core/dbpool.h"
#include "core/event.h"
#include "lib/httpc.h"
#include "core/jobs.h"
#include "core/runtime.h"
#include "core/runtime_load.h"
#include "mailout/outbox.h"
#include "mailout/mailout_conf.h"
#include "web/web_conf.h"
#include "testdb.h"
#include "lib/util.h"
#include "web/server.h"
#include "core/worker.h"

#include <curl/curl.h>
#include <time.h>
#include <unistd.h>

static struct db_conn *db;
static struct runtime rt;
static struct atum_config *cfg;
static char conf_path[64];

static void sleep_ms(long ms)
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000 };
    nanosleep(&ts, NULL);
}

static struct atum_config *load_conf(const char *extra)
{
    const char *dir = getenv("ATUM_TEST_PLUGIN_DIR");
    snprintf(conf_path, sizeof(conf_path), "/tmp/atum-plugconf-XXXXXX");
    int fd = mkstemp(conf_path);
    FILE *f = fdopen(fd, "w");
    fprintf(f, "[core]\nplugin_dir = %s\n", dir);
    fputs(extra, f);
    fclose(f);
    const char *e = NULL;
    conf_declare(&web_conf_table);
    conf_declare(&mailout_conf_table);
    struct atum_config *c = conf_load(conf_path, &e);
    ck_assert_msg(c != NULL, "%s", e);
    unlink(conf_path);
    return c;
}

static const char all_plugins[] =
    "[plugin.testplug]\ngreeting = bonjour\n"
    "[plugin.badabi]\n"
    "[plugin.nosym]\n"
    "[plugin.failinit]\n"
    "[plugin.dupkind]\n"
    "[plugin.missing]\n"
    "[plugin.off]\nenabled = no\n";

static void setup(void)
{
    const char *e = NULL;
    db = testdb_connect();
    testdb_exec(db, "TRUNCATE jobs, job_archive");
    cfg = load_conf(all_plugins);
    runtime_init(&rt);
    runtime_add_registrar(&rt, core_jobs_register, NULL);
    runtime_add_registrar(&rt, outbox_register, NULL);
    ck_assert_msg(runtime_load(&rt, cfg, db, &e) == 0, "%s", e);
}

static void teardown(void)
{
    runtime_destroy(&rt);
    conf_free(&cfg);
    db_conn_free(&db);
}

static const struct plugin_instance *find(const char *name)
{
    const struct plugin_instance *pi = plugin_set_find(&rt.plugins, name);
    ck_assert_msg(pi != NULL, "no plugin %s in the set", name);
    return pi;
}

START_TEST(load_and_refuse)
{
    ck_assert_int_eq(rt.plugins.n, 7);
    ck_assert_int_eq(find("testplug")->state, PLUGIN_LOADED);
    ck_assert_int_eq(find("off")->state, PLUGIN_DISABLED);
    const struct { const char *name, *why; } refused[] = {
        { "badabi", "plugin ABI 999" },
        { "nosym", "does not export atum_plugin_entry()" },
        { "failinit", "init() failed" },
        { "dupkind", "job kind 'core.noop' is already registered by core" },
        { "missing", "dlopen:" },
    };
    for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
        const struct plugin_instance *pi = find(refused[i].name);
        ck_assert_int_eq(pi->state, PLUGIN_REFUSED);
        ck_assert_msg(strstr(pi->reason, refused[i].why) != NULL, "%s: '%s'", refused[i].name, pi->reason);
    }
    /* the host runs on: core and testplug kinds are there, dupkind's not */
    ck_assert_ptr_nonnull(jobkind_find(&rt.kinds, "core.noop"));
    ck_assert_str_eq(jobkind_find(&rt.kinds, "core.noop")->owner, "core");
    ck_assert_ptr_nonnull(jobkind_find(&rt.kinds, "testplug.work"));
    ck_assert_ptr_nonnull(jobkind_find(&rt.kinds, "hook.testplug.ticket.created"));
}
END_TEST

START_TEST(plugin_migration_applied_once)
{
    ck_assert_int_eq(testdb_int(db, "SELECT count(*) FROM schema_migrations WHERE component = 'testplug'"), 1);
    ck_assert_int_eq(testdb_int(db, "SELECT count(*) FROM pg_tables WHERE tablename = 'testplug_runs'"), 1);
    /* loading again (a reload) applies nothing new */
    const char *e = NULL;
    ck_assert_int_eq(runtime_reload(&rt, cfg, db, &e), 0);
    ck_assert_int_eq(testdb_int(db, "SELECT count(*) FROM schema_migrations WHERE component = 'testplug'"), 1);
    ck_assert_int_eq(find("testplug")->state, PLUGIN_LOADED);
}
END_TEST

START_TEST(unknown_plugin_key_refused)
{
    const char *e = NULL;
    struct atum_config *c = load_conf("[plugin.testplug]\ngreting = typo\n");
    struct runtime r2;
    runtime_init(&r2);
    ck_assert_int_eq(runtime_load(&r2, c, db, &e), 0);
    const struct plugin_instance *pi = plugin_set_find(&r2.plugins, "testplug");
    ck_assert_int_eq(pi->state, PLUGIN_REFUSED);
    ck_assert_msg(strstr(pi->reason, ":4: unknown key 'greting' in [plugin.testplug]") != NULL, "%s", pi->reason);
    runtime_destroy(&r2);
    conf_free(&c);
}
END_TEST

static struct worker_pool *start_pool(void)
{
    const char *e = NULL;
    struct worker_opts o = {
        .db = testdb_params("plugin-worker"), .node_id = "plugtest", .nworkers = 2,
        .batch_size = 8, .lease_ms = 60000, .poll_interval_ms = 200, .backoff_max_ms = 60000,
        .keep_done = true,
    };
    struct worker_pool *p = NULL;
    ck_assert_msg(worker_pool_start(&p, &o, &rt, &e) == 0, "%s", e);
    return p;
}

static long long wait_for(const char *sql, long long want)
{
    long long v = -1, t0 = time_mono_ms();
    while (time_mono_ms() - t0 < 20000) {
        if ((v = testdb_int(db, sql)) == want)
            break;
        sleep_ms(20);
    }
    return v;
}

START_TEST(job_kind_and_hooks_run)
{
    const char *e = NULL;
    testdb_exec(db, "TRUNCATE testplug_runs, testplug_events");
    struct worker_pool *p = start_pool();
    struct atum_job_spec plain = { .kind = "testplug.work", .payload = "{}" };
    struct atum_job_spec flaky = { .kind = "testplug.work", .payload = "{\"fail_times\": 2}" };
    struct atum_job_spec perm = { .kind = "testplug.work", .payload = "{\"permanent\": true}" };
    struct atum_job_spec intx = { .kind = "testplug.work", .payload = "{\"in_tx\": true}" };
    ck_assert_int_eq(jobs_enqueue(db, &plain, NULL, &e), 0);
    ck_assert_int_eq(jobs_enqueue(db, &flaky, NULL, &e), 0);
    ck_assert_int_eq(jobs_enqueue(db, &perm, NULL, &e), 0);
    ck_assert_int_eq(jobs_enqueue(db, &intx, NULL, &e), 0);
    runtime_rdlock(&rt);
    ck_assert_int_eq(db_begin(db, &e), 0);
    ck_assert_int_eq(event_emit(&rt, db, "ticket.created", "{\"ticket_id\": 5, \"subject\": \"help\"}", &e), 0);
    ck_assert_int_eq(db_commit(db, &e), 0);
    runtime_rdunlock(&rt);

    ck_assert_int_eq(wait_for("SELECT count(*) FROM testplug_events", 1), 1);
    ck_assert_int_eq(wait_for("SELECT count(*) FROM job_archive WHERE kind = 'testplug.work'", 3), 3);
    ck_assert_int_eq(wait_for("SELECT count(*) FROM jobs WHERE state = 'dead'", 1), 1);
    ck_assert_int_eq(worker_pool_stop(&p, 5000), 0);

    ck_assert_int_eq(testdb_int(db, "SELECT count(*) FROM testplug_events"
                                    " WHERE payload->'data'->>'subject' = 'help'"), 1);
    /* the flaky job ran 3 times and recorded its success once */
    ck_assert_int_eq(testdb_int(db, "SELECT count(*) FROM testplug_runs WHERE attempt = 3"), 1);
    ck_assert_int_eq(testdb_int(db, "SELECT count(*) FROM testplug_runs"), 2 + 0 + 1);
    char *why = testdb_str(db, "SELECT last_error FROM jobs WHERE state = 'dead'");
    ck_assert_str_eq(why, "planned permanent failure");
    free(why);
}
END_TEST

/* ---- HTTP ------------------------------------------------------------- */

struct reply {
    long status;
    struct strbuf body;
    struct strbuf headers;
};

static size_t on_body(char *p, size_t s, size_t n, void *arg)
{
    strbuf_add(arg, p, s * n);
    return s * n;
}

static struct reply http(int port, const char *method, const char *path, const char *body, size_t len)
{
    struct reply r = { 0, STRBUF_INIT, STRBUF_INIT };
    char url[256];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", port, path);
    CURL *h = curl_easy_init();
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &r.body);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, &r.headers);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, 10L);
    if (body) {
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)len);
    }
    ck_assert_int_eq(curl_easy_perform(h), CURLE_OK);
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r.status);
    curl_easy_cleanup(h);
    return r;
}

static void reply_free(struct reply *r)
{
    strbuf_free(&r->body);
    strbuf_free(&r->headers);
}

START_TEST(routes_over_http)
{
    const char *e = NULL;
    struct db_params pp = testdb_params("web");
    struct db_pool *pool = db_pool_new(&pp, 2);
    struct web_server *ws = NULL;
    free(cfg->secret_key);
    cfg->secret_key = strdup("test-secret-0123456789abcdef0123456789");
    struct web_opts wo = { "127.0.0.1:0", 4, 1024, 10000, "plugtest", cfg, 5000 };
    ck_assert_msg(web_start(&ws, &wo, &rt, pool, &e) == 0, "%s", e);
    int port = web_port(ws);
    ck_assert_int_gt(port, 0);

    struct reply r = http(port, "GET", "/api/v1/plugins/testplug/hello", NULL, 0);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(r.body.s, "{\"greeting\":\"bonjour\"}");
    ck_assert_ptr_nonnull(strstr(r.headers.s, "X-Content-Type-Options: nosniff"));
    ck_assert_ptr_nonnull(strstr(r.headers.s, "frame-ancestors 'none'"));
    reply_free(&r);

    r = http(port, "POST", "/api/v1/plugins/testplug/echo", "ping\0pong", 9);
    ck_assert_int_eq(r.status, 200);
    ck_assert_uint_eq(r.body.len, 9);
    ck_assert_int_eq(memcmp(r.body.s, "ping\0pong", 9), 0);
    reply_free(&r);

    /* the plugin reaches its own tables through the host */
    r = http(port, "GET", "/api/v1/plugins/testplug/events", NULL, 0);
    ck_assert_int_eq(r.status, 200);
    ck_assert_ptr_nonnull(strstr(r.body.s, "\"events\":"));
    reply_free(&r);

    static char big[2048];
    memset(big, 'x', sizeof(big));
    r = http(port, "POST", "/api/v1/plugins/testplug/echo", big, sizeof(big));
    ck_assert_int_eq(r.status, 413);
    ck_assert_ptr_nonnull(strstr(r.headers.s, "application/problem+json"));
    reply_free(&r);

    const struct { const char *method, *path; long status; } errs[] = {
        { "DELETE", "/api/v1/plugins/testplug/hello", 405 },
        { "GET", "/api/v1/plugins/testplug/nope", 404 },
        { "GET", "/api/v1/plugins/badabi/hello", 404 },
        { "GET", "/api/v1/plugins/off/hello", 404 },
        { "GET", "/api/v1/plugins/", 404 },
        { "GET", "/api/v1/plugins/testplug/secret", 401 },
        { "GET", "/no/such/page", 404 },
        { "GET", "/healthz", 200 },
        { "GET", "/readyz", 200 },
        { "POST", "/healthz", 405 },
        { "GET", "/", 302 },          /* to the desk */
        { "GET", "/status", 200 },
    };
    for (size_t i = 0; i < sizeof(errs) / sizeof(errs[0]); i++) {
        r = http(port, errs[i].method, errs[i].path, NULL, 0);
        ck_assert_msg(r.status == errs[i].status, "%s %s: %ld, want %ld", errs[i].method,
                      errs[i].path, r.status, errs[i].status);
        reply_free(&r);
    }

    /* reload without the plugin: its routes are gone, the server stays */
    struct atum_config *c2 = load_conf("[plugin.testplug]\nenabled = no\n");
    ck_assert_int_eq(runtime_reload(&rt, c2, db, &e), 0);
    r = http(port, "GET", "/api/v1/plugins/testplug/hello", NULL, 0);
    ck_assert_int_eq(r.status, 404);
    reply_free(&r);
    ck_assert_ptr_null(jobkind_find(&rt.kinds, "testplug.work"));
    ck_assert_ptr_nonnull(jobkind_find(&rt.kinds, "core.noop"));
    /* and back */
    ck_assert_int_eq(runtime_reload(&rt, cfg, db, &e), 0);
    r = http(port, "GET", "/api/v1/plugins/testplug/hello", NULL, 0);
    ck_assert_int_eq(r.status, 200);
    reply_free(&r);
    conf_free(&c2);

    web_stop(&ws);
    db_pool_free(&pool);
}
END_TEST

/* host->enqueue, host->emit and host->http used by a plugin's job: the
 * HTTP calls go to the plugin's own routes on a web server in this process
 * (and to a port where nothing listens). */
START_TEST(host_enqueue_emit_http)
{
    const char *e = NULL;
    testdb_exec(db, "TRUNCATE testplug_runs, testplug_events");
    struct db_params pp = testdb_params("web");
    struct db_pool *pool = db_pool_new(&pp, 2);
    struct web_server *ws = NULL;
    free(cfg->secret_key);
    cfg->secret_key = strdup("test-secret-0123456789abcdef0123456789");
    struct web_opts wo = { "127.0.0.1:0", 4, 1024, 10000, "plugtest", cfg, 5000 };
    ck_assert_msg(web_start(&ws, &wo, &rt, pool, &e) == 0, "%s", e);
    int port = web_port(ws);
    struct worker_pool *p = start_pool();

    char get[256], post[256], sql[512];
    snprintf(get, sizeof(get), "{\"fetch\": \"http://127.0.0.1:%d/api/v1/plugins/testplug/hello\"}", port);
    snprintf(post, sizeof(post), "{\"fetch\": \"http://127.0.0.1:%d/api/v1/plugins/testplug/echo\","
             " \"post\": \"ping\"}", port);
    struct atum_job_spec jobs[] = {
        { .kind = "testplug.work", .payload = "{\"spawn\": true, \"emit\": true, \"in_tx\": true}" },
        { .kind = "testplug.work", .payload = get },
        { .kind = "testplug.work", .payload = post },
        { .kind = "testplug.work", .payload = "{\"fetch\": \"http://127.0.0.1:1/\"}" },
    };
    long long parent = 0;
    for (size_t i = 0; i < sizeof(jobs) / sizeof(jobs[0]); i++)
        ck_assert_msg(jobs_enqueue(db, &jobs[i], i == 0 ? &parent : NULL, &e) == 0, "%s", e);

    /* four jobs, the spawned child, and the hook run of the emitted event */
    ck_assert_int_eq(wait_for("SELECT count(*) FROM job_archive WHERE kind = 'testplug.work'", 5), 5);
    ck_assert_int_eq(wait_for("SELECT count(*) FROM testplug_events WHERE event = 'ticket.created'", 1), 1);
    ck_assert_int_eq(worker_pool_stop(&p, 5000), 0);
    web_stop(&ws);
    db_pool_free(&pool);

    ck_assert_int_eq(testdb_int(db, "SELECT count(*) FROM testplug_runs"), 5);
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM job_archive WHERE kind = 'testplug.work'"
             " AND payload->>'spawned_by' = '%lld'", parent);
    ck_assert_int_eq(testdb_int(db, sql), 1);
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM testplug_events WHERE event = 'ticket.created'"
             " AND payload->>'event' = 'ticket.created' AND payload->'data'->>'from' = 'testplug'"
             " AND payload->'data'->>'job' = '%lld'", parent);
    ck_assert_int_eq(testdb_int(db, sql), 1);

    ck_assert_int_eq(testdb_int(db, "SELECT count(*) FROM testplug_events WHERE event = 'http'"), 3);
    char *v = testdb_str(db, "SELECT (payload->>'status') || ' ' || (payload->>'body') FROM testplug_events"
                             " WHERE event = 'http' AND payload->>'url' LIKE '%/hello'");
    ck_assert_str_eq(v, "200 {\"greeting\":\"bonjour\"}");
    free(v);
    v = testdb_str(db, "SELECT (payload->>'status') || ' ' || (payload->>'body') FROM testplug_events"
                       " WHERE event = 'http' AND payload->>'url' LIKE '%/echo'");
    ck_assert_str_eq(v, "200 ping");
    free(v);
    v = testdb_str(db, "SELECT coalesce(payload->>'error', 'no error: ' || payload::text) FROM testplug_events"
                       " WHERE event = 'http' AND payload->>'url' = 'http://127.0.0.1:1/'");
    ck_assert_msg(strstr(v, "http://127.0.0.1:1/") != NULL && strstr(v, "onnect") != NULL, "%s", v);
    free(v);
}
END_TEST

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    Suite *s = suite_create("plugin_pg");
    TCase *tc = tcase_create("plugin");
    tcase_set_timeout(tc, 120);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, load_and_refuse);
    tcase_add_test(tc, plugin_migration_applied_once);
    tcase_add_test(tc, unknown_plugin_key_refused);
    tcase_add_test(tc, job_kind_and_hooks_run);
    tcase_add_test(tc, routes_over_http);
    tcase_add_test(tc, host_enqueue_emit_http);
    suite_add_tcase(s, tc);
    int rc = testdb_run_suite(s);
    curl_global_cleanup();
    return rc;
}
