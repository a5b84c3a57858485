/*
 * web/api_auth.c -- /api/v1/auth: login (password, then TOTP when
 * enrolled), logout, me, TOTP enrolment with recovery codes, API tokens.
 *
 * Login attempts are counted per account and per client address in
 * auth_throttle (shared by every atumd on the database), atomically and
 * before the password is checked; past the limits the login answers 429
 * with Retry-After before any password is hashed.
 * Every login, failed login, TOTP change and token change is audited.
 */
#include "config.h"
#include "web/api.h"
#include "web/auth.h"
#include "desk/user.h"
#include "lib/email.h"
#include "lib/err.h"
#include "lib/log.h"
#include "lib/passwd.h"
#include "lib/token.h"
#include "lib/totp.h"
#include "lib/util.h"
#include "lib/xalloc.h"

#include <ctype.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CHALLENGE_TTL "5 minutes"
#define CHALLENGE_ATTEMPTS 5
#define RECOVERY_CODES 10

/* ---- throttling ----------------------------------------------------------- */

/*
 * Each login (and TOTP) attempt takes one unit of the budget of its
 * account and of its client address *before* anything is checked, in one
 * statement: concurrent attempts serialise on the two rows, so within a
 * window no more than the limit ever reach the password check, however
 * many arrive at once.  (Checking first and counting after the slow
 * password hash let every racer through.)  A full key is left as it is
 * (ON CONFLICT ... WHERE), so a refused attempt costs nothing; the unit
 * taken stays as the failure when the attempt fails and is given back when
 * it succeeds or is refused for the other key.  Rows are always taken
 * account first ("acct:" < "ip:"), so two attempts never wait in a cycle.
 */
struct throttle {
    const char *key[2];       /* account, address */
    char window[2][64];       /* window_start of the unit taken; "" none */
};

static const char throttle_take_sql[] =
    "WITH k (key, lim) AS (VALUES ($1::text, $3::int), ($2::text, $4::int)),"
    " up AS (INSERT INTO auth_throttle AS a (key, failures, window_start)"
    "        SELECT k.key, 1, now() FROM k ORDER BY k.key"
    "        ON CONFLICT (key) DO UPDATE SET"
    "         failures = CASE WHEN a.window_start > now() - $5::bigint * interval '1 millisecond'"
    "                         THEN a.failures + 1 ELSE 1 END,"
    "         window_start = CASE WHEN a.window_start > now() - $5::bigint * interval '1 millisecond'"
    "                             THEN a.window_start ELSE now() END"
    "        WHERE a.window_start <= now() - $5::bigint * interval '1 millisecond'"
    "           OR a.failures < (SELECT k.lim FROM k WHERE k.key = a.key)"
    "        RETURNING a.key, a.window_start)"
    /* no row in up: the key is full; its wait comes from the row as it was */
    " SELECT k.key, up.window_start::text,"
    "        greatest(1, ceil(extract(epoch FROM coalesce(up.window_start, t.window_start)"
    "                 + $5::bigint * interval '1 millisecond' - now())))::bigint"
    "   FROM k LEFT JOIN up ON up.key = k.key LEFT JOIN auth_throttle t ON t.key = k.key";

/* Gives back the unit taken on key i (no longer a failure, or never
 * checked); only in the window it was taken from. */
static void throttle_release(struct api_req *r, struct throttle *t, int i)
{
    const char *e = NULL;
    if (t->window[i][0] == '\0')
        return;
    const char *p[] = { t->key[i], t->window[i] };
    PGresult *res = db_exec(r->db, "UPDATE auth_throttle SET failures = failures - 1"
                                   " WHERE key = $1 AND window_start = $2::timestamptz"
                                   "   AND failures > 0", 2, p, &e);
    if (res == NULL)
        log_error("auth.throttle_release", "key=%s error=%s", t->key[i], e);
    PQclear(res);
    t->window[i][0] = '\0';
}

/* Takes a unit on both keys: 0 taken; -1 after answering 429 (nothing
 * kept) or an error. */
