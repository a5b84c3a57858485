/* sla/sla_tick.c -- the sla.tick job: the warnings and breaches owed now.
 *
 * Every change of a ticket's next escalation moment (sla_tickets.next_due)
 * schedules a tick for that moment (sla_store_save); a tick takes the
 * tickets whose moment has come, one transaction each (FOR UPDATE SKIP
 * LOCKED, so ticks of several atumd share the work), fires what is owed
 * -- a ledger entry, the policy's actions, the sla.warning / sla.breached
 * event -- and schedules the next tick for the earliest moment left.
 * Nothing ever scans all tickets: the due ones come from an index.
 *
 * A ticket that fails (its actions cannot even be recorded) is put back
 * a minute later with its error in sla_tickets.last_error, so one bad
 * ticket never stops the others.  See sla-private.h. */
#include "sla-private.h"
#include "civil.h"
#include "render.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SLA_RETRY_MS 60000

struct ticket_info {
    bool found;
    char subject[256], queue[128], priority[16], status[16];
    long long queue_id, merged_into;
    char assignee[330];
};

static int ticket_info(struct sla_plugin *p, struct atum_db *db, long long ticket,
                       struct ticket_info *t, const char **error_r)
{
    const struct atum_host *h = p->host;
    char id[24];
    snprintf(id, sizeof(id), "%lld", ticket);
    const char *params[] = { id };
    struct atum_rows *rows = NULL;
    memset(t, 0, sizeof(*t));
    if (h->sql(db, "SELECT t.subject, q.name, t.priority, t.status, t.queue_id, t.merged_into,"
                   " (SELECT u.email FROM users u WHERE u.id = t.assignee_id AND NOT u.disabled)"
                   " FROM tickets t JOIN queues q ON q.id = t.queue_id WHERE t.id = $1",
               1, params, &rows, error_r) < 0)
        return -1;
    if (h->rows_count(rows) == 1) {
        const char *v;
        t->found = true;
        snprintf(t->subject, sizeof(t->subject), "%s", (v = h->rows_value(rows, 0, 0)) ? v : "");
        snprintf(t->queue, sizeof(t->queue), "%s", (v = h->rows_value(rows, 0, 1)) ? v : "");
        snprintf(t->priority, sizeof(t->priority), "%s", (v = h->rows_value(rows, 0, 2)) ? v : "normal");
        snprintf(t->status, sizeof(t->status), "%s", (v = h->rows_value(rows, 0, 3)) ? v : "");
        t->queue_id = (v = h->rows_value(rows, 0, 4)) ? atoll(v) : 0;
        t->merged_into = (v = h->rows_value(rows, 0, 5)) ? atoll(v) : 0;
        snprintf(t->assignee, sizeof(t->assignee), "%s", (v = h->rows_value(rows, 0, 6)) ? v : "");
    }
    h->rows_free(&rows);
    return 0;
}

/* ---- words for people ------------------------------------------------------ */

static void duration_text(int64_t ms, char *buf, size_t n)
{
    long long min = (long long)(ms / 60000), hours = min / 60;
    if (hours > 0)
        snprintf(buf, n, "%lld h %02lld min", hours, min % 60);
    else
        snprintf(buf, n, "%lld min", min);
}

/* "2024-06-03 11:00 Europe/Berlin" (UTC without a calendar) */
static void local_text(const struct sla_calendar *cal, int64_t ms, char *buf, size_t n)
{
    if (ms == SLA_NONE) {
        snprintf(buf, n, "-");
        return;
    }
    int64_t s = civil_floor_div(ms, 1000);
    if (cal != NULL)
        s += tz_offset_at(cal->zone, s);
    int64_t days = civil_floor_div(s, CIVIL_DAY_S), sod = s - days * CIVIL_DAY_S, y;
    int m, d;
    civil_from_days(days, &y, &m, &d);
    snprintf(buf, n, "%04lld-%02d-%02d %02d:%02d %s", (long long)y, m, d, (int)(sod / 3600),
             (int)(sod / 60 % 60), cal ? tz_zone_name(cal->zone) : "UTC");
}

static const char *clock_words(int c)
{
    return c == SLA_FIRST_RESPONSE ? "first response" : c == SLA_NEXT_RESPONSE ? "next response"
                                                                                : "resolution";
}

