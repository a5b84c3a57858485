/*
 * mailin/imap.h -- polling IMAP mailboxes into the helpdesk: the manager.
 *
 * A manager thread reads the enabled rows of `mailboxes` every
 * imap.rescan and keeps one poller thread per mailbox
 * (mailin/imap_poller.h), restarted when its settings change, stopped
 * when it is disabled or removed.  The pieces under it, one concern each:
 *   mailin/imap_poller   one mailbox's thread: lock, passes, IDLE, pacing, retries
 *   mailin/imap_session  IMAP over libetpan: login, search, fetch, flags, IDLE
 *   mailin/imap_wire     the guarded connection under libetpan (limits, deadlines, cancel, TLS)
 *   mail/imap_scan       the check of the server's bytes (literal sizes, lines, nesting)
 *   mailin/imap_store    the database side: position, stored mails by key, held mails
 * Stopping a poller never waits for it: it is asked to stop (its reads
 * and waits end at once), and the manager reaps it when its thread has
 * ended -- only then is "imap.mailbox_stopped" logged.  So one mailbox
 * whose server hangs cannot delay the others, the rescan, or shutdown.
 *
 * Ownership: imap_start() copies the options; imap_stop() stops every
 * poller, waits for them at most IMAP_STOP_WAIT_MS, and frees the manager
 * (a poller still stuck then -- in a name lookup or a database call,
 * which cannot be cancelled -- is left to process exit, and so is the
 * manager it points to).
 */
#ifndef ATUM_MAILIN_IMAP_H
#define ATUM_MAILIN_IMAP_H

#include "core/db.h"

#define IMAP_STOP_WAIT_MS 10000

struct imap_manager;

struct imap_opts {
    struct db_params db;
    const char *node_id;
    long long idle_refresh_ms;
    long long timeout_ms;        /* one read */
    long long command_timeout_ms;
    long long reconnect_max_ms;
    long long rescan_ms;
    const char *ca_file;
    long long max_message_size;
    bool allow_insecure_loopback;   /* [imap] allow_insecure_loopback (desk/mailbox.h) */
};

int imap_start(struct imap_manager **m_r, const struct imap_opts *opts, const char **error_r);
void imap_stop(struct imap_manager **m);

#endif
