/* test_api_directory_pg -- the directory and admin views: users, organisations, queues, members, mailboxes, canned responses, jobs, plugins, the audit log, webhooks; against the world of api_world.h. */
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
    new_ticket(CUST1, queue_a, "Keeps its queue", "x");
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

static void add(TCase *tc)
{
    tcase_add_test(tc, directory_crud_and_roles);
    tcase_add_test(tc, jobs_plugins_and_audit);
    tcase_add_test(tc, webhooks_are_signed_and_retried);
}

int main(void)
{
    return api_world_main("api_directory", add);
}
