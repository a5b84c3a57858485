/* web/api_live.c -- see web/api_live.h. */
#include "config.h"
#include "web/api_live.h"
#include "web/api.h"
#include "web/auth.h"
#include "web/http.h"
#include "web/live.h"
#include "desk/presence.h"
#include "core/dbpool.h"
#include "lib/err.h"
#include "lib/log.h"
#include "lib/metrics.h"
#include "lib/util.h"
#include "lib/xalloc.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define WS_PATH API_PREFIX "/events/ws"
#define MAX_SINCE 9007199254740991LL     /* 2^53 - 1: exact in JavaScript */

/* "123" -> 123 within 0..MAX_SINCE; -1 when not that */
static long long parse_since(const char *s)
{
    if (s == NULL || *s == '\0' || strlen(s) > 16)
        return -1;
    long long v = 0;
    for (const char *p = s; *p; p++) {
        if (*p < '0' || *p > '9')
            return -1;
        v = v * 10 + (*p - '0');
    }
    return v <= MAX_SINCE ? v : -1;
}

static void actor_of(const struct api_user *u, struct desk_actor *who)
{
    memset(who, 0, sizeof(*who));
    who->kind = DESK_USER;
    who->user_id = u->id;
    who->role = u->level;
    who->org_id = u->org_id;
    who->org_access = u->org_access;
    who->via = "live";
}

/* ---- the WebSocket -------------------------------------------------------- */

struct ws_state {
    struct api_ctx *api;
    struct live_reader *rd;
    long long since;                 /* -1: only new events */
    long long window_start;
    int in_window;
};

static void refuse(struct mg_connection *conn, int status, const char *detail, const char *extra)
{
    json_t *o = json_pack("{s:s, s:i, s:s}", "title", http_status_text(status), "status", status,
                          "detail", detail);
    char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    char headers[160];
    snprintf(headers, sizeof(headers), "Connection: close\r\n%s", extra ? extra : "");
    http_send(conn, status, "application/problem+json", s ? s : "{}", s ? strlen(s) : 2, headers);
    free(s);
}

/* The Origin a browser sends must be this server's: as the request came
 * in (scheme, Host), or core.public_url's. */
static bool origin_ok(struct api_ctx *api, struct mg_connection *conn, const char *origin,
                      bool https)
{
    if (api->public_origin && strcasecmp(origin, api->public_origin) == 0)
        return true;
    const char *host = mg_get_header(conn, "Host");
    if (host == NULL || *host == '\0' || strlen(host) > 255)
        return false;
    char want[300];
    snprintf(want, sizeof(want), "%s://%s", https ? "https" : "http", host);
    return strcasecmp(origin, want) == 0;
}

/* RFC 6455: the key is 16 random bytes in base64 -- 24 characters. */
static bool key_ok(const char *k)
{
    if (k == NULL || strlen(k) != 24 || strcmp(k + 22, "==") != 0)
        return false;
    for (int i = 0; i < 22; i++)
        if (!isalnum((unsigned char)k[i]) && k[i] != '+' && k[i] != '/')
            return false;
    return true;
}

