/* mailin/thread.c -- see mailin/thread.h. */
#include "config.h"
#include "mailin/thread.h"
#include "lib/err.h"
#include "lib/strbuf.h"

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

static const struct db_stmt st_ticket_exists = {
    "thread_ticket_exists", "SELECT 1 FROM tickets WHERE id = $1", 1
};

/* The sender may use the tag when the ticket is theirs, they wrote on it,
 * or they are staff. */
static const struct db_stmt st_tag_allowed = {
    "thread_tag_allowed",
    "SELECT 1 FROM tickets t"
    " WHERE t.id = $1 AND ("
    "   EXISTS (SELECT 1 FROM users u WHERE u.id = t.requester_id AND lower(u.email) = lower($2))"
    "   OR EXISTS (SELECT 1 FROM messages m WHERE m.ticket_id = t.id AND lower(m.from_addr) = lower($2))"
    "   OR EXISTS (SELECT 1 FROM users u WHERE lower(u.email) = lower($2) AND u.role <> 'customer'))",
    2
};

static const struct db_stmt st_by_refs = {
    "thread_by_refs",
    "SELECT ticket_id FROM ("
    "  SELECT ticket_id, created_at FROM messages WHERE message_id = ANY($1::text[])"
    "  UNION ALL"
    "  SELECT ticket_id, created_at FROM outbound_mail"
    "   WHERE rfc_message_id = ANY($1::text[]) AND ticket_id IS NOT NULL) x"
    " ORDER BY created_at DESC LIMIT 1",
    1
};

int thread_find(struct db_conn *c, const struct thread_in *in, struct thread_out *out,
                const char **error_r)
{
    const char *e = NULL;
    char sid[32];
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
        long long t = ti.ticket;
        out->token = REPLY_TOKEN_VALID;
        out->token_ticket = t;
        out->token_user = ti.user;
        out->token_day = ti.day;
        snprintf(sid, sizeof(sid), "%lld", t);
        const char *p[] = { sid };
        PGresult *r = db_exec_stmt(c, &st_ticket_exists, p, &e);
        if (r == NULL)
            return err_set(error_r, "threading: %s", e);
        bool exists = PQntuples(r) > 0;
        PQclear(r);
        if (exists) {
            out->ticket_id = t;
            out->method = "token";
            return 0;
        }
    }
    /* 2. [#N] in the subject */
    long long tag = thread_subject_tag(in->subject);
    if (tag > 0 && in->sender != NULL) {
        snprintf(sid, sizeof(sid), "%lld", tag);
        const char *p[] = { sid, in->sender };
        PGresult *r = db_exec_stmt(c, &st_tag_allowed, p, &e);
        if (r == NULL)
            return err_set(error_r, "threading: %s", e);
        bool ok = PQntuples(r) > 0;
        PQclear(r);
        if (ok) {
            out->ticket_id = tag;
            out->method = "subject";
            return 0;
        }
    }
    /* 3. In-Reply-To / References */
    if (in->nrefs > 0) {
        struct strbuf arr = STRBUF_INIT;
        db_text_array(&arr, in->refs, in->nrefs);
        const char *p[] = { arr.s };
        PGresult *r = db_exec_stmt(c, &st_by_refs, p, &e);
        strbuf_free(&arr);
        if (r == NULL)
            return err_set(error_r, "threading: %s", e);
        if (PQntuples(r) > 0) {
            out->ticket_id = atoll(PQgetvalue(r, 0, 0));
            out->method = "references";
        }
        PQclear(r);
    }
    return 0;
}
