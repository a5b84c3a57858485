/* mailin/agent_reply.c -- see mailin/agent_reply.h. */
#include "config.h"
#include "mailin/agent_reply.h"
#include "mailin/thread.h"
#include "core/conf.h"
#include "lib/err.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const struct db_stmt st_agent = {
    "agent_reply_agent",
    "SELECT lower(u.email) = lower($2), u.disabled, u.role,"
    "       u.role IN ('manager', 'admin') OR EXISTS (SELECT 1 FROM tickets t"
    "         JOIN queue_members m ON m.queue_id = t.queue_id AND m.user_id = u.id"
    "        WHERE t.id = $3)"
    "  FROM users u WHERE u.id = $1",
    3
};

int agent_reply_check(struct db_conn *c, const struct atum_config *cfg,
                      const struct thread_out *th, long long ticket_id, const char *sender,
                      long long today, long long *agent_r, enum atum_role *role_r, char *why,
                      size_t why_size, const char **error_r)
{
    *agent_r = 0;
    *role_r = ATUM_ROLE_NONE;
    why[0] = '\0';
    if (th->token != REPLY_TOKEN_VALID || th->token_user <= 0)
        return 0;
    if (th->token_ticket != ticket_id) {
        snprintf(why, why_size, "the token names ticket %lld, not this one", th->token_ticket);
        return 0;
    }
    if (th->token_day > today + 1 || today - th->token_day > cfg->mail_agent_token_days) {
        snprintf(why, why_size, "the token expired (issued %lld days ago, valid for %d)",
                 today - th->token_day, cfg->mail_agent_token_days);
        return 0;
    }
    char su[32], st[32];
    const char *e = NULL;
    snprintf(su, sizeof(su), "%lld", th->token_user);
    snprintf(st, sizeof(st), "%lld", ticket_id);
    const char *p[] = { su, sender ? sender : "", st };
    PGresult *r = db_exec_stmt(c, &st_agent, p, &e);
    if (r == NULL)
        return err_set(error_r, "checking the agent's token: %s", e);
    if (PQntuples(r) == 0)
        snprintf(why, why_size, "the token's agent (user %lld) no longer exists", th->token_user);
    else if (strcmp(PQgetvalue(r, 0, 0), "t") != 0)
        snprintf(why, why_size, "sent from %s, not from the address of the token's agent (user %lld)",
                 sender ? sender : "(no From)", th->token_user);
    else if (strcmp(PQgetvalue(r, 0, 1), "t") == 0)
        snprintf(why, why_size, "the token's agent (user %lld) is disabled", th->token_user);
    else if (strcmp(PQgetvalue(r, 0, 2), "customer") == 0)
        snprintf(why, why_size, "user %lld is no longer staff", th->token_user);
    else if (strcmp(PQgetvalue(r, 0, 3), "t") != 0)
        snprintf(why, why_size, "user %lld is no longer a member of the ticket's queue", th->token_user);
    else {
        const char *role = PQgetvalue(r, 0, 2);
        *agent_r = th->token_user;
        *role_r = strcmp(role, "admin") == 0 ? ATUM_ROLE_ADMIN
                  : strcmp(role, "manager") == 0 ? ATUM_ROLE_MANAGER : ATUM_ROLE_AGENT;
    }
    PQclear(r);
    return *agent_r > 0 ? 1 : 0;
}

/* s without leading and trailing white space, appended to out */
static void add_trimmed(struct strbuf *out, const char *s, size_t n)
{
    while (n > 0 && isspace((unsigned char)*s)) {
        s++;
        n--;
    }
    while (n > 0 && isspace((unsigned char)s[n - 1]))
        n--;
    strbuf_add(out, s, n);
}

bool agent_reply_note(const char *text, const char *marker, struct strbuf *body_r)
{
    const char *p = text ? text : "";
    size_t ml = marker ? strlen(marker) : 0;
    while (isspace((unsigned char)*p))
        p++;
    bool note = ml > 0 && strncasecmp(p, marker, ml) == 0
                && (p[ml] == '\0' || isspace((unsigned char)p[ml]) || p[ml] == ':');
    if (note) {
        p += ml;
        if (*p == ':')
            p++;
    }
    add_trimmed(body_r, p, strlen(p));
    return note;
}
