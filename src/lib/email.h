/*
 * lib/email.h -- e-mail address checks shared by accounts and mail handling.
 *
 * Deliberately simple: addr-spec "local@domain" without comments or display
 * names (those are parsed from headers by the MIME code).  Addresses are
 * compared case-insensitively everywhere (the database indexes lower()).
 */
#ifndef ATUM_LIB_EMAIL_H
#define ATUM_LIB_EMAIL_H

#include <stdbool.h>

#define EMAIL_MAX 320

bool email_valid(const char *addr);

#endif
