/* sla/sla_backfill.c -- the sla.backfill job: open tickets that have no
 * start in the ledger (opened before the plugin was enabled, or while it
 * was off) get their clocks from their own history (backfill.h).
 *
 * Enqueued at every start() of the plugin and by POST /backfill, one at a
 * time (unique key).  It takes recompute_batch tickets by id and hands the
 * rest to a next job.  Each ticket is one transaction that first locks
 * the ticket's sla_tickets row -- the lock every hook, tick and recompute
 * of that ticket takes -- then, seeing everything committed before it,
 * checks again that the ticket has no start, reads the history and
 * appends the entries "only if absent" (each has its source, unique per
 * ticket: sql/003_ledger_source.sql).  So a hook of the same ticket,
 * before, after or at the same time, never makes a second start or a
 * second entry of one event, and a second backfill finds the start and
 * does nothing.
 *
 * Warnings and breaches that were owed before the backfill are recorded
 * at the moment they were owed, marked "backfill", and not escalated: no
 * mail, no priority or queue change, no sla.warning / sla.breached event,
 * not counted in atum_sla_*_total.  Moments still to come escalate as
 * usual.  See sla-private.h and README.md. */
#include "sla-private.h"
#include "backfill.h"
#include "render.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BACKFILL_KEY "sla.backfill"

int sla_request_backfill(struct sla_plugin *p, struct atum_db *db, long long *id_r, const char **error_r)
{
    struct atum_job_spec spec = { .kind = "sla.backfill", .payload = "{}", .unique_key = BACKFILL_KEY };
    return p->host->enqueue(db, &spec, id_r, error_r);
}

static long long num(const struct atum_host *h, const struct atum_rows *r, int row, int col)
{
    const char *v = h->rows_value(r, row, col);
    return v ? atoll(v) : 0;
}

static int enum_or_none(const char *v, int (*parse)(const char *))
{
    return v ? parse(v) : -1;
}

/* The ticket's history in one statement (one snapshot): 't' the ticket,
 * 'm' its messages, 'c' its recorded changes. */
#define HISTORY_SQL \
    "SELECT 't', " SQL_TS_TO_MS("created_at") ", status, queue_id::text, priority," \
    "       " SQL_TS_TO_MS("updated_at") "::text, NULL, NULL, NULL" \
    "  FROM tickets WHERE id = $1 AND merged_into IS NULL AND status IN ('new', 'open', 'pending')" \
    " UNION ALL SELECT 'm', " SQL_TS_TO_MS("created_at") ", direction, visibility, robot, id::text," \
    "       NULL, NULL, NULL FROM messages WHERE ticket_id = $1" \
    " UNION ALL SELECT 'c', " SQL_TS_TO_MS("created_at") ", changes->'status'->>'from'," \
    "       changes->'status'->>'to', changes->'priority'->>'from', changes->'priority'->>'to'," \
    "       changes->'queue_id'->>'from', changes->'queue_id'->>'to', version::text" \
    "  FROM ticket_changes WHERE ticket_id = $1 AND changes IS NOT NULL"

/* The entries of one ticket's history; *open_r false when it is no
 * longer an open ticket (solved, closed, merged, gone meanwhile). */
