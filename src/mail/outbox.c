/* mail/outbox.c -- see mail/outbox.h. */
#include "config.h"
#include "mail/outbox.h"
#include "mail/compose.h"
#include "mail/smtp_client.h"
#include "mail/template.h"
#include "mail/token.h"
#include "conf.h"
#include "err.h"
#include "event.h"
#include "hostapi.h"
#include "jobkind.h"
#include "log.h"
#include "metrics.h"
#include "plugin_host.h"
#include "queue.h"
#include "runtime.h"
#include "strbuf.h"
#include "util.h"
#include "xalloc.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define MAX_REFS 12

/* ---- what a mail about a ticket needs to know ------------------------- */

/* In-Reply-To and References: the given message, or else the customer's
 * latest one; its own references first (first one plus the latest few). */
struct thread_refs {
    char *in_reply_to;
    char *refs[MAX_REFS + 1];
    size_t n;
};

struct mail_ctx {
    long long id, queue_id, requester_id, assignee_id;
    char *subject, *queue_name, *queue_address, *customer_email, *customer_name;
    char *override;              /* the queue's version of the template, or NULL */
    char *text;                  /* the message's text (want_text), "" without */
    struct thread_refs refs;
};

static void ctx_free(struct mail_ctx *t)
{
    free(t->subject);
    free(t->queue_name);
    free(t->queue_address);
    free(t->customer_email);
    free(t->customer_name);
    free(t->override);
    free(t->text);
    free(t->refs.in_reply_to);
    for (size_t i = 0; i < t->refs.n; i++)
        free(t->refs.refs[i]);
}

/* Everything in one round trip -- this runs inside the ingest transaction
 * of every new ticket, so each statement saved is throughput: the ticket,
 * its queue and requester; the queue's override of template $3; the
 * message to thread under ($2, or without one the requester's own latest
 * mail -- the one in the customer's mailbox -- else the latest incoming
 * one); with $4 the text of message $2 (or of the latest public one).
 * Prepared once per connection. */
static const struct db_stmt st_context = {
    "outbox_context",
    "SELECT t.subject, q.id, q.name, q.address, u.id, u.email, u.name, coalesce(t.assignee_id, 0),"
    "       (SELECT mt.source FROM mail_templates mt WHERE mt.queue_id = q.id AND mt.name = $3),"
    "       r.message_id, array_to_string(r.refs, ' '),"
    "       CASE WHEN $4::boolean THEN coalesce((SELECT coalesce(x.new_text, x.body_text) FROM messages x"
    "         WHERE x.ticket_id = t.id AND ($2::bigint IS NULL OR x.id = $2::bigint)"
    "           AND ($2::bigint IS NOT NULL OR x.visibility = 'public')"
    "         ORDER BY x.created_at DESC, x.id DESC LIMIT 1), '') END"
    "  FROM tickets t JOIN queues q ON q.id = t.queue_id JOIN users u ON u.id = t.requester_id"
    "  LEFT JOIN LATERAL (SELECT m.message_id, m.refs FROM messages m"
    "        WHERE m.ticket_id = t.id AND m.message_id IS NOT NULL"
    "          AND (CASE WHEN $2::bigint IS NULL THEN m.direction = 'in' ELSE m.id = $2::bigint END)"
    "        ORDER BY (m.author_id IS NOT DISTINCT FROM t.requester_id) DESC, m.created_at DESC, m.id DESC"
    "        LIMIT 1) r ON true"
    " WHERE t.id = $1",
    4
};

static void split_refs(const char *in_reply_to, const char *list, struct thread_refs *out)
{
    out->in_reply_to = xstrdup(in_reply_to);
    /* the first reference and the newest, so the header stays short */
    char *all = xstrdup(list);
    char *v[256], *save = NULL;
    size_t n = 0;
    for (char *tok = strtok_r(all, " ", &save); tok && n < 256; tok = strtok_r(NULL, " ", &save))
        v[n++] = tok;
    size_t keep_tail = MAX_REFS - 2;
    for (size_t i = 0; i < n; i++)
        if (i == 0 || i + keep_tail >= n)
            out->refs[out->n++] = xstrdup(v[i]);
    out->refs[out->n++] = xstrdup(in_reply_to);
    free(all);
}