static int ws_connect(const struct mg_connection *cconn, void *arg)
{
    /* civetweb hands a const connection; answering needs it writable */
    struct mg_connection *conn = (struct mg_connection *)cconn;
    struct api_ctx *api = arg;
    const struct mg_request_info *ri = mg_get_request_info(conn);
    const char *path = ri->local_uri ? ri->local_uri : "/";
    if (strcmp(path, WS_PATH) != 0) {
        refuse(conn, 404, "no WebSocket here: the live channel is " WS_PATH, NULL);
        return 1;
    }
    if (api->live == NULL) {
        refuse(conn, 503, "the live channel is off on this server", NULL);
        return 1;
    }
    if (!key_ok(mg_get_header(conn, "Sec-WebSocket-Key"))) {
        refuse(conn, 400, "Sec-WebSocket-Key must be 16 bytes in base64", NULL);
        return 1;
    }
    long long since = -1;
    const char *qs = ri->query_string;
    if (qs && *qs) {
        char v[32];
        int n = mg_get_var(qs, strlen(qs), "since", v, sizeof(v));
        bool only_since = strncmp(qs, "since=", 6) == 0 && strchr(qs, '&') == NULL;
        if (!only_since || n < 0 || (since = parse_since(v)) < 0) {
            refuse(conn, 400, "the only query parameter is since, a non-negative integer", NULL);
            return 1;
        }
    }
    struct api_user u;
    enum api_auth via = API_AUTH_NONE;
    char hash[65] = "";
    bool https = false;
    int a = api_authenticate_live(api, conn, &u, &via, hash, &https);
    if (a < 0)
        return 1;                    /* answered: 401, 503 */
    if (a == 0) {
        refuse(conn, 401, "the live channel needs a session cookie or an API token",
               "WWW-Authenticate: Bearer realm=\"atum\"\r\n");
        return 1;
    }
    const char *origin = mg_get_header(conn, "Origin");
    if (origin != NULL ? !origin_ok(api, conn, origin, https) : via == API_AUTH_SESSION) {
        log_warn("live.origin_refused", "user=%lld origin=%s", u.id, origin ? origin : "(none)");
        refuse(conn, 403, origin ? "the Origin is not this server's" : "a session's WebSocket must "
               "come with this server's Origin", NULL);
        return 1;
    }
    if (live_admit(api->live) < 0) {
        log_warn("live.full", "user=%lld hint=%s", u.id, "raise web.live_max_connections (and see "
                 "the sizing in the README)");
        refuse(conn, 503, "too many live connections on this server; the desk falls back to "
               "polling or retries", "Retry-After: 10\r\n");
        return 1;
    }
    struct desk_actor who;
    actor_of(&u, &who);
    struct ws_state *st = xcalloc(1, sizeof(*st));
    st->api = api;
    st->since = since;
    st->rd = live_reader_new(api->live, conn, &who, (int)via, hash);
    st->window_start = time_mono_ms();
    mg_set_user_connection_data(conn, st);
    return 0;
}

static void ws_ready(struct mg_connection *conn, void *arg)
{
    struct api_ctx *api = arg;
    struct ws_state *st = mg_get_user_connection_data(conn);
    if (st == NULL)
        return;
    const char *e = NULL;
    bool reset = false;
    struct db_conn *db = db_pool_acquire(api->pool, 5000, &e);
    if (db == NULL || live_reader_start(st->rd, db, st->since, &reset, &e) < 0) {
        log_warn("live.start_failed", "error=%s", e);
        const char bye[] = "\x03\xf3" "the server cannot start the live channel now";   /* 1011 */
        mg_websocket_write(conn, MG_WEBSOCKET_OPCODE_CONNECTION_CLOSE, bye, sizeof(bye) - 1);
    }
    db_pool_release(api->pool, db);
}

static int ws_close_with(struct mg_connection *conn, int code, const char *reason)
{
    char buf[125];
    size_t n = strlen(reason);
    if (n > sizeof(buf) - 2)
        n = sizeof(buf) - 2;
    buf[0] = (char)((code >> 8) & 0xff);
    buf[1] = (char)(code & 0xff);
    memcpy(buf + 2, reason, n);
    mg_websocket_write(conn, MG_WEBSOCKET_OPCODE_CONNECTION_CLOSE, buf, n + 2);
    return 0;                        /* civetweb leaves its read loop and closes */
}

static void ws_answer(struct mg_connection *conn, json_t *o)
{
    char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    if (s)
        mg_websocket_write(conn, MG_WEBSOCKET_OPCODE_TEXT, s, strlen(s));
    free(s);
}

