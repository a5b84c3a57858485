/*
 * web/api_ops.c -- attachments download, the admin's operational views
 * (jobs, plugins, audit log), webhooks, and the OpenAPI document.
 */
#include "config.h"
#include "web/api.h"
#include "web/api_tickets.h"
#include "web/plugin_settings.h"
#include "desk/audit.h"
#include "lib/err.h"
#include "core/jobkind.h"
#include "lib/log.h"
#include "core/plugin_loader.h"
#include "core/jobs.h"
#include "core/runtime.h"
#include "core/runtime_load.h"
#include "lib/token.h"
#include "lib/xalloc.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern const char openapi_json[];
extern const size_t openapi_json_len;

/* ---- attachments ------------------------------------------------------------ */

static const char *const safe_images[] = { "image/png", "image/jpeg", "image/gif", "image/webp", NULL };

/* type/subtype in lower case, parameters dropped; octet-stream when odd. */
static void clean_type(const char *in, char *out, size_t size)
{
    size_t n = 0;
    int slash = 0;
    for (const char *p = in; *p && *p != ';' && n + 1 < size; p++) {
        unsigned char c = (unsigned char)tolower((unsigned char)*p);
        if (c == ' ')
            break;
        if (c == '/')
            slash++;
        else if (!(isalnum(c) || strchr("!#$&^_.+-", c)))
            goto bad;
        out[n++] = (char)c;
    }
    out[n] = '\0';
    if (slash == 1 && out[0] != '/' && out[n - 1] != '/')
        return;
bad:
    snprintf(out, size, "application/octet-stream");
}

static void disposition(struct api_req *r, const char *kind, const char *filename)
{
    struct strbuf ascii = STRBUF_INIT, enc = STRBUF_INIT;
    for (const unsigned char *p = (const unsigned char *)filename; *p; p++) {
        if (*p >= 0x20 && *p < 0x7f && *p != '"' && *p != '\\' && *p != '%')
            strbuf_addc(&ascii, (char)*p);
        else
            strbuf_addc(&ascii, '_');
        if (isalnum(*p) || strchr("-._~", *p))
            strbuf_addc(&enc, (char)*p);
        else
            strbuf_addf(&enc, "%%%02X", *p);
    }
    if (ascii.len == 0)
        strbuf_adds(&ascii, "attachment");
    if (ascii.len > 200 || enc.len > 600)
        api_add_header(r, "Content-Disposition: %s", kind);
    else
        api_add_header(r, "Content-Disposition: %s; filename=\"%s\"; filename*=UTF-8''%s", kind,
                       strbuf_str(&ascii), strbuf_str(&enc));
    strbuf_free(&ascii);
    strbuf_free(&enc);
}

static int h_attachment(struct api_req *r)
{
    const char *e = NULL;
    if (api_query_check(r, NULL) < 0)
        return 0;
    struct ticket_visibility v;
    ticket_vis_params(r, &v);
    char id[24];
    snprintf(id, sizeof(id), "%lld", r->m.ids[0]);
    const char *p[5] = { v.p[0], v.p[1], v.p[2], v.p[3], id };
    PGresult *res = db_exec_bin(r->db,
        "SELECT a.filename, a.content_type, b.content FROM attachments a"
        "  JOIN attachment_blobs b ON b.sha256 = a.sha256"
        "  JOIN messages m ON m.id = a.message_id JOIN tickets t ON t.id = m.ticket_id"
        " WHERE a.id = $5 AND " TICKET_VISIBLE("t")
        "   AND ($2::text <> 'customer' OR m.visibility = 'public')", 5, p, NULL, NULL, 1, &e);
    if (res == NULL)
        return api_db_fail(r, "reading the attachment", e);
    if (PQntuples(res) != 1) {
        PQclear(res);
        return api_problem(r, 404, NULL, "no such attachment");
    }
    char type[128];
    clean_type(PQgetvalue(res, 0, 1), type, sizeof(type));
    bool inline_ok = false;
    for (const char *const *s = safe_images; *s; s++)
        inline_ok |= strcmp(type, *s) == 0;
    disposition(r, inline_ok ? "inline" : "attachment", PQgetvalue(res, 0, 0));
    api_add_header(r, "Content-Security-Policy: sandbox");
    api_raw(r, 200, type, PQgetvalue(res, 0, 2), (size_t)PQgetlength(res, 0, 2));
    PQclear(res);
    return 0;
}

