/* mailout/outbox.c -- see mailout/outbox.h: the outgoing mail store and
 * what every kind of mail shares (the ticket's context, templates,
 * Message-IDs, reply tokens), and mail-out's registration. */
#include "config.h"
#include "mailout/outbox.h"
#include "mailout/outbox_admin.h"
#include "mailout/outbox-private.h"
#include "core/jobkind.h"
#include "core/jobs.h"
#include "core/mailer.h"
#include "core/runtime.h"
#include "lib/err.h"
#include "lib/log.h"
#include "lib/metrics.h"
#include "lib/util.h"
#include "lib/xalloc.h"
#include "mail/compose.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- what a mail about a ticket needs to know ------------------------- */



void outbox_ctx_free(struct outbox_ctx *t)
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
    size_t keep_tail = OUTBOX_MAX_REFS - 2;
    for (size_t i = 0; i < n; i++)
        if (i == 0 || i + keep_tail >= n)
            out->refs[out->n++] = xstrdup(v[i]);
    out->refs[out->n++] = xstrdup(in_reply_to);
    free(all);
}

int outbox_ctx_load(struct db_conn *c, long long ticket_id, long long message_id, const char *template_name,
                    bool want_text, struct outbox_ctx *t, const char **error_r)
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

/* ---- helpers ---------------------------------------------------------- */

static const char *domain_of(const char *addr)
{
    const char *at = strrchr(addr, '@');
    return at ? at + 1 : "localhost";
}

/* "support+TOKEN@example.com" */
char *outbox_token_address(const char *queue_address, const char *token)
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
char *outbox_reply_subject(long long ticket, const char *subject)
{
    char tag[32];
    snprintf(tag, sizeof(tag), "[#%lld]", ticket);
    const char *s = subject;
    bool re = strncasecmp(s, "re:", 3) == 0;
    if (strstr(s, tag) != NULL)
        return xasprintf("%s%s", re ? "" : "Re: ", s);
    return xasprintf("Re: %s %s", tag, re ? s + 3 + (s[3] == ' ') : s);
}

char *outbox_url_for(const struct atum_config *cfg, const char *area, long long ticket)
{
    const char *base = cfg->public_url ? cfg->public_url : "http://127.0.0.1:8080";
    size_t n = strlen(base);
    return xasprintf("%.*s/%s/tickets/%lld", (int)(n && base[n - 1] == '/' ? n - 1 : n), base, area, ticket);
}


/* Renders a template: the queue's override when it has one. */
int outbox_render(const struct outbox_ctx *t, const char *name, const struct tmpl_var *vars, size_t nvars,
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


int outbox_enqueue_send(struct db_conn *c, const struct atum_config *cfg, const char *field,
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
                                  .priority = OUTBOX_SEND_PRIORITY, .max_attempts = OUTBOX_SEND_ATTEMPTS,
                                  .unique_key = key, .delay_seconds = none ? OUTBOX_NO_SMARTHOST_WAIT : 0 };
    if (jobs_enqueue(c, &spec, NULL, &e) < 0)
        return err_set(error_r, "%s", e);
    return 0;
}


int outbox_store(struct db_conn *c, const struct atum_config *cfg,
                           const struct outbox_spec *o, bool enqueue, long long *id_r,
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
    const char *p[] = { o->t->id > 0 ? st : NULL, o->message_id ? sm : NULL, o->kind, rfc, o->t->queue_address, o->subject,
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
    if (enqueue && outbox_enqueue_send(c, cfg, "outbound_id", id, error_r) < 0)
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


/* ---- registration ------------------------------------------------------ */

/* The outbox is the runtime's mailer: the floors below mail-out mail
 * through this table (core/mailer.h). */
static const struct mailer outbox_mailer = {
    .later = outbox_later,
    .reply = outbox_reply,
    .notice = outbox_notice,
    .bounced = outbox_bounced,
    .account = outbox_account,
};

int outbox_register(struct runtime *rt, void *arg, const char **error_r)
{
    (void)arg;
    if (jobkind_register(&rt->kinds, OUTBOX_SEND_KIND, "core", outbox_send_run, NULL,
                         OUTBOX_SEND_ATTEMPTS, 0, error_r) < 0)
        return -1;
    if (jobkind_register(&rt->kinds, OUTBOX_COMPOSE_KIND, "core", outbox_compose_run, NULL, 10, 0,
                         error_r) < 0)
        return -1;
    rt->mailer = &outbox_mailer;
    rt->mailadmin_out = &outbox_admin_ops;
    return 0;
}
