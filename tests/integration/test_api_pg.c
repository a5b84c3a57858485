/* test_api_pg -- the REST API over HTTP (libcurl) against web_start(),
 * the worker pool and a private PostgreSQL: authentication, sessions,
 * CSRF, throttling, TOTP, tokens, tickets, the directory, admin views,
 * webhooks, and the security tests (SQL injection, XSS, cross-tenant 404,
 * tampered/expired credentials, oversize bodies).
 *
 * The server, the workers and a webhook receiver run in the same process
 * (unchecked fixture), so the suite runs without forking (CK_NOFORK): a
 * child forked from a threaded process would inherit the threads' memory
 * without the threads, which the sanitizers rightly call leaks. */
#include "config.h"
#include "core/core_jobs.h"
#include "core/dbpool.h"
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

#define SECRET "test-secret-0123456789abcdef0123456789"
#define PW "correct horse battery"

/* ---- the world, built once in the parent ------------------------------- */
static struct {
    struct atum_config *cfg;
    struct runtime rt;
    struct db_pool *pool;
    struct web_server *ws;
    struct worker_pool *workers;
    struct mg_context *hook_srv;
    int port, hook_port;
    char hook_file[64];
    pthread_mutex_t hook_lock;
    int flaky_calls;
} W;

/* users: index into these arrays */
enum { ADMIN, MANAGER, AGENT_A, AGENT_B, CUST1, CUST2, CUST3, NUSERS };
static const char *const emails[NUSERS] = {
    "admin@example.com", "manager@example.com", "agent.a@example.com", "agent.b@example.com",
    "cust1@org1.example", "cust2@org1.example", "cust3@org2.example",
};
static const char *const roles[NUSERS] = { "admin", "manager", "agent", "agent", "customer",
                                           "customer", "customer" };
static long long uid[NUSERS];
static char tok[NUSERS][TOKEN_MAX];
static long long queue_a, queue_b, org1, org2;

/* ---- per-process database connection ------------------------------------ */
static struct db_conn *test_db;
static pid_t test_db_owner;

static struct db_conn *DB(void)
{
    if (test_db == NULL || test_db_owner != getpid()) {
        test_db = testdb_connect();   /* a forked child never uses the parent's */
        test_db_owner = getpid();
    }
    return test_db;
}

static long long qint(const char *sql) { return testdb_int(DB(), sql); }

static long long qintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static long long qintf(const char *fmt, ...)
{
    char sql[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(sql, sizeof(sql), fmt, ap);
    va_end(ap);
    return qint(sql);
}

/* ---- HTTP client --------------------------------------------------------- */
struct reply {
    long status;
    struct strbuf body, headers;
    json_t *json;
};

static size_t on_data(char *p, size_t s, size_t n, void *arg)
{
    strbuf_add(arg, p, s * n);
    return s * n;
}

struct call {
    const char *method, *path, *token, *cookie, *csrf, *body;
    size_t body_len;          /* 0: strlen(body) */
    const char *ctype;        /* default application/json when a body is sent */
    const char *header;       /* one extra header line */
    bool chunked;
};

static struct reply http(const struct call *c)
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

static void reply_free(struct reply *r)
{
    strbuf_free(&r->body);
    strbuf_free(&r->headers);
    json_decref(r->json);
    r->json = NULL;
}

/* Authenticated by API token. */
static struct reply T(int who, const char *method, const char *path, const char *body)
{
    struct call c = { .method = method, .path = path, .token = tok[who], .body = body };
    return http(&c);
}

static long long jint(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    ck_assert_msg(json_is_integer(v), "no integer '%s'", key);
    return json_integer_value(v);
}

static const char *jstr(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

/* status check with the body in the message */
#define EXPECT(r, st) ck_assert_msg((r).status == (st), "%s:%d: status %ld, want %d: %s", \
                                    __FILE__, __LINE__, (r).status, (st), strbuf_str(&(r).body))

static void expect_status(int who, const char *method, const char *path, const char *body, int want)
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
static long long new_ticket(int who, long long q, const char *subject, const char *body)
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

static void world_up(void)
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
    W.cfg = conf_load(conf_path, &e);
    ck_assert_msg(W.cfg != NULL, "%s", e);
    unlink(conf_path);
    free(W.cfg->database_url);
    W.cfg->database_url = strdup(testdb_url());

    runtime_init(&W.rt);
    runtime_add_registrar(&W.rt, core_jobs_register, NULL);
    runtime_add_registrar(&W.rt, outbox_register, NULL);
    ck_assert_msg(runtime_load(&W.rt, W.cfg, c, &e) == 0, "%s", e);

    /* directory */
    char sql[512];
    testdb_exec(c, "INSERT INTO orgs (name, domain) VALUES ('Org One', 'org1.example'), ('Org Two', 'org2.example')");
    org1 = testdb_int(c, "SELECT id FROM orgs WHERE name = 'Org One'");
    org2 = testdb_int(c, "SELECT id FROM orgs WHERE name = 'Org Two'");
    ck_assert_int_eq(queue_add(c, "Queue A", "a@support.example", "test", &queue_a, &e), 0);
    ck_assert_int_eq(queue_add(c, "Queue B", "b@support.example", "test", &queue_b, &e), 0);
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
    ck_assert_int_eq(queue_add_member(c, "Queue A", emails[AGENT_A], "test", &e), 0);
    ck_assert_int_eq(queue_add_member(c, "Queue B", emails[AGENT_B], "test", &e), 0);
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

static void world_down(void)
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

/* ---- server basics ------------------------------------------------------- */

START_TEST(headers_cors_and_errors)
{
    struct reply r = T(ADMIN, "GET", "/api/v1/auth/me", NULL);
    EXPECT(r, 200);
    ck_assert_str_eq(jstr(json_object_get(r.json, "user"), "email"), emails[ADMIN]);
    ck_assert_str_eq(jstr(r.json, "auth"), "token");
    static const char *const must[] = { "Content-Security-Policy: default-src 'self'",
        "frame-ancestors 'none'", "X-Content-Type-Options: nosniff", "Referrer-Policy: same-origin",
        "Content-Type: application/json" };
    for (size_t i = 0; i < sizeof(must) / sizeof(must[0]); i++)
        ck_assert_msg(strstr(r.headers.s, must[i]) != NULL, "missing %s", must[i]);
    reply_free(&r);

    /* CORS: a preflight is not answered with an allow-origin */
    struct call pre = { .method = "OPTIONS", .path = "/api/v1/tickets",
                        .header = "Origin: https://evil.example" };
    r = http(&pre);
    ck_assert_ptr_null(strcasestr(r.headers.s, "Access-Control-Allow-Origin"));
    ck_assert_int_ge(r.status, 400);
    reply_free(&r);

    expect_status(ADMIN, "GET", "/api/v1/nope", NULL, 404);
    expect_status(ADMIN, "DELETE", "/api/v1/auth/me", NULL, 405);
    expect_status(ADMIN, "GET", "/api/v1/tickets/0", NULL, 404);
    expect_status(ADMIN, "GET", "/api/v1/tickets/abc", NULL, 404);
    struct call anon = { .method = "GET", .path = "/api/v1/tickets" };
    r = http(&anon);
    EXPECT(r, 401);
    ck_assert_ptr_nonnull(strstr(r.headers.s, "WWW-Authenticate: Bearer"));
    reply_free(&r);

    /* the OpenAPI document is served, publicly */
    struct call doc = { .method = "GET", .path = "/api/v1/openapi.json" };
    r = http(&doc);
    EXPECT(r, 200);
    ck_assert_str_eq(jstr(r.json, "openapi"), "3.1.0");
    reply_free(&r);

    /* plugin routes use the same authentication */
    struct call sec = { .method = "GET", .path = "/api/v1/plugins/testplug/secret" };
    r = http(&sec);
    EXPECT(r, 401);
    reply_free(&r);
    expect_status(AGENT_A, "GET", "/api/v1/plugins/testplug/secret", NULL, 200);
    expect_status(CUST1, "GET", "/api/v1/plugins/testplug/secret", NULL, 404);

    /* what civetweb answers by itself (a header block over its 16 KB
     * limit) carries the same headers, as a problem document */
    char *big = malloc(20 * 1024 + 16);
    memcpy(big, "X-Big: ", 7);
    memset(big + 7, 'a', 20 * 1024);
    big[7 + 20 * 1024] = '\0';
    struct call huge = { .method = "GET", .path = "/api/v1/auth/me", .token = tok[ADMIN], .header = big };
    r = http(&huge);
    free(big);
    ck_assert_msg(r.status >= 400 && r.status < 500, "status %ld", r.status);
    static const char *const own[] = { "Content-Security-Policy: default-src 'self'", "frame-ancestors 'none'",
        "X-Content-Type-Options: nosniff", "X-Frame-Options: DENY", "Referrer-Policy: same-origin",
        "Content-Type: application/problem+json" };
    for (size_t i = 0; i < sizeof(own) / sizeof(own[0]); i++)
        ck_assert_msg(strstr(r.headers.s, own[i]) != NULL, "civetweb's %ld lacks %s: %s", r.status, own[i],
                      strbuf_str(&r.headers));
    ck_assert_int_eq(jint(r.json, "status"), r.status);
    reply_free(&r);
    /* and the server goes on */
    expect_status(ADMIN, "GET", "/api/v1/auth/me", NULL, 200);
}
END_TEST

START_TEST(bad_input_is_400_naming_the_field)
{
    const struct { const char *body, *ctype, *field; int status; } cases[] = {
        { "{\"subject\": \"s\", \"body\": \"b\", \"colour\": \"red\"}", NULL, "colour", 400 },
        { "{\"subject\": 5, \"body\": \"b\"}", NULL, "subject", 400 },
        { "{\"subject\": \"s\", \"body\": [\"b\"]}", NULL, "body", 400 },
        { "{\"subject\": \"s\"}", NULL, "body", 400 },
        { "{\"subject\": \"s\", \"body\": \"b\", \"queue_id\": \"1\"}", NULL, "queue_id", 400 },
        { "{\"subject\": \"s\", \"body\": \"b\", \"queue_id\": -3}", NULL, "queue_id", 400 },
        { "{\"subject\": \"s\", \"body\": \"b\", \"queue_id\": 1.5}", NULL, "queue_id", 400 },
        { "{\"subject\": \"s\", \"body\": \"b\", \"priority\": \"asap\"}", NULL, "priority", 400 },
        { "{\"subject\": \"\", \"body\": \"b\"}", NULL, "subject", 400 },
        { "{\"subject\": \"s\\u0000x\", \"body\": \"b\"}", NULL, NULL, 400 },
        { "{\"subject\": \"s\", \"subject\": \"t\", \"body\": \"b\"}", NULL, NULL, 400 },
        { "[1, 2]", NULL, NULL, 400 },
        { "{\"subject\": ", NULL, NULL, 400 },
        { "\xff\xfe{}", NULL, NULL, 400 },
        { "{\"subject\": \"\xc3\x28\", \"body\": \"b\"}", NULL, NULL, 400 },
        { "subject=s&body=b", "application/x-www-form-urlencoded", NULL, 415 },
        { "{\"subject\": \"s\", \"body\": \"b\"}", "text/plain", NULL, 415 },
        { "{\"subject\": \"s\", \"body\": \"b\", \"queue_id\": 999999}", NULL, "queue_id", 422 },
        { "{\"subject\": \"s\", \"body\": \"b\", \"requester_id\": 5}", NULL, "requester_id", 403 },
    };
    long long before = qint("SELECT count(*) FROM tickets");
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct call c = { .method = "POST", .path = "/api/v1/tickets", .token = tok[CUST1],
                          .body = cases[i].body, .ctype = cases[i].ctype };
        struct reply r = http(&c);
        ck_assert_msg(r.status == cases[i].status, "case %zu: %ld %s", i, r.status, strbuf_str(&r.body));
        ck_assert_msg(r.json && jstr(r.json, "title") && jstr(r.json, "detail"), "case %zu: no problem doc", i);
        if (cases[i].field)
            ck_assert_msg(jstr(r.json, "field") && strcmp(jstr(r.json, "field"), cases[i].field) == 0,
                          "case %zu: field %s, want %s", i, jstr(r.json, "field"), cases[i].field);
        reply_free(&r);
    }
    ck_assert_int_eq(qint("SELECT count(*) FROM tickets"), before);   /* nothing half-written */

    /* query parameters */
    static const char *const q400[][2] = {
        { "/api/v1/tickets?colour=red", "colour" }, { "/api/v1/tickets?status=burning", "status" },
        { "/api/v1/tickets?limit=0", "limit" }, { "/api/v1/tickets?limit=201", "limit" },
        { "/api/v1/tickets?limit=5x", "limit" }, { "/api/v1/tickets?queue_id=abc", "queue_id" },
        { "/api/v1/tickets?queue_id=-1", "queue_id" }, { "/api/v1/tickets?cursor=garbage", "cursor" },
        { "/api/v1/tickets?cursor=c1_1_x", "cursor" }, { "/api/v1/tickets?updated_since=not-a-date", "updated_since" },
        { "/api/v1/audit?since=nope", "since" }, { "/api/v1/jobs?state=sleeping", "state" },
        /* each bad value is blamed on its own parameter, never a neighbour */
        { "/api/v1/tickets?q=%ff", "q" }, { "/api/v1/audit?action=%ff", "action" },
        { "/api/v1/users?q=%ff", "q" }, { "/api/v1/jobs?kind=%ff", "kind" },
        { "/api/v1/jobs?kind=Not%20A%20Kind", "kind" },
        { "/api/v1/audit?since=2026-01-01&until=nope", "until" },
        { "/api/v1/audit?since=2026-13-45&until=2026-01-01", "since" },
        { "/api/v1/tickets?updated_since=2026-02-30", "updated_since" },
        { "/api/v1/tickets?q=printer&updated_since=yesterday-ish", "updated_since" },
        /* cursor numbers: bigint, then what PostgreSQL can add to the epoch */
        { "/api/v1/tickets?cursor=c1_9999999999999999999_1", "cursor" },
        { "/api/v1/tickets?cursor=c1_1_99999999999999999999", "cursor" },
        { "/api/v1/tickets?cursor=c1_9223372036854775807_1", "cursor" },
        { "/api/v1/tickets?cursor=c1_-9223372036854775808_1", "cursor" },
        { "/api/v1/tickets?cursor=c1_9223371331200000001_1", "cursor" },
        { "/api/v1/tickets?cursor=c1_-210866803200000001_1", "cursor" },
        { "/api/v1/tickets?cursor=c1_%2B5_1", "cursor" }, { "/api/v1/tickets?cursor=c1_%205_1", "cursor" },
        { "/api/v1/tickets?cursor=c1_5_0", "cursor" }, { "/api/v1/tickets?cursor=c1_5_-1", "cursor" },
        { "/api/v1/tickets?cursor=c1_-_1", "cursor" }, { "/api/v1/tickets?cursor=c1__1", "cursor" },
        { "/api/v1/tickets?status=open&cursor=c1_9999999999999999999_1", "cursor" },
    };
    for (size_t i = 0; i < sizeof(q400) / sizeof(q400[0]); i++) {
        struct reply r = T(ADMIN, "GET", q400[i][0], NULL);
        ck_assert_msg(r.status == 400, "%s: %ld %s", q400[i][0], r.status, strbuf_str(&r.body));
        ck_assert_msg(jstr(r.json, "field") && strcmp(jstr(r.json, "field"), q400[i][1]) == 0,
                      "%s: field %s", q400[i][0], jstr(r.json, "field"));
        reply_free(&r);
    }
    /* the ends of the cursor range are still answered (with nothing or
     * everything older), with and without filters */
    static const char *const edges[] = {
        "/api/v1/tickets?cursor=c1_9223371331200000000_9223372036854775807",
        "/api/v1/tickets?cursor=c1_-210866803200000000_1",
        "/api/v1/tickets?priority=low&cursor=c1_9223371331200000000_1",
        "/api/v1/tickets?q=x&cursor=c1_-210866803200000000_1",
        "/api/v1/audit?since=2026-01-31T12:00:00Z&until=infinity",
    };
    for (size_t i = 0; i < sizeof(edges) / sizeof(edges[0]); i++)
        expect_status(ADMIN, "GET", edges[i], NULL, 200);
}
END_TEST

