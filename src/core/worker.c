/* core/worker.c -- see core/worker.h. */
#include "config.h"
#include "core/worker.h"
#include "lib/err.h"
#include "core/jobrun.h"
#include "core/jobkind.h"
#include "lib/log.h"
#include "lib/metrics.h"
#include "core/plugin_loader.h"
#include "core/jobs.h"
#include "core/runtime.h"
#include "lib/util.h"
#include "lib/xalloc.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

struct worker {
    struct worker_pool *pool;
    int idx;
    pthread_t thread;
    char id[128];
    struct db_conn *db;
    /* completions not yet recorded (database was away) */
    long long *done;
    int ndone, done_cap;
    /* claimed jobs not started when the connection broke */
    long long *unrun;
    int nunrun, unrun_cap;
    /* the connection (db_conn_generation) whose leftovers were reclaimed */
    unsigned reclaimed_gen;
    atomic_bool exited;
};

struct worker_pool {
    struct worker_opts opts;
    struct runtime *rt;
    struct worker *w;
    int n;
    pthread_t listener;
    bool listener_started;
    int stop_fd;                 /* eventfd: wakes the listener's poll() */

    pthread_mutex_t mu;
    pthread_cond_t cv;
    int wake_tokens;
    atomic_bool stopping;
};

/* ---- sleeping and waking ---------------------------------------------- */

static void deadline_in(struct timespec *ts, long long ms)
{
    clock_gettime(CLOCK_MONOTONIC, ts);
    ts->tv_sec += ms / 1000;
    ts->tv_nsec += (ms % 1000) * 1000000;
    if (ts->tv_nsec >= 1000000000) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000;
    }
}

void worker_pool_wake(struct worker_pool *p, int n)
{
    pthread_mutex_lock(&p->mu);
    p->wake_tokens += n;
    if (p->wake_tokens > p->n)
        p->wake_tokens = p->n;
    if (n > 1)
        pthread_cond_broadcast(&p->cv);
    else
        pthread_cond_signal(&p->cv);
    pthread_mutex_unlock(&p->mu);
}

/* Sleeps until woken by work (consume_token) or just until stop / ms. */
static void pool_sleep(struct worker_pool *p, long long ms, bool consume_token)
{
    struct timespec dl;
    deadline_in(&dl, ms);
    pthread_mutex_lock(&p->mu);
    while (!atomic_load(&p->stopping) && !(consume_token && p->wake_tokens > 0)) {
        if (pthread_cond_timedwait(&p->cv, &p->mu, &dl) == ETIMEDOUT)
            break;
    }
    if (consume_token && p->wake_tokens > 0)
        p->wake_tokens--;
    pthread_mutex_unlock(&p->mu);
}

/* ---- finishing -------------------------------------------------------- */

static void done_add(struct worker *w, long long id)
{
    if (w->ndone == w->done_cap) {
        w->done_cap = w->done_cap ? w->done_cap * 2 : 64;
        w->done = xrealloc(w->done, (size_t)w->done_cap * sizeof(*w->done));
    }
    w->done[w->ndone++] = id;
}

/* Records pending completions.  Kept for later only if the connection is
 * what failed; any other error drops them (their leases expire and they
 * run again, which is the at-least-once fallback). */
static void done_flush(struct worker *w)
{
    const char *e = NULL;
    int finished = 0;
    if (w->ndone == 0)
        return;
    if (jobs_complete(w->db, w->id, w->done, w->ndone, w->pool->opts.keep_done, &finished, &e) < 0) {
        if (db_conn_is_up(w->db)) {
            log_error("job.complete_failed", "jobs=%d error=%s", w->ndone, e);
            w->ndone = 0;
        }
        return;
    }
    if (finished < w->ndone)
        log_warn("job.lease_lost", "jobs=%d recorded=%d hint=%s", w->ndone, finished,
                 "lease expired before completion; those jobs may run again");
    w->ndone = 0;
}

static void unrun_add(struct worker *w, const struct jobs_batch *b, int from)
{
    for (int k = from; k < b->n; k++) {
        if (w->nunrun == w->unrun_cap) {
            w->unrun_cap = w->unrun_cap ? w->unrun_cap * 2 : 64;
            w->unrun = xrealloc(w->unrun, (size_t)w->unrun_cap * sizeof(*w->unrun));
        }
        w->unrun[w->nunrun++] = b->jobs[k].id;
    }
}

/*
 * The connection broke while this worker held jobs, and is back: the
 * jobs it never started go back without spending an attempt, and the run
 * that was going on -- whose completion did not commit, or its row would
 * be gone -- is given back now rather than when its lease expires (five
 * minutes for a one-second blip).  Completions recorded by done_flush()
 * come first, so nothing that finished runs again.  0, or -1 to try again
 * on the next pass.
 */
