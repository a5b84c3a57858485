/* mailin/imap_store.c -- see mailin/imap_store.h. */
#include "config.h"
#include "mailin/imap_store.h"
#include "mail/mailhdr.h"
#include "mail/mime.h"
#include "mail/summary.h"
#include "lib/err.h"
#include "mailin/inbound.h"
#include "lib/log.h"
#include "lib/strbuf.h"
#include "lib/xalloc.h"

#include <jansson.h>
#include <limits.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The header block of a mail is looked at up to this much. */
#define KEY_HEADER_MAX (1024 * 1024)

static void id_str(char out[32], long long v)
{
    snprintf(out, 32, "%lld", v);
}

int imap_store_lock(struct db_conn *db, const struct imap_box *b, const char **error_r)
{
    char key[64];
    snprintf(key, sizeof(key), "mailbox:%lld", b->id);
    const char *params[] = { key };
    const char *e = NULL;
    char *v = db_query_value(db, "SELECT pg_try_advisory_lock(hashtextextended($1, 0))", 1, params, &e);
    if (v == NULL)
        return err_set(error_r, "mailbox lock: %s", e ? e : "no result");
    int got = strcmp(v, "t") == 0;
    free(v);
    return got;
}

void imap_store_unlocked(struct db_conn *db, const struct imap_box *b)
{
    char sid[32];
    const char *e = NULL;
    id_str(sid, b->id);
    const char *params[] = { sid, b->node_id };
    PGresult *r = db_exec(db, "UPDATE mailboxes SET locked_by = NULL WHERE id = $1 AND locked_by = $2",
                          2, params, &e);
    PQclear(r);
}

int imap_store_position(struct db_conn *db, struct imap_box *b, long long server_uidvalidity,
                        bool *changed_r, const char **error_r)
{
    char sid[32];
    id_str(sid, b->id);
    const char *params[] = { sid };
    const char *e = NULL;
    *changed_r = false;
    PGresult *r = db_exec(db, "SELECT coalesce(uidvalidity, 0), last_uid FROM mailboxes WHERE id = $1",
                          1, params, &e);
    if (r == NULL)
        return err_set(error_r, "%s", e);
    if (PQntuples(r) == 0) {
        PQclear(r);
        return err_set(error_r, "mailbox %lld was removed", b->id);
    }
    b->uidvalidity = atoll(PQgetvalue(r, 0, 0));
    b->last_uid = atoll(PQgetvalue(r, 0, 1));
    PQclear(r);
    if (server_uidvalidity == b->uidvalidity)
        return 0;
    if (b->uidvalidity != 0)
        log_warn("imap.uidvalidity_changed", "old=%lld new=%lld hint=%s", b->uidvalidity, server_uidvalidity,
                 "UIDs start again; mails already stored are recognised by their Message-ID and not fetched again");
    char v[32];
    id_str(v, server_uidvalidity);
    const char *up[] = { sid, v };
    r = db_exec(db, "UPDATE mailboxes SET uidvalidity = $2, last_uid = 0 WHERE id = $1", 2, up, &e);
    if (r == NULL)
        return err_set(error_r, "%s", e);
    PQclear(r);
    b->uidvalidity = server_uidvalidity;
    b->last_uid = 0;
    *changed_r = true;
    return 0;
}

void imap_store_status(struct db_conn *db, const struct imap_box *b, const char *error, int held)
{
    char sid[32];
    const char *e = NULL;
    id_str(sid, b->id);
    PGresult *r;
    char text[200];
    if (error == NULL && held > 0) {
        /* not an error of the connection: last_ok_at moves on */
        snprintf(text, sizeof(text), "%d mail%s held in %s (over mail.max_message_size):"
                 " atumctl inbound list --failed", held, held == 1 ? "" : "s", b->folder);
        const char *params[] = { sid, text, b->node_id };
        r = db_exec(db, "UPDATE mailboxes SET last_error = $2, last_ok_at = now(), locked_by = $3"
                        " WHERE id = $1", 3, params, &e);
    } else if (error != NULL) {
        const char *params[] = { sid, error, b->node_id };
        r = db_exec(db, "UPDATE mailboxes SET last_error = $2, locked_by = $3 WHERE id = $1", 3, params, &e);
    } else {
        const char *params[] = { sid, b->node_id };
        r = db_exec(db, "UPDATE mailboxes SET last_error = NULL, last_ok_at = now(), locked_by = $2"
                        " WHERE id = $1", 2, params, &e);
    }
    if (r == NULL)
        log_warn("imap.record_failed", "error=%s", e);
    PQclear(r);
}

