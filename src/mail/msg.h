/*
 * mail/msg.h -- a mail as the helpdesk reads it: the struct mail_parse()
 * (mail/mime.h) fills and the robot classifier (mail/robot.h) and the
 * summary (mail/summary.h) read.  Types only, and the two functions every
 * user of them needs; kept apart from the parser so the classifier the
 * parser calls does not include the parser.
 *
 * Every string a struct mail_msg hands out is valid UTF-8 without NUL
 * bytes (repairs are listed in problems); only headers.v[].value keeps the
 * raw bytes of the mail.
 *
 * Ownership: a struct mail_msg owns everything inside it; mail_msg_free()
 * releases it all and sets the pointer to NULL.
 */
#ifndef ATUM_MAIL_MSG_H
#define ATUM_MAIL_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include "lib/strbuf.h"
#include "mail/mailhdr.h"

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

void mail_msg_free(struct mail_msg **msg);

/* "none", "autoreply", "bounce", "list" */
const char *mail_robot_name(enum mail_robot r);

#endif
