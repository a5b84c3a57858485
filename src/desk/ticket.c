/* desk/ticket.c -- see desk/ticket.h. */
#include "config.h"
#include "desk/ticket.h"
#include "core/live_event.h"
#include "core/mailer.h"
#include "lib/strbuf.h"
#include "lib/xalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SUBJECT_MAX 998
#define CATEGORY_MAX 100

static const char *const priorities[] = { "low", "normal", "high", "urgent", NULL };

bool ticket_priority_valid(const char *p)
{
    for (int i = 0; p && priorities[i]; i++)
        if (strcmp(p, priorities[i]) == 0)
            return true;
    return false;
}

void ticket_visibility_params(const struct desk_actor *who, struct ticket_visibility *v)
{
    static const char *const roles[] = { "none", "customer", "agent", "manager", "admin" };
    bool user = who->kind == DESK_USER;
    snprintf(v->uid, sizeof(v->uid), "%lld", user ? who->user_id : 0);
    snprintf(v->org, sizeof(v->org), "%lld", who->org_id);
    v->p[0] = v->uid;
    v->p[1] = !user ? "system" : (unsigned)who->role <= ATUM_ROLE_ADMIN ? roles[who->role] : "none";
    v->p[2] = user && who->org_id ? v->org : NULL;
    v->p[3] = user && who->org_access ? "t" : "f";
}

void ticket_clear(struct ticket *t)
{
    free(t->subject);
    free(t->category);
    memset(t, 0, sizeof(*t));
}

static const char *id_text(char *buf, size_t size, long long id)
{
    snprintf(buf, size, "%lld", id);
    return buf;
}

static json_t *id_or_null(long long id)
{
    return id > 0 ? json_integer(id) : json_null();
}

/* ---- reading and locking ------------------------------------------------ */

static const struct db_stmt st_lock = {
    "desk_ticket_lock",
    "SELECT t.id, t.status, t.queue_id, t.priority, t.category, coalesce(t.assignee_id, 0),"
    "       t.subject, t.requester_id, coalesce(t.merged_into, 0), coalesce(t.org_id, 0), t.version"
    "  FROM tickets t WHERE t.id = $5 AND " TICKET_VISIBLE("t") " FOR UPDATE OF t",
    5
};

int ticket_lock(const struct desk_tx *tx, long long id, struct ticket *t, struct err *err)
{
    const char *e = NULL;
    char sid[24];
    struct ticket_visibility v;
    memset(t, 0, sizeof(*t));
    ticket_visibility_params(tx->who, &v);
    const char *p[5] = { v.p[0], v.p[1], v.p[2], v.p[3], id_text(sid, sizeof(sid), id) };
    PGresult *r = db_exec_stmt(tx->db, &st_lock, p, &e);
    if (r == NULL)
        return desk_db_fail(err, "reading the ticket", e);
    if (PQntuples(r) != 1) {
        PQclear(r);
        return err_raise(err, ERR_NOT_FOUND, NULL, "no such ticket");
    }
    t->id = id;
    if (ticket_status_parse(PQgetvalue(r, 0, 1), &t->status) < 0)
        t->status = TICKET_OPEN;
    t->queue_id = atoll(PQgetvalue(r, 0, 2));
    snprintf(t->priority, sizeof(t->priority), "%s", PQgetvalue(r, 0, 3));
    t->category = PQgetisnull(r, 0, 4) ? NULL : xstrdup(PQgetvalue(r, 0, 4));
    t->assignee_id = atoll(PQgetvalue(r, 0, 5));
    t->subject = xstrdup(PQgetvalue(r, 0, 6));
    t->requester_id = atoll(PQgetvalue(r, 0, 7));
    t->merged_into = atoll(PQgetvalue(r, 0, 8));
    t->org_id = atoll(PQgetvalue(r, 0, 9));
    t->version = atoll(PQgetvalue(r, 0, 10));
    PQclear(r);
    return 0;
}

/* ---- versions ------------------------------------------------------------ */

int ticket_version_check(const struct ticket *t, long long expect, const char *field,
                         struct err *err)
{
    if (expect > 0 && expect != t->version)
        return err_raise(err, ERR_CONFLICT, field, "ticket %lld changed since you saw it "
                         "(version %lld, now %lld): nothing was sent or changed", t->id, expect,
                         t->version);
    return 0;
}

/* One row per version: what the change was.  changes: borrowed, or NULL. */
static int record_change(const struct desk_tx *tx, long long ticket_id, long long version,
                         const char *kind, long long message_id, json_t *changes, struct err *err)
{
    static const struct db_stmt st = {
        "desk_ticket_change",
        "INSERT INTO ticket_changes (ticket_id, version, kind, message_id, changes, actor_id)"
        " VALUES ($1, $2, $3, $4, $5::jsonb, $6)",
        6
    };
    const char *e = NULL;
    char st_[24], sv[24], sm[24], sa[24];
    char *js = changes && json_object_size(changes) > 0 ? json_dumps(changes, JSON_COMPACT) : NULL;
    const char *p[] = { id_text(st_, sizeof(st_), ticket_id), id_text(sv, sizeof(sv), version), kind,
                        message_id > 0 ? id_text(sm, sizeof(sm), message_id) : NULL, js,
                        tx->who->kind == DESK_USER ? id_text(sa, sizeof(sa), tx->who->user_id) : NULL };
    PGresult *r = db_exec_stmt(tx->db, &st, p, &e);
    free(js);
    if (r == NULL)
        return desk_db_fail(err, "recording the change", e);
    PQclear(r);
    return 0;
}

int ticket_survivor(const struct desk_tx *tx, long long id, long long *survivor_r, struct err *err)
{
    static const struct db_stmt st = {
        "desk_ticket_survivor",
        "WITH RECURSIVE chain(id, next, depth) AS ("
        "   SELECT id, merged_into, 0 FROM tickets WHERE id = $1"
        "   UNION ALL"
        "   SELECT t.id, t.merged_into, c.depth + 1 FROM chain c JOIN tickets t ON t.id = c.next"
        "    WHERE c.depth < 64)"
        " SELECT id FROM chain ORDER BY depth DESC LIMIT 1",
        1
    };
    const char *e = NULL;
    char sid[24];
    const char *p[] = { id_text(sid, sizeof(sid), id) };
    PGresult *r = db_exec_stmt(tx->db, &st, p, &e);
    if (r == NULL)
        return desk_db_fail(err, "following a merge", e);
    *survivor_r = PQntuples(r) > 0 ? atoll(PQgetvalue(r, 0, 0)) : 0;
    PQclear(r);
    if (*survivor_r == 0)
        return err_raise(err, ERR_NOT_FOUND, NULL, "no ticket %lld", id);
    return 0;
}

