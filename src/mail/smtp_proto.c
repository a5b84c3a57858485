/* mail/smtp_proto.c -- see mail/smtp_proto.h. */
#include "config.h"
#include "mail/smtp_proto.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const struct { const char *name; enum smtp_verb verb; } verbs[] = {
    { "HELO", SMTP_HELO }, { "EHLO", SMTP_EHLO }, { "LHLO", SMTP_LHLO }, { "MAIL", SMTP_MAIL },
    { "RCPT", SMTP_RCPT }, { "DATA", SMTP_DATA }, { "RSET", SMTP_RSET }, { "NOOP", SMTP_NOOP },
    { "QUIT", SMTP_QUIT }, { "STARTTLS", SMTP_STARTTLS }, { "VRFY", SMTP_VRFY }, { "HELP", SMTP_HELP },
};

static int reply_err(char *reply, size_t size, const char *text)
{
    snprintf(reply, size, "%s", text);
    return -1;
}

/* "<path>" at s: copies the address (source routes dropped) and returns
 * the rest of the line after '>', or NULL when malformed. */
static const char *parse_path(const char *s, const char *end, char *out, size_t size, bool allow_null)
{
    while (s < end && *s == ' ')
        s++;
    if (s >= end || *s != '<') {
        /* some clients omit the brackets: take the token */
        const char *t = s;
        while (t < end && *t != ' ')
            t++;
        if (t == s || (size_t)(t - s) >= size)
            return NULL;
        memcpy(out, s, (size_t)(t - s));
        out[t - s] = '\0';
        const char *at = strrchr(out, '@');   /* as strict as with brackets */
        return at != NULL && at != out && at[1] != '\0' ? t : NULL;
    }
    s++;
    const char *gt = memchr(s, '>', (size_t)(end - s));
    if (gt == NULL)
        return NULL;
    const char *a = s;
    /* "<@a,@b:user@host>" */
    if (a < gt && *a == '@') {
        const char *colon = memchr(a, ':', (size_t)(gt - a));
        if (colon == NULL)
            return NULL;
        a = colon + 1;
    }
    size_t n = (size_t)(gt - a);
    if (n == 0) {
        if (!allow_null)
            return NULL;
        out[0] = '\0';
        return gt + 1;
    }
    if (n >= size)
        return NULL;
    for (const char *p = a; p < gt; p++)
        if ((unsigned char)*p <= ' ' || *p == '<' || (unsigned char)*p == 0x7f)
            return NULL;
    memcpy(out, a, n);
    out[n] = '\0';
    const char *at = strrchr(out, '@');
    if (at == NULL || at == out || at[1] == '\0')
        return NULL;
    return gt + 1;
}

static int parse_params(const char *s, const char *end, struct smtp_cmd *cmd, bool mail,
                        char *reply, size_t size)
{
    while (s < end) {
        while (s < end && *s == ' ')
            s++;
        if (s >= end)
            break;
        const char *t = s;
        while (t < end && *t != ' ')
            t++;
        size_t n = (size_t)(t - s);
        if (mail && n > 5 && strncasecmp(s, "SIZE=", 5) == 0) {
            char num[24];
            size_t k = n - 5 < sizeof(num) - 1 ? n - 5 : sizeof(num) - 1;
            memcpy(num, s + 5, k);
            num[k] = '\0';
            char *e;
            errno = 0;
            long long v = strtoll(num, &e, 10);
            if (*e != '\0' || v < 0 || errno)
                return reply_err(reply, size, "501 5.5.4 Invalid SIZE parameter");
            cmd->size = v;
        } else if (mail && n >= 5 && strncasecmp(s, "BODY=", 5) == 0) {
            if (n == 13 && strncasecmp(s + 5, "8BITMIME", 8) == 0)
                cmd->body_8bit = true;
            else if (!(n == 9 && strncasecmp(s + 5, "7BIT", 4) == 0))
                return reply_err(reply, size, "501 5.5.4 BODY must be 7BIT or 8BITMIME");
        } else if (mail && n == 8 && strncasecmp(s, "SMTPUTF8", 8) == 0) {
            cmd->smtputf8 = true;
        } else if (!mail && n > 7 && strncasecmp(s, "NOTIFY=", 7) == 0) {
            /* DSN requests: accepted and ignored (we are the final hop) */
        } else if (!mail && n > 6 && strncasecmp(s, "ORCPT=", 6) == 0) {
        } else if (mail && ((n >= 4 && strncasecmp(s, "RET=", 4) == 0)    /* n: no NUL after */
                            || (n >= 6 && strncasecmp(s, "ENVID=", 6) == 0)
                            || (n >= 5 && strncasecmp(s, "AUTH=", 5) == 0))) {
        } else {
            return reply_err(reply, size, "555 5.5.4 Unsupported parameter");
        }
        s = t;
    }
    return 0;
}

