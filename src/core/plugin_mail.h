/*
 * core/plugin_mail.h -- what the loaded plugins add to an outgoing mail
 * (struct atum_plugin's mail_block): mail-out asks before it builds a mail
 * of a template, and gets the plugins' CommonMark blocks, in load order.
 *
 * A plugin that fails, answers another status than 200 or an empty text
 * adds nothing (logged); a plugin never stops a mail.  Call outside a
 * transaction, with the runtime read-locked (jobs run so).
 *
 * Ownership: the blocks are appended to the caller's buffer.
 */
#ifndef ATUM_CORE_PLUGIN_MAIL_H
#define ATUM_CORE_PLUGIN_MAIL_H

#include "core/db.h"
#include "lib/strbuf.h"

struct runtime;

/* Appends each block, separated by a blank line; *count_r (may be NULL):
 * how many plugins added one. */
void plugin_mail_blocks(struct runtime *rt, struct db_conn *c, const char *template_name,
                        long long ticket_id, struct strbuf *out, int *count_r);

#endif
