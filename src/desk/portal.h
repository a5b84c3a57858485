/*
 * desk/portal.h -- what admins set for the customer portal: per queue,
 * whether self sign-up is on (else portal.signup decides) and the title
 * shown; a logo for the portal (queue 0) or a queue, served by atumd from
 * the same origin (the portal's CSP allows no other).  Each change is
 * audited.  In the caller's transaction (desk/desk.h).
 */
#ifndef ATUM_DESK_PORTAL_H
#define ATUM_DESK_PORTAL_H

#include <stddef.h>
#include "desk/desk.h"

#define PORTAL_LOGO_MAX (512 * 1024)

enum portal_signup { PORTAL_SIGNUP_INHERIT, PORTAL_SIGNUP_ON, PORTAL_SIGNUP_OFF };

/* A queue's settings (admins).  title NULL: none (the queue's name).
 * ERR_NOT_FOUND no such queue; ERR_INVALID a title over 200 bytes. */
int portal_settings_set(const struct desk_tx *tx, long long queue_id, enum portal_signup signup,
                        const char *title, struct err *err);

/* The content type of an image we serve as a logo (PNG, JPEG, WebP, by
 * their first bytes; never SVG, which can carry script), or NULL. */
const char *portal_logo_type(const unsigned char *data, size_t len);

/* Sets (data) or removes (data NULL) the logo of queue_id (0: the
 * portal's).  ERR_INVALID (field "logo") for anything but PNG, JPEG or
 * WebP up to PORTAL_LOGO_MAX bytes; ERR_NOT_FOUND for a queue that does
 * not exist. */
int portal_logo_set(const struct desk_tx *tx, long long queue_id, const unsigned char *data,
                    size_t len, struct err *err);

#endif
