/* desk/presence.c -- see desk/presence.h. */
#include "config.h"
#include "desk/presence.h"
#include "desk/ticket.h"
#include "core/live_event.h"
#include "lib/xalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* one advisory lock space for presence, the ticket id as the second key */
#define PRESENCE_LOCK "1347568211"

int presence_parse(const char *s, enum presence_state *st_r)
{
    static const char *const names[] = { "viewing", "typing", "left" };
    for (int i = 0; s && i < 3; i++)
        if (strcmp(s, names[i]) == 0) {
            *st_r = (enum presence_state)i;
            return 0;
        }
    return -1;
}

static const struct db_stmt st_viewers = {
    "presence_viewers",
    "SELECT " PRESENCE_VIEWERS_SQL("t") "::text FROM (SELECT $1::bigint AS id) t",
    1
};

/* The ticket's viewers as JSON text (the caller frees it). */
static char *viewers(const struct desk_tx *tx, const char *ticket, struct err *err)
{
    const char *e = NULL;
    const char *p[] = { ticket };
    PGresult *r = db_exec_stmt(tx->db, &st_viewers, p, &e);
    if (r == NULL) {
        desk_db_fail(err, "reading who is on the ticket", e);
        return NULL;
    }
    char *v = xstrdup(PQgetvalue(r, 0, 0));
    PQclear(r);
    return v;
}

static int lock_ticket(const struct desk_tx *tx, const char *ticket, struct err *err)
{
    const char *e = NULL;
    const char *p[] = { ticket };
    PGresult *r = db_exec(tx->db, "SELECT pg_advisory_xact_lock(" PRESENCE_LOCK ", ($1::bigint % 2147483647)::int)",
                          1, p, &e);
    if (r == NULL)
        return desk_db_fail(err, "locking the ticket's presence", e);
    PQclear(r);
    return 0;
}

/* The event with the ticket's list as it is now. */
static int announce(const struct desk_tx *tx, const char *ticket, const char *list, struct err *err)
{
    const char *e = NULL;
    struct strbuf d = STRBUF_INIT;
    strbuf_addf(&d, "{\"ticket_id\":%s,\"viewers\":%s}", ticket, list);
    int rc = live_event_store(tx->db, "ticket.presence", atoll(ticket), true, d.s, &e);
    strbuf_free(&d);
    if (rc < 0)
        return desk_db_fail(err, "announcing who is on the ticket", e);
    return 0;
}

static const struct db_stmt st_seen = {
    "presence_ticket_seen",
    "SELECT 1 FROM tickets t WHERE t.id = $5 AND " TICKET_VISIBLE("t"),
    5
};

static const struct db_stmt st_upsert = {
    "presence_upsert",
    "INSERT INTO ticket_presence AS p (ticket_id, user_id, client, typing_until, expires_at)"
    " VALUES ($1, $2, $3, CASE WHEN $4::boolean THEN now() + $5::int * interval '1 second' END,"
    "         now() + $6::int * interval '1 second')"
    " ON CONFLICT (ticket_id, user_id, client) DO UPDATE SET"
    "   typing_until = excluded.typing_until, expires_at = excluded.expires_at, updated_at = now()",
    6
};

