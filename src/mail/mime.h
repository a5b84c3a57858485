/*
 * mail/mime.h -- a raw mail turned into what a helpdesk needs.
 *
 * mail_parse() reads any bytes and never fails on content: whatever is
 * broken is repaired as well as possible and described in `problems`.
 * Steps: mailhdr_prepare() (lenient header block), libetpan's
 * mailmime_parse() for the MIME tree, then a walk that
 *  - decodes headers (RFC 2047; raw 8-bit and ISO-2022 bytes with the
 *    mail's text charset as a hint, see charset_header_to_utf8());
 *  - takes text/plain and text/html parts without a filename (and not
 *    "attachment") as the body: plain parts make body_text, the first HTML
 *    part is sanitised into body_html, and HTML is turned into text when
 *    there is no plain alternative;
 *  - makes every other leaf an attachment, without descending into
 *    message parts (a forwarded message is one attachment, its subject
 *    kept), so counts match what mail clients show; inline cid: images
 *    keep their Content-ID; winmail.dat stays one attachment; parts after
 *    a multipart's closing boundary are epilogue (README "Mail in" has
 *    the whole definition);
 *  - bounds the work: parts, nesting and attachment size limits.
 * Robot classification and DSN details are filled in by robot.h.
 *
 * Every string in struct mail_msg (and its attachments and DSN entries)
 * is valid UTF-8 without NUL, whatever the input: what could not be
 * decoded cleanly is decoded by guess or with U+FFFD, and noted in
 * `problems`.  Only `headers` keeps the raw bytes.
 *
 * Ownership: mail_parse() returns a heap struct mail_msg (mail/msg.h) the
 * caller frees with mail_msg_free(); all strings inside belong to it.
 */
#ifndef ATUM_MAIL_MIME_H
#define ATUM_MAIL_MIME_H

#include <stdbool.h>
#include <stddef.h>
#include "mail/mailhdr.h"
#include "mail/msg.h"
#include "lib/strbuf.h"

struct mail_limits {
    size_t max_header_bytes;     /* per header block */
    size_t max_attachment;       /* decoded bytes kept per attachment */
    int max_parts;
    int max_depth;
};

void mail_limits_default(struct mail_limits *lim);

/* Never NULL for any input (allocation failure aborts). */
struct mail_msg *mail_parse(const char *raw, size_t len, const struct mail_limits *lim);

#endif
