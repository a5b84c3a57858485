/*
 * mailin/smtpd.h -- the SMTP / LMTP listener inside atumd.
 *
 * One accept thread; one thread per session (at most smtp.max_connections,
 * and at most max_connections_per_ip from one IPv4 address or IPv6 /64:
 * the next gets "421 4.7.0" and is closed).  A session speaks RFC 5321
 * (or RFC 2033 LMTP: LHLO, one reply per recipient after DATA) with SIZE,
 * PIPELINING, 8BITMIME, ENHANCEDSTATUSCODES, SMTPUTF8 and STARTTLS
 * (OpenSSL, when smtp.tls_cert/tls_key are set).
 *
 * Never an open relay: a recipient is accepted only when it is a queue
 * address or a +detail of one (550 5.1.1 otherwise).  The list of queue
 * addresses is cached and refreshed from the database every few seconds.
 *
 * Nothing is acknowledged before it is durable: "250" after DATA comes
 * only once inbound_store() committed the raw bytes and their mail.ingest
 * job; if the database cannot take it the client gets "451 4.3.0" and
 * retries later.  Limits: message size (552 5.3.4), line length,
 * recipients (452 4.5.3), errors per session, and progress: a session
 * that accepts no mail and receives no message bytes for idle_timeout is
 * cut (421 4.4.2) however many commands it sends, and one that sends more
 * than max_junk_commands commands that move no mail forward (NOOP, RSET,
 * VRFY, HELP, a repeated greeting) between two accepted mails is cut
 * (421 4.7.0).  A bare CR or LF in DATA refuses the message and closes the
 * session (see smtp_proto.h).
 *
 * Ownership: the server borrows nothing from the caller after start; it
 * copies its options.  smtpd_stop() closes the listener and waits for
 * running sessions to finish their current command.
 */
#ifndef ATUM_MAILIN_SMTPD_H
#define ATUM_MAILIN_SMTPD_H

#include <stdbool.h>
#include "core/db.h"

struct smtpd;

struct smtpd_opts {
    const char *listen;          /* "127.0.0.1:2525" */
    bool lmtp;
    const char *hostname;        /* NULL or "": gethostname() */
    int max_connections;
    int max_connections_per_ip;
    int max_junk_commands;
    int max_recipients;
    long long max_message_size;
    int max_line;
    long long idle_timeout_ms;
    const char *tls_cert;        /* NULL or "": no STARTTLS */
    const char *tls_key;
    struct db_params db;
    int db_connections;
};

int smtpd_start(struct smtpd **s_r, const struct smtpd_opts *opts, const char **error_r);
void smtpd_stop(struct smtpd **s);
int smtpd_port(const struct smtpd *s);

#endif
