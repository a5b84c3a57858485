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

/* ---- the ticket a mail is about --------------------------------------- */

struct ticket_ctx {
    long long id, queue_id, requester_id, assignee_id;
    char *subject, *status, *queue_name, *queue_address, *customer_email, *customer_name;
};

static void ticket_ctx_free(struct ticket_ctx *t)
{
    free(t->subject);
    free(t->status);
    free(t->queue_name);
    free(t->queue_address);
    free(t->customer_email);
    free(t->customer_name);
}

static int load_ticket(struct db_conn *c, long long id, struct ticket_ctx *t, const char **error_r)
{
    char sid[32];
    const char *e = NULL;
    snprintf(sid, sizeof(sid), "%lld", id);
    const char *p[] = { sid };
    PGresult *r = db_exec(c,
        "SELECT t.id, t.subject, t.status, q.id, q.name, q.address, u.id, u.email, u.name,"
        "       coalesce(t.assignee_id, 0)"
        "  FROM tickets t JOIN queues q ON q.id = t.queue_id JOIN users u ON u.id = t.requester_id"
        " WHERE t.id = $1", 1, p, &e);
    if (r == NULL)
        return err_set(error_r, "loading ticket %lld: %s", id, e);
    if (PQntuples(r) == 0) {
        PQclear(r);
        return err_set(error_r, "no ticket %lld", id);
    }
    memset(t, 0, sizeof(*t));
    t->id = id;
    t->subject = xstrdup(PQgetvalue(r, 0, 1));
    t->status = xstrdup(PQgetvalue(r, 0, 2));
    t->queue_id = atoll(PQgetvalue(r, 0, 3));
    t->queue_name = xstrdup(PQgetvalue(r, 0, 4));
    t->queue_address = xstrdup(PQgetvalue(r, 0, 5));
    t->requester_id = atoll(PQgetvalue(r, 0, 6));
    t->customer_email = xstrdup(PQgetvalue(r, 0, 7));
    t->customer_name = xstrdup(PQgetvalue(r, 0, 8)[0] ? PQgetvalue(r, 0, 8) : PQgetvalue(r, 0, 7));
    t->assignee_id = atoll(PQgetvalue(r, 0, 9));
    PQclear(r);
    return 0;
}

/* In-Reply-To and References: the given message, or else the customer's
 * latest one; its own references first (first one plus the latest few). */
struct thread_refs {
    char *in_reply_to;
    char *refs[MAX_REFS + 1];
    size_t n;
};

static void refs_free(struct thread_refs *t)
{
    free(t->in_reply_to);
    for (size_t i = 0; i < t->n; i++)
        free(t->refs[i]);
}

static int load_refs(struct db_conn *c, long long ticket_id, long long message_id,
                     struct thread_refs *out, const char **error_r)
{
    char st[32], sm[32];
    const char *e = NULL;
    memset(out, 0, sizeof(*out));
    snprintf(st, sizeof(st), "%lld", ticket_id);
    snprintf(sm, sizeof(sm), "%lld", message_id);
    const char *p[] = { st, message_id > 0 ? sm : NULL };
    /* without a message: the requester's own latest mail -- the one in
     * the customer's mailbox -- else the latest incoming one */
    PGresult *r = db_exec(c,
        "SELECT m.message_id, array_to_string(m.refs, ' ') FROM messages m"
        "  JOIN tickets t ON t.id = m.ticket_id"
        " WHERE m.ticket_id = $1 AND m.message_id IS NOT NULL"
        "   AND (CASE WHEN $2::bigint IS NULL THEN m.direction = 'in' ELSE m.id = $2::bigint END)"
        " ORDER BY (m.author_id IS NOT DISTINCT FROM t.requester_id) DESC, m.created_at DESC, m.id DESC"
        " LIMIT 1", 2, p, &e);
    if (r == NULL)
        return err_set(error_r, "threading headers: %s", e);
    if (PQntuples(r) > 0) {
        out->in_reply_to = xstrdup(PQgetvalue(r, 0, 0));
        /* split the references, keep the first and the newest */
        char *all = xstrdup(PQgetvalue(r, 0, 1));
        char *v[256];
        size_t n = 0;
        for (char *tok = strtok(all, " "); tok && n < 256; tok = strtok(NULL, " "))
            v[n++] = tok;
        size_t keep_tail = MAX_REFS - 2;
        for (size_t i = 0; i < n; i++) {
            if (i == 0 || i + keep_tail >= n)
                out->refs[out->n++] = xstrdup(v[i]);
        }
        out->refs[out->n++] = xstrdup(out->in_reply_to);
        free(all);
    }
    PQclear(r);
    return 0;
}

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

