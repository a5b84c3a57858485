/* mailin/imap_poller.c -- see mailin/imap_poller.h. */
#include "config.h"
#include "mailin/imap_poller.h"
#include "mailin/imap_session.h"
#include "mailin/imap_store.h"
#include "desk/mailbox.h"
#include "lib/err.h"
#include "lib/log.h"
#include "lib/metrics.h"
#include "lib/util.h"
#include "lib/xalloc.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define RETRY_FIRST_MS 1000
#define PACE_MS 1000             /* between a pass and the previous one, after an empty wake-up */
#define PACE_FREE_WAKES 3        /* empty wake-ups in a row before the pause grows */
#define PACE_MAX_MS 30000
/* mails the server announced larger than it said, remembered per poller */
#define OVERSIZE_MAX 64

struct oversize {
    long long uidvalidity;
    uint32_t uid;
    long long size;
};

struct imap_poller {
    const struct imap_poller_env *env;
    long long id;
    char *name, *host, *security, *user, *pwenv, *folder, *after, *move_to, *hash;
    int port;
    bool trust_any, use_idle;
    int poll_s;

    pthread_t thread;
    bool started;
    atomic_bool stop;
    atomic_bool exited;
    int stop_pipe[2];            /* readable once the poller must stop */

    /* the thread's own, from here on */
    struct db_conn *db;
    struct imap_box box;
    struct imap_session *s;
    int held;                    /* held mails still in the folder (last pass) */
    int progress;                /* mails stored or held by the last pass */
    struct oversize oversize[OVERSIZE_MAX];
    size_t noversize;
};

/* Asked to stop, or everything stops (then the poller's own flag is set
 * too, so later checks are cheap). */
static bool should_stop(struct imap_poller *p)
{
    if (atomic_load(&p->stop))
        return true;
    struct pollfd pf = { p->env->stop_all_fd, POLLIN, 0 };
    if (poll(&pf, 1, 0) > 0 && pf.revents) {
        atomic_store(&p->stop, true);
        return true;
    }
    return false;
}

/* Sleeps up to ms; 0 when the time passed, -1 when the poller must stop. */
static int nap(struct imap_poller *p, long long ms)
{
    long long end = time_mono_ms() + ms;
    while (!should_stop(p)) {
        long long left = end - time_mono_ms();
        if (left <= 0)
            return 0;
        struct pollfd pf[2] = { { p->stop_pipe[0], POLLIN, 0 }, { p->env->stop_all_fd, POLLIN, 0 } };
        if (poll(pf, 2, left > 60000 ? 60000 : (int)left) > 0 && (pf[0].revents || pf[1].revents))
            atomic_store(&p->stop, true);
    }
    return -1;
}

static long long oversize_find(const struct imap_poller *p, uint32_t uid)
{
    for (size_t i = 0; i < p->noversize; i++)
        if (p->oversize[i].uid == uid && p->oversize[i].uidvalidity == p->box.uidvalidity)
            return p->oversize[i].size;
    return -1;
}

static void oversize_add(struct imap_poller *p, uint32_t uid, long long size)
{
    if (p->noversize == OVERSIZE_MAX) {      /* the oldest goes */
        memmove(p->oversize, p->oversize + 1, (OVERSIZE_MAX - 1) * sizeof(p->oversize[0]));
        p->noversize--;
    }
    p->oversize[p->noversize++] = (struct oversize){ p->box.uidvalidity, uid, size };
}

/* ---- one mail ------------------------------------------------------------ */

/* After the commit: \Seen, then move or delete as configured. */
static int after_fetch(struct imap_poller *p, uint32_t uid, const char **error_r)
{
    if (strcmp(p->after, "seen") == 0)
        return imap_session_flag_seen(p->s, uid, error_r);
    if (strcmp(p->after, "move") == 0)
        return imap_session_move(p->s, uid, p->move_to, error_r);
    return imap_session_delete(p->s, uid, error_r);
}

/* Records a mail as held, with its headers when the server gives them:
 * held all the same when it does not, so it is not asked for again. */
