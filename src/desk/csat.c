/* desk/csat.c -- see desk/csat.h. */
#include "config.h"
#include "desk/csat.h"
#include "desk/ticket.h"
#include "lib/err.h"
#include "lib/secret.h"
#include "lib/util.h"

#include <jansson.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CSAT_MAC_BYTES 16

static void mac_of(const char *secret, long long ticket_id, long long expires, char out[32])
{
    char data[96];
    unsigned char mac[32];
    int n = snprintf(data, sizeof(data), "atum-csat:%lld:%lld", ticket_id, expires);
    hmac_sha256(secret, strlen(secret), data, (size_t)n, mac);
    base64url_encode(mac, CSAT_MAC_BYTES, out);
}

void csat_token_make(const char *secret, long long ticket_id, long long expires_unix, char *out,
                     size_t size)
{
    char mac[32];
    mac_of(secret, ticket_id, expires_unix, mac);
    snprintf(out, size, "%lld-%lld-%s", ticket_id, expires_unix, mac);
}

/* a positive decimal number of at most 18 digits, ended by '-' */
static const char *number(const char *s, long long *v)
{
    long long x = 0;
    int n = 0;
    while (*s >= '0' && *s <= '9' && n < 18) {
        x = x * 10 + (*s - '0');
        s++;
        n++;
    }
    if (n == 0 || *s != '-' || x <= 0)
        return NULL;
    *v = x;
    return s + 1;
}

int csat_token_check(const char *secret, const char *token, long long now_unix, long long *ticket_r)
{
    long long ticket = 0, expires = 0;
    if (token == NULL || strlen(token) >= CSAT_TOKEN_MAX)
        return -1;
    const char *p = number(token, &ticket);
    if (p == NULL || (p = number(p, &expires)) == NULL)
        return -1;
    char want[32];
    mac_of(secret, ticket, expires, want);
    if (strlen(p) != strlen(want) || CRYPTO_memcmp(p, want, strlen(want)) != 0)
        return -1;
    *ticket_r = ticket;
    return expires < now_unix ? 1 : 0;
}

int csat_rate(const struct desk_tx *tx, long long ticket_id, int score, const char *comment,
              const char *via, long long change_window_ms, struct err *err)
{
    const char *e = NULL;
    struct ticket t;
    int ret = -1;
    if (score < 1 || score > 5)
        return err_raise(err, ERR_INVALID, "score", "the score is 1 (bad) to 5 (good)");
    if (comment != NULL && (strlen(comment) > CSAT_COMMENT_MAX || !str_utf8_valid(comment, strlen(comment))))
        return err_raise(err, ERR_INVALID, "comment", "the comment is at most %d bytes of UTF-8",
                         CSAT_COMMENT_MAX);
    if (ticket_lock(tx, ticket_id, &t, err) < 0)
        return -1;
    if (tx->who->kind != DESK_USER || tx->who->user_id != t.requester_id) {
        err_raise(err, ERR_FORBIDDEN, NULL, "only the person who asked rates the answer");
        goto out;
    }
    if (t.merged_into > 0 || (t.status != TICKET_SOLVED && t.status != TICKET_CLOSED)) {
        if (t.merged_into > 0)
            err_raise(err, ERR_CONFLICT, "status", "the ticket was merged into #%lld; rate that one",
                      t.merged_into);
        else
            err_raise(err, ERR_CONFLICT, "status", "the ticket is not solved yet");
        goto out;
    }
    char st[24], su[24], ss[8], sw[24];
    snprintf(st, sizeof(st), "%lld", t.id);
    snprintf(su, sizeof(su), "%lld", t.requester_id);
    snprintf(ss, sizeof(ss), "%d", score);
    snprintf(sw, sizeof(sw), "%lld", change_window_ms > 0 ? change_window_ms : 14LL * 86400000LL);
    /* the ticket's row is locked (ticket_lock): ratings of one ticket
     * take turns, so what was there before is read plainly */
    const char *op[] = { st };
    PGresult *r = db_exec(tx->db, "SELECT score FROM csat_ratings WHERE ticket_id = $1", 1, op, &e);
    if (r == NULL) {
        desk_db_fail(err, "reading the rating", e);
        goto out;
    }
    bool first = PQntuples(r) == 0;
    int previous = first ? 0 : atoi(PQgetvalue(r, 0, 0));
    PQclear(r);
    const char *p[] = { st, su, ss, comment, via, sw };
    r = db_exec(tx->db,
        "INSERT INTO csat_ratings AS c (ticket_id, user_id, score, comment, via)"
        " VALUES ($1, $2, $3, coalesce($4, ''), $5)"
        " ON CONFLICT (ticket_id) DO UPDATE SET score = $3, comment = coalesce($4, c.comment),"
        "   via = $5, updated_at = now()"
        " WHERE c.created_at > now() - $6::bigint * interval '1 millisecond'"
        " RETURNING comment <> ''", 6, p, &e);
    if (r == NULL) {
        desk_db_fail(err, "storing the rating", e);
        goto out;
    }
    if (PQntuples(r) == 0) {
        PQclear(r);
        err_raise(err, ERR_CONFLICT, "score", "the rating was given too long ago to change");
        goto out;
    }
    bool has_comment = PQgetvalue(r, 0, 0)[0] == 't';
    PQclear(r);
    json_t *d = json_pack("{s:I, s:I, s:I, s:i, s:s, s:b, s:o, s:b}", "ticket_id", (json_int_t)t.id,
                          "queue_id", (json_int_t)t.queue_id, "requester_id",
                          (json_int_t)t.requester_id, "score", score, "via", via, "first", first,
                          "previous_score", first ? json_null() : json_integer(previous),
                          "has_comment", has_comment);
    if (desk_emit(tx, "csat.rated", d, err) < 0)
        goto out;
    json_t *ad = json_pack("{s:i, s:s, s:b}", "score", score, "via", via, "first", first);
    int arc = desk_audit(tx, "ticket.csat", "ticket", t.id, ad, err);
    json_decref(ad);
    if (arc < 0)
        goto out;
    ret = 0;
out:
    ticket_clear(&t);
    return ret;
}
