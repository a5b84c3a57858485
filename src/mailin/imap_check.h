/*
 * mailin/imap_check.h -- an administrator's test of a mailbox's IMAP
 * settings ("test connection"): the same guarded session the poller uses
 * (mailin/imap_session.h), opened once with EXAMINE instead of SELECT (so
 * nothing in the folder changes), then logged out.
 *
 * It reports step by step what worked and what did not (core/mailadmin.h):
 * connect (TCP and the server's greeting), tls (implicit TLS or STARTTLS
 * and the certificate check; not reported for security "none"), login,
 * folder.  Bounded in time: each read waits at most MAILADMIN_READ_MAX_MS
 * (or imap.timeout when shorter) and the whole test ends after
 * MAILADMIN_TEST_MAX_MS through a timer on the session's cancel
 * descriptor.  The password is used for that one LOGIN and not kept.
 *
 * The password rules (desk/mailbox.h) are the caller's: it passes a
 * password only for a link they allow.
 */
#ifndef ATUM_MAILIN_IMAP_CHECK_H
#define ATUM_MAILIN_IMAP_CHECK_H

#include "core/mailadmin.h"

/* mail-in's table for rt->mailadmin_in (set by ingest_register). */
extern const struct mailadmin_in imap_check_ops;

/* The test with explicit limits (read_timeout_ms, total_ms, ca_file may
 * be NULL); what imap_check_ops calls with the configuration's. */
int imap_check(const struct mailadmin_imap *box, long long read_timeout_ms, long long total_ms,
               const char *ca_file, struct mailadmin_report *rep, const char **error_r);

#endif