static int throttle_take(struct api_req *r, struct throttle *t, const char *acct, const char *ipkey)
{
    const char *e = NULL;
    char la[16], li[16], win[24];
    memset(t, 0, sizeof(*t));
    t->key[0] = acct;
    t->key[1] = ipkey;
    snprintf(la, sizeof(la), "%d", r->api->fail_account);
    snprintf(li, sizeof(li), "%d", r->api->fail_ip);
    snprintf(win, sizeof(win), "%lld", r->api->login_window_ms);
    const char *p[] = { acct, ipkey, la, li, win };
    PGresult *res = db_exec(r->db, throttle_take_sql, 5, p, &e);
    if (res == NULL)
        return api_db_fail(r, "checking the login throttle", e), -1;
    long long wait = 0;
    const char *over_key = NULL;
    for (int row = 0; row < PQntuples(res); row++) {
        int i = strcmp(PQgetvalue(res, row, 0), acct) == 0 ? 0 : 1;
        if (PQgetisnull(res, row, 1)) {
            long long w = atoll(PQgetvalue(res, row, 2));
            if (over_key == NULL || w > wait) {
                wait = w;
                over_key = t->key[i];
            }
        } else {
            snprintf(t->window[i], sizeof(t->window[i]), "%s", PQgetvalue(res, row, 1));
        }
    }
    PQclear(res);
    if (over_key == NULL)
        return 0;
    throttle_release(r, t, 0);
    throttle_release(r, t, 1);
    log_warn("auth.throttled", "key=%s ip=%s retry_after=%lld", over_key, r->ip, wait);
    api_add_header(r, "Retry-After: %lld", wait);
    api_problem(r, 429, NULL, "too many failed logins; try again in %lld seconds", wait);
    return -1;
}

/* The account key is the canonical form of the address (lib/email.h),
 * the very form the account is looked up by: every spelling that can
 * reach an account shares its budget. */
static void keys_for(struct api_req *r, const char *email, char *acct, size_t an, char *ip, size_t in)
{
    char canon[EMAIL_MAX + 1];
    (void)email_canonical(email, canon);   /* the fields are at most EMAIL_MAX */
    snprintf(acct, an, "acct:%s", canon);
    snprintf(ip, in, "ip:%s", r->ip);
}

/* The audit row of a failed attempt (its unit of the budget stays taken). */
static void login_failed(struct api_req *r, const char *email, long long user_id, const char *reason)
{
    const char *e = NULL;
    json_t *d = json_pack("{s:s?, s:s}", "email", email, "reason", reason);
    long long saved = r->user.id;
    r->user.id = 0;
    char target[40];
    snprintf(target, sizeof(target), "user:%lld", user_id);
    int rc = api_audit(r, "login.failed", user_id ? target : NULL, d, &e);
    r->user.id = saved;
    json_decref(d);
    if (rc < 0) {
        log_error("auth.record_failure", "error=%s", e);
        return;
    }
    log_info("auth.login_failed", "email=%s ip=%s reason=%s", email ? email : "", r->ip, reason);
}

/* ---- sessions --------------------------------------------------------------- */

static json_t *user_json(struct api_req *r, long long id)
{
    char sid[24];
    const char *e = NULL;
    snprintf(sid, sizeof(sid), "%lld", id);
    const char *p[] = { sid };
    PGresult *res = db_exec(r->db,
        "SELECT u.id, u.email, u.name, u.role, u.org_id, u.org_access,"
        "       coalesce(t.enabled, false) AS totp_enabled"
        "  FROM users u LEFT JOIN user_totp t ON t.user_id = u.id WHERE u.id = $1", 1, p, &e);
    if (res == NULL || PQntuples(res) != 1) {
        PQclear(res);
        return NULL;
    }
    json_t *o = api_row(res, 0);
    PQclear(res);
    return o;
}

/* Creates a session for user id inside the open transaction, sets the
 * cookie and answers 200 with the user and the CSRF token; commits. */
static int session_start(struct api_req *r, long long uid, const char *mfa)
{
    const char *e = NULL;
    char tok[TOKEN_MAX], h[TOKEN_HASH_HEX], sid[24], life[24], csrf[65];
    if (token_new("", tok, sizeof(tok), &e) < 0)
        return api_problem(r, 500, NULL, "%s", e);
    token_hash(r->api->secret, tok, strlen(tok), h);
    snprintf(sid, sizeof(sid), "%lld", uid);
    snprintf(life, sizeof(life), "%lld", r->api->session_lifetime_ms);
    const char *ua = mg_get_header(r->conn, "User-Agent");
    char uabuf[256];
    snprintf(uabuf, sizeof(uabuf), "%s", ua ? ua : "");
    for (char *p = uabuf; *p; p++)
        if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f)
            *p = '?';
    const char *p[] = { h, sid, life, r->ip, uabuf };
    PGresult *res = db_exec(r->db,
        "INSERT INTO sessions (token_hash, user_id, expires_at, ip, user_agent)"
        " VALUES ($1, $2, now() + $3::bigint * interval '1 millisecond', $4::inet, $5)"
        " RETURNING to_json(expires_at)#>>'{}'", 5, p, &e);
    if (res == NULL) {
        db_rollback(r->db);
        return api_db_fail(r, "creating the session", e);
    }
    char expires[64];
    snprintf(expires, sizeof(expires), "%s", PQgetvalue(res, 0, 0));
    PQclear(res);
    /* expired sessions of anybody go away a few at a time */
    res = db_exec(r->db, "DELETE FROM sessions WHERE id IN (SELECT id FROM sessions"
                         " WHERE expires_at < now() LIMIT 20)", 0, NULL, &e);
    PQclear(res);
    char target[40];
    snprintf(target, sizeof(target), "user:%lld", uid);
    r->user.id = uid;
    json_t *d = json_pack("{s:s}", "mfa", mfa);
    int rc = api_audit(r, "login", target, d, &e);
    json_decref(d);
    if (rc < 0 || db_commit(r->db, &e) < 0) {
        db_rollback(r->db);
        return api_db_fail(r, "creating the session", e);
    }
    auth_csrf_token(r->api, h, csrf);
    bool secure = r->api->cookie_secure == 1 || (r->api->cookie_secure == 2 && r->https);
    api_add_header(r, "Set-Cookie: %s=%s; Path=/; HttpOnly; SameSite=Lax; Max-Age=%lld%s",
                   API_COOKIE, tok, r->api->session_lifetime_ms / 1000, secure ? "; Secure" : "");
    OPENSSL_cleanse(tok, sizeof(tok));
    json_t *u = user_json(r, uid);
    log_info("auth.login", "user=%lld ip=%s mfa=%s", uid, r->ip, mfa);
    return api_json(r, 200, json_pack("{s:o?, s:s, s:s}", "user", u, "csrf_token", csrf,
                                      "expires_at", expires));
}