static int hold_uid(struct imap_poller *p, uint32_t uid, long long size, const char **error_r)
{
    char *hdr = NULL;
    size_t hlen = 0;
    long long id = 0;
    unsigned long long too_large = 0;
    const char *fetch_error = NULL;
    if (imap_session_fetch(p->s, uid, true, &hdr, &hlen, &too_large, &fetch_error) < 0)
        log_warn("imap.hold_headers_failed", "uid=%u error=%s", uid, fetch_error);
    int rc = imap_store_hold(p->db, &p->box, uid, size, hdr, hlen, &id, error_r);
    free(hdr);
    if (rc < 0)
        return -1;
    p->held++;
    p->progress++;
    log_error("imap.too_large", "uid=%u bytes=%lld max=%lld inbound=%lld hint=%s", uid, size,
              p->env->max_message_size, id,
              "left in the mailbox, not moved or deleted; raise mail.max_message_size to take it in");
    metrics_counter_add("atum_imap_held_total", NULL, 1);
    if (imap_session_broken(p->s))
        return err_set(error_r, "%s", fetch_error ? fetch_error : "connection out of step");
    return 0;
}

/* Fetches, stores, then flags/moves/deletes one mail; replaces > 0 is
 * the row of a held mail now taken in. */
static int take_in(struct imap_poller *p, uint32_t uid, long long replaces, const char **error_r)
{
    char *data = NULL;
    size_t len = 0;
    long long id = 0;
    unsigned long long announced = 0;
    if (imap_session_fetch(p->s, uid, false, &data, &len, &announced, error_r) < 0) {
        if (announced > 0) {
            /* the server said one size and sends another: hold it on the
             * next connection (this one is out of step now) */
            long long size = announced > (unsigned long long)LLONG_MAX ? LLONG_MAX : (long long)announced;
            oversize_add(p, uid, size);
            log_error("imap.literal_refused", "uid=%u announced=%llu max=%lld hint=%s", uid, announced,
                      p->env->max_message_size, "the server sends more than mail.max_message_size: holding the mail");
        }
        return -1;
    }
    if ((long long)len > p->env->max_message_size) {
        free(data);              /* the server's RFC822.SIZE was wrong (or missing) */
        if (replaces > 0) {
            p->held++;
            return 0;
        }
        return hold_uid(p, uid, (long long)len, error_r);
    }
    int rc = imap_store_mail(p->db, &p->box, uid, data, len, replaces, &id, error_r);
    free(data);
    if (rc < 0)
        return -1;
    if (rc == 1) {
        log_info("imap.already_stored", "uid=%u bytes=%zu hint=%s", uid, len, "same mail stored before: not stored again");
    } else {
        log_info("imap.stored", "uid=%u inbound=%lld bytes=%zu%s", uid, id, len, replaces > 0 ? " was_held=yes" : "");
        metrics_counter_add("atum_imap_messages_total", NULL, 1);
        p->progress++;
    }
    /* on failure: stored, so it is moved on the next pass */
    return after_fetch(p, uid, error_r);
}

/* ---- one pass ------------------------------------------------------------ */

static const struct imap_held *held_find(const struct imap_held *v, size_t n, uint32_t uid)
{
    for (size_t i = 0; i < n; i++)
        if (v[i].uid == uid)
            return &v[i];
    return NULL;
}

/* UIDs up to last_uid still in the folder: stored but not moved yet (a
 * crash in between), or held -- which are never moved or deleted. */