static int load_ctx(struct db_conn *c, long long ticket_id, long long message_id, const char *template_name,
                    bool want_text, struct mail_ctx *t, const char **error_r)
{
    char st[32], sm[32];
    const char *e = NULL;
    memset(t, 0, sizeof(*t));
    snprintf(st, sizeof(st), "%lld", ticket_id);
    snprintf(sm, sizeof(sm), "%lld", message_id);
    const char *p[] = { st, message_id > 0 ? sm : NULL, template_name, want_text ? "t" : "f" };
    PGresult *r = db_exec_stmt(c, &st_context, p, &e);
    if (r == NULL)
        return err_set(error_r, "loading ticket %lld: %s", ticket_id, e);
    if (PQntuples(r) == 0) {
        PQclear(r);
        return err_set(error_r, "no ticket %lld", ticket_id);
    }
    t->id = ticket_id;
    t->subject = xstrdup(PQgetvalue(r, 0, 0));
    t->queue_id = atoll(PQgetvalue(r, 0, 1));
    t->queue_name = xstrdup(PQgetvalue(r, 0, 2));
    t->queue_address = xstrdup(PQgetvalue(r, 0, 3));
    t->requester_id = atoll(PQgetvalue(r, 0, 4));
    t->customer_email = xstrdup(PQgetvalue(r, 0, 5));
    t->customer_name = xstrdup(PQgetvalue(r, 0, 6)[0] ? PQgetvalue(r, 0, 6) : PQgetvalue(r, 0, 5));
    t->assignee_id = atoll(PQgetvalue(r, 0, 7));
    t->override = PQgetisnull(r, 0, 8) ? NULL : xstrdup(PQgetvalue(r, 0, 8));
    if (!PQgetisnull(r, 0, 9))
        split_refs(PQgetvalue(r, 0, 9), PQgetvalue(r, 0, 10), &t->refs);
    t->text = xstrdup(PQgetvalue(r, 0, 11));
    PQclear(r);
    return 0;
}

/* The outgoing mail and its recipients in one statement. */
static const struct db_stmt st_outbound_new = {
    "outbox_outbound_new",
    "WITH o AS (INSERT INTO outbound_mail (ticket_id, message_id, kind, rfc_message_id, mail_from,"
    "                                      subject, raw)"
    "           VALUES ($1, $2, $3, $4, $5, $6, $7)"
    "           ON CONFLICT (message_id) WHERE kind = 'reply' DO NOTHING RETURNING id),"
    "     r AS (INSERT INTO outbound_recipients (outbound_id, address)"
    "           SELECT DISTINCT o.id, a FROM o, unnest($8::text[]) a RETURNING 1)"
    " SELECT o.id, (SELECT count(*) FROM r) FROM o",
    8
};
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
    "       coalesce((SELECT u.role FROM users u WHERE lower(u.email) = lower($1)), 'customer')",
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

/* ---- helpers ---------------------------------------------------------- */

static const char *domain_of(const char *addr)
{
    const char *at = strrchr(addr, '@');
    return at ? at + 1 : "localhost";
}

/* "support+TOKEN@example.com" */
static char *token_address(const char *queue_address, const char *token)
{
    const char *at = strrchr(queue_address, '@');
    if (at == NULL)
        return xstrdup(queue_address);
    return xasprintf("%.*s+%s%s", (int)(at - queue_address), queue_address, token, at);
}

static void new_message_id(const char *domain, char *buf, size_t size)
{
    unsigned char r[10];
    char hex[21];
    rand_bytes(r, sizeof(r));
    hex_encode(r, sizeof(r), hex);
    snprintf(buf, size, "atum.%s@%s", hex, domain);
}

/* "Re: [#N] subject" for replies: the tag added when missing */
static char *reply_subject(long long ticket, const char *subject)
{
    char tag[32];
    snprintf(tag, sizeof(tag), "[#%lld]", ticket);
    const char *s = subject;
    bool re = strncasecmp(s, "re:", 3) == 0;
    if (strstr(s, tag) != NULL)
        return xasprintf("%s%s", re ? "" : "Re: ", s);
    return xasprintf("Re: %s %s", tag, re ? s + 3 + (s[3] == ' ') : s);
}

static char *url_for(const struct atum_config *cfg, const char *area, long long ticket)
{
    const char *base = cfg->public_url ? cfg->public_url : "http://127.0.0.1:8080";
    size_t n = strlen(base);
    return xasprintf("%.*s/%s/tickets/%lld", (int)(n && base[n - 1] == '/' ? n - 1 : n), base, area, ticket);
}

