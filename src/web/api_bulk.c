/*
 * web/api_bulk.c -- POST /api/v1/tickets/bulk: one change to many tickets,
 * each through the desk domain on its own, each with its own answer.
 *
 *   {"ids": [1, 2, 3], "changes": {"status": "pending", "assignee_id": 7}}
 *   {"ids": [1, 2, 3], "note": "Customer called, see #42"}
 *   {"ids": [4, 5], "merge_into": 9, "force": false}
 *
 * Exactly one of changes (the fields of PATCH /tickets/{id} but subject),
 * note (an internal note on each) and merge_into.  At most BULK_MAX ids,
 * none twice.  Every ticket is its own transaction -- ticket_update,
 * ticket_post_message or ticket_merge, with its audit row, events and
 * mail -- so one that fails (not found, forbidden, merged, closed) leaves
 * the others done, and the answer says for each what happened:
 *
 *   {"results": [{"id": 1, "status": 200}, {"id": 2, "status": 404,
 *     "detail": "no such ticket"}, ...], "ok": 1, "failed": 1}
 *
 * with the status PATCH /tickets/{id} would have answered (200, 403, 404,
 * 409, 422, 500).  Invalid input as a whole (unknown fields, wrong types,
 * too many ids) is 400 before anything is done.
 *
 * The stale-send guard: "versions" maps ticket ids (as the object's keys)
 * to the version the agent saw ({"1": 4, "3": 9}; ids it leaves out are
 * changed as they are), "into_version" the merge target's.  A ticket that
 * moved on since is not changed and answers 409 with what changed
 * (web/api_tickets.h, ticket_stale_json: "field", "ticket_id", "version",
 * "since", "changes", "messages"); the others are done.  Each merge moves
 * the target's version on by one: the next merge of the same request
 * expects that version, so only another writer's change stops it.
 */
#include "config.h"
#include "web/api.h"
#include "web/api_tickets.h"
#include "desk/ticket.h"
#include "core/runtime.h"
#include "lib/err.h"
#include "lib/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BULK_MAX 500
#define NOTE_MAX (1024 * 1024)

/* The changes object, checked as PATCH checks its body; -1 after 400. */
static int changes_read(struct api_req *r, json_t *c, struct ticket_change *ch, enum ticket_status *st)
{
    const char *key;
    json_t *v;
    memset(ch, 0, sizeof(*ch));
    if (json_object_size(c) == 0)
        return api_problem(r, 400, "changes", "'changes' names no field to change"), -1;
    json_object_foreach(c, key, v) {
        char field[64];
        snprintf(field, sizeof(field), "changes.%s", key);
        if (strcmp(key, "status") == 0) {
            if (!json_is_string(v) || ticket_status_parse(json_string_value(v), st) < 0)
                return api_problem(r, 400, field, "status must be one of new, open, pending, solved, "
                                   "closed"), -1;
            ch->status = st;
        } else if (strcmp(key, "priority") == 0) {
            if (!json_is_string(v) || !ticket_priority_valid(json_string_value(v)))
                return api_problem(r, 400, field, "priority must be one of " TICKET_PRIORITIES), -1;
            ch->priority = json_string_value(v);
        } else if (strcmp(key, "category") == 0) {
            if (!json_is_null(v) && (!json_is_string(v) || json_string_length(v) > 100))
                return api_problem(r, 400, field, "category must be a text of at most 100 bytes, or "
                                   "null"), -1;
            ch->set_category = true;
            ch->category = json_string_value(v);
        } else if (strcmp(key, "assignee_id") == 0) {
            if (!json_is_null(v) && !(json_is_integer(v) && json_integer_value(v) > 0))
                return api_problem(r, 400, field, "assignee_id must be a user id, or null to "
                                   "unassign"), -1;
            ch->set_assignee = true;
            ch->assignee_id = json_is_integer(v) ? json_integer_value(v) : 0;
        } else if (strcmp(key, "queue_id") == 0) {
            if (!json_is_integer(v) || json_integer_value(v) <= 0)
                return api_problem(r, 400, field, "queue_id must be a queue id"), -1;
            ch->queue_id = json_integer_value(v);
        } else {
            return api_problem(r, 400, field, "unknown field '%s' (status, priority, category, "
                               "assignee_id, queue_id)", key), -1;
        }
    }
    return 0;
}