static int h_login(struct api_req *r)
{
    static const struct api_field f[] = {
        { "email", F_STR, true, 320 }, { "password", F_STR, true, 1024 }, { NULL, 0, 0, 0 } };
    const char *e = NULL;
    json_t *b = api_body(r, f);
    if (b == NULL || api_db(r) == NULL)
        return 0;
    const char *email = api_str(b, "email"), *pw = api_str(b, "password");
    char acct[360], ipkey[80];
    struct throttle th;
    keys_for(r, email, acct, sizeof(acct), ipkey, sizeof(ipkey));
    if (throttle_take(r, &th, acct, ipkey) < 0)
        return 0;
    /* the same canonical form as the throttle key (acct + 5) */
    const char *p[] = { acct + 5 };
    PGresult *res = db_exec(r->db,
        "SELECT u.id, u.password_hash, coalesce(t.enabled, false)"
        "  FROM users u LEFT JOIN user_totp t ON t.user_id = u.id"
        " WHERE email_canonical(u.email) = $1 AND NOT u.disabled", 1, p, &e);
    if (res == NULL) {
        api_db_fail(r, "checking the login", e);
        throttle_release(r, &th, 0);
        throttle_release(r, &th, 1);
        return 0;
    }
    long long uid = 0;
    const char *hash = r->api->dummy_hash;
    bool totp = false;
    if (PQntuples(res) == 1) {
        uid = atoll(PQgetvalue(res, 0, 0));
        if (!PQgetisnull(res, 0, 1))
            hash = PQgetvalue(res, 0, 1);
        totp = PQgetvalue(res, 0, 2)[0] == 't';
    }
    int ok = passwd_verify(pw, hash, &e);
    bool rehash = ok == 1 && uid != 0 && hash != r->api->dummy_hash && passwd_needs_rehash(hash);
    PQclear(res);
    if (ok != 1 || uid == 0 || hash == r->api->dummy_hash) {
        login_failed(r, email, uid, uid ? "password" : "unknown account");
        return api_problem(r, 401, NULL, "wrong e-mail address or password");
    }
    if (rehash) {
        char *nh = passwd_hash(pw, &e);
        if (nh != NULL && user_store_rehash(r->db, uid, nh, &e) == 0)
            log_info("auth.rehashed", "user=%lld", uid);
        free(nh);
    }
    if (totp) {
        /* the password was right: the TOTP step takes units of its own */
        throttle_release(r, &th, 0);
        throttle_release(r, &th, 1);
        char tok[TOKEN_MAX], h[TOKEN_HASH_HEX], sid[24];
        if (token_new("lc_", tok, sizeof(tok), &e) < 0)
            return api_problem(r, 500, NULL, "%s", e);
        token_hash(r->api->secret, tok, strlen(tok), h);
        snprintf(sid, sizeof(sid), "%lld", uid);
        const char *cp[] = { h, sid, r->ip };
        res = db_exec(r->db, "INSERT INTO login_challenges (token_hash, user_id, expires_at, ip)"
                             " VALUES ($1, $2, now() + interval '" CHALLENGE_TTL "', $3::inet)",
                      3, cp, &e);
        if (res == NULL)
            return api_db_fail(r, "starting the second login step", e);
        PQclear(res);
        PQclear(db_exec(r->db, "DELETE FROM login_challenges WHERE expires_at < now()", 0, NULL, &e));
        return api_json(r, 200, json_pack("{s:b, s:s}", "totp_required", 1, "challenge", tok));
    }
    if (db_begin(r->db, &e) < 0)
        return api_db_fail(r, "creating the session", e);
    /* a complete login clears the account's counter; the address gets
     * its unit back */
    const char *dp[] = { acct };
    PQclear(db_exec(r->db, "DELETE FROM auth_throttle WHERE key = $1", 1, dp, &e));
    throttle_release(r, &th, 1);
    return session_start(r, uid, "none");
}