/* ---- keys ----------------------------------------------------------------- */

/* "mid:<Message-ID>" of a mail or header block, or NULL when it has none. */
static char *msgid_key(const char *mail, size_t len)
{
    struct strbuf parsebuf = STRBUF_INIT, problems = STRBUF_INIT, ids = STRBUF_INIT;
    struct mail_headers h = { NULL, 0 };
    char *key = NULL;
    mailhdr_prepare(mail, len, KEY_HEADER_MAX, &parsebuf, &h, &problems);
    const char *v = mailhdr_get(&h, "Message-ID");
    if (v != NULL) {
        mailhdr_msgids(v, &ids);
        const char *nl = ids.len ? memchr(ids.s, '\n', ids.len) : NULL;
        size_t n = nl ? (size_t)(nl - ids.s) : ids.len;
        if (n > 0)
            key = xasprintf("mid:%.*s", (int)n, ids.s);
    }
    mailhdr_free(&h);
    strbuf_free(&parsebuf);
    strbuf_free(&problems);
    strbuf_free(&ids);
    return key;
}

/* The key of a whole mail: its Message-ID, else the hash of its bytes. */
static char *mail_key(const char *mail, size_t len)
{
    char *key = msgid_key(mail, len);
    if (key != NULL)
        return key;
    unsigned char md[32];
    size_t mdlen = 0;
    if (!EVP_Q_digest(NULL, "SHA256", NULL, mail, len, md, &mdlen) || mdlen != sizeof(md))
        return NULL;
    char hex[65];
    for (size_t i = 0; i < sizeof(md); i++)
        snprintf(hex + 2 * i, 3, "%02x", md[i]);
    return xasprintf("sha256:%s", hex);
}

/* The key as a text[] literal for ANY(): {"k1","k2"} with quotes escaped. */
static void array_literal(struct strbuf *out, char *const *keys, size_t n)
{
    strbuf_adds(out, "{");
    bool first = true;
    for (size_t i = 0; i < n; i++) {
        if (keys[i] == NULL)
            continue;
        if (!first)
            strbuf_adds(out, ",");
        first = false;
        strbuf_adds(out, "\"");
        for (const char *p = keys[i]; *p; p++) {
            if (*p == '"' || *p == '\\')
                strbuf_adds(out, "\\");
            strbuf_add(out, p, 1);
        }
        strbuf_adds(out, "\"");
    }
    strbuf_adds(out, "}");
}

static int known_keys(struct db_conn *db, const struct imap_box *b, char *const *keys, size_t n, bool *known,
                      const char **error_r)
{
    for (size_t i = 0; i < n; i++)
        known[i] = false;
    size_t present = 0;
    for (size_t i = 0; i < n; i++)
        present += keys[i] != NULL;
    if (present == 0)
        return 0;
    char sid[32];
    const char *e = NULL;
    id_str(sid, b->id);
    struct strbuf arr = STRBUF_INIT;
    array_literal(&arr, keys, n);
    const char *params[] = { sid, arr.s };
    /* held mails are not stored: they do not count */
    PGresult *r = db_exec(db,
        "SELECT DISTINCT envelope->>'message_key' FROM inbound_mail"
        " WHERE source = 'imap' AND mailbox_id = $1 AND envelope->>'message_key' = ANY($2::text[])"
        "   AND NOT (state = 'failed' AND envelope->>'too_large' = 'true')", 2, params, &e);
    strbuf_free(&arr);
    if (r == NULL)
        return err_set(error_r, "looking up stored mails: %s", e);
    for (int row = 0; row < PQntuples(r); row++) {
        const char *k = PQgetvalue(r, row, 0);
        for (size_t i = 0; i < n; i++)
            if (keys[i] != NULL && strcmp(keys[i], k) == 0)
                known[i] = true;
    }
    PQclear(r);
    return 0;
}

