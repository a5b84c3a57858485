/*
 * mail/robot.h -- mail written by machines: bounces, auto-replies, lists.
 *
 * robot_classify() sets msg->robot and msg->robot_reason from, in order:
 *  1. a report: multipart/report or a message/(x)delivery-status part
 *     (bounce), message/feedback-report (bounce: a complaint about our
 *     mail), message/disposition-notification (autoreply: a read receipt);
 *  2. a mailer daemon: From mailer-daemon/postmaster with a failure
 *     subject, an empty Return-Path or X-Failed-Recipients (bounce);
 *  3. RFC 3834 Auto-Submitted other than "no", X-Autoreply and its
 *     relatives, challenge-response systems, Precedence: auto_reply, and
 *     well-known auto-reply subjects in several languages (autoreply);
 *  4. List-Id, List-Unsubscribe, Mailing-List, Precedence: list (list);
 *  5. Precedence: bulk/junk or an empty Return-Path (autoreply).
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