static int add_note(struct db_conn *c, long long ticket_id, const char *text, const char **error_r)
{
    char st[32];
    const char *e = NULL;
    snprintf(st, sizeof(st), "%lld", ticket_id);
    const char *p[] = { st, text };
    PGresult *r = db_exec(c,
        "INSERT INTO messages (ticket_id, direction, visibility, subject, body_text)"
        " VALUES ($1, 'out', 'internal', 'Mail delivery', $2)", 2, p, &e);
    if (r == NULL)
        return err_set(error_r, "delivery note: %s", e);
    PQclear(r);
    return 0;
}

/* Renders a template: the queue's override when it has one. */
static int render(const struct mail_ctx *t, const char *name, const struct tmpl_var *vars, size_t nvars,
                  struct strbuf *subject, struct strbuf *text, struct strbuf *html, const char **error_r)
{
    const char *e = NULL;
    if (t->override != NULL) {
        if (tmpl_render(t->override, vars, nvars, subject, text, html, &e) == 0)
            return 0;
        /* a broken override (edited in the database behind atumctl's
         * back) must not stop the mail: use the built-in */
        log_warn("outbox.template_broken", "queue=%lld template=%s error=%s", t->queue_id, name, e);
        strbuf_reset(subject);
        strbuf_reset(text);
        strbuf_reset(html);
    }
    if (tmpl_render(tmpl_builtin(name), vars, nvars, subject, text, html, &e) < 0)
        return err_set(error_r, "template %s: %s", name, e);
    return 0;
}

#define SEND_PRIORITY 60
#define COMPOSE_PRIORITY 70     /* after ingest (50) and sending (60) */
#define SEND_ATTEMPTS 1000      /* the real limit is smarthost.retry_for */

#define NO_SMARTHOST_WAIT 300     /* seconds; a reload with a smarthost wakes them */

static int enqueue_send(struct db_conn *c, const struct atum_config *cfg, const char *field,
                        long long id, const char **error_r)
{
    char payload[64], key[48];
    const char *e = NULL;
    snprintf(payload, sizeof(payload), "{\"%s\":%lld}", field, id);
    snprintf(key, sizeof(key), "send:%s:%lld", field, id);
    /* without a smarthost there is nobody to send to: the job sleeps
     * instead of waking a worker only to fail */
    bool none = cfg->sh_url == NULL || cfg->sh_url[0] == '\0';
    struct atum_job_spec spec = { .kind = OUTBOX_SEND_KIND, .payload = payload,
                                  .priority = SEND_PRIORITY, .max_attempts = SEND_ATTEMPTS,
                                  .unique_key = key, .delay_seconds = none ? NO_SMARTHOST_WAIT : 0 };
    if (queue_enqueue(c, &spec, NULL, &e) < 0)
        return err_set(error_r, "%s", e);
    return 0;
}

struct outbound_spec {
    const struct mail_ctx *t;
    const char *from_name;           /* NULL: the queue's name */
    long long message_id;            /* the reply this sends, or 0 */
    const char *kind;
    char *const *to;
    size_t nto;
    const char *reply_to;
    const char *auto_submitted;
    bool threaded;                   /* In-Reply-To/References from t->refs */
    const char *subject, *text, *html;
    const struct compose_attachment *att;
    size_t natt;
};

