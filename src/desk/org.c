/* desk/org.c -- see desk/org.h. */
#include "config.h"
#include "desk/org.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool domain_valid(const char *d)
{
    return d && d[0] && strlen(d) <= 253 && !strchr(d, '@') && !strchr(d, ' ') && strchr(d, '.');
}

static int check(const char *name, const char *domain, struct err *err)
{
    if (name && (name[0] == '\0' || strlen(name) > 200))
        return err_raise(err, ERR_INVALID, "name", "an organisation's name is 1 to 200 characters");
    if (domain && !domain_valid(domain))
        return err_raise(err, ERR_INVALID, "domain", "field 'domain' must be a domain name like "
                         "example.com");
    return 0;
}

static int announce(const struct desk_tx *tx, const char *verb, long long id, json_t *detail,
                    struct err *err)
{
    char action[32];
    snprintf(action, sizeof(action), "org.%s", verb);
    int rc = desk_audit(tx, action, "org", id, detail, err);
    if (rc == 0) {
        char event[32];
        snprintf(event, sizeof(event), "org.%sd", strcmp(verb, "create") == 0 ? "create"
                 : strcmp(verb, "update") == 0 ? "update" : "delete");
        rc = desk_emit(tx, event, json_pack("{s:I}", "org_id", (json_int_t)id), err);
    }
    return rc;
}

int org_add(const struct desk_tx *tx, const char *name, const char *domain, long long *id_r,
            struct err *err)
{
    const char *e = NULL;
    if (desk_need_role(tx, ATUM_ROLE_MANAGER, err) < 0)
        return -1;
    if (name == NULL)
        return err_raise(err, ERR_INVALID, "name", "field 'name' is required");
    if (check(name, domain, err) < 0)
        return -1;
    const char *p[] = { name, domain };
    PGresult *r = db_exec(tx->db, "INSERT INTO orgs (name, domain) VALUES ($1, $2) RETURNING id", 2, p, &e);
    if (r == NULL)
        return desk_write_fail(tx, "organisation", "name", e, err);
    long long id = atoll(PQgetvalue(r, 0, 0));
    PQclear(r);
    json_t *d = json_pack("{s:s, s:s?}", "name", name, "domain", domain);
    int rc = announce(tx, "create", id, d, err);
    json_decref(d);
    if (rc == 0 && id_r)
        *id_r = id;
    return rc;
}

int org_update(const struct desk_tx *tx, long long id, const char *name, bool set_domain,
               const char *domain, struct err *err)
{
    const char *e = NULL;
    char sid[24];
    if (desk_need_role(tx, ATUM_ROLE_MANAGER, err) < 0 || check(name, domain, err) < 0)
        return -1;
    snprintf(sid, sizeof(sid), "%lld", id);
    const char *p[] = { sid, name, set_domain ? "t" : "f", domain };
    PGresult *r = db_exec(tx->db,
        "UPDATE orgs SET name = coalesce($2, name),"
        " domain = CASE WHEN $3::boolean THEN $4 ELSE domain END WHERE id = $1 RETURNING id",
        4, p, &e);
    if (r == NULL)
        return desk_write_fail(tx, "organisation", "name", e, err);
    int n = PQntuples(r);
    PQclear(r);
    if (n == 0)
        return err_raise(err, ERR_NOT_FOUND, NULL, "no such organisation");
    json_t *d = json_object();
    if (name)
        json_object_set_new(d, "name", json_string(name));
    if (set_domain)
        json_object_set_new(d, "domain", domain ? json_string(domain) : json_null());
    int rc = announce(tx, "update", id, d, err);
    json_decref(d);
    return rc;
}

int org_delete(const struct desk_tx *tx, long long id, struct err *err)
{
    const char *e = NULL;
    char sid[24];
    if (desk_need_role(tx, ATUM_ROLE_MANAGER, err) < 0)
        return -1;
    snprintf(sid, sizeof(sid), "%lld", id);
    const char *p[] = { sid };
    PGresult *r = db_exec(tx->db, "DELETE FROM orgs WHERE id = $1 RETURNING id", 1, p, &e);
    if (r == NULL)
        return desk_write_fail(tx, "organisation", NULL, e, err);
    int n = PQntuples(r);
    PQclear(r);
    if (n == 0)
        return err_raise(err, ERR_NOT_FOUND, NULL, "no such organisation");
    return announce(tx, "delete", id, NULL, err);
}
