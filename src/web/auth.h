/*
 * web/auth.h -- who is calling: API tokens, session cookies, CSRF, the
 * client address behind a trusted proxy.  Used by api.c for every request;
 * the login/logout/TOTP/token endpoints live in api_auth.c.
 *
 * Sessions and tokens are looked up by token_hash() of what the client
 * sent (see token.h).  A session ends after auth.session_idle without use
 * or auth.session_lifetime after login, whichever comes first.  A request
 * authenticated by cookie that changes state (anything but GET/HEAD) must
 * carry X-CSRF-Token: the session's CSRF token (an HMAC of the session,
 * returned by login and /auth/me).
 */
#ifndef ATUM_WEB_AUTH_H
#define ATUM_WEB_AUTH_H

#include "web/api_request.h"

/* Recently checked API tokens are remembered for AUTH_CACHE_MS, so a busy
 * integration costs one query per request instead of two.  Revoking a
 * token, and changing or disabling a user, through this node's API
 * forgets the entries at once; a change made elsewhere (another node,
 * atumctl, SQL) takes effect within AUTH_CACHE_MS. */
#define AUTH_CACHE_MS 5000

struct auth_cache;
struct auth_cache *auth_cache_new(void);
void auth_cache_free(struct auth_cache **cache);
void auth_cache_forget_token(struct auth_cache *cache, long long token_id);
void auth_cache_forget_user(struct auth_cache *cache, long long user_id);

/* Fills r->ip and r->https from the connection and, when it comes from a
 * trusted proxy, X-Forwarded-For / X-Forwarded-Proto. */
void auth_client(struct api_req *r);

/* Authenticates r from its Authorization header or session cookie.
 * 1 authenticated, 0 anonymous (nothing presented), -1 a problem was sent
 * (401 for an invalid/expired credential when the route is not public). */
int auth_request(struct api_req *r, bool is_public);

/* 0 when the request may change state (not cookie-authenticated, or the
 * CSRF header matches); -1 after sending 403. */
int auth_csrf_check(struct api_req *r);

/* The CSRF token of a session (by its token hash) into out[65]. */
void auth_csrf_token(const struct api_ctx *api, const char *session_hash, char out[65]);

/* Whether a credential seen before (api_req.cred_hash) still stands, by
 * the same rules as a request's (the live channel re-checks its
 * long-lived connections): 1 valid, 0 not (ended, expired, revoked, the
 * user disabled), -1 database error. */
int auth_credential_valid(const struct api_ctx *api, struct db_conn *c, enum api_auth via,
                          const char *hash, const char **error_r);
/* Signs a user in (web/api_account.c, after a mailed link set the
 * password): a session in the open transaction, the cookie, commits and
 * answers 200 like the login does.  how: what proved it ("link"). */
int auth_session_begin(struct api_req *r, long long uid, const char *how);

/* Looks a user up and fills *u (role level, org ...): 1 found, 0 not, -1 error. */
int auth_load_user(struct db_conn *c, long long id, struct api_user *u, const char **error_r);

#endif