/* ---- jobs ------------------------------------------------------------------------ */

static int h_jobs(struct api_req *r)
{
    static const char *const allowed[] = { "state", "kind", "limit", "after_id", NULL };
    char state[16], kind[JOBS_KIND_MAX + 1], lim[16], after[24];
    const char *e = NULL;
    int ns, nk, nl;
    long long a = 0;
    bool aset;
    if (api_query_check(r, allowed) < 0)
        return 0;
    if ((ns = api_query(r, "state", state, sizeof(state))) < 0 || (nk = api_query(r, "kind", kind, sizeof(kind))) < 0
        || (nl = api_query(r, "limit", lim, sizeof(lim))) < 0 || api_query_id(r, "after_id", &a, &aset) < 0)
        return 0;
    if (ns && strcmp(state, "available") && strcmp(state, "running") && strcmp(state, "dead"))
        return api_problem(r, 400, "state", "state must be available, running or dead");
    if (nk && !jobs_kind_valid(kind))
        return api_problem(r, 400, "kind", "kind is not a job kind name (like mail.send)");
    long long l = 100;
    if (nl) {
        char *end;
        l = strtoll(lim, &end, 10);
        if (*end || end == lim || l < 1 || l > 500)
            return api_problem(r, 400, "limit", "limit must be an integer from 1 to 500");
    }
    snprintf(lim, sizeof(lim), "%lld", l);
    snprintf(after, sizeof(after), "%lld", a);
    const char *p[] = { ns ? state : NULL, nk ? kind : NULL, lim, after };
    PGresult *res = db_exec(r->db,
        "SELECT json_build_object('items', coalesce(json_agg(j ORDER BY j.id), '[]')) FROM"
        " (SELECT id, kind, state, priority, run_at, attempts, max_attempts, last_error, locked_by,"
        "         locked_until, created_at, updated_at, payload FROM jobs"
        "   WHERE ($1::text IS NULL OR state = $1) AND ($2::text IS NULL OR kind = $2)"
        "     AND id > $4::bigint ORDER BY id LIMIT $3::int) j", 4, p, &e);
    if (res == NULL)
        return api_db_fail(r, "listing jobs", e);
    api_send_cell(r, 200, res);
    PQclear(res);
    return 0;
}

static int h_job_stats(struct api_req *r)
{
    const char *e = NULL;
    if (api_query_check(r, NULL) < 0)
        return 0;
    PGresult *res = db_exec(r->db,
        "SELECT json_build_object("
        " 'by_state', (SELECT coalesce(json_object_agg(state, n), '{}') FROM"
        "     (SELECT state, count(*) AS n FROM jobs GROUP BY state) s),"
        " 'by_kind', (SELECT coalesce(json_agg(k ORDER BY k.kind, k.state), '[]') FROM"
        "     (SELECT kind, state, count(*) AS count, min(run_at) AS oldest_run_at FROM jobs"
        "       GROUP BY kind, state) k),"
        " 'done_last_hour', (SELECT count(*) FROM job_archive"
        "     WHERE finished_at > now() - interval '1 hour'))", 0, NULL, &e);
    if (res == NULL)
        return api_db_fail(r, "counting jobs", e);
    api_send_cell(r, 200, res);
    PQclear(res);
    return 0;
}

static int requeue(struct api_req *r, long long id, const char *kind)
{
    const char *e = NULL;
    int count = 0;
    if (db_begin(r->db, &e) < 0 || jobs_requeue_dead(r->db, id, kind, &count, &e) < 0)
        goto fail;
    if (count == 0 && id > 0) {
        db_rollback(r->db);
        return api_problem(r, 404, NULL, "no dead job with this id");
    }
    json_t *d = json_pack("{s:I, s:s?, s:i}", "id", (json_int_t)id, "kind", kind, "count", count);
    char target[40];
    snprintf(target, sizeof(target), "job:%lld", id);
    int rc = api_audit(r, "job.retry", id ? target : NULL, d, &e);
    json_decref(d);
    if (rc < 0 || db_commit(r->db, &e) < 0)
        goto fail;
    return api_json(r, 200, json_pack("{s:i}", "requeued", count));
fail:
    db_rollback(r->db);
    return api_db_fail(r, "requeueing", e);
}

