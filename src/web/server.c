/* web/server.c -- see web/server.h. */
#include "config.h"
#include "web/server.h"
#include "web/http.h"
#include "web/api.h"
#include "web/router.h"
#include "web/conncap.h"
#include "web/web_metrics.h"
#include "core/dbpool.h"
#include "lib/err.h"
#include "lib/jsonlimit.h"
#include "core/host_table.h"
#include "core/jobrun.h"
#include "lib/log.h"
#include "lib/metrics.h"
#include "lib/util.h"
#include "core/migrate.h"
#include "core/plugin_loader.h"
#include "core/runtime.h"
#include "lib/xalloc.h"
#include "web/static.h"
#include "web/live.h"
#include "web/api_live.h"
#include "web/auth.h"

#include <civetweb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define PLUGIN_PREFIX "/api/v1/plugins/"

struct web_server {
    struct mg_context *ctx;
    struct runtime *rt;
    struct db_pool *pool;
    struct http_body_limits body;    /* max: web.max_body */
    long long public_max;            /* bodies without credentials */
    struct conncap *cap;
    char node_id[128];
    struct api_ctx api;
    struct static_files *assets;   /* NULL: the desk is not built (503) */
    struct live_hub *live;         /* NULL: no live channel */
};

/* The live hub re-checks its readers' credentials through the API's auth. */
static int live_credential_ok(void *arg, struct db_conn *c, int via, const char *hash)
{
    const char *e = NULL;
    return auth_credential_valid(arg, c, (enum api_auth)via, hash, &e);
}

/* ---- health ----------------------------------------------------------- */

static void handle_health(struct web_server *ws, struct mg_connection *conn, bool ready)
{
    const char *e = NULL;
    struct db_conn *c = db_pool_acquire(ws->pool, 2000, &e);
    if (c == NULL) {
        http_send_json(conn, 503, json_pack("{s:s, s:s}", "status", "unavailable", "database", e));
        return;
    }
    PGresult *r = db_exec(c, "SELECT 1", 0, NULL, &e);
    if (r == NULL) {
        db_pool_release(ws->pool, c);
        http_send_json(conn, 503, json_pack("{s:s, s:s}", "status", "unavailable", "database", e));
        return;
    }
    PQclear(r);
    if (ready) {
        int cur = 0, latest = 0;
        if (migrate_versions(c, "core", core_migrations, &cur, &latest, &e) < 0 || cur != latest) {
            db_pool_release(ws->pool, c);
            http_send_json(conn, 503, json_pack("{s:s, s:i, s:i}", "status", "schema not current",
                                                "schema", cur, "expected", latest));
            return;
        }
    }
    db_pool_release(ws->pool, c);
    http_send_json(conn, 200, json_pack("{s:s, s:s, s:s}", "status", "ok", "database", "ok",
                                        "node", ws->node_id));
}

/* ---- status page ------------------------------------------------------ */

