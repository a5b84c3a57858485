/* mailout/outbox_account.c -- the portal's mails: account links
 * (signin, reset, invite, verify) and the solved mail that asks for a
 * rating once; see mailout/outbox.h. */
#include "config.h"
#include "mailout/outbox.h"
#include "mailout/outbox-private.h"
#include "core/runtime.h"
#include "desk/csat.h"
#include "lib/err.h"
#include "lib/log.h"
#include "lib/xalloc.h"

#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* The queue that speaks (the given one, else the first) and its override
 * of the template. */
static const struct db_stmt st_account_queue = {
    "outbox_account_queue",
    "SELECT q.id, q.name, q.address,"
    "       (SELECT source FROM mail_templates m WHERE m.queue_id = q.id AND m.name = $2)"
    "  FROM queues q WHERE q.id = coalesce((SELECT id FROM queues WHERE id = $1::bigint),"
    "                                      (SELECT min(id) FROM queues))",
    2
};

int outbox_account(struct db_conn *c, struct runtime *rt, const struct mailer_account_link *link,
                   const char **error_r)
{
    const struct atum_config *cfg = rt->cfg;
    const char *e = NULL;
    char sq[24];
    snprintf(sq, sizeof(sq), "%lld", link->queue_id);
    const char *p[] = { sq, link->kind };
    PGresult *r = db_exec_stmt(c, &st_account_queue, p, &e);
    if (r == NULL)
        return err_set(error_r, "the queue of an account mail: %s", e);
    if (PQntuples(r) == 0) {
        PQclear(r);
        log_warn("outbox.account_skipped", "kind=%s reason=\"%s\"", link->kind,
                 "no queue exists to send from");
        return 0;
    }
    struct outbox_ctx t;
    memset(&t, 0, sizeof(t));
    t.queue_id = atoll(PQgetvalue(r, 0, 0));
    t.queue_name = xstrdup(PQgetvalue(r, 0, 1));
    t.queue_address = xstrdup(PQgetvalue(r, 0, 2));
    t.override = PQgetisnull(r, 0, 3) ? NULL : xstrdup(PQgetvalue(r, 0, 3));
    t.subject = xstrdup("");
    t.customer_email = xstrdup(link->to);
    t.customer_name = xstrdup(link->name && link->name[0] ? link->name : link->to);
    t.text = xstrdup("");
    PQclear(r);
    struct strbuf subj = STRBUF_INIT, text = STRBUF_INIT, html = STRBUF_INIT;
    struct tmpl_var vars[] = {
        { "queue_name", t.queue_name }, { "portal_title", cfg->portal_title ? cfg->portal_title : "" },
        { "customer_name", t.customer_name }, { "customer_email", t.customer_email },
        { "link_url", link->url }, { "expires", link->expires },
    };
    int ret = -1;
    if (outbox_render(&t, link->kind, vars, sizeof(vars) / sizeof(vars[0]), &subj, &text, &html,
                      error_r) == 0) {
        char *to[] = { (char *)link->to };
        struct outbox_spec o = {
            .t = &t, .kind = "account", .to = to, .nto = 1, .auto_submitted = "auto-generated",
            .subject = subj.s, .text = text.s, .html = html.s,
        };
        ret = outbox_store(c, cfg, &o, true, NULL, error_r);
    }
    /* the link opens the account: no copy left in freed memory */
    if (text.s)
        OPENSSL_cleanse(text.s, text.len);
    if (html.s)
        OPENSSL_cleanse(html.s, html.len);
    strbuf_free(&subj);
    strbuf_free(&text);
    strbuf_free(&html);
    outbox_ctx_free(&t);
    return ret;
}

/* ---- the solved mail ------------------------------------------------------ */

/* asked already?  (recorded here, so at most once per ticket); rated
 * already?  the requester's role and state */
