/* desk/mailbox.c -- see desk/mailbox.h. */
#include "config.h"
#include "desk/mailbox.h"
#include "lib/err.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int mailbox_password_env_check(const char *name, const char **error_r)
{
    static const size_t plen = sizeof(MAILBOX_PASSWORD_ENV_PREFIX) - 1;
    if (name == NULL || strncmp(name, MAILBOX_PASSWORD_ENV_PREFIX, plen) != 0)
        return err_set(error_r, "a mailbox password must be in an environment variable named "
                       MAILBOX_PASSWORD_ENV_PREFIX "<NAME>, not in '%s'", name ? name : "");
    const char *rest = name + plen;
    size_t n = strlen(rest);
    if (n == 0 || n > 64)
        return err_set(error_r, "the name after " MAILBOX_PASSWORD_ENV_PREFIX " must have 1 to 64 "
                       "characters");
    for (const char *p = rest; *p; p++)
        if (!((*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '_'))
            return err_set(error_r, "the name after " MAILBOX_PASSWORD_ENV_PREFIX " may contain "
                           "only A-Z, 0-9 and _");
    return 0;
}

bool mailbox_host_is_loopback(const char *host)
{
    if (host == NULL)
        return false;
    if (strcasecmp(host, "localhost") == 0)
        return true;
    char buf[64];
    size_t n = strlen(host);
    if (n >= 2 && host[0] == '[' && host[n - 1] == ']' && n - 2 < sizeof(buf)) {
        memcpy(buf, host + 1, n - 2);
        buf[n - 2] = '\0';
        host = buf;
    }
    struct in_addr a4;
    struct in6_addr a6;
    if (inet_pton(AF_INET, host, &a4) == 1)
        return (ntohl(a4.s_addr) >> 24) == 127;
    if (inet_pton(AF_INET6, host, &a6) == 1)
        return IN6_IS_ADDR_LOOPBACK(&a6);
    return false;
}

int mailbox_link_check(const struct mailbox_link *link, bool insecure_loopback_allowed,
                       const char **error_r)
{
    const char *sec = link->security ? link->security : "";
    if (strcmp(sec, "tls") != 0 && strcmp(sec, "starttls") != 0 && strcmp(sec, "none") != 0)
        return err_set(error_r, "security must be tls, starttls or none, not '%s'", sec);
    bool plain = strcmp(sec, "none") == 0;
    if (!plain && !link->trust_any_certificate)
        return 0;
    const char *what = plain ? "security none (the password in clear)"
                             : "trust_any_certificate (the password to an unverified server)";
    if (!mailbox_host_is_loopback(link->host))
        return err_set(error_r, "%s is allowed only for a loopback host (127.0.0.1, ::1, "
                       "localhost), not '%s'", what, link->host ? link->host : "");
    if (!insecure_loopback_allowed)
        return err_set(error_r, "%s is switched off: the operator allows it for loopback hosts "
                       "with [imap] allow_insecure_loopback = yes", what);
    return 0;
}

const char *mailbox_password(const char *env_name, const struct mailbox_link *link,
                             bool insecure_loopback_allowed, const char **error_r)
{
    if (mailbox_password_env_check(env_name, error_r) < 0
        || mailbox_link_check(link, insecure_loopback_allowed, error_r) < 0)
        return NULL;
    const char *pw = getenv(env_name);
    if (pw == NULL) {
        err_set(error_r, "password variable %s is not set in atumd's environment", env_name);
        return NULL;
    }
    return pw;
}
