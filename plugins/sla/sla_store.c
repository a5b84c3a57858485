/* sla/sla_store.c -- the sla plugin's SQL: the tickets' rows, the ledger,
 * saving a computed state and scheduling the tick.  See sla-private.h. */
#include "sla-private.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LEDGER_COLS(t) t "id, " SQL_TS_TO_MS(t "at") ", " t "kind, " t "status, " t "queue_id, " \
    t "priority, " t "clock, " t "round, " t "detail::text"

void sla_ledger_free(struct sla_ledger *l)
{
    for (int i = 0; i < l->n; i++)
        json_decref(l->detail[i]);
    free(l->ev);
    free(l->detail);
    memset(l, 0, sizeof(*l));
}

int sla_ledger_push(struct sla_ledger *l, const struct sla_event *e, json_t *detail)
{
    if (l->n == l->cap) {
        int cap = l->cap ? l->cap * 2 : 16;
        struct sla_event *ev = realloc(l->ev, (size_t)cap * sizeof(*ev));
        if (ev == NULL)
            return -1;
        l->ev = ev;
        json_t **d = realloc(l->detail, (size_t)cap * sizeof(*d));
        if (d == NULL)
            return -1;
        l->detail = d;
        l->cap = cap;
    }
    l->ev[l->n] = *e;
    l->ev[l->n].detail = detail;
    l->detail[l->n] = detail;
    l->n++;
    if (e->id > l->last_id)
        l->last_id = e->id;
    return 0;
}

static long long num(const struct atum_host *h, const struct atum_rows *r, int row, int col)
{
    const char *v = h->rows_value(r, row, col);
    return v ? atoll(v) : 0;
}

void sla_ledger_from_rows(const struct atum_host *h, const struct atum_rows *rows, int *row, int off,
                          int tcol, long long ticket, struct sla_ledger *l)
{
    int n = h->rows_count(rows);
    for (; *row < n; (*row)++) {
        int i = *row;
        if (tcol >= 0 && num(h, rows, i, tcol) != ticket)
            break;
        int kind = sla_event_kind_parse(h->rows_value(rows, i, off + 2));
        if (kind < 0)
            continue;                    /* a kind of a later version: not ours to count */
        const char *st = h->rows_value(rows, i, off + 3);
        const char *pr = h->rows_value(rows, i, off + 5);
        const char *ck = h->rows_value(rows, i, off + 6);
        const char *dt = h->rows_value(rows, i, off + 8);
        struct sla_event e = {
            .id = num(h, rows, i, off + 0),
            .at = num(h, rows, i, off + 1),
            .kind = (enum sla_event_kind)kind,
            .status = st ? sla_status_parse(st) : -1,
            .queue_id = num(h, rows, i, off + 4),
            .priority = pr ? sla_priority_parse(pr) : -1,
            .clock = ck ? sla_clock_parse(ck) : 0,
            .round = (int)num(h, rows, i, off + 7),
        };
        if (e.clock < 0)
            continue;
        json_t *detail = dt ? json_loads(dt, 0, NULL) : NULL;
        if (sla_ledger_push(l, &e, detail) < 0)
            json_decref(detail);
    }
}

struct entry_params {
    char ticket[24], at[24], queue[24], round[16];
    const char *p[10];
};

static void entry_params(struct entry_params *x, long long ticket, const struct sla_event *e,
                         const char *detail_json, const char *source)
{
    snprintf(x->ticket, sizeof(x->ticket), "%lld", ticket);
    snprintf(x->at, sizeof(x->at), "%lld", (long long)e->at);
    snprintf(x->queue, sizeof(x->queue), "%lld", e->queue_id);
    snprintf(x->round, sizeof(x->round), "%d", e->round);
    bool fired = e->kind == SLA_EV_WARNING || e->kind == SLA_EV_BREACH;
    x->p[0] = x->ticket;
    x->p[1] = x->at;
    x->p[2] = sla_event_kind_name(e->kind);
    x->p[3] = e->status >= 0 ? sla_status_name(e->status) : NULL;
    x->p[4] = e->queue_id > 0 ? x->queue : NULL;
    x->p[5] = e->priority >= 0 ? sla_priority_name(e->priority) : NULL;
    x->p[6] = fired ? sla_clock_name(e->clock) : NULL;
    x->p[7] = fired && e->clock == SLA_NEXT_RESPONSE ? x->round : NULL;
    x->p[8] = detail_json;
    x->p[9] = source;
}