/* Renders a template for a ticket's queue. */
static int render(struct db_conn *c, long long queue_id, const char *name, const struct tmpl_var *vars,
                  size_t nvars, struct strbuf *subject, struct strbuf *text, struct strbuf *html,
                  const char **error_r)
{
    const char *e = NULL;
    char *src = tmpl_source(c, queue_id, name, error_r);
    if (src == NULL)
        return -1;
    int rc = tmpl_render(src, vars, nvars, subject, text, html, &e);
    free(src);
    if (rc == 0)
        return 0;
    /* a broken per-queue override must not stop the mail: use the built-in */
    log_warn("outbox.template_broken", "queue=%lld template=%s error=%s", queue_id, name, e);
    strbuf_reset(subject);
    strbuf_reset(text);
    strbuf_reset(html);
    if (tmpl_render(tmpl_builtin(name), vars, nvars, subject, text, html, &e) < 0)
        return err_set(error_r, "template %s: %s", name, e);
    return 0;
}

#define SEND_PRIORITY 60
#define SEND_ATTEMPTS 1000      /* the real limit is smarthost.retry_for */

static int enqueue_send(struct db_conn *c, const char *field, long long id, const char **error_r)
{
    char payload[64], key[48];
    const char *e = NULL;
    snprintf(payload, sizeof(payload), "{\"%s\":%lld}", field, id);
    snprintf(key, sizeof(key), "send:%s:%lld", field, id);
    struct atum_job_spec spec = { .kind = OUTBOX_SEND_KIND, .payload = payload,
                                  .priority = SEND_PRIORITY, .max_attempts = SEND_ATTEMPTS,
                                  .unique_key = key };
    if (queue_enqueue(c, &spec, NULL, &e) < 0)
        return err_set(error_r, "%s", e);
    return 0;
}

struct outbound_spec {
    const struct ticket_ctx *t;
    const char *from_name;           /* NULL: the queue's name */
    long long message_id;            /* the reply this sends, or 0 */
    const char *kind;
    char *const *to;
    size_t nto;
    const char *reply_to;
    const char *auto_submitted;
    const struct thread_refs *refs;
    const char *subject, *text, *html;
    const struct compose_attachment *att;
    size_t natt;
};