START_TEST(oversize_bodies_are_413)
{
    size_t n = 70 * 1024;
    char *big = malloc(n + 64);
    memset(big, 'x', n + 64);
    memcpy(big, "{\"subject\": \"s\", \"body\": \"", 26);
    memcpy(big + n + 26, "\"}", 3);
    long long before = qint("SELECT count(*) FROM tickets");
    struct call c = { .method = "POST", .path = "/api/v1/tickets", .token = tok[CUST1], .body = big };
    struct reply r = http(&c);
    EXPECT(r, 413);
    ck_assert_ptr_nonnull(strstr(r.headers.s, "application/problem+json"));
    reply_free(&r);
    /* the same without a Content-Length: chunked bodies are counted too */
    c.chunked = true;
    r = http(&c);
    EXPECT(r, 413);
    reply_free(&r);
    ck_assert_int_eq(qint("SELECT count(*) FROM tickets"), before);
    free(big);
    /* a body just under the limit is fine */
    char *ok = malloc(60 * 1024);
    memset(ok, 'y', 60 * 1024);
    memcpy(ok, "{\"subject\": \"s\", \"body\": \"", 26);
    strcpy(ok + 60 * 1024 - 3, "\"}");
    struct call c2 = { .method = "POST", .path = "/api/v1/tickets", .token = tok[CUST1], .body = ok, .chunked = true };
    r = http(&c2);
    EXPECT(r, 201);
    reply_free(&r);
    free(ok);
}
END_TEST

/* Routes that take no body refuse one rather than ignore it. */
START_TEST(bodyless_routes_refuse_bodies)
{
    long long t = new_ticket(AGENT_A, queue_a, "Bodyless", "x"), t2 = new_ticket(AGENT_A, queue_a, "Other", "y");
    long long dead = qint("INSERT INTO jobs (kind, state, last_error) VALUES ('never.runs', 'dead', 'x') RETURNING id");
    long long hook = qint("INSERT INTO webhooks (url, events, secret) VALUES ('http://127.0.0.1:1/', '{ticket.created}', 's')"
                          " RETURNING id");
    long long tokid = qintf("SELECT min(id) FROM api_tokens WHERE user_id = %lld", uid[AGENT_B]);
    char p[16][128];
    snprintf(p[0], sizeof(p[0]), "/api/v1/tickets/%lld/links/%lld", t, t2);
    snprintf(p[1], sizeof(p[1]), "/api/v1/tickets/%lld/lock", t);
    snprintf(p[2], sizeof(p[2]), "/api/v1/users/%lld", uid[CUST3]);
    snprintf(p[3], sizeof(p[3]), "/api/v1/orgs/%lld", org2);
    snprintf(p[4], sizeof(p[4]), "/api/v1/queues/%lld", queue_b);
    snprintf(p[5], sizeof(p[5]), "/api/v1/queues/%lld/members/%lld", queue_b, uid[AGENT_A]);
    snprintf(p[6], sizeof(p[6]), "/api/v1/queues/%lld/members/%lld", queue_b, uid[AGENT_B]);
    snprintf(p[7], sizeof(p[7]), "/api/v1/jobs/%lld/retry", dead);
    snprintf(p[8], sizeof(p[8]), "/api/v1/webhooks/%lld", hook);
    snprintf(p[9], sizeof(p[9]), "/api/v1/auth/tokens/%lld", tokid);
    snprintf(p[10], sizeof(p[10]), "/api/v1/mailboxes/999999");
    snprintf(p[11], sizeof(p[11]), "/api/v1/canned-responses/999999");
    const struct { const char *m, *path; } routes[] = {
        { "POST", "/api/v1/auth/totp" }, { "POST", "/api/v1/auth/logout" }, { "DELETE", p[9] },
        { "DELETE", p[0] }, { "POST", p[1] }, { "DELETE", p[1] }, { "DELETE", p[2] }, { "DELETE", p[3] },
        { "DELETE", p[4] }, { "PUT", p[5] }, { "DELETE", p[6] }, { "POST", p[7] }, { "DELETE", p[8] },
        { "DELETE", p[10] }, { "DELETE", p[11] },
    };
    const struct { const char *body, *ctype, *field; } bodies[] = {
        { "{\"bogus\": 1}", NULL, "bogus" }, { "{\"id\": 5}", NULL, "id" },
        { "[]", NULL, NULL }, { "null", NULL, NULL }, { "{", NULL, NULL },
        { "anything at all", "text/plain", NULL }, { "a=1", "application/x-www-form-urlencoded", NULL },
    };
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++)
        for (size_t b = 0; b < sizeof(bodies) / sizeof(bodies[0]); b++) {
            int who = strstr(routes[i].path, "/auth/tokens/") ? AGENT_B : ADMIN;
            struct call c = { .method = routes[i].m, .path = routes[i].path, .token = tok[who],
                              .body = bodies[b].body, .ctype = bodies[b].ctype };
            struct reply r = http(&c);
            ck_assert_msg(r.status == 400, "%s %s with %s: %ld %s", routes[i].m, routes[i].path,
                          bodies[b].body, r.status, strbuf_str(&r.body));
            ck_assert_msg(strstr(r.headers.s, "application/problem+json") != NULL, "%s", routes[i].path);
            if (bodies[b].field)
                ck_assert_msg(jstr(r.json, "field") && strcmp(jstr(r.json, "field"), bodies[b].field) == 0,
                              "%s %s: field %s", routes[i].m, routes[i].path, jstr(r.json, "field"));
            reply_free(&r);
        }
    /* nothing was done */
    ck_assert_int_eq(qintf("SELECT count(*) FROM user_totp WHERE user_id = %lld", uid[ADMIN]), 0);
    ck_assert_int_eq(qintf("SELECT count(*) FROM ticket_locks WHERE ticket_id = %lld", t), 0);
    ck_assert_int_eq(qintf("SELECT count(*) FROM users WHERE id = %lld AND NOT disabled", uid[CUST3]), 1);
    ck_assert_int_eq(qintf("SELECT count(*) FROM orgs WHERE id = %lld", org2), 1);
    ck_assert_int_eq(qintf("SELECT count(*) FROM queue_members WHERE queue_id = %lld AND user_id = %lld",
                           queue_b, uid[AGENT_A]), 0);
    ck_assert_int_eq(qintf("SELECT count(*) FROM queue_members WHERE queue_id = %lld AND user_id = %lld",
                           queue_b, uid[AGENT_B]), 1);
    ck_assert_int_eq(qintf("SELECT count(*) FROM jobs WHERE id = %lld AND state = 'dead'", dead), 1);
    ck_assert_int_eq(qintf("SELECT count(*) FROM webhooks WHERE id = %lld", hook), 1);
    ck_assert_int_eq(qintf("SELECT count(*) FROM api_tokens WHERE id = %lld AND revoked_at IS NULL", tokid), 1);
    /* no body at all, or an empty JSON object (some clients always send
     * one), is fine */
    struct call lock = { .method = "POST", .path = p[1], .token = tok[AGENT_A], .body = "{}" };
    struct reply r = http(&lock);
    EXPECT(r, 200);
    reply_free(&r);
    lock.method = "DELETE";
    lock.body = NULL;
    r = http(&lock);
    EXPECT(r, 204);
    reply_free(&r);
    snprintf(p[12], sizeof(p[12]), "/api/v1/jobs/%lld/retry", dead);
    expect_status(ADMIN, "POST", p[12], "{}", 200);
    testdb_exec(DB(), "DELETE FROM jobs WHERE kind = 'never.runs'");
    expect_status(ADMIN, "DELETE", p[8], NULL, 204);
    /* a POST with neither Content-Length nor a chunked body has no body:
     * answered at once, not after civetweb waited for the client */
    long long t0 = time_mono_ms();
    struct call nolen = { .method = "POST", .path = "/api/v1/auth/tokens", .token = tok[AGENT_B],
                          .header = "Content-Type: application/json" };
    r = http(&nolen);
    EXPECT(r, 400);
    reply_free(&r);
    ck_assert_int_lt(time_mono_ms() - t0, 3000);
}
END_TEST

/* ---- sessions, CSRF, throttling ------------------------------------------- */

struct session {
    char cookie[TOKEN_MAX];
    char csrf[80];
    struct strbuf set_cookie;
};

static struct reply login(const char *email, const char *pw, const char *header)
{
    json_t *b = json_pack("{s:s, s:s}", "email", email, "password", pw);
    char *s = json_dumps(b, 0);
    struct call c = { .method = "POST", .path = "/api/v1/auth/login", .body = s, .header = header };
    struct reply r = http(&c);
    free(s);
    json_decref(b);
    return r;
}

static void cookie_of(const struct reply *r, char *out, size_t size)
{
    const char *p = strstr(r->headers.s, "Set-Cookie: atum_session=");
    ck_assert_ptr_nonnull(p);
    p += strlen("Set-Cookie: atum_session=");
    size_t n = strcspn(p, ";\r\n");
    ck_assert_uint_lt(n, size);
    memcpy(out, p, n);
    out[n] = '\0';
}

static void session_login(int who, struct session *s)
{
    struct reply r = login(emails[who], PW, NULL);
    EXPECT(r, 200);
    cookie_of(&r, s->cookie, sizeof(s->cookie));
    snprintf(s->csrf, sizeof(s->csrf), "%s", jstr(r.json, "csrf_token"));
    reply_free(&r);
}