int imap_store_known(struct db_conn *db, const struct imap_box *b, char *const *msgids, size_t n,
                     bool *known, const char **error_r)
{
    char **keys = xcalloc(n + 1, sizeof(*keys));
    for (size_t i = 0; i < n; i++)
        if (msgids[i] != NULL)
            keys[i] = xasprintf("mid:%s", msgids[i]);
    int rc = known_keys(db, b, keys, n, known, error_r);
    for (size_t i = 0; i < n; i++)
        free(keys[i]);
    free(keys);
    return rc;
}

/* ---- position ------------------------------------------------------------- */

/* last_uid only grows: a held mail taken in later has a lower UID. */
static int advance_uid(struct db_conn *db, struct imap_box *b, uint32_t uid, const char **error_r)
{
    char sid[32], su[32];
    const char *e = NULL;
    id_str(sid, b->id);
    snprintf(su, sizeof(su), "%u", uid);
    const char *params[] = { sid, su };
    PGresult *r = db_exec(db, "UPDATE mailboxes SET last_uid = greatest(last_uid, $2::bigint),"
                              " last_ok_at = now() WHERE id = $1", 2, params, &e);
    if (r == NULL)
        return err_set(error_r, "%s", e);
    PQclear(r);
    if (uid > b->last_uid)
        b->last_uid = uid;
    return 0;
}

int imap_store_skip(struct db_conn *db, struct imap_box *b, uint32_t uid, const char **error_r)
{
    return advance_uid(db, b, uid, error_r);
}

/* The envelope of a mail from this mailbox (caller frees). */
static char *envelope_json(const struct imap_box *b, uint32_t uid, const char *key, long long held_size)
{
    json_t *env = json_pack("{s:s, s:s, s:I, s:I}", "mailbox", b->name, "folder", b->folder,
                            "uid", (json_int_t)uid, "uidvalidity", (json_int_t)b->uidvalidity);
    if (key != NULL)
        json_object_set_new(env, "message_key", json_string(key));   /* NULL (bad UTF-8): left out */
    if (held_size >= 0) {
        json_object_set_new(env, "too_large", json_true());
        json_object_set_new(env, "size", json_integer((json_int_t)held_size));
    }
    char *s = json_dumps(env, JSON_COMPACT);
    json_decref(env);
    return s;
}

int imap_store_mail(struct db_conn *db, struct imap_box *b, uint32_t uid, const char *data, size_t len,
                    long long replaces, long long *id_r, const char **error_r)
{
    const char *e = NULL;
    char *key = mail_key(data, len);
    char *envs = NULL;
    int ret = -1;
    *id_r = 0;
    if (key != NULL) {
        bool known = false;
        if (known_keys(db, b, &key, 1, &known, error_r) < 0)
            goto out;
        if (known && replaces <= 0) {
            ret = advance_uid(db, b, uid, error_r) < 0 ? -1 : 1;
            goto out;
        }
    }
    envs = envelope_json(b, uid, key, -1);
    if (db_begin(db, &e) < 0) {
        err_set(error_r, "%s", e);
        goto out;
    }
    if (inbound_store(db, "imap", b->id, envs, data, len, id_r, &e) < 0) {
        err_set(error_r, "%s", e);
        goto rollback;
    }
    if (replaces > 0) {
        char sr[32];
        id_str(sr, replaces);
        const char *params[] = { sr };
        PGresult *r = db_exec(db, "DELETE FROM inbound_mail WHERE id = $1 AND state = 'failed'", 1, params, &e);
        if (r == NULL) {
            err_set(error_r, "%s", e);
            goto rollback;
        }
        PQclear(r);
    }
    if (advance_uid(db, b, uid, error_r) < 0)
        goto rollback;
    if (db_commit(db, &e) < 0) {
        err_set(error_r, "%s", e);
        goto out;
    }
    ret = 0;
    goto out;
rollback:
    db_rollback(db);
out:
    free(envs);
    free(key);
    return ret;
}

