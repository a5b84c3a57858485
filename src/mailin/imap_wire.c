/* mailin/imap_wire.c -- see mailin/imap_wire.h. */
#include "config.h"
#include "mailin/imap_wire.h"
#include "mail/imap_scan.h"
#include "mail/tlsverify.h"
#include "lib/err.h"
#include "lib/util.h"
#include "lib/xalloc.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* Literals allowed before the first command sets its own limit, and
 * what a command may read when it sets no budget. */
#define DEFAULT_MAX_LITERAL (64 * 1024)
#define DEFAULT_BUDGET (16u * 1024 * 1024)

struct imap_wire {
    int fd;
    SSL_CTX *tls_ctx;
    SSL *ssl;
    long long read_timeout_ms;
    int cancel[IMAP_WIRE_MAX_CANCEL];
    int ncancel;
    struct imap_scan scan;

    long long deadline_ms;       /* of the current command */
    size_t budget;               /* bytes the current command may read */
    size_t read_bytes;           /* ... and has read */

    enum imap_wire_fault fault;
    char detail[160];            /* what the fault was about */

    char ahead[8192];            /* read (and checked) before libetpan asked */
    size_t ahead_len, ahead_pos;
};

static int fault(struct imap_wire *w, enum imap_wire_fault f, const char *detail)
{
    if (w->fault == IMAP_WIRE_OK) {
        w->fault = f;
        snprintf(w->detail, sizeof(w->detail), "%s", detail ? detail : "");
    }
    return -1;
}

/* Waits until fd is ready for events, within the read timeout and the
 * command's deadline, watching the cancel descriptors.  0 ready, -1 with
 * the fault recorded. */
static int wait_io(struct imap_wire *w, short events)
{
    for (;;) {
        long long now = time_mono_ms();
        long long left = w->deadline_ms - now;
        if (left <= 0)
            return fault(w, IMAP_WIRE_DEADLINE, NULL);
        long long to = left < w->read_timeout_ms ? left : w->read_timeout_ms;
        struct pollfd pf[1 + IMAP_WIRE_MAX_CANCEL];
        pf[0] = (struct pollfd){ w->fd, events, 0 };
        for (int i = 0; i < w->ncancel; i++)
            pf[1 + i] = (struct pollfd){ w->cancel[i], POLLIN, 0 };
        int r = poll(pf, (nfds_t)(1 + w->ncancel), to > INT_MAX ? INT_MAX : (int)to);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return fault(w, IMAP_WIRE_IO, strerror(errno));
        }
        for (int i = 0; i < w->ncancel; i++)
            if (pf[1 + i].revents)
                return fault(w, IMAP_WIRE_CANCELLED, NULL);
        if (r == 0)
            return fault(w, to == left ? IMAP_WIRE_DEADLINE : IMAP_WIRE_TIMEOUT, NULL);
        if (pf[0].revents)
            return 0;            /* ready, or an error the next call reports */
    }
}

/* Checks what arrived before libetpan sees it. */
static int guard_input(struct imap_wire *w, const char *buf, size_t n)
{
    w->read_bytes += n;
    if (w->read_bytes > w->budget) {
        char d[80];
        snprintf(d, sizeof(d), "more than %zu bytes", w->budget);
        return fault(w, IMAP_WIRE_BUDGET, d);
    }
    switch (imap_scan_feed(&w->scan, buf, n)) {
    case IMAP_SCAN_OK:
        return 0;
    case IMAP_SCAN_LITERAL_TOO_LARGE:
        return fault(w, IMAP_WIRE_LITERAL_TOO_LARGE, NULL);
    case IMAP_SCAN_LINE_TOO_LONG:
        return fault(w, IMAP_WIRE_LINE_TOO_LONG, NULL);
    case IMAP_SCAN_TOO_DEEP:
        return fault(w, IMAP_WIRE_TOO_DEEP, NULL);
    }
    return fault(w, IMAP_WIRE_IO, "scanner");
}