/* An entry with a source is recorded once (sql/003_ledger_source.sql):
 * a second one of the same source is not an error, just nothing. */
#define INSERT_ENTRY \
    "INSERT INTO sla_ledger (ticket_id, at, kind, status, queue_id, priority, clock, round, detail, source)" \
    " VALUES ($1, " SQL_MS_TO_TS("$2") ", $3, $4, $5::bigint, $6, $7, $8::int, $9::jsonb, $10)" \
    " ON CONFLICT (ticket_id, source) WHERE source IS NOT NULL DO NOTHING"

/* The ticket's row locked (created if needed), the entry appended, the
 * whole ledger read, and this transaction's commit made asynchronous --
 * in one statement.  Asynchronous is safe here: the hook's job completes
 * in the same transaction, so a commit a crash loses also loses the
 * completion, and the hook runs again.
 *
 * The read's snapshot is taken before the lock is granted, so a hook of
 * the same ticket that committed while this one waited is not in it;
 * that writer's entry is the row's ledger_last (every writer sets it to
 * the last entry it knew), so when that entry is missing the ledger is
 * read again (a later statement sees everything committed before it). */
int sla_store_begin_event(struct sla_plugin *p, struct atum_db *db, long long ticket,
                          const struct sla_event *e, const char *source, struct sla_ticket_row *row,
                          struct sla_ledger *l, const char **error_r)
{
    const struct atum_host *h = p->host;
    struct entry_params x;
    entry_params(&x, ticket, e, NULL, source);
    struct atum_rows *rows = NULL;
    if (h->sql(db,
               "WITH lk AS (INSERT INTO sla_tickets (ticket_id) VALUES ($1)"
               "            ON CONFLICT (ticket_id) DO UPDATE SET ticket_id = EXCLUDED.ticket_id"
               "            RETURNING ledger_last, " SQL_TS_TO_MS("next_due") " AS next_due, policy_id,"
               "                      (SELECT version FROM sla_config) AS version,"
               "                      set_config('synchronous_commit', 'off', true) AS async),"
               " ins AS (INSERT INTO sla_ledger (ticket_id, at, kind, status, queue_id, priority, clock, round, detail, source)"
               "         VALUES ($1, " SQL_MS_TO_TS("$2") ", $3, $4,"
               /* a start read from the opening message takes the ticket's queue and priority */
               "                 CASE WHEN $3 = 'start' THEN coalesce($5::bigint, (SELECT queue_id FROM tickets WHERE id = $1))"
               "                      ELSE $5::bigint END,"
               "                 CASE WHEN $3 = 'start' THEN coalesce($6, (SELECT priority FROM tickets WHERE id = $1))"
               "                      ELSE $6 END,"
               "                 $7, $8::int, $9::jsonb, $10)"
               /* the same event recorded before (its hook ran twice, or the
                * backfill read it from the ticket's history): nothing new */
               "         ON CONFLICT (ticket_id, source) WHERE source IS NOT NULL DO NOTHING RETURNING *),"
               " led AS (SELECT " LEDGER_COLS("") " FROM sla_ledger WHERE ticket_id = $1"
               "         UNION ALL SELECT " LEDGER_COLS("") " FROM ins)"
               /* the row always (an event already recorded may leave led empty) */
               " SELECT lk.ledger_last, lk.next_due, lk.policy_id, lk.version, led.* FROM lk LEFT JOIN led ON true",
               10, x.p, &rows, error_r) < 0)
        return -1;
    int n = h->rows_count(rows);
    if (n == 0) {
        h->rows_free(&rows);
        return *error_r = "sla_tickets: the row was not returned", -1;
    }
    const char *v;
    row->ledger_last = (v = h->rows_value(rows, 0, 0)) ? atoll(v) : 0;
    row->next_due = (v = h->rows_value(rows, 0, 1)) ? atoll(v) : SLA_NONE;
    row->policy_id = (v = h->rows_value(rows, 0, 2)) ? atoll(v) : 0;
    row->config_version = (v = h->rows_value(rows, 0, 3)) ? atoll(v) : 0;
    bool seen = row->ledger_last == 0;
    for (int i = 0; i < n && !seen; i++)
        seen = (v = h->rows_value(rows, i, 4)) != NULL && atoll(v) == row->ledger_last;
    if (seen) {
        int r = 0;
        sla_ledger_from_rows(h, rows, &r, 4, -1, 0, l);    /* after lk's four columns */
        h->rows_free(&rows);
        return 0;
    }
    h->rows_free(&rows);
    /* a writer committed while this statement waited for the lock */
    return sla_store_read(p, db, ticket, l, error_r);
}