/* A signed-in customer changes only their own tickets: colleagues with
 * organisation access see each other's tickets, no more. */
static int may_change(const struct desk_tx *tx, const struct ticket *t, struct err *err)
{
    if (desk_is_customer(tx->who) && t->requester_id != tx->who->user_id)
        return err_raise(err, ERR_FORBIDDEN, NULL, "you see this ticket through your "
                         "organisation; only the person who opened it can change it");
    return 0;
}

/* Whether the actor may work a queue: staff who are members, managers,
 * admins, the system; customers may file into any queue. */
static int queue_usable(const struct desk_tx *tx, long long queue_id, bool *ok_r, struct err *err)
{
    static const struct db_stmt st = {
        "desk_queue_usable",
        "SELECT 1 FROM queues q WHERE q.id = $1 AND ($3::boolean OR EXISTS"
        " (SELECT 1 FROM queue_members m WHERE m.queue_id = q.id AND m.user_id = $2::bigint))",
        3
    };
    const struct desk_actor *who = tx->who;
    const char *e = NULL;
    char q[24], u[24];
    bool any = who->kind != DESK_USER || who->role != ATUM_ROLE_AGENT;
    const char *p[] = { id_text(q, sizeof(q), queue_id), id_text(u, sizeof(u), who->user_id),
                        any ? "t" : "f" };
    PGresult *r = db_exec_stmt(tx->db, &st, p, &e);
    if (r == NULL)
        return desk_db_fail(err, "checking the queue", e);
    *ok_r = PQntuples(r) == 1;
    PQclear(r);
    return 0;
}

/* ---- messages ------------------------------------------------------------- */

static const char *direction_of(enum message_party p)
{
    return p == PARTY_STAFF || p == PARTY_NOTE ? "out" : "in";
}

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

static int store_attachments(const struct desk_tx *tx, long long message_id,
                             const struct message_new *m, struct err *err)
{
    static const struct db_stmt st_blob = {
        "desk_attachment_blob",
        "INSERT INTO attachment_blobs (sha256, size, content) VALUES ($1, $2, $3)"
        " ON CONFLICT (sha256) DO NOTHING",
        3
    };
    static const struct db_stmt st_att = {
        "desk_attachment",
        "INSERT INTO attachments (message_id, sha256, filename, content_type, content_id, size, inline)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7)",
        7
    };
    const char *e = NULL;
    char mid[24];
    id_text(mid, sizeof(mid), message_id);
    for (size_t i = 0; i < m->natt; i++) {
        const struct message_attachment *a = &m->att[i];
        char size[32];
        snprintf(size, sizeof(size), "%zu", a->size);
        const char *bp[] = { a->sha256, size, a->data };
        const int bl[] = { 0, 0, (int)a->size };
        const int bf[] = { 0, 0, 1 };
        PGresult *r = db_exec_stmt_bin(tx->db, &st_blob, bp, bl, bf, &e);
        if (r == NULL)
            return desk_db_fail(err, "storing an attachment", e);
        PQclear(r);
        const char *ap[] = { mid, a->sha256, a->filename, a->content_type, a->content_id, size,
                             a->is_inline ? "true" : "false" };
        r = db_exec_stmt(tx->db, &st_att, ap, &e);
        if (r == NULL)
            return desk_db_fail(err, "storing an attachment", e);
        PQclear(r);
    }
    return 0;
}

static const struct db_stmt st_message_new = {
    "desk_message_new",
    "INSERT INTO messages (ticket_id, inbound_id, author_id, direction, visibility, message_id,"
    "                      in_reply_to, refs, subject, from_addr, body_text, body_html, new_text,"
    "                      to_addrs, date_header, robot, problems, remote_images,"
    "                      ticket_version, held)"
    " VALUES ($1, $2, $3, $4, $5, $6, $7, coalesce($8::text[], '{}'), $9,"
    "         coalesce($10, (SELECT u.email FROM users u WHERE u.id = $3::bigint)), $11, $12, $13,"
    "         coalesce($14::text[], '{}'), $15, coalesce($16, 'none'), coalesce($17::text[], '{}'),"
    "         coalesce($18::int, 0), $19, $20)"
    " RETURNING id",
    20
};

/* Inserts the message row and its attachments. */
static int insert_message(const struct desk_tx *tx, long long ticket_id, const char *ticket_subject,
                          long long version, const struct message_new *m, long long *id_r,
                          struct err *err)
{
    const char *e = NULL;
    char st[24], sin[24], sa[24], remote[16], sv[24];
    struct strbuf refs = STRBUF_INIT, to = STRBUF_INIT, probs = STRBUF_INIT;
    char *subject = NULL;
    int ret = -1;
    if (m->body_text == NULL)
        return err_raise(err, ERR_INVALID, "body", "a message needs a text");
    if (m->subject != NULL)
        subject = xstrdup(m->subject);
    else
        subject = xasprintf("Re: %s", ticket_subject ? ticket_subject : "");
    if (strlen(subject) > SUBJECT_MAX)
        subject[SUBJECT_MAX] = '\0';   /* callers cut on a character boundary; this never splits one */
    if (m->refs)
        db_text_array(&refs, m->refs, m->nrefs);
    if (m->to)
        db_text_array(&to, m->to, m->nto);
    if (m->problems)
        lines_array(&probs, m->problems);
    snprintf(remote, sizeof(remote), "%d", m->remote_images);
    bool internal = m->party == PARTY_NOTE;
    const char *p[20] = {
        id_text(st, sizeof(st), ticket_id),
        m->inbound_id > 0 ? id_text(sin, sizeof(sin), m->inbound_id) : NULL,
        m->author_id > 0 ? id_text(sa, sizeof(sa), m->author_id) : NULL,
        direction_of(m->party), internal ? "internal" : "public",
        m->message_id, m->in_reply_to, m->refs ? refs.s : NULL, subject, m->from_addr,
        m->body_text, m->body_html, m->new_text, m->to ? to.s : NULL, m->date_header, m->robot,
        m->problems ? probs.s : NULL, remote, id_text(sv, sizeof(sv), version),
        internal ? m->held : NULL,
    };
    PGresult *r = db_exec_stmt(tx->db, &st_message_new, p, &e);
    if (r == NULL) {
        desk_db_fail(err, "storing the message", e);
        goto out;
    }
    *id_r = atoll(PQgetvalue(r, 0, 0));
    PQclear(r);
    if (store_attachments(tx, *id_r, m, err) < 0)
        goto out;
    ret = 0;
out:
    strbuf_free(&refs);
    strbuf_free(&to);
    strbuf_free(&probs);
    free(subject);
    return ret;
}

