/*
 * web/http.h -- response and request helpers shared by every handler.
 *
 * Every response goes through http_send(), which adds the security headers
 * (CSP, frame-ancestors, nosniff, Referrer-Policy) and Content-Length, so
 * no handler can forget them.  Errors are RFC 9457 problem documents.
 * Request bodies are read with an explicit limit (civetweb has none),
 * counting chunked bodies too.
 */
#ifndef ATUM_WEB_HTTP_H
#define ATUM_WEB_HTTP_H

#include <civetweb.h>
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include "lib/strbuf.h"

const char *http_status_text(int status);

/* extra_headers: NULL or "Name: value\r\n" lines. */
void http_send(struct mg_connection *conn, int status, const char *content_type,
               const char *body, size_t len, const char *extra_headers);
/* The status of the last answer http_send() wrote on this thread since
 * http_status_clear(), 0 when none: a civetweb handler runs on one thread
 * from start to end, so the dispatcher learns what was answered, whoever
 * answered, and counts it (web/web_metrics.h). */
void http_status_clear(void);
int http_status_sent(void);

/* Sends and frees (json_decref) the value. */
void http_send_json(struct mg_connection *conn, int status, json_t *value);
void http_problem(struct mg_connection *conn, int status, const char *title, const char *detail);

/* How much of a request body is read, and how slowly. */
struct http_body_limits {
    long long max;            /* bytes: more is 413 (Content-Length checked first) */
    long long timeout_ms;     /* web.request_timeout: the body's grace period ... */
    long long min_rate;       /* ... plus 1 s per min_rate bytes received (bytes/s) */
    bool chunked_ok;          /* false: a chunked body is 411 (requests without credentials) */
};

/* 0 and the body in out; or an HTTP status that the caller should answer
 * with: 413 too large, 411 chunked where it is not allowed, 408 too slow
 * (the body took longer than its timeout_ms plus 1 s per min_rate bytes;
 * checked whenever bytes arrive, and each wait for bytes lasts at most
 * web.header_timeout), 400 broken.
 *
 * civetweb's mg_read() returns only when it has all the bytes asked for
 * (or waited web.header_timeout for nothing new): asked for 8 KB, a
 * client sending one byte a second kept it reading for hours.  So a read
 * never asks for more than the socket already holds (ioctl FIONREAD), or
 * for one byte when it holds none; for a chunked body, where framing
 * takes room too, for 1/68 of it (a chunk-size line is at most 66 bytes
 * for 1 byte of data). */
int http_read_body(struct mg_connection *conn, const struct http_body_limits *lim,
                   struct strbuf *out);

/*
 * Around every request (web/server.c): civetweb reads whatever a handler
 * left of a request body before the connection may serve the next one --
 * however long the client takes to send it, so an early answer (401,
 * 413, a GET with a body) let a client trickle a body for hours.
 * http_request_end() reads what is left itself, but only what has
 * arrived: at most HTTP_DISCARD_MAX bytes within HTTP_DISCARD_MS, waiting
 * at most HTTP_DISCARD_IDLE_MS for more; past that it shuts the read side
 * of the connection, civetweb sees its end and closes it.
 */
#define HTTP_DISCARD_MAX (1024 * 1024)
#define HTTP_DISCARD_MS 1000
#define HTTP_DISCARD_IDLE_MS 100
struct conncap;
/* cc: the server's connection counter (web/conncap.h), or NULL. */
void http_request_begin(struct conncap *cc);
void http_request_end(struct mg_connection *conn);

#endif
