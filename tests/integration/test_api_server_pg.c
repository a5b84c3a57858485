/* test_api_server_pg -- the HTTP basics of the API: headers, CORS, errors as problem documents, bad input named by field, body limits; against the world of api_world.h. */
#include "config.h"
#include "api_world.h"
#include "testdb.h"
#include "desk/user.h"
#include "core/jobs.h"
#include "lib/passwd.h"
#include "lib/totp.h"
#include "lib/util.h"

#include <crypt.h>
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

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

static void add(TCase *tc)
{
    tcase_add_test(tc, headers_cors_and_errors);
    tcase_add_test(tc, bad_input_is_400_naming_the_field);
    tcase_add_test(tc, oversize_bodies_are_413);
    tcase_add_test(tc, bodyless_routes_refuse_bodies);
}

int main(void)
{
    return api_world_main("api_server", add);
}