static int emit_message(const struct desk_tx *tx, long long ticket_id, long long message_id,
                        long long version, const struct message_new *m, bool new_ticket,
                        struct err *err)
{
    json_t *d = json_pack("{s:I, s:I, s:s, s:s, s:o, s:s, s:s, s:b, s:I}",
                          "ticket_id", (json_int_t)ticket_id, "message_id", (json_int_t)message_id,
                          "direction", direction_of(m->party),
                          "visibility", m->party == PARTY_NOTE ? "internal" : "public",
                          "author_id", id_or_null(m->author_id),
                          "source", tx->who->via ? tx->who->via : "system",
                          "robot", m->robot ? m->robot : "none", "new_ticket", new_ticket,
                          "version", (json_int_t)version);
    if (d && m->party == PARTY_NOTE && m->held)
        json_object_set_new(d, "held", json_true());
    return desk_emit(tx, "message.created", d, err);
}

static json_t *status_change(enum ticket_status from, enum ticket_status to)
{
    return json_pack("{s:s, s:s}", "from", ticket_status_name(from), "to", ticket_status_name(to));
}

static const struct db_stmt st_touch = {
    "desk_ticket_touch",
    "UPDATE tickets SET updated_at = now(), status = $2::text, version = $3::bigint, "
    STATUS_SQL_SOLVED_AT("$2::text") ", " STATUS_SQL_CLOSED_AT("$2::text")
    " WHERE id = $1",
    3
};

/* A held reply was stored: the desk hears of it (ticket.held, staff
 * only) and its author gets a notice by mail to send it or drop it. */
static int held_stored(const struct desk_tx *tx, const struct ticket *t, long long message_id,
                       const struct message_new *m, struct err *err)
{
    const char *e = NULL;
    json_t *d = json_pack("{s:I, s:I, s:o, s:s}", "ticket_id", (json_int_t)t->id, "message_id",
                          (json_int_t)message_id, "author_id", id_or_null(m->author_id),
                          "reason", m->held);
    if (desk_emit(tx, "ticket.held", d, err) < 0)
        return -1;
    if (m->author_id <= 0)
        return 0;
    char sa[24];
    const char *p[] = { id_text(sa, sizeof(sa), m->author_id) };
    char *to = db_query_value(tx->db, "SELECT email FROM users WHERE id = $1 AND NOT disabled", 1, p, &e);
    if (to == NULL)
        return e ? desk_db_fail(err, "finding the agent's address", e) : 0;
    char title[200], body[1200];
    snprintf(title, sizeof(title), "Your reply by mail to ticket #%lld was held", t->id);
    snprintf(body, sizeof(body), "Your reply by mail to ticket #%lld was not sent to the customer: %s.\n\n"
             "It is kept on the ticket as an internal note. Open the ticket in the desk to read "
             "what is new, then send your reply as it is or drop it.", t->id, m->held);
    int rc = mailer_notice(tx->rt, tx->db, t->id, to, title, body, &e);
    free(to);
    if (rc < 0)
        return err_failed(err, "%s", e);
    return 0;
}

int ticket_post_message(const struct desk_tx *tx, long long ticket_id, const struct message_new *m,
                        long long *message_r, struct err *err)
{
    const char *e = NULL;
    struct ticket t;
    int ret = -1;
    enum ticket_status next;
    const struct desk_actor *who = tx->who;

    if (ticket_lock(tx, ticket_id, &t, err) < 0)
        return -1;
    if (may_change(tx, &t, err) < 0 || ticket_version_check(&t, m->expect_version, "version", err) < 0)
        goto out;
    if (m->held && m->party != PARTY_NOTE) {
        err_raise(err, ERR_INVALID, NULL, "only an internal note can be held");
        goto out;
    }
    /* a signed-in customer writes as the customer; notes and replies
     * "as staff" are staff's */
    if (desk_is_customer(who) && (m->party != PARTY_CUSTOMER || m->status != NULL)) {
        err_raise(err, ERR_FORBIDDEN, m->status ? "status" : NULL,
                  m->status ? "customers cannot set the status with a reply"
                            : "customers write public replies only");
        goto out;
    }
    if (who->kind == DESK_USER && !desk_is_customer(who) && m->party != PARTY_STAFF
        && m->party != PARTY_NOTE) {
        err_raise(err, ERR_INVALID, NULL, "staff write replies or notes");
        goto out;
    }
    switch (status_after_message(t.status, t.merged_into > 0, m->party, m->status, &next)) {
    case STATUS_REFUSE_MERGED:
        err_raise(err, ERR_CONFLICT, "merged_into", "ticket %lld was merged into %lld",
                  t.id, t.merged_into);
        goto out;
    case STATUS_REFUSE_CLOSED:
        err_raise(err, ERR_CONFLICT, NULL, m->party == PARTY_STAFF
                  ? "the ticket is closed; reopen it with the reply (status open or pending)"
                  : "the ticket is closed; open a new one");
        goto out;
    case STATUS_KEEP:
    case STATUS_MOVE:
        break;
    }
    long long mid, version = t.version + 1;
    if (insert_message(tx, t.id, t.subject, version, m, &mid, err) < 0)
        goto out;
    char sid[24], sv[24];
    const char *tp[] = { id_text(sid, sizeof(sid), t.id), ticket_status_name(next),
                         id_text(sv, sizeof(sv), version) };
    PGresult *r = db_exec_stmt(tx->db, &st_touch, tp, &e);
    if (r == NULL) {
        desk_db_fail(err, "updating the ticket", e);
        goto out;
    }
    PQclear(r);
    json_t *vc = next != t.status ? json_pack("{s:o}", "status", status_change(t.status, next)) : NULL;
    int vrc = record_change(tx, t.id, version, m->held ? "held" : "message", mid, vc, err);
    json_decref(vc);
    if (vrc < 0 || emit_message(tx, t.id, mid, version, m, false, err) < 0)
        goto out;
    if (next != t.status) {
        json_t *d = json_pack("{s:I, s:{s:o}, s:s, s:I}", "ticket_id", (json_int_t)t.id, "changes",
                              "status", status_change(t.status, next),
                              "source", who->via ? who->via : "system", "version", (json_int_t)version);
        if (desk_emit(tx, "ticket.updated", d, err) < 0)
            goto out;
    }
    /* a ticket that becomes solved asks its customer for a rating */
    if (next == TICKET_SOLVED && t.status != TICKET_SOLVED
        && mailer_later(tx->rt, tx->db, MAILER_SOLVED, t.id, 0, &e) < 0) {
        err_failed(err, "%s", e);
        goto out;
    }
    /* the customer gets a staff member's public reply; the agents hear of
     * a customer's */
    int mrc = 0;
    if (m->party == PARTY_STAFF)
        mrc = mailer_reply(tx->rt, tx->db, mid, false, &e);
    else if (m->party == PARTY_CUSTOMER || m->party == PARTY_UNVERIFIED)
        mrc = mailer_later(tx->rt, tx->db, MAILER_CUSTOMER_WROTE, t.id, mid, &e);
    if (mrc < 0) {
        err_failed(err, "%s", e);
        goto out;
    }
    json_t *ad = json_pack("{s:I, s:s, s:s}", "message_id", (json_int_t)mid, "visibility",
                           m->party == PARTY_NOTE ? "internal" : "public",
                           "via", who->via ? who->via : "system");
    int arc = desk_audit(tx, m->party == PARTY_NOTE ? "ticket.note" : "ticket.reply", "ticket",
                         t.id, ad, err);
    json_decref(ad);
    if (arc < 0 || (m->held && held_stored(tx, &t, mid, m, err) < 0))
        goto out;
    if (message_r)
        *message_r = mid;
    ret = 0;
out:
    ticket_clear(&t);
    return ret;
}

