/*
 * mail/smtp_proto.h -- the SMTP/LMTP protocol without any I/O: command
 * lines in, parsed commands out; DATA bytes in, the message out.  Pure
 * functions over bounded buffers, so they can be fuzzed alone.
 *
 * smtp_parse_command() understands HELO, EHLO, LHLO, MAIL FROM, RCPT TO,
 * DATA, RSET, NOOP, QUIT, STARTTLS, VRFY, HELP; paths in angle brackets
 * (the null path <> for MAIL), the ESMTP parameters SIZE=, BODY= and
 * SMTPUTF8; it rejects what RFC 5321 does not allow with the reply code
 * and text to send (501/500 with enhanced status codes).
 *
 * struct smtp_data un-dot-stuffs a DATA stream line by line and finds its
 * end.  Bare LF line ends are tolerated, but a message that used CRLF is
 * only ended by CRLF "." CRLF, so a lone "\n.\n" cannot smuggle a second
 * message through an MTA that reads it differently.
 */
#ifndef ATUM_MAIL_SMTP_PROTO_H
#define ATUM_MAIL_SMTP_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include "lib/strbuf.h"

#define SMTP_PATH_MAX 320

enum smtp_verb {
    SMTP_UNKNOWN = 0, SMTP_HELO, SMTP_EHLO, SMTP_LHLO, SMTP_MAIL, SMTP_RCPT, SMTP_DATA,
    SMTP_RSET, SMTP_NOOP, SMTP_QUIT, SMTP_STARTTLS, SMTP_VRFY, SMTP_HELP
};

struct smtp_cmd {
    enum smtp_verb verb;
    char arg[256];               /* HELO/EHLO domain, VRFY argument */
    char path[SMTP_PATH_MAX + 1];/* MAIL/RCPT address without <>, "" for <> */
    long long size;              /* MAIL SIZE=, -1 when absent */
    bool body_8bit;
    bool smtputf8;
};

/* 0 and *cmd filled, or -1 with the full reply to send in reply (e.g.
 * "501 5.5.4 Syntax: MAIL FROM:<address>"). */
int smtp_parse_command(const char *line, size_t len, struct smtp_cmd *cmd, char *reply, size_t size);

struct smtp_data {
    struct strbuf *out;          /* the message, un-dot-stuffed */
    size_t max_size;             /* beyond this, bytes are counted, not kept */
    size_t max_line;
    size_t total;                /* message bytes seen */
    bool too_big;
    bool line_too_long;
    bool seen_crlf;              /* the client uses CRLF */
    bool done;
};

void smtp_data_init(struct smtp_data *d, struct strbuf *out, size_t max_size, size_t max_line);
/* Feeds one line including its line end ("...\r\n" or "...\n"); a final
 * line without any end may be fed too.  Sets d->done on the end marker. */
void smtp_data_line(struct smtp_data *d, const char *line, size_t len);

#endif
