/*
 * web/mailframe.h -- the document a message's HTML is shown in: served by
 * GET /api/v1/messages/{id}/html into the desk's sandboxed <iframe>.
 *
 * Why a document of its own and not srcdoc: a srcdoc frame inherits the
 * desk page's Content-Security-Policy, which allows no image from
 * elsewhere -- rightly, for the page -- so remote images could never be
 * shown on request.  This document carries its own, stricter policy
 * (mailframe_csp): no script at all, nothing from anywhere but data:
 * images -- and, only when the agent asked for them (remote = true),
 * https: images -- no forms, no base, no plugins, framed only by the desk
 * itself, and the CSP sandbox on top of the iframe's own sandbox
 * attribute (an opaque origin: it can reach neither the desk, its
 * cookies nor the API).  The desk's own policy is left as it was.
 *
 * The HTML was sanitised at ingest (mail/html.h); mailframe_render() reads
 * that output again and touches <img> only:
 *  - src="cid:..." becomes the data: URL of the inline attachment with that
 *    Content-ID (percent-decoded, without <>, case-insensitive), or goes;
 *  - src="data:image/..." stays (the sanitiser allowed it);
 *  - data-remote-src="https://..." becomes src only when remote is true;
 *  - any other src goes.
 * Everything else is copied as it is.  An <img> tag that does not read as
 * the sanitiser writes them (name="value" pairs) loses every attribute
 * but alt: the renderer fails closed.  Pure code, unit-tested in
 * tests/unit/test_mailframe.c.
 */
#ifndef ATUM_WEB_MAILFRAME_H
#define ATUM_WEB_MAILFRAME_H

#include <stdbool.h>
#include <stddef.h>
#include "lib/strbuf.h"

struct mailframe_image {
    const char *content_id;   /* as stored: "logo@x" or "<logo@x>" */
    const char *data_url;     /* "data:image/png;base64,..." */
};

/* The whole document (doctype, head, body) into out. */
void mailframe_render(const char *html, size_t len, const struct mailframe_image *images,
                      size_t nimages, bool remote, struct strbuf *out);

/* The Content-Security-Policy of the document. */
const char *mailframe_csp(bool remote);

/* "data:<type>;base64,<bytes>" of data into out. */
void mailframe_data_url(const char *type, const unsigned char *data, size_t len, struct strbuf *out);

#endif