int ticket_rewrite_message(const struct desk_tx *tx, long long message_id,
                           const struct message_new *m, struct err *err)
{
    static const struct db_stmt st = {
        "desk_message_rewrite",
        "UPDATE messages SET message_id = $2, in_reply_to = $3, refs = coalesce($4::text[], '{}'),"
        "       subject = coalesce($5, subject), from_addr = coalesce($6, from_addr), body_text = $7,"
        "       body_html = $8, new_text = $9, to_addrs = coalesce($10::text[], '{}'),"
        "       date_header = $11, robot = coalesce($12, 'none'),"
        "       problems = coalesce($13::text[], '{}'), remote_images = coalesce($14::int, 0)"
        " WHERE id = $1 RETURNING ticket_id",
        14
    };
    const char *e = NULL;
    char sm[24], remote[16];
    struct strbuf refs = STRBUF_INIT, to = STRBUF_INIT, probs = STRBUF_INIT;
    int ret = -1;
    if (m->refs)
        db_text_array(&refs, m->refs, m->nrefs);
    if (m->to)
        db_text_array(&to, m->to, m->nto);
    if (m->problems)
        lines_array(&probs, m->problems);
    snprintf(remote, sizeof(remote), "%d", m->remote_images);
    const char *p[14] = {
        id_text(sm, sizeof(sm), message_id), m->message_id, m->in_reply_to,
        m->refs ? refs.s : NULL, m->subject, m->from_addr, m->body_text ? m->body_text : "",
        m->body_html, m->new_text, m->to ? to.s : NULL, m->date_header, m->robot,
        m->problems ? probs.s : NULL, remote,
    };
    PGresult *r = db_exec_stmt(tx->db, &st, p, &e);
    if (r == NULL) {
        desk_db_fail(err, "rewriting the message", e);
        goto out;
    }
    int n = PQntuples(r);
    long long tid = n ? atoll(PQgetvalue(r, 0, 0)) : 0;
    PQclear(r);
    if (n == 0) {
        err_raise(err, ERR_NOT_FOUND, NULL, "no message %lld", message_id);
        goto out;
    }
    /* the text changed: the ticket's version moves on */
    char stid[24];
    const char *vp[] = { id_text(stid, sizeof(stid), tid) };
    r = db_exec(tx->db, "UPDATE tickets SET version = version + 1 WHERE id = $1 RETURNING version",
                1, vp, &e);
    if (r == NULL) {
        desk_db_fail(err, "rewriting the message", e);
        goto out;
    }
    long long version = PQntuples(r) ? atoll(PQgetvalue(r, 0, 0)) : 0;
    PQclear(r);
    if (version > 0 && record_change(tx, tid, version, "rewrite", message_id, NULL, err) < 0)
        goto out;
    const char *dp[] = { sm };
    r = db_exec(tx->db, "DELETE FROM attachments WHERE message_id = $1", 1, dp, &e);
    if (r == NULL) {
        desk_db_fail(err, "rewriting the message", e);
        goto out;
    }
    PQclear(r);
    if (store_attachments(tx, message_id, m, err) < 0)
        goto out;
    ret = 0;
out:
    strbuf_free(&refs);
    strbuf_free(&to);
    strbuf_free(&probs);
    return ret;
}

/* ---- opening ---------------------------------------------------------------- */

static const struct db_stmt st_ticket_new = {
    "desk_ticket_new",
    "INSERT INTO tickets (queue_id, subject, priority, category, requester_id, org_id)"
    " SELECT $1, $2, $3, $4, u.id, u.org_id FROM users u WHERE u.id = $5 AND NOT u.disabled"
    " RETURNING id",
    5
};

