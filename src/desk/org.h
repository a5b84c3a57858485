/*
 * desk/org.h -- organisations: customers grouped by company, joined by
 * the domain of their address when mail.org_by_domain is on.
 *
 * Every function runs in the caller's transaction (desk/desk.h), writes
 * the audit row and emits org.created / org.updated / org.deleted, and
 * returns 0, or -1 with err: ERR_INVALID (err.field names the input),
 * ERR_CONFLICT (a name that exists; an organisation still referenced is
 * not deleted -- its customers and tickets keep it), ERR_NOT_FOUND,
 * ERR_FORBIDDEN (below manager), ERR_FAILED.
 */
#ifndef ATUM_DESK_ORG_H
#define ATUM_DESK_ORG_H

#include <stdbool.h>
#include "desk/desk.h"

/* name: 1..200 characters; domain: NULL or a domain name (example.com). */
int org_add(const struct desk_tx *tx, const char *name, const char *domain, long long *id_r,
            struct err *err);
/* name NULL: unchanged; set_domain: domain (NULL clears it). */
int org_update(const struct desk_tx *tx, long long id, const char *name, bool set_domain,
               const char *domain, struct err *err);
int org_delete(const struct desk_tx *tx, long long id, struct err *err);

#endif