static int create_outbound(struct db_conn *c, const struct outbound_spec *o, bool enqueue,
                           long long *id_r, const char **error_r)
{
    const char *e = NULL;
    char rfc[300];
    struct strbuf raw = STRBUF_INIT;
    int ret = -1;
    PGresult *r = NULL;
    new_message_id(domain_of(o->t->queue_address), rfc, sizeof(rfc));
    struct compose_mail m = {
        .from_name = o->from_name ? o->from_name : o->t->queue_name, .from_addr = o->t->queue_address, .reply_to = o->reply_to,
        .to = o->to, .nto = o->nto, .subject = o->subject, .message_id = rfc,
        .in_reply_to = o->refs ? o->refs->in_reply_to : NULL,
        .references = o->refs ? o->refs->refs : NULL, .nrefs = o->refs ? o->refs->n : 0,
        .text = o->text, .html = o->html, .att = o->att, .natt = o->natt,
        .auto_submitted = o->auto_submitted,
    };
    if (compose_build(&m, &raw, error_r) < 0)
        goto out;
    char st[32], sm[32], len[32];
    snprintf(st, sizeof(st), "%lld", o->t->id);
    snprintf(sm, sizeof(sm), "%lld", o->message_id);
    snprintf(len, sizeof(len), "%zu", raw.len);
    const char *p[] = { st, o->message_id ? sm : NULL, o->kind, rfc, o->t->queue_address, o->subject, raw.s };
    const int lens[] = { 0, 0, 0, 0, 0, 0, (int)raw.len };
    const int fmts[] = { 0, 0, 0, 0, 0, 0, 1 };
    r = db_exec_bin(c,
        "INSERT INTO outbound_mail (ticket_id, message_id, kind, rfc_message_id, mail_from, subject, raw)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7)"
        " ON CONFLICT (message_id) WHERE kind = 'reply' DO NOTHING RETURNING id",
        7, p, lens, fmts, 0, &e);
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
    char sid[32];
    snprintf(sid, sizeof(sid), "%lld", id);
    for (size_t i = 0; i < o->nto; i++) {
        const char *rp[] = { sid, o->to[i] };
        PGresult *x = db_exec(c, "INSERT INTO outbound_recipients (outbound_id, address) VALUES ($1, $2)"
                                 " ON CONFLICT DO NOTHING", 2, rp, &e);
        if (x == NULL) {
            err_set(error_r, "storing recipients: %s", e);
            goto out;
        }
        PQclear(x);
    }
    if (enqueue && enqueue_send(c, "outbound_id", id, error_r) < 0)
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

int outbox_enqueue_reply(struct db_conn *c, long long message_id, const char **error_r)
{
    return enqueue_send(c, "message_id", message_id, error_r);
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

    struct ticket_ctx t;
    struct thread_refs refs;
    struct strbuf subj = STRBUF_INIT, text = STRBUF_INIT, html = STRBUF_INIT;
    struct compose_attachment *att = NULL;
    size_t natt = 0;
    PGresult *ar = NULL;
    char *rs = NULL, *portal = NULL, *reply_to = NULL, *from = NULL;
    int ret = -1;
    memset(&refs, 0, sizeof(refs));
    if (load_ticket(c, ticket, &t, error_r) < 0) {
        free(body);
        free(agent);
        return -1;
    }
    if (load_refs(c, ticket, 0, &refs, error_r) < 0)
        goto out;
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
    if (render(c, t.queue_id, "reply", vars, sizeof(vars) / sizeof(vars[0]), &subj, &text, &html, error_r) < 0)
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
        .reply_to = reply_to, .refs = &refs, .subject = subj.s, .text = text.s, .html = html.s,
        .att = att, .natt = natt,
    };
    ret = create_outbound(c, &o, enqueue, outbound_r, error_r);
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
    refs_free(&refs);
    ticket_ctx_free(&t);
    return ret;
}

/* ---- acknowledgement -------------------------------------------------- */

