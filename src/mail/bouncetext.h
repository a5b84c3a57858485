/*
 * mail/bouncetext.h -- delivery failures told by their words, not their
 * structure.
 *
 * Many bounces are not multipart/report: qmail, Exim, older Postfix and
 * Exchange, Lotus Domino, Japanese carriers and webmail providers write a
 * plain-text notice (with the original often appended or attached).
 * These functions know the fixed sentences those programs write (as
 * collected by bounce parsers such as sisimai) and the subjects of their
 * notices, and say which one matched so the caller can record why it
 * decided.  They only look, never allocate, and take UTF-8 text.
 */
#ifndef ATUM_MAIL_BOUNCETEXT_H
#define ATUM_MAIL_BOUNCETEXT_H

#include <stdbool.h>
#include <stddef.h>

/* The name of the program whose bounce text begins this body ("qmail",
 * "Exim", "Postfix", "Sendmail", "Exchange", ...), or NULL.  Only the
 * first lines count, and quoted lines ("> ...") never do, so a person
 * who quotes a bounce in a reply is not a bounce. */
const char *bouncetext_mta(const char *text, size_t len);

/* Does the subject say a delivery failed or was delayed ("Undeliverable:",
 * "Returned mail:", "failure notice", "Mail delivery failed", ...)?  A
 * subject that starts as a reply, a forward or an auto-reply never does:
 * "Automatic reply: Undeliverable ..." is an auto-reply. */
bool bouncetext_failure_subject(const char *subject);

/* Does the subject say it is an automatic reply ("Automatic reply:",
 * "Out of Office", "Auto:", "Abwesenheitsnotiz", "自動応答", ...)? */
bool bouncetext_autoreply_subject(const char *subject);

#endif