START_TEST(sessions_cookies_and_csrf)
{
    struct reply r = login(emails[AGENT_A], PW, NULL);
    EXPECT(r, 200);
    const char *sc = strstr(r.headers.s, "Set-Cookie: atum_session=");
    ck_assert_ptr_nonnull(sc);
    char line[512];
    snprintf(line, sizeof(line), "%.*s", (int)strcspn(sc, "\r\n"), sc);
    ck_assert_msg(strstr(line, "HttpOnly") && strstr(line, "SameSite=Lax") && strstr(line, "Path=/"), "%s", line);
    ck_assert_msg(strstr(line, "Secure") == NULL, "Secure over plain http: %s", line);
    struct session s;
    cookie_of(&r, s.cookie, sizeof(s.cookie));
    snprintf(s.csrf, sizeof(s.csrf), "%s", jstr(r.json, "csrf_token"));
    reply_free(&r);
    /* the token is stored only as an HMAC */
    char h[TOKEN_HASH_HEX];
    token_hash(SECRET, s.cookie, strlen(s.cookie), h);
    ck_assert_int_eq(qintf("SELECT count(*) FROM sessions WHERE token_hash = '%s'", h), 1);
    ck_assert_int_eq(qintf("SELECT count(*) FROM sessions WHERE token_hash = '%s'", s.cookie), 0);

    /* behind the TLS proxy (trusted 127.0.0.1 says https): Secure */
    r = login(emails[AGENT_A], PW, "X-Forwarded-Proto: https");
    EXPECT(r, 200);
    ck_assert_ptr_nonnull(strstr(r.headers.s, "; Secure"));
    reply_free(&r);

    struct call me = { .method = "GET", .path = "/api/v1/auth/me", .cookie = s.cookie };
    r = http(&me);
    EXPECT(r, 200);
    ck_assert_str_eq(jstr(r.json, "auth"), "session");
    ck_assert_str_eq(jstr(r.json, "csrf_token"), s.csrf);
    reply_free(&r);

    /* state change by cookie: CSRF token required */
    const char *body = "{\"name\": \"via cookie\", \"password\": \"" PW "\"}";
    struct call post = { .method = "POST", .path = "/api/v1/auth/tokens", .cookie = s.cookie, .body = body };
    r = http(&post);
    EXPECT(r, 403);
    ck_assert_str_eq(jstr(r.json, "field"), "X-CSRF-Token");
    reply_free(&r);
    post.csrf = "0000000000000000000000000000000000000000000000000000000000000000";
    r = http(&post);
    EXPECT(r, 403);
    reply_free(&r);
    post.csrf = s.csrf;
    r = http(&post);
    EXPECT(r, 201);
    reply_free(&r);
    /* ticket writes too */
    long long t = new_ticket(AGENT_A, queue_a, "csrf", "x");
    char path[96];
    snprintf(path, sizeof(path), "/api/v1/tickets/%lld", t);
    struct call patch = { .method = "PATCH", .path = path, .cookie = s.cookie, .body = "{\"priority\": \"high\"}" };
    r = http(&patch);
    EXPECT(r, 403);
    reply_free(&r);
    ck_assert_int_eq(qintf("SELECT count(*) FROM tickets WHERE id = %lld AND priority = 'high'", t), 0);

    /* tampered cookie */
    struct session bad = s;
    bad.cookie[3] = bad.cookie[3] == 'A' ? 'B' : 'A';
    struct call me2 = { .method = "GET", .path = "/api/v1/auth/me", .cookie = bad.cookie };
    r = http(&me2);
    EXPECT(r, 401);
    reply_free(&r);
    me2.cookie = "not a token!";
    r = http(&me2);
    EXPECT(r, 401);
    reply_free(&r);

    /* idle expiry, then absolute expiry */
    struct session s2, s3;
    session_login(AGENT_A, &s2);
    session_login(AGENT_A, &s3);
    token_hash(SECRET, s2.cookie, strlen(s2.cookie), h);
    qintf("WITH u AS (UPDATE sessions SET last_seen_at = now() - interval '3 hours'"
          " WHERE token_hash = '%s' RETURNING 1) SELECT count(*) FROM u", h);
    struct call me3 = { .method = "GET", .path = "/api/v1/auth/me", .cookie = s2.cookie };
    r = http(&me3);
    EXPECT(r, 401);
    reply_free(&r);
    token_hash(SECRET, s3.cookie, strlen(s3.cookie), h);
    qintf("WITH u AS (UPDATE sessions SET expires_at = now() - interval '1 second'"
          " WHERE token_hash = '%s' RETURNING 1) SELECT count(*) FROM u", h);
    me3.cookie = s3.cookie;
    r = http(&me3);
    EXPECT(r, 401);
    reply_free(&r);

    /* logout ends the session and clears the cookie */
    struct call out = { .method = "POST", .path = "/api/v1/auth/logout", .cookie = s.cookie, .csrf = s.csrf };
    r = http(&out);
    EXPECT(r, 204);
    ck_assert_ptr_nonnull(strstr(r.headers.s, "atum_session=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0"));
    reply_free(&r);
    r = http(&me);
    EXPECT(r, 401);
    reply_free(&r);
    ck_assert_int_ge(qintf("SELECT count(*) FROM audit_log WHERE action = 'login' AND actor_id = %lld", uid[AGENT_A]), 3);
    ck_assert_int_ge(qintf("SELECT count(*) FROM audit_log WHERE action = 'logout' AND actor_id = %lld", uid[AGENT_A]), 1);
}
END_TEST

START_TEST(password_hash_upgraded_at_login)
{
    /* a hash with other yescrypt parameters than today's default */
    char *setting = crypt_gensalt_ra("$y$", 3, NULL, 0);
    ck_assert_ptr_nonnull(setting);
    void *data = NULL;
    int size = 0;
    char *h = crypt_ra(PW, setting, &data, &size);
    ck_assert(h != NULL && h[0] == '$');
    char old[256];
    snprintf(old, sizeof(old), "%s", h);
    free(data);
    free(setting);
    ck_assert(passwd_needs_rehash(old));
    char sql[512];
    snprintf(sql, sizeof(sql), "UPDATE users SET password_hash = '%s' WHERE id = %lld", old, uid[CUST3]);
    testdb_exec(DB(), sql);
    struct reply r = login(emails[CUST3], PW, "X-Forwarded-For: 192.0.2.200");
    EXPECT(r, 200);
    reply_free(&r);
    snprintf(sql, sizeof(sql), "SELECT password_hash FROM users WHERE id = %lld", uid[CUST3]);
    char *now = testdb_str(DB(), sql);
    ck_assert_str_ne(now, old);
    ck_assert(!passwd_needs_rehash(now));
    ck_assert_int_eq(passwd_verify(PW, now, NULL), 1);
    free(now);
}
END_TEST

START_TEST(brute_force_is_429)
{
    /* account limit is 3 failures a minute */
    for (int i = 0; i < 3; i++) {
        struct reply r = login(emails[MANAGER], "wrong password 123", NULL);
        EXPECT(r, 401);
        ck_assert_str_eq(jstr(r.json, "detail"), "wrong e-mail address or password");
        reply_free(&r);
    }
    struct reply r = login(emails[MANAGER], "wrong password 123", NULL);
    EXPECT(r, 429);
    const char *ra = strstr(r.headers.s, "Retry-After: ");
    ck_assert_ptr_nonnull(ra);
    int secs = atoi(ra + 13);
    ck_assert_int_ge(secs, 1);
    ck_assert_int_le(secs, 60);
    reply_free(&r);
    /* even the right password waits now */
    r = login(emails[MANAGER], PW, NULL);
    EXPECT(r, 429);
    reply_free(&r);
    ck_assert_int_eq(qintf("SELECT count(*) FROM audit_log WHERE action = 'login.failed'"
                           " AND detail->>'email' = '%s'", emails[MANAGER]), 3);
    /* an unknown account fails the same way (no account probing) */
    r = login("nobody@example.com", "whatever 12345", NULL);
    EXPECT(r, 401);
    ck_assert_str_eq(jstr(r.json, "detail"), "wrong e-mail address or password");
    reply_free(&r);
    /* per address: 12 failures from this client, whatever the account */
    for (int i = 0; i < 12; i++) {
        char email[64];
        snprintf(email, sizeof(email), "probe%d@example.com", i);
        r = login(email, "whatever 12345", NULL);
        reply_free(&r);
    }
    r = login(emails[CUST3], PW, NULL);
    EXPECT(r, 429);
    reply_free(&r);
    /* a forged X-Forwarded-For from a trusted proxy is a different client */
    r = login(emails[CUST3], PW, "X-Forwarded-For: 192.0.2.77");
    EXPECT(r, 200);
    reply_free(&r);
    ck_assert_int_ge(qint("SELECT count(*) FROM audit_log WHERE action = 'login' AND ip = '192.0.2.77'"), 1);
    /* API tokens are not throttled by failed logins */
    expect_status(MANAGER, "GET", "/api/v1/auth/me", NULL, 200);
    testdb_exec(DB(), "DELETE FROM auth_throttle");
}
END_TEST

/* Parallel wrong logins: the throttle is taken before the password is
 * checked, so no more than the account limit (3) get that far. */
#define RACERS 20
static pthread_barrier_t race_start;
static long race_status[RACERS];

static void *race_login(void *arg)
{
    long i = (long)(intptr_t)arg;
    pthread_barrier_wait(&race_start);
    struct reply r = login("racer@example.com", "wrong password 123", "X-Forwarded-For: 192.0.2.150");
    race_status[i] = r.status;
    reply_free(&r);
    return NULL;
}

START_TEST(parallel_logins_respect_the_limit)
{
    const char *e = NULL;
    long long racer;
    ck_assert_msg(user_add(DB(), "racer@example.com", "Racer", "customer", PW, "test", &racer, &e) == 0, "%s", e);
    for (int round = 0; round < 2; round++) {
        testdb_exec(DB(), "DELETE FROM auth_throttle");
        long long failed_before = qint("SELECT count(*) FROM audit_log WHERE action = 'login.failed'"
                                       " AND detail->>'email' = 'racer@example.com'");
        pthread_t th[RACERS];
        pthread_barrier_init(&race_start, NULL, RACERS);
        for (long i = 0; i < RACERS; i++)
            ck_assert_int_eq(pthread_create(&th[i], NULL, race_login, (void *)(intptr_t)i), 0);
        for (int i = 0; i < RACERS; i++)
            pthread_join(th[i], NULL);
        pthread_barrier_destroy(&race_start);
        int checked = 0, refused = 0;
        for (int i = 0; i < RACERS; i++) {
            if (race_status[i] == 401)
                checked++;
            else if (race_status[i] == 429)
                refused++;
            else
                ck_abort_msg("login %d: status %ld", i, race_status[i]);
        }
        /* exactly the limit reached the password check: never more, and
         * refusals did not use up the budget of the ones let through */
        ck_assert_msg(checked == 3, "round %d: %d logins reached the password check (limit 3)", round, checked);
        ck_assert_int_eq(refused, RACERS - 3);
        ck_assert_int_eq(qint("SELECT count(*) FROM audit_log WHERE action = 'login.failed'"
                              " AND detail->>'email' = 'racer@example.com'") - failed_before, 3);
        /* refused attempts do not count, on either key */
        ck_assert_int_eq(qint("SELECT failures FROM auth_throttle WHERE key = 'ip:192.0.2.150'"), 3);
        ck_assert_int_eq(qint("SELECT failures FROM auth_throttle WHERE key = 'acct:racer@example.com'"), 3);
    }
    /* a good login from another address is still refused for the account,
     * and gives its address's unit back */
    struct reply r = login("racer@example.com", PW, "X-Forwarded-For: 192.0.2.151");
    EXPECT(r, 429);
    reply_free(&r);
    ck_assert_int_eq(qint("SELECT count(*) FROM auth_throttle WHERE key = 'ip:192.0.2.151' AND failures > 0"), 0);
    testdb_exec(DB(), "DELETE FROM auth_throttle");
    r = login("racer@example.com", PW, "X-Forwarded-For: 192.0.2.151");
    EXPECT(r, 200);
    reply_free(&r);
    ck_assert_int_eq(qint("SELECT count(*) FROM auth_throttle WHERE failures > 0"), 0);
}
END_TEST

static void totp_code(const char *b32, long long offset_steps, char out[8])
{
    unsigned char key[64];
    int n = base32_decode(b32, key, sizeof(key));
    ck_assert_int_gt(n, 0);
    long long step = (long long)time(NULL) / 30 + offset_steps;
    snprintf(out, 8, "%06u", hotp(key, (size_t)n, (uint64_t)step, 6));
}

static struct reply totp_login(const char *challenge, const char *code, const char *rec)
{
    json_t *b = json_pack("{s:s}", "challenge", challenge);
    if (code)
        json_object_set_new(b, "code", json_string(code));
    if (rec)
        json_object_set_new(b, "recovery_code", json_string(rec));
    char *s = json_dumps(b, 0);
    struct call c = { .method = "POST", .path = "/api/v1/auth/login/totp", .body = s };
    struct reply r = http(&c);
    free(s);
    json_decref(b);
    return r;
}

static char *challenge_for(int who)
{
    struct reply r = login(emails[who], PW, NULL);
    EXPECT(r, 200);
    ck_assert(json_is_true(json_object_get(r.json, "totp_required")));
    ck_assert_ptr_null(strstr(r.headers.s, "Set-Cookie"));
    char *c = strdup(jstr(r.json, "challenge"));
    reply_free(&r);
    return c;
}

START_TEST(totp_enrol_login_replay_recovery)
{
    struct reply r = T(CUST2, "POST", "/api/v1/auth/totp", NULL);
    EXPECT(r, 201);
    char secret[64];
    snprintf(secret, sizeof(secret), "%s", jstr(r.json, "secret"));
    ck_assert_ptr_nonnull(strstr(jstr(r.json, "otpauth_uri"), "otpauth://totp/"));
    reply_free(&r);
    /* not enabled until verified: the login stays one step */
    r = login(emails[CUST2], PW, NULL);
    EXPECT(r, 200);
    ck_assert_ptr_nonnull(jstr(r.json, "csrf_token"));
    reply_free(&r);
    expect_status(CUST2, "POST", "/api/v1/auth/totp/verify", "{\"code\": \"000000\"}", 400);
    char code[8];
    totp_code(secret, -1, code);   /* last step's code: used for enabling */
    char body[64];
    snprintf(body, sizeof(body), "{\"code\": \"%s\"}", code);
    r = T(CUST2, "POST", "/api/v1/auth/totp/verify", body);
    EXPECT(r, 200);
    json_t *codes = json_object_get(r.json, "recovery_codes");
    ck_assert_int_eq(json_array_size(codes), 10);
    char rec[32];
    snprintf(rec, sizeof(rec), "%s", json_string_value(json_array_get(codes, 0)));
    reply_free(&r);
    expect_status(CUST2, "POST", "/api/v1/auth/totp", NULL, 409);
    /* the enabling code cannot log in again: replay */
    char *ch = challenge_for(CUST2);
    r = totp_login(ch, code, NULL);
    EXPECT(r, 401);
    reply_free(&r);
    r = totp_login(ch, "123456", NULL);
    EXPECT(r, 401);
    ck_assert_str_eq(jstr(r.json, "field"), "code");
    reply_free(&r);
    totp_code(secret, 0, code);
    r = totp_login(ch, code, NULL);
    EXPECT(r, 200);
    ck_assert_ptr_nonnull(strstr(r.headers.s, "Set-Cookie: atum_session="));
    reply_free(&r);
    /* the challenge is gone once used */
    r = totp_login(ch, code, NULL);
    EXPECT(r, 401);
    reply_free(&r);
    free(ch);
    /* the same current code on a fresh challenge: replay refused */
    ch = challenge_for(CUST2);
    r = totp_login(ch, code, NULL);
    EXPECT(r, 401);
    reply_free(&r);
    /* a recovery code works once */
    r = totp_login(ch, NULL, rec);
    EXPECT(r, 200);
    reply_free(&r);
    free(ch);
    ch = challenge_for(CUST2);
    r = totp_login(ch, NULL, rec);
    EXPECT(r, 401);
    reply_free(&r);
    r = totp_login(ch, "1234", "x");
    EXPECT(r, 400);
    reply_free(&r);
    free(ch);
    /* too many wrong codes on one challenge end it */
    ch = challenge_for(CUST2);
    testdb_exec(DB(), "DELETE FROM auth_throttle");
    for (int i = 0; i < 5; i++) {
        r = totp_login(ch, "000001", NULL);
        EXPECT(r, 401);
        reply_free(&r);
        if (i == 2) {   /* TOTP guesses count against the account too */
            r = totp_login(ch, "000001", NULL);
            EXPECT(r, 429);
            reply_free(&r);
            testdb_exec(DB(), "DELETE FROM auth_throttle");
        }
    }
    totp_code(secret, 1, code);
    r = totp_login(ch, code, NULL);
    EXPECT(r, 401);
    ck_assert_str_eq(jstr(r.json, "field"), "challenge");
    reply_free(&r);
    free(ch);
    testdb_exec(DB(), "DELETE FROM auth_throttle");
    /* disable with a recovery code */
    snprintf(body, sizeof(body), "{\"recovery_code\": \"%s\"}",
             "zzzz-zzzz-zzzz");
    expect_status(CUST2, "POST", "/api/v1/auth/totp/disable", body, 400);
    r = T(CUST2, "POST", "/api/v1/auth/totp/disable", "{\"code\": \"12\"}");
    EXPECT(r, 400);
    reply_free(&r);
    testdb_exec(DB(), "UPDATE user_totp SET last_step = 0");   /* so the next code is fresh */
    totp_code(secret, 0, code);
    snprintf(body, sizeof(body), "{\"code\": \"%s\"}", code);
    expect_status(CUST2, "POST", "/api/v1/auth/totp/disable", body, 204);
    r = login(emails[CUST2], PW, NULL);
    EXPECT(r, 200);
    ck_assert_ptr_nonnull(jstr(r.json, "csrf_token"));
    reply_free(&r);
    ck_assert_int_eq(qintf("SELECT count(*) FROM audit_log WHERE actor_id = %lld AND action IN"
                           " ('totp.enrol', 'totp.enable', 'totp.disable')", uid[CUST2]), 3);
    ck_assert_int_ge(qintf("SELECT count(*) FROM audit_log WHERE action = 'login.failed'"
                           " AND detail->>'reason' = 'totp'"), 3);
}
END_TEST

