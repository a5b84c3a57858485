/* sla/sla_hooks.c -- the desk's events become ledger entries; each is
 * recorded, and the ticket's state recomputed and saved, in one
 * transaction that also completes the hook's job, so an event counts
 * exactly once.  See sla-private.h. */
#include "sla-private.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static json_t *policy_ref(const struct sla_rules *r, long long id)
{
    for (int i = 0; id && i < r->npolicies; i++)
        if (r->policies[i].id == id)
            return json_pack("{s:I, s:s}", "id", (json_int_t)id, "name", r->policies[i].name);
    return id ? json_pack("{s:I}", "id", (json_int_t)id) : json_null();
}

int sla_recompute_locked(struct sla_plugin *p, struct atum_db *db, long long ticket,
                         const struct sla_ticket_row *row, struct sla_ledger *l, int64_t now,
                         int64_t policy_at, const char **error_r)
{
    struct sla_snapshot *snap = NULL;
    struct sla_state st;
    memset(&st, 0, sizeof(st));
    int ret = -1;
    if (sla_snapshot_get(p, db, row->config_version, &snap, error_r) < 0)
        return -1;
    if (sla_compute(&snap->rules, l->ev, l->n, now, false, &st) < 0) {
        *error_r = "out of memory";
        goto out;
    }
    long long last = l->last_id;
    long long pol = st.policy ? st.policy->id : 0;
    /* a policy that changed for a ticket already under one is recorded:
     * the ledger says why the deadlines moved */
    if (st.started && pol != row->policy_id && row->ledger_last > 0) {
        json_t *d = json_pack("{s:o, s:o}", "from", policy_ref(&snap->rules, row->policy_id), "to",
                              policy_ref(&snap->rules, pol));
        char *text = d ? json_dumps(d, JSON_COMPACT) : NULL;
        json_decref(d);
        struct sla_event e = { .at = policy_at, .kind = SLA_EV_POLICY, .status = -1, .priority = -1 };
        long long id = 0;
        int rc = text ? sla_store_append(p, db, ticket, &e, text, &id, error_r) : -1;
        free(text);
        if (rc < 0)
            goto out;
        last = id;
    }
    if (sla_store_save(p, db, ticket, &st, last, snap->version, row->next_due, error_r) < 0)
        goto out;
    ret = 0;
out:
    sla_state_clear(&st);
    sla_snapshot_put(p, snap);
    return ret;
}

/* One event of one ticket: record, recompute, save, complete the job; a
 * second event of the same moment (the staff message that opened a
 * ticket is its start and its first response) is appended too. */
static int record(struct sla_plugin *p, struct atum_job *job, long long ticket,
                  const struct sla_event *e, const char *source, const struct sla_event *also,
                  const char *also_source)
{
    const struct atum_host *h = p->host;
    const char *err = NULL;
    struct sla_ticket_row row;
    struct sla_ledger l;
    memset(&l, 0, sizeof(l));
    long long id = 0;
    if (h->tx_begin(job->db, &err) < 0)
        return h->job_error(job, "begin: %s", err);
    if (sla_store_begin_event(p, job->db, ticket, e, source, &row, &l, &err) < 0
        || (also != NULL && (sla_store_append_from(p, job->db, ticket, also, NULL, also_source, &id, &err) < 0
                             || (id > 0 && sla_ledger_push(&l, &(struct sla_event){ .id = id, .at = also->at,
                                          .kind = also->kind, .status = -1, .priority = -1 }, NULL) < 0)))
        || sla_recompute_locked(p, job->db, ticket, &row, &l, sla_now_ms(p), e->at, &err) < 0
        || h->job_complete_in_tx(job, &err) < 0) {
        h->tx_rollback(job->db);
        sla_ledger_free(&l);
        return h->job_error(job, "ticket %lld: %s", ticket, err ? err : "out of memory");
    }
    sla_ledger_free(&l);
    if (h->tx_commit(job->db, &err) < 0)
        return h->job_error(job, "commit: %s", err);
    return ATUM_JOB_DONE;
}

