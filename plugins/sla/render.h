/*
 * sla/render.h -- a ticket's SLA state as JSON: what GET
 * /api/v1/tickets/{id} shows under plugins.sla, GET
 * /api/v1/plugins/sla/ticket answers, and the desk's side panel reads.
 *
 *   {"tracked": true, "policy": {"id", "name"}, "calendar": {"id", "name", "time_zone"},
 *    "computed_at", "next_escalation_at", "risk", "time_to_breach_seconds",
 *    "clocks": {"first_response": {"state", "target_seconds", "time", "used_seconds",
 *               "paused_seconds", "remaining_seconds", "started_at", "achieved_at",
 *               "due_at", "warn_at", "warned", "breached", "breached_at",
 *               "risk", "expected_done_at", "prediction": {"basis", "samples", "load_factor"}},
 *               "next_response": {... "round", "rounds_breached"}, "resolution": {...}},
 *    "ledger": [{"id", "at", "kind", ..., "effects": [{"clock", "from", "to"} | {"policy": {"from", "to"}}]}],
 *    "ledger_total": N}
 *
 * Instants are RFC 3339 UTC text; durations are seconds (millisecond
 * precision).  max_ledger > 0 keeps only the last entries.
 * Pure.  Returns a new reference (NULL only when out of memory).
 */
#ifndef SLA_RENDER_H
#define SLA_RENDER_H

#include <jansson.h>
#include "engine.h"
#include "predict.h"

/* ev: the events as sla_compute() left them (sorted). */
json_t *sla_render(const struct sla_state *s, const struct sla_rules *rules,
                   const struct sla_event *ev, int nev,
                   const struct sla_prediction pred[SLA_CLOCKS], int64_t now, int max_ledger);

/* An instant as JSON text, or null for SLA_NONE. */
json_t *sla_json_instant(int64_t ms);

#endif