START_TEST(api_tokens_create_list_revoke)
{
    struct reply r = T(AGENT_B, "POST", "/api/v1/auth/tokens", "{\"name\": \"ci\", \"password\": \"" PW "\", \"expires_in_days\": 30}");
    EXPECT(r, 201);
    char t[TOKEN_MAX];
    snprintf(t, sizeof(t), "%s", jstr(r.json, "token"));
    long long id = jint(r.json, "id");
    ck_assert(strncmp(t, "atum_", 5) == 0);
    reply_free(&r);
    ck_assert_int_eq(qintf("SELECT count(*) FROM api_tokens WHERE token_hash = '%s'", t), 0);
    struct call c = { .method = "GET", .path = "/api/v1/auth/tokens", .token = t };
    r = http(&c);
    EXPECT(r, 200);
    ck_assert_ptr_null(strstr(r.body.s, t));   /* shown once, never listed */
    ck_assert_ptr_nonnull(strstr(r.body.s, "\"ci\""));
    reply_free(&r);
    ck_assert_int_eq(qintf("SELECT count(*) FROM audit_log WHERE action = 'token.create' AND target = 'token:%lld'", id), 1);
    /* somebody else's token: 404 */
    char path[64];
    snprintf(path, sizeof(path), "/api/v1/auth/tokens/%lld", id);
    expect_status(AGENT_A, "DELETE", path, NULL, 404);
    expect_status(AGENT_B, "DELETE", path, NULL, 204);
    r = http(&c);
    EXPECT(r, 401);
    reply_free(&r);
    expect_status(AGENT_B, "DELETE", path, NULL, 404);
    /* expired and malformed tokens */
    r = T(AGENT_B, "POST", "/api/v1/auth/tokens", "{\"name\": \"short\", \"password\": \"" PW "\"}");
    snprintf(t, sizeof(t), "%s", jstr(r.json, "token"));
    id = jint(r.json, "id");
    reply_free(&r);
    qintf("WITH u AS (UPDATE api_tokens SET expires_at = now() - interval '1 minute' WHERE id = %lld"
          " RETURNING 1) SELECT count(*) FROM u", id);
    r = http(&c);
    EXPECT(r, 401);
    reply_free(&r);
    const char *bads[] = { "atum_' OR '1'='1", "atum_", "x", "Basic Zm9vOmJhcg==" };
    for (size_t i = 0; i < 4; i++) {
        char hdr[128];
        snprintf(hdr, sizeof(hdr), "Authorization: %s%s", i == 3 ? "" : "Bearer ", bads[i]);
        struct call b = { .method = "GET", .path = "/api/v1/auth/me", .header = hdr };
        r = http(&b);
        EXPECT(r, 401);
        reply_free(&r);
    }
    expect_status(AGENT_B, "POST", "/api/v1/auth/tokens", "{\"name\": \"\", \"password\": \"" PW "\"}", 400);
    expect_status(AGENT_B, "POST", "/api/v1/auth/tokens", "{\"name\": \"x\", \"password\": \"" PW "\", \"expires_in_days\": 0}", 400);
}
END_TEST

/* ---- tickets ------------------------------------------------------------------- */

START_TEST(ticket_life_with_events_and_outbox)
{
    char path[128], body[256];
    /* a webhook hears the events: they are committed with the change */
    snprintf(body, sizeof(body), "{\"url\": \"http://127.0.0.1:%d/all\", \"events\":"
             " [\"ticket.created\", \"ticket.updated\", \"message.created\", \"ticket.merged\"]}", W.hook_port);
    struct reply r = T(ADMIN, "POST", "/api/v1/webhooks", body);
    EXPECT(r, 201);
    long long hook = jint(r.json, "id");
    reply_free(&r);

    long long t = new_ticket(CUST1, 0, "Printer on fire", "It is really burning");
    ck_assert_int_eq(qintf("SELECT count(*) FROM tickets WHERE id = %lld AND requester_id = %lld"
                           " AND org_id = %lld AND status = 'new'", t, uid[CUST1], org1), 1);
    ck_assert_int_eq(qintf("SELECT count(*) FROM messages WHERE ticket_id = %lld AND direction = 'in'", t), 1);
    /* the plugin hook and the webhook got ticket.created */
    ck_assert_int_ge(qintf("SELECT count(*) FROM jobs j WHERE kind = 'hook.testplug.ticket.created'"
                           " AND (payload->'data'->>'ticket_id')::bigint = %lld UNION ALL"
                           " SELECT count(*) FROM job_archive WHERE kind = 'hook.testplug.ticket.created'"
                           " AND (payload->'data'->>'ticket_id')::bigint = %lld ORDER BY 1 DESC LIMIT 1", t, t), 1);
    ck_assert_int_eq(qintf("SELECT count(*) FROM webhook_deliveries WHERE webhook_id = %lld"
                           " AND event IN ('ticket.created', 'message.created')"
                           " AND (payload->>'ticket_id')::bigint = %lld", hook, t), 2);
    /* the customer picked the first queue (A): agent A works it */
    snprintf(path, sizeof(path), "/api/v1/tickets/%lld/replies", t);
    r = T(AGENT_A, "POST", path, "{\"body\": \"We are on it.\", \"status\": \"pending\"}");
    EXPECT(r, 201);
    long long mid = jint(r.json, "id");
    ck_assert_str_eq(jstr(r.json, "direction"), "out");
    reply_free(&r);
    /* the outbox job waits with the message id, committed with the reply */
    ck_assert_int_eq(qintf("SELECT count(*) FROM jobs WHERE kind = 'mail.send'"
                           " AND payload = '{\"message_id\": %lld}'::jsonb", mid), 1);
    ck_assert_int_eq(qintf("SELECT count(*) FROM tickets WHERE id = %lld AND status = 'pending'", t), 1);
    /* internal note: no mail, invisible to the customer */
    snprintf(path, sizeof(path), "/api/v1/tickets/%lld/notes", t);
    r = T(AGENT_A, "POST", path, "{\"body\": \"secret internal remark zebra\"}");
    EXPECT(r, 201);
    long long note = jint(r.json, "id");
    reply_free(&r);
    ck_assert_int_eq(qintf("SELECT count(*) FROM jobs WHERE kind = 'mail.send'"
                           " AND (payload->>'message_id')::bigint = %lld", note), 0);
    expect_status(CUST1, "POST", path, "{\"body\": \"x\"}", 404);
    snprintf(path, sizeof(path), "/api/v1/tickets/%lld", t);
    r = T(CUST1, "GET", path, NULL);
    EXPECT(r, 200);
    ck_assert_ptr_null(strstr(r.body.s, "zebra"));
    ck_assert_int_eq(json_array_size(json_object_get(r.json, "messages")), 2);
    reply_free(&r);
    r = T(AGENT_A, "GET", path, NULL);
    EXPECT(r, 200);
    ck_assert_ptr_nonnull(strstr(r.body.s, "zebra"));
    ck_assert_int_eq(json_array_size(json_object_get(r.json, "messages")), 3);
    reply_free(&r);
    /* customer reply reopens, no outbox job */
    snprintf(path, sizeof(path), "/api/v1/tickets/%lld/replies", t);
    long long mail_before = qint("SELECT count(*) FROM jobs WHERE kind = 'mail.send'");
    r = T(CUST1, "POST", path, "{\"body\": \"Still burning\"}");
    EXPECT(r, 201);
    ck_assert_str_eq(jstr(r.json, "direction"), "in");
    reply_free(&r);
    ck_assert_int_eq(qint("SELECT count(*) FROM jobs WHERE kind = 'mail.send'"), mail_before);
    ck_assert_int_eq(qintf("SELECT count(*) FROM tickets WHERE id = %lld AND status = 'open'", t), 1);
    expect_status(CUST1, "POST", path, "{\"body\": \"x\", \"status\": \"closed\"}", 403);

    /* updates */
    snprintf(path, sizeof(path), "/api/v1/tickets/%lld", t);
    snprintf(body, sizeof(body), "{\"priority\": \"urgent\", \"category\": \"hardware\", \"assignee_id\": %lld}", uid[AGENT_A]);
    r = T(AGENT_A, "PATCH", path, body);
    EXPECT(r, 200);
    ck_assert_str_eq(jstr(r.json, "priority"), "urgent");
    ck_assert_int_eq(jint(r.json, "assignee_id"), uid[AGENT_A]);
    reply_free(&r);
    ck_assert_int_eq(qintf("SELECT count(*) FROM audit_log WHERE action = 'ticket.update' AND target = 'ticket:%lld'"
                           " AND detail->'changes'->'priority'->>'to' = 'urgent'", t), 1);
    ck_assert_int_ge(qintf("SELECT count(*) FROM webhook_deliveries WHERE event = 'ticket.updated'"
                           " AND (payload->>'ticket_id')::bigint = %lld", t), 1);
    /* agent B is not in queue A: cannot be assigned */
    snprintf(body, sizeof(body), "{\"assignee_id\": %lld}", uid[AGENT_B]);
    r = T(AGENT_A, "PATCH", path, body);
    EXPECT(r, 422);
    ck_assert_str_eq(jstr(r.json, "field"), "assignee_id");
    reply_free(&r);
    snprintf(body, sizeof(body), "{\"assignee_id\": %lld}", uid[CUST1]);
    expect_status(AGENT_A, "PATCH", path, body, 422);
    snprintf(body, sizeof(body), "{\"queue_id\": %lld}", queue_b);
    expect_status(AGENT_A, "PATCH", path, body, 422);   /* not a member of B */
    expect_status(CUST1, "PATCH", path, "{\"priority\": \"low\"}", 403);
    expect_status(CUST1, "PATCH", path, "{\"status\": \"open\"}", 403);
    expect_status(CUST1, "PATCH", path, "{\"status\": \"solved\"}", 200);
    ck_assert_int_eq(qintf("SELECT count(*) FROM tickets WHERE id = %lld AND solved_at IS NOT NULL", t), 1);
    /* a manager moves it to queue B: agent A loses it, agent B gains it */
    snprintf(body, sizeof(body), "{\"queue_id\": %lld, \"assignee_id\": null}", queue_b);
    expect_status(MANAGER, "PATCH", path, body, 200);
    expect_status(AGENT_A, "GET", path, NULL, 404);
    expect_status(AGENT_B, "GET", path, NULL, 200);

    /* merge two of cust1's tickets in queue B */
    long long t2 = new_ticket(AGENT_B, queue_b, "Printer smokes", "duplicate");
    snprintf(path, sizeof(path), "/api/v1/tickets/%lld/merge", t2);
    snprintf(body, sizeof(body), "{\"into_id\": %lld}", t);
    r = T(AGENT_B, "POST", path, body);
    EXPECT(r, 200);
    ck_assert_int_eq(jint(r.json, "id"), t);
    reply_free(&r);
    ck_assert_int_eq(qintf("SELECT count(*) FROM messages WHERE ticket_id = %lld", t2), 0);
    ck_assert_int_eq(qintf("SELECT count(*) FROM tickets WHERE id = %lld AND merged_into = %lld AND status = 'closed'", t2, t), 1);
    expect_status(AGENT_B, "POST", path, body, 409);   /* already merged */
    snprintf(body, sizeof(body), "{\"into_id\": %lld}", t2);
    expect_status(AGENT_B, "POST", path, body, 422);
    ck_assert_int_eq(qintf("SELECT count(*) FROM audit_log WHERE action = 'ticket.merge' AND target = 'ticket:%lld'", t2), 1);

    /* links */
    long long t3 = new_ticket(AGENT_B, queue_b, "Related", "x");
    snprintf(path, sizeof(path), "/api/v1/tickets/%lld/links", t);
    snprintf(body, sizeof(body), "{\"ticket_id\": %lld}", t3);
    expect_status(AGENT_B, "POST", path, body, 201);
    expect_status(AGENT_B, "POST", path, body, 201);   /* idempotent */
    snprintf(body, sizeof(body), "{\"ticket_id\": %lld}", t);
    expect_status(AGENT_B, "POST", path, body, 422);   /* itself */
    snprintf(path, sizeof(path), "/api/v1/tickets/%lld", t3);
    r = T(AGENT_B, "GET", path, NULL);
    ck_assert_int_eq(json_integer_value(json_array_get(json_object_get(r.json, "links"), 0)), t);
    reply_free(&r);
    snprintf(path, sizeof(path), "/api/v1/tickets/%lld/links/%lld", t3, t);
    expect_status(AGENT_B, "DELETE", path, NULL, 204);
    expect_status(AGENT_B, "DELETE", path, NULL, 404);

    /* "being edited by" */
    snprintf(path, sizeof(path), "/api/v1/tickets/%lld/lock", t3);
    r = T(AGENT_B, "POST", path, NULL);
    EXPECT(r, 200);
    ck_assert(json_is_true(json_object_get(r.json, "acquired")));
    reply_free(&r);
    r = T(MANAGER, "POST", path, NULL);
    EXPECT(r, 409);
    ck_assert(json_is_false(json_object_get(r.json, "acquired")));
    ck_assert_str_eq(jstr(json_object_get(r.json, "lock"), "email"), emails[AGENT_B]);
    reply_free(&r);
    snprintf(path, sizeof(path), "/api/v1/tickets/%lld", t3);
    r = T(MANAGER, "GET", path, NULL);
    ck_assert_str_eq(jstr(json_object_get(r.json, "lock"), "email"), emails[AGENT_B]);
    reply_free(&r);
    snprintf(path, sizeof(path), "/api/v1/tickets/%lld/lock", t3);
    expect_status(MANAGER, "DELETE", path, NULL, 404);
    expect_status(AGENT_B, "DELETE", path, NULL, 204);
    expect_status(MANAGER, "POST", path, NULL, 200);

    /* the webhook deliveries ran (events -> jobs -> signed POSTs) */
    long long t0 = time_mono_ms();
    while (qintf("SELECT count(*) FROM webhook_deliveries WHERE webhook_id = %lld AND state <> 'delivered'", hook) > 0
           && time_mono_ms() - t0 < 20000)
        usleep(100000);
    ck_assert_int_eq(qintf("SELECT count(*) FROM webhook_deliveries WHERE webhook_id = %lld AND state <> 'delivered'", hook), 0);
    snprintf(path, sizeof(path), "/api/v1/webhooks/%lld", hook);
    expect_status(ADMIN, "DELETE", path, NULL, 204);
}
END_TEST

