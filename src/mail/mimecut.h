/*
 * mail/mimecut.h -- MIME nesting bounded before libetpan reads it.
 *
 * libetpan finds the end of each multipart by scanning for its boundary,
 * level by level: a mail nested N levels deep costs it N^2 (20,000 levels
 * held a worker for minutes).  mimecut() reads the message once, keeping
 * the open boundaries on a stack no deeper than the limit, and makes the
 * part that would go deeper an opaque leaf: its Content-Type becomes
 * application/octet-stream, so libetpan stores its body (everything below
 * it, byte for byte) as one attachment instead of descending.  Nothing of
 * the mail is dropped; the parse stays linear.
 *
 * It understands what decides nesting and nothing more: header blocks
 * (folded lines included), multipart boundaries, message/rfc822 and
 * message/global parts (whose bodies are messages with headers of their
 * own) and the parts of multipart/digest, which are messages by default.
 * The buffer is the one mail_parse() hands to libetpan (LF line ends; a
 * CR before an LF is tolerated).
 */
#ifndef ATUM_MAIL_MIMECUT_H
#define ATUM_MAIL_MIMECUT_H

#include <stddef.h>
#include "lib/strbuf.h"

/* 1: the message nests deeper than max_depth, and *out (which the caller
 * frees) holds it with every container (multipart, embedded message) at
 * depth max_depth made a leaf; 0: it does not, and *out is untouched.
 * Depth counts as mime.c's walk does: the message's body is 1, the parts
 * of a container one more than the container. */
int mimecut(const char *buf, size_t len, int max_depth, struct strbuf *out);

#endif
