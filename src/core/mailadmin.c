/* core/mailadmin.c -- see core/mailadmin.h. */
#include "config.h"
#include "core/mailadmin.h"
#include "core/runtime.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* The connection tests run on a thread of their own with this stack:
 * libetpan's IMAP parser and a TLS handshake need more than the web
 * server's worker threads have (it was a stack overflow on the first
 * greeting), and the caller waits for it anyway. */
#define TEST_STACK (8u * 1024 * 1024)

void mailadmin_report_init(struct mailadmin_report *rep)
{
    memset(rep, 0, sizeof(*rep));
    rep->ok = true;
}

void mailadmin_step(struct mailadmin_report *rep, const char *step, bool ok, const char *fmt, ...)
{
    if (!ok)
        rep->ok = false;
    if (rep->n >= MAILADMIN_MAX_STEPS)
        return;
    struct mailadmin_step *s = &rep->steps[rep->n++];
    s->step = step;
    s->ok = ok;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->detail, sizeof(s->detail), fmt, ap);
    va_end(ap);
}

json_t *mailadmin_report_json(const struct mailadmin_report *rep)
{
    json_t *steps = json_array();
    for (int i = 0; i < rep->n; i++) {
        const struct mailadmin_step *s = &rep->steps[i];
        json_t *detail = json_string(s->detail);
        if (detail == NULL)          /* a server's words that are not UTF-8 */
            detail = json_string("(the server's answer is not readable text)");
        json_array_append_new(steps, json_pack("{s:s, s:b, s:o}", "step", s->step, "ok", s->ok,
                                               "detail", detail));
    }
    return json_pack("{s:b, s:o}", "ok", rep->ok && rep->n > 0, "steps", steps);
}

/* The registered tables are static parts of the program, not of a plugin:
 * the pointer read under the lock stays valid after it. */
static const struct mailadmin_in *in_table(struct runtime *rt)
{
    runtime_rdlock(rt);
    const struct mailadmin_in *t = rt->mailadmin_in;
    runtime_rdunlock(rt);
    return t;
}

static const struct mailadmin_out *out_table(struct runtime *rt)
{
    runtime_rdlock(rt);
    const struct mailadmin_out *t = rt->mailadmin_out;
    runtime_rdunlock(rt);
    return t;
}

#define NO_MAILIN "this atumd does not run mail-in"
#define NO_MAILOUT "this atumd does not run mail-out"

struct test_run {
    const struct mailadmin_in *in;
    const struct mailadmin_out *out;
    struct runtime *rt;
    const struct mailadmin_imap *box;
    struct mailadmin_report *rep;
    int rc;
    char error[ERR_MAX];     /* the thread's error text outlives the thread */
};

static void *test_thread(void *arg)
{
    struct test_run *t = arg;
    const char *e = NULL;
    t->rc = t->in ? t->in->imap_test(t->rt, t->box, t->rep, &e)
                  : t->out->smarthost_test(t->rt, t->rep, &e);
    if (t->rc < 0)
        snprintf(t->error, sizeof(t->error), "%s", e ? e : "failed");
    return NULL;
}

static int run_test(struct test_run *t, const char **error_r)
{
    pthread_attr_t attr;
    pthread_t th;
    mailadmin_report_init(t->rep);
    if (pthread_attr_init(&attr) != 0)
        return err_set(error_r, "pthread_attr_init failed");
    int rc = pthread_attr_setstacksize(&attr, TEST_STACK);
    if (rc == 0)
        rc = pthread_create(&th, &attr, test_thread, t);
    pthread_attr_destroy(&attr);
    if (rc != 0)
        return err_set(error_r, "cannot start the test's thread: %s", strerror(rc));
    pthread_join(th, NULL);
    if (t->rc < 0)
        return err_set(error_r, "%s", t->error);
    return 0;
}

