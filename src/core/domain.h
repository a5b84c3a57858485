/*
 * core/domain.h -- what the core needs from the desk domain above it, as a
 * table the desk registers at start-up (the same seam as core/mailer.h):
 * the plugins' host table changes tickets through it (host->ticket_update),
 * so a plugin obeys the same rules as every other channel.
 *
 * Without the desk (tools, unit tests of the core) the calls fail with a
 * clear error.  Called in the caller's open transaction, the runtime
 * read-locked.
 */
#ifndef ATUM_CORE_DOMAIN_H
#define ATUM_CORE_DOMAIN_H

#include <atum/plugin.h>
#include "core/db.h"

struct runtime;

struct domain {
    /* plugin: the acting plugin's name (events say source "plugin:NAME") */
    int (*ticket_update)(struct db_conn *c, struct runtime *rt, const char *plugin,
                         long long ticket_id, const struct atum_ticket_change *change,
                         const char **error_r);
};

/* Through rt->domain; -1 "no helpdesk domain here" when none is registered. */
int domain_ticket_update(struct runtime *rt, struct db_conn *c, const char *plugin,
                         long long ticket_id, const struct atum_ticket_change *change,
                         const char **error_r);

#endif
