/* core/mailer.c -- see core/mailer.h. */
#include "config.h"
#include "core/mailer.h"
#include "core/runtime.h"

int mailer_later(struct runtime *rt, struct db_conn *c, enum mailer_event ev, long long ticket_id,
                 long long id, const char **error_r)
{
    if (rt == NULL || rt->mailer == NULL || rt->mailer->later == NULL)
        return 0;
    return rt->mailer->later(c, rt, ev, ticket_id, id, error_r);
}

int mailer_reply(struct runtime *rt, struct db_conn *c, long long message_id, bool now,
                 const char **error_r)
{
    if (rt == NULL || rt->mailer == NULL || rt->mailer->reply == NULL)
        return 0;
    return rt->mailer->reply(c, rt, message_id, now, error_r);
}

int mailer_notice(struct runtime *rt, struct db_conn *c, long long ticket_id, const char *to,
                  const char *title, const char *body, const char **error_r)
{
    if (rt == NULL || rt->mailer == NULL || rt->mailer->notice == NULL)
        return 0;
    return rt->mailer->notice(c, rt, ticket_id, to, title, body, error_r);
}

int mailer_bounced(struct runtime *rt, struct db_conn *c, const char *rfc_message_id,
                   const char *recipient, const char *status, const char *diagnostic,
                   const char **error_r)
{
    if (rt == NULL || rt->mailer == NULL || rt->mailer->bounced == NULL)
        return 0;
    return rt->mailer->bounced(c, rt, rfc_message_id, recipient, status, diagnostic, error_r);
}

int mailer_account(struct runtime *rt, struct db_conn *c, const struct mailer_account_link *link,
                   const char **error_r)
{
    if (rt == NULL || rt->mailer == NULL || rt->mailer->account == NULL)
        return 0;
    return rt->mailer->account(c, rt, link, error_r);
}

bool mailer_present(const struct runtime *rt)
{
    return rt != NULL && rt->mailer != NULL;
}
