/*
 * web/api_request.h -- one API request and the helpers every handler (and
 * the authentication in web/auth.h) uses: answers, input, resources.
 * Private to src/web/.
 *
 * One struct api_ctx per server (settings copied at start, the runtime and
 * the pool borrowed).  A request is a struct api_req on the civetweb
 * thread's stack: api_dispatch() matches the route, authenticates (bearer
 * API token or session cookie + CSRF header for state changes), checks the
 * role, and calls the handler.  The handler answers exactly once through
 * api_json()/api_raw()/api_problem(); whatever it borrowed (database
 * connection, parsed body) is released by api_dispatch() afterwards.
 *
 * Errors are RFC 9457 problem documents with a title, a detail and, for
 * validation errors, the offending "field".  Ids that exist but are not
 * visible to the caller answer 404 exactly like ids that do not exist.
 */
#ifndef ATUM_WEB_API_REQUEST_H
#define ATUM_WEB_API_REQUEST_H

#include <atum/plugin.h>
#include <civetweb.h>
#include <jansson.h>
#include <stdbool.h>
#include "core/db.h"
#include "lib/strbuf.h"
#include "web/http.h"
#include "web/router.h"

struct runtime;
struct db_pool;
struct atum_config;

#define API_PREFIX "/api/v1"
#define API_COOKIE "atum_session"

/* route flags */
#define API_PUBLIC  0x01      /* no authentication needed */
#define API_NO_CSRF 0x02      /* state-changing without a session (login) */

struct api_req;

struct api_route {
    const char *method;
    const char *pattern;      /* see router.h */
    enum atum_role min_role;  /* ATUM_ROLE_NONE only with API_PUBLIC */
    unsigned flags;
    int (*handle)(struct api_req *r);
};

struct api_ctx {
    struct runtime *rt;
    struct db_pool *pool;
    char *secret;
    long long max_body;
    struct http_body_limits body;     /* web/http.h; body.max == max_body */
    long long public_max;             /* a request without credentials */
    long long session_idle_ms, session_lifetime_ms, login_window_ms;
    long long token_lifetime_ms;      /* default expiry of new API tokens */
    bool imap_insecure_loopback;      /* [imap] allow_insecure_loopback (desk/mailbox.h) */
    int fail_account, fail_ip;
    char *totp_issuer;
    char *dummy_hash;         /* verified when no such user: same timing */
    int cookie_secure;        /* 0 no, 1 yes, 2 auto */
    char **trusted;           /* trusted proxy addresses */
    size_t ntrusted;
    const struct api_route **routes;
    size_t nroutes;
    struct auth_cache *token_cache;   /* auth.h */
    struct live_hub *live;    /* the live channel (web/live.h), NULL: none */
    char *public_origin;      /* scheme://host[:port] of core.public_url, or NULL */
};

struct api_user {
    long long id;
    enum atum_role level;
    char role[12];
    long long org_id;         /* 0: none */
    bool org_access;
    char email[321];
};

enum api_auth { API_AUTH_NONE, API_AUTH_SESSION, API_AUTH_TOKEN };

struct api_req {
    struct api_ctx *api;
    struct mg_connection *conn;
    const struct mg_request_info *ri;
    const char *method;
    const char *path;
    const struct api_route *route;
    struct router_match m;
    char ip[64];              /* the client, through a trusted proxy */
    bool https;               /* arrived over TLS at a trusted proxy */
    struct db_conn *db;       /* api_db() */
    enum api_auth via;
    struct api_user user;
    long long session_id;
    char session_hash[65];
    char cred_hash[65];       /* the credential's hash: session or API token */
    json_t *body;             /* api_body() */
    bool body_checked;        /* api_body() or api_no_body() ran */
    bool answered;
    int status;               /* of the answer */
    struct strbuf headers;    /* extra response headers (Set-Cookie ...) */
};

