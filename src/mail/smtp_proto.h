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
 * struct smtp_data reads a DATA stream byte by byte, in whatever pieces
 * the client's writes arrive: it un-dot-stuffs it and finds its end.  Only
 * CRLF "." CRLF ends the data (the CRLF before the dot being the end of
 * the previous line, or the 354 reply).  A CR or LF that is not part of a
 * CRLF anywhere in the data refuses the message (SMTP_DATA_BAD_EOL): RFC
 * 5321 2.3.8 forbids them, and an MTA in front that reads "\n.\r\n" or
 * "\r.\r" as the end would otherwise pass a second, smuggled envelope to
 * us as text, or we to it (SMTP smuggling).  The listener then answers
 * once and closes the connection, as Postfix (smtpd_forbid_bare_newline)
 * and OpenSMTPD do: where the client thinks its data ends is unknowable.
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

enum smtp_data_state {
    SMTP_DATA_MORE = 0,          /* no end yet: feed more */
    SMTP_DATA_END,               /* CRLF "." CRLF seen: the message is complete */
    SMTP_DATA_BAD_EOL            /* a bare CR or LF: refuse the message, close */
};

struct smtp_data {
    struct strbuf *out;          /* the message, un-dot-stuffed, CRLF kept */
    size_t max_size;             /* beyond this, bytes are counted, not kept */
    size_t max_line;             /* longer lines (CRLF not counted) are flagged */
    size_t total;                /* message bytes seen */
    size_t line_len;             /* bytes of the current line so far */
    bool too_big;
    bool line_too_long;
    int at;                      /* where the scanner is within a line (smtp_proto.c) */
    enum smtp_data_state state;
};

/* out is borrowed and appended to; it belongs to the caller. */
void smtp_data_init(struct smtp_data *d, struct strbuf *out, size_t max_size, size_t max_line);
/* Feeds len bytes of the stream.  Returns how many were taken: all of
 * them while the state stays SMTP_DATA_MORE, up to and including the
 * final LF when it turns SMTP_DATA_END (what follows is the client's next
 * command), up to the offending byte on SMTP_DATA_BAD_EOL.  Once the
 * state is not SMTP_DATA_MORE it takes nothing more. */
size_t smtp_data_feed(struct smtp_data *d, const char *buf, size_t len);

#endif