static int reclaim(struct worker *w)
{
    const char *e = NULL;
    int released = 0;
    if (w->nunrun > 0 && jobs_release(w->db, w->id, w->unrun, w->nunrun, 0, &e) < 0)
        goto fail;
    if (jobs_release_orphans(w->db, w->id, &released, &e) < 0)
        goto fail;
    if (w->nunrun > 0 || released > 0)
        log_warn("job.reclaimed", "unstarted=%d interrupted=%d hint=%s", w->nunrun, released,
                 "the database connection broke while these jobs were held; they run again now");
    w->nunrun = 0;
    w->reclaimed_gen = db_conn_generation(w->db);
    return 0;
fail:
    if (db_conn_is_up(w->db)) {
        /* not the connection: leave them to their leases rather than loop */
        log_error("job.reclaim_failed", "error=%s", e);
        w->nunrun = 0;
        w->reclaimed_gen = db_conn_generation(w->db);
    }
    return -1;
}

static void record_failure(struct worker *w, const struct jobs_item *j, int rc,
                           const struct job_run *jr)
{
    const char *e = NULL;
    const char *why = jr->error[0] ? jr->error : "job failed without a message";
    char labels[160];

    if (rc == ATUM_JOB_PERMANENT || j->attempts >= j->max_attempts) {
        bool ours = false;
        if (rc == ATUM_JOB_PERMANENT) {
            if (jobs_dead(w->db, w->id, j->id, why, &ours, &e) < 0) {
                log_error("job.finish_failed", "job=%lld error=%s", j->id, e);
                return;
            }
        } else {
            char st[16];
            if (jobs_retry(w->db, w->id, j->id, 0, why, st, &e) < 0) {
                log_error("job.finish_failed", "job=%lld error=%s", j->id, e);
                return;
            }
            ours = st[0] != '\0';
        }
        if (!ours) {
            log_warn("job.lease_lost", "job=%lld kind=%s", j->id, j->kind);
            return;
        }
        log_error("job.dead", "job=%lld kind=%s attempts=%d error=%s", j->id, j->kind,
                  j->attempts, why);
        snprintf(labels, sizeof(labels), "kind=\"%s\",outcome=\"dead\"", j->kind);
        metrics_counter_add("atum_jobs_total", labels, 1);
        return;
    }

    long long delay = jr->retry_in_ms >= 0
        ? jr->retry_in_ms
        : jobs_backoff_ms(j->attempts, w->pool->opts.backoff_max_ms, rand_unit());
    char st[16];
    if (jobs_retry(w->db, w->id, j->id, delay, why, st, &e) < 0) {
        log_error("job.finish_failed", "job=%lld error=%s", j->id, e);
        return;
    }
    if (st[0] == '\0') {
        log_warn("job.lease_lost", "job=%lld kind=%s", j->id, j->kind);
        return;
    }
    log_warn("job.retry", "job=%lld kind=%s attempt=%d max=%d in_ms=%lld error=%s", j->id,
             j->kind, j->attempts, j->max_attempts, delay, why);
    snprintf(labels, sizeof(labels), "kind=\"%s\",outcome=\"retry\"", j->kind);
    metrics_counter_add("atum_jobs_total", labels, 1);
}

/* ---- running one job -------------------------------------------------- */

/* How long a job of a configured but stopped plugin waits before it is
 * looked at again. */
#define UNOWNED_KIND_WAIT_MS 60000

/* Whether the plugin named by the kind's prefix (before its first '.')
 * is configured on this node, running or not.  Caller holds rt's lock. */
static bool plugin_of_kind_configured(const struct runtime *rt, const char *kind)
{
    const char *dot = strchr(kind, '.');
    char name[72];
    if (dot == NULL || (size_t)(dot - kind) >= sizeof(name))
        return false;
    memcpy(name, kind, (size_t)(dot - kind));
    name[dot - kind] = '\0';
    return plugin_set_find(&rt->plugins, name) != NULL;
}

