/*
 * mail/html.h -- mail HTML made safe to show, and turned into text.
 *
 * Parsed with gumbo (the HTML5 algorithm, so broken markup ends up as a
 * browser would see it), then written out from an allow-list:
 *  - elements with their content removed: script, style, head, title,
 *    iframe, frame(set), object, embed, applet, noscript, template, svg,
 *    math, form controls, meta, link, base;
 *  - elements kept: text formatting, paragraphs, lists, tables, links,
 *    images; any other element is unwrapped (its children stay);
 *  - attributes kept: a small presentational set; no style, no event
 *    handlers, no id/class;
 *  - links only http(s), mailto and in-page anchors, opened with
 *    rel="noopener noreferrer nofollow";
 *  - images only cid: (inline attachments) and small data: images; remote
 *    images are not loaded: their address moves to data-remote-src (http
 *    and https, one line, at most 2048 bytes; others are dropped), which
 *    no browser loads, and they are counted in remote_images.  The desk
 *    puts them back only when an agent asks (web/mailframe.h).
 * Output is UTF-8 appended to `out`.  Input must be UTF-8.
 */
#ifndef ATUM_MAIL_HTML_H
#define ATUM_MAIL_HTML_H

#include <stddef.h>
#include "lib/strbuf.h"

struct html_info {
    int remote_images;       /* images whose remote src was taken out */
    int dropped_elements;    /* script, iframe ... removed */
    int too_deep;            /* subtrees cut at the nesting limit */
};

void html_sanitize(const char *html, size_t len, struct strbuf *out, struct html_info *info);
void html_to_text(const char *html, size_t len, struct strbuf *out);

#endif
