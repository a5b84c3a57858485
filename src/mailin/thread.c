/* mailin/thread.c -- see mailin/thread.h. */
#include "config.h"
#include "mailin/thread.h"
#include "desk/ticket.h"
#include "lib/err.h"
#include "lib/strbuf.h"
#include "lib/xalloc.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

long long thread_subject_tag(const char *s)
{
    for (const char *p = s ? strstr(s, "[#") : NULL; p; p = strstr(p + 2, "[#")) {
        char *end;
        if (!isdigit((unsigned char)p[2]))
            continue;
        long long n = strtoll(p + 2, &end, 10);
        if (*end == ']' && n > 0)
            return n;
    }
    return 0;
}

/* [#N]: the sender opened the ticket or wrote on it; a staff address only
 * when the mail went to the ticket's queue ($3: the recipients' base
 * addresses).  Checked on the survivor of a merge. */
static const struct db_stmt st_tag_allowed = {
    "thread_tag_allowed",
    "SELECT 1 FROM tickets t JOIN queues q ON q.id = t.queue_id"
    " WHERE t.id = $1 AND CASE"
    "   WHEN EXISTS (SELECT 1 FROM users u WHERE email_canonical(u.email) = email_canonical($2) AND u.role <> 'customer')"
    "   THEN lower(q.address) = ANY($3::text[])"
    "   ELSE EXISTS (SELECT 1 FROM users u WHERE u.id = t.requester_id AND email_canonical(u.email) = email_canonical($2))"
    "     OR EXISTS (SELECT 1 FROM messages m WHERE m.ticket_id = t.id AND lower(m.from_addr) = lower($2))"
    "   END",
    3
};

/* The newest ticket any of the ids names; a staff sender ($2) only into
 * the queues the mail was sent to ($3). */
static const struct db_stmt st_by_refs = {
    "thread_by_refs",
    "SELECT x.ticket_id FROM ("
    "  SELECT ticket_id, created_at FROM messages WHERE message_id = ANY($1::text[])"
    "  UNION ALL"
    "  SELECT ticket_id, created_at FROM outbound_mail"
    "   WHERE rfc_message_id = ANY($1::text[]) AND ticket_id IS NOT NULL) x"
    "  JOIN tickets t ON t.id = x.ticket_id JOIN queues q ON q.id = t.queue_id"
    " WHERE NOT EXISTS (SELECT 1 FROM users u WHERE email_canonical(u.email) = email_canonical($2) AND u.role <> 'customer')"
    "    OR lower(q.address) = ANY($3::text[])"
    " ORDER BY x.created_at DESC LIMIT 1",
    3
};

/* The ticket a number names, after following merges; 0 when none. */
static int survivor(struct db_conn *c, long long id, long long *r_, const char **error_r)
{
    static const struct desk_actor mail_in = { .kind = DESK_SYSTEM, .via = "mail" };
    struct desk_tx tx = { c, NULL, &mail_in };
    struct err err;
    *r_ = 0;
    if (ticket_survivor(&tx, id, r_, &err) == 0)
        return 0;
    if (err.code == ERR_NOT_FOUND)
        return 0;
    return err_set(error_r, "threading: %s", err.text);
}

/* The recipients without +detail, lower case, as a text[] literal. */
static void base_addresses(const struct thread_in *in, struct strbuf *out)
{
    char **v = xcalloc(in->nrcpt + 1, sizeof(*v));
    for (size_t i = 0; i < in->nrcpt; i++) {
        size_t n = strlen(in->rcpts[i]) + 1;
        v[i] = xmalloc(n);
        reply_token_base_address(in->rcpts[i], v[i], n);
    }
    db_text_array(out, v, in->nrcpt);
    for (size_t i = 0; i < in->nrcpt; i++)
        free(v[i]);
    free(v);
}

int thread_find(struct db_conn *c, const struct thread_in *in, struct thread_out *out,
                const char **error_r)
{
    const char *e = NULL;
    char sid[32];
    int ret = -1;
    struct strbuf bases = STRBUF_INIT;
    memset(out, 0, sizeof(*out));
    out->method = "new";

    /* 1. reply token */
    for (size_t i = 0; i < in->nrcpt; i++) {
        struct reply_token_info ti;
        enum reply_token_status st = reply_token_parse(in->secret, in->rcpts[i], &ti);
        if (st == REPLY_TOKEN_INVALID && out->token == REPLY_TOKEN_NONE)
            out->token = REPLY_TOKEN_INVALID;
        if (st != REPLY_TOKEN_VALID)
            continue;
        long long t = 0;
        if (survivor(c, ti.ticket, &t, error_r) < 0)
            goto out;
        out->token = REPLY_TOKEN_VALID;
        out->token_ticket = t ? t : ti.ticket;
        out->token_user = ti.user;
        out->token_day = ti.day;
        out->token_version = ti.version;
        if (t > 0) {
            out->ticket_id = t;
            out->method = "token";
            ret = 0;
            goto out;
        }
    }
    base_addresses(in, &bases);
    /* 2. [#N] in the subject */
    long long tag = thread_subject_tag(in->subject);
    if (tag > 0 && in->sender != NULL) {
        long long t = 0;
        if (survivor(c, tag, &t, error_r) < 0)
            goto out;
        if (t > 0) {
            snprintf(sid, sizeof(sid), "%lld", t);
            const char *p[] = { sid, in->sender, bases.s };
            PGresult *r = db_exec_stmt(c, &st_tag_allowed, p, &e);
            if (r == NULL) {
                err_set(error_r, "threading: %s", e);
                goto out;
            }
            bool ok = PQntuples(r) > 0;
            PQclear(r);
            if (ok) {
                out->ticket_id = t;
                out->method = "subject";
                ret = 0;
                goto out;
            }
        }
    }
    /* 3. In-Reply-To / References */
    if (in->nrefs > 0) {
        struct strbuf arr = STRBUF_INIT;
        db_text_array(&arr, in->refs, in->nrefs);
        const char *p[] = { arr.s, in->sender ? in->sender : "", bases.s };
        PGresult *r = db_exec_stmt(c, &st_by_refs, p, &e);
        strbuf_free(&arr);
        if (r == NULL) {
            err_set(error_r, "threading: %s", e);
            goto out;
        }
        long long found = PQntuples(r) > 0 ? atoll(PQgetvalue(r, 0, 0)) : 0;
        PQclear(r);
        if (found > 0) {
            if (survivor(c, found, &out->ticket_id, error_r) < 0)
                goto out;
            out->method = "references";
        }
    }
    ret = 0;
out:
    strbuf_free(&bases);
    return ret;
}
