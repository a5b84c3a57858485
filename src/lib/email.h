/*
 * lib/email.h -- e-mail address checks shared by accounts and mail handling.
 *
 * Deliberately simple: addr-spec "local@domain" without comments or display
 * names (those are parsed from headers by the MIME code).
 *
 * The canonical form of an address -- what account lookup, the unique
 * index on users and the login throttle compare -- is the address with the
 * ASCII letters A-Z lower-cased and every other byte left as it is.  The
 * same function exists in SQL, email_canonical(text) (sql/012_security.sql),
 * and a test checks that both agree.  Locale-dependent folding (lower() in
 * PostgreSQL maps U+0130 to "i" and the Kelvin sign U+212A to "k" in a
 * UTF-8 locale, tolower() in C does not) is never used to compare
 * addresses: a non-ASCII letter matches only itself, so a look-alike is a
 * different address with no account, and no variant gets a throttle
 * budget of its own for an account it can reach.
 */
#ifndef ATUM_LIB_EMAIL_H
#define ATUM_LIB_EMAIL_H

#include <stdbool.h>

#define EMAIL_MAX 320

bool email_valid(const char *addr);

/* The canonical form of addr into out: 0, or -1 when addr is longer than
 * EMAIL_MAX bytes (out is then ""). */
int email_canonical(const char *addr, char out[EMAIL_MAX + 1]);

#endif
