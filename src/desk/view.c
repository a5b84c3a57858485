/* desk/view.c -- see desk/view.h. */
#include "config.h"
#include "desk/view.h"
#include "lib/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define STR(x) #x
#define XSTR(x) STR(x)

static int owner(const struct desk_tx *tx, char uid[24], struct err *err)
{
    if (tx->who->kind != DESK_USER || !desk_is_staff(tx->who))
        return err_raise(err, ERR_FORBIDDEN, NULL, "saved views belong to staff members");
    snprintf(uid, 24, "%lld", tx->who->user_id);
    return 0;
}

static int check_name(const char *name, struct err *err)
{
    size_t n = name ? strlen(name) : 0;
    if (n == 0 || n > VIEW_NAME_MAX)
        return err_raise(err, ERR_INVALID, "name", "a view's name is 1 to %d bytes", VIEW_NAME_MAX);
    bool blank = true;
    for (const char *p = name; *p; p++) {
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            return err_raise(err, ERR_INVALID, "name", "a view's name is one line of text");
        if (*p != ' ')
            blank = false;
    }
    if (blank)
        return err_raise(err, ERR_INVALID, "name", "a view's name must not be blank");
    return 0;
}

static int check_filter(json_t *filter, char **text_r, struct err *err)
{
    if (!json_is_object(filter))
        return err_raise(err, ERR_INVALID, "filter", "a view's filter is an object of list parameters");
    *text_r = json_dumps(filter, JSON_COMPACT | JSON_SORT_KEYS);
    if (*text_r == NULL)
        return err_raise(err, ERR_INVALID, "filter", "the filter cannot be stored");
    return 0;
}

static int write_fail(const struct desk_tx *tx, const char *e, struct err *err)
{
    if (strcmp(db_last_sqlstate(tx->db), "23505") == 0)
        return err_raise(err, ERR_CONFLICT, "name", "you have a view of this name already");
    return desk_write_fail(tx, "view", NULL, e, err);
}

int view_add(const struct desk_tx *tx, const char *name, json_t *filter, long long *id_r,
             struct err *err)
{
    const char *e = NULL;
    char uid[24], *ftext = NULL;
    if (owner(tx, uid, err) < 0 || check_name(name, err) < 0 || check_filter(filter, &ftext, err) < 0)
        return -1;
    const char *p[] = { uid, name, ftext };
    /* the count and the insert in one statement, under a lock on the
     * owner's row, so two tabs cannot pass the limit together */
    PGresult *r = db_exec(tx->db,
        "WITH owner AS (SELECT id FROM users WHERE id = $1 FOR UPDATE)"
        " INSERT INTO saved_views (user_id, name, filter, position)"
        " SELECT o.id, $2, $3::jsonb, coalesce((SELECT max(position) + 1 FROM saved_views"
        "                                       WHERE user_id = o.id), 0)"
        "   FROM owner o WHERE (SELECT count(*) FROM saved_views WHERE user_id = o.id) < "
        XSTR(VIEW_MAX) " RETURNING id", 3, p, &e);
    free(ftext);
    if (r == NULL)
        return write_fail(tx, e, err);
    int n = PQntuples(r);
    if (n == 1 && id_r)
        *id_r = atoll(PQgetvalue(r, 0, 0));
    PQclear(r);
    if (n == 0)
        return err_raise(err, ERR_CONFLICT, NULL, "you have %d saved views, the most there may be; "
                         "delete one first", VIEW_MAX);
    return 0;
}

int view_update(const struct desk_tx *tx, long long id, const char *name, json_t *filter,
                const int *position, struct err *err)
{
    const char *e = NULL;
    char uid[24], sid[24], pos[16], *ftext = NULL;
    if (owner(tx, uid, err) < 0)
        return -1;
    if (name && check_name(name, err) < 0)
        return -1;
    if (filter && check_filter(filter, &ftext, err) < 0)
        return -1;
    snprintf(sid, sizeof(sid), "%lld", id);
    if (position)
        snprintf(pos, sizeof(pos), "%d", *position);
    const char *p[] = { sid, uid, name, ftext, position ? pos : NULL };
    PGresult *r = db_exec(tx->db,
        "UPDATE saved_views SET name = coalesce($3, name), filter = coalesce($4::jsonb, filter),"
        " position = coalesce($5::int, position), updated_at = now()"
        " WHERE id = $1 AND user_id = $2 RETURNING id", 5, p, &e);
    free(ftext);
    if (r == NULL)
        return write_fail(tx, e, err);
    int n = PQntuples(r);
    PQclear(r);
    if (n == 0)
        return err_raise(err, ERR_NOT_FOUND, NULL, "no such view");
    return 0;
}

int view_delete(const struct desk_tx *tx, long long id, struct err *err)
{
    const char *e = NULL;
    char uid[24], sid[24];
    if (owner(tx, uid, err) < 0)
        return -1;
    snprintf(sid, sizeof(sid), "%lld", id);
    const char *p[] = { sid, uid };
    PGresult *r = db_exec(tx->db, "DELETE FROM saved_views WHERE id = $1 AND user_id = $2 RETURNING id",
                          2, p, &e);
    if (r == NULL)
        return desk_db_fail(err, "deleting the view", e);
    int n = PQntuples(r);
    PQclear(r);
    if (n == 0)
        return err_raise(err, ERR_NOT_FOUND, NULL, "no such view");
    return 0;
}
