/* api_world.c -- see api_world.h. */
#include "config.h"
#include "api_world.h"
#include "core/core_jobs.h"
#include "core/dbpool.h"
#include "desk/desk_ops.h"
#include "mailout/mailout_conf.h"
#include "web/web_conf.h"
#include "desk/queue.h"
#include "lib/passwd.h"
#include "core/jobs.h"
#include "core/runtime.h"
#include "core/runtime_load.h"
#include "mailout/outbox.h"
#include "testdb.h"
#include "lib/token.h"
#include "lib/totp.h"
#include "desk/user.h"
#include "lib/util.h"
#include "web/server.h"
#include "core/worker.h"

#include <civetweb.h>
#include <crypt.h>
#include <curl/curl.h>
#include <jansson.h>
#include <pthread.h>
#include <time.h>
#include <unistd.h>


/* ---- the world, built once in the parent ------------------------------- */
struct api_world W;

/* users: index into these arrays */
const char *const emails[NUSERS] = {
    "admin@example.com", "manager@example.com", "agent.a@example.com", "agent.b@example.com",
    "cust1@org1.example", "cust2@org1.example", "cust3@org2.example",
};
const char *const roles[NUSERS] = { "admin", "manager", "agent", "agent", "customer",
                                           "customer", "customer" };
long long uid[NUSERS];
char tok[NUSERS][TOKEN_MAX];
long long queue_a, queue_b, org1, org2;

/* ---- per-process database connection ------------------------------------ */
static struct db_conn *test_db;
static pid_t test_db_owner;

struct db_conn *DB(void)
{
    if (test_db == NULL || test_db_owner != getpid()) {
        test_db = testdb_connect();   /* a forked child never uses the parent's */
        test_db_owner = getpid();
    }
    return test_db;
}

long long qint(const char *sql) { return testdb_int(DB(), sql); }

long long qintf(const char *fmt, ...)
{
    char sql[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(sql, sizeof(sql), fmt, ap);
    va_end(ap);
    return qint(sql);
}

/* ---- HTTP client --------------------------------------------------------- */

static size_t on_data(char *p, size_t s, size_t n, void *arg)
{
    strbuf_add(arg, p, s * n);
    return s * n;
}


struct reply http(const struct call *c)
{
    struct reply r = { 0, STRBUF_INIT, STRBUF_INIT, NULL };
    char url[512], hdr[4][600];
    struct curl_slist *h = NULL;
    snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", W.port, c->path);
    CURL *e = curl_easy_init();
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, c->method);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, &r.body);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_data);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, &r.headers);
    curl_easy_setopt(e, CURLOPT_TIMEOUT, 30L);
    if (c->token) {
        snprintf(hdr[0], sizeof(hdr[0]), "Authorization: Bearer %s", c->token);
        h = curl_slist_append(h, hdr[0]);
    }
    if (c->cookie) {
        snprintf(hdr[1], sizeof(hdr[1]), "Cookie: atum_session=%s", c->cookie);
        h = curl_slist_append(h, hdr[1]);
    }
    if (c->csrf) {
        snprintf(hdr[2], sizeof(hdr[2]), "X-CSRF-Token: %s", c->csrf);
        h = curl_slist_append(h, hdr[2]);
    }
    if (c->body) {
        snprintf(hdr[3], sizeof(hdr[3]), "Content-Type: %s", c->ctype ? c->ctype : "application/json");
        h = curl_slist_append(h, hdr[3]);
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, c->body);
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, (long)(c->body_len ? c->body_len : strlen(c->body)));
    }
    if (c->chunked)
        h = curl_slist_append(h, "Transfer-Encoding: chunked");
    if (c->header)
        h = curl_slist_append(h, c->header);
    h = curl_slist_append(h, "Expect:");
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, h);
    CURLcode rc = curl_easy_perform(e);
    ck_assert_msg(rc == CURLE_OK, "%s %s: %s", c->method, c->path, curl_easy_strerror(rc));
    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &r.status);
    curl_easy_cleanup(e);
    curl_slist_free_all(h);
    if (r.body.len)
        r.json = json_loadb(r.body.s, r.body.len, 0, NULL);
    return r;
}

void reply_free(struct reply *r)
{
    strbuf_free(&r->body);
    strbuf_free(&r->headers);
    json_decref(r->json);
    r->json = NULL;
}

/* Authenticated by API token. */
struct reply T(int who, const char *method, const char *path, const char *body)
{
    struct call c = { .method = method, .path = path, .token = tok[who], .body = body };
    return http(&c);
}

long long jint(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    ck_assert_msg(json_is_integer(v), "no integer '%s'", key);
    return json_integer_value(v);
}

const char *jstr(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    return json_is_string(v) ? json_string_value(v) : NULL;
}


void expect_status(int who, const char *method, const char *path, const char *body, int want)
{
    struct reply r = T(who, method, path, body);
    ck_assert_msg(r.status == want, "%s %s as %s: %ld, want %d: %s", method, path,
                  who >= 0 ? emails[who] : "-", r.status, want, strbuf_str(&r.body));
    if (want >= 400)
        ck_assert_msg(strstr(r.headers.s, "application/problem+json") != NULL,
                      "%s %s: error is not problem+json", method, path);
    reply_free(&r);
}

