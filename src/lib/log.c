/* log.c -- logfmt lines to stderr or syslog; see log.h. */
#include "config.h"
#include "lib/log.h"
#include "lib/err.h"

#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>
#include <wchar.h>

#define LOG_LINE_MAX 8192
#define LOG_CONTEXT_MAX 256

struct log_state {
    atomic_int level;
    atomic_int use_syslog;
    char ident[32];
};

static struct log_state log_state = { .level = LOG_LEVEL_INFO, .use_syslog = 0, .ident = "atum" };
static _Thread_local char log_context[LOG_CONTEXT_MAX];
/* the plugin whose code this thread runs (names are [a-z0-9_]) */
static _Thread_local const char *log_plugin;

static const char *const level_names[] = { "debug", "info", "warn", "error" };

void log_init(const char *ident)
{
    snprintf(log_state.ident, sizeof(log_state.ident), "%s", ident);
}

int log_level_parse(const char *name, enum log_level *level_r)
{
    for (int i = 0; i < 4; i++) {
        if (strcasecmp(name, level_names[i]) == 0) {
            *level_r = (enum log_level)i;
            return 0;
        }
    }
    if (strcasecmp(name, "warning") == 0) {
        *level_r = LOG_LEVEL_WARN;
        return 0;
    }
    return -1;
}

const char *log_level_name(enum log_level level)
{
    return level >= LOG_LEVEL_DEBUG && level <= LOG_LEVEL_ERROR ? level_names[level] : "?";
}

int log_configure(enum log_level level, const char *target, const char **error_r)
{
    int want_syslog;
    if (target == NULL || strcmp(target, "stderr") == 0)
        want_syslog = 0;
    else if (strcmp(target, "syslog") == 0)
        want_syslog = 1;
    else
        return err_set(error_r, "log target must be stderr or syslog, not '%s'", target);

    if (want_syslog && !atomic_load(&log_state.use_syslog))
        openlog(log_state.ident, LOG_PID | LOG_NDELAY, LOG_DAEMON);
    else if (!want_syslog && atomic_load(&log_state.use_syslog))
        closelog();
    atomic_store(&log_state.use_syslog, want_syslog);
    atomic_store(&log_state.level, (int)level);
    return 0;
}

bool log_enabled(enum log_level level)
{
    return (int)level >= atomic_load_explicit(&log_state.level, memory_order_relaxed);
}

/* ---- the formatter ---------------------------------------------------- */

struct out {
    char *p;
    size_t len, size;
};

static void out_char(struct out *o, char c)
{
    if (o->len + 1 < o->size)
        o->p[o->len++] = c;
}

static void out_escaped_byte(struct out *o, unsigned char c)
{
    static const char hex[] = "0123456789abcdef";
    switch (c) {
    case '\n': out_char(o, '\\'); out_char(o, 'n'); break;
    case '\r': out_char(o, '\\'); out_char(o, 'r'); break;
    case '\t': out_char(o, '\\'); out_char(o, 't'); break;
    default:
        out_char(o, '\\'); out_char(o, 'x');
        out_char(o, hex[c >> 4]); out_char(o, hex[c & 15]);
    }
}

/* Free text: copied, with control characters escaped. */
static void out_text(struct out *o, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == 0x7f)
            out_escaped_byte(o, c);
        else
            out_char(o, (char)c);
    }
}

static bool value_needs_quotes(const char *s)
{
    if (*s == '\0')
        return true;
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c <= ' ' || c == '"' || c == '=' || c == '\\' || c == 0x7f)
            return true;
    }
    return false;
}

/* A logfmt value: bare when safe, else "quoted" with \" \\ and escapes. */
static void out_value(struct out *o, const char *s)
{
    if (s == NULL) {
        out_text(o, "(null)", 6);
        return;
    }
    if (!value_needs_quotes(s)) {
        out_text(o, s, strlen(s));
        return;
    }
    out_char(o, '"');
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            out_char(o, '\\');
            out_char(o, (char)c);
        } else if (c < 0x20 || c == 0x7f) {
            out_escaped_byte(o, c);
        } else {
            out_char(o, (char)c);
        }
    }
    out_char(o, '"');
}

