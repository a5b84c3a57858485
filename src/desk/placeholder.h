/*
 * desk/placeholder.h -- the placeholders of canned responses and macros:
 *
 *   {{customer.name}}  {{customer.email}}  {{ticket.number}}
 *   {{ticket.subject}} {{agent.name}}      {{agent.email}}
 *   {{queue.name}}     {{org.name}}
 *
 * (spaces inside the braces allowed: {{ customer.name }}).  A name
 * nobody set falls back to the address (customer, agent); an
 * organisation that is not there is empty.  Any other {{...}} is left as
 * it was written and listed in `unknown`, so a typo shows in the text
 * the agent is about to send instead of failing -- never an error.
 * Values go in as plain text: the desk shows them as text and mail-out
 * escapes what it puts in HTML.
 *
 * placeholder_load() reads the values for a ticket the actor can see
 * (ERR_NOT_FOUND otherwise) and the actor as the agent; it runs in the
 * caller's transaction.  placeholder_render() is pure.
 */
#ifndef ATUM_DESK_PLACEHOLDER_H
#define ATUM_DESK_PLACEHOLDER_H

#include <jansson.h>
#include "desk/desk.h"
#include "lib/strbuf.h"

struct placeholder_values {
    char *customer_name, *customer_email, *ticket_number, *ticket_subject;
    char *agent_name, *agent_email, *queue_name, *org_name;
};

int placeholder_load(const struct desk_tx *tx, long long ticket_id, struct placeholder_values *v,
                     struct err *err);
void placeholder_values_clear(struct placeholder_values *v);

/* Appends text with the placeholders filled to out; each unknown one is
 * appended (once) to the JSON array `unknown` as written, e.g.
 * "{{customer.nmae}}". */
void placeholder_render(const char *text, const struct placeholder_values *v, struct strbuf *out,
                        json_t *unknown);

#endif
