/* sla/render.c -- see render.h. */
#include "render.h"
#include "civil.h"

json_t *sla_json_instant(int64_t ms)
{
    if (ms == SLA_NONE)
        return json_null();
    char buf[40];
    civil_format_utc(ms, buf, sizeof(buf));
    return json_string(buf);
}

static json_t *seconds(int64_t ms)
{
    return ms % 1000 == 0 ? json_integer(ms / 1000) : json_real((double)ms / 1000.0);
}

static json_t *policy_ref(const struct sla_rules *r, long long id)
{
    for (int i = 0; id && i < r->npolicies; i++)
        if (r->policies[i].id == id)
            return json_pack("{s:I, s:s}", "id", (json_int_t)id, "name", r->policies[i].name);
    return id ? json_pack("{s:I, s:n}", "id", (json_int_t)id, "name") : json_null();
}

static json_t *clock_json(const struct sla_clock_state *c, int clock, const struct sla_prediction *p,
                          int64_t now)
{
    json_t *o = json_pack("{s:s, s:b}", "state", sla_mode_name(c->mode), "tracked", c->tracked);
    if (clock == SLA_NEXT_RESPONSE) {
        json_object_set_new(o, "round", json_integer(c->round));
        json_object_set_new(o, "rounds_breached", json_integer(c->rounds_breached));
    }
    json_object_set_new(o, "started_at", sla_json_instant(c->started_at));
    json_object_set_new(o, "achieved_at", sla_json_instant(c->achieved_at));
    if (!c->tracked)
        return o;
    json_object_set_new(o, "target_seconds", seconds(c->target));
    json_object_set_new(o, "time", json_string(c->measure == SLA_BUSINESS_TIME ? "business" : "calendar"));
    json_object_set_new(o, "used_seconds", seconds(c->used));
    json_object_set_new(o, "paused_seconds", seconds(c->paused));
    json_object_set_new(o, "remaining_seconds", seconds(c->target - c->used));
    json_object_set_new(o, "due_at", sla_json_instant(c->due_at));
    json_object_set_new(o, "warn_at", sla_json_instant(c->warn_at));
    json_object_set_new(o, "warned", json_boolean(c->warned));
    json_object_set_new(o, "breached", json_boolean(c->breached));
    json_object_set_new(o, "breached_at", sla_json_instant(c->breached_at));
    if (c->mode == SLA_MODE_RUNNING && c->due_at != SLA_NONE && !c->breached)
        json_object_set_new(o, "time_to_breach_seconds", seconds(c->due_at - now));
    if (c->no_open_hours)
        json_object_set_new(o, "problem", json_string("the calendar has no open hours in the next five years"));
    if (p != NULL && p->have) {
        json_object_set_new(o, "risk", json_real(p->risk));
        json_object_set_new(o, "expected_done_at", sla_json_instant(p->expected_done_at));
        json_object_set_new(o, "prediction", json_pack("{s:s, s:i, s:f}", "basis", p->basis,
                                                       "samples", p->samples, "load_factor",
                                                       p->load_factor));
    }
    return o;
}

static json_t *event_json(const struct sla_state *s, const struct sla_rules *r,
                          const struct sla_event *e, int index)
{
    json_t *o = json_pack("{s:I, s:o, s:s}", "id", (json_int_t)e->id, "at", sla_json_instant(e->at),
                          "kind", sla_event_kind_name(e->kind));
    if (e->status >= 0)
        json_object_set_new(o, "status", json_string(sla_status_name(e->status)));
    if (e->queue_id > 0)
        json_object_set_new(o, "queue_id", json_integer(e->queue_id));
    if (e->priority >= 0)
        json_object_set_new(o, "priority", json_string(sla_priority_name(e->priority)));
    if (e->kind == SLA_EV_WARNING || e->kind == SLA_EV_BREACH) {
        json_object_set_new(o, "clock", json_string(sla_clock_name(e->clock)));
        if (e->clock == SLA_NEXT_RESPONSE)
            json_object_set_new(o, "round", json_integer(e->round));
    }
    if (e->detail != NULL)
        json_object_set(o, "detail", (json_t *)e->detail);
    json_t *effects = json_array();
    for (int i = 0; i < s->neffects; i++) {
        const struct sla_effect *f = &s->effects[i];
        if (f->event != index)
            continue;
        if (f->clock < 0)
            json_array_append_new(effects, json_pack("{s:{s:o, s:o}}", "policy", "from",
                                                     policy_ref(r, f->policy_from), "to",
                                                     policy_ref(r, f->policy_to)));
        else
            json_array_append_new(effects, json_pack("{s:s, s:s, s:s}", "clock", sla_clock_name(f->clock),
                                                     "from", sla_mode_name(f->from), "to",
                                                     sla_mode_name(f->to)));
    }
    json_object_set_new(o, "effects", effects);
    return o;
}

json_t *sla_render(const struct sla_state *s, const struct sla_rules *rules,
                   const struct sla_event *ev, int nev,
                   const struct sla_prediction pred[SLA_CLOCKS], int64_t now, int max_ledger)
{
    json_t *o = json_pack("{s:b}", "tracked", s->started && s->policy != NULL);
    json_object_set_new(o, "policy", s->policy ? policy_ref(rules, s->policy->id) : json_null());
    const struct sla_calendar *cal = s->policy ? sla_rules_calendar(rules, s->policy->calendar_id) : NULL;
    json_object_set_new(o, "calendar", cal ? json_pack("{s:I, s:s, s:s}", "id", (json_int_t)cal->id, "name",
                                                       cal->name, "time_zone", tz_zone_name(cal->zone))
                                           : json_null());
    json_object_set_new(o, "computed_at", sla_json_instant(s->started ? s->computed_at : SLA_NONE));
    json_object_set_new(o, "next_escalation_at", sla_json_instant(s->next_due));
    double risk = -1;
    int64_t ttb = SLA_NONE;
    json_t *clocks = json_object();
    for (int c = 0; c < SLA_CLOCKS; c++) {
        const struct sla_clock_state *cs = &s->c[c];
        json_object_set_new(clocks, sla_clock_name(c), clock_json(cs, c, pred ? &pred[c] : NULL, now));
        if (pred && pred[c].have && pred[c].risk > risk)
            risk = pred[c].risk;
        if (cs->tracked && cs->mode == SLA_MODE_RUNNING && !cs->breached && cs->due_at != SLA_NONE
            && (ttb == SLA_NONE || cs->due_at - now < ttb))
            ttb = cs->due_at - now;
    }
    json_object_set_new(o, "clocks", clocks);
    json_object_set_new(o, "risk", risk >= 0 ? json_real(risk) : json_null());
    json_object_set_new(o, "time_to_breach_seconds", ttb != SLA_NONE ? seconds(ttb) : json_null());
    json_t *ledger = json_array();
    int first = max_ledger > 0 && nev > max_ledger ? nev - max_ledger : 0;
    for (int i = first; i < nev; i++)
        json_array_append_new(ledger, event_json(s, rules, &ev[i], i));
    json_object_set_new(o, "ledger", ledger);
    json_object_set_new(o, "ledger_total", json_integer(nev));
    return o;
}
