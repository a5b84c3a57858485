/* desk/draft.c -- see desk/draft.h. */
#include "config.h"
#include "desk/draft.h"
#include "desk/status.h"
#include "desk/ticket.h"
#include "lib/strbuf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int staff_person(const struct desk_tx *tx, struct err *err)
{
    if (tx->who->kind != DESK_USER || !desk_is_staff(tx->who))
        return err_raise(err, ERR_FORBIDDEN, NULL, "drafts are kept for staff members");
    return 0;
}

int draft_put(const struct desk_tx *tx, long long ticket_id, const struct draft *d,
              char *updated_at_r, struct err *err)
{
    const char *e = NULL;
    enum ticket_status st;
    if (staff_person(tx, err) < 0)
        return -1;
    if (d->kind == NULL || (strcmp(d->kind, "reply") != 0 && strcmp(d->kind, "note") != 0))
        return err_raise(err, ERR_INVALID, "kind", "kind must be reply or note");
    if (d->body == NULL || strlen(d->body) > DRAFT_BODY_MAX)
        return err_raise(err, ERR_INVALID, "body", "a draft's text is at most %d bytes", DRAFT_BODY_MAX);
    if (d->status && ticket_status_parse(d->status, &st) < 0)
        return err_raise(err, ERR_INVALID, "status", "status must be one of new, open, pending, "
                         "solved, closed");
    if (d->nattachments > DRAFT_ATTACHMENTS_MAX)
        return err_raise(err, ERR_INVALID, "attachment_ids", "at most %d attachments",
                         DRAFT_ATTACHMENTS_MAX);
    struct strbuf arr = STRBUF_INIT;
    strbuf_addc(&arr, '{');
    for (size_t i = 0; i < d->nattachments; i++)
        strbuf_addf(&arr, "%s%lld", i ? "," : "", d->attachment_ids[i]);
    strbuf_addc(&arr, '}');
    struct ticket_visibility v;
    ticket_visibility_params(tx->who, &v);
    char sid[24];
    snprintf(sid, sizeof(sid), "%lld", ticket_id);
    const char *p[9] = { v.p[0], v.p[1], v.p[2], v.p[3], sid, d->kind, d->body, d->status, arr.s };
    PGresult *r = db_exec(tx->db,
        "INSERT INTO ticket_drafts AS d (ticket_id, user_id, kind, body, status, attachment_ids)"
        " SELECT t.id, $1::bigint, $6, $7, $8, $9::bigint[] FROM tickets t"
        "  WHERE t.id = $5 AND " TICKET_VISIBLE("t")
        " ON CONFLICT (ticket_id, user_id) DO UPDATE SET kind = excluded.kind, body = excluded.body,"
        "   status = excluded.status, attachment_ids = excluded.attachment_ids, updated_at = now()"
        " RETURNING to_json(d.updated_at)#>>'{}'", 9, p, &e);
    strbuf_free(&arr);
    if (r == NULL)
        return desk_db_fail(err, "saving the draft", e);
    int n = PQntuples(r);
    if (n == 1 && updated_at_r)
        snprintf(updated_at_r, 64, "%s", PQgetvalue(r, 0, 0));
    PQclear(r);
    if (n == 0)
        return err_raise(err, ERR_NOT_FOUND, NULL, "no such ticket");
    return 0;
}

int draft_delete(const struct desk_tx *tx, long long ticket_id, bool *deleted_r, struct err *err)
{
    const char *e = NULL;
    if (deleted_r)
        *deleted_r = false;
    if (tx->who->kind != DESK_USER)
        return 0;          /* the system writes no drafts */
    char sid[24], uid[24];
    snprintf(sid, sizeof(sid), "%lld", ticket_id);
    snprintf(uid, sizeof(uid), "%lld", tx->who->user_id);
    const char *p[] = { sid, uid };
    PGresult *r = db_exec(tx->db, "DELETE FROM ticket_drafts WHERE ticket_id = $1 AND user_id = $2"
                                  " RETURNING 1", 2, p, &e);
    if (r == NULL)
        return desk_db_fail(err, "removing the draft", e);
    if (deleted_r)
        *deleted_r = PQntuples(r) > 0;
    PQclear(r);
    return 0;
}