static int old_mails(struct imap_poller *p, const struct imap_held *held, size_t nheld, const char **error_r)
{
    bool seen_mode = strcmp(p->after, "seen") == 0;
    if (p->box.last_uid <= 0 || (seen_mode && nheld == 0))
        return 0;
    /* "seen" leaves every mail in place: look only where held ones are */
    uint32_t from = seen_mode ? held[0].uid : 1;
    uint32_t to = seen_mode ? held[nheld - 1].uid : (uint32_t)p->box.last_uid;
    uint32_t *uids = NULL;
    size_t n = 0;
    if (imap_session_search(p->s, from, to, &uids, &n, error_r) < 0)
        return -1;
    int ret = 0;
    for (size_t i = 0; i < n && !should_stop(p) && ret == 0; i++) {
        const struct imap_held *h = held_find(held, nheld, uids[i]);
        if (h != NULL && h->size > p->env->max_message_size)
            p->held++;
        else if (h != NULL)
            ret = take_in(p, uids[i], h->id, error_r);   /* the limit was raised */
        else if (!seen_mode)
            ret = after_fetch(p, uids[i], error_r);
    }
    free(uids);
    return ret;
}

static int new_mails(struct imap_poller *p, const char **error_r)
{
    uint32_t *uids = NULL;
    size_t n = 0;
    if (imap_session_search(p->s, (uint32_t)p->box.last_uid + 1, 0, &uids, &n, error_r) < 0)
        return -1;
    long long *sizes = xcalloc(n + 1, sizeof(*sizes));
    char **msgids = xcalloc(n + 1, sizeof(*msgids));
    bool *known = xcalloc(n + 1, sizeof(*known));
    int ret = -1;
    if (imap_session_fetch_info(p->s, uids, n, sizes, msgids, error_r) < 0)
        goto out;
    if (imap_store_known(p->db, &p->box, msgids, n, known, error_r) < 0)
        goto out;
    ret = 0;
    for (size_t i = 0; i < n && !should_stop(p) && ret == 0; i++) {
        long long announced = oversize_find(p, uids[i]);
        if (known[i]) {
            /* stored before under another UID (UIDVALIDITY changed, or a
             * crash before last_uid moved): not fetched again */
            log_debug("imap.known", "uid=%u message_id=%s", uids[i], msgids[i]);
            ret = after_fetch(p, uids[i], error_r);
            if (ret == 0)
                ret = imap_store_skip(p->db, &p->box, uids[i], error_r);
        } else if (announced >= 0) {
            ret = hold_uid(p, uids[i], announced, error_r);
        } else if (sizes[i] > p->env->max_message_size) {
            ret = hold_uid(p, uids[i], sizes[i], error_r);
        } else {
            ret = take_in(p, uids[i], 0, error_r);
        }
    }
out:
    for (size_t i = 0; i < n; i++)
        free(msgids[i]);
    free(msgids);
    free(known);
    free(sizes);
    free(uids);
    return ret;
}

static int pass(struct imap_poller *p, const char **error_r)
{
    struct imap_held *held = NULL;
    size_t nheld = 0;
    p->held = 0;
    p->progress = 0;
    int ret = -1;
    if (imap_store_held(p->db, &p->box, &held, &nheld, error_r) < 0)
        goto out;
    if (old_mails(p, held, nheld, error_r) < 0)
        goto out;
    if (new_mails(p, error_r) < 0)
        goto out;
    ret = 0;
out:
    free(held);
    return ret;
}

/* ---- a session ------------------------------------------------------------- */

/* The pause before the pass that follows a wake-up: none while wake-ups
 * bring mail, 1 s after one that brought nothing, doubling after
 * PACE_FREE_WAKES of those in a row. */
static long long pace_ms(int empty_wakes)
{
    if (empty_wakes == 0)
        return 0;
    if (empty_wakes <= PACE_FREE_WAKES)
        return PACE_MS;
    int shift = empty_wakes - PACE_FREE_WAKES;
    long long ms = shift >= 5 ? PACE_MAX_MS : (long long)PACE_MS << shift;
    return ms > PACE_MAX_MS ? PACE_MAX_MS : ms;
}

/* Connected and logged in: pass, wait, pass ... until an error or stop.
 * *good_r turns true once a pass completed. */