static void run_job(struct worker *w, const struct jobs_item *j)
{
    struct worker_pool *p = w->pool;
    struct runtime *rt = p->rt;
    const char *e = NULL;
    char labels[160];
    bool key_locked = false;

    runtime_rdlock(rt);
    const struct jobkind *k = jobkind_find(&rt->kinds, j->kind);
    if (k == NULL && plugin_of_kind_configured(rt, j->kind)) {
        /* The plugin that owns the kind ("plugin.verb") is configured
         * here but not running (an admin turned it off, or it failed to
         * start): its jobs wait for it instead of dying, and run when it
         * is back. */
        if (jobs_release(w->db, w->id, &j->id, 1, UNOWNED_KIND_WAIT_MS, &e) < 0)
            log_error("job.release_failed", "job=%lld error=%s", j->id, e);
        else
            log_info("job.waiting_for_plugin", "job=%lld kind=%s in_ms=%d", j->id, j->kind,
                     UNOWNED_KIND_WAIT_MS);
        goto out;
    }
    if (k == NULL) {
        char why[256];
        snprintf(why, sizeof(why), "unknown job kind '%s': no handler is registered in %s "
                 "(is the plugin that owns it enabled here?)", j->kind, p->opts.node_id);
        bool ours = false;
        if (jobs_dead(w->db, w->id, j->id, why, &ours, &e) < 0)
            log_error("job.finish_failed", "job=%lld error=%s", j->id, e);
        else if (ours)
            log_error("job.dead", "job=%lld kind=%s error=%s", j->id, j->kind, why);
        snprintf(labels, sizeof(labels), "kind=\"%s\",outcome=\"dead\"", j->kind);
        metrics_counter_add("atum_jobs_total", labels, 1);
        goto out;
    }

    long long lease = k->lease_ms > 0 ? k->lease_ms : p->opts.lease_ms;
    if (lease > p->opts.lease_ms) {
        int ours = 0;
        if (jobs_extend(w->db, w->id, &j->id, 1, lease, NULL, &ours, &e) < 0 || ours == 0)
            goto out;   /* lease lost or database away: not ours to run */
    }
    if (j->concurrency_key != NULL) {
        int got = jobs_key_lock(w->db, j->concurrency_key, &e);
        if (got <= 0) {
            /* another worker runs a job with this key: hand it back */
            if (got == 0)
                (void)jobs_release(w->db, w->id, &j->id, 1, 500, &e);
            goto out;
        }
        key_locked = true;
    }

    struct job_run jr;
    memset(&jr, 0, sizeof(jr));
    jr.pub.id = j->id;
    jr.pub.kind = j->kind;
    jr.pub.payload = j->payload;
    jr.pub.payload_len = j->payload_len;
    jr.pub.attempt = j->attempts;
    jr.pub.max_attempts = j->max_attempts;
    jr.pub.db = &jr.db;
    jr.db.conn = w->db;
    jr.db.rt = rt;
    jr.db.owner = k->owner;
    jr.worker = w->id;
    jr.lease_ms = lease;
    jr.retry_in_ms = -1;
    jr.keep_done = p->opts.keep_done;

    log_context_set("worker=%s job=%lld kind=%s attempt=%d", w->id, j->id, j->kind, j->attempts);
    snprintf(labels, sizeof(labels), "kind=\"%s\"", j->kind);
    metrics_observe("atum_job_wait_seconds", labels, j->wait_seconds);
    double t0 = time_mono_s();
    log_plugin_enter(k->owner);
    int rc = k->run(k->state, &jr.pub);
    log_plugin_leave();
    double run_s = time_mono_s() - t0;
    long long ms = (long long)(run_s * 1000);

    if (db_in_transaction(w->db)) {
        log_warn("job.tx_left_open", "hint=%s", "the handler returned inside a transaction; rolled back");
        db_rollback(w->db);
        jr.finished_in_tx = false;
        if (rc == ATUM_JOB_DONE) {
            rc = ATUM_JOB_RETRY;
            snprintf(jr.error, sizeof(jr.error), "handler returned with its transaction still open");
        }
    }
    if (rc != ATUM_JOB_DONE && rc != ATUM_JOB_RETRY && rc != ATUM_JOB_PERMANENT) {
        if (jr.error[0] == '\0')
            snprintf(jr.error, sizeof(jr.error), "handler returned unknown status %d", rc);
        rc = ATUM_JOB_RETRY;
    }
    log_context_set("worker=%s", w->id);

    snprintf(labels, sizeof(labels), "kind=\"%s\"", j->kind);
    metrics_counter_add("atum_job_seconds_total", labels, run_s);
    metrics_observe("atum_job_run_seconds", labels, run_s);
    if (rc != ATUM_JOB_DONE && strcmp(k->owner, "core") != 0) {
        snprintf(labels, sizeof(labels), "plugin=\"%s\",where=\"job\"", k->owner);
        metrics_counter_add("atum_plugin_errors_total", labels, 1);
    }
    if (rc == ATUM_JOB_DONE) {
        if (!jr.finished_in_tx)
            done_add(w, j->id);
        log_debug("job.done", "job=%lld kind=%s ms=%lld", j->id, j->kind, ms);
        snprintf(labels, sizeof(labels), "kind=\"%s\",outcome=\"done\"", j->kind);
        metrics_counter_add("atum_jobs_total", labels, 1);
    } else {
        /* a handler that completed in its transaction and then failed is
         * harmless here: the guarded update finds the job gone */
        record_failure(w, j, rc, &jr);
    }

out:
    if (key_locked)
        (void)jobs_key_unlock(w->db, j->concurrency_key, &e);
    runtime_rdunlock(rt);
}

