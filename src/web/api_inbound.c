/*
 * web/api_inbound.c -- /api/v1/inbound: received mail as staff see it, so a
 * mail that could not become a ticket waits in a list people look at, not
 * as a dead job only an operator finds.
 *
 *   GET  /inbound?state=failed|queued|ingested&limit&after_id   agents
 *   GET  /inbound/{id}        what mail-in understood of it, and why it failed
 *   GET  /inbound/{id}/raw    the bytes as received (managers: any customer's mail)
 *   POST /inbound/{id}/reprocess   put it back through ingest (agents)
 *
 * The list shows what the ingest's summary recorded (subject, sender,
 * Message-ID, attachments) and the error; for a mail that never parsed,
 * what atumctl inbound show shows.  Reprocessing goes through mail-in's
 * seam (core/intake.h), as atumctl reprocess does.
 */
#include "config.h"
#include "web/api.h"
#include "core/intake.h"
#include "core/runtime.h"
#include "lib/err.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define INBOUND_JSON \
    "json_build_object('id', i.id, 'received_at', i.received_at, 'source', i.source," \
    " 'state', i.state, 'error', i.error, 'size', i.size, 'ticket_id', i.ticket_id," \
    " 'message_id', i.message_id, 'duplicate', i.duplicate, 'robot', i.robot," \
    " 'subject', i.summary->>'subject', 'from', i.summary->>'from'," \
    " 'rfc_message_id', coalesce(i.rfc_message_id, i.summary->>'message_id')," \
    " 'attachments', coalesce(jsonb_array_length(i.summary->'attachments'), 0)," \
    " 'processed_at', i.processed_at)"

static int h_list(struct api_req *r)
{
    static const char *const allowed[] = { "state", "limit", "after_id", NULL };
    char state[16], lim[16], after[24];
    const char *e = NULL;
    long long a = 0;
    bool aset;
    int ns, nl;
    if (api_query_check(r, allowed) < 0)
        return 0;
    if ((ns = api_query(r, "state", state, sizeof(state))) < 0
        || (nl = api_query(r, "limit", lim, sizeof(lim))) < 0 || api_query_id(r, "after_id", &a, &aset) < 0)
        return 0;
    if (ns && strcmp(state, "failed") && strcmp(state, "queued") && strcmp(state, "ingested"))
        return api_problem(r, 400, "state", "state must be failed, queued or ingested");
    long long l = 100;
    if (nl) {
        char *end;
        l = strtoll(lim, &end, 10);
        if (*end || end == lim || l < 1 || l > 500)
            return api_problem(r, 400, "limit", "limit must be an integer from 1 to 500");
    }
    snprintf(lim, sizeof(lim), "%lld", l);
    snprintf(after, sizeof(after), "%lld", a);
    const char *p[] = { ns ? state : NULL, lim, after };
    /* newest first: the mail that failed a minute ago is what staff look for */
    PGresult *res = db_exec(r->db,
        "SELECT json_build_object('items', coalesce(json_agg(x.o ORDER BY x.id DESC), '[]')) FROM"
        " (SELECT i.id, " INBOUND_JSON " AS o FROM inbound_mail i"
        "   WHERE ($1::text IS NULL OR i.state = $1) AND ($3::bigint = 0 OR i.id < $3::bigint)"
        "   ORDER BY i.id DESC LIMIT $2::int) x", 3, p, &e);
    if (res == NULL)
        return api_db_fail(r, "listing received mail", e);
    api_send_cell(r, 200, res);
    PQclear(res);
    return 0;
}

static int h_get(struct api_req *r)
{
    const char *e = NULL;
    char sid[24];
    if (api_query_check(r, NULL) < 0)
        return 0;
    snprintf(sid, sizeof(sid), "%lld", r->m.ids[0]);
    const char *p[] = { sid };
    PGresult *res = db_exec(r->db,
        "SELECT (" INBOUND_JSON "::jsonb || jsonb_build_object('envelope', i.envelope,"
        "        'summary', i.summary))::text FROM inbound_mail i WHERE i.id = $1", 1, p, &e);
    if (res == NULL)
        return api_db_fail(r, "reading received mail", e);
    if (PQntuples(res) == 0) {
        PQclear(res);
        return api_problem(r, 404, NULL, "no such received mail");
    }
    api_send_cell(r, 200, res);
    PQclear(res);
    return 0;
}

static int h_raw(struct api_req *r)
{
    const char *e = NULL;
    char sid[24];
    if (api_query_check(r, NULL) < 0)
        return 0;
    snprintf(sid, sizeof(sid), "%lld", r->m.ids[0]);
    const char *p[] = { sid };
    PGresult *res = db_exec_bin(r->db, "SELECT raw FROM inbound_mail WHERE id = $1", 1, p, NULL, NULL,
                                1, &e);
    if (res == NULL)
        return api_db_fail(r, "reading received mail", e);
    if (PQntuples(res) == 0) {
        PQclear(res);
        return api_problem(r, 404, NULL, "no such received mail");
    }
    /* a download, never rendered: mail bytes are the sender's */
    api_add_header(r, "Content-Disposition: attachment; filename=\"inbound-%s.eml\"", sid);
    api_add_header(r, "Content-Security-Policy: sandbox");
    api_raw(r, 200, "message/rfc822", PQgetvalue(res, 0, 0), (size_t)PQgetlength(res, 0, 0));
    PQclear(res);
    return 0;
}

static int h_reprocess(struct api_req *r)
{
    const char *e = NULL;
    char sid[24];
    if (api_no_body(r) < 0)
        return 0;
    snprintf(sid, sizeof(sid), "%lld", r->m.ids[0]);
    const char *p[] = { sid };
    PGresult *res = db_exec(r->db, "SELECT state FROM inbound_mail WHERE id = $1", 1, p, &e);
    if (res == NULL)
        return api_db_fail(r, "reprocessing", e);
    if (PQntuples(res) == 0) {
        PQclear(res);
        return api_problem(r, 404, NULL, "no such received mail");
    }
    PQclear(res);
    runtime_rdlock(r->api->rt);
    int rc = intake_reprocess(r->api->rt, r->db, r->m.ids[0], &e);
    runtime_rdunlock(r->api->rt);
    if (rc < 0)
        return api_db_fail(r, "reprocessing", e);
    char target[40];
    snprintf(target, sizeof(target), "inbound:%lld", r->m.ids[0]);
    if (api_audit(r, "inbound.reprocess", target, NULL, &e) < 0)
        return api_db_fail(r, "reprocessing", e);
    return api_json(r, 202, json_pack("{s:I, s:s}", "id", (json_int_t)r->m.ids[0], "state", "queued"));
}

const struct api_route api_inbound_routes[] = {
    { "GET", "/api/v1/inbound", ATUM_ROLE_AGENT, 0, h_list },
    { "GET", "/api/v1/inbound/{id}", ATUM_ROLE_AGENT, 0, h_get },
    { "GET", "/api/v1/inbound/{id}/raw", ATUM_ROLE_MANAGER, 0, h_raw },
    { "POST", "/api/v1/inbound/{id}/reprocess", ATUM_ROLE_AGENT, 0, h_reprocess },
    { NULL, NULL, 0, 0, NULL }
};
