/* mail/imap_scan.c -- see mail/imap_scan.h. */
#include "config.h"
#include "mail/imap_scan.h"

#include <string.h>

/* Where the scanner stands in a response line. */
enum {
    AT_LINE,          /* ordinary line bytes */
    AT_QUOTED,        /* inside "..." */
    AT_QUOTED_ESC,    /* after a backslash inside "..." */
    AT_DIGITS,        /* after "{", reading the size */
    AT_CLOSED,        /* after "{digits}": a CR makes it a literal */
    AT_CLOSED_CR,     /* after "{digits}" CR: an LF starts the literal */
    AT_LITERAL        /* literal_left bytes of data */
};

void imap_scan_init(struct imap_scan *sc, uint64_t max_literal, size_t max_line, unsigned max_depth)
{
    memset(sc, 0, sizeof(*sc));
    sc->max_literal = max_literal;
    sc->max_line = max_line;
    sc->max_depth = max_depth;
    sc->at = AT_LINE;
}

void imap_scan_set_max_literal(struct imap_scan *sc, uint64_t max_literal)
{
    sc->max_literal = max_literal;
}

static enum imap_scan_verdict fail(struct imap_scan *sc, enum imap_scan_verdict v)
{
    sc->verdict = v;
    return v;
}

/* One byte of a line (not of a literal): line length, quotes, nesting and
 * the start of a size announcement. */
static enum imap_scan_verdict line_byte(struct imap_scan *sc, char c)
{
    if (c == '\n') {             /* a response line ends: nothing spans it */
        sc->line_len = 0;
        sc->depth = 0;
        sc->at = AT_LINE;
        return IMAP_SCAN_OK;
    }
    if (++sc->line_len > sc->max_line)
        return fail(sc, IMAP_SCAN_LINE_TOO_LONG);
    switch (sc->at) {
    case AT_QUOTED:
        if (c == '\\')
            sc->at = AT_QUOTED_ESC;
        else if (c == '"')
            sc->at = AT_LINE;
        return IMAP_SCAN_OK;
    case AT_QUOTED_ESC:
        sc->at = AT_QUOTED;
        return IMAP_SCAN_OK;
    case AT_DIGITS:
        if (c >= '0' && c <= '9') {
            unsigned d = (unsigned)(c - '0');
            if (sc->number > (UINT64_MAX - d) / 10)
                sc->number = UINT64_MAX;      /* saturated: beyond 64 bits */
            else
                sc->number = sc->number * 10 + d;
            sc->ndigits++;
            return IMAP_SCAN_OK;
        }
        if (c == '}' && sc->ndigits > 0) {
            if (sc->number > sc->max_literal) {
                sc->refused_literal = sc->number;
                return fail(sc, IMAP_SCAN_LITERAL_TOO_LARGE);
            }
            sc->at = AT_CLOSED;
            return IMAP_SCAN_OK;
        }
        sc->at = AT_LINE;        /* not a size after all */
        break;
    case AT_CLOSED:
        if (c == '\r') {
            sc->at = AT_CLOSED_CR;
            return IMAP_SCAN_OK;
        }
        sc->at = AT_LINE;
        break;
    case AT_CLOSED_CR:
        sc->at = AT_LINE;        /* CR without LF: text (a bare CR) */
        break;
    default:
        break;
    }
    /* AT_LINE */
    switch (c) {
    case '"':
        sc->at = AT_QUOTED;
        break;
    case '{':
        sc->at = AT_DIGITS;
        sc->number = 0;
        sc->ndigits = 0;
        break;
    case '(':
        if (++sc->depth > sc->max_depth)
            return fail(sc, IMAP_SCAN_TOO_DEEP);
        break;
    case ')':
        if (sc->depth > 0)
            sc->depth--;
        break;
    default:
        break;
    }
    return IMAP_SCAN_OK;
}

enum imap_scan_verdict imap_scan_feed(struct imap_scan *sc, const char *buf, size_t n)
{
    size_t i = 0;
    while (i < n && sc->verdict == IMAP_SCAN_OK) {
        if (sc->at == AT_LITERAL) {
            size_t room = n - i;
            size_t take = sc->literal_left < room ? (size_t)sc->literal_left : room;
            sc->literal_left -= take;
            i += take;
            if (sc->literal_left == 0)
                sc->at = AT_LINE;            /* the line goes on after it */
            continue;
        }
        char c = buf[i++];
        if (sc->at == AT_CLOSED_CR && c == '\n') {
            sc->literal_left = sc->number;   /* checked against the limit at '}' */
            sc->at = sc->literal_left > 0 ? AT_LITERAL : AT_LINE;
            continue;
        }
        line_byte(sc, c);
    }
    return sc->verdict;
}

const char *imap_scan_verdict_text(enum imap_scan_verdict v)
{
    switch (v) {
    case IMAP_SCAN_OK: return "ok";
    case IMAP_SCAN_LITERAL_TOO_LARGE: return "the server announced a literal larger than allowed";
    case IMAP_SCAN_LINE_TOO_LONG: return "the server sent a line longer than allowed";
    case IMAP_SCAN_TOO_DEEP: return "the server nested parentheses deeper than allowed";
    }
    return "?";
}
