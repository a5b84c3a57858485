/*
 * mailout/smtp_client.h -- one SMTP transaction with the smarthost (libcurl).
 *
 * libcurl speaks plain SMTP, STARTTLS (required when asked for, never
 * silently skipped) and implicit TLS, does AUTH PLAIN/LOGIN, and verifies
 * the server's certificate and host name by default (libetpan's SMTP
 * client does not).  We watch the protocol through libcurl's debug hook to
 * record the server's answer to every RCPT TO, so each recipient gets its
 * own result even when some are refused.
 *
 * on_data_end is called just before the message's final "." is sent: the
 * outbox records that moment durably, so a worker that dies between the
 * server's 250 and our commit does not send the mail a second time.
 */
#ifndef ATUM_MAILOUT_SMTP_CLIENT_H
#define ATUM_MAILOUT_SMTP_CLIENT_H

#include <stdbool.h>
#include <stddef.h>

struct smarthost {
    const char *url;             /* smtp://host:25, smtp://host:587, smtps://host:465 */
    bool starttls;               /* require STARTTLS on smtp:// */
    bool verify;                 /* certificate + host name (default on) */
    const char *ca_file;         /* extra CA bundle, or NULL */
    const char *username;        /* NULL: no AUTH */
    const char *password;
    const char *helo;            /* EHLO name, or NULL */
    long timeout_ms;
};

struct smtp_rcpt_result {
    const char *address;         /* borrowed from the caller's list */
    int code;                    /* reply to RCPT (then to DATA when accepted); 0 unknown */
    char reply[300];
};

struct smtp_result {
    bool connected;              /* a session was established */
    bool data_sent;              /* the message went out and the server answered */
    int final_code;              /* answer to the end of DATA, or the failing command */
    char final_reply[300];
};

/* 0 when the transaction ran (see per-recipient codes); -1 when it could
 * not (connection, TLS, AUTH): *error_r says why, codes stay 0. */
int smtp_send(const struct smarthost *sh, const char *mail_from, char *const *rcpts, size_t n,
              const char *data, size_t len, void (*on_data_end)(void *arg), void *arg,
              struct smtp_rcpt_result *res, struct smtp_result *out, const char **error_r);

/* An administrator's test of the smarthost ("test connection"): connect,
 * EHLO, STARTTLS when asked for (implicit TLS for smtps://), AUTH when a
 * user name is set, then NOOP and QUIT -- no mail.  The report
 * (core/mailadmin.h) has the steps "connect", "ehlo", "starttls" (or
 * "tls" for smtps://) and "auth" as far as they got, each in words.  The
 * whole test ends within total_ms.  0 with the report filled; -1 only when
 * it could not run. */
struct mailadmin_report;
int smtp_check(const struct smarthost *sh, long total_ms, struct mailadmin_report *rep,
               const char **error_r);

#endif
