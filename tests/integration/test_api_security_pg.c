/* test_api_security_pg -- the web server and the API against hostile
 * clients (issue 10 of the outside probe): deeply nested JSON, encoded
 * path traversal and NUL, Unicode variants of an address against the
 * login throttle, what a password change ends, token minting, mailbox
 * secrets, slow and idle clients, body limits.
 *
 * The server runs in this process (web_start() on port 0) with a private
 * PostgreSQL from tests/run-test; the suite runs without forking
 * (CK_NOFORK) because its fixture is threaded.  Clients are libcurl and
 * raw sockets; "another client" is another loopback address (127.0.0.2 ...),
 * which Linux routes to the same interface. */
#include "config.h"
#include "core/dbpool.h"
#include "core/runtime.h"
#include "core/runtime_load.h"
#include "desk/user.h"
#include "lib/email.h"
#include "lib/token.h"
#include "lib/totp.h"
#include "lib/util.h"
#include "testdb.h"
#include "web/server.h"
#include "web/web_conf.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <jansson.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define SECRET "test-secret-0123456789abcdef0123456789"
#define PW "correct horse battery"

static struct {
    struct atum_config *cfg;
    struct runtime rt;
    struct db_pool *pool;
    struct web_server *ws;
    int port;
} W;

enum { ADMIN, MANAGER, AGENT, CUST, NUSERS };
static const char *const emails[NUSERS] = {
    "admin@example.com", "manager@example.com", "agent@example.com", "kim@example.com",
};
static const char *const roles[NUSERS] = { "admin", "manager", "agent", "customer" };
static long long uid[NUSERS];
static char tok[NUSERS][TOKEN_MAX];

static struct db_conn *test_db;
static struct db_conn *DB(void)
{
    if (test_db == NULL)
        test_db = testdb_connect();
    return test_db;
}

static long long qintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static long long qintf(const char *fmt, ...)
{
    char sql[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(sql, sizeof(sql), fmt, ap);
    va_end(ap);
    return testdb_int(DB(), sql);
}

static void sleep_ms(long ms)
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000 };
    nanosleep(&ts, NULL);
}

/* ---- HTTP client ------------------------------------------------------------ */
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
    const char *from;         /* source address, default 127.0.0.1 */
    int port;                 /* default W.port */
    long timeout_ms;          /* default 30 s */
};

static struct reply http(const struct call *c)
{
    struct reply r = { 0, STRBUF_INIT, STRBUF_INIT, NULL };
    char url[4096], hdr[4][600];
    struct curl_slist *h = NULL;
    snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", c->port ? c->port : W.port, c->path);
    CURL *e = curl_easy_init();
    curl_easy_setopt(e, CURLOPT_URL, url);
    /* paths are sent exactly as written: no "../" squashing by the client */
    curl_easy_setopt(e, CURLOPT_PATH_AS_IS, 1L);
    curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, c->method);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, &r.body);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_data);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, &r.headers);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, c->timeout_ms ? c->timeout_ms : 30000L);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    if (c->from)
        curl_easy_setopt(e, CURLOPT_INTERFACE, c->from);
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
        snprintf(hdr[3], sizeof(hdr[3]), "Content-Type: application/json");
        h = curl_slist_append(h, hdr[3]);
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, c->body);
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, (long)(c->body_len ? c->body_len : strlen(c->body)));
    }
    h = curl_slist_append(h, "Expect:");
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, h);
    CURLcode rc = curl_easy_perform(e);
    if (rc == CURLE_OK)
        curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &r.status);
    else
        r.status = -(long)rc;        /* no answer: the test says which */
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

static struct reply T(int who, const char *method, const char *path, const char *body)
{
    struct call c = { .method = method, .path = path, .token = tok[who], .body = body };
    return http(&c);
}

static const char *jstr(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

#define EXPECT(r, st) ck_assert_msg((r).status == (st), "%s:%d: status %ld, want %d: %s", \
                                    __FILE__, __LINE__, (r).status, (st), strbuf_str(&(r).body))

static void expect_status(int who, const char *method, const char *path, const char *body, int want)
{
    struct reply r = T(who, method, path, body);
    ck_assert_msg(r.status == want, "%s %s: %ld, want %d: %s", method, path, r.status, want,
                  strbuf_str(&r.body));
    reply_free(&r);
}

/* "[[[ ... inner ... ]]]" (or objects), depth levels. */
static char *nested(int depth, const char *open, const char *close, const char *inner)
{
    size_t ol = strlen(open), cl = strlen(close), il = strlen(inner);
    char *s = malloc((size_t)depth * (ol + cl) + il + 1), *p = s;
    for (int i = 0; i < depth; i++, p += ol)
        memcpy(p, open, ol);
    memcpy(p, inner, il);
    p += il;
    for (int i = 0; i < depth; i++, p += cl)
        memcpy(p, close, cl);
    *p = '\0';
    return s;
}

/* ---- fixture -------------------------------------------------------------------- */

