/* sla/sla_recompute.c -- the sla.recompute job: after an edit of policies
 * or calendars, every open ticket's state is computed again from its
 * ledger under the new configuration, in batches:
 *
 *   one SELECT of the next batch of stale rows (open, config_version
 *   below the current one), one SELECT of their ledgers, the engine in
 *   memory, one UPDATE ... FROM unnest(arrays) that writes them all --
 *   and records the policy changes in the ledger in the same statement.
 *
 * A row a hook changed meanwhile (ledger_last moved) is left alone: the
 * hook computed it with the newest configuration it saw, and a row still
 * stale after a pass is taken again in the next (at most three).  At the
 * end one tick is scheduled for the earliest moment of all.
 * See sla-private.h. */
#include "sla-private.h"
#include "render.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A PostgreSQL array literal being built: "{1,NULL,3}". */
struct arr {
    char *s;
    size_t len, cap;
    int n;
    bool closed;
};

static void arr_reserve(struct arr *a, size_t more)
{
    if (a->len + more < a->cap)
        return;
    size_t cap = a->cap ? a->cap * 2 : 4096;
    while (cap <= a->len + more)
        cap *= 2;
    char *s = realloc(a->s, cap);
    if (s == NULL)
        abort();                         /* a small allocation: out of memory is fatal (STYLE 2) */
    a->s = s;
    a->cap = cap;
}

static void arr_add(struct arr *a, const char *v)
{
    /* numbers, booleans and mode names only: nothing needs quoting */
    size_t l = v ? strlen(v) : 4;
    arr_reserve(a, l + 2);
    a->s[a->len++] = a->n++ ? ',' : '{';
    memcpy(a->s + a->len, v ? v : "NULL", l);
    a->len += l;
    a->s[a->len] = '\0';
}

/* A JSON text of numbers, booleans, null, brackets and commas (the
 * outcomes of next response): quoted for the array literal, nothing in it
 * needs escaping. */
static void arr_add_quoted(struct arr *a, const char *v)
{
    if (v == NULL) {
        arr_add(a, NULL);
        return;
    }
    size_t l = strlen(v);
    arr_reserve(a, l + 4);
    a->s[a->len++] = a->n++ ? ',' : '{';
    a->s[a->len++] = '"';
    memcpy(a->s + a->len, v, l);
    a->len += l;
    a->s[a->len++] = '"';
    a->s[a->len] = '\0';
}

static const char *arr_text(struct arr *a)
{
    if (a->n == 0)
        return "{}";
    if (!a->closed) {
        arr_reserve(a, 2);
        a->s[a->len++] = '}';
        a->s[a->len] = '\0';
        a->closed = true;
    }
    return a->s;
}

static void arr_int(struct arr *a, long long v, bool null)
{
    char b[24];
    snprintf(b, sizeof(b), "%lld", v);
    arr_add(a, null ? NULL : b);
}

enum { A_ID, A_LAST, A_QUEUE, A_POLICY, A_OPEN, A_NEXT, A_DUE, A_BREACHED, A_START, A_FRM, A_FRU,
       A_FRD, A_RESM, A_RESU, A_RESD, A_NRM, A_CALC, A_POLFROM, A_FRO, A_FROAT, A_RESO, A_RESOAT,
       A_NRO, A_NCOLS };

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

static int add_state(struct arr *a, long long ticket, long long last, long long old_policy,
                     const struct sla_state *s)
{
    struct sla_outcome_cols oc;
    if (sla_outcome_cols(s, &oc) < 0)
        return -1;
    bool breached;
    int64_t due = earliest_due(s, &breached);
    bool open = s->started && s->status != SLA_ST_SOLVED && s->status != SLA_ST_CLOSED;
    const struct sla_clock_state *fr = &s->c[SLA_FIRST_RESPONSE], *res = &s->c[SLA_RESOLUTION];
    arr_int(&a[A_ID], ticket, false);
    arr_int(&a[A_LAST], last, false);
    arr_int(&a[A_QUEUE], s->queue_id, !s->started);
    arr_int(&a[A_POLICY], s->policy ? s->policy->id : 0, s->policy == NULL);
    arr_add(&a[A_OPEN], open || s->next_due != SLA_NONE ? "true" : "false");
    arr_int(&a[A_NEXT], s->next_due, s->next_due == SLA_NONE);
    arr_int(&a[A_DUE], due, due == SLA_NONE);
    arr_add(&a[A_BREACHED], breached ? "true" : "false");
    arr_int(&a[A_START], fr->started_at, fr->started_at == SLA_NONE);
    arr_add(&a[A_FRM], s->started ? sla_mode_name(fr->mode) : NULL);
    arr_int(&a[A_FRU], fr->used, !fr->tracked);
    arr_int(&a[A_FRD], fr->achieved_at, fr->achieved_at == SLA_NONE);
    arr_add(&a[A_RESM], s->started ? sla_mode_name(res->mode) : NULL);
    arr_int(&a[A_RESU], res->used, !res->tracked);
    arr_int(&a[A_RESD], res->achieved_at, res->achieved_at == SLA_NONE);
    arr_add(&a[A_NRM], s->started ? sla_mode_name(s->c[SLA_NEXT_RESPONSE].mode) : NULL);
    arr_int(&a[A_CALC], s->computed_at, !s->started);
    arr_int(&a[A_POLFROM], old_policy, old_policy == 0);
    arr_add(&a[A_FRO], oc.fr_met);
    arr_int(&a[A_FROAT], oc.fr_missed_at, oc.fr_missed_at == SLA_NONE);
    arr_add(&a[A_RESO], oc.res_met);
    arr_int(&a[A_RESOAT], oc.res_missed_at, oc.res_missed_at == SLA_NONE);
    arr_add_quoted(&a[A_NRO], oc.nr_json);
    sla_outcome_cols_free(&oc);
    return 0;
}

