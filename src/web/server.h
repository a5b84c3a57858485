/*
 * web/server.h -- the embedded HTTP server (civetweb).
 *
 * Plain HTTP on loopback only: the Debian civetweb crashes on its own TLS
 * with OpenSSL 3, so TLS belongs to a reverse proxy (etc/nginx/).  No
 * document_root (no directory listing, no CGI), CORS preflights not
 * answered by civetweb, request bodies limited by our handlers.
 *
 * Routes:
 *   GET /healthz                 200 when the database answers, else 503
 *   GET /readyz                  200 when the schema is current and the
 *                                workers run, else 503
 *   GET /                        a small status page
 *   *   /api/v1/...              the REST API (web/api.h, OpenAPI document at
 *                                /api/v1/openapi.json)
 *   *   /api/v1/plugins/NAME/... routes declared by plugins (authenticated
 *                                like the API when they need a role)
 *   *   /PATH                    a plugin's root route (e.g. GET /metrics of
 *                                the metrics plugin), when no path above
 *                                matched; a presented credential is checked
 *
 * Every answer is counted by route template, method and code, with its
 * latency (web/web_metrics.h).
 *
 * The API needs core.secret_key (at least 32 characters): web_start()
 * refuses to start without it.
 *
 * Every request path is judged as the client sent it (civetweb's URL
 * decoding is off): anything but plain segments -- %XX, ".", "..", "//",
 * a backslash -- is answered 400 before routing (router_path_plain).
 *
 * Ownership: the server borrows the runtime and the pool; both must outlive
 * web_stop().
 */
#ifndef ATUM_WEB_SERVER_H
#define ATUM_WEB_SERVER_H

struct runtime;
struct db_pool;
struct atum_config;
struct web_server;

struct web_opts {
    const char *listen;          /* "127.0.0.1:8080" or "127.0.0.1:0" (tests) */
    int threads;
    long long max_body;
    long long request_timeout_ms;    /* a body's grace period (web/http.h) */
    const char *node_id;
    const struct atum_config *cfg;   /* secret_key, [auth], web.trusted_proxies */
    long long keep_alive_ms;         /* 0: no keep-alive */
    /* the live channel (web/live.h, web/api_live.h); off without live_db
     * or with live_max_connections 0.  civetweb gets threads +
     * live_max_connections threads: each live socket holds one. */
    const struct db_params *live_db;
    int live_max_connections;
    long long live_ping_ms;          /* WebSocket ping interval (0: 20 s) */
    /* slow and idle clients (0: the default in brackets) */
    long long header_timeout_ms;     /* request line + headers, and any one read [10 s] */
    long long body_min_rate;         /* bytes/s past request_timeout_ms [64 KiB] */
    int client_connections;          /* per client address [no cap] (web/conncap.h) */
    long long max_public_body;       /* bodies without credentials [min(64 KiB, max_body)] */
};

int web_start(struct web_server **ws_r, const struct web_opts *opts, struct runtime *rt,
              struct db_pool *pool, const char **error_r);
void web_stop(struct web_server **ws);
/* Every fixed route the server answers (its own and the API's, not the
 * plugins'), for the test that the OpenAPI document lists them all. */
void web_foreach_route(void (*fn)(const char *method, const char *pattern, void *arg), void *arg);
/* The first listening port (useful with port 0). */
int web_port(const struct web_server *ws);
/* Connections open now, and so far refused for the per-client cap and
 * closed to free a thread (web/conncap.h). */
void web_conn_stats(const struct web_server *ws, int *open_r, long long *refused_r, long long *shed_r);

#endif
