/* desk/macro.c -- see desk/macro.h. */
#include "config.h"
#include "desk/macro.h"
#include "desk/placeholder.h"
#include "desk/status.h"
#include "desk/ticket.h"
#include "lib/strbuf.h"
#include "lib/xalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TITLE_MAX 200
#define BODY_MAX (100 * 1000)
#define CATEGORY_MAX 100

int macro_actions_check(json_t *actions, struct err *err)
{
    if (!json_is_object(actions))
        return err_raise(err, ERR_INVALID, "actions", "actions must be an object of field changes");
    const char *key;
    json_t *v;
    enum ticket_status st;
    json_object_foreach(actions, key, v) {
        if (strcmp(key, "status") == 0) {
            if (!json_is_string(v) || ticket_status_parse(json_string_value(v), &st) < 0)
                return err_raise(err, ERR_INVALID, "actions.status", "status must be one of new, open, "
                                 "pending, solved, closed");
        } else if (strcmp(key, "priority") == 0) {
            if (!json_is_string(v) || !ticket_priority_valid(json_string_value(v)))
                return err_raise(err, ERR_INVALID, "actions.priority", "priority must be one of "
                                 TICKET_PRIORITIES);
        } else if (strcmp(key, "category") == 0) {
            if (!json_is_null(v) && (!json_is_string(v) || json_string_length(v) > CATEGORY_MAX
                                     || json_string_length(v) == 0))
                return err_raise(err, ERR_INVALID, "actions.category", "category must be a text of 1 "
                                 "to %d bytes, or null to clear it", CATEGORY_MAX);
        } else if (strcmp(key, "assignee_id") == 0) {
            if (!(json_is_null(v) || (json_is_integer(v) && json_integer_value(v) > 0)
                  || (json_is_string(v) && strcmp(json_string_value(v), "me") == 0)))
                return err_raise(err, ERR_INVALID, "actions.assignee_id", "assignee_id must be a user "
                                 "id, \"me\" (whoever applies the macro) or null (unassign)");
        } else if (strcmp(key, "queue_id") == 0) {
            if (!json_is_integer(v) || json_integer_value(v) <= 0)
                return err_raise(err, ERR_INVALID, "actions.queue_id", "queue_id must be a queue id");
        } else {
            return err_raise(err, ERR_INVALID, "actions", "unknown action '%s' (status, priority, "
                             "category, assignee_id, queue_id)", key);
        }
    }
    return 0;
}

static int check_in(const struct macro_in *in, bool add, struct err *err)
{
    if (add && (in->title == NULL))
        return err_raise(err, ERR_INVALID, "title", "field 'title' is required");
    if (in->title && (in->title[0] == '\0' || strlen(in->title) > TITLE_MAX))
        return err_raise(err, ERR_INVALID, "title", "a macro's title is 1 to %d bytes", TITLE_MAX);
    if (in->body && strlen(in->body) > BODY_MAX)
        return err_raise(err, ERR_INVALID, "body", "a macro's text is at most %d bytes", BODY_MAX);
    if (in->visibility && strcmp(in->visibility, "public") != 0 && strcmp(in->visibility, "internal") != 0)
        return err_raise(err, ERR_INVALID, "visibility", "visibility must be public (a reply) or "
                         "internal (a note)");
    if (in->actions && macro_actions_check(in->actions, err) < 0)
        return -1;
    return 0;
}

static int write_fail(const struct desk_tx *tx, const char *e, struct err *err)
{
    const char *st = db_last_sqlstate(tx->db);
    if (strcmp(st, "23505") == 0)
        return err_raise(err, ERR_CONFLICT, "title", "a macro with this title exists already");
    if (strcmp(st, "23503") == 0)
        return err_raise(err, ERR_INVALID, "queue_id", "no such queue");
    return desk_write_fail(tx, "macro", NULL, e, err);
}

static int audit(const struct desk_tx *tx, const char *action, long long id, const char *title,
                 struct err *err)
{
    json_t *d = json_pack("{s:s?}", "title", title);
    int rc = desk_audit(tx, action, "macro", id, d, err);
    json_decref(d);
    return rc;
}

