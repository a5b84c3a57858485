/* mailin/ingest.c -- see mailin/ingest.h. */
#include "config.h"
#include "mailin/ingest.h"
#include "mailin/agent_reply.h"
#include "mail/mime.h"
#include "mail/summary.h"
#include "mailin/thread.h"
#include "mail/reply_token.h"
#include "desk/audit.h"
#include "lib/email.h"
#include "lib/err.h"
#include "core/event.h"
#include "core/mailer.h"
#include "core/jobrun.h"
#include "mailin/inbound.h"
#include "core/jobkind.h"
#include "lib/log.h"
#include "lib/metrics.h"
#include "core/plugin_loader.h"
#include "core/jobs.h"
#include "core/runtime.h"
#include "lib/strbuf.h"
#include "lib/xalloc.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define UNKNOWN_SENDER "unknown-sender@invalid"

struct inbound {
    long long id;
    char *raw;
    size_t len;
    char *source;
    char *state;
    long long mailbox_id;
    long long message_id;       /* set when already ingested (reprocess) */
    long long ticket_id;
    bool message_out;           /* that message is an agent's reply by mail */
    json_t *envelope;
};

static void inbound_free(struct inbound *in)
{
    free(in->raw);
    free(in->source);
    free(in->state);
    json_decref(in->envelope);
}

/* ---- statements ------------------------------------------------------- */

static const struct db_stmt st_load = {
    "ingest_load",
    "SELECT raw, source, state, coalesce(mailbox_id, 0)::text,"
    "       (CASE WHEN duplicate THEN 0 ELSE coalesce(message_id, 0) END)::text,"
    "       (CASE WHEN duplicate THEN 0 ELSE coalesce(ticket_id, 0) END)::text, envelope::text,"
    "       coalesce((SELECT m.direction = 'out' FROM messages m WHERE m.id = i.message_id), false)::text"
    "  FROM inbound_mail i WHERE id = $1",
    1
};
static const struct db_stmt st_dup = {
    "ingest_dup", "SELECT id, ticket_id FROM messages WHERE message_id = $1", 1
};
/* One of our own outgoing mails came back (a customer's forward to the
 * support address, a list echoing it): it is not news. */
static const struct db_stmt st_own = {
    "ingest_own", "SELECT coalesce(ticket_id, 0) FROM outbound_mail WHERE rfc_message_id = $1", 1
};
static const struct db_stmt st_agent_message = {
    "ingest_agent_message",
    "INSERT INTO messages (ticket_id, inbound_id, author_id, direction, visibility, message_id,"
    "                      in_reply_to, refs, subject, from_addr, body_text, to_addrs, date_header,"
    "                      problems)"
    " VALUES ($1, $2, $3, 'out', $4, $5, $6, $7::text[], $8, $9, $10, $11::text[], $12, $13::text[])"
    " RETURNING id",
    13
};
/* An agent's answer moves a new ticket to open, as one from the desk does. */
static const struct db_stmt st_ticket_answered = {
    "ingest_ticket_answered",
    "UPDATE tickets t SET updated_at = now(),"
    "       status = CASE WHEN t.status = 'new' THEN 'open' ELSE t.status END"
    "  FROM tickets old WHERE old.id = t.id AND t.id = $1 RETURNING old.status, t.status",
    1
};
static const struct db_stmt st_user_find = {
    "ingest_user_find", "SELECT id, org_id, role FROM users WHERE lower(email) = lower($1)", 1
};
static const struct db_stmt st_user_add = {
    "ingest_user_add",
    "INSERT INTO users (email, name, role, org_id)"
    " VALUES ($1, $2, 'customer',"
    "         (SELECT id FROM orgs WHERE $3::bool AND lower(domain) = lower(split_part($1, '@', 2)) LIMIT 1))"
    " ON CONFLICT ((lower(email))) DO NOTHING RETURNING id, org_id, role",
    3
};
static const struct db_stmt st_queue_by_addr = {
    "ingest_queue_by_addr",
    "SELECT id, lower(address) FROM queues WHERE lower(address) = ANY($1::text[])", 1
};
static const struct db_stmt st_queue_default = {
    "ingest_queue_default",
    "SELECT id FROM queues WHERE ($1 <> '' AND name = $1) OR $1 = ''"
    " ORDER BY (name = $1) DESC, id LIMIT 1",
    1
};
static const struct db_stmt st_queue_mailbox = {
    "ingest_queue_mailbox", "SELECT queue_id FROM mailboxes WHERE id = $1", 1
};
static const struct db_stmt st_ticket_new = {
    "ingest_ticket_new",
    "INSERT INTO tickets (queue_id, subject, requester_id, org_id) VALUES ($1, $2, $3, $4)"
    " RETURNING id",
    4
};
/* A customer writing on a ticket that waits for them or was solved
 * reopens it; staff or robots do not. */
