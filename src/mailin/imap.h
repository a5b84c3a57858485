/*
 * mailin/imap.h -- polling IMAP mailboxes into the helpdesk (libetpan).
 *
 * A manager thread reads the enabled rows of `mailboxes` every
 * imap.rescan and keeps one poller thread per mailbox (restarted when its
 * settings change, stopped when it is disabled or removed).  A poller:
 *  - takes a session advisory lock for its mailbox on its own database
 *    connection, so one atumd process polls a mailbox at a time; another
 *    process takes over when the holder's connection goes away;
 *  - connects with TLS, STARTTLS or plain; for TLS the server's chain is
 *    verified against the system CAs and the host name BEFORE LOGIN
 *    (libetpan does not), unless the mailbox trusts any certificate;
 *  - selects the folder, tracks UIDVALIDITY (a change restarts from UID 1;
 *    the Message-ID check in ingest keeps that from duplicating tickets)
 *    and fetches every UID above last_uid with BODY.PEEK[];
 *  - stores each mail and its new last_uid in one transaction
 *    (inbound_store), and only then flags it \Seen and moves it to the
 *    configured folder (or deletes it); mails already stored but not yet
 *    moved (a crash in between) are moved on the next pass;
 *  - holds a mail over max_message_size (RFC822.SIZE, checked before its
 *    body is fetched): it is never flagged, moved or deleted; a failed
 *    inbound_mail row with its headers (no job) and the mailbox's
 *    last_error show it to operators; once the limit is raised it is
 *    fetched in full and replaces that row;
 *  - waits with IDLE where the server has it (re-issued every
 *    imap.idle_refresh, any failure means reconnect and resync by UID),
 *    else polls every poll_interval_s;
 *  - reconnects with exponential backoff, recording last_error/last_ok_at.
 * Passwords come from the environment variable named by password_env,
 * which must be ATUM_IMAP_PASSWORD_<NAME>; a password goes in clear or to
 * an unverified server only on loopback, when allowed (desk/mailbox.h).
 */
#ifndef ATUM_MAILIN_IMAP_H
#define ATUM_MAILIN_IMAP_H

#include "core/db.h"

struct imap_manager;

struct imap_opts {
    struct db_params db;
    const char *node_id;
    long long idle_refresh_ms;
    long long timeout_ms;
    long long reconnect_max_ms;
    long long rescan_ms;
    const char *ca_file;
    long long max_message_size;
    bool allow_insecure_loopback;   /* [imap] allow_insecure_loopback (desk/mailbox.h) */
};

int imap_start(struct imap_manager **m_r, const struct imap_opts *opts, const char **error_r);
void imap_stop(struct imap_manager **m);

#endif
