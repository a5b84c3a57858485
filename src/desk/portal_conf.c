/* desk/portal_conf.c -- see desk/portal_conf.h. */
#include "config.h"
#include "desk/portal_conf.h"

static const struct conf_key keys[] = {
    { "portal", "signup", CONF_BOOL, CONF_OFF(portal_signup), "no", 0, 0, NULL, CONF_LIVE },
    { "portal", "title", CONF_STR, CONF_OFF(portal_title), "Support", 0, 0, NULL, CONF_LIVE },
    { "portal", "link_ttl", CONF_DURATION, CONF_OFF(portal_link_ttl_ms), "1h", 60000, 86400000LL, NULL, CONF_LIVE },
    { "portal", "invite_ttl", CONF_DURATION, CONF_OFF(portal_invite_ttl_ms), "7d", 3600000LL, 90LL * 86400000LL, NULL, CONF_LIVE },
    { "portal", "csat_ttl", CONF_DURATION, CONF_OFF(portal_csat_ttl_ms), "14d", 60000, 365LL * 86400000LL, NULL, CONF_LIVE },
    { "portal", "link_limit_address", CONF_INT, CONF_OFF(portal_link_limit_address), "3", 1, 1000, NULL, CONF_LIVE },
    { "portal", "link_limit_ip", CONF_INT, CONF_OFF(portal_link_limit_ip), "30", 1, 100000, NULL, CONF_LIVE },
    { "portal", "link_window", CONF_DURATION, CONF_OFF(portal_link_window_ms), "1h", 1000, 86400000LL, NULL, CONF_LIVE },
};

const struct conf_table portal_conf_table = { "portal", keys, sizeof(keys) / sizeof(keys[0]) };
