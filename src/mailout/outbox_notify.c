/* mailout/outbox_notify.c -- the mails a change causes by itself:
 * acknowledgements, agent notifications, plugin notices, and the
 * mail.compose job that builds them; see mailout/outbox.h. */
#include "config.h"
#include "mailout/outbox.h"
#include "mailout/outbox-private.h"
#include "core/jobrun.h"
#include "core/runtime.h"
#include "core/jobs.h"
#include "core/plugin_mail.h"
#include "lib/err.h"
#include "lib/log.h"
#include "lib/metrics.h"
#include "lib/xalloc.h"
#include "mail/reply_token.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* acknowledgement rules: ours?, acks to the address in the window, the
 * first message's direction:robot, the requester's role.  Two composers
 * (lanes) may count at the same time: the limit can be passed by one,
 * which does not matter to a loop it is there to stop. */
static const struct db_stmt st_ack_rules = {
    "outbox_ack_rules",
    "SELECT EXISTS (SELECT 1 FROM queues WHERE lower(address) ="
    "                 lower(regexp_replace($1, '\\+[^@]*@', '@'))),"
    "       (SELECT count(*) FROM outbound_mail o JOIN outbound_recipients r ON r.outbound_id = o.id"
    "         WHERE o.kind = 'ack' AND lower(r.address) = lower($1)"
    "           AND o.created_at > now() - $2::bigint * interval '1 millisecond'),"
    "       coalesce((SELECT m.direction || ':' || m.robot FROM messages m"
    "                  WHERE m.ticket_id = $4::bigint AND ($3::bigint IS NULL OR m.id = $3::bigint)"
    "                  ORDER BY m.created_at, m.id LIMIT 1), 'none:none'),"
    "       coalesce((SELECT u.role FROM users u WHERE email_canonical(u.email) = email_canonical($1)), 'customer')",
    4
};

/* who hears of a ticket: one user ($2), the assignee when asked for ($3)
 * and there is one, else the queue's agents; never customers or the
 * disabled */
static const struct db_stmt st_notify_who = {
    "outbox_notify_who",
    "SELECT u.id, u.email, coalesce(nullif(u.name, ''), u.email) FROM tickets t, users u"
    " WHERE t.id = $1 AND NOT u.disabled AND u.role <> 'customer'"
    "   AND CASE WHEN $2::bigint > 0 THEN u.id = $2::bigint"
    "            WHEN $3::boolean AND t.assignee_id IS NOT NULL THEN u.id = t.assignee_id"
    "            ELSE EXISTS (SELECT 1 FROM queue_members m WHERE m.queue_id = t.queue_id AND m.user_id = u.id) END"
    " ORDER BY u.id",
    3
};

/* ---- acknowledgement -------------------------------------------------- */

/* The acknowledgement of a new ticket whose first message is message_id;
 * 0 also when the rules skip it. */