/* ---- actions ----------------------------------------------------------------- */

struct firing_ctx {
    struct sla_plugin *p;
    struct atum_db *db;
    long long ticket;
    const struct ticket_info *t;
    const struct sla_policy *pol;
    const struct sla_calendar *cal;
    const struct sla_clock_state *cs;
    const struct sla_firing *f;
    json_t *actions;                     /* what was done, for the ledger */
    char sent[32][330];                  /* addresses already mailed for this firing */
    int nsent;
};

static int savepoint(struct firing_ctx *x, const char *sql)
{
    const char *e = NULL;
    return x->p->host->sql(x->db, sql, 0, NULL, NULL, &e);
}

static void notify_one(struct firing_ctx *x, const char *who, const char *to, const char *title,
                       const char *body)
{
    for (int i = 0; i < x->nsent; i++)
        if (strcmp(x->sent[i], to) == 0)
            return;                      /* one mail per person, whatever lists name them */
    if (x->nsent < 32)
        snprintf(x->sent[x->nsent++], sizeof(x->sent[0]), "%s", to);
    const char *e = NULL;
    bool ok = savepoint(x, "SAVEPOINT sla_action") == 0
              && x->p->host->mail_notice(x->db, x->ticket, to, title, body, &e) == 0;
    if (ok)
        savepoint(x, "RELEASE SAVEPOINT sla_action");
    else
        savepoint(x, "ROLLBACK TO SAVEPOINT sla_action");
    json_array_append_new(x->actions, json_pack("{s:s, s:s, s:b, s:s?}", "notify", who, "to", to, "ok", ok,
                                                "error", ok ? NULL : e));
}

static int notify(struct firing_ctx *x, enum sla_action_kind kind, const char *title, const char *body,
                  const char **error_r)
{
    const struct atum_host *h = x->p->host;
    const char *who = kind == SLA_NOTIFY_ASSIGNEE ? "assignee" : kind == SLA_NOTIFY_QUEUE ? "queue" : "managers";
    if (kind == SLA_NOTIFY_ASSIGNEE) {
        if (x->t->assignee[0] == '\0') {
            json_array_append_new(x->actions, json_pack("{s:s, s:b, s:s}", "notify", who, "ok", 0,
                                                        "error", "the ticket has no assignee"));
            return 0;
        }
        notify_one(x, who, x->t->assignee, title, body);
        return 0;
    }
    char q[24];
    snprintf(q, sizeof(q), "%lld", x->t->queue_id);
    const char *params[] = { q };
    struct atum_rows *rows = NULL;
    int rc = kind == SLA_NOTIFY_QUEUE
        ? h->sql(x->db, "SELECT u.email FROM queue_members m JOIN users u ON u.id = m.user_id"
                        " WHERE m.queue_id = $1 AND NOT u.disabled AND u.role <> 'customer' ORDER BY u.id",
                 1, params, &rows, error_r)
        : h->sql(x->db, "SELECT email FROM users WHERE role = 'manager' AND NOT disabled ORDER BY id",
                 0, NULL, &rows, error_r);
    if (rc < 0)
        return -1;
    int n = h->rows_count(rows);
    if (n == 0)
        json_array_append_new(x->actions, json_pack("{s:s, s:b, s:s}", "notify", who, "ok", 0, "error",
                                                    kind == SLA_NOTIFY_QUEUE ? "the queue has no agents"
                                                                             : "there are no managers"));
    for (int i = 0; i < n; i++)
        notify_one(x, who, h->rows_value(rows, i, 0), title, body);
    h->rows_free(&rows);
    return 0;
}

