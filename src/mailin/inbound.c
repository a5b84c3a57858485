/* mailin/inbound.c -- see mailin/inbound.h. */
#include "config.h"
#include "mailin/inbound.h"
#include "lib/err.h"
#include "core/jobs.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const sources[] = { "smtp", "lmtp", "imap", "cli" };

#define STR_(x) #x
#define STR(x) STR_(x)

void inbound_ingest_job(long long inbound_id, struct inbound_job *j)
{
    snprintf(j->payload, sizeof(j->payload), "{\"inbound_id\":%lld}", inbound_id);
    snprintf(j->unique_key, sizeof(j->unique_key), "ingest:%lld", inbound_id);
    memset(&j->spec, 0, sizeof(j->spec));
    j->spec.kind = INBOUND_INGEST_KIND;
    j->spec.payload = j->payload;
    j->spec.priority = INBOUND_INGEST_PRIORITY;
    j->spec.max_attempts = INBOUND_INGEST_ATTEMPTS;
    j->spec.unique_key = j->unique_key;
}

/* Outside a transaction (SMTP, inject): mail, job and NOTIFY in ONE
 * statement, which is its own transaction -- one round trip and one
 * commit while the client waits for its 250.  That is why the job row is
 * written here by hand: it is the same job inbound_ingest_job() describes
 * (kind, payload, priority, attempts, unique key), which the test of the
 * store checks. */
static const struct db_stmt st_store_one = {
    "inbound_store_one",
    "WITH mail AS ("
    "  INSERT INTO inbound_mail (source, mailbox_id, envelope, raw, size)"
    "  VALUES ($1, $2::bigint, $3::jsonb, $4::bytea, $5::int) RETURNING id),"
    " job AS ("
    "  INSERT INTO jobs (kind, payload, priority, max_attempts, unique_key)"
    "  SELECT '" INBOUND_INGEST_KIND "', jsonb_build_object('inbound_id', id),"
    "         " STR(INBOUND_INGEST_PRIORITY) ", " STR(INBOUND_INGEST_ATTEMPTS) ", 'ingest:' || id"
    "    FROM mail RETURNING id)"
    " SELECT mail.id, pg_notify('" DB_NOTIFY_CHANNEL "', '') FROM mail, job",
    5
};

static int store_one_statement(struct db_conn *c, const char *source, long long mailbox_id,
                               const char *envelope_json, const char *raw, size_t len,
                               long long *id_r, const char **error_r)
{
    const char *e = NULL;
    char size[24], mbox[24];
    snprintf(size, sizeof(size), "%zu", len);
    snprintf(mbox, sizeof(mbox), "%lld", mailbox_id);
    const char *params[] = { source, mailbox_id > 0 ? mbox : NULL,
                             envelope_json ? envelope_json : "{}", raw ? raw : "", size };
    const int lengths[] = { 0, 0, 0, (int)len, 0 };
    const int formats[] = { 0, 0, 0, 1, 0 };
    PGresult *r = db_exec_stmt_bin(c, &st_store_one, params, lengths, formats, &e);
    if (r == NULL)
        return err_set(error_r, "store mail: %s", e);
    if (id_r)
        *id_r = atoll(PQgetvalue(r, 0, 0));
    PQclear(r);
    return 0;
}

int inbound_store(struct db_conn *c, const char *source, long long mailbox_id,
                  const char *envelope_json, const char *raw, size_t len,
                  long long *id_r, const char **error_r)
{
    const char *e = NULL;
    bool known = false;
    for (size_t i = 0; i < sizeof(sources) / sizeof(sources[0]); i++)
        known = known || (source && strcmp(source, sources[i]) == 0);
    if (!known)
        return err_set(error_r, "unknown mail source '%s'", source ? source : "");
    if (len > (size_t)INT_MAX)
        return err_set(error_r, "mail of %zu bytes is too large to store", len);

    if (!db_in_transaction(c))
        return store_one_statement(c, source, mailbox_id, envelope_json, raw, len, id_r, error_r);

    char size[24], mbox[24];
    snprintf(size, sizeof(size), "%zu", len);
    snprintf(mbox, sizeof(mbox), "%lld", mailbox_id);
    const char *params[] = { source, mailbox_id > 0 ? mbox : NULL,
                             envelope_json ? envelope_json : "{}", raw ? raw : "", size };
    const int lengths[] = { 0, 0, 0, (int)len, 0 };
    const int formats[] = { 0, 0, 0, 1, 0 };
    PGresult *r = db_exec_bin(c,
        "INSERT INTO inbound_mail (source, mailbox_id, envelope, raw, size)"
        " VALUES ($1, $2, $3::jsonb, $4, $5) RETURNING id",
        5, params, lengths, formats, 0, &e);
    if (r == NULL)
        return err_set(error_r, "store mail: %s", e);
    long long id = atoll(PQgetvalue(r, 0, 0));
    PQclear(r);

    struct inbound_job job;
    inbound_ingest_job(id, &job);
    if (jobs_enqueue(c, &job.spec, NULL, &e) < 0)
        return err_set(error_r, "store mail: %s", e);
    if (id_r)
        *id_r = id;
    return 0;
}

int inbound_reprocess(struct db_conn *c, long long inbound_id, const char **error_r)
{
    const char *e = NULL;
    char sid[32];
    struct inbound_job job;
    int n = 0;
    snprintf(sid, sizeof(sid), "%lld", inbound_id);
    inbound_ingest_job(inbound_id, &job);
    if (db_begin(c, &e) < 0)
        return err_set(error_r, "%s", e);
    const char *p[] = { sid };
    PGresult *r = db_exec(c, "UPDATE inbound_mail SET state = 'queued', error = NULL WHERE id = $1"
                             " RETURNING id", 1, p, &e);
    if (r == NULL || PQntuples(r) == 0) {
        PQclear(r);
        db_rollback(c);
        return err_set(error_r, r ? "no inbound mail %lld" : "reprocess %lld: %s", inbound_id, e);
    }
    PQclear(r);
    if (jobs_requeue_key(c, job.unique_key, &n, &e) < 0
        || (n == 0 && jobs_enqueue(c, &job.spec, NULL, &e) < 0)) {
        db_rollback(c);
        return err_set(error_r, "reprocess %lld: %s", inbound_id, e);
    }
    if (db_commit(c, &e) < 0)
        return err_set(error_r, "reprocess %lld: %s", inbound_id, e);
    return 0;
}
