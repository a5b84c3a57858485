/*
 * web/api_uploads.c -- files in and mail HTML out, for the desk:
 *
 *   POST   /attachments?filename=NAME   the file's bytes as the body (any
 *                                       Content-Type): an upload a reply or
 *                                       note then names in attachment_ids
 *   DELETE /attachments/{id}            an upload no message took yet
 *   GET    /messages/{id}/html[?remote_images=allow]
 *                                       the message's sanitised HTML as a
 *                                       document for the desk's sandboxed
 *                                       frame (web/mailframe.h)
 *
 * Uploads: the body is the file, not a multipart form -- nothing to
 * parse, the browser shows the progress of the one request, and the
 * limit is simply the body's size: mail.max_attachment_size (when
 * mail-in's keys are loaded) and never more than web.max_body; 413
 * names the one that applied.  desk/attachment.h cleans the name, decides
 * the type from the bytes and keeps the upload for its uploader until a
 * message takes it.  GET /attachments/{id} (api_ops.c) serves an upload
 * to its uploader too.
 */
#include "config.h"
#include "web/api.h"
#include "web/api_tickets.h"
#include "web/http.h"
#include "web/mailframe.h"
#include "desk/attachment.h"
#include "core/runtime.h"
#include "lib/err.h"
#include "lib/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define INLINE_IMAGE_MAX (5LL * 1024 * 1024)
#define INLINE_TOTAL_MAX (20LL * 1024 * 1024)

static int h_upload(struct api_req *r)
{
    static const char *const allowed[] = { "filename", NULL };
    const char *e = NULL;
    struct err err = { ERR_OK, NULL, NULL };
    int _desk_rc;
    char name[1024] = "";
    r->body_checked = true;          /* the body is the file, read below */
    if (api_query_check(r, allowed) < 0 || api_query(r, "filename", name, sizeof(name)) < 0)
        return 0;
    runtime_rdlock(r->api->rt);
    long long att_max = r->api->rt->cfg ? r->api->rt->cfg->mail_max_attachment : 0;
    runtime_rdunlock(r->api->rt);
    bool by_mail = att_max > 0 && att_max < r->api->max_body;
    long long limit = by_mail ? att_max : r->api->max_body;
    struct strbuf body = STRBUF_INIT;
    struct http_body_limits lim = r->api->body;   /* the deadlines of every body */
    lim.max = limit;
    lim.chunked_ok = true;                        /* staff only: signed in */
    int st = http_read_body(r->conn, &lim, &body);
    if (st != 0) {
        strbuf_free(&body);
        /* the rest of the body is not read: the connection cannot go on */
        api_add_header(r, "Connection: close");
        if (st == 413)
            return api_problem(r, 413, "file", "the file is larger than %s (%lld bytes)",
                               by_mail ? "mail.max_attachment_size" : "web.max_body", limit);
        if (st == 408)
            return api_problem(r, 408, "file", "the file came too slowly (web.request_timeout, "
                               "web.body_min_rate)");
        return api_problem(r, 400, "file", "the file could not be read completely");
    }
    struct attachment_upload u = {
        .filename = name[0] ? name : NULL, .declared_type = mg_get_header(r->conn, "Content-Type"),
        .data = (const unsigned char *)body.s, .size = body.len, .max_size = limit,
    };
    struct attachment_stored out;
    struct desk_actor who;
    struct desk_tx tx;
    api_actor(r, &who);
    api_desk_tx(r, &who, &tx);
    if (db_begin(r->db, &e) < 0) {
        strbuf_free(&body);
        return api_db_fail(r, "storing the upload", e);
    }
    int rc = DESK_CALL(r, attachment_upload(&tx, &u, &out, &err));
    strbuf_free(&body);
    if (rc < 0) {
        if (err.code == ERR_INVALID && err.field && strcmp(err.field, "size") == 0)
            err.field = "file";
        return api_desk_fail(r, "storing the upload", &err);
    }
    if (db_commit(r->db, &e) < 0) {
        db_rollback(r->db);
        return api_db_fail(r, "storing the upload", e);
    }
    log_info("attachment.uploaded", "user=%lld attachment=%lld size=%zu type=%s", r->user.id, out.id,
             u.size, out.content_type);
    json_t *o = json_pack("{s:I, s:s, s:s, s:I, s:s}", "id", (json_int_t)out.id, "filename", out.filename,
                          "content_type", out.content_type, "size", (json_int_t)u.size, "sha256", out.sha256);
    return api_json(r, 201, o);
}

