/* web/live.c -- see web/live.h. */
#include "config.h"
#include "web/live.h"
#include "core/live_event.h"
#include "desk/live_feed.h"
#include "desk/presence.h"
#include "lib/err.h"
#include "lib/log.h"
#include "lib/metrics.h"
#include "lib/util.h"
#include "lib/xalloc.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

struct frame {
    long long id;
    char *text;
    size_t len;
};

struct live_reader {
    struct live_hub *hub;
    struct mg_connection *conn;      /* NULL: a long poll */
    struct desk_actor who;
    int via;
    char hash[72];
    char client[96];                 /* presence key prefix */
    long long serial;
    /* under mu */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct frame *q;
    size_t nq, capq, qbytes;
    long long seen_upto;             /* every event up to here was looked at for it */
    long long min_id;                /* frames with a lower or equal id are not sent again */
    bool registered, catching_up, writing, closed, behind, ended, broken, close_sent;
    /* the hub's lists, under hub->mu */
    struct live_reader *next, *prev;
    struct live_reader *ready_next;
    bool on_ready;
};

struct ended_client {
    char *prefix;
    struct ended_client *next;
};

struct live_hub {
    struct live_opts o;
    char node[64];
    pthread_mutex_t mu;
    pthread_cond_t ready_cv;
    struct live_reader *readers;     /* registered */
    struct live_reader *ready_head, *ready_tail;
    struct ended_client *ended;
    int websockets, polls, admitted;
    long long refused, serial;
    long long last_id;               /* the hub has handed out events up to here */
    bool stopping;
    int wake_fd;
    pthread_t poller, writers[LIVE_WRITERS];
    bool poller_started;
    int nwriters;
};

/* Under h->mu: the places taken under the cap (sockets and long polls,
 * admitted before their upgrade or wait) and the WebSockets open now. */
static void gauge(struct live_hub *h)
{
    metrics_gauge_set("atum_live_connections", NULL, (double)h->admitted);
    metrics_gauge_set("atum_websockets_open", NULL, (double)h->websockets);
}

static void wake_poller(struct live_hub *h)
{
    uint64_t one = 1;
    ssize_t n = write(h->wake_fd, &one, sizeof(one));
    (void)n;
}

/* ---- places under the cap ----------------------------------------------- */

int live_admit(struct live_hub *h)
{
    int rc = -1;
    pthread_mutex_lock(&h->mu);
    if (!h->stopping && h->admitted < h->o.max_connections) {
        h->admitted++;
        rc = 0;
    } else {
        h->refused++;
    }
    gauge(h);
    pthread_mutex_unlock(&h->mu);
    if (rc < 0)
        metrics_counter_add("atum_live_refused_total", NULL, 1);
    return rc;
}

void live_release(struct live_hub *h)
{
    pthread_mutex_lock(&h->mu);
    if (h->admitted > 0)
        h->admitted--;
    gauge(h);
    pthread_mutex_unlock(&h->mu);
}

void live_stats(struct live_hub *h, struct live_stats *st)
{
    pthread_mutex_lock(&h->mu);
    st->websockets = h->websockets;
    st->polls = h->polls;
    st->max = h->o.max_connections;
    st->refused = h->refused;
    st->last_id = h->last_id;
    pthread_mutex_unlock(&h->mu);
}

/* ---- readers -------------------------------------------------------------- */

struct live_reader *live_reader_new(struct live_hub *h, struct mg_connection *conn,
                                    const struct desk_actor *who, int via, const char *hash)
{
    struct live_reader *rd = xcalloc(1, sizeof(*rd));
    rd->hub = h;
    rd->conn = conn;
    rd->who = *who;
    rd->who.ip = NULL;
    rd->who.via = "live";
    rd->via = via;
    snprintf(rd->hash, sizeof(rd->hash), "%s", hash ? hash : "");
    pthread_mutex_init(&rd->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&rd->cv, &ca);
    pthread_condattr_destroy(&ca);
    pthread_mutex_lock(&h->mu);
    rd->serial = ++h->serial;
    pthread_mutex_unlock(&h->mu);
    snprintf(rd->client, sizeof(rd->client), "%s:%s:%lld:", conn ? "ws" : "poll", h->node, rd->serial);
    return rd;
}

const char *live_reader_client(const struct live_reader *rd)
{
    return rd->client;
}

