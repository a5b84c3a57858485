/* web/http.c -- see web/http.h. */
#include "config.h"
#include "web/http.h"
#include "web/conncap.h"
#include "lib/util.h"

#include <stdbool.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
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

/* per request thread, see http_status_sent() */
static _Thread_local int sent_status;

void http_status_clear(void)
{
    sent_status = 0;
}

int http_status_sent(void)
{
    return sent_status;
}

void http_send(struct mg_connection *conn, int status, const char *content_type,
               const char *body, size_t len, const char *extra_headers)
{
    sent_status = status;
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

/* The request this thread handles (civetweb runs one at a time on a
 * thread): whether its body was read to the end, and the connection
 * counter of its server. */
static _Thread_local bool body_done;
static _Thread_local struct conncap *request_cc;

void http_request_begin(struct conncap *cc)
{
    body_done = false;
    request_cc = cc;
}

void http_request_end(struct mg_connection *conn)
{
    const struct mg_request_info *ri = mg_get_request_info(conn);
    const char *te = mg_get_header(conn, "Transfer-Encoding");
    bool chunked = te != NULL && strcasestr(te, "chunked") != NULL;
    if (body_done || ri == NULL || (!chunked && ri->content_length <= 0))
        return;
    int fd = conncap_fd(request_cc, conn);
    if (fd < 0)
        return;                       /* cannot bound it: civetweb reads on */
    long long t0 = time_mono_ms(), left = HTTP_DISCARD_MAX;
    char buf[8192];
    /* (a chunked body is never read on: its framing lets one read wait
     * for many slow bytes) */
    while (!chunked && left > 0 && time_mono_ms() - t0 < HTTP_DISCARD_MS) {
        int avail = 0;
        if (ioctl(fd, FIONREAD, &avail) != 0)
            break;
        if (avail <= 0) {
            long long wait = HTTP_DISCARD_MS - (time_mono_ms() - t0);
            struct pollfd pf = { fd, POLLIN, 0 };
            if (poll(&pf, 1, (int)(wait < HTTP_DISCARD_IDLE_MS ? wait : HTTP_DISCARD_IDLE_MS)) <= 0)
                break;
            continue;
        }
        /* no more than has arrived: mg_read() does not wait then */
        int n = mg_read(conn, buf, avail < (int)sizeof(buf) ? (size_t)avail : sizeof(buf));
        if (n <= 0)
            return;                   /* the whole body is read (or the client left) */
        left -= n;
    }
    /* the client sends more, or more slowly, than is worth waiting for */
    shutdown(fd, SHUT_RD);
}

int http_read_body(struct mg_connection *conn, const struct http_body_limits *lim,
                   struct strbuf *out)
{
    const struct mg_request_info *ri = mg_get_request_info(conn);
    long long max = lim->max;
    if (ri->content_length > max)
        return 413;
    /* Neither Content-Length nor chunked: a request has no body then
     * (RFC 9112, 6.3), where civetweb would wait for the client to close
     * the connection */
    const char *te = mg_get_header(conn, "Transfer-Encoding");
    if (ri->content_length < 0 && (te == NULL || strcasestr(te, "chunked") == NULL)) {
        body_done = true;
        return 0;
    }
    bool chunked = ri->content_length < 0;
    if (chunked && !lim->chunked_ok)
        return 411;
    /* while the body comes in, this connection may be closed to free its
     * thread for others when the server is full (web/conncap.h) */
    struct conncap *cc = request_cc;
    conncap_state(cc, conn, CONNCAP_BODY);
    int fd = conncap_fd(cc, conn);
    long long t0 = time_mono_ms();
    int st = 0;
    char buf[8192];
    for (;;) {
        int avail = 0;
        if (fd < 0 || ioctl(fd, FIONREAD, &avail) != 0)
            avail = 0;
        if (chunked)
            avail /= 68;
        size_t want = avail <= 0 ? 1 : avail < (int)sizeof(buf) ? (size_t)avail : sizeof(buf);
        long long t_read = time_mono_ms();
        int n = mg_read(conn, buf, want);
        if (n < 0) {                  /* the client closed, or an error */
            st = 400;
            break;
        }
        if ((long long)out->len + n > max) {
            st = 413;
            break;
        }
        strbuf_add(out, buf, (size_t)n);
        /* a trickle holds a thread: the body must keep a minimum pace */
        long long allowed = lim->timeout_ms + (lim->min_rate > 0
                                               ? (long long)out->len * 1000 / lim->min_rate : 0);
        bool more = ri->content_length >= 0 ? (long long)out->len < ri->content_length : n > 0;
        if (more && time_mono_ms() - t0 > allowed) {
            st = 408;
            break;
        }
        /* 0: the end of a chunked body (or a chunked body that stalled);
         * with a Content-Length, a read that waited web.header_timeout
         * for nothing: wait on, within the pace */
        if (n == 0 && !more)
            break;
        if (n == 0 && time_mono_ms() - t_read < 100) {
            st = 400;                 /* nothing, without waiting: the server stops */
            break;
        }
    }
    conncap_state(cc, conn, CONNCAP_HANDLING);
    body_done = st == 0;
    return st;
}

