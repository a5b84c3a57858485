/* test_api_auth_pg -- sessions, cookies, CSRF, login throttling, TOTP with recovery codes, API tokens; against the world of api_world.h. */
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

/* ---- sessions, CSRF, throttling ------------------------------------------- */

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

static void add(TCase *tc)
{
    tcase_add_test(tc, sessions_cookies_and_csrf);
    tcase_add_test(tc, password_hash_upgraded_at_login);
    tcase_add_test(tc, brute_force_is_429);
    tcase_add_test(tc, parallel_logins_respect_the_limit);
    tcase_add_test(tc, totp_enrol_login_replay_recovery);
    tcase_add_test(tc, api_tokens_create_list_revoke);
}

int main(void)
{
    return api_world_main("api_auth", add);
}