static int h_job_retry(struct api_req *r)
{
    if (api_no_body(r) < 0)
        return 0;
    return requeue(r, r->m.ids[0], NULL);
}

static int h_job_retry_dead(struct api_req *r)
{
    static const struct api_field f[] = { { "kind", F_STR_NULL, false, JOBS_KIND_MAX }, { NULL, 0, 0, 0 } };
    json_t *b = api_body(r, f);
    if (b == NULL)
        return 0;
    const char *kind = api_str(b, "kind");
    if (kind && !jobs_kind_valid(kind))
        return api_problem(r, 400, "kind", "field 'kind' is not a job kind name");
    return requeue(r, 0, kind);
}

/* ---- plugins ------------------------------------------------------------------------- */

static const char *state_name(enum plugin_state s)
{
    return s == PLUGIN_LOADED ? "loaded" : s == PLUGIN_DISABLED ? "disabled" : "refused";
}

static int h_plugins(struct api_req *r)
{
    const char *e = NULL;
    if (api_query_check(r, NULL) < 0)
        return 0;
    PGresult *ov = db_exec(r->db, "SELECT name, enabled FROM plugin_settings", 0, NULL, &e);
    if (ov == NULL)
        return api_db_fail(r, "listing plugins", e);
    json_t *items = json_array();
    runtime_rdlock(r->api->rt);
    for (size_t i = 0; i < r->api->rt->plugins.n; i++) {
        const struct plugin_instance *pi = &r->api->rt->plugins.v[i];
        int nroutes = 0, nkinds = 0, nhooks = 0;
        for (const struct atum_route *x = pi->desc.routes; x && x->path; x++) nroutes++;
        for (const struct atum_job_kind *x = pi->desc.jobs; x && x->kind; x++) nkinds++;
        for (const struct atum_hook *x = pi->desc.hooks; x && x->event; x++) nhooks++;
        json_t *o = json_pack("{s:s, s:s, s:s?, s:s?, s:s?, s:s?, s:i, s:i, s:i, s:i}",
            "name", pi->name, "state", state_name(pi->state), "version", pi->desc.version,
            "summary", pi->desc.summary, "reason", pi->reason, "path", pi->path,
            "abi", (int)pi->desc.abi, "routes", nroutes, "job_kinds", nkinds, "hooks", nhooks);
        if (o == NULL)
            continue;
        json_object_set_new(o, "override", json_null());
        json_object_set_new(o, "settings", plugin_settings_json(pi, r->api->rt->cfg));
        for (int k = 0; k < PQntuples(ov); k++)
            if (strcmp(PQgetvalue(ov, k, 0), pi->name) == 0)
                json_object_set_new(o, "override", json_boolean(PQgetvalue(ov, k, 1)[0] == 't'));
        json_array_append_new(items, o);
    }
    runtime_rdunlock(r->api->rt);
    PQclear(ov);
    return api_json(r, 200, json_pack("{s:o, s:i}", "items", items, "host_abi", ATUM_PLUGIN_ABI));
}

