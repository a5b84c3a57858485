/*
 * mail/mailhdr.h -- the header block of a message, read leniently, and the
 * structured values in it (addresses, message ids).
 *
 * mailhdr_prepare() turns raw bytes, which stay untouched in the database,
 * into a buffer the MIME parser copes with, noting what it had to repair:
 *  - a UTF-8 byte order mark and an mbox "From " line before the headers
 *    are skipped;
 *  - a line of only spaces or tabs is folding whitespace (RFC 5322's
 *    obsolete syntax), kept in the value; before the first header it is
 *    skipped; only an empty line ends the block;
 *  - NUL bytes in a value become U+FFFD;
 *  - bare CR line ends become LF;
 *  - a header line that lost its folding whitespace (a line without a
 *    "Name:" in the middle of the header block, followed by more headers)
 *    is joined to the header before it;
 *  - a header block that runs into the body without a blank line gets one;
 *  - a header block larger than the limit is cut there.
 * It also returns the headers, unfolded (CR/LF removed, whitespace kept),
 * in order.
 *
 * Ownership: struct mail_headers owns its strings; mailhdr_free() them.
 */
#ifndef ATUM_MAIL_MAILHDR_H
#define ATUM_MAIL_MAILHDR_H

#include <stdbool.h>
#include <stddef.h>
#include "lib/strbuf.h"

struct mail_header {
    char *name;
    char *value;             /* unfolded, raw bytes (may be 8-bit) */
};

struct mail_headers {
    struct mail_header *v;
    size_t n;
};

/* Problems are appended to `problems` as "text\n" lines. */
int mailhdr_prepare(const char *raw, size_t len, size_t max_header_bytes,
                    struct strbuf *parsebuf, struct mail_headers *hdrs,
                    struct strbuf *problems);

/* Parses a header block only (nested messages); same repairs. */
void mailhdr_parse_block(const char *block, size_t len, size_t max_header_bytes,
                         struct mail_headers *hdrs, struct strbuf *problems);

void mailhdr_free(struct mail_headers *hdrs);

/* First header with this name (case-insensitive), or NULL. */
const char *mailhdr_get(const struct mail_headers *hdrs, const char *name);

/* The first address of an address header: addr-spec into addr (without
 * angle brackets; "" when none) and the raw display name (still encoded)
 * into display.  Handles quotes, comments, groups, missing brackets. */
void mailhdr_first_address(const char *value, struct strbuf *addr, struct strbuf *display);

/* A From that is one bare word outside comments ("MAILER-DAEMON",
 * "postmaster (Mail Delivery System)", "\"Postmaster\""): that word, as
 * mail clients and Python read it, appended to out; nothing when the value
 * holds more than one word or any address syntax. */
void mailhdr_bare_word(const char *value, struct strbuf *out);

/* Every addr-spec in an address list, appended one per line. */
void mailhdr_addresses(const char *value, struct strbuf *out_lines);

/* Message ids of a Message-ID / In-Reply-To / References value, without
 * angle brackets, one per line; a bare id without brackets is taken too
 * when there is no bracketed one. */
void mailhdr_msgids(const char *value, struct strbuf *out_lines);

/* Collapses runs of whitespace to one space and trims. */
void mailhdr_collapse_ws(const char *in, struct strbuf *out);

#endif