static void change_ticket(struct firing_ctx *x, const char *note)
{
    const struct sla_policy *pol = x->pol;
    int level = x->f->level;
    int cur = sla_priority_parse(x->t->priority), want = cur;
    long long queue = 0;
    for (int i = 0; i < pol->nactions[level]; i++) {
        const struct sla_action *a = &pol->actions[level][i];
        if (a->kind == SLA_SET_PRIORITY) {
            int to = a->priority == SLA_PRIORITY_RAISE ? (cur < SLA_PRIORITIES - 1 ? cur + 1 : cur) : a->priority;
            if (to > want)
                want = to;               /* only ever raised */
        } else if (a->kind == SLA_MOVE_QUEUE && a->queue_id != x->t->queue_id) {
            queue = a->queue_id;
        }
    }
    if (want == cur && queue == 0)
        return;
    struct atum_ticket_change ch = {
        .priority = want != cur ? sla_priority_name(want) : NULL,
        .queue_id = queue,
        .note = note,
    };
    const char *e = NULL;
    bool ok = savepoint(x, "SAVEPOINT sla_action") == 0
              && x->p->host->ticket_update(x->db, x->ticket, &ch, &e) == 0;
    savepoint(x, ok ? "RELEASE SAVEPOINT sla_action" : "ROLLBACK TO SAVEPOINT sla_action");
    json_t *a = json_pack("{s:b, s:s?}", "ok", ok, "error", ok ? NULL : e);
    if (ch.priority)
        json_object_set_new(a, "priority", json_pack("{s:s, s:s}", "from", x->t->priority, "to", ch.priority));
    if (queue)
        json_object_set_new(a, "queue_id", json_pack("{s:I, s:I}", "from", (json_int_t)x->t->queue_id,
                                                     "to", (json_int_t)queue));
    json_array_append_new(x->actions, a);
}

/* The warnings and breaches one ticket's transaction raised, counted for
 * /metrics once it has committed (a rolled-back one is fired again). */
struct sla_fired {
    int n[2][SLA_CLOCKS];                /* [enum sla_level][enum sla_clock] */
};

static void count_fired(const struct atum_host *h, const struct sla_fired *fired)
{
    for (int level = 0; level < 2; level++)
        for (int c = 0; c < SLA_CLOCKS; c++)
            if (fired->n[level][c] > 0) {
                char labels[48];
                snprintf(labels, sizeof(labels), "clock=\"%s\"", sla_clock_name(c));
                h->counter_add(level == SLA_BREACH ? "atum_sla_breaches_total" : "atum_sla_warnings_total",
                               labels, fired->n[level][c]);
            }
}

/* Fires one warning or breach: its actions (unless superseded), its
 * event, its ledger entry (appended to l too). */