static int check_recovery(struct api_req *r, long long uid, const char *code, const char **error_r)
{
    char norm[64], h[TOKEN_HASH_HEX], sid[24];
    size_t n = 0;
    for (const char *p = code; *p && n + 1 < sizeof(norm); p++)
        if (*p != '-' && *p != ' ')
            norm[n++] = (char)tolower((unsigned char)*p);
    norm[n] = '\0';
    token_hash(r->api->secret, norm, n, h);
    snprintf(sid, sizeof(sid), "%lld", uid);
    const char *p[] = { sid, h };
    PGresult *res = db_exec(r->db, "UPDATE recovery_codes SET used_at = now()"
                                   " WHERE user_id = $1 AND code_hash = $2 AND used_at IS NULL"
                                   " RETURNING id", 2, p, error_r);
    if (res == NULL)
        return -1;
    int ok = PQntuples(res) == 1;
    PQclear(res);
    return ok;
}

/* 1 the code is right (and recorded against replay), 0 wrong, -1 error. */
static int check_totp(struct api_req *r, long long uid, const char *code, bool enabled_only,
                      const char **error_r)
{
    char sid[24];
    snprintf(sid, sizeof(sid), "%lld", uid);
    const char *p[] = { sid };
    PGresult *res = db_exec(r->db, "SELECT secret, last_step, enabled FROM user_totp"
                                   " WHERE user_id = $1 FOR UPDATE", 1, p, error_r);
    if (res == NULL)
        return -1;
    if (PQntuples(res) != 1 || (enabled_only && PQgetvalue(res, 0, 2)[0] != 't')) {
        PQclear(res);
        return 0;
    }
    unsigned char key[64];
    int klen = base32_decode(PQgetvalue(res, 0, 0), key, sizeof(key));
    long long last = atoll(PQgetvalue(res, 0, 1)), step = 0;
    PQclear(res);
    if (klen <= 0)
        return err_set(error_r, "stored TOTP secret of user %lld is unusable", uid);
    int ok = totp_verify(key, (size_t)klen, code, (long long)time(NULL), last, &step);
    OPENSSL_cleanse(key, sizeof(key));
    if (!ok)
        return 0;
    char st[24];
    snprintf(st, sizeof(st), "%lld", step);
    const char *up[] = { sid, st };
    res = db_exec(r->db, "UPDATE user_totp SET last_step = $2 WHERE user_id = $1 AND last_step < $2",
                  2, up, error_r);
    if (res == NULL)
        return -1;
    ok = atoi(PQcmdTuples(res)) == 1;
    PQclear(res);
    return ok;
}

static int h_login_totp(struct api_req *r)
{
    static const struct api_field f[] = {
        { "challenge", F_STR, true, 200 }, { "code", F_STR, false, 16 },
        { "recovery_code", F_STR, false, 64 }, { NULL, 0, 0, 0 } };
    const char *e = NULL;
    json_t *b = api_body(r, f);
    if (b == NULL || api_db(r) == NULL)
        return 0;
    const char *ch = api_str(b, "challenge"), *code = api_str(b, "code"),
               *rec = api_str(b, "recovery_code");
    if ((code == NULL) == (rec == NULL))
        return api_problem(r, 400, code ? "recovery_code" : "code",
                           "give exactly one of 'code' and 'recovery_code'");
    if (!token_syntax_ok(ch))
        return api_problem(r, 401, "challenge", "the login challenge is invalid or has expired");
    char h[TOKEN_HASH_HEX];
    token_hash(r->api->secret, ch, strlen(ch), h);
    if (db_begin(r->db, &e) < 0)
        return api_db_fail(r, "checking the code", e);
    const char *p[] = { h };
    PGresult *res = db_exec(r->db,
        "SELECT c.id, c.user_id, u.email FROM login_challenges c JOIN users u ON u.id = c.user_id"
        " WHERE c.token_hash = $1 AND c.expires_at > now() AND c.attempts < " "5"
        "   AND NOT u.disabled FOR UPDATE OF c", 1, p, &e);
    if (res == NULL) {
        db_rollback(r->db);
        return api_db_fail(r, "checking the code", e);
    }
    if (PQntuples(res) != 1) {
        PQclear(res);
        db_rollback(r->db);
        return api_problem(r, 401, "challenge", "the login challenge is invalid or has expired; "
                           "log in with your password again");
    }
    char cid[24], email[321];
    snprintf(cid, sizeof(cid), "%s", PQgetvalue(res, 0, 0));
    long long uid = atoll(PQgetvalue(res, 0, 1));
    snprintf(email, sizeof(email), "%s", PQgetvalue(res, 0, 2));
    PQclear(res);
    char acct[360], ipkey[80];
    struct throttle th;
    keys_for(r, email, acct, sizeof(acct), ipkey, sizeof(ipkey));
    /* in the transaction: a refused or failing attempt rolls its units
     * back with everything else, a wrong code commits them */
    if (throttle_take(r, &th, acct, ipkey) < 0) {
        db_rollback(r->db);
        return 0;
    }
    int ok = code ? check_totp(r, uid, code, true, &e) : check_recovery(r, uid, rec, &e);
    if (ok < 0) {
        db_rollback(r->db);
        return api_db_fail(r, "checking the code", e);
    }
    const char *cp[] = { cid };
    if (!ok) {
        PQclear(db_exec(r->db, "UPDATE login_challenges SET attempts = attempts + 1 WHERE id = $1",
                        1, cp, &e));
        if (db_commit(r->db, &e) < 0)
            return api_db_fail(r, "checking the code", e);
        login_failed(r, email, uid, code ? "totp" : "recovery code");
        return api_problem(r, 401, code ? "code" : "recovery_code",
                           "the code is wrong or was already used");
    }
    PQclear(db_exec(r->db, "DELETE FROM login_challenges WHERE id = $1", 1, cp, &e));
    const char *dp[] = { acct };
    PQclear(db_exec(r->db, "DELETE FROM auth_throttle WHERE key = $1", 1, dp, &e));
    throttle_release(r, &th, 1);
    return session_start(r, uid, code ? "totp" : "recovery_code");
}