static int read_history(struct sla_plugin *p, struct atum_db *db, long long ticket, bool *open_r,
                        struct sla_bf_entry **out_r, int *n_r, const char **error_r)
{
    const struct atum_host *h = p->host;
    char id[24];
    snprintf(id, sizeof(id), "%lld", ticket);
    const char *params[] = { id };
    struct atum_rows *rows = NULL;
    *open_r = false;
    if (h->sql(db, HISTORY_SQL, 1, params, &rows, error_r) < 0)
        return -1;
    int n = h->rows_count(rows), nm = 0, nc = 0;
    struct sla_bf_message *msgs = calloc((size_t)n + 1, sizeof(*msgs));
    struct sla_bf_change *chs = calloc((size_t)n + 1, sizeof(*chs));
    struct sla_bf_ticket t = { 0 };
    int ret = -1;
    if (msgs == NULL || chs == NULL) {
        *error_r = "out of memory";
        goto out;
    }
    for (int i = 0; i < n; i++) {
        const char *k = h->rows_value(rows, i, 0);
        int64_t at = num(h, rows, i, 1);
        const char *c2 = h->rows_value(rows, i, 2), *c3 = h->rows_value(rows, i, 3),
                   *c4 = h->rows_value(rows, i, 4), *c5 = h->rows_value(rows, i, 5),
                   *c6 = h->rows_value(rows, i, 6), *c7 = h->rows_value(rows, i, 7);
        if (k[0] == 't') {
            *open_r = true;
            t.created_at = at;
            t.status = enum_or_none(c2, sla_status_parse);
            t.queue_id = c3 ? atoll(c3) : 0;
            t.priority = enum_or_none(c4, sla_priority_parse);
            t.updated_at = c5 ? atoll(c5) : at;
        } else if (k[0] == 'm') {
            msgs[nm++] = (struct sla_bf_message){
                .id = c5 ? atoll(c5) : 0, .at = at,
                .staff = c2 && strcmp(c2, "out") == 0,
                .public = c3 && strcmp(c3, "public") == 0,
                .human = c4 == NULL || strcmp(c4, "none") == 0,
            };
        } else {
            chs[nc++] = (struct sla_bf_change){
                .version = num(h, rows, i, 8), .at = at,
                .status_from = enum_or_none(c2, sla_status_parse),
                .status_to = enum_or_none(c3, sla_status_parse),
                .priority_from = enum_or_none(c4, sla_priority_parse),
                .priority_to = enum_or_none(c5, sla_priority_parse),
                .queue_from = c6 ? atoll(c6) : 0,
                .queue_to = c7 ? atoll(c7) : 0,
            };
        }
    }
    if (!*open_r) {
        ret = 0;
        goto out;
    }
    if (sla_backfill_entries(&t, msgs, nm, chs, nc, out_r, n_r) < 0) {
        *error_r = "out of memory";
        goto out;
    }
    ret = 0;
out:
    free(msgs);
    free(chs);
    h->rows_free(&rows);
    return ret;
}

/* The warnings and breaches owed before now: recorded at their moment,
 * not escalated (see the top). */
static int record_past(struct sla_plugin *p, struct atum_db *db, long long ticket, const struct sla_snapshot *snap,
                       struct sla_ledger *l, int64_t now, const char **error_r)
{
    struct sla_state st;
    memset(&st, 0, sizeof(st));
    struct sla_event *copy = malloc((size_t)(l->n ? l->n : 1) * sizeof(*copy));
    if (copy == NULL)
        return *error_r = "out of memory", -1;
    memcpy(copy, l->ev, (size_t)l->n * sizeof(*copy));
    int rc = sla_compute(&snap->rules, copy, l->n, now, false, &st);
    free(copy);
    if (rc < 0) {
        sla_state_clear(&st);
        return *error_r = "out of memory", -1;
    }
    struct sla_firing f[2 * SLA_CLOCKS];
    int n = sla_firings(&st, now, f);
    int ret = 0;
    for (int i = 0; i < n && ret == 0; i++) {
        const struct sla_clock_state *cs = &st.c[f[i].clock];
        bool breach = f[i].level == SLA_BREACH;
        json_t *d = json_pack("{s:s, s:s, s:I, s:s?, s:I, s:I, s:o, s:s, s:o, s:b, s:b, s:[]}",
                              "clock", sla_clock_name(f[i].clock), "level", breach ? "breach" : "warning",
                              "policy_id", (json_int_t)(st.policy ? st.policy->id : 0),
                              "policy", st.policy ? st.policy->name : NULL,
                              "target_seconds", (json_int_t)(cs->target / 1000),
                              "used_seconds", (json_int_t)(cs->used / 1000),
                              "due_at", sla_json_instant(breach ? cs->breached_at : cs->due_at),
                              "time", cs->measure == SLA_BUSINESS_TIME ? "business" : "calendar",
                              "owed_at", sla_json_instant(f[i].at), "superseded", f[i].superseded,
                              "backfill", 1, "actions");
        if (d != NULL && f[i].clock == SLA_NEXT_RESPONSE)
            json_object_set_new(d, "round", json_integer(f[i].round));
        char *text = d ? json_dumps(d, JSON_COMPACT) : NULL;
        struct sla_event e = { .at = f[i].at, .kind = breach ? SLA_EV_BREACH : SLA_EV_WARNING, .status = -1,
                               .priority = -1, .clock = f[i].clock, .round = f[i].round };
        long long id = 0;
        if (text == NULL || sla_store_append(p, db, ticket, &e, text, &id, error_r) < 0) {
            if (text == NULL)
                *error_r = "out of memory";
            ret = -1;
        } else {
            e.id = id;
            if (sla_ledger_push(l, &e, d) == 0)
                d = NULL;                /* the ledger owns it */
            else
                ret = (*error_r = "out of memory", -1);
        }
        free(text);
        json_decref(d);
    }
    sla_state_clear(&st);
    return ret;
}