int ticket_open(const struct desk_tx *tx, const struct ticket_new *in, long long *ticket_r,
                long long *message_r, struct err *err)
{
    const char *e = NULL;
    const struct desk_actor *who = tx->who;
    const char *prio = in->priority ? in->priority : "normal";

    if (in->subject == NULL || in->subject[0] == '\0')
        return err_raise(err, ERR_INVALID, "subject", "field 'subject' must not be empty");
    if (strlen(in->subject) > SUBJECT_MAX)
        return err_raise(err, ERR_INVALID, "subject", "the subject is longer than %d bytes",
                         SUBJECT_MAX);
    if (!ticket_priority_valid(prio))
        return err_raise(err, ERR_INVALID, "priority", "priority must be one of "
                         TICKET_PRIORITIES);
    if (in->category && strlen(in->category) > CATEGORY_MAX)
        return err_raise(err, ERR_INVALID, "category", "the category is longer than %d bytes",
                         CATEGORY_MAX);
    if (desk_is_customer(who) && in->requester_id != who->user_id)
        return err_raise(err, ERR_FORBIDDEN, "requester_id", "customers open tickets for "
                         "themselves only");
    if (desk_is_customer(who) && in->first.party != PARTY_CUSTOMER)
        return err_raise(err, ERR_FORBIDDEN, NULL, "customers write public messages only");
    bool usable = false;
    if (queue_usable(tx, in->queue_id, &usable, err) < 0)
        return -1;
    if (!usable)
        return err_raise(err, ERR_INVALID, "queue_id", "no such queue (or you are not a member)");

    char q[24], rq[24];
    const char *p[] = { id_text(q, sizeof(q), in->queue_id), in->subject, prio, in->category,
                        id_text(rq, sizeof(rq), in->requester_id) };
    PGresult *r = db_exec_stmt(tx->db, &st_ticket_new, p, &e);
    if (r == NULL)
        return desk_db_fail(err, "creating the ticket", e);
    if (PQntuples(r) != 1) {
        PQclear(r);
        return err_raise(err, ERR_INVALID, "requester_id", "no such user (or the account is "
                         "disabled)");
    }
    long long tid = atoll(PQgetvalue(r, 0, 0));
    PQclear(r);

    long long mid;
    if (insert_message(tx, tid, in->subject, 1, &in->first, &mid, err) < 0
        || record_change(tx, tid, 1, "message", mid, NULL, err) < 0)
        return -1;
    if (in->first.subject == NULL) {
        /* the first message carries the ticket's subject, not "Re: ..." */
        char sm[24];
        const char *up[] = { id_text(sm, sizeof(sm), mid), in->subject };
        r = db_exec(tx->db, "UPDATE messages SET subject = $2 WHERE id = $1", 2, up, &e);
        if (r == NULL)
            return desk_db_fail(err, "creating the ticket", e);
        PQclear(r);
    }
    json_t *d = json_pack("{s:I, s:I, s:I, s:I, s:s, s:s, s:s, s:s}",
                          "ticket_id", (json_int_t)tid, "queue_id", (json_int_t)in->queue_id,
                          "message_id", (json_int_t)mid, "requester_id", (json_int_t)in->requester_id,
                          "subject", in->subject, "priority", prio,
                          "source", who->via ? who->via : "system",
                          "robot", in->first.robot ? in->first.robot : "none");
    json_t *audit = json_deep_copy(d);
    int rc = desk_emit(tx, "ticket.created", d, err);
    if (rc == 0)
        rc = emit_message(tx, tid, mid, 1, &in->first, true, err);
    /* staff opening a ticket for a customer: their words go to the
     * customer; in any case the acknowledgement and agents' notice */
    if (rc == 0 && in->first.party == PARTY_STAFF
        && mailer_reply(tx->rt, tx->db, mid, false, &e) < 0)
        rc = err_failed(err, "%s", e);
    if (rc == 0 && mailer_later(tx->rt, tx->db, MAILER_OPENED, tid, mid, &e) < 0)
        rc = err_failed(err, "%s", e);
    if (rc == 0)
        rc = desk_audit(tx, "ticket.create", "ticket", tid, audit, err);
    json_decref(audit);
    if (rc < 0)
        return -1;
    if (ticket_r)
        *ticket_r = tid;
    if (message_r)
        *message_r = mid;
    return 0;
}

/* ---- changing ---------------------------------------------------------------- */

static void change_text(json_t *changes, const char *field, const char *from, const char *to)
{
    if ((from == NULL && to == NULL) || (from && to && strcmp(from, to) == 0))
        return;
    json_object_set_new(changes, field, json_pack("{s:o, s:o}", "from",
                        from ? json_string(from) : json_null(), "to", to ? json_string(to) : json_null()));
}

static void change_id(json_t *changes, const char *field, long long from, long long to)
{
    if (from == to)
        return;
    json_object_set_new(changes, field, json_pack("{s:o, s:o}", "from", id_or_null(from), "to",
                                                  id_or_null(to)));
}

/* Whether user may be assigned a ticket of queue_id: enabled staff,
 * agents only in their queues. */
static int assignee_ok(const struct desk_tx *tx, long long user, long long queue_id, bool *ok_r,
                       struct err *err)
{
    static const struct db_stmt st = {
        "desk_assignee_ok",
        "SELECT 1 FROM users u WHERE u.id = $1 AND NOT u.disabled AND (u.role IN ('manager', 'admin')"
        " OR (u.role = 'agent' AND EXISTS (SELECT 1 FROM queue_members m"
        "      WHERE m.user_id = u.id AND m.queue_id = $2)))",
        2
    };
    const char *e = NULL;
    char su[24], sq[24];
    const char *p[] = { id_text(su, sizeof(su), user), id_text(sq, sizeof(sq), queue_id) };
    PGresult *r = db_exec_stmt(tx->db, &st, p, &e);
    if (r == NULL)
        return desk_db_fail(err, "checking the assignee", e);
    *ok_r = PQntuples(r) == 1;
    PQclear(r);
    return 0;
}

static const struct db_stmt st_update = {
    "desk_ticket_update",
    "UPDATE tickets SET status = $2::text, priority = $3, category = $4, assignee_id = $5::bigint,"
    " queue_id = $6::bigint, subject = $7, version = $8::bigint, updated_at = now(), "
    STATUS_SQL_SOLVED_AT("$2::text") ", " STATUS_SQL_CLOSED_AT("$2::text")
    " WHERE id = $1",
    8
};