static int status_of(const struct err *err)
{
    switch (err->code) {
    case ERR_NOT_FOUND: return 404;
    case ERR_INVALID: return 422;
    case ERR_FORBIDDEN: return 403;
    case ERR_CONFLICT: return 409;
    default: return 500;
    }
}

/* The version named for ticket id in the versions map, 0 when none. */
static long long version_of(json_t *versions, long long id)
{
    char key[24];
    snprintf(key, sizeof(key), "%lld", id);
    json_t *v = json_object_get(versions, key);
    return json_is_integer(v) ? (long long)json_integer_value(v) : 0;
}

/* Every key of the versions map a ticket of ids (written as the list
 * writes it), every value a version; -1 after 400. */
static int versions_check(struct api_req *r, json_t *versions, json_t *ids)
{
    const char *key;
    json_t *v;
    json_object_foreach(versions, key, v) {
        size_t len = strspn(key, "0123456789");
        long long id = len > 0 && len <= 18 && key[len] == '\0' && key[0] != '0' ? atoll(key) : 0;
        bool listed = false;
        for (size_t i = 0; id > 0 && !listed && i < json_array_size(ids); i++)
            listed = json_integer_value(json_array_get(ids, i)) == id;
        char field[64];
        snprintf(field, sizeof(field), "versions.%.40s", key);
        if (!listed)
            return api_problem(r, 400, field, "'versions' maps the tickets of 'ids' (their "
                               "numbers, like \"12\") to the version seen; %s is not one", key), -1;
        if (!json_is_integer(v) || json_integer_value(v) <= 0)
            return api_problem(r, 400, field, "a version is a positive number (the ticket's "
                               "ETag \"vN\")"), -1;
    }
    return 0;
}

/* A ticket the guard stopped: its result with what changed since. */
static json_t *stale_result(struct api_req *r, long long id, const struct err *err, long long expect,
                            long long into, long long into_expect)
{
    struct err e2 = { ERR_OK, NULL, NULL };
    json_t *o = ticket_stale_json(r, err, id, expect, into, into_expect, &e2);
    if (o == NULL) {
        log_error("api.bulk_failed", "ticket=%lld error=%s", id, e2.text ? e2.text : "");
        return json_pack("{s:I, s:i, s:s, s:s}", "id", (json_int_t)id, "status", 409, "detail",
                         "the ticket changed since you saw it", "field", err->field);
    }
    json_object_set_new(o, "id", json_integer(id));
    json_object_set_new(o, "status", json_integer(409));
    return o;
}

