/*
 * desk/portal_conf.h -- the configuration keys of customer accounts and
 * the portal: [portal] (sign-up, the portal's title, how long links live,
 * how often a link may be asked for, the rating window).  Read where they
 * are used (live): the desk's account links (desk/account.h), the
 * ratings (desk/csat.h), the web's routes and mail-out's solved mail.
 * Declared by the programs that run them (core/conf.h, conf_declare).
 */
#ifndef ATUM_DESK_PORTAL_CONF_H
#define ATUM_DESK_PORTAL_CONF_H

#include "core/conf.h"

extern const struct conf_table portal_conf_table;

#endif