int ticket_update(const struct desk_tx *tx, long long id, const struct ticket_change *ch,
                  bool *changed_r, struct err *err)
{
    const char *e = NULL;
    const struct desk_actor *who = tx->who;
    bool staff = desk_is_staff(who);
    struct ticket t;
    json_t *changes = NULL;
    int ret = -1;

    if (changed_r)
        *changed_r = false;
    if (ch->priority && !ticket_priority_valid(ch->priority))
        return err_raise(err, ERR_INVALID, "priority", "priority must be one of " TICKET_PRIORITIES);
    if (ch->subject && ch->subject[0] == '\0')
        return err_raise(err, ERR_INVALID, "subject", "field 'subject' must not be empty");
    if (ch->subject && strlen(ch->subject) > SUBJECT_MAX)
        return err_raise(err, ERR_INVALID, "subject", "the subject is longer than %d bytes",
                         SUBJECT_MAX);
    if (ch->set_category && ch->category && strlen(ch->category) > CATEGORY_MAX)
        return err_raise(err, ERR_INVALID, "category", "the category is longer than %d bytes",
                         CATEGORY_MAX);
    if (!staff && (ch->priority || ch->set_category || ch->set_assignee || ch->queue_id
                   || ch->subject))
        return err_raise(err, ERR_FORBIDDEN, ch->priority ? "priority" : ch->set_category
                         ? "category" : ch->set_assignee ? "assignee_id" : ch->queue_id
                         ? "queue_id" : "subject", "customers may only change the status");
    if (ticket_lock(tx, id, &t, err) < 0)
        return -1;
    if (may_change(tx, &t, err) < 0 || ticket_version_check(&t, ch->expect_version, "version", err) < 0)
        goto out;
    if (t.merged_into > 0) {
        err_raise(err, ERR_CONFLICT, "merged_into", "ticket %lld was merged into %lld", t.id,
                  t.merged_into);
        goto out;
    }
    enum ticket_status status = ch->status ? *ch->status : t.status;
    if (ch->status) {
        switch (status_change_allowed(t.status, status, false, staff)) {
        case CHANGE_OK:
            break;
        case CHANGE_MERGED:
            err_raise(err, ERR_CONFLICT, "status", "the ticket was merged");
            goto out;
        case CHANGE_FORBIDDEN:
            err_raise(err, ERR_FORBIDDEN, "status", t.status == TICKET_CLOSED
                      ? "the ticket is closed; open a new one"
                      : "customers may mark a ticket solved or closed, or reopen a solved one");
            goto out;
        }
    }
    long long queue = ch->queue_id ? ch->queue_id : t.queue_id;
    if (ch->queue_id && ch->queue_id != t.queue_id) {
        bool ok = false;
        if (queue_usable(tx, ch->queue_id, &ok, err) < 0)
            goto out;
        if (!ok) {
            err_raise(err, ERR_INVALID, "queue_id", "no such queue (or you are not a member)");
            goto out;
        }
    }
    long long assignee = ch->set_assignee ? ch->assignee_id : t.assignee_id;
    if (ch->set_assignee && assignee > 0 && assignee != t.assignee_id) {
        bool ok = false;
        if (assignee_ok(tx, assignee, queue, &ok, err) < 0)
            goto out;
        if (!ok) {
            err_raise(err, ERR_INVALID, "assignee_id", "the assignee must be an agent of the "
                      "ticket's queue, a manager or an admin");
            goto out;
        }
    }
    const char *category = ch->set_category ? ch->category : t.category;
    const char *priority = ch->priority ? ch->priority : t.priority;
    const char *subject = ch->subject ? ch->subject : t.subject;

    changes = json_object();
    change_text(changes, "status", ticket_status_name(t.status), ticket_status_name(status));
    change_text(changes, "priority", t.priority, priority);
    change_text(changes, "category", t.category, category);
    change_id(changes, "assignee_id", t.assignee_id, assignee);
    change_id(changes, "queue_id", t.queue_id, queue);
    change_text(changes, "subject", t.subject, subject);
    if (json_object_size(changes) > 0) {
        char sid[24], sa[24], sq[24], sv[24];
        long long version = t.version + 1;
        const char *p[] = { id_text(sid, sizeof(sid), t.id), ticket_status_name(status), priority,
                            category, assignee > 0 ? id_text(sa, sizeof(sa), assignee) : NULL,
                            id_text(sq, sizeof(sq), queue), subject, id_text(sv, sizeof(sv), version) };
        PGresult *r = db_exec_stmt(tx->db, &st_update, p, &e);
        if (r == NULL) {
            desk_db_fail(err, "updating the ticket", e);
            goto out;
        }
        PQclear(r);
        if (record_change(tx, t.id, version, "update", 0, changes, err) < 0)
            goto out;
        json_t *d = json_pack("{s:I, s:O, s:s, s:I}", "ticket_id", (json_int_t)t.id, "changes", changes,
                              "source", who->via ? who->via : "system", "version", (json_int_t)version);
        if (desk_emit(tx, "ticket.updated", d, err) < 0)
            goto out;
        json_t *ad = json_pack("{s:I, s:O}", "ticket_id", (json_int_t)t.id, "changes", changes);
        int arc = desk_audit(tx, "ticket.update", "ticket", t.id, ad, err);
        json_decref(ad);
        if (arc < 0)
            goto out;
        /* the new assignee hears of it, unless they did it themselves */
        if (assignee > 0 && assignee != t.assignee_id
            && !(who->kind == DESK_USER && who->user_id == assignee)
            && mailer_later(tx->rt, tx->db, MAILER_ASSIGNED, t.id, assignee, &e) < 0) {
            err_failed(err, "%s", e);
            goto out;
        }
        if (status == TICKET_SOLVED && t.status != TICKET_SOLVED
            && mailer_later(tx->rt, tx->db, MAILER_SOLVED, t.id, 0, &e) < 0) {
            err_failed(err, "%s", e);
            goto out;
        }
        if (changed_r)
            *changed_r = true;
    }
    ret = 0;
out:
    json_decref(changes);
    ticket_clear(&t);
    return ret;
}

int ticket_set_status(const struct desk_tx *tx, long long id, enum ticket_status status,
                      struct err *err)
{
    struct ticket_change ch = { .status = &status };
    return ticket_update(tx, id, &ch, NULL, err);
}

int ticket_assign(const struct desk_tx *tx, long long id, long long assignee_id, struct err *err)
{
    struct ticket_change ch = { .set_assignee = true, .assignee_id = assignee_id };
    return ticket_update(tx, id, &ch, NULL, err);
}

int ticket_move(const struct desk_tx *tx, long long id, long long queue_id, struct err *err)
{
    if (queue_id <= 0)
        return err_raise(err, ERR_INVALID, "queue_id", "no such queue");
    struct ticket_change ch = { .queue_id = queue_id };
    return ticket_update(tx, id, &ch, NULL, err);
}

/* ---- merging and linking -------------------------------------------------------- */

/* Locks two tickets in id order (no deadlock between two merges).  A
 * missing first one is ERR_NOT_FOUND; a missing second one ERR_INVALID on
 * `field`, so the caller can tell the path's ticket from the body's. */
static int lock_pair(const struct desk_tx *tx, long long a, long long b, const char *field,
                     struct ticket *ta, struct ticket *tb, struct err *err)
{
    int ra, rb;
    memset(ta, 0, sizeof(*ta));
    memset(tb, 0, sizeof(*tb));
    struct err ea = { 0 }, eb = { 0 };
    if (a < b) {
        ra = ticket_lock(tx, a, ta, &ea);
        rb = ra == 0 ? ticket_lock(tx, b, tb, &eb) : 0;
    } else {
        rb = ticket_lock(tx, b, tb, &eb);
        ra = rb == 0 ? ticket_lock(tx, a, ta, &ea) : 0;
    }
    if (ra < 0 && ea.code != ERR_NOT_FOUND) {
        *err = ea;
        return -1;
    }
    if (rb < 0 && eb.code != ERR_NOT_FOUND) {
        *err = eb;
        return -1;
    }
    if (ra < 0)
        return err_raise(err, ERR_NOT_FOUND, NULL, "no such ticket");
    if (rb < 0) {
        /* b was locked first and failed: a was never tried */
        if (a > b) {
            struct ticket probe;
            if (ticket_lock(tx, a, &probe, &ea) < 0) {
                if (ea.code != ERR_NOT_FOUND) {
                    *err = ea;
                    return -1;
                }
                return err_raise(err, ERR_NOT_FOUND, NULL, "no such ticket");
            }
            ticket_clear(&probe);
        }
        ticket_clear(ta);
        return err_raise(err, ERR_INVALID, field, "no such ticket");
    }
    return 0;
}