static void handle_status_page(struct web_server *ws, struct mg_connection *conn)
{
    struct strbuf b = STRBUF_INIT;
    const char *e = NULL;
    strbuf_adds(&b, "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">"
                    "<title>ATUM DESK</title></head><body><h1>ATUM DESK</h1>");
    strbuf_adds(&b, "<p>atumd ");
    strbuf_add_html(&b, PACKAGE_VERSION);
    strbuf_adds(&b, " on node <code>");
    strbuf_add_html(&b, ws->node_id);
    strbuf_adds(&b, "</code></p>");

    struct db_conn *c = db_pool_acquire(ws->pool, 2000, &e);
    PGresult *r = c ? db_exec(c, "SELECT state, count(*) FROM jobs GROUP BY state ORDER BY state",
                              0, NULL, &e) : NULL;
    if (r == NULL) {
        strbuf_adds(&b, "<p>Database: <strong>unavailable</strong> (");
        strbuf_add_html(&b, e);
        strbuf_adds(&b, ")</p>");
    } else {
        strbuf_adds(&b, "<p>Database: ok</p><h2>Jobs</h2><table><tr><th>state</th><th>count</th></tr>");
        for (int i = 0; i < PQntuples(r); i++) {
            strbuf_adds(&b, "<tr><td>");
            strbuf_add_html(&b, PQgetvalue(r, i, 0));
            strbuf_adds(&b, "</td><td>");
            strbuf_add_html(&b, PQgetvalue(r, i, 1));
            strbuf_adds(&b, "</td></tr>");
        }
        strbuf_adds(&b, "</table>");
        PQclear(r);
    }
    db_pool_release(ws->pool, c);

    strbuf_adds(&b, "<h2>Plugins</h2><ul>");
    runtime_rdlock(ws->rt);
    for (size_t i = 0; i < ws->rt->plugins.n; i++) {
        const struct plugin_instance *pi = &ws->rt->plugins.v[i];
        strbuf_adds(&b, "<li>");
        strbuf_add_html(&b, pi->name);
        strbuf_adds(&b, ": ");
        strbuf_add_html(&b, pi->state == PLUGIN_LOADED ? "loaded"
                        : pi->state == PLUGIN_DISABLED ? "disabled" : "refused");
        if (pi->reason) {
            strbuf_adds(&b, " (");
            strbuf_add_html(&b, pi->reason);
            strbuf_adds(&b, ")");
        }
        strbuf_adds(&b, "</li>");
    }
    runtime_rdunlock(ws->rt);
    strbuf_adds(&b, "</ul><p><a href=\"/healthz\">/healthz</a></p></body></html>\n");
    http_send(conn, 200, "text/html; charset=utf-8", b.s, b.len, NULL);
    strbuf_free(&b);
}

/* ---- plugin routes ---------------------------------------------------- */

/* A JSON Content-Type (application/json, application/...+json), or a body
 * whose first non-blank byte opens an array or object. */
static bool looks_like_json(struct mg_connection *conn, const struct strbuf *body)
{
    const char *ct = mg_get_header(conn, "Content-Type");
    if (ct != NULL) {
        size_t n = strcspn(ct, "; ");
        if ((n >= 4 && strncasecmp(ct + n - 4, "json", 4) == 0))
            return true;
    }
    for (size_t i = 0; i < body->len; i++) {
        char c = body->s[i];
        if (c == ' ' || c == '\t' || c == '\r' || c == '\n')
            continue;
        return c == '[' || c == '{';
    }
    return false;
}

/* Runs one plugin route (runtime read-locked by the caller).  A presented
 * credential is checked on every route, public ones too, so a plugin
 * knows who asks (the rag plugin shows staff internal articles): a stale
 * session cookie reads as anonymous, a bad API token is refused, and a
 * session's change without its CSRF token is refused as anywhere. */