/* A ticket by API (as who, in queue q) -> id. */
long long new_ticket(int who, long long q, const char *subject, const char *body)
{
    json_t *b = json_pack("{s:s, s:s}", "subject", subject, "body", body);
    if (q)
        json_object_set_new(b, "queue_id", json_integer(q));
    if (who != CUST1 && who != CUST2 && who != CUST3)
        json_object_set_new(b, "requester_id", json_integer(uid[CUST1]));
    char *s = json_dumps(b, 0);
    struct reply r = T(who, "POST", "/api/v1/tickets", s);
    EXPECT(r, 201);
    long long id = jint(r.json, "id");
    reply_free(&r);
    free(s);
    json_decref(b);
    return id;
}

/* ---- webhook receiver (civetweb, in the parent) ------------------------ */
static int hook_handler(struct mg_connection *conn, void *arg)
{
    (void)arg;
    const struct mg_request_info *ri = mg_get_request_info(conn);
    char *body = malloc(65536);
    int n = 0, k;
    while (n < 65535 && (k = mg_read(conn, body + n, 65535 - (size_t)n)) > 0)
        n += k;
    body[n] = '\0';
    bool flaky = strcmp(ri->local_uri, "/flaky") == 0;
    pthread_mutex_lock(&W.hook_lock);
    int call = flaky ? ++W.flaky_calls : 0;
    json_t *o = json_pack("{s:s, s:s, s:s?, s:s?, s:s?, s:s, s:i}", "path", ri->local_uri,
                          "body", body, "sig", mg_get_header(conn, "X-Atum-Signature"),
                          "ts", mg_get_header(conn, "X-Atum-Timestamp"),
                          "event", mg_get_header(conn, "X-Atum-Event"),
                          "ctype", mg_get_header(conn, "Content-Type") ? mg_get_header(conn, "Content-Type") : "",
                          "call", call);
    FILE *f = fopen(W.hook_file, "a");
    if (f && o) {
        char *s = json_dumps(o, JSON_COMPACT);
        fprintf(f, "%s\n", s);
        free(s);
    }
    if (f)
        fclose(f);
    json_decref(o);
    pthread_mutex_unlock(&W.hook_lock);
    free(body);
    int st = flaky && call == 1 ? 500 : 200;
    char resp[128];
    int rn = snprintf(resp, sizeof(resp), "HTTP/1.1 %d X\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok", st);
    mg_write(conn, resp, (size_t)rn);
    return st;
}

/* ---- fixture ------------------------------------------------------------- */
static char conf_path[64];

