/* sla/policy.c -- see policy.h. */
#include "policy.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const char *const clock_names[SLA_CLOCKS] = { "first_response", "next_response", "resolution" };
static const char *const status_names[SLA_STATUSES] = { "new", "open", "pending", "solved", "closed" };
static const char *const priority_names[SLA_PRIORITIES] = { "low", "normal", "high", "urgent" };
static const char *const notify_names[3] = { "assignee", "queue", "managers" };

static int lookup(const char *const *names, int n, const char *s)
{
    for (int i = 0; s && i < n; i++)
        if (strcmp(names[i], s) == 0)
            return i;
    return -1;
}

const char *sla_clock_name(enum sla_clock c) { return clock_names[c]; }
int sla_clock_parse(const char *s) { return lookup(clock_names, SLA_CLOCKS, s); }
const char *sla_status_name(int s) { return s >= 0 && s < SLA_STATUSES ? status_names[s] : "?"; }
int sla_status_parse(const char *s) { return lookup(status_names, SLA_STATUSES, s); }
const char *sla_priority_name(int p) { return p >= 0 && p < SLA_PRIORITIES ? priority_names[p] : "?"; }
int sla_priority_parse(const char *s) { return lookup(priority_names, SLA_PRIORITIES, s); }

static _Thread_local char errbuf[256];

static int fail(const char **error_r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(errbuf, sizeof(errbuf), fmt, ap);
    va_end(ap);
    *error_r = errbuf;
    return -1;
}

static int check_keys(const json_t *o, const char *where, const char *const *allowed,
                      const char **error_r)
{
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)o, key, v) {
        (void)v;
        bool ok = false;
        for (int i = 0; allowed[i] && !ok; i++)
            ok = strcmp(allowed[i], key) == 0;
        if (!ok)
            return fail(error_r, "%s: unknown key '%s'", where, key);
    }
    return 0;
}

static int ref_id(const json_t *ref, const struct policy_resolver *r,
                  int (*fn)(void *, const json_t *, long long *), long long *id_r)
{
    if (r != NULL && fn != NULL)
        return fn(r->ctx, ref, id_r);
    if (!json_is_integer(ref) || json_integer_value(ref) <= 0)
        return -1;
    *id_r = (long long)json_integer_value(ref);
    return 0;
}

static int parse_target(const char *clock, const json_t *t, bool has_calendar,
                        struct sla_target *out, const char **error_r)
{
    static const char *const keys[] = { "seconds", "minutes", "hours", "time", NULL };
    if (!json_is_object(t))
        return fail(error_r, "targets.%s: an object like {\"hours\": 4}", clock);
    if (check_keys(t, clock, keys, error_r) < 0)
        return -1;
    static const struct { const char *key; int64_t unit; } units[] = {
        { "seconds", 1000 }, { "minutes", 60000 }, { "hours", 3600000 },
    };
    int given = 0;
    for (int i = 0; i < 3; i++) {
        json_t *v = json_object_get(t, units[i].key);
        if (v == NULL)
            continue;
        given++;
        if (!json_is_integer(v) || json_integer_value(v) <= 0
            || json_integer_value(v) > (json_int_t)(3650LL * 86400000 / units[i].unit))
            return fail(error_r, "targets.%s.%s: a positive whole number, at most 10 years",
                        clock, units[i].key);
        out->ms = (int64_t)json_integer_value(v) * units[i].unit;
    }
    if (given != 1)
        return fail(error_r, "targets.%s: exactly one of seconds, minutes, hours", clock);
    const char *time = json_string_value(json_object_get(t, "time"));
    if (json_object_get(t, "time") != NULL && time == NULL)
        return fail(error_r, "targets.%s.time: \"business\" or \"calendar\"", clock);
    if (time == NULL)
        out->measure = has_calendar ? SLA_BUSINESS_TIME : SLA_CALENDAR_TIME;
    else if (strcmp(time, "business") == 0)
        out->measure = SLA_BUSINESS_TIME;
    else if (strcmp(time, "calendar") == 0)
        out->measure = SLA_CALENDAR_TIME;
    else
        return fail(error_r, "targets.%s.time: \"business\" or \"calendar\"", clock);
    if (out->measure == SLA_BUSINESS_TIME && !has_calendar)
        return fail(error_r, "targets.%s: business time needs the policy's \"calendar\"", clock);
    out->set = true;
    return 0;
}