static void world_up(void)
{
    const char *e = NULL;
    char path[64];
    curl_global_init(CURL_GLOBAL_DEFAULT);
    struct db_conn *c = testdb_connect();
    snprintf(path, sizeof(path), "/tmp/atum-secconf-XXXXXX");
    int fd = mkstemp(path);
    FILE *f = fdopen(fd, "w");
    fprintf(f, "[core]\nplugin_dir = %s\nsecret_key = %s\n"
               "[auth]\nlogin_failures_account = 3\nlogin_failures_ip = 1000\nlogin_window = 1m\n"
               "[plugin.testplug]\n", getenv("ATUM_TEST_PLUGIN_DIR"), SECRET);
    fclose(f);
    conf_declare(&web_conf_table);   /* [web] and [auth] are the web floor's keys */
    W.cfg = conf_load(path, &e);
    ck_assert_msg(W.cfg != NULL, "%s", e);
    unlink(path);
    free(W.cfg->database_url);
    W.cfg->database_url = strdup(testdb_url());
    runtime_init(&W.rt);
    ck_assert_msg(runtime_load(&W.rt, W.cfg, c, &e) == 0, "%s", e);
    for (int i = 0; i < NUSERS; i++) {
        char sql[512], h[TOKEN_HASH_HEX];
        ck_assert_msg(user_add(c, emails[i], emails[i], roles[i], PW, "test", &uid[i], &e) == 0, "%s", e);
        ck_assert_int_eq(token_new("atum_", tok[i], sizeof(tok[i]), &e), 0);
        token_hash(SECRET, tok[i], strlen(tok[i]), h);
        snprintf(sql, sizeof(sql), "INSERT INTO api_tokens (user_id, name, token_hash, prefix)"
                                   " VALUES (%lld, 'test', '%s', 'atum_x')", uid[i], h);
        testdb_exec(c, sql);
    }
    db_conn_free(&c);
    struct db_params pp = testdb_params("sec-web");
    W.pool = db_pool_new(&pp, 6);
    struct web_opts wo = { "127.0.0.1:0", 16, W.cfg->web_max_body, 10000, "sectest", W.cfg, 2000 };
    ck_assert_msg(web_start(&W.ws, &wo, &W.rt, W.pool, &e) == 0, "%s", e);
    W.port = web_port(W.ws);
}

static void world_down(void)
{
    db_conn_free(&test_db);
    web_stop(&W.ws);
    db_pool_free(&W.pool);
    runtime_destroy(&W.rt);
    conf_free(&W.cfg);
    curl_global_cleanup();
}

/* ---- 1. deeply nested JSON ------------------------------------------------------- */

/* A thousand levels overflowed a worker's stack inside jansson before
 * authentication; every JSON body of every route is now refused with 400
 * past JSON_MAX_DEPTH (32), without parsing it. */
START_TEST(deep_json_is_400_everywhere)
{
    char *arr = nested(1000, "[", "]", "1");
    char *body = malloc(strlen(arr) + 64);
    sprintf(body, "{\"email\": %s, \"password\": \"x\"}", arr);
    struct call login = { .method = "POST", .path = "/api/v1/auth/login", .body = body };
    struct reply r = http(&login);
    EXPECT(r, 400);
    ck_assert_ptr_nonnull(strstr(strbuf_str(&r.body), "deeper than 32"));
    reply_free(&r);
    free(body);

    /* objects as well as arrays, deeper still; authenticated routes, a
     * route that takes no body, a plugin route (whatever the type) */
    char *objs = nested(1000, "{\"a\":", "}", "1");
    char *deep100 = nested(100, "[", "]", "1");   /* fits a route that takes no body */
    const struct { int who; const char *m, *path; const char *b; } cases[] = {
        { -1, "POST", "/api/v1/auth/login", objs },
        { AGENT, "POST", "/api/v1/tickets", arr },
        { ADMIN, "PATCH", "/api/v1/users/1", objs },
        { AGENT, "POST", "/api/v1/auth/logout", deep100 },
        { -1, "POST", "/api/v1/plugins/testplug/echo", arr },
        { -1, "POST", "/api/v1/plugins/testplug/echo", objs },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct call c = { .method = cases[i].m, .path = cases[i].path, .body = cases[i].b,
                          .token = cases[i].who >= 0 ? tok[cases[i].who] : NULL };
        r = http(&c);
        ck_assert_msg(r.status == 400, "case %zu %s %s: %ld %s", i, cases[i].m, cases[i].path,
                      r.status, strbuf_str(&r.body));
        reply_free(&r);
    }
    /* 32 levels reach the handler (which refuses the shape, not the depth) */
    char *ok = nested(32, "[", "]", "1");
    struct call plug = { .method = "POST", .path = "/api/v1/plugins/testplug/echo", .body = ok };
    r = http(&plug);
    EXPECT(r, 200);
    reply_free(&r);
    free(ok);
    free(objs);
    free(deep100);
    free(arr);
    /* the server is alive */
    expect_status(ADMIN, "GET", "/api/v1/auth/me", NULL, 200);
}
END_TEST

/* ---- 14. encoded traversal and NUL ------------------------------------------------ */

/* civetweb used to decode %XX and squash "../" before the router saw the
 * path (/api/v1/plugins/../users answered the user list).  The router
 * now sees the path as sent and refuses anything but plain segments. */
