/* desk/status.c -- see desk/status.h. */
#include "config.h"
#include "desk/status.h"

#include <stddef.h>
#include <string.h>

static const char *const names[TICKET_STATUSES] = { "new", "open", "pending", "solved", "closed" };

const char *ticket_status_name(enum ticket_status s)
{
    return (unsigned)s < TICKET_STATUSES ? names[s] : "?";
}

int ticket_status_parse(const char *s, enum ticket_status *r)
{
    for (int i = 0; s && i < TICKET_STATUSES; i++)
        if (strcmp(s, names[i]) == 0) {
            *r = (enum ticket_status)i;
            return 0;
        }
    return -1;
}

enum status_verdict status_after_message(enum ticket_status cur, bool merged,
                                         enum message_party party,
                                         const enum ticket_status *requested,
                                         enum ticket_status *next_r)
{
    *next_r = cur;
    if (merged)
        return STATUS_REFUSE_MERGED;
    switch (party) {
    case PARTY_NOTE:
    case PARTY_ROBOT:
    case PARTY_UNVERIFIED:
        return STATUS_KEEP;
    case PARTY_CUSTOMER:
        if (cur == TICKET_CLOSED)
            return STATUS_REFUSE_CLOSED;
        if (cur == TICKET_PENDING || cur == TICKET_SOLVED) {
            *next_r = TICKET_OPEN;
            return STATUS_MOVE;
        }
        return STATUS_KEEP;
    case PARTY_STAFF:
        if (requested != NULL) {
            /* a closed ticket takes a reply only when the reply reopens it */
            if (cur == TICKET_CLOSED && *requested == TICKET_CLOSED)
                return STATUS_REFUSE_CLOSED;
            *next_r = *requested;
            return *requested == cur ? STATUS_KEEP : STATUS_MOVE;
        }
        if (cur == TICKET_CLOSED)
            return STATUS_REFUSE_CLOSED;
        if (cur == TICKET_NEW) {
            *next_r = TICKET_OPEN;
            return STATUS_MOVE;
        }
        return STATUS_KEEP;
    }
    return STATUS_KEEP;
}

enum status_change_rule status_change_allowed(enum ticket_status cur, enum ticket_status to,
                                              bool merged, bool staff)
{
    if (merged)
        return CHANGE_MERGED;
    if (staff)
        return CHANGE_OK;
    /* customers: solve or close what is still in the works, reopen what
     * was solved; closed is final */
    if (cur == TICKET_CLOSED)
        return CHANGE_FORBIDDEN;
    if (to == TICKET_SOLVED || to == TICKET_CLOSED)
        return CHANGE_OK;
    if (cur == TICKET_SOLVED && to == TICKET_OPEN)
        return CHANGE_OK;
    return CHANGE_FORBIDDEN;
}
