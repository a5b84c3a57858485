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

/* Outside a transaction (SMTP, inject): mail, job and NOTIFY in ONE
 * statement, which is its own transaction -- one round trip and one
 * commit while the client waits for its 250. */
static const struct db_stmt st_store_one = {
    "inbound_store_one",
    "WITH mail AS ("
    "  INSERT INTO inbound_mail (source, mailbox_id, envelope, raw, size)"
    "  VALUES ($1, $2::bigint, $3::jsonb, $4::bytea, $5::int) RETURNING id),"
    " job AS ("
    "  INSERT INTO jobs (kind, payload, priority, max_attempts, unique_key)"
    "  SELECT '" INBOUND_INGEST_KIND "', jsonb_build_object('inbound_id', id), 50, 5, 'ingest:' || id"
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
    bool own_tx = false;

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
    if (r == NULL) {
        if (own_tx)
            db_rollback(c);
        return err_set(error_r, "store mail: %s", e);
    }
    long long id = atoll(PQgetvalue(r, 0, 0));
    PQclear(r);

    char payload[64], key[48];
    snprintf(payload, sizeof(payload), "{\"inbound_id\":%lld}", id);
    snprintf(key, sizeof(key), "ingest:%lld", id);
    struct atum_job_spec spec = {
        .kind = INBOUND_INGEST_KIND,
        .payload = payload,
        .priority = 50,           /* a customer is waiting: before housekeeping */
        .max_attempts = 5,
        .unique_key = key,
    };
    if (jobs_enqueue(c, &spec, NULL, &e) < 0) {
        if (own_tx)
            db_rollback(c);
        return err_set(error_r, "store mail: %s", e);
    }
    if (own_tx && db_commit(c, &e) < 0)
        return err_set(error_r, "store mail: commit: %s", e);
    if (id_r)
        *id_r = id;
    return 0;
}
