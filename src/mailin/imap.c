/* mailin/imap.c -- see mailin/imap.h. */
#include "config.h"
#include "mailin/imap.h"
#include "mailin/imap_poller.h"
#include "lib/err.h"
#include "lib/log.h"
#include "lib/util.h"
#include "lib/xalloc.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct imap_manager {
    struct imap_opts o;
    char *db_url, *node_id, *ca_file;
    struct imap_poller_env env;  /* shared by the pollers; points into this struct */
    pthread_t thread;
    bool started;
    atomic_bool stopping;
    atomic_bool done;            /* the manager thread has ended */
    int wake[2];                 /* readable when everything must stop */
    int exited[2];               /* a poller's thread ended */
    struct imap_poller **pollers;          /* one per enabled mailbox */
    size_t npollers;
    struct imap_poller **leaving;          /* asked to stop, not yet ended */
    size_t nleaving;
};

static void leave(struct imap_manager *m, struct imap_poller *p)
{
    imap_poller_stop(p);         /* returns at once */
    m->leaving = xrealloc(m->leaving, (m->nleaving + 1) * sizeof(*m->leaving));
    m->leaving[m->nleaving++] = p;
}

/* Joins the pollers that have ended. */
static void reap(struct imap_manager *m)
{
    char drain[64];
    while (read(m->exited[0], drain, sizeof(drain)) > 0)
        ;
    size_t out = 0;
    for (size_t i = 0; i < m->nleaving; i++) {
        struct imap_poller *p = m->leaving[i];
        if (imap_poller_exited(p)) {
            log_info("imap.mailbox_stopped", "mailbox=%s", imap_poller_name(p));
            imap_poller_free(&p);
        } else {
            m->leaving[out++] = p;
        }
    }
    m->nleaving = out;
}

static void start_poller(struct imap_manager *m, const struct imap_mailbox_row *row, size_t slot)
{
    struct imap_poller *p = NULL;
    const char *e = NULL;
    if (imap_poller_start(&p, &m->env, row, &e) < 0) {
        log_error("imap.thread_failed", "mailbox=%s error=%s", row->name, e);
        return;                  /* tried again at the next rescan */
    }
    if (slot < m->npollers) {
        m->pollers[slot] = p;
        return;
    }
    m->pollers = xrealloc(m->pollers, (m->npollers + 1) * sizeof(*m->pollers));
    m->pollers[m->npollers++] = p;
}

static void rescan(struct imap_manager *m, struct db_conn *c)
{
    const char *e = NULL;
    PGresult *r = db_exec(c,
        "SELECT id, name, host, port, security, trust_any_certificate, username,"
        "       coalesce(password_env, ''), folder, after_fetch, move_to, idle, poll_interval_s,"
        "       md5(concat_ws('|', name, host, port, security, trust_any_certificate, username,"
        "                     password_env, folder, after_fetch, move_to, idle, poll_interval_s))"
        "  FROM mailboxes WHERE enabled ORDER BY id", 0, NULL, &e);
    if (r == NULL) {
        log_warn("imap.rescan_failed", "error=%s", e);
        return;
    }
    bool *seen = xcalloc(m->npollers + 1, sizeof(*seen));
    size_t before = m->npollers;
    for (int row = 0; row < PQntuples(r); row++) {
        struct imap_mailbox_row mb = {
            .id = atoll(PQgetvalue(r, row, 0)),
            .name = PQgetvalue(r, row, 1),
            .host = PQgetvalue(r, row, 2),
            .port = atoi(PQgetvalue(r, row, 3)),
            .security = PQgetvalue(r, row, 4),
            .trust_any = strcmp(PQgetvalue(r, row, 5), "t") == 0,
            .user = PQgetvalue(r, row, 6),
            .password_env = PQgetvalue(r, row, 7),
            .folder = PQgetvalue(r, row, 8),
            .after = PQgetvalue(r, row, 9),
            .move_to = PQgetvalue(r, row, 10),
            .use_idle = strcmp(PQgetvalue(r, row, 11), "t") == 0,
            .poll_s = atoi(PQgetvalue(r, row, 12)),
            .hash = PQgetvalue(r, row, 13),
        };
        size_t slot = m->npollers;
        for (size_t i = 0; i < before; i++)
            if (m->pollers[i] != NULL && imap_poller_id(m->pollers[i]) == mb.id)
                slot = i;
        if (slot < before && strcmp(imap_poller_hash(m->pollers[slot]), mb.hash) == 0) {
            seen[slot] = true;
            continue;
        }
        if (slot < before) {     /* settings changed: a new poller, the old one leaves */
            log_info("imap.mailbox_changed", "mailbox=%s", mb.name);
            leave(m, m->pollers[slot]);
            m->pollers[slot] = NULL;
            seen[slot] = true;
        }
        start_poller(m, &mb, slot);
    }
    PQclear(r);
    /* gone or disabled mailboxes, and slots whose new poller did not start */
    size_t out = 0;
    for (size_t i = 0; i < m->npollers; i++) {
        struct imap_poller *p = m->pollers[i];
        if (p != NULL && i < before && !seen[i]) {
            log_info("imap.mailbox_stopping", "mailbox=%s", imap_poller_name(p));
            leave(m, p);
            p = NULL;
        }
        if (p != NULL)
            m->pollers[out++] = p;
    }
    m->npollers = out;
    free(seen);
}