static int h_plugin_set(struct api_req *r)
{
    static const struct api_field f[] = { { "enabled", F_BOOL, true, 0 }, { NULL, 0, 0, 0 } };
    const char *e = NULL;
    json_t *b = api_body(r, f);
    if (b == NULL)
        return 0;
    bool on = json_is_true(json_object_get(b, "enabled"));
    runtime_rdlock(r->api->rt);
    bool known = plugin_set_find(&r->api->rt->plugins, r->m.name) != NULL;
    runtime_rdunlock(r->api->rt);
    if (!known)
        return api_problem(r, 404, NULL, "no plugin '%s' is configured", r->m.name);
    const char *p[] = { r->m.name, on ? "t" : "f", api_uid(r) };
    char target[96];
    snprintf(target, sizeof(target), "plugin:%s", r->m.name);
    if (db_begin(r->db, &e) < 0)
        goto fail;
    PGresult *res = db_exec(r->db,
        "INSERT INTO plugin_settings (name, enabled, changed_by) VALUES ($1, $2, $3)"
        " ON CONFLICT (name) DO UPDATE SET enabled = $2, changed_by = $3, changed_at = now()",
        3, p, &e);
    if (res == NULL)
        goto fail;
    PQclear(res);
    if (api_audit(r, on ? "plugin.enable" : "plugin.disable", target, NULL, &e) < 0
        || db_commit(r->db, &e) < 0)
        goto fail;
    log_info("plugin.admin_change", "plugin=%s enabled=%s user=%lld", r->m.name, on ? "yes" : "no",
             r->user.id);
    if (runtime_reload_current(r->api->rt, r->db, &e) < 0)
        log_error("plugin.reload_failed", "error=%s", e);
    json_t *o = NULL;
    runtime_rdlock(r->api->rt);
    const struct plugin_instance *pi = plugin_set_find(&r->api->rt->plugins, r->m.name);
    if (pi)
        o = json_pack("{s:s, s:s, s:s?, s:b}", "name", pi->name, "state", state_name(pi->state),
                      "reason", pi->reason, "override", on);
    runtime_rdunlock(r->api->rt);
    return api_json(r, 200, o);
fail:
    db_rollback(r->db);
    return api_db_fail(r, "changing the plugin", e);
}

/* ---- audit log ------------------------------------------------------------------------ */

static int h_audit(struct api_req *r)
{
    static const char *const allowed[] = { "action", "actor_id", "target", "target_type", "since",
                                           "until", "limit", "before_seq", NULL };
    char action[64], target[128], ttype[64], since[64], until[64], lim[16], a_id[24], b_seq[24];
    const char *e = NULL;
    long long actor = 0, before = 0;
    bool aset, bset;
    int na, nt, ntt, ns, nu, nl;
    if (api_query_check(r, allowed) < 0)
        return 0;
    if ((na = api_query(r, "action", action, sizeof(action))) < 0
        || (nt = api_query(r, "target", target, sizeof(target))) < 0
        || (ntt = api_query(r, "target_type", ttype, sizeof(ttype))) < 0
        || (ns = api_query_time(r, "since", since, sizeof(since))) < 0
        || (nu = api_query_time(r, "until", until, sizeof(until))) < 0
        || (nl = api_query(r, "limit", lim, sizeof(lim))) < 0
        || api_query_id(r, "actor_id", &actor, &aset) < 0
        || api_query_id(r, "before_seq", &before, &bset) < 0)
        return 0;
    long long l = 100;
    if (nl) {
        char *end;
        l = strtoll(lim, &end, 10);
        if (*end || end == lim || l < 1 || l > 1000)
            return api_problem(r, 400, "limit", "limit must be an integer from 1 to 1000");
    }
    /* "user.*": every action of that family (a prefix, matched literally) */
    size_t al = na ? strlen(action) : 0;
    bool family = al >= 2 && strcmp(action + al - 2, ".*") == 0;
    if (family)
        action[al - 1] = '\0';      /* keep the dot: "user." */
    if (ntt)
        strncat(ttype, ":", sizeof(ttype) - strlen(ttype) - 1);
    snprintf(lim, sizeof(lim), "%lld", l);
    snprintf(a_id, sizeof(a_id), "%lld", actor);
    snprintf(b_seq, sizeof(b_seq), "%lld", before);
    const char *p[] = { na ? action : NULL, aset ? a_id : NULL, nt ? target : NULL,
                        ns ? since : NULL, nu ? until : NULL, lim, bset ? b_seq : NULL,
                        family ? "t" : "f", ntt ? ttype : NULL };
    PGresult *res = db_exec(r->db,
        "SELECT json_build_object('items', coalesce(json_agg(x ORDER BY x.seq DESC), '[]'),"
        "  'next_before_seq', CASE WHEN count(*) = $6::int THEN min(x.seq) END) FROM"
        " (SELECT seq, id, at, actor_id, actor, action, target, detail, host(ip) AS ip, hash"
        "    FROM audit_log WHERE ($1::text IS NULL OR ($8::boolean AND left(action, length($1)) = $1)"
        "                          OR (NOT $8::boolean AND action = $1))"
        "     AND ($2::bigint IS NULL OR actor_id = $2) AND ($3::text IS NULL OR target = $3)"
        "     AND ($9::text IS NULL OR left(target, length($9)) = $9)"
        "     AND ($4::timestamptz IS NULL OR at >= $4) AND ($5::timestamptz IS NULL OR at < $5)"
        "     AND ($7::bigint IS NULL OR seq < $7)"
        "   ORDER BY seq DESC LIMIT $6::int) x", 9, p, &e);
    if (res == NULL) {
        /* every parameter was checked above (see h_list in api_tickets.c) */
        if (strncmp(db_last_sqlstate(r->db), "22", 2) == 0)
            return api_problem(r, 400, NULL, "a query parameter has a value the database "
                               "cannot use");
        return api_db_fail(r, "reading the audit log", e);
    }
    api_send_cell(r, 200, res);
    PQclear(res);
    return 0;
}