static int tls_fault(struct imap_wire *w, int r)
{
    int e = SSL_get_error(w->ssl, r);
    if (e == SSL_ERROR_ZERO_RETURN || (e == SSL_ERROR_SYSCALL && ERR_peek_error() == 0 && errno == 0))
        return fault(w, IMAP_WIRE_CLOSED, NULL);
    unsigned long code = ERR_get_error();
    return fault(w, IMAP_WIRE_TLS, code ? ERR_reason_error_string(code) : "TLS failure");
}

/* Reads from the server, with every guard. */
static ssize_t raw_read(struct imap_wire *w, void *buf, size_t count)
{
    if (w->fault != IMAP_WIRE_OK)
        return -1;
    if (count > INT_MAX)
        count = INT_MAX;
    for (;;) {
        /* even when data is waiting: a flood must not outrun the deadline
         * or a cancel */
        bool buffered = w->ssl != NULL && SSL_pending(w->ssl) > 0;
        if (!buffered && wait_io(w, POLLIN) < 0)
            return -1;
        if (buffered && time_mono_ms() >= w->deadline_ms)
            return fault(w, IMAP_WIRE_DEADLINE, NULL);
        ssize_t n;
        if (w->ssl != NULL) {
            ERR_clear_error();
            errno = 0;
            int r = SSL_read(w->ssl, buf, (int)count);
            if (r <= 0) {
                int e = SSL_get_error(w->ssl, r);
                if (e == SSL_ERROR_WANT_READ)
                    continue;
                if (e == SSL_ERROR_WANT_WRITE) {
                    if (wait_io(w, POLLOUT) < 0)
                        return -1;
                    continue;
                }
                return tls_fault(w, r);
            }
            n = r;
        } else {
            n = recv(w->fd, buf, count, MSG_DONTWAIT);
            if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
                continue;
            if (n < 0)
                return fault(w, IMAP_WIRE_IO, strerror(errno));
            if (n == 0)
                return fault(w, IMAP_WIRE_CLOSED, NULL);
        }
        if (guard_input(w, buf, (size_t)n) < 0)
            return -1;
        return n;
    }
}

static ssize_t wire_write(struct imap_wire *w, const void *buf, size_t count)
{
    if (w->fault != IMAP_WIRE_OK)
        return -1;
    if (count > INT_MAX)
        count = INT_MAX;
    for (;;) {
        if (wait_io(w, POLLOUT) < 0)
            return -1;
        if (w->ssl != NULL) {
            ERR_clear_error();
            errno = 0;
            int r = SSL_write(w->ssl, buf, (int)count);
            if (r > 0)
                return r;
            int e = SSL_get_error(w->ssl, r);
            if (e == SSL_ERROR_WANT_WRITE)
                continue;
            if (e == SSL_ERROR_WANT_READ) {
                if (wait_io(w, POLLIN) < 0)
                    return -1;
                continue;
            }
            return tls_fault(w, r);
        }
        ssize_t n = send(w->fd, buf, count, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n > 0)
            return n;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
            continue;
        return fault(w, n == 0 ? IMAP_WIRE_CLOSED : IMAP_WIRE_IO, n == 0 ? NULL : strerror(errno));
    }
}

/* What was read ahead goes first. */
static ssize_t wire_read(struct imap_wire *w, void *buf, size_t count)
{
    if (w->ahead_pos < w->ahead_len) {
        size_t n = w->ahead_len - w->ahead_pos;
        if (n > count)
            n = count;
        memcpy(buf, w->ahead + w->ahead_pos, n);
        w->ahead_pos += n;
        return (ssize_t)n;
    }
    return raw_read(w, buf, count);
}