static int h_discard(struct api_req *r)
{
    const char *e = NULL;
    struct err err = { ERR_OK, NULL, NULL };
    int _desk_rc;
    if (api_no_body(r) < 0)
        return 0;
    struct desk_actor who;
    struct desk_tx tx;
    api_actor(r, &who);
    api_desk_tx(r, &who, &tx);
    if (db_begin(r->db, &e) < 0)
        return api_db_fail(r, "removing the upload", e);
    if (DESK_CALL(r, attachment_discard(&tx, r->m.ids[0], &err)) < 0)
        return api_desk_fail(r, "removing the upload", &err);
    if (db_commit(r->db, &e) < 0) {
        db_rollback(r->db);
        return api_db_fail(r, "removing the upload", e);
    }
    return api_no_content(r);
}

/* ---- a message's HTML ------------------------------------------------------------- */

static int h_html(struct api_req *r)
{
    static const char *const allowed[] = { "remote_images", NULL };
    const char *e = NULL;
    char mode[16];
    int n;
    if (api_query_check(r, allowed) < 0 || (n = api_query(r, "remote_images", mode, sizeof(mode))) < 0)
        return 0;
    if (n && strcmp(mode, "allow") != 0 && strcmp(mode, "block") != 0)
        return api_problem(r, 400, "remote_images", "remote_images must be allow or block");
    bool remote = n && strcmp(mode, "allow") == 0;
    char sid[24];
    snprintf(sid, sizeof(sid), "%lld", r->m.ids[0]);
    struct ticket_visibility v;
    ticket_vis_params(r, &v);
    const char *p[5] = { v.p[0], v.p[1], v.p[2], v.p[3], sid };
    PGresult *res = db_exec(r->db,
        "SELECT m.body_html FROM messages m JOIN tickets t ON t.id = m.ticket_id"
        " WHERE m.id = $5 AND " TICKET_VISIBLE("t")
        "   AND ($2::text <> 'customer' OR m.visibility = 'public')", 5, p, &e);
    if (res == NULL)
        return api_db_fail(r, "reading the message", e);
    if (PQntuples(res) == 0) {
        PQclear(res);
        return api_problem(r, 404, NULL, "no such message");
    }
    if (PQgetisnull(res, 0, 0)) {
        PQclear(res);
        return api_problem(r, 404, NULL, "this message has no HTML part");
    }
    /* its inline images, as data: URLs: the frame may load nothing else
     * unless asked (and never from this origin: it has none) */
    const char *ip[] = { sid };
    PGresult *imgs = db_exec_bin(r->db,
        "SELECT a.content_id, lower(split_part(a.content_type, ';', 1)), b.content FROM attachments a"
        "  JOIN attachment_blobs b ON b.sha256 = a.sha256"
        " WHERE a.message_id = $1::bigint AND a.content_id IS NOT NULL AND a.size <= 5242880"
        "   AND lower(split_part(a.content_type, ';', 1)) IN ('image/png', 'image/jpeg', 'image/gif',"
        "                                                      'image/webp')"
        " ORDER BY a.id LIMIT 100", 1, ip, NULL, NULL, 1, &e);
    if (imgs == NULL) {
        PQclear(res);
        return api_db_fail(r, "reading the message's images", e);
    }
    int ni = PQntuples(imgs);
    struct mailframe_image *fi = ni ? calloc((size_t)ni, sizeof(*fi)) : NULL;
    struct strbuf *urls = ni ? calloc((size_t)ni, sizeof(*urls)) : NULL;
    long long total = 0;
    size_t used = 0;
    for (int i = 0; i < ni && fi && urls; i++) {
        long long len = PQgetlength(imgs, i, 2);
        if (total + len > INLINE_TOTAL_MAX || len > INLINE_IMAGE_MAX)
            continue;
        total += len;
        mailframe_data_url(PQgetvalue(imgs, i, 1), (const unsigned char *)PQgetvalue(imgs, i, 2),
                           (size_t)len, &urls[used]);
        fi[used].content_id = PQgetvalue(imgs, i, 0);
        fi[used].data_url = strbuf_str(&urls[used]);
        used++;
    }
    struct strbuf doc = STRBUF_INIT;
    mailframe_render(PQgetvalue(res, 0, 0), (size_t)PQgetlength(res, 0, 0), fi, used, remote, &doc);
    PQclear(res);
    for (int i = 0; urls && i < ni; i++)
        strbuf_free(&urls[i]);
    free(urls);
    free(fi);
    PQclear(imgs);
    r->answered = true;
    r->status = 200;
    http_send_framed(r->conn, 200, "text/html; charset=utf-8", doc.s ? doc.s : "", doc.len,
                     mailframe_csp(remote));
    strbuf_free(&doc);
    return 0;
}

const struct api_route api_upload_routes[] = {
    { "POST", "/api/v1/attachments", ATUM_ROLE_AGENT, 0, h_upload },
    { "DELETE", "/api/v1/attachments/{id}", ATUM_ROLE_AGENT, 0, h_discard },
    { "GET", "/api/v1/messages/{id}/html", ATUM_ROLE_CUSTOMER, 0, h_html },
    { NULL, NULL, 0, 0, NULL }
};
