/*
 * web/api_tickets.h -- what other API modules share with api_tickets.c:
 * the SQL predicate that decides whether the caller may see a ticket.
 *
 * TICKET_VISIBLE(alias) expects the caller's id, role, organisation and
 * org_access as parameters $1..$4 (ticket_vis_params() fills them):
 *  - admins and managers see every ticket;
 *  - agents the tickets of the queues they belong to;
 *  - customers their own tickets, and their organisation's when their
 *    account has org_access.
 * Everything else is answered 404, exactly like an id that does not exist.
 */
#ifndef ATUM_WEB_API_TICKETS_H
#define ATUM_WEB_API_TICKETS_H

#include "web/api.h"

#define TICKET_VISIBLE(a) \
    "($2::text IN ('admin', 'manager')" \
    " OR ($2::text = 'agent' AND " a ".queue_id IN" \
    "     (SELECT qm.queue_id FROM queue_members qm WHERE qm.user_id = $1::bigint))" \
    " OR ($2::text = 'customer' AND (" a ".requester_id = $1::bigint" \
    "     OR ($4::boolean AND " a ".org_id = $3::bigint))))"

struct ticket_vis {
    char uid[24], org[24];
    const char *p[4];
};

void ticket_vis_params(struct api_req *r, struct ticket_vis *v);

#endif