static bool tab_ok(const char *t)
{
    size_t n = t ? strlen(t) : 0;
    if (n == 0 || n > 32)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)t[i]) && t[i] != '-' && t[i] != '_')
            return false;
    return true;
}

static void ws_presence(struct mg_connection *conn, struct ws_state *st, long long ticket,
                        enum presence_state state, const char *tab)
{
    const char *e = NULL;
    struct err err = { ERR_OK, NULL, NULL };
    char client[160];
    snprintf(client, sizeof(client), "%s%s", live_reader_client(st->rd), tab);
    struct desk_tx tx = { NULL, NULL, live_reader_actor(st->rd) };
    struct db_conn *db = db_pool_acquire(st->api->pool, 5000, &e);
    int rc = -1;
    if (db != NULL && db_begin(db, &e) == 0) {
        tx.db = db;
        rc = presence_set(&tx, ticket, client, state, PRESENCE_TTL_S, &err);
        if (rc == 0 && db_commit(db, &e) < 0) {
            rc = -1;
            err_failed(&err, "%s", e);
        }
        if (rc < 0)
            db_rollback(db);
    } else {
        err_failed(&err, "the database is unavailable");
    }
    db_pool_release(st->api->pool, db);
    if (rc < 0)
        ws_answer(conn, json_pack("{s:s, s:I, s:s}", "type", "error", "ticket_id", (json_int_t)ticket,
                                  "detail", err.code == ERR_NOT_FOUND ? "no such ticket"
                                  : err.code == ERR_FORBIDDEN ? "presence is for staff"
                                  : "the presence could not be stored now"));
}

static int ws_data(struct mg_connection *conn, int bits, char *data, size_t len, void *arg)
{
    (void)arg;
    struct ws_state *st = mg_get_user_connection_data(conn);
    int op = bits & 0x0f;
    bool fin = (bits & 0x80) != 0;
    switch (op) {
    case MG_WEBSOCKET_OPCODE_CONNECTION_CLOSE:
        return 0;
    case MG_WEBSOCKET_OPCODE_PING:
        mg_websocket_write(conn, MG_WEBSOCKET_OPCODE_PONG, data, len > 125 ? 125 : len);
        return 1;
    case MG_WEBSOCKET_OPCODE_PONG:
        return 1;
    case MG_WEBSOCKET_OPCODE_BINARY:
        return ws_close_with(conn, 1003, "binary frames are not accepted");
    case MG_WEBSOCKET_OPCODE_TEXT:
        break;
    default:                         /* continuation frames, reserved opcodes */
        return ws_close_with(conn, 1009, "fragmented messages are not accepted");
    }
    if (!fin || len > LIVE_MSG_MAX)
        return ws_close_with(conn, 1009, "a message is at most 4096 bytes, in one frame");
    if (st == NULL)
        return ws_close_with(conn, 1011, "no live state");
    long long now = time_mono_ms();
    if (now - st->window_start > 10000) {
        st->window_start = now;
        st->in_window = 0;
    }
    if (++st->in_window > LIVE_MSG_RATE)
        return ws_close_with(conn, 1008, "too many messages");
    json_error_t je;
    json_t *m = json_loadb(data, len, JSON_REJECT_DUPLICATES, &je);
    if (!json_is_object(m)) {
        json_decref(m);
        return ws_close_with(conn, 1007, "a message is a JSON object");
    }
    const char *type = json_string_value(json_object_get(m, "type"));
    int rc = 1;
    if (type && strcmp(type, "ping") == 0 && json_object_size(m) == 1) {
        ws_answer(conn, json_pack("{s:s}", "type", "pong"));
    } else if (type && strcmp(type, "presence") == 0) {
        json_int_t ticket = 0;
        const char *state = NULL, *tab = NULL;
        enum presence_state ps;
        if (json_unpack_ex(m, &je, JSON_STRICT, "{s:s, s:I, s:s, s:s}", "type", &type,
                           "ticket_id", &ticket, "state", &state, "tab", &tab) < 0
            || ticket <= 0 || presence_parse(state, &ps) < 0 || !tab_ok(tab))
            rc = ws_close_with(conn, 1008, "presence is {type, ticket_id, state: viewing|typing|left, "
                               "tab: 1-32 of [A-Za-z0-9_-]}");
        else
            ws_presence(conn, st, (long long)ticket, ps, tab);
    } else {
        rc = ws_close_with(conn, 1008, "unknown message type");
    }
    json_decref(m);
    return rc;
}

