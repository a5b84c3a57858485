/*
 * mailin/imap_wire.h -- the connection to one IMAP server, guarded.
 *
 * libetpan speaks IMAP over a "mailstream"; this module is the stream
 * underneath it (a mailstream_low driver of our own), so every byte the
 * server sends passes our guards before libetpan parses it:
 *  - the bytes go through mail/imap_scan first: a literal announced above
 *    the current limit, a line without end, too deep a nesting refuse the
 *    stream before libetpan sees them (it would reserve the announced size
 *    up front, wrap sizes above 4 GB, and spin forever when the server
 *    then closes);
 *  - every read waits at most read_timeout for the server, and every
 *    command has a deadline and a byte budget, so a server that trickles
 *    or floods cannot hold a mailbox's thread;
 *  - every wait also watches the cancel descriptors: when one becomes
 *    readable (atumd stops, the mailbox is removed) the read fails at once;
 *  - end of stream is an error (libetpan would read it as "0 bytes, try
 *    again").
 * TLS is OpenSSL's, on the same socket (implicit TLS or after STARTTLS),
 * and the certificate chain is checked by mail/tlsverify before any
 * password is sent.  Connecting is non-blocking too; only the name lookup
 * (getaddrinfo) cannot be cancelled.
 *
 * Ownership: imap_wire_connect() returns a wire the caller frees with
 * imap_wire_free() -- after the libetpan session that uses it
 * (imap_wire_mailstream(): the mailstream belongs to libetpan, which frees
 * it in mailimap_free(); the wire outlives it).  Options are copied; the
 * cancel descriptors are borrowed and must stay open.  A wire is used by
 * one thread.
 */
#ifndef ATUM_MAILIN_IMAP_WIRE_H
#define ATUM_MAILIN_IMAP_WIRE_H

#include <libetpan/libetpan.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define IMAP_WIRE_MAX_CANCEL 4

struct imap_wire;

struct imap_wire_opts {
    long long read_timeout_ms;   /* the server silent this long: the read fails */
    size_t max_line;             /* longest response line outside literals */
    unsigned max_depth;          /* deepest nesting of parentheses */
    const int *cancel_fds;       /* readable: give up at once */
    int ncancel;
};

/* Why the wire failed; IMAP_WIRE_OK while it works. */
enum imap_wire_fault {
    IMAP_WIRE_OK = 0,
    IMAP_WIRE_TIMEOUT,           /* silent for read_timeout */
    IMAP_WIRE_DEADLINE,          /* the command took longer than allowed */
    IMAP_WIRE_BUDGET,            /* the command's answer was larger than allowed */
    IMAP_WIRE_CANCELLED,
    IMAP_WIRE_CLOSED,            /* the server closed the connection */
    IMAP_WIRE_IO,
    IMAP_WIRE_TLS,
    IMAP_WIRE_LITERAL_TOO_LARGE, /* imap_wire_refused_literal() says how large */
    IMAP_WIRE_LINE_TOO_LONG,
    IMAP_WIRE_TOO_DEEP
};

int imap_wire_connect(struct imap_wire **w_r, const char *host, int port,
                      const struct imap_wire_opts *o, long long deadline_ms, const char **error_r);
/* TLS on the connection (at once for implicit TLS, after the server's OK
 * to STARTTLS); server_name is sent as SNI unless it is an address. */
int imap_wire_start_tls(struct imap_wire *w, const char *server_name, long long deadline_ms,
                        const char **error_r);
/* The server's certificate chain, checked for host (and ca_file). */
int imap_wire_verify(struct imap_wire *w, const char *host, const char *ca_file, const char **error_r);

/* The server's first line (its greeting, at most size - 1 bytes, without
 * the line end), read before libetpan reads it: it stays in the stream.
 * Lets the caller refuse a "* BYE" greeting, which libetpan leaks. */
int imap_wire_greeting(struct imap_wire *w, char *line, size_t size, const char **error_r);

/* A new libetpan stream over the wire (NULL on allocation failure). */
mailstream *imap_wire_mailstream(struct imap_wire *w);

/* The guards for the next command: done by deadline_ms (monotonic),
 * literals up to max_literal bytes, at most budget bytes read. */
void imap_wire_command(struct imap_wire *w, long long deadline_ms, uint64_t max_literal, size_t budget);

enum imap_wire_fault imap_wire_fault(const struct imap_wire *w);
/* The literal size that was refused (IMAP_WIRE_LITERAL_TOO_LARGE). */
uint64_t imap_wire_refused_literal(const struct imap_wire *w);
/* What went wrong, for a log line or last_error (valid until the next
 * call on this thread; see err.h). */
const char *imap_wire_fault_text(const struct imap_wire *w);

/* Waits until the server sends something (1), until_ms passes (0), or a
 * cancel descriptor turns readable or the connection fails (-1).  Data
 * already decrypted and buffered counts as something. */
int imap_wire_wait(struct imap_wire *w, long long until_ms);

void imap_wire_free(struct imap_wire **w);

#endif