int outbox_ack(struct db_conn *c, const struct atum_config *cfg, long long ticket_id,
               long long message_id, bool *sent_r, const char **error_r)
{
    const char *e = NULL;
    struct ticket_ctx t;
    *sent_r = false;
    if (!cfg->mail_acknowledge)
        return 0;
    if (load_ticket(c, ticket_id, &t, error_r) < 0)
        return -1;
    int ret = -1;
    struct thread_refs refs;
    struct strbuf subj = STRBUF_INIT, text = STRBUF_INIT, html = STRBUF_INIT;
    char *portal = NULL, *reply_to = NULL;
    memset(&refs, 0, sizeof(refs));

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
    PGresult *r = db_exec(c,
        "WITH lock AS (SELECT pg_advisory_xact_lock(hashtext('atum-ack:' || lower($1))))"
        " SELECT EXISTS (SELECT 1 FROM queues WHERE lower(address) ="
        "                 lower(regexp_replace($1, '\\+[^@]*@', '@'))),"
        "       (SELECT count(*) FROM lock, outbound_mail o JOIN outbound_recipients r ON r.outbound_id = o.id"
        "         WHERE o.kind = 'ack' AND lower(r.address) = lower($1)"
        "           AND o.created_at > now() - $2::bigint * interval '1 millisecond'),"
        "       coalesce((SELECT m.direction || ':' || m.robot FROM messages m"
        "                  WHERE m.ticket_id = $4::bigint AND ($3::bigint IS NULL OR m.id = $3::bigint)"
        "                  ORDER BY m.id LIMIT 1), 'none:none'),"
        "       coalesce((SELECT u.role FROM users u WHERE lower(u.email) = lower($1)), 'customer')",
        4, p, &e);
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
    if (load_refs(c, ticket_id, message_id, &refs, error_r) < 0)
        goto out;
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
    if (render(c, t.queue_id, "ack", vars, sizeof(vars) / sizeof(vars[0]), &subj, &text, &html, error_r) < 0)
        goto out;
    char *to[] = { t.customer_email };
    struct outbound_spec o = {
        .t = &t, .kind = "ack", .to = to, .nto = 1, .reply_to = reply_to,
        .auto_submitted = "auto-replied", .refs = &refs, .subject = subj.s, .text = text.s,
        .html = html.s,
    };
    if (create_outbound(c, &o, true, NULL, error_r) < 0)
        goto out;
    *sent_r = true;
    ret = 0;
out:
    free(portal);
    free(reply_to);
    strbuf_free(&subj);
    strbuf_free(&text);
    strbuf_free(&html);
    refs_free(&refs);
    ticket_ctx_free(&t);
    return ret;
}

/* ---- agent notifications ---------------------------------------------- */

int outbox_notify(struct db_conn *c, const struct atum_config *cfg, const char *template_name,
                  long long ticket_id, long long message_id, long long only_user,
                  const char **error_r)
{
    const char *e = NULL;
    struct ticket_ctx t;
    if (!cfg->mail_notify_agents)
        return 0;
    if (load_ticket(c, ticket_id, &t, error_r) < 0)
        return -1;
    int ret = -1;
    struct thread_refs refs;
    char *desk = NULL, *message = NULL;
    PGresult *r = NULL;
    memset(&refs, 0, sizeof(refs));

    {
        /* the message it is about; without one, the latest public one */
        char sm[32], st[32];
        snprintf(sm, sizeof(sm), "%lld", message_id);
        snprintf(st, sizeof(st), "%lld", ticket_id);
        const char *p[] = { message_id > 0 ? sm : NULL, st };
        r = db_exec(c, "SELECT coalesce(new_text, body_text) FROM messages"
                       " WHERE ticket_id = $2 AND ($1::bigint IS NULL OR id = $1::bigint)"
                       "   AND ($1::bigint IS NOT NULL OR visibility = 'public')"
                       " ORDER BY id DESC LIMIT 1", 2, p, &e);
        if (r == NULL) {
            err_set(error_r, "%s", e);
            goto out;
        }
        message = xstrdup(PQntuples(r) ? PQgetvalue(r, 0, 0) : "");
        PQclear(r);
        r = NULL;
    }
    /* who hears of it */
    char sq[32], su[32], sa[32];
    snprintf(sq, sizeof(sq), "%lld", t.queue_id);
    snprintf(su, sizeof(su), "%lld", only_user > 0 ? only_user
                                      : (strcmp(template_name, "notify_reply") == 0 ? t.assignee_id : 0));
    snprintf(sa, sizeof(sa), "%lld", t.assignee_id);
    const char *p[] = { sq, su };
    r = db_exec(c,
        "SELECT u.id, u.email, coalesce(nullif(u.name, ''), u.email) FROM users u"
        " WHERE NOT u.disabled AND u.role <> 'customer'"
        "   AND CASE WHEN $2::bigint > 0 THEN u.id = $2::bigint"
        "            ELSE EXISTS (SELECT 1 FROM queue_members m WHERE m.queue_id = $1::bigint AND m.user_id = u.id) END"
        " ORDER BY u.id", 2, p, &e);
    if (r == NULL) {
        err_set(error_r, "notification recipients: %s", e);
        goto out;
    }
    if (load_refs(c, ticket_id, message_id, &refs, error_r) < 0)
        goto out;
    desk = url_for(cfg, "desk", ticket_id);
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
            { "customer_email", t.customer_email }, { "message", message ? message : "" },
            { "agent_name", PQgetvalue(r, i, 2) }, { "note_marker", cfg->mail_note_marker },
        };
        struct strbuf subj = STRBUF_INIT, text = STRBUF_INIT, html = STRBUF_INIT;
        int rc = render(c, t.queue_id, template_name, vars, sizeof(vars) / sizeof(vars[0]), &subj,
                        &text, &html, error_r);
        if (rc == 0) {
            char *to[] = { PQgetvalue(r, i, 1) };
            struct outbound_spec o = {
                .t = &t, .kind = "notify", .to = to, .nto = 1, .reply_to = reply_to,
                .auto_submitted = "auto-generated", .refs = &refs, .subject = subj.s,
                .text = text.s, .html = html.s,
            };
            rc = create_outbound(c, &o, true, NULL, error_r);
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
    free(message);
    refs_free(&refs);
    ticket_ctx_free(&t);
    return ret;
}

