/*
 * plugins/common/hostcall.h -- the small calls every plugin of
 * plugins/common's family (triage, rag, smartreply) makes around the host
 * table: a cell of a result as a string, a JSON or problem answer, a
 * query parameter, a body of one id, a monotonic clock.
 *
 * Ownership: plug_cell returns a pointer into the rows (valid until they
 * are freed) or a static "" for NULL; plug_reply_json takes the reference
 * to v and frees it, the host copies the bytes.
 */
#ifndef ATUM_PLUGINS_COMMON_HOSTCALL_H
#define ATUM_PLUGINS_COMMON_HOSTCALL_H

#include <atum/plugin.h>
#include <jansson.h>
#include <stddef.h>

/* The value of (row, col), "" for SQL NULL. */
const char *plug_cell(const struct atum_host *h, struct atum_rows *r, int row, int col);

/* Answers with status and v as compact JSON ("{}" if it cannot be
 * serialised); consumes v. */
void plug_reply_json(const struct atum_host *h, struct atum_http_resp *resp, int status, json_t *v);

/* Answers status with an application/problem+json body (title from the
 * status, detail as given); returns 0, what a route returns after it. */
int plug_problem(const struct atum_host *h, struct atum_http_resp *resp, int status, const char *detail);

/* The URL-decoded value of key in a query string ("a=1&q=x+y"), cut to
 * size - 1 bytes; 1 if the key is there, else 0 (and buf is ""). */
int plug_query_get(const char *query, const char *key, char *buf, size_t size);

/* The query parameter key as a number; 0 when absent or not a number. */
long long plug_query_id(const char *query, const char *key);

/* A body that is exactly {"<key>": N} with N > 0: 0 and *id_r, else -1. */
int plug_body_id(const struct atum_http_req *req, const char *key, long long *id_r);

/* Milliseconds of CLOCK_MONOTONIC, for durations. */
double plug_mono_ms(void);

#endif
