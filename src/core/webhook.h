/*
 * core/webhook.h -- outgoing webhooks: admins register a URL and the events it
 * wants (table webhooks); every matching event becomes a delivery row and
 * a job of kind webhook.deliver, in the transaction that emitted the event.
 *
 * The job POSTs {"id", "event", "created_at", "data"} with
 *   X-Atum-Event: ticket.created
 *   X-Atum-Delivery: 42
 *   X-Atum-Timestamp: 1764000000            (Unix seconds)
 *   X-Atum-Signature: v1=<hex HMAC-SHA256(secret, timestamp + "." + body)>
 * A receiver recomputes the HMAC over the exact bytes and refuses old
 * timestamps.  Any answer but 2xx is retried with the queue's backoff
 * (attempt^4 s) up to WEBHOOK_ATTEMPTS; each attempt's status and error
 * land in webhook_deliveries, which the API shows.
 */
#ifndef ATUM_CORE_WEBHOOK_H
#define ATUM_CORE_WEBHOOK_H

#include <stddef.h>
#include "core/db.h"

struct runtime;

#define WEBHOOK_KIND "webhook.deliver"
#define WEBHOOK_ATTEMPTS 8

/* Called by event_emit() in the caller's transaction.  data_json: the
 * event's data object.  *n_r (may be NULL): deliveries enqueued. */
int webhook_fanout(struct db_conn *c, const char *event, const char *data_json, int *n_r,
                   const char **error_r);

/* Registers webhook.deliver (runtime.register_core calls this). */
int webhook_register(struct runtime *rt, const char **error_r);

/* "v1=" + hex HMAC-SHA256(secret, "<ts>." + body) into out (size >= 68). */
void webhook_sign(const char *secret, long long ts, const char *body, size_t len, char *out,
                  size_t size);

#endif