static int fire(struct sla_plugin *p, struct atum_db *db, long long ticket, const struct ticket_info *t,
                const struct sla_state *st, const struct sla_rules *rules, const struct sla_firing *f,
                int64_t now, struct sla_ledger *l, struct sla_fired *fired, const char **error_r)
{
    const struct atum_host *h = p->host;
    const struct sla_policy *pol = st->policy;
    const struct sla_clock_state *cs = &st->c[f->clock];
    const struct sla_calendar *cal = pol ? sla_rules_calendar(rules, pol->calendar_id) : NULL;
    bool breach = f->level == SLA_BREACH;
    struct firing_ctx x = { p, db, ticket, t, pol, cal, cs, f, json_array(), {{0}}, 0 };
    int ret = -1;
    char target[32], used[32], due[64], title[512], body[2048];
    duration_text(cs->target, target, sizeof(target));
    duration_text(cs->used, used, sizeof(used));
    local_text(cal, breach ? cs->breached_at : cs->due_at, due, sizeof(due));
    snprintf(title, sizeof(title), breach ? "[SLA breach] Ticket #%lld: %s overdue"
                                          : "[SLA warning] Ticket #%lld: %s due %s",
             ticket, clock_words(f->clock), due);
    snprintf(body, sizeof(body),
             "Ticket #%lld \"%s\" (queue %s, priority %s, %s)\n"
             "Policy: %s\n"
             "%c%s target: %s of %s time%s%s%s\n"
             "Used so far: %s\n"
             "%s: %s\n",
             ticket, t->subject, t->queue, t->priority, t->status, pol ? pol->name : "-",
             clock_words(f->clock)[0] - 32, clock_words(f->clock) + 1, target,
             cs->measure == SLA_BUSINESS_TIME ? "business" : "calendar",
             cal ? " (calendar " : "", cal ? cal->name : "", cal ? ")" : "", used,
             breach ? "Was due" : "Due", due);

    if (!f->superseded && pol != NULL && t->found && t->merged_into == 0) {
        for (int i = 0; i < pol->nactions[f->level]; i++) {
            enum sla_action_kind k = pol->actions[f->level][i].kind;
            if (k <= SLA_NOTIFY_MANAGERS && notify(&x, k, title, body, error_r) < 0)
                goto out;
        }
        char note[600];
        snprintf(note, sizeof(note), "SLA %s: %s %s (policy %s, target %s, used %s).",
                 breach ? "breach" : "warning", clock_words(f->clock), breach ? "overdue" : "due soon",
                 pol->name, target, used);
        change_ticket(&x, note);
    } else if (!t->found || t->merged_into != 0) {
        json_array_append_new(x.actions, json_pack("{s:b, s:s}", "ok", 0, "error", !t->found
                                                   ? "the ticket is gone" : "the ticket was merged"));
    }
    json_t *ev = json_pack("{s:I, s:s, s:s, s:I, s:s?, s:I, s:I, s:o, s:s}",
                           "ticket_id", (json_int_t)ticket, "clock", sla_clock_name(f->clock),
                           "level", breach ? "breach" : "warning",
                           "policy_id", (json_int_t)(pol ? pol->id : 0), "policy", pol ? pol->name : NULL,
                           "target_seconds", (json_int_t)(cs->target / 1000),
                           "used_seconds", (json_int_t)(cs->used / 1000),
                           "due_at", sla_json_instant(breach ? cs->breached_at : cs->due_at),
                           "time", cs->measure == SLA_BUSINESS_TIME ? "business" : "calendar");
    if (f->clock == SLA_NEXT_RESPONSE)
        json_object_set_new(ev, "round", json_integer(f->round));
    if (!f->superseded) {
        char *text = json_dumps(ev, JSON_COMPACT);
        int rc = text ? h->emit(db, breach ? "sla.breached" : "sla.warning", text, error_r) : -1;
        free(text);
        if (rc < 0) {
            json_decref(ev);
            goto out;
        }
    }
    json_object_set_new(ev, "superseded", json_boolean(f->superseded));
    json_object_set(ev, "actions", x.actions);
    json_object_del(ev, "ticket_id");
    json_object_set_new(ev, "owed_at", sla_json_instant(f->at));
    char *detail = json_dumps(ev, JSON_COMPACT);
    struct sla_event e = { .at = now, .kind = breach ? SLA_EV_BREACH : SLA_EV_WARNING, .status = -1,
                           .priority = -1, .clock = f->clock, .round = f->round };
    long long id = 0;
    int rc = detail ? sla_store_append(p, db, ticket, &e, detail, &id, error_r) : -1;
    free(detail);
    if (rc == 0) {
        e.id = id;
        rc = sla_ledger_push(l, &e, ev);
        ev = NULL;                       /* the ledger owns it now */
    }
    json_decref(ev);
    if (rc < 0)
        goto out;
    if (!f->superseded)
        fired->n[f->level][f->clock]++;
    ret = 0;
out:
    json_decref(x.actions);
    return ret;
}

/* ---- one due ticket --------------------------------------------------------- */

static int process(struct sla_plugin *p, struct atum_db *db, long long ticket,
                   const struct sla_ticket_row *row, int64_t now, struct sla_fired *fired,
                   const char **error_r)
{
    struct sla_ledger l;
    struct sla_snapshot *snap = NULL;
    struct sla_state st;
    memset(&l, 0, sizeof(l));
    memset(&st, 0, sizeof(st));
    int ret = -1;
    if (sla_store_read(p, db, ticket, &l, error_r) < 0
        || sla_snapshot_get(p, db, row->config_version, &snap, error_r) < 0)
        goto out;
    /* compute on a copy: sla_compute sorts, and the ledger grows below */
    struct sla_event *copy = malloc((size_t)(l.n ? l.n : 1) * sizeof(*copy));
    if (copy == NULL) {
        *error_r = "out of memory";
        goto out;
    }
    memcpy(copy, l.ev, (size_t)l.n * sizeof(*copy));
    int rc = sla_compute(&snap->rules, copy, l.n, now, false, &st);
    free(copy);
    if (rc < 0) {
        *error_r = "out of memory";
        goto out;
    }
    struct sla_firing f[2 * SLA_CLOCKS];
    int n = sla_firings(&st, now, f);
    struct ticket_info t;
    if (n > 0 && ticket_info(p, db, ticket, &t, error_r) < 0)
        goto out;
    for (int i = 0; i < n; i++)
        if (fire(p, db, ticket, &t, &st, &snap->rules, &f[i], now, &l, fired, error_r) < 0)
            goto out;
    if (sla_recompute_locked(p, db, ticket, row, &l, now, now, error_r) < 0)
        goto out;
    ret = 0;
out:
    sla_state_clear(&st);
    sla_snapshot_put(p, snap);
    sla_ledger_free(&l);
    return ret;
}

