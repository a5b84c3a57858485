/* mailin/smtpd.c -- see mailin/smtpd.h. */
#include "config.h"
#include "mailin/smtpd.h"
#include "mail/smtp_proto.h"
#include "mail/reply_token.h"
#include "core/dbpool.h"
#include "lib/err.h"
#include "mailin/inbound.h"
#include "lib/log.h"
#include "lib/metrics.h"
#include "lib/strbuf.h"
#include "lib/util.h"
#include "lib/xalloc.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#define SMTP_MAX_ERRORS 10
#define ADDR_CACHE_MS 5000
/* after the last reply of a session that is cut, what the client still
 * sends is read and dropped for this long, so the reply is not lost to a
 * reset (a close with unread data sends RST) */
#define LINGER_MS 1000
#define LINGER_BYTES (256 * 1024)

/* Whom the per-client limit counts: an IPv4 address (as v4-mapped), or
 * the /64 of an IPv6 address, which one client usually has whole. */
struct peer_key {
    unsigned char b[16];
};

struct peer_count {
    struct peer_key key;
    int sessions;
};

struct smtpd {
    struct smtpd_opts o;
    char *listen, *hostname_opt, *tls_cert, *tls_key, *db_url;
    char hostname[256];
    int lfd;
    int port;
    int wake[2];
    pthread_t accept_thread;
    bool accept_started;
    atomic_bool stopping;
    pthread_mutex_t mu;
    pthread_cond_t idle;
    int sessions;
    struct peer_count *peers;    /* sessions per client, under mu */
    size_t npeers;
    SSL_CTX *tls;
    struct db_pool *pool;

    pthread_mutex_t cache_mu;
    char **addrs;
    size_t naddrs;
    long long cache_at;
    bool cache_ok;
};

struct session {
    struct smtpd *srv;
    int fd;
    SSL *ssl;
    char peer[80];
    struct peer_key key;
    char rbuf[16384];
    size_t rpos, rlen;
    struct strbuf out;
    char helo[256];
    bool greeted;
    bool has_mail;
    char mail_from[SMTP_PATH_MAX + 1];
    json_t *rcpts;
    int errors;
    int junk;                    /* commands without progress since the last mail */
    long long progress_by_ms;    /* cut the session when no progress by then */
    const char *close_reason;
};

/* ---- queue addresses -------------------------------------------------- */

static void cache_free(struct smtpd *s)
{
    for (size_t i = 0; i < s->naddrs; i++)
        free(s->addrs[i]);
    free(s->addrs);
    s->addrs = NULL;
    s->naddrs = 0;
}

/* 1 accepted, 0 not ours, -1 cannot tell now (database away). */
static int recipient_ok(struct smtpd *s, const char *addr)
{
    char base[SMTP_PATH_MAX + 1];
    const char *e = NULL;
    reply_token_base_address(addr, base, sizeof(base));
    pthread_mutex_lock(&s->cache_mu);
    if (!s->cache_ok || time_mono_ms() - s->cache_at > ADDR_CACHE_MS) {
        struct db_conn *c = db_pool_acquire(s->pool, 5000, &e);
        PGresult *r = c ? db_exec(c, "SELECT lower(address) FROM queues", 0, NULL, &e) : NULL;
        if (r != NULL) {
            cache_free(s);
            s->naddrs = (size_t)PQntuples(r);
            s->addrs = xcalloc(s->naddrs + 1, sizeof(*s->addrs));
            for (size_t i = 0; i < s->naddrs; i++)
                s->addrs[i] = xstrdup(PQgetvalue(r, (int)i, 0));
            s->cache_ok = true;
            s->cache_at = time_mono_ms();
            PQclear(r);
        } else {
            log_warn("smtp.queue_lookup_failed", "error=%s", e);
        }
        db_pool_release(s->pool, c);
    }
    int ok = s->cache_ok ? 0 : -1;
    for (size_t i = 0; ok == 0 && i < s->naddrs; i++)
        if (strcmp(s->addrs[i], base) == 0)
            ok = 1;
    pthread_mutex_unlock(&s->cache_mu);
    return ok;
}

