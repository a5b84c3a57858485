/* mailout/outbox_send.c -- the mail.send job (the smarthost), delivery
 * reports, and operators' retries; see mailout/outbox.h. */
#include "config.h"
#include "mailout/outbox.h"
#include "mailout/outbox-private.h"
#include "core/event.h"
#include "desk/ticket.h"
#include "core/runtime.h"
#include "core/jobrun.h"
#include "core/jobs.h"
#include "lib/err.h"
#include "lib/log.h"
#include "lib/metrics.h"
#include "lib/util.h"
#include "lib/xalloc.h"
#include "mailout/smtp_client.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The outbox speaks on a ticket as the system: an internal note through
 * the desk (on the ticket a merged one went into). */
static int add_note(struct db_conn *c, struct runtime *rt, long long ticket_id, const char *text,
                    const char **error_r)
{
    static const struct desk_actor outbox = { .kind = DESK_SYSTEM, .via = "mail" };
    struct desk_tx tx = { c, rt, &outbox };
    struct message_new m = { .party = PARTY_NOTE, .subject = "Mail delivery", .body_text = text };
    struct err err;
    long long into = 0;
    if (ticket_survivor(&tx, ticket_id, &into, &err) < 0
        || ticket_post_message(&tx, into, &m, NULL, &err) < 0)
        return err_set(error_r, "delivery note: %s", err.text);
    return 0;
}

/* ---- bounces ---------------------------------------------------------- */

/* The overall state from the recipients' states. */
static const char *summarise_sql =
    "UPDATE outbound_mail o SET state = CASE"
    "   WHEN x.pending > 0 THEN o.state"
    "   WHEN x.bad = 0 THEN 'sent'"
    "   WHEN x.good = 0 THEN CASE WHEN o.state = 'expired' THEN 'expired' ELSE 'failed' END"
    "   ELSE 'partial' END"
    "  FROM (SELECT count(*) FILTER (WHERE state IN ('pending', 'deferred')) AS pending,"
    "               count(*) FILTER (WHERE state IN ('failed', 'bounced')) AS bad,"
    "               count(*) FILTER (WHERE state = 'sent') AS good"
    "          FROM outbound_recipients WHERE outbound_id = $1) x"
    " WHERE o.id = $1 RETURNING o.state";

int outbox_bounced(struct db_conn *c, struct runtime *rt, const char *rfc_message_id,
                   const char *recipient, const char *status, const char *diagnostic,
                   const char **error_r)
{
    const char *e = NULL;
    if (rfc_message_id == NULL)
        return 0;
    const char *p[] = { rfc_message_id };
    PGresult *r = db_exec(c, "SELECT id, coalesce(ticket_id, 0) FROM outbound_mail WHERE rfc_message_id = $1",
                          1, p, &e);
    if (r == NULL)
        return err_set(error_r, "bounce lookup: %s", e);
    if (PQntuples(r) == 0) {
        PQclear(r);
        return 0;
    }
    long long id = atoll(PQgetvalue(r, 0, 0)), ticket = atoll(PQgetvalue(r, 0, 1));
    PQclear(r);
    char sid[32];
    snprintf(sid, sizeof(sid), "%lld", id);
    char *why = xasprintf("bounced: %s%s%s", status ? status : "", diagnostic ? " " : "",
                          diagnostic ? diagnostic : "");
    /* a report read twice (reprocess) changes nothing the second time */
    const char *up[] = { sid, recipient, why };
    r = db_exec(c, "UPDATE outbound_recipients SET state = 'bounced', reply = $3, updated_at = now()"
                   " WHERE outbound_id = $1 AND ($2::text IS NULL OR lower(address) = lower($2))"
                   "   AND state <> 'bounced' RETURNING address",
                3, up, &e);
    int changed = r ? PQntuples(r) : 0;
    char *who = r && changed > 0 ? xstrdup(PQgetvalue(r, 0, 0)) : NULL;
    if (r != NULL && changed > 0) {
        PQclear(r);
        const char *sp[] = { sid };
        r = db_exec(c, summarise_sql, 1, sp, &e);
    }
    int ret = -1;
    if (r == NULL) {
        err_set(error_r, "bounce: %s", e);
        goto out;
    }
    PQclear(r);
    if (changed > 0) {
        log_warn("outbox.bounced", "outbound=%lld ticket=%lld to=%s %s", id, ticket, who, why);
        metrics_counter_add("atum_outbox_bounced_total", NULL, 1);
        db_count_on_commit(c, "atum_mail_deliveries_total", "result=\"bounced\"");
    }
    if (changed > 0 && ticket > 0) {
        char *note = xasprintf("Mail %lld to %s %s", id, who, why);
        int rc = add_note(c, rt, ticket, note, error_r);
        free(note);
        if (rc < 0)
            goto out;
    }
    ret = 0;
out:
    free(who);
    free(why);
    return ret;
}