static int parse_actions(const json_t *list, const char *level, const struct policy_resolver *r,
                         int *n_r, struct sla_action *out, const char **error_r)
{
    static const char *const keys[] = { "notify", "priority", "queue", NULL };
    if (!json_is_array(list))
        return fail(error_r, "escalation.%s: a list of actions", level);
    if (json_array_size(list) > SLA_MAX_ACTIONS)
        return fail(error_r, "escalation.%s: at most %d actions", level, SLA_MAX_ACTIONS);
    size_t i;
    json_t *a;
    json_array_foreach(list, i, a) {
        if (!json_is_object(a) || json_object_size(a) != 1)
            return fail(error_r, "escalation.%s[%zu]: one of {\"notify\": ...}, {\"priority\": ...}, "
                        "{\"queue\": ...}", level, i);
        if (check_keys(a, level, keys, error_r) < 0)
            return -1;
        struct sla_action *x = &out[i];
        json_t *v;
        if ((v = json_object_get(a, "notify")) != NULL) {
            int k = lookup(notify_names, 3, json_string_value(v));
            if (k < 0)
                return fail(error_r, "escalation.%s[%zu].notify: assignee, queue or managers", level, i);
            x->kind = (enum sla_action_kind)(SLA_NOTIFY_ASSIGNEE + k);
        } else if ((v = json_object_get(a, "priority")) != NULL) {
            const char *s = json_string_value(v);
            x->kind = SLA_SET_PRIORITY;
            x->priority = s && strcmp(s, "raise") == 0 ? SLA_PRIORITY_RAISE : sla_priority_parse(s);
            if (s == NULL || (x->priority < 0 && x->priority != SLA_PRIORITY_RAISE))
                return fail(error_r, "escalation.%s[%zu].priority: \"raise\" or low, normal, high, urgent",
                            level, i);
        } else {
            x->kind = SLA_MOVE_QUEUE;
            if (ref_id(json_object_get(a, "queue"), r, r ? r->queue : NULL, &x->queue_id) < 0)
                return fail(error_r, "escalation.%s[%zu].queue: no such queue", level, i);
        }
    }
    *n_r = (int)json_array_size(list);
    return 0;
}

int policy_parse(const json_t *spec, const struct policy_resolver *r, struct sla_policy *p,
                 const char **error_r)
{
    static const char *const keys[] = { "name", "enabled", "position", "queues", "priorities",
                                        "calendar", "targets", "pause", "warn_percent",
                                        "escalation", NULL };
    memset(p, 0, sizeof(*p));
    if (!json_is_object(spec))
        return fail(error_r, "a policy is a JSON object");
    if (check_keys(spec, "policy", keys, error_r) < 0)
        return -1;
    const char *name = json_string_value(json_object_get(spec, "name"));
    if (name == NULL || name[0] == '\0' || strlen(name) >= sizeof(p->name))
        return fail(error_r, "name: text of 1 to %zu bytes", sizeof(p->name) - 1);
    snprintf(p->name, sizeof(p->name), "%s", name);
    json_t *v = json_object_get(spec, "enabled");
    if (v != NULL && !json_is_boolean(v))
        return fail(error_r, "enabled: true or false");
    p->enabled = v == NULL || json_is_true(v);
    v = json_object_get(spec, "position");
    if (v != NULL && (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > 1000000))
        return fail(error_r, "position: 0..1000000 (lower comes first)");
    p->position = v ? (int)json_integer_value(v) : 100;

    v = json_object_get(spec, "queues");
    if (v != NULL && !json_is_array(v))
        return fail(error_r, "queues: a list of queue ids or names (empty: any queue)");
    if (json_array_size(v) > SLA_MAX_QUEUES)
        return fail(error_r, "queues: at most %d", SLA_MAX_QUEUES);
    size_t i;
    json_t *q;
    json_array_foreach(v, i, q)
        if (ref_id(q, r, r ? r->queue : NULL, &p->queues[p->nqueues++]) < 0)
            return fail(error_r, "queues[%zu]: no such queue", i);
    v = json_object_get(spec, "priorities");
    if (v != NULL && !json_is_array(v))
        return fail(error_r, "priorities: a list of low, normal, high, urgent (empty: any)");
    json_array_foreach(v, i, q) {
        int pr = sla_priority_parse(json_string_value(q));
        if (pr < 0)
            return fail(error_r, "priorities[%zu]: low, normal, high or urgent", i);
        p->priority_mask |= 1u << pr;
    }
    v = json_object_get(spec, "calendar");
    if (v != NULL && !json_is_null(v) && ref_id(v, r, r ? r->calendar : NULL, &p->calendar_id) < 0)
        return fail(error_r, "calendar: no such calendar");

    json_t *targets = json_object_get(spec, "targets");
    static const char *const clock_keys[] = { "first_response", "next_response", "resolution", NULL };
    if (!json_is_object(targets) || json_object_size(targets) == 0)
        return fail(error_r, "targets: an object with first_response, next_response and/or resolution");
    if (check_keys(targets, "targets", clock_keys, error_r) < 0)
        return -1;
    json_t *pause = json_object_get(spec, "pause");
    if (pause != NULL && (!json_is_object(pause) || check_keys(pause, "pause", clock_keys, error_r) < 0))
        return pause && !json_is_object(pause) ? fail(error_r, "pause: an object of clocks") : -1;
    for (int c = 0; c < SLA_CLOCKS; c++) {
        json_t *t = json_object_get(targets, clock_names[c]);
        if (t != NULL && parse_target(clock_names[c], t, p->calendar_id != 0, &p->target[c], error_r) < 0)
            return -1;
        json_t *ps = pause ? json_object_get(pause, clock_names[c]) : NULL;
        if (ps == NULL) {
            p->target[c].pause_mask = 1u << SLA_ST_PENDING;
            continue;
        }
        if (!json_is_array(ps))
            return fail(error_r, "pause.%s: a list of statuses (new, open, pending)", clock_names[c]);
        json_array_foreach(ps, i, q) {
            int st = sla_status_parse(json_string_value(q));
            if (st < 0 || st >= SLA_ST_SOLVED)
                return fail(error_r, "pause.%s[%zu]: new, open or pending (solved and closed stop "
                            "every clock anyway)", clock_names[c], i);
            p->target[c].pause_mask |= 1u << st;
        }
    }
    v = json_object_get(spec, "warn_percent");
    if (v != NULL && (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > 99))
        return fail(error_r, "warn_percent: 0 (no warning) to 99");
    p->warn_percent = v ? (int)json_integer_value(v) : 80;

    json_t *esc = json_object_get(spec, "escalation");
    static const char *const esc_keys[] = { "warning", "breach", NULL };
    if (esc != NULL) {
        if (!json_is_object(esc))
            return fail(error_r, "escalation: an object with warning and/or breach lists");
        if (check_keys(esc, "escalation", esc_keys, error_r) < 0)
            return -1;
        for (int l = 0; l < 2; l++) {
            json_t *list = json_object_get(esc, esc_keys[l]);
            if (list != NULL && parse_actions(list, esc_keys[l], r, &p->nactions[l], p->actions[l],
                                              error_r) < 0)
                return -1;
        }
    }
    return 0;
}

