/*
 * mailin/imap_poller.h -- the thread that polls one IMAP mailbox.
 *
 * It takes the mailbox's advisory lock on its own database connection
 * (one atumd polls a mailbox at a time; another takes over when the
 * holder's connection goes), then, over and over: a session
 * (mailin/imap_session.h), passes over the folder, and waiting in IDLE
 * (re-issued every idle_refresh) or NOOP polls between passes.
 *
 * A pass: mails up to last_uid still in the folder (stored but not moved
 * yet, or held) are moved or taken in once the limit allows; then for
 * every newer UID one FETCH of sizes and Message-IDs; mails already
 * stored for this mailbox (same Message-ID, whatever their UID) are only
 * flagged/moved; mails over max_message_size -- by RFC822.SIZE, or by the
 * literal the server actually announces -- are held; the rest are
 * fetched, stored (imap_store_mail) and only then flagged \Seen and moved
 * or deleted.
 *
 * Pacing: while IDLE wake-ups bring mail, each is followed by a pass at
 * once; after one that brought nothing, the next pass starts at least 1 s
 * after the previous one, and after three such in a row the pause doubles
 * up to 30 s.  A pass that stores or holds a mail ends the pausing.  Errors: the session is closed, the error recorded (last_error,
 * log), and the next attempt waits 1 s, doubling up to reconnect_max; a
 * session that completed a pass starts that count again.
 *
 * Stopping: imap_poller_stop() returns at once; the thread notices within
 * a poll (every wait and read watches its stop pipe and env->stop_all_fd),
 * writes a byte to env->exited_fd and ends; imap_poller_free() joins it.
 *
 * Ownership: the poller copies the row; env is borrowed and must outlive
 * the poller.  Passwords come from the environment variable the row names.
 */
#ifndef ATUM_MAILIN_IMAP_POLLER_H
#define ATUM_MAILIN_IMAP_POLLER_H

#include <stdbool.h>
#include "core/db.h"

struct imap_poller;

/* What every poller of one manager shares. */
struct imap_poller_env {
    struct db_params db;
    const char *node_id;
    const char *ca_file;         /* NULL: system CAs only */
    long long idle_refresh_ms;
    long long timeout_ms;        /* one read */
    long long command_timeout_ms;
    long long reconnect_max_ms;
    long long rescan_ms;         /* retry interval while another process holds the lock */
    long long max_message_size;
    bool allow_insecure_loopback;   /* desk/mailbox.h: an operator's switch */
    int stop_all_fd;             /* readable: everything stops */
    int exited_fd;               /* written to when a poller's thread ends */
};

/* One row of the mailboxes table. */
struct imap_mailbox_row {
    long long id;
    const char *name, *host, *security, *user, *password_env, *folder, *after, *move_to;
    int port;
    bool trust_any, use_idle;
    int poll_s;
    const char *hash;            /* of the settings: a change restarts the poller */
};

int imap_poller_start(struct imap_poller **p_r, const struct imap_poller_env *env,
                      const struct imap_mailbox_row *row, const char **error_r);
void imap_poller_stop(struct imap_poller *p);
bool imap_poller_exited(const struct imap_poller *p);
/* Joins the thread (waits when it has not ended yet) and frees. */
void imap_poller_free(struct imap_poller **p);

long long imap_poller_id(const struct imap_poller *p);
const char *imap_poller_name(const struct imap_poller *p);
const char *imap_poller_hash(const struct imap_poller *p);

#endif