int imap_wire_greeting(struct imap_wire *w, char *line, size_t size, const char **error_r)
{
    char *nl = NULL;
    while (nl == NULL && w->ahead_len < sizeof(w->ahead)) {
        ssize_t n = raw_read(w, w->ahead + w->ahead_len, sizeof(w->ahead) - w->ahead_len);
        if (n < 0)
            return err_set(error_r, "%s", imap_wire_fault_text(w));
        w->ahead_len += (size_t)n;
        nl = memchr(w->ahead, '\n', w->ahead_len);
    }
    size_t len = nl ? (size_t)(nl - w->ahead) : w->ahead_len;
    if (len > 0 && w->ahead[len - 1] == '\r')
        len--;
    if (len >= size)
        len = size - 1;
    memcpy(line, w->ahead, len);
    line[len] = '\0';
    return 0;
}

/* ---- the libetpan driver ---------------------------------------------- */

static ssize_t drv_read(mailstream_low *low, void *buf, size_t count)
{
    return low->data ? wire_read(low->data, buf, count) : -1;
}

static ssize_t drv_write(mailstream_low *low, const void *buf, size_t count)
{
    return low->data ? wire_write(low->data, buf, count) : -1;
}

static int drv_close(mailstream_low *low)
{
    (void)low;                   /* the socket belongs to the wire */
    return 0;
}

static int drv_get_fd(mailstream_low *low)
{
    const struct imap_wire *w = low->data;
    return w ? w->fd : -1;
}

static void drv_free(mailstream_low *low)
{
    free(low);                   /* as libetpan's own drivers do */
}

static void drv_cancel(mailstream_low *low)
{
    (void)low;                   /* cancelled through the cancel descriptors */
}

static struct mailstream_cancel *drv_get_cancel(mailstream_low *low)
{
    (void)low;
    return NULL;
}

static carray *drv_get_certificate_chain(mailstream_low *low)
{
    (void)low;                   /* checked by imap_wire_verify() */
    return NULL;
}

static int drv_no_idle(mailstream_low *low)
{
    (void)low;
    return -1;
}

static mailstream_low_driver wire_driver = {
    .mailstream_read = drv_read,
    .mailstream_write = drv_write,
    .mailstream_close = drv_close,
    .mailstream_get_fd = drv_get_fd,
    .mailstream_free = drv_free,
    .mailstream_cancel = drv_cancel,
    .mailstream_get_cancel = drv_get_cancel,
    .mailstream_get_certificate_chain = drv_get_certificate_chain,
    .mailstream_setup_idle = drv_no_idle,
    .mailstream_unsetup_idle = drv_no_idle,
    .mailstream_interrupt_idle = drv_no_idle,
};

mailstream *imap_wire_mailstream(struct imap_wire *w)
{
    mailstream_low *low = mailstream_low_new(w, &wire_driver);
    if (low == NULL)
        return NULL;
    mailstream *s = mailstream_new(low, 8192);
    if (s == NULL)
        free(low);
    return s;
}

/* ---- connecting ------------------------------------------------------- */

static void wire_init(struct imap_wire *w, const struct imap_wire_opts *o, long long deadline_ms)
{
    w->fd = -1;
    w->read_timeout_ms = o->read_timeout_ms > 0 ? o->read_timeout_ms : 60000;
    w->ncancel = o->ncancel < IMAP_WIRE_MAX_CANCEL ? o->ncancel : IMAP_WIRE_MAX_CANCEL;
    for (int i = 0; i < w->ncancel; i++)
        w->cancel[i] = o->cancel_fds[i];
    imap_scan_init(&w->scan, DEFAULT_MAX_LITERAL, o->max_line ? o->max_line : 1 << 20,
                   o->max_depth ? o->max_depth : 64);
    w->deadline_ms = deadline_ms;
    w->budget = DEFAULT_BUDGET;
}

