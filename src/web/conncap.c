/* web/conncap.c -- see web/conncap.h. */
#include "config.h"
#include "web/conncap.h"
#include "lib/log.h"
#include "lib/util.h"
#include "lib/xalloc.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

/* civetweb's mg_request_info.remote_addr is this long */
#define ADDR_MAX 48

/* One connection, by its peer's address and port. */
struct entry {
    struct entry *prev, *next;
    char addr[ADDR_MAX];
    int port;
    char client[ADDR_MAX + 4];   /* what the per-client cap counts */
    bool capped;                         /* false for trusted proxies */
    int fd;                              /* -1 until a scan finds it */
    bool seen;                           /* found by the current scan */
    enum conncap_state state;
    long long since_ms;                  /* in state since */
    long long opened_ms;                 /* first seen */
    bool closing;                        /* refused or shed by us */
};

/* A connection civetweb has ended: its socket is about to be closed. */
struct tomb {
    char addr[ADDR_MAX];
    int port;
    long long at_ms;
};
#define NTOMBS 256

struct conncap {
    pthread_mutex_t mu;
    int threads, per_client, port;
    char *const *trusted;
    size_t ntrusted;
    struct entry *head;
    struct tomb tombs[NTOMBS];
    int ntomb_next;
    long long refused, shed;
    bool warned_blind;
    pthread_t watcher;
    bool started;
    int wake_fd;
    atomic_bool stopping;
};

struct conncap *conncap_new(int threads, int per_client, char *const *trusted, size_t ntrusted)
{
    struct conncap *cc = xcalloc(1, sizeof(*cc));
    pthread_mutex_init(&cc->mu, NULL);
    cc->threads = threads;
    cc->per_client = per_client;
    cc->trusted = trusted;
    cc->ntrusted = ntrusted;
    cc->wake_fd = -1;
    return cc;
}

/* ---- addresses ------------------------------------------------------------ */

/* The client an address counts as: IPv4 as it is, IPv6 by its /64 (one
 * customer line has 2^64 addresses). */
static void client_key(const char *addr, char *out, size_t size)
{
    struct in6_addr a6;
    if (strchr(addr, ':') != NULL && inet_pton(AF_INET6, addr, &a6) == 1) {
        memset(a6.s6_addr + 8, 0, 8);
        char buf[INET6_ADDRSTRLEN];
        if (inet_ntop(AF_INET6, &a6, buf, sizeof(buf)) != NULL) {
            snprintf(out, size, "%s/64", buf);
            return;
        }
    }
    snprintf(out, size, "%s", addr);
}

/* The peer of fd when it is a connection accepted on port: 1, else 0. */
static int peer_of(int fd, int port, char addr[ADDR_MAX], int *port_r)
{
    struct sockaddr_storage self, peer;
    socklen_t sl = sizeof(self), pl = sizeof(peer);
    if (getsockname(fd, (struct sockaddr *)&self, &sl) != 0)
        return 0;
    if (self.ss_family == AF_INET) {
        if (ntohs(((struct sockaddr_in *)&self)->sin_port) != port)
            return 0;
    } else if (self.ss_family == AF_INET6) {
        if (ntohs(((struct sockaddr_in6 *)&self)->sin6_port) != port)
            return 0;
    } else {
        return 0;
    }
    if (getpeername(fd, (struct sockaddr *)&peer, &pl) != 0)   /* the listener has none */
        return 0;
    if (peer.ss_family == AF_INET) {
        const struct sockaddr_in *p = (const struct sockaddr_in *)&peer;
        *port_r = ntohs(p->sin_port);
        return inet_ntop(AF_INET, &p->sin_addr, addr, INET6_ADDRSTRLEN) != NULL;
    }
    const struct sockaddr_in6 *p = (const struct sockaddr_in6 *)&peer;
    *port_r = ntohs(p->sin6_port);
    return inet_ntop(AF_INET6, &p->sin6_addr, addr, INET6_ADDRSTRLEN) != NULL;
}

