/*
 * web/conncap.h -- every open HTTP connection counted, per client and in
 * all, so that idle and slow clients cannot take all of civetweb's worker
 * threads.
 *
 * civetweb gives each open connection a worker thread of its own for as
 * long as it stays open -- while the client sends nothing, trickles its
 * headers, idles between keep-alive requests, or trickles a body.  With
 * `web.threads` such connections nobody else is served.  A watcher thread
 * per server applies two rules, on every new connection (at most every
 * CONNCAP_SCAN_MS) and every CONNCAP_TICK_MS:
 *
 *  - per client: a client address (an IPv4 address; an IPv6 /64) holds at
 *    most `per_client` connections; its newest waiting ones beyond that
 *    are answered 503 and closed.  Trusted proxies (web.trusted_proxies)
 *    are not capped: nginx carries every client, and caps them itself
 *    (etc/nginx/atum-desk.conf, limit_conn).
 *  - in all: while more than `threads - CONNCAP_RESERVE` connections are
 *    open, the one that has *waited* longest -- for its headers, idle
 *    between keep-alive requests, or sending its body -- is closed, once
 *    it has waited CONNCAP_SHED_MIN_MS and has no unread bytes waiting (a
 *    request that arrived whole is never dropped).  A request being
 *    handled is never cut: a slow client loses its place to a new one,
 *    not the other way round, so a normal request always finds a thread.
 *
 * civetweb offers no way to refuse or close a connection from outside its
 * thread, and none to learn a new connection's address before its first
 * request.  So the watcher finds the server's connections among the
 * process's open descriptors (/proc/self/fd: sockets whose local port is
 * the server's and that have a peer), and closing means shutdown(2):
 * civetweb's thread then reads end-of-file and ends the connection itself
 * (the descriptor stays civetweb's to close).  civetweb reports a
 * connection's end (conncap_closed, from its connection_close callback)
 * before it closes the socket, under the same mutex the watcher holds
 * while it scans and shuts down, and a closed connection's address pair is
 * remembered for CONNCAP_TOMB_MS, so the watcher never holds a descriptor
 * that civetweb may have closed and the kernel given to something else.
 *
 * Thread-safe.  Ownership: conncap_new()'s result belongs to the caller
 * (conncap_free, after mg_stop).
 */
#ifndef ATUM_WEB_CONNCAP_H
#define ATUM_WEB_CONNCAP_H

#include <civetweb.h>
#include <stdbool.h>
#include <stddef.h>

#define CONNCAP_RESERVE 2         /* threads a new connection always finds free */
#define CONNCAP_SHED_MIN_MS 500   /* a connection waits this long before it may be closed */
#define CONNCAP_SCAN_MS 50        /* scans at most this often */
#define CONNCAP_TICK_MS 250       /* and at least this often */
#define CONNCAP_TOMB_MS 5000      /* a closed connection is remembered this long */

struct conncap;

/* What a connection is doing, for the choice of whom to close. */
enum conncap_state {
    CONNCAP_WAITING,          /* for a request's headers, or idle between requests */
    CONNCAP_BODY,             /* sending a request body (web/http.c) */
    CONNCAP_HANDLING,         /* a request is being handled */
};

/* threads: civetweb's num_threads; per_client: at most this many
 * connections per client (0: no cap); trusted: addresses not capped per
 * client (borrowed for the life of the struct). */
struct conncap *conncap_new(int threads, int per_client, char *const *trusted, size_t ntrusted);
/* Starts the watcher for the server listening on port: 0 or -1. */
int conncap_start(struct conncap *cc, int port);
/* Stops the watcher: before mg_stop(), which closes connections without
 * telling (cc may be NULL). */
void conncap_stop(struct conncap *cc);
/* Frees, after mg_stop() (cc may be NULL). */
void conncap_free(struct conncap **cc);

/* From civetweb's callbacks: a connection was taken by a worker thread
 * (init_connection); what the connection of a request is doing
 * (begin_request, end_request, and web/http.c around a body); a
 * connection ends (connection_close).  All accept cc == NULL. */
void conncap_opened(struct conncap *cc);
void conncap_state(struct conncap *cc, const struct mg_connection *conn, enum conncap_state st);
void conncap_closed(struct conncap *cc, const struct mg_connection *conn);

/* The socket of conn, a connection whose request is being handled on the
 * calling thread (for ioctl(FIONREAD) by the body reader): -1 when it
 * cannot be found.  Never to be read, written or closed. */
int conncap_fd(struct conncap *cc, const struct mg_connection *conn);

/* Connections open now, and closed so far for the per-client cap and to
 * free a thread (tests, status). */
void conncap_stats(struct conncap *cc, int *open_r, long long *refused_r, long long *shed_r);

#endif