int outbox_notice(struct db_conn *c, const struct atum_config *cfg, long long ticket_id,
                  const char *to_addr, const char *title, const char *body, const char **error_r)
{
    struct ticket_ctx t;
    if (load_ticket(c, ticket_id, &t, error_r) < 0)
        return -1;
    struct thread_refs refs;
    struct strbuf subj = STRBUF_INIT, text = STRBUF_INIT, html = STRBUF_INIT;
    char num[32];
    snprintf(num, sizeof(num), "%lld", ticket_id);
    char *desk = url_for(cfg, "desk", ticket_id);
    int ret = -1;
    memset(&refs, 0, sizeof(refs));
    struct tmpl_var vars[] = {
        { "ticket", num }, { "subject", t.subject }, { "queue_name", t.queue_name },
        { "desk_url", desk }, { "notice_title", title }, { "notice_body", body },
    };
    if (render(c, t.queue_id, "notice", vars, sizeof(vars) / sizeof(vars[0]), &subj, &text, &html, error_r) == 0) {
        char *to[] = { (char *)to_addr };
        struct outbound_spec o = {
            .t = &t, .kind = "notice", .to = to, .nto = 1, .auto_submitted = "auto-generated",
            .subject = subj.s, .text = text.s, .html = html.s,
        };
        ret = create_outbound(c, &o, true, NULL, error_r);
    }
    free(desk);
    strbuf_free(&subj);
    strbuf_free(&text);
    strbuf_free(&html);
    refs_free(&refs);
    ticket_ctx_free(&t);
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
                   const char *status, const char *diagnostic, long long *outbound_r,
                   const char **error_r)
{
    const char *e = NULL;
    *outbound_r = 0;
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
    *outbound_r = id;
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
        if (db_begin(c, &e) < 0
            || exec1(c, "UPDATE outbound_recipients SET state = 'sent', updated_at = now(),"
                        " reply = 'unconfirmed: the sending worker stopped after the message was transmitted'"
                        " WHERE outbound_id = $1 AND state IN ('pending', 'deferred')", 1, p, &e) < 0
            || exec1(c, "UPDATE outbound_mail SET unconfirmed = true WHERE id = $1", 1, p, &e) < 0
            || settle(c, rt, id, ticket, &e) < 0 || host->job_complete_in_tx(job, &e) < 0) {
            db_rollback(c);
            return host->job_error(job, "%s", e);
        }
        if (db_commit(c, &e) < 0)
            return host->job_error(job, "%s", e);
        return ATUM_JOB_DONE;
    }
    if (age_ms > cfg->sh_retry_for_ms) {
        PQclear(r);
        if (db_begin(c, &e) < 0
            || exec1(c, "UPDATE outbound_recipients SET state = 'failed', updated_at = now(),"
                        " reply = 'expired: ' || coalesce(reply, 'never delivered')"
                        " WHERE outbound_id = $1 AND state IN ('pending', 'deferred')", 1, p, &e) < 0
            || exec1(c, "UPDATE outbound_mail SET state = 'expired', stage = NULL WHERE id = $1", 1, p, &e) < 0
            || settle(c, rt, id, ticket, &e) < 0 || host->job_complete_in_tx(job, &e) < 0) {
            db_rollback(c);
            return host->job_error(job, "%s", e);
        }
        if (db_commit(c, &e) < 0)
            return host->job_error(job, "%s", e);
        return ATUM_JOB_DONE;
    }
    if (cfg->sh_url == NULL || cfg->sh_url[0] == '\0') {
        PQclear(r);
        host->job_retry_in(job, 300);
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

int outbox_retry(struct db_conn *c, long long id, int *recipients_r, const char **error_r)
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
        || enqueue_send(c, "outbound_id", id, &e) < 0)
        goto dbfail;
    if (db_commit(c, &e) < 0)
        return err_set(error_r, "%s", e);
    return 0;
