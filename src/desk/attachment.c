/* desk/attachment.c -- see desk/attachment.h. */
#include "config.h"
#include "desk/attachment.h"
#include "lib/strbuf.h"
#include "lib/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define STR(x) #x
#define XSTR(x) STR(x)

static int need_person(const struct desk_tx *tx, struct err *err)
{
    if (tx->who->kind != DESK_USER)
        return err_raise(err, ERR_FORBIDDEN, NULL, "uploads belong to a signed-in person");
    if (!desk_is_staff(tx->who))
        return err_raise(err, ERR_FORBIDDEN, NULL, "only staff upload attachments here");
    return 0;
}

/* Uploads nobody took and no draft names, a few at a time. */
static int sweep(const struct desk_tx *tx, struct err *err)
{
    static const struct db_stmt st = {
        "desk_attachment_sweep",
        "DELETE FROM attachments WHERE id IN (SELECT a.id FROM attachments a"
        "  WHERE a.message_id IS NULL"
        "    AND a.uploaded_at < now() - interval '" XSTR(ATTACHMENT_PENDING_HOURS) " hours'"
        "    AND NOT EXISTS (SELECT 1 FROM ticket_drafts d WHERE a.id = ANY (d.attachment_ids))"
        "  LIMIT 20)",
        0
    };
    const char *e = NULL;
    PGresult *r = db_exec_stmt(tx->db, &st, NULL, &e);
    if (r == NULL)
        return desk_db_fail(err, "removing old uploads", e);
    PQclear(r);
    return 0;
}

int attachment_upload(const struct desk_tx *tx, const struct attachment_upload *u,
                      struct attachment_stored *out, struct err *err)
{
    static const struct db_stmt st_blob = {
        "desk_upload_blob",
        "INSERT INTO attachment_blobs (sha256, size, content) VALUES ($1, $2, $3)"
        " ON CONFLICT (sha256) DO NOTHING",
        3
    };
    static const struct db_stmt st_att = {
        "desk_upload",
        "INSERT INTO attachments (message_id, sha256, filename, content_type, size, inline,"
        "                         uploaded_by, uploaded_at)"
        " VALUES (NULL, $1, $2, $3, $4, false, $5, now()) RETURNING id",
        5
    };
    const char *e = NULL;
    memset(out, 0, sizeof(*out));
    if (need_person(tx, err) < 0)
        return -1;
    if (u->size == 0)
        return err_raise(err, ERR_INVALID, "size", "the file is empty");
    if ((long long)u->size > u->max_size)
        return err_raise(err, ERR_INVALID, "size", "the file is %zu bytes; at most %lld are "
                         "accepted (mail.max_attachment_size)", u->size, u->max_size);
    filetype_clean_name(u->filename, out->filename);
    filetype_sniff(u->data, u->size, u->declared_type, out->content_type);
    sha256_hex(u->data, u->size, out->sha256);
    if (sweep(tx, err) < 0)
        return -1;
    char size[32], uid[24];
    snprintf(size, sizeof(size), "%zu", u->size);
    snprintf(uid, sizeof(uid), "%lld", tx->who->user_id);
    const char *bp[] = { out->sha256, size, (const char *)u->data };
    const int bl[] = { 0, 0, (int)u->size };
    const int bf[] = { 0, 0, 1 };
    PGresult *r = db_exec_stmt_bin(tx->db, &st_blob, bp, bl, bf, &e);
    if (r == NULL)
        return desk_db_fail(err, "storing the upload", e);
    PQclear(r);
    const char *ap[] = { out->sha256, out->filename, out->content_type, size, uid };
    r = db_exec_stmt(tx->db, &st_att, ap, &e);
    if (r == NULL)
        return desk_db_fail(err, "storing the upload", e);
    out->id = atoll(PQgetvalue(r, 0, 0));
    PQclear(r);
    return 0;
}

int attachment_discard(const struct desk_tx *tx, long long id, struct err *err)
{
    const char *e = NULL;
    if (need_person(tx, err) < 0)
        return -1;
    char sid[24], uid[24];
    snprintf(sid, sizeof(sid), "%lld", id);
    snprintf(uid, sizeof(uid), "%lld", tx->who->user_id);
    const char *p[] = { sid, uid };
    PGresult *r = db_exec(tx->db, "DELETE FROM attachments WHERE id = $1 AND message_id IS NULL"
                                  " AND uploaded_by = $2 RETURNING id", 2, p, &e);
    if (r == NULL)
        return desk_db_fail(err, "removing the upload", e);
    int n = PQntuples(r);
    PQclear(r);
    if (n == 0)
        return err_raise(err, ERR_NOT_FOUND, NULL, "no such upload (or a message has it already)");
    return 0;
}

int attachment_claim(const struct desk_tx *tx, long long message_id, const long long *ids,
                     size_t n, long long max_total, struct err *err)
{
    const char *e = NULL;
    if (n == 0)
        return 0;
    if (need_person(tx, err) < 0)
        return -1;
    if (n > ATTACHMENT_MAX_PER_MESSAGE)
        return err_raise(err, ERR_INVALID, "attachment_ids", "at most %d attachments a message",
                         ATTACHMENT_MAX_PER_MESSAGE);
    struct strbuf arr = STRBUF_INIT;
    strbuf_addc(&arr, '{');
    for (size_t i = 0; i < n; i++) {
        for (size_t k = 0; k < i; k++)
            if (ids[k] == ids[i]) {
                strbuf_free(&arr);
                return err_raise(err, ERR_INVALID, "attachment_ids", "attachment %lld is named twice",
                                 ids[i]);
            }
        strbuf_addf(&arr, "%s%lld", i ? "," : "", ids[i]);
    }
    strbuf_addc(&arr, '}');
    char mid[24], uid[24];
    snprintf(mid, sizeof(mid), "%lld", message_id);
    snprintf(uid, sizeof(uid), "%lld", tx->who->user_id);
    const char *p[] = { mid, arr.s, uid };
    PGresult *r = db_exec(tx->db,
        "WITH c AS (UPDATE attachments SET message_id = $1"
        "            WHERE id = ANY ($2::bigint[]) AND message_id IS NULL AND uploaded_by = $3"
        "            RETURNING id, size)"
        " SELECT count(*), coalesce(sum(size), 0),"
        "        (SELECT min(x) FROM unnest($2::bigint[]) x WHERE x NOT IN (SELECT id FROM c))"
        "   FROM c", 3, p, &e);
    strbuf_free(&arr);
    if (r == NULL)
        return desk_db_fail(err, "attaching the uploads", e);
    size_t got = (size_t)atoll(PQgetvalue(r, 0, 0));
    long long total = atoll(PQgetvalue(r, 0, 1));
    long long missing = PQgetisnull(r, 0, 2) ? 0 : atoll(PQgetvalue(r, 0, 2));
    PQclear(r);
    if (got != n)
        return err_raise(err, ERR_INVALID, "attachment_ids", "attachment %lld is not an upload of "
                         "yours waiting to be sent", missing);
    if (total > max_total)
        return err_raise(err, ERR_INVALID, "attachment_ids", "the attachments add up to %lld bytes; "
                         "a message may carry at most %lld", total, max_total);
    return 0;
}