static int h_logout(struct api_req *r)
{
    const char *e = NULL;
    if (api_no_body(r) < 0)
        return 0;
    if (r->via != API_AUTH_SESSION)
        return api_problem(r, 400, NULL, "logout ends a session; API tokens are revoked with "
                           "DELETE /api/v1/auth/tokens/{id}");
    char sid[24];
    snprintf(sid, sizeof(sid), "%lld", r->session_id);
    const char *p[] = { sid };
    if (db_begin(r->db, &e) < 0)
        return api_db_fail(r, "logging out", e);
    PGresult *res = db_exec(r->db, "DELETE FROM sessions WHERE id = $1", 1, p, &e);
    if (res == NULL || api_audit(r, "logout", NULL, NULL, &e) < 0 || db_commit(r->db, &e) < 0) {
        PQclear(res);
        db_rollback(r->db);
        return api_db_fail(r, "logging out", e);
    }
    PQclear(res);
    api_add_header(r, "Set-Cookie: %s=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0", API_COOKIE);
    return api_no_content(r);
}

static int h_me(struct api_req *r)
{
    json_t *u = user_json(r, r->user.id);
    if (u == NULL)
        return api_problem(r, 404, NULL, "no such user");
    json_t *o = json_pack("{s:o, s:s}", "user", u, "auth",
                          r->via == API_AUTH_SESSION ? "session" : "token");
    if (r->via == API_AUTH_SESSION) {
        char csrf[65];
        auth_csrf_token(r->api, r->session_hash, csrf);
        json_object_set_new(o, "csrf_token", json_string(csrf));
    }
    return api_json(r, 200, o);
}

/* ---- TOTP ------------------------------------------------------------------ */

static int h_totp_enrol(struct api_req *r)
{
    const char *e = NULL;
    if (api_no_body(r) < 0 || api_db(r) == NULL)
        return 0;
    unsigned char key[TOTP_SECRET_BYTES];
    char b32[64];
    if (rand_bytes(key, sizeof(key)) < 0)
        return api_problem(r, 500, NULL, "no random bytes available");
    base32_encode(key, sizeof(key), b32);
    OPENSSL_cleanse(key, sizeof(key));
    if (db_begin(r->db, &e) < 0)
        return api_db_fail(r, "enrolling TOTP", e);
    const char *p[] = { api_uid(r), b32 };
    PGresult *res = db_exec(r->db,
        "INSERT INTO user_totp AS t (user_id, secret) VALUES ($1, $2)"
        " ON CONFLICT (user_id) DO UPDATE SET secret = $2, last_step = 0, created_at = now()"
        "   WHERE NOT t.enabled RETURNING user_id", 2, p, &e);
    if (res == NULL) {
        db_rollback(r->db);
        return api_db_fail(r, "enrolling TOTP", e);
    }
    int n = PQntuples(res);
    PQclear(res);
    if (n == 0) {
        db_rollback(r->db);
        return api_problem(r, 409, NULL, "TOTP is already enabled; disable it first");
    }
    if (api_audit(r, "totp.enrol", NULL, NULL, &e) < 0 || db_commit(r->db, &e) < 0) {
        db_rollback(r->db);
        return api_db_fail(r, "enrolling TOTP", e);
    }
    char *uri = totp_uri(r->api->totp_issuer, r->user.email, b32);
    json_t *o = json_pack("{s:s, s:s?, s:i, s:i}", "secret", b32, "otpauth_uri", uri,
                          "digits", TOTP_DIGITS, "period", TOTP_STEP_SECONDS);
    free(uri);
    OPENSSL_cleanse(b32, sizeof(b32));
    return api_json(r, 201, o);
}

