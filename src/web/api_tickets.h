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

/* A saved view's filter, checked exactly as GET /tickets checks its query
 * parameters (those of the list but limit and cursor, the loaded plugins'
 * list filters included): 0, or -1 after answering 400 naming
 * "filter.<parameter>". */
int ticket_list_filter_check(struct api_req *r, json_t *filter);

/* How many tickets the caller sees through a saved view's filter, counted
 * up to cap + 1 (so "more than cap" shows as cap + 1): 1 counted, 0 the
 * filter no longer reads (a plugin's parameter gone), -1 a database
 * failure (*error_r). */
int ticket_list_count(struct api_req *r, json_t *filter, long long cap, long long *count_r,
                      const char **error_r);

#endif