static void run_plugin_route(struct web_server *ws, struct mg_connection *conn,
                             const struct plugin_instance *pi, const struct atum_route *route,
                             const char *sub)
{
    const struct mg_request_info *ri = mg_get_request_info(conn);
    struct strbuf body = STRBUF_INIT;
    struct atum_http_resp resp = { 0, "", STRBUF_INIT };
    struct db_conn *c = NULL;
    const char *e = NULL;

    long long user_id = 0;
    enum atum_role role = ATUM_ROLE_NONE;
    bool csrf_ok = false;
    if (api_authenticate_plugin(&ws->api, conn, &user_id, &role, &csrf_ok) < 0)
        goto out;   /* answered (bad credential, missing CSRF token) */
    if (route->min_role != ATUM_ROLE_NONE && user_id == 0) {
        http_problem(conn, 401, "Unauthorized", "this route needs an authenticated user");
        goto out;
    }
    if (role < route->min_role) {
        http_problem(conn, 404, "Not Found", "the plugin has no such route");
        goto out;
    }
    struct http_body_limits lim = ws->body;
    if (user_id == 0 && lim.max > ws->public_max)
        lim.max = ws->public_max;
    lim.chunked_ok = user_id != 0;
    int st = http_read_body(conn, &lim, &body);
    if (st != 0) {
        http_problem(conn, st, NULL, st == 413 ? "request body too large"
                     : st == 408 ? "request body too slow"
                     : st == 411 ? "a request without credentials must send a Content-Length"
                     : "malformed request body");
        goto out;
    }
    /* plugins parse JSON with jansson on this thread's small stack:
     * refuse what would overflow it -- any body that is or looks like
     * JSON, whatever its Content-Type says */
    if (looks_like_json(conn, &body) && !json_depth_ok(body.s, body.len, JSON_MAX_DEPTH)) {
        http_problem(conn, 400, NULL, "the body nests arrays or objects deeper than "
                     JSON_MAX_DEPTH_TEXT " levels");
        goto out;
    }
    c = db_pool_acquire(ws->pool, 5000, &e);
    if (c == NULL) {
        http_problem(conn, 503, "Service Unavailable", e);
        goto out;
    }
    struct atum_db adb = { c, ws->rt, pi->name };
    struct host_http_req req = { .pub = {
        .method = ri->request_method,
        .path = sub,
        .query = ri->query_string,
        .body = body.len ? body.s : NULL,
        .body_len = body.len,
        .user_id = user_id,
        .role = role,
        .db = &adb,
    } };
    api_client_addr(&ws->api, conn, req.client_addr, sizeof(req.client_addr));
    log_plugin_enter(pi->name);
    int rc = route->handle(pi->pstate, &req.pub, &resp);
    log_plugin_leave();
    if (db_in_transaction(c)) {
        log_warn("plugin.tx_left_open", "plugin=%s route=%s", pi->name, route->path);
        db_rollback(c);
    }
    if (resp.status == 0 || resp.status >= 500) {
        char name[72], labels[128];
        metrics_label_value(name, sizeof(name), pi->name);
        snprintf(labels, sizeof(labels), "plugin=\"%s\",where=\"route\"", name);
        metrics_counter_add("atum_plugin_errors_total", labels, 1);
    }
    if (resp.status == 0) {
        log_error("plugin.route_failed", "plugin=%s route=%s rc=%d", pi->name, route->path, rc);
        http_problem(conn, 500, "Internal Server Error", "the plugin did not answer");
    } else {
        http_send(conn, resp.status, resp.content_type, resp.body.s ? resp.body.s : "",
                  resp.body.len, NULL);
    }
out:
    db_pool_release(ws->pool, c);
    strbuf_free(&body);
    strbuf_free(&resp.body);
}

/* /api/v1/plugins/NAME/...; *route_r: the route's template for metrics */
static void handle_plugin(struct web_server *ws, struct mg_connection *conn, const char *rest,
                          char *route_r, size_t route_size)
{
    const struct mg_request_info *ri = mg_get_request_info(conn);
    char name[72];
    const char *slash = strchr(rest, '/');
    size_t nlen = slash ? (size_t)(slash - rest) : strlen(rest);
    const char *sub = slash ? slash : "/";

    if (nlen == 0 || nlen >= sizeof(name)) {
        http_problem(conn, 404, "Not Found", "no such plugin");
        return;
    }
    memcpy(name, rest, nlen);
    name[nlen] = '\0';

    runtime_rdlock(ws->rt);
    const struct plugin_instance *pi = plugin_set_find(&ws->rt->plugins, name);
    if (pi == NULL || pi->state != PLUGIN_LOADED) {
        http_problem(conn, 404, "Not Found", "no such plugin is loaded");
        goto out;
    }
    const struct atum_route *route = NULL;
    bool path_known = false;
    for (const struct atum_route *r = pi->desc.routes; r && r->path; r++) {
        if (strcmp(r->path, sub) != 0)
            continue;
        path_known = true;
        if (strcmp(r->method, ri->request_method) == 0)
            route = r;
    }
    if (path_known)
        snprintf(route_r, route_size, "%s%s%s", PLUGIN_PREFIX, pi->name, sub);
    if (route == NULL) {
        if (path_known)
            http_problem(conn, 405, "Method Not Allowed", NULL);
        else
            http_problem(conn, 404, "Not Found", "the plugin has no such route");
        goto out;
    }
    run_plugin_route(ws, conn, pi, route, sub);
out:
    runtime_rdunlock(ws->rt);
}