int sla_store_read(struct sla_plugin *p, struct atum_db *db, long long ticket,
                   struct sla_ledger *l, const char **error_r)
{
    const struct atum_host *h = p->host;
    char id[24];
    snprintf(id, sizeof(id), "%lld", ticket);
    const char *params[] = { id };
    struct atum_rows *rows = NULL;
    if (h->sql(db, "SELECT " LEDGER_COLS("") " FROM sla_ledger WHERE ticket_id = $1 ORDER BY at, id",
               1, params, &rows, error_r) < 0)
        return -1;
    int row = 0;
    sla_ledger_from_rows(h, rows, &row, 0, -1, 0, l);
    h->rows_free(&rows);
    return 0;
}

int sla_store_append(struct sla_plugin *p, struct atum_db *db, long long ticket,
                     const struct sla_event *e, const char *detail_json, long long *id_r,
                     const char **error_r)
{
    return sla_store_append_from(p, db, ticket, e, detail_json, NULL, id_r, error_r);
}

int sla_store_append_from(struct sla_plugin *p, struct atum_db *db, long long ticket,
                          const struct sla_event *e, const char *detail_json, const char *source,
                          long long *id_r, const char **error_r)
{
    const struct atum_host *h = p->host;
    struct entry_params x;
    entry_params(&x, ticket, e, detail_json, source);
    struct atum_rows *rows = NULL;
    if (h->sql(db, INSERT_ENTRY " RETURNING id", 10, x.p, &rows, error_r) < 0)
        return -1;
    *id_r = h->rows_count(rows) > 0 ? num(h, rows, 0, 0) : 0;
    h->rows_free(&rows);
    return 0;
}

static const char *ms_text(char *buf, size_t n, int64_t ms)
{
    if (ms == SLA_NONE)
        return NULL;
    snprintf(buf, n, "%lld", (long long)ms);
    return buf;
}

/* a clock's outcome into its two columns (see sla-private.h) */
static void clock_cols(const struct sla_state *s, int clock, const char **met, int64_t *missed_at)
{
    struct sla_outcome o;
    *met = NULL;
    *missed_at = SLA_NONE;
    if (sla_clock_outcome(s, clock, &o) == 0 || o.verdict == SLA_UNDECIDED)
        return;
    *met = o.verdict == SLA_MET ? "true" : "false";
    if (o.verdict == SLA_MISSED)
        *missed_at = o.decided_at;
}