static const struct db_stmt st_ticket_touch = {
    "ingest_ticket_touch",
    "UPDATE tickets SET updated_at = now(),"
    "       status = CASE WHEN $2 AND status IN ('pending', 'solved', 'closed') THEN 'open' ELSE status END,"
    "       solved_at = CASE WHEN $2 AND status IN ('solved', 'closed') THEN NULL ELSE solved_at END,"
    "       closed_at = CASE WHEN $2 AND status = 'closed' THEN NULL ELSE closed_at END"
    " WHERE id = $1 RETURNING status, queue_id",
    2
};
static const struct db_stmt st_message_new = {
    "ingest_message_new",
    "INSERT INTO messages (ticket_id, inbound_id, author_id, direction, message_id, in_reply_to,"
    "                      refs, subject, from_addr, body_text, body_html, new_text, to_addrs,"
    "                      date_header, robot, problems, remote_images)"
    " VALUES ($1, $2, $3, 'in', $4, $5, $6::text[], $7, $8, $9, $10, $11, $12::text[], $13, $14,"
    "         $15::text[], $16) RETURNING id",
    16
};
static const struct db_stmt st_message_rewrite = {
    "ingest_message_rewrite",
    "UPDATE messages SET message_id = $2, in_reply_to = $3, refs = $4::text[], subject = $5,"
    "       from_addr = $6, body_text = $7, body_html = $8, new_text = $9, to_addrs = $10::text[],"
    "       date_header = $11, robot = $12, problems = $13::text[], remote_images = $14"
    " WHERE id = $1",
    14
};
static const struct db_stmt st_inbound_done = {
    "ingest_inbound_done",
    "UPDATE inbound_mail SET state = 'ingested', error = NULL, processed_at = clock_timestamp(),"
    "       ticket_id = $2, message_id = $3, summary = $4::jsonb, robot = $5, duplicate = $6,"
    "       rfc_message_id = $7"
    " WHERE id = $1",
    7
};

/* ---- helpers ---------------------------------------------------------- */

/* problems ("a\nb\n") as a text[] literal */
static void lines_array(struct strbuf *b, const char *lines)
{
    char **v = NULL;
    size_t n = 0;
    char *copy = xstrdup(lines ? lines : "");
    for (char *s = copy, *nl; *s; s = nl + 1) {
        nl = strchr(s, '\n');
        if (nl)
            *nl = '\0';
        v = xrealloc(v, (n + 1) * sizeof(*v));
        v[n++] = s;
        if (nl == NULL)
            break;
    }
    db_text_array(b, v, n);
    free(v);
    free(copy);
}

/* At most max bytes, cut on a UTF-8 character boundary. */
static char *utf8_cut(const char *s, size_t max)
{
    size_t n = strlen(s);
    if (n <= max)
        return xstrdup(s);
    while (max > 0 && ((unsigned char)s[max] & 0xC0) == 0x80)
        max--;
    return xstrndup(s, max);
}

static void mark_failed(struct db_conn *c, long long id, const char *why)
{
    char sid[32];
    const char *e = NULL;
    snprintf(sid, sizeof(sid), "%lld", id);
    const char *p[] = { sid, why };
    PGresult *r = db_exec(c, "UPDATE inbound_mail SET state = 'failed', error = $2 WHERE id = $1", 2, p, &e);
    if (r == NULL)
        log_error("ingest.mark_failed", "inbound=%lld error=%s", id, e);
    PQclear(r);
}

static int load(struct db_conn *c, long long id, struct inbound *in, const char **error_r)
{
    char sid[32];
    const char *e = NULL;
    snprintf(sid, sizeof(sid), "%lld", id);
    const char *p[] = { sid };
    /* binary results: the raw bytes come as they are, not hex-encoded;
     * every other column is text (cast in the query) */
    PGresult *r = db_exec_bin(c, st_load.sql, 1, p, NULL, NULL, 1, &e);
    if (r == NULL)
        return err_set(error_r, "loading inbound mail %lld: %s", id, e);
    if (PQntuples(r) == 0) {
        PQclear(r);
        return err_set(error_r, "inbound mail %lld does not exist", id);
    }
    in->id = id;
    in->len = (size_t)PQgetlength(r, 0, 0);
    in->raw = xmalloc(in->len + 1);
    memcpy(in->raw, PQgetvalue(r, 0, 0), in->len);
    in->raw[in->len] = '\0';
    in->source = xstrdup(PQgetvalue(r, 0, 1));
    in->state = xstrdup(PQgetvalue(r, 0, 2));
    in->mailbox_id = atoll(PQgetvalue(r, 0, 3));
    in->message_id = atoll(PQgetvalue(r, 0, 4));
    in->ticket_id = atoll(PQgetvalue(r, 0, 5));
    in->envelope = json_loads(PQgetvalue(r, 0, 6), 0, NULL);
    in->message_out = strcmp(PQgetvalue(r, 0, 7), "true") == 0;
    PQclear(r);
    return 0;
}

/* Recipients to look at: the envelope's, then To/Cc. */
static void collect_rcpts(const struct inbound *in, const struct mail_msg *m, char ***v, size_t *n)
{
    json_t *rc = json_object_get(in->envelope, "rcpt_to");
    size_t i;
    json_t *x;
    json_array_foreach(rc, i, x) {
        if (json_is_string(x) && *n < 1000) {
            *v = xrealloc(*v, (*n + 1) * sizeof(**v));
            (*v)[(*n)++] = xstrdup(json_string_value(x));
        }
    }
    for (size_t k = 0; k < m->nto && *n < 1000; k++) {
        *v = xrealloc(*v, (*n + 1) * sizeof(**v));
        (*v)[(*n)++] = xstrdup(m->to[k]);
    }
}