/* printf with logfmt values: each conversion is handed to snprintf on its
 * own, with the argument fetched by its real type, so the usual format
 * checking by the compiler still covers every call site.  The single
 * conversion specs built here are copied from those checked formats, hence
 * the one place where non-literal formats are allowed. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
size_t log_format_fields(char *buf, size_t size, const char *fmt, va_list ap)
{
    struct out o = { buf, 0, size };
    if (size == 0)
        return 0;

    const char *f = fmt;
    while (*f) {
        if (*f != '%') {
            const char *lit = f;
            while (*f && *f != '%')
                f++;
            out_text(&o, lit, (size_t)(f - lit));
            continue;
        }
        if (f[1] == '%') {
            out_char(&o, '%');
            f += 2;
            continue;
        }
        const char *spec_start = f++;
        while (*f && strchr("-+ #0'", *f))
            f++;
        if (*f == '*') {
            f++;
        } else {
            while (*f >= '0' && *f <= '9')
                f++;
        }
        bool star_prec = false;
        int lit_prec = -1;
        if (*f == '.') {
            f++;
            lit_prec = 0;
            if (*f == '*') {
                star_prec = true;
                f++;
            }
            while (*f >= '0' && *f <= '9')
                lit_prec = lit_prec * 10 + (*f++ - '0');
        }
        char len[3] = "";
        if (*f == 'h' || *f == 'l') {
            len[0] = *f++;
            if (*f == len[0])
                len[1] = *f++;
        } else if (*f == 'z' || *f == 'j' || *f == 't' || *f == 'L') {
            len[0] = *f++;
        }
        char conv = *f;
        if (conv == '\0')
            break;
        f++;

        char spec[32];
        size_t speclen = (size_t)(f - spec_start);
        if (speclen >= sizeof(spec))
            speclen = sizeof(spec) - 1;
        memcpy(spec, spec_start, speclen);
        spec[speclen] = '\0';
        if (strchr(spec, '*') && !star_prec) {
            /* width via '*' is not used in this code base; consume and ignore */
            (void)va_arg(ap, int);
            char *st = strchr(spec, '*');
            memmove(st, st + 1, strlen(st));
        }

        char tmp[512];
        tmp[0] = '\0';
        bool after_equals = o.len > 0 && o.p[o.len - 1] == '=';
        switch (conv) {
        case 'd': case 'i': case 'u': case 'x': case 'X': case 'o': case 'c':
            if (strcmp(len, "ll") == 0)
                snprintf(tmp, sizeof(tmp), spec, va_arg(ap, long long));
            else if (strcmp(len, "l") == 0)
                snprintf(tmp, sizeof(tmp), spec, va_arg(ap, long));
            else if (strcmp(len, "z") == 0)
                snprintf(tmp, sizeof(tmp), spec, va_arg(ap, size_t));
            else if (strcmp(len, "j") == 0)
                snprintf(tmp, sizeof(tmp), spec, va_arg(ap, intmax_t));
            else if (strcmp(len, "t") == 0)
                snprintf(tmp, sizeof(tmp), spec, va_arg(ap, ptrdiff_t));
            else
                snprintf(tmp, sizeof(tmp), spec, va_arg(ap, int));
            out_text(&o, tmp, strlen(tmp));
            break;
        case 'f': case 'F': case 'g': case 'G': case 'e': case 'E':
            if (len[0] == 'L')
                snprintf(tmp, sizeof(tmp), spec, va_arg(ap, long double));
            else
                snprintf(tmp, sizeof(tmp), spec, va_arg(ap, double));
            out_text(&o, tmp, strlen(tmp));
            break;
        case 'p':
            snprintf(tmp, sizeof(tmp), "%p", va_arg(ap, void *));
            out_text(&o, tmp, strlen(tmp));
            break;
        case 's': {
            int prec = lit_prec;
            if (star_prec)
                prec = va_arg(ap, int);
            const char *s = va_arg(ap, const char *);
            if (prec >= 0 && s != NULL) {
                /* %.*s: bounded copy, then treated like any other string */
                size_t n = strnlen(s, (size_t)prec);
                char *copy = tmp;
                if (n >= sizeof(tmp))
                    n = sizeof(tmp) - 1;
                memcpy(copy, s, n);
                copy[n] = '\0';
                s = copy;
            }
            if (after_equals)
                out_value(&o, s);
            else
                out_text(&o, s ? s : "(null)", s ? strlen(s) : 6);
            break;
        }
        default:
            /* unknown conversion: print it literally, consume nothing */
            out_text(&o, spec, strlen(spec));
        }
    }
    o.p[o.len] = '\0';
    return o.len;
}
#pragma GCC diagnostic pop

/* ---- output ----------------------------------------------------------- */

void log_eventv(enum log_level level, const char *event, const char *fmt, va_list ap)
{
    if (!log_enabled(level))
        return;
    char line[LOG_LINE_MAX];
    size_t n = 0;
    bool to_syslog = atomic_load(&log_state.use_syslog);

    if (!to_syslog) {
        struct timespec ts;
        struct tm tm;
        clock_gettime(CLOCK_REALTIME, &ts);
        gmtime_r(&ts.tv_sec, &tm);
        n += strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%S", &tm);
        n += (size_t)snprintf(line + n, sizeof(line) - n, ".%03ldZ ", ts.tv_nsec / 1000000);
    }
    n += (size_t)snprintf(line + n, sizeof(line) - n, "level=%s event=%s",
                          level_names[level], event);
    if (fmt != NULL && *fmt != '\0' && n + 2 < sizeof(line)) {
        line[n++] = ' ';
        n += log_format_fields(line + n, sizeof(line) - n - 1, fmt, ap);
    }
    if (log_context[0] != '\0' && n + 2 < sizeof(line))
        n += (size_t)snprintf(line + n, sizeof(line) - n, " %s", log_context);
    if (log_plugin != NULL && n + 2 < sizeof(line))
        n += (size_t)snprintf(line + n, sizeof(line) - n, " plugin=%s", log_plugin);
    if (n > sizeof(line) - 2)
        n = sizeof(line) - 2;

    if (to_syslog) {
        static const int prio[] = { LOG_DEBUG, LOG_INFO, LOG_WARNING, LOG_ERR };
        line[n] = '\0';
        syslog(prio[level], "%s", line);
    } else {
        line[n++] = '\n';
        /* one write per line: lines from threads never interleave */
        ssize_t w = write(STDERR_FILENO, line, n);
        (void)w;
    }
}

void log_event(enum log_level level, const char *event, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    log_eventv(level, event, fmt, ap);
    va_end(ap);
}

void log_context_set(const char *fmt, ...)
{
    if (fmt == NULL || *fmt == '\0') {
        log_context[0] = '\0';
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    log_format_fields(log_context, sizeof(log_context), fmt, ap);
    va_end(ap);
}

void log_context_clear(void)
{
    log_context[0] = '\0';
}

void log_plugin_enter(const char *plugin)
{
    log_plugin = plugin;
}

void log_plugin_leave(void)
{
    log_plugin = NULL;
}