static void ws_close(const struct mg_connection *cconn, void *arg)
{
    (void)arg;
    struct mg_connection *conn = (struct mg_connection *)cconn;
    struct ws_state *st = mg_get_user_connection_data(conn);
    if (st == NULL)
        return;
    mg_set_user_connection_data(conn, NULL);
    live_reader_close(&st->rd);
    free(st);
}

void api_live_ws_register(struct mg_context *ctx, struct api_ctx *api)
{
    mg_set_websocket_handler(ctx, "/", ws_connect, ws_ready, ws_data, ws_close, api);
}

/* ---- the long poll ------------------------------------------------------- */

static int h_events(struct api_req *r)
{
    static const char *const allowed[] = { "since", "wait", NULL };
    char v[32];
    long long since = -1, wait = LIVE_WAIT_DEFAULT;
    int n;
    if (api_query_check(r, allowed) < 0)
        return 0;
    if ((n = api_query(r, "since", v, sizeof(v))) < 0)
        return 0;
    if (n && (since = parse_since(v)) < 0)
        return api_problem(r, 400, "since", "since is a non-negative integer (an event id)");
    if ((n = api_query(r, "wait", v, sizeof(v))) < 0)
        return 0;
    if (n && ((wait = parse_since(v)) < 0 || wait > LIVE_WAIT_MAX))
        return api_problem(r, 400, "wait", "wait is 0 to %d seconds", LIVE_WAIT_MAX);
    struct live_hub *hub = r->api->live;
    if (hub == NULL)
        return api_problem(r, 503, NULL, "the live channel is off on this server");
    if (live_admit(hub) < 0) {
        api_add_header(r, "Retry-After: 10");
        return api_problem(r, 503, NULL, "too many live connections on this server");
    }
    struct api_user u = r->user;
    struct desk_actor who;
    actor_of(&u, &who);
    struct live_reader *rd = live_reader_new(hub, NULL, &who, (int)r->via, r->cred_hash);
    const char *e = NULL;
    bool reset = false;
    if (live_reader_start(rd, r->db, since, &reset, &e) < 0) {
        live_reader_close(&rd);
        return api_db_fail(r, "reading live events", e);
    }
    /* the wait holds no pooled connection */
    db_pool_release(r->api->pool, r->db);
    r->db = NULL;
    struct strbuf items = STRBUF_INIT;
    long long last = 0;
    bool more = false;
    int rc = live_reader_wait(rd, reset ? 0 : wait * 1000, &items, &last, &more);
    live_reader_close(&rd);
    if (rc == -2) {
        strbuf_free(&items);
        return api_problem(r, 401, NULL, "the session has ended; log in again");
    }
    if (rc < 0 && items.len == 0 && !reset) {
        strbuf_free(&items);
        return api_problem(r, 503, NULL, "the server is stopping; poll again");
    }
    struct strbuf out = STRBUF_INIT;
    if (more) {
        /* fell behind: nothing is lost, the next poll reads from the database */
        strbuf_addf(&out, "{\"items\":[],\"last_id\":%lld,\"more\":true}", since >= 0 ? since : last);
    } else {
        strbuf_addf(&out, "{\"items\":[%s],\"last_id\":%lld%s}", items.len ? items.s : "", last,
                    reset ? ",\"reset\":true" : "");
    }
    api_raw(r, 200, "application/json", out.s, out.len);
    strbuf_free(&out);
    strbuf_free(&items);
    return 0;
}

