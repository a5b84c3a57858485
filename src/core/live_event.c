/* core/live_event.c -- see core/live_event.h. */
#include "config.h"
#include "core/live_event.h"
#include "lib/err.h"

#include <stdio.h>
#include <stdlib.h>

/* The NOTIFY is delivered at commit, and PostgreSQL folds identical
 * notifications of one transaction into one: one wake-up per change. */
static const struct db_stmt st_store = {
    "live_event_store",
    "WITH i AS (INSERT INTO live_events (event, ticket_id, queue_id, staff_only, data)"
    "           VALUES ($1, $2, (SELECT t.queue_id FROM tickets t WHERE t.id = $2), $3, $4::jsonb)"
    "           RETURNING 1)"
    " SELECT pg_notify('" LIVE_CHANNEL_PENDING "', '') FROM i",
    4
};

int live_event_store(struct db_conn *c, const char *event, long long ticket_id, bool staff_only,
                     const char *json_data, const char **error_r)
{
    const char *e = NULL;
    char tid[24];
    snprintf(tid, sizeof(tid), "%lld", ticket_id);
    const char *p[] = { event, tid, staff_only ? "t" : "f", json_data ? json_data : "{}" };
    PGresult *r = db_exec_stmt(c, &st_store, p, &e);
    if (r == NULL)
        return err_set(error_r, "storing the live event %s: %s", event, e);
    PQclear(r);
    return 0;
}

/* The counter row's lock serialises publishers (of every node); taken
 * first, so the next statement's snapshot sees the last publisher's ids. */
static const struct db_stmt st_lock = {
    "live_event_lock", "SELECT last_id FROM live_counter FOR UPDATE", 0
};

/* Ids follow the order of writing within a batch; clock_timestamp(), not
 * now(): the time the ids were given, after the lock was had. */
static const struct db_stmt st_publish = {
    "live_event_publish",
    "WITH p AS (SELECT entry FROM live_events WHERE id IS NULL ORDER BY entry LIMIT $2),"
    "     n AS (SELECT entry, $1::bigint + row_number() OVER (ORDER BY entry) AS id FROM p),"
    "     u AS (UPDATE live_events e SET id = n.id, published_at = clock_timestamp()"
    "             FROM n WHERE e.entry = n.entry RETURNING e.id),"
    "     c AS (UPDATE live_counter SET last_id = coalesce((SELECT max(id) FROM u), last_id)"
    "            RETURNING last_id)"
    " SELECT c.last_id, (SELECT count(*) FROM u),"
    "        CASE WHEN c.last_id > $1::bigint"
    "             THEN pg_notify('" LIVE_CHANNEL_PUBLISHED "', c.last_id::text) END"
    "   FROM c",
    2
};

int live_event_publish(struct db_conn *c, int *published_r, long long *last_r,
                       const char **error_r)
{
    const char *e = NULL;
    *published_r = 0;
    if (db_begin(c, &e) < 0)
        return err_set(error_r, "publishing live events: %s", e);
    PGresult *r = db_exec_stmt(c, &st_lock, NULL, &e);
    if (r == NULL || PQntuples(r) != 1) {
        if (r)
            e = "the live_counter row is missing";
        PQclear(r);
        db_rollback(c);
        return err_set(error_r, "publishing live events: %s", e);
    }
    char last[24], batch[16];
    snprintf(last, sizeof(last), "%s", PQgetvalue(r, 0, 0));
    PQclear(r);
    snprintf(batch, sizeof(batch), "%d", LIVE_BATCH);
    const char *p[] = { last, batch };
    r = db_exec_stmt(c, &st_publish, p, &e);
    if (r == NULL) {
        db_rollback(c);
        return err_set(error_r, "publishing live events: %s", e);
    }
    long long now_last = atoll(PQgetvalue(r, 0, 0));
    int n = atoi(PQgetvalue(r, 0, 1));
    PQclear(r);
    if (db_commit(c, &e) < 0) {
        db_rollback(c);
        return err_set(error_r, "publishing live events: %s", e);
    }
    *published_r = n;
    *last_r = now_last;
    return 0;
}

int live_event_bounds(struct db_conn *c, long long *last_r, long long *pruned_below_r,
                      const char **error_r)
{
    static const struct db_stmt st = {
        "live_event_bounds", "SELECT last_id, pruned_below FROM live_counter", 0
    };
    const char *e = NULL;
    PGresult *r = db_exec_stmt(c, &st, NULL, &e);
    if (r == NULL)
        return err_set(error_r, "reading the live counter: %s", e);
    if (PQntuples(r) != 1) {
        PQclear(r);
        return err_set(error_r, "reading the live counter: the row is missing");
    }
    *last_r = atoll(PQgetvalue(r, 0, 0));
    *pruned_below_r = atoll(PQgetvalue(r, 0, 1));
    PQclear(r);
    return 0;
}

bool live_event_resumable(long long since, long long last, long long pruned_below)
{
    if (since < 0 || since > last)
        return false;              /* an id this database never gave */
    /* events since+1 ... pruned_below-1 may be gone */
    return since + 1 >= pruned_below;
}

/* Rows go in id order as far as they were published, so pruned_below
 * moves past the highest id deleted; a later, lower-id row still kept
 * only makes the reset conservative. */
static const struct db_stmt st_prune = {
    "live_event_prune",
    "WITH d AS (DELETE FROM live_events WHERE entry IN"
    "            (SELECT entry FROM live_events"
    "              WHERE (id IS NOT NULL AND published_at < now() - $1::bigint * interval '1 millisecond')"
    "                 OR (id IS NULL AND created_at < now() - $1::bigint * interval '1 millisecond')"
    "              ORDER BY entry LIMIT $2)"
    "           RETURNING id),"
    "     c AS (UPDATE live_counter SET pruned_below = greatest(pruned_below,"
    "                   coalesce((SELECT max(id) + 1 FROM d), pruned_below))"
    "            WHERE EXISTS (SELECT 1 FROM d WHERE id IS NOT NULL) RETURNING 1)"
    " SELECT (SELECT count(*) FROM d), (SELECT count(*) FROM c)",
    2
};

int live_event_prune(struct db_conn *c, long long keep_ms, int batch, int *deleted_r,
                     const char **error_r)
{
    const char *e = NULL;
    char keep[24], b[16];
    snprintf(keep, sizeof(keep), "%lld", keep_ms);
    snprintf(b, sizeof(b), "%d", batch);
    const char *p[] = { keep, b };
    *deleted_r = 0;
    PGresult *r = db_exec_stmt(c, &st_prune, p, &e);
    if (r == NULL)
        return err_set(error_r, "pruning live events: %s", e);
    *deleted_r = atoi(PQgetvalue(r, 0, 0));
    PQclear(r);
    return 0;
}