START_TEST(list_filters_search_and_cursor)
{
    long long ids[7];
    for (int i = 0; i < 7; i++) {
        char subj[64];
        snprintf(subj, sizeof(subj), "Paging ticket %d", i);
        ids[i] = new_ticket(CUST3, queue_b, subj, i == 3 ? "the flux capacitor is broken" : "nothing special");
    }
    testdb_exec(DB(), "UPDATE tickets SET priority = 'low' WHERE subject = 'Paging ticket 5'");
    /* page through cust3's tickets 3 at a time: every one once, newest first */
    char path[256], cursor[80] = "";
    int seen = 0;
    long long last = 1LL << 60;
    for (int page = 0; page < 5; page++) {
        if (cursor[0])
            snprintf(path, sizeof(path), "/api/v1/tickets?limit=3&cursor=%s", cursor);
        else
            snprintf(path, sizeof(path), "/api/v1/tickets?limit=3");
        struct reply r = T(CUST3, "GET", path, NULL);
        EXPECT(r, 200);
        json_t *items = json_object_get(r.json, "items");
        size_t i;
        json_t *it;
        json_array_foreach(items, i, it) {
            long long id = jint(it, "id");
            ck_assert_int_lt(id, last);   /* same updated_at order as ids here */
            last = id;
            seen++;
        }
        const char *nc = jstr(r.json, "next_cursor");
        snprintf(cursor, sizeof(cursor), "%s", nc ? nc : "");
        reply_free(&r);
        if (!nc)
            break;
    }
    ck_assert_int_eq(seen, 7);
    /* a change while paging does not duplicate the rest */
    struct reply r;
    /* filters */
    snprintf(path, sizeof(path), "/api/v1/tickets?priority=low&requester_id=%lld", uid[CUST3]);
    r = T(CUST3, "GET", path, NULL);
    EXPECT(r, 200);
    ck_assert_int_eq(json_array_size(json_object_get(r.json, "items")), 1);
    ck_assert_int_eq(jint(json_array_get(json_object_get(r.json, "items"), 0), "id"), ids[5]);
    reply_free(&r);
    snprintf(path, sizeof(path), "/api/v1/tickets?queue_id=%lld&status=new&org_id=%lld", queue_b, org2);
    r = T(MANAGER, "GET", path, NULL);
    EXPECT(r, 200);
    ck_assert_int_ge(json_array_size(json_object_get(r.json, "items")), 7);
    reply_free(&r);
    r = T(MANAGER, "GET", "/api/v1/tickets?updated_since=2999-01-01T00:00:00Z", NULL);
    EXPECT(r, 200);
    ck_assert_int_eq(json_array_size(json_object_get(r.json, "items")), 0);
    reply_free(&r);
    /* full-text search in bodies and subjects */
    r = T(CUST3, "GET", "/api/v1/tickets?q=capacitor", NULL);
    EXPECT(r, 200);
    ck_assert_int_eq(json_array_size(json_object_get(r.json, "items")), 1);
    ck_assert_int_eq(jint(json_array_get(json_object_get(r.json, "items"), 0), "id"), ids[3]);
    reply_free(&r);
    r = T(CUST3, "GET", "/api/v1/tickets?q=%22flux%20capacitor%22", NULL);
    EXPECT(r, 200);
    ck_assert_int_eq(json_array_size(json_object_get(r.json, "items")), 1);
    reply_free(&r);
    r = T(CUST1, "GET", "/api/v1/tickets?q=capacitor", NULL);   /* not theirs */
    EXPECT(r, 200);
    ck_assert_int_eq(json_array_size(json_object_get(r.json, "items")), 0);
    reply_free(&r);
    /* internal notes are not searchable by customers */
    char np[96];
    snprintf(np, sizeof(np), "/api/v1/tickets/%lld/notes", ids[0]);
    expect_status(AGENT_B, "POST", np, "{\"body\": \"quokka internal\"}", 201);
    r = T(CUST3, "GET", "/api/v1/tickets?q=quokka", NULL);
    ck_assert_int_eq(json_array_size(json_object_get(r.json, "items")), 0);
    reply_free(&r);
    r = T(AGENT_B, "GET", "/api/v1/tickets?q=quokka", NULL);
    ck_assert_int_eq(json_array_size(json_object_get(r.json, "items")), 1);
    reply_free(&r);
}
END_TEST

/* Pages through GET /api/v1/tickets?<query>&limit=<limit> with token,
 * calling between(page) after each page; the ids seen, in order, into
 * ids (at most max); returns how many. */
static int page_all(const char *token, const char *query, int limit, long long *ids, int max,
                    void (*between)(int page))
{
    char path[512], cursor[80] = "";
    int n = 0;
    for (int page = 0; page < 100; page++) {
        snprintf(path, sizeof(path), "/api/v1/tickets?%s%slimit=%d%s%s", query, query[0] ? "&" : "",
                 limit, cursor[0] ? "&cursor=" : "", cursor);
        struct call c = { .method = "GET", .path = path, .token = token };
        struct reply r = http(&c);
        EXPECT(r, 200);
        json_t *items = json_object_get(r.json, "items");
        ck_assert_int_le(json_array_size(items), limit);
        size_t i;
        json_t *it;
        json_array_foreach(items, i, it) {
            ck_assert_int_lt(n, max);
            ids[n++] = jint(it, "id");
        }
        const char *nc = jstr(r.json, "next_cursor");
        snprintf(cursor, sizeof(cursor), "%s", nc ? nc : "");
        reply_free(&r);
        if (!nc)
            return n;
        if (between)
            between(page);
    }
    ck_abort_msg("paging did not end");
    return n;
}

static int count_of(const long long *ids, int n, long long id)
{
    int k = 0;
    for (int i = 0; i < n; i++)
        k += ids[i] == id;
    return k;
}

#define NPAGED 12
static long long paged[NPAGED];
static int touches[NPAGED];

/* A staff change to paged[i] while somebody pages: it moves to the top. */
static void touch(int i)
{
    char path[64];
    snprintf(path, sizeof(path), "/api/v1/tickets/%lld", paged[i]);
    struct reply r = T(AGENT_B, "PATCH", path, touches[i]++ % 2 ? "{\"priority\": \"normal\"}"
                                                                : "{\"priority\": \"urgent\"}");
    EXPECT(r, 200);
    reply_free(&r);
}

/* paged[] is created oldest first, so the list shows paged[11] first:
 * page 0 (limit 4) has 11..8, page 1 has 7..4, page 2 has 3..0 */
static void touch_while_paging(int page)
{
    if (page == 0) {
        touch(10);   /* seen already */
        touch(2);    /* not yet: moves ahead of the cursor */
    } else if (page == 1) {
        touch(6);    /* seen */
        touch(0);    /* not yet */
    }
}

START_TEST(paging_while_tickets_change)
{
    const char *e = NULL;
    long long pager;
    char ptok[TOKEN_MAX], h[TOKEN_HASH_HEX], sql[512];
    ck_assert_msg(user_add(DB(), "pager@example.com", "Pager", "customer", PW, "test", &pager, &e) == 0, "%s", e);
    ck_assert_int_eq(token_new("atum_", ptok, sizeof(ptok), &e), 0);
    token_hash(SECRET, ptok, strlen(ptok), h);
    snprintf(sql, sizeof(sql), "INSERT INTO api_tokens (user_id, name, token_hash, prefix) VALUES"
                               " (%lld, 'pager', '%s', 'atum_x')", pager, h);
    testdb_exec(DB(), sql);
    for (int i = 0; i < NPAGED; i++) {
        char body[256];
        snprintf(body, sizeof(body), "{\"subject\": \"Paged %d\", \"body\": \"%s\", \"queue_id\": %lld,"
                 " \"requester_id\": %lld}", i, i % 3 == 0 ? "walrus sighting" : "plain", queue_b, pager);
        struct reply r = T(AGENT_B, "POST", "/api/v1/tickets", body);
        EXPECT(r, 201);
        paged[i] = jint(r.json, "id");
        reply_free(&r);
    }
    long long ids[64];

    /* the plain list (a prepared statement per role), tickets changing
     * between pages: no ticket twice, and every one that did not change
     * exactly once, in (updated_at, id) order */
    int n = page_all(ptok, "", 4, ids, 64, touch_while_paging);
    for (int i = 0; i < NPAGED; i++) {
        int k = count_of(ids, n, paged[i]);
        ck_assert_msg(k <= 1, "ticket %lld seen %d times", paged[i], k);
        if (i != 2 && i != 0)   /* changed before they were reached */
            ck_assert_msg(k == 1, "unchanged ticket %lld (Paged %d) skipped", paged[i], i);
    }
    ck_assert_int_eq(n, NPAGED - 2);
    /* newest first as they were when seen: created in id order, and a
     * change after a ticket was seen does not show it again */
    for (int i = 1; i < n; i++)
        ck_assert_int_lt(ids[i], ids[i - 1]);

    /* with filters the general query pages: the same guarantees (from
     * the order of creation again) */
    snprintf(sql, sizeof(sql), "UPDATE tickets SET updated_at = created_at WHERE requester_id = %lld", pager);
    testdb_exec(DB(), sql);
    n = page_all(ptok, "status=new", 4, ids, 64, touch_while_paging);
    ck_assert_int_eq(n, NPAGED - 2);
    for (int i = 0; i < NPAGED; i++) {
        int k = count_of(ids, n, paged[i]);
        ck_assert_msg(k <= 1, "filtered: ticket %lld seen %d times", paged[i], k);
        if (i != 2 && i != 0)
            ck_assert_msg(k == 1, "filtered: unchanged ticket %lld (Paged %d) skipped", paged[i], i);
    }

    /* a cursor with filters: only matching tickets, each once, pages of 2 */
    testdb_exec(DB(), "UPDATE tickets SET priority = 'high' WHERE subject IN ('Paged 1', 'Paged 4', 'Paged 5',"
                      " 'Paged 8', 'Paged 11') AND requester_id = (SELECT id FROM users WHERE email = 'pager@example.com')");
    n = page_all(ptok, "priority=high", 2, ids, 64, NULL);
    ck_assert_int_eq(n, 5);
    static const int high[] = { 1, 4, 5, 8, 11 };
    for (int i = 0; i < 5; i++)
        ck_assert_int_eq(count_of(ids, n, paged[high[i]]), 1);
    for (int i = 1; i < n; i++)
        ck_assert_int_ne(ids[i], ids[i - 1]);
    /* full-text search with a cursor: the walrus tickets 0, 3, 6, 9 */
    n = page_all(ptok, "q=walrus", 1, ids, 64, NULL);
    ck_assert_int_eq(n, 4);
    static const int walrus[] = { 0, 3, 6, 9 };
    for (int i = 0; i < 4; i++)
        ck_assert_int_eq(count_of(ids, n, paged[walrus[i]]), 1);
    /* two filters and a search together, staff view */
    char q[128];
    snprintf(q, sizeof(q), "q=walrus&requester_id=%lld&status=new", pager);
    n = page_all(tok[MANAGER], q, 3, ids, 64, NULL);
    ck_assert_int_eq(n, 4);
    /* a cursor from one filter set used with another still only returns
     * what matches the filters it is sent with */
    n = page_all(ptok, "priority=high&q=walrus", 1, ids, 64, NULL);
    ck_assert_int_eq(n, 0);
}
END_TEST

/* ---- security ------------------------------------------------------------------ */

/* Every filter of every list endpoint. */
static const struct { const char *path; const char *const params[11]; } list_filters[] = {
    { "/api/v1/tickets", { "status", "priority", "queue_id", "assignee_id", "requester_id", "org_id",
                           "updated_since", "q", "limit", "cursor", NULL } },
    { "/api/v1/users", { "limit", "after_id", "role", "q", "org_id", NULL } },
    { "/api/v1/orgs", { "limit", "after_id", NULL } },
    { "/api/v1/queues", { "limit", "after_id", NULL } },
    { "/api/v1/mailboxes", { "limit", "after_id", NULL } },
    { "/api/v1/canned-responses", { "limit", "after_id", NULL } },
    { "/api/v1/jobs", { "state", "kind", "limit", "after_id", NULL } },
    { "/api/v1/audit", { "action", "actor_id", "target", "since", "until", "limit", "before_seq", NULL } },
};