/* A path a loaded plugin answers at the root (its root_routes, e.g.
 * /metrics).  false when no plugin claims the path. */
static bool handle_root_route(struct web_server *ws, struct mg_connection *conn, const char *path)
{
    const struct mg_request_info *ri = mg_get_request_info(conn);
    runtime_rdlock(ws->rt);
    const struct plugin_instance *pi = plugin_set_find_root(&ws->rt->plugins, path);
    if (pi == NULL) {
        runtime_rdunlock(ws->rt);
        return false;
    }
    const struct atum_route *route = NULL;
    for (const struct atum_route *r = pi->desc.root_routes; r && r->path; r++)
        if (strcmp(r->path, path) == 0 && strcmp(r->method, ri->request_method) == 0)
            route = r;
    if (route == NULL)
        http_problem(conn, 405, "Method Not Allowed", NULL);
    else
        run_plugin_route(ws, conn, pi, route, path);
    runtime_rdunlock(ws->rt);
    return true;
}

/* ---- dispatch --------------------------------------------------------- */

static int dispatch(struct mg_connection *conn, void *arg)
{
    struct web_server *ws = arg;
    const struct mg_request_info *ri = mg_get_request_info(conn);
    /* the path as sent (decode_url is off): the router judges it, not
     * civetweb's decoder and dot-segment removal */
    const char *path = ri->local_uri_raw, *why = NULL;
    http_request_begin(ws->cap);
    if (!router_path_plain(path, &why)) {
        http_problem(conn, 400, NULL, why);
        http_request_end(conn);
        return 1;
    }
    bool get = strcmp(ri->request_method, "GET") == 0 || strcmp(ri->request_method, "HEAD") == 0;
    double started = time_mono_s();
    char route[WEB_ROUTE_LABEL_MAX] = "";   /* "": unmatched */
    http_status_clear();

    if (strncmp(path, PLUGIN_PREFIX, strlen(PLUGIN_PREFIX)) == 0
        && strchr(path + strlen(PLUGIN_PREFIX), '/') != NULL) {
        handle_plugin(ws, conn, path + strlen(PLUGIN_PREFIX), route, sizeof(route));
    } else if (strncmp(path, API_PREFIX "/", strlen(API_PREFIX) + 1) == 0) {
        const char *pattern = api_dispatch(&ws->api, conn);
        snprintf(route, sizeof(route), "%s", pattern ? pattern : "");
    } else if (strcmp(path, "/healthz") == 0 || strcmp(path, "/readyz") == 0) {
        snprintf(route, sizeof(route), "%s", path);
        if (get)
            handle_health(ws, conn, path[1] == 'r');
        else
            http_problem(conn, 405, "Method Not Allowed", NULL);
    } else if (strcmp(path, "/status") == 0) {
        snprintf(route, sizeof(route), "/status");
        if (get)
            handle_status_page(ws, conn);
        else
            http_problem(conn, 405, "Method Not Allowed", NULL);
    } else if (static_handle(ws->assets, conn, path)) {
        /* /, /desk, /assets/: answered; labelled by kind, never by name */
        snprintf(route, sizeof(route), "%s", strncmp(path, "/assets/", 8) == 0 ? "/assets/{name}"
                 : strncmp(path, "/desk", 5) == 0 ? "/desk" : "/");
    } else if (handle_root_route(ws, conn, path)) {
        snprintf(route, sizeof(route), "%s", path);   /* a declared root route: bounded */
    } else {
        http_problem(conn, 404, "Not Found", NULL);
    }
    web_metrics_request(route, ri->request_method, http_status_sent(), time_mono_s() - started);
    http_request_end(conn);
    return 1;   /* handled: civetweb must not look for files */
}

/* ---- connections: web/conncap.h ----------------------------------------- */

static struct web_server *server_of(const struct mg_connection *conn)
{
    return mg_get_user_context_data(conn);
}

static int on_init_connection(const struct mg_connection *conn, void **conn_data)
{
    *conn_data = NULL;
    conncap_opened(server_of(conn)->cap);
    return 0;
}

static void on_connection_close(const struct mg_connection *conn)
{
    conncap_closed(server_of(conn)->cap, conn);
}