int ticket_merge(const struct desk_tx *tx, const struct ticket_merge_in *in,
                 struct ticket_merge_out *out, struct err *err)
{
    const char *e = NULL;
    struct ticket s, t;
    int ret = -1;
    bool force = in->force;
    if (out)
        memset(out, 0, sizeof(*out));
    if (!desk_is_staff(tx->who))
        return err_raise(err, ERR_FORBIDDEN, NULL, "only staff merge tickets");
    if (in->source == in->target)
        return err_raise(err, ERR_INVALID, "into_id", "a ticket cannot be merged into itself");
    if (lock_pair(tx, in->source, in->target, "into_id", &s, &t, err) < 0)
        return -1;
    /* both tickets are locked: neither can move on before the commit */
    if (ticket_version_check(&s, in->expect_source, "version", err) < 0
        || ticket_version_check(&t, in->expect_target, "into_version", err) < 0)
        goto out;
    if (s.merged_into > 0 || t.merged_into > 0) {
        err_raise(err, ERR_CONFLICT, NULL, "one of the tickets was already merged");
        goto out;
    }
    /* the merged thread becomes visible to the target's organisation:
     * across organisations only when asked for in so many words */
    bool cross = s.org_id != t.org_id;
    if (cross && !force) {
        err_raise(err, ERR_CONFLICT, "force", "the tickets belong to different organisations "
                  "(%lld and %lld): their messages and attachments would become visible to the "
                  "other one; merge with force to do it anyway", s.org_id, t.org_id);
        goto out;
    }
    char ss[24], st[24];
    const char *p[] = { id_text(ss, sizeof(ss), s.id), id_text(st, sizeof(st), t.id) };
    char sv[24];
    const char *mp[] = { ss, st, id_text(sv, sizeof(sv), t.version + 1) };
    PGresult *r = db_exec(tx->db, "UPDATE messages SET ticket_id = $2, ticket_version = $3::bigint"
                          " WHERE ticket_id = $1", 3, mp, &e);
    if (r == NULL) {
        desk_db_fail(err, "merging", e);
        goto out;
    }
    long long moved = atoll(PQcmdTuples(r));
    PQclear(r);
    r = db_exec(tx->db,
        "WITH a AS (UPDATE tickets SET merged_into = $2, status = 'closed',"
        "                  closed_at = coalesce(closed_at, now()), updated_at = now(),"
        "                  version = version + 1"
        "            WHERE id = $1 RETURNING 1),"
        "     b AS (UPDATE tickets SET updated_at = now(), version = version + 1"
        "            WHERE id = $2 RETURNING 1),"
        "     l AS (UPDATE ticket_locks SET expires_at = now() WHERE ticket_id = $1 RETURNING 1)"
        " SELECT (SELECT count(*) FROM a), (SELECT count(*) FROM b)", 2, p, &e);
    if (r == NULL) {
        desk_db_fail(err, "merging", e);
        goto out;
    }
    PQclear(r);
    json_t *mc = json_pack("{s:I, s:I}", "ticket_id", (json_int_t)s.id, "into_id", (json_int_t)t.id);
    int vrc = record_change(tx, s.id, s.version + 1, "merge", 0, mc, err);
    if (vrc == 0)
        vrc = record_change(tx, t.id, t.version + 1, "merge", 0, mc, err);
    json_decref(mc);
    if (vrc < 0)
        goto out;
    json_t *ev = json_pack("{s:I, s:I, s:I, s:I}", "ticket_id", (json_int_t)s.id, "into_id",
                           (json_int_t)t.id, "messages_moved", (json_int_t)moved,
                           "into_version", (json_int_t)(t.version + 1));
    json_t *audit = json_pack("{s:I, s:I, s:I, s:o, s:o, s:b}", "ticket_id", (json_int_t)s.id,
                              "into_id", (json_int_t)t.id, "messages_moved", (json_int_t)moved,
                              "org_id", id_or_null(s.org_id), "into_org_id", id_or_null(t.org_id),
                              "forced_across_orgs", cross);
    int rc = desk_emit(tx, "ticket.merged", ev, err);
    if (rc == 0 && s.status != TICKET_CLOSED) {
        json_t *u = json_pack("{s:I, s:{s:o}, s:s}", "ticket_id", (json_int_t)s.id, "changes",
                              "status", status_change(s.status, TICKET_CLOSED),
                              "source", tx->who->via ? tx->who->via : "system");
        rc = desk_emit(tx, "ticket.updated", u, err);
    }
    if (rc == 0) {
        /* the target's viewers hear of it too (they may not see the source) */
        char td[160];
        const char *e2 = NULL;
        snprintf(td, sizeof(td), "{\"ticket_id\":%lld,\"from_id\":%lld,\"version\":%lld}", t.id,
                 s.id, t.version + 1);
        if (live_event_store(tx->db, "ticket.merged_in", t.id, false, td, &e2) < 0)
            rc = desk_db_fail(err, "merging", e2);
    }
    if (rc == 0)
        rc = desk_audit(tx, "ticket.merge", "ticket", s.id, audit, err);
    json_decref(audit);
    if (rc < 0)
        goto out;
    if (out) {
        out->moved = moved;
        out->target_version = t.version + 1;
    }
    ret = 0;
out:
    ticket_clear(&s);
    ticket_clear(&t);
    return ret;
}

static int link_change(const struct desk_tx *tx, long long a, long long b, bool add,
                       long long expect_a, struct err *err)
{
    const char *e = NULL;
    struct ticket ta, tb;
    if (!desk_is_staff(tx->who))
        return err_raise(err, ERR_FORBIDDEN, NULL, "only staff link tickets");
    if (a == b)
        return err_raise(err, ERR_INVALID, "ticket_id", "a ticket cannot be linked to itself");
    if (lock_pair(tx, a, b, "ticket_id", &ta, &tb, err) < 0) {
        if (!add && err && err->code == ERR_INVALID)
            err->code = ERR_NOT_FOUND;
        return -1;
    }
    int stale = ticket_version_check(&ta, expect_a, "version", err);
    ticket_clear(&ta);
    ticket_clear(&tb);
    if (stale < 0)
        return -1;
    char lo[24], hi[24], uid[24];
    id_text(lo, sizeof(lo), a < b ? a : b);
    id_text(hi, sizeof(hi), a < b ? b : a);
    const char *who = tx->who->kind == DESK_USER ? id_text(uid, sizeof(uid), tx->who->user_id) : NULL;
    PGresult *r;
    if (add) {
        const char *p[] = { lo, hi, who };
        r = db_exec(tx->db, "INSERT INTO ticket_links (ticket_a, ticket_b, created_by)"
                            " VALUES ($1, $2, $3) ON CONFLICT DO NOTHING RETURNING 1", 3, p, &e);
    } else {
        const char *p[] = { lo, hi };
        r = db_exec(tx->db, "DELETE FROM ticket_links WHERE ticket_a = $1 AND ticket_b = $2"
                            " RETURNING 1", 2, p, &e);
    }
    if (r == NULL)
        return desk_db_fail(err, add ? "linking" : "unlinking", e);
    int n = PQntuples(r);
    PQclear(r);
    if (!add && n == 0)
        return err_raise(err, ERR_NOT_FOUND, NULL, "no such ticket or link");
    if (n == 0)
        return 0;     /* already linked */
    json_t *d = json_pack("{s:I, s:I}", "ticket_id", (json_int_t)a, "linked_id", (json_int_t)b);
    json_t *audit = json_deep_copy(d);
    int rc = desk_emit(tx, add ? "ticket.linked" : "ticket.unlinked", d, err);
    if (rc == 0)
        rc = desk_audit(tx, add ? "ticket.link" : "ticket.unlink", "ticket", a, audit, err);
    json_decref(audit);
    return rc;
}

