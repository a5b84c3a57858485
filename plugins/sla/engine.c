/* sla/engine.c -- see engine.h. */
#include "engine.h"

#include <stdlib.h>
#include <string.h>

static const char *const kind_names[] = { "start", "change", "customer", "response", "policy",
                                          "warning", "breach" };
static const char *const mode_names[] = { "none", "running", "paused", "stopped", "achieved" };

const char *sla_event_kind_name(enum sla_event_kind k) { return kind_names[k]; }
const char *sla_mode_name(enum sla_mode m) { return mode_names[m]; }

int sla_event_kind_parse(const char *s)
{
    for (int i = 0; s && i < (int)(sizeof(kind_names) / sizeof(kind_names[0])); i++)
        if (strcmp(kind_names[i], s) == 0)
            return i;
    return -1;
}

const struct sla_policy *sla_rules_match(const struct sla_rules *r, long long queue_id, int priority)
{
    for (int i = 0; i < r->npolicies; i++)
        if (policy_matches(&r->policies[i], queue_id, priority))
            return &r->policies[i];
    return NULL;
}

const struct sla_calendar *sla_rules_calendar(const struct sla_rules *r, long long id)
{
    for (int i = 0; id && i < r->ncalendars; i++)
        if (r->calendars[i]->id == id)
            return r->calendars[i];
    return NULL;
}

enum phase { PHASE_IDLE, PHASE_ACTIVE, PHASE_DONE };

struct walk {
    const struct sla_rules *rules;
    struct sla_state *s;
    enum phase phase[SLA_CLOCKS];
    bool want_effects;
    int cap;
    int rounds_cap;
    int oom;
};

static bool stopped_status(int st)
{
    return st == SLA_ST_SOLVED || st == SLA_ST_CLOSED;
}

/* The calendar a clock's business time is counted in, or NULL for
 * calendar time (also when the policy's calendar is gone). */
static const struct bcal *clock_bcal(const struct walk *w, int c)
{
    const struct sla_policy *p = w->s->policy;
    if (p == NULL || p->target[c].measure != SLA_BUSINESS_TIME)
        return NULL;
    const struct sla_calendar *cal = sla_rules_calendar(w->rules, p->calendar_id);
    return cal ? cal->bcal : NULL;
}

static int64_t measure(const struct walk *w, int c, int64_t a, int64_t b)
{
    const struct bcal *bc = clock_bcal(w, c);
    return bc ? bcal_measure(bc, a, b) : (b > a ? b - a : 0);
}

static int64_t add(const struct walk *w, int c, int64_t a, int64_t d)
{
    const struct bcal *bc = clock_bcal(w, c);
    if (bc == NULL)
        return a + d;
    int64_t t = bcal_add(bc, a, d);
    return t == BCAL_NEVER ? SLA_NONE : t;
}

static enum sla_mode mode_of(const struct walk *w, int c)
{
    const struct sla_policy *p = w->s->policy;
    switch (w->phase[c]) {
    case PHASE_IDLE:
        return SLA_MODE_NONE;
    case PHASE_DONE:
        return SLA_MODE_ACHIEVED;
    case PHASE_ACTIVE:
        break;
    }
    if (stopped_status(w->s->status))
        return SLA_MODE_STOPPED;
    if (p != NULL && p->target[c].set && (p->target[c].pause_mask & (1u << w->s->status)))
        return SLA_MODE_PAUSED;
    return SLA_MODE_RUNNING;
}

static int64_t warn_threshold(const struct sla_policy *p, int c)
{
    return p->warn_percent > 0 ? p->target[c].ms * p->warn_percent / 100 : -1;
}

/* Time passes from a to b with nothing happening. */
static void advance(struct walk *w, int64_t a, int64_t b)
{
    if (b <= a)
        return;
    const struct sla_policy *p = w->s->policy;
    for (int c = 0; c < SLA_CLOCKS; c++) {
        struct sla_clock_state *cs = &w->s->c[c];
        enum sla_mode m = mode_of(w, c);
        if (p == NULL || !p->target[c].set || (m != SLA_MODE_RUNNING && m != SLA_MODE_PAUSED))
            continue;
        int64_t d = measure(w, c, a, b);
        if (m == SLA_MODE_PAUSED) {
            cs->paused += d;
            continue;
        }
        int64_t t = p->target[c].ms, wt = warn_threshold(p, c);
        if (!cs->breached && cs->used < t && cs->used + d >= t) {
            cs->breached = true;
            cs->breached_at = add(w, c, a, t - cs->used);
        }
        if (!cs->warned && wt > 0 && cs->used < wt && cs->used + d >= wt) {
            cs->warned = true;
            cs->warn_at = add(w, c, a, wt - cs->used);
        }
        cs->used += d;
    }
}

