/*
 * mailin/imap_store.h -- the database side of an IMAP mailbox: where its
 * poller stands, what it stored and what it holds.
 *
 *  - Position: the folder's UIDVALIDITY and last_uid (every UID up to it
 *    is stored or held).  A new UIDVALIDITY starts again from UID 1.
 *  - Each mail is stored with its UID, UIDVALIDITY and a key -- "mid:" and
 *    its Message-ID, or "sha256:" and the hash of its bytes when it has
 *    none -- in the envelope, and its new last_uid, in one transaction
 *    (inbound_store: the mail and its mail.ingest job).  Before a mail is
 *    fetched the poller asks which keys are already stored
 *    (imap_store_known), so a mail is stored once per mailbox even when
 *    the server renumbers its UIDs (a UIDVALIDITY that changes at every
 *    connection), and not downloaded again.
 *  - A mail over mail.max_message_size is held: a failed inbound_mail row
 *    with its headers, no job; the same mail held again under new UIDs
 *    moves its row instead of adding one.  Once the limit is raised, the
 *    stored mail replaces that row.
 *  - The mailbox row says how polling goes (last_error, last_ok_at,
 *    locked_by), and a session advisory lock on the poller's own
 *    connection makes one process poll a mailbox at a time.
 *
 * Ownership: struct imap_box is the caller's; these functions update its
 * uidvalidity and last_uid.  Arrays returned through pointers belong to
 * the caller (free()).  Every statement has parameters.
 */
#ifndef ATUM_MAILIN_IMAP_STORE_H
#define ATUM_MAILIN_IMAP_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "core/db.h"

struct imap_box {
    long long id;
    const char *name;
    const char *folder;
    const char *node_id;
    long long max_message_size;
    long long uidvalidity;       /* as tracked in the database */
    long long last_uid;
};

struct imap_held {
    uint32_t uid;
    long long size;
    long long id;                /* its inbound_mail row */
};

/* 1 when this connection now holds the mailbox, 0 when another does. */
int imap_store_lock(struct db_conn *db, const struct imap_box *b, const char **error_r);
/* Forgets locked_by (the lock itself goes with the connection). */
void imap_store_unlocked(struct db_conn *db, const struct imap_box *b);

/* Reads uidvalidity and last_uid; when the server's UIDVALIDITY differs,
 * records it and starts from UID 1 (*changed_r true). */
int imap_store_position(struct db_conn *db, struct imap_box *b, long long server_uidvalidity,
                        bool *changed_r, const char **error_r);

/* last_error / last_ok_at after a pass (error NULL) or a failure; held
 * mails are reported in last_error without being an error. */
void imap_store_status(struct db_conn *db, const struct imap_box *b, const char *error, int held);

/* Which of the Message-IDs (NULL entries allowed) are stored for this
 * mailbox already (held mails do not count). */
int imap_store_known(struct db_conn *db, const struct imap_box *b, char *const *msgids, size_t n,
                     bool *known, const char **error_r);
/* A mail already stored seen again under uid: last_uid moves past it. */
int imap_store_skip(struct db_conn *db, struct imap_box *b, uint32_t uid, const char **error_r);

/* Stores a mail and advances last_uid in one transaction; replaces > 0
 * is the row of a held mail taken in now.  1 (nothing stored, last_uid
 * advanced) when a mail with the same key is stored already, 0 when
 * stored (*id_r), -1 on error. */
int imap_store_mail(struct db_conn *db, struct imap_box *b, uint32_t uid, const char *data, size_t len,
                    long long replaces, long long *id_r, const char **error_r);

/* Holds a mail (its header block, at most hlen bytes) and advances
 * last_uid past it, in one transaction; *id_r is its row. */
int imap_store_hold(struct db_conn *db, struct imap_box *b, uint32_t uid, long long size,
                    const char *hdr, size_t hlen, long long *id_r, const char **error_r);

/* The held mails of this folder and UIDVALIDITY, ascending UID. */
int imap_store_held(struct db_conn *db, const struct imap_box *b, struct imap_held **v, size_t *n,
                    const char **error_r);

#endif