/* ---- the worker loop -------------------------------------------------- */

static void run_batch(struct worker *w, const struct jobs_batch *b)
{
    struct worker_pool *p = w->pool;
    const char *e = NULL;
    long long renewed_at = time_mono_ms();
    bool *ours = xcalloc((size_t)b->n, sizeof(*ours));
    for (int i = 0; i < b->n; i++)
        ours[i] = true;

    for (int i = 0; i < b->n; i++) {
        if (atomic_load(&p->stopping)) {
            long long *rest = xcalloc((size_t)(b->n - i), sizeof(*rest));
            for (int k = i; k < b->n; k++)
                rest[k - i] = b->jobs[k].id;
            if (jobs_release(w->db, w->id, rest, b->n - i, 0, &e) < 0)
                log_warn("job.release_failed", "jobs=%d error=%s", b->n - i, e);
            free(rest);
            break;
        }
        /* Jobs waiting behind a slow one keep their lease. */
        if (time_mono_ms() - renewed_at > p->opts.lease_ms / 2) {
            int rest_n = b->n - i;
            long long *rest = xcalloc((size_t)rest_n, sizeof(*rest));
            for (int k = i; k < b->n; k++)
                rest[k - i] = b->jobs[k].id;
            if (jobs_extend(w->db, w->id, rest, rest_n, p->opts.lease_ms, ours + i, NULL, &e) < 0) {
                free(rest);
                if (!db_conn_is_up(w->db))
                    unrun_add(w, b, i);   /* given back when the connection returns */
                break;
            }
            free(rest);
            renewed_at = time_mono_ms();
        }
        if (!ours[i]) {
            log_warn("job.lease_lost", "job=%lld kind=%s", b->jobs[i].id, b->jobs[i].kind);
            continue;
        }
        run_job(w, &b->jobs[i]);
        if (!db_conn_is_up(w->db)) {
            unrun_add(w, b, i + 1);       /* given back when the connection returns */
            break;
        }
    }
    free(ours);
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    struct worker_pool *p = w->pool;
    const char *e = NULL;

    log_context_set("worker=%s", w->id);
    w->db = db_conn_new(&p->opts.db);
    while (!atomic_load(&p->stopping)) {
        if (db_conn_ensure(w->db, &e) < 0) {
            long long wait = db_conn_retry_in_ms(w->db);
            pool_sleep(p, wait < 50 ? 50 : wait > 1000 ? 1000 : wait, false);
            continue;
        }
        done_flush(w);
        if (w->ndone > 0)
            continue;
        /* a new connection: give back what the broken one left held */
        if (db_conn_generation(w->db) != w->reclaimed_gen && reclaim(w) < 0)
            continue;

        struct jobs_batch b;
        if (jobs_claim(w->db, w->id, p->opts.batch_size, p->opts.lease_ms, &b, &e) < 0) {
            if (db_conn_is_up(w->db)) {
                log_error("queue.claim_failed", "error=%s", e);
                pool_sleep(p, 1000, false);
            }
            continue;
        }
        if (b.n == 0) {
            pool_sleep(p, p->opts.poll_interval_ms, true);
            continue;
        }
        if (b.n == p->opts.batch_size)
            worker_pool_wake(p, 1);     /* more may be waiting: pass it on */
        run_batch(w, &b);
        jobs_batch_free(&b);
        done_flush(w);
    }
    if (db_conn_is_up(w->db))
        done_flush(w);
    db_conn_free(&w->db);
    free(w->done);
    w->done = NULL;
    free(w->unrun);
    w->unrun = NULL;
    log_context_clear();
    atomic_store(&w->exited, true);
    return NULL;
}

/* ---- the listener ----------------------------------------------------- */