/* A new policy applies from `at`: a target it sets that is already used
 * up is breached (and warned) at that moment. */
static void policy_applies(struct walk *w, int64_t at)
{
    const struct sla_policy *p = w->s->policy;
    for (int c = 0; p != NULL && c < SLA_CLOCKS; c++) {
        struct sla_clock_state *cs = &w->s->c[c];
        if (!p->target[c].set || w->phase[c] != PHASE_ACTIVE)
            continue;
        int64_t wt = warn_threshold(p, c);
        if (!cs->breached && cs->used >= p->target[c].ms) {
            cs->breached = true;
            cs->breached_at = at;
        }
        if (!cs->warned && wt > 0 && cs->used >= wt) {
            cs->warned = true;
            cs->warn_at = at;
        }
    }
}

static void effect(struct walk *w, int ev, int clock, enum sla_mode from, enum sla_mode to,
                   long long pf, long long pt)
{
    struct sla_state *s = w->s;
    if (!w->want_effects || w->oom)
        return;
    if (s->neffects == w->cap) {
        int cap = w->cap ? w->cap * 2 : 16;
        struct sla_effect *v = realloc(s->effects, (size_t)cap * sizeof(*v));
        if (v == NULL) {
            w->oom = 1;
            return;
        }
        s->effects = v;
        w->cap = cap;
    }
    s->effects[s->neffects++] = (struct sla_effect){ ev, clock, from, to, pf, pt };
}

/* Clock c is achieved at `at` (a staff reply, solved or closed): whether
 * a target applied then decides whether it counts as met. */
static void achieved(struct walk *w, int c, int64_t at)
{
    struct sla_state *s = w->s;
    struct sla_clock_state *cs = &s->c[c];
    const struct sla_policy *p = s->policy;
    w->phase[c] = PHASE_DONE;
    cs->achieved_at = at;
    cs->achieved_tracked = p != NULL && p->target[c].set;
    if (c != SLA_NEXT_RESPONSE || (!cs->achieved_tracked && !cs->breached) || w->oom)
        return;
    /* an answered next-response round keeps its outcome: the next round
     * starts from nothing */
    if (s->nrounds == w->rounds_cap) {
        int cap = w->rounds_cap ? w->rounds_cap * 2 : 4;
        struct sla_outcome *v = realloc(s->rounds, (size_t)cap * sizeof(*v));
        if (v == NULL) {
            w->oom = 1;
            return;
        }
        s->rounds = v;
        w->rounds_cap = cap;
    }
    s->rounds[s->nrounds++] = (struct sla_outcome){
        cs->round, cs->breached ? SLA_MISSED : SLA_MET, cs->breached ? cs->breached_at : at };
}

static void new_round(struct sla_clock_state *cs, int64_t at)
{
    /* the round that ends counts in rounds_breached; the state is the new one's */
    int round = cs->round + 1, breached = cs->rounds_breached + (cs->breached ? 1 : 0);
    memset(cs, 0, sizeof(*cs));
    cs->round = round;
    cs->rounds_breached = breached;
    cs->started_at = at;
    cs->achieved_at = cs->due_at = cs->warn_at = cs->breached_at = SLA_NONE;
}

