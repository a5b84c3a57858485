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
#include <stddef.h>
#include "lib/strbuf.h"

const char *http_status_text(int status);

/* extra_headers: NULL or "Name: value\r\n" lines. */
void http_send(struct mg_connection *conn, int status, const char *content_type,
               const char *body, size_t len, const char *extra_headers);
/* A document made to be framed by the desk itself (a message's HTML,
 * web/mailframe.h): like http_send, but with the given
 * Content-Security-Policy instead of the desk's (which forbids framing),
 * X-Frame-Options SAMEORIGIN and no referrer. */
void http_send_framed(struct mg_connection *conn, int status, const char *content_type,
                      const char *body, size_t len, const char *csp);
/* Sends and frees (json_decref) the value. */
void http_send_json(struct mg_connection *conn, int status, json_t *value);
void http_problem(struct mg_connection *conn, int status, const char *title, const char *detail);

/* 0 and the body in out; or an HTTP status (413 too large, 400 broken)
 * that the caller should answer with. */
int http_read_body(struct mg_connection *conn, long long max, struct strbuf *out);

#endif