static int h_totp_verify(struct api_req *r)
{
    static const struct api_field f[] = { { "code", F_STR, true, 16 }, { NULL, 0, 0, 0 } };
    const char *e = NULL;
    json_t *b = api_body(r, f);
    if (b == NULL || api_db(r) == NULL)
        return 0;
    if (db_begin(r->db, &e) < 0)
        return api_db_fail(r, "verifying TOTP", e);
    const char *p[] = { api_uid(r) };
    PGresult *res = db_exec(r->db, "SELECT enabled FROM user_totp WHERE user_id = $1", 1, p, &e);
    if (res == NULL) {
        db_rollback(r->db);
        return api_db_fail(r, "verifying TOTP", e);
    }
    int st = PQntuples(res) == 0 ? 0 : PQgetvalue(res, 0, 0)[0] == 't' ? 2 : 1;
    PQclear(res);
    if (st != 1) {
        db_rollback(r->db);
        return api_problem(r, 409, NULL, st == 0 ? "start with POST /api/v1/auth/totp"
                                                 : "TOTP is already enabled");
    }
    int ok = check_totp(r, r->user.id, api_str(b, "code"), false, &e);
    if (ok <= 0) {
        db_rollback(r->db);
        if (ok < 0)
            return api_db_fail(r, "verifying TOTP", e);
        return api_problem(r, 400, "code", "the code does not match; check the device's clock");
    }
    PQclear(db_exec(r->db, "UPDATE user_totp SET enabled = true WHERE user_id = $1", 1, p, &e));
    PQclear(db_exec(r->db, "DELETE FROM recovery_codes WHERE user_id = $1", 1, p, &e));
    json_t *codes = json_array();
    for (int i = 0; i < RECOVERY_CODES; i++) {
        char code[TOTP_RECOVERY_CHARS + 1], shown[20], h[TOKEN_HASH_HEX];
        if (totp_recovery_code(code) < 0)
            break;
        token_hash(r->api->secret, code, strlen(code), h);
        snprintf(shown, sizeof(shown), "%.4s-%.4s-%.4s", code, code + 4, code + 8);
        const char *ip[] = { api_uid(r), h };
        res = db_exec(r->db, "INSERT INTO recovery_codes (user_id, code_hash) VALUES ($1, $2)",
                      2, ip, &e);
        if (res == NULL)
            break;
        PQclear(res);
        json_array_append_new(codes, json_string(shown));
    }
    if (json_array_size(codes) != RECOVERY_CODES || api_audit(r, "totp.enable", NULL, NULL, &e) < 0
        || db_commit(r->db, &e) < 0) {
        json_decref(codes);
        db_rollback(r->db);
        return api_db_fail(r, "enabling TOTP", e);
    }
    return api_json(r, 200, json_pack("{s:b, s:o}", "enabled", 1, "recovery_codes", codes));
}

static int h_totp_disable(struct api_req *r)
{
    static const struct api_field f[] = {
        { "code", F_STR, false, 16 }, { "recovery_code", F_STR, false, 64 }, { NULL, 0, 0, 0 } };
    const char *e = NULL;
    json_t *b = api_body(r, f);
    if (b == NULL || api_db(r) == NULL)
        return 0;
    const char *code = api_str(b, "code"), *rec = api_str(b, "recovery_code");
    if ((code == NULL) == (rec == NULL))
        return api_problem(r, 400, "code", "give exactly one of 'code' and 'recovery_code'");
    if (db_begin(r->db, &e) < 0)
        return api_db_fail(r, "disabling TOTP", e);
    int ok = code ? check_totp(r, r->user.id, code, true, &e) : check_recovery(r, r->user.id, rec, &e);
    if (ok <= 0) {
        db_rollback(r->db);
        if (ok < 0)
            return api_db_fail(r, "disabling TOTP", e);
        return api_problem(r, 400, code ? "code" : "recovery_code",
                           "the code is wrong or was already used (or TOTP is not enabled)");
    }
    const char *p[] = { api_uid(r) };
    PQclear(db_exec(r->db, "DELETE FROM user_totp WHERE user_id = $1", 1, p, &e));
    PQclear(db_exec(r->db, "DELETE FROM recovery_codes WHERE user_id = $1", 1, p, &e));
    if (api_audit(r, "totp.disable", NULL, NULL, &e) < 0 || db_commit(r->db, &e) < 0) {
        db_rollback(r->db);
        return api_db_fail(r, "disabling TOTP", e);
    }
    return api_no_content(r);
}