int imap_wire_connect(struct imap_wire **w_r, const char *host, int port,
                      const struct imap_wire_opts *o, long long deadline_ms, const char **error_r)
{
    struct imap_wire *w = xcalloc(1, sizeof(*w));
    wire_init(w, o, deadline_ms);
    char sport[16];
    snprintf(sport, sizeof(sport), "%d", port);
    struct addrinfo hints, *ai = NULL;
    memset(&hints, 0, sizeof(hints));
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV;
    int g = getaddrinfo(host, sport, &hints, &ai);
    if (g != 0) {
        free(w);
        return err_set(error_r, "connect %s:%d: %s", host, port, gai_strerror(g));
    }
    const char *why = "no address";
    for (struct addrinfo *a = ai; a != NULL; a = a->ai_next) {
        int fd = socket(a->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0) {
            why = strerror(errno);
            continue;
        }
        if (connect(fd, a->ai_addr, a->ai_addrlen) < 0 && errno != EINPROGRESS) {
            why = strerror(errno);
            close(fd);
            continue;
        }
        w->fd = fd;
        w->fault = IMAP_WIRE_OK;
        int soerr = 0;
        socklen_t sl = sizeof(soerr);
        if (wait_io(w, POLLOUT) < 0) {
            why = imap_wire_fault_text(w);
        } else if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0 || soerr != 0) {
            why = strerror(soerr ? soerr : errno);
        } else {
            freeaddrinfo(ai);
            int one = 1;
            setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
            *w_r = w;
            return 0;
        }
        close(fd);
        w->fd = -1;
        if (w->fault == IMAP_WIRE_CANCELLED || w->fault == IMAP_WIRE_DEADLINE)
            break;
    }
    freeaddrinfo(ai);
    err_set(error_r, "connect %s:%d: %s", host, port, why);
    free(w);
    return -1;
}

int imap_wire_start_tls(struct imap_wire *w, const char *server_name, long long deadline_ms,
                        const char **error_r)
{
    w->deadline_ms = deadline_ms;
    w->tls_ctx = SSL_CTX_new(TLS_client_method());
    if (w->tls_ctx == NULL)
        return err_set(error_r, "TLS: cannot set up");
    SSL_CTX_set_min_proto_version(w->tls_ctx, TLS1_2_VERSION);
    w->ssl = SSL_new(w->tls_ctx);
    if (w->ssl == NULL || SSL_set_fd(w->ssl, w->fd) != 1)
        return err_set(error_r, "TLS: cannot set up");
    unsigned char addr[16];
    if (inet_pton(AF_INET, server_name, addr) != 1 && inet_pton(AF_INET6, server_name, addr) != 1)
        SSL_set_tlsext_host_name(w->ssl, server_name);
    for (;;) {
        ERR_clear_error();
        errno = 0;
        int r = SSL_connect(w->ssl);
        if (r == 1)
            return 0;
        int e = SSL_get_error(w->ssl, r);
        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
            if (wait_io(w, e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT) < 0)
                return err_set(error_r, "TLS handshake: %s", imap_wire_fault_text(w));
            continue;
        }
        tls_fault(w, r);
        return err_set(error_r, "TLS handshake: %s", imap_wire_fault_text(w));
    }
}

int imap_wire_verify(struct imap_wire *w, const char *host, const char *ca_file, const char **error_r)
{
    if (w->ssl == NULL)
        return err_set(error_r, "no TLS session to verify");
    STACK_OF(X509) *chain = SSL_get_peer_cert_chain(w->ssl);   /* the leaf first (client side) */
    int n = chain ? sk_X509_num(chain) : 0;
    if (n <= 0)
        return err_set(error_r, "no certificate chain from %s", host);
    struct tls_der *der = xcalloc((size_t)n, sizeof(*der));
    unsigned char **bufs = xcalloc((size_t)n, sizeof(*bufs));
    int ret = 0;
    for (int i = 0; i < n && ret == 0; i++) {
        int len = i2d_X509(sk_X509_value(chain, i), &bufs[i]);
        if (len <= 0)
            ret = err_set(error_r, "certificate %d of %s cannot be encoded", i, host);
        der[i].data = bufs[i];
        der[i].len = len > 0 ? (size_t)len : 0;
    }
    if (ret == 0)
        ret = tls_verify_chain(der, (size_t)n, host, ca_file, error_r);
    for (int i = 0; i < n; i++)
        OPENSSL_free(bufs[i]);
    free(bufs);
    free(der);
    return ret;
}