static int nr_append(char **buf, size_t *len, size_t *cap, const struct sla_outcome *o)
{
    char item[64];
    int n = o->verdict == SLA_UNDECIDED
        ? snprintf(item, sizeof(item), "%s[null,null]", *len > 1 ? "," : "")
        : snprintf(item, sizeof(item), "%s[%s,%lld]", *len > 1 ? "," : "",
                   o->verdict == SLA_MET ? "true" : "false", (long long)o->decided_at);
    if (*len + (size_t)n + 2 > *cap) {
        size_t c = *cap * 2 + (size_t)n + 2;
        char *b = realloc(*buf, c);
        if (b == NULL)
            return -1;
        *buf = b;
        *cap = c;
    }
    memcpy(*buf + *len, item, (size_t)n + 1);
    *len += (size_t)n;
    return 0;
}

int sla_outcome_cols(const struct sla_state *s, struct sla_outcome_cols *o)
{
    struct sla_outcome nr;
    memset(o, 0, sizeof(*o));
    clock_cols(s, SLA_FIRST_RESPONSE, &o->fr_met, &o->fr_missed_at);
    clock_cols(s, SLA_RESOLUTION, &o->res_met, &o->res_missed_at);
    bool running = sla_clock_outcome(s, SLA_NEXT_RESPONSE, &nr) != 0;
    if (s->nrounds == 0 && !running)
        return 0;
    size_t len = 1, cap = 64;
    char *b = malloc(cap);
    if (b == NULL)
        return -1;
    b[0] = '[';
    b[1] = '\0';
    for (int i = 0; i < s->nrounds; i++)
        if (nr_append(&b, &len, &cap, &s->rounds[i]) < 0)
            goto oom;
    if (running && nr_append(&b, &len, &cap, &nr) < 0)
        goto oom;
    b[len++] = ']';                      /* nr_append leaves room for it */
    b[len] = '\0';
    o->nr_json = b;
    return 0;
oom:
    free(b);
    return -1;
}

void sla_outcome_cols_free(struct sla_outcome_cols *o)
{
    free(o->nr_json);
    o->nr_json = NULL;
}

/* The earliest deadline among running (or breached, unanswered) clocks:
 * what a list of tickets is ordered by. */
static int64_t earliest_due(const struct sla_state *s, bool *breached_r)
{
    int64_t due = SLA_NONE;
    *breached_r = false;
    for (int c = 0; c < SLA_CLOCKS; c++) {
        const struct sla_clock_state *cs = &s->c[c];
        if (!cs->tracked)
            continue;
        *breached_r = *breached_r || cs->breached || cs->rounds_breached > 0;
        if ((cs->mode == SLA_MODE_RUNNING || cs->mode == SLA_MODE_PAUSED) && cs->due_at != SLA_NONE
            && (due == SLA_NONE || cs->due_at < due))
            due = cs->due_at;
    }
    return due;
}

/* Writers of next_due hold this lock shared until they commit; the tick
 * that recomputes the earliest moment takes it exclusively, so it sees
 * every next_due whose writer counted on a tick it is about to replace
 * (see sla_store_schedule_earliest). */
#define SCHEDULE_LOCK "hashtext('atum.sla.schedule')"
/* a pending tick older than this is presumed lost (dead job): not relied on */
#define SCHEDULE_STALE_MS (10 * 60 * 1000)

/* A tick at or before `at` is pending, or one is arranged for `at`. */
static int ensure_tick(struct sla_plugin *p, struct atum_db *db, int64_t at, const char *tag,
                       const char **error_r)
{
    const struct atum_host *h = p->host;
    char a[24], stale[24];
    snprintf(a, sizeof(a), "%lld", (long long)at);
    snprintf(stale, sizeof(stale), "%lld", (long long)(sla_now_ms(p) - SCHEDULE_STALE_MS));
    const char *params[] = { a, stale };
    struct atum_rows *rows = NULL;
    if (h->sql(db, "SELECT 1 FROM sla_schedule WHERE at <= " SQL_MS_TO_TS("$1")
                   " AND at > " SQL_MS_TO_TS("$2") " LIMIT 1", 2, params, &rows, error_r) < 0)
        return -1;
    bool covered = h->rows_count(rows) > 0;
    h->rows_free(&rows);
    if (covered)
        return 0;
    if (h->sql(db, "INSERT INTO sla_schedule (at) VALUES (" SQL_MS_TO_TS("$1") ") ON CONFLICT DO NOTHING",
               1, params, NULL, error_r) < 0)
        return -1;
    return sla_store_schedule(p, db, at, tag, error_r);
}