int macro_add(const struct desk_tx *tx, const struct macro_in *in, long long *id_r, struct err *err)
{
    const char *e = NULL;
    if (desk_need_role(tx, ATUM_ROLE_MANAGER, err) < 0 || check_in(in, true, err) < 0)
        return -1;
    const char *body = in->body ? in->body : "";
    json_t *empty = json_object();
    json_t *act = in->actions ? in->actions : empty;
    if (body[0] == '\0' && json_object_size(act) == 0) {
        json_decref(empty);
        return err_raise(err, ERR_INVALID, "body", "a macro needs a text, actions, or both");
    }
    char *atext = json_dumps(act, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(empty);
    char q[24], uid[24];
    snprintf(q, sizeof(q), "%lld", in->queue_id);
    snprintf(uid, sizeof(uid), "%lld", tx->who->user_id);
    const char *p[] = { in->title, body, in->visibility ? in->visibility : "public", atext,
                        in->set_queue && in->queue_id > 0 ? q : NULL,
                        tx->who->kind == DESK_USER ? uid : NULL };
    PGresult *r = db_exec(tx->db, "INSERT INTO macros (title, body, visibility, actions, queue_id, created_by)"
                                  " VALUES ($1, $2, $3, $4::jsonb, $5::bigint, $6::bigint) RETURNING id",
                          6, p, &e);
    free(atext);
    if (r == NULL)
        return write_fail(tx, e, err);
    long long id = atoll(PQgetvalue(r, 0, 0));
    PQclear(r);
    if (audit(tx, "macro.create", id, in->title, err) < 0)
        return -1;
    if (id_r)
        *id_r = id;
    return 0;
}

int macro_update(const struct desk_tx *tx, long long id, const struct macro_in *in, struct err *err)
{
    const char *e = NULL;
    if (desk_need_role(tx, ATUM_ROLE_MANAGER, err) < 0 || check_in(in, false, err) < 0)
        return -1;
    char *atext = in->actions ? json_dumps(in->actions, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    char sid[24], q[24];
    snprintf(sid, sizeof(sid), "%lld", id);
    snprintf(q, sizeof(q), "%lld", in->queue_id);
    const char *p[] = { sid, in->title, in->body, in->visibility, atext, in->set_queue ? "t" : "f",
                        in->set_queue && in->queue_id > 0 ? q : NULL };
    PGresult *r = db_exec(tx->db,
        "UPDATE macros SET title = coalesce($2, title), body = coalesce($3, body),"
        " visibility = coalesce($4, visibility), actions = coalesce($5::jsonb, actions),"
        " queue_id = CASE WHEN $6::boolean THEN $7::bigint ELSE queue_id END, updated_at = now()"
        " WHERE id = $1 RETURNING title, body = '' AND actions = '{}'", 7, p, &e);
    free(atext);
    if (r == NULL)
        return write_fail(tx, e, err);
    if (PQntuples(r) == 0) {
        PQclear(r);
        return err_raise(err, ERR_NOT_FOUND, NULL, "no such macro");
    }
    bool empty = PQgetvalue(r, 0, 1)[0] == 't';
    char *title = xstrdup(PQgetvalue(r, 0, 0));
    PQclear(r);
    int rc = empty ? err_raise(err, ERR_INVALID, "body", "a macro needs a text, actions, or both")
                   : audit(tx, "macro.update", id, title, err);
    free(title);
    return rc;
}

int macro_delete(const struct desk_tx *tx, long long id, struct err *err)
{
    const char *e = NULL;
    if (desk_need_role(tx, ATUM_ROLE_MANAGER, err) < 0)
        return -1;
    char sid[24];
    snprintf(sid, sizeof(sid), "%lld", id);
    const char *p[] = { sid };
    PGresult *r = db_exec(tx->db, "DELETE FROM macros WHERE id = $1 RETURNING title", 1, p, &e);
    if (r == NULL)
        return desk_db_fail(err, "deleting the macro", e);
    if (PQntuples(r) == 0) {
        PQclear(r);
        return err_raise(err, ERR_NOT_FOUND, NULL, "no such macro");
    }
    char *title = xstrdup(PQgetvalue(r, 0, 0));
    PQclear(r);
    int rc = audit(tx, "macro.delete", id, title, err);
    free(title);
    return rc;
}

/* ---- applying ------------------------------------------------------------------ */

struct macro_row {
    char *title, *body, *visibility;
    json_t *actions;
    long long queue_id;
};

static void macro_row_clear(struct macro_row *m)
{
    free(m->title);
    free(m->body);
    free(m->visibility);
    json_decref(m->actions);
    memset(m, 0, sizeof(*m));
}

/* A macro the actor may use: the global ones and those of their queues
 * (every one for managers and admins). */
static int macro_load(const struct desk_tx *tx, long long id, struct macro_row *m, struct err *err)
{
    const char *e = NULL;
    memset(m, 0, sizeof(*m));
    char sid[24], uid[24];
    snprintf(sid, sizeof(sid), "%lld", id);
    snprintf(uid, sizeof(uid), "%lld", tx->who->user_id);
    bool all = tx->who->kind != DESK_USER || tx->who->role >= ATUM_ROLE_MANAGER;
    const char *p[] = { sid, uid, all ? "t" : "f" };
    PGresult *r = db_exec(tx->db,
        "SELECT m.title, m.body, m.visibility, m.actions::text, coalesce(m.queue_id, 0) FROM macros m"
        " WHERE m.id = $1 AND ($3::boolean OR m.queue_id IS NULL OR m.queue_id IN"
        "   (SELECT qm.queue_id FROM queue_members qm WHERE qm.user_id = $2::bigint))", 3, p, &e);
    if (r == NULL)
        return desk_db_fail(err, "reading the macro", e);
    if (PQntuples(r) != 1) {
        PQclear(r);
        return err_raise(err, ERR_NOT_FOUND, "macro_id", "no such macro");
    }
    m->title = xstrdup(PQgetvalue(r, 0, 0));
    m->body = xstrdup(PQgetvalue(r, 0, 1));
    m->visibility = xstrdup(PQgetvalue(r, 0, 2));
    m->actions = json_loads(PQgetvalue(r, 0, 3), 0, NULL);
    m->queue_id = atoll(PQgetvalue(r, 0, 4));
    PQclear(r);
    if (m->actions == NULL)
        m->actions = json_object();
    return 0;
}

int macro_apply(const struct desk_tx *tx, long long ticket_id, long long macro_id, const char *body,
                long long expect_version, struct macro_result *res, struct err *err)
{
    struct macro_row m;
    struct ticket t;
    struct placeholder_values vals;
    struct strbuf text = STRBUF_INIT;
    int ret = -1;
    memset(res, 0, sizeof(*res));
    memset(&t, 0, sizeof(t));
    memset(&vals, 0, sizeof(vals));
    if (!desk_is_staff(tx->who))
        return err_raise(err, ERR_FORBIDDEN, NULL, "only staff apply macros");
    if (body && strlen(body) > BODY_MAX * 10)
        return err_raise(err, ERR_INVALID, "body", "the text is too long");
    if (macro_load(tx, macro_id, &m, err) < 0)
        return -1;
    if (ticket_lock(tx, ticket_id, &t, err) < 0
        || ticket_version_check(&t, expect_version, "version", err) < 0)
        goto out;
    if (m.queue_id > 0 && m.queue_id != t.queue_id) {
        err_raise(err, ERR_INVALID, "macro_id", "this macro is for the tickets of another queue");
        goto out;
    }
    if (macro_actions_check(m.actions, err) < 0)
        goto out;
    if (placeholder_load(tx, ticket_id, &vals, err) < 0)
        goto out;
    res->unknown = json_array();
    placeholder_render(body ? body : m.body, &vals, &text, res->unknown);

    json_t *a = m.actions;
    enum ticket_status st;
    bool has_status = json_is_string(json_object_get(a, "status"))
                      && ticket_status_parse(json_string_value(json_object_get(a, "status")), &st) == 0;
    bool internal = strcmp(m.visibility, "internal") == 0;
    bool posts = false;
    for (size_t i = 0; i < text.len && !posts; i++)
        posts = text.s[i] != ' ' && text.s[i] != '\n' && text.s[i] != '\t' && text.s[i] != '\r';
    /* a public reply carries the status with it (one change, the status
     * model's rules for a reply); a note or no text leaves it to the update */
    bool status_with_reply = posts && !internal && has_status;
    if (posts) {
        struct message_new mn = {
            .author_id = tx->who->kind == DESK_USER ? tx->who->user_id : 0,
            .party = internal ? PARTY_NOTE : PARTY_STAFF,
            .body_text = text.s, .status = status_with_reply ? &st : NULL,
        };
        if (ticket_post_message(tx, ticket_id, &mn, &res->message_id, err) < 0)
            goto out;
    }
    json_t *jc = json_object_get(a, "category"), *ja = json_object_get(a, "assignee_id");
    json_t *jq = json_object_get(a, "queue_id");
    struct ticket_change ch = {
        .status = has_status && !status_with_reply ? &st : NULL,
        .priority = json_string_value(json_object_get(a, "priority")),
        .set_category = jc != NULL, .category = json_string_value(jc),
        .set_assignee = ja != NULL,
        .assignee_id = json_is_integer(ja) ? json_integer_value(ja)
                       : json_is_string(ja) ? tx->who->user_id : 0,
        .queue_id = json_is_integer(jq) ? json_integer_value(jq) : 0,
    };
    if ((ch.status || ch.priority || ch.set_category || ch.set_assignee || ch.queue_id)
        && ticket_update(tx, ticket_id, &ch, &res->changed, err) < 0)
        goto out;
    json_t *d = json_pack("{s:I, s:s, s:o}", "macro_id", (json_int_t)macro_id, "title", m.title,
                          "message_id", res->message_id ? json_integer(res->message_id) : json_null());
    int rc = desk_audit(tx, "ticket.macro", "ticket", ticket_id, d, err);
    json_decref(d);
    if (rc < 0)
        goto out;
    ret = 0;
out:
    if (ret < 0) {
        json_decref(res->unknown);
        res->unknown = NULL;
    }
    strbuf_free(&text);
    placeholder_values_clear(&vals);
    ticket_clear(&t);
    macro_row_clear(&m);
    return ret;
}