/* ---- answering --------------------------------------------------------- */
/* Always returns 0, so handlers can `return api_problem(...)`. */
int api_problem(struct api_req *r, int status, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
int api_json(struct api_req *r, int status, json_t *value);      /* steals value */
int api_raw(struct api_req *r, int status, const char *content_type, const char *body,
            size_t len);
int api_no_content(struct api_req *r);
/* A database failure: logged, 503 when the connection is gone, else 500. */
int api_db_fail(struct api_req *r, const char *what, const char *e);
void api_add_header(struct api_req *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---- input --------------------------------------------------------------- */
enum api_ftype {
    F_STR, F_STR_NULL,        /* string; or string/null */
    F_INT, F_INT_NULL,        /* integer (positive for *_id fields); or null */
    F_BOOL,
    F_STR_ARRAY,              /* array of strings */
    F_ID_ARRAY,               /* array of positive integers, at most max_len (0 = 100) */
    F_OBJECT,                 /* a JSON object; its members are the handler's to check
                                 (max_len: its size in the body, 0 = 16 KiB) */
};
struct api_field {
    const char *name;
    enum api_ftype type;
    bool required;
    size_t max_len;           /* strings: in bytes, 0 = 10000 */
};
/* Reads and validates the JSON body: an object with only these fields,
 * of these types.  NULL when a problem was sent (400/413/415). */
json_t *api_body(struct api_req *r, const struct api_field *fields);
/* For a route that takes no body: 0 when there is none (or it is an
 * empty JSON object, which some clients always send); -1 after sending
 * 400 (anything else, naming an unknown field) or 413. */
int api_no_body(struct api_req *r);
/* Checks that the query has only these parameter names (NULL-terminated);
 * -1 when a problem was sent. */
int api_query_check(struct api_req *r, const char *const *allowed);
/* Copies a query parameter into buf, URL-decoded: 1 found, 0 absent, -1
 * problem sent (too long, a NUL byte, not UTF-8 -- PostgreSQL would refuse
 * the value, so it never reaches SQL). */
int api_query(struct api_req *r, const char *name, char *buf, size_t size);
/* api_query() for a timestamp, checked by PostgreSQL's own parser so that
 * it means what the query compares with, and a bad value is blamed on its
 * own parameter: 1 found and valid, 0 absent, -1 problem sent. */
int api_query_time(struct api_req *r, const char *name, char *buf, size_t size);
/* Parses an optional positive integer parameter; -1 when a problem was sent. */
int api_query_id(struct api_req *r, const char *name, long long *v_r, bool *set_r);
/* Reads a string member of a validated body (NULL when absent or null). */
const char *api_str(json_t *body, const char *name);

/* ---- the desk domain ---------------------------------------------------------- */
struct desk_actor;
struct desk_tx;
struct err;
/* The caller as the desk domain's actor (borrows from r). */
void api_actor(struct api_req *r, struct desk_actor *who);
/* A desk_tx on r's connection (a transaction must be open) with the
 * runtime; the caller read-locks the runtime around the domain calls. */
void api_desk_tx(struct api_req *r, const struct desk_actor *who, struct desk_tx *tx);
/* Evaluates a domain call under the runtime's read lock (events and
 * mail-out read the configuration a reload may swap) and yields its
 * result; the caller declares `int _desk_rc;`. */
#define DESK_CALL(r, call) \
    (runtime_rdlock((r)->api->rt), _desk_rc = (call), runtime_rdunlock((r)->api->rt), _desk_rc)
/* Answers a domain failure: ERR_NOT_FOUND 404, ERR_INVALID 422 (400 for
 * syntax is the handlers' own), ERR_FORBIDDEN 403, ERR_CONFLICT 409, each
 * naming err.field; ERR_FAILED as api_db_fail.  Rolls back first. */
int api_desk_fail(struct api_req *r, const char *what, const struct err *err);

/* ---- resources ------------------------------------------------------------ */
/* The pooled connection for this request (acquired on first use); NULL
 * when a problem was sent. */
struct db_conn *api_db(struct api_req *r);
/* Text of the user id for SQL parameters. */
const char *api_uid(struct api_req *r);
/* An audit row in the caller's transaction (actor = this user, ip). */
int api_audit(struct api_req *r, const char *action, const char *target, json_t *detail,
              const char **error_r);
/* event_emit under the runtime read lock. */
int api_emit(struct api_req *r, const char *event, json_t *data, const char **error_r);
/* The database result's first cell as a JSON text response (json_agg etc). */
int api_send_cell(struct api_req *r, int status, PGresult *res);
/* Renders one result row as a JSON object: columns named *_json are
 * embedded raw, bool/int columns typed, NULL as null, others strings. */
json_t *api_row(const PGresult *res, int row);
bool api_role_at_least(const struct api_req *r, enum atum_role level);
enum atum_role api_role_level(const char *role);

#endif