/* ---- the mail.send job ------------------------------------------------ */

/* retry_min, doubled per attempt up to retry_max, +-10 % */
static long long retry_delay_ms(const struct atum_config *cfg, int attempt)
{
    double d = (double)cfg->sh_retry_min_ms;
    for (int i = 1; i < attempt && d < (double)cfg->sh_retry_max_ms; i++)
        d *= 2.0;
    if (d > (double)cfg->sh_retry_max_ms)
        d = (double)cfg->sh_retry_max_ms;
    return (long long)(d * (0.9 + 0.2 * rand_unit()));
}

struct send_state {
    struct db_conn *c;
    long long id;
};

/* The point of no return: recorded before the final "." goes out. */
static void mark_data_end(void *arg)
{
    struct send_state *s = arg;
    char sid[32];
    const char *e = NULL;
    snprintf(sid, sizeof(sid), "%lld", s->id);
    const char *p[] = { sid };
    PGresult *r = db_exec(s->c, "UPDATE outbound_mail SET stage = 'data_end' WHERE id = $1", 1, p, &e);
    if (r == NULL)
        log_warn("outbox.mark_failed", "outbound=%lld error=%s", s->id, e);
    PQclear(r);
}

static int exec1(struct db_conn *c, const char *sql, int n, const char *const *p, const char **error_r)
{
    PGresult *r = db_exec(c, sql, n, p, error_r);
    if (r == NULL)
        return -1;
    PQclear(r);
    return 0;
}

static void emit_failure(struct runtime *rt, struct db_conn *c, long long ticket, long long id,
                         const char *state)
{
    const char *e = NULL;
    json_t *ev = json_pack("{s:I, s:I, s:s}", "ticket_id", (json_int_t)ticket, "outbound_id",
                           (json_int_t)id, "state", state);
    char *s = ev ? json_dumps(ev, JSON_COMPACT) : NULL;
    json_decref(ev);
    if (s && event_emit(rt, c, "mail.failed", s, &e) < 0)
        log_warn("outbox.event_failed", "error=%s", e);
    free(s);
}

/* Finishes an outbound mail whose recipients are all settled: overall
 * state, a note on the ticket for failures, the event. */
static int settle(struct db_conn *c, struct runtime *rt, long long id, long long ticket,
                  const char **error_r)
{
    char sid[32];
    const char *e = NULL;
    snprintf(sid, sizeof(sid), "%lld", id);
    const char *p[] = { sid };
    PGresult *r = db_exec(c, summarise_sql, 1, p, &e);
    if (r == NULL)
        return err_set(error_r, "%s", e);
    char state[16] = "";
    if (PQntuples(r) > 0)
        snprintf(state, sizeof(state), "%s", PQgetvalue(r, 0, 0));
    PQclear(r);
    if (strcmp(state, "sent") == 0) {
        if (exec1(c, "UPDATE outbound_mail SET sent_at = now(), stage = NULL WHERE id = $1", 1, p, &e) < 0)
            return err_set(error_r, "%s", e);
        metrics_counter_add("atum_outbox_sent_total", NULL, 1);
        return 0;
    }
    if (strcmp(state, "failed") == 0 || strcmp(state, "partial") == 0 || strcmp(state, "expired") == 0) {
        r = db_exec(c, "SELECT string_agg(address || ': ' || coalesce(reply, state), '; ')"
                       "  FROM outbound_recipients WHERE outbound_id = $1 AND state IN ('failed', 'bounced')",
                    1, p, &e);
        if (r == NULL)
            return err_set(error_r, "%s", e);
        char *note = xasprintf("Mail %lld could not be delivered (%s): %s", id, state,
                               PQgetisnull(r, 0, 0) ? "" : PQgetvalue(r, 0, 0));
        PQclear(r);
        int rc = ticket > 0 ? add_note(c, rt, ticket, note, error_r) : 0;
        log_warn("outbox.failed", "outbound=%lld state=%s detail=%s", id, state, note);
        free(note);
        if (rc < 0)
            return -1;
        if (exec1(c, "UPDATE outbound_mail SET stage = NULL WHERE id = $1", 1, p, &e) < 0)
            return err_set(error_r, "%s", e);
        emit_failure(rt, c, ticket, id, state);
        metrics_counter_add("atum_outbox_failed_total", NULL, 1);
        if (strcmp(state, "expired") == 0)
            db_count_on_commit(c, "atum_mail_deliveries_total", "result=\"expired\"");
    }
    return 0;
}

