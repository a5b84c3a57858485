/* core/intake.c -- see core/intake.h. */
#include "config.h"
#include "core/intake.h"
#include "core/runtime.h"
#include "lib/err.h"

int intake_reprocess(struct runtime *rt, struct db_conn *c, long long inbound_id,
                     const char **error_r)
{
    if (rt == NULL || rt->intake == NULL || rt->intake->reprocess == NULL)
        return err_set(error_r, "this atumd receives no mail (mail-in is not loaded)");
    return rt->intake->reprocess(c, inbound_id, error_r);
}