/* ---- I/O -------------------------------------------------------------- */

static void reply(struct session *ss, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void reply(struct session *ss, const char *fmt, ...)
{
    va_list ap;
    char line[1024];
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    strbuf_adds(&ss->out, line);
    strbuf_adds(&ss->out, "\r\n");
}

static int flush_out(struct session *ss)
{
    size_t off = 0;
    while (off < ss->out.len) {
        int n;
        if (ss->ssl) {
            n = SSL_write(ss->ssl, ss->out.s + off, (int)(ss->out.len - off));
            if (n <= 0) {
                strbuf_reset(&ss->out);
                return -1;
            }
        } else {
            n = (int)send(ss->fd, ss->out.s + off, ss->out.len - off, MSG_NOSIGNAL);
            if (n < 0) {
                if (errno == EINTR)
                    continue;
                strbuf_reset(&ss->out);
                return -1;
            }
        }
        off += (size_t)n;
    }
    strbuf_reset(&ss->out);
    return 0;
}

/* Reads more input; replies are flushed first when nothing is buffered
 * (so pipelined commands get batched answers).  >0 ok, 0 EOF, -1 error. */
static int fill(struct session *ss)
{
    if (ss->rpos < ss->rlen)
        return 1;
    if (flush_out(ss) < 0)
        return -1;
    ss->rpos = ss->rlen = 0;
    if (!(ss->ssl && SSL_pending(ss->ssl) > 0)) {
        /* the wake pipe turns readable (for good) when atumd stops */
        struct pollfd pf[2] = { { ss->fd, POLLIN, 0 }, { ss->srv->wake[0], POLLIN, 0 } };
        int r;
        do {
            /* the deadline moves only with progress, not with every command */
            long long left = ss->progress_by_ms - time_mono_ms();
            r = poll(pf, 2, left <= 0 ? 0 : left > INT_MAX ? INT_MAX : (int)left);
        } while (r < 0 && errno == EINTR);
        if (r > 0 && pf[1].revents && !pf[0].revents) {
            ss->close_reason = "shutdown";
            reply(ss, "421 4.3.2 %s Service shutting down", ss->srv->hostname);
            flush_out(ss);
            return -1;
        }
        if (r == 0) {
            ss->close_reason = "idle timeout";
            reply(ss, "421 4.4.2 %s Idle timeout, closing connection", ss->srv->hostname);
            flush_out(ss);
            return -1;
        }
        if (r < 0)
            return -1;
    }
    int n;
    if (ss->ssl) {
        n = SSL_read(ss->ssl, ss->rbuf, sizeof(ss->rbuf));
        if (n <= 0)
            return SSL_get_error(ss->ssl, n) == SSL_ERROR_ZERO_RETURN ? 0 : -1;
    } else {
        do {
            n = (int)recv(ss->fd, ss->rbuf, sizeof(ss->rbuf), 0);
        } while (n < 0 && errno == EINTR);
        if (n < 0)
            return -1;
        if (n == 0)
            return 0;
    }
    ss->rlen = (size_t)n;
    return 1;
}

/* One line including its line end into line (at most max bytes kept; the
 * rest of a longer line is read and dropped, *too_long set).  1 a line,
 * 0 EOF, -1 error. */
static int read_line(struct session *ss, struct strbuf *line, size_t max, bool *too_long)
{
    strbuf_reset(line);
    *too_long = false;
    for (;;) {
        int f = fill(ss);
        if (f <= 0)
            return line->len > 0 && f == 0 ? 1 : f;
        char *start = ss->rbuf + ss->rpos;
        size_t avail = ss->rlen - ss->rpos;
        char *nl = memchr(start, '\n', avail);
        size_t take = nl ? (size_t)(nl - start) + 1 : avail;
        if (line->len + take > max) {
            *too_long = true;
            size_t room = max > line->len ? max - line->len : 0;
            strbuf_add(line, start, room);
        } else {
            strbuf_add(line, start, take);
        }
        ss->rpos += take;
        if (nl)
            return 1;
    }
}

/* ---- commands --------------------------------------------------------- */

static void progress(struct session *ss)
{
    ss->progress_by_ms = time_mono_ms() + ss->srv->o.idle_timeout_ms;
}

/* A command that moves no mail forward; 0 while the session may go on. */
static int junk(struct session *ss)
{
    if (++ss->junk <= ss->srv->o.max_junk_commands)
        return 0;
    reply(ss, "421 4.7.0 %s Too many commands without progress, closing connection", ss->srv->hostname);
    ss->close_reason = "too many commands without progress";
    metrics_counter_add("atum_smtp_sessions_cut_total", "reason=\"junk\"", 1);
    return -1;
}

static void reset_transaction(struct session *ss)
{
    ss->has_mail = false;
    ss->mail_from[0] = '\0';
    json_decref(ss->rcpts);
    ss->rcpts = json_array();
}

static void do_ehlo(struct session *ss, const struct smtp_cmd *cmd)
{
    struct smtpd *s = ss->srv;
    snprintf(ss->helo, sizeof(ss->helo), "%s", cmd->arg);
    ss->greeted = true;
    reset_transaction(ss);
    if (cmd->verb == SMTP_HELO) {
        reply(ss, "250 %s", s->hostname);
        return;
    }
    reply(ss, "250-%s Hello %s", s->hostname, ss->peer);
    reply(ss, "250-SIZE %lld", s->o.max_message_size);
    reply(ss, "250-PIPELINING");
    reply(ss, "250-8BITMIME");
    reply(ss, "250-SMTPUTF8");
    if (s->tls && ss->ssl == NULL)
        reply(ss, "250-STARTTLS");
    reply(ss, "250 ENHANCEDSTATUSCODES");
}

static int do_starttls(struct session *ss)
{
    struct smtpd *s = ss->srv;
    if (s->tls == NULL) {
        reply(ss, "454 4.7.0 TLS not available");
        return 0;
    }
    if (ss->ssl != NULL) {
        reply(ss, "503 5.5.1 TLS already active");
        return 0;
    }
    reply(ss, "220 2.0.0 Ready to start TLS");
    if (flush_out(ss) < 0)
        return -1;
    if (ss->rpos < ss->rlen) {
        /* plaintext pipelined after STARTTLS would be read as if it came
         * over TLS (CVE-2011-0411 class): refuse */
        ss->close_reason = "data pipelined after STARTTLS";
        return -1;
    }
    ss->ssl = SSL_new(s->tls);
    if (ss->ssl == NULL || SSL_set_fd(ss->ssl, ss->fd) != 1 || SSL_accept(ss->ssl) != 1) {
        ss->close_reason = "TLS handshake failed";
        return -1;
    }
    ss->greeted = false;         /* RFC 3207: start over */
    reset_transaction(ss);
    progress(ss);
    return 0;
}

static void do_mail(struct session *ss, const struct smtp_cmd *cmd)
{
    if (!ss->greeted) {
        reply(ss, "503 5.5.1 Say %s first", ss->srv->o.lmtp ? "LHLO" : "EHLO");
        ss->errors++;
        return;
    }
    if (ss->has_mail) {
        reply(ss, "503 5.5.1 Nested MAIL command");
        ss->errors++;
        return;
    }
    if (cmd->size > ss->srv->o.max_message_size) {
        reply(ss, "552 5.3.4 Message size exceeds fixed limit of %lld bytes", ss->srv->o.max_message_size);
        return;
    }
    ss->has_mail = true;
    snprintf(ss->mail_from, sizeof(ss->mail_from), "%s", cmd->path);
    reply(ss, "250 2.1.0 Ok");
}

static void do_rcpt(struct session *ss, const struct smtp_cmd *cmd)
{
    if (!ss->has_mail) {
        reply(ss, "503 5.5.1 Need MAIL before RCPT");
        ss->errors++;
        return;
    }
    if ((int)json_array_size(ss->rcpts) >= ss->srv->o.max_recipients) {
        reply(ss, "452 4.5.3 Too many recipients");
        return;
    }
    int ok = recipient_ok(ss->srv, cmd->path);
    if (ok < 0) {
        reply(ss, "451 4.3.0 Cannot check recipients right now, try again later");
        return;
    }
    if (ok == 0) {
        reply(ss, "550 5.1.1 <%s>: No such mailbox here (relay denied)", cmd->path);
        log_info("smtp.rcpt_refused", "peer=%s rcpt=%s", ss->peer, cmd->path);
        ss->errors++;
        return;
    }
    json_array_append_new(ss->rcpts, json_string(cmd->path));
    reply(ss, "250 2.1.5 Ok");
}

/* Stores the message; the reply depends on the commit. */
static void deliver(struct session *ss, const struct strbuf *msg)
{
    struct smtpd *s = ss->srv;
    const char *e = NULL;
    long long id = 0;
    json_t *env = json_pack("{s:s, s:O, s:s, s:s, s:b}", "mail_from", ss->mail_from,
                            "rcpt_to", ss->rcpts, "helo", ss->helo, "peer", ss->peer,
                            "tls", ss->ssl != NULL);
    char *envs = env ? json_dumps(env, JSON_COMPACT) : NULL;
    json_decref(env);
    struct db_conn *c = envs ? db_pool_acquire(s->pool, 10000, &e) : NULL;
    int rc = c ? inbound_store(c, s->o.lmtp ? "lmtp" : "smtp", 0, envs, msg->s ? msg->s : "",
                               msg->len, &id, &e) : -1;
    db_pool_release(s->pool, c);
    free(envs);
    size_t n = json_array_size(ss->rcpts);
    if (rc < 0) {
        log_error("smtp.store_failed", "peer=%s bytes=%zu error=%s", ss->peer, msg->len, e ? e : "?");
        metrics_counter_add("atum_smtp_messages_total", "result=\"tempfail\"", 1);
        for (size_t i = 0; i < (s->o.lmtp ? n : 1); i++)
            reply(ss, "451 4.3.0 Temporary failure storing the message, please retry");
        return;
    }
    log_info("smtp.accepted", "peer=%s inbound=%lld bytes=%zu rcpts=%zu from=%s", ss->peer, id,
             msg->len, n, ss->mail_from);
    ss->junk = 0;
    progress(ss);
    metrics_counter_add("atum_smtp_messages_total", "result=\"accepted\"", 1);
    if (s->o.lmtp) {
        for (size_t i = 0; i < n; i++)
            reply(ss, "250 2.1.5 <%s> Ok: queued as %lld",
                  json_string_value(json_array_get(ss->rcpts, i)), id);
    } else {
        reply(ss, "250 2.0.0 Ok: queued as %lld", id);
    }
}

static int do_data(struct session *ss)
{
    struct smtpd *s = ss->srv;
    if (!ss->has_mail) {
        reply(ss, "503 5.5.1 Need MAIL command");
        ss->errors++;
        return 0;
    }
    if (json_array_size(ss->rcpts) == 0) {
        reply(ss, "554 5.5.1 No valid recipients");
        ss->errors++;
        return 0;
    }
    reply(ss, "354 End data with <CR><LF>.<CR><LF>");
    struct strbuf msg = STRBUF_INIT;
    struct smtp_data d;
    smtp_data_init(&d, &msg, (size_t)s->o.max_message_size, (size_t)s->o.max_line);
    int ret = 0;
    while (d.state == SMTP_DATA_MORE) {
        int r = fill(ss);
        if (r <= 0) {
            ret = -1;          /* the client went away: nothing is stored */
            break;
        }
        progress(ss);          /* message bytes are arriving */
        ss->rpos += smtp_data_feed(&d, ss->rbuf + ss->rpos, ss->rlen - ss->rpos);
    }
    if (d.state == SMTP_DATA_BAD_EOL) {
        /* where this client thinks its data ends is unknowable: one answer,
         * then the connection is closed (what follows is never read as
         * commands) */
        reply(ss, "550 5.5.2 Bare <CR> or <LF> in the message: lines must end with <CR><LF>");
        log_warn("smtp.bare_eol", "peer=%s from=%s bytes=%zu hint=%s", ss->peer, ss->mail_from, d.total,
                 "refused: a CR or LF outside CRLF (SMTP smuggling or a broken client)");
        metrics_counter_add("atum_smtp_messages_total", "result=\"refused\"", 1);
        ss->close_reason = "bare CR or LF in DATA";
        ret = -1;
    }
    if (ret == 0) {
        size_t n = s->o.lmtp ? json_array_size(ss->rcpts) : 1;
        for (size_t i = 0; i < n; i++) {
            if (d.too_big)
                reply(ss, "552 5.3.4 Message size exceeds fixed limit of %lld bytes", s->o.max_message_size);
            else if (d.line_too_long)
                reply(ss, "552 5.3.4 Message has a line longer than %d bytes", s->o.max_line);
            else if (msg.len == 0)
                reply(ss, "554 5.6.0 Empty message refused");
        }
        if (!d.too_big && !d.line_too_long && msg.len > 0)
            deliver(ss, &msg);
        else
            metrics_counter_add("atum_smtp_messages_total", "result=\"refused\"", 1);
        reset_transaction(ss);
    }
    strbuf_free(&msg);
    return ret;
}

/* The session was cut: no more replies.  Tell the client we are done
 * sending and read what it still sends (bounded), so the last reply
 * reaches it instead of being discarded by a reset. */
static void linger(int fd)
{
    shutdown(fd, SHUT_WR);
    long long end = time_mono_ms() + LINGER_MS;
    size_t dropped = 0;
    char scratch[4096];
    while (dropped < LINGER_BYTES) {
        long long left = end - time_mono_ms();
        if (left <= 0)
            break;
        struct pollfd pf = { fd, POLLIN, 0 };
        if (poll(&pf, 1, (int)left) <= 0)
            break;
        ssize_t n = recv(fd, scratch, sizeof(scratch), MSG_DONTWAIT);
        if (n <= 0)
            break;
        dropped += (size_t)n;
    }
}

/* ---- sessions per client (under s->mu) -------------------------------- */

static void peer_key_of(const struct sockaddr_storage *sa, struct peer_key *k)
{
    memset(k, 0, sizeof(*k));
    if (sa->ss_family == AF_INET) {
        k->b[10] = k->b[11] = 0xff;
        memcpy(k->b + 12, &((const struct sockaddr_in *)sa)->sin_addr, 4);
    } else if (sa->ss_family == AF_INET6) {
        const struct in6_addr *a = &((const struct sockaddr_in6 *)sa)->sin6_addr;
        memcpy(k->b, a->s6_addr, IN6_IS_ADDR_V4MAPPED(a) ? 16 : 8);
    }
}

static struct peer_count *peer_find(struct smtpd *s, const struct peer_key *k)
{
    for (size_t i = 0; i < s->npeers; i++)
        if (memcmp(&s->peers[i].key, k, sizeof(*k)) == 0)
            return &s->peers[i];
    return NULL;
}

/* Counts one more session for k; false when k is at its limit. */
static bool peer_take(struct smtpd *s, const struct peer_key *k)
{
    struct peer_count *pc = peer_find(s, k);
    if (pc != NULL && pc->sessions >= s->o.max_connections_per_ip)
        return false;
    if (pc == NULL) {
        /* at most max_connections entries: one per session at most */
        pc = &s->peers[s->npeers++];
        pc->key = *k;
        pc->sessions = 0;
    }
    pc->sessions++;
    return true;
}

static void peer_release(struct smtpd *s, const struct peer_key *k)
{
    struct peer_count *pc = peer_find(s, k);
    if (pc == NULL)
        return;
    if (--pc->sessions == 0)
        *pc = s->peers[--s->npeers];
}

static void *session_main(void *arg)
{
    struct session *ss = arg;
    struct smtpd *s = ss->srv;
    struct strbuf line = STRBUF_INIT;
    char err[256];

    log_context_set("smtp_peer=%s", ss->peer);
    ss->rcpts = json_array();
    progress(ss);
    reply(ss, "220 %s %s ATUM DESK", s->hostname, s->o.lmtp ? "LMTP" : "ESMTP");
    for (;;) {
        bool too_long;
        int r = read_line(ss, &line, (size_t)s->o.max_line + 2, &too_long);
        if (r <= 0)
            break;
        if (atomic_load(&s->stopping)) {
            reply(ss, "421 4.3.2 %s Service shutting down", s->hostname);
            break;
        }
        if (too_long) {
            reply(ss, "500 5.5.2 Line too long");
            if (++ss->errors >= SMTP_MAX_ERRORS)
                break;
            continue;
        }
        struct smtp_cmd cmd;
        if (smtp_parse_command(line.s, line.len, &cmd, err, sizeof(err)) < 0) {
            reply(ss, "%s", err);
            if (++ss->errors >= SMTP_MAX_ERRORS) {
                reply(ss, "421 4.7.0 Too many errors, closing connection");
                break;
            }
            continue;
        }
        bool lmtp = s->o.lmtp;
        /* a greeting again, or commands that change nothing: no progress */
        bool idle_cmd = cmd.verb == SMTP_NOOP || cmd.verb == SMTP_RSET || cmd.verb == SMTP_VRFY
                        || cmd.verb == SMTP_HELP
                        || ((cmd.verb == SMTP_HELO || cmd.verb == SMTP_EHLO || cmd.verb == SMTP_LHLO)
                            && ss->greeted);
        if (idle_cmd && junk(ss) < 0)
            break;
        switch (cmd.verb) {
        case SMTP_HELO:
        case SMTP_EHLO:
            if (lmtp) {
                reply(ss, "500 5.5.1 This is LMTP: use LHLO");
                ss->errors++;
            } else {
                do_ehlo(ss, &cmd);
            }
            break;
        case SMTP_LHLO:
            if (!lmtp) {
                reply(ss, "500 5.5.1 This is SMTP: use EHLO");
                ss->errors++;
            } else {
                do_ehlo(ss, &cmd);
            }
            break;
        case SMTP_MAIL: do_mail(ss, &cmd); break;
        case SMTP_RCPT: do_rcpt(ss, &cmd); break;
        case SMTP_DATA:
            if (do_data(ss) < 0)
                goto out;
            break;
        case SMTP_RSET:
            reset_transaction(ss);
            reply(ss, "250 2.0.0 Ok");
            break;
        case SMTP_NOOP: reply(ss, "250 2.0.0 Ok"); break;
        case SMTP_VRFY: reply(ss, "252 2.5.2 Cannot VRFY, but will accept mail for queue addresses"); break;
        case SMTP_HELP: reply(ss, "214 2.0.0 See RFC 5321"); break;
        case SMTP_STARTTLS:
            if (do_starttls(ss) < 0)
                goto out;
            break;
        case SMTP_QUIT:
            reply(ss, "221 2.0.0 %s Bye", s->hostname);
            goto out;
        case SMTP_UNKNOWN:
            break;
        }
        if (ss->errors >= SMTP_MAX_ERRORS) {
            reply(ss, "421 4.7.0 Too many errors, closing connection");
            break;
        }
    }
out:
    flush_out(ss);
    if (ss->close_reason)
        log_info("smtp.closed", "reason=%s", ss->close_reason);
    if (ss->ssl) {
        SSL_shutdown(ss->ssl);
        SSL_free(ss->ssl);
    }
    if (ss->close_reason)
        linger(ss->fd);
    close(ss->fd);
    json_decref(ss->rcpts);
    strbuf_free(&ss->out);
    strbuf_free(&line);
    struct peer_key key = ss->key;
    free(ss);
    log_context_clear();
    pthread_mutex_lock(&s->mu);
    s->sessions--;
    peer_release(s, &key);
    pthread_cond_broadcast(&s->idle);
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

/* ---- accept ----------------------------------------------------------- */

static void *accept_main(void *arg)
{
    struct smtpd *s = arg;
    log_context_set("thread=smtp-accept");
    while (!atomic_load(&s->stopping)) {
        struct pollfd pf[2] = { { s->lfd, POLLIN, 0 }, { s->wake[0], POLLIN, 0 } };
        if (poll(pf, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        if (pf[1].revents)
            break;
        struct sockaddr_storage sa;
        socklen_t sl = sizeof(sa);
        int fd = accept4(s->lfd, (struct sockaddr *)&sa, &sl, SOCK_CLOEXEC);
        if (fd < 0)
            continue;
        char host[64] = "?", serv[16] = "?";
        getnameinfo((struct sockaddr *)&sa, sl, host, sizeof(host), serv, sizeof(serv),
                    NI_NUMERICHOST | NI_NUMERICSERV);
        struct peer_key key;
        peer_key_of(&sa, &key);
        pthread_mutex_lock(&s->mu);
        const char *refuse = NULL;
        if (s->sessions >= s->o.max_connections)
            refuse = "Too many connections";
        else if (!peer_take(s, &key))
            refuse = "Too many connections from your address";
        else
            s->sessions++;
        pthread_mutex_unlock(&s->mu);
        if (refuse != NULL) {
            char msg[300];
            int n = snprintf(msg, sizeof(msg), "421 4.7.0 %s %s, try again later\r\n", s->hostname, refuse);
            ssize_t w = send(fd, msg, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT);
            (void)w;
            close(fd);
            metrics_counter_add("atum_smtp_connections_refused_total", NULL, 1);
            log_info("smtp.refused", "peer=%s reason=\"%s\"", host, refuse);
            continue;
        }
        struct session *ss = xcalloc(1, sizeof(*ss));
        ss->srv = s;
        ss->fd = fd;
        ss->key = key;
        snprintf(ss->peer, sizeof(ss->peer), "%s:%s", host, serv);
        /* replies are small and flushed on purpose: no Nagle delay */
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        struct timeval tv = { (time_t)(s->o.idle_timeout_ms / 1000), 0 };
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));   /* TLS handshake */
        pthread_attr_t at;
        pthread_attr_init(&at);
        pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
        pthread_attr_setstacksize(&at, 256 * 1024);
        pthread_t th;
        if (pthread_create(&th, &at, session_main, ss) != 0) {
            close(fd);
            free(ss);
            pthread_mutex_lock(&s->mu);
            s->sessions--;
            peer_release(s, &key);
            pthread_mutex_unlock(&s->mu);
        }
        pthread_attr_destroy(&at);
    }
    log_context_clear();
    return NULL;
}

/* ---- start / stop ----------------------------------------------------- */

static int make_listener(const char *where, int *fd_r, int *port_r, const char **error_r)
{
    char host[256];
    snprintf(host, sizeof(host), "%s", where);
    char *colon = strrchr(host, ':');
    if (colon == NULL)
        return err_set(error_r, "smtp.listen must be HOST:PORT, not '%s'", where);
    *colon = '\0';
    const char *port = colon + 1;
    char *h = host;
    if (*h == '[') {                      /* [::1]:25 */
        h++;
        char *rb = strchr(h, ']');
        if (rb)
            *rb = '\0';
    }
    struct addrinfo hints, *ai = NULL;
    memset(&hints, 0, sizeof(hints));
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    int g = getaddrinfo(*h ? h : NULL, port, &hints, &ai);
    if (g != 0)
        return err_set(error_r, "smtp.listen %s: %s", where, gai_strerror(g));
    int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0
        || bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, 128) < 0) {
        const char *why = strerror(errno);
        if (fd >= 0)
            close(fd);
        freeaddrinfo(ai);
        return err_set(error_r, "SMTP cannot listen on %s: %s", where, why);
    }
    freeaddrinfo(ai);
    struct sockaddr_storage sa;
    socklen_t sl = sizeof(sa);
    getsockname(fd, (struct sockaddr *)&sa, &sl);
    *port_r = ntohs(sa.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&sa)->sin6_port
                                              : ((struct sockaddr_in *)&sa)->sin_port);
    *fd_r = fd;
    return 0;
}