static void *manager_main(void *arg)
{
    struct imap_manager *m = arg;
    const char *e = NULL;
    struct db_params dp = m->o.db;
    dp.application_name = "atumd-imap";
    struct db_conn *c = db_conn_new(&dp);
    log_context_set("thread=imap");
    long long next_rescan = 0;
    while (!atomic_load(&m->stopping)) {
        long long now = time_mono_ms();
        if (now >= next_rescan) {
            if (db_conn_ensure(c, &e) == 0)
                rescan(m, c);
            next_rescan = time_mono_ms() + m->o.rescan_ms;
        }
        long long left = next_rescan - time_mono_ms();
        struct pollfd pf[2] = { { m->wake[0], POLLIN, 0 }, { m->exited[0], POLLIN, 0 } };
        if (poll(pf, 2, left <= 0 ? 0 : left > 60000 ? 60000 : (int)left) > 0 && pf[1].revents)
            reap(m);
    }
    /* everything stops: ask all, then reap within a bound */
    for (size_t i = 0; i < m->npollers; i++)
        leave(m, m->pollers[i]);
    m->npollers = 0;
    long long end = time_mono_ms() + IMAP_STOP_WAIT_MS;
    reap(m);
    while (m->nleaving > 0) {
        long long left = end - time_mono_ms();
        if (left <= 0)
            break;
        struct pollfd pf = { m->exited[0], POLLIN, 0 };
        poll(&pf, 1, (int)left);
        reap(m);
    }
    if (m->nleaving > 0)
        log_warn("imap.stop_stuck", "pollers=%zu hint=%s", m->nleaving,
                 "a mailbox thread did not end in time (name lookup or database call); left to process exit");
    db_conn_free(&c);
    log_context_clear();
    atomic_store(&m->done, true);
    return NULL;
}

static void manager_free(struct imap_manager *m)
{
    for (int i = 0; i < 2; i++) {
        if (m->wake[i] >= 0)
            close(m->wake[i]);
        if (m->exited[i] >= 0)
            close(m->exited[i]);
    }
    free(m->pollers);
    free(m->leaving);
    free(m->db_url);
    free(m->node_id);
    free(m->ca_file);
    free(m);
}

int imap_start(struct imap_manager **m_r, const struct imap_opts *o, const char **error_r)
{
    struct imap_manager *m = xcalloc(1, sizeof(*m));
    m->o = *o;
    m->db_url = xstrdup(o->db.url);
    m->o.db.url = m->db_url;
    m->node_id = xstrdup(o->node_id ? o->node_id : "");
    m->o.node_id = m->node_id;
    m->ca_file = o->ca_file && *o->ca_file ? xstrdup(o->ca_file) : NULL;
    m->o.ca_file = m->ca_file;
    m->wake[0] = m->wake[1] = m->exited[0] = m->exited[1] = -1;
    if (pipe2(m->wake, O_CLOEXEC) < 0 || pipe2(m->exited, O_CLOEXEC | O_NONBLOCK) < 0) {
        err_set(error_r, "pipe: %s", strerror(errno));
        manager_free(m);
        return -1;
    }
    m->env = (struct imap_poller_env){
        .db = m->o.db,
        .node_id = m->node_id,
        .ca_file = m->ca_file,
        .idle_refresh_ms = o->idle_refresh_ms,
        .timeout_ms = o->timeout_ms,
        .command_timeout_ms = o->command_timeout_ms > 0 ? o->command_timeout_ms : 5 * o->timeout_ms,
        .reconnect_max_ms = o->reconnect_max_ms,
        .rescan_ms = o->rescan_ms,
        .max_message_size = o->max_message_size,
        .allow_insecure_loopback = o->allow_insecure_loopback,
        .stop_all_fd = m->wake[0],
        .exited_fd = m->exited[1],
    };
    if (pthread_create(&m->thread, NULL, manager_main, m) != 0) {
        manager_free(m);
        return err_set(error_r, "cannot start the IMAP thread");
    }
    m->started = true;
    *m_r = m;
    return 0;
}

void imap_stop(struct imap_manager **mp)
{
    struct imap_manager *m = *mp;
    if (m == NULL)
        return;
    atomic_store(&m->stopping, true);
    ssize_t w = write(m->wake[1], "x", 1);
    (void)w;
    pthread_join(m->thread, NULL);
    *mp = NULL;
    if (m->nleaving > 0)
        return;                  /* stuck pollers still point into m: left to process exit */
    manager_free(m);
}