START_TEST(encoded_paths_are_refused)
{
    static const char *const bad[] = {
        "/api/v1/plugins/../users", "/api/v1/plugins/testplug/../../users",
        "/api/v1/plugins/%2e%2e/users", "/api/v1/plugins/%2E%2E/users", "/api/v1/%2e%2e/v1/users",
        "/api/v1/users%00", "/api/v1/users%00.json", "/api/v1/us%65rs", "/api/v1/users%2f1",
        "/api/v1/./users", "/api/v1//users", "/api/v1/users/.", "/api/v1/plugins/testplug/%2e%2e/hello",
        "/healthz/..", "/%2e%2e/healthz", "/api/v1/users\\..\\x", "/api/v1/plugins/testplug/hello%3f",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        for (int who = 0; who < 2; who++) {
            struct call c = { .method = "GET", .path = bad[i], .token = who ? tok[ADMIN] : NULL };
            struct reply r = http(&c);
            ck_assert_msg(r.status == 400, "%s (%s): %ld %s", bad[i], who ? "admin" : "anonymous",
                          r.status, strbuf_str(&r.body));
            ck_assert_ptr_nonnull(strstr(r.headers.s, "application/problem+json"));
            reply_free(&r);
        }
    }
    /* plain paths still work, and a query string is not part of the path */
    expect_status(ADMIN, "GET", "/api/v1/users", NULL, 200);
    expect_status(ADMIN, "GET", "/api/v1/users?q=kim%40example.com", NULL, 200);
    expect_status(ADMIN, "GET", "/api/v1/plugins/testplug/hello", NULL, 200);
    expect_status(ADMIN, "GET", "/healthz", NULL, 200);
}
END_TEST

/* ---- 7. one canonical form of an address --------------------------------------- */

static struct reply login_as(const char *email, const char *pw)
{
    json_t *b = json_pack("{s:s, s:s}", "email", email, "password", pw);
    char *s = json_dumps(b, 0);
    struct call c = { .method = "POST", .path = "/api/v1/auth/login", .body = s };
    struct reply r = http(&c);
    free(s);
    json_decref(b);
    return r;
}

/* PostgreSQL's lower() folds "\u0130" (I with a dot) to "i" and "\u212A"
 * (Kelvin sign) to "k", while the throttle key used ASCII tolower(): each
 * variant had its own budget and still found the account.  The canonical
 * form (ASCII letters lower-cased, every other byte as it is) is now the
 * same for the lookup, the unique index and the throttle. */
START_TEST(unicode_variants_share_one_throttle)
{
    for (int i = 0; i < 3; i++) {
        struct reply r = login_as("kim@example.com", "wrong password 123");
        EXPECT(r, 401);
        reply_free(&r);
    }
    struct reply r = login_as("kim@example.com", PW);
    EXPECT(r, 429);
    reply_free(&r);
    /* ASCII case variants are the same account and the same budget */
    static const char *const same[] = { "KIM@example.com", "Kim@Example.COM" };
    for (size_t i = 0; i < 2; i++) {
        r = login_as(same[i], PW);
        ck_assert_msg(r.status == 429, "%s: %ld", same[i], r.status);
        reply_free(&r);
    }
    /* Unicode look-alikes are other addresses: no account, never a login */
    static const char *const other[] = {
        "\xe2\x84\xaaim@example.com",            /* KELVIN SIGN */
        "k\xc4\xb0m@example.com",                 /* I WITH DOT ABOVE */
        "\xe2\x84\xaa\xc4\xb0M@EXAMPLE.COM",
        "kim@exa\xef\xbd\x8dple.com",            /* FULLWIDTH m */
    };
    for (size_t i = 0; i < sizeof(other) / sizeof(other[0]); i++) {
        r = login_as(other[i], PW);
        ck_assert_msg(r.status == 401, "variant %zu: %ld %s", i, r.status, strbuf_str(&r.body));
        reply_free(&r);
    }
    ck_assert_int_eq(qintf("SELECT count(*) FROM sessions WHERE user_id = %lld", uid[CUST]), 0);
    /* the C and SQL forms agree, byte for byte */
    static const char *const forms[] = {
        "KIM@EXAMPLE.COM", "k\xc4\xb0m@Example.com", "\xe2\x84\xaa@x", "Stra\xc3\x9f" "E@X.DE",
        "\xc3\x84@\xc3\x96.example", "plain@example.com", "A+B.C_D@[127.0.0.1]",
    };
    for (size_t i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
        char c_form[EMAIL_MAX + 1];
        ck_assert_int_eq(email_canonical(forms[i], c_form), 0);
        const char *p[] = { forms[i] };
        const char *e = NULL;
        char *sql_form = db_query_value(DB(), "SELECT email_canonical($1)", 1, p, &e);
        ck_assert_msg(sql_form != NULL, "%s", e);
        ck_assert_str_eq(c_form, sql_form);
        free(sql_form);
    }
    testdb_exec(DB(), "DELETE FROM auth_throttle");
    r = login_as("KIM@EXAMPLE.COM", PW);
    EXPECT(r, 200);
    reply_free(&r);
    testdb_exec(DB(), "DELETE FROM sessions");
    /* one account per canonical form: creating a case variant is a conflict */
    expect_status(ADMIN, "POST", "/api/v1/users", "{\"email\": \"KIM@example.COM\"}", 409);
}
END_TEST

/* ---- 6. what a password change ends; minting tokens ---------------------------- */

struct session {
    char cookie[TOKEN_MAX];
    char csrf[80];
};

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