const struct desk_actor *live_reader_actor(const struct live_reader *rd)
{
    return &rd->who;
}

static void queue_clear(struct live_reader *rd)
{
    for (size_t i = 0; i < rd->nq; i++)
        free(rd->q[i].text);
    rd->nq = 0;
    rd->qbytes = 0;
}

/* Under rd->mu.  false when the reader fell behind (its queue is dropped). */
static bool queue_push(struct live_reader *rd, long long id, const char *text, size_t len)
{
    if (rd->behind || rd->closed || id <= rd->min_id)
        return true;
    if (rd->qbytes + len > LIVE_QUEUE_MAX) {
        queue_clear(rd);
        rd->behind = true;
        return false;
    }
    if (rd->nq == rd->capq) {
        rd->capq = rd->capq ? rd->capq * 2 : 16;
        rd->q = xrealloc(rd->q, rd->capq * sizeof(*rd->q));
    }
    rd->q[rd->nq].id = id;
    rd->q[rd->nq].text = xstrndup(text, len);
    rd->q[rd->nq].len = len;
    rd->nq++;
    rd->qbytes += len;
    return true;
}

/* Under h->mu: a WebSocket with something to write goes to the writers. */
static void make_ready(struct live_hub *h, struct live_reader *rd)
{
    if (rd->conn == NULL || rd->on_ready)
        return;
    rd->on_ready = true;
    rd->ready_next = NULL;
    if (h->ready_tail)
        h->ready_tail->ready_next = rd;
    else
        h->ready_head = rd;
    h->ready_tail = rd;
    pthread_cond_signal(&h->ready_cv);
}

static void ready_remove(struct live_hub *h, struct live_reader *rd)
{
    if (!rd->on_ready)
        return;
    struct live_reader **pp = &h->ready_head, *prev = NULL;
    while (*pp && *pp != rd) {
        prev = *pp;
        pp = &(*pp)->ready_next;
    }
    if (*pp) {
        *pp = rd->ready_next;
        if (h->ready_tail == rd)
            h->ready_tail = prev;
    }
    rd->on_ready = false;
}

static int ws_send(struct mg_connection *conn, const char *text, size_t len)
{
    return mg_websocket_write(conn, MG_WEBSOCKET_OPCODE_TEXT, text, len);
}

static void ws_close_frame(struct mg_connection *conn, int code, const char *reason)
{
    char buf[128];
    size_t n = strlen(reason);
    if (n > sizeof(buf) - 2)
        n = sizeof(buf) - 2;
    buf[0] = (char)((code >> 8) & 0xff);
    buf[1] = (char)(code & 0xff);
    memcpy(buf + 2, reason, n);
    mg_websocket_write(conn, MG_WEBSOCKET_OPCODE_CONNECTION_CLOSE, buf, n + 2);
}

