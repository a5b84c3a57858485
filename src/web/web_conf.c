/* web/web_conf.c -- see web/web_conf.h. */
#include "config.h"
#include "web/web_conf.h"

static const struct conf_key keys[] = {
    { "web", "listen", CONF_STR, CONF_OFF(web_listen), "127.0.0.1:8080", 0, 0, NULL, CONF_RESTART },
    { "web", "threads", CONF_INT, CONF_OFF(web_threads), "32", 2, 1024, NULL, CONF_RESTART },
    { "web", "max_body", CONF_SIZE, CONF_OFF(web_max_body), "25M", 1024, 1LL << 32, NULL, CONF_RESTART },
    { "web", "request_timeout", CONF_DURATION, CONF_OFF(web_request_timeout_ms), "30s", 1000, 3600000LL, NULL, CONF_RESTART },
    { "web", "header_timeout", CONF_DURATION, CONF_OFF(web_header_timeout_ms), "10s", 1000, 600000LL, NULL, CONF_RESTART },
    { "web", "body_min_rate", CONF_SIZE, CONF_OFF(web_body_min_rate), "64K", 1, 1LL << 30, NULL, CONF_RESTART },
    { "web", "client_connections", CONF_INT, CONF_OFF(web_client_connections), "16", 0, 100000, NULL, CONF_RESTART },
    { "web", "max_public_body", CONF_SIZE, CONF_OFF(web_max_public_body), "64K", 1024, 1LL << 32, NULL, CONF_RESTART },
    { "web", "keep_alive", CONF_DURATION, CONF_OFF(web_keep_alive_ms), "5s", 0, 600000LL, NULL, CONF_RESTART },
    { "web", "trusted_proxies", CONF_STR, CONF_OFF(web_trusted_proxies), "", 0, 0, NULL, CONF_RESTART },
    { "web", "assets_dir", CONF_STR, CONF_OFF(web_assets_dir), ASSETS_DIR, 0, 0, NULL, CONF_RESTART },
    { "web", "live_max_connections", CONF_INT, CONF_OFF(web_live_max_connections), "200", 0, 10000, NULL, CONF_RESTART },
    { "web", "live_ping", CONF_DURATION, CONF_OFF(web_live_ping_ms), "20s", 1000, 600000LL, NULL, CONF_RESTART },
    { "web", "live_keep", CONF_DURATION, CONF_OFF(web_live_keep_ms), "1d", 60000, 365LL * 86400000LL, NULL, CONF_LIVE },
    { "auth", "session_idle", CONF_DURATION, CONF_OFF(auth_session_idle_ms), "2h", 60000, 30LL * 86400000LL, NULL, CONF_RESTART },
    { "auth", "session_lifetime", CONF_DURATION, CONF_OFF(auth_session_lifetime_ms), "1d", 60000, 365LL * 86400000LL, NULL, CONF_RESTART },
    { "auth", "login_failures_account", CONF_INT, CONF_OFF(auth_login_failures_account), "5", 1, 1000, NULL, CONF_RESTART },
    { "auth", "login_failures_ip", CONF_INT, CONF_OFF(auth_login_failures_ip), "50", 1, 100000, NULL, CONF_RESTART },
    { "auth", "login_window", CONF_DURATION, CONF_OFF(auth_login_window_ms), "15m", 1000, 86400000LL, NULL, CONF_RESTART },
    { "auth", "totp_issuer", CONF_STR, CONF_OFF(auth_totp_issuer), "ATUM DESK", 0, 0, NULL, CONF_RESTART },
    { "auth", "cookie_secure", CONF_ENUM, CONF_OFF(auth_cookie_secure), "auto", 0, 0, "auto|yes|no", CONF_RESTART },
    { "auth", "token_lifetime", CONF_DURATION, CONF_OFF(auth_token_lifetime_ms), "90d", 86400000LL, 3650LL * 86400000LL, NULL, CONF_RESTART },
};

const struct conf_table web_conf_table = { "web", keys, sizeof(keys) / sizeof(keys[0]) };