static int h_bulk(struct api_req *r)
{
    static const struct api_field f[] = {
        { "ids", F_ID_ARRAY, true, BULK_MAX }, { "changes", F_OBJECT, false, 0 },
        { "note", F_STR, false, NOTE_MAX }, { "merge_into", F_INT, false, 0 },
        { "force", F_BOOL, false, 0 }, { "versions", F_OBJECT, false, BULK_MAX * 48 },
        { "into_version", F_INT, false, 0 }, { NULL, 0, 0, 0 } };
    json_t *b = api_body(r, f);
    if (b == NULL)
        return 0;
    json_t *ids = json_object_get(b, "ids"), *jc = json_object_get(b, "changes");
    json_t *jm = json_object_get(b, "merge_into"), *jf = json_object_get(b, "force");
    json_t *jv = json_object_get(b, "versions"), *jiv = json_object_get(b, "into_version");
    const char *note = api_str(b, "note");
    if ((jc != NULL) + (note != NULL) + (jm != NULL) != 1)
        return api_problem(r, 400, NULL, "give exactly one of 'changes', 'note' and 'merge_into'");
    if (jf && !jm)
        return api_problem(r, 400, "force", "'force' goes with 'merge_into'");
    if (jiv && !jm)
        return api_problem(r, 400, "into_version", "'into_version' goes with 'merge_into'");
    if (jiv && json_integer_value(jiv) <= 0)
        return api_problem(r, 400, "into_version", "a version is a positive number (the target "
                           "ticket's ETag \"vN\")");
    if (jv && versions_check(r, jv, ids) < 0)
        return 0;
    size_t n = json_array_size(ids);
    if (n == 0)
        return api_problem(r, 400, "ids", "field 'ids' names no ticket");
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; k < i; k++)
            if (json_integer_value(json_array_get(ids, i)) == json_integer_value(json_array_get(ids, k)))
                return api_problem(r, 400, "ids", "ticket %lld is named twice",
                                   (long long)json_integer_value(json_array_get(ids, i)));
    struct ticket_change ch;
    enum ticket_status st;
    if (jc && changes_read(r, jc, &ch, &st) < 0)
        return 0;
    if (note && note[0] == '\0')
        return api_problem(r, 400, "note", "field 'note' must not be empty");
    long long into = jm ? json_integer_value(jm) : 0;
    long long into_expect = jiv ? json_integer_value(jiv) : 0;

    struct desk_actor who;
    struct desk_tx tx;
    api_actor(r, &who);
    api_desk_tx(r, &who, &tx);
    json_t *results = json_array();
    long long ok = 0, stale = 0;
    for (size_t i = 0; i < n; i++) {
        long long id = json_integer_value(json_array_get(ids, i));
        long long expect = version_of(jv, id);
        struct err err = { ERR_OK, NULL, NULL };
        struct ticket_merge_out merged = { 0, 0 };
        const char *e = NULL;
        int _desk_rc, rc;
        if (db_begin(r->db, &e) < 0) {
            rc = err_failed(&err, "%s", e);
        } else if (jc) {
            ch.expect_version = expect;
            rc = DESK_CALL(r, ticket_update(&tx, id, &ch, NULL, &err));
        } else if (note) {
            struct message_new m = { .author_id = r->user.id, .party = PARTY_NOTE, .body_text = note,
                                     .from_addr = r->user.email, .expect_version = expect };
            rc = DESK_CALL(r, ticket_post_message(&tx, id, &m, NULL, &err));
        } else {
            struct ticket_merge_in in = { .source = id, .target = into, .force = json_is_true(jf),
                                          .expect_source = expect, .expect_target = into_expect };
            rc = DESK_CALL(r, ticket_merge(&tx, &in, &merged, &err));
        }
        if (rc == 0 && db_commit(r->db, &e) < 0)
            rc = err_failed(&err, "%s", e);
        json_t *res;
        if (rc == 0) {
            res = json_pack("{s:I, s:i}", "id", (json_int_t)id, "status", 200);
            ok++;
            /* this request's own merge is no change the agent missed */
            if (jm && into_expect > 0)
                into_expect = merged.target_version;
        } else if (ticket_stale(&err)
                   && (strcmp(err.field, "version") == 0 ? expect : into_expect) > 0) {
            struct err conflict = err;
            char detail[256];
            snprintf(detail, sizeof(detail), "%s", err.text ? err.text : "the ticket changed");
            conflict.text = detail;
            if (db_in_transaction(r->db))
                db_rollback(r->db);
            res = stale_result(r, id, &conflict, expect, into, jm ? into_expect : 0);
            stale++;
        } else {
            if (db_in_transaction(r->db))
                db_rollback(r->db);
            int status = status_of(&err);
            if (status == 500)
                log_error("api.bulk_failed", "ticket=%lld error=%s", id, err.text ? err.text : "");
            res = json_pack("{s:I, s:i, s:s}", "id", (json_int_t)id, "status", status, "detail",
                            status == 500 ? "internal error" : err.text ? err.text : "failed");
            if (res == NULL)
                res = json_pack("{s:I, s:i}", "id", (json_int_t)id, "status", status);
            if (err.field && status != 500)
                json_object_set_new(res, "field", json_string(err.field));
        }
        json_array_append_new(results, res);
    }
    log_info("ticket.bulk", "user=%lld tickets=%zu ok=%lld stale=%lld", r->user.id, n, ok, stale);
    return api_json(r, 200, json_pack("{s:o, s:I, s:I, s:I}", "results", results, "ok", (json_int_t)ok,
                                      "failed", (json_int_t)((long long)n - ok),
                                      "stale", (json_int_t)stale));
}

const struct api_route api_bulk_routes[] = {
    { "POST", "/api/v1/tickets/bulk", ATUM_ROLE_AGENT, 0, h_bulk },
    { NULL, NULL, 0, 0, NULL }
};