/* Settles a mail without sending it: the recipients' and the mail's new
 * state (each statement takes the outbound id), the ticket note or event
 * settle() gives, the job's completion -- one transaction. */
static int close_out(struct atum_job *job, long long id, long long ticket, const char *recipients_sql,
                     const char *mail_sql)
{
    struct db_conn *c = job->db->conn;
    const char *e = NULL;
    char sid[32];
    snprintf(sid, sizeof(sid), "%lld", id);
    const char *p[] = { sid };
    if (db_begin(c, &e) < 0 || exec1(c, recipients_sql, 1, p, &e) < 0 || exec1(c, mail_sql, 1, p, &e) < 0
        || settle(c, job->db->rt, id, ticket, &e) < 0 || jobrun_complete_in_tx(job, &e) < 0) {
        db_rollback(c);
        return jobrun_fail(job, JOBRUN_RETRY, "%s", e);
    }
    if (db_commit(c, &e) < 0)
        return jobrun_fail(job, JOBRUN_RETRY, "%s", e);
    return ATUM_JOB_DONE;
}

int outbox_send_run(void *state, struct atum_job *job)
{
    (void)state;
    struct db_conn *c = job->db->conn;
    struct runtime *rt = job->db->rt;
    const struct atum_config *cfg = rt->cfg;
    const char *e = NULL;
    json_t *pl = json_loads(job->payload, 0, NULL);
    long long id = (long long)json_integer_value(json_object_get(pl, "outbound_id"));
    long long mid = (long long)json_integer_value(json_object_get(pl, "message_id"));
    json_decref(pl);
    PGresult *r = NULL;
    char **rcpts = NULL;
    struct smtp_rcpt_result *res = NULL;
    size_t n = 0;
    int rc = ATUM_JOB_RETRY;

    if (id <= 0 && mid > 0) {
        /* a reply saved elsewhere (the API): build its mail first, once */
        struct err err = { ERR_OK, NULL, NULL };
        if (db_begin(c, &e) < 0)
            return jobrun_fail(job, JOBRUN_RETRY, "%s", e);
        if (outbox_reply_build(c, cfg, mid, false, &id, &err) < 0) {
            db_rollback(c);
            /* a message that is gone or not public will never be mailed */
            return jobrun_fail(job, err.code == ERR_FAILED ? JOBRUN_RETRY : JOBRUN_PERMANENT, "%s",
                               err.text);
        }
        if (db_commit(c, &e) < 0)
            return jobrun_fail(job, JOBRUN_RETRY, "%s", e);
    }
    if (id <= 0)
        return jobrun_fail(job, JOBRUN_PERMANENT, "payload names no outbound_id or message_id");

    char sid[32];
    snprintf(sid, sizeof(sid), "%lld", id);
    const char *p[] = { sid };
    r = db_exec_bin(c, "SELECT raw, state, coalesce(stage, ''), mail_from, coalesce(ticket_id, 0)::text,"
                       "       (extract(epoch FROM now() - queued_at) * 1000)::bigint::text"
                       "  FROM outbound_mail WHERE id = $1", 1, p, NULL, NULL, 1, &e);
    if (r == NULL)
        return jobrun_fail(job, JOBRUN_RETRY, "loading outbound mail %lld: %s", id, e);
    if (PQntuples(r) == 0) {
        PQclear(r);
        return jobrun_fail(job, JOBRUN_PERMANENT, "no outbound mail %lld", id);
    }
    const char *st = PQgetvalue(r, 0, 1);
    const char *stage = PQgetvalue(r, 0, 2);
    long long ticket = atoll(PQgetvalue(r, 0, 4));
    long long age_ms = atoll(PQgetvalue(r, 0, 5));
    if (strcmp(st, "queued") != 0 && strcmp(st, "sending") != 0) {
        PQclear(r);
        return ATUM_JOB_DONE;      /* settled already */
    }
    if (strcmp(stage, "data_end") == 0) {
        /* an earlier attempt sent the whole message and then stopped
         * before recording the answer: sending again could deliver it
         * twice, so it counts as sent, flagged unconfirmed */
        PQclear(r);
        log_warn("outbox.unconfirmed", "outbound=%lld hint=%s", id,
                 "the previous attempt died after transmitting the message; not sent again");
        return close_out(job, id, ticket,
                         "UPDATE outbound_recipients SET state = 'sent', updated_at = now(),"
                         " reply = 'unconfirmed: the sending worker stopped after the message was transmitted'"
                         " WHERE outbound_id = $1 AND state IN ('pending', 'deferred')",
                         "UPDATE outbound_mail SET unconfirmed = true WHERE id = $1");
    }
    if (age_ms > cfg->sh_retry_for_ms) {
        PQclear(r);
        return close_out(job, id, ticket,
                         "UPDATE outbound_recipients SET state = 'failed', updated_at = now(),"
                         " reply = 'expired: ' || coalesce(reply, 'never delivered')"
                         " WHERE outbound_id = $1 AND state IN ('pending', 'deferred')",
                         "UPDATE outbound_mail SET state = 'expired', stage = NULL WHERE id = $1");
    }
    if (cfg->sh_url == NULL || cfg->sh_url[0] == '\0') {
        PQclear(r);
        jobrun_retry_in(job, OUTBOX_NO_SMARTHOST_WAIT);
        return jobrun_fail(job, JOBRUN_RETRY, "no smarthost configured ([smarthost] url): the mail waits");
    }
    size_t len = (size_t)PQgetlength(r, 0, 0);
    char *raw = xmalloc(len + 1);
    memcpy(raw, PQgetvalue(r, 0, 0), len);
    char *from = xstrdup(PQgetvalue(r, 0, 3));
    PQclear(r);
    r = db_exec(c, "SELECT address FROM outbound_recipients WHERE outbound_id = $1"
                   "   AND state IN ('pending', 'deferred') ORDER BY address", 1, p, &e);
    if (r == NULL) {
        free(raw);
        free(from);
        return jobrun_fail(job, JOBRUN_RETRY, "%s", e);
    }
    n = (size_t)PQntuples(r);
    rcpts = xcalloc(n + 1, sizeof(*rcpts));
    for (size_t i = 0; i < n; i++)
        rcpts[i] = xstrdup(PQgetvalue(r, (int)i, 0));
    PQclear(r);
    r = NULL;

    if (exec1(c, "UPDATE outbound_mail SET state = 'sending', stage = 'connect', attempts = attempts + 1,"
                 " last_attempt_at = now() WHERE id = $1", 1, p, &e) < 0) {
        jobrun_fail(job, JOBRUN_RETRY, "%s", e);
        goto out;
    }
    struct smarthost sh = {
        .url = cfg->sh_url, .starttls = cfg->sh_starttls, .verify = cfg->sh_verify,
        .ca_file = cfg->sh_ca_file, .username = cfg->sh_username, .password = cfg->sh_password,
        .helo = cfg->sh_helo, .timeout_ms = (long)cfg->sh_timeout_ms,
    };
    jobrun_extend_lease(job, (int)(cfg->sh_timeout_ms / 1000) + 60, &e);
    res = xcalloc(n + 1, sizeof(*res));
    struct smtp_result sr;
    struct send_state ss = { c, id };
    const char *terr = NULL;
    int tr = n > 0 ? smtp_send(&sh, from, rcpts, n, raw, len, mark_data_end, &ss, res, &sr, &terr) : 0;

    /* record what happened, recipient by recipient */
    if (db_begin(c, &e) < 0) {
        jobrun_fail(job, JOBRUN_RETRY, "%s", e);
        goto out;
    }
    bool deferred = false;
    for (size_t i = 0; i < n; i++) {
        const char *state_r;
        const char *reply = res[i].reply[0] ? res[i].reply : (terr ? terr : "no answer");
        int code = tr < 0 ? 0 : res[i].code;
        if (code >= 200 && code < 300)
            state_r = "sent";
        else if (code >= 500)
            state_r = "failed";
        else {
            state_r = "deferred";
            deferred = true;
        }
        const char *up[] = { sid, rcpts[i], state_r, reply };
        if (exec1(c, "UPDATE outbound_recipients SET state = $3, reply = $4, updated_at = now()"
                     " WHERE outbound_id = $1 AND address = $2", 4, up, &e) < 0)
            goto tx_fail;
        db_count_on_commit(c, "atum_mail_deliveries_total",
                           *state_r == 's' ? "result=\"sent\"" : *state_r == 'f' ? "result=\"failed\""
                                                                  : "result=\"deferred\"");
    }
    const char *last_error = tr < 0 ? terr : (deferred ? sr.final_reply : NULL);
    const char *up[] = { sid, deferred ? "queued" : "sending", last_error };
    if (exec1(c, "UPDATE outbound_mail SET state = $2, stage = NULL, last_error = $3 WHERE id = $1",
              3, up, &e) < 0)
        goto tx_fail;
    if (!deferred) {
        if (settle(c, rt, id, ticket, &e) < 0 || jobrun_complete_in_tx(job, &e) < 0)
            goto tx_fail;
    }
    if (db_commit(c, &e) < 0) {
        jobrun_fail(job, JOBRUN_RETRY, "%s", e);
        goto out;
    }
    if (deferred) {
        long long delay = retry_delay_ms(cfg, job->attempt);
        log_info("outbox.deferred", "outbound=%lld retry_in_ms=%lld error=%s", id, delay,
                 last_error ? last_error : "4xx");
        jobrun_fail(job, JOBRUN_RETRY, "deferred: %s", last_error ? last_error : "temporary failure");
        jobrun_retry_in(job, (double)delay / 1000.0);
        rc = ATUM_JOB_RETRY;
    } else {
        log_info("outbox.sent", "outbound=%lld rcpts=%zu reply=%s", id, n, sr.final_reply);
        rc = ATUM_JOB_DONE;
    }
    goto out;
tx_fail:
    db_rollback(c);
    jobrun_fail(job, JOBRUN_RETRY, "%s", e);
out:
    for (size_t i = 0; i < n; i++)
        free(rcpts[i]);
    free(rcpts);
    free(res);
    free(raw);
    free(from);
    return rc;
}