int imap_store_hold(struct db_conn *db, struct imap_box *b, uint32_t uid, long long size,
                    const char *hdr, size_t hlen, long long *id_r, const char **error_r)
{
    const char *e = NULL;
    char *key = hlen > 0 ? msgid_key(hdr, hlen) : NULL;
    struct mail_limits lim;
    mail_limits_default(&lim);
    struct mail_msg *m = mail_parse(hdr, hlen, &lim);   /* so the list shows its subject */
    json_t *sum = mail_summary_json(m);
    mail_msg_free(&m);
    char *sums = json_dumps(sum, JSON_COMPACT);
    json_decref(sum);
    char *envs = envelope_json(b, uid, key, size);
    char error[300], sid[32], ssize[32];
    snprintf(error, sizeof(error), "larger than mail.max_message_size (%lld > %lld bytes): not stored,"
             " only its headers; left in mailbox %s, folder %s, UID %u", size, b->max_message_size,
             b->name, b->folder, uid);
    id_str(sid, b->id);
    id_str(ssize, size > INT_MAX ? (long long)INT_MAX : size);
    int ret = -1;
    PGresult *r = NULL;
    if (db_begin(db, &e) < 0) {
        err_set(error_r, "%s", e);
        goto out;
    }
    if (key != NULL) {
        /* held before under other UIDs (a new UIDVALIDITY): the same row */
        const char *params[] = { sid, key, envs, error };
        r = db_exec(db, "UPDATE inbound_mail SET envelope = $3::jsonb, error = $4"
                        " WHERE id = (SELECT max(id) FROM inbound_mail"
                        "              WHERE source = 'imap' AND mailbox_id = $1 AND state = 'failed'"
                        "                AND envelope->>'too_large' = 'true' AND envelope->>'message_key' = $2)"
                        " RETURNING id", 4, params, &e);
        if (r == NULL) {
            db_rollback(db);
            err_set(error_r, "recording held mail: %s", e);
            goto out;
        }
        if (PQntuples(r) == 0) {
            PQclear(r);
            r = NULL;
        }
    }
    if (r == NULL) {
        /* no mail.ingest job: there is no mail to ingest, only its trace */
        const char *params[] = { sid, envs, hdr ? hdr : "", ssize, error, sums };
        const int lengths[] = { 0, 0, (int)hlen, 0, 0, 0 };
        const int formats[] = { 0, 0, 1, 0, 0, 0 };
        r = db_exec_bin(db,
            "INSERT INTO inbound_mail (source, mailbox_id, envelope, raw, size, state, error, summary,"
            "                          processed_at)"
            " VALUES ('imap', $1, $2::jsonb, $3, $4::int, 'failed', $5, $6::jsonb, now()) RETURNING id",
            6, params, lengths, formats, 0, &e);
        if (r == NULL) {
            db_rollback(db);
            err_set(error_r, "recording held mail: %s", e);
            goto out;
        }
    }
    *id_r = atoll(PQgetvalue(r, 0, 0));
    PQclear(r);
    if (advance_uid(db, b, uid, error_r) < 0) {
        db_rollback(db);
        goto out;
    }
    if (db_commit(db, &e) < 0) {
        err_set(error_r, "%s", e);
        goto out;
    }
    ret = 0;
out:
    free(envs);
    free(sums);
    free(key);
    return ret;
}

int imap_store_held(struct db_conn *db, const struct imap_box *b, struct imap_held **v, size_t *n,
                    const char **error_r)
{
    char sid[32], sv[32];
    const char *e = NULL;
    id_str(sid, b->id);
    id_str(sv, b->uidvalidity);
    const char *params[] = { sid, sv, b->folder };
    /* failed rows are few and indexed (inbound_mail_state_idx) */
    PGresult *r = db_exec(db,
        "SELECT (envelope->>'uid')::bigint AS uid, coalesce((envelope->>'size')::bigint, 0), max(id)"
        "  FROM inbound_mail"
        " WHERE state = 'failed' AND mailbox_id = $1 AND envelope->>'too_large' = 'true'"
        "   AND envelope->>'uidvalidity' = $2 AND envelope->>'folder' = $3"
        " GROUP BY 1, 2 ORDER BY 1", 3, params, &e);
    if (r == NULL)
        return err_set(error_r, "reading held mails: %s", e);
    *n = (size_t)PQntuples(r);
    *v = xcalloc(*n + 1, sizeof(**v));
    for (size_t i = 0; i < *n; i++) {
        (*v)[i].uid = (uint32_t)atoll(PQgetvalue(r, (int)i, 0));
        (*v)[i].size = atoll(PQgetvalue(r, (int)i, 1));
        (*v)[i].id = atoll(PQgetvalue(r, (int)i, 2));
    }
    PQclear(r);
    return 0;
}
