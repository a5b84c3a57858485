/* mailin/ingest.c -- see mailin/ingest.h. */
#include "config.h"
#include "mailin/ingest.h"
#include "mailin/agent_reply.h"
#include "mailin/imap_check.h"
#include "mailin/inbound.h"
#include "mailin/thread.h"
#include "desk/ticket.h"
#include "desk/user.h"
#include "core/event.h"
#include "core/intake.h"
#include "core/jobkind.h"
#include "core/jobrun.h"
#include "core/mailer.h"
#include "core/runtime.h"
#include "lib/email.h"
#include "lib/err.h"
#include "lib/log.h"
#include "lib/metrics.h"
#include "lib/strbuf.h"
#include "lib/util.h"
#include "lib/xalloc.h"
#include "mail/mime.h"
#include "mail/reply_token.h"
#include "mail/summary.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define UNKNOWN_SENDER "unknown-sender@invalid"

/* mail-in acts as the system: it sees every ticket, its changes are not
 * audited (inbound_mail is its record), its events say source "mail" */
static const struct desk_actor mail_in = { .kind = DESK_SYSTEM, .via = "mail" };

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
static const struct db_stmt st_inbound_done = {
    "ingest_inbound_done",
    "UPDATE inbound_mail SET state = 'ingested', error = NULL, processed_at = clock_timestamp(),"
    "       ticket_id = $2, message_id = $3, summary = $4::jsonb, robot = $5, duplicate = $6,"
    "       rfc_message_id = $7"
    " WHERE id = $1",
    7
};

/* ---- helpers ---------------------------------------------------------- */

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

/* The mail failed for good: state, reason, and what was understood of it
 * (summary: NULL when it was never parsed) so the "needs attention" list
 * shows its subject and sender. */
static void mark_failed(struct db_conn *c, long long id, const char *why, const char *summary)
{
    char sid[32];
    const char *e = NULL;
    snprintf(sid, sizeof(sid), "%lld", id);
    const char *p[] = { sid, why, summary };
    PGresult *r = db_exec(c, "UPDATE inbound_mail SET state = 'failed', error = $2,"
                             " summary = coalesce($3::jsonb, summary) WHERE id = $1", 3, p, &e);
    if (r == NULL)
        log_error("ingest.mark_failed", "inbound=%lld error=%s", id, e);
    PQclear(r);
}

static int load(struct db_conn *c, long long id, struct inbound *in, struct err *err)
{
    char sid[32];
    const char *e = NULL;
    snprintf(sid, sizeof(sid), "%lld", id);
    const char *p[] = { sid };
    /* binary results: the raw bytes come as they are, not hex-encoded;
     * every other column is text (cast in the query) */
    PGresult *r = db_exec_bin(c, st_load.sql, 1, p, NULL, NULL, 1, &e);
    if (r == NULL)
        return err_failed(err, "loading inbound mail %lld: %s", id, e);
    if (PQntuples(r) == 0) {
        PQclear(r);
        return err_raise(err, ERR_NOT_FOUND, NULL, "inbound mail %lld does not exist", id);
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
                      const char *default_queue, long long *queue_r, struct err *err)
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
            return err_failed(err, "finding the queue: %s", e);
        if (*queue_r)
            return 0;
    }
    if (in->mailbox_id > 0) {
        char mb[32];
        snprintf(mb, sizeof(mb), "%lld", in->mailbox_id);
        const char *p[] = { mb };
        r = db_exec_stmt(c, &st_queue_mailbox, p, &e);
        if (r == NULL)
            return err_failed(err, "finding the queue: %s", e);
        if (PQntuples(r) > 0)
            *queue_r = atoll(PQgetvalue(r, 0, 0));
        PQclear(r);
        if (*queue_r)
            return 0;
    }
    const char *p[] = { default_queue ? default_queue : "" };
    r = db_exec_stmt(c, &st_queue_default, p, &e);
    if (r == NULL)
        return err_failed(err, "finding the queue: %s", e);
    if (PQntuples(r) > 0)
        *queue_r = atoll(PQgetvalue(r, 0, 0));
    PQclear(r);
    if (*queue_r == 0)
        return err_raise(err, ERR_CONFLICT, NULL, "no queue to put the mail in: create one "
                         "(atumctl queue add NAME ADDRESS), then atumctl reprocess");
    return 0;
}

static int finish_inbound(struct db_conn *c, const struct inbound *in, long long ticket_id,
                          long long message_id, const char *summary, const struct mail_msg *m,
                          bool duplicate, struct err *err)
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
        return err_failed(err, "marking inbound mail: %s", e);
    PQclear(r);
    return 0;
}