static void free_list(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

static int pick_queue(struct db_conn *c, const struct inbound *in, char *const *rcpts, size_t nrcpt,
                      const char *default_queue, long long *queue_r, const char **error_r)
{
    const char *e = NULL;
    PGresult *r;
    *queue_r = 0;
    if (nrcpt > 0) {
        char **bases = xcalloc(nrcpt, sizeof(*bases));
        for (size_t i = 0; i < nrcpt; i++) {
            bases[i] = xmalloc(strlen(rcpts[i]) + 1);
            reply_token_base_address(rcpts[i], bases[i], strlen(rcpts[i]) + 1);
        }
        struct strbuf arr = STRBUF_INIT;
        db_text_array(&arr, bases, nrcpt);
        const char *p[] = { arr.s };
        r = db_exec_stmt(c, &st_queue_by_addr, p, &e);
        strbuf_free(&arr);
        if (r != NULL) {
            /* the first recipient (envelope order) that is a queue wins */
            for (size_t i = 0; i < nrcpt && *queue_r == 0; i++)
                for (int k = 0; k < PQntuples(r); k++)
                    if (strcmp(PQgetvalue(r, k, 1), bases[i]) == 0) {
                        *queue_r = atoll(PQgetvalue(r, k, 0));
                        break;
                    }
            PQclear(r);
        }
        free_list(bases, nrcpt);
        if (r == NULL)
            return err_set(error_r, "finding the queue: %s", e);
        if (*queue_r)
            return 0;
    }
    if (in->mailbox_id > 0) {
        char mb[32];
        snprintf(mb, sizeof(mb), "%lld", in->mailbox_id);
        const char *p[] = { mb };
        r = db_exec_stmt(c, &st_queue_mailbox, p, &e);
        if (r == NULL)
            return err_set(error_r, "finding the queue: %s", e);
        if (PQntuples(r) > 0)
            *queue_r = atoll(PQgetvalue(r, 0, 0));
        PQclear(r);
        if (*queue_r)
            return 0;
    }
    const char *p[] = { default_queue ? default_queue : "" };
    r = db_exec_stmt(c, &st_queue_default, p, &e);
    if (r == NULL)
        return err_set(error_r, "finding the queue: %s", e);
    if (PQntuples(r) > 0)
        *queue_r = atoll(PQgetvalue(r, 0, 0));
    PQclear(r);
    if (*queue_r == 0)
        return err_set(error_r, "no queue to put the mail in: create one (atumctl queue add NAME ADDRESS), then atumctl reprocess");
    return 0;
}

/* The sender as a user: found by address, or created as a customer. */
static int sender_user(struct db_conn *c, const char *addr, const char *name, bool org_by_domain,
                       long long *user_r, long long *org_r, bool *staff_r, const char **error_r)
{
    const char *e = NULL;
    const char *p1[] = { addr };
    for (int round = 0; round < 2; round++) {
        PGresult *r = db_exec_stmt(c, &st_user_find, p1, &e);
        if (r == NULL)
            return err_set(error_r, "finding sender: %s", e);
        if (PQntuples(r) > 0) {
            *user_r = atoll(PQgetvalue(r, 0, 0));
            *org_r = PQgetisnull(r, 0, 1) ? 0 : atoll(PQgetvalue(r, 0, 1));
            *staff_r = strcmp(PQgetvalue(r, 0, 2), "customer") != 0;
            PQclear(r);
            return 0;
        }
        PQclear(r);
        if (round == 1)
            break;
        const char *p2[] = { addr, name ? name : "", org_by_domain ? "true" : "false" };
        r = db_exec_stmt(c, &st_user_add, p2, &e);
        if (r == NULL)
            return err_set(error_r, "adding sender %s: %s", addr, e);
        if (PQntuples(r) > 0) {
            *user_r = atoll(PQgetvalue(r, 0, 0));
            *org_r = PQgetisnull(r, 0, 1) ? 0 : atoll(PQgetvalue(r, 0, 1));
            *staff_r = false;
            PQclear(r);
            return 0;
        }
        PQclear(r);   /* someone else added them just now: read it */
    }
    return err_set(error_r, "sender %s could not be found or added", addr);
}

static int store_attachments(struct db_conn *c, long long message_id, const struct mail_msg *m,
                             const char **error_r)
{
    const char *e = NULL;
    char mid[32];
    snprintf(mid, sizeof(mid), "%lld", message_id);
    for (size_t i = 0; i < m->natt; i++) {
        const struct mail_attachment *a = &m->att[i];
        if (a->data == NULL)
            continue;      /* too large: listed in the summary only */
        char size[32];
        snprintf(size, sizeof(size), "%zu", a->size);
        const char *bp[] = { a->sha256, size, a->data };
        const int bl[] = { 0, 0, (int)a->size };
        const int bf[] = { 0, 0, 1 };
        PGresult *r = db_exec_bin(c,
            "INSERT INTO attachment_blobs (sha256, size, content) VALUES ($1, $2, $3)"
            " ON CONFLICT (sha256) DO NOTHING", 3, bp, bl, bf, 0, &e);
        if (r == NULL)
            return err_set(error_r, "storing attachment %s: %s", a->filename, e);
        PQclear(r);
        const char *ap[] = { mid, a->sha256, a->filename, a->content_type, a->content_id, size,
                             a->is_inline ? "true" : "false" };
        r = db_exec(c, "INSERT INTO attachments (message_id, sha256, filename, content_type, content_id,"
                       " size, inline) VALUES ($1, $2, $3, $4, $5, $6, $7)", 7, ap, &e);
        if (r == NULL)
            return err_set(error_r, "storing attachment %s: %s", a->filename, e);
        PQclear(r);
    }
    return 0;
}

static int finish_inbound(struct db_conn *c, const struct inbound *in, long long ticket_id,
                          long long message_id, const char *summary, const struct mail_msg *m,
                          bool duplicate, const char **error_r)
{
    char sid[32], st[32], sm[32];
    const char *e = NULL;
    snprintf(sid, sizeof(sid), "%lld", in->id);
    snprintf(st, sizeof(st), "%lld", ticket_id);
    snprintf(sm, sizeof(sm), "%lld", message_id);
    const char *p[] = { sid, ticket_id ? st : NULL, message_id ? sm : NULL, summary,
                        mail_robot_name(m->robot), duplicate ? "true" : "false", m->message_id };
    PGresult *r = db_exec_stmt(c, &st_inbound_done, p, &e);
    if (r == NULL)
        return err_set(error_r, "marking inbound mail: %s", e);
    PQclear(r);
    return 0;
}

/* ---- the modes -------------------------------------------------------- */

static int ingest_bounce(struct db_conn *c, struct runtime *rt, const struct inbound *in,
                         const struct mail_msg *m, const char *summary, const char **error_r)
{
    const char *e = NULL;
    long long outbound = 0, ours = 0;
    if (m->report_original_id) {
        /* the report names a mail we sent: which one, and which reply */
        const char *p[] = { m->report_original_id };
        PGresult *r = db_exec(c, "SELECT id, coalesce(message_id, 0) FROM outbound_mail"
                                 " WHERE rfc_message_id = $1", 1, p, &e);
        if (r == NULL)
            return err_set(error_r, "bounce lookup: %s", e);
        if (PQntuples(r) > 0) {
            outbound = atoll(PQgetvalue(r, 0, 0));
            ours = atoll(PQgetvalue(r, 0, 1));
        }
        PQclear(r);
    }
    char sid[32], so[32], sob[32];
    snprintf(sid, sizeof(sid), "%lld", in->id);
    snprintf(so, sizeof(so), "%lld", ours);
    snprintf(sob, sizeof(sob), "%lld", outbound);
    const char *dp[] = { sid };   /* reprocessing replaces earlier rows */
    PGresult *dr = db_exec(c, "DELETE FROM mail_bounces WHERE inbound_id = $1", 1, dp, &e);
    if (dr == NULL)
        return err_set(error_r, "bounce: %s", e);
    PQclear(dr);
    const char *rtype = m->report_type ? m->report_type : "bounce";
    /* a feedback report (complaint) is not a failed delivery */
    bool delivery = strcmp(rtype, "feedback-report") != 0;
    size_t rows = m->ndsn ? m->ndsn : 1;
    for (size_t i = 0; i < rows; i++) {
        const struct mail_dsn_rcpt *d = m->ndsn ? &m->dsn[i] : NULL;
        const char *p[] = { sid, ours ? so : NULL, m->report_original_id, rtype,
                            d ? d->recipient : NULL, d ? d->action : NULL, d ? d->status : NULL,
                            d ? d->diagnostic : NULL, outbound ? sob : NULL };
        PGresult *r = db_exec(c,
            "INSERT INTO mail_bounces (inbound_id, message_id, original_message_id, report_type,"
            " recipient, action, status, diagnostic, outbound_id)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            9, p, &e);
        if (r == NULL)
            return err_set(error_r, "recording bounce: %s", e);
        PQclear(r);
        /* "failed" (or a 5.x.x status without an action) is final; a
         * "delayed" report only says the mail is still on its way */
        bool failed = d == NULL
                      || (d->action ? strcmp(d->action, "failed") == 0
                                    : d->status != NULL && d->status[0] == '5');
        if (outbound && delivery && failed
            && mailer_bounced(rt, c, m->report_original_id, d ? d->recipient : NULL,
                              d ? d->status : NULL, d ? d->diagnostic : NULL, error_r) < 0)
            return -1;
    }
    json_t *ev = json_pack("{s:I, s:o, s:o, s:s?}", "inbound_id", (json_int_t)in->id,
                           "message_id", ours ? json_integer(ours) : json_null(),
                           "outbound_id", outbound ? json_integer(outbound) : json_null(),
                           "report_type", rtype);
    char *evs = json_dumps(ev, JSON_COMPACT);
    json_decref(ev);
    int rc = event_emit(rt, c, "mail.bounced", evs, &e);
    free(evs);
    if (rc < 0)
        return err_set(error_r, "%s", e);
    return finish_inbound(c, in, 0, 0, summary, m, false, error_r);
}

static int emit(struct runtime *rt, struct db_conn *c, const char *event, json_t *data,
                const char **error_r)
{
    char *s = json_dumps(data, JSON_COMPACT);
    json_decref(data);
    int rc = event_emit(rt, c, event, s, error_r);
    free(s);
    return rc;
}

/* A mail that agent_reply_check() accepted: the agent's public reply
 * (mailed to the customer through the outbox, in this transaction) or,
 * behind the note marker, an internal note. */
static int ingest_agent_reply(struct db_conn *c, struct runtime *rt, const struct atum_config *cfg,
                              const struct inbound *in, const struct mail_msg *m,
                              const char *summary, long long ticket, long long agent,
                              const char *sender, const char **error_r)
{
    const char *e = NULL;
    struct strbuf body = STRBUF_INIT, refs = STRBUF_INIT, to = STRBUF_INIT, probs = STRBUF_INIT;
    char *subject = utf8_cut(m->subject[0] ? m->subject : "(no subject)", 998);
    PGresult *r = NULL;
    int ret = -1;
    const char *text = m->new_text.len ? m->new_text.s : strbuf_str(&m->text);
    bool note = agent_reply_note(text, cfg->mail_note_marker, &body);
    strbuf_add(&probs, strbuf_str(&m->problems), m->problems.len);
    if (body.len == 0) {
        /* nothing but quoted history: keep it for the record, send nothing */
        note = true;
        strbuf_add(&body, strbuf_str(&m->text), m->text.len);
        strbuf_adds(&probs, "an agent's reply by mail without new text: kept as an internal note, not sent\n");
    }
    const char *vis = note ? "internal" : "public";
    db_text_array(&refs, m->refs, m->nrefs);
    db_text_array(&to, m->to, m->nto);
    struct strbuf pa = STRBUF_INIT;
    lines_array(&pa, probs.s);
    char st[32], sid[32], sa[32];
    snprintf(st, sizeof(st), "%lld", ticket);
    snprintf(sid, sizeof(sid), "%lld", in->id);
    snprintf(sa, sizeof(sa), "%lld", agent);
    const char *p[] = { st, sid, sa, vis, m->message_id, m->in_reply_to, refs.s, subject, sender,
                        strbuf_str(&body), to.s, m->date, pa.s };
    r = db_exec_stmt(c, &st_agent_message, p, &e);
    strbuf_free(&pa);
    if (r == NULL) {
        err_set(error_r, "storing the agent's reply: %s", e);
        goto out;
    }
    long long message = atoll(PQgetvalue(r, 0, 0));
    PQclear(r);
    const char *tp[] = { st };
    r = db_exec_stmt(c, &st_ticket_answered, tp, &e);
    if (r == NULL) {
        err_set(error_r, "updating ticket %lld: %s", ticket, e);
        goto out;
    }
    if (store_attachments(c, message, m, error_r) < 0
        || finish_inbound(c, in, ticket, message, summary, m, false, error_r) < 0)
        goto out;
    if (PQntuples(r) > 0 && strcmp(PQgetvalue(r, 0, 0), PQgetvalue(r, 0, 1)) != 0
        && emit(rt, c, "ticket.updated",
                json_pack("{s:I, s:{s:{s:s, s:s}}}", "ticket_id", (json_int_t)ticket, "changes",
                          "status", "from", PQgetvalue(r, 0, 0), "to", PQgetvalue(r, 0, 1)),
                error_r) < 0)
        goto out;
    if (emit(rt, c, "message.created",
             json_pack("{s:I, s:I, s:s, s:s, s:I, s:s}", "ticket_id", (json_int_t)ticket,
                       "message_id", (json_int_t)message, "direction", "out", "visibility", vis,
                       "author_id", (json_int_t)agent, "source", "mail"), error_r) < 0)
        goto out;
    char actor[40], target[40], detail[96];
    snprintf(actor, sizeof(actor), "user:%lld", agent);
    snprintf(target, sizeof(target), "ticket:%lld", ticket);
    snprintf(detail, sizeof(detail), "{\"message_id\":%lld,\"visibility\":\"%s\",\"via\":\"mail\"}",
             message, vis);
    if (audit_append(c, agent, actor, note ? "ticket.note" : "ticket.reply", target, detail, NULL,
                     error_r) < 0)
        goto out;
    if (!note && mailer_reply(rt, c, message, true, error_r) < 0)
        goto out;
    log_info("ingest.agent_reply", "inbound=%lld ticket=%lld message=%lld agent=%lld visibility=%s",
             in->id, ticket, message, agent, vis);
    ret = 0;
out:
    PQclear(r);
    strbuf_free(&body);
    strbuf_free(&refs);
    strbuf_free(&to);
    strbuf_free(&probs);
    free(subject);
    return ret;
}

static int ingest_message(struct db_conn *c, struct runtime *rt, const struct atum_config *cfg,
                          const struct inbound *in, const struct mail_msg *m, const char *summary,
                          const char **error_r)
{
    const char *e = NULL;
    char **rcpts = NULL;
    size_t nrcpt = 0;
    int ret = -1;
    struct strbuf refs = STRBUF_INIT, to = STRBUF_INIT, probs = STRBUF_INIT;
    char *subject = NULL;
    PGresult *r = NULL;

    /* one Message-ID, one message */
    if (m->message_id != NULL && in->message_id == 0) {
        const char *p[] = { m->message_id };
        r = db_exec_stmt(c, &st_dup, p, &e);
        if (r == NULL) {
            err_set(error_r, "duplicate check: %s", e);
            goto out;
        }
        if (PQntuples(r) > 0) {
            long long mid = atoll(PQgetvalue(r, 0, 0)), tid = atoll(PQgetvalue(r, 0, 1));
            PQclear(r);
            r = NULL;
            log_info("ingest.duplicate", "inbound=%lld message=%lld ticket=%lld", in->id, mid, tid);
            ret = finish_inbound(c, in, tid, mid, summary, m, true, error_r);
            goto out;
        }
        PQclear(r);
        r = NULL;
        r = db_exec_stmt(c, &st_own, p, &e);
        if (r == NULL) {
            err_set(error_r, "duplicate check: %s", e);
            goto out;
        }
        if (PQntuples(r) > 0) {
            long long tid = atoll(PQgetvalue(r, 0, 0));
            PQclear(r);
            r = NULL;
            log_info("ingest.own_mail", "inbound=%lld ticket=%lld message_id=%s hint=%s", in->id, tid,
                     m->message_id, "a mail we sent came back: not a new message");
            ret = finish_inbound(c, in, tid, 0, summary, m, true, error_r);
            goto out;
        }
        PQclear(r);
        r = NULL;
    }
    if (in->message_out) {
        /* an agent's reply by mail was posted (and mailed) once: reading
         * it again must not rewrite the reply nor send it a second time */
        log_info("ingest.reprocess_kept", "inbound=%lld message=%lld reason=%s", in->id,
                 in->message_id, "an agent's reply by mail is kept as posted");
        ret = finish_inbound(c, in, in->ticket_id, in->message_id, summary, m, false, error_r);
        goto out;
    }

    collect_rcpts(in, m, &rcpts, &nrcpt);
    const char *sender = m->from_addr;
    const char *env_from = json_string_value(json_object_get(in->envelope, "mail_from"));
    if (sender == NULL || !email_valid(sender))
        sender = env_from && email_valid(env_from) ? env_from : UNKNOWN_SENDER;

    struct thread_in ti = { cfg->secret_key, rcpts, nrcpt, m->subject, m->refs, m->nrefs, sender };
    struct thread_out to_;
    memset(&to_, 0, sizeof(to_));
    long long ticket = in->ticket_id;
    const char *method = "reprocess";
    if (ticket == 0) {
        if (thread_find(c, &ti, &to_, error_r) < 0)
            goto out;
        ticket = to_.ticket_id;
        method = to_.method;
        if (to_.token == REPLY_TOKEN_INVALID)
            log_warn("ingest.token_invalid", "inbound=%lld from=%s hint=%s", in->id, sender,
                     "a reply token that does not verify: not trusted");
    }

    /* an agent answering their notification by mail */
    long long agent = 0;
    char refused[300] = "";
    if (ticket > 0 && in->message_id == 0 && to_.token_user > 0 && m->robot != MAIL_ROBOT_NONE)
        /* the agent's out-of-office answering the notification is no
         * answer to the customer */
        snprintf(refused, sizeof(refused), "an automatic mail (%s), not the agent's answer",
                 mail_robot_name(m->robot));
    else if (ticket > 0 && in->message_id == 0
             && agent_reply_check(c, cfg, &to_, ticket, sender, (long long)(time(NULL) / 86400), &agent,
                                  refused, sizeof(refused), error_r) < 0)
        goto out;
    if (agent > 0) {
        ret = ingest_agent_reply(c, rt, cfg, in, m, summary, ticket, agent, sender, error_r);
        goto out;
    }
    if (refused[0])
        log_warn("ingest.agent_token_refused", "inbound=%lld ticket=%lld from=%s reason=%s hint=%s",
                 in->id, ticket, sender, refused, "stored as an ordinary incoming message");

    long long user = 0, org = 0;
    bool staff = false;
    char *name = m->from_name ? utf8_cut(m->from_name, 200) : NULL;
    int urc = sender_user(c, sender, name, cfg->mail_org_by_domain, &user, &org, &staff, error_r);
    free(name);
    if (urc < 0)
        goto out;

    subject = utf8_cut(m->subject[0] ? m->subject : "(no subject)", 998);
    bool new_ticket = false;
    long long queue = 0;
    char st[32], su[32], so[32], sq[32], sid[32];
    snprintf(sid, sizeof(sid), "%lld", in->id);
    snprintf(su, sizeof(su), "%lld", user);
    snprintf(so, sizeof(so), "%lld", org);
    if (ticket == 0) {
        if (pick_queue(c, in, rcpts, nrcpt, cfg->mail_default_queue, &queue, error_r) < 0)
            goto out;
        snprintf(sq, sizeof(sq), "%lld", queue);
        const char *p[] = { sq, subject, su, org ? so : NULL };
        r = db_exec_stmt(c, &st_ticket_new, p, &e);
        if (r == NULL) {
            err_set(error_r, "creating ticket: %s", e);
            goto out;
        }
        ticket = atoll(PQgetvalue(r, 0, 0));
        PQclear(r);
        r = NULL;
        new_ticket = true;
    } else {
        snprintf(st, sizeof(st), "%lld", ticket);
        bool reopen = !staff && m->robot == MAIL_ROBOT_NONE && in->message_id == 0;
        const char *p[] = { st, reopen ? "true" : "false" };
        r = db_exec_stmt(c, &st_ticket_touch, p, &e);
        if (r == NULL) {
            err_set(error_r, "updating ticket %lld: %s", ticket, e);
            goto out;
        }
        if (PQntuples(r) > 0)
            queue = atoll(PQgetvalue(r, 0, 1));
        PQclear(r);
        r = NULL;
    }
    snprintf(st, sizeof(st), "%lld", ticket);

    db_text_array(&refs, m->refs, m->nrefs);
    db_text_array(&to, m->to, m->nto);
    if (refused[0]) {
        struct strbuf all = STRBUF_INIT;
        strbuf_add(&all, strbuf_str(&m->problems), m->problems.len);
        strbuf_addf(&all, "agent reply token refused: %s\n", refused);
        lines_array(&probs, all.s);
        strbuf_free(&all);
    } else {
        lines_array(&probs, m->problems.s);
    }
    char remote[16];
    snprintf(remote, sizeof(remote), "%d", m->remote_images);
    /* new_text is stored only when it differs from the whole text */
    const char *new_text = m->new_text.len == m->text.len ? NULL
                           : (m->new_text.s ? m->new_text.s : "");
    long long message = in->message_id;
    if (message == 0) {
        const char *p[] = { st, sid, su, m->message_id, m->in_reply_to, refs.s, subject, sender,
                            m->text.s ? m->text.s : "", m->html.len ? m->html.s : NULL,
                            new_text, to.s, m->date,
                            mail_robot_name(m->robot), probs.s, remote };
        r = db_exec_stmt(c, &st_message_new, p, &e);
        if (r == NULL) {
            err_set(error_r, "storing message: %s", e);
            goto out;
        }
        message = atoll(PQgetvalue(r, 0, 0));
        PQclear(r);
        r = NULL;
    } else {
        char sm[32];
        snprintf(sm, sizeof(sm), "%lld", message);
        const char *p[] = { sm, m->message_id, m->in_reply_to, refs.s, subject, sender,
                            m->text.s ? m->text.s : "", m->html.len ? m->html.s : NULL,
                            new_text, to.s, m->date,
                            mail_robot_name(m->robot), probs.s, remote };
        r = db_exec_stmt(c, &st_message_rewrite, p, &e);
        if (r == NULL) {
            err_set(error_r, "rewriting message %lld: %s", message, e);
            goto out;
        }
        PQclear(r);
        r = NULL;
        const char *dp[] = { sm };
        r = db_exec(c, "DELETE FROM attachments WHERE message_id = $1", 1, dp, &e);
        if (r == NULL) {
            err_set(error_r, "rewriting message %lld: %s", message, e);
            goto out;
        }
        PQclear(r);
        r = NULL;
    }
    if (store_attachments(c, message, m, error_r) < 0)
        goto out;
    if (finish_inbound(c, in, ticket, message, summary, m, false, error_r) < 0)
        goto out;

    if (in->message_id == 0) {
        if (new_ticket && emit(rt, c, "ticket.created",
                json_pack("{s:I, s:I, s:I, s:I, s:s, s:s, s:s}", "ticket_id", (json_int_t)ticket,
                          "queue_id", (json_int_t)queue, "message_id", (json_int_t)message,
                          "requester_id", (json_int_t)user, "subject", subject,
                          "robot", mail_robot_name(m->robot), "source", in->source), error_r) < 0)
            goto out;
        if (emit(rt, c, "message.received",
                json_pack("{s:I, s:I, s:I, s:b, s:b, s:s, s:s}", "ticket_id", (json_int_t)ticket,
                          "message_id", (json_int_t)message, "author_id", (json_int_t)user,
                          "new_ticket", new_ticket, "from_staff", staff,
                          "robot", mail_robot_name(m->robot), "threaded_by", method), error_r) < 0)
            goto out;
        /* the acknowledgement and the agents' notifications: their
         * mail.compose job commits with the message (outbox.h) */
        if (new_ticket ? mailer_later(rt, c, MAILER_OPENED, ticket, message, error_r) < 0
                       : (!staff && m->robot == MAIL_ROBOT_NONE
                          && mailer_later(rt, c, MAILER_CUSTOMER_WROTE, ticket, message, error_r) < 0))
            goto out;
    }
    log_info("ingest.done", "inbound=%lld ticket=%lld message=%lld new=%d by=%s robot=%s",
             in->id, ticket, message, new_ticket, method, mail_robot_name(m->robot));
    ret = 0;
out:
    PQclear(r);
    free_list(rcpts, nrcpt);
    strbuf_free(&refs);
    strbuf_free(&to);
    strbuf_free(&probs);
    free(subject);
    return ret;
}

/* ---- the job ---------------------------------------------------------- */

int ingest_run(void *state, struct atum_job *job)
{
    (void)state;
    struct job_run *jr = (struct job_run *)job;
    struct db_conn *c = job->db->conn;
    struct runtime *rt = job->db->rt;
    const struct atum_config *cfg = rt->cfg;
    struct inbound in;
    struct mail_msg *m = NULL;
    char *summary = NULL;
    const char *e = NULL;
    int rc = ATUM_JOB_RETRY;

    memset(&in, 0, sizeof(in));
    json_t *pl = json_loads(job->payload, 0, NULL);
    long long id = (long long)json_integer_value(json_object_get(pl, "inbound_id"));
    json_decref(pl);
    if (id <= 0)
        return jobrun_fail(job, JOBRUN_PERMANENT, "payload has no inbound_id");

    if (load(c, id, &in, &e) < 0) {
        jobrun_fail(job, JOBRUN_RETRY, "%s", e);
        rc = db_conn_is_up(c) && strstr(e, "does not exist") ? ATUM_JOB_PERMANENT : ATUM_JOB_RETRY;
        goto out;
    }
    if ((long long)in.len > cfg->mail_max_message_size) {
        char why[160];
        snprintf(why, sizeof(why), "message of %zu bytes is larger than mail.max_message_size", in.len);
        mark_failed(c, id, why);
        jobrun_fail(job, JOBRUN_RETRY, "%s", why);
        rc = ATUM_JOB_PERMANENT;
        goto out;
    }

    struct mail_limits lim;
    mail_limits_default(&lim);
    lim.max_attachment = (size_t)cfg->mail_max_attachment;
    lim.max_header_bytes = (size_t)cfg->mail_max_header_bytes;
    lim.max_parts = cfg->mail_max_parts;
    m = mail_parse(in.raw, in.len, &lim);
    json_t *sj = mail_summary_json(m);
    summary = json_dumps(sj, JSON_COMPACT);
    json_decref(sj);

    if (db_begin(c, &e) < 0) {
        jobrun_fail(job, JOBRUN_RETRY, "%s", e);
        goto out;
    }
    int r = m->robot == MAIL_ROBOT_BOUNCE && in.message_id == 0
                ? ingest_bounce(c, rt, &in, m, summary, &e)
                : ingest_message(c, rt, cfg, &in, m, summary, &e);
    if (r < 0 || jobrun_complete_in_tx(job, &e) < 0) {
        char state_copy[6];
        snprintf(state_copy, sizeof(state_copy), "%s", db_last_sqlstate(c));
        db_rollback(c);
        jobrun_fail(job, JOBRUN_RETRY, "%s", e);
        /* a concurrent copy of the same Message-ID won the race: next
         * attempt finds it and records a duplicate */
        if (strcmp(state_copy, "23505") == 0)
            jobrun_retry_in(job, 0.2);
        if (strstr(e, "no queue to put the mail in") != NULL)
            rc = ATUM_JOB_PERMANENT;
        goto out;
    }
    if (db_commit(c, &e) < 0) {
        jobrun_fail(job, JOBRUN_RETRY, "commit: %s", e);
        goto out;
    }
    metrics_counter_add("atum_mail_ingested_total", m->robot == MAIL_ROBOT_BOUNCE ? "kind=\"bounce\"" : "kind=\"message\"", 1);
    rc = ATUM_JOB_DONE;
out:
    if (rc != ATUM_JOB_DONE && (rc == ATUM_JOB_PERMANENT || job->attempt >= job->max_attempts)
        && db_conn_is_up(c))
        mark_failed(c, id, jr->error[0] ? jr->error : "ingest failed");
    free(summary);
    mail_msg_free(&m);
    inbound_free(&in);
    return rc;
}

int ingest_register(struct runtime *rt, void *arg, const char **error_r)
{
    (void)arg;
    return jobkind_register(&rt->kinds, INBOUND_INGEST_KIND, "core", ingest_run, NULL, 5, 0, error_r);
}

int ingest_reprocess(struct db_conn *c, long long inbound_id, const char **error_r)
{
    const char *e = NULL;
    char sid[32], key[48], payload[64];
    snprintf(sid, sizeof(sid), "%lld", inbound_id);
    snprintf(key, sizeof(key), "ingest:%lld", inbound_id);
    snprintf(payload, sizeof(payload), "{\"inbound_id\":%lld}", inbound_id);
    if (db_begin(c, &e) < 0)
        return err_set(error_r, "%s", e);
    const char *p[] = { sid };
    PGresult *r = db_exec(c, "UPDATE inbound_mail SET state = 'queued', error = NULL WHERE id = $1"
                             " RETURNING id", 1, p, &e);
    if (r == NULL || PQntuples(r) == 0) {
        PQclear(r);
        db_rollback(c);
        return err_set(error_r, r ? "no inbound mail %lld" : "reprocess %lld: %s", inbound_id, e);
    }
    PQclear(r);
    const char *k[] = { key };
    r = db_exec(c, "UPDATE jobs SET state = 'available', attempts = 0, run_at = now(), last_error = NULL"
                   " WHERE unique_key = $1 AND state = 'dead' RETURNING id", 1, k, &e);
    if (r == NULL) {
        db_rollback(c);
        return err_set(error_r, "reprocess %lld: %s", inbound_id, e);
    }
    bool requeued = PQntuples(r) > 0;
    PQclear(r);
    if (requeued) {
        db_want_notify(c);
    } else {
        struct atum_job_spec s = { .kind = INBOUND_INGEST_KIND, .payload = payload, .priority = 50,
                                   .max_attempts = 5, .unique_key = key };
        if (jobs_enqueue(c, &s, NULL, &e) < 0) {
            db_rollback(c);
            return err_set(error_r, "reprocess %lld: %s", inbound_id, e);
        }
    }
    if (db_commit(c, &e) < 0)
        return err_set(error_r, "reprocess %lld: %s", inbound_id, e);
    return 0;
}
