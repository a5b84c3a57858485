/* mailout/template_admin.c -- see mailout/template_admin.h. */
#include "config.h"
#include "mailout/template_admin.h"
#include "mailout/outbox-private.h"
#include "mailout/template.h"
#include "core/runtime.h"
#include "lib/strbuf.h"
#include "lib/xalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_PROBLEMS 20

static json_t *variables_json(const char *name)
{
    json_t *a = json_array();
    for (const char *const *v = tmpl_variables(name); v && *v; v++)
        json_array_append_new(a, json_string(*v));
    return a;
}

/* The scope names a template and, when it has one, a queue that exists;
 * *queue_name_r (may be NULL) gets the queue's name, malloc'd. */
static int scope_check(struct db_conn *c, const struct mailadmin_tmpl_scope *s, char **queue_name_r,
                       struct err *err)
{
    if (queue_name_r)
        *queue_name_r = NULL;
    if (s->name == NULL || tmpl_variables(s->name) == NULL)
        return err_raise(err, ERR_NOT_FOUND, NULL, "no mail template named '%s'",
                         s->name ? s->name : "");
    if (s->queue_id <= 0)
        return 0;
    const char *e = NULL;
    char q[24];
    snprintf(q, sizeof(q), "%lld", s->queue_id);
    const char *p[] = { q };
    PGresult *r = db_exec(c, "SELECT name FROM queues WHERE id = $1", 1, p, &e);
    if (r == NULL)
        return err_failed(err, "reading the queue: %s", e);
    int found = PQntuples(r);
    if (found && queue_name_r)
        *queue_name_r = xstrdup(PQgetvalue(r, 0, 0));
    PQclear(r);
    if (!found)
        return err_raise(err, ERR_NOT_FOUND, "queue_id", "no queue %lld", s->queue_id);
    return 0;
}

/* "Subject: S" / "---" / B into its two parts (malloc'd). */
static void split_source(const char *src, char **subject_r, char **body_r)
{
    const char *subj = strncmp(src, "Subject:", 8) == 0 ? src + 8 : src;
    while (*subj == ' ')
        subj++;
    const char *nl = strchr(subj, '\n');
    if (nl == NULL) {
        *subject_r = xstrdup(subj);
        *body_r = xstrdup("");
        return;
    }
    *subject_r = xstrndup(subj, (size_t)(nl - subj));
    const char *body = nl + 1;
    if (strncmp(body, "---\n", 4) == 0)
        body += 4;
    *body_r = xstrdup(body);
}

static char *join_source(const char *subject, const char *body)
{
    struct strbuf b = STRBUF_INIT;
    strbuf_addf(&b, "Subject: %s\n---\n%s", subject, body);
    char *s = strbuf_steal(&b, NULL);
    return s ? s : xstrdup("");
}

json_t *template_admin_list(struct db_conn *c, struct err *err)
{
    const char *e = NULL;
    PGresult *r = db_exec(c, "SELECT t.name, t.queue_id, q.name, t.updated_at FROM mail_templates t"
                             "  LEFT JOIN queues q ON q.id = t.queue_id ORDER BY t.name, t.queue_id NULLS FIRST",
                          0, NULL, &e);
    if (r == NULL) {
        err_failed(err, "listing templates: %s", e);
        return NULL;
    }
    json_t *items = json_array();
    const char *name;
    for (size_t k = 0; (name = tmpl_name_at(k)) != NULL; k++) {
        json_t *queues = json_array(), *global = json_null();
        for (int i = 0; i < PQntuples(r); i++) {
            if (strcmp(PQgetvalue(r, i, 0), name) != 0)
                continue;
            if (PQgetisnull(r, i, 1)) {
                json_decref(global);
                global = json_pack("{s:s}", "updated_at", PQgetvalue(r, i, 3));
            } else {
                json_array_append_new(queues, json_pack("{s:I, s:s, s:s}", "queue_id",
                    (json_int_t)atoll(PQgetvalue(r, i, 1)), "queue_name", PQgetvalue(r, i, 2),
                    "updated_at", PQgetvalue(r, i, 3)));
            }
        }
        json_array_append_new(items, json_pack("{s:s, s:o, s:o, s:o}", "name", name, "variables",
                                               variables_json(name), "global", global, "queues", queues));
    }
    PQclear(r);
    return json_pack("{s:o}", "items", items);
}