static int h_ws_plain(struct api_req *r)
{
    api_add_header(r, "Upgrade: websocket");
    return api_problem(r, 426, NULL, "this is the live channel's WebSocket: open it with an "
                       "Upgrade: websocket request (or poll GET " API_PREFIX "/events)");
}

static int h_status(struct api_req *r)
{
    if (api_query_check(r, NULL) < 0)
        return 0;
    if (r->api->live == NULL)
        return api_problem(r, 503, NULL, "the live channel is off on this server");
    struct live_stats st;
    live_stats(r->api->live, &st);
    return api_json(r, 200, json_pack("{s:i, s:i, s:i, s:i, s:I, s:I, s:f}",
        "connections", st.websockets + st.polls, "websockets", st.websockets, "polls", st.polls,
        "max_connections", st.max, "refused", (json_int_t)st.refused, "last_id",
        (json_int_t)st.last_id, "metric", metrics_get("atum_live_connections", NULL)));
}

/* ---- presence without a socket ------------------------------------------- */

static int h_presence(struct api_req *r)
{
    static const struct api_field f[] = {
        { "state", F_STR, true, 16 }, { "tab", F_STR, true, 32 }, { NULL, 0, 0, 0 } };
    const char *e = NULL;
    struct err err = { ERR_OK, NULL, NULL };
    json_t *b = api_body(r, f);
    if (b == NULL || api_db(r) == NULL)
        return 0;
    enum presence_state ps;
    const char *tab = api_str(b, "tab");
    if (presence_parse(api_str(b, "state"), &ps) < 0)
        return api_problem(r, 400, "state", "state is viewing, typing or left");
    if (!tab_ok(tab))
        return api_problem(r, 400, "tab", "tab is 1 to 32 of A-Z a-z 0-9 - _");
    char client[160];
    if (r->via == API_AUTH_SESSION)
        snprintf(client, sizeof(client), "http:s%lld:%s", r->session_id, tab);
    else
        snprintf(client, sizeof(client), "http:u%lld:%s", r->user.id, tab);
    struct desk_actor who;
    struct desk_tx tx;
    api_actor(r, &who);
    api_desk_tx(r, &who, &tx);
    long long id = r->m.ids[0];
    if (db_begin(r->db, &e) < 0)
        return api_db_fail(r, "setting the presence", e);
    if (presence_set(&tx, id, client, ps, PRESENCE_TTL_S, &err) < 0)
        return api_desk_fail(r, "setting the presence", &err);
    if (db_commit(r->db, &e) < 0) {
        db_rollback(r->db);
        return api_db_fail(r, "setting the presence", e);
    }
    char sid[24];
    snprintf(sid, sizeof(sid), "%lld", id);
    const char *p[] = { sid };
    PGresult *res = db_exec(r->db, "SELECT json_build_object('ticket_id', t.id, 'ttl', "
                            PRESENCE_STR(PRESENCE_TTL_S) ", 'viewers', " PRESENCE_VIEWERS_SQL("t")
                            ") FROM tickets t WHERE t.id = $1", 1, p, &e);
    if (res == NULL)
        return api_db_fail(r, "reading who is on the ticket", e);
    api_send_cell(r, 200, res);
    PQclear(res);
    return 0;
}

const struct api_route api_live_routes[] = {
    { "GET", "/api/v1/events", ATUM_ROLE_CUSTOMER, 0, h_events },
    { "GET", "/api/v1/events/ws", ATUM_ROLE_CUSTOMER, 0, h_ws_plain },
    { "GET", "/api/v1/events/status", ATUM_ROLE_ADMIN, 0, h_status },
    { "POST", "/api/v1/tickets/{id}/presence", ATUM_ROLE_AGENT, 0, h_presence },
    { NULL, NULL, 0, 0, NULL }
};
