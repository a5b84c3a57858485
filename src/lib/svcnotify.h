/*
 * lib/svcnotify.h -- telling the service manager (systemd, Type=notify)
 * how atumd is doing, through libsystemd's sd_notify():
 *   READY=1      once every listener is up (web, SMTP, IMAP) and the
 *                workers run: `systemctl start` returns only then
 *   WATCHDOG=1   from the main loop, every half of WatchdogSec=
 *                (WATCHDOG_USEC): a main loop that stops turning is
 *                killed and restarted by systemd
 *   RELOADING=1, READY=1   around a reload (SIGHUP)
 *   STOPPING=1   when a stop signal arrived, before the drain
 *   EXTEND_TIMEOUT_USEC   while start-up waits for PostgreSQL, so a
 *                database that comes late does not fail the start
 *   STATUS=...   a line `systemctl status` shows
 * Without NOTIFY_SOCKET (not started by systemd) every call does nothing.
 * With NotifyAccess=main the messages must come from the main process:
 * run atumd with --foreground under systemd (etc/atumd.service does).
 *
 * The state is one struct owned by the caller (atumd's main).
 */
#ifndef ATUM_LIB_SVCNOTIFY_H
#define ATUM_LIB_SVCNOTIFY_H

#include <stdbool.h>

struct svcnotify {
    bool enabled;                /* NOTIFY_SOCKET is set */
    long long watchdog_ms;       /* half of WATCHDOG_USEC, 0: no watchdog */
};

/* Reads NOTIFY_SOCKET and WATCHDOG_USEC/WATCHDOG_PID. */
void svcnotify_init(struct svcnotify *s);

/* How often the main loop must call svcnotify_watchdog(), 0: never. */
long long svcnotify_watchdog_interval_ms(const struct svcnotify *s);

void svcnotify_ready(const struct svcnotify *s, const char *status);
void svcnotify_reloading(const struct svcnotify *s);
void svcnotify_stopping(const struct svcnotify *s);
void svcnotify_watchdog(const struct svcnotify *s);
/* Start-up is still progressing: allow it ms more, and say why. */
void svcnotify_waiting(const struct svcnotify *s, const char *status, long long ms);

#endif