int sla_store_save(struct sla_plugin *p, struct atum_db *db, long long ticket,
                   const struct sla_state *s, long long ledger_last, long long config_version,
                   int64_t old_next_due, const char **error_r)
{
    const struct atum_host *h = p->host;
    char id[24], q[24], pol[24], ver[24], last[24], nd[24], du[24], st[24], fru[24], frd[24], ru[24],
         rd[24], ca[24], fro[24], reso[24];
    bool breached;
    struct sla_outcome_cols oc;
    if (sla_outcome_cols(s, &oc) < 0) {
        *error_r = "out of memory";
        return -1;
    }
    int64_t due = earliest_due(s, &breached);
    bool open = s->started && (s->status != SLA_ST_SOLVED && s->status != SLA_ST_CLOSED);
    const struct sla_clock_state *fr = &s->c[SLA_FIRST_RESPONSE], *res = &s->c[SLA_RESOLUTION];
    /* a moment earlier than the one a tick was arranged for needs its own
     * check; a later one is covered by the tick of the earlier moment,
     * which hands on to the earliest moment left when it has run */
    bool arrange = s->next_due != SLA_NONE && (old_next_due == SLA_NONE || s->next_due < old_next_due);
    snprintf(id, sizeof(id), "%lld", ticket);
    snprintf(q, sizeof(q), "%lld", s->queue_id);
    snprintf(pol, sizeof(pol), "%lld", s->policy ? s->policy->id : 0);
    snprintf(ver, sizeof(ver), "%lld", config_version);
    snprintf(last, sizeof(last), "%lld", ledger_last);
    const char *params[] = {
        id, s->started ? q : NULL, s->policy ? pol : NULL, ver, last,
        open || s->next_due != SLA_NONE ? "true" : "false",
        ms_text(nd, sizeof(nd), s->next_due), ms_text(du, sizeof(du), due), breached ? "true" : "false",
        ms_text(st, sizeof(st), fr->started_at),
        s->started ? sla_mode_name(fr->mode) : NULL, fr->tracked ? ms_text(fru, sizeof(fru), fr->used) : NULL,
        ms_text(frd, sizeof(frd), fr->achieved_at),
        s->started ? sla_mode_name(res->mode) : NULL, res->tracked ? ms_text(ru, sizeof(ru), res->used) : NULL,
        ms_text(rd, sizeof(rd), res->achieved_at),
        s->started ? sla_mode_name(s->c[SLA_NEXT_RESPONSE].mode) : NULL,
        ms_text(ca, sizeof(ca), s->computed_at),
        arrange ? "true" : "false",
        oc.fr_met, ms_text(fro, sizeof(fro), oc.fr_missed_at), oc.res_met,
        ms_text(reso, sizeof(reso), oc.res_missed_at), oc.nr_json,
    };
    int rc = h->sql(db, "UPDATE sla_tickets SET queue_id = $2::bigint, policy_id = $3::bigint,"
                   " config_version = $4::bigint, ledger_last = $5::bigint, open = $6::boolean,"
                   " next_due = " SQL_MS_TO_TS("$7") ", due_at = " SQL_MS_TO_TS("$8") ","
                   " breached = $9::boolean, started_at = " SQL_MS_TO_TS("$10") ","
                   " fr_mode = $11, fr_used_ms = $12::bigint, fr_done_at = " SQL_MS_TO_TS("$13") ","
                   " res_mode = $14, res_used_ms = $15::bigint, res_done_at = " SQL_MS_TO_TS("$16") ","
                   " nr_mode = $17, computed_at = " SQL_MS_TO_TS("$18") ", last_error = NULL,"
                   " fr_met = $20::boolean, fr_missed_at = " SQL_MS_TO_TS("$21") ","
                   " res_met = $22::boolean, res_missed_at = " SQL_MS_TO_TS("$23") ", nr_outcomes = $24::jsonb"
                   " WHERE ticket_id = $1::bigint"
                   /* the shared lock, taken by this statement; the check below is
                    * a later statement, so it sees what a tick holding the lock
                    * exclusively committed */
                   " RETURNING CASE WHEN $19::boolean THEN"
                   "   (SELECT 1 FROM pg_advisory_xact_lock_shared(" SCHEDULE_LOCK ")) END",
               24, params, NULL, error_r);
    sla_outcome_cols_free(&oc);
    if (rc < 0)
        return -1;
    return arrange ? ensure_tick(p, db, s->next_due, NULL, error_r) : 0;
}

