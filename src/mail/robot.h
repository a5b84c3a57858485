/*
 * mail/robot.h -- mail written by machines: bounces, auto-replies, lists.
 *
 * robot_classify() sets msg->robot, and msg->robot_reason to the signal
 * that decided ("report: multipart/report delivery-status", "header:
 * Auto-Submitted auto-replied", "sender: MAILER-DAEMON + failure subject",
 * "text: qmail bounce", ...).  Standard signals come first, the words of
 * well-known programs after them, and a weak signal alone decides nothing:
 *  1. report structure: delivery-status (bounce), feedback-report (bounce:
 *     a complaint about our mail), disposition-notification (autoreply: a
 *     read receipt), any multipart/report from a mailer daemon (bounce);
 *  2. X-Failed-Recipients (bounce);
 *  3. a subject that says auto-reply, from anyone but a mailer daemon and
 *     without bounce text (autoreply: "Automatic reply: Undeliverable" is
 *     not a bounce);
 *  4. a mailer daemon (MAILER-DAEMON, postmaster, "Mail Delivery System")
 *     with a failure subject, bounce text or the returned message (bounce);
 *  5. bounce text of a known program at the top of the body (qmail, Exim,
 *     Postfix, Sendmail, Exchange, Domino, Gmail, Japanese carriers: see
 *     bouncetext.h), or a failure subject with the null sender or the
 *     returned message, unless the mail announces itself an auto-reply
 *     (bounce);
 *  6. RFC 3834 Auto-Submitted, X-Autoreply and relatives, challenge-
 *     response systems, Precedence: auto_reply, auto-reply subjects
 *     (autoreply);
 *  7. a well-formed List-Id (RFC 2919), List-Post, Mailing-List,
 *     X-Mailing-List, Precedence: list, List-Unsubscribe with Precedence:
 *     bulk (list);
 *  8. weak signals: the null sender (Return-Path: <>), alone or with
 *     Precedence: bulk/junk (autoreply).  Precedence: bulk alone and
 *     List-Unsubscribe alone (newsletters, bulk senders) make no robot.
 * For reports it also finds the Message-ID of the mail reported on (from
 * the returned message or its headers, or "Message-ID:" in a plain-text
 * bounce) and, for DSNs, each recipient's action, status and diagnostic.
 */
#ifndef ATUM_MAIL_ROBOT_H
#define ATUM_MAIL_ROBOT_H

#include <stddef.h>

struct mail_msg;

void robot_classify(struct mail_msg *msg);
/* Called by the MIME walk for message/delivery-status and friends. */
void robot_parse_report_part(struct mail_msg *msg, const char *minor, const char *data, size_t len);

#endif