/* Bytes PostgreSQL refuses in text: every filter answers 400 naming itself
 * (they used to reach SQL and answer 500, or blame another parameter). */
START_TEST(bad_bytes_in_filters_are_400)
{
    static const char *const bytes[] = {
        "%ff", "%fe%ff", "%80", "%00", "a%00b", "%c0%af", "%c1%bf", "%e0%80%af", "%f0%80%80%af",
        "%ed%a0%80", "%f4%90%80%80", "%e2%82", "ok%c3", "%f8%88%80%80%80", "2026-01-01%ff",
    };
    for (size_t l = 0; l < sizeof(list_filters) / sizeof(list_filters[0]); l++)
        for (const char *const *p = list_filters[l].params; *p; p++)
            for (size_t b = 0; b < sizeof(bytes) / sizeof(bytes[0]); b++) {
                char path[256];
                snprintf(path, sizeof(path), "%s?%s=%s", list_filters[l].path, *p, bytes[b]);
                struct reply r = T(ADMIN, "GET", path, NULL);
                ck_assert_msg(r.status == 400, "%s: %ld %s", path, r.status, strbuf_str(&r.body));
                ck_assert_msg(strstr(r.headers.s, "application/problem+json") != NULL, "%s", path);
                ck_assert_msg(jstr(r.json, "field") && strcmp(jstr(r.json, "field"), *p) == 0,
                              "%s: field %s", path, jstr(r.json, "field"));
                reply_free(&r);
            }
    /* and next to a valid filter, the bad one is still the one named */
    struct reply r = T(ADMIN, "GET", "/api/v1/tickets?status=open&q=%c0%af&updated_since=2026-01-01", NULL);
    EXPECT(r, 400);
    ck_assert_str_eq(jstr(r.json, "field"), "q");
    reply_free(&r);
    /* valid UTF-8 beyond ASCII is data */
    expect_status(ADMIN, "GET", "/api/v1/tickets?q=caf%c3%a9%20%e2%82%ac%20%f0%9f%98%80", NULL, 200);
    expect_status(ADMIN, "GET", "/api/v1/users?q=%c3%a9", NULL, 200);
    expect_status(ADMIN, "GET", "/api/v1/audit?target=%e2%82%ac", NULL, 200);
}
END_TEST

START_TEST(sql_injection_everywhere_is_data)
{
    static const char *const inj[] = {
        "' OR '1'='1", "1; DROP TABLE tickets; --", "\\'; DELETE FROM users; --",
        "1) OR (1=1", "$1", "%' --", "' UNION SELECT password_hash FROM users --",
        "\"; SELECT pg_sleep(5); --", "x'::text; TRUNCATE audit_log; --",
    };
    long long users = qint("SELECT count(*) FROM users"), tickets = qint("SELECT count(*) FROM tickets");
    for (size_t i = 0; i < sizeof(inj) / sizeof(inj[0]); i++) {
        char *esc = curl_easy_escape(NULL, inj[i], 0);
        for (size_t l = 0; l < sizeof(list_filters) / sizeof(list_filters[0]); l++)
            for (const char *const *p = list_filters[l].params; *p; p++) {
                char path[512];
                snprintf(path, sizeof(path), "%s?%s=%s", list_filters[l].path, *p, esc);
                struct reply r = T(ADMIN, "GET", path, NULL);
                ck_assert_msg(r.status == 200 || r.status == 400, "%s: %ld %s", path, r.status,
                              strbuf_str(&r.body));
                if (l == 0 && strcmp(*p, "q") == 0)
                    ck_assert_int_eq(r.status, 200);   /* search text is data */
                if (r.status == 400)   /* refused: then for the right reason */
                    ck_assert_msg(jstr(r.json, "field") && strcmp(jstr(r.json, "field"), *p) == 0,
                                  "%s: field %s", path, jstr(r.json, "field"));
                reply_free(&r);
            }
        curl_free(esc);
        /* as field values: stored verbatim */
        json_t *b = json_pack("{s:s, s:s, s:s}", "subject", inj[i], "body", inj[i], "category", inj[i]);
        char *s = json_dumps(b, 0);
        struct reply r = T(AGENT_A, "POST", "/api/v1/tickets", s);
        EXPECT(r, 201);
        ck_assert_str_eq(jstr(r.json, "subject"), inj[i]);
        ck_assert_str_eq(jstr(r.json, "category"), inj[i]);
        reply_free(&r);
        free(s);
        json_decref(b);
        b = json_pack("{s:s, s:s}", "email", inj[i], "password", inj[i]);
        s = json_dumps(b, 0);
        struct call c = { .method = "POST", .path = "/api/v1/auth/login", .body = s,
                          .header = "X-Forwarded-For: 198.51.100.9" };
        r = http(&c);
        ck_assert_int_eq(r.status == 401 || r.status == 429, 1);
        reply_free(&r);
        free(s);
        json_decref(b);
        b = json_pack("{s:s, s:s}", "name", inj[i], "domain", "inj.example");
        s = json_dumps(b, 0);
        r = T(MANAGER, "POST", "/api/v1/orgs", s);
        ck_assert_msg(r.status == 201 || r.status == 409, "%ld", r.status);
        if (r.status == 201)
            ck_assert_str_eq(jstr(r.json, "name"), inj[i]);
        reply_free(&r);
        testdb_exec(DB(), "DELETE FROM orgs WHERE domain = 'inj.example'");
        free(s);
        json_decref(b);
    }
    ck_assert_int_eq(qint("SELECT count(*) FROM users"), users);
    ck_assert_int_eq(qint("SELECT count(*) FROM tickets"), tickets + (long long)(sizeof(inj) / sizeof(inj[0])));
    testdb_exec(DB(), "DELETE FROM auth_throttle");
}
END_TEST

START_TEST(xss_is_stored_and_returned_as_data)
{
    const char *xss = "<script>alert(document.cookie)</script><img src=x onerror=alert(1)>\"'&";
    json_t *b = json_pack("{s:s, s:s}", "subject", xss, "body", xss);
    char *s = json_dumps(b, 0);
    struct reply r = T(CUST1, "POST", "/api/v1/tickets", s);
    EXPECT(r, 201);
    long long id = jint(r.json, "id");
    reply_free(&r);
    free(s);
    json_decref(b);
    char path[64];
    snprintf(path, sizeof(path), "/api/v1/tickets/%lld", id);
    r = T(AGENT_A, "GET", path, NULL);
    EXPECT(r, 200);
    ck_assert_ptr_nonnull(strstr(r.headers.s, "Content-Type: application/json"));
    ck_assert_ptr_nonnull(strstr(r.headers.s, "X-Content-Type-Options: nosniff"));
    ck_assert_str_eq(jstr(r.json, "subject"), xss);
    ck_assert_str_eq(jstr(json_array_get(json_object_get(r.json, "messages"), 0), "body_text"), xss);
    reply_free(&r);
    ck_assert_int_eq(qintf("SELECT count(*) FROM messages WHERE ticket_id = %lld AND body_text = "
                           "'<script>alert(document.cookie)</script><img src=x onerror=alert(1)>\"''&'", id), 1);
}
END_TEST

/* An attachment on the first message of ticket t. */
static long long attach_to(long long t)
{
    testdb_exec(DB(), "INSERT INTO attachment_blobs (sha256, size, content) VALUES (repeat('a', 64), 5, 'hello')"
                      " ON CONFLICT DO NOTHING");
    return qintf("INSERT INTO attachments (message_id, sha256, filename, content_type, size)"
                 " SELECT min(id), repeat('a', 64), 'x.txt', 'text/plain', 5 FROM messages WHERE ticket_id = %lld"
                 " RETURNING id", t);
}

/* Every id route on ticket t (and its attachment att) answers who 404;
 * other is a ticket who can see, or any other ticket. */
static void probe_404(int who, long long t, long long other, long long att)
{
    char p[6][128], lnk[160], merge[64], body[96], attp[64];
    const char *sub[] = { "", "/replies", "/notes", "/merge", "/links", "/lock" };
    for (int i = 0; i < 6; i++)
        snprintf(p[i], sizeof(p[i]), "/api/v1/tickets/%lld%s", t, sub[i]);
    snprintf(lnk, sizeof(lnk), "/api/v1/tickets/%lld/links/%lld", t, other);
    snprintf(merge, sizeof(merge), "{\"into_id\": %lld}", other);
    snprintf(body, sizeof(body), "{\"ticket_id\": %lld}", other);
    snprintf(attp, sizeof(attp), "/api/v1/attachments/%lld", att);
    const struct { const char *m, *path, *body; } probes[] = {
        { "GET", p[0], NULL }, { "PATCH", p[0], "{\"status\": \"closed\"}" },
        { "POST", p[1], "{\"body\": \"hi\"}" }, { "POST", p[2], "{\"body\": \"hi\"}" },
        { "POST", p[3], merge }, { "POST", p[4], body }, { "DELETE", lnk, NULL },
        { "POST", p[5], NULL }, { "DELETE", p[5], NULL }, { "GET", attp, NULL },
    };
    for (size_t i = 0; i < sizeof(probes) / sizeof(probes[0]); i++)
        expect_status(who, probes[i].m, probes[i].path, probes[i].body, 404);
}

START_TEST(cross_tenant_ids_are_404)
{
    /* cust1's ticket in queue A with an attachment; cust3 (other org),
     * cust2 (same org, with org access) and agent B (queue B) probe it */
    long long t = new_ticket(CUST1, queue_a, "Tenant one", "private");
    long long att = attach_to(t);
    long long other = new_ticket(CUST3, queue_b, "Tenant two", "other");
    char p[1][128], attp[64];
    snprintf(p[0], sizeof(p[0]), "/api/v1/tickets/%lld", t);
    snprintf(attp, sizeof(attp), "/api/v1/attachments/%lld", att);
    probe_404(CUST3, t, other, att);
    probe_404(AGENT_B, t, other, att);
    /* the same organisation is not enough: cust1 has no org_access, so
     * cust2's ticket is as invisible to cust1 as another tenant's */
    long long t2 = new_ticket(CUST2, queue_a, "Org mate's", "mine only");
    long long att2 = attach_to(t2);
    probe_404(CUST1, t2, t, att2);
    struct reply l = T(CUST1, "GET", "/api/v1/tickets?limit=200", NULL);
    EXPECT(l, 200);
    ck_assert_ptr_null(strstr(l.body.s, "Org mate's"));
    ck_assert_ptr_nonnull(strstr(l.body.s, "Tenant one"));
    reply_free(&l);
    l = T(CUST1, "GET", "/api/v1/tickets?q=mine", NULL);
    ck_assert_int_eq(json_array_size(json_object_get(l.json, "items")), 0);
    reply_free(&l);
    ck_assert_int_eq(qintf("SELECT count(*) FROM tickets WHERE id = %lld AND status = 'new'", t2), 1);
    /* the answer is the same as for an id that does not exist */
    struct reply a = T(CUST3, "GET", p[0], NULL), b = T(CUST3, "GET", "/api/v1/tickets/999999999", NULL);
    ck_assert_str_eq(a.body.s, b.body.s);
    reply_free(&a);
    reply_free(&b);
    /* same organisation with org access sees it; agent A (queue A) too */
    expect_status(CUST2, "GET", p[0], NULL, 200);
    expect_status(CUST2, "GET", attp, NULL, 200);
    expect_status(AGENT_A, "GET", p[0], NULL, 200);
    ck_assert_int_eq(qintf("SELECT count(*) FROM tickets WHERE id = %lld AND status = 'new'", t), 1);
    /* staff-only and admin-only id routes answer 404 to lower roles */
    char up[64];
    snprintf(up, sizeof(up), "/api/v1/users/%lld", uid[CUST1]);
    expect_status(CUST3, "GET", up, NULL, 404);
    expect_status(AGENT_A, "PATCH", up, "{\"name\": \"x\"}", 404);
    expect_status(AGENT_A, "GET", "/api/v1/jobs/1/retry", NULL, 405);
    expect_status(AGENT_A, "POST", "/api/v1/jobs/1/retry", NULL, 404);
    expect_status(MANAGER, "GET", "/api/v1/webhooks/1", NULL, 404);
    expect_status(MANAGER, "GET", "/api/v1/mailboxes/1", NULL, 404);
    expect_status(AGENT_A, "PATCH", "/api/v1/plugins/testplug", "{\"enabled\": false}", 404);
    expect_status(CUST1, "GET", "/api/v1/orgs/1", NULL, 404);
    expect_status(CUST1, "GET", "/api/v1/canned-responses/1", NULL, 404);
    /* and collection routes a role may not use: 403 */
    expect_status(CUST1, "GET", "/api/v1/users", NULL, 403);
    expect_status(AGENT_A, "GET", "/api/v1/audit", NULL, 403);
    expect_status(AGENT_A, "GET", "/api/v1/jobs", NULL, 403);
    /* lists never show other tenants' tickets */
    struct reply r = T(CUST3, "GET", "/api/v1/tickets?limit=200", NULL);
    ck_assert_ptr_null(strstr(r.body.s, "Tenant one"));
    reply_free(&r);
}
END_TEST

