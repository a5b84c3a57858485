/*
 * web/api.h -- the REST API under /api/v1: its life cycle and dispatch.
 *
 * api_dispatch() finds the route (web/router.h), authenticates the caller
 * (web/auth.h), checks role and CSRF, lends the handler a pooled database
 * connection and makes sure it answered.  The handlers live in api_*.c,
 * one file per group of resources, each exporting its route table; the
 * helpers they share (answers, input, resources) are in web/api_request.h.
 */
#ifndef ATUM_WEB_API_H
#define ATUM_WEB_API_H

#include "web/api_request.h"
#include "web/http.h"

/* ---- life cycle (server.c) -------------------------------------------- */
/* body: the limits of request bodies (max is web.max_body); public_max:
 * the largest body of a request without credentials. */
int api_ctx_init(struct api_ctx *api, const struct atum_config *cfg,
                 const struct http_body_limits *body, long long public_max, struct runtime *rt,
                 struct db_pool *pool, const char **error_r);
void api_ctx_destroy(struct api_ctx *api);
/* Answers the request; returns the pattern of the route that answered
 * (static, for the request metrics), or NULL when no route matched. */
const char *api_dispatch(struct api_ctx *api, struct mg_connection *conn);
/* The client's address as the API judges it (web.trusted_proxies). */
void api_client_addr(struct api_ctx *api, struct mg_connection *conn, char *out, size_t size);
/* Authenticates a plugin route request: user id and role, or 0/NONE. */
int api_authenticate_plugin(struct api_ctx *api, struct mg_connection *conn, long long *user_r,
                            enum atum_role *role_r, bool *csrf_ok_r);
/* Authenticates the request of a live connection (the WebSocket's
 * upgrade): 1 and *u, the credential's kind and hash and whether it came
 * over TLS; 0 nothing presented; -1 a problem was sent. */
int api_authenticate_live(struct api_ctx *api, struct mg_connection *conn, struct api_user *u,
                          enum api_auth *via_r, char cred_hash[65], bool *https_r);
/* "scheme://host[:port]" of a URL, lower case, or NULL (caller frees). */
char *api_origin_of(const char *url);
/* Every route, for the OpenAPI test: calls fn(method, pattern). */
void api_foreach_route(void (*fn)(const char *method, const char *pattern, void *arg), void *arg);

/* ---- route tables (one per module) ---------------------------------------- */
extern const struct api_route api_auth_routes[];
extern const struct api_route api_ticket_routes[];
extern const struct api_route api_admin_routes[];
extern const struct api_route api_ops_routes[];
extern const struct api_route api_inbound_routes[];
extern const struct api_route api_live_routes[];
extern const struct api_route api_account_routes[];
extern const struct api_route api_portal_routes[];
extern const struct api_route api_admin_tool_routes[];

#endif