static int session(struct imap_poller *p, bool *good_r, const char **error_r)
{
    const struct imap_poller_env *env = p->env;
    /* only a mailbox password variable, only over a link allowed for it */
    const struct mailbox_link link = { p->host, p->security, p->trust_any };
    const char *pw = mailbox_password(p->pwenv[0] ? p->pwenv : NULL, &link, env->allow_insecure_loopback,
                                      error_r);
    if (pw == NULL)
        return -1;
    int cancel[2] = { p->stop_pipe[0], env->stop_all_fd };
    struct imap_session_opts so = {
        .host = p->host, .port = p->port, .security = p->security, .trust_any = p->trust_any,
        .ca_file = env->ca_file, .user = p->user, .password = pw, .folder = p->folder,
        .read_timeout_ms = env->timeout_ms, .command_timeout_ms = env->command_timeout_ms,
        .max_message_size = env->max_message_size, .cancel_fds = cancel, .ncancel = 2,
    };
    if (imap_session_open(&p->s, &so, error_r) < 0)
        return -1;
    bool changed = false;
    if (imap_store_position(p->db, &p->box, imap_session_uidvalidity(p->s), &changed, error_r) < 0)
        return -1;
    if (strcmp(p->after, "move") == 0 && imap_session_create(p->s, p->move_to, error_r) < 0)
        return -1;
    bool idle = p->use_idle && imap_session_has_idle(p->s);
    log_info("imap.connected", "server=%s:%d folder=%s idle=%s last_uid=%lld", p->host, p->port, p->folder,
             idle ? "yes" : "no", p->box.last_uid);
    long long last_pass = 0;
    int empty_wakes = 0;
    bool woke = false;
    while (!should_stop(p)) {
        if (woke) {
            /* a server that answers every IDLE at once with nothing new
             * gets a pass a second at most, then fewer and fewer */
            long long wait = last_pass + pace_ms(empty_wakes) - time_mono_ms();
            if (wait > 0) {
                log_debug("imap.paced", "ms=%lld empty_wakes=%d", wait, empty_wakes);
                if (nap(p, wait) < 0)
                    break;
            }
        }
        last_pass = time_mono_ms();
        (void)imap_session_take_exists(p->s);   /* what comes during the pass counts */
        if (pass(p, error_r) < 0)
            return -1;
        *good_r = true;
        if (woke)
            empty_wakes = p->progress > 0 ? 0 : empty_wakes + 1;
        imap_store_status(p->db, &p->box, NULL, p->held);
        if (should_stop(p))
            break;
        if (!db_conn_is_up(p->db))
            return err_set(error_r, "database connection lost (mailbox lock released)");
        if (imap_session_take_exists(p->s)) {
            /* mail arrived while the pass ran: the server told us in an
             * answer and will not say it again in IDLE */
            woke = true;
            continue;
        }
        if (idle) {
            int news = imap_session_idle(p->s, env->idle_refresh_ms, error_r);
            if (news < 0)
                return -1;
            woke = news == 1;
            if (!woke)
                log_debug("imap.idle_refresh", "after_ms=%lld", env->idle_refresh_ms);
        } else {
            woke = false;
            if (nap(p, (long long)p->poll_s * 1000) < 0)
                break;
            if (imap_session_noop(p->s, error_r) < 0)
                return -1;
        }
    }
    return 0;
}