static int h_audit_verify(struct api_req *r)
{
    const char *e = NULL;
    long long rows = 0, bad = 0;
    char why[256];
    if (audit_verify(r->db, &rows, &bad, why, sizeof(why), &e) < 0)
        return api_db_fail(r, "verifying the audit log", e);
    json_t *o = json_pack("{s:b, s:I}", "ok", bad == 0, "rows", (json_int_t)rows);
    if (bad) {
        json_object_set_new(o, "first_bad_seq", json_integer(bad));
        json_object_set_new(o, "reason", json_string(why));
    }
    return api_json(r, 200, o);
}

/* ---- webhooks ------------------------------------------------------------------------ */

#define HOOK_COLS "id, url, events, enabled, created_by, created_at"

static int hook_send(struct api_req *r, int status, const char *id, const char *secret)
{
    const char *e = NULL;
    const char *p[] = { id };
    PGresult *res = db_exec(r->db, "SELECT row_to_json(x)::text FROM (SELECT " HOOK_COLS
                                   " FROM webhooks WHERE id = $1) x", 1, p, &e);
    if (res == NULL)
        return api_db_fail(r, "reading the webhook", e);
    if (PQntuples(res) != 1) {
        PQclear(res);
        return api_problem(r, 404, NULL, "no such webhook");
    }
    json_t *o = json_loads(PQgetvalue(res, 0, 0), 0, NULL);
    PQclear(res);
    if (o && secret)
        json_object_set_new(o, "secret", json_string(secret));
    return api_json(r, status, o);
}

static int hook_check(struct api_req *r, json_t *b)
{
    const char *url = api_str(b, "url");
    if (url && strncmp(url, "https://", 8) != 0 && strncmp(url, "http://", 7) != 0)
        return api_problem(r, 400, "url", "field 'url' must be an http:// or https:// URL"), -1;
    for (const char *p = url; p && *p; p++)
        if ((unsigned char)*p <= 0x20 || (unsigned char)*p == 0x7f)
            return api_problem(r, 400, "url", "field 'url' must not contain spaces or control "
                               "characters"), -1;
    json_t *ev = json_object_get(b, "events");
    if (ev && json_array_size(ev) == 0)
        return api_problem(r, 400, "events", "field 'events' must name at least one event"), -1;
    size_t i;
    json_t *x;
    json_array_foreach(ev, i, x) {
        if (!jobkind_event_valid(json_string_value(x)))
            return api_problem(r, 400, "events", "'%s' is not an event name (like ticket.created)",
                               json_string_value(x)), -1;
    }
    return 0;
}

static const struct api_field hook_fields[] = {
    { "url", F_STR, false, 2000 }, { "events", F_STR_ARRAY, false, 0 },
    { "enabled", F_BOOL, false, 0 }, { NULL, 0, 0, 0 } };

static char *events_literal(json_t *ev)
{
    struct strbuf b = STRBUF_INIT;
    size_t i;
    json_t *x;
    strbuf_addc(&b, '{');
    json_array_foreach(ev, i, x) {
        if (i)
            strbuf_addc(&b, ',');
        strbuf_adds(&b, json_string_value(x));   /* event names: [a-z0-9_.] only */
    }
    strbuf_addc(&b, '}');
    return strbuf_steal(&b, NULL);
}