static bool is_trusted(const struct conncap *cc, const char *addr)
{
    for (size_t i = 0; i < cc->ntrusted; i++)
        if (strcmp(cc->trusted[i], addr) == 0)
            return true;
    return false;
}

/* ---- the table (cc->mu held) ---------------------------------------------- */

static struct entry *find(struct conncap *cc, const char *addr, int port)
{
    for (struct entry *e = cc->head; e; e = e->next)
        if (e->port == port && strcmp(e->addr, addr) == 0)
            return e;
    return NULL;
}

static struct entry *add(struct conncap *cc, const char *addr, int port, long long now)
{
    struct entry *e = xcalloc(1, sizeof(*e));
    snprintf(e->addr, sizeof(e->addr), "%s", addr);
    e->port = port;
    client_key(addr, e->client, sizeof(e->client));
    e->capped = !is_trusted(cc, addr);
    e->fd = -1;
    e->state = CONNCAP_WAITING;
    e->since_ms = e->opened_ms = now;
    e->next = cc->head;
    if (cc->head)
        cc->head->prev = e;
    cc->head = e;
    return e;
}

static void drop(struct conncap *cc, struct entry *e)
{
    if (e->prev)
        e->prev->next = e->next;
    else
        cc->head = e->next;
    if (e->next)
        e->next->prev = e->prev;
    free(e);
}

static bool buried(const struct conncap *cc, const char *addr, int port, long long now)
{
    for (int i = 0; i < NTOMBS; i++)
        if (cc->tombs[i].at_ms != 0 && now - cc->tombs[i].at_ms < CONNCAP_TOMB_MS
            && cc->tombs[i].port == port && strcmp(cc->tombs[i].addr, addr) == 0)
            return true;
    return false;
}

/* Registers every connection of the server that is open now, and forgets
 * those that are gone. */
static void scan(struct conncap *cc, long long now)
{
    for (struct entry *e = cc->head; e; e = e->next)
        e->seen = false;
    DIR *d = opendir("/proc/self/fd");
    if (d == NULL) {
        if (!cc->warned_blind) {
            cc->warned_blind = true;
            log_warn("web.conncap_blind", "error=%s hint=%s", strerror(errno),
                     "cannot list /proc/self/fd: per-client caps and the shedding of idle "
                     "connections are off");
        }
        return;
    }
    int self = dirfd(d);
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        char *end, addr[ADDR_MAX];
        int port;
        long fd = strtol(de->d_name, &end, 10);
        if (*end != '\0' || end == de->d_name || fd == self || !peer_of((int)fd, cc->port, addr, &port))
            continue;
        if (buried(cc, addr, port, now))
            continue;                /* ended by civetweb, being closed right now */
        struct entry *e = find(cc, addr, port);
        if (e == NULL)
            e = add(cc, addr, port, now);
        e->fd = (int)fd;
        e->seen = true;
    }
    closedir(d);
    /* a known socket that is no longer there was closed without a word
     * (civetweb stopping): forget it */
    for (struct entry *e = cc->head, *next; e; e = next) {
        next = e->next;
        if (e->fd >= 0 && !e->seen)
            drop(cc, e);
    }
}

/* Bytes the client sent that nobody has read yet. */
static int unread(int fd)
{
    int n = 0;
    return ioctl(fd, FIONREAD, &n) == 0 ? n : 0;
}

static void refuse(struct entry *e)
{
    static const char body[] =
        "{\"title\":\"Service Unavailable\",\"status\":503,"
        "\"detail\":\"too many connections from your address\"}";
    char answer[512];
    int n = snprintf(answer, sizeof(answer),
        "HTTP/1.1 503 Service Unavailable\r\n"
        "Content-Type: application/problem+json\r\n"
        "Retry-After: 1\r\n"
        "Cache-Control: no-store\r\n"
        "X-Content-Type-Options: nosniff\r\n"
        "Connection: close\r\n"
        "Content-Length: %zu\r\n"
        "\r\n%s", sizeof(body) - 1, body);
    /* a fresh socket's send buffer takes it whole; never wait for it */
    ssize_t w = send(e->fd, answer, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT);
    (void)w;
    shutdown(e->fd, SHUT_RDWR);      /* civetweb reads end-of-file and closes it */
    e->closing = true;
}

