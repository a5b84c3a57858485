/* web/auth.c -- see web/auth.h. */
#include "config.h"
#include "web/auth.h"
#include "lib/err.h"
#include "lib/log.h"
#include "lib/token.h"
#include "lib/util.h"
#include "lib/xalloc.h"

#include <pthread.h>

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static bool ip_valid(const char *s)
{
    unsigned char buf[16];
    return inet_pton(AF_INET, s, buf) == 1 || inet_pton(AF_INET6, s, buf) == 1;
}

static bool trusted(const struct api_ctx *api, const char *addr)
{
    for (size_t i = 0; i < api->ntrusted; i++)
        if (strcmp(api->trusted[i], addr) == 0)
            return true;
    return false;
}

void auth_client(struct api_req *r)
{
    snprintf(r->ip, sizeof(r->ip), "%s", r->ri->remote_addr);
    r->https = r->ri->is_ssl != 0;
    if (!trusted(r->api, r->ri->remote_addr))
        return;
    /* the rightmost entry is the one our proxy appended: the peer it saw */
    const char *xff = mg_get_header(r->conn, "X-Forwarded-For");
    if (xff != NULL) {
        const char *last = strrchr(xff, ',');
        last = last ? last + 1 : xff;
        while (*last == ' ')
            last++;
        char cand[64];
        snprintf(cand, sizeof(cand), "%s", last);
        for (char *p = cand + strlen(cand); p > cand && p[-1] == ' '; )
            *--p = '\0';
        if (ip_valid(cand))
            snprintf(r->ip, sizeof(r->ip), "%s", cand);
    }
    const char *proto = mg_get_header(r->conn, "X-Forwarded-Proto");
    if (proto != NULL)
        r->https = strcasecmp(proto, "https") == 0;
}

int auth_load_user(struct db_conn *c, long long id, struct api_user *u, const char **error_r)
{
    char sid[24];
    snprintf(sid, sizeof(sid), "%lld", id);
    const char *p[] = { sid };
    PGresult *res = db_exec(c, "SELECT id, role, org_id, org_access, email FROM users"
                               " WHERE id = $1 AND NOT disabled", 1, p, error_r);
    if (res == NULL)
        return -1;
    int found = PQntuples(res) == 1;
    if (found) {
        u->id = atoll(PQgetvalue(res, 0, 0));
        snprintf(u->role, sizeof(u->role), "%s", PQgetvalue(res, 0, 1));
        u->level = api_role_level(u->role);
        u->org_id = PQgetisnull(res, 0, 2) ? 0 : atoll(PQgetvalue(res, 0, 2));
        u->org_access = PQgetvalue(res, 0, 3)[0] == 't';
        snprintf(u->email, sizeof(u->email), "%s", PQgetvalue(res, 0, 4));
    }
    PQclear(res);
    return found;
}

static const struct db_stmt token_lookup = {
    "api_token_lookup",
    "SELECT u.id, u.role, u.org_id, u.org_access, u.email, t.id,"
    "       t.last_used_at IS NULL OR t.last_used_at < now() - interval '60 seconds'"
    "  FROM api_tokens t JOIN users u ON u.id = t.user_id"
    " WHERE t.token_hash = $1 AND t.revoked_at IS NULL"
    "   AND (t.expires_at IS NULL OR t.expires_at > now()) AND NOT u.disabled", 1
};
static const struct db_stmt token_touch = {
    "api_token_touch", "UPDATE api_tokens SET last_used_at = now() WHERE id = $1", 1
};
static const struct db_stmt session_lookup = {
    "api_session_lookup",
    "SELECT u.id, u.role, u.org_id, u.org_access, u.email, s.id,"
    "       s.last_seen_at < now() - interval '60 seconds'"
    "  FROM sessions s JOIN users u ON u.id = s.user_id"
    " WHERE s.token_hash = $1 AND s.expires_at > now()"
    "   AND s.last_seen_at > now() - $2::bigint * interval '1 millisecond' AND NOT u.disabled", 2
};
static const struct db_stmt session_touch = {
    "api_session_touch", "UPDATE sessions SET last_seen_at = now() WHERE id = $1", 1
};

