/* mailout/outbox_admin.c -- see mailout/outbox_admin.h. */
#include "config.h"
#include "mailout/outbox_admin.h"
#include "mailout/outbox-private.h"
#include "mailout/smtp_client.h"
#include "mailout/template_admin.h"
#include "core/runtime.h"
#include "lib/xalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *dup_or_null(const char *s)
{
    return s && *s ? xstrdup(s) : NULL;
}

static int smarthost_test(struct runtime *rt, struct mailadmin_report *rep, const char **error_r)
{
    /* the settings, copied under the lock; the test runs without it */
    runtime_rdlock(rt);
    const struct atum_config *cfg = rt->cfg;
    char *url = dup_or_null(cfg->sh_url), *ca = dup_or_null(cfg->sh_ca_file);
    char *user = dup_or_null(cfg->sh_username), *pass = dup_or_null(cfg->sh_password);
    char *helo = dup_or_null(cfg->sh_helo);
    struct smarthost sh = {
        .url = url, .starttls = cfg->sh_starttls, .verify = cfg->sh_verify, .ca_file = ca,
        .username = user, .password = pass, .helo = helo, .timeout_ms = (long)cfg->sh_timeout_ms,
    };
    runtime_rdunlock(rt);
    int rc = smtp_check(&sh, MAILADMIN_TEST_MAX_MS, rep, error_r);
    if (pass) {
        memset(pass, 0, strlen(pass));
        free(pass);
    }
    free(url);
    free(ca);
    free(user);
    free(helo);
    return rc;
}

static const char *const list_states[] = {
    "queued", "sending", "sent", "partial", "failed", "expired", "unconfirmed", "problem", NULL
};

json_t *outbox_admin_list(struct db_conn *c, const struct mailadmin_outbox_query *q, struct err *err)
{
    const char *e = NULL;
    if (q->state) {
        const char *const *s = list_states;
        while (*s && strcmp(*s, q->state) != 0)
            s++;
        if (*s == NULL) {
            err_raise(err, ERR_INVALID, "state", "state must be one of queued, sending, sent, "
                      "unconfirmed, partial, failed, expired or problem (failed, partial, expired "
                      "and unconfirmed)");
            return NULL;
        }
    }
    char lim[16], ticket[24], before[24];
    snprintf(lim, sizeof(lim), "%d", q->limit > 0 && q->limit <= 500 ? q->limit : 50);
    snprintf(ticket, sizeof(ticket), "%lld", q->ticket_id);
    snprintf(before, sizeof(before), "%lld", q->before_id);
    const char *p[] = { q->state, q->ticket_id > 0 ? ticket : NULL, q->before_id > 0 ? before : NULL, lim };
    PGresult *r = db_exec(c,
        "SELECT json_build_object('items', coalesce(json_agg(x ORDER BY x.id DESC), '[]'),"
        "  'next_before', CASE WHEN count(*) = $4::int THEN min(x.id) END)::text FROM"
        " (SELECT o.id, o.kind,"
        "         CASE WHEN o.state = 'sent' AND o.unconfirmed THEN 'unconfirmed' ELSE o.state END AS state,"
        "         o.attempts, o.ticket_id, o.subject,"
        "         coalesce(o.last_error, (SELECT string_agg(r.address || ': ' || r.reply, '; ' ORDER BY r.address)"
        "           FROM outbound_recipients r WHERE r.outbound_id = o.id"
        "            AND r.state IN ('failed', 'bounced') AND r.reply IS NOT NULL)) AS last_error,"
        "         coalesce((SELECT json_agg(json_build_object('address', r.address, 'state', r.state,"
        "             'reply', r.reply) ORDER BY r.address)"
        "           FROM outbound_recipients r WHERE r.outbound_id = o.id), '[]') AS recipients,"
        "         o.created_at, o.last_attempt_at, o.sent_at"
        "    FROM outbound_mail o"
        "   WHERE ($1::text IS NULL"
        "          OR ($1 = 'problem' AND (o.state IN ('failed', 'partial', 'expired')"
        "                                   OR (o.state = 'sent' AND o.unconfirmed)))"
        "          OR ($1 = 'unconfirmed' AND o.state = 'sent' AND o.unconfirmed)"
        "          OR ($1 = 'sent' AND o.state = 'sent' AND NOT o.unconfirmed)"
        "          OR ($1 NOT IN ('problem', 'unconfirmed', 'sent') AND o.state = $1))"
        "     AND ($2::bigint IS NULL OR o.ticket_id = $2::bigint)"
        "     AND ($3::bigint IS NULL OR o.id < $3::bigint)"
        "   ORDER BY o.id DESC LIMIT $4::int) x", 4, p, &e);
    if (r == NULL) {
        err_failed(err, "listing outgoing mail: %s", e);
        return NULL;
    }
    json_t *v = json_loads(PQgetvalue(r, 0, 0), 0, NULL);
    PQclear(r);
    if (v == NULL)
        err_failed(err, "listing outgoing mail: bad JSON from the database");
    return v;
}

static int retry(struct db_conn *c, struct runtime *rt, long long id, int *recipients_r, struct err *err)
{
    return outbox_retry_tx(c, rt->cfg, id, recipients_r, err);
}

const struct mailadmin_out outbox_admin_ops = {
    .smarthost_test = smarthost_test,
    .outbox_list = outbox_admin_list,
    .outbox_retry = retry,
    .template_list = template_admin_list,
    .template_get = template_admin_get,
    .template_put = template_admin_put,
    .template_reset = template_admin_reset,
    .template_preview = template_admin_preview,
};