/* The two rules of conncap.h. */
static void enforce(struct conncap *cc, long long now)
{
    /* per client: the newest waiting connections beyond the cap */
    if (cc->per_client > 0) {
        for (struct entry *e = cc->head; e; e = e->next) {
            if (!e->capped || e->closing || e->fd < 0 || e->state != CONNCAP_WAITING)
                continue;
            int older = 0;
            for (struct entry *o = cc->head; o; o = o->next)
                if (o != e && !o->closing && strcmp(o->client, e->client) == 0
                    && (o->opened_ms < e->opened_ms || (o->opened_ms == e->opened_ms && o->port < e->port)))
                    older++;
            if (older >= cc->per_client) {
                cc->refused++;
                log_info("web.connection_refused", "client=%s cap=%d", e->client, cc->per_client);
                refuse(e);
            }
        }
    }
    /* in all: free a thread from the connection that waited longest */
    int live = 0;
    for (struct entry *e = cc->head; e; e = e->next)
        live += !e->closing;
    while (live > cc->threads - CONNCAP_RESERVE) {
        struct entry *victim = NULL;
        for (struct entry *e = cc->head; e; e = e->next) {
            if (e->closing || e->fd < 0 || e->state == CONNCAP_HANDLING
                || now - e->since_ms < CONNCAP_SHED_MIN_MS)
                continue;
            if (e->state == CONNCAP_WAITING && unread(e->fd) > 0)
                continue;            /* a request waits for a thread: keep it */
            if (victim == NULL || e->since_ms < victim->since_ms)
                victim = e;
        }
        if (victim == NULL)
            break;
        cc->shed++;
        log_info("web.connection_shed", "client=%s state=%s waited_ms=%lld", victim->client,
                 victim->state == CONNCAP_BODY ? "body" : "waiting", now - victim->since_ms);
        shutdown(victim->fd, SHUT_RDWR);
        victim->closing = true;
        live--;
    }
}

/* ---- the watcher ----------------------------------------------------------- */

static void *watch(void *arg)
{
    struct conncap *cc = arg;
    long long last = 0;
    log_context_set("thread=conncap");
    while (!atomic_load(&cc->stopping)) {
        struct pollfd pf = { cc->wake_fd, POLLIN, 0 };
        if (poll(&pf, 1, CONNCAP_TICK_MS) > 0) {
            uint64_t n;
            ssize_t r = read(cc->wake_fd, &n, sizeof(n));
            (void)r;
        }
        if (atomic_load(&cc->stopping))
            break;
        long long now = time_mono_ms();
        if (now - last < CONNCAP_SCAN_MS) {
            struct timespec ts = { 0, (long)(CONNCAP_SCAN_MS - (now - last)) * 1000000L };
            nanosleep(&ts, NULL);
            now = time_mono_ms();
        }
        last = now;
        pthread_mutex_lock(&cc->mu);
        scan(cc, now);
        enforce(cc, now);
        pthread_mutex_unlock(&cc->mu);
    }
    log_context_clear();
    return NULL;
}

int conncap_start(struct conncap *cc, int port)
{
    cc->port = port;
    cc->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (cc->wake_fd < 0)
        return -1;
    if (pthread_create(&cc->watcher, NULL, watch, cc) != 0) {
        close(cc->wake_fd);
        cc->wake_fd = -1;
        return -1;
    }
    cc->started = true;
    return 0;
}

void conncap_stop(struct conncap *cc)
{
    if (cc == NULL || !cc->started)
        return;
    atomic_store(&cc->stopping, true);
    uint64_t one = 1;
    ssize_t w = write(cc->wake_fd, &one, sizeof(one));
    (void)w;
    pthread_join(cc->watcher, NULL);
    cc->started = false;
}