static void apply(struct walk *w, const struct sla_event *e)
{
    struct sla_state *s = w->s;
    const struct sla_policy *before = s->policy;
    bool rematch = false;
    switch (e->kind) {
    case SLA_EV_START:
        s->started = true;
        s->status = e->status >= 0 ? e->status : SLA_ST_NEW;
        s->queue_id = e->queue_id;
        s->priority = e->priority >= 0 ? e->priority : 1;
        rematch = true;
        w->phase[SLA_FIRST_RESPONSE] = w->phase[SLA_RESOLUTION] = PHASE_ACTIVE;
        s->c[SLA_FIRST_RESPONSE].started_at = s->c[SLA_RESOLUTION].started_at = e->at;
        if (stopped_status(s->status))
            achieved(w, SLA_RESOLUTION, e->at);
        break;
    case SLA_EV_CHANGE:
        if (e->status >= 0 && e->status != s->status) {
            s->status = e->status;
            if (stopped_status(s->status) && w->phase[SLA_RESOLUTION] == PHASE_ACTIVE) {
                achieved(w, SLA_RESOLUTION, e->at);
            } else if (!stopped_status(s->status) && w->phase[SLA_RESOLUTION] == PHASE_DONE) {
                w->phase[SLA_RESOLUTION] = PHASE_ACTIVE;      /* reopened: the time used stays */
                s->c[SLA_RESOLUTION].achieved_at = SLA_NONE;
            }
        }
        if (e->queue_id > 0 && e->queue_id != s->queue_id) {
            s->queue_id = e->queue_id;
            rematch = true;
        }
        if (e->priority >= 0 && e->priority != s->priority) {
            s->priority = e->priority;
            rematch = true;
        }
        break;
    case SLA_EV_RESPONSE:
        for (int c = SLA_FIRST_RESPONSE; c <= SLA_NEXT_RESPONSE; c++)
            if (w->phase[c] == PHASE_ACTIVE)
                achieved(w, c, e->at);
        break;
    case SLA_EV_CUSTOMER:
        if (w->phase[SLA_FIRST_RESPONSE] == PHASE_DONE && w->phase[SLA_NEXT_RESPONSE] != PHASE_ACTIVE) {
            new_round(&s->c[SLA_NEXT_RESPONSE], e->at);
            w->phase[SLA_NEXT_RESPONSE] = PHASE_ACTIVE;
        }
        break;
    case SLA_EV_WARNING:
    case SLA_EV_BREACH:
        if (e->clock >= 0 && e->clock < SLA_CLOCKS
            && (e->clock != SLA_NEXT_RESPONSE || e->round == s->c[e->clock].round)) {
            if (e->kind == SLA_EV_WARNING)
                s->c[e->clock].warning_fired = true;
            else
                s->c[e->clock].breach_fired = true;
        }
        break;
    case SLA_EV_POLICY:
        break;
    }
    if (rematch) {
        s->policy = sla_rules_match(w->rules, s->queue_id, s->priority);
        if (s->policy != before || e->kind == SLA_EV_START)
            policy_applies(w, e->at);
    }
}

static int event_rank(enum sla_event_kind k)
{
    return (int)k;   /* START first; a record of a firing after what caused it */
}

static int cmp_events(const void *a, const void *b)
{
    const struct sla_event *x = a, *y = b;
    if (x->at != y->at)
        return x->at < y->at ? -1 : 1;
    if (event_rank(x->kind) != event_rank(y->kind))
        return event_rank(x->kind) - event_rank(y->kind);
    return x->id < y->id ? -1 : x->id > y->id;
}