/* ---- API tokens -------------------------------------------------------------- */

/*
 * Proves, again, that the caller is the account's owner: its password, and
 * its current TOTP code when TOTP is on -- the factors of a login.  A
 * stolen session or token alone can then not be turned into a new token
 * that outlives a password reset.  Wrong passwords and codes take units
 * of the login throttle like failed logins do.  1 proven (a transaction is
 * open: the TOTP step is recorded in it); 0 after answering (403 naming
 * the field, 429) or on an error.
 */
static int reauthenticate(struct api_req *r, const char *pw, const char *code)
{
    const char *e = NULL;
    char acct[360], ipkey[80], sid[24];
    struct throttle th;
    keys_for(r, r->user.email, acct, sizeof(acct), ipkey, sizeof(ipkey));
    if (throttle_take(r, &th, acct, ipkey) < 0)
        return 0;
    snprintf(sid, sizeof(sid), "%lld", r->user.id);
    const char *p[] = { sid };
    PGresult *res = db_exec(r->db,
        "SELECT u.password_hash, coalesce(t.enabled, false)"
        "  FROM users u LEFT JOIN user_totp t ON t.user_id = u.id WHERE u.id = $1", 1, p, &e);
    if (res == NULL || PQntuples(res) != 1) {
        PQclear(res);
        throttle_release(r, &th, 0);
        throttle_release(r, &th, 1);
        return api_db_fail(r, "checking the password", e ? e : "no such user"), 0;
    }
    bool has_hash = !PQgetisnull(res, 0, 0), totp = PQgetvalue(res, 0, 1)[0] == 't';
    int ok = passwd_verify(pw, has_hash ? PQgetvalue(res, 0, 0) : r->api->dummy_hash, &e);
    PQclear(res);
    if (ok != 1 || !has_hash) {
        login_failed(r, r->user.email, r->user.id, "password (token creation)");
        return api_problem(r, 403, "password", "the password is wrong"), 0;
    }
    if (totp && code == NULL) {
        throttle_release(r, &th, 0);
        throttle_release(r, &th, 1);
        return api_problem(r, 403, "code", "TOTP is on for this account: give the current "
                           "code as well"), 0;
    }
    if (db_begin(r->db, &e) < 0)
        return api_db_fail(r, "checking the password", e), 0;
    if (totp) {
        ok = check_totp(r, r->user.id, code, true, &e);
        if (ok <= 0) {
            db_rollback(r->db);
            if (ok < 0)
                return api_db_fail(r, "checking the code", e), 0;
            login_failed(r, r->user.email, r->user.id, "totp (token creation)");
            return api_problem(r, 403, "code", "the code is wrong or was already used"), 0;
        }
    }
    throttle_release(r, &th, 0);
    throttle_release(r, &th, 1);
    return 1;
}

static int h_token_create(struct api_req *r)
{
    static const struct api_field f[] = {
        { "name", F_STR, true, 100 }, { "password", F_STR, true, PASSWD_MAX_LEN },
        { "code", F_STR, false, 16 }, { "expires_in_days", F_INT_NULL, false, 0 },
        { NULL, 0, 0, 0 } };
    const char *e = NULL;
    json_t *b = api_body(r, f);
    if (b == NULL || api_db(r) == NULL)
        return 0;
    const char *name = api_str(b, "name");
    if (name[0] == '\0')
        return api_problem(r, 400, "name", "field 'name' must not be empty");
    /* every token expires: asked for, or auth.token_lifetime */
    json_t *ex = json_object_get(b, "expires_in_days");
    char life_ms[32];
    snprintf(life_ms, sizeof(life_ms), "%lld", r->api->token_lifetime_ms);
    if (json_is_integer(ex)) {
        long long d = json_integer_value(ex);
        if (d < 1 || d > 3650)
            return api_problem(r, 400, "expires_in_days", "field 'expires_in_days' must be from 1 to 3650");
        snprintf(life_ms, sizeof(life_ms), "%lld", d * 86400000LL);
    }
    if (!reauthenticate(r, api_str(b, "password"), api_str(b, "code")))
        return 0;                       /* answered; no transaction left open */
    char tok[TOKEN_MAX], h[TOKEN_HASH_HEX], prefix[16];
    if (token_new("atum_", tok, sizeof(tok), &e) < 0) {
        db_rollback(r->db);
        return api_problem(r, 500, NULL, "%s", e);
    }
    token_hash(r->api->secret, tok, strlen(tok), h);
    snprintf(prefix, sizeof(prefix), "%.12s", tok);
    const char *p[] = { api_uid(r), name, h, prefix, life_ms };
    PGresult *res = db_exec(r->db,
        "INSERT INTO api_tokens (user_id, name, token_hash, prefix, expires_at)"
        " VALUES ($1, $2, $3, $4, now() + $5::bigint * interval '1 millisecond')"
        " RETURNING id, name, prefix, created_at, expires_at", 5, p, &e);
    if (res == NULL) {
        db_rollback(r->db);
        return api_db_fail(r, "creating the token", e);
    }
    json_t *o = api_row(res, 0);
    char target[40];
    snprintf(target, sizeof(target), "token:%s", PQgetvalue(res, 0, 0));
    PQclear(res);
    json_t *d = json_pack("{s:s, s:s}", "name", name, "prefix", prefix);
    int rc = api_audit(r, "token.create", target, d, &e);
    json_decref(d);
    if (rc < 0 || db_commit(r->db, &e) < 0) {
        json_decref(o);
        db_rollback(r->db);
        return api_db_fail(r, "creating the token", e);
    }
    json_object_set_new(o, "token", json_string(tok));
    OPENSSL_cleanse(tok, sizeof(tok));
    return api_json(r, 201, o);
}

