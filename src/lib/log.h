/*
 * lib/log.h -- one line per event: a level, an event name and key=value fields.
 *
 *   2026-11-22T13:48:00.123Z level=info event=job.done job=42 kind=mail.ingest ms=3
 *
 * The format string is printf's, with one addition: a %s that directly
 * follows '=' is written as a logfmt value -- quoted and escaped when it
 * holds spaces, quotes or control characters -- so mail headers and other
 * untrusted text can never forge a field or break a line.  Control
 * characters anywhere are escaped, so one call is always one line.
 *
 * A per-thread context (log_context_set) is appended to every line of that
 * thread, e.g. "job=42 kind=mail.ingest" while a job runs.
 *
 * The subsystem's state is one struct inside log.c; the level may be changed
 * at any time (SIGHUP) from any thread.
 */
#ifndef ATUM_LIB_LOG_H
#define ATUM_LIB_LOG_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

enum log_level { LOG_LEVEL_DEBUG = 0, LOG_LEVEL_INFO = 1, LOG_LEVEL_WARN = 2, LOG_LEVEL_ERROR = 3 };

/* ident: program name used for syslog.  Logs go to stderr at info until
 * log_configure() says otherwise. */
void log_init(const char *ident);
int log_level_parse(const char *name, enum log_level *level_r);
const char *log_level_name(enum log_level level);
/* target: "stderr" or "syslog". */
int log_configure(enum log_level level, const char *target, const char **error_r);
bool log_enabled(enum log_level level);

void log_event(enum log_level level, const char *event, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void log_eventv(enum log_level level, const char *event, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));

/* Per-thread context appended to each line; "" or NULL clears it. */
void log_context_set(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_context_clear(void);

/* While a thread runs a plugin's code (a job, a route, init/fini), its
 * lines carry plugin=NAME.  The name is borrowed: it must outlive the
 * call, as the plugin's does. */
void log_plugin_enter(const char *plugin);
void log_plugin_leave(void);

/* Formats like log_event's fields into buf (always NUL-terminated); returns
 * the length written.  Exposed for tests and for building log-safe text. */
size_t log_format_fields(char *buf, size_t size, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));

/* The level is checked before anything is formatted. */
#define log_debug(ev, ...) do { if (log_enabled(LOG_LEVEL_DEBUG)) log_event(LOG_LEVEL_DEBUG, ev, __VA_ARGS__); } while (0)
#define log_info(ev, ...)  do { if (log_enabled(LOG_LEVEL_INFO))  log_event(LOG_LEVEL_INFO,  ev, __VA_ARGS__); } while (0)
#define log_warn(ev, ...)  do { if (log_enabled(LOG_LEVEL_WARN))  log_event(LOG_LEVEL_WARN,  ev, __VA_ARGS__); } while (0)
#define log_error(ev, ...) log_event(LOG_LEVEL_ERROR, ev, __VA_ARGS__)

#endif
