/* mailin/imap_check.c -- see mailin/imap_check.h. */
#include "config.h"
#include "mailin/imap_check.h"
#include "mailin/imap_session.h"
#include "core/runtime.h"
#include "lib/err.h"
#include "lib/xalloc.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/timerfd.h>
#include <unistd.h>

/* A descriptor that turns readable after ms: the session's reads and
 * waits give up at once then (imap_wire.h's cancel descriptors). */
static int deadline_fd(long long ms, const char **error_r)
{
    int fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
    if (fd < 0)
        return err_set(error_r, "timerfd_create: %s", strerror(errno));
    struct itimerspec its = { .it_value = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L } };
    if (timerfd_settime(fd, 0, &its, NULL) < 0) {
        close(fd);
        return err_set(error_r, "timerfd_settime: %s", strerror(errno));
    }
    return fd;
}

static bool expired(int fd)
{
    uint64_t n = 0;
    return read(fd, &n, sizeof(n)) == (ssize_t)sizeof(n) && n > 0;
}

int imap_check(const struct mailadmin_imap *box, long long read_timeout_ms, long long total_ms,
               const char *ca_file, struct mailadmin_report *rep, const char **error_r)
{
    mailadmin_report_init(rep);
    int tfd = deadline_fd(total_ms, error_r);
    if (tfd < 0)
        return -1;
    const char *sec = box->security ? box->security : "tls";
    bool tls = strcmp(sec, "tls") == 0, starttls = strcmp(sec, "starttls") == 0;
    struct imap_session_opts o = {
        .host = box->host, .port = box->port, .security = sec,
        .trust_any = box->trust_any_certificate, .ca_file = ca_file,
        .user = box->username ? box->username : "", .password = box->password ? box->password : "",
        .folder = box->folder && *box->folder ? box->folder : "INBOX", .examine = true,
        .read_timeout_ms = read_timeout_ms, .command_timeout_ms = total_ms,
        .max_message_size = IMAP_SESSION_SMALL, .cancel_fds = &tfd, .ncancel = 1,
    };
    struct imap_session *s = NULL;
    enum imap_session_step at = IMAP_STEP_CONNECT;
    char greeting[200];
    const char *why = NULL;
    int rc = imap_session_open_steps(&s, &o, &at, greeting, sizeof(greeting), &why);
    bool late = rc < 0 && expired(tfd);
    const char *timeout = late ? err_fmt(" (no answer within %lld s)", total_ms / 1000) : "";

    /* the steps that passed, then the one that failed */
    if (at == IMAP_STEP_CONNECT) {
        mailadmin_step(rep, "connect", false, "Could not reach an IMAP server at %s port %d: %s%s. "
                       "Check the host name and port, and that the server accepts connections "
                       "from this machine.", o.host, o.port, why ? why : "failed", timeout);
        goto out;
    }
    if (tls && at == IMAP_STEP_TLS)
        mailadmin_step(rep, "connect", true, "Connected to %s port %d.", o.host, o.port);
    else
        mailadmin_step(rep, "connect", true, "Connected to %s port %d; the server says: %s", o.host,
                       o.port, greeting[0] ? greeting : "(nothing)");
    if (tls || starttls) {
        if (at == IMAP_STEP_TLS) {
            mailadmin_step(rep, "tls", false, "%s failed: %s%s. Check the security setting (tls "
                           "usually on port 993, starttls on 143) and the server's certificate.",
                           tls ? "TLS" : "STARTTLS", why ? why : "failed", timeout);
            goto out;
        }
        mailadmin_step(rep, "tls", true, "%s established; %s.", tls ? "TLS" : "STARTTLS",
                       o.trust_any ? "the certificate was NOT checked (trust_any_certificate)"
                                   : "the certificate is valid for this host");
    }
    if (at == IMAP_STEP_LOGIN) {
        mailadmin_step(rep, "login", false, "Logging in failed -- %s%s. Check the user name and "
                       "the password.", why ? why : "failed", timeout);
        goto out;
    }
    mailadmin_step(rep, "login", true, "Logged in as %s.", o.user);
    if (at == IMAP_STEP_FOLDER) {
        mailadmin_step(rep, "folder", false, "The folder \"%s\" cannot be opened: %s%s. Check its "
                       "name (and the server's separator, e.g. INBOX/Support or INBOX.Support).",
                       o.folder, why ? why : "failed", timeout);
        goto out;
    }
    mailadmin_step(rep, "folder", true, "The folder \"%s\" exists and can be read.", o.folder);
out:
    imap_session_close(&s);      /* LOGOUT when it is in step */
    close(tfd);
    return 0;
}

static long long at_most(long long v, long long max)
{
    return v > 0 && v < max ? v : max;
}

static int imap_test(struct runtime *rt, const struct mailadmin_imap *box,
                     struct mailadmin_report *rep, const char **error_r)
{
    /* the settings, copied under the lock; the test runs without it */
    runtime_rdlock(rt);
    long long read_ms = at_most(rt->cfg->imap_timeout_ms, MAILADMIN_READ_MAX_MS);
    long long total_ms = at_most(rt->cfg->imap_command_timeout_ms, MAILADMIN_TEST_MAX_MS);
    char *ca = rt->cfg->imap_ca_file && *rt->cfg->imap_ca_file ? xstrdup(rt->cfg->imap_ca_file) : NULL;
    runtime_rdunlock(rt);
    int rc = imap_check(box, read_ms, total_ms, ca, rep, error_r);
    free(ca);
    return rc;
}

const struct mailadmin_in imap_check_ops = {
    .imap_test = imap_test,
};
