/* web/api.c -- see web/api.h. */
#include "config.h"
#include "web/api.h"
#include "web/auth.h"
#include "web/http.h"
#include "desk/audit.h"
#include "core/conf.h"
#include "core/dbpool.h"
#include "lib/err.h"
#include "core/event.h"
#include "lib/log.h"
#include "lib/passwd.h"
#include "core/runtime.h"
#include "lib/util.h"
#include "lib/xalloc.h"

#include <stdarg.h>
#include <strings.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct api_route *const route_tables[] = {
    api_auth_routes, api_ticket_routes, api_admin_routes, api_ops_routes, api_inbound_routes,
    api_live_routes, api_account_routes, api_portal_routes, api_admin_tool_routes,
};
#define N_TABLES (sizeof(route_tables) / sizeof(route_tables[0]))

/* ---- life cycle ------------------------------------------------------- */

static void split_trusted(struct api_ctx *api, const char *list)
{
    char *copy = xstrdup(list ? list : ""), *save = NULL;
    for (char *t = strtok_r(copy, ", ", &save); t; t = strtok_r(NULL, ", ", &save)) {
        api->trusted = xrealloc(api->trusted, (api->ntrusted + 1) * sizeof(*api->trusted));
        api->trusted[api->ntrusted++] = xstrdup(t);
    }
    free(copy);
}

int api_ctx_init(struct api_ctx *api, const struct atum_config *cfg,
                 const struct http_body_limits *body, long long public_max, struct runtime *rt,
                 struct db_pool *pool, const char **error_r)
{
    memset(api, 0, sizeof(*api));
    if (cfg == NULL || cfg->secret_key == NULL || cfg->secret_key[0] == '\0')
        return err_set(error_r, "core.secret_key is not set: the web API needs it to hash "
                       "sessions and API tokens and to sign CSRF tokens (set "
                       "ATUM_CORE_SECRET_KEY to at least 32 random characters, e.g. the output "
                       "of `openssl rand -hex 32`)");
    if (strlen(cfg->secret_key) < 32)
        log_warn("web.weak_secret", "hint=%s", "core.secret_key is shorter than 32 characters; "
                 "use `openssl rand -hex 32`");
    api->rt = rt;
    api->pool = pool;
    api->secret = xstrdup(cfg->secret_key);
    api->max_body = body->max;
    api->body = *body;
    api->public_max = public_max;
    api->session_idle_ms = cfg->auth_session_idle_ms;
    api->session_lifetime_ms = cfg->auth_session_lifetime_ms;
    api->login_window_ms = cfg->auth_login_window_ms;
    api->token_lifetime_ms = cfg->auth_token_lifetime_ms;
    api->imap_insecure_loopback = cfg->imap_allow_insecure_loopback;
    api->fail_account = cfg->auth_login_failures_account;
    api->fail_ip = cfg->auth_login_failures_ip;
    api->totp_issuer = xstrdup(cfg->auth_totp_issuer ? cfg->auth_totp_issuer : "ATUM DESK");
    api->cookie_secure = strcmp(cfg->auth_cookie_secure, "yes") == 0 ? 1
                         : strcmp(cfg->auth_cookie_secure, "no") == 0 ? 0 : 2;
    split_trusted(api, cfg->web_trusted_proxies);
    api->public_origin = api_origin_of(cfg->public_url);
    api->token_cache = auth_cache_new();
    api->dummy_hash = passwd_hash("no such user, no such password", error_r);
    if (api->dummy_hash == NULL) {
        api_ctx_destroy(api);
        return -1;
    }
    for (size_t t = 0; t < N_TABLES; t++)
        for (const struct api_route *rt_ = route_tables[t]; rt_->method; rt_++) {
            api->routes = xrealloc(api->routes, (api->nroutes + 1) * sizeof(*api->routes));
            api->routes[api->nroutes++] = rt_;
        }
    return 0;
}

void api_ctx_destroy(struct api_ctx *api)
{
    if (api->secret) {
        memset(api->secret, 0, strlen(api->secret));
        free(api->secret);
    }
    free(api->totp_issuer);
    free(api->public_origin);
    free(api->dummy_hash);
    auth_cache_free(&api->token_cache);
    for (size_t i = 0; i < api->ntrusted; i++)
        free(api->trusted[i]);
    free(api->trusted);
    free(api->routes);
    memset(api, 0, sizeof(*api));
}

void api_foreach_route(void (*fn)(const char *method, const char *pattern, void *arg), void *arg)
{
    for (size_t t = 0; t < N_TABLES; t++)
        for (const struct api_route *r = route_tables[t]; r->method; r++)
            fn(r->method, r->pattern, arg);
}

int api_authenticate_plugin(struct api_ctx *api, struct mg_connection *conn, long long *user_r,
                            enum atum_role *role_r, bool *csrf_ok_r)
{
    struct api_req r;
    memset(&r, 0, sizeof(r));
    r.api = api;
    r.conn = conn;
    r.ri = mg_get_request_info(conn);
    r.method = r.ri->request_method;
    r.path = r.ri->local_uri_raw ? r.ri->local_uri_raw : "/";
    auth_client(&r);
    int ret = 0;
    int a = auth_request(&r, true);
    if (a < 0) {
        ret = -1;
    } else if (a > 0 && strcmp(r.method, "GET") != 0 && strcmp(r.method, "HEAD") != 0
               && auth_csrf_check(&r) < 0) {
        ret = -1;
    } else {
        *user_r = a > 0 ? r.user.id : 0;
        *role_r = a > 0 ? r.user.level : ATUM_ROLE_NONE;
        *csrf_ok_r = true;
    }
    if (r.db != NULL)
        db_pool_release(api->pool, r.db);
    strbuf_free(&r.headers);
    return ret;
}