int ticket_link(const struct desk_tx *tx, long long a, long long b, struct err *err)
{
    return link_change(tx, a, b, true, 0, err);
}

int ticket_link_guarded(const struct desk_tx *tx, long long a, long long b, long long expect_a,
                        struct err *err)
{
    return link_change(tx, a, b, true, expect_a, err);
}

int ticket_unlink(const struct desk_tx *tx, long long a, long long b, long long expect_a,
                  struct err *err)
{
    return link_change(tx, a, b, false, expect_a, err);
}

/* ---- versions ------------------------------------------------------------ */

/* Customers see neither internal notes nor held replies, and no trace of
 * them among the changes. */
static const char changes_since_sql[] =
    "SELECT json_build_object('version', t.version, 'since', $6::bigint,"
    " 'changes', coalesce((SELECT json_agg(json_build_object('version', c.version, 'kind', c.kind,"
    "     'message_id', c.message_id, 'changes', c.changes, 'actor_id', c.actor_id,"
    "     'created_at', c.created_at) ORDER BY c.version)"
    "   FROM ticket_changes c WHERE c.ticket_id = t.id AND c.version > $6::bigint"
    "    AND ($2::text <> 'customer' OR (c.kind <> 'held' AND (c.message_id IS NULL OR EXISTS"
    "         (SELECT 1 FROM messages cm WHERE cm.id = c.message_id AND cm.visibility = 'public'))))),"
    "   '[]'),"
    " 'messages', coalesce((SELECT json_agg(json_build_object('id', m.id, 'direction', m.direction,"
    "     'visibility', m.visibility, 'author_id', m.author_id, 'from_addr', m.from_addr,"
    "     'subject', m.subject, 'body_text', m.body_text, 'created_at', m.created_at,"
    "     'version', m.ticket_version, 'held', m.held IS NOT NULL) ORDER BY m.created_at, m.id)"
    "   FROM messages m WHERE m.ticket_id = t.id AND m.ticket_version > $6::bigint"
    "    AND ($2::text <> 'customer' OR m.visibility = 'public')), '[]'))"
    " FROM tickets t WHERE t.id = $5 AND " TICKET_VISIBLE("t");

int ticket_changes_since(const struct desk_tx *tx, long long id, long long version,
                         json_t **out_r, struct err *err)
{
    static const struct db_stmt st = { "desk_ticket_changes_since", changes_since_sql, 6 };
    const char *e = NULL;
    char sid[24], sv[24];
    struct ticket_visibility v;
    *out_r = NULL;
    ticket_visibility_params(tx->who, &v);
    const char *p[] = { v.p[0], v.p[1], v.p[2], v.p[3], id_text(sid, sizeof(sid), id),
                        id_text(sv, sizeof(sv), version) };
    PGresult *r = db_exec_stmt(tx->db, &st, p, &e);
    if (r == NULL)
        return desk_db_fail(err, "reading what changed", e);
    if (PQntuples(r) != 1) {
        PQclear(r);
        return err_raise(err, ERR_NOT_FOUND, NULL, "no such ticket");
    }
    *out_r = json_loads(PQgetvalue(r, 0, 0), 0, NULL);
    PQclear(r);
    if (*out_r == NULL)
        return err_failed(err, "what changed does not parse");
    return 0;
}

int ticket_release_held(const struct desk_tx *tx, long long ticket_id, long long message_id,
                        bool send, long long expect_version, long long *reply_r, struct err *err)
{
    const char *e = NULL;
    struct ticket t;
    int ret = -1;
    char *text = NULL;
    if (reply_r)
        *reply_r = 0;
    if (!desk_is_staff(tx->who))
        return err_raise(err, ERR_FORBIDDEN, NULL, "only staff send held replies");
    if (ticket_lock(tx, ticket_id, &t, err) < 0)
        return -1;
    char sm[24], st[24];
    const char *p[] = { id_text(sm, sizeof(sm), message_id), id_text(st, sizeof(st), t.id) };
    PGresult *r = db_exec(tx->db, "UPDATE messages SET held = NULL WHERE id = $1 AND ticket_id = $2"
                          " AND held IS NOT NULL RETURNING body_text", 2, p, &e);
    if (r == NULL) {
        desk_db_fail(err, "releasing the held reply", e);
        goto out;
    }
    if (PQntuples(r) != 1) {
        PQclear(r);
        err_raise(err, ERR_NOT_FOUND, NULL, "ticket %lld has no held message %lld", t.id, message_id);
        goto out;
    }
    text = xstrdup(PQgetvalue(r, 0, 0));
    PQclear(r);
    long long reply = 0;
    if (send) {
        struct message_new m = {
            .author_id = tx->who->kind == DESK_USER ? tx->who->user_id : 0,
            .party = PARTY_STAFF, .body_text = text, .expect_version = expect_version,
        };
        if (ticket_post_message(tx, t.id, &m, &reply, err) < 0)
            goto out;
    }
    json_t *d = json_pack("{s:I, s:I, s:s, s:o}", "ticket_id", (json_int_t)t.id, "message_id",
                          (json_int_t)message_id, "action", send ? "sent" : "dropped",
                          "reply_id", id_or_null(reply));
    json_t *ad = json_deep_copy(d);
    int rc = desk_emit(tx, "ticket.held", d, err);
    if (rc == 0)
        rc = desk_audit(tx, send ? "ticket.held_send" : "ticket.held_drop", "ticket", t.id, ad, err);
    json_decref(ad);
    if (rc < 0)
        goto out;
    if (reply_r)
        *reply_r = reply;
    ret = 0;
out:
    free(text);
    ticket_clear(&t);
    return ret;
}