int smtp_parse_command(const char *line, size_t len, struct smtp_cmd *cmd, char *reply, size_t size)
{
    memset(cmd, 0, sizeof(*cmd));
    cmd->size = -1;
    while (len > 0 && (line[len - 1] == '\r' || line[len - 1] == '\n'))
        len--;
    const char *end = line + len;
    for (const char *p = line; p < end; p++)
        if (*p == '\0')
            return reply_err(reply, size, "500 5.5.2 NUL byte in command");
    const char *sp = line;
    while (sp < end && *sp != ' ')
        sp++;
    size_t vl = (size_t)(sp - line);
    for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++) {
        if (strlen(verbs[i].name) == vl && strncasecmp(line, verbs[i].name, vl) == 0) {
            cmd->verb = verbs[i].verb;
            break;
        }
    }
    const char *args = sp < end ? sp + 1 : end;
    size_t al = (size_t)(end - args);

    switch (cmd->verb) {
    case SMTP_UNKNOWN:
        return reply_err(reply, size, "500 5.5.2 Command not recognised");
    case SMTP_HELO:
    case SMTP_EHLO:
    case SMTP_LHLO:
        while (al > 0 && *args == ' ') {
            args++;
            al--;
        }
        if (al == 0)
            return reply_err(reply, size, "501 5.5.4 Syntax: EHLO hostname");
        if (al >= sizeof(cmd->arg))
            return reply_err(reply, size, "501 5.5.4 Hostname too long");
        memcpy(cmd->arg, args, al);
        cmd->arg[al] = '\0';
        return 0;
    case SMTP_MAIL:
    case SMTP_RCPT: {
        const char *kw = cmd->verb == SMTP_MAIL ? "FROM:" : "TO:";
        size_t kl = strlen(kw);
        if (al < kl || strncasecmp(args, kw, kl) != 0)
            return reply_err(reply, size, cmd->verb == SMTP_MAIL ? "501 5.5.4 Syntax: MAIL FROM:<address>"
                                                                  : "501 5.5.4 Syntax: RCPT TO:<address>");
        const char *rest = parse_path(args + kl, end, cmd->path, sizeof(cmd->path), cmd->verb == SMTP_MAIL);
        if (rest == NULL)
            return reply_err(reply, size, cmd->verb == SMTP_MAIL ? "501 5.1.7 Bad sender address syntax"
                                                                  : "501 5.1.3 Bad recipient address syntax");
        return parse_params(rest, end, cmd, cmd->verb == SMTP_MAIL, reply, size);
    }
    case SMTP_DATA:
    case SMTP_RSET:
    case SMTP_QUIT:
    case SMTP_STARTTLS:
        if (al > 0)
            return reply_err(reply, size, "501 5.5.4 No parameters allowed");
        return 0;
    case SMTP_NOOP:
    case SMTP_HELP:
    case SMTP_VRFY:
        if (al >= sizeof(cmd->arg))
            al = sizeof(cmd->arg) - 1;
        memcpy(cmd->arg, args, al);
        cmd->arg[al] = '\0';
        return 0;
    }
    return reply_err(reply, size, "500 5.5.2 Command not recognised");
}

/* ---- DATA ------------------------------------------------------------- */

/* Where the scanner stands; a leading dot is dropped when it is read
 * (transparency, RFC 5321 4.5.2) and the line's CR is held back until
 * its LF shows it is a line end. */
enum { AT_LINE_START, AT_LEADING_DOT, AT_DOT_CR, AT_TEXT, AT_CR };

void smtp_data_init(struct smtp_data *d, struct strbuf *out, size_t max_size, size_t max_line)
{
    memset(d, 0, sizeof(*d));
    d->out = out;
    d->max_size = max_size;
    d->max_line = max_line;
    d->at = AT_LINE_START;
    d->state = SMTP_DATA_MORE;
}

/* Message bytes: counted always, kept while under max_size. */
static void keep(struct smtp_data *d, const char *s, size_t n)
{
    if (n == 0)
        return;
    d->total += n;
    if (d->total > d->max_size)
        d->too_big = true;
    if (!d->too_big)
        strbuf_add(d->out, s, n);
}

static void line_bytes(struct smtp_data *d, size_t n)
{
    d->line_len += n;
    if (d->line_len > d->max_line)
        d->line_too_long = true;
}

size_t smtp_data_feed(struct smtp_data *d, const char *buf, size_t len)
{
    size_t i = 0;
    while (i < len && d->state == SMTP_DATA_MORE) {
        char c = buf[i];
        switch (d->at) {
        case AT_LINE_START:
            d->line_len = 0;
            if (c == '.') {
                line_bytes(d, 1);
                d->at = AT_LEADING_DOT;
                i++;
                continue;
            }
            d->at = AT_TEXT;
            continue;            /* the same byte, as text */
        case AT_LEADING_DOT:
            if (c == '\r') {
                d->at = AT_DOT_CR;
                i++;
                continue;
            }
            d->at = AT_TEXT;     /* the dot is dropped; this byte is text */
            continue;
        case AT_DOT_CR:
            if (c != '\n') {
                d->state = SMTP_DATA_BAD_EOL;
                return i;
            }
            d->state = SMTP_DATA_END;
            return i + 1;
        case AT_CR:
            if (c != '\n') {
                d->state = SMTP_DATA_BAD_EOL;
                return i;
            }
            keep(d, "\r\n", 2);
            d->at = AT_LINE_START;
            i++;
            continue;
        case AT_TEXT: {
            /* a run of ordinary bytes at once */
            size_t start = i;
            while (i < len && buf[i] != '\r' && buf[i] != '\n')
                i++;
            keep(d, buf + start, i - start);
            line_bytes(d, i - start);
            if (i == len)
                return i;
            if (buf[i] == '\n') {   /* LF without CR */
                d->state = SMTP_DATA_BAD_EOL;
                return i;
            }
            d->at = AT_CR;
            i++;
            continue;
        }
        }
    }
    return i;
}