int mailadmin_imap_test(struct runtime *rt, const struct mailadmin_imap *box,
                        struct mailadmin_report *rep, const char **error_r)
{
    const struct mailadmin_in *t = rt ? in_table(rt) : NULL;
    if (t == NULL || t->imap_test == NULL)
        return err_set(error_r, NO_MAILIN);
    struct test_run run = { .in = t, .rt = rt, .box = box, .rep = rep };
    return run_test(&run, error_r);
}

int mailadmin_smarthost_test(struct runtime *rt, struct mailadmin_report *rep, const char **error_r)
{
    const struct mailadmin_out *t = rt ? out_table(rt) : NULL;
    if (t == NULL || t->smarthost_test == NULL)
        return err_set(error_r, NO_MAILOUT);
    struct test_run run = { .out = t, .rt = rt, .rep = rep };
    return run_test(&run, error_r);
}

json_t *mailadmin_outbox_list(struct runtime *rt, struct db_conn *c,
                              const struct mailadmin_outbox_query *q, struct err *err)
{
    const struct mailadmin_out *t = rt ? out_table(rt) : NULL;
    if (t == NULL || t->outbox_list == NULL) {
        err_raise(err, ERR_FAILED, NULL, NO_MAILOUT);
        return NULL;
    }
    return t->outbox_list(c, q, err);
}

int mailadmin_outbox_retry(struct runtime *rt, struct db_conn *c, long long id, int *recipients_r,
                           struct err *err)
{
    const struct mailadmin_out *t = rt ? out_table(rt) : NULL;
    if (t == NULL || t->outbox_retry == NULL)
        return err_raise(err, ERR_FAILED, NULL, NO_MAILOUT);
    runtime_rdlock(rt);              /* the retry reads the configuration */
    int rc = t->outbox_retry(c, rt, id, recipients_r, err);
    runtime_rdunlock(rt);
    return rc;
}

json_t *mailadmin_template_list(struct runtime *rt, struct db_conn *c, struct err *err)
{
    const struct mailadmin_out *t = rt ? out_table(rt) : NULL;
    if (t == NULL || t->template_list == NULL) {
        err_raise(err, ERR_FAILED, NULL, NO_MAILOUT);
        return NULL;
    }
    return t->template_list(c, err);
}

json_t *mailadmin_template_get(struct runtime *rt, struct db_conn *c,
                               const struct mailadmin_tmpl_scope *s, struct err *err)
{
    const struct mailadmin_out *t = rt ? out_table(rt) : NULL;
    if (t == NULL || t->template_get == NULL) {
        err_raise(err, ERR_FAILED, NULL, NO_MAILOUT);
        return NULL;
    }
    return t->template_get(c, s, err);
}

int mailadmin_template_put(struct runtime *rt, struct db_conn *c, const struct mailadmin_tmpl_scope *s,
                           const char *subject, const char *body, bool *created_r, struct err *err)
{
    const struct mailadmin_out *t = rt ? out_table(rt) : NULL;
    if (t == NULL || t->template_put == NULL)
        return err_raise(err, ERR_FAILED, NULL, NO_MAILOUT);
    return t->template_put(c, s, subject, body, created_r, err);
}

int mailadmin_template_reset(struct runtime *rt, struct db_conn *c,
                             const struct mailadmin_tmpl_scope *s, struct err *err)
{
    const struct mailadmin_out *t = rt ? out_table(rt) : NULL;
    if (t == NULL || t->template_reset == NULL)
        return err_raise(err, ERR_FAILED, NULL, NO_MAILOUT);
    return t->template_reset(c, s, err);
}

json_t *mailadmin_template_preview(struct runtime *rt, struct db_conn *c,
                                   const struct mailadmin_tmpl_scope *s, const char *subject,
                                   const char *body, struct err *err)
{
    const struct mailadmin_out *t = rt ? out_table(rt) : NULL;
    if (t == NULL || t->template_preview == NULL) {
        err_raise(err, ERR_FAILED, NULL, NO_MAILOUT);
        return NULL;
    }
    runtime_rdlock(rt);              /* the sample links use core.public_url */
    json_t *v = t->template_preview(c, rt, s, subject, body, err);
    runtime_rdunlock(rt);
    return v;
}