/* 1: a ticket was handled (or put back), 0: none is due, -1: the
 * database failed. */
static int tick_one(struct sla_plugin *p, struct atum_db *db, int64_t now, const char **error_r)
{
    const struct atum_host *h = p->host;
    char nows[24];
    snprintf(nows, sizeof(nows), "%lld", (long long)now);
    const char *params[] = { nows };
    struct atum_rows *rows = NULL;
    if (h->tx_begin(db, error_r) < 0)
        return -1;
    if (h->sql(db, "SELECT ticket_id, ledger_last, " SQL_TS_TO_MS("next_due") ", policy_id,"
                   " (SELECT version FROM sla_config) FROM sla_tickets"
                   " WHERE next_due <= " SQL_MS_TO_TS("$1") " ORDER BY next_due LIMIT 1 FOR UPDATE SKIP LOCKED",
               1, params, &rows, error_r) < 0) {
        h->tx_rollback(db);
        return -1;
    }
    if (h->rows_count(rows) == 0) {
        h->rows_free(&rows);
        h->tx_rollback(db);
        return 0;
    }
    const char *v;
    long long ticket = atoll(h->rows_value(rows, 0, 0));
    struct sla_ticket_row row = {
        .ledger_last = atoll(h->rows_value(rows, 0, 1)),
        .next_due = (v = h->rows_value(rows, 0, 2)) ? atoll(v) : SLA_NONE,
        .policy_id = (v = h->rows_value(rows, 0, 3)) ? atoll(v) : 0,
        .config_version = (v = h->rows_value(rows, 0, 4)) ? atoll(v) : 0,
    };
    h->rows_free(&rows);
    const char *e = NULL;
    struct sla_fired fired;
    memset(&fired, 0, sizeof(fired));
    if (process(p, db, ticket, &row, now, &fired, &e) == 0 && h->tx_commit(db, &e) == 0) {
        count_fired(h, &fired);
        return 1;
    }
    h->tx_rollback(db);
    /* put it back for later, with its reason: one ticket never blocks the rest */
    h->log(ATUM_LOG_ERROR, "ticket %lld: escalation failed, retried in a minute: %s", ticket, e);
    char id[24], again[24];
    snprintf(id, sizeof(id), "%lld", ticket);
    snprintf(again, sizeof(again), "%lld", (long long)(now + SLA_RETRY_MS));
    const char *bp[] = { id, again, e ? e : "unknown error" };
    /* the tick's hand-over to the earliest moment covers this one */
    if (h->sql(db, "UPDATE sla_tickets SET next_due = " SQL_MS_TO_TS("$2") ", last_error = $3"
                   " WHERE ticket_id = $1", 3, bp, NULL, error_r) < 0)
        return -1;
    return 1;
}

int sla_job_tick(void *state, struct atum_job *job)
{
    struct sla_plugin *p = state;
    const struct atum_host *h = p->host;
    const char *e = NULL;
    int64_t now = sla_now_ms(p);
    int done = 0, rc = 0;
    while (done < p->tick_batch && (rc = tick_one(p, job->db, now, &e)) == 1)
        done++;
    if (rc < 0)
        return h->job_error(job, "tick: %s", e);
    char tag[32];
    snprintf(tag, sizeof(tag), "after-%lld", job->id);
    /* the earliest moment left (more due ones now, if the batch was full) */
    /* the moment this tick was scheduled for ({"at": ms}) */
    int64_t ran_for = SLA_NONE;
    json_t *pl = job->payload ? json_loads(job->payload, 0, NULL) : NULL;
    if (json_is_integer(json_object_get(pl, "at")))
        ran_for = json_integer_value(json_object_get(pl, "at"));
    json_decref(pl);
    if (sla_store_schedule_earliest(p, job->db, tag, ran_for, &e) < 0)
        return h->job_error(job, "scheduling the next tick: %s", e);
    if (done > 0)
        h->log(ATUM_LOG_DEBUG, "tick: %d tickets", done);
    return ATUM_JOB_DONE;
}