int api_authenticate_live(struct api_ctx *api, struct mg_connection *conn, struct api_user *u,
                          enum api_auth *via_r, char cred_hash[65], bool *https_r)
{
    struct api_req r;
    memset(&r, 0, sizeof(r));
    r.api = api;
    r.conn = conn;
    r.ri = mg_get_request_info(conn);
    r.method = r.ri->request_method;
    r.path = r.ri->local_uri ? r.ri->local_uri : "/";
    auth_client(&r);
    int a = auth_request(&r, false);
    if (a > 0) {
        *u = r.user;
        *via_r = r.via;
        memcpy(cred_hash, r.cred_hash, 65);
        *https_r = r.https;
    }
    if (r.db != NULL)
        db_pool_release(api->pool, r.db);
    strbuf_free(&r.headers);
    return a;
}

char *api_origin_of(const char *url)
{
    if (url == NULL)
        return NULL;
    const char *p = strstr(url, "://");
    if (p == NULL || (strncasecmp(url, "http://", 7) != 0 && strncasecmp(url, "https://", 8) != 0))
        return NULL;
    p += 3;
    size_t n = strcspn(p, "/?#");
    if (n == 0)
        return NULL;
    char *o = xasprintf("%.*s%.*s", (int)(p - url), url, (int)n, p);
    for (char *c = o; *c; c++)
        if (*c >= 'A' && *c <= 'Z')
            *c = (char)(*c - 'A' + 'a');
    return o;
}

void api_client_addr(struct api_ctx *api, struct mg_connection *conn, char *out, size_t size)
{
    struct api_req r;
    memset(&r, 0, sizeof(r));
    r.api = api;
    r.conn = conn;
    r.ri = mg_get_request_info(conn);
    auth_client(&r);
    snprintf(out, size, "%s", r.ip);
}

/* ---- dispatch ----------------------------------------------------------------- */

const char *api_dispatch(struct api_ctx *api, struct mg_connection *conn)
{
    struct api_req r;
    memset(&r, 0, sizeof(r));
    r.api = api;
    r.conn = conn;
    r.ri = mg_get_request_info(conn);
    r.method = r.ri->request_method;
    r.path = r.ri->local_uri_raw ? r.ri->local_uri_raw : "/";
    r.headers = (struct strbuf)STRBUF_INIT;
    auth_client(&r);

    bool path_known = false;
    bool head = strcmp(r.method, "HEAD") == 0;
    for (size_t i = 0; i < api->nroutes; i++) {
        struct router_match m;
        if (!router_match(api->routes[i]->pattern, r.path, &m))
            continue;
        path_known = true;
        if (strcmp(api->routes[i]->method, r.method) == 0
            || (head && strcmp(api->routes[i]->method, "GET") == 0)) {
            r.route = api->routes[i];
            r.m = m;
            break;
        }
    }
    if (r.route == NULL) {
        if (path_known) {
            api_problem(&r, 405, NULL, "method %s is not allowed on %s", r.method, r.path);
        } else {
            api_problem(&r, 404, NULL, "no such resource");
        }
        goto out;
    }
    bool is_public = (r.route->flags & API_PUBLIC) != 0;
    int a = auth_request(&r, is_public);
    if (a < 0)
        goto out;
    if (!is_public) {
        if (a == 0) {
            api_add_header(&r, "WWW-Authenticate: Bearer realm=\"atum\"");
            api_problem(&r, 401, NULL, "authentication required: an API token (Authorization: "
                        "Bearer ...) or a session cookie");
            goto out;
        }
        if (r.user.level < r.route->min_role) {
            if (router_has_id(r.route->pattern))
                api_problem(&r, 404, NULL, "no such resource");
            else
                api_problem(&r, 403, NULL, "your role (%s) may not do this", r.user.role);
            goto out;
        }
    }
    bool safe = strcmp(r.method, "GET") == 0 || head;
    if (!safe && !(r.route->flags & API_NO_CSRF) && auth_csrf_check(&r) < 0)
        goto out;
    /* handlers of authenticated routes use r.db directly (a cached token
     * did not need it for authentication) */
    if (!is_public && api_db(&r) == NULL)
        goto out;
    r.route->handle(&r);
    if (!r.answered) {
        log_error("api.no_answer", "path=%s", r.path);
        api_problem(&r, 500, NULL, "the handler did not answer");
    }
    /* a state change carried out without looking at the body would
     * accept anything a client sent: every such handler calls
     * api_body() or api_no_body() first */
    if (!safe && !r.body_checked && r.status < 300)
        log_error("api.body_unchecked", "method=%s path=%s", r.method, r.route->pattern);
out:
    if (r.db != NULL) {
        if (db_in_transaction(r.db)) {
            log_warn("api.tx_left_open", "path=%s", r.path);
            db_rollback(r.db);
        }
        db_pool_release(api->pool, r.db);
    }
    json_decref(r.body);
    strbuf_free(&r.headers);
    return r.route ? r.route->pattern : NULL;
}
