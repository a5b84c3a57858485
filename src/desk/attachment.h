/*
 * desk/attachment.h -- files a person uploads for a reply or a note they
 * are writing: stored at once (one blob per SHA-256, as mail
 * attachments), an attachment without a message until the message takes
 * it (attachment_claim), seen meanwhile by its uploader only.
 *
 * The name is cleaned and the type decided from the bytes here
 * (lib/filetype.h), whoever uploads.  The limits are the caller's to
 * give (mail.max_attachment_size and web.max_body in the API): a file
 * over max_size is ERR_INVALID on "size"; an empty one too.  Uploads no
 * message took within ATTACHMENT_PENDING_HOURS, and that no draft names,
 * are removed as new ones arrive.
 *
 * Every function runs in the caller's transaction (desk/desk.h) and
 * returns 0 or -1 with err.  Staff only (customers write through the
 * portal later): ERR_FORBIDDEN otherwise.  Not audited -- the message
 * that takes an upload is.
 */
#ifndef ATUM_DESK_ATTACHMENT_H
#define ATUM_DESK_ATTACHMENT_H

#include <stddef.h>
#include "desk/desk.h"
#include "lib/filetype.h"

#define ATTACHMENT_PENDING_HOURS 24
#define ATTACHMENT_MAX_PER_MESSAGE 20

struct attachment_upload {
    const char *filename;         /* as the client named it (cleaned here) */
    const char *declared_type;    /* Content-Type the client sent, or NULL */
    const unsigned char *data;
    size_t size;
    long long max_size;           /* bytes */
};

/* What was stored: the id a reply names, and the cleaned name and type. */
struct attachment_stored {
    long long id;
    char filename[FILETYPE_NAME_MAX + 1];
    char content_type[FILETYPE_TYPE_MAX + 1];
    char sha256[65];
};

int attachment_upload(const struct desk_tx *tx, const struct attachment_upload *u,
                      struct attachment_stored *out, struct err *err);

/* Removes an upload of the actor's that no message took (ERR_NOT_FOUND
 * for anything else). */
int attachment_discard(const struct desk_tx *tx, long long id, struct err *err);

/* Gives the actor's uploads ids[0..n) to message_id (just posted in this
 * transaction).  Every id must be an upload of the actor's that no
 * message took, named once: ERR_INVALID on "attachment_ids" otherwise,
 * as for more than ATTACHMENT_MAX_PER_MESSAGE or a total over max_total
 * bytes (the message's mail must stay sendable). */
int attachment_claim(const struct desk_tx *tx, long long message_id, const long long *ids,
                     size_t n, long long max_total, struct err *err);

#endif