static void fill_user(struct api_req *r, PGresult *res)
{
    r->user.id = atoll(PQgetvalue(res, 0, 0));
    snprintf(r->user.role, sizeof(r->user.role), "%s", PQgetvalue(res, 0, 1));
    r->user.level = api_role_level(r->user.role);
    r->user.org_id = PQgetisnull(res, 0, 2) ? 0 : atoll(PQgetvalue(res, 0, 2));
    r->user.org_access = PQgetvalue(res, 0, 3)[0] == 't';
    snprintf(r->user.email, sizeof(r->user.email), "%s", PQgetvalue(res, 0, 4));
}

static int unauthorized(struct api_req *r, const char *detail)
{
    api_add_header(r, "WWW-Authenticate: Bearer realm=\"atum\"");
    api_problem(r, 401, NULL, "%s", detail);
    return -1;
}

/* ---- the token cache: 256 direct-mapped slots ---------------------------- */

struct auth_cache_entry {
    char hash[TOKEN_HASH_HEX];
    long long token_id;
    long long until_ms;
    struct api_user user;
};

struct auth_cache {
    pthread_mutex_t lock;
    struct auth_cache_entry slot[256];
};

struct auth_cache *auth_cache_new(void)
{
    struct auth_cache *c = xcalloc(1, sizeof(*c));
    pthread_mutex_init(&c->lock, NULL);
    return c;
}

void auth_cache_free(struct auth_cache **cp)
{
    if (*cp == NULL)
        return;
    pthread_mutex_destroy(&(*cp)->lock);
    free(*cp);
    *cp = NULL;
}

static struct auth_cache_entry *slot_for(struct auth_cache *c, const char *hash)
{
    unsigned v = 0;
    for (int i = 0; i < 2; i++) {
        char ch = hash[i];
        v = v * 16 + (unsigned)(ch >= 'a' ? ch - 'a' + 10 : ch - '0');
    }
    return &c->slot[v & 255];
}

static bool cache_get(struct auth_cache *c, const char *hash, struct api_user *u)
{
    bool hit = false;
    pthread_mutex_lock(&c->lock);
    struct auth_cache_entry *e = slot_for(c, hash);
    if (e->until_ms > time_mono_ms() && strcmp(e->hash, hash) == 0) {
        *u = e->user;
        hit = true;
    }
    pthread_mutex_unlock(&c->lock);
    return hit;
}

static void cache_put(struct auth_cache *c, const char *hash, long long token_id,
                      const struct api_user *u)
{
    pthread_mutex_lock(&c->lock);
    struct auth_cache_entry *e = slot_for(c, hash);
    memcpy(e->hash, hash, TOKEN_HASH_HEX);
    e->token_id = token_id;
    e->user = *u;
    e->until_ms = time_mono_ms() + AUTH_CACHE_MS;
    pthread_mutex_unlock(&c->lock);
}

void auth_cache_forget_token(struct auth_cache *c, long long token_id)
{
    pthread_mutex_lock(&c->lock);
    for (int i = 0; i < 256; i++)
        if (c->slot[i].token_id == token_id)
            c->slot[i].until_ms = 0;
    pthread_mutex_unlock(&c->lock);
}

void auth_cache_forget_user(struct auth_cache *c, long long user_id)
{
    pthread_mutex_lock(&c->lock);
    for (int i = 0; i < 256; i++)
        if (c->slot[i].user.id == user_id)
            c->slot[i].until_ms = 0;
    pthread_mutex_unlock(&c->lock);
}

static int by_token(struct api_req *r, const char *authz)
{
    const char *e = NULL;
    if (strncasecmp(authz, "Bearer ", 7) != 0)
        return unauthorized(r, "the Authorization header must be 'Bearer <API token>'");
    const char *tok = authz + 7;
    while (*tok == ' ')
        tok++;
    if (!token_syntax_ok(tok))
        return unauthorized(r, "invalid, expired or revoked API token");
    char h[TOKEN_HASH_HEX];
    token_hash(r->api->secret, tok, strlen(tok), h);
    if (cache_get(r->api->token_cache, h, &r->user)) {
        r->via = API_AUTH_TOKEN;
        memcpy(r->cred_hash, h, sizeof(r->cred_hash));
        return 1;
    }
    if (api_db(r) == NULL)
        return -1;
    const char *p[] = { h };
    PGresult *res = db_exec_stmt(r->db, &token_lookup, p, &e);
    if (res == NULL)
        return api_db_fail(r, "checking the API token", e), -1;
    if (PQntuples(res) != 1) {
        PQclear(res);
        return unauthorized(r, "invalid, expired or revoked API token");
    }
    fill_user(r, res);
    r->via = API_AUTH_TOKEN;
    memcpy(r->cred_hash, h, sizeof(r->cred_hash));
    cache_put(r->api->token_cache, h, atoll(PQgetvalue(res, 0, 5)), &r->user);
    bool stale = PQgetvalue(res, 0, 6)[0] == 't';
    if (stale) {
        const char *tp[] = { PQgetvalue(res, 0, 5) };
        PGresult *u = db_exec_stmt(r->db, &token_touch, tp, &e);
        PQclear(u);
    }
    PQclear(res);
    return 1;
}

