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
 * Ownership: mail_parse() returns a heap struct_mail_msg the caller frees
 * with mail_msg_free(); all strings inside belong to it.
 */
#ifndef ATUM_MAIL_MIME_H
#define ATUM_MAIL_MIME_H

#include <stdbool.h>
#include <stddef.h>
#include "mail/mailhdr.h"
#include "strbuf.h"

struct mail_limits {
    size_t max_header_bytes;     /* per header block */
    size_t max_attachment;       /* decoded bytes kept per attachment */
    int max_parts;
    int max_depth;
};

struct mail_attachment {
    char *filename;              /* UTF-8, never empty (generated if missing) */
    char *content_type;          /* "type/subtype", lower case */
    char *content_id;            /* without <>, or NULL */
    bool is_inline;              /* disposition inline or referenced by cid */
    char *data;                  /* decoded bytes (NULL when too large) */
    size_t size;                 /* decoded size, even when not kept */
    bool too_large;
    char sha256[65];
    char *subject;               /* message/rfc822: its decoded subject */
    char *message_id;            /* message/rfc822 and text/rfc822-headers: its id */
};

enum mail_robot { MAIL_ROBOT_NONE, MAIL_ROBOT_AUTOREPLY, MAIL_ROBOT_BOUNCE, MAIL_ROBOT_LIST };

struct mail_dsn_rcpt {
    char *recipient;
    char *action;                /* failed, delayed, delivered, relayed, expanded */
    char *status;                /* 5.1.1 ... */
    char *diagnostic;
};

struct mail_msg {
    struct mail_headers headers;
    char *subject;               /* UTF-8, "" when absent */
    char *from_addr;             /* addr-spec, NULL when none */
    char *from_name;             /* UTF-8 display name, NULL when none */
    char *reply_to;
    char *message_id;            /* without <>, NULL when none */
    char *message_id_raw;        /* the header value, whitespace collapsed */
    char *in_reply_to;           /* first id, without <> */
    char **refs;                 /* References then In-Reply-To, unique, without <> */
    size_t nrefs;
    char **to;                   /* To and Cc addresses */
    size_t nto;
    char *date;
    struct strbuf text;          /* body text, UTF-8 */
    struct strbuf html;          /* sanitised HTML, UTF-8; empty if none */
    struct strbuf new_text;      /* text without quotes and signature */
    struct mail_attachment *att;
    size_t natt;
    enum mail_robot robot;
    char *robot_reason;
    char *report_type;           /* multipart/report report-type, lower case */
    char *report_original_id;    /* Message-ID of the mail a report is about */
    struct mail_dsn_rcpt *dsn;
    size_t ndsn;
    struct strbuf problems;      /* one per line */
    int remote_images;
    char *body_charset;          /* first declared text charset */
};

void mail_limits_default(struct mail_limits *lim);

/* Never NULL for any input (allocation failure aborts). */
struct mail_msg *mail_parse(const char *raw, size_t len, const struct mail_limits *lim);
void mail_msg_free(struct mail_msg **msg);

const char *mail_robot_name(enum mail_robot r);

#endif
