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

/* The stale-send guard's input: the version a write was made against,
 * from If-Match ("v12", W/"v12"; "*" is any) or the body's "version"
 * (body may be NULL); 0 when neither says (the write then applies to the
 * ticket as it is).  -1 after answering 400. */
int ticket_if_match(struct api_req *r, json_t *body, long long *v_r);

/* Whether a domain failure is the stale-send guard's (ERR_CONFLICT on
 * "version" or "into_version"). */
bool ticket_stale(const struct err *err);

/* What the 409 of the stale-send guard says, outside any transaction:
 * {"detail", "field", "ticket_id", "version", "since", "changes",
 * "messages"} (ticket_changes_since) of the ticket that moved on -- id
 * since expect, or into_id since into_expect when conflict names
 * "into_version"; a merge's target that moved on too comes as "into" with
 * the same keys.  into_id and into_expect are 0 but for merges.  NULL
 * after a failure (err).  The caller owns the object. */
json_t *ticket_stale_json(struct api_req *r, const struct err *conflict, long long id,
                          long long expect, long long into_id, long long into_expect,
                          struct err *err);

/* Answers a failed write (rolling the transaction back): a stale version
 * (for the version the request named) is 409 problem+json with
 * ticket_stale_json()'s keys; anything else as api_desk_fail(). */
int ticket_write_fail(struct api_req *r, long long id, long long expect, long long into_id,
                      long long into_expect, const char *what, const struct err *err);

#endif
