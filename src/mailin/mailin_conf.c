/* mailin/mailin_conf.c -- see mailin/mailin_conf.h. */
#include "config.h"
#include "mailin/mailin_conf.h"

static const struct conf_key keys[] = {
    { "mail", "max_message_size", CONF_SIZE, CONF_OFF(mail_max_message_size), "25M", 1024, 1LL << 30, NULL, CONF_RESTART },
    { "mail", "max_attachment_size", CONF_SIZE, CONF_OFF(mail_max_attachment), "25M", 1024, 1LL << 30, NULL, CONF_LIVE },
    { "mail", "max_header_bytes", CONF_SIZE, CONF_OFF(mail_max_header_bytes), "1M", 1024, 64LL << 20, NULL, CONF_LIVE },
    { "mail", "max_parts", CONF_INT, CONF_OFF(mail_max_parts), "1000", 1, 100000, NULL, CONF_LIVE },
    { "mail", "default_queue", CONF_STR, CONF_OFF(mail_default_queue), "", 0, 0, NULL, CONF_LIVE },
    { "mail", "org_by_domain", CONF_BOOL, CONF_OFF(mail_org_by_domain), "yes", 0, 0, NULL, CONF_LIVE },
    { "mail", "note_marker", CONF_STR, CONF_OFF(mail_note_marker), "#note", 0, 0, NULL, CONF_LIVE },
    { "mail", "agent_token_days", CONF_INT, CONF_OFF(mail_agent_token_days), "90", 1, 3650, NULL, CONF_LIVE },
    { "smtp", "listen", CONF_STR, CONF_OFF(smtp_listen), "", 0, 0, NULL, CONF_RESTART },
    { "smtp", "mode", CONF_ENUM, CONF_OFF(smtp_mode), "smtp", 0, 0, "smtp|lmtp", CONF_RESTART },
    { "smtp", "hostname", CONF_STR, CONF_OFF(smtp_hostname), "", 0, 0, NULL, CONF_RESTART },
    { "smtp", "max_connections", CONF_INT, CONF_OFF(smtp_max_connections), "100", 1, 10000, NULL, CONF_RESTART },
    { "smtp", "max_connections_per_ip", CONF_INT, CONF_OFF(smtp_max_connections_per_ip), "10", 1, 10000, NULL, CONF_RESTART },
    { "smtp", "max_junk_commands", CONF_INT, CONF_OFF(smtp_max_junk_commands), "20", 1, 10000, NULL, CONF_RESTART },
    { "smtp", "max_recipients", CONF_INT, CONF_OFF(smtp_max_recipients), "100", 1, 10000, NULL, CONF_RESTART },
    { "smtp", "max_line_length", CONF_INT, CONF_OFF(smtp_max_line), "8192", 1000, 1048576, NULL, CONF_RESTART },
    { "smtp", "idle_timeout", CONF_DURATION, CONF_OFF(smtp_idle_timeout_ms), "5m", 1000, 3600000LL, NULL, CONF_RESTART },
    { "smtp", "tls_cert", CONF_STR, CONF_OFF(smtp_tls_cert), "", 0, 0, NULL, CONF_RESTART },
    { "smtp", "tls_key", CONF_STR, CONF_OFF(smtp_tls_key), "", 0, 0, NULL, CONF_RESTART },
    { "imap", "enabled", CONF_BOOL, CONF_OFF(imap_enabled), "yes", 0, 0, NULL, CONF_RESTART },
    /* RFC 2177: servers may drop an IDLE after 30 minutes; libetpan's IDLE
     * can hang, so it is re-issued at least every 25 minutes */
    { "imap", "idle_refresh", CONF_DURATION, CONF_OFF(imap_idle_refresh_ms), "25m", 1000, 25LL * 60000, NULL, CONF_RESTART },
    { "imap", "timeout", CONF_DURATION, CONF_OFF(imap_timeout_ms), "60s", 1000, 3600000LL, NULL, CONF_RESTART },
    { "imap", "command_timeout", CONF_DURATION, CONF_OFF(imap_command_timeout_ms), "5m", 1000, 86400000LL, NULL, CONF_RESTART },
    { "imap", "reconnect_max", CONF_DURATION, CONF_OFF(imap_reconnect_max_ms), "5m", 1000, 86400000LL, NULL, CONF_RESTART },
    { "imap", "ca_file", CONF_STR, CONF_OFF(imap_ca_file), "", 0, 0, NULL, CONF_RESTART },
    { "imap", "rescan", CONF_DURATION, CONF_OFF(imap_rescan_ms), "30s", 1000, 86400000LL, NULL, CONF_RESTART },
    /* an operator's switch, never the API's (desk/mailbox.h) */
    { "imap", "allow_insecure_loopback", CONF_BOOL, CONF_OFF(imap_allow_insecure_loopback), "no", 0, 0, NULL, CONF_RESTART },
};

const struct conf_table mailin_conf_table = { "mailin", keys, sizeof(keys) / sizeof(keys[0]) };
