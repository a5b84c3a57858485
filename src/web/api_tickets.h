/*
 * web/api_tickets.h -- what other API modules share with api_tickets.c:
 * the parameters of the desk's visibility predicate (TICKET_VISIBLE in
 * desk/ticket.h) for the caller.  Anything a caller may not see answers
 * 404, exactly like an id that does not exist.
 */
#ifndef ATUM_WEB_API_TICKETS_H
#define ATUM_WEB_API_TICKETS_H

#include "desk/ticket.h"
#include "web/api.h"

/* $1..$4 of TICKET_VISIBLE for the caller. */
void ticket_vis_params(struct api_req *r, struct ticket_visibility *v);

#endif