json_t *policy_to_json(const struct sla_policy *p)
{
    json_t *o = json_pack("{s:s, s:b, s:i, s:i}", "name", p->name, "enabled", p->enabled,
                          "position", p->position, "warn_percent", p->warn_percent);
    json_t *qs = json_array();
    for (int i = 0; i < p->nqueues; i++)
        json_array_append_new(qs, json_integer(p->queues[i]));
    json_object_set_new(o, "queues", qs);
    json_t *ps = json_array();
    for (int i = 0; i < SLA_PRIORITIES; i++)
        if (p->priority_mask & (1u << i))
            json_array_append_new(ps, json_string(priority_names[i]));
    json_object_set_new(o, "priorities", ps);
    json_object_set_new(o, "calendar", p->calendar_id ? json_integer(p->calendar_id) : json_null());
    json_t *targets = json_object(), *pause = json_object();
    for (int c = 0; c < SLA_CLOCKS; c++) {
        const struct sla_target *t = &p->target[c];
        json_t *st = json_array();
        for (int s = 0; s < SLA_STATUSES; s++)
            if (t->pause_mask & (1u << s))
                json_array_append_new(st, json_string(status_names[s]));
        json_object_set_new(pause, clock_names[c], st);
        if (!t->set)
            continue;
        json_t *tj = json_pack("{s:I}", "seconds", (json_int_t)(t->ms / 1000));
        json_object_set_new(tj, "time", json_string(t->measure == SLA_BUSINESS_TIME ? "business"
                                                                                     : "calendar"));
        json_object_set_new(targets, clock_names[c], tj);
    }
    json_object_set_new(o, "targets", targets);
    json_object_set_new(o, "pause", pause);
    json_t *esc = json_object();
    for (int l = 0; l < 2; l++) {
        json_t *list = json_array();
        for (int i = 0; i < p->nactions[l]; i++) {
            const struct sla_action *a = &p->actions[l][i];
            switch (a->kind) {
            case SLA_NOTIFY_ASSIGNEE:
            case SLA_NOTIFY_QUEUE:
            case SLA_NOTIFY_MANAGERS:
                json_array_append_new(list, json_pack("{s:s}", "notify",
                                                      notify_names[a->kind - SLA_NOTIFY_ASSIGNEE]));
                break;
            case SLA_SET_PRIORITY:
                json_array_append_new(list, json_pack("{s:s}", "priority", a->priority == SLA_PRIORITY_RAISE
                                                      ? "raise" : priority_names[a->priority]));
                break;
            case SLA_MOVE_QUEUE:
                json_array_append_new(list, json_pack("{s:I}", "queue", (json_int_t)a->queue_id));
                break;
            }
        }
        json_object_set_new(esc, l == SLA_WARNING ? "warning" : "breach", list);
    }
    json_object_set_new(o, "escalation", esc);
    return o;
}

bool policy_matches(const struct sla_policy *p, long long queue_id, int priority)
{
    if (!p->enabled)
        return false;
    if (p->priority_mask != 0 && (priority < 0 || !(p->priority_mask & (1u << priority))))
        return false;
    if (p->nqueues == 0)
        return true;
    for (int i = 0; i < p->nqueues; i++)
        if (p->queues[i] == queue_id)
            return true;
    return false;
}