static void session_login(const char *email, const char *pw, struct session *s)
{
    struct reply r = login_as(email, pw);
    EXPECT(r, 200);
    cookie_of(&r, s->cookie, sizeof(s->cookie));
    snprintf(s->csrf, sizeof(s->csrf), "%s", jstr(r.json, "csrf_token"));
    reply_free(&r);
}

/* GET /auth/me with a session (cookie) or a token: the status. */
static long me_as(const struct session *s, const char *token)
{
    struct call c = { .method = "GET", .path = "/api/v1/auth/me", .cookie = s ? s->cookie : NULL,
                      .token = token };
    struct reply r = http(&c);
    long st = r.status;
    reply_free(&r);
    return st;
}

/* POST /auth/tokens by session (or token) with this body: the reply. */
static struct reply mint(const struct session *s, const char *token, const char *body)
{
    struct call c = { .method = "POST", .path = "/api/v1/auth/tokens", .cookie = s ? s->cookie : NULL,
                      .csrf = s ? s->csrf : NULL, .token = token, .body = body };
    return http(&c);
}

static long long new_user(const char *email, const char *role)
{
    const char *e = NULL;
    long long id = 0;
    ck_assert_msg(user_add(DB(), email, email, role, PW, "test", &id, &e) == 0, "%s", e);
    return id;
}

/* A new API token of the user with this address, into out. */
static void db_token(const char *email, char *out, size_t size)
{
    const char *e = NULL;
    char sql[512], h[TOKEN_HASH_HEX];
    ck_assert_int_eq(token_new("atum_", out, size, &e), 0);
    token_hash(SECRET, out, strlen(out), h);
    snprintf(sql, sizeof(sql), "INSERT INTO api_tokens (user_id, name, token_hash, prefix)"
             " SELECT id, 'db', '%s', 'atum_x' FROM users WHERE email = '%s'", h, email);
    testdb_exec(DB(), sql);
}

/* A password change -- by the API or by atumctl (user_set_password) --
 * ends every session and every API token of the account, except the
 * session of the caller who changed their own password. */
START_TEST(password_change_ends_sessions_and_tokens)
{
    long long agent = new_user("pw.agent@example.com", "agent");
    long long mgr = new_user("pw.admin@example.com", "admin");
    new_user("pw.cust@example.com", "customer");
    char path[64], body[160];

    /* an admin sets an agent's password: both sessions and both tokens end */
    struct session s1, s2;
    char t1[TOKEN_MAX], t2[TOKEN_MAX];
    session_login("pw.agent@example.com", PW, &s1);
    session_login("pw.agent@example.com", PW, &s2);
    db_token("pw.agent@example.com", t1, sizeof(t1));
    db_token("pw.agent@example.com", t2, sizeof(t2));
    ck_assert_int_eq(me_as(NULL, t1), 200);        /* in the token cache now */
    snprintf(path, sizeof(path), "/api/v1/users/%lld", agent);
    snprintf(body, sizeof(body), "{\"password\": \"a brand new passphrase\"}");
    expect_status(ADMIN, "PATCH", path, body, 200);
    ck_assert_int_eq(me_as(&s1, NULL), 401);
    ck_assert_int_eq(me_as(&s2, NULL), 401);
    ck_assert_int_eq(me_as(NULL, t1), 401);
    ck_assert_int_eq(me_as(NULL, t2), 401);
    ck_assert_int_eq(qintf("SELECT count(*) FROM api_tokens WHERE user_id = %lld AND revoked_at IS NULL", agent), 0);

    /* an admin changes their own password from one session: that one
     * session goes on, the other session and the token end */
    struct session own, other;
    char tm[TOKEN_MAX];
    session_login("pw.admin@example.com", PW, &own);
    session_login("pw.admin@example.com", PW, &other);
    db_token("pw.admin@example.com", tm, sizeof(tm));
    snprintf(path, sizeof(path), "/api/v1/users/%lld", mgr);
    struct call self = { .method = "PATCH", .path = path, .cookie = own.cookie, .csrf = own.csrf,
                         .body = "{\"password\": \"my own new passphrase\"}" };
    struct reply r = http(&self);
    EXPECT(r, 200);
    reply_free(&r);
    ck_assert_int_eq(me_as(&own, NULL), 200);
    ck_assert_int_eq(me_as(&other, NULL), 401);
    ck_assert_int_eq(me_as(NULL, tm), 401);
    ck_assert_int_eq(qintf("SELECT count(*) FROM audit_log WHERE action = 'user.access_ended'"
                           " AND target = 'user:%lld'", mgr), 1);

    /* atumctl user passwd (user_set_password): everything ends */
    struct session cs;
    char tc[TOKEN_MAX];
    session_login("pw.cust@example.com", PW, &cs);
    db_token("pw.cust@example.com", tc, sizeof(tc));
    const char *e = NULL;
    ck_assert_msg(user_set_password(DB(), "PW.Cust@Example.com", "reset by the operator", "atumctl", &e) == 0,
                  "%s", e);
    ck_assert_int_eq(me_as(&cs, NULL), 401);
    ck_assert_int_eq(me_as(NULL, tc), 401);
    r = login_as("pw.cust@example.com", "reset by the operator");
    EXPECT(r, 200);
    reply_free(&r);
}
END_TEST