dbfail:
    db_rollback(c);
    return err_set(error_r, "retrying outgoing mail %lld: %s", id, e);
}

/* ---- the hooks: what the core mails when something happens -------------- */

/* Runs fn in one transaction with the hook job's completion. */
static int in_tx(struct atum_job *job, int (*fn)(struct atum_job *job, json_t *data, const char **error_r))
{
    const struct atum_host *host = plugin_host_table();
    struct db_conn *c = job->db->conn;
    const char *e = NULL;
    json_t *pl = json_loads(job->payload, 0, NULL);
    json_t *data = json_object_get(pl, "data");
    if (!json_is_object(data)) {
        json_decref(pl);
        return host->job_error(job, "hook payload without data"), ATUM_JOB_PERMANENT;
    }
    if (db_begin(c, &e) < 0) {
        json_decref(pl);
        return host->job_error(job, "%s", e);
    }
    if (fn(job, data, &e) < 0 || host->job_complete_in_tx(job, &e) < 0) {
        db_rollback(c);
        json_decref(pl);
        return host->job_error(job, "%s", e);
    }
    json_decref(pl);
    if (db_commit(c, &e) < 0)
        return host->job_error(job, "%s", e);
    return ATUM_JOB_DONE;
}

static long long data_id(json_t *data, const char *key)
{
    json_t *v = json_object_get(data, key);
    return json_is_integer(v) ? (long long)json_integer_value(v)
           : json_is_string(v) ? atoll(json_string_value(v)) : 0;
}

/* ticket.created: the customer's acknowledgement, the queue's agents */
static int on_ticket_created(struct atum_job *job, json_t *data, const char **error_r)
{
    struct db_conn *c = job->db->conn;
    const struct atum_config *cfg = job->db->rt->cfg;
    long long ticket = data_id(data, "ticket_id"), message = data_id(data, "message_id");
    bool sent = false;
    if (ticket <= 0)
        return 0;
    if (outbox_ack(c, cfg, ticket, message, &sent, error_r) < 0)
        return -1;
    return outbox_notify(c, cfg, "notify_new", ticket, message, 0, error_r);
}