/* ---- operators ---------------------------------------------------------- */

int outbox_retry_tx(struct db_conn *c, const struct atum_config *cfg, long long id, int *recipients_r,
                    struct err *err)
{
    const char *e = NULL;
    char sid[32];
    snprintf(sid, sizeof(sid), "%lld", id);
    const char *p[] = { sid };
    *recipients_r = 0;
    PGresult *r = db_exec(c, "SELECT CASE WHEN state = 'sent' AND unconfirmed THEN 'unconfirmed' ELSE state END"
                             "  FROM outbound_mail WHERE id = $1 FOR UPDATE", 1, p, &e);
    if (r == NULL)
        goto dbfail;
    if (PQntuples(r) == 0) {
        PQclear(r);
        return err_raise(err, ERR_NOT_FOUND, NULL, "no outgoing mail %lld", id);
    }
    char state[16];
    snprintf(state, sizeof(state), "%s", PQgetvalue(r, 0, 0));
    PQclear(r);
    if (strcmp(state, "failed") != 0 && strcmp(state, "expired") != 0 && strcmp(state, "partial") != 0
        && strcmp(state, "unconfirmed") != 0)
        return err_raise(err, ERR_CONFLICT, NULL, "outgoing mail %lld is %s: only failed, partial, "
                         "expired or unconfirmed mail is retried", id, state);
    /* the recipients that did not get it, bounced ones included (the
     * operator says the address works now), and those nobody knows about */
    r = db_exec(c, "UPDATE outbound_recipients SET state = 'pending', updated_at = now()"
                   " WHERE outbound_id = $1 AND (state IN ('failed', 'bounced')"
                   "       OR (state = 'sent' AND reply LIKE 'unconfirmed:%')) RETURNING 1", 1, p, &e);
    if (r == NULL)
        goto dbfail;
    *recipients_r = PQntuples(r);
    PQclear(r);
    if (exec1(c, "UPDATE outbound_mail SET state = 'queued', stage = NULL, last_error = NULL,"
                 " unconfirmed = false, queued_at = now() WHERE id = $1", 1, p, &e) < 0
        || outbox_enqueue_send(c, cfg, "outbound_id", id, &e) < 0)
        goto dbfail;
    return 0;
dbfail:
    return err_failed(err, "retrying outgoing mail %lld: %s", id, e);
}

int outbox_retry(struct db_conn *c, const struct atum_config *cfg, long long id, int *recipients_r,
                 const char **error_r)
{
    const char *e = NULL;
    struct err err = { 0 };
    if (db_begin(c, &e) < 0)
        return err_set(error_r, "%s", e);
    if (outbox_retry_tx(c, cfg, id, recipients_r, &err) < 0) {
        db_rollback(c);
        return err_set(error_r, "%s", err.text);
    }
    if (db_commit(c, &e) < 0)
        return err_set(error_r, "%s", e);
    return 0;
}

int outbox_smarthost_changed(struct db_conn *c, const char **error_r)
{
    const char *e = NULL;
    const char *p[] = { OUTBOX_SEND_KIND };
    PGresult *r = db_exec(c, "UPDATE jobs SET run_at = now() WHERE kind = $1 AND state = 'available'"
                             " AND run_at > now() RETURNING 1", 1, p, &e);
    if (r == NULL)
        return err_set(error_r, "waking the outbox: %s", e);
    int n = PQntuples(r);
    PQclear(r);
    if (n > 0) {
        db_want_notify(c);
        log_info("outbox.woken", "jobs=%d reason=%s", n, "the smarthost changed");
    }
    return 0;
}

