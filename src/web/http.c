/* web/http.c -- see web/http.h. */
#include "config.h"
#include "web/http.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *http_status_text(int status)
{
    switch (status) {
    case 200: return "OK";
    case 201: return "Created";
    case 204: return "No Content";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 303: return "See Other";
    case 304: return "Not Modified";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 411: return "Length Required";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 415: return "Unsupported Media Type";
    case 422: return "Unprocessable Content";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 505: return "HTTP Version Not Supported";
    default: return "Unknown";
    }
}

void http_send(struct mg_connection *conn, int status, const char *content_type,
               const char *body, size_t len, const char *extra_headers)
{
    char head[2048];
    int n = snprintf(head, sizeof(head),
        "HTTP/1.1 %d %s\r\n"
        "Content-Type: %s\r\n"
        "Content-Length: %zu\r\n"
        "Cache-Control: no-store\r\n"
        "Content-Security-Policy: default-src 'self'; img-src 'self' data:; object-src 'none'; "
        "base-uri 'none'; form-action 'self'; frame-ancestors 'none'\r\n"
        "X-Content-Type-Options: nosniff\r\n"
        "X-Frame-Options: DENY\r\n"
        "Referrer-Policy: same-origin\r\n"
        "%s"
        "\r\n",
        status, http_status_text(status), content_type, len, extra_headers ? extra_headers : "");
    if (n < 0 || (size_t)n >= sizeof(head))
        return;
    /* no method when civetweb could not parse the request (on_http_error) */
    const char *method = mg_get_request_info(conn)->request_method;
    bool with_body = len > 0 && (method == NULL || strcmp(method, "HEAD") != 0);
    if (with_body && len <= 256 * 1024) {
        /* one write: head and body in one segment, no Nagle/delayed-ACK
         * stall between them */
        struct strbuf b = STRBUF_INIT;
        strbuf_reserve(&b, (size_t)n + len);
        strbuf_add(&b, head, (size_t)n);
        strbuf_add(&b, body, len);
        mg_write(conn, b.s, b.len);
        strbuf_free(&b);
        return;
    }
    mg_write(conn, head, (size_t)n);
    if (with_body)
        mg_write(conn, body, len);
}

void http_send_json(struct mg_connection *conn, int status, json_t *value)
{
    char *s = value ? json_dumps(value, JSON_COMPACT) : NULL;
    json_decref(value);
    if (s == NULL) {
        http_problem(conn, 500, "Internal Server Error", "could not encode the response");
        return;
    }
    http_send(conn, status, "application/json", s, strlen(s), NULL);
    free(s);
}

void http_problem(struct mg_connection *conn, int status, const char *title, const char *detail)
{
    json_t *o = json_pack("{s:s, s:i, s:s?}", "title", title ? title : http_status_text(status),
                          "status", status, "detail", detail);
    char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    const char *body = s ? s : "{\"title\":\"Internal Server Error\",\"status\":500}";
    http_send(conn, status, "application/problem+json", body, strlen(body), NULL);
    free(s);
}

int http_read_body(struct mg_connection *conn, long long max, struct strbuf *out)
{
    const struct mg_request_info *ri = mg_get_request_info(conn);
    if (ri->content_length > max)
        return 413;
    /* Neither Content-Length nor chunked: a request has no body then
     * (RFC 9112, 6.3), where civetweb would wait for the client to close
     * the connection */
    const char *te = mg_get_header(conn, "Transfer-Encoding");
    if (ri->content_length < 0 && (te == NULL || strcasestr(te, "chunked") == NULL))
        return 0;
    char buf[8192];
    for (;;) {
        int n = mg_read(conn, buf, sizeof(buf));
        if (n < 0)
            return 400;
        if (n == 0)
            break;
        if ((long long)out->len + n > max)
            return 413;
        strbuf_add(out, buf, (size_t)n);
    }
    if (ri->content_length >= 0 && (long long)out->len != ri->content_length)
        return 400;
    return 0;
}


void http_send_framed(struct mg_connection *conn, int status, const char *content_type,
                      const char *body, size_t len, const char *csp)
{
    char head[2048];
    int n = snprintf(head, sizeof(head),
        "HTTP/1.1 %d %s\r\n"
        "Content-Type: %s\r\n"
        "Content-Length: %zu\r\n"
        "Cache-Control: no-store\r\n"
        "Content-Security-Policy: %s\r\n"
        "X-Content-Type-Options: nosniff\r\n"
        "X-Frame-Options: SAMEORIGIN\r\n"
        "Referrer-Policy: no-referrer\r\n"
        "Cross-Origin-Resource-Policy: same-origin\r\n"
        "\r\n",
        status, http_status_text(status), content_type, len, csp);
    if (n < 0 || (size_t)n >= sizeof(head) || strpbrk(csp, "\r\n") != NULL)
        return;
    const char *method = mg_get_request_info(conn)->request_method;
    mg_write(conn, head, (size_t)n);
    if (len > 0 && (method == NULL || strcmp(method, "HEAD") != 0))
        mg_write(conn, body, len);
}
