/*
 * mail/reply_token.h -- reply tokens: which ticket a reply belongs to, in a form
 * nobody can forge.
 *
 * A token is "t<ticket>.<mac>" (or "t<ticket>a<user>d<day>[v<version>].<mac>"
 * for an agent), mac = the first 12 characters of the lower-case base32
 * HMAC-SHA256 of "atum-reply:<ticket>[:a<user>:d<day>[:v<version>]]" under
 * the server secret (core.secret_key).  Outgoing mail carries it as a subaddress of
 * the queue address (support+t123.k4f9x2ab7q3m@example.com); a reply
 * addressed there names its ticket, checked in constant time.
 */
#ifndef ATUM_MAIL_REPLY_TOKEN_H
#define ATUM_MAIL_REPLY_TOKEN_H

#include <stdbool.h>
#include <stddef.h>

#define REPLY_TOKEN_MAC_LEN 12

/* Writes the token for a ticket ("t42.abc..."); -1 without a secret. */
int reply_token_make(const char *secret, long long ticket_id, char *out, size_t size);

/* An agent's token ("t42a7d20410.mac"): it names the ticket, the agent
 * (user id) it was sent to and the day (since 1970) it was issued, so a
 * reply by mail is taken as that agent's only when it comes from that
 * agent's address, and only for a while.  Customers never see these. */
int reply_token_make_agent(const char *secret, long long ticket_id, long long user_id, long long day,
                     char *out, size_t size);
/* The same with the ticket's version the notification showed ("...v5"):
 * a reply by mail that crosses a newer message is held (mailin/ingest.c).
 * version 0 makes the token above (tokens without a version stay valid:
 * their version is unknown). */
int reply_token_make_agent_v(const char *secret, long long ticket_id, long long user_id,
                             long long day, long long version, char *out, size_t size);

enum reply_token_status { REPLY_TOKEN_NONE = 0, REPLY_TOKEN_VALID = 1, REPLY_TOKEN_INVALID = -1 };

struct reply_token_info {
    long long ticket;
    long long user;              /* 0: a customer token */
    long long day;
    long long version;           /* an agent token's ticket version; 0: unknown */
};

/* Looks at the +detail of an address.  REPLY_TOKEN_VALID fills *info;
 * REPLY_TOKEN_INVALID is a token-shaped detail whose MAC does not verify. */
enum reply_token_status reply_token_parse(const char *secret, const char *addr, struct reply_token_info *info);

/* The address without its +detail, lower case: "support@example.com". */
void reply_token_base_address(const char *addr, char *out, size_t size);

#endif
