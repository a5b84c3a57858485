/* core/webhook.c -- see core/webhook.h. */
#include "config.h"
#include "core/webhook.h"
#include "lib/err.h"
#include "core/jobrun.h"
#include "lib/httpc.h"
#include "core/jobkind.h"
#include "lib/log.h"
#include "core/plugin_loader.h"
#include "core/jobs.h"
#include "core/runtime.h"
#include "lib/strbuf.h"
#include "lib/token.h"
#include "lib/util.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int webhook_fanout(struct db_conn *c, const char *event, const char *data_json, int *n_r,
                   const char **error_r)
{
    const char *e = NULL;
    if (n_r)
        *n_r = 0;
    const char *p[] = { event, data_json ? data_json : "{}" };
    PGresult *res = db_exec(c,
        "INSERT INTO webhook_deliveries (webhook_id, event, payload)"
        " SELECT w.id, $1, $2::jsonb FROM webhooks w WHERE w.enabled AND $1 = ANY (w.events)"
        " RETURNING id", 2, p, &e);
    if (res == NULL)
        return err_set(error_r, "webhooks for %s: %s", event, e);
    for (int i = 0; i < PQntuples(res); i++) {
        char payload[64];
        snprintf(payload, sizeof(payload), "{\"delivery_id\": %s}", PQgetvalue(res, i, 0));
        struct atum_job_spec spec = { .kind = WEBHOOK_KIND, .payload = payload,
                                      .max_attempts = WEBHOOK_ATTEMPTS };
        if (jobs_enqueue(c, &spec, NULL, &e) < 0) {
            PQclear(res);
            return err_set(error_r, "webhooks for %s: %s", event, e);
        }
    }
    if (n_r)
        *n_r = PQntuples(res);
    PQclear(res);
    return 0;
}

void webhook_sign(const char *secret, long long ts, const char *body, size_t len, char *out,
                  size_t size)
{
    struct strbuf b = STRBUF_INIT;
    unsigned char mac[32];
    char hex[65];
    strbuf_addf(&b, "%lld.", ts);
    strbuf_add(&b, body, len);
    hmac_sha256(secret, strlen(secret), b.s, b.len, mac);
    hex_encode(mac, sizeof(mac), hex);
    snprintf(out, size, "v1=%s", hex);
    strbuf_free(&b);
}

static void record(struct db_conn *c, const char *id, long status, const char *error, bool done,
                   bool dead)
{
    char st[16];
    const char *e = NULL;
    snprintf(st, sizeof(st), "%ld", status);
    const char *p[] = { id, status > 0 ? st : NULL, error, done ? "delivered" : dead ? "failed" : "pending" };
    PGresult *r = db_exec(c,
        "UPDATE webhook_deliveries SET attempts = attempts + 1, last_status = $2::int,"
        " last_error = $3, state = $4,"
        " delivered_at = CASE WHEN $4 = 'delivered' THEN now() ELSE delivered_at END WHERE id = $1",
        4, p, &e);
    if (r == NULL)
        log_error("webhook.record_failed", "delivery=%s error=%s", id, e);
    PQclear(r);
}

static int run_deliver(void *state, struct atum_job *job)
{
    (void)state;
    struct db_conn *c = job->db->conn;
    const char *e = NULL;
    json_error_t je;
    json_t *pl = json_loads(job->payload, 0, &je);
    json_t *jid = pl ? json_object_get(pl, "delivery_id") : NULL;
    if (!json_is_integer(jid)) {
        json_decref(pl);
        jobrun_fail(job, JOBRUN_RETRY, "payload has no delivery_id");
        return ATUM_JOB_PERMANENT;
    }
    char id[24];
    snprintf(id, sizeof(id), "%lld", (long long)json_integer_value(jid));
    json_decref(pl);

    const char *p[] = { id };
    PGresult *res = db_exec(c,
        "SELECT w.url, w.secret, w.enabled, json_build_object('id', d.id, 'event', d.event,"
        "       'created_at', d.created_at, 'data', d.payload)::text, d.event"
        "  FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id WHERE d.id = $1", 1, p, &e);
    if (res == NULL)
        return jobrun_fail(job, JOBRUN_RETRY, "reading delivery %s: %s", id, e);
    if (PQntuples(res) == 0) {
        PQclear(res);
        return ATUM_JOB_DONE;   /* the webhook was deleted */
    }
    if (PQgetvalue(res, 0, 2)[0] != 't') {
        record(c, id, 0, "webhook disabled", false, true);
        PQclear(res);
        return ATUM_JOB_DONE;
    }
    const char *url = PQgetvalue(res, 0, 0), *secret = PQgetvalue(res, 0, 1);
    const char *body = PQgetvalue(res, 0, 3);
    size_t blen = (size_t)PQgetlength(res, 0, 3);
    long long ts = (long long)time(NULL);
    char sig[80], h_sig[120], h_ts[64], h_ev[160], h_id[64];
    webhook_sign(secret, ts, body, blen, sig, sizeof(sig));
    snprintf(h_sig, sizeof(h_sig), "X-Atum-Signature: %s", sig);
    snprintf(h_ts, sizeof(h_ts), "X-Atum-Timestamp: %lld", ts);
    snprintf(h_ev, sizeof(h_ev), "X-Atum-Event: %s", PQgetvalue(res, 0, 4));
    snprintf(h_id, sizeof(h_id), "X-Atum-Delivery: %s", id);
    const char *headers[] = { "Content-Type: application/json", "User-Agent: atum-desk-webhook",
                              h_sig, h_ts, h_ev, h_id, NULL };
    struct atum_http_call call = { "POST", url, headers, body, blen, 10000 };
    struct atum_http_result out = { 0, NULL, 0 };
    int rc = httpc_request(&call, &out, &e);
    bool last = job->attempt >= job->max_attempts;
    int ret;
    if (rc < 0) {
        record(c, id, 0, e, false, last);
        ret = jobrun_fail(job, JOBRUN_RETRY, "webhook %s: %s", url, e);
    } else if (out.status >= 200 && out.status < 300) {
        record(c, id, out.status, NULL, true, false);
        log_info("webhook.delivered", "delivery=%s status=%ld", id, out.status);
        ret = ATUM_JOB_DONE;
    } else {
        char why[64];
        snprintf(why, sizeof(why), "HTTP status %ld", out.status);
        record(c, id, out.status, why, false, last);
        ret = jobrun_fail(job, JOBRUN_RETRY, "webhook %s answered %ld", url, out.status);
    }
    httpc_result_free(&out);
    PQclear(res);
    return ret;
}

int webhook_register(struct runtime *rt, const char **error_r)
{
    return jobkind_register(&rt->kinds, WEBHOOK_KIND, "core", run_deliver, NULL, WEBHOOK_ATTEMPTS,
                            0, error_r);
}
