/*
 * desk/csat.h -- customer satisfaction: one rating per ticket, by its
 * requester, once the ticket is solved (or closed).
 *
 * The customer is asked once (mail-out's solved mail, recorded in
 * csat_requests, and the portal).  The mail carries signed links that
 * rate without signing in:
 *
 *     TICKET-EXPIRES-MAC     EXPIRES: unix seconds; MAC: base64url of the
 *                            first 16 bytes of HMAC-SHA256(core.secret_key,
 *                            "atum-csat:TICKET:EXPIRES")
 *
 * (portal.csat_ttl after the ticket was solved).  A rating may be changed
 * (score, comment) for portal.csat_ttl after it was first given, then it
 * is final.  Every rating emits csat.rated:
 *
 *     {"ticket_id", "queue_id", "requester_id", "score" (1-5), "via"
 *      ("link" or "portal"), "first" (true the first time: count these),
 *      "previous_score" (null the first time), "has_comment"}
 *
 * and writes an audit row (actor: the requester).
 */
#ifndef ATUM_DESK_CSAT_H
#define ATUM_DESK_CSAT_H

#include <stdbool.h>
#include <stddef.h>
#include "desk/desk.h"

#define CSAT_TOKEN_MAX 96
#define CSAT_COMMENT_MAX 4000

/* The signed link's token into out (size >= CSAT_TOKEN_MAX). */
void csat_token_make(const char *secret, long long ticket_id, long long expires_unix, char *out,
                     size_t size);
/* Checks a token: 0 good (*ticket_r); -1 not ours (malformed or the MAC
 * does not match: tampered); 1 ours but expired (*ticket_r set). */
int csat_token_check(const char *secret, const char *token, long long now_unix, long long *ticket_r);

/* Rates a ticket (score 1..5; comment NULL keeps the one given before).
 * The actor must be its requester (a customer signed in, or the signed
 * link's requester): ERR_NOT_FOUND for a ticket they cannot see,
 * ERR_FORBIDDEN for a colleague's; ERR_CONFLICT (field "status") when it
 * is not solved or closed, (field "score") when the rating can no longer
 * be changed; ERR_INVALID for a bad score or comment. */
int csat_rate(const struct desk_tx *tx, long long ticket_id, int score, const char *comment,
              const char *via, long long change_window_ms, struct err *err);

#endif