static void *poller_main(void *arg)
{
    struct imap_poller *p = arg;
    const struct imap_poller_env *env = p->env;
    const char *e = NULL;
    long long retry_ms = RETRY_FIRST_MS;
    bool locked = false;
    unsigned gen = 0;

    log_context_set("mailbox=%s", p->name);
    struct db_params dp = env->db;
    dp.application_name = "atumd-imap";
    p->db = db_conn_new(&dp);
    while (!should_stop(p)) {
        if (db_conn_ensure(p->db, &e) < 0) {
            locked = false;
            nap(p, 1000);
            continue;
        }
        if (locked && db_conn_generation(p->db) != gen)
            locked = false;      /* a new connection holds no lock */
        if (!locked) {
            int got = imap_store_lock(p->db, &p->box, &e);
            if (got <= 0) {
                if (got < 0)
                    log_warn("imap.lock_failed", "error=%s", e);
                nap(p, env->rescan_ms);   /* another atumd has it */
                continue;
            }
            locked = true;
            gen = db_conn_generation(p->db);
        }
        bool good = false;
        int rc = session(p, &good, &e);
        imap_session_close(&p->s);
        if (should_stop(p))
            break;
        if (good)
            retry_ms = RETRY_FIRST_MS;   /* it worked for a while: start the count again */
        if (rc < 0) {
            log_warn("imap.error", "error=%s retry_ms=%lld", e, retry_ms);
            metrics_counter_add("atum_imap_errors_total", NULL, 1);
            if (db_conn_is_up(p->db))
                imap_store_status(p->db, &p->box, e, 0);
        }
        nap(p, retry_ms);
        retry_ms = retry_ms * 2 > env->reconnect_max_ms ? env->reconnect_max_ms : retry_ms * 2;
    }
    imap_session_close(&p->s);
    if (locked && db_conn_is_up(p->db))
        imap_store_unlocked(p->db, &p->box);
    db_conn_free(&p->db);        /* closes the connection: the lock goes with it */
    log_context_clear();
    atomic_store(&p->exited, true);
    ssize_t w = write(env->exited_fd, "x", 1);
    (void)w;
    return NULL;
}

/* ---- life --------------------------------------------------------------------- */

int imap_poller_start(struct imap_poller **p_r, const struct imap_poller_env *env,
                      const struct imap_mailbox_row *row, const char **error_r)
{
    struct imap_poller *p = xcalloc(1, sizeof(*p));
    p->env = env;
    p->id = row->id;
    p->name = xstrdup(row->name);
    p->host = xstrdup(row->host);
    p->security = xstrdup(row->security);
    p->user = xstrdup(row->user);
    p->pwenv = xstrdup(row->password_env ? row->password_env : "");
    p->folder = xstrdup(row->folder);
    p->after = xstrdup(row->after);
    p->move_to = xstrdup(row->move_to);
    p->hash = xstrdup(row->hash);
    p->port = row->port;
    p->trust_any = row->trust_any;
    p->use_idle = row->use_idle;
    p->poll_s = row->poll_s > 0 ? row->poll_s : 60;
    p->box = (struct imap_box){ .id = p->id, .name = p->name, .folder = p->folder, .node_id = env->node_id,
                                .max_message_size = env->max_message_size };
    p->stop_pipe[0] = p->stop_pipe[1] = -1;
    if (pipe2(p->stop_pipe, O_CLOEXEC) < 0) {
        err_set(error_r, "pipe: %s", strerror(errno));
        imap_poller_free(&p);
        return -1;
    }
    if (pthread_create(&p->thread, NULL, poller_main, p) != 0) {
        err_set(error_r, "cannot start the thread of mailbox %s", p->name);
        imap_poller_free(&p);
        return -1;
    }
    p->started = true;
    *p_r = p;
    return 0;
}

void imap_poller_stop(struct imap_poller *p)
{
    if (atomic_exchange(&p->stop, true))
        return;
    ssize_t w = write(p->stop_pipe[1], "x", 1);
    (void)w;
}

bool imap_poller_exited(const struct imap_poller *p)
{
    return !p->started || atomic_load(&p->exited);
}

void imap_poller_free(struct imap_poller **pp)
{
    struct imap_poller *p = *pp;
    if (p == NULL)
        return;
    if (p->started) {
        imap_poller_stop(p);
        pthread_join(p->thread, NULL);
    }
    for (int i = 0; i < 2; i++)
        if (p->stop_pipe[i] >= 0)
            close(p->stop_pipe[i]);
    free(p->name);
    free(p->host);
    free(p->security);
    free(p->user);
    free(p->pwenv);
    free(p->folder);
    free(p->after);
    free(p->move_to);
    free(p->hash);
    free(p);
    *pp = NULL;
}

long long imap_poller_id(const struct imap_poller *p)
{
    return p->id;
}

const char *imap_poller_name(const struct imap_poller *p)
{
    return p->name;
}

const char *imap_poller_hash(const struct imap_poller *p)
{
    return p->hash;
}