static int outbox_ack(struct db_conn *c, const struct atum_config *cfg, long long ticket_id,
                      long long message_id, const char *blocks, const char **error_r)
{
    const char *e = NULL;
    struct outbox_ctx t;
    if (!cfg->mail_acknowledge)
        return 0;
    if (outbox_ctx_load(c, ticket_id, message_id, "ack", false, &t, error_r) < 0)
        return -1;
    int ret = -1;
    struct strbuf subj = STRBUF_INIT, text = STRBUF_INIT, html = STRBUF_INIT;
    char *portal = NULL, *reply_to = NULL;

    /* only a human customer's own first message is acknowledged: never
     * a robot's (auto-reply, bounce, list), never staff's, never our own
     * addresses, and never more than ack_limit times per address in
     * ack_window (two auto-responders cannot mail each other forever).
     * The advisory lock serialises the count per address. */
    char window[32], sm[32], st[32];
    snprintf(window, sizeof(window), "%lld", cfg->mail_ack_window_ms);
    snprintf(sm, sizeof(sm), "%lld", message_id);
    snprintf(st, sizeof(st), "%lld", ticket_id);
    const char *p[] = { t.customer_email, window, message_id > 0 ? sm : NULL, st };
    PGresult *r = db_exec_stmt(c, &st_ack_rules, p, &e);
    if (r == NULL) {
        err_set(error_r, "acknowledgement rules: %s", e);
        goto out;
    }
    bool ours = strcmp(PQgetvalue(r, 0, 0), "t") == 0;
    long long recent = atoll(PQgetvalue(r, 0, 1));
    char first[48], role[16];
    snprintf(first, sizeof(first), "%s", PQgetvalue(r, 0, 2));
    snprintf(role, sizeof(role), "%s", PQgetvalue(r, 0, 3));
    PQclear(r);
    const char *skip = NULL;
    if (ours || strchr(t.customer_email, '@') == NULL || strstr(t.customer_email, "@invalid") != NULL)
        skip = "not a customer address";
    else if (strcmp(role, "customer") != 0)
        skip = "the requester is staff";
    else if (strncmp(first, "in:", 3) != 0)
        skip = "the ticket was opened by staff";
    else if (strcmp(first + 3, "none") != 0)
        skip = "the first message is from a robot";
    if (skip != NULL) {
        log_info("outbox.ack_skipped", "ticket=%lld to=%s reason=\"%s\"", ticket_id, t.customer_email, skip);
        ret = 0;
        goto out;
    }
    if (recent >= cfg->mail_ack_limit) {
        log_warn("outbox.ack_limited", "ticket=%lld to=%s recent=%lld limit=%d hint=%s", ticket_id,
                 t.customer_email, recent, cfg->mail_ack_limit,
                 "too many acknowledgements to this address: a mail loop?");
        metrics_counter_add("atum_outbox_ack_limited_total", NULL, 1);
        ret = 0;
        goto out;
    }
    char token[96], num[32];
    snprintf(num, sizeof(num), "%lld", ticket_id);
    if (reply_token_make(cfg->secret_key, ticket_id, token, sizeof(token)) == 0)
        reply_to = outbox_token_address(t.queue_address, token);
    portal = outbox_url_for(cfg, "portal", ticket_id);
    struct tmpl_var vars[] = {
        { "ticket", num }, { "subject", t.subject }, { "queue_name", t.queue_name },
        { "portal_url", portal }, { "customer_name", t.customer_name },
        { "customer_email", t.customer_email },
    };
    if (outbox_render(&t, "ack", vars, sizeof(vars) / sizeof(vars[0]), &subj, &text, &html, error_r) < 0)
        goto out;
    /* what plugins add (core/plugin_mail.h), below the template's text */
    if (blocks != NULL && blocks[0] != '\0' && tmpl_append_block(blocks, &text, &html, &e) < 0)
        log_warn("outbox.ack_block_dropped", "ticket=%lld error=\"%s\"", ticket_id, e);
    char *to[] = { t.customer_email };
    struct outbox_spec o = {
        .t = &t, .kind = "ack", .to = to, .nto = 1, .reply_to = reply_to,
        .auto_submitted = "auto-replied", .threaded = true, .subject = subj.s, .text = text.s,
        .html = html.s,
    };
    if (outbox_store(c, cfg, &o, true, NULL, error_r) < 0)
        goto out;
    ret = 0;
out:
    free(portal);
    free(reply_to);
    strbuf_free(&subj);
    strbuf_free(&text);
    strbuf_free(&html);
    outbox_ctx_free(&t);
    return ret;
}

/* ---- agent notifications ---------------------------------------------- */

/* Agent notifications: template notify_new, notify_reply or
 * notify_assign.  only_user > 0 notifies that agent only; otherwise the
 * ticket's assignee (notify_reply) or else the queue's agents. */