static int h_hook_create(struct api_req *r)
{
    const char *e = NULL;
    json_t *b = api_body(r, hook_fields);
    if (b == NULL || hook_check(r, b) < 0)
        return 0;
    if (!api_str(b, "url") || !json_object_get(b, "events"))
        return api_problem(r, 400, api_str(b, "url") ? "events" : "url", "fields 'url' and 'events' are required");
    char secret[TOKEN_MAX];
    if (token_new("whsec_", secret, sizeof(secret), &e) < 0)
        return api_problem(r, 500, NULL, "%s", e);
    char *evs = events_literal(json_object_get(b, "events"));
    json_t *en = json_object_get(b, "enabled");
    const char *p[] = { api_str(b, "url"), evs, secret, en && !json_is_true(en) ? "f" : "t", api_uid(r) };
    char id[24] = "", target[40];
    if (db_begin(r->db, &e) < 0)
        goto fail;
    PGresult *res = db_exec(r->db, "INSERT INTO webhooks (url, events, secret, enabled, created_by)"
                                   " VALUES ($1, $2::text[], $3, $4, $5) RETURNING id", 5, p, &e);
    if (res == NULL)
        goto fail;
    snprintf(id, sizeof(id), "%s", PQgetvalue(res, 0, 0));
    PQclear(res);
    snprintf(target, sizeof(target), "webhook:%s", id);
    json_t *d = json_pack("{s:s, s:O}", "url", api_str(b, "url"), "events", json_object_get(b, "events"));
    int rc = api_audit(r, "webhook.create", target, d, &e);
    json_decref(d);
    if (rc < 0 || db_commit(r->db, &e) < 0)
        goto fail;
    free(evs);
    return hook_send(r, 201, id, secret);
fail:
    free(evs);
    db_rollback(r->db);
    return api_db_fail(r, "creating the webhook", e);
}

static int h_hook_list(struct api_req *r)
{
    const char *e = NULL;
    if (api_query_check(r, NULL) < 0)
        return 0;
    PGresult *res = db_exec(r->db, "SELECT json_build_object('items', coalesce(json_agg(x ORDER BY x.id),"
                                   " '[]')) FROM (SELECT " HOOK_COLS " FROM webhooks) x", 0, NULL, &e);
    if (res == NULL)
        return api_db_fail(r, "listing webhooks", e);
    api_send_cell(r, 200, res);
    PQclear(res);
    return 0;
}

static int h_hook_get(struct api_req *r)
{
    char id[24];
    if (api_query_check(r, NULL) < 0)
        return 0;
    snprintf(id, sizeof(id), "%lld", r->m.ids[0]);
    return hook_send(r, 200, id, NULL);
}

static int h_hook_update(struct api_req *r)
{
    const char *e = NULL;
    json_t *b = api_body(r, hook_fields);
    if (b == NULL || hook_check(r, b) < 0)
        return 0;
    char id[24], target[40];
    snprintf(id, sizeof(id), "%lld", r->m.ids[0]);
    snprintf(target, sizeof(target), "webhook:%s", id);
    json_t *ev = json_object_get(b, "events"), *en = json_object_get(b, "enabled");
    char *evs = ev ? events_literal(ev) : NULL;
    const char *p[] = { id, api_str(b, "url") ? "t" : "f", api_str(b, "url"), ev ? "t" : "f", evs,
                        en ? "t" : "f", json_is_true(en) ? "t" : "f" };
    if (db_begin(r->db, &e) < 0)
        goto fail;
    PGresult *res = db_exec(r->db,
        "UPDATE webhooks SET url = CASE WHEN $2::boolean THEN $3 ELSE url END,"
        " events = CASE WHEN $4::boolean THEN $5::text[] ELSE events END,"
        " enabled = CASE WHEN $6::boolean THEN $7::boolean ELSE enabled END"
        " WHERE id = $1 RETURNING id", 7, p, &e);
    if (res == NULL)
        goto fail;
    int n = PQntuples(res);
    PQclear(res);
    if (n == 0) {
        db_rollback(r->db);
        free(evs);
        return api_problem(r, 404, NULL, "no such webhook");
    }
    if (api_audit(r, "webhook.update", target, b, &e) < 0 || db_commit(r->db, &e) < 0)
        goto fail;
    free(evs);
    return hook_send(r, 200, id, NULL);
fail:
    free(evs);
    db_rollback(r->db);
    return api_db_fail(r, "updating the webhook", e);
}