/* ---- the modes -------------------------------------------------------- */

static int ingest_bounce(struct db_conn *c, struct runtime *rt, const struct inbound *in,
                         const struct mail_msg *m, const char *summary, struct err *err)
{
    const char *e = NULL;
    long long outbound = 0, ours = 0;
    if (m->report_original_id) {
        /* the report names a mail we sent: which one, and which reply */
        const char *p[] = { m->report_original_id };
        PGresult *r = db_exec(c, "SELECT id, coalesce(message_id, 0) FROM outbound_mail"
                                 " WHERE rfc_message_id = $1", 1, p, &e);
        if (r == NULL)
            return err_failed(err, "bounce lookup: %s", e);
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
        return err_failed(err, "bounce: %s", e);
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
            return err_failed(err, "recording bounce: %s", e);
        PQclear(r);
        /* "failed" (or a 5.x.x status without an action) is final; a
         * "delayed" report only says the mail is still on its way */
        bool failed = d == NULL
                      || (d->action ? strcmp(d->action, "failed") == 0
                                    : d->status != NULL && d->status[0] == '5');
        if (outbound && delivery && failed
            && mailer_bounced(rt, c, m->report_original_id, d ? d->recipient : NULL,
                              d ? d->status : NULL, d ? d->diagnostic : NULL, &e) < 0)
            return err_failed(err, "%s", e);
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
        return err_failed(err, "%s", e);
    return finish_inbound(c, in, 0, 0, summary, m, false, err);
}


/* The parsed mail as a message of the domain.  Attachments that were too
 * large are listed in the summary only. */
struct mail_message {
    struct message_new m;
    struct message_attachment *att;
    struct strbuf problems;
    char *subject;
};

static void mail_message_init(struct mail_message *mm, const struct inbound *in,
                              const struct mail_msg *msg, const char *sender)
{
    memset(mm, 0, sizeof(*mm));
    mm->subject = utf8_cut(msg->subject[0] ? msg->subject : "(no subject)", 998);
    strbuf_add(&mm->problems, strbuf_str(&msg->problems), msg->problems.len);
    mm->att = msg->natt ? xcalloc(msg->natt, sizeof(*mm->att)) : NULL;
    size_t n = 0;
    for (size_t i = 0; i < msg->natt; i++) {
        const struct mail_attachment *a = &msg->att[i];
        if (a->data == NULL)
            continue;
        mm->att[n++] = (struct message_attachment){
            .filename = a->filename, .content_type = a->content_type, .content_id = a->content_id,
            .is_inline = a->is_inline, .data = a->data, .size = a->size, .sha256 = a->sha256,
        };
    }
    struct message_new *m = &mm->m;
    m->party = msg->robot != MAIL_ROBOT_NONE ? PARTY_ROBOT : PARTY_CUSTOMER;
    m->subject = mm->subject;
    m->body_text = msg->text.s ? msg->text.s : "";
    m->body_html = msg->html.len ? msg->html.s : NULL;
    /* the new text is kept only when it differs from the whole text */
    m->new_text = msg->new_text.len == msg->text.len ? NULL
                  : (msg->new_text.s ? msg->new_text.s : "");
    m->from_addr = sender;
    m->inbound_id = in->id;
    m->message_id = msg->message_id;
    m->in_reply_to = msg->in_reply_to;
    m->date_header = msg->date;
    m->robot = mail_robot_name(msg->robot);
    m->refs = msg->refs;
    m->nrefs = msg->nrefs;
    m->to = msg->to;
    m->nto = msg->nto;
    m->remote_images = msg->remote_images;
    m->att = mm->att;
    m->natt = n;
}

/* One more line among the message's problems. */
static void mail_message_problem(struct mail_message *mm, const char *what, const char *detail)
{
    strbuf_adds(&mm->problems, what);
    if (detail)
        strbuf_adds(&mm->problems, detail);
    strbuf_addc(&mm->problems, '\n');
}

static void mail_message_free(struct mail_message *mm)
{
    free(mm->att);
    free(mm->subject);
    strbuf_free(&mm->problems);
}

/* A new ticket for the mail, in the queue its recipients name. */
static int ingest_open(struct db_conn *c, const struct desk_tx *tx, const struct inbound *in,
                       char *const *rcpts, size_t nrcpt, const struct atum_config *cfg,
                       const struct mail_message *mm, long long requester, long long *ticket_r,
                       long long *message_r, struct err *err)
{
    long long queue = 0;
    if (pick_queue(c, in, rcpts, nrcpt, cfg->mail_default_queue, &queue, err) < 0)
        return -1;
    struct ticket_new tn = { .queue_id = queue, .requester_id = requester, .subject = mm->subject,
                             .first = mm->m };
    return ticket_open(tx, &tn, ticket_r, message_r, err);
}

/* The stale-send guard for a reply by mail: a public message newer than
 * what the agent answered -- the customer wrote again, or another staff
 * member replied -- written by someone else, not by a robot.  The token
 * names the version the notification showed; a token without one
 * (issued before versions) is judged by the notification the mail
 * answers (In-Reply-To/References): messages after it was made.  With
 * neither, nothing is known to have crossed.  *newer_r: that message, 0
 * for none. */
static const struct db_stmt st_crossed = {
    "ingest_reply_crossed",
    "SELECT m.id FROM messages m"
    " WHERE m.ticket_id = $1 AND m.visibility = 'public' AND m.robot = 'none'"
    "   AND coalesce(m.author_id, 0) <> $2::bigint"
    "   AND CASE WHEN $3::bigint > 0 THEN m.ticket_version > $3::bigint"
    "            ELSE m.created_at > (SELECT max(o.created_at) FROM outbound_mail o"
    "                                  WHERE o.ticket_id = $1 AND o.kind = 'notify'"
    "                                    AND o.rfc_message_id = ANY (coalesce($4::text[], '{}'))) END"
    " ORDER BY m.id LIMIT 1",
    4
};

static int reply_crossed(struct db_conn *c, long long ticket, long long agent, long long version,
                         const struct mail_msg *msg, long long *newer_r, struct err *err)
{
    const char *e = NULL;
    char st[24], sa[24], sv[24];
    struct strbuf refs = STRBUF_INIT;
    *newer_r = 0;
    snprintf(st, sizeof(st), "%lld", ticket);
    snprintf(sa, sizeof(sa), "%lld", agent);
    snprintf(sv, sizeof(sv), "%lld", version);
    if (msg->nrefs > 0)
        db_text_array(&refs, msg->refs, msg->nrefs);
    const char *p[] = { st, sa, sv, msg->nrefs > 0 ? refs.s : NULL };
    PGresult *r = db_exec_stmt(c, &st_crossed, p, &e);
    strbuf_free(&refs);
    if (r == NULL)
        return err_failed(err, "checking for newer messages: %s", e);
    if (PQntuples(r) > 0)
        *newer_r = atoll(PQgetvalue(r, 0, 0));
    PQclear(r);
    return 0;
}

/* A mail that agent_reply_check() accepted: the agent's public reply
 * (mailed to the customer through the outbox) or, behind the note marker,
 * an internal note -- posted as that agent, so the desk's rules, events
 * and audit apply as if they had answered in the desk.  A reply to a
 * ticket that was closed meanwhile is kept as a note and not sent. */
static int ingest_agent_reply(struct db_conn *c, struct runtime *rt, const struct atum_config *cfg,
                              const struct inbound *in, const struct mail_msg *msg,
                              const char *summary, long long ticket, long long agent,
                              enum atum_role role, const char *sender, long long version,
                              struct err *err)
{
    char held[200] = "";
    struct strbuf body = STRBUF_INIT;
    struct mail_message mm;
    int ret = -1;
    const char *text = msg->new_text.len ? msg->new_text.s : strbuf_str(&msg->text);
    bool note = agent_reply_note(text, cfg->mail_note_marker, &body);
    mail_message_init(&mm, in, msg, sender);
    if (body.len == 0) {
        /* nothing but quoted history: keep it for the record, send nothing */
        note = true;
        strbuf_add(&body, strbuf_str(&msg->text), msg->text.len);
        mail_message_problem(&mm, "an agent's reply by mail without new text: kept as an "
                             "internal note, not sent", NULL);
    }
    struct desk_actor agent_actor = { .kind = DESK_USER, .user_id = agent, .role = role,
                                      .via = "mail" };
    struct desk_tx tx = { c, rt, &agent_actor };
    mm.m.author_id = agent;
    mm.m.party = note ? PARTY_NOTE : PARTY_STAFF;
    mm.m.body_text = strbuf_str(&body);
    mm.m.body_html = NULL;
    mm.m.new_text = NULL;
    /* a reply that crossed a newer message is held, never sent blind */
    long long newer = 0;
    if (!note && reply_crossed(c, ticket, agent, version, msg, &newer, err) < 0)
        goto out;
    if (newer > 0) {
        snprintf(held, sizeof(held), "a newer message (%lld) arrived after the notification this "
                 "reply answers", newer);
        mail_message_problem(&mm, "held, not sent: ", held);
        mm.m.party = PARTY_NOTE;
        mm.m.held = held;
        note = true;
        log_info("ingest.agent_reply_held", "inbound=%lld ticket=%lld agent=%lld newer=%lld "
                 "token_version=%lld", in->id, ticket, agent, newer, version);
    }
    mm.m.problems = mm.problems.s;
    long long message = 0;
    int rc = ticket_post_message(&tx, ticket, &mm.m, &message, err);
    if (rc < 0 && err->code == ERR_CONFLICT && !note) {
        mail_message_problem(&mm, "the ticket is closed: this reply by mail was kept as an "
                             "internal note and not sent", NULL);
        mm.m.party = PARTY_NOTE;
        mm.m.problems = mm.problems.s;
        note = true;
        rc = ticket_post_message(&tx, ticket, &mm.m, &message, err);
    }
    if (rc < 0 || finish_inbound(c, in, ticket, message, summary, msg, false, err) < 0)
        goto out;
    log_info("ingest.agent_reply", "inbound=%lld ticket=%lld message=%lld agent=%lld visibility=%s",
             in->id, ticket, message, agent, note ? "internal" : "public");
    ret = 0;
out:
    strbuf_free(&body);
    mail_message_free(&mm);
    return ret;
}

/* One Message-ID, one message: an id already stored (or one of our own
 * outgoing mails coming back) makes the inbound mail a duplicate.
 * 1 when it was one (and is recorded as such). */
static int ingest_duplicate(struct db_conn *c, const struct inbound *in, const struct mail_msg *m,
                            const char *summary, struct err *err)
{
    const char *e = NULL;
    const char *p[] = { m->message_id };
    PGresult *r = db_exec_stmt(c, &st_dup, p, &e);
    if (r == NULL)
        return err_failed(err, "duplicate check: %s", e);
    if (PQntuples(r) > 0) {
        long long mid = atoll(PQgetvalue(r, 0, 0)), tid = atoll(PQgetvalue(r, 0, 1));
        PQclear(r);
        log_info("ingest.duplicate", "inbound=%lld message=%lld ticket=%lld", in->id, mid, tid);
        return finish_inbound(c, in, tid, mid, summary, m, true, err) < 0 ? -1 : 1;
    }
    PQclear(r);
    r = db_exec_stmt(c, &st_own, p, &e);
    if (r == NULL)
        return err_failed(err, "duplicate check: %s", e);
    if (PQntuples(r) > 0) {
        long long tid = atoll(PQgetvalue(r, 0, 0));
        PQclear(r);
        log_info("ingest.own_mail", "inbound=%lld ticket=%lld message_id=%s hint=%s", in->id, tid,
                 m->message_id, "a mail we sent came back: not a new message");
        return finish_inbound(c, in, tid, 0, summary, m, true, err) < 0 ? -1 : 1;
    }
    PQclear(r);
    return 0;
}

static int ingest_message(struct db_conn *c, struct runtime *rt, const struct atum_config *cfg,
                          const struct inbound *in, const struct mail_msg *msg, const char *summary,
                          struct err *err)
{
    const char *e = NULL;
    char **rcpts = NULL;
    size_t nrcpt = 0;
    int ret = -1;
    char *name = NULL;
    struct mail_message mm;
    struct desk_tx tx = { c, rt, &mail_in };
    bool mm_set = false;

    if (msg->message_id != NULL && in->message_id == 0) {
        int dup = ingest_duplicate(c, in, msg, summary, err);
        if (dup != 0)
            return dup < 0 ? -1 : 0;
    }
    if (in->message_out) {
        /* an agent's reply by mail was posted (and mailed) once: reading
         * it again must not rewrite the reply nor send it a second time */
        log_info("ingest.reprocess_kept", "inbound=%lld message=%lld reason=%s", in->id,
                 in->message_id, "an agent's reply by mail is kept as posted");
        return finish_inbound(c, in, in->ticket_id, in->message_id, summary, msg, false, err);
    }

    collect_rcpts(in, msg, &rcpts, &nrcpt);
    const char *sender = msg->from_addr;
    const char *env_from = json_string_value(json_object_get(in->envelope, "mail_from"));
    if (sender == NULL || !email_valid(sender))
        sender = env_from && email_valid(env_from) ? env_from : UNKNOWN_SENDER;

    struct thread_in ti = { cfg->secret_key, rcpts, nrcpt, msg->subject, msg->refs, msg->nrefs, sender };
    struct thread_out th;
    memset(&th, 0, sizeof(th));
    long long ticket = in->ticket_id;
    const char *method = "reprocess";
    if (ticket == 0) {
        if (thread_find(c, &ti, &th, &e) < 0) {
            err_failed(err, "%s", e);
            goto out;
        }
        ticket = th.ticket_id;
        method = th.method;
        if (th.token == REPLY_TOKEN_INVALID)
            log_warn("ingest.token_invalid", "inbound=%lld from=%s hint=%s", in->id, sender,
                     "a reply token that does not verify: not trusted");
    }

    /* an agent answering their notification by mail */
    long long agent = 0;
    enum atum_role agent_role = ATUM_ROLE_NONE;
    char refused[300] = "";
    if (ticket > 0 && in->message_id == 0 && th.token_user > 0 && msg->robot != MAIL_ROBOT_NONE)
        /* the agent's out-of-office answering the notification is no
         * answer to the customer */
        snprintf(refused, sizeof(refused), "an automatic mail (%s), not the agent's answer",
                 mail_robot_name(msg->robot));
    else if (ticket > 0 && in->message_id == 0
             && agent_reply_check(c, cfg, &th, ticket, sender, (long long)(time(NULL) / 86400),
                                  &agent, &agent_role, refused, sizeof(refused), &e) < 0) {
        err_failed(err, "%s", e);
        goto out;
    }
    if (agent > 0) {
        ret = ingest_agent_reply(c, rt, cfg, in, msg, summary, ticket, agent, agent_role, sender,
                                 th.token_version, err);
        goto out;
    }
    if (refused[0])
        log_warn("ingest.agent_token_refused", "inbound=%lld ticket=%lld from=%s reason=%s hint=%s",
                 in->id, ticket, sender, refused, "stored as an ordinary incoming message");

    struct user_ref user;
    name = msg->from_name ? utf8_cut(msg->from_name, 200) : NULL;
    if (user_find_or_add_customer(&tx, sender, name, cfg->mail_org_by_domain, &user, err) < 0)
        goto out;

    mail_message_init(&mm, in, msg, sender);
    mm_set = true;
    mm.m.author_id = user.id;
    if (refused[0])
        mail_message_problem(&mm, "agent reply token refused: ", refused);
    if (user.staff && mm.m.party == PARTY_CUSTOMER) {
        /* a From of a staff address without the agent's token: anyone can
         * write that.  Kept on the customer's side, never as the agent's
         * words, and without any effect on the ticket's status. */
        mm.m.party = PARTY_UNVERIFIED;
        mm.m.author_id = 0;
        mail_message_problem(&mm, "sent from a staff address without the agent's reply "
                             "token: not verified, kept as an incoming message", NULL);
    }
    mm.m.problems = mm.problems.s;

    bool new_ticket = false;
    long long message = in->message_id;
    if (message > 0) {
        if (ticket_rewrite_message(&tx, message, &mm.m, err) < 0)
            goto out;
    } else if (ticket > 0 && ticket_post_message(&tx, ticket, &mm.m, &message, err) < 0) {
        if (err->code != ERR_CONFLICT)
            goto out;
        /* a closed ticket takes no more customer mail: the mail opens a
         * follow-up ticket, linked to the closed one */
        log_info("ingest.follow_up", "inbound=%lld closed_ticket=%lld reason=%s", in->id, ticket,
                 err->text);
        long long closed = ticket;
        ticket = 0;
        method = "follow-up";
        if (ingest_open(c, &tx, in, rcpts, nrcpt, cfg, &mm, user.id, &ticket, &message, err) < 0
            || ticket_link(&tx, ticket, closed, err) < 0)
            goto out;
        new_ticket = true;
    } else if (ticket == 0) {
        if (ingest_open(c, &tx, in, rcpts, nrcpt, cfg, &mm, user.id, &ticket, &message, err) < 0)
            goto out;
        new_ticket = true;
    }
    if (finish_inbound(c, in, ticket, message, summary, msg, false, err) < 0)
        goto out;
    log_info("ingest.done", "inbound=%lld ticket=%lld message=%lld new=%d by=%s robot=%s",
             in->id, ticket, message, new_ticket, method, mail_robot_name(msg->robot));
    ret = 0;
out:
    if (mm_set)
        mail_message_free(&mm);
    free(name);
    free_list(rcpts, nrcpt);
    return ret;
}

/* ---- the job ---------------------------------------------------------- */

/* atum_mail_received_total{source,outcome} and, for a stored mail, the
 * time ingest took (core/core_metrics.h).  source is the table's CHECKed
 * value: smtp, lmtp, imap or cli. */
static void count_mail(const struct inbound *in, const char *outcome, double seconds)
{
    char labels[96];
    const char *source = in->source ? in->source : "unknown";
    if (seconds >= 0) {
        snprintf(labels, sizeof(labels), "source=\"%s\"", source);
        metrics_observe("atum_mail_ingest_seconds", labels, seconds);
    }
    snprintf(labels, sizeof(labels), "source=\"%s\",outcome=\"%s\"", source, outcome);
    metrics_counter_add("atum_mail_received_total", labels, 1);
}

int ingest_run(void *state, struct atum_job *job)
{
    (void)state;
    struct job_run *jr = jobrun_of(job);
    struct db_conn *c = jobrun_db(job);
    struct runtime *rt = jobrun_runtime(job);
    const struct atum_config *cfg = rt->cfg;
    struct inbound in;
    struct mail_msg *m = NULL;
    char *summary = NULL;
    const char *e = NULL;
    struct err err = { ERR_OK, NULL, NULL };
    int rc = ATUM_JOB_RETRY;
    double started = time_mono_s();

    memset(&in, 0, sizeof(in));
    json_t *pl = json_loads(job->payload, 0, NULL);
    long long id = (long long)json_integer_value(json_object_get(pl, "inbound_id"));
    json_decref(pl);
    if (id <= 0)
        return jobrun_fail(job, JOBRUN_PERMANENT, "payload has no inbound_id");

    if (load(c, id, &in, &err) < 0) {
        rc = jobrun_fail(job, err.code == ERR_NOT_FOUND ? JOBRUN_PERMANENT : JOBRUN_RETRY, "%s",
                         err.text);
        goto out;
    }
    if ((long long)in.len > cfg->mail_max_message_size) {
        char why[160];
        snprintf(why, sizeof(why), "message of %zu bytes is larger than mail.max_message_size", in.len);
        mark_failed(c, id, why, NULL);
        rc = jobrun_fail(job, JOBRUN_PERMANENT, "%s", why);
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
                ? ingest_bounce(c, rt, &in, m, summary, &err)
                : ingest_message(c, rt, cfg, &in, m, summary, &err);
    if (r == 0 && jobrun_complete_in_tx(job, &e) < 0)
        r = err_failed(&err, "%s", e);
    if (r < 0) {
        char state_copy[6];
        snprintf(state_copy, sizeof(state_copy), "%s", db_last_sqlstate(c));
        db_rollback(c);
        /* no queue to put it in waits for an operator, not for a retry */
        rc = jobrun_fail(job, err.code == ERR_CONFLICT ? JOBRUN_PERMANENT : JOBRUN_RETRY, "%s",
                         err.text ? err.text : "ingest failed");
        /* a concurrent copy of the same Message-ID won the race: next
         * attempt finds it and records a duplicate */
        if (strcmp(state_copy, "23505") == 0)
            jobrun_retry_in(job, 0.2);
        goto out;
    }
    if (db_commit(c, &e) < 0) {
        jobrun_fail(job, JOBRUN_RETRY, "commit: %s", e);
        goto out;
    }
    count_mail(&in, m->robot == MAIL_ROBOT_BOUNCE ? "bounce" : "ingested", time_mono_s() - started);
    rc = ATUM_JOB_DONE;
out:
    if (rc != ATUM_JOB_DONE && (rc == ATUM_JOB_PERMANENT || job->attempt >= job->max_attempts)
        && db_conn_is_up(c)) {
        mark_failed(c, id, jr->error[0] ? jr->error : "ingest failed", summary);
        count_mail(&in, "failed", -1);
    }
    free(summary);
    mail_msg_free(&m);
    inbound_free(&in);
    return rc;
}

static const struct intake mail_intake = {
    .reprocess = inbound_reprocess,
};

int ingest_register(struct runtime *rt, void *arg, const char **error_r)
{
    (void)arg;
    rt->intake = &mail_intake;
    rt->mailadmin_in = &imap_check_ops;
    return jobkind_register(&rt->kinds, INBOUND_INGEST_KIND, "core", ingest_run, NULL,
                            INBOUND_INGEST_ATTEMPTS, 0, error_r);
}
