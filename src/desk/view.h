/*
 * desk/view.h -- saved views: a person's named filters of the ticket list.
 *
 * A view is a name (1 to 100 characters, unique per person without regard
 * to case) and a filter: a JSON object of query parameters of GET
 * /api/v1/tickets.  The grammar of those parameters is the API's (it
 * checks a filter with the very parser the list uses before calling
 * here); the domain keeps them, per person, at most VIEW_MAX each, in the
 * order of `position` then id.  Only their owner sees or changes a view:
 * anyone else's id is ERR_NOT_FOUND.  Staff only (ERR_FORBIDDEN).  A view
 * is a preference, not a privileged action: not audited, no event.
 *
 * Every function runs in the caller's transaction and returns 0 or -1
 * with err (ERR_INVALID naming "name" or "filter", ERR_CONFLICT on "name"
 * for a name taken, ERR_NOT_FOUND, ERR_FORBIDDEN, ERR_FAILED).  filter is
 * borrowed.
 */
#ifndef ATUM_DESK_VIEW_H
#define ATUM_DESK_VIEW_H

#include <jansson.h>
#include "desk/desk.h"

#define VIEW_MAX 100
#define VIEW_NAME_MAX 100

int view_add(const struct desk_tx *tx, const char *name, json_t *filter, long long *id_r,
             struct err *err);
/* NULL name / filter / position: unchanged. */
int view_update(const struct desk_tx *tx, long long id, const char *name, json_t *filter,
                const int *position, struct err *err);
int view_delete(const struct desk_tx *tx, long long id, struct err *err);

#endif
