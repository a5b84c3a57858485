/*
 * plugins/common/hostcall.h -- the small calls every plugin of
 * plugins/common's family (triage, rag, smartreply) makes around the host
 * table: a cell of a result as a string, a JSON answer, a monotonic clock.
 *
 * Ownership: plug_cell returns a pointer into the rows (valid until they
 * are freed) or a static "" for NULL; plug_reply_json takes the reference
 * to v and frees it, the host copies the bytes.
 */
#ifndef ATUM_PLUGINS_COMMON_HOSTCALL_H
#define ATUM_PLUGINS_COMMON_HOSTCALL_H

#include <atum/plugin.h>
#include <jansson.h>

/* The value of (row, col), "" for SQL NULL. */
const char *plug_cell(const struct atum_host *h, struct atum_rows *r, int row, int col);

/* Answers with status and v as compact JSON ("{}" if it cannot be
 * serialised); consumes v. */
void plug_reply_json(const struct atum_host *h, struct atum_http_resp *resp, int status, json_t *v);

/* Milliseconds of CLOCK_MONOTONIC, for durations. */
double plug_mono_ms(void);

#endif