static int create_outbound(struct db_conn *c, const struct atum_config *cfg,
                           const struct outbound_spec *o, bool enqueue, long long *id_r,
                           const char **error_r)
{
    const char *e = NULL;
    char rfc[300];
    struct strbuf raw = STRBUF_INIT;
    int ret = -1;
    PGresult *r = NULL;
    new_message_id(domain_of(o->t->queue_address), rfc, sizeof(rfc));
    struct compose_mail m = {
        .from_name = o->from_name ? o->from_name : o->t->queue_name,
        .from_addr = o->t->queue_address, .reply_to = o->reply_to,
        .to = o->to, .nto = o->nto, .subject = o->subject, .message_id = rfc,
        .in_reply_to = o->threaded ? o->t->refs.in_reply_to : NULL,
        .references = o->threaded ? o->t->refs.refs : NULL, .nrefs = o->threaded ? o->t->refs.n : 0,
        .text = o->text, .html = o->html, .att = o->att, .natt = o->natt,
        .auto_submitted = o->auto_submitted,
    };
    if (compose_build(&m, &raw, error_r) < 0)
        goto out;
    char st[32], sm[32];
    snprintf(st, sizeof(st), "%lld", o->t->id);
    snprintf(sm, sizeof(sm), "%lld", o->message_id);
    struct strbuf to = STRBUF_INIT;
    db_text_array(&to, o->to, o->nto);
    const char *p[] = { st, o->message_id ? sm : NULL, o->kind, rfc, o->t->queue_address, o->subject,
                        raw.s, to.s };
    const int lens[] = { 0, 0, 0, 0, 0, 0, (int)raw.len, 0 };
    const int fmts[] = { 0, 0, 0, 0, 0, 0, 1, 0 };
    r = db_exec_stmt_bin(c, &st_outbound_new, p, lens, fmts, &e);
    strbuf_free(&to);
    if (r == NULL) {
        err_set(error_r, "storing outgoing mail: %s", e);
        goto out;
    }
    if (PQntuples(r) == 0) {
        /* this reply already has its outgoing mail */
        PQclear(r);
        const char *q[] = { sm };
        r = db_exec(c, "SELECT id FROM outbound_mail WHERE message_id = $1 AND kind = 'reply'", 1, q, &e);
        if (r == NULL || PQntuples(r) == 0) {
            err_set(error_r, "outgoing mail of message %lld: %s", o->message_id, e ? e : "vanished");
            goto out;
        }
        if (id_r)
            *id_r = atoll(PQgetvalue(r, 0, 0));
        ret = 0;
        goto out;
    }
    long long id = atoll(PQgetvalue(r, 0, 0));
    PQclear(r);
    r = NULL;
    if (enqueue && enqueue_send(c, cfg, "outbound_id", id, error_r) < 0)
        goto out;
    if (id_r)
        *id_r = id;
    metrics_counter_add("atum_outbox_created_total", NULL, 1);
    ret = 0;
out:
    PQclear(r);
    strbuf_free(&raw);
    return ret;
}

/* ---- reply ------------------------------------------------------------ */

int outbox_enqueue_reply(struct db_conn *c, const struct atum_config *cfg, long long message_id,
                         const char **error_r)
{
    return enqueue_send(c, cfg, "message_id", message_id, error_r);
}

int outbox_reply(struct db_conn *c, const struct atum_config *cfg, long long message_id,
                 bool enqueue, long long *outbound_r, const char **error_r)
{
    const char *e = NULL;
    char sm[32];
    snprintf(sm, sizeof(sm), "%lld", message_id);
    const char *p[] = { sm };
    PGresult *r = db_exec(c,
        "SELECT m.ticket_id, m.body_text, coalesce(u.name, ''), m.visibility, m.direction"
        "  FROM messages m LEFT JOIN users u ON u.id = m.author_id WHERE m.id = $1", 1, p, &e);
    if (r == NULL)
        return err_set(error_r, "loading message %lld: %s", message_id, e);
    if (PQntuples(r) == 0) {
        PQclear(r);
        return err_set(error_r, "no message %lld", message_id);
    }
    if (strcmp(PQgetvalue(r, 0, 3), "public") != 0) {
        PQclear(r);
        return err_set(error_r, "message %lld is an internal note: not mailed", message_id);
    }
    long long ticket = atoll(PQgetvalue(r, 0, 0));
    char *body = xstrdup(PQgetvalue(r, 0, 1));
    char *agent = xstrdup(PQgetvalue(r, 0, 2));
    PQclear(r);

    struct mail_ctx t;
    struct strbuf subj = STRBUF_INIT, text = STRBUF_INIT, html = STRBUF_INIT;
    struct compose_attachment *att = NULL;
    size_t natt = 0;
    PGresult *ar = NULL;
    char *rs = NULL, *portal = NULL, *reply_to = NULL, *from = NULL;
    int ret = -1;
    if (load_ctx(c, ticket, 0, "reply", false, &t, error_r) < 0) {
        free(body);
        free(agent);
        return -1;
    }
    char token[96], num[32];
    snprintf(num, sizeof(num), "%lld", ticket);
    if (token_make(cfg->secret_key, ticket, token, sizeof(token)) == 0)
        reply_to = token_address(t.queue_address, token);
    rs = reply_subject(ticket, t.subject);
    portal = url_for(cfg, "portal", ticket);
    struct tmpl_var vars[] = {
        { "ticket", num }, { "subject", t.subject }, { "reply_subject", rs }, { "message", body },
        { "queue_name", t.queue_name }, { "portal_url", portal }, { "agent_name", agent },
        { "customer_name", t.customer_name }, { "customer_email", t.customer_email },
    };
    if (render(&t, "reply", vars, sizeof(vars) / sizeof(vars[0]), &subj, &text, &html, error_r) < 0)
        goto out;

    /* the reply's attachments go along */
    ar = db_exec_bin(c, "SELECT a.filename, a.content_type, b.content FROM attachments a"
                        " JOIN attachment_blobs b ON b.sha256 = a.sha256 WHERE a.message_id = $1::bigint"
                        " ORDER BY a.id", 1, p, NULL, NULL, 1, &e);
    if (ar == NULL) {
        err_set(error_r, "loading attachments: %s", e);
        goto out;
    }
    natt = (size_t)PQntuples(ar);
    att = natt ? xcalloc(natt, sizeof(*att)) : NULL;
    for (size_t i = 0; i < natt; i++) {
        att[i].filename = PQgetvalue(ar, (int)i, 0);
        att[i].content_type = PQgetvalue(ar, (int)i, 1);
        att[i].data = PQgetvalue(ar, (int)i, 2);
        att[i].len = (size_t)PQgetlength(ar, (int)i, 2);
    }
    char *to[] = { t.customer_email };
    /* "Ann Agent (Support)": a person answered, from the queue's address */
    from = agent[0] ? xasprintf("%s (%s)", agent, t.queue_name) : NULL;
    struct outbound_spec o = {
        .t = &t, .from_name = from, .message_id = message_id, .kind = "reply", .to = to, .nto = 1,
        .reply_to = reply_to, .threaded = true, .subject = subj.s, .text = text.s, .html = html.s,
        .att = att, .natt = natt,
    };
    ret = create_outbound(c, cfg, &o, enqueue, outbound_r, error_r);
out:
    PQclear(ar);
    free(att);
    free(body);
    free(agent);
    free(rs);
    free(portal);
    free(reply_to);
    free(from);
    strbuf_free(&subj);
    strbuf_free(&text);
    strbuf_free(&html);
    ctx_free(&t);
    return ret;
}

