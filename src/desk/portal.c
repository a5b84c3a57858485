/* desk/portal.c -- see desk/portal.h. */
#include "config.h"
#include "desk/portal.h"
#include "lib/err.h"
#include "lib/util.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>

static int queue_exists(const struct desk_tx *tx, long long queue_id, struct err *err)
{
    const char *e = NULL;
    char sq[24];
    snprintf(sq, sizeof(sq), "%lld", queue_id);
    const char *p[] = { sq };
    PGresult *r = db_exec(tx->db, "SELECT 1 FROM queues WHERE id = $1", 1, p, &e);
    if (r == NULL)
        return desk_db_fail(err, "finding the queue", e);
    int n = PQntuples(r);
    PQclear(r);
    if (n == 0)
        return err_raise(err, ERR_NOT_FOUND, "queue_id", "no such queue");
    return 0;
}

int portal_settings_set(const struct desk_tx *tx, long long queue_id, enum portal_signup signup,
                        const char *title, struct err *err)
{
    const char *e = NULL;
    if (desk_need_role(tx, ATUM_ROLE_ADMIN, err) < 0)
        return -1;
    if (title && (strlen(title) > 200 || !str_utf8_valid(title, strlen(title))))
        return err_raise(err, ERR_INVALID, "title", "the title is at most 200 bytes of UTF-8");
    if (queue_exists(tx, queue_id, err) < 0)
        return -1;
    char sq[24];
    snprintf(sq, sizeof(sq), "%lld", queue_id);
    const char *p[] = { sq, signup == PORTAL_SIGNUP_ON ? "t" : signup == PORTAL_SIGNUP_OFF ? "f" : NULL,
                        title && title[0] ? title : NULL };
    PGresult *r = db_exec(tx->db,
        "INSERT INTO portal_settings (queue_id, signup, title) VALUES ($1, $2::boolean, $3)"
        " ON CONFLICT (queue_id) DO UPDATE SET signup = $2::boolean, title = $3, updated_at = now()",
        3, p, &e);
    if (r == NULL)
        return desk_db_fail(err, "storing the portal settings", e);
    PQclear(r);
    json_t *d = json_pack("{s:s, s:s?}", "signup", signup == PORTAL_SIGNUP_ON ? "on"
                          : signup == PORTAL_SIGNUP_OFF ? "off" : "inherit", "title", p[2]);
    int rc = desk_audit(tx, "portal.settings", "queue", queue_id, d, err);
    json_decref(d);
    return rc;
}

const char *portal_logo_type(const unsigned char *d, size_t n)
{
    if (n >= 8 && memcmp(d, "\x89PNG\r\n\x1a\n", 8) == 0)
        return "image/png";
    if (n >= 3 && d[0] == 0xff && d[1] == 0xd8 && d[2] == 0xff)
        return "image/jpeg";
    if (n >= 12 && memcmp(d, "RIFF", 4) == 0 && memcmp(d + 8, "WEBP", 4) == 0)
        return "image/webp";
    return NULL;
}

int portal_logo_set(const struct desk_tx *tx, long long queue_id, const unsigned char *data,
                    size_t len, struct err *err)
{
    const char *e = NULL;
    if (desk_need_role(tx, ATUM_ROLE_ADMIN, err) < 0)
        return -1;
    if (queue_id > 0 && queue_exists(tx, queue_id, err) < 0)
        return -1;
    char sq[24];
    snprintf(sq, sizeof(sq), "%lld", queue_id);
    PGresult *r;
    json_t *d;
    if (data == NULL) {
        const char *p[] = { sq };
        r = db_exec(tx->db, "DELETE FROM portal_logos WHERE queue_id = $1", 1, p, &e);
        d = json_pack("{s:b}", "removed", 1);
    } else {
        const char *type = portal_logo_type(data, len);
        if (type == NULL || len > PORTAL_LOGO_MAX)
            return err_raise(err, ERR_INVALID, "logo", "a logo is a PNG, JPEG or WebP image of at most "
                             "%d KiB", PORTAL_LOGO_MAX / 1024);
        char hex[65], size[24];
        sha256_hex(data, len, hex);
        snprintf(size, sizeof(size), "%zu", len);
        const char *p[] = { sq, type, (const char *)data, hex };
        const int lens[] = { 0, 0, (int)len, 0 };
        const int fmts[] = { 0, 0, 1, 0 };
        r = db_exec_bin(tx->db,
            "INSERT INTO portal_logos (queue_id, content_type, content, sha256) VALUES ($1, $2, $3, $4)"
            " ON CONFLICT (queue_id) DO UPDATE SET content_type = $2, content = $3, sha256 = $4,"
            "   updated_at = now()", 4, p, lens, fmts, 0, &e);
        d = json_pack("{s:s, s:s, s:s}", "content_type", type, "sha256", hex, "size", size);
    }
    if (r == NULL) {
        json_decref(d);
        return desk_db_fail(err, "storing the logo", e);
    }
    PQclear(r);
    int rc = desk_audit(tx, "portal.logo", "queue", queue_id, d, err);
    json_decref(d);
    return rc;
}