static int outbox_notify(struct db_conn *c, const struct atum_config *cfg, const char *template_name,
                         long long ticket_id, long long message_id, long long only_user,
                         const char **error_r)
{
    const char *e = NULL;
    struct outbox_ctx t;
    if (!cfg->mail_notify_agents)
        return 0;
    /* who hears of it, first: usually nobody is a cheap answer */
    char st[32], su[32], sm[32];
    snprintf(st, sizeof(st), "%lld", ticket_id);
    snprintf(su, sizeof(su), "%lld", only_user);
    snprintf(sm, sizeof(sm), "%lld", message_id);
    const char *wp[] = { st, su, strcmp(template_name, "notify_reply") == 0 ? "t" : "f" };
    PGresult *r = db_exec_stmt(c, &st_notify_who, wp, &e);
    if (r == NULL)
        return err_set(error_r, "notification recipients: %s", e);
    if (PQntuples(r) == 0) {
        PQclear(r);
        return 0;
    }
    if (outbox_ctx_load(c, ticket_id, message_id, template_name, true, &t, error_r) < 0) {
        PQclear(r);
        return -1;
    }
    int ret = -1;
    char *desk = outbox_url_for(cfg, "desk", ticket_id);
    char num[32];
    snprintf(num, sizeof(num), "%lld", ticket_id);
    long long today = (long long)(time(NULL) / 86400);
    /* the version the agent sees in this mail: the notified message's, or
     * the ticket's now; a reply by mail that crosses a newer message is
     * held (mailin/ingest.c) */
    long long version = 0;
    const char *vp[] = { st, sm };
    char *vs = db_query_value(c, "SELECT coalesce((SELECT nullif(m.ticket_version, 0) FROM messages m"
                              " WHERE m.id = $2::bigint AND m.ticket_id = $1::bigint),"
                              " (SELECT t.version FROM tickets t WHERE t.id = $1::bigint))", 2, vp, &e);
    if (vs != NULL)
        version = atoll(vs);
    free(vs);
    for (int i = 0; i < PQntuples(r); i++) {
        long long uid = atoll(PQgetvalue(r, i, 0));
        char token[128];
        char *reply_to = NULL;
        if (reply_token_make_agent_v(cfg->secret_key, ticket_id, uid, today, version, token,
                                     sizeof(token)) == 0)
            reply_to = outbox_token_address(t.queue_address, token);
        struct tmpl_var vars[] = {
            { "ticket", num }, { "subject", t.subject }, { "queue_name", t.queue_name },
            { "desk_url", desk }, { "customer_name", t.customer_name },
            { "customer_email", t.customer_email }, { "message", t.text },
            { "agent_name", PQgetvalue(r, i, 2) }, { "note_marker", cfg->mail_note_marker },
        };
        struct strbuf subj = STRBUF_INIT, text = STRBUF_INIT, html = STRBUF_INIT;
        int rc = outbox_render(&t, template_name, vars, sizeof(vars) / sizeof(vars[0]), &subj, &text, &html,
                        error_r);
        if (rc == 0) {
            char *to[] = { PQgetvalue(r, i, 1) };
            struct outbox_spec o = {
                .t = &t, .kind = "notify", .to = to, .nto = 1, .reply_to = reply_to,
                .auto_submitted = "auto-generated", .threaded = true, .subject = subj.s,
                .text = text.s, .html = html.s,
            };
            rc = outbox_store(c, cfg, &o, true, NULL, error_r);
        }
        free(reply_to);
        strbuf_free(&subj);
        strbuf_free(&text);
        strbuf_free(&html);
        if (rc < 0)
            goto out;
    }
    ret = 0;
out:
    PQclear(r);
    free(desk);
    outbox_ctx_free(&t);
    return ret;
}

int outbox_notice(struct db_conn *c, struct runtime *rt, long long ticket_id, const char *to_addr,
                  const char *title, const char *body, const char **error_r)
{
    const struct atum_config *cfg = rt->cfg;
    struct outbox_ctx t;
    if (outbox_ctx_load(c, ticket_id, 0, "notice", false, &t, error_r) < 0)
        return -1;
    struct strbuf subj = STRBUF_INIT, text = STRBUF_INIT, html = STRBUF_INIT;
    char num[32];
    snprintf(num, sizeof(num), "%lld", ticket_id);
    char *desk = outbox_url_for(cfg, "desk", ticket_id);
    int ret = -1;
    struct tmpl_var vars[] = {
        { "ticket", num }, { "subject", t.subject }, { "queue_name", t.queue_name },
        { "desk_url", desk }, { "notice_title", title }, { "notice_body", body },
    };
    if (outbox_render(&t, "notice", vars, sizeof(vars) / sizeof(vars[0]), &subj, &text, &html, error_r) == 0) {
        char *to[] = { (char *)to_addr };
        struct outbox_spec o = {
            .t = &t, .kind = "notice", .to = to, .nto = 1, .auto_submitted = "auto-generated",
            .subject = subj.s, .text = text.s, .html = html.s,
        };
        ret = outbox_store(c, cfg, &o, true, NULL, error_r);
    }
    free(desk);
    strbuf_free(&subj);
    strbuf_free(&text);
    strbuf_free(&html);
    outbox_ctx_free(&t);
    return ret;
}

/* ---- what a change in the helpdesk mails ---------------------------------- */

static int ticket_opened(struct db_conn *c, const struct atum_config *cfg, long long ticket_id,
                         long long message_id, const char *blocks, const char **error_r)
{
    if (outbox_ack(c, cfg, ticket_id, message_id, blocks, error_r) < 0)
        return -1;
    return outbox_notify(c, cfg, "notify_new", ticket_id, message_id, 0, error_r);
}

static const struct db_stmt st_customer_reply = {
    "outbox_customer_reply",
    /* a customer's (not staff's, not a robot's) public message that is
     * not the one that opened the ticket */
    "SELECT 1 FROM messages m LEFT JOIN users u ON u.id = m.author_id"
    " WHERE m.id = $1 AND m.direction = 'in' AND m.visibility = 'public' AND m.robot = 'none'"
    "   AND coalesce(u.role, 'customer') = 'customer'"
    "   AND m.id <> (SELECT f.id FROM messages f WHERE f.ticket_id = m.ticket_id"
    "                 ORDER BY f.created_at, f.id LIMIT 1)",
    1
};