json_t *template_admin_get(struct db_conn *c, const struct mailadmin_tmpl_scope *s, struct err *err)
{
    if (scope_check(c, s, NULL, err) < 0)
        return NULL;
    const char *e = NULL;
    char q[24];
    snprintf(q, sizeof(q), "%lld", s->queue_id);
    const char *p[] = { q, s->name };
    PGresult *r = db_exec(c, "SELECT queue_id, source, updated_at FROM mail_templates WHERE name = $2"
                             " AND (queue_id = $1::bigint OR queue_id IS NULL)"
                             " ORDER BY queue_id NULLS LAST LIMIT 1", 2, p, &e);
    if (r == NULL) {
        err_failed(err, "reading the template: %s", e);
        return NULL;
    }
    const char *origin = "default", *src = tmpl_builtin(s->name), *updated = NULL;
    if (PQntuples(r) == 1) {
        origin = PQgetisnull(r, 0, 0) ? "global" : "queue";
        src = PQgetvalue(r, 0, 1);
        updated = PQgetvalue(r, 0, 2);
    }
    /* whether DELETE on this scope has something to remove */
    bool own = strcmp(origin, s->queue_id > 0 ? "queue" : "global") == 0;
    char *subject, *body, *dsubject, *dbody;
    split_source(src ? src : "", &subject, &body);
    split_source(tmpl_builtin(s->name), &dsubject, &dbody);
    json_t *v = json_pack("{s:s, s:o, s:s, s:b, s:s, s:s, s:o, s:s?, s:{s:s, s:s}}",
        "name", s->name, "queue_id", s->queue_id > 0 ? json_integer(s->queue_id) : json_null(),
        "origin", origin, "override", own, "subject", subject, "body", body,
        "variables", variables_json(s->name), "updated_at", updated,
        "default", "subject", dsubject, "body", dbody);
    PQclear(r);
    free(subject);
    free(body);
    free(dsubject);
    free(dbody);
    if (v == NULL)
        err_failed(err, "the stored template is not valid UTF-8");
    return v;
}

/* The first problem of a template being written, as the error. */
static int problems_fail(const char *name, const char *subject, const char *body, struct err *err)
{
    struct tmpl_problem pr[1];
    if (tmpl_problems(name, subject, body, pr, 1) > 0)
        return err_raise(err, ERR_INVALID, pr[0].part, "%s line %d: %s", pr[0].part, pr[0].line,
                         pr[0].message);
    /* what the scan cannot see: the renderer has the last word */
    const char *e = NULL;
    char *src = join_source(subject, body);
    int rc = tmpl_check(name, src, &e);
    free(src);
    if (rc < 0)
        return err_raise(err, ERR_INVALID, "body", "%s", e);
    return 0;
}

int template_admin_put(struct db_conn *c, const struct mailadmin_tmpl_scope *s, const char *subject,
                       const char *body, bool *created_r, struct err *err)
{
    *created_r = false;
    if (scope_check(c, s, NULL, err) < 0)
        return -1;
    if (*subject == '\0')
        return err_raise(err, ERR_INVALID, "subject", "the subject must not be empty");
    if (problems_fail(s->name, subject, body, err) < 0)
        return -1;
    const char *e = NULL;
    char q[24];
    snprintf(q, sizeof(q), "%lld", s->queue_id);
    char *src = join_source(subject, body);
    const char *p[] = { q, s->name, src };
    PGresult *r = s->queue_id > 0
        ? db_exec(c, "INSERT INTO mail_templates (queue_id, name, source) VALUES ($1, $2, $3)"
                     " ON CONFLICT (queue_id, name) DO UPDATE SET source = excluded.source, updated_at = now()"
                     " RETURNING xmax = 0", 3, p, &e)
        : db_exec(c, "INSERT INTO mail_templates (queue_id, name, source) VALUES (NULL, $2, $3)"
                     " ON CONFLICT (name) WHERE queue_id IS NULL"
                     " DO UPDATE SET source = excluded.source, updated_at = now()"
                     " RETURNING xmax = 0 AND $1::bigint = 0", 3, p, &e);
    free(src);
    if (r == NULL)
        return err_failed(err, "storing the template: %s", e);
    *created_r = PQgetvalue(r, 0, 0)[0] == 't';
    PQclear(r);
    return 0;
}