/* ---- acknowledgement -------------------------------------------------- */

/* The acknowledgement of a new ticket whose first message is message_id;
 * 0 also when the rules skip it. */
static int outbox_ack(struct db_conn *c, const struct atum_config *cfg, long long ticket_id,
                      long long message_id, const char **error_r)
{
    const char *e = NULL;
    struct mail_ctx t;
    if (!cfg->mail_acknowledge)
        return 0;
    if (load_ctx(c, ticket_id, message_id, "ack", false, &t, error_r) < 0)
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
    if (token_make(cfg->secret_key, ticket_id, token, sizeof(token)) == 0)
        reply_to = token_address(t.queue_address, token);
    portal = url_for(cfg, "portal", ticket_id);
    struct tmpl_var vars[] = {
        { "ticket", num }, { "subject", t.subject }, { "queue_name", t.queue_name },
        { "portal_url", portal }, { "customer_name", t.customer_name },
        { "customer_email", t.customer_email },
    };
    if (render(&t, "ack", vars, sizeof(vars) / sizeof(vars[0]), &subj, &text, &html, error_r) < 0)
        goto out;
    char *to[] = { t.customer_email };
    struct outbound_spec o = {
        .t = &t, .kind = "ack", .to = to, .nto = 1, .reply_to = reply_to,
        .auto_submitted = "auto-replied", .threaded = true, .subject = subj.s, .text = text.s,
        .html = html.s,
    };
    if (create_outbound(c, cfg, &o, true, NULL, error_r) < 0)
        goto out;
    ret = 0;
out:
    free(portal);
    free(reply_to);
    strbuf_free(&subj);
    strbuf_free(&text);
    strbuf_free(&html);
    ctx_free(&t);
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
    struct mail_ctx t;
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
    if (load_ctx(c, ticket_id, message_id, template_name, true, &t, error_r) < 0) {
        PQclear(r);
        return -1;
    }
    int ret = -1;
    char *desk = url_for(cfg, "desk", ticket_id);
    char num[32];
    snprintf(num, sizeof(num), "%lld", ticket_id);
    long long today = (long long)(time(NULL) / 86400);
    for (int i = 0; i < PQntuples(r); i++) {
        long long uid = atoll(PQgetvalue(r, i, 0));
        char token[128];
        char *reply_to = NULL;
        if (token_make_agent(cfg->secret_key, ticket_id, uid, today, token, sizeof(token)) == 0)
            reply_to = token_address(t.queue_address, token);
        struct tmpl_var vars[] = {
            { "ticket", num }, { "subject", t.subject }, { "queue_name", t.queue_name },
            { "desk_url", desk }, { "customer_name", t.customer_name },
            { "customer_email", t.customer_email }, { "message", t.text },
            { "agent_name", PQgetvalue(r, i, 2) }, { "note_marker", cfg->mail_note_marker },
        };
        struct strbuf subj = STRBUF_INIT, text = STRBUF_INIT, html = STRBUF_INIT;
        int rc = render(&t, template_name, vars, sizeof(vars) / sizeof(vars[0]), &subj, &text, &html,
                        error_r);
        if (rc == 0) {
            char *to[] = { PQgetvalue(r, i, 1) };
            struct outbound_spec o = {
                .t = &t, .kind = "notify", .to = to, .nto = 1, .reply_to = reply_to,
                .auto_submitted = "auto-generated", .threaded = true, .subject = subj.s,
                .text = text.s, .html = html.s,
            };
            rc = create_outbound(c, cfg, &o, true, NULL, error_r);
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
    ctx_free(&t);
    return ret;
}

int outbox_notice(struct db_conn *c, const struct atum_config *cfg, long long ticket_id,
                  const char *to_addr, const char *title, const char *body, const char **error_r)
{
    struct mail_ctx t;
    if (load_ctx(c, ticket_id, 0, "notice", false, &t, error_r) < 0)
        return -1;
    struct strbuf subj = STRBUF_INIT, text = STRBUF_INIT, html = STRBUF_INIT;
    char num[32];
    snprintf(num, sizeof(num), "%lld", ticket_id);
    char *desk = url_for(cfg, "desk", ticket_id);
    int ret = -1;
    struct tmpl_var vars[] = {
        { "ticket", num }, { "subject", t.subject }, { "queue_name", t.queue_name },
        { "desk_url", desk }, { "notice_title", title }, { "notice_body", body },
    };
    if (render(&t, "notice", vars, sizeof(vars) / sizeof(vars[0]), &subj, &text, &html, error_r) == 0) {
        char *to[] = { (char *)to_addr };
        struct outbound_spec o = {
            .t = &t, .kind = "notice", .to = to, .nto = 1, .auto_submitted = "auto-generated",
            .subject = subj.s, .text = text.s, .html = html.s,
        };
        ret = create_outbound(c, cfg, &o, true, NULL, error_r);
    }
    free(desk);
    strbuf_free(&subj);
    strbuf_free(&text);
    strbuf_free(&html);
    ctx_free(&t);
    return ret;
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

int outbox_bounced(struct db_conn *c, const char *rfc_message_id, const char *recipient,
                   const char *status, const char *diagnostic, const char **error_r)
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
    }
    if (changed > 0 && ticket > 0) {
        char *note = xasprintf("Mail %lld to %s %s", id, who, why);
        int rc = add_note(c, ticket, note, error_r);
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
        int rc = ticket > 0 ? add_note(c, ticket, note, error_r) : 0;
        log_warn("outbox.failed", "outbound=%lld state=%s detail=%s", id, state, note);
        free(note);
        if (rc < 0)
            return -1;
        if (exec1(c, "UPDATE outbound_mail SET stage = NULL WHERE id = $1", 1, p, &e) < 0)
            return err_set(error_r, "%s", e);
        emit_failure(rt, c, ticket, id, state);
        metrics_counter_add("atum_outbox_failed_total", NULL, 1);
    }
    return 0;
}

/* Settles a mail without sending it: the recipients' and the mail's new
 * state (each statement takes the outbound id), the ticket note or event
 * settle() gives, the job's completion -- one transaction. */
static int close_out(struct atum_job *job, long long id, long long ticket, const char *recipients_sql,
                     const char *mail_sql)
{
    const struct atum_host *host = plugin_host_table();
    struct db_conn *c = job->db->conn;
    const char *e = NULL;
    char sid[32];
    snprintf(sid, sizeof(sid), "%lld", id);
    const char *p[] = { sid };
    if (db_begin(c, &e) < 0 || exec1(c, recipients_sql, 1, p, &e) < 0 || exec1(c, mail_sql, 1, p, &e) < 0
        || settle(c, job->db->rt, id, ticket, &e) < 0 || host->job_complete_in_tx(job, &e) < 0) {
        db_rollback(c);
        return host->job_error(job, "%s", e);
    }
    if (db_commit(c, &e) < 0)
        return host->job_error(job, "%s", e);
    return ATUM_JOB_DONE;
}

static int send_run(void *state, struct atum_job *job)
{
    (void)state;
    const struct atum_host *host = plugin_host_table();
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
        if (db_begin(c, &e) < 0 || outbox_reply(c, cfg, mid, false, &id, &e) < 0) {
            db_rollback(c);
            bool note = e && strstr(e, "internal note") != NULL;
            host->job_error(job, "%s", e);
            return note || (e && strstr(e, "no message") != NULL) ? ATUM_JOB_PERMANENT : ATUM_JOB_RETRY;
        }
        if (db_commit(c, &e) < 0)
            return host->job_error(job, "%s", e);
    }
    if (id <= 0)
        return host->job_error(job, "payload names no outbound_id or message_id"), ATUM_JOB_PERMANENT;

    char sid[32];
    snprintf(sid, sizeof(sid), "%lld", id);
    const char *p[] = { sid };
    r = db_exec_bin(c, "SELECT raw, state, coalesce(stage, ''), mail_from, coalesce(ticket_id, 0)::text,"
                       "       (extract(epoch FROM now() - queued_at) * 1000)::bigint::text"
                       "  FROM outbound_mail WHERE id = $1", 1, p, NULL, NULL, 1, &e);
    if (r == NULL)
        return host->job_error(job, "loading outbound mail %lld: %s", id, e);
    if (PQntuples(r) == 0) {
        PQclear(r);
        return host->job_error(job, "no outbound mail %lld", id), ATUM_JOB_PERMANENT;
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
        host->job_retry_in(job, NO_SMARTHOST_WAIT);
        return host->job_error(job, "no smarthost configured ([smarthost] url): the mail waits");
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
        return host->job_error(job, "%s", e);
    }
    n = (size_t)PQntuples(r);
    rcpts = xcalloc(n + 1, sizeof(*rcpts));
    for (size_t i = 0; i < n; i++)
        rcpts[i] = xstrdup(PQgetvalue(r, (int)i, 0));
    PQclear(r);
    r = NULL;

    if (exec1(c, "UPDATE outbound_mail SET state = 'sending', stage = 'connect', attempts = attempts + 1,"
                 " last_attempt_at = now() WHERE id = $1", 1, p, &e) < 0) {
        host->job_error(job, "%s", e);
        goto out;
    }
    struct smarthost sh = {
        .url = cfg->sh_url, .starttls = cfg->sh_starttls, .verify = cfg->sh_verify,
        .ca_file = cfg->sh_ca_file, .username = cfg->sh_username, .password = cfg->sh_password,
        .helo = cfg->sh_helo, .timeout_ms = (long)cfg->sh_timeout_ms,
    };
    host->job_extend_lease(job, (int)(cfg->sh_timeout_ms / 1000) + 60, &e);
    res = xcalloc(n + 1, sizeof(*res));
    struct smtp_result sr;
    struct send_state ss = { c, id };
    const char *terr = NULL;
    int tr = n > 0 ? smtp_send(&sh, from, rcpts, n, raw, len, mark_data_end, &ss, res, &sr, &terr) : 0;

    /* record what happened, recipient by recipient */
    if (db_begin(c, &e) < 0) {
        host->job_error(job, "%s", e);
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
    }
    const char *last_error = tr < 0 ? terr : (deferred ? sr.final_reply : NULL);
    const char *up[] = { sid, deferred ? "queued" : "sending", last_error };
    if (exec1(c, "UPDATE outbound_mail SET state = $2, stage = NULL, last_error = $3 WHERE id = $1",
              3, up, &e) < 0)
        goto tx_fail;
    if (!deferred) {
        if (settle(c, rt, id, ticket, &e) < 0 || host->job_complete_in_tx(job, &e) < 0)
            goto tx_fail;
    }
    if (db_commit(c, &e) < 0) {
        host->job_error(job, "%s", e);
        goto out;
    }
    if (deferred) {
        long long delay = retry_delay_ms(cfg, job->attempt);
        log_info("outbox.deferred", "outbound=%lld retry_in_ms=%lld error=%s", id, delay,
                 last_error ? last_error : "4xx");
        host->job_error(job, "deferred: %s", last_error ? last_error : "temporary failure");
        host->job_retry_in(job, (double)delay / 1000.0);
        rc = ATUM_JOB_RETRY;
    } else {
        log_info("outbox.sent", "outbound=%lld rcpts=%zu reply=%s", id, n, sr.final_reply);
        rc = ATUM_JOB_DONE;
    }
    goto out;
tx_fail:
    db_rollback(c);
    host->job_error(job, "%s", e);
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

int outbox_retry(struct db_conn *c, const struct atum_config *cfg, long long id, int *recipients_r,
                 const char **error_r)
{
    const char *e = NULL;
    char sid[32];
    snprintf(sid, sizeof(sid), "%lld", id);
    const char *p[] = { sid };
    *recipients_r = 0;
    if (db_begin(c, &e) < 0)
        return err_set(error_r, "%s", e);
    PGresult *r = db_exec(c, "SELECT CASE WHEN state = 'sent' AND unconfirmed THEN 'unconfirmed' ELSE state END"
                             "  FROM outbound_mail WHERE id = $1 FOR UPDATE", 1, p, &e);
    if (r == NULL)
        goto dbfail;
    if (PQntuples(r) == 0) {
        PQclear(r);
        db_rollback(c);
        return err_set(error_r, "no outgoing mail %lld", id);
    }
    char state[16];
    snprintf(state, sizeof(state), "%s", PQgetvalue(r, 0, 0));
    PQclear(r);
    if (strcmp(state, "failed") != 0 && strcmp(state, "expired") != 0 && strcmp(state, "partial") != 0
        && strcmp(state, "unconfirmed") != 0) {
        db_rollback(c);
        return err_set(error_r, "outgoing mail %lld is %s: only failed, partial, expired or unconfirmed "
                       "mail is retried", id, state);
    }
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
        || enqueue_send(c, cfg, "outbound_id", id, &e) < 0)
        goto dbfail;
    if (db_commit(c, &e) < 0)
        return err_set(error_r, "%s", e);
    return 0;
dbfail:
    db_rollback(c);
    return err_set(error_r, "retrying outgoing mail %lld: %s", id, e);
}

