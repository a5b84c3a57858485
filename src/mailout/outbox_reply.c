/* mailout/outbox_reply.c -- an agent's public reply as a mail to the
 * customer; see mailout/outbox.h. */
#include "config.h"
#include "mailout/outbox.h"
#include "mailout/outbox-private.h"
#include "core/db.h"
#include "core/runtime.h"
#include "lib/err.h"
#include "lib/xalloc.h"
#include "mail/compose.h"
#include "mail/reply_token.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int outbox_reply(struct db_conn *c, struct runtime *rt, long long message_id, bool now,
                 const char **error_r)
{
    struct err err;
    if (!now)
        return outbox_enqueue_send(c, rt->cfg, "message_id", message_id, error_r);
    if (outbox_reply_build(c, rt->cfg, message_id, true, NULL, &err) < 0)
        return err_set(error_r, "%s", err.text);
    return 0;
}

int outbox_reply_build(struct db_conn *c, const struct atum_config *cfg, long long message_id,
                       bool enqueue, long long *outbound_r, struct err *err)
{
    const char *e = NULL;
    const char **error_r = &e;   /* the helpers' failures are ERR_FAILED */
    char sm[32];
    snprintf(sm, sizeof(sm), "%lld", message_id);
    const char *p[] = { sm };
    PGresult *r = db_exec(c,
        "SELECT m.ticket_id, m.body_text, coalesce(u.name, ''), m.visibility, m.direction"
        "  FROM messages m LEFT JOIN users u ON u.id = m.author_id WHERE m.id = $1", 1, p, &e);
    if (r == NULL)
        return err_failed(err, "loading message %lld: %s", message_id, e);
    if (PQntuples(r) == 0) {
        PQclear(r);
        return err_raise(err, ERR_NOT_FOUND, NULL, "no message %lld", message_id);
    }
    if (strcmp(PQgetvalue(r, 0, 3), "public") != 0) {
        PQclear(r);
        return err_raise(err, ERR_CONFLICT, NULL, "message %lld is an internal note: not mailed",
                         message_id);
    }
    long long ticket = atoll(PQgetvalue(r, 0, 0));
    char *body = xstrdup(PQgetvalue(r, 0, 1));
    char *agent = xstrdup(PQgetvalue(r, 0, 2));
    PQclear(r);

    struct outbox_ctx t;
    struct strbuf subj = STRBUF_INIT, text = STRBUF_INIT, html = STRBUF_INIT;
    struct compose_attachment *att = NULL;
    size_t natt = 0;
    PGresult *ar = NULL;
    char *rs = NULL, *portal = NULL, *reply_to = NULL, *from = NULL;
    int ret = -1;
    if (outbox_ctx_load(c, ticket, 0, "reply", false, &t, error_r) < 0) {
        free(body);
        free(agent);
        return err_failed(err, "%s", e);
    }
    char token[96], num[32];
    snprintf(num, sizeof(num), "%lld", ticket);
    if (reply_token_make(cfg->secret_key, ticket, token, sizeof(token)) == 0)
        reply_to = outbox_token_address(t.queue_address, token);
    rs = outbox_reply_subject(ticket, t.subject);
    portal = outbox_url_for(cfg, "portal", ticket);
    struct tmpl_var vars[] = {
        { "ticket", num }, { "subject", t.subject }, { "reply_subject", rs }, { "message", body },
        { "queue_name", t.queue_name }, { "portal_url", portal }, { "agent_name", agent },
        { "customer_name", t.customer_name }, { "customer_email", t.customer_email },
    };
    if (outbox_render(&t, "reply", vars, sizeof(vars) / sizeof(vars[0]), &subj, &text, &html, error_r) < 0)
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
    struct outbox_spec o = {
        .t = &t, .from_name = from, .message_id = message_id, .kind = "reply", .to = to, .nto = 1,
        .reply_to = reply_to, .threaded = true, .subject = subj.s, .text = text.s, .html = html.s,
        .att = att, .natt = natt,
    };
    ret = outbox_store(c, cfg, &o, enqueue, outbound_r, error_r);
out:
    if (ret < 0)
        err_failed(err, "%s", e);
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
    outbox_ctx_free(&t);
    return ret;
}