/* A session (or a token) alone no longer mints a token: the password is
 * needed again (and the TOTP code when TOTP is on), wrong passwords count
 * against the login throttle, and every token expires. */
START_TEST(token_minting_needs_the_password)
{
    new_user("mint@example.com", "agent");
    struct session s;
    session_login("mint@example.com", PW, &s);
    struct reply r = mint(&s, NULL, "{\"name\": \"no password\"}");
    EXPECT(r, 400);
    ck_assert_str_eq(jstr(r.json, "field"), "password");
    reply_free(&r);
    for (int i = 0; i < 3; i++) {
        r = mint(&s, NULL, "{\"name\": \"x\", \"password\": \"wrong password 123\"}");
        EXPECT(r, 403);
        ck_assert_str_eq(jstr(r.json, "field"), "password");
        reply_free(&r);
    }
    char good[160];
    snprintf(good, sizeof(good), "{\"name\": \"ci\", \"password\": \"%s\"}", PW);
    r = mint(&s, NULL, good);
    EXPECT(r, 429);                     /* the account's login budget is spent */
    reply_free(&r);
    r = login_as("mint@example.com", PW);
    EXPECT(r, 429);
    reply_free(&r);
    testdb_exec(DB(), "DELETE FROM auth_throttle");

    /* the default expiry: auth.token_lifetime (90 days) */
    r = mint(&s, NULL, good);
    EXPECT(r, 201);
    char t[TOKEN_MAX];
    snprintf(t, sizeof(t), "%s", jstr(r.json, "token"));
    ck_assert_ptr_nonnull(jstr(r.json, "expires_at"));
    reply_free(&r);
    ck_assert_int_eq(qintf("SELECT count(*) FROM api_tokens WHERE name = 'ci' AND user_id ="
                           " (SELECT id FROM users WHERE email = 'mint@example.com')"
                           " AND expires_at BETWEEN now() + interval '89 days' AND now() + interval '91 days'"), 1);
    /* a token mints another only with the password too */
    r = mint(NULL, t, "{\"name\": \"chained\", \"expires_in_days\": null}");
    EXPECT(r, 400);
    reply_free(&r);
    snprintf(good, sizeof(good), "{\"name\": \"chained\", \"password\": \"%s\", \"expires_in_days\": 7}", PW);
    r = mint(NULL, t, good);
    EXPECT(r, 201);
    reply_free(&r);
    ck_assert_int_eq(qintf("SELECT count(*) FROM api_tokens WHERE name = 'chained'"
                           " AND expires_at < now() + interval '8 days'"), 1);
    ck_assert_int_eq(qintf("SELECT count(*) FROM api_tokens WHERE expires_at IS NULL"
                           " AND user_id = (SELECT id FROM users WHERE email = 'mint@example.com')"), 0);

    /* with TOTP on, the code as well */
    testdb_exec(DB(), "INSERT INTO user_totp (user_id, secret, enabled) SELECT id,"
                      " 'GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ', true FROM users WHERE email = 'mint@example.com'");
    snprintf(good, sizeof(good), "{\"name\": \"ci2\", \"password\": \"%s\"}", PW);
    r = mint(&s, NULL, good);
    EXPECT(r, 403);
    ck_assert_str_eq(jstr(r.json, "field"), "code");
    reply_free(&r);
    char code[16];
    snprintf(code, sizeof(code), "%06u",
             hotp((const unsigned char *)"12345678901234567890", 20, (uint64_t)(time(NULL) / 30), 6));
    snprintf(good, sizeof(good), "{\"name\": \"ci2\", \"password\": \"%s\", \"code\": \"%s\"}", PW, code);
    r = mint(&s, NULL, good);
    EXPECT(r, 201);
    reply_free(&r);
    /* the same code twice is a replay */
    snprintf(good, sizeof(good), "{\"name\": \"ci3\", \"password\": \"%s\", \"code\": \"%s\"}", PW, code);
    r = mint(&s, NULL, good);
    EXPECT(r, 403);
    reply_free(&r);
    testdb_exec(DB(), "DELETE FROM auth_throttle");
}
END_TEST

/* ---- 5. mailbox secrets --------------------------------------------------------- */

/* An API admin could name any variable of atumd's environment as a
 * mailbox password (ATUM_CORE_SECRET_KEY, ATUM_SMARTHOST_PASSWORD ...)
 * and have it sent in clear to a host of their choosing.  Mailbox
 * passwords now come only from ATUM_IMAP_PASSWORD_<NAME>, and go in clear
 * or to an unverified server only on loopback when the operator allows it
 * (imap.allow_insecure_loopback, off here). */