static int by_cookie(struct api_req *r, const char *cookies, bool is_public)
{
    char tok[TOKEN_MAX];
    const char *e = NULL;
    int n = mg_get_cookie(cookies, API_COOKIE, tok, sizeof(tok));
    if (n == -1)
        return 0;
    if (n < 0 || !token_syntax_ok(tok)) {
        if (is_public)
            return 0;
        return unauthorized(r, "the session cookie is invalid; log in again");
    }
    char h[TOKEN_HASH_HEX], idle[24];
    token_hash(r->api->secret, tok, strlen(tok), h);
    snprintf(idle, sizeof(idle), "%lld", r->api->session_idle_ms);
    if (api_db(r) == NULL)
        return -1;
    const char *p[] = { h, idle };
    PGresult *res = db_exec_stmt(r->db, &session_lookup, p, &e);
    if (res == NULL)
        return api_db_fail(r, "checking the session", e), -1;
    if (PQntuples(res) != 1) {
        PQclear(res);
        if (is_public)
            return 0;
        return unauthorized(r, "the session has expired or is invalid; log in again");
    }
    fill_user(r, res);
    r->via = API_AUTH_SESSION;
    r->session_id = atoll(PQgetvalue(res, 0, 5));
    memcpy(r->session_hash, h, sizeof(r->session_hash));
    memcpy(r->cred_hash, h, sizeof(r->cred_hash));
    if (PQgetvalue(res, 0, 6)[0] == 't') {
        const char *tp[] = { PQgetvalue(res, 0, 5) };
        PGresult *u = db_exec_stmt(r->db, &session_touch, tp, &e);
        PQclear(u);
    }
    PQclear(res);
    return 1;
}

int auth_request(struct api_req *r, bool is_public)
{
    const char *authz = mg_get_header(r->conn, "Authorization");
    if (authz != NULL)
        return by_token(r, authz);
    const char *cookies = mg_get_header(r->conn, "Cookie");
    if (cookies != NULL)
        return by_cookie(r, cookies, is_public);
    return 0;
}

void auth_csrf_token(const struct api_ctx *api, const char *session_hash, char out[65])
{
    char data[80];
    int n = snprintf(data, sizeof(data), "csrf:%s", session_hash);
    token_hash(api->secret, data, (size_t)n, out);
}

int auth_csrf_check(struct api_req *r)
{
    if (r->via != API_AUTH_SESSION)
        return 0;
    const char *got = mg_get_header(r->conn, "X-CSRF-Token");
    char want[65];
    auth_csrf_token(r->api, r->session_hash, want);
    if (got == NULL || !token_equal(got, want)) {
        log_warn("api.csrf_refused", "path=%s user=%lld ip=%s", r->path, r->user.id, r->ip);
        api_problem(r, 403, "X-CSRF-Token", got ? "the X-CSRF-Token header does not match this "
                    "session" : "this request needs the X-CSRF-Token header of your session "
                    "(from the login answer or GET /api/v1/auth/me)");
        return -1;
    }
    return 0;
}

int auth_credential_valid(const struct api_ctx *api, struct db_conn *c, enum api_auth via,
                          const char *hash, const char **error_r)
{
    char idle[24];
    snprintf(idle, sizeof(idle), "%lld", api->session_idle_ms);
    const char *p[] = { hash, idle };
    PGresult *res = via == API_AUTH_SESSION ? db_exec_stmt(c, &session_lookup, p, error_r)
                    : via == API_AUTH_TOKEN ? db_exec_stmt(c, &token_lookup, p, error_r) : NULL;
    if (res == NULL)
        return via == API_AUTH_SESSION || via == API_AUTH_TOKEN ? -1 : 0;
    int ok = PQntuples(res) == 1;
    PQclear(res);
    return ok;
}