static SSL_CTX *make_tls(const char *cert, const char *key, const char **error_r)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (ctx == NULL) {
        err_set(error_r, "SSL_CTX_new failed");
        return NULL;
    }
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1) {
        err_set(error_r, "smtp.tls_cert %s: %s", cert, ERR_reason_error_string(ERR_get_error()));
        SSL_CTX_free(ctx);
        return NULL;
    }
    if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1 || SSL_CTX_check_private_key(ctx) != 1) {
        err_set(error_r, "smtp.tls_key %s: %s", key, ERR_reason_error_string(ERR_get_error()));
        SSL_CTX_free(ctx);
        return NULL;
    }
    return ctx;
}

int smtpd_start(struct smtpd **s_r, const struct smtpd_opts *o, const char **error_r)
{
    struct smtpd *s = xcalloc(1, sizeof(*s));
    s->o = *o;
    s->listen = xstrdup(o->listen);
    s->o.listen = s->listen;
    s->db_url = xstrdup(o->db.url);
    s->o.db.url = s->db_url;
    s->lfd = -1;
    s->wake[0] = s->wake[1] = -1;
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->idle, NULL);
    pthread_mutex_init(&s->cache_mu, NULL);
    s->peers = xcalloc((size_t)(o->max_connections > 0 ? o->max_connections : 1), sizeof(*s->peers));
    if (s->o.max_connections_per_ip <= 0)
        s->o.max_connections_per_ip = s->o.max_connections;
    if (s->o.max_junk_commands <= 0)
        s->o.max_junk_commands = 20;
    if (o->hostname && *o->hostname)
        snprintf(s->hostname, sizeof(s->hostname), "%s", o->hostname);
    else if (gethostname(s->hostname, sizeof(s->hostname) - 1) != 0)
        snprintf(s->hostname, sizeof(s->hostname), "localhost");

    if (o->tls_cert && *o->tls_cert && o->tls_key && *o->tls_key) {
        s->tls = make_tls(o->tls_cert, o->tls_key, error_r);
        if (s->tls == NULL)
            goto fail;
    }
    if (make_listener(o->listen, &s->lfd, &s->port, error_r) < 0)
        goto fail;
    if (pipe2(s->wake, O_CLOEXEC) < 0) {
        err_set(error_r, "pipe: %s", strerror(errno));
        goto fail;
    }
    struct db_params p = s->o.db;
    p.application_name = "atumd-smtp";
    s->pool = db_pool_new(&p, o->db_connections > 0 ? o->db_connections : 4);
    if (pthread_create(&s->accept_thread, NULL, accept_main, s) != 0) {
        err_set(error_r, "cannot start the SMTP thread");
        goto fail;
    }
    s->accept_started = true;
    log_info("smtp.listening", "listen=%s port=%d mode=%s starttls=%s", o->listen, s->port,
             o->lmtp ? "lmtp" : "smtp", s->tls ? "yes" : "no");
    *s_r = s;
    return 0;
