/* mailout/mailout_conf.c -- see mailout/mailout_conf.h. */
#include "config.h"
#include "mailout/mailout_conf.h"

static const struct conf_key keys[] = {
    { "mail", "acknowledge", CONF_BOOL, CONF_OFF(mail_acknowledge), "yes", 0, 0, NULL, CONF_LIVE },
    { "mail", "ack_limit", CONF_INT, CONF_OFF(mail_ack_limit), "3", 0, 1000, NULL, CONF_LIVE },
    { "mail", "ack_window", CONF_DURATION, CONF_OFF(mail_ack_window_ms), "1h", 60000, 30LL * 86400000LL, NULL, CONF_LIVE },
    { "mail", "notify_agents", CONF_BOOL, CONF_OFF(mail_notify_agents), "yes", 0, 0, NULL, CONF_LIVE },
    { "mail", "compose_lanes", CONF_INT, CONF_OFF(mail_compose_lanes), "2", 1, 64, NULL, CONF_LIVE },
    { "smarthost", "url", CONF_STR, CONF_OFF(sh_url), "", 0, 0, NULL, CONF_LIVE },
    { "smarthost", "starttls", CONF_BOOL, CONF_OFF(sh_starttls), "yes", 0, 0, NULL, CONF_LIVE },
    { "smarthost", "verify_certificate", CONF_BOOL, CONF_OFF(sh_verify), "yes", 0, 0, NULL, CONF_LIVE },
    { "smarthost", "ca_file", CONF_STR, CONF_OFF(sh_ca_file), "", 0, 0, NULL, CONF_LIVE },
    { "smarthost", "username", CONF_STR, CONF_OFF(sh_username), "", 0, 0, NULL, CONF_LIVE },
    { "smarthost", "password", CONF_STR, CONF_OFF(sh_password), "", 0, 0, NULL, CONF_LIVE },
    { "smarthost", "helo", CONF_STR, CONF_OFF(sh_helo), "", 0, 0, NULL, CONF_LIVE },
    { "smarthost", "timeout", CONF_DURATION, CONF_OFF(sh_timeout_ms), "60s", 1000, 3600000LL, NULL, CONF_LIVE },
    { "smarthost", "retry_for", CONF_DURATION, CONF_OFF(sh_retry_for_ms), "3d", 1000, 30LL * 86400000LL, NULL, CONF_LIVE },
    { "smarthost", "retry_min", CONF_DURATION, CONF_OFF(sh_retry_min_ms), "1m", 100, 86400000LL, NULL, CONF_LIVE },
    { "smarthost", "retry_max", CONF_DURATION, CONF_OFF(sh_retry_max_ms), "1h", 100, 7LL * 86400000LL, NULL, CONF_LIVE },
};

const struct conf_table mailout_conf_table = { "mailout", keys, sizeof(keys) / sizeof(keys[0]) };