int live_reader_start(struct live_reader *rd, struct db_conn *db, long long since, bool *reset_r,
                      const char **error_r)
{
    struct live_hub *h = rd->hub;
    const char *e = NULL;
    long long last = 0, pruned = 1;
    *reset_r = false;
    /* register first: from here on the hub queues every event after floor */
    pthread_mutex_lock(&h->mu);
    if (h->stopping) {
        pthread_mutex_unlock(&h->mu);
        return err_set(error_r, "the server is stopping");
    }
    long long floor = h->last_id;
    pthread_mutex_lock(&rd->mu);
    rd->registered = true;
    rd->catching_up = true;
    rd->seen_upto = floor;
    pthread_mutex_unlock(&rd->mu);
    rd->next = h->readers;
    rd->prev = NULL;
    if (h->readers)
        h->readers->prev = rd;
    h->readers = rd;
    if (rd->conn)
        h->websockets++;
    else
        h->polls++;
    gauge(h);
    pthread_mutex_unlock(&h->mu);

    struct live_frames fr = { NULL, 0 };
    int ret = -1;
    if (since >= 0) {
        if (live_event_bounds(db, &last, &pruned, &e) < 0) {
            err_set(error_r, "%s", e);
            goto done;
        }
        if (!live_event_resumable(since, last, pruned)) {
            *reset_r = true;
        } else if (since < floor) {
            long long next = since;
            if (live_feed_read(db, &rd->who, since, floor, LIVE_BATCH, &fr, &next, &e) < 0) {
                err_set(error_r, "%s", e);
                goto done;
            }
            pthread_mutex_lock(&rd->mu);
            rd->seen_upto = next;
            pthread_mutex_unlock(&rd->mu);
            /* a socket gets it all now, batch after batch (writers leave
             * it alone while it catches up: no lock is held while
             * writing); a long poll gets one batch, the next poll the rest */
            while (rd->conn) {
                for (size_t i = 0; i < fr.n && !rd->broken; i++)
                    if (ws_send(rd->conn, fr.v[i].text, fr.v[i].len) <= 0)
                        rd->broken = true;
                live_frames_clear(&fr);
                if (rd->broken || next >= floor)
                    break;
                if (live_feed_read(db, &rd->who, next, floor, LIVE_BATCH, &fr, &next, &e) < 0) {
                    err_set(error_r, "%s", e);
                    goto done;
                }
            }
            pthread_mutex_lock(&rd->mu);
            rd->seen_upto = next < floor ? next : floor;
            pthread_mutex_unlock(&rd->mu);
        } else {
            /* the client has seen more than this node's hub handed out */
            pthread_mutex_lock(&rd->mu);
            rd->min_id = since;
            pthread_mutex_unlock(&rd->mu);
        }
    }
    if (*reset_r && rd->conn) {
        char msg[96];
        int n = snprintf(msg, sizeof(msg), "{\"reset\":true,\"last_id\":%lld}", floor);
        if (ws_send(rd->conn, msg, (size_t)n) <= 0)
            rd->broken = true;
    }
    ret = 0;
done:
    /* the catch-up goes before anything the hub queued meanwhile */
    pthread_mutex_lock(&h->mu);
    pthread_mutex_lock(&rd->mu);
    if (rd->conn == NULL && fr.n > 0) {
        /* a long poll: the catch-up first, then what was queued */
        struct frame *old = rd->q;
        size_t nold = rd->nq;
        rd->q = NULL;
        rd->nq = rd->capq = rd->qbytes = 0;
        for (size_t i = 0; i < fr.n; i++)
            queue_push(rd, fr.v[i].id, fr.v[i].text, fr.v[i].len);
        for (size_t i = 0; i < nold; i++) {
            queue_push(rd, old[i].id, old[i].text, old[i].len);
            free(old[i].text);
        }
        free(old);
    }
    rd->catching_up = false;
    if (rd->nq > 0 || rd->behind)
        make_ready(h, rd);
    pthread_cond_broadcast(&rd->cv);
    pthread_mutex_unlock(&rd->mu);
    pthread_mutex_unlock(&h->mu);
    live_frames_clear(&fr);
    return ret;
}

