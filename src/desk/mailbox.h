/*
 * desk/mailbox.h -- what an IMAP mailbox's settings may be, and where its
 * password comes from.
 *
 * An admin of the API (or atumctl) chooses a mailbox's host, port,
 * security and the name of the environment variable that holds its
 * password.  Without rules that made atumd a reader of its own secrets:
 * a mailbox naming ATUM_CORE_SECRET_KEY or ATUM_SMARTHOST_PASSWORD, with
 * `security: none` and the admin's own host, received that secret in an
 * IMAP LOGIN.  So:
 *
 *  - a mailbox password lives only in a variable of its own namespace,
 *    ATUM_IMAP_PASSWORD_<NAME> (NAME: 1 to 64 of A-Z 0-9 _) -- never in
 *    one of atumd's own settings (ATUM_<SECTION>_<KEY>: no configuration
 *    key is named so, and a test keeps it that way) nor in any other
 *    variable of its environment;
 *  - a password is sent in clear (security none) or to a server whose
 *    certificate is not verified (trust_any_certificate) only when the
 *    host is a loopback address (127.0.0.0/8, ::1, localhost) and the
 *    operator allowed it in the configuration file with
 *    [imap] allow_insecure_loopback = yes.
 *
 * The API and atumctl check a mailbox when it is written, and the IMAP
 * poller checks again, right before LOGIN, through mailbox_password():
 * a row written some other way (SQL, an older atumd) gets nothing either.
 *
 * Pure functions (getenv aside); strings are borrowed.
 */
#ifndef ATUM_DESK_MAILBOX_H
#define ATUM_DESK_MAILBOX_H

#include <stdbool.h>

#define MAILBOX_PASSWORD_ENV_PREFIX "ATUM_IMAP_PASSWORD_"

/* How atumd reaches a mailbox's server. */
struct mailbox_link {
    const char *host;
    const char *security;            /* "tls", "starttls" or "none" */
    bool trust_any_certificate;
};

/* 0 when name may hold a mailbox password; -1 and why. */
int mailbox_password_env_check(const char *name, const char **error_r);

/* 0 when a password may be sent over this link; -1 and why.
 * insecure_loopback_allowed: [imap] allow_insecure_loopback. */
int mailbox_link_check(const struct mailbox_link *link, bool insecure_loopback_allowed,
                       const char **error_r);

/* 127.0.0.0/8, ::1 (bracketed or not) or "localhost". */
bool mailbox_host_is_loopback(const char *host);

/* The password for a LOGIN over link, from the environment variable
 * env_name, after both checks above: the value (owned by the
 * environment), or NULL and why. */
const char *mailbox_password(const char *env_name, const struct mailbox_link *link,
                             bool insecure_loopback_allowed, const char **error_r);

#endif
