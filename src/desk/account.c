/* desk/account.c -- see desk/account.h. */
#include "config.h"
#include "desk/account.h"
#include "desk/audit.h"
#include "desk/user.h"
#include "core/conf.h"
#include "core/jobkind.h"
#include "core/jobrun.h"
#include "core/jobs.h"
#include "core/mailer.h"
#include "core/runtime.h"
#include "lib/email.h"
#include "lib/err.h"
#include "lib/log.h"
#include "lib/passwd.h"
#include "lib/token.h"
#include "lib/xalloc.h"

#include <ctype.h>
#include <jansson.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const kind_names[] = { "signin", "reset", "invite", "verify" };
static const char *const state_names[] = { "valid", "used", "expired", "unknown", "refused" };
static const char *const purpose_names[] = { "signin", "reset", "signup" };

const char *account_link_kind_name(enum account_link_kind k)
{
    return (unsigned)k < 4 ? kind_names[k] : "signin";
}

const char *account_link_state_name(enum account_link_state s)
{
    return (unsigned)s < 5 ? state_names[s] : "unknown";
}

int account_purpose_parse(const char *s, enum account_purpose *r)
{
    for (int i = 0; s && i < 3; i++)
        if (strcmp(s, purpose_names[i]) == 0) {
            *r = (enum account_purpose)i;
            return 0;
        }
    return -1;
}

static const struct atum_config *cfg_of(const struct desk_tx *tx)
{
    return tx->rt ? tx->rt->cfg : NULL;
}

static char *id_text(char *buf, size_t size, long long v)
{
    snprintf(buf, size, "%lld", v);
    return buf;
}

/* ---- throttling ------------------------------------------------------------ */

/* Both keys in one statement, account row first (the login's order), so
 * two requests never wait for each other in a cycle. */
static const char throttle_sql[] =
    "WITH k (key, lim) AS (VALUES ($1::text, $3::int), ($2::text, $4::int))"
    " INSERT INTO auth_throttle AS a (key, failures, window_start)"
    " SELECT k.key, 1, now() FROM k ORDER BY k.key"
    " ON CONFLICT (key) DO UPDATE SET"
    "  failures = CASE WHEN a.window_start > now() - $5::bigint * interval '1 millisecond'"
    "                  THEN a.failures + 1 ELSE 1 END,"
    "  window_start = CASE WHEN a.window_start > now() - $5::bigint * interval '1 millisecond'"
    "                      THEN a.window_start ELSE now() END"
    " RETURNING a.failures > (SELECT k.lim FROM k WHERE k.key = a.key),"
    "   greatest(1, ceil(extract(epoch FROM a.window_start"
    "            + $5::bigint * interval '1 millisecond' - now())))::bigint";

