/* core/plugin_mail.c -- see core/plugin_mail.h. */
#include "config.h"
#include "core/plugin_mail.h"
#include "core/host_table.h"
#include "core/jobrun.h"
#include "core/plugin_loader.h"
#include "core/runtime.h"
#include "lib/log.h"

#include <string.h>

#define BLOCK_MAX (16 * 1024)        /* a plugin's block beyond this is left out */

void plugin_mail_blocks(struct runtime *rt, struct db_conn *c, const char *template_name,
                        long long ticket_id, struct strbuf *out, int *count_r)
{
    int n = 0;
    for (size_t i = 0; i < rt->plugins.n; i++) {
        const struct plugin_instance *pi = &rt->plugins.v[i];
        if (pi->state != PLUGIN_LOADED || pi->desc.mail_block == NULL)
            continue;
        struct atum_db adb = { c, rt, pi->name };
        struct atum_http_resp resp = { 0, "", STRBUF_INIT };
        log_plugin_enter(pi->name);
        int rc = pi->desc.mail_block(pi->pstate, &adb, template_name, ticket_id, &resp);
        log_plugin_leave();
        if (db_in_transaction(c)) {
            /* a plugin must not leave a transaction open on a borrowed connection */
            db_rollback(c);
            log_warn("plugin.mail_block_tx", "plugin=%s ticket=%lld hint=%s", pi->name, ticket_id,
                     "mail_block left a transaction open: rolled back");
        }
        if (rc == 0 && resp.status == 200 && resp.body.len > 0 && resp.body.len <= BLOCK_MAX) {
            if (out->len > 0)
                strbuf_adds(out, "\n\n");
            strbuf_add(out, resp.body.s, resp.body.len);
            n++;
        } else if (rc != 0 || (resp.status != 200 && resp.status != 204 && resp.status != 0)
                   || resp.body.len > BLOCK_MAX) {
            log_warn("plugin.mail_block_failed", "plugin=%s template=%s ticket=%lld rc=%d status=%d bytes=%zu",
                     pi->name, template_name, ticket_id, rc, resp.status, resp.body.len);
        }
        strbuf_free(&resp.body);
    }
    if (count_r)
        *count_r = n;
}