int template_admin_reset(struct db_conn *c, const struct mailadmin_tmpl_scope *s, struct err *err)
{
    if (scope_check(c, s, NULL, err) < 0)
        return -1;
    const char *e = NULL;
    char q[24];
    snprintf(q, sizeof(q), "%lld", s->queue_id);
    const char *p[] = { q, s->name };
    PGresult *r = db_exec(c, "DELETE FROM mail_templates WHERE name = $2"
                             " AND queue_id IS NOT DISTINCT FROM nullif($1::bigint, 0) RETURNING 1",
                          2, p, &e);
    if (r == NULL)
        return err_failed(err, "removing the template: %s", e);
    int n = PQntuples(r);
    PQclear(r);
    if (n == 0)
        return err_raise(err, ERR_NOT_FOUND, NULL, "template %s has no %s override", s->name,
                         s->queue_id > 0 ? "queue" : "global");
    return 0;
}

/* ---- preview -------------------------------------------------------------- */

/* A plausible value for every variable any template has. */
static const char *sample(const char *var, const char *queue_name, const char *portal, const char *desk,
                          const char *note_marker)
{
    static const struct { const char *name, *value; } samples[] = {
        { "ticket", "1042" },
        { "subject", "The printer on the third floor is jammed" },
        { "reply_subject", "Re: [#1042] The printer on the third floor is jammed" },
        { "message", "Hello Casey,\n\nwe have replaced the fuser unit; the printer works again.\n\n"
                     "Kind regards,\nAlex" },
        { "agent_name", "Alex Agent" },
        { "customer_name", "Casey Customer" },
        { "customer_email", "casey@example.org" },
        { "notice_title", "Waiting for the customer for 3 days" },
        { "notice_body", "Ticket #1042 has had no answer from the customer since Monday." },
        { "portal_title", "Help centre" },
        { "expires", "in 1 hour" },
    };
    if (strcmp(var, "queue_name") == 0)
        return queue_name;
    if (strcmp(var, "portal_url") == 0 || strcmp(var, "link_url") == 0 || strncmp(var, "rate", 4) == 0)
        return portal;
    if (strcmp(var, "desk_url") == 0)
        return desk;
    if (strcmp(var, "note_marker") == 0)
        return note_marker;
    for (size_t i = 0; i < sizeof(samples) / sizeof(samples[0]); i++)
        if (strcmp(samples[i].name, var) == 0)
            return samples[i].value;
    return var;
}

json_t *template_admin_preview(struct db_conn *c, struct runtime *rt, const struct mailadmin_tmpl_scope *s,
                               const char *subject, const char *body, struct err *err)
{
    char *queue_name = NULL;
    if (scope_check(c, s, &queue_name, err) < 0)
        return NULL;
    json_t *v = NULL;
    struct tmpl_problem pr[MAX_PROBLEMS];
    int np = tmpl_problems(s->name, subject, body, pr, MAX_PROBLEMS);
    json_t *errors = json_array();
    for (int i = 0; i < np && i < MAX_PROBLEMS; i++)
        json_array_append_new(errors, json_pack("{s:s, s:i, s:s}", "field", pr[i].part, "line",
                                                pr[i].line, "message", pr[i].message));
    char *portal = outbox_url_for(rt->cfg, "portal", 1042);
    char *desk = outbox_url_for(rt->cfg, "desk", 1042);
    struct tmpl_var vars[16];
    size_t n = 0;
    for (const char *const *x = tmpl_variables(s->name); *x && n < 16; x++, n++) {
        vars[n].name = *x;
        vars[n].value = sample(*x, queue_name ? queue_name : "Support", portal, desk,
                               rt->cfg->mail_note_marker ? rt->cfg->mail_note_marker : "#note");
    }
    struct strbuf sb = STRBUF_INIT, tb = STRBUF_INIT, hb = STRBUF_INIT;
    if (np == 0) {
        const char *e = NULL;
        char *src = join_source(subject, body);
        if (tmpl_render(src, vars, n, &sb, &tb, &hb, &e) < 0)
            json_array_append_new(errors, json_pack("{s:s, s:n, s:s}", "field", "body", "line",
                                                    "message", e));
        free(src);
    }
    bool ok = json_array_size(errors) == 0;
    v = json_pack("{s:b, s:s?, s:s?, s:s?, s:o}", "ok", ok, "subject", ok ? strbuf_str(&sb) : NULL,
                  "text", ok ? strbuf_str(&tb) : NULL, "html", ok ? strbuf_str(&hb) : NULL,
                  "errors", errors);
    if (v == NULL)
        err_failed(err, "the preview is not valid UTF-8");
    strbuf_free(&sb);
    strbuf_free(&tb);
    strbuf_free(&hb);
    free(portal);
    free(desk);
    free(queue_name);
    return v;
}