int sla_store_schedule(struct sla_plugin *p, struct atum_db *db, int64_t at, const char *tag,
                       const char **error_r)
{
    char key[96], payload[64];
    snprintf(key, sizeof(key), "sla.tick:%lld%s%s", (long long)at, tag ? ":" : "", tag ? tag : "");
    snprintf(payload, sizeof(payload), "{\"at\": %lld}", (long long)at);
    int64_t now = sla_now_ms(p);
    struct atum_job_spec spec = {
        .kind = "sla.tick",
        .payload = payload,
        .delay_seconds = at > now ? (double)(at - now) / 1000.0 : 0,
        .unique_key = key,
    };
    long long id = 0;
    return p->host->enqueue(db, &spec, &id, error_r);
}

int sla_store_schedule_earliest(struct sla_plugin *p, struct atum_db *db, const char *tag,
                                int64_t ran_for, const char **error_r)
{
    const struct atum_host *h = p->host;
    struct atum_rows *rows = NULL;
    int64_t now = sla_now_ms(p);
    char nows[24], upto[24];
    snprintf(nows, sizeof(nows), "%lld", (long long)now);
    /* a tick that ran before its moment is forgotten too: else its row
     * would stand for a tick still pending, and the moment be lost */
    snprintf(upto, sizeof(upto), "%lld", (long long)(ran_for != SLA_NONE && ran_for > now ? ran_for : now));
    const char *params[] = { upto };
    if (h->tx_begin(db, error_r) < 0)
        return -1;
    /* waits for every writer that counted on a pending tick; the minimum
     * below is a later statement, so it sees what they wrote */
    if (h->sql(db, "SELECT pg_advisory_xact_lock(" SCHEDULE_LOCK ")", 0, NULL, NULL, error_r) < 0
        || h->sql(db, "DELETE FROM sla_schedule WHERE at <= " SQL_MS_TO_TS("$1"), 1, params, NULL, error_r) < 0
        || h->sql(db, "SELECT " SQL_TS_TO_MS("min(next_due)") " FROM sla_tickets WHERE next_due IS NOT NULL",
                  0, NULL, &rows, error_r) < 0)
        goto fail;
    const char *v = h->rows_value(rows, 0, 0);
    int64_t at = v ? atoll(v) : SLA_NONE;
    h->rows_free(&rows);
    if (at != SLA_NONE) {
        if (at <= now)
            at = now + 1000;             /* held by another tick right now: look again in a second */
        if (ensure_tick(p, db, at, tag, error_r) < 0)
            goto fail;
    }
    return h->tx_commit(db, error_r);
fail:
    h->rows_free(&rows);
    h->tx_rollback(db);
    return -1;
}
