/* lib/svcnotify.c -- see lib/svcnotify.h. */
#include "config.h"
#include "lib/svcnotify.h"
#include "lib/log.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-daemon.h>

static void notify(const struct svcnotify *s, const char *what, const char *state)
{
    if (!s->enabled)
        return;
    int rc = sd_notify(0, state);
    if (rc < 0)
        log_warn("svc.notify_failed", "message=%s error=%s", what, strerror(-rc));
}

void svcnotify_init(struct svcnotify *s)
{
    memset(s, 0, sizeof(*s));
    const char *sock = getenv("NOTIFY_SOCKET");
    s->enabled = sock != NULL && sock[0] != '\0';
    uint64_t usec = 0;
    /* > 0: the manager expects keep-alives from this process (the
     * environment stays, so a later check agrees) */
    if (s->enabled && sd_watchdog_enabled(0, &usec) > 0 && usec > 0)
        s->watchdog_ms = (long long)(usec / 2000);
    if (s->watchdog_ms == 0 && usec > 0)
        s->watchdog_ms = 1;   /* under 2 ms: as often as the loop can */
    if (s->enabled)
        log_info("svc.notify", "socket=%s watchdog_ms=%lld", sock, s->watchdog_ms);
}

long long svcnotify_watchdog_interval_ms(const struct svcnotify *s)
{
    return s->watchdog_ms;
}

void svcnotify_ready(const struct svcnotify *s, const char *status)
{
    char msg[512];
    snprintf(msg, sizeof(msg), "READY=1\nSTATUS=%s", status ? status : "ready");
    notify(s, "READY", msg);
}

void svcnotify_reloading(const struct svcnotify *s)
{
    notify(s, "RELOADING", "RELOADING=1\nSTATUS=reloading the configuration");
}

void svcnotify_stopping(const struct svcnotify *s)
{
    notify(s, "STOPPING", "STOPPING=1\nSTATUS=draining running jobs");
}

void svcnotify_watchdog(const struct svcnotify *s)
{
    if (s->watchdog_ms > 0)
        notify(s, "WATCHDOG", "WATCHDOG=1");
}

void svcnotify_waiting(const struct svcnotify *s, const char *status, long long ms)
{
    char msg[512];
    snprintf(msg, sizeof(msg), "EXTEND_TIMEOUT_USEC=%lld\nSTATUS=%s", ms * 1000, status);
    notify(s, "EXTEND_TIMEOUT", msg);
}