static int h_hook_delete(struct api_req *r)
{
    const char *e = NULL;
    char id[24], target[40];
    if (api_no_body(r) < 0)
        return 0;
    snprintf(id, sizeof(id), "%lld", r->m.ids[0]);
    snprintf(target, sizeof(target), "webhook:%s", id);
    const char *p[] = { id };
    if (db_begin(r->db, &e) < 0)
        goto fail;
    PGresult *res = db_exec(r->db, "DELETE FROM webhooks WHERE id = $1 RETURNING id", 1, p, &e);
    if (res == NULL)
        goto fail;
    int n = PQntuples(res);
    PQclear(res);
    if (n == 0) {
        db_rollback(r->db);
        return api_problem(r, 404, NULL, "no such webhook");
    }
    if (api_audit(r, "webhook.delete", target, NULL, &e) < 0 || db_commit(r->db, &e) < 0)
        goto fail;
    return api_no_content(r);
fail:
    db_rollback(r->db);
    return api_db_fail(r, "deleting the webhook", e);
}

static int h_hook_deliveries(struct api_req *r)
{
    const char *e = NULL;
    if (api_query_check(r, NULL) < 0)
        return 0;
    char id[24];
    snprintf(id, sizeof(id), "%lld", r->m.ids[0]);
    const char *p[] = { id };
    PGresult *res = db_exec(r->db,
        "SELECT CASE WHEN EXISTS (SELECT 1 FROM webhooks WHERE id = $1) THEN"
        " json_build_object('items', coalesce((SELECT json_agg(x ORDER BY x.id DESC) FROM"
        "  (SELECT id, event, state, attempts, last_status, last_error, created_at, delivered_at"
        "     FROM webhook_deliveries WHERE webhook_id = $1 ORDER BY id DESC LIMIT 200) x), '[]'))"
        " END", 1, p, &e);
    if (res == NULL)
        return api_db_fail(r, "listing deliveries", e);
    api_send_cell(r, 200, res);
    PQclear(res);
    return 0;
}

/* ---- OpenAPI ------------------------------------------------------------------------ */

static int h_openapi(struct api_req *r)
{
    return api_raw(r, 200, "application/json", openapi_json, openapi_json_len);
}

const struct api_route api_ops_routes[] = {
    { "GET", "/api/v1/openapi.json", ATUM_ROLE_NONE, API_PUBLIC, h_openapi },
    { "GET", "/api/v1/attachments/{id}", ATUM_ROLE_CUSTOMER, 0, h_attachment },
    { "GET", "/api/v1/jobs", ATUM_ROLE_ADMIN, 0, h_jobs },
    { "GET", "/api/v1/jobs/stats", ATUM_ROLE_ADMIN, 0, h_job_stats },
    { "POST", "/api/v1/jobs/{id}/retry", ATUM_ROLE_ADMIN, 0, h_job_retry },
    { "POST", "/api/v1/jobs/retry-dead", ATUM_ROLE_ADMIN, 0, h_job_retry_dead },
    { "GET", "/api/v1/plugins", ATUM_ROLE_ADMIN, 0, h_plugins },
    { "PATCH", "/api/v1/plugins/{name}", ATUM_ROLE_ADMIN, 0, h_plugin_set },
    { "GET", "/api/v1/audit", ATUM_ROLE_ADMIN, 0, h_audit },
    { "GET", "/api/v1/audit/verify", ATUM_ROLE_ADMIN, 0, h_audit_verify },
    { "GET", "/api/v1/webhooks", ATUM_ROLE_ADMIN, 0, h_hook_list },
    { "POST", "/api/v1/webhooks", ATUM_ROLE_ADMIN, 0, h_hook_create },
    { "GET", "/api/v1/webhooks/{id}", ATUM_ROLE_ADMIN, 0, h_hook_get },
    { "PATCH", "/api/v1/webhooks/{id}", ATUM_ROLE_ADMIN, 0, h_hook_update },
    { "DELETE", "/api/v1/webhooks/{id}", ATUM_ROLE_ADMIN, 0, h_hook_delete },
    { "GET", "/api/v1/webhooks/{id}/deliveries", ATUM_ROLE_ADMIN, 0, h_hook_deliveries },
    { NULL, NULL, 0, 0, NULL }
};
