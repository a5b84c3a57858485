/* sla/sla_config.c -- policies and calendars, read from the database once
 * per configuration version (sla_config.version, bumped by every edit in
 * the edit's transaction) and shared by every thread as an immutable
 * snapshot with a reference count.  See sla-private.h. */
#include "sla-private.h"

#include <stdlib.h>
#include <string.h>

static void snapshot_free(struct sla_snapshot *s)
{
    if (s == NULL)
        return;
    for (int i = 0; i < s->ncalendars; i++)
        sla_calendar_free(&s->calendars[i]);
    free(s->calendars);
    free(s->policies);
    free(s);
}

void sla_snapshot_put(struct sla_plugin *p, struct sla_snapshot *s)
{
    if (s == NULL)
        return;
    pthread_mutex_lock(&p->lock);
    bool last = --s->refs == 0;
    pthread_mutex_unlock(&p->lock);
    if (last)
        snapshot_free(s);
}

void sla_snapshot_drop(struct sla_plugin *p)
{
    struct sla_snapshot *s = p->snap;
    p->snap = NULL;
    if (s != NULL)
        sla_snapshot_put(p, s);
}

static json_t *load_json(const char *text)
{
    return text ? json_loads(text, 0, NULL) : NULL;
}

static int build(struct sla_plugin *p, struct atum_db *db, struct sla_snapshot **snap_r,
                 const char **error_r)
{
    const struct atum_host *h = p->host;
    struct atum_rows *rows = NULL;
    struct sla_snapshot *s = calloc(1, sizeof(*s));
    if (s == NULL)
        return *error_r = "out of memory", -1;
    if (h->sql(db, "SELECT (SELECT version FROM sla_config), c.id, c.name, c.spec::text"
                   " FROM (SELECT 1) one LEFT JOIN sla_calendars c ON true ORDER BY c.id",
               0, NULL, &rows, error_r) < 0)
        goto fail;
    int n = h->rows_count(rows);
    s->version = n > 0 && h->rows_value(rows, 0, 0) ? atoll(h->rows_value(rows, 0, 0)) : 0;
    s->calendars = calloc((size_t)(n > 0 ? n : 1), sizeof(*s->calendars));
    if (s->calendars == NULL) {
        *error_r = "out of memory";
        goto fail;
    }
    for (int i = 0; i < n; i++) {
        if (h->rows_value(rows, i, 1) == NULL)
            continue;                    /* no calendars at all */
        json_t *spec = load_json(h->rows_value(rows, i, 3));
        struct sla_calendar *cal = NULL;
        const char *why = NULL;
        if (spec == NULL || calspec_parse(spec, p->zoneinfo, &cal, &why) < 0) {
            /* e.g. a zone that a tzdata upgrade removed: its policies fall
             * back to calendar time, and say so, rather than stop */
            h->log(ATUM_LOG_ERROR, "calendar %s (%s) is unusable: %s", h->rows_value(rows, i, 1),
                   h->rows_value(rows, i, 2), why ? why : "not JSON");
            json_decref(spec);
            continue;
        }
        json_decref(spec);
        cal->id = atoll(h->rows_value(rows, i, 1));
        snprintf(cal->name, sizeof(cal->name), "%s", h->rows_value(rows, i, 2));
        s->calendars[s->ncalendars++] = cal;
    }
    h->rows_free(&rows);

    if (h->sql(db, "SELECT id, spec::text FROM sla_policies ORDER BY position, id", 0, NULL, &rows,
               error_r) < 0)
        goto fail;
    n = h->rows_count(rows);
    s->policies = calloc((size_t)(n > 0 ? n : 1), sizeof(*s->policies));
    if (s->policies == NULL) {
        *error_r = "out of memory";
        goto fail;
    }
    for (int i = 0; i < n; i++) {
        json_t *spec = load_json(h->rows_value(rows, i, 1));
        const char *why = NULL;
        struct sla_policy *pol = &s->policies[s->npolicies];
        if (spec == NULL || policy_parse(spec, NULL, pol, &why) < 0) {
            h->log(ATUM_LOG_ERROR, "policy %s is unusable: %s", h->rows_value(rows, i, 0),
                   why ? why : "not JSON");
            json_decref(spec);
            continue;
        }
        json_decref(spec);
        pol->id = atoll(h->rows_value(rows, i, 0));
        s->npolicies++;
    }
    h->rows_free(&rows);
    s->rules = (struct sla_rules){ s->policies, s->npolicies, s->calendars, s->ncalendars };
    *snap_r = s;
    return 0;
fail:
    h->rows_free(&rows);
    snapshot_free(s);
    return -1;
}

int sla_snapshot_get(struct sla_plugin *p, struct atum_db *db, long long version,
                     struct sla_snapshot **snap_r, const char **error_r)
{
    *snap_r = NULL;
    if (version < 0) {
        struct atum_rows *rows = NULL;
        if (p->host->sql(db, "SELECT version FROM sla_config", 0, NULL, &rows, error_r) < 0)
            return -1;
        const char *v = p->host->rows_value(rows, 0, 0);
        version = v ? atoll(v) : 0;
        p->host->rows_free(&rows);
    }
    {
        pthread_mutex_lock(&p->lock);
        struct sla_snapshot *cur = p->snap;
        if (cur != NULL && cur->version >= version) {
            cur->refs++;
            *snap_r = cur;
        }
        pthread_mutex_unlock(&p->lock);
        if (*snap_r != NULL)
            return 0;
    }
    struct sla_snapshot *s = NULL;
    if (build(p, db, &s, error_r) < 0)
        return -1;
    pthread_mutex_lock(&p->lock);
    struct sla_snapshot *old = NULL;
    if (p->snap != NULL && p->snap->version >= s->version) {
        /* another thread got there first: use theirs */
        p->snap->refs++;
        *snap_r = p->snap;
        pthread_mutex_unlock(&p->lock);
        snapshot_free(s);
        return 0;
    }
    old = p->snap;
    s->refs = 2;                         /* the plugin's and the caller's */
    p->snap = s;
    *snap_r = s;
    pthread_mutex_unlock(&p->lock);
    sla_snapshot_put(p, old);
    return 0;
}
