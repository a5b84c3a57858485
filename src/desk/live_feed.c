/* desk/live_feed.c -- see desk/live_feed.h. */
#include "config.h"
#include "desk/live_feed.h"
#include "desk/ticket.h"
#include "lib/err.h"
#include "lib/xalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FRAME_SQL \
    "json_build_object('id', e.id, 'event', e.event, 'created_at', e.created_at," \
    " 'ticket_id', e.ticket_id, 'queue_id', e.queue_id, 'data', e.data)::text"

void live_frames_clear(struct live_frames *f)
{
    for (size_t i = 0; i < f->n; i++) {
        free(f->v[i].text);
        free(f->v[i].readers);
    }
    free(f->v);
    memset(f, 0, sizeof(*f));
}

static struct live_frame *frame_add(struct live_frames *f, long long id, const char *text)
{
    f->v = xrealloc(f->v, (f->n + 1) * sizeof(*f->v));
    struct live_frame *fr = &f->v[f->n++];
    memset(fr, 0, sizeof(*fr));
    fr->id = id;
    fr->text = xstrdup(text);
    fr->len = strlen(text);
    return fr;
}

/* The last id looked at: the frames' ids do not say it when the last
 * events were not the reader's to see. */
static const struct db_stmt st_read = {
    "live_feed_read",
    "WITH e AS (SELECT * FROM live_events WHERE id > $5 AND id <= $6 ORDER BY id LIMIT $7)"
    " SELECT e.id, CASE WHEN (NOT e.staff_only OR $2::text <> 'customer') AND " TICKET_VISIBLE("t")
    "              THEN " FRAME_SQL " END"
    "   FROM e LEFT JOIN tickets t ON t.id = e.ticket_id ORDER BY e.id",
    7
};

int live_feed_read(struct db_conn *c, const struct desk_actor *who, long long after,
                   long long upto, int limit, struct live_frames *out, long long *next_r,
                   const char **error_r)
{
    const char *e = NULL;
    char sa[24], su[24], sl[16];
    struct ticket_visibility v;
    ticket_visibility_params(who, &v);
    snprintf(sa, sizeof(sa), "%lld", after);
    snprintf(su, sizeof(su), "%lld", upto);
    snprintf(sl, sizeof(sl), "%d", limit);
    const char *p[] = { v.p[0], v.p[1], v.p[2], v.p[3], sa, su, sl };
    *next_r = after;
    PGresult *r = db_exec_stmt(c, &st_read, p, &e);
    if (r == NULL)
        return err_set(error_r, "reading live events: %s", e);
    for (int i = 0; i < PQntuples(r); i++) {
        *next_r = atoll(PQgetvalue(r, i, 0));
        if (!PQgetisnull(r, i, 1))
            frame_add(out, *next_r, PQgetvalue(r, i, 1));
    }
    PQclear(r);
    return 0;
}

/* The readers as four arrays (user id, role, organisation, organisation
 * access), the parameters of TICKET_VISIBLE_FOR for each. */
static const struct db_stmt st_fanout = {
    "live_feed_fanout",
    "WITH e AS (SELECT * FROM live_events WHERE id > $5 AND id <= $6 ORDER BY id LIMIT $7)"
    " SELECT e.id, " FRAME_SQL ","
    "        (SELECT array_agg(a.k - 1 ORDER BY a.k)"
    "           FROM unnest($1::bigint[], $2::text[], $3::bigint[], $4::boolean[])"
    "                WITH ORDINALITY AS a(uid, role, org, access, k)"
    "          WHERE (NOT e.staff_only OR a.role <> 'customer')"
    "            AND " TICKET_VISIBLE_FOR("t", "a.uid", "a.role", "a.org", "a.access") ")"
    "   FROM e LEFT JOIN tickets t ON t.id = e.ticket_id ORDER BY e.id",
    7
};

size_t live_feed_parse_readers(const char *s, size_t n, int *out)
{
    size_t got = 0;
    if (s == NULL || *s != '{')
        return 0;
    for (const char *p = s + 1; *p && *p != '}' && got < n; ) {
        char *end;
        long k = strtol(p, &end, 10);
        if (end == p)
            break;
        if (k >= 0 && (size_t)k < n && (got == 0 || k > out[got - 1]))
            out[got++] = (int)k;
        p = *end == ',' ? end + 1 : end;
    }
    return got;
}

static void parse_readers(const char *s, struct live_frame *f, size_t n)
{
    f->readers = xcalloc(n ? n : 1, sizeof(int));
    f->nreaders = live_feed_parse_readers(s, n, f->readers);
}

int live_feed_fanout(struct db_conn *c, const struct desk_actor *const *who, size_t n,
                     long long after, long long upto, int limit, struct live_frames *out,
                     long long *next_r, const char **error_r)
{
    const char *e = NULL;
    struct strbuf uids = STRBUF_INIT, roles = STRBUF_INIT, orgs = STRBUF_INIT, access = STRBUF_INIT;
    char **rv = xcalloc(n ? n : 1, sizeof(char *));
    struct ticket_visibility v;
    strbuf_adds(&uids, "{");
    strbuf_adds(&orgs, "{");
    strbuf_adds(&access, "{");
    for (size_t i = 0; i < n; i++) {
        ticket_visibility_params(who[i], &v);
        strbuf_addf(&uids, "%s%s", i ? "," : "", v.p[0]);
        strbuf_addf(&orgs, "%s%s", i ? "," : "", v.p[2] ? v.p[2] : "NULL");
        strbuf_addf(&access, "%s%s", i ? "," : "", v.p[3]);
        rv[i] = (char *)v.p[1];      /* static strings */
    }
    strbuf_adds(&uids, "}");
    strbuf_adds(&orgs, "}");
    strbuf_adds(&access, "}");
    db_text_array(&roles, rv, n);
    free(rv);
    char sa[24], su[24], sl[16];
    snprintf(sa, sizeof(sa), "%lld", after);
    snprintf(su, sizeof(su), "%lld", upto);
    snprintf(sl, sizeof(sl), "%d", limit);
    const char *p[] = { uids.s, roles.s, orgs.s, access.s, sa, su, sl };
    *next_r = after;
    int ret = -1;
    PGresult *r = db_exec_stmt(c, &st_fanout, p, &e);
    if (r == NULL) {
        err_set(error_r, "reading live events: %s", e);
        goto out;
    }
    for (int i = 0; i < PQntuples(r); i++) {
        *next_r = atoll(PQgetvalue(r, i, 0));
        if (PQgetisnull(r, i, 2))
            continue;
        struct live_frame *f = frame_add(out, *next_r, PQgetvalue(r, i, 1));
        parse_readers(PQgetvalue(r, i, 2), f, n);
    }
    PQclear(r);
    ret = 0;
out:
    strbuf_free(&uids);
    strbuf_free(&roles);
    strbuf_free(&orgs);
    strbuf_free(&access);
    return ret;
}