static int h_token_list(struct api_req *r)
{
    const char *e = NULL;
    if (api_query_check(r, NULL) < 0 || api_db(r) == NULL)
        return 0;
    const char *p[] = { api_uid(r) };
    PGresult *res = db_exec(r->db,
        "SELECT json_build_object('items', coalesce(json_agg(json_build_object("
        "  'id', id, 'name', name, 'prefix', prefix, 'created_at', created_at,"
        "  'last_used_at', last_used_at, 'expires_at', expires_at, 'revoked_at', revoked_at)"
        "  ORDER BY id), '[]'))"
        "  FROM api_tokens WHERE user_id = $1", 1, p, &e);
    if (res == NULL)
        return api_db_fail(r, "listing tokens", e);
    api_send_cell(r, 200, res);
    PQclear(res);
    return 0;
}

static int h_token_revoke(struct api_req *r)
{
    const char *e = NULL;
    if (api_no_body(r) < 0 || api_db(r) == NULL)
        return 0;
    char id[24];
    snprintf(id, sizeof(id), "%lld", r->m.ids[0]);
    const char *p[] = { id, api_uid(r), r->user.level >= ATUM_ROLE_ADMIN ? "t" : "f" };
    if (db_begin(r->db, &e) < 0)
        return api_db_fail(r, "revoking the token", e);
    PGresult *res = db_exec(r->db,
        "UPDATE api_tokens SET revoked_at = now()"
        " WHERE id = $1 AND (user_id = $2 OR $3::boolean) AND revoked_at IS NULL RETURNING id",
        3, p, &e);
    if (res == NULL) {
        db_rollback(r->db);
        return api_db_fail(r, "revoking the token", e);
    }
    int n = PQntuples(res);
    PQclear(res);
    if (n == 0) {
        db_rollback(r->db);
        return api_problem(r, 404, NULL, "no such token");
    }
    char target[40];
    snprintf(target, sizeof(target), "token:%s", id);
    if (api_audit(r, "token.revoke", target, NULL, &e) < 0 || db_commit(r->db, &e) < 0) {
        db_rollback(r->db);
        return api_db_fail(r, "revoking the token", e);
    }
    auth_cache_forget_token(r->api->token_cache, r->m.ids[0]);
    return api_no_content(r);
}

int auth_session_begin(struct api_req *r, long long uid, const char *how)
{
    return session_start(r, uid, how);
}

const struct api_route api_auth_routes[] = {
    { "POST", "/api/v1/auth/login", ATUM_ROLE_NONE, API_PUBLIC | API_NO_CSRF, h_login },
    { "POST", "/api/v1/auth/login/totp", ATUM_ROLE_NONE, API_PUBLIC | API_NO_CSRF, h_login_totp },
    { "POST", "/api/v1/auth/logout", ATUM_ROLE_CUSTOMER, 0, h_logout },
    { "GET", "/api/v1/auth/me", ATUM_ROLE_CUSTOMER, 0, h_me },
    { "POST", "/api/v1/auth/totp", ATUM_ROLE_CUSTOMER, 0, h_totp_enrol },
    { "POST", "/api/v1/auth/totp/verify", ATUM_ROLE_CUSTOMER, 0, h_totp_verify },
    { "POST", "/api/v1/auth/totp/disable", ATUM_ROLE_CUSTOMER, 0, h_totp_disable },
    { "POST", "/api/v1/auth/tokens", ATUM_ROLE_CUSTOMER, 0, h_token_create },
    { "GET", "/api/v1/auth/tokens", ATUM_ROLE_CUSTOMER, 0, h_token_list },
    { "DELETE", "/api/v1/auth/tokens/{id}", ATUM_ROLE_CUSTOMER, 0, h_token_revoke },
    { NULL, NULL, 0, 0, NULL }
};