static const struct db_stmt st_solved_rules = {
    "outbox_solved_rules",
    "WITH asked AS (INSERT INTO csat_requests (ticket_id) SELECT $1::bigint"
    "               WHERE NOT EXISTS (SELECT 1 FROM csat_ratings WHERE ticket_id = $1::bigint)"
    "               ON CONFLICT (ticket_id) DO NOTHING RETURNING ticket_id)"
    " SELECT EXISTS (SELECT 1 FROM asked), t.status, u.role, u.disabled"
    "   FROM tickets t JOIN users u ON u.id = t.requester_id WHERE t.id = $1::bigint",
    1
};

int outbox_solved(struct db_conn *c, const struct atum_config *cfg, long long ticket_id,
                  const char **error_r)
{
    const char *e = NULL;
    char st[32];
    snprintf(st, sizeof(st), "%lld", ticket_id);
    const char *p[] = { st };
    PGresult *r = db_exec_stmt(c, &st_solved_rules, p, &e);
    if (r == NULL)
        return err_set(error_r, "solved mail rules: %s", e);
    const char *skip = NULL;
    if (PQntuples(r) != 1)
        skip = "no such ticket";
    else if (PQgetvalue(r, 0, 0)[0] != 't')
        skip = "asked before, or rated already";
    else if (strcmp(PQgetvalue(r, 0, 1), "solved") != 0)
        skip = "no longer solved";
    else if (strcmp(PQgetvalue(r, 0, 2), "customer") != 0 || PQgetvalue(r, 0, 3)[0] == 't')
        skip = "the requester is staff or disabled";
    PQclear(r);
    if (skip != NULL) {
        log_info("outbox.solved_skipped", "ticket=%lld reason=\"%s\"", ticket_id, skip);
        return 0;
    }
    struct outbox_ctx t;
    if (outbox_ctx_load(c, ticket_id, 0, "solved", false, &t, error_r) < 0)
        return -1;
    if (strchr(t.customer_email, '@') == NULL || strstr(t.customer_email, "@invalid") != NULL) {
        outbox_ctx_free(&t);
        return 0;
    }
    long long ttl = cfg->portal_csat_ttl_ms > 0 ? cfg->portal_csat_ttl_ms : 14LL * 86400000LL;
    char token[CSAT_TOKEN_MAX], num[32];
    csat_token_make(cfg->secret_key, ticket_id, (long long)time(NULL) + ttl / 1000, token, sizeof(token));
    snprintf(num, sizeof(num), "%lld", ticket_id);
    const char *base = cfg->public_url ? cfg->public_url : "http://127.0.0.1:8080";
    size_t n = strlen(base);
    int bl = (int)(n && base[n - 1] == '/' ? n - 1 : n);
    char *rate[6];
    for (int s = 1; s <= 5; s++)
        rate[s] = xasprintf("%.*s/portal/rate#t=%s&s=%d", bl, base, token, s);
    rate[0] = xasprintf("%.*s/portal/rate#t=%s", bl, base, token);
    char *portal = outbox_url_for(cfg, "portal", ticket_id);
    struct tmpl_var vars[] = {
        { "ticket", num }, { "subject", t.subject }, { "queue_name", t.queue_name },
        { "portal_url", portal }, { "customer_name", t.customer_name },
        { "customer_email", t.customer_email }, { "rate_url", rate[0] }, { "rate_1", rate[1] },
        { "rate_2", rate[2] }, { "rate_3", rate[3] }, { "rate_4", rate[4] }, { "rate_5", rate[5] },
    };
    struct strbuf subj = STRBUF_INIT, text = STRBUF_INIT, html = STRBUF_INIT;
    int ret = -1;
    if (outbox_render(&t, "solved", vars, sizeof(vars) / sizeof(vars[0]), &subj, &text, &html,
                      error_r) == 0) {
        char *to[] = { t.customer_email };
        struct outbox_spec o = {
            .t = &t, .kind = "solved", .to = to, .nto = 1, .auto_submitted = "auto-generated",
            .threaded = true, .subject = subj.s, .text = text.s, .html = html.s,
        };
        ret = outbox_store(c, cfg, &o, true, NULL, error_r);
    }
    for (int s = 0; s <= 5; s++)
        free(rate[s]);
    free(portal);
    strbuf_free(&subj);
    strbuf_free(&text);
    strbuf_free(&html);
    outbox_ctx_free(&t);
    return ret;
}