static int customer_wrote(struct db_conn *c, const struct atum_config *cfg, long long ticket_id,
                          long long message_id, const char **error_r)
{
    const char *e = NULL;
    char sm[32];
    if (!cfg->mail_notify_agents)
        return 0;
    snprintf(sm, sizeof(sm), "%lld", message_id);
    const char *p[] = { sm };
    PGresult *r = db_exec_stmt(c, &st_customer_reply, p, &e);
    if (r == NULL)
        return err_set(error_r, "%s", e);
    bool customer = PQntuples(r) > 0;
    PQclear(r);
    if (!customer)
        return 0;
    return outbox_notify(c, cfg, "notify_reply", ticket_id, message_id, 0, error_r);
}

/* ---- mail.compose: building what a change mails, off the hot path ------- */

static const char *const event_names[] = { "opened", "customer_wrote", "assigned", "solved" };
#define N_EVENTS (sizeof(event_names) / sizeof(event_names[0]))

int outbox_later(struct db_conn *c, struct runtime *rt, enum mailer_event ev, long long ticket_id,
                 long long id, const char **error_r)
{
    const struct atum_config *cfg = rt->cfg;
    const char *e = NULL;
    if ((unsigned)ev >= N_EVENTS)
        return err_set(error_r, "unknown mail event %d", (int)ev);
    if (ev == MAILER_SOLVED ? !cfg->mail_acknowledge
        : ev == MAILER_ASSIGNED ? !cfg->mail_notify_agents || id <= 0
        : ev == MAILER_CUSTOMER_WROTE ? !cfg->mail_notify_agents
        : !cfg->mail_acknowledge && !cfg->mail_notify_agents)
        return 0;       /* nothing would be mailed */
    char payload[128], key[96], lane[48];
    snprintf(payload, sizeof(payload), "{\"event\":\"%s\",\"ticket_id\":%lld,\"id\":%lld}",
             event_names[ev], ticket_id, id);
    snprintf(key, sizeof(key), "compose:%s:%lld:%lld", event_names[ev], ticket_id, id);
    /* a few lanes: at most that many workers compose at once, the others
     * stay free for ingest however many tickets a burst opens */
    snprintf(lane, sizeof(lane), "mail.compose:%lld", ticket_id % cfg->mail_compose_lanes);
    struct atum_job_spec spec = { .kind = OUTBOX_COMPOSE_KIND, .payload = payload,
                                  .priority = OUTBOX_COMPOSE_PRIORITY, .max_attempts = 10,
                                  .unique_key = key, .concurrency_key = lane };
    /* no NOTIFY: the transaction that calls this is the ingest of a mail */
    if (jobs_enqueue_ex(c, &spec, false, NULL, &e) < 0)
        return err_set(error_r, "%s", e);
    return 0;
}

int outbox_compose_run(void *state, struct atum_job *job)
{
    (void)state;
    struct db_conn *c = job->db->conn;
    const struct atum_config *cfg = job->db->rt->cfg;
    const char *e = NULL;
    json_t *pl = json_loads(job->payload, 0, NULL);
    const char *ev = json_string_value(json_object_get(pl, "event"));
    long long ticket = (long long)json_integer_value(json_object_get(pl, "ticket_id"));
    long long id = (long long)json_integer_value(json_object_get(pl, "id"));
    int which = -1;
    for (int i = 0; ev && i < (int)N_EVENTS; i++)
        if (strcmp(ev, event_names[i]) == 0)
            which = i;
    json_decref(pl);
    if (which < 0 || ticket <= 0)
        return jobrun_fail(job, JOBRUN_PERMANENT, "payload names no known event and ticket");
    /* plugins' blocks for the acknowledgement, asked before the
     * transaction: a plugin's query never holds it open or spoils it */
    struct strbuf blocks = STRBUF_INIT;
    if (which == MAILER_OPENED && cfg->mail_acknowledge)
        plugin_mail_blocks(job->db->rt, c, "ack", ticket, &blocks, NULL);
    if (db_begin(c, &e) < 0) {
        strbuf_free(&blocks);
        return jobrun_fail(job, JOBRUN_RETRY, "%s", e);
    }
    int rc = which == MAILER_OPENED ? ticket_opened(c, cfg, ticket, id, blocks.s, &e)
             : which == MAILER_CUSTOMER_WROTE ? customer_wrote(c, cfg, ticket, id, &e)
             : which == MAILER_SOLVED ? outbox_solved(c, cfg, ticket, &e)
             : outbox_notify(c, cfg, "notify_assign", ticket, 0, id, &e);
    strbuf_free(&blocks);
    if (rc < 0 || jobrun_complete_in_tx(job, &e) < 0) {
        db_rollback(c);
        return jobrun_fail(job, JOBRUN_RETRY, "%s", e);
    }
    if (db_commit(c, &e) < 0)
        return jobrun_fail(job, JOBRUN_RETRY, "%s", e);
    return ATUM_JOB_DONE;
}