static void *listener_main(void *arg)
{
    struct worker_pool *p = arg;
    const char *e = NULL;
    bool listening = false;
    struct db_params params = p->opts.db;
    params.application_name = "atumd-listener";
    struct db_conn *c = db_conn_new(&params);

    log_context_set("thread=listener");
    while (!atomic_load(&p->stopping)) {
        if (!listening || !db_conn_is_up(c)) {
            listening = false;
            if (db_conn_ensure(c, &e) < 0) {
                struct pollfd pf = { p->stop_fd, POLLIN, 0 };
                long long wait = db_conn_retry_in_ms(c);
                poll(&pf, 1, (int)(wait < 50 ? 50 : wait > 1000 ? 1000 : wait));
                continue;
            }
            if (db_command(c, "LISTEN " DB_NOTIFY_CHANNEL, &e) < 0)
                continue;
            listening = true;
            /* anything enqueued while we were not listening: look now */
            worker_pool_wake(p, p->n);
        }
        PGconn *pg = db_conn_pg(c);
        struct pollfd fds[2] = { { PQsocket(pg), POLLIN, 0 }, { p->stop_fd, POLLIN, 0 } };
        int r = poll(fds, 2, 10000);
        if (r < 0 && errno != EINTR)
            break;
        if (fds[1].revents)
            break;
        if (fds[0].revents == 0)
            continue;
        if (PQconsumeInput(pg) == 0) {
            listening = false;   /* ensure() sees the broken connection */
            continue;
        }
        int got = 0;
        PGnotify *n;
        while ((n = PQnotifies(pg)) != NULL) {
            got++;
            PQfreemem(n);
        }
        if (got > 0)
            worker_pool_wake(p, 1);
    }
    db_conn_free(&c);
    log_context_clear();
    return NULL;
}

/* ---- start / stop ----------------------------------------------------- */

int worker_pool_start(struct worker_pool **pool_r, const struct worker_opts *opts,
                      struct runtime *rt, const char **error_r)
{
    struct worker_pool *p = xcalloc(1, sizeof(*p));
    p->opts = *opts;
    p->rt = rt;
    p->n = opts->nworkers;
    p->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (p->stop_fd < 0) {
        free(p);
        return err_set(error_r, "eventfd: %s", strerror(errno));
    }
    pthread_mutex_init(&p->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&p->cv, &ca);
    pthread_condattr_destroy(&ca);

    p->w = xcalloc((size_t)p->n, sizeof(*p->w));
    int started = 0;
    for (int i = 0; i < p->n; i++) {
        struct worker *w = &p->w[i];
        w->pool = p;
        w->idx = i;
        snprintf(w->id, sizeof(w->id), "%s/w%d", opts->node_id, i);
        if (pthread_create(&w->thread, NULL, worker_main, w) != 0)
            break;
        started++;
    }
    if (started == p->n && pthread_create(&p->listener, NULL, listener_main, p) == 0)
        p->listener_started = true;
    if (!p->listener_started) {
        p->n = started;
        worker_pool_stop(&p, 5000);
        return err_set(error_r, "cannot start worker threads");
    }
    log_info("workers.started", "workers=%d batch=%d lease_ms=%lld", p->n, opts->batch_size,
             opts->lease_ms);
    *pool_r = p;
    return 0;
}

int worker_pool_stop(struct worker_pool **pp, long long timeout_ms)
{
    struct worker_pool *p = *pp;
    if (p == NULL)
        return 0;
    *pp = NULL;
    atomic_store(&p->stopping, true);
    uint64_t one = 1;
    ssize_t wr = write(p->stop_fd, &one, sizeof(one));
    (void)wr;
    pthread_mutex_lock(&p->mu);
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);

    struct timespec dl;
    clock_gettime(CLOCK_REALTIME, &dl);
    dl.tv_sec += timeout_ms / 1000;
    dl.tv_nsec += (timeout_ms % 1000) * 1000000;
    if (dl.tv_nsec >= 1000000000) {
        dl.tv_sec++;
        dl.tv_nsec -= 1000000000;
    }
    int busy = 0;
    for (int i = 0; i < p->n; i++) {
        if (pthread_timedjoin_np(p->w[i].thread, NULL, &dl) != 0) {
            busy++;
            log_warn("workers.stop_timeout", "worker=%s hint=%s", p->w[i].id,
                     "a job was still running at the shutdown deadline");
        }
    }
    if (p->listener_started && pthread_timedjoin_np(p->listener, NULL, &dl) != 0)
        busy++;
    if (busy > 0)
        return -1;   /* threads still use p: leave it to process exit */
    close(p->stop_fd);
    pthread_cond_destroy(&p->cv);
    pthread_mutex_destroy(&p->mu);
    int n = p->n;
    free(p->w);
    free(p);
    log_info("workers.stopped", "workers=%d", n);
    return 0;
}