static int on_begin_request(struct mg_connection *conn)
{
    conncap_state(server_of(conn)->cap, conn, CONNCAP_HANDLING);
    return 0;   /* civetweb goes on to our handler */
}

static void on_end_request(const struct mg_connection *conn, int status)
{
    (void)status;
    conncap_state(server_of(conn)->cap, conn, CONNCAP_WAITING);
}

static int on_log_message(const struct mg_connection *conn, const char *message)
{
    (void)conn;
    log_warn("web.civetweb", "msg=%s", message);
    return 1;
}

/* civetweb answers some requests itself -- a header block over
 * max_request_size, a request line it cannot parse -- and its own page
 * has none of our security headers.  Answer them through http_send() like
 * everything else; civetweb closes the connection afterwards. */
static int on_http_error(struct mg_connection *conn, int status, const char *msg)
{
    json_t *o = json_pack("{s:s, s:i, s:s?}", "title", http_status_text(status), "status", status,
                          "detail", msg && msg[0] ? msg : NULL);
    char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    const char *body = s ? s : "{\"title\":\"Bad Request\",\"status\":400}";
    http_send(conn, status, "application/problem+json", body, strlen(body), "Connection: close\r\n");
    free(s);
    return 0;   /* handled: civetweb sends nothing more */
}

int web_start(struct web_server **ws_r, const struct web_opts *o, struct runtime *rt,
              struct db_pool *pool, const char **error_r)
{
    struct web_server *ws = xcalloc(1, sizeof(*ws));
    ws->rt = rt;
    ws->pool = pool;
    ws->body.max = o->max_body;
    ws->body.timeout_ms = o->request_timeout_ms;
    ws->body.min_rate = o->body_min_rate > 0 ? o->body_min_rate : 64 * 1024;
    ws->public_max = o->max_public_body > 0 ? o->max_public_body : 64 * 1024;
    if (ws->public_max > o->max_body)
        ws->public_max = o->max_body;
    snprintf(ws->node_id, sizeof(ws->node_id), "%s", o->node_id ? o->node_id : "");
    if (api_ctx_init(&ws->api, o->cfg, &ws->body, ws->public_max, rt, pool, error_r) < 0) {
        free(ws);
        return -1;
    }
    bool live = o->live_db != NULL && o->live_max_connections > 0;
    if (live) {
        struct live_opts lo = {
            .max_connections = o->live_max_connections, .db = *o->live_db, .node_id = o->node_id,
            .credential_ok = live_credential_ok, .credential_arg = &ws->api,
        };
        lo.db.application_name = "atumd-live";
        if (live_hub_start(&ws->live, &lo, error_r) < 0) {
            api_ctx_destroy(&ws->api);
            free(ws);
            return -1;
        }
        ws->api.live = ws->live;
    }
    /* a thread per request in flight, and one per live connection */
    int nthreads = o->threads + (live ? o->live_max_connections : 0);
    /* trusted proxies are counted but not capped per client; a live
     * socket or long poll is a request being handled, never shed, and
     * holds a thread of the live channel's share */
    ws->cap = conncap_new(nthreads, o->client_connections, ws->api.trusted, ws->api.ntrusted);
    char threads[16], timeout[32], keep[32], ping[32];
    snprintf(threads, sizeof(threads), "%d", nthreads);
    snprintf(ping, sizeof(ping), "%lld", o->live_ping_ms > 0 ? o->live_ping_ms : 20000);
    /* civetweb's request_timeout_ms bounds the wait for the request line
     * and headers, and each wait for body bytes (web.header_timeout) */
    snprintf(timeout, sizeof(timeout), "%lld", o->header_timeout_ms > 0 ? o->header_timeout_ms : 10000);
    snprintf(keep, sizeof(keep), "%lld", o->keep_alive_ms);
    const char *options[] = {
        "listening_ports", o->listen,
        "num_threads", threads,
        "request_timeout_ms", timeout,
        /* each open keep-alive connection holds one of num_threads: the
         * timeout bounds how long an idle client keeps it */
        "enable_keep_alive", o->keep_alive_ms > 0 ? "yes" : "no",
        "keep_alive_timeout_ms", keep,
        /* civetweb answers CORS preflights with '*' by default */
        "access_control_allow_origin", "",
        "max_request_size", "16384",
        /* the router sees the path exactly as sent and refuses %XX and
         * dot segments itself (router_path_plain) */
        "decode_url", "no",
        /* answers go out at once, not after the peer's delayed ACK */
        "tcp_nodelay", "1",
        /* a live socket is pinged when quiet this long; civetweb closes one
         * whose pings go unanswered */
        "websocket_timeout_ms", ping,
        "enable_websocket_ping_pong", "yes",
        NULL
    };
    struct mg_callbacks cb;
    memset(&cb, 0, sizeof(cb));
    cb.log_message = on_log_message;
    cb.http_error = on_http_error;
    cb.init_connection = on_init_connection;
    cb.connection_close = on_connection_close;
    cb.begin_request = on_begin_request;
    cb.end_request = on_end_request;
    struct mg_init_data init = { &cb, ws, options };
    char errtext[256] = "";
    unsigned errcode = 0;
    struct mg_error_data err = { &errcode, errtext, sizeof(errtext) };

