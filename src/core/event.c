/* core/event.c -- see core/event.h. */
#include "config.h"
#include "core/event.h"
#include "core/core_metrics.h"
#include "lib/err.h"
#include "lib/jsonlimit.h"
#include "core/jobkind.h"
#include "core/jobs.h"
#include "core/runtime.h"
#include "lib/strbuf.h"
#include "lib/util.h"
#include "core/webhook.h"
#include "lib/metrics.h"

#include <jansson.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

/* What an event counts, when its transaction commits (core/core_metrics.h):
 * every event by name, and what tickets and messages the helpdesk made. */
static void count_event(struct db_conn *c, const char *event, json_t *data)
{
    char labels[DB_METRIC_LABELS_MAX];
    snprintf(labels, sizeof(labels), "event=\"%s\"", event);   /* a valid event name needs no escaping */
    db_count_on_commit(c, "atum_events_total", labels);
    if (!json_is_object(data))
        return;
    const char *source = json_string_value(json_object_get(data, "source"));
    if (strcmp(event, "ticket.created") == 0) {
        snprintf(labels, sizeof(labels), "channel=\"%s\"", core_metrics_channel(source));
        db_count_on_commit(c, "atum_tickets_created_total", labels);
    } else if (strcmp(event, "message.created") == 0) {
        const char *dir = json_string_value(json_object_get(data, "direction"));
        const char *vis = json_string_value(json_object_get(data, "visibility"));
        const char *robot = core_metrics_robot(json_string_value(json_object_get(data, "robot")));
        const char *kind = vis && strcmp(vis, "internal") == 0 ? "note" : robot ? robot : "public";
        snprintf(labels, sizeof(labels), "direction=\"%s\",kind=\"%s\"",
                 dir && strcmp(dir, "out") == 0 ? "out" : "in", kind);
        db_count_on_commit(c, "atum_messages_total", labels);
    }
}

int event_emit_n(struct runtime *rt, struct db_conn *c, const char *event, const char *json_data,
                 int *jobs_r, const char **error_r)
{
    int ret = -1, n = 0;
    json_t *data = NULL;
    char *payload = NULL;
    char ckey[96] = "";
    const char *e = NULL;

    if (jobs_r)
        *jobs_r = 0;
    if (!jobkind_event_valid(event))
        return err_set(error_r, "emit: invalid event name '%s'", event ? event : "(null)");

    json_error_t jerr;
    /* a plugin may emit from a web thread with a small stack */
    const char *text = json_data ? json_data : "{}";
    if (!json_depth_ok(text, strlen(text), JSON_MAX_DEPTH))
        return err_set(error_r, "emit %s: data nests deeper than %d levels", event, JSON_MAX_DEPTH);
    data = json_loads(text, JSON_DECODE_ANY, &jerr);
    if (data == NULL)
        return err_set(error_r, "emit %s: data is not JSON: %s", event, jerr.text);
    json_t *tid = json_is_object(data) ? json_object_get(data, "ticket_id") : NULL;
    if (json_is_integer(tid))
        snprintf(ckey, sizeof(ckey), "ticket:%lld", (long long)json_integer_value(tid));

    /* "at": when the event happened (this transaction), on the host's
     * clock -- hooks run later, and plugins that keep time (deadlines,
     * pauses) need the moment, not the moment they hear of it */
    json_t *wrap = json_pack("{s:s, s:O, s:f}", "event", event, "data", data, "at",
                             (double)time_real_ms() / 1000.0);
    payload = wrap ? json_dumps(wrap, JSON_COMPACT) : NULL;
    json_decref(wrap);
    if (payload == NULL) {
        err_set(error_r, "emit %s: cannot build payload", event);
        goto out;
    }

    for (size_t i = 0; i < rt->kinds.n; i++) {
        const struct jobkind *k = &rt->kinds.v[i];
        if (k->event == NULL || strcmp(k->event, event) != 0)
            continue;
        char key[JOBS_KEY_MAX];
        if (ckey[0])
            snprintf(key, sizeof(key), "%s:%s", k->kind, ckey);
        struct atum_job_spec spec = {
            .kind = k->kind,
            .payload = payload,
            .max_attempts = runtime_default_attempts(rt, k->kind),
            .concurrency_key = ckey[0] ? key : NULL,
        };
        if (jobs_enqueue_ex(c, &spec, !k->quiet, NULL, &e) < 0) {
            err_set(error_r, "emit %s: %s", event, e);
            goto out;
        }
        n++;
    }
    /* webhooks registered by admins hear the same events */
    int nw = 0;
    if (webhook_fanout(c, event, json_data ? json_data : "{}", &nw, &e) < 0) {
        err_set(error_r, "emit %s: %s", event, e);
        goto out;
    }
    if (jobs_r)
        *jobs_r = n + nw;
    count_event(c, event, data);
    ret = 0;
out:
    free(payload);
    json_decref(data);
    return ret;
}

int event_emit(struct runtime *rt, struct db_conn *c, const char *event, const char *json_data,
               const char **error_r)
{
    return event_emit_n(rt, c, event, json_data, NULL, error_r);
}