int account_throttle(struct db_conn *c, const char *address, const char *ip, int limit_address,
                     int limit_ip, long long window_ms, long long *retry_after_r,
                     const char **error_r)
{
    char ka[400], ki[100], la[16], li[16], win[24];
    snprintf(ka, sizeof(ka), "link-addr:%s", address);
    for (char *p = ka; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    snprintf(ki, sizeof(ki), "link-ip:%s", ip ? ip : "");
    snprintf(la, sizeof(la), "%d", limit_address);
    snprintf(li, sizeof(li), "%d", limit_ip);
    snprintf(win, sizeof(win), "%lld", window_ms);
    const char *p[] = { ka, ki, la, li, win };
    PGresult *r = db_exec(c, throttle_sql, 5, p, error_r);
    if (r == NULL)
        return -1;
    int over = 0;
    long long wait = 0;
    for (int i = 0; i < PQntuples(r); i++)
        if (PQgetvalue(r, i, 0)[0] == 't') {
            over = 1;
            long long w = atoll(PQgetvalue(r, i, 1));
            if (w > wait)
                wait = w;
        }
    PQclear(r);
    if (over && retry_after_r)
        *retry_after_r = wait;
    return over;
}

/* ---- settings -------------------------------------------------------------- */

int account_signup_allowed(const struct desk_tx *tx, long long queue_id, bool *allowed_r,
                           struct err *err)
{
    const struct atum_config *cfg = cfg_of(tx);
    const char *e = NULL;
    char sq[24];
    const char *p[] = { id_text(sq, sizeof(sq), queue_id), cfg && cfg->portal_signup ? "t" : "f" };
    PGresult *r = db_exec(tx->db, "SELECT coalesce((SELECT signup FROM portal_settings"
                                  " WHERE queue_id = $1::bigint), $2::boolean)", 2, p, &e);
    if (r == NULL)
        return desk_db_fail(err, "reading the sign-up setting", e);
    *allowed_r = PQgetvalue(r, 0, 0)[0] == 't';
    PQclear(r);
    return 0;
}

/* ---- issuing a link ----------------------------------------------------------- */

static void human_duration(long long ms, char *buf, size_t size)
{
    long long min = ms / 60000;
    if (min < 120)
        snprintf(buf, size, "in %lld minute%s", min, min == 1 ? "" : "s");
    else if (min < 48 * 60)
        snprintf(buf, size, "in %lld hours", min / 60);
    else
        snprintf(buf, size, "in %lld days", min / (24 * 60));
}

/* Makes the link, stores its hash and mails it (in the transaction).
 * user_id 0: a sign-up's. */
static int link_issue(const struct desk_tx *tx, enum account_link_kind kind, long long user_id,
                      const char *email, const char *name, long long queue_id, long long by,
                      struct err *err)
{
    const struct atum_config *cfg = cfg_of(tx);
    const char *e = NULL;
    if (cfg == NULL || cfg->secret_key == NULL || cfg->secret_key[0] == '\0')
        return err_failed(err, "account links need core.secret_key");
    long long ttl = kind == ACCOUNT_INVITE ? cfg->portal_invite_ttl_ms : cfg->portal_link_ttl_ms;
    if (ttl <= 0)
        ttl = kind == ACCOUNT_INVITE ? 7LL * 86400000LL : 3600000LL;
    char tok[TOKEN_MAX], h[TOKEN_HASH_HEX], su[24], sq[24], sb[24], sttl[24];
    if (token_new("", tok, sizeof(tok), &e) < 0)
        return err_failed(err, "%s", e);
    token_hash(cfg->secret_key, tok, strlen(tok), h);
    const char *p[] = { h, account_link_kind_name(kind),
                        user_id > 0 ? id_text(su, sizeof(su), user_id) : NULL, email, name ? name : "",
                        queue_id > 0 ? id_text(sq, sizeof(sq), queue_id) : NULL,
                        by > 0 ? id_text(sb, sizeof(sb), by) : NULL, id_text(sttl, sizeof(sttl), ttl) };
    PGresult *r = db_exec(tx->db,
        "INSERT INTO account_links (token_hash, kind, user_id, email, name, queue_id, created_by,"
        "                           expires_at)"
        " VALUES ($1, $2, $3, $4, $5, (SELECT id FROM queues WHERE id = $6::bigint), $7,"
        "         now() + $8::bigint * interval '1 millisecond') RETURNING id", 8, p, &e);
    if (r == NULL) {
        OPENSSL_cleanse(tok, sizeof(tok));
        return desk_db_fail(err, "storing the link", e);
    }
    long long link_id = atoll(PQgetvalue(r, 0, 0));
    PQclear(r);
    const char *base = cfg->public_url ? cfg->public_url : "http://127.0.0.1:8080";
    size_t n = strlen(base);
    /* the secret travels in the fragment: browsers send it to nobody, so
     * it is in no access log and no Referer */
    char *url = xasprintf("%.*s/portal/link#%s", (int)(n && base[n - 1] == '/' ? n - 1 : n), base, tok);
    OPENSSL_cleanse(tok, sizeof(tok));
    char expires[48];
    human_duration(ttl, expires, sizeof(expires));
    struct mailer_account_link ml = { account_link_kind_name(kind), email, name ? name : "", url,
                                      expires, queue_id };
    int rc = mailer_account(tx->rt, tx->db, &ml, &e);
    OPENSSL_cleanse(url, strlen(url));
    free(url);
    if (rc < 0)
        return err_failed(err, "mailing the link: %s", e);
    char target[40];
    snprintf(target, sizeof(target), user_id > 0 ? "user:%lld" : "link:%lld", user_id > 0 ? user_id : link_id);
    json_t *d = json_pack("{s:s, s:I, s:s}", "kind", account_link_kind_name(kind), "link_id",
                          (json_int_t)link_id, "email", email);
    char *det = json_dumps(d, JSON_COMPACT);
    json_decref(d);
    char actor[40];
    if (by > 0)
        snprintf(actor, sizeof(actor), "user:%lld", by);
    else
        snprintf(actor, sizeof(actor), "portal");
    rc = audit_append(tx->db, by, actor, "account.link_sent", target, det, tx->who->ip, &e);
    free(det);
    if (rc < 0)
        return desk_db_fail(err, "audit", e);
    log_info("account.link_sent", "kind=%s link=%lld user=%lld", account_link_kind_name(kind), link_id,
             user_id);
    return 0;
}

/* ---- the customer's request -------------------------------------------------- */

int account_request(const struct desk_tx *tx, enum account_purpose purpose, const char *email,
                    const char *name, long long queue_id, struct err *err)
{
    const char *e = NULL;
    json_t *pl = json_pack("{s:s, s:s, s:s, s:I, s:s}", "purpose", purpose_names[purpose],
                           "email", email, "name", name ? name : "", "queue_id",
                           (json_int_t)queue_id, "ip", tx->who->ip ? tx->who->ip : "");
    char *payload = pl ? json_dumps(pl, JSON_COMPACT) : NULL;
    json_decref(pl);
    if (payload == NULL)
        return err_raise(err, ERR_INVALID, "email", "the address is not valid UTF-8");
    struct atum_job_spec spec = { .kind = ACCOUNT_JOB_KIND, .payload = payload, .priority = 40,
                                  .max_attempts = 5 };
    int rc = jobs_enqueue(tx->db, &spec, NULL, &e);
    free(payload);
    if (rc < 0)
        return desk_db_fail(err, "queueing the link", e);
    return 0;
}

/* The job: who the address is decides what, if anything, is mailed. */
static int request_decide(const struct desk_tx *tx, enum account_purpose purpose, const char *email,
                          const char *name, long long queue_id, struct err *err)
{
    const char *e = NULL;
    const char *p[] = { email };
    PGresult *r = db_exec(tx->db, "SELECT id, role, disabled, name FROM users"
                                  " WHERE email_canonical(email) = email_canonical($1)", 1, p, &e);
    if (r == NULL)
        return desk_db_fail(err, "finding the address", e);
    if (PQntuples(r) == 1) {
        long long uid = atoll(PQgetvalue(r, 0, 0));
        bool staff = strcmp(PQgetvalue(r, 0, 1), "customer") != 0;
        bool disabled = PQgetvalue(r, 0, 2)[0] == 't';
        char uname[201];
        snprintf(uname, sizeof(uname), "%s", PQgetvalue(r, 0, 3));
        PQclear(r);
        if (staff || disabled) {
            log_warn("account.link_refused", "user=%lld reason=%s", uid, staff ? "staff" : "disabled");
            return 0;
        }
        /* a sign-up of an address that has an account: a sign-in link */
        return link_issue(tx, purpose == ACCOUNT_WANT_RESET ? ACCOUNT_RESET : ACCOUNT_SIGNIN, uid,
                          email, uname, queue_id, 0, err);
    }
    PQclear(r);
    if (purpose != ACCOUNT_WANT_SIGNUP) {
        log_info("account.link_none", "reason=%s", "no account");
        return 0;
    }
    bool allowed = false;
    if (account_signup_allowed(tx, queue_id, &allowed, err) < 0)
        return -1;
    if (!allowed) {
        log_info("account.link_none", "reason=%s", "sign-up is off");
        return 0;
    }
    return link_issue(tx, ACCOUNT_VERIFY, 0, email, name, queue_id, 0, err);
}

static int link_job_run(void *state, struct atum_job *job)
{
    (void)state;
    struct db_conn *c = job->db->conn;
    const char *e = NULL;
    json_t *pl = json_loads(job->payload, 0, NULL);
    const char *purpose = json_string_value(json_object_get(pl, "purpose"));
    const char *email = json_string_value(json_object_get(pl, "email"));
    const char *name = json_string_value(json_object_get(pl, "name"));
    const char *ip = json_string_value(json_object_get(pl, "ip"));
    long long queue_id = (long long)json_integer_value(json_object_get(pl, "queue_id"));
    enum account_purpose pu;
    if (email == NULL || account_purpose_parse(purpose, &pu) < 0) {
        json_decref(pl);
        return jobrun_fail(job, JOBRUN_PERMANENT, "payload names no purpose and address");
    }
    struct desk_actor who = { .kind = DESK_SYSTEM, .via = "portal", .ip = ip && ip[0] ? ip : NULL };
    struct desk_tx tx = { c, job->db->rt, &who };
    struct err err = { ERR_OK, NULL, NULL };
    if (db_begin(c, &e) < 0) {
        json_decref(pl);
        return jobrun_fail(job, JOBRUN_RETRY, "%s", e);
    }
    runtime_rdlock(job->db->rt);
    int rc = request_decide(&tx, pu, email, name, queue_id, &err);
    runtime_rdunlock(job->db->rt);
    json_decref(pl);
    if (rc < 0) {
        db_rollback(c);
        return jobrun_fail(job, JOBRUN_RETRY, "%s", err.text ? err.text : "failed");
    }
    if (jobrun_complete_in_tx(job, &e) < 0 || db_commit(c, &e) < 0) {
        db_rollback(c);
        return jobrun_fail(job, JOBRUN_RETRY, "%s", e);
    }
    return ATUM_JOB_DONE;
}

int account_register(struct runtime *rt, void *arg, const char **error_r)
{
    (void)arg;
    return jobkind_register(&rt->kinds, ACCOUNT_JOB_KIND, "core", link_job_run, NULL, 5, 0, error_r);
}

/* ---- staff invite a customer ------------------------------------------------- */

int account_invite(const struct desk_tx *tx, long long user_id, struct err *err)
{
    const char *e = NULL;
    if (desk_need_role(tx, ATUM_ROLE_AGENT, err) < 0)
        return -1;
    char su[24];
    const char *p[] = { id_text(su, sizeof(su), user_id) };
    PGresult *r = db_exec(tx->db, "SELECT email, name, role, disabled FROM users WHERE id = $1"
                                  " FOR UPDATE", 1, p, &e);
    if (r == NULL)
        return desk_db_fail(err, "finding the customer", e);
    if (PQntuples(r) != 1) {
        PQclear(r);
        return err_raise(err, ERR_NOT_FOUND, "user_id", "no such user");
    }
    char email[321], name[201];
    snprintf(email, sizeof(email), "%s", PQgetvalue(r, 0, 0));
    snprintf(name, sizeof(name), "%s", PQgetvalue(r, 0, 1));
    bool customer = strcmp(PQgetvalue(r, 0, 2), "customer") == 0;
    bool disabled = PQgetvalue(r, 0, 3)[0] == 't';
    PQclear(r);
    if (!customer)
        return err_raise(err, ERR_INVALID, "user_id", "only customers are invited to the portal; "
                         "staff passwords are set by an admin");
    if (disabled)
        return err_raise(err, ERR_INVALID, "user_id", "the account is disabled");
    long long by = tx->who->kind == DESK_USER ? tx->who->user_id : 0;
    if (link_issue(tx, ACCOUNT_INVITE, user_id, email, name, 0, by, err) < 0)
        return -1;
    json_t *d = json_pack("{s:s}", "email", email);
    int rc = desk_audit(tx, "account.invite", "user", user_id, d, err);
    json_decref(d);
    return rc;
}

/* ---- using a link ---------------------------------------------------------------- */

static int link_lookup(const struct desk_tx *tx, const char *token, bool lock,
                       struct account_link *l, enum account_link_state *state_r, struct err *err)
{
    const struct atum_config *cfg = cfg_of(tx);
    const char *e = NULL;
    memset(l, 0, sizeof(*l));
    *state_r = LINK_UNKNOWN;
    if (cfg == NULL || cfg->secret_key == NULL)
        return err_failed(err, "account links need core.secret_key");
    if (token == NULL || !token_syntax_ok(token) || token[0] == '\0')
        return 0;
    char h[TOKEN_HASH_HEX];
    token_hash(cfg->secret_key, token, strlen(token), h);
    const char *p[] = { h };
    PGresult *r = db_exec(tx->db, lock
        ? "SELECT l.id, coalesce(l.user_id, 0), coalesce(l.queue_id, 0), l.kind, l.email, l.name,"
          "       l.used_at IS NOT NULL, l.expires_at <= now(),"
          "       coalesce(u.disabled OR u.role <> 'customer', false)"
          "  FROM account_links l LEFT JOIN users u ON u.id = l.user_id"
          " WHERE l.token_hash = $1 FOR UPDATE OF l"
        : "SELECT l.id, coalesce(l.user_id, 0), coalesce(l.queue_id, 0), l.kind, l.email, l.name,"
          "       l.used_at IS NOT NULL, l.expires_at <= now(),"
          "       coalesce(u.disabled OR u.role <> 'customer', false)"
          "  FROM account_links l LEFT JOIN users u ON u.id = l.user_id"
          " WHERE l.token_hash = $1", 1, p, &e);
    if (r == NULL)
        return desk_db_fail(err, "reading the link", e);
    if (PQntuples(r) == 1) {
        l->id = atoll(PQgetvalue(r, 0, 0));
        l->user_id = atoll(PQgetvalue(r, 0, 1));
        l->queue_id = atoll(PQgetvalue(r, 0, 2));
        const char *k = PQgetvalue(r, 0, 3);
        for (int i = 0; i < 4; i++)
            if (strcmp(k, kind_names[i]) == 0)
                l->kind = (enum account_link_kind)i;
        snprintf(l->email, sizeof(l->email), "%s", PQgetvalue(r, 0, 4));
        snprintf(l->name, sizeof(l->name), "%s", PQgetvalue(r, 0, 5));
        *state_r = PQgetvalue(r, 0, 6)[0] == 't' ? LINK_USED
                   : PQgetvalue(r, 0, 7)[0] == 't' ? LINK_EXPIRED
                   : PQgetvalue(r, 0, 8)[0] == 't' ? LINK_REFUSED : LINK_VALID;
    }
    PQclear(r);
    return 0;
}

int account_link_find(const struct desk_tx *tx, const char *token, struct account_link *l,
                      enum account_link_state *state_r, struct err *err)
{
    return link_lookup(tx, token, false, l, state_r, err);
}

/* The account a sign-up's link makes (or the customer account the
 * address got meanwhile, by mail); 0 in *uid_r when the address now
 * belongs to staff or a disabled account. */
static int verify_account(const struct desk_tx *tx, const struct account_link *l, long long *uid_r,
                          struct err *err)
{
    const struct atum_config *cfg = cfg_of(tx);
    const char *e = NULL;
    const char *p[] = { l->email, l->name, cfg && cfg->mail_org_by_domain ? "t" : "f" };
    PGresult *r = db_exec(tx->db,
        "INSERT INTO users (email, name, role, org_id)"
        " VALUES ($1, $2, 'customer',"
        "         (SELECT id FROM orgs WHERE $3::bool AND lower(domain) = lower(split_part($1, '@', 2))"
        "          LIMIT 1))"
        " ON CONFLICT ((email_canonical(email))) DO NOTHING RETURNING id", 3, p, &e);
    if (r == NULL)
        return desk_db_fail(err, "making the account", e);
    if (PQntuples(r) == 1) {
        *uid_r = atoll(PQgetvalue(r, 0, 0));
        PQclear(r);
        return 0;
    }
    PQclear(r);
    r = db_exec(tx->db, "SELECT id, role = 'customer' AND NOT disabled FROM users"
                        " WHERE email_canonical(email) = email_canonical($1) FOR UPDATE", 1, p, &e);
    if (r == NULL)
        return desk_db_fail(err, "finding the account", e);
    *uid_r = PQntuples(r) == 1 && PQgetvalue(r, 0, 1)[0] == 't' ? atoll(PQgetvalue(r, 0, 0)) : 0;
    PQclear(r);
    return 0;
}

int account_link_redeem(const struct desk_tx *tx, const char *token, const char *password,
                        long long *user_r, enum account_link_state *state_r, struct err *err)
{
    const char *e = NULL;
    struct account_link l;
    if (link_lookup(tx, token, true, &l, state_r, err) < 0)
        return -1;
    if (*state_r != LINK_VALID)
        return 0;
    if (passwd_policy_check(password, &e) < 0)
        return err_raise(err, ERR_INVALID, "password", "%s", e);
    char *hash = passwd_hash(password, &e);
    if (hash == NULL)
        return err_failed(err, "%s", e);
    int ret = -1;
    long long uid = l.user_id;
    if (l.kind == ACCOUNT_VERIFY && verify_account(tx, &l, &uid, err) < 0)
        goto out;
    if (uid == 0) {
        *state_r = LINK_REFUSED;
        ret = 0;
        goto out;
    }
    char su[24], sl[24];
    const char *p[] = { id_text(su, sizeof(su), uid), hash };
    id_text(sl, sizeof(sl), l.id);
    PGresult *r = db_exec(tx->db, "UPDATE users SET password_hash = $2, updated_at = now()"
                                  " WHERE id = $1 AND role = 'customer' AND NOT disabled RETURNING id",
                          2, p, &e);
    if (r == NULL) {
        desk_db_fail(err, "setting the password", e);
        goto out;
    }
    int n = PQntuples(r);
    PQclear(r);
    if (n == 0) {
        *state_r = LINK_REFUSED;
        ret = 0;
        goto out;
    }
    /* this link and every other open one of the account are spent; other
     * sessions end (someone who had the old password is out) */
    const char *lp[] = { su, sl };
    r = db_exec(tx->db, "UPDATE account_links SET used_at = now()"
                        " WHERE (id = $2 OR user_id = $1) AND used_at IS NULL", 2, lp, &e);
    if (r == NULL) {
        desk_db_fail(err, "spending the link", e);
        goto out;
    }
    PQclear(r);
    /* the person acting is the account's owner, proven by the link */
    struct desk_actor owner = *tx->who;
    owner.kind = DESK_USER;
    owner.user_id = uid;
    owner.role = ATUM_ROLE_CUSTOMER;
    struct desk_tx otx = { tx->db, tx->rt, &owner };
    /* whoever held a session or token of the account before is out */
    if (user_end_access(&otx, uid, 0, l.kind == ACCOUNT_RESET ? "password reset by mail"
                                      : "password set by mail", err) < 0)
        goto out;
    json_t *d = json_pack("{s:s, s:I}", "kind", account_link_kind_name(l.kind), "link_id",
                          (json_int_t)l.id);
    int arc = desk_audit(&otx, l.kind == ACCOUNT_VERIFY ? "account.verified" : "account.password",
                         "user", uid, d, err);
    json_decref(d);
    if (arc < 0)
        goto out;
    *user_r = uid;
    ret = 0;
out:
    if (hash) {
        OPENSSL_cleanse(hash, strlen(hash));
        free(hash);
    }
    return ret;
}