/* One batch after `after` (ticket ids); *last_r the highest id seen, *n_r
 * how many rows were stale. */
static int batch(struct sla_plugin *p, struct atum_db *db, struct sla_snapshot *snap, long long after,
                 int64_t now, long long *last_r, int *n_r, int *written_r, const char **error_r)
{
    const struct atum_host *h = p->host;
    char ver[24], aft[24], lim[16];
    snprintf(ver, sizeof(ver), "%lld", snap->version);
    snprintf(aft, sizeof(aft), "%lld", after);
    snprintf(lim, sizeof(lim), "%d", p->recompute_batch);
    const char *p1[] = { ver, aft, lim };
    struct atum_rows *rows = NULL, *lrows = NULL;
    struct arr ids = { 0 }, a[A_NCOLS];
    memset(a, 0, sizeof(a));
    int ret = -1;
    *n_r = 0;
    if (h->sql(db, "SELECT ticket_id, ledger_last, coalesce(policy_id, 0) FROM sla_tickets"
                   " WHERE open AND config_version < $1::bigint AND ticket_id > $2::bigint"
                   " ORDER BY ticket_id LIMIT $3::int",
               3, p1, &rows, error_r) < 0)
        goto out;
    int n = h->rows_count(rows);
    *n_r = n;
    if (n == 0) {
        ret = 0;
        goto out;
    }
    for (int i = 0; i < n; i++)
        arr_add(&ids, h->rows_value(rows, i, 0));
    /* the batch's id range makes both statements below index range scans;
     * with = ANY alone PostgreSQL scans the whole ledger for each batch */
    const char *lo = h->rows_value(rows, 0, 0), *hi = h->rows_value(rows, n - 1, 0);
    const char *p2[] = { arr_text(&ids), lo, hi };
    if (h->sql(db, "SELECT ticket_id, id, " SQL_TS_TO_MS("at") ", kind, status, queue_id, priority, clock,"
                   " round, detail::text FROM sla_ledger WHERE ticket_id BETWEEN $2::bigint AND $3::bigint"
                   " AND ticket_id = ANY($1::bigint[]) AND kind <> 'policy' ORDER BY ticket_id, id",
               3, p2, &lrows, error_r) < 0)
        goto out;
    int lr = 0;
    for (int i = 0; i < n; i++) {
        long long ticket = atoll(h->rows_value(rows, i, 0));
        struct sla_ledger l;
        memset(&l, 0, sizeof(l));
        /* ledger rows of tickets without a row here (none) are skipped */
        while (lr < h->rows_count(lrows) && atoll(h->rows_value(lrows, lr, 0)) < ticket)
            lr++;
        sla_ledger_from_rows(h, lrows, &lr, 1, 0, ticket, &l);
        struct sla_state st;
        if (sla_compute(&snap->rules, l.ev, l.n, now, false, &st) < 0) {
            sla_ledger_free(&l);
            *error_r = "out of memory";
            goto out;
        }
        int rc = add_state(a, ticket, atoll(h->rows_value(rows, i, 1)), atoll(h->rows_value(rows, i, 2)), &st);
        sla_state_clear(&st);
        sla_ledger_free(&l);
        if (rc < 0) {
            *error_r = "out of memory";
            goto out;
        }
    }
    *last_r = atoll(h->rows_value(rows, n - 1, 0));

    char nows[24];
    snprintf(nows, sizeof(nows), "%lld", (long long)now);
    const char *p3[A_NCOLS + 4];
    for (int k = 0; k < A_NCOLS; k++)
        p3[k] = arr_text(&a[k]);
    p3[A_NCOLS] = ver;
    p3[A_NCOLS + 1] = nows;
    p3[A_NCOLS + 2] = lo;
    p3[A_NCOLS + 3] = hi;
    h->rows_free(&lrows);
    if (h->sql(db,
               "WITH u AS (SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::bigint[],"
               "   $5::boolean[], $6::bigint[], $7::bigint[], $8::boolean[], $9::bigint[], $10::text[],"
               "   $11::bigint[], $12::bigint[], $13::text[], $14::bigint[], $15::bigint[], $16::text[],"
               "   $17::bigint[], $18::bigint[], $19::boolean[], $20::bigint[], $21::boolean[], $22::bigint[],"
               "   $23::text[])"
               "   AS u(ticket_id, ledger_last, queue_id, policy_id, open, next_due, due_at, breached,"
               "        started_at, fr_mode, fr_used_ms, fr_done_at, res_mode, res_used_ms, res_done_at,"
               "        nr_mode, computed_at, policy_from, fr_met, fr_missed_at, res_met,"
               "        res_missed_at, nr_outcomes)),"
               " upd AS (UPDATE sla_tickets t SET queue_id = u.queue_id, policy_id = u.policy_id,"
               "   config_version = $24::bigint, open = u.open,"
               "   next_due = " SQL_MS_TO_TS("u.next_due") ", due_at = " SQL_MS_TO_TS("u.due_at") ","
               "   breached = u.breached, started_at = " SQL_MS_TO_TS("u.started_at") ","
               "   fr_mode = u.fr_mode, fr_used_ms = u.fr_used_ms, fr_done_at = " SQL_MS_TO_TS("u.fr_done_at") ","
               "   res_mode = u.res_mode, res_used_ms = u.res_used_ms,"
               "   res_done_at = " SQL_MS_TO_TS("u.res_done_at") ", nr_mode = u.nr_mode,"
               "   computed_at = " SQL_MS_TO_TS("u.computed_at") ", last_error = NULL,"
               "   fr_met = u.fr_met, fr_missed_at = " SQL_MS_TO_TS("u.fr_missed_at") ","
               "   res_met = u.res_met, res_missed_at = " SQL_MS_TO_TS("u.res_missed_at") ","
               "   nr_outcomes = u.nr_outcomes::jsonb"
               "   FROM u WHERE t.ticket_id = u.ticket_id AND t.ledger_last = u.ledger_last"
               "     AND t.config_version < $24::bigint AND t.ticket_id BETWEEN $26::bigint AND $27::bigint"
               "   RETURNING t.ticket_id, u.policy_from, u.policy_id),"
               " pol AS (INSERT INTO sla_ledger (ticket_id, at, kind, detail)"
               "   SELECT upd.ticket_id, " SQL_MS_TO_TS("$25") ", 'policy',"
               "          jsonb_build_object('from', (SELECT jsonb_build_object('id', id, 'name', name)"
               "                                      FROM sla_policies WHERE id = upd.policy_from),"
               "                             'to', (SELECT jsonb_build_object('id', id, 'name', name)"
               "                                    FROM sla_policies WHERE id = upd.policy_id),"
               "                             'reason', 'policies or calendars were edited')"
               "     FROM upd WHERE upd.policy_from IS DISTINCT FROM upd.policy_id RETURNING 1)"
               " SELECT (SELECT count(*) FROM upd), (SELECT count(*) FROM pol)",
               A_NCOLS + 4, p3, &lrows, error_r) < 0)
        goto out;
    *written_r += atoi(h->rows_value(lrows, 0, 0) ? h->rows_value(lrows, 0, 0) : "0");
    ret = 0;
out:
    h->rows_free(&rows);
    h->rows_free(&lrows);
    free(ids.s);
    for (int k = 0; k < A_NCOLS; k++)
        free(a[k].s);
    return ret;
}