static const struct db_stmt st_customer_reply = {
    "outbox_customer_reply",
    /* a customer's (not staff's, not a robot's) public message that is
     * not the one that opened the ticket */
    "SELECT m.ticket_id FROM messages m LEFT JOIN users u ON u.id = m.author_id"
    " WHERE m.id = $1 AND m.direction = 'in' AND m.visibility = 'public' AND m.robot = 'none'"
    "   AND coalesce(u.role, 'customer') = 'customer'"
    "   AND m.id <> (SELECT min(f.id) FROM messages f WHERE f.ticket_id = m.ticket_id)",
    1
};

/* message.received (mail) / message.created (API): a customer wrote */
static int on_message(struct atum_job *job, json_t *data, const char **error_r)
{
    struct db_conn *c = job->db->conn;
    const char *e = NULL;
    long long message = data_id(data, "message_id");
    if (message <= 0)
        return 0;
    char sm[32];
    snprintf(sm, sizeof(sm), "%lld", message);
    const char *p[] = { sm };
    PGresult *r = db_exec_stmt(c, &st_customer_reply, p, &e);
    if (r == NULL)
        return err_set(error_r, "%s", e);
    long long ticket = PQntuples(r) > 0 ? atoll(PQgetvalue(r, 0, 0)) : 0;
    PQclear(r);
    if (ticket <= 0)
        return 0;
    return outbox_notify(c, job->db->rt->cfg, "notify_reply", ticket, message, 0, error_r);
}

/* ticket.updated with a new assignee: tell that agent */
static int on_ticket_updated(struct atum_job *job, json_t *data, const char **error_r)
{
    long long ticket = data_id(data, "ticket_id");
    json_t *change = json_object_get(json_object_get(data, "changes"), "assignee_id");
    long long assignee = data_id(change, "to");
    if (ticket <= 0 || assignee <= 0)
        return 0;     /* not an assignment */
    return outbox_notify(job->db->conn, job->db->rt->cfg, "notify_assign", ticket, 0, assignee, error_r);
}

static int hook_ticket_created(void *state, struct atum_job *job)
{
    (void)state;
    return in_tx(job, on_ticket_created);
}

static int hook_message(void *state, struct atum_job *job)
{
    (void)state;
    return in_tx(job, on_message);
}

static int hook_ticket_updated(void *state, struct atum_job *job)
{
    (void)state;
    return in_tx(job, on_ticket_updated);
}

/* What the hooks never act on is filtered out before a job exists (the
 * handlers check again against the database, which has the last word). */
static bool want_received(const json_t *data)
{
    /* mail-in's message.received: a customer's reply, not a new ticket's
     * first mail, not staff's, not a robot's */
    const char *robot = json_string_value(json_object_get(data, "robot"));
    return !json_is_true(json_object_get(data, "new_ticket"))
           && !json_is_true(json_object_get(data, "from_staff"))
           && (robot == NULL || strcmp(robot, "none") == 0);
}

static bool want_created(const json_t *data)
{
    /* the API's message.created: only what a customer wrote */
    const char *dir = json_string_value(json_object_get(data, "direction"));
    return dir == NULL || strcmp(dir, "in") == 0;
}

static bool want_updated(const json_t *data)
{
    json_t *change = json_object_get(json_object_get(data, "changes"), "assignee_id");
    return change != NULL && !json_is_null(json_object_get(change, "to"));
}

int outbox_register(struct runtime *rt, const char **error_r)
{
    struct jobkind_registry *k = &rt->kinds;
    if (jobkind_register(k, OUTBOX_SEND_KIND, "core", send_run, NULL, SEND_ATTEMPTS, 0, error_r) < 0
        || jobkind_register_hook(k, "core", "ticket.created", hook_ticket_created, NULL, error_r) < 0
        || jobkind_register_hook_if(k, "core", "message.received", hook_message, want_received, NULL,
                                    error_r) < 0
        || jobkind_register_hook_if(k, "core", "message.created", hook_message, want_created, NULL,
                                    error_r) < 0)
        return -1;
    return jobkind_register_hook_if(k, "core", "ticket.updated", hook_ticket_updated, want_updated, NULL,
                                    error_r);
}
