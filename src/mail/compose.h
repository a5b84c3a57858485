/*
 * mail/compose.h -- outgoing mail as RFC 5322 / MIME bytes.
 *
 * compose_build() writes a complete message with CRLF line ends and no
 * line longer than 78 characters (headers folded, bodies
 * quoted-printable or base64):
 *  - From, Reply-To, To, Subject with RFC 2047 encoded words for anything
 *    that is not plain ASCII, split only between whole UTF-8 characters;
 *  - Date, Message-ID, In-Reply-To and References (folded between ids);
 *  - multipart/alternative text + HTML when there is HTML, wrapped in
 *    multipart/mixed when there are attachments (filenames in RFC 2231
 *    form when not ASCII);
 *  - Auto-Submitted when given, and any extra headers.
 * The caller owns `out`.
 */
#ifndef ATUM_MAIL_COMPOSE_H
#define ATUM_MAIL_COMPOSE_H

#include <stddef.h>
#include <time.h>
#include "lib/strbuf.h"

struct compose_attachment {
    const char *filename;
    const char *content_type;
    const char *data;
    size_t len;
};

struct compose_mail {
    const char *from_name;           /* UTF-8 display name, may be NULL */
    const char *from_addr;
    const char *reply_to;            /* addr-spec, may be NULL */
    char *const *to;
    size_t nto;
    const char *subject;             /* UTF-8 */
    const char *message_id;          /* without <> */
    const char *in_reply_to;         /* without <>, may be NULL */
    char *const *references;         /* without <>, oldest first */
    size_t nrefs;
    const char *text;                /* UTF-8 */
    const char *html;                /* UTF-8 or NULL */
    const struct compose_attachment *att;
    size_t natt;
    const char *auto_submitted;      /* NULL, "auto-replied", "auto-generated" */
    char *const *extra_headers;      /* "Name: value" lines, may be NULL */
    size_t nextra;
    time_t date;                     /* 0: now */
};

int compose_build(const struct compose_mail *m, struct strbuf *out, const char **error_r);

/* Building blocks, exposed for tests. */
void compose_header(struct strbuf *out, const char *name, const char *value);
void compose_qp(struct strbuf *out, const char *s, size_t n);
void compose_base64(struct strbuf *out, const void *data, size_t n);
void compose_date(char *buf, size_t size, time_t t);

#endif
