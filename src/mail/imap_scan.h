/*
 * mail/imap_scan.h -- what an IMAP server sends, checked before a parser
 * sees it.
 *
 * libetpan's IMAP parser trusts the server: a literal "{N}" makes it
 * reserve N bytes at once (N read into 32 bits, so {4294967296+n} wraps
 * to n), and a server that then closes makes it loop forever; a line
 * without an end grows without limit; nested parentheses recurse.  The
 * IMAP reader (mailin/imap_wire) passes every byte it receives through
 * this scanner first and refuses the stream at the first violation, so
 * libetpan never sees the offending announcement.
 *
 * The scanner follows the response grammar only as far as it must:
 *  - a literal is "{" digits "}" CRLF, then N bytes that are not scanned;
 *    any "{digits}" above max_literal is refused wherever it stands (also
 *    where a parser might read it as text: a server has no business
 *    announcing such sizes), and so is one too long for 64 bits;
 *  - a line (outside literals) may hold at most max_line bytes;
 *  - parentheses outside quoted strings may nest max_depth deep within
 *    one response line (literals do not end a line; CRLF does).
 * Pure and bounded: no allocation, no I/O, any split of the stream gives
 * the same verdict.
 */
#ifndef ATUM_MAIL_IMAP_SCAN_H
#define ATUM_MAIL_IMAP_SCAN_H

#include <stddef.h>
#include <stdint.h>

enum imap_scan_verdict {
    IMAP_SCAN_OK = 0,
    IMAP_SCAN_LITERAL_TOO_LARGE,   /* announced size in imap_scan.refused_literal */
    IMAP_SCAN_LINE_TOO_LONG,
    IMAP_SCAN_TOO_DEEP
};

struct imap_scan {
    uint64_t max_literal;
    size_t max_line;
    unsigned max_depth;

    uint64_t literal_left;       /* bytes of the current literal still to come */
    size_t line_len;
    unsigned depth;
    int at;                      /* where in the grammar (imap_scan.c) */
    uint64_t number;             /* digits after "{" so far */
    unsigned ndigits;
    uint64_t refused_literal;    /* the size that was refused (UINT64_MAX: beyond 64 bits) */
    enum imap_scan_verdict verdict;
};

void imap_scan_init(struct imap_scan *sc, uint64_t max_literal, size_t max_line, unsigned max_depth);
/* The limit may change between commands (a mail body may be larger than
 * anything else); it applies to literals announced from now on. */
void imap_scan_set_max_literal(struct imap_scan *sc, uint64_t max_literal);
/* Scans n bytes.  Returns IMAP_SCAN_OK, or the first violation, which
 * sticks: every later call returns it too. */
enum imap_scan_verdict imap_scan_feed(struct imap_scan *sc, const char *buf, size_t n);
const char *imap_scan_verdict_text(enum imap_scan_verdict v);

#endif