/* ---- guards and state ------------------------------------------------- */

void imap_wire_command(struct imap_wire *w, long long deadline_ms, uint64_t max_literal, size_t budget)
{
    w->deadline_ms = deadline_ms;
    w->budget = budget ? budget : DEFAULT_BUDGET;
    w->read_bytes = 0;
    imap_scan_set_max_literal(&w->scan, max_literal);
}

enum imap_wire_fault imap_wire_fault(const struct imap_wire *w)
{
    return w->fault;
}

uint64_t imap_wire_refused_literal(const struct imap_wire *w)
{
    return w->scan.refused_literal;
}

const char *imap_wire_fault_text(const struct imap_wire *w)
{
    switch (w->fault) {
    case IMAP_WIRE_OK: return "no error";
    case IMAP_WIRE_TIMEOUT:
        return err_fmt("the server sent nothing for %lld ms", w->read_timeout_ms);
    case IMAP_WIRE_DEADLINE: return "the server did not finish its answer in time (imap.command_timeout)";
    case IMAP_WIRE_BUDGET: return err_fmt("the server's answer was too large (%s)", w->detail);
    case IMAP_WIRE_CANCELLED: return "stopped";
    case IMAP_WIRE_CLOSED: return "the server closed the connection";
    case IMAP_WIRE_IO: return err_fmt("connection error: %s", w->detail);
    case IMAP_WIRE_TLS: return err_fmt("TLS error: %s", w->detail);
    case IMAP_WIRE_LITERAL_TOO_LARGE:
        if (w->scan.refused_literal == UINT64_MAX)
            return err_fmt("the server announced a literal beyond 2^64 bytes (limit %llu)",
                           (unsigned long long)w->scan.max_literal);
        return err_fmt("the server announced a literal of %llu bytes (limit %llu)",
                       (unsigned long long)w->scan.refused_literal, (unsigned long long)w->scan.max_literal);
    case IMAP_WIRE_LINE_TOO_LONG:
        return err_fmt("the server sent a line longer than %zu bytes", w->scan.max_line);
    case IMAP_WIRE_TOO_DEEP:
        return err_fmt("the server nested parentheses deeper than %u", w->scan.max_depth);
    }
    return "?";
}

int imap_wire_wait(struct imap_wire *w, long long until_ms)
{
    if (w->fault != IMAP_WIRE_OK)
        return -1;
    if (w->ssl != NULL && SSL_pending(w->ssl) > 0)
        return 1;
    for (;;) {
        long long left = until_ms - time_mono_ms();
        if (left <= 0)
            return 0;
        struct pollfd pf[1 + IMAP_WIRE_MAX_CANCEL];
        pf[0] = (struct pollfd){ w->fd, POLLIN, 0 };
        for (int i = 0; i < w->ncancel; i++)
            pf[1 + i] = (struct pollfd){ w->cancel[i], POLLIN, 0 };
        int r = poll(pf, (nfds_t)(1 + w->ncancel), left > INT_MAX ? INT_MAX : (int)left);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return fault(w, IMAP_WIRE_IO, strerror(errno));
        }
        for (int i = 0; i < w->ncancel; i++)
            if (pf[1 + i].revents)
                return fault(w, IMAP_WIRE_CANCELLED, NULL);
        if (r > 0 && pf[0].revents)
            return 1;
    }
}

void imap_wire_free(struct imap_wire **wp)
{
    struct imap_wire *w = *wp;
    if (w == NULL)
        return;
    if (w->ssl != NULL)
        SSL_free(w->ssl);        /* no close_notify: the peer may be hostile or gone */
    if (w->tls_ctx != NULL)
        SSL_CTX_free(w->tls_ctx);
    if (w->fd >= 0)
        close(w->fd);
    free(w);
    *wp = NULL;
}