int presence_set(const struct desk_tx *tx, long long ticket_id, const char *client,
                 enum presence_state st, int ttl_s, struct err *err)
{
    const char *e = NULL;
    int ret = -1;
    char *before = NULL, *after = NULL;
    if (!desk_is_staff(tx->who) || tx->who->kind != DESK_USER)
        return err_raise(err, ERR_FORBIDDEN, NULL, "presence is for staff");
    if (client == NULL || client[0] == '\0' || strlen(client) > PRESENCE_CLIENT_MAX)
        return err_raise(err, ERR_INVALID, "client", "a presence needs a client key of 1 to %d bytes",
                         PRESENCE_CLIENT_MAX);
    if (ttl_s < 5 || ttl_s > 3600)
        return err_raise(err, ERR_INVALID, "ttl", "a presence lasts 5 s to 1 h");
    char sid[24], uid[24], typ[16], ttl[16];
    snprintf(sid, sizeof(sid), "%lld", ticket_id);
    snprintf(uid, sizeof(uid), "%lld", tx->who->user_id);
    snprintf(typ, sizeof(typ), "%d", PRESENCE_TYPING_S);
    snprintf(ttl, sizeof(ttl), "%d", ttl_s);
    struct ticket_visibility v;
    ticket_visibility_params(tx->who, &v);
    const char *vp[] = { v.p[0], v.p[1], v.p[2], v.p[3], sid };
    PGresult *r = db_exec_stmt(tx->db, &st_seen, vp, &e);
    if (r == NULL)
        return desk_db_fail(err, "reading the ticket", e);
    int seen = PQntuples(r);
    PQclear(r);
    if (seen != 1)
        return err_raise(err, ERR_NOT_FOUND, NULL, "no such ticket");
    if (lock_ticket(tx, sid, err) < 0 || (before = viewers(tx, sid, err)) == NULL)
        goto out;
    if (st == PRESENCE_LEFT) {
        const char *p[] = { sid, uid, client };
        r = db_exec(tx->db, "DELETE FROM ticket_presence WHERE ticket_id = $1 AND user_id = $2"
                    " AND client = $3", 3, p, &e);
    } else {
        const char *p[] = { sid, uid, client, st == PRESENCE_TYPING ? "t" : "f", typ, ttl };
        r = db_exec_stmt(tx->db, &st_upsert, p, &e);
    }
    if (r == NULL) {
        desk_db_fail(err, "setting the presence", e);
        goto out;
    }
    PQclear(r);
    if ((after = viewers(tx, sid, err)) == NULL)
        goto out;
    if (strcmp(before, after) != 0 && announce(tx, sid, after, err) < 0)
        goto out;
    ret = 0;
out:
    free(before);
    free(after);
    return ret;
}

/* Announces the lists of the tickets named in column 0 of r (distinct,
 * in id order: the locks are taken in that order, no deadlock). */
static int announce_each(const struct desk_tx *tx, PGresult *r, int *n_r, struct err *err)
{
    for (int i = 0; i < PQntuples(r); i++) {
        const char *sid = PQgetvalue(r, i, 0);
        char *list = NULL;
        if (lock_ticket(tx, sid, err) < 0 || (list = viewers(tx, sid, err)) == NULL)
            return -1;
        int rc = announce(tx, sid, list, err);
        free(list);
        if (rc < 0)
            return -1;
        (*n_r)++;
    }
    return 0;
}

int presence_end_clients(const struct desk_tx *tx, const char *prefix, int *ended_r,
                         struct err *err)
{
    const char *e = NULL;
    *ended_r = 0;
    if (prefix == NULL || prefix[0] == '\0')
        return err_raise(err, ERR_INVALID, "client", "no client named");
    const char *p[] = { prefix };
    PGresult *r = db_exec(tx->db,
        "WITH d AS (DELETE FROM ticket_presence WHERE left(client, length($1)) = $1"
        "           RETURNING ticket_id)"
        " SELECT DISTINCT ticket_id FROM d ORDER BY ticket_id", 1, p, &e);
    if (r == NULL)
        return desk_db_fail(err, "ending the presence", e);
    int rc = announce_each(tx, r, ended_r, err);
    PQclear(r);
    return rc;
}

int presence_expire(const struct desk_tx *tx, int *changed_r, struct err *err)
{
    const char *e = NULL;
    *changed_r = 0;
    PGresult *r = db_exec(tx->db,
        "WITH d AS (DELETE FROM ticket_presence WHERE expires_at <= now() RETURNING ticket_id),"
        "     t AS (UPDATE ticket_presence SET typing_until = NULL"
        "            WHERE typing_until <= now() RETURNING ticket_id)"
        " SELECT ticket_id FROM d UNION SELECT ticket_id FROM t ORDER BY 1", 0, NULL, &e);
    if (r == NULL)
        return desk_db_fail(err, "expiring presence", e);
    int rc = announce_each(tx, r, changed_r, err);
    PQclear(r);
    return rc;
}