void conncap_free(struct conncap **ccp)
{
    struct conncap *cc = *ccp;
    if (cc == NULL)
        return;
    conncap_stop(cc);
    if (cc->wake_fd >= 0)
        close(cc->wake_fd);
    while (cc->head)
        drop(cc, cc->head);
    pthread_mutex_destroy(&cc->mu);
    free(cc);
    *ccp = NULL;
}

/* ---- from civetweb's callbacks ----------------------------------------------- */

void conncap_opened(struct conncap *cc)
{
    if (cc == NULL || cc->wake_fd < 0)
        return;
    uint64_t one = 1;
    ssize_t w = write(cc->wake_fd, &one, sizeof(one));
    (void)w;
}

void conncap_state(struct conncap *cc, const struct mg_connection *conn, enum conncap_state st)
{
    const struct mg_request_info *ri = conn ? mg_get_request_info(conn) : NULL;
    if (cc == NULL || ri == NULL)
        return;
    long long now = time_mono_ms();
    pthread_mutex_lock(&cc->mu);
    struct entry *e = find(cc, ri->remote_addr, ri->remote_port);
    if (e == NULL)
        e = add(cc, ri->remote_addr, ri->remote_port, now);   /* the next scan finds its socket */
    e->state = st;
    e->since_ms = now;
    pthread_mutex_unlock(&cc->mu);
}

void conncap_closed(struct conncap *cc, const struct mg_connection *conn)
{
    /* civetweb has read (or tried to read) a request by now, so the
     * connection's addresses are known */
    const struct mg_request_info *ri = conn ? mg_get_request_info(conn) : NULL;
    if (cc == NULL || ri == NULL)
        return;
    pthread_mutex_lock(&cc->mu);
    struct tomb *t = &cc->tombs[cc->ntomb_next];
    cc->ntomb_next = (cc->ntomb_next + 1) % NTOMBS;
    snprintf(t->addr, sizeof(t->addr), "%s", ri->remote_addr);
    t->port = ri->remote_port;
    t->at_ms = time_mono_ms();
    struct entry *e = find(cc, ri->remote_addr, ri->remote_port);
    if (e != NULL)
        drop(cc, e);
    pthread_mutex_unlock(&cc->mu);
}

int conncap_fd(struct conncap *cc, const struct mg_connection *conn)
{
    const struct mg_request_info *ri = conn ? mg_get_request_info(conn) : NULL;
    if (cc == NULL || ri == NULL)
        return -1;
    pthread_mutex_lock(&cc->mu);
    struct entry *e = find(cc, ri->remote_addr, ri->remote_port);
    if (e == NULL)
        e = add(cc, ri->remote_addr, ri->remote_port, time_mono_ms());
    if (e->fd < 0) {
        /* not scanned yet: look for this one socket (open: its request
         * is being handled on this thread) */
        DIR *d = opendir("/proc/self/fd");
        int self = d ? dirfd(d) : -1;
        struct dirent *de;
        while (d != NULL && e->fd < 0 && (de = readdir(d)) != NULL) {
            char *end, addr[ADDR_MAX];
            int port;
            long fd = strtol(de->d_name, &end, 10);
            if (*end == '\0' && end != de->d_name && fd != self
                && peer_of((int)fd, cc->port, addr, &port) && port == ri->remote_port
                && strcmp(addr, ri->remote_addr) == 0)
                e->fd = (int)fd;
        }
        if (d != NULL)
            closedir(d);
    }
    int fd = e->fd;
    pthread_mutex_unlock(&cc->mu);
    return fd;
}

void conncap_stats(struct conncap *cc, int *open_r, long long *refused_r, long long *shed_r)
{
    int n = 0;
    pthread_mutex_lock(&cc->mu);
    for (struct entry *e = cc->head; e; e = e->next)
        n += !e->closing;
    *open_r = n;
    *refused_r = cc->refused;
    *shed_r = cc->shed;
    pthread_mutex_unlock(&cc->mu);
}