/* ---- what a change in the helpdesk mails ---------------------------------- */

static int ticket_opened(struct db_conn *c, const struct atum_config *cfg, long long ticket_id,
                         long long message_id, const char **error_r)
{
    if (outbox_ack(c, cfg, ticket_id, message_id, error_r) < 0)
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

static const char *const event_names[] = { "opened", "customer_wrote", "assigned" };

int outbox_later(struct db_conn *c, const struct atum_config *cfg, enum outbox_event ev,
                 long long ticket_id, long long id, const char **error_r)
{
    const char *e = NULL;
    if (ev == OUTBOX_ASSIGNED ? !cfg->mail_notify_agents || id <= 0
        : ev == OUTBOX_CUSTOMER_WROTE ? !cfg->mail_notify_agents
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
                                  .priority = COMPOSE_PRIORITY, .max_attempts = 10,
                                  .unique_key = key, .concurrency_key = lane };
    /* no NOTIFY: the transaction that calls this is the ingest of a mail */
    if (queue_enqueue_ex(c, &spec, false, NULL, &e) < 0)
        return err_set(error_r, "%s", e);
    return 0;
}

static int compose_run(void *state, struct atum_job *job)
{
    (void)state;
    const struct atum_host *host = plugin_host_table();
    struct db_conn *c = job->db->conn;
    const struct atum_config *cfg = job->db->rt->cfg;
    const char *e = NULL;
    json_t *pl = json_loads(job->payload, 0, NULL);
    const char *ev = json_string_value(json_object_get(pl, "event"));
    long long ticket = (long long)json_integer_value(json_object_get(pl, "ticket_id"));
    long long id = (long long)json_integer_value(json_object_get(pl, "id"));
    int which = -1;
    for (int i = 0; ev && i < 3; i++)
        if (strcmp(ev, event_names[i]) == 0)
            which = i;
    json_decref(pl);
    if (which < 0 || ticket <= 0)
        return host->job_error(job, "payload names no known event and ticket"), ATUM_JOB_PERMANENT;
    if (db_begin(c, &e) < 0)
        return host->job_error(job, "%s", e);
    int rc = which == OUTBOX_OPENED ? ticket_opened(c, cfg, ticket, id, &e)
             : which == OUTBOX_CUSTOMER_WROTE ? customer_wrote(c, cfg, ticket, id, &e)
             : outbox_notify(c, cfg, "notify_assign", ticket, 0, id, &e);
    if (rc < 0 || host->job_complete_in_tx(job, &e) < 0) {
        db_rollback(c);
        return host->job_error(job, "%s", e);
    }
    if (db_commit(c, &e) < 0)
        return host->job_error(job, "%s", e);
    return ATUM_JOB_DONE;
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

int outbox_register(struct runtime *rt, const char **error_r)
{
    if (jobkind_register(&rt->kinds, OUTBOX_SEND_KIND, "core", send_run, NULL, SEND_ATTEMPTS, 0,
                         error_r) < 0)
        return -1;
    return jobkind_register(&rt->kinds, OUTBOX_COMPOSE_KIND, "core", compose_run, NULL, 10, 0, error_r);
}