/* The event's data and its moment (the payload's "at", else now). */
static json_t *event_data(struct sla_plugin *p, struct atum_job *job, long long *ticket_r,
                          int64_t *at_r)
{
    /* (the source keys below are the backfill's too: sla_backfill.c) */
    json_t *root = json_loadb(job->payload, job->payload_len, 0, NULL);
    json_t *data = json_object_get(root, "data");
    json_t *tid = json_object_get(data, "ticket_id");
    if (!json_is_object(data) || !json_is_integer(tid) || json_integer_value(tid) <= 0) {
        json_decref(root);
        return NULL;
    }
    *ticket_r = (long long)json_integer_value(tid);
    json_t *at = json_object_get(root, "at");
    *at_r = json_is_number(at) && json_number_value(at) > 0 ? (int64_t)llround(json_number_value(at) * 1000.0)
                                                           : sla_now_ms(p);
    json_incref(data);
    json_decref(root);
    return data;
}

static int bad_payload(struct sla_plugin *p, struct atum_job *job)
{
    p->host->job_error(job, "%s: not an event with a ticket_id: %.200s", job->kind, job->payload);
    return ATUM_JOB_PERMANENT;
}

/* The message that opens a ticket starts its clocks (queue and priority
 * from the ticket: its ticket.created is not needed, which spares a job
 * per ticket); a public staff reply answers; a customer's human message
 * on an open conversation asks again. */
int sla_hook_message_created(void *state, struct atum_job *job)
{
    struct sla_plugin *p = state;
    long long ticket;
    int64_t at;
    json_t *d = event_data(p, job, &ticket, &at);
    if (d == NULL)
        return bad_payload(p, job);
    const char *dir = json_string_value(json_object_get(d, "direction"));
    const char *vis = json_string_value(json_object_get(d, "visibility"));
    const char *robot = json_string_value(json_object_get(d, "robot"));
    bool new_ticket = json_is_true(json_object_get(d, "new_ticket"));
    bool public = vis == NULL || strcmp(vis, "public") == 0;
    bool out = dir && strcmp(dir, "out") == 0, in = dir && strcmp(dir, "in") == 0;
    bool human = robot == NULL || strcmp(robot, "none") == 0;
    json_t *mid = json_object_get(d, "message_id");
    char source[40] = "";
    if (json_is_integer(mid) && json_integer_value(mid) > 0)
        snprintf(source, sizeof(source), "message:%lld", (long long)json_integer_value(mid));
    const char *msrc = source[0] ? source : NULL;
    json_decref(d);                      /* the strings above were borrowed from it */
    struct sla_event e = { .at = at, .status = -1, .priority = -1 };
    struct sla_event reply = { .at = at, .kind = SLA_EV_RESPONSE, .status = -1, .priority = -1 };
    if (new_ticket) {
        e.kind = SLA_EV_START;
        e.status = SLA_ST_NEW;           /* queue and priority: the ticket's (sla_store_begin_event) */
        return record(p, job, ticket, &e, "start", out && public ? &reply : NULL, msrc);
    }
    if (out && public)
        e.kind = SLA_EV_RESPONSE;
    else if (in && public && human)
        e.kind = SLA_EV_CUSTOMER;        /* the customer wrote again, by mail, portal or API */
    else
        return ATUM_JOB_DONE;            /* notes and robots: no clock event */
    return record(p, job, ticket, &e, msrc, NULL, NULL);
}

static const char *change_to(const json_t *changes, const char *field)
{
    return json_string_value(json_object_get(json_object_get(changes, field), "to"));
}

int sla_hook_ticket_updated(void *state, struct atum_job *job)
{
    struct sla_plugin *p = state;
    long long ticket;
    int64_t at;
    json_t *d = event_data(p, job, &ticket, &at);
    if (d == NULL)
        return bad_payload(p, job);
    json_t *changes = json_object_get(d, "changes");
    const char *status = change_to(changes, "status");
    const char *prio = change_to(changes, "priority");
    json_t *queue = json_object_get(json_object_get(changes, "queue_id"), "to");
    struct sla_event e = {
        .at = at, .kind = SLA_EV_CHANGE,
        .status = status ? sla_status_parse(status) : -1,
        .priority = prio ? sla_priority_parse(prio) : -1,
        .queue_id = json_is_integer(queue) ? (long long)json_integer_value(queue) : 0,
    };
    json_t *version = json_object_get(d, "version");
    char source[40] = "";
    if (json_is_integer(version) && json_integer_value(version) > 0)
        snprintf(source, sizeof(source), "version:%lld", (long long)json_integer_value(version));
    json_decref(d);
    if (e.status < 0 && e.priority < 0 && e.queue_id <= 0)
        return ATUM_JOB_DONE;            /* assignee, subject, category: no clock cares */
    return record(p, job, ticket, &e, source[0] ? source : NULL, NULL, NULL);
}