int sla_job_recompute(void *state, struct atum_job *job)
{
    struct sla_plugin *p = state;
    const struct atum_host *h = p->host;
    const char *e = NULL;
    struct sla_snapshot *snap = NULL;
    if (sla_snapshot_get(p, job->db, -1, &snap, &e) < 0)
        return h->job_error(job, "configuration: %s", e);
    int64_t now = sla_now_ms(p);
    int written = 0, batches = 0;
    for (int pass = 0; pass < 3; pass++) {
        long long after = 0;
        int n = 0, seen = 0;
        do {
            if (batch(p, job->db, snap, after, now, &after, &n, &written, &e) < 0) {
                sla_snapshot_put(p, snap);
                return h->job_error(job, "recompute: %s", e);
            }
            seen += n;
            if (++batches % 10 == 0 && h->job_extend_lease(job, 300, &e) < 0) {
                sla_snapshot_put(p, snap);
                return h->job_error(job, "lease: %s", e);
            }
        } while (n == p->recompute_batch);
        if (seen == 0)
            break;
    }
    long long version = snap->version;
    sla_snapshot_put(p, snap);
    char tag[32];
    snprintf(tag, sizeof(tag), "recompute-%lld", job->id);
    if (sla_store_schedule_earliest(p, job->db, tag, SLA_NONE, &e) < 0)
        return h->job_error(job, "scheduling: %s", e);
    h->log(ATUM_LOG_INFO, "recomputed %d tickets for configuration %lld", written, version);
    h->counter_add("atum_sla_recomputed_total", NULL, written);
    return ATUM_JOB_DONE;
}

int sla_request_recompute(struct sla_plugin *p, struct atum_db *db, long long version,
                          const char **error_r)
{
    char key[64], payload[64];
    snprintf(key, sizeof(key), "sla.recompute:%lld", version);
    snprintf(payload, sizeof(payload), "{\"version\": %lld}", version);
    struct atum_job_spec spec = { .kind = "sla.recompute", .payload = payload, .unique_key = key };
    long long id = 0;
    return p->host->enqueue(db, &spec, &id, error_r);
}