START_TEST(attachments_are_served_safely)
{
    long long t = new_ticket(CUST1, queue_a, "With files", "see attached");
    testdb_exec(DB(), "INSERT INTO attachment_blobs (sha256, size, content) VALUES"
                      " (repeat('b', 64), 20, '<script>x</script>xx'), (repeat('c', 64), 8, '\\x89504e470d0a1a0a'::bytea)"
                      " ON CONFLICT DO NOTHING");
    long long html = qintf("INSERT INTO attachments (message_id, sha256, filename, content_type, size)"
                           " SELECT min(id), repeat('b', 64), 'evil\"\r\nX-Injected: 1.html', E'text/html\r\nX-Evil: yes', 20"
                           " FROM messages WHERE ticket_id = %lld RETURNING id", t);
    long long png = qintf("INSERT INTO attachments (message_id, sha256, filename, content_type, size)"
                          " SELECT min(id), repeat('c', 64), 'p\xc3\xa9.png', 'image/png', 8"
                          " FROM messages WHERE ticket_id = %lld RETURNING id", t);
    char path[64];
    snprintf(path, sizeof(path), "/api/v1/attachments/%lld", html);
    struct reply r = T(CUST1, "GET", path, NULL);
    EXPECT(r, 200);
    ck_assert_uint_eq(r.body.len, 20);
    ck_assert_ptr_nonnull(strstr(r.headers.s, "Content-Type: application/octet-stream"));
    ck_assert_ptr_nonnull(strstr(r.headers.s, "Content-Disposition: attachment; filename=\"evil___X-Injected: 1.html\""));
    ck_assert_ptr_null(strstr(r.headers.s, "X-Injected: 1\r\n"));
    ck_assert_ptr_null(strstr(r.headers.s, "X-Evil"));
    ck_assert_ptr_nonnull(strstr(r.headers.s, "X-Content-Type-Options: nosniff"));
    ck_assert_ptr_nonnull(strstr(r.headers.s, "Content-Security-Policy: sandbox"));
    reply_free(&r);
    snprintf(path, sizeof(path), "/api/v1/attachments/%lld", png);
    r = T(CUST1, "GET", path, NULL);
    EXPECT(r, 200);
    ck_assert_uint_eq(r.body.len, 8);
    ck_assert_int_eq(memcmp(r.body.s, "\x89PNG\r\n\x1a\n", 8), 0);
    ck_assert_ptr_nonnull(strstr(r.headers.s, "Content-Type: image/png"));
    ck_assert_ptr_nonnull(strstr(r.headers.s, "Content-Disposition: inline; filename=\"p__.png\"; filename*=UTF-8''p%C3%A9.png"));
    reply_free(&r);
    expect_status(CUST3, "GET", path, NULL, 404);
    expect_status(CUST1, "GET", "/api/v1/attachments/99999999", NULL, 404);
    /* attachments of internal notes stay internal */
    char np[64];
    snprintf(np, sizeof(np), "/api/v1/tickets/%lld/notes", t);
    r = T(AGENT_A, "POST", np, "{\"body\": \"internal file\"}");
    long long note = jint(r.json, "id");
    reply_free(&r);
    long long ia = qintf("INSERT INTO attachments (message_id, sha256, filename, content_type, size)"
                         " VALUES (%lld, repeat('c', 64), 'int.png', 'image/png', 8) RETURNING id", note);
    snprintf(path, sizeof(path), "/api/v1/attachments/%lld", ia);
    expect_status(CUST1, "GET", path, NULL, 404);
    expect_status(AGENT_A, "GET", path, NULL, 200);
}
END_TEST

/* ---- directory and admin -------------------------------------------------------- */

START_TEST(directory_crud_and_roles)
{
    /* users */
    struct reply r = T(MANAGER, "POST", "/api/v1/users", "{\"email\": \"new.agent@example.com\", \"name\": \"New\","
                                                         " \"role\": \"agent\", \"password\": \"a long enough password\"}");
    EXPECT(r, 201);
    long long nu = jint(r.json, "id");
    ck_assert(json_is_true(json_object_get(r.json, "has_password")));
    ck_assert_ptr_null(json_object_get(r.json, "password_hash"));
    reply_free(&r);
    expect_status(MANAGER, "POST", "/api/v1/users", "{\"email\": \"boss@example.com\", \"role\": \"admin\"}", 403);
    expect_status(MANAGER, "POST", "/api/v1/users", "{\"email\": \"new.agent@example.com\"}", 409);
    expect_status(MANAGER, "POST", "/api/v1/users", "{\"email\": \"not an address\"}", 400);
    expect_status(MANAGER, "POST", "/api/v1/users", "{\"email\": \"weak@example.com\", \"password\": \"short\"}", 400);
    expect_status(MANAGER, "POST", "/api/v1/users", "{\"email\": \"r@example.com\", \"role\": \"god\"}", 400);
    expect_status(AGENT_A, "POST", "/api/v1/users", "{\"email\": \"x@example.com\"}", 403);
    char path[96], body[192];
    /* a reference to nothing is 422 naming the field (not 409), and the
     * duplicate names its field too */
    r = T(MANAGER, "POST", "/api/v1/users", "{\"email\": \"fk@example.com\", \"org_id\": 999999}");
    EXPECT(r, 422);
    ck_assert_str_eq(jstr(r.json, "field"), "org_id");
    reply_free(&r);
    ck_assert_int_eq(qint("SELECT count(*) FROM users WHERE email = 'fk@example.com'"), 0);
    r = T(MANAGER, "POST", "/api/v1/users", "{\"email\": \"New.Agent@example.com\"}");
    EXPECT(r, 409);
    ck_assert_str_eq(jstr(r.json, "field"), "email");
    reply_free(&r);
    snprintf(path, sizeof(path), "/api/v1/users/%lld", nu);
    r = T(MANAGER, "PATCH", path, "{\"org_id\": 999999}");
    EXPECT(r, 422);
    ck_assert_str_eq(jstr(r.json, "field"), "org_id");
    reply_free(&r);
    /* POST /users takes "disabled", as documented: an account made ahead */
    r = T(MANAGER, "POST", "/api/v1/users", "{\"email\": \"dormant@example.com\", \"disabled\": true,"
                                             " \"password\": \"a long enough password\"}");
    EXPECT(r, 201);
    ck_assert(json_is_true(json_object_get(r.json, "disabled")));
    long long dormant = jint(r.json, "id");
    reply_free(&r);
    r = login("dormant@example.com", "a long enough password", "X-Forwarded-For: 192.0.2.210");
    EXPECT(r, 401);
    reply_free(&r);
    snprintf(path, sizeof(path), "/api/v1/users/%lld", dormant);
    expect_status(MANAGER, "PATCH", path, "{\"disabled\": false}", 200);
    r = login("dormant@example.com", "a long enough password", "X-Forwarded-For: 192.0.2.210");
    EXPECT(r, 200);
    reply_free(&r);
    ck_assert_int_eq(qintf("SELECT count(*) FROM audit_log WHERE action = 'user.create' AND target = 'user:%lld'"
                           " AND detail->>'disabled' = 'true'", dormant), 1);
    expect_status(MANAGER, "POST", "/api/v1/users", "{\"email\": \"d2@example.com\", \"disabled\": \"yes\"}", 400);
    snprintf(path, sizeof(path), "/api/v1/users/%lld", nu);
    expect_status(ADMIN, "PATCH", path, "{\"role\": \"manager\"}", 200);
    ck_assert_int_eq(qintf("SELECT count(*) FROM audit_log WHERE action = 'user.role' AND target = 'user:%lld'"
                           " AND detail->>'from' = 'agent' AND detail->>'to' = 'manager'", nu), 1);
    expect_status(MANAGER, "PATCH", path, "{\"name\": \"x\"}", 403);   /* now a manager */
    snprintf(path, sizeof(path), "/api/v1/users/%lld", uid[ADMIN]);
    expect_status(ADMIN, "PATCH", path, "{\"role\": \"agent\"}", 409);   /* not yourself */
    r = T(AGENT_A, "GET", "/api/v1/users?role=admin", NULL);
    EXPECT(r, 200);
    ck_assert_int_eq(json_array_size(json_object_get(r.json, "items")), 1);
    reply_free(&r);
    /* a role change takes effect at once, even for a token just used */
    r = T(ADMIN, "POST", "/api/v1/users", "{\"email\": \"demote@example.com\", \"role\": \"agent\"}");
    EXPECT(r, 201);
    long long dem = jint(r.json, "id");
    reply_free(&r);
    char dtok[TOKEN_MAX], dh[TOKEN_HASH_HEX], dsql[512];
    const char *te = NULL;
    ck_assert_int_eq(token_new("atum_", dtok, sizeof(dtok), &te), 0);
    token_hash(SECRET, dtok, strlen(dtok), dh);
    snprintf(dsql, sizeof(dsql), "INSERT INTO api_tokens (user_id, name, token_hash, prefix)"
                                 " VALUES (%lld, 't', '%s', 'atum_x')", dem, dh);
    testdb_exec(DB(), dsql);
    struct call dc = { .method = "GET", .path = "/api/v1/users", .token = dtok };
    r = http(&dc);
    EXPECT(r, 200);
    reply_free(&r);
    snprintf(path, sizeof(path), "/api/v1/users/%lld", dem);
    expect_status(ADMIN, "PATCH", path, "{\"role\": \"customer\"}", 200);
    r = http(&dc);
    EXPECT(r, 403);
    reply_free(&r);

    /* disabling ends sessions and tokens; accounts are never deleted */
    r = T(MANAGER, "POST", "/api/v1/users", "{\"email\": \"leaver@example.com\", \"password\": \"a long enough password\"}");
    EXPECT(r, 201);
    long long leaver = jint(r.json, "id");
    reply_free(&r);
    struct session ls;
    {
        struct reply lr = login("leaver@example.com", "a long enough password", NULL);
        EXPECT(lr, 200);
        cookie_of(&lr, ls.cookie, sizeof(ls.cookie));
        reply_free(&lr);
    }
    snprintf(path, sizeof(path), "/api/v1/users/%lld", leaver);
    expect_status(AGENT_A, "DELETE", path, NULL, 404);
    expect_status(MANAGER, "DELETE", path, NULL, 204);
    struct call lme = { .method = "GET", .path = "/api/v1/auth/me", .cookie = ls.cookie };
    r = http(&lme);
    EXPECT(r, 401);
    reply_free(&r);
    r = login("leaver@example.com", "a long enough password", NULL);
    EXPECT(r, 401);
    reply_free(&r);
    r = T(MANAGER, "GET", path, NULL);
    EXPECT(r, 200);
    ck_assert(json_is_true(json_object_get(r.json, "disabled")));
    reply_free(&r);
    ck_assert_int_eq(qintf("SELECT count(*) FROM audit_log WHERE action = 'user.disable' AND target = 'user:%lld'", leaver), 1);
    snprintf(path, sizeof(path), "/api/v1/users/%lld", uid[ADMIN]);
    expect_status(MANAGER, "DELETE", path, NULL, 403);
    expect_status(ADMIN, "DELETE", path, NULL, 409);

    /* orgs */
    r = T(MANAGER, "POST", "/api/v1/orgs", "{\"name\": \"Acme\", \"domain\": \"acme.example\"}");
    EXPECT(r, 201);
    long long o = jint(r.json, "id");
    reply_free(&r);
    expect_status(MANAGER, "POST", "/api/v1/orgs", "{\"name\": \"Acme\"}", 409);
    expect_status(MANAGER, "POST", "/api/v1/orgs", "{\"name\": \"Bad\", \"domain\": \"no spaces.example\"}", 400);
    expect_status(MANAGER, "POST", "/api/v1/orgs", "{\"domain\": \"x.example\"}", 400);
    snprintf(path, sizeof(path), "/api/v1/orgs/%lld", o);
    r = T(AGENT_A, "PATCH", path, "{\"name\": \"Acme Ltd\"}");
    EXPECT(r, 404);
    reply_free(&r);
    r = T(MANAGER, "PATCH", path, "{\"domain\": null}");
    EXPECT(r, 200);
    ck_assert(json_is_null(json_object_get(r.json, "domain")));
    ck_assert_str_eq(jstr(r.json, "name"), "Acme");
    reply_free(&r);
    expect_status(MANAGER, "DELETE", path, NULL, 204);
    expect_status(MANAGER, "GET", path, NULL, 404);

    /* queues and members */
    r = T(ADMIN, "POST", "/api/v1/queues", "{\"name\": \"Billing\", \"address\": \"billing@support.example\"}");
    EXPECT(r, 201);
    long long q = jint(r.json, "id");
    reply_free(&r);
    expect_status(MANAGER, "POST", "/api/v1/queues", "{\"name\": \"X\", \"address\": \"x@support.example\"}", 403);
    expect_status(ADMIN, "POST", "/api/v1/queues", "{\"name\": \"Y\", \"address\": \"not-an-address\"}", 400);
    snprintf(path, sizeof(path), "/api/v1/queues/%lld/members/%lld", q, uid[AGENT_A]);
    expect_status(MANAGER, "PUT", path, NULL, 204);
    snprintf(path, sizeof(path), "/api/v1/queues/%lld/members/%lld", q, uid[CUST1]);
    expect_status(MANAGER, "PUT", path, NULL, 404);
    snprintf(path, sizeof(path), "/api/v1/queues/%lld", q);
    r = T(AGENT_A, "GET", path, NULL);
    EXPECT(r, 200);
    ck_assert_int_eq(json_array_size(json_object_get(r.json, "members")), 1);
    reply_free(&r);
    r = T(CUST1, "GET", "/api/v1/queues", NULL);
    EXPECT(r, 200);
    ck_assert_int_ge(json_array_size(json_object_get(r.json, "items")), 3);
    reply_free(&r);
    snprintf(path, sizeof(path), "/api/v1/queues/%lld", queue_a);
    expect_status(ADMIN, "DELETE", path, NULL, 409);   /* has tickets */

    /* mailboxes */
    snprintf(body, sizeof(body), "{\"name\": \"imap1\", \"queue_id\": %lld, \"host\": \"imap.example\","
             " \"port\": 993, \"username\": \"u\"}", q);
    r = T(ADMIN, "POST", "/api/v1/mailboxes", body);
    EXPECT(r, 201);
    long long mb = jint(r.json, "id");
    ck_assert_str_eq(jstr(r.json, "security"), "tls");
    reply_free(&r);
    expect_status(ADMIN, "POST", "/api/v1/mailboxes", "{\"name\": \"imap2\"}", 400);
    r = T(ADMIN, "POST", "/api/v1/mailboxes", "{\"name\": \"imap3\", \"queue_id\": 999999, \"host\": \"imap.example\","
                                              " \"port\": 993, \"username\": \"u\"}");
    EXPECT(r, 422);
    ck_assert_str_eq(jstr(r.json, "field"), "queue_id");
    reply_free(&r);
    snprintf(path, sizeof(path), "/api/v1/mailboxes/%lld", mb);
    r = T(ADMIN, "PATCH", path, "{\"queue_id\": 999999}");
    EXPECT(r, 422);
    ck_assert_str_eq(jstr(r.json, "field"), "queue_id");
    reply_free(&r);
    expect_status(ADMIN, "PATCH", path, "{\"port\": 70000}", 400);
    expect_status(ADMIN, "PATCH", path, "{\"password_env\": \"X; rm -rf /\"}", 400);
    r = T(ADMIN, "PATCH", path, "{\"security\": \"starttls\", \"port\": 143, \"password_env\": \"ATUM_IMAP_PASSWORD_IMAP1\"}");
    EXPECT(r, 200);
    ck_assert_int_eq(jint(r.json, "port"), 143);
    reply_free(&r);
    expect_status(ADMIN, "DELETE", path, NULL, 204);

    /* canned responses: agents see global + their queues' */
    snprintf(body, sizeof(body), "{\"title\": \"B only\", \"body\": \"hello\", \"queue_id\": %lld}", queue_b);
    r = T(MANAGER, "POST", "/api/v1/canned-responses", body);
    EXPECT(r, 201);
    long long cb = jint(r.json, "id");
    reply_free(&r);
    expect_status(MANAGER, "POST", "/api/v1/canned-responses", "{\"title\": \"Global\", \"body\": \"hi\"}", 201);
    r = T(MANAGER, "POST", "/api/v1/canned-responses", "{\"title\": \"Lost\", \"body\": \"hi\", \"queue_id\": 999999}");
    EXPECT(r, 422);
    ck_assert_str_eq(jstr(r.json, "field"), "queue_id");
    reply_free(&r);
    expect_status(AGENT_A, "POST", "/api/v1/canned-responses", "{\"title\": \"No\", \"body\": \"no\"}", 403);
    snprintf(path, sizeof(path), "/api/v1/canned-responses/%lld", cb);
    expect_status(AGENT_A, "GET", path, NULL, 404);
    expect_status(AGENT_B, "GET", path, NULL, 200);
    r = T(AGENT_A, "GET", "/api/v1/canned-responses", NULL);
    ck_assert_ptr_null(strstr(r.body.s, "B only"));
    ck_assert_ptr_nonnull(strstr(r.body.s, "Global"));
    reply_free(&r);
    expect_status(MANAGER, "PATCH", path, "{\"title\": \"\"}", 400);
    expect_status(MANAGER, "DELETE", path, NULL, 204);
    ck_assert_int_ge(qint("SELECT count(*) FROM audit_log WHERE action IN ('org.create', 'queue.create',"
                          " 'mailbox.create', 'canned_response.create', 'queue.member_add')"), 5);
}
END_TEST