START_TEST(mailbox_secrets_and_links)
{
    long long q = qintf("INSERT INTO queues (name, address) VALUES ('mbq', 'mbq@support.example') RETURNING id");
    char body[512];
    static const char *const envs[] = {
        "ATUM_CORE_SECRET_KEY", "ATUM_CORE_DATABASE_URL", "ATUM_SMARTHOST_PASSWORD", "PGPASSWORD",
        "HOME", "ATUM_IMAP_PASSWORD_", "ATUM_IMAP_CA_FILE", "ATUM_PLUGIN_TRIAGE_API_KEY",
    };
    for (size_t i = 0; i < sizeof(envs) / sizeof(envs[0]); i++) {
        snprintf(body, sizeof(body), "{\"name\": \"mb%zu\", \"queue_id\": %lld, \"host\": \"imap.example.com\","
                 " \"port\": 993, \"username\": \"u\", \"password_env\": \"%s\"}", i, q, envs[i]);
        struct reply r = T(ADMIN, "POST", "/api/v1/mailboxes", body);
        ck_assert_msg(r.status == 400, "%s: %ld %s", envs[i], r.status, strbuf_str(&r.body));
        ck_assert_str_eq(jstr(r.json, "field"), "password_env");
        reply_free(&r);
    }
    /* in clear, or without a verified certificate: not to another host,
     * and not even to loopback unless the operator allowed it */
    static const struct { const char *host, *sec; bool trust; const char *field; } links[] = {
        { "imap.example.com", "none", false, "security" },
        { "203.0.113.9", "starttls", true, "trust_any_certificate" },
        { "127.0.0.1", "none", false, "security" },
        { "localhost", "tls", true, "trust_any_certificate" },
    };
    for (size_t i = 0; i < sizeof(links) / sizeof(links[0]); i++) {
        snprintf(body, sizeof(body), "{\"name\": \"link%zu\", \"queue_id\": %lld, \"host\": \"%s\", \"port\": 143,"
                 " \"username\": \"u\", \"security\": \"%s\", \"trust_any_certificate\": %s,"
                 " \"password_env\": \"ATUM_IMAP_PASSWORD_SUPPORT\"}", i, q, links[i].host, links[i].sec,
                 links[i].trust ? "true" : "false");
        struct reply r = T(ADMIN, "POST", "/api/v1/mailboxes", body);
        ck_assert_msg(r.status == 400, "%s %s: %ld %s", links[i].host, links[i].sec, r.status, strbuf_str(&r.body));
        ck_assert_str_eq(jstr(r.json, "field"), links[i].field);
        reply_free(&r);
    }
    /* a verified TLS mailbox with its own variable is fine */
    snprintf(body, sizeof(body), "{\"name\": \"good\", \"queue_id\": %lld, \"host\": \"imap.example.com\","
             " \"port\": 993, \"username\": \"u\", \"password_env\": \"ATUM_IMAP_PASSWORD_SUPPORT\"}", q);
    struct reply r = T(ADMIN, "POST", "/api/v1/mailboxes", body);
    EXPECT(r, 201);
    long long mb = (long long)json_integer_value(json_object_get(r.json, "id"));
    reply_free(&r);
    /* and stays so: a PATCH is judged with what is stored */
    char path[64];
    snprintf(path, sizeof(path), "/api/v1/mailboxes/%lld", mb);
    r = T(ADMIN, "PATCH", path, "{\"security\": \"none\", \"port\": 143}");
    EXPECT(r, 400);
    ck_assert_str_eq(jstr(r.json, "field"), "security");
    reply_free(&r);
    r = T(ADMIN, "PATCH", path, "{\"trust_any_certificate\": true}");
    EXPECT(r, 400);
    reply_free(&r);
    r = T(ADMIN, "PATCH", path, "{\"password_env\": \"ATUM_SMARTHOST_PASSWORD\"}");
    EXPECT(r, 400);
    reply_free(&r);
    expect_status(ADMIN, "PATCH", path, "{\"host\": \"imap2.example.com\", \"security\": \"starttls\"}", 200);
    ck_assert_int_eq(qintf("SELECT count(*) FROM mailboxes WHERE password_env NOT LIKE 'ATUM\\_IMAP\\_PASSWORD\\_%%'"
                           " OR security = 'none' OR trust_any_certificate"), 0);
}
END_TEST

/* ---- 9. slow and idle clients, body limits --------------------------------------- */

/* A second server, small enough that a handful of clients could fill it:
 * 8 threads, 3 connections per client, 2 s for headers, a body 2 s plus
 * 1 s per KB. */
static struct web_server *small_server(void)
{
    const char *e = NULL;
    struct web_server *ws = NULL;
    struct web_opts wo = { "127.0.0.1:0", 8, W.cfg->web_max_body, 2000, "small", W.cfg, 2000,
                           .header_timeout_ms = 2000, .body_min_rate = 1000,
                           .client_connections = 3, .max_public_body = 64 * 1024 };
    ck_assert_msg(web_start(&ws, &wo, &W.rt, W.pool, &e) == 0, "%s", e);
    return ws;
}

