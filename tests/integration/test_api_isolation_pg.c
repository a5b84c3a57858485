/* test_api_isolation_pg -- what the API refuses or keeps inert: bad bytes, SQL injection, XSS, cross-tenant ids, attachments served safely; against the world of api_world.h. */
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

static void add(TCase *tc)
{
    tcase_add_test(tc, bad_bytes_in_filters_are_400);
    tcase_add_test(tc, sql_injection_everywhere_is_data);
    tcase_add_test(tc, xss_is_stored_and_returned_as_data);
    tcase_add_test(tc, cross_tenant_ids_are_404);
    tcase_add_test(tc, attachments_are_served_safely);
}

int main(void)
{
    return api_world_main("api_isolation", add);
}
