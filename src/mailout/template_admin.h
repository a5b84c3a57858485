/*
 * mailout/template_admin.h -- the mail templates as an administrator edits
 * them (core/mailadmin.h): every name with its overrides, the template in
 * effect for a queue or for all, writing and removing an override (in the
 * caller's transaction, as `atumctl template set/reset` does in its own),
 * and a preview rendered by the real renderer (mailout/template.h) with a
 * sample ticket and customer.
 *
 * A template is edited as two parts, a subject line and a Markdown body;
 * stored as "Subject: ..." / "---" / body.  Overrides apply to one queue
 * (queue_id > 0) or to every queue (queue_id 0, "global"); a queue's own
 * comes first, then the global one, then the built-in.
 */
#ifndef ATUM_MAILOUT_TEMPLATE_ADMIN_H
#define ATUM_MAILOUT_TEMPLATE_ADMIN_H

#include "core/mailadmin.h"

json_t *template_admin_list(struct db_conn *c, struct err *err);
json_t *template_admin_get(struct db_conn *c, const struct mailadmin_tmpl_scope *s, struct err *err);
int template_admin_put(struct db_conn *c, const struct mailadmin_tmpl_scope *s, const char *subject,
                       const char *body, bool *created_r, struct err *err);
int template_admin_reset(struct db_conn *c, const struct mailadmin_tmpl_scope *s, struct err *err);
json_t *template_admin_preview(struct db_conn *c, struct runtime *rt, const struct mailadmin_tmpl_scope *s,
                               const char *subject, const char *body, struct err *err);

#endif