START_TEST(jobs_plugins_and_audit)
{
    /* a dead job, requeued by the admin */
    long long dead = qint("INSERT INTO jobs (kind, state, last_error) VALUES ('never.runs', 'dead', 'boom') RETURNING id");
    struct reply r = T(ADMIN, "GET", "/api/v1/jobs?state=dead", NULL);
    EXPECT(r, 200);
    ck_assert_ptr_nonnull(strstr(r.body.s, "never.runs"));
    reply_free(&r);
    r = T(ADMIN, "GET", "/api/v1/jobs/stats", NULL);
    EXPECT(r, 200);
    ck_assert(json_is_object(json_object_get(r.json, "by_state")));
    reply_free(&r);
    char path[64];
    snprintf(path, sizeof(path), "/api/v1/jobs/%lld/retry", dead);
    r = T(ADMIN, "POST", path, NULL);
    EXPECT(r, 200);
    ck_assert_int_eq(jint(r.json, "requeued"), 1);
    reply_free(&r);
    expect_status(ADMIN, "POST", "/api/v1/jobs/999999999/retry", NULL, 404);
    expect_status(ADMIN, "POST", "/api/v1/jobs/retry-dead", "{\"kind\": \"Bad Kind!\"}", 400);
    expect_status(ADMIN, "POST", "/api/v1/jobs/retry-dead", "{}", 200);
    ck_assert_int_eq(qintf("SELECT count(*) FROM audit_log WHERE action = 'job.retry' AND target = 'job:%lld'", dead), 1);
    testdb_exec(DB(), "DELETE FROM jobs WHERE kind = 'never.runs'");

    /* plugins: list, disable (routes go), enable (routes come back) */
    r = T(ADMIN, "GET", "/api/v1/plugins", NULL);
    EXPECT(r, 200);
    json_t *p0 = json_array_get(json_object_get(r.json, "items"), 0);
    ck_assert_str_eq(jstr(p0, "name"), "testplug");
    ck_assert_str_eq(jstr(p0, "state"), "loaded");
    ck_assert_int_eq(jint(p0, "abi"), 1);
    reply_free(&r);
    expect_status(ADMIN, "PATCH", "/api/v1/plugins/nosuch", "{\"enabled\": false}", 404);
    expect_status(ADMIN, "PATCH", "/api/v1/plugins/testplug", "{\"enabled\": \"no\"}", 400);
    r = T(ADMIN, "PATCH", "/api/v1/plugins/testplug", "{\"enabled\": false}");
    EXPECT(r, 200);
    ck_assert_str_eq(jstr(r.json, "state"), "disabled");
    reply_free(&r);
    struct call hello = { .method = "GET", .path = "/api/v1/plugins/testplug/hello" };
    r = http(&hello);
    EXPECT(r, 404);
    reply_free(&r);
    r = T(ADMIN, "PATCH", "/api/v1/plugins/testplug", "{\"enabled\": true}");
    EXPECT(r, 200);
    ck_assert_str_eq(jstr(r.json, "state"), "loaded");
    reply_free(&r);
    r = http(&hello);
    EXPECT(r, 200);
    reply_free(&r);
    ck_assert_int_eq(qint("SELECT count(*) FROM audit_log WHERE action IN ('plugin.enable', 'plugin.disable')"), 2);

    /* audit log: filter, page, verify; tampering shows */
    r = T(ADMIN, "GET", "/api/v1/audit?action=plugin.disable", NULL);
    EXPECT(r, 200);
    ck_assert_int_eq(json_array_size(json_object_get(r.json, "items")), 1);
    reply_free(&r);
    r = T(ADMIN, "GET", "/api/v1/audit?limit=2", NULL);
    EXPECT(r, 200);
    long long seq = jint(json_array_get(json_object_get(r.json, "items"), 1), "seq");
    reply_free(&r);
    char ap[96];
    snprintf(ap, sizeof(ap), "/api/v1/audit?limit=1&before_seq=%lld", seq);
    r = T(ADMIN, "GET", ap, NULL);
    ck_assert_int_eq(jint(json_array_get(json_object_get(r.json, "items"), 0), "seq"), seq - 1);
    reply_free(&r);
    r = T(ADMIN, "GET", "/api/v1/audit/verify", NULL);
    EXPECT(r, 200);
    ck_assert(json_is_true(json_object_get(r.json, "ok")));
    reply_free(&r);
    /* the table refuses changes; a superuser who bypasses that is caught */
    const char *e = NULL;
    ck_assert_int_eq(db_command(DB(), "UPDATE audit_log SET actor = 'x' WHERE seq = 2", &e), -1);
    testdb_exec(DB(), "BEGIN; ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only;"
                      " UPDATE audit_log SET detail = '{\"forged\": true}' WHERE seq = 2;"
                      " ALTER TABLE audit_log ENABLE TRIGGER audit_log_append_only; COMMIT");
    r = T(ADMIN, "GET", "/api/v1/audit/verify", NULL);
    EXPECT(r, 200);
    ck_assert(json_is_false(json_object_get(r.json, "ok")));
    ck_assert_int_eq(jint(r.json, "first_bad_seq"), 2);
    reply_free(&r);
    ck_assert_int_eq(qint("SELECT count(*) FROM audit_log WHERE seq = 2 AND detail ? 'forged'"), 1);
}
END_TEST

START_TEST(webhooks_are_signed_and_retried)
{
    char body[256];
    snprintf(body, sizeof(body), "{\"url\": \"http://127.0.0.1:%d/flaky\", \"events\": [\"ticket.created\"]}", W.hook_port);
    struct reply r = T(ADMIN, "POST", "/api/v1/webhooks", body);
    EXPECT(r, 201);
    long long hook = jint(r.json, "id");
    char secret[TOKEN_MAX];
    snprintf(secret, sizeof(secret), "%s", jstr(r.json, "secret"));
    ck_assert(strncmp(secret, "whsec_", 6) == 0);
    reply_free(&r);
    expect_status(ADMIN, "POST", "/api/v1/webhooks", "{\"url\": \"ftp://x\", \"events\": [\"ticket.created\"]}", 400);
    expect_status(ADMIN, "POST", "/api/v1/webhooks", "{\"url\": \"http://x\", \"events\": []}", 400);
    expect_status(ADMIN, "POST", "/api/v1/webhooks", "{\"url\": \"http://x\", \"events\": [\"Bad Event\"]}", 400);
    char path[64];
    snprintf(path, sizeof(path), "/api/v1/webhooks/%lld", hook);
    r = T(ADMIN, "GET", path, NULL);
    ck_assert_ptr_null(json_object_get(r.json, "secret"));   /* shown once */
    reply_free(&r);

    long long t = new_ticket(CUST1, queue_a, "Hook me", "x");
    /* first attempt gets 500, the retry (backoff ~1 s) 200 */
    long long t0 = time_mono_ms();
    while (qintf("SELECT count(*) FROM webhook_deliveries WHERE webhook_id = %lld AND state = 'delivered'", hook) == 0
           && time_mono_ms() - t0 < 30000)
        usleep(100000);
    snprintf(path, sizeof(path), "/api/v1/webhooks/%lld/deliveries", hook);
    r = T(ADMIN, "GET", path, NULL);
    EXPECT(r, 200);
    json_t *d = json_array_get(json_object_get(r.json, "items"), 0);
    ck_assert_str_eq(jstr(d, "state"), "delivered");
    ck_assert_int_eq(jint(d, "attempts"), 2);
    ck_assert_int_eq(jint(d, "last_status"), 200);
    reply_free(&r);
    /* the receiver saw both calls; verify the signature of the last */
    FILE *f = fopen(W.hook_file, "r");
    ck_assert_ptr_nonnull(f);
    char line[70000];
    json_t *last = NULL;
    int calls = 0;
    while (fgets(line, sizeof(line), f)) {
        json_t *o = json_loads(line, 0, NULL);
        if (o && strcmp(jstr(o, "path"), "/flaky") == 0) {
            calls++;
            json_decref(last);
            last = o;
        } else {
            json_decref(o);
        }
    }
    fclose(f);
    ck_assert_int_eq(calls, 2);
    const char *hb = jstr(last, "body");
    char want[80];
    long long ts = atoll(jstr(last, "ts"));
    ck_assert_int_le(llabs((long long)time(NULL) - ts), 60);
    /* an independent HMAC-SHA256 over "<ts>.<body>" */
    struct strbuf m = STRBUF_INIT;
    strbuf_addf(&m, "%lld.%s", ts, hb);
    unsigned char mac[32];
    char hex[65];
    hmac_sha256(secret, strlen(secret), m.s, m.len, mac);
    hex_encode(mac, 32, hex);
    snprintf(want, sizeof(want), "v1=%s", hex);
    strbuf_free(&m);
    ck_assert_str_eq(jstr(last, "sig"), want);
    ck_assert_str_eq(jstr(last, "event"), "ticket.created");
    ck_assert_str_eq(jstr(last, "ctype"), "application/json");
    json_t *payload = json_loads(hb, 0, NULL);
    ck_assert_str_eq(jstr(payload, "event"), "ticket.created");
    ck_assert_int_eq(jint(json_object_get(payload, "data"), "ticket_id"), t);
    json_decref(payload);
    json_decref(last);
    /* disabled: no more deliveries */
    snprintf(path, sizeof(path), "/api/v1/webhooks/%lld", hook);
    expect_status(ADMIN, "PATCH", path, "{\"enabled\": false}", 200);
    long long n = qintf("SELECT count(*) FROM webhook_deliveries WHERE webhook_id = %lld", hook);
    new_ticket(CUST1, queue_a, "Not hooked", "x");
    ck_assert_int_eq(qintf("SELECT count(*) FROM webhook_deliveries WHERE webhook_id = %lld", hook), n);
    expect_status(ADMIN, "DELETE", path, NULL, 204);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("api_pg");
    TCase *tc = tcase_create("api");
    tcase_set_timeout(tc, 120);
    tcase_add_unchecked_fixture(tc, world_up, world_down);
    tcase_add_test(tc, headers_cors_and_errors);
    tcase_add_test(tc, bad_input_is_400_naming_the_field);
    tcase_add_test(tc, oversize_bodies_are_413);
    tcase_add_test(tc, bodyless_routes_refuse_bodies);
    tcase_add_test(tc, sessions_cookies_and_csrf);
    tcase_add_test(tc, password_hash_upgraded_at_login);
    tcase_add_test(tc, brute_force_is_429);
    tcase_add_test(tc, parallel_logins_respect_the_limit);
    tcase_add_test(tc, totp_enrol_login_replay_recovery);
    tcase_add_test(tc, api_tokens_create_list_revoke);
    tcase_add_test(tc, ticket_life_with_events_and_outbox);
    tcase_add_test(tc, list_filters_search_and_cursor);
    tcase_add_test(tc, paging_while_tickets_change);
    tcase_add_test(tc, sql_injection_everywhere_is_data);
    tcase_add_test(tc, bad_bytes_in_filters_are_400);
    tcase_add_test(tc, xss_is_stored_and_returned_as_data);
    tcase_add_test(tc, cross_tenant_ids_are_404);
    tcase_add_test(tc, attachments_are_served_safely);
    tcase_add_test(tc, directory_crud_and_roles);
    tcase_add_test(tc, webhooks_are_signed_and_retried);
    tcase_add_test(tc, jobs_plugins_and_audit);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_set_fork_status(sr, CK_NOFORK);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