/* A TCP connection to port from address `from`; -1 when refused. */
static int tcp_from(const char *from, int port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ck_assert_int_ge(fd, 0);
    struct sockaddr_in src = { .sin_family = AF_INET }, dst = { .sin_family = AF_INET };
    inet_pton(AF_INET, from, &src.sin_addr);
    inet_pton(AF_INET, "127.0.0.1", &dst.sin_addr);
    dst.sin_port = htons((uint16_t)port);
    ck_assert_msg(bind(fd, (struct sockaddr *)&src, sizeof(src)) == 0, "bind %s: %s", from, strerror(errno));
    if (connect(fd, (struct sockaddr *)&dst, sizeof(dst)) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Everything the server sends on fd until it closes or ms pass; returns
 * the time it took (ms), or -1 when it did not close in time. */
static long long read_until_closed(int fd, struct strbuf *out, long ms)
{
    long long t0 = time_mono_ms();
    for (;;) {
        long left = ms - (long)(time_mono_ms() - t0);
        if (left <= 0)
            return -1;
        struct pollfd pf = { fd, POLLIN, 0 };
        if (poll(&pf, 1, (int)left) <= 0)
            continue;
        char buf[4096];
        ssize_t n = recv(fd, buf, sizeof(buf), 0);
        if (n <= 0)
            return time_mono_ms() - t0;
        strbuf_add(out, buf, (size_t)n);
    }
}

/* Waits until the small server has seen n connections (open, refused or
 * shed): deterministic, where a sleep would only hope. */
static void wait_seen(struct web_server *ws, int n)
{
    long long t0 = time_mono_ms(), refused = 0, shed = 0;
    int open = 0;
    while (time_mono_ms() - t0 < 10000) {
        web_conn_stats(ws, &open, &refused, &shed);
        if (open + refused + shed >= n)
            return;
        sleep_ms(10);
    }
    ck_abort_msg("the server saw %d open, %lld refused, %lld shed of %d", open, refused, shed, n);
}

/* A normal client's request is answered within 1 s. */
static void normal_client_is_served(int port, const char *from)
{
    struct call c = { .method = "GET", .path = "/healthz", .from = from, .port = port, .timeout_ms = 1000 };
    long long t0 = time_mono_ms();
    struct reply r = http(&c);
    ck_assert_msg(r.status == 200, "a normal client from %s got %ld after %lld ms", from, r.status,
                  time_mono_ms() - t0);
    reply_free(&r);
}

/* 32 idle connections (web.threads) stopped the web server for everyone
 * else.  Now one client holds at most web.client_connections, and when
 * idle connections from many clients fill the threads the longest-waiting
 * is closed for a newcomer: N slow clients never keep a normal request
 * from an answer within 1 s. */
START_TEST(idle_clients_do_not_starve_others)
{
    struct web_server *ws = small_server();
    int port = web_port(ws), fds[40], n = 0;
    /* 20 idle connections from one address (more than the 8 threads) */
    for (int i = 0; i < 20; i++) {
        int fd = tcp_from("127.0.0.1", port);
        if (fd >= 0)
            fds[n++] = fd;
    }
    wait_seen(ws, n);
    normal_client_is_served(port, "127.0.0.2");
    /* a few are kept, the others were told 503 and closed */
    int open = 0;
    long long refused = 0, shed = 0;
    web_conn_stats(ws, &open, &refused, &shed);
    ck_assert_int_ge(refused, 20 - 3);
    int told = 0;
    for (int i = 0; i < n; i++) {
        struct strbuf b = STRBUF_INIT;
        struct pollfd pf = { fds[i], POLLIN, 0 };
        if (poll(&pf, 1, 0) > 0 && read_until_closed(fds[i], &b, 1000) >= 0)
            told += strncmp(strbuf_str(&b), "HTTP/1.1 503", 12) == 0;
        strbuf_free(&b);
        close(fds[i]);
    }
    ck_assert_int_eq(told, refused);

    /* 20 idle connections from 20 addresses, and a partial request line
     * from each: the newest arrivals push the oldest waiters out */
    n = 0;
    for (int i = 0; i < 20; i++) {
        char from[32];
        snprintf(from, sizeof(from), "127.0.1.%d", i + 1);
        int fd = tcp_from(from, port);
        if (fd >= 0) {
            ck_assert_int_eq(send(fd, "GET /heal", 9, MSG_NOSIGNAL), 9);
            fds[n++] = fd;
        }
    }
    web_conn_stats(ws, &open, &refused, &shed);
    wait_seen(ws, (int)(refused + shed) + n);
    normal_client_is_served(port, "127.0.0.2");
    normal_client_is_served(port, "127.0.0.3");
    for (int i = 0; i < n; i++)
        close(fds[i]);
    web_stop(&ws);
}
END_TEST

/* A body trickled at a few bytes a second held a thread for as long as
 * the client wanted; a 24 MiB login body was read whole.  A body must now
 * keep a minimum pace (408), and a request takes no more than its fields
 * can need (413 from the Content-Length, before any of it is read). */
START_TEST(slow_and_large_bodies_are_cut)
{
    struct web_server *ws = small_server();
    int port = web_port(ws);
    static const char head[] = "POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\n"
                               "Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n";
    int fd = tcp_from("127.0.0.5", port);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(send(fd, head, sizeof(head) - 1, MSG_NOSIGNAL), (ssize_t)sizeof(head) - 1);
    /* one byte every 250 ms, for up to 9 s, while the server listens */
    long long t0 = time_mono_ms();
    bool closed = false;
    while (!closed && time_mono_ms() - t0 < 9000) {
        if (send(fd, "{", 1, MSG_NOSIGNAL) != 1)
            break;
        struct pollfd pf = { fd, POLLIN, 0 };
        closed = poll(&pf, 1, 250) > 0;
    }
    struct strbuf b = STRBUF_INIT;
    long long waited = read_until_closed(fd, &b, 3000);
    long long total = time_mono_ms() - t0;
    close(fd);
    ck_assert_msg(waited >= 0 && total < 7000, "a trickled body held its thread %lld ms", total);
    ck_assert_msg(strncmp(strbuf_str(&b), "HTTP/1.1 408", 12) == 0, "%s", strbuf_str(&b));
    strbuf_free(&b);

    /* a route that reads no body, and an answer given before the body
     * (401): what is left is not waited for */
    static const char *const early[] = {
        "GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n",
        "POST /api/v1/tickets HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer atum_nope\r\n"
        "Content-Type: application/json\r\nContent-Length: 100000\r\n\r\n",
    };
    for (int i = 0; i < 2; i++) {
        fd = tcp_from("127.0.0.8", port);
        ck_assert_int_eq(send(fd, early[i], strlen(early[i]), MSG_NOSIGNAL), (ssize_t)strlen(early[i]));
        t0 = time_mono_ms();
        closed = false;
        while (!closed && time_mono_ms() - t0 < 6000) {
            if (send(fd, "x", 1, MSG_NOSIGNAL) != 1)
                break;
            struct pollfd pf = { fd, POLLIN, 0 };
            if (poll(&pf, 1, 200) > 0) {
                char tmp[4096];
                ssize_t got = recv(fd, tmp, sizeof(tmp), 0);
                if (got > 0)
                    strbuf_add(&b, tmp, (size_t)got);
                closed = got <= 0;
            }
        }
        total = time_mono_ms() - t0;
        close(fd);
        ck_assert_msg(closed && total < 3000, "case %d: the unread body held the connection %lld ms", i, total);
        ck_assert_msg(strncmp(strbuf_str(&b), i ? "HTTP/1.1 401" : "HTTP/1.1 200", 12) == 0, "%s",
                      strbuf_str(&b));
        strbuf_free(&b);
    }

    /* a login with a 24 MiB Content-Length: 413 before a byte is sent */
    static const char big[] = "POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\n"
                              "Content-Type: application/json\r\nContent-Length: 25165824\r\n\r\n";
    fd = tcp_from("127.0.0.6", port);
    ck_assert_int_eq(send(fd, big, sizeof(big) - 1, MSG_NOSIGNAL), (ssize_t)sizeof(big) - 1);
    waited = read_until_closed(fd, &b, 1000);
    close(fd);
    ck_assert_msg(waited >= 0, "no answer within 1 s to a 24 MiB login");
    ck_assert_msg(strncmp(strbuf_str(&b), "HTTP/1.1 413", 12) == 0, "%s", strbuf_str(&b));
    strbuf_free(&b);

    /* without credentials a body needs a Content-Length (no chunked
     * trickle), and a public plugin route takes at most web.max_public_body */
    char *chunk = malloc(300 * 1024);
    memset(chunk, ' ', 300 * 1024);
    chunk[0] = '{';
    static const struct { const char *path, *te; int want; } cases[] = {
        { "/api/v1/auth/login", "Transfer-Encoding: chunked", 411 },
        { "/api/v1/plugins/testplug/echo", "Transfer-Encoding: chunked", 411 },
        { "/api/v1/plugins/testplug/echo", "Content-Length: 307200", 413 },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char hdr[256], want[16];
        bool ch = strstr(cases[i].te, "chunked") != NULL;
        int hn = snprintf(hdr, sizeof(hdr), "POST %s HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                          "%s\r\n\r\n%s", cases[i].path, cases[i].te, ch ? "4b000\r\n" : "");
        fd = tcp_from("127.0.0.7", port);
        ck_assert_int_eq(send(fd, hdr, (size_t)hn, MSG_NOSIGNAL), hn);
        ssize_t sent = send(fd, chunk, 300 * 1024, MSG_NOSIGNAL | MSG_DONTWAIT);
        (void)sent;                   /* the server may stop reading early */
        waited = read_until_closed(fd, &b, 3000);
        close(fd);
        snprintf(want, sizeof(want), "HTTP/1.1 %d", cases[i].want);
        ck_assert_msg(strncmp(strbuf_str(&b), want, 12) == 0, "%s %s: %s", cases[i].path, cases[i].te,
                      strbuf_str(&b));
        strbuf_free(&b);
    }
    free(chunk);

    /* and an ordinary login is still fine */
    struct call ok = { .method = "POST", .path = "/api/v1/auth/login", .port = port,
                       .body = "{\"email\": \"agent@example.com\", \"password\": \"" PW "\"}" };
    struct reply r = http(&ok);
    EXPECT(r, 200);
    reply_free(&r);
    testdb_exec(DB(), "DELETE FROM sessions");
    web_stop(&ws);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("api_security_pg");
    TCase *tc = tcase_create("security");
    tcase_set_timeout(tc, 300);
    tcase_add_unchecked_fixture(tc, world_up, world_down);
    tcase_add_test(tc, deep_json_is_400_everywhere);
    tcase_add_test(tc, encoded_paths_are_refused);
    tcase_add_test(tc, unicode_variants_share_one_throttle);
    tcase_add_test(tc, password_change_ends_sessions_and_tokens);
    tcase_add_test(tc, token_minting_needs_the_password);
    tcase_add_test(tc, mailbox_secrets_and_links);
    tcase_add_test(tc, idle_clients_do_not_starve_others);
    tcase_add_test(tc, slow_and_large_bodies_are_cut);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_set_fork_status(sr, CK_NOFORK);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