/* The history's entries in one statement, each only if its source is
 * not there yet (a hook recorded it first). */
static int append_entries(struct sla_plugin *p, struct atum_db *db, long long ticket,
                          const struct sla_bf_entry *ent, int n, const char **error_r)
{
    json_t *rows = json_array();
    for (int i = 0; rows && i < n; i++) {
        const struct sla_event *e = &ent[i].ev;
        json_t *r = json_pack("{s:I, s:s, s:s?, s:o, s:s?, s:s}", "at", (json_int_t)e->at,
                              "kind", sla_event_kind_name(e->kind),
                              "status", e->status >= 0 ? sla_status_name(e->status) : NULL,
                              "queue_id", e->queue_id > 0 ? json_integer(e->queue_id) : json_null(),
                              "priority", e->priority >= 0 ? sla_priority_name(e->priority) : NULL,
                              "source", ent[i].source);
        if (r == NULL || json_array_append_new(rows, r) < 0) {
            json_decref(rows);
            rows = NULL;
        }
    }
    char *text = rows ? json_dumps(rows, JSON_COMPACT) : NULL;
    json_decref(rows);
    if (text == NULL)
        return *error_r = "out of memory", -1;
    char id[24];
    snprintf(id, sizeof(id), "%lld", ticket);
    const char *params[] = { id, text };
    int rc = p->host->sql(db,
        "INSERT INTO sla_ledger (ticket_id, at, kind, status, queue_id, priority, detail, source)"
        " SELECT $1::bigint, " SQL_MS_TO_TS("r.at") ", r.kind, r.status, r.queue_id, r.priority,"
        "        '{\"backfill\": true}'::jsonb, r.source"
        "   FROM jsonb_to_recordset($2::jsonb) AS r (at bigint, kind text, status text, queue_id bigint,"
        "                                            priority text, source text)"
        " ORDER BY r.at"
        " ON CONFLICT (ticket_id, source) WHERE source IS NOT NULL DO NOTHING",
        2, params, NULL, error_r);
    free(text);
    return rc;
}

/* One ticket, in its own transaction.  *done_r: its clocks were started. */
static int backfill_one(struct sla_plugin *p, struct atum_db *db, long long ticket, int64_t now, bool *done_r,
                        const char **error_r)
{
    const struct atum_host *h = p->host;
    char id[24];
    snprintf(id, sizeof(id), "%lld", ticket);
    const char *params[] = { id };
    struct atum_rows *rows = NULL;
    struct sla_bf_entry *ent = NULL;
    struct sla_ledger l;
    struct sla_snapshot *snap = NULL;
    memset(&l, 0, sizeof(l));
    int nent = 0;
    *done_r = false;
    if (h->tx_begin(db, error_r) < 0)
        return -1;
    /* the ticket's lock first, as every writer of it takes it */
    /* its commit may be asynchronous: a commit a crash loses is a ticket
     * still without a start, which the next backfill takes again */
    if (h->sql(db, "INSERT INTO sla_tickets (ticket_id) VALUES ($1) ON CONFLICT (ticket_id)"
                   " DO UPDATE SET ticket_id = EXCLUDED.ticket_id"
                   " RETURNING ledger_last, " SQL_TS_TO_MS("next_due") ", policy_id,"
                   "           set_config('synchronous_commit', 'off', true)",
               1, params, &rows, error_r) < 0)
        goto fail;
    const char *v;
    struct sla_ticket_row row = {
        .ledger_last = num(h, rows, 0, 0),
        .next_due = (v = h->rows_value(rows, 0, 1)) ? atoll(v) : SLA_NONE,
        .policy_id = num(h, rows, 0, 2),
    };
    h->rows_free(&rows);
    /* a later statement: it sees what a writer committed while we waited */
    if (h->sql(db, "SELECT EXISTS (SELECT 1 FROM sla_ledger WHERE ticket_id = $1 AND kind = 'start'),"
                   " (SELECT version FROM sla_config)", 1, params, &rows, error_r) < 0)
        goto fail;
    bool started = strcmp(h->rows_value(rows, 0, 0), "t") == 0;
    row.config_version = num(h, rows, 0, 1);
    h->rows_free(&rows);
    bool open = false;
    if (!started && read_history(p, db, ticket, &open, &ent, &nent, error_r) < 0)
        goto fail;
    if (started || !open) {
        h->tx_rollback(db);              /* nothing to do: leave no row behind */
        free(ent);
        return 0;
    }
    if (append_entries(p, db, ticket, ent, nent, error_r) < 0)
        goto fail;
    if (sla_store_read(p, db, ticket, &l, error_r) < 0
        || sla_snapshot_get(p, db, row.config_version, &snap, error_r) < 0
        || record_past(p, db, ticket, snap, &l, now, error_r) < 0)
        goto fail;
    /* not a change of policy: the ticket had none before its start */
    row.ledger_last = 0;
    if (sla_recompute_locked(p, db, ticket, &row, &l, now, now, error_r) < 0
        || h->tx_commit(db, error_r) < 0)
        goto fail;
    sla_snapshot_put(p, snap);
    sla_ledger_free(&l);
    free(ent);
    *done_r = true;
    return 0;
fail:
    h->rows_free(&rows);
    h->tx_rollback(db);
    sla_snapshot_put(p, snap);
    sla_ledger_free(&l);
    free(ent);
    return -1;
}