int sla_compute(const struct sla_rules *rules, struct sla_event *ev, int n, int64_t now,
                bool want_effects, struct sla_state *s)
{
    memset(s, 0, sizeof(*s));
    s->status = SLA_ST_NEW;
    s->priority = 1;
    s->next_due = SLA_NONE;
    for (int c = 0; c < SLA_CLOCKS; c++)
        s->c[c].started_at = s->c[c].achieved_at = s->c[c].due_at = s->c[c].warn_at =
            s->c[c].breached_at = SLA_NONE;
    struct walk w = { .rules = rules, .s = s, .want_effects = want_effects };
    qsort(ev, (size_t)n, sizeof(*ev), cmp_events);
    int64_t t = SLA_NONE;
    for (int i = 0; i < n; i++) {
        if (!s->started && ev[i].kind != SLA_EV_START)
            continue;            /* nothing counts before the ticket started */
        if (s->started)
            advance(&w, t, ev[i].at);
        enum sla_mode before[SLA_CLOCKS];
        for (int c = 0; c < SLA_CLOCKS; c++)
            before[c] = mode_of(&w, c);
        const struct sla_policy *pb = s->policy;
        int round = s->c[SLA_NEXT_RESPONSE].round;
        apply(&w, &ev[i]);
        if (s->policy != pb || ev[i].kind == SLA_EV_START)
            effect(&w, i, -1, SLA_MODE_NONE, SLA_MODE_NONE, pb ? pb->id : 0,
                   s->policy ? s->policy->id : 0);
        for (int c = 0; c < SLA_CLOCKS; c++) {
            enum sla_mode after = mode_of(&w, c);
            if (after != before[c] || (c == SLA_NEXT_RESPONSE && s->c[c].round != round))
                effect(&w, i, c, before[c], after, 0, 0);
        }
        t = ev[i].at;
    }
    if (!s->started)
        return w.oom ? -1 : 0;
    if (now > t) {
        advance(&w, t, now);
        t = now;
    }
    s->computed_at = t;

    const struct sla_policy *p = s->policy;
    for (int c = 0; c < SLA_CLOCKS; c++) {
        struct sla_clock_state *cs = &s->c[c];
        cs->mode = mode_of(&w, c);
        cs->tracked = p != NULL && p->target[c].set;
        if (c == SLA_NEXT_RESPONSE && cs->breached)
            cs->rounds_breached++;
        if (!cs->tracked)
            continue;
        cs->target = p->target[c].ms;
        cs->measure = clock_bcal(&w, c) ? SLA_BUSINESS_TIME : SLA_CALENDAR_TIME;
        int64_t wt = warn_threshold(p, c);
        if (cs->breached)
            cs->due_at = cs->breached_at;
        else if (cs->mode == SLA_MODE_RUNNING)
            cs->due_at = add(&w, c, t, cs->target - cs->used);
        if (!cs->warned && wt > 0 && cs->mode == SLA_MODE_RUNNING)
            cs->warn_at = add(&w, c, t, wt - cs->used);
        if (cs->mode == SLA_MODE_RUNNING && !cs->breached && cs->due_at == SLA_NONE)
            cs->no_open_hours = true;

        /* what is owed next */
        int64_t owed = SLA_NONE;
        if (!cs->breach_fired && cs->breached && cs->breached_at != SLA_NONE)
            owed = cs->breached_at;
        else if (!cs->breach_fired && cs->mode == SLA_MODE_RUNNING)
            owed = cs->due_at;
        if (!cs->warning_fired && !cs->breached && wt > 0 && cs->mode == SLA_MODE_RUNNING
            && cs->warn_at != SLA_NONE && (owed == SLA_NONE || cs->warn_at < owed))
            owed = cs->warn_at;
        if (owed != SLA_NONE && (s->next_due == SLA_NONE || owed < s->next_due))
            s->next_due = owed;
    }
    return w.oom ? -1 : 0;
}

void sla_state_clear(struct sla_state *s)
{
    free(s->effects);
    s->effects = NULL;
    s->neffects = 0;
    free(s->rounds);
    s->rounds = NULL;
    s->nrounds = 0;
}

int sla_clock_outcome(const struct sla_state *s, int clock, struct sla_outcome *out)
{
    const struct sla_clock_state *cs = &s->c[clock];
    *out = (struct sla_outcome){ clock == SLA_NEXT_RESPONSE ? cs->round : 0, SLA_UNDECIDED, SLA_NONE };
    if (!s->started || cs->mode == SLA_MODE_NONE)
        return 0;
    if (clock == SLA_NEXT_RESPONSE && cs->mode == SLA_MODE_ACHIEVED)
        return 0;                        /* answered: in s->rounds */
    if (cs->breached && cs->breached_at != SLA_NONE) {
        out->verdict = SLA_MISSED;
        out->decided_at = cs->breached_at;
        return 1;
    }
    if (cs->mode == SLA_MODE_ACHIEVED && (cs->achieved_tracked || cs->tracked)) {
        out->verdict = SLA_MET;
        out->decided_at = cs->achieved_at;
        return 1;
    }
    return cs->tracked ? 1 : 0;
}

int sla_firings(const struct sla_state *s, int64_t now, struct sla_firing out[2 * SLA_CLOCKS])
{
    int n = 0;
    for (int c = 0; c < SLA_CLOCKS; c++) {
        const struct sla_clock_state *cs = &s->c[c];
        if (!cs->tracked)
            continue;
        bool breach = cs->breached && !cs->breach_fired && cs->breached_at != SLA_NONE
                      && cs->breached_at <= now;
        bool warn = cs->warned && !cs->warning_fired && cs->warn_at != SLA_NONE && cs->warn_at <= now
                    && (cs->mode == SLA_MODE_RUNNING || breach);
        if (warn)
            out[n++] = (struct sla_firing){ c, SLA_WARNING, cs->round, cs->warn_at, breach };
        if (breach)
            out[n++] = (struct sla_firing){ c, SLA_BREACH, cs->round, cs->breached_at, false };
    }
    return n;
}
