/*
 * mail/quote.h -- the new part of a reply, without quoted history and
 * signature, for display.  The full text is always kept elsewhere; this
 * only decides where the new text ends:
 *  - at an attribution line ("On ... wrote:", "Am ... schrieb ...:",
 *    "Le ... a écrit :", ...) followed by quoted text;
 *  - at an Outlook-style "-----Original Message-----" or a "From:" line
 *    followed by "Sent:"/"Date:"/"To:"/"Subject:" lines;
 *  - at a trailing block of "> " quoted lines;
 *  - at a signature separator "-- " near the end.
 * If nothing would remain, the whole text is the new text.
 */
#ifndef ATUM_MAIL_QUOTE_H
#define ATUM_MAIL_QUOTE_H

#include <stddef.h>
#include "lib/strbuf.h"

/* Appends the new text of text[0..len) to out. */
void quote_new_text(const char *text, size_t len, struct strbuf *out);

#endif