void world_up(void)
{
    const char *e = NULL;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    struct db_conn *c = testdb_connect();
    snprintf(conf_path, sizeof(conf_path), "/tmp/atum-apiconf-XXXXXX");
    int fd = mkstemp(conf_path);
    FILE *f = fdopen(fd, "w");
    fprintf(f, "[core]\nplugin_dir = %s\nsecret_key = %s\n[web]\ntrusted_proxies = 127.0.0.1\n"
               "max_body = 64K\n[auth]\nlogin_failures_account = 3\nlogin_failures_ip = 12\n"
               "login_window = 1m\n[queue]\npoll_interval = 100ms\n[plugin.testplug]\n",
            getenv("ATUM_TEST_PLUGIN_DIR"), SECRET);
    fclose(f);
    conf_declare(&web_conf_table);
    conf_declare(&mailout_conf_table);
    W.cfg = conf_load(conf_path, &e);
    ck_assert_msg(W.cfg != NULL, "%s", e);
    unlink(conf_path);
    free(W.cfg->database_url);
    W.cfg->database_url = strdup(testdb_url());

    runtime_init(&W.rt);
    runtime_add_registrar(&W.rt, core_jobs_register, NULL);
    runtime_add_registrar(&W.rt, desk_register, NULL);
    runtime_add_registrar(&W.rt, outbox_register, NULL);
    ck_assert_msg(runtime_load(&W.rt, W.cfg, c, &e) == 0, "%s", e);

    /* directory */
    char sql[512];
    testdb_exec(c, "INSERT INTO orgs (name, domain) VALUES ('Org One', 'org1.example'), ('Org Two', 'org2.example')");
    org1 = testdb_int(c, "SELECT id FROM orgs WHERE name = 'Org One'");
    org2 = testdb_int(c, "SELECT id FROM orgs WHERE name = 'Org Two'");
    static const struct desk_actor setup = { .kind = DESK_OPERATOR, .via = "test" };
    struct desk_tx dtx = { c, NULL, &setup };
    struct err derr;
    ck_assert_int_eq(db_begin(c, &e), 0);
    ck_assert_msg(queue_add(&dtx, "Queue A", "a@support.example", &queue_a, &derr) == 0, "%s", derr.text);
    ck_assert_msg(queue_add(&dtx, "Queue B", "b@support.example", &queue_b, &derr) == 0, "%s", derr.text);
    ck_assert_int_eq(db_commit(c, &e), 0);
    for (int i = 0; i < NUSERS; i++) {
        ck_assert_msg(user_add(c, emails[i], emails[i], roles[i], PW, "test", &uid[i], &e) == 0, "%s", e);
        char h[TOKEN_HASH_HEX];
        ck_assert_int_eq(token_new("atum_", tok[i], sizeof(tok[i]), &e), 0);
        token_hash(SECRET, tok[i], strlen(tok[i]), h);
        snprintf(sql, sizeof(sql), "INSERT INTO api_tokens (user_id, name, token_hash, prefix)"
                                   " VALUES (%lld, 'test', '%s', 'atum_x')", uid[i], h);
        testdb_exec(c, sql);
    }
    snprintf(sql, sizeof(sql), "UPDATE users SET org_id = %lld WHERE email LIKE '%%@org1.example'", org1);
    testdb_exec(c, sql);
    snprintf(sql, sizeof(sql), "UPDATE users SET org_id = %lld WHERE email LIKE '%%@org2.example'", org2);
    testdb_exec(c, sql);
    testdb_exec(c, "UPDATE users SET org_access = true WHERE email = 'cust2@org1.example'");
    ck_assert_int_eq(db_begin(c, &e), 0);
    ck_assert_msg(queue_add_member(&dtx, queue_a, uid[AGENT_A], NULL, &derr) == 0, "%s", derr.text);
    ck_assert_msg(queue_add_member(&dtx, queue_b, uid[AGENT_B], NULL, &derr) == 0, "%s", derr.text);
    ck_assert_int_eq(db_commit(c, &e), 0);
    db_conn_free(&c);

    /* web server, workers, webhook receiver */
    struct db_params pp = testdb_params("api-web");
    W.pool = db_pool_new(&pp, 6);
    struct web_opts wo = { "127.0.0.1:0", 16, W.cfg->web_max_body, 10000, "apitest", W.cfg, 2000 };
    ck_assert_msg(web_start(&W.ws, &wo, &W.rt, W.pool, &e) == 0, "%s", e);
    W.port = web_port(W.ws);
    struct worker_opts o = {
        .db = testdb_params("api-worker"), .node_id = "apitest", .nworkers = 2, .batch_size = 8,
        .lease_ms = 60000, .poll_interval_ms = 100, .backoff_max_ms = 60000, .keep_done = true,
    };
    ck_assert_msg(worker_pool_start(&W.workers, &o, &W.rt, &e) == 0, "%s", e);
    pthread_mutex_init(&W.hook_lock, NULL);
    snprintf(W.hook_file, sizeof(W.hook_file), "/tmp/atum-hooks-%d.jsonl", (int)getpid());
    unlink(W.hook_file);
    const char *hopts[] = { "listening_ports", "127.0.0.1:0", "num_threads", "4", NULL };
    struct mg_callbacks cb;
    memset(&cb, 0, sizeof(cb));
    W.hook_srv = mg_start(&cb, NULL, hopts);
    ck_assert_ptr_nonnull(W.hook_srv);
    mg_set_request_handler(W.hook_srv, "/", hook_handler, NULL);
    struct mg_server_port ports[2];
    ck_assert_int_ge(mg_get_server_ports(W.hook_srv, 2, ports), 1);
    W.hook_port = ports[0].port;
}

void world_down(void)
{
    if (test_db_owner == getpid())
        db_conn_free(&test_db);
    mg_stop(W.hook_srv);
    web_stop(&W.ws);
    worker_pool_stop(&W.workers, 5000);
    db_pool_free(&W.pool);
    runtime_destroy(&W.rt);
    conf_free(&W.cfg);
    unlink(W.hook_file);
    curl_global_cleanup();
}

int api_world_main(const char *name, void (*add)(TCase *tc))
{
    Suite *s = suite_create(name);
    TCase *tc = tcase_create("api");
    tcase_set_timeout(tc, 120);
    tcase_add_unchecked_fixture(tc, world_up, world_down);
    add(tc);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_set_fork_status(sr, CK_NOFORK);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}

/* ---- sessions ---------------------------------------------------------- */

struct reply login(const char *email, const char *pw, const char *header)
{
    json_t *b = json_pack("{s:s, s:s}", "email", email, "password", pw);
    char *s = json_dumps(b, 0);
    struct call c = { .method = "POST", .path = "/api/v1/auth/login", .body = s, .header = header };
    struct reply r = http(&c);
    free(s);
    json_decref(b);
    return r;
}

void cookie_of(const struct reply *r, char *out, size_t size)
{
    const char *p = strstr(r->headers.s, "Set-Cookie: atum_session=");
    ck_assert_ptr_nonnull(p);
    p += strlen("Set-Cookie: atum_session=");
    size_t n = strcspn(p, ";\r\n");
    ck_assert_uint_lt(n, size);
    memcpy(out, p, n);
    out[n] = '\0';
}

void session_login(int who, struct session *s)
{
    struct reply r = login(emails[who], PW, NULL);
    EXPECT(r, 200);
    cookie_of(&r, s->cookie, sizeof(s->cookie));
    snprintf(s->csrf, sizeof(s->csrf), "%s", jstr(r.json, "csrf_token"));
    reply_free(&r);
}