fail:
    smtpd_stop(&s);
    return -1;
}

int smtpd_port(const struct smtpd *s)
{
    return s->port;
}

void smtpd_stop(struct smtpd **sp)
{
    struct smtpd *s = *sp;
    if (s == NULL)
        return;
    atomic_store(&s->stopping, true);
    if (s->wake[1] >= 0) {
        ssize_t w = write(s->wake[1], "x", 1);
        (void)w;
    }
    if (s->accept_started)
        pthread_join(s->accept_thread, NULL);
    if (s->lfd >= 0)
        close(s->lfd);
    /* sessions notice `stopping` at their next command; idle ones are cut
     * at their idle timeout, so wait only a little for them */
    struct timespec dl;
    clock_gettime(CLOCK_REALTIME, &dl);
    dl.tv_sec += 5;
    pthread_mutex_lock(&s->mu);
    while (s->sessions > 0)
        if (pthread_cond_timedwait(&s->idle, &s->mu, &dl) != 0)
            break;
    int left = s->sessions;
    pthread_mutex_unlock(&s->mu);
    if (left > 0) {
        /* sessions still hold pointers into s: leave it to process exit */
        log_warn("smtp.stop_busy", "sessions=%d", left);
        *sp = NULL;
        return;
    }
    if (s->wake[0] >= 0)
        close(s->wake[0]);
    if (s->wake[1] >= 0)
        close(s->wake[1]);
    db_pool_free(&s->pool);
    if (s->tls)
        SSL_CTX_free(s->tls);
    cache_free(s);
    free(s->peers);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->idle);
    pthread_mutex_destroy(&s->cache_mu);
    free(s->listen);
    free(s->db_url);
    free(s);
    *sp = NULL;
}
