/* sla/backfill.c -- a ticket's ledger from its history (backfill.h). */
#include "backfill.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int by_moment(const void *a, const void *b)
{
    const struct sla_bf_message *x = a, *y = b;
    if (x->at != y->at)
        return x->at < y->at ? -1 : 1;
    return (x->id > y->id) - (x->id < y->id);
}

static int by_version(const void *a, const void *b)
{
    const struct sla_bf_change *x = a, *y = b;
    return (x->version > y->version) - (x->version < y->version);
}

struct out {
    struct sla_bf_entry *v;
    int n, cap;
};

static struct sla_bf_entry *push(struct out *o, int64_t at, enum sla_event_kind kind)
{
    if (o->n == o->cap) {
        int cap = o->cap ? o->cap * 2 : 16;
        struct sla_bf_entry *v = realloc(o->v, (size_t)cap * sizeof(*v));
        if (v == NULL)
            return NULL;
        o->v = v;
        o->cap = cap;
    }
    struct sla_bf_entry *e = &o->v[o->n++];
    memset(e, 0, sizeof(*e));
    e->ev = (struct sla_event){ .at = at, .kind = kind, .status = -1, .priority = -1 };
    return e;
}

int sla_backfill_entries(const struct sla_bf_ticket *t, struct sla_bf_message *msgs, int nmsgs,
                         struct sla_bf_change *changes, int nchanges, struct sla_bf_entry **out_r,
                         int *n_r)
{
    struct out o = { NULL, 0, 0 };
    *out_r = NULL;
    *n_r = 0;
    if (nmsgs > 1)
        qsort(msgs, (size_t)nmsgs, sizeof(*msgs), by_moment);
    if (nchanges > 1)
        qsort(changes, (size_t)nchanges, sizeof(*changes), by_version);

    /* the queue and priority it opened with: the first change's "from" */
    long long queue = t->queue_id;
    int priority = t->priority;
    for (int i = nchanges - 1; i >= 0; i--) {
        if (changes[i].queue_from > 0)
            queue = changes[i].queue_from;
        if (changes[i].priority_from >= 0)
            priority = changes[i].priority_from;
    }
    struct sla_bf_entry *e = push(&o, t->created_at, SLA_EV_START);
    if (e == NULL)
        goto oom;
    e->ev.status = SLA_ST_NEW;
    e->ev.queue_id = queue;
    e->ev.priority = priority;
    snprintf(e->source, sizeof(e->source), "start");
    int status = SLA_ST_NEW;
    int64_t last = t->created_at;

    /* messages and changes merged by moment; a change at the moment of a
     * message comes after it (the hooks' order: message.created, then
     * the ticket.updated its reply caused) */
    int mi = 0, ci = 0;
    while (mi < nmsgs || ci < nchanges) {
        bool take_msg = ci >= nchanges || (mi < nmsgs && msgs[mi].at <= changes[ci].at);
        if (take_msg) {
            const struct sla_bf_message *m = &msgs[mi];
            enum sla_event_kind kind;
            bool opening = mi == 0;
            mi++;
            if (m->public && m->staff)
                kind = SLA_EV_RESPONSE;
            else if (!opening && m->public && !m->staff && m->human)
                kind = SLA_EV_CUSTOMER;
            else
                continue;
            /* nothing counts before the start (a message stamped earlier
             * than its ticket, e.g. imported): it happened at the start */
            if ((e = push(&o, m->at > t->created_at ? m->at : t->created_at, kind)) == NULL)
                goto oom;
            snprintf(e->source, sizeof(e->source), "message:%lld", m->id);
        } else {
            const struct sla_bf_change *c = &changes[ci++];
            if (c->status_to < 0 && c->priority_to < 0 && c->queue_to <= 0)
                continue;
            if ((e = push(&o, c->at > t->created_at ? c->at : t->created_at, SLA_EV_CHANGE)) == NULL)
                goto oom;
            e->ev.status = c->status_to;
            e->ev.priority = c->priority_to;
            e->ev.queue_id = c->queue_to > 0 ? c->queue_to : 0;
            snprintf(e->source, sizeof(e->source), "version:%lld", c->version);
            if (c->status_to >= 0)
                status = c->status_to;
            if (c->priority_to >= 0)
                priority = c->priority_to;
            if (c->queue_to > 0)
                queue = c->queue_to;
        }
        if (e->ev.at > last)
            last = e->ev.at;
    }

    /* the history ends short of the present: catch up at the last update */
    if (status != t->status || priority != t->priority || queue != t->queue_id) {
        if ((e = push(&o, t->updated_at > last ? t->updated_at : last, SLA_EV_CHANGE)) == NULL)
            goto oom;
        e->ev.status = status != t->status ? t->status : -1;
        e->ev.priority = priority != t->priority ? t->priority : -1;
        e->ev.queue_id = queue != t->queue_id ? t->queue_id : 0;
        snprintf(e->source, sizeof(e->source), "current");
    }
    *out_r = o.v;
    *n_r = o.n;
    return 0;
oom:
    free(o.v);
    return -1;
}