    ws->ctx = mg_start2(&init, &err);
    if (ws->ctx == NULL) {
        live_hub_stopping(ws->live);
        live_hub_free(&ws->live);
        conncap_free(&ws->cap);
        api_ctx_destroy(&ws->api);
        free(ws);
        return err_set(error_r, "web server cannot listen on %s: %s", o->listen,
                       errtext[0] ? errtext : "unknown error");
    }
    const char *se = NULL;
    if (static_load(&ws->assets, o->cfg ? o->cfg->web_assets_dir : NULL, &se) < 0)
        log_warn("web.no_desk", "error=%s hint=%s", se, "build it (make) or set web.assets_dir");
    mg_set_request_handler(ws->ctx, "/", dispatch, ws);
    /* every upgrade request comes to the live channel's door, which
     * refuses all but its own path */
    api_live_ws_register(ws->ctx, &ws->api);
    if (conncap_start(ws->cap, web_port(ws)) < 0)
        log_warn("web.conncap_off", "hint=%s", "no watcher thread: idle connections are not capped");
    log_info("web.listening", "listen=%s port=%d threads=%d live_max_connections=%d", o->listen,
             web_port(ws), o->threads, live ? o->live_max_connections : 0);
    *ws_r = ws;
    return 0;
}

void web_foreach_route(void (*fn)(const char *method, const char *pattern, void *arg), void *arg)
{
    fn("GET", "/", arg);
    fn("GET", "/status", arg);
    fn("GET", "/desk", arg);
    fn("GET", "/portal", arg);
    fn("GET", "/admin", arg);
    fn("GET", "/assets/{name}", arg);
    fn("GET", "/healthz", arg);
    fn("GET", "/readyz", arg);
    api_foreach_route(fn, arg);
}

/* (the WebSocket route GET /api/v1/events/ws is in the API's table too:
 * a plain GET there answers 426) */

int web_port(const struct web_server *ws)
{
    struct mg_server_port ports[4];
    memset(ports, 0, sizeof(ports));
    int n = mg_get_server_ports(ws->ctx, 4, ports);
    return n > 0 ? ports[0].port : -1;
}

void web_conn_stats(const struct web_server *ws, int *open_r, long long *refused_r, long long *shed_r)
{
    conncap_stats(ws->cap, open_r, refused_r, shed_r);
}

void web_stop(struct web_server **wsp)
{
    struct web_server *ws = *wsp;
    if (ws == NULL)
        return;
    live_hub_stopping(ws->live);   /* long polls answer now */
    conncap_stop(ws->cap);   /* before civetweb closes sockets without telling */
    mg_stop(ws->ctx);        /* waits for running handlers, closes every connection (live sockets too) */
    live_hub_free(&ws->live);
    conncap_free(&ws->cap);
    api_ctx_destroy(&ws->api);
    static_free(&ws->assets);
    free(ws);
    *wsp = NULL;
}
