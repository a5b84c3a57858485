/* desk/desk_ops.c -- see desk/desk_ops.h. */
#include "config.h"
#include "desk/desk_ops.h"
#include "desk/ticket.h"
#include "core/domain.h"
#include "core/runtime.h"
#include "lib/err.h"

#include <stdio.h>
#include <string.h>

/* A plugin acts as the system (it sees every ticket and is not audited:
 * its jobs are its record); its events say source "plugin:NAME". */
static int plugin_ticket_update(struct db_conn *c, struct runtime *rt, const char *plugin,
                                long long ticket_id, const struct atum_ticket_change *in,
                                const char **error_r)
{
    char via[80];
    snprintf(via, sizeof(via), "plugin:%s", plugin ? plugin : "?");
    struct desk_actor who = { .kind = DESK_SYSTEM, .via = via };
    struct desk_tx tx = { c, rt, &who };
    struct err err;
    enum ticket_status status;
    if (in->status && ticket_status_parse(in->status, &status) < 0)
        return err_set(error_r, "ticket_update: unknown status '%s'", in->status);
    if (in->assignee_id < -1 || in->queue_id < 0)
        return err_set(error_r, "ticket_update: invalid queue or assignee");
    struct ticket_change ch = {
        .status = in->status ? &status : NULL,
        .priority = in->priority,
        .set_category = in->category != NULL,
        .category = in->category && in->category[0] ? in->category : NULL,
        .set_assignee = in->assignee_id != 0,
        .assignee_id = in->assignee_id > 0 ? in->assignee_id : 0,
        .queue_id = in->queue_id,
    };
    if (ticket_update(&tx, ticket_id, &ch, NULL, &err) < 0)
        return err_set(error_r, "ticket_update: %s", err.text);
    if (in->note && in->note[0]) {
        struct message_new m = { .party = PARTY_NOTE, .subject = via, .body_text = in->note };
        if (ticket_post_message(&tx, ticket_id, &m, NULL, &err) < 0)
            return err_set(error_r, "ticket_update: %s", err.text);
    }
    return 0;
}

static const struct domain desk_domain = {
    .ticket_update = plugin_ticket_update,
};

int desk_register(struct runtime *rt, void *arg, const char **error_r)
{
    (void)arg;
    (void)error_r;
    rt->domain = &desk_domain;
    return 0;
}
