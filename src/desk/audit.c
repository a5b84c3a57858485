/* desk/audit.c -- see desk/audit.h. */
#include "config.h"
#include "desk/audit.h"
#include "lib/err.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int audit_append(struct db_conn *c, long long actor_id, const char *actor, const char *action,
                 const char *target, const char *detail_json, const char *ip,
                 const char **error_r)
{
    char sid[32];
    snprintf(sid, sizeof(sid), "%lld", actor_id);
    const char *params[] = { actor_id > 0 ? sid : NULL, actor, action, target,
                             detail_json ? detail_json : "{}", ip };
    const char *e = NULL;
    PGresult *r = db_exec(c, "INSERT INTO audit_log (actor_id, actor, action, target, detail, ip)"
                             " VALUES ($1, $2, $3, $4, $5::jsonb, $6::inet)", 6, params, &e);
    if (r == NULL)
        return err_set(error_r, "audit log: %s", e);
    PQclear(r);
    return 0;
}

int audit_verify(struct db_conn *c, long long *rows_r, long long *bad_seq_r, char *why_r,
                 size_t why_size, const char **error_r)
{
    const char *e = NULL;
    *rows_r = 0;
    *bad_seq_r = 0;
    if (why_size)
        why_r[0] = '\0';
    if (db_begin(c, &e) < 0 || db_command(c, "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY", &e) < 0) {
        db_rollback(c);
        return err_set(error_r, "audit verify: %s", e);
    }
    /* the canonical text, recomputed here from the stored columns (the
     * same expression as the trigger in sql/010_api.sql) */
    PGresult *r = db_exec(c,
        "DECLARE audit_walk NO SCROLL CURSOR FOR"
        " SELECT seq, prev_hash, hash, encode(sha256(convert_to(prev_hash || json_build_array("
        "   seq, (extract(epoch FROM at) * 1000000)::bigint, actor_id, actor, action, target,"
        "   detail, host(ip))::text, 'UTF8')), 'hex')"
        " FROM audit_log ORDER BY seq", 0, NULL, &e);
    if (r == NULL) {
        db_rollback(c);
        return err_set(error_r, "audit verify: %s", e);
    }
    PQclear(r);
    long long expect_seq = 1;
    char prev[65];
    memset(prev, '0', 64);
    prev[64] = '\0';
    for (;;) {
        r = db_exec(c, "FETCH 5000 FROM audit_walk", 0, NULL, &e);
        if (r == NULL) {
            db_rollback(c);
            return err_set(error_r, "audit verify: %s", e);
        }
        int n = PQntuples(r);
        for (int i = 0; i < n && *bad_seq_r == 0; i++) {
            long long seq = atoll(PQgetvalue(r, i, 0));
            const char *ph = PQgetvalue(r, i, 1), *h = PQgetvalue(r, i, 2), *calc = PQgetvalue(r, i, 3);
            (*rows_r)++;
            if (seq != expect_seq) {
                *bad_seq_r = seq;
                snprintf(why_r, why_size, "row %lld is missing (next is %lld)", expect_seq, seq);
            } else if (strcmp(ph, prev) != 0) {
                *bad_seq_r = seq;
                snprintf(why_r, why_size, "row %lld does not link to the hash of row %lld", seq, seq - 1);
            } else if (strcmp(h, calc) != 0) {
                *bad_seq_r = seq;
                snprintf(why_r, why_size, "row %lld was changed after it was written", seq);
            }
            snprintf(prev, sizeof(prev), "%s", h);
            expect_seq = seq + 1;
        }
        PQclear(r);
        if (n == 0 || *bad_seq_r != 0)
            break;
    }
    db_rollback(c);
    return 0;
}
