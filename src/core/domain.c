/* core/domain.c -- see core/domain.h. */
#include "config.h"
#include "core/domain.h"
#include "core/runtime.h"
#include "lib/err.h"

int domain_ticket_update(struct runtime *rt, struct db_conn *c, const char *plugin,
                         long long ticket_id, const struct atum_ticket_change *change,
                         const char **error_r)
{
    if (rt == NULL || rt->domain == NULL || rt->domain->ticket_update == NULL)
        return err_set(error_r, "ticket_update: no helpdesk domain in this process");
    return rt->domain->ticket_update(c, rt, plugin, ticket_id, change, error_r);
}