int sla_job_backfill(void *state, struct atum_job *job)
{
    struct sla_plugin *p = state;
    const struct atum_host *h = p->host;
    const char *e = NULL;
    long long after = 0;
    json_t *pl = json_loadb(job->payload, job->payload_len, 0, NULL);
    if (json_is_integer(json_object_get(pl, "after")))
        after = (long long)json_integer_value(json_object_get(pl, "after"));
    json_decref(pl);
    char a[24], lim[24];
    snprintf(a, sizeof(a), "%lld", after);
    snprintf(lim, sizeof(lim), "%d", p->recompute_batch);
    const char *params[] = { a, lim };
    struct atum_rows *rows = NULL;
    if (h->sql(job->db, "SELECT t.id FROM tickets t"
                        " WHERE t.status IN ('new', 'open', 'pending') AND t.merged_into IS NULL AND t.id > $1"
                        "   AND NOT EXISTS (SELECT 1 FROM sla_ledger l WHERE l.ticket_id = t.id AND l.kind = 'start')"
                        " ORDER BY t.id LIMIT $2::int", 2, params, &rows, &e) < 0)
        return h->job_error(job, "backfill: %s", e);
    int n = h->rows_count(rows), started = 0, failed = 0;
    long long last = after;
    int64_t now = sla_now_ms(p);
    for (int i = 0; i < n; i++) {
        long long ticket = num(h, rows, i, 0);
        bool done = false;
        last = ticket;
        if (backfill_one(p, job->db, ticket, now, &done, &e) < 0) {
            /* one ticket never stops the others; the next backfill tries it again */
            h->log(ATUM_LOG_ERROR, "sla backfill: ticket %lld: %s", ticket, e ? e : "unknown error");
            failed++;
        } else if (done) {
            started++;
        }
        if (i % 200 == 199 && h->job_extend_lease(job, 300, &e) < 0)
            h->log(ATUM_LOG_WARN, "sla backfill: extending the lease: %s", e);
    }
    h->rows_free(&rows);
    if (n == p->recompute_batch) {
        /* more to come: the next batch is its own job */
        char payload[64], key[64];
        snprintf(payload, sizeof(payload), "{\"after\": %lld}", last);
        snprintf(key, sizeof(key), BACKFILL_KEY ":%lld", last);
        struct atum_job_spec spec = { .kind = "sla.backfill", .payload = payload, .unique_key = key };
        long long id = 0;
        if (h->enqueue(job->db, &spec, &id, &e) < 0)
            return h->job_error(job, "backfill: the next batch: %s", e);
    }
    if (started > 0 || failed > 0)
        h->log(failed ? ATUM_LOG_WARN : ATUM_LOG_INFO, "sla backfill: %d tickets started from their history,"
               " %d failed", started, failed);
    return ATUM_JOB_DONE;
}