int live_reader_wait(struct live_reader *rd, long long wait_ms, struct strbuf *out,
                     long long *last_r, bool *more_r)
{
    struct live_hub *h = rd->hub;
    struct timespec until;
    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_sec += wait_ms / 1000;
    until.tv_nsec += (wait_ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    int ret = 0;
    pthread_mutex_lock(&rd->mu);
    for (;;) {
        bool stopping;
        pthread_mutex_lock(&h->mu);
        stopping = h->stopping;
        pthread_mutex_unlock(&h->mu);
        if (rd->nq > 0 || rd->behind || rd->ended || stopping) {
            ret = rd->ended ? -2 : stopping ? -1 : 0;
            break;
        }
        if (pthread_cond_timedwait(&rd->cv, &rd->mu, &until) == ETIMEDOUT)
            break;
    }
    long long last = rd->seen_upto;
    for (size_t i = 0; i < rd->nq; i++) {
        if (out->len > 0)
            strbuf_addc(out, ',');
        strbuf_add(out, rd->q[i].text, rd->q[i].len);
        if (rd->q[i].id > last)
            last = rd->q[i].id;
    }
    *more_r = rd->behind;
    queue_clear(rd);
    *last_r = last;
    pthread_mutex_unlock(&rd->mu);
    return ret;
}

void live_reader_close(struct live_reader **rdp)
{
    struct live_reader *rd = *rdp;
    if (rd == NULL)
        return;
    struct live_hub *h = rd->hub;
    pthread_mutex_lock(&h->mu);
    if (rd->registered) {
        if (rd->prev)
            rd->prev->next = rd->next;
        else
            h->readers = rd->next;
        if (rd->next)
            rd->next->prev = rd->prev;
        if (rd->conn)
            h->websockets--;
        else
            h->polls--;
    }
    ready_remove(h, rd);
    if (rd->conn) {
        struct ended_client *ec = xcalloc(1, sizeof(*ec));
        ec->prefix = xstrdup(rd->client);
        ec->next = h->ended;
        h->ended = ec;
    }
    if (h->admitted > 0)
        h->admitted--;
    gauge(h);
    pthread_mutex_unlock(&h->mu);
    pthread_mutex_lock(&rd->mu);
    rd->closed = true;
    while (rd->writing)
        pthread_cond_wait(&rd->cv, &rd->mu);
    queue_clear(rd);
    pthread_mutex_unlock(&rd->mu);
    if (rd->conn)
        wake_poller(h);
    pthread_mutex_destroy(&rd->mu);
    pthread_cond_destroy(&rd->cv);
    free(rd->q);
    free(rd);
    *rdp = NULL;
}

/* ---- writers ---------------------------------------------------------------- */

static void *writer_main(void *arg)
{
    struct live_hub *h = arg;
    log_context_set("thread=live-writer");
    pthread_mutex_lock(&h->mu);
    for (;;) {
        while (h->ready_head == NULL && !h->stopping)
            pthread_cond_wait(&h->ready_cv, &h->mu);
        if (h->ready_head == NULL && h->stopping)
            break;
        struct live_reader *rd = h->ready_head;
        h->ready_head = rd->ready_next;
        if (h->ready_head == NULL)
            h->ready_tail = NULL;
        rd->on_ready = false;
        pthread_mutex_lock(&rd->mu);
        if (rd->closed || rd->catching_up || rd->writing) {
            pthread_mutex_unlock(&rd->mu);
            continue;
        }
        rd->writing = true;
        struct frame *q = rd->q;
        size_t nq = rd->nq;
        bool behind = rd->behind, ended = rd->ended;
        bool say_close = (behind || ended) && !rd->close_sent;
        if (say_close)
            rd->close_sent = true;
        rd->q = NULL;
        rd->nq = rd->capq = rd->qbytes = 0;
        pthread_mutex_unlock(&rd->mu);
        pthread_mutex_unlock(&h->mu);

        /* outside every lock: a slow peer holds up this writer only */
        bool broken = rd->broken;
        for (size_t i = 0; i < nq; i++) {
            if (!broken && !behind && !ended && ws_send(rd->conn, q[i].text, q[i].len) <= 0)
                broken = true;
            free(q[i].text);
        }
        free(q);
        if (say_close && !broken)
            ws_close_frame(rd->conn, ended ? LIVE_CLOSE_ENDED : LIVE_CLOSE_BEHIND,
                           ended ? "the session ended" : "fell behind: reconnect with since");

        pthread_mutex_lock(&h->mu);
        pthread_mutex_lock(&rd->mu);
        rd->writing = false;
        rd->broken = broken;
        if (!rd->closed && (rd->nq > 0 || ((rd->behind || rd->ended) && !rd->close_sent)))
            make_ready(h, rd);
        pthread_cond_broadcast(&rd->cv);
        pthread_mutex_unlock(&rd->mu);
    }
    pthread_mutex_unlock(&h->mu);
    log_context_clear();
    return NULL;
}

/* ---- the poller --------------------------------------------------------------- */

struct snapshot {
    struct desk_actor *actors;       /* distinct */
    const struct desk_actor **ptrs;
    size_t nactors;
    long long *serial;               /* per reader */
    size_t *actor_of;
    size_t n;
};

static void snapshot_free(struct snapshot *s)
{
    free(s->actors);
    free(s->ptrs);
    free(s->serial);
    free(s->actor_of);
    memset(s, 0, sizeof(*s));
}

static bool same_actor(const struct desk_actor *a, const struct desk_actor *b)
{
    return a->user_id == b->user_id && a->role == b->role && a->org_id == b->org_id
           && a->org_access == b->org_access;
}

/* Under h->mu: the registered readers, their actors folded. */
static void snapshot_take(struct live_hub *h, struct snapshot *s)
{
    memset(s, 0, sizeof(*s));
    size_t n = 0;
    for (struct live_reader *rd = h->readers; rd; rd = rd->next)
        n++;
    if (n == 0)
        return;
    s->actors = xcalloc(n, sizeof(*s->actors));
    s->ptrs = xcalloc(n, sizeof(*s->ptrs));
    s->serial = xcalloc(n, sizeof(*s->serial));
    s->actor_of = xcalloc(n, sizeof(*s->actor_of));
    for (struct live_reader *rd = h->readers; rd; rd = rd->next) {
        size_t a = 0;
        while (a < s->nactors && !same_actor(&s->actors[a], &rd->who))
            a++;
        if (a == s->nactors)
            s->actors[s->nactors++] = rd->who;
        s->serial[s->n] = rd->serial;
        s->actor_of[s->n] = a;
        s->n++;
    }
    for (size_t a = 0; a < s->nactors; a++)
        s->ptrs[a] = &s->actors[a];
}

/* Under h->mu: hands a batch to the readers of the snapshot still there. */
static void deliver(struct live_hub *h, const struct snapshot *s, const struct live_frames *fr,
                    long long upto)
{
    for (struct live_reader *rd = h->readers; rd; rd = rd->next) {
        size_t k = 0;
        while (k < s->n && s->serial[k] != rd->serial)
            k++;
        if (k == s->n)
            continue;               /* registered after: it read the batch itself */
        size_t a = s->actor_of[k];
        pthread_mutex_lock(&rd->mu);
        for (size_t i = 0; i < fr->n; i++)
            for (size_t j = 0; j < fr->v[i].nreaders; j++)
                if ((size_t)fr->v[i].readers[j] == a) {
                    queue_push(rd, fr->v[i].id, fr->v[i].text, fr->v[i].len);
                    break;
                }
        if (upto > rd->seen_upto)
            rd->seen_upto = upto;
        if (!rd->catching_up && (rd->nq > 0 || rd->behind))
            make_ready(h, rd);
        pthread_cond_broadcast(&rd->cv);
        pthread_mutex_unlock(&rd->mu);
    }
}

/* Everything published up to `upto` goes to the readers, in batches. */
static int fan_out(struct live_hub *h, struct db_conn *c, long long upto, const char **error_r)
{
    struct snapshot s;
    pthread_mutex_lock(&h->mu);
    long long from = h->last_id;
    if (upto <= from) {
        pthread_mutex_unlock(&h->mu);
        return 0;
    }
    snapshot_take(h, &s);
    /* readers registering from now on read (from, upto] themselves */
    h->last_id = upto;
    pthread_mutex_unlock(&h->mu);
    int ret = 0;
    long long next = from;
    while (s.n > 0 && next < upto) {
        struct live_frames fr = { NULL, 0 };
        long long got = next;
        if (live_feed_fanout(c, s.ptrs, s.nactors, next, upto, LIVE_BATCH, &fr, &got, error_r) < 0) {
            /* they missed these: their clients resume from their last id */
            ret = -1;
            pthread_mutex_lock(&h->mu);
            for (struct live_reader *rd = h->readers; rd; rd = rd->next) {
                pthread_mutex_lock(&rd->mu);
                rd->behind = true;
                queue_clear(rd);
                make_ready(h, rd);
                pthread_cond_broadcast(&rd->cv);
                pthread_mutex_unlock(&rd->mu);
            }
            pthread_mutex_unlock(&h->mu);
            break;
        }
        if (got <= next)
            got = upto;              /* nothing left in the range */
        pthread_mutex_lock(&h->mu);
        deliver(h, &s, &fr, got);
        pthread_mutex_unlock(&h->mu);
        metrics_counter_add("atum_live_events_total", NULL, (double)fr.n);
        live_frames_clear(&fr);
        next = got;
    }
    snapshot_free(&s);
    return ret;
}

/* Presence of sockets that closed, and of rows past their time. */
static void presence_work(struct live_hub *h, struct db_conn *c, bool sweep)
{
    pthread_mutex_lock(&h->mu);
    struct ended_client *list = h->ended;
    h->ended = NULL;
    pthread_mutex_unlock(&h->mu);
    struct desk_actor sys = { .kind = DESK_SYSTEM, .via = "live" };
    struct desk_tx tx = { c, NULL, &sys };
    const char *e = NULL;
    while (list) {
        struct ended_client *ec = list;
        list = ec->next;
        struct err err = { ERR_OK, NULL, NULL };
        int n = 0;
        if (db_begin(c, &e) == 0) {
            if (presence_end_clients(&tx, ec->prefix, &n, &err) < 0 || db_commit(c, &e) < 0) {
                db_rollback(c);
                log_warn("live.presence_end_failed", "client=%s error=%s", ec->prefix,
                         err.text ? err.text : e);
            }
        }
        free(ec->prefix);
        free(ec);
    }
    if (!sweep)
        return;
    struct err err = { ERR_OK, NULL, NULL };
    int n = 0;
    if (db_begin(c, &e) < 0)
        return;
    if (presence_expire(&tx, &n, &err) < 0 || db_commit(c, &e) < 0) {
        db_rollback(c);
        log_warn("live.presence_expire_failed", "error=%s", err.text ? err.text : e);
    }
}

/* Sessions and tokens still valid?  Readers whose credential ended are
 * told so and closed. */
static void recheck(struct live_hub *h, struct db_conn *c)
{
    if (h->o.credential_ok == NULL)
        return;
    struct cred { long long serial; int via; char hash[72]; } *v = NULL;
    size_t n = 0;
    pthread_mutex_lock(&h->mu);
    for (struct live_reader *rd = h->readers; rd; rd = rd->next) {
        v = xrealloc(v, (n + 1) * sizeof(*v));
        v[n].serial = rd->serial;
        v[n].via = rd->via;
        memcpy(v[n].hash, rd->hash, sizeof(v[n].hash));
        n++;
    }
    pthread_mutex_unlock(&h->mu);
    for (size_t i = 0; i < n; i++) {
        if (h->o.credential_ok(h->o.credential_arg, c, v[i].via, v[i].hash) != 0)
            continue;
        pthread_mutex_lock(&h->mu);
        for (struct live_reader *rd = h->readers; rd; rd = rd->next)
            if (rd->serial == v[i].serial) {
                pthread_mutex_lock(&rd->mu);
                rd->ended = true;
                queue_clear(rd);
                make_ready(h, rd);
                pthread_cond_broadcast(&rd->cv);
                pthread_mutex_unlock(&rd->mu);
                log_info("live.session_ended", "reader=%lld user=%lld", rd->serial, rd->who.user_id);
            }
        pthread_mutex_unlock(&h->mu);
    }
    free(v);
}

static void *poller_main(void *arg)
{
    struct live_hub *h = arg;
    const char *e = NULL;
    bool listening = false;
    struct db_conn *c = db_conn_new(&h->o.db);
    long long last_sweep = 0, last_recheck = time_mono_ms(), last_check = 0;
    log_context_set("thread=live");
    for (;;) {
        pthread_mutex_lock(&h->mu);
        bool stopping = h->stopping;
        pthread_mutex_unlock(&h->mu);
        if (stopping)
            break;
        if (!listening || !db_conn_is_up(c)) {
            listening = false;
            if (db_conn_ensure(c, &e) < 0
                || db_command(c, "LISTEN " LIVE_CHANNEL_PENDING, &e) < 0
                || db_command(c, "LISTEN " LIVE_CHANNEL_PUBLISHED, &e) < 0) {
                struct pollfd pf = { h->wake_fd, POLLIN, 0 };
                long long wait = db_conn_retry_in_ms(c);
                poll(&pf, 1, (int)(wait < 100 ? 100 : wait > LIVE_CHECK_MS ? LIVE_CHECK_MS : wait));
                continue;
            }
            listening = true;
            last_check = 0;          /* whatever came meanwhile: look now */
        }
        long long now = time_mono_ms();
        long long due = last_check + LIVE_CHECK_MS - now;
        bool work = due <= 0;
        if (!work) {
            PGconn *pg = db_conn_pg(c);
            struct pollfd fds[2] = { { PQsocket(pg), POLLIN, 0 }, { h->wake_fd, POLLIN, 0 } };
            int r = poll(fds, 2, (int)due);
            if (r < 0 && errno != EINTR)
                break;
            if (fds[1].revents) {
                uint64_t x;
                ssize_t nr = read(h->wake_fd, &x, sizeof(x));
                (void)nr;
                work = true;         /* a socket closed, or stopping */
            }
            if (fds[0].revents) {
                if (PQconsumeInput(pg) == 0) {
                    listening = false;
                    continue;
                }
                PGnotify *nt;
                while ((nt = PQnotifies(pg)) != NULL) {
                    work = true;
                    PQfreemem(nt);
                }
            }
        }
        if (!work)
            continue;
        now = time_mono_ms();
        if (due <= 0)
            last_check = now;
        /* publish what writers committed, then hand out what is published */
        long long upto = 0, pruned = 0;
        int published = LIVE_BATCH;
        bool ok = true;
        while (ok && published == LIVE_BATCH) {
            if (live_event_publish(c, &published, &upto, &e) < 0) {
                log_warn("live.publish_failed", "error=%s", e);
                ok = false;
            }
        }
        if (!ok && live_event_bounds(c, &upto, &pruned, &e) < 0) {
            log_warn("live.read_failed", "error=%s", e);
            continue;
        }
        if (fan_out(h, c, upto, &e) < 0)
            log_warn("live.fanout_failed", "error=%s", e);
        bool sweep = now - last_sweep >= LIVE_PRESENCE_SWEEP_MS;
        presence_work(h, c, sweep);
        if (sweep)
            last_sweep = now;
        if (now - last_recheck >= LIVE_RECHECK_MS) {
            recheck(h, c);
            last_recheck = now;
        }
    }
    db_conn_free(&c);
    log_context_clear();
    return NULL;
}

/* ---- life cycle ------------------------------------------------------------------ */

int live_hub_start(struct live_hub **hub_r, const struct live_opts *o, const char **error_r)
{
    struct live_hub *h = xcalloc(1, sizeof(*h));
    h->o = *o;
    snprintf(h->node, sizeof(h->node), "%s", o->node_id ? o->node_id : "node");
    pthread_mutex_init(&h->mu, NULL);
    pthread_cond_init(&h->ready_cv, NULL);
    h->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (h->wake_fd < 0) {
        free(h);
        return err_set(error_r, "eventfd: %s", strerror(errno));
    }
    /* the hub starts at the current end: readers ask for what came before */
    struct db_conn *c = db_conn_new(&o->db);
    const char *e = NULL;
    long long last = 0, pruned = 0;
    if (db_conn_ensure(c, &e) == 0 && live_event_bounds(c, &last, &pruned, &e) == 0)
        h->last_id = last;
    else
        log_warn("live.start_bounds", "error=%s hint=%s", e, "the hub starts at 0 and catches up");
    db_conn_free(&c);
    gauge(h);
    for (int i = 0; i < LIVE_WRITERS; i++)
        if (pthread_create(&h->writers[i], NULL, writer_main, h) == 0)
            h->nwriters++;
    if (h->nwriters == 0 || pthread_create(&h->poller, NULL, poller_main, h) != 0) {
        live_hub_stopping(h);
        live_hub_free(&h);
        return err_set(error_r, "cannot start the live channel's threads");
    }
    h->poller_started = true;
    *hub_r = h;
    return 0;
}

void live_hub_stopping(struct live_hub *h)
{
    if (h == NULL)
        return;
    pthread_mutex_lock(&h->mu);
    h->stopping = true;
    for (struct live_reader *rd = h->readers; rd; rd = rd->next) {
        pthread_mutex_lock(&rd->mu);
        pthread_cond_broadcast(&rd->cv);
        pthread_mutex_unlock(&rd->mu);
    }
    pthread_mutex_unlock(&h->mu);
}

void live_hub_free(struct live_hub **hp)
{
    struct live_hub *h = *hp;
    if (h == NULL)
        return;
    pthread_mutex_lock(&h->mu);
    h->stopping = true;
    pthread_cond_broadcast(&h->ready_cv);
    pthread_mutex_unlock(&h->mu);
    wake_poller(h);
    if (h->poller_started)
        pthread_join(h->poller, NULL);
    for (int i = 0; i < h->nwriters; i++)
        pthread_join(h->writers[i], NULL);
    /* sockets closed while stopping: their presence ends now, not at expiry */
    if (h->ended) {
        struct db_conn *c = db_conn_new(&h->o.db);
        const char *e = NULL;
        if (db_conn_ensure(c, &e) == 0)
            presence_work(h, c, false);
        db_conn_free(&c);
    }
    while (h->ended) {
        struct ended_client *ec = h->ended;
        h->ended = ec->next;
        free(ec->prefix);
        free(ec);
    }
    close(h->wake_fd);
    pthread_mutex_destroy(&h->mu);
    pthread_cond_destroy(&h->ready_cv);
    metrics_gauge_set("atum_live_connections", NULL, 0);
    metrics_gauge_set("atum_websockets_open", NULL, 0);
    free(h);
    *hp = NULL;
}
