/*
 * mailin/imap_session.h -- one logged-in IMAP connection to the folder of
 * one mailbox, over libetpan and a guarded wire (mailin/imap_wire.h).
 *
 * It knows IMAP, not the database: connect (TLS, STARTTLS or plain; for
 * TLS the certificate is verified before LOGIN unless trust_any), LOGIN,
 * SELECT; UID SEARCH; the size and Message-ID of many mails in one FETCH;
 * one mail (BODY.PEEK[], never \Seen) or its header block; \Seen, move,
 * delete; IDLE; NOOP; LOGOUT.
 *
 * Every command runs under the wire's guards: done within
 * command_timeout, no read silent for longer than read_timeout, and
 * literals no larger than what that command can need -- max_message_size
 * for a mail, IMAP_SESSION_HEADER_MAX for headers, IMAP_SESSION_SMALL for
 * everything else.  A command that fails that way, or on the stream,
 * leaves the session broken (imap_session_broken): the caller reconnects.
 * A mail refused because its literal is over max_message_size says so
 * (imap_session_fetch's too_large_r), so it can be held instead of being
 * fetched again and again.
 *
 * Ownership: imap_session_open() copies what it needs from the options
 * (the password is used and forgotten; the cancel descriptors are
 * borrowed) and returns a session only when it is logged in and the
 * folder selected; imap_session_close() logs out when the connection is
 * healthy, frees everything and accepts NULL.  Data returned through pointers
 * belongs to the caller (free()).  One session per thread.
 */
#ifndef ATUM_MAILIN_IMAP_SESSION_H
#define ATUM_MAILIN_IMAP_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The header block of a mail that is held (too large) is kept up to this. */
#define IMAP_SESSION_HEADER_MAX 65536
/* Literals in answers that carry no mail (flags, names, header fields). */
#define IMAP_SESSION_SMALL 65536

struct imap_session;

struct imap_session_opts {
    const char *host;
    int port;
    const char *security;        /* "tls", "starttls" or "none" */
    bool trust_any;              /* skip the certificate check (test servers) */
    const char *ca_file;         /* extra CAs, or NULL */
    const char *user;
    const char *password;
    const char *folder;
    bool examine;                /* EXAMINE (read-only) instead of SELECT: a test */
    long long read_timeout_ms;
    long long command_timeout_ms;
    long long max_message_size;
    const int *cancel_fds;       /* see imap_wire.h */
    int ncancel;
};

int imap_session_open(struct imap_session **s_r, const struct imap_session_opts *o,
                      const char **error_r);

/* How far opening got: the step that failed (IMAP_STEP_DONE: none). */
enum imap_session_step {
    IMAP_STEP_CONNECT = 0,       /* TCP, the greeting, CAPABILITY in clear */
    IMAP_STEP_TLS,               /* implicit TLS or STARTTLS, the certificate check */
    IMAP_STEP_LOGIN,
    IMAP_STEP_FOLDER,            /* SELECT or EXAMINE */
    IMAP_STEP_DONE
};
/* imap_session_open() that also says which step failed (*step_r) and
 * copies the server's greeting line into greeting (size bytes, "" when
 * none was read) -- for a connection test that reports each step. */
int imap_session_open_steps(struct imap_session **s_r, const struct imap_session_opts *o,
                            enum imap_session_step *step_r, char *greeting, size_t size,
                            const char **error_r);
void imap_session_close(struct imap_session **s);

bool imap_session_broken(const struct imap_session *s);
/* UIDVALIDITY of the selected folder; 0 when the server did not say. */
long long imap_session_uidvalidity(const struct imap_session *s);
bool imap_session_has_idle(const struct imap_session *s);

/* Creates a folder (for moving); a refusal (it may exist) is fine, -1
 * only when the session broke. */
int imap_session_create(struct imap_session *s, const char *folder, const char **error_r);

/* UIDs in from..to (to 0: no upper end), ascending, into *v (caller
 * frees). */
int imap_session_search(struct imap_session *s, uint32_t from, uint32_t to, uint32_t **v, size_t *n,
                        const char **error_r);
/* For uids[0..n-1] (ascending): RFC822.SIZE into sizes[] (-1 where the
 * server did not say) and the first Message-ID into msgids[] (without
 * <>; NULL where there is none), in batches. */
int imap_session_fetch_info(struct imap_session *s, const uint32_t *uids, size_t n, long long *sizes,
                            char **msgids, const char **error_r);
/* The whole mail (BODY.PEEK[]), or its header block (at most
 * IMAP_SESSION_HEADER_MAX bytes).  On a literal over the limit: -1,
 * *too_large_r the size the server announced, the session broken. */
int imap_session_fetch(struct imap_session *s, uint32_t uid, bool headers_only, char **data, size_t *len,
                       unsigned long long *too_large_r, const char **error_r);

int imap_session_flag_seen(struct imap_session *s, uint32_t uid, const char **error_r);
int imap_session_move(struct imap_session *s, uint32_t uid, const char *folder, const char **error_r);
int imap_session_delete(struct imap_session *s, uint32_t uid, const char **error_r);
int imap_session_noop(struct imap_session *s, const char **error_r);

/* Whether the server announced new mail (EXISTS) since the last call,
 * in the answer to any command: mail that arrives during a pass is not
 * announced again in the IDLE that follows. */
bool imap_session_take_exists(struct imap_session *s);

/* IDLE for at most max_ms: 1 when the server announced something, 0 when
 * the time ran out; -1 on error or cancel.  Leaves IDLE (DONE) before it
 * returns 0 or 1. */
int imap_session_idle(struct imap_session *s, long long max_ms, const char **error_r);

#endif
