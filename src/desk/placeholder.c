/* desk/placeholder.c -- see desk/placeholder.h. */
#include "config.h"
#include "desk/placeholder.h"
#include "desk/ticket.h"
#include "lib/xalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NAME_MAX_LEN 64

void placeholder_values_clear(struct placeholder_values *v)
{
    free(v->customer_name);
    free(v->customer_email);
    free(v->ticket_number);
    free(v->ticket_subject);
    free(v->agent_name);
    free(v->agent_email);
    free(v->queue_name);
    free(v->org_name);
    memset(v, 0, sizeof(*v));
}

int placeholder_load(const struct desk_tx *tx, long long ticket_id, struct placeholder_values *v,
                     struct err *err)
{
    const char *e = NULL;
    memset(v, 0, sizeof(*v));
    struct ticket_visibility vis;
    ticket_visibility_params(tx->who, &vis);
    char sid[24];
    snprintf(sid, sizeof(sid), "%lld", ticket_id);
    const char *p[5] = { vis.p[0], vis.p[1], vis.p[2], vis.p[3], sid };
    PGresult *r = db_exec(tx->db,
        "SELECT coalesce(nullif(c.name, ''), c.email), c.email, t.id::text, t.subject,"
        "       coalesce(nullif(a.name, ''), a.email, ''), coalesce(a.email, ''), q.name,"
        "       coalesce(o.name, '')"
        "  FROM tickets t JOIN users c ON c.id = t.requester_id JOIN queues q ON q.id = t.queue_id"
        "  LEFT JOIN orgs o ON o.id = t.org_id LEFT JOIN users a ON a.id = $1::bigint"
        " WHERE t.id = $5 AND " TICKET_VISIBLE("t"), 5, p, &e);
    if (r == NULL)
        return desk_db_fail(err, "reading the ticket", e);
    if (PQntuples(r) != 1) {
        PQclear(r);
        return err_raise(err, ERR_NOT_FOUND, NULL, "no such ticket");
    }
    char **slots[] = { &v->customer_name, &v->customer_email, &v->ticket_number, &v->ticket_subject,
                       &v->agent_name, &v->agent_email, &v->queue_name, &v->org_name };
    for (int i = 0; i < 8; i++)
        *slots[i] = xstrdup(PQgetvalue(r, 0, i));
    PQclear(r);
    return 0;
}

static const char *value_of(const struct placeholder_values *v, const char *name, size_t n)
{
    static const char *const names[] = { "customer.name", "customer.email", "ticket.number",
        "ticket.subject", "agent.name", "agent.email", "queue.name", "org.name" };
    const char *vals[] = { v->customer_name, v->customer_email, v->ticket_number, v->ticket_subject,
                           v->agent_name, v->agent_email, v->queue_name, v->org_name };
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (strlen(names[i]) == n && memcmp(names[i], name, n) == 0)
            return vals[i] ? vals[i] : "";
    return NULL;
}

static void add_unknown(json_t *unknown, const char *s, size_t n)
{
    if (unknown == NULL)
        return;
    char *copy = xstrndup(s, n);
    size_t i;
    json_t *x;
    bool seen = false;
    json_array_foreach(unknown, i, x)
        seen |= strcmp(json_string_value(x), copy) == 0;
    if (!seen) {
        json_t *j = json_string(copy);   /* NULL when not UTF-8: then not listed */
        if (j)
            json_array_append_new(unknown, j);
    }
    free(copy);
}

void placeholder_render(const char *text, const struct placeholder_values *v, struct strbuf *out,
                        json_t *unknown)
{
    const char *p = text ? text : "";
    for (;;) {
        const char *open = strstr(p, "{{");
        if (open == NULL) {
            strbuf_adds(out, p);
            return;
        }
        strbuf_add(out, p, (size_t)(open - p));
        const char *close = strstr(open + 2, "}}");
        size_t inner = close ? (size_t)(close - open - 2) : 0;
        if (close == NULL || inner > NAME_MAX_LEN || memchr(open + 2, '\n', inner) != NULL) {
            /* not a placeholder: the braces are text */
            strbuf_add(out, open, 2);
            p = open + 2;
            continue;
        }
        const char *a = open + 2, *b = close;
        while (a < b && (*a == ' ' || *a == '\t'))
            a++;
        while (b > a && (b[-1] == ' ' || b[-1] == '\t'))
            b--;
        const char *val = value_of(v, a, (size_t)(b - a));
        if (val) {
            strbuf_adds(out, val);
        } else {
            strbuf_add(out, open, (size_t)(close + 2 - open));
            add_unknown(unknown, open, (size_t)(close + 2 - open));
        }
        p = close + 2;
    }
}
