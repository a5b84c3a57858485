/* mailin/imap.c -- see mailin/imap.h. */
#include "config.h"
#include "mailin/imap.h"
#include "desk/mailbox.h"
#include "mail/mime.h"
#include "mail/summary.h"
#include "mail/tlsverify.h"
#include "lib/err.h"
#include "mailin/inbound.h"
#include "lib/log.h"
#include "lib/metrics.h"
#include "lib/util.h"
#include "lib/xalloc.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <jansson.h>
#include <libetpan/libetpan.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct poller;

struct imap_manager {
    struct imap_opts o;
    char *db_url, *node_id, *ca_file;
    pthread_t thread;
    bool started;
    atomic_bool stopping;
    int wake[2];                 /* readable when everything must stop */
    struct poller **pollers;
    size_t npollers;
};

struct poller {
    struct imap_manager *mgr;
    long long id;
    char *name, *host, *security, *user, *pwenv, *folder, *after, *move_to;
    int port;
    bool trust_any, use_idle;
    int poll_s;
    char hash[64];
    pthread_t thread;
    atomic_bool stop;
    atomic_bool exited;
    bool seen;                   /* still listed in the last rescan */
    struct db_conn *db;
    mailimap *imap;
    long long last_uid;
    long long uidvalidity;
    int held;                    /* held mails still in the folder (last pass) */
};

/* A mail over mail.max_message_size is "held": never stored in full and
 * never flagged, moved or deleted.  An inbound_mail row in state failed
 * (no job) records it with its headers -- at most HOLD_HEADER_MAX bytes --
 * and envelope {"too_large": true, "size": N, "uid": U, ...}, so operators
 * see it in `atumctl inbound list --failed` and in the mailbox's
 * last_error.  When the limit is raised, the next pass fetches it in full
 * and the stored mail replaces the held row.
 * Invariant: every UID up to last_uid is stored or held, so the pass
 * that moves "stored but not moved yet" mails skips exactly the held ones. */
#define HOLD_HEADER_MAX 65536

struct held {
    uint32_t uid;
    long long size;
    long long id;                /* its inbound_mail row */
};

static bool should_stop(const struct poller *p)
{
    return atomic_load(&p->stop) || atomic_load(&p->mgr->stopping);
}

/* Sleeps up to ms, waking early when the poller must stop. */
static void nap(struct poller *p, long long ms)
{
    long long end = time_mono_ms() + ms;
    while (!should_stop(p)) {
        long long left = end - time_mono_ms();
        if (left <= 0)
            break;
        struct pollfd pf = { p->mgr->wake[0], POLLIN, 0 };
        poll(&pf, 1, (int)(left > 500 ? 500 : left));
    }
}

static void record(struct poller *p, const char *error)
{
    char sid[32];
    const char *e = NULL;
    snprintf(sid, sizeof(sid), "%lld", p->id);
    PGresult *r;
    char held[200];
    if (error == NULL && p->held > 0) {
        /* not an error of the connection: last_ok_at moves on */
        snprintf(held, sizeof(held), "%d mail%s held in %s (over mail.max_message_size):"
                 " atumctl inbound list --failed", p->held, p->held == 1 ? "" : "s", p->folder);
        const char *params[] = { sid, held, p->mgr->node_id };
        r = db_exec(p->db, "UPDATE mailboxes SET last_error = $2, last_ok_at = now(), locked_by = $3"
                           " WHERE id = $1", 3, params, &e);
    } else if (error != NULL) {
        const char *params[] = { sid, error, p->mgr->node_id };
        r = db_exec(p->db, "UPDATE mailboxes SET last_error = $2, locked_by = $3 WHERE id = $1",
                    3, params, &e);
    } else {
        const char *params[] = { sid, p->mgr->node_id };
        r = db_exec(p->db, "UPDATE mailboxes SET last_error = NULL, last_ok_at = now(), locked_by = $2"
                           " WHERE id = $1", 2, params, &e);
    }
    if (r == NULL)
        log_warn("imap.record_failed", "error=%s", e);
    PQclear(r);
}

/* ---- IMAP helpers ----------------------------------------------------- */

static const char *imap_err(int r)
{
    switch (r) {
    case MAILIMAP_ERROR_STREAM: return "connection lost or timed out";
    case MAILIMAP_ERROR_PARSE: return "unexpected server response";
    case MAILIMAP_ERROR_CONNECTION_REFUSED: return "connection refused";
    case MAILIMAP_ERROR_LOGIN: return "login failed";
    case MAILIMAP_ERROR_SELECT: return "cannot select folder";
    case MAILIMAP_ERROR_SSL: return "TLS failure";
    case MAILIMAP_ERROR_STARTTLS: return "STARTTLS failed";
    case MAILIMAP_ERROR_FETCH: return "fetch failed";
    case MAILIMAP_ERROR_STORE: return "store failed";
    case MAILIMAP_ERROR_UID_SEARCH: return "search failed";
    case MAILIMAP_ERROR_COPY: return "copy failed";
    case MAILIMAP_ERROR_EXPUNGE: return "expunge failed";
    default: return "IMAP error";
    }
}

static bool ok(int r)
{
    return r == MAILIMAP_NO_ERROR || r == MAILIMAP_NO_ERROR_AUTHENTICATED
           || r == MAILIMAP_NO_ERROR_NON_AUTHENTICATED;
}

static int verify_server(struct poller *p, const char **error_r)
{
    carray *chain = mailstream_get_certificate_chain(p->imap->imap_stream);
    if (chain == NULL)
        return err_set(error_r, "no certificate chain from %s", p->host);
    size_t n = carray_count(chain);
    struct tls_der *der = xcalloc(n ? n : 1, sizeof(*der));
    for (size_t i = 0; i < n; i++) {
        MMAPString *s = carray_get(chain, (unsigned)i);
        der[i].data = (const unsigned char *)s->str;
        der[i].len = s->len;
    }
    int rc = tls_verify_chain(der, n, p->host, p->mgr->ca_file, error_r);
    mailstream_certificate_chain_free(chain);
    free(der);
    return rc;
}

static int connect_login(struct poller *p, const char **error_r)
{
    int r;
    p->imap = mailimap_new(0, NULL);
    if (p->imap == NULL)
        return err_set(error_r, "out of memory");
    mailimap_set_timeout(p->imap, (time_t)((p->mgr->o.timeout_ms + 999) / 1000));
    bool tls = strcmp(p->security, "tls") == 0, starttls = strcmp(p->security, "starttls") == 0;
    if (tls)
        r = mailimap_ssl_connect(p->imap, p->host, (uint16_t)p->port);
    else
        r = mailimap_socket_connect(p->imap, p->host, (uint16_t)p->port);
    if (!ok(r))
        return err_set(error_r, "connect %s:%d: %s", p->host, p->port, imap_err(r));
    if (starttls) {
        r = mailimap_socket_starttls(p->imap);
        if (!ok(r))
            return err_set(error_r, "STARTTLS with %s: %s", p->host, imap_err(r));
    }
    if ((tls || starttls) && !p->trust_any && verify_server(p, error_r) < 0)
        return -1;               /* before LOGIN: no password to an impostor */
    struct mailimap_capability_data *cap = NULL;
    r = mailimap_capability(p->imap, &cap);   /* refreshed after STARTTLS */
    if (cap)
        mailimap_capability_data_free(cap);
    /* only a mailbox password variable, only over a link allowed for it */
    const struct mailbox_link link = { p->host, p->security, p->trust_any };
    const char *pw = mailbox_password(p->pwenv, &link, p->mgr->o.allow_insecure_loopback, error_r);
    if (pw == NULL)
        return -1;
    r = mailimap_login(p->imap, p->user, pw);
    if (!ok(r))
        return err_set(error_r, "login as %s: %s%s%s", p->user, imap_err(r),
                       p->imap->imap_response ? ": " : "", p->imap->imap_response ? p->imap->imap_response : "");
    r = mailimap_select(p->imap, p->folder);
    if (!ok(r))
        return err_set(error_r, "select %s: %s", p->folder, imap_err(r));
    if (strcmp(p->after, "move") == 0)
        (void)mailimap_create(p->imap, p->move_to);   /* may exist: fine */
    return 0;
}

static void disconnect(struct poller *p)
{
    if (p->imap) {
        mailimap_logout(p->imap);
        mailimap_free(p->imap);
        p->imap = NULL;
    }
}

/* UIDs >= from, ascending, into *v (caller frees). */
static int search_uids(struct poller *p, uint32_t from, uint32_t to, uint32_t **v, size_t *n,
                       const char **error_r)
{
    clist *res = NULL;
    struct mailimap_set *set = mailimap_set_new_interval(from, to);
    struct mailimap_search_key *key = mailimap_search_key_new_uid(set);
    int r = mailimap_uid_search(p->imap, NULL, key, &res);
    mailimap_search_key_free(key);
    if (!ok(r))
        return err_set(error_r, "UID SEARCH: %s", imap_err(r));
    *n = 0;
    *v = xcalloc((size_t)clist_count(res) + 1, sizeof(**v));
    for (clistiter *it = clist_begin(res); it; it = clist_next(it)) {
        uint32_t u = *(uint32_t *)clist_content(it);
        /* "n:*" also names the highest UID when it is below n */
        if (u >= from && (to == 0 || u <= to))
            (*v)[(*n)++] = u;
    }
    mailimap_search_result_free(res);
    for (size_t i = 1; i < *n; i++)        /* servers answer in any order */
        for (size_t k = i; k > 0 && (*v)[k - 1] > (*v)[k]; k--) {
            uint32_t t = (*v)[k];
            (*v)[k] = (*v)[k - 1];
            (*v)[k - 1] = t;
        }
    return 0;
}

/* The whole mail (BODY.PEEK[]), or with headers_only its header block
 * (BODY.PEEK[HEADER], at most HOLD_HEADER_MAX bytes) -- never \Seen. */
static int fetch_one(struct poller *p, uint32_t uid, bool headers_only, char **data, size_t *len,
                     const char **error_r)
{
    clist *res = NULL;
    struct mailimap_set *set = mailimap_set_new_single(uid);
    struct mailimap_fetch_type *ft = mailimap_fetch_type_new_fetch_att_list_empty();
    mailimap_fetch_type_new_fetch_att_list_add(ft, mailimap_fetch_att_new_uid());
    if (headers_only)
        mailimap_fetch_type_new_fetch_att_list_add(ft,
            mailimap_fetch_att_new_body_peek_section_partial(mailimap_section_new_header(), 0,
                                                             HOLD_HEADER_MAX));
    else
        mailimap_fetch_type_new_fetch_att_list_add(ft,
            mailimap_fetch_att_new_body_peek_section(mailimap_section_new(NULL)));
    int r = mailimap_uid_fetch(p->imap, set, ft, &res);
    mailimap_fetch_type_free(ft);
    mailimap_set_free(set);
    if (!ok(r))
        return err_set(error_r, "UID FETCH %u: %s", uid, imap_err(r));
    *data = NULL;
    *len = 0;
    for (clistiter *it = clist_begin(res); it && *data == NULL; it = clist_next(it)) {
        struct mailimap_msg_att *ma = clist_content(it);
        uint32_t got_uid = 0;
        const char *body = NULL;
        size_t blen = 0;
        for (clistiter *k = clist_begin(ma->att_list); k; k = clist_next(k)) {
            struct mailimap_msg_att_item *item = clist_content(k);
            if (item->att_type != MAILIMAP_MSG_ATT_ITEM_STATIC)
                continue;
            struct mailimap_msg_att_static *st = item->att_data.att_static;
            if (st->att_type == MAILIMAP_MSG_ATT_UID)
                got_uid = st->att_data.att_uid;
            else if (st->att_type == MAILIMAP_MSG_ATT_BODY_SECTION && st->att_data.att_body_section)
                body = st->att_data.att_body_section->sec_body_part,
                blen = st->att_data.att_body_section->sec_length;
        }
        if (got_uid == uid && body != NULL) {
            *data = xmalloc(blen + 1);
            memcpy(*data, body, blen);
            (*data)[blen] = '\0';
            *len = blen;
        }
    }
    mailimap_fetch_list_free(res);
    if (*data == NULL)
        return err_set(error_r, "UID FETCH %u: message not returned", uid);
    return 0;
}

/* RFC822.SIZE of uids[0..n-1] (ascending) into sizes[], -1 where the
 * server did not say: one command for the whole range, so a big mail is
 * recognised before its body is transferred. */
static int fetch_sizes(struct poller *p, const uint32_t *uids, size_t n, long long *sizes,
                       const char **error_r)
{
    for (size_t i = 0; i < n; i++)
        sizes[i] = -1;
    if (n == 0)
        return 0;
    clist *res = NULL;
    struct mailimap_set *set = mailimap_set_new_interval(uids[0], uids[n - 1]);
    struct mailimap_fetch_type *ft = mailimap_fetch_type_new_fetch_att_list_empty();
    mailimap_fetch_type_new_fetch_att_list_add(ft, mailimap_fetch_att_new_uid());
    mailimap_fetch_type_new_fetch_att_list_add(ft, mailimap_fetch_att_new_rfc822_size());
    int r = mailimap_uid_fetch(p->imap, set, ft, &res);
    mailimap_fetch_type_free(ft);
    mailimap_set_free(set);
    if (!ok(r))
        return err_set(error_r, "UID FETCH RFC822.SIZE: %s", imap_err(r));
    for (clistiter *it = clist_begin(res); it; it = clist_next(it)) {
        struct mailimap_msg_att *ma = clist_content(it);
        uint32_t uid = 0;
        long long size = -1;
        for (clistiter *k = clist_begin(ma->att_list); k; k = clist_next(k)) {
            struct mailimap_msg_att_item *item = clist_content(k);
            if (item->att_type != MAILIMAP_MSG_ATT_ITEM_STATIC)
                continue;
            struct mailimap_msg_att_static *st = item->att_data.att_static;
            if (st->att_type == MAILIMAP_MSG_ATT_UID)
                uid = st->att_data.att_uid;
            else if (st->att_type == MAILIMAP_MSG_ATT_RFC822_SIZE)
                size = st->att_data.att_rfc822_size;
        }
        size_t lo = 0, hi = n;   /* binary search: servers answer in any order */
        while (lo < hi) {
            size_t mid = lo + (hi - lo) / 2;
            if (uids[mid] < uid)
                lo = mid + 1;
            else
                hi = mid;
        }
        if (lo < n && uids[lo] == uid)
            sizes[lo] = size;
    }
    mailimap_fetch_list_free(res);
    return 0;
}

static int add_flags(struct poller *p, uint32_t uid, bool deleted)
{
    struct mailimap_flag_list *fl = mailimap_flag_list_new_empty();
    mailimap_flag_list_add(fl, mailimap_flag_new_seen());
    if (deleted)
        mailimap_flag_list_add(fl, mailimap_flag_new_deleted());
    struct mailimap_store_att_flags *sf = mailimap_store_att_flags_new_add_flags_silent(fl);
    struct mailimap_set *set = mailimap_set_new_single(uid);
    int r = mailimap_uid_store(p->imap, set, sf);
    mailimap_set_free(set);
    mailimap_store_att_flags_free(sf);
    return r;
}

/* After the commit: \Seen, then move or delete as configured. */
static int after_fetch(struct poller *p, uint32_t uid, const char **error_r)
{
    int r;
    if (strcmp(p->after, "seen") == 0) {
        r = add_flags(p, uid, false);
        return ok(r) ? 0 : err_set(error_r, "STORE \\Seen %u: %s", uid, imap_err(r));
    }
    if (strcmp(p->after, "move") == 0) {
        r = add_flags(p, uid, false);
        if (!ok(r))
            return err_set(error_r, "STORE \\Seen %u: %s", uid, imap_err(r));
        struct mailimap_set *set = mailimap_set_new_single(uid);
        if (mailimap_has_extension(p->imap, "MOVE")) {
            r = mailimap_uid_move(p->imap, set, p->move_to);
            mailimap_set_free(set);
            return ok(r) ? 0 : err_set(error_r, "UID MOVE %u to %s: %s", uid, p->move_to, imap_err(r));
        }
        r = mailimap_uid_copy(p->imap, set, p->move_to);
        mailimap_set_free(set);
        if (!ok(r))
            return err_set(error_r, "UID COPY %u to %s: %s", uid, p->move_to, imap_err(r));
    }
    r = add_flags(p, uid, true);
    if (!ok(r))
        return err_set(error_r, "STORE \\Deleted %u: %s", uid, imap_err(r));
    if (mailimap_has_extension(p->imap, "UIDPLUS")) {
        struct mailimap_set *set = mailimap_set_new_single(uid);
        r = mailimap_uid_expunge(p->imap, set);
        mailimap_set_free(set);
    } else {
        r = mailimap_expunge(p->imap);
    }
    return ok(r) ? 0 : err_set(error_r, "EXPUNGE: %s", imap_err(r));
}

/* ---- database --------------------------------------------------------- */

static int load_position(struct poller *p, const char **error_r)
{
    char sid[32];
    snprintf(sid, sizeof(sid), "%lld", p->id);
    const char *params[] = { sid };
    const char *e = NULL;
    PGresult *r = db_exec(p->db, "SELECT coalesce(uidvalidity, 0), last_uid FROM mailboxes WHERE id = $1",
                          1, params, &e);
    if (r == NULL)
        return err_set(error_r, "%s", e);
    if (PQntuples(r) == 0) {
        PQclear(r);
        return err_set(error_r, "mailbox %lld was removed", p->id);
    }
    p->uidvalidity = atoll(PQgetvalue(r, 0, 0));
    p->last_uid = atoll(PQgetvalue(r, 0, 1));
    PQclear(r);
    long long now_validity = p->imap->imap_selection_info ? p->imap->imap_selection_info->sel_uidvalidity : 0;
    if (now_validity != p->uidvalidity) {
        if (p->uidvalidity != 0)
            log_warn("imap.uidvalidity_changed", "old=%lld new=%lld hint=%s",
                     p->uidvalidity, now_validity, "fetching every message again; duplicates are recognised");
        char v[32];
        snprintf(v, sizeof(v), "%lld", now_validity);
        const char *up[] = { sid, v };
        r = db_exec(p->db, "UPDATE mailboxes SET uidvalidity = $2, last_uid = 0 WHERE id = $1", 2, up, &e);
        if (r == NULL)
            return err_set(error_r, "%s", e);
        PQclear(r);
        p->uidvalidity = now_validity;
        p->last_uid = 0;
    }
    return 0;
}

/* The envelope of a mail from this mailbox (caller frees). */
static char *envelope_json(struct poller *p, uint32_t uid, long long held_size)
{
    json_t *env = json_pack("{s:s, s:s, s:I, s:I}", "mailbox", p->name, "folder", p->folder,
                            "uid", (json_int_t)uid, "uidvalidity", (json_int_t)p->uidvalidity);
    if (held_size >= 0) {
        json_object_set_new(env, "too_large", json_true());
        json_object_set_new(env, "size", json_integer((json_int_t)held_size));
    }
    char *s = json_dumps(env, JSON_COMPACT);
    json_decref(env);
    return s;
}

/* last_uid only grows: a held mail taken in later has a lower UID. */
static int advance_uid(struct poller *p, uint32_t uid, const char **error_r)
{
    char sid[32], su[32];
    const char *e = NULL;
    snprintf(sid, sizeof(sid), "%lld", p->id);
    snprintf(su, sizeof(su), "%u", uid);
    const char *params[] = { sid, su };
    PGresult *r = db_exec(p->db, "UPDATE mailboxes SET last_uid = greatest(last_uid, $2::bigint),"
                                 " last_ok_at = now() WHERE id = $1", 2, params, &e);
    if (r == NULL)
        return err_set(error_r, "%s", e);
    PQclear(r);
    if (uid > p->last_uid)
        p->last_uid = uid;
    return 0;
}

/* Stores the mail and advances last_uid in one transaction; a held mail
 * taken in now (replaces > 0) loses its held row in the same one. */
static int store(struct poller *p, uint32_t uid, const char *data, size_t len, long long replaces,
                 long long *id_r, const char **error_r)
{
    const char *e = NULL;
    char *envs = envelope_json(p, uid, -1);
    int ret = -1;
    if (db_begin(p->db, &e) < 0) {
        err_set(error_r, "%s", e);
        goto out;
    }
    if (inbound_store(p->db, "imap", p->id, envs, data, len, id_r, &e) < 0) {
        err_set(error_r, "%s", e);
        goto rollback;
    }
    if (replaces > 0) {
        char sr[32];
        snprintf(sr, sizeof(sr), "%lld", replaces);
        const char *params[] = { sr };
        PGresult *r = db_exec(p->db, "DELETE FROM inbound_mail WHERE id = $1 AND state = 'failed'",
                              1, params, &e);
        if (r == NULL) {
            err_set(error_r, "%s", e);
            goto rollback;
        }
        PQclear(r);
    }
    if (advance_uid(p, uid, error_r) < 0)
        goto rollback;
    if (db_commit(p->db, &e) < 0) {
        err_set(error_r, "%s", e);
        goto out;
    }
    ret = 0;
    goto out;
rollback:
    db_rollback(p->db);
out:
    free(envs);
    return ret;
}

/* Records a mail over the limit as held (see HOLD_HEADER_MAX) and
 * advances last_uid past it, in one transaction. */
static int hold(struct poller *p, uint32_t uid, long long size, const char *hdr, size_t hlen,
                long long *id_r, const char **error_r)
{
    const char *e = NULL;
    if (hlen > HOLD_HEADER_MAX)
        hlen = HOLD_HEADER_MAX;
    struct mail_limits lim;
    mail_limits_default(&lim);
    struct mail_msg *m = mail_parse(hdr, hlen, &lim);   /* so the list shows its subject */
    json_t *sum = mail_summary_json(m);
    mail_msg_free(&m);
    char *sums = json_dumps(sum, JSON_COMPACT);
    json_decref(sum);
    char *envs = envelope_json(p, uid, size);
    char error[300], sid[32], ssize[32];
    snprintf(error, sizeof(error), "larger than mail.max_message_size (%lld > %lld bytes): not stored,"
             " only its headers; left in mailbox %s, folder %s, UID %u", size,
             p->mgr->o.max_message_size, p->name, p->folder, uid);
    snprintf(sid, sizeof(sid), "%lld", p->id);
    snprintf(ssize, sizeof(ssize), "%lld", size > INT_MAX ? (long long)INT_MAX : size);
    const char *params[] = { sid, envs, hdr, ssize, error, sums };
    const int lengths[] = { 0, 0, (int)hlen, 0, 0, 0 };
    const int formats[] = { 0, 0, 1, 0, 0, 0 };
    int ret = -1;
    if (db_begin(p->db, &e) < 0) {
        err_set(error_r, "%s", e);
        goto out;
    }
    /* no mail.ingest job: there is no mail to ingest, only its trace */
    PGresult *r = db_exec_bin(p->db,
        "INSERT INTO inbound_mail (source, mailbox_id, envelope, raw, size, state, error, summary,"
        "                          processed_at)"
        " VALUES ('imap', $1, $2::jsonb, $3, $4::int, 'failed', $5, $6::jsonb, now()) RETURNING id",
        6, params, lengths, formats, 0, &e);
    if (r == NULL) {
        db_rollback(p->db);
        err_set(error_r, "recording held mail: %s", e);
        goto out;
    }
    *id_r = atoll(PQgetvalue(r, 0, 0));
    PQclear(r);
    if (advance_uid(p, uid, error_r) < 0) {
        db_rollback(p->db);
        goto out;
    }
    if (db_commit(p->db, &e) < 0) {
        err_set(error_r, "%s", e);
        goto out;
    }
    ret = 0;
out:
    free(envs);
    free(sums);
    return ret;
}

/* The held mails of this folder (ascending UID) into *v (caller frees).
 * Failed rows are few and indexed (inbound_mail_state_idx). */
static int load_held(struct poller *p, struct held **v, size_t *n, const char **error_r)
{
    char sid[32], sv[32];
    const char *e = NULL;
    snprintf(sid, sizeof(sid), "%lld", p->id);
    snprintf(sv, sizeof(sv), "%lld", p->uidvalidity);
    const char *params[] = { sid, sv, p->folder };
    PGresult *r = db_exec(p->db,
        "SELECT (envelope->>'uid')::bigint AS uid, coalesce((envelope->>'size')::bigint, 0), max(id)"
        "  FROM inbound_mail"
        " WHERE state = 'failed' AND mailbox_id = $1 AND envelope->>'too_large' = 'true'"
        "   AND envelope->>'uidvalidity' = $2 AND envelope->>'folder' = $3"
        " GROUP BY 1, 2 ORDER BY 1", 3, params, &e);
    if (r == NULL)
        return err_set(error_r, "reading held mails: %s", e);
    *n = (size_t)PQntuples(r);
    *v = xcalloc(*n + 1, sizeof(**v));
    for (size_t i = 0; i < *n; i++) {
        (*v)[i].uid = (uint32_t)atoll(PQgetvalue(r, (int)i, 0));
        (*v)[i].size = atoll(PQgetvalue(r, (int)i, 1));
        (*v)[i].id = atoll(PQgetvalue(r, (int)i, 2));
    }
    PQclear(r);
    return 0;
}

static const struct held *held_find(const struct held *v, size_t n, uint32_t uid)
{
    for (size_t i = 0; i < n; i++)
        if (v[i].uid == uid)
            return &v[i];
    return NULL;
}

/* Fetches a mail's headers and records it as held. */
static int hold_uid(struct poller *p, uint32_t uid, long long size, const char **error_r)
{
    char *hdr = NULL;
    size_t hlen = 0;
    long long id = 0;
    if (fetch_one(p, uid, true, &hdr, &hlen, error_r) < 0)
        return -1;
    int rc = hold(p, uid, size, hdr, hlen, &id, error_r);
    free(hdr);
    if (rc < 0)
        return -1;
    p->held++;
    log_error("imap.too_large", "uid=%u bytes=%lld max=%lld inbound=%lld hint=%s", uid, size,
              p->mgr->o.max_message_size, id,
              "left in the mailbox, not moved or deleted; raise mail.max_message_size to take it in");
    metrics_counter_add("atum_imap_held_total", NULL, 1);
    return 0;
}

/* Fetches, stores, then flags/moves/deletes one mail; replaces > 0 is
 * the row of a held mail now taken in. */
static int take_in(struct poller *p, uint32_t uid, long long replaces, const char **error_r)
{
    char *data = NULL;
    size_t len = 0;
    long long id = 0;
    if (fetch_one(p, uid, false, &data, &len, error_r) < 0)
        return -1;
    if ((long long)len > p->mgr->o.max_message_size) {
        /* the server's RFC822.SIZE was wrong (or missing) */
        free(data);
        if (replaces > 0) {
            p->held++;
            return 0;
        }
        return hold_uid(p, uid, (long long)len, error_r);
    }
    int rc = store(p, uid, data, len, replaces, &id, error_r);
    free(data);
    if (rc < 0)
        return -1;
    log_info("imap.stored", "uid=%u inbound=%lld bytes=%zu%s", uid, id, len,
             replaces > 0 ? " was_held=yes" : "");
    metrics_counter_add("atum_imap_messages_total", NULL, 1);
    /* on failure: stored, so it is moved on the next pass */
    return after_fetch(p, uid, error_r);
}

/* ---- one pass --------------------------------------------------------- */

static int sync_folder(struct poller *p, const char **error_r)
{
    uint32_t *uids = NULL;
    size_t n = 0, nheld = 0;
    struct held *held = NULL;
    long long *sizes = NULL;
    long long max = p->mgr->o.max_message_size;
    int ret = -1;
    p->held = 0;
    if (load_held(p, &held, &nheld, error_r) < 0)
        goto out;
    /* UIDs up to last_uid still in the folder: stored but not moved yet (a
     * crash in between), or held -- which are never moved or deleted */
    bool seen_mode = strcmp(p->after, "seen") == 0;
    if (p->last_uid > 0 && (!seen_mode || nheld > 0)) {
        /* "seen" leaves every mail in place: look only where held ones are */
        uint32_t from = seen_mode ? held[0].uid : 1;
        uint32_t to = seen_mode ? held[nheld - 1].uid : (uint32_t)p->last_uid;
        if (search_uids(p, from, to, &uids, &n, error_r) < 0)
            goto out;
        for (size_t i = 0; i < n && !should_stop(p); i++) {
            const struct held *h = held_find(held, nheld, uids[i]);
            if (h != NULL && h->size > max)
                p->held++;
            else if (h != NULL) {
                if (take_in(p, uids[i], h->id, error_r) < 0)   /* the limit was raised */
                    goto out;
            } else if (!seen_mode && after_fetch(p, uids[i], error_r) < 0)
                goto out;
        }
        free(uids);
        uids = NULL;
    }
    if (search_uids(p, (uint32_t)p->last_uid + 1, 0, &uids, &n, error_r) < 0)
        goto out;
    sizes = xcalloc(n + 1, sizeof(*sizes));
    if (fetch_sizes(p, uids, n, sizes, error_r) < 0)
        goto out;
    for (size_t i = 0; i < n && !should_stop(p); i++) {
        int rc = sizes[i] > max ? hold_uid(p, uids[i], sizes[i], error_r)
                                : take_in(p, uids[i], 0, error_r);
        if (rc < 0)
            goto out;
    }
    ret = 0;
out:
    free(uids);
    free(held);
    free(sizes);
    return ret;
}

/* IDLE until the server says something, the refresh time passes or we
 * must stop.  0 to resync, -1 to reconnect. */
static int idle_wait(struct poller *p, const char **error_r)
{
    int r = mailimap_idle(p->imap);
    if (!ok(r))
        return err_set(error_r, "IDLE: %s", imap_err(r));
    int fd = mailimap_idle_get_fd(p->imap);
    long long end = time_mono_ms() + p->mgr->o.idle_refresh_ms;
    while (!should_stop(p)) {
        /* data the stream already buffered never shows up in poll() */
        if (p->imap->imap_stream && p->imap->imap_stream->read_buffer_len > 0)
            break;
        long long left = end - time_mono_ms();
        if (left <= 0) {
            /* DONE, a resync, then a fresh IDLE: servers drop old ones */
            log_debug("imap.idle_refresh", "after_ms=%lld", p->mgr->o.idle_refresh_ms);
            break;
        }
        struct pollfd pf[2] = { { fd, POLLIN, 0 }, { p->mgr->wake[0], POLLIN, 0 } };
        int pr = poll(pf, 2, (int)(left > 1000 ? 1000 : left));
        if (pr > 0 && (pf[0].revents & (POLLIN | POLLHUP | POLLERR)))
            break;
    }
    r = mailimap_idle_done(p->imap);
    if (!ok(r))
        return err_set(error_r, "IDLE DONE: %s", imap_err(r));
    return 0;
}

/* Connected and logged in: sync, wait, sync ... until an error or stop. */
static int session(struct poller *p, const char **error_r)
{
    if (connect_login(p, error_r) < 0)
        return -1;
    if (load_position(p, error_r) < 0)
        return -1;
    bool idle = p->use_idle && mailimap_has_idle(p->imap);
    log_info("imap.connected", "server=%s:%d folder=%s idle=%s last_uid=%lld",
             p->host, p->port, p->folder, idle ? "yes" : "no", p->last_uid);
    while (!should_stop(p)) {
        if (sync_folder(p, error_r) < 0)
            return -1;
        record(p, NULL);
        if (should_stop(p))
            break;
        if (!db_conn_is_up(p->db))
            return err_set(error_r, "database connection lost (mailbox lock released)");
        if (idle) {
            if (idle_wait(p, error_r) < 0)
                return -1;
        } else {
            nap(p, (long long)p->poll_s * 1000);
            int r = mailimap_noop(p->imap);   /* also refreshes EXISTS */
            if (!ok(r))
                return err_set(error_r, "NOOP: %s", imap_err(r));
        }
    }
    return 0;
}

static int take_lock(struct poller *p, const char **error_r)
{
    char key[64];
    snprintf(key, sizeof(key), "mailbox:%lld", p->id);
    const char *params[] = { key };
    const char *e = NULL;
    char *v = db_query_value(p->db, "SELECT pg_try_advisory_lock(hashtextextended($1, 0))", 1, params, &e);
    if (v == NULL)
        return err_set(error_r, "mailbox lock: %s", e ? e : "no result");
    int got = strcmp(v, "t") == 0;
    free(v);
    return got;
}

static void *poller_main(void *arg)
{
    struct poller *p = arg;
    const char *e = NULL;
    long long backoff = 1000;
    bool locked = false;
    unsigned gen = 0;

    log_context_set("mailbox=%s", p->name);
    struct db_params dp = p->mgr->o.db;
    dp.application_name = "atumd-imap";
    p->db = db_conn_new(&dp);
    while (!should_stop(p)) {
        if (db_conn_ensure(p->db, &e) < 0) {
            locked = false;
            nap(p, 1000);
            continue;
        }
        if (locked && db_conn_generation(p->db) != gen)
            locked = false;      /* a new connection holds no lock */
        if (!locked) {
            int got = take_lock(p, &e);
            if (got <= 0) {
                if (got < 0)
                    log_warn("imap.lock_failed", "error=%s", e);
                nap(p, p->mgr->o.rescan_ms);   /* another atumd has it */
                continue;
            }
            locked = true;
            gen = db_conn_generation(p->db);
        }
        if (session(p, &e) < 0 && !should_stop(p)) {
            log_warn("imap.error", "error=%s retry_ms=%lld", e, backoff);
            metrics_counter_add("atum_imap_errors_total", NULL, 1);
            if (db_conn_is_up(p->db))
                record(p, e);
            disconnect(p);
            nap(p, backoff);
            backoff = backoff * 2 > p->mgr->o.reconnect_max_ms ? p->mgr->o.reconnect_max_ms : backoff * 2;
            continue;
        }
        backoff = 1000;
        disconnect(p);
    }
    disconnect(p);
    if (locked && db_conn_is_up(p->db)) {
        char sid[32];
        snprintf(sid, sizeof(sid), "%lld", p->id);
        const char *params[] = { sid, p->mgr->node_id };
        PGresult *r = db_exec(p->db, "UPDATE mailboxes SET locked_by = NULL WHERE id = $1 AND locked_by = $2",
                              2, params, &e);
        PQclear(r);
    }
    db_conn_free(&p->db);    /* closes the connection: the lock goes with it */
    log_context_clear();
    atomic_store(&p->exited, true);
    return NULL;
}

/* ---- the manager ------------------------------------------------------ */

static void poller_free(struct poller *p)
{
    free(p->name);
    free(p->host);
    free(p->security);
    free(p->user);
    free(p->pwenv);
    free(p->folder);
    free(p->after);
    free(p->move_to);
    free(p);
}

static void poller_stop(struct poller *p)
{
    atomic_store(&p->stop, true);
    pthread_join(p->thread, NULL);
    poller_free(p);
}

static void rescan(struct imap_manager *m, struct db_conn *c)
{
    const char *e = NULL;
    PGresult *r = db_exec(c,
        "SELECT id, name, host, port, security, trust_any_certificate, username,"
        "       coalesce(password_env, ''), folder, after_fetch, move_to, idle, poll_interval_s,"
        "       md5(concat_ws('|', name, host, port, security, trust_any_certificate, username,"
        "                     password_env, folder, after_fetch, move_to, idle, poll_interval_s))"
        "  FROM mailboxes WHERE enabled ORDER BY id", 0, NULL, &e);
    if (r == NULL) {
        log_warn("imap.rescan_failed", "error=%s", e);
        return;
    }
    for (size_t i = 0; i < m->npollers; i++)
        m->pollers[i]->seen = false;
    for (int row = 0; row < PQntuples(r); row++) {
        long long id = atoll(PQgetvalue(r, row, 0));
        const char *hash = PQgetvalue(r, row, 13);
        struct poller *old = NULL;
        for (size_t i = 0; i < m->npollers; i++)
            if (m->pollers[i]->id == id)
                old = m->pollers[i];
        if (old && strcmp(old->hash, hash) == 0) {
            old->seen = true;
            continue;
        }
        struct poller *p = xcalloc(1, sizeof(*p));
        p->mgr = m;
        p->id = id;
        p->name = xstrdup(PQgetvalue(r, row, 1));
        p->host = xstrdup(PQgetvalue(r, row, 2));
        p->port = atoi(PQgetvalue(r, row, 3));
        p->security = xstrdup(PQgetvalue(r, row, 4));
        p->trust_any = strcmp(PQgetvalue(r, row, 5), "t") == 0;
        p->user = xstrdup(PQgetvalue(r, row, 6));
        p->pwenv = xstrdup(PQgetvalue(r, row, 7));
        p->folder = xstrdup(PQgetvalue(r, row, 8));
        p->after = xstrdup(PQgetvalue(r, row, 9));
        p->move_to = xstrdup(PQgetvalue(r, row, 10));
        p->use_idle = strcmp(PQgetvalue(r, row, 11), "t") == 0;
        p->poll_s = atoi(PQgetvalue(r, row, 12));
        snprintf(p->hash, sizeof(p->hash), "%s", hash);
        p->seen = true;
        if (old) {               /* settings changed: restart it */
            log_info("imap.mailbox_changed", "mailbox=%s", old->name);
            for (size_t i = 0; i < m->npollers; i++)
                if (m->pollers[i] == old)
                    m->pollers[i] = p;
            poller_stop(old);
        } else {
            m->pollers = xrealloc(m->pollers, (m->npollers + 1) * sizeof(*m->pollers));
            m->pollers[m->npollers++] = p;
        }
        if (pthread_create(&p->thread, NULL, poller_main, p) != 0) {
            log_error("imap.thread_failed", "mailbox=%s", p->name);
            p->seen = false;
            atomic_store(&p->exited, true);
        }
    }
    PQclear(r);
    /* gone or disabled mailboxes */
    size_t out = 0;
    for (size_t i = 0; i < m->npollers; i++) {
        struct poller *p = m->pollers[i];
        if (p->seen) {
            m->pollers[out++] = p;
        } else {
            log_info("imap.mailbox_stopped", "mailbox=%s", p->name);
            poller_stop(p);
        }
    }
    m->npollers = out;
}

static void *manager_main(void *arg)
{
    struct imap_manager *m = arg;
    const char *e = NULL;
    struct db_params dp = m->o.db;
    dp.application_name = "atumd-imap";
    struct db_conn *c = db_conn_new(&dp);
    log_context_set("thread=imap");
    while (!atomic_load(&m->stopping)) {
        if (db_conn_ensure(c, &e) == 0)
            rescan(m, c);
        struct pollfd pf = { m->wake[0], POLLIN, 0 };
        poll(&pf, 1, (int)m->o.rescan_ms);
    }
    for (size_t i = 0; i < m->npollers; i++)
        poller_stop(m->pollers[i]);
    free(m->pollers);
    m->pollers = NULL;
    m->npollers = 0;
    db_conn_free(&c);
    log_context_clear();
    return NULL;
}

int imap_start(struct imap_manager **m_r, const struct imap_opts *o, const char **error_r)
{
    struct imap_manager *m = xcalloc(1, sizeof(*m));
    m->o = *o;
    m->db_url = xstrdup(o->db.url);
    m->o.db.url = m->db_url;
    m->node_id = xstrdup(o->node_id ? o->node_id : "");
    m->o.node_id = m->node_id;
    m->ca_file = o->ca_file && *o->ca_file ? xstrdup(o->ca_file) : NULL;
    if (pipe2(m->wake, O_CLOEXEC) < 0) {
        free(m->db_url);
        free(m->node_id);
        free(m->ca_file);
        free(m);
        return err_set(error_r, "pipe: %s", strerror(errno));
    }
    if (pthread_create(&m->thread, NULL, manager_main, m) != 0) {
        imap_stop(&m);
        return err_set(error_r, "cannot start the IMAP thread");
    }
    m->started = true;
    *m_r = m;
    return 0;
}

void imap_stop(struct imap_manager **mp)
{
    struct imap_manager *m = *mp;
    if (m == NULL)
        return;
    atomic_store(&m->stopping, true);
    ssize_t w = write(m->wake[1], "x", 1);
    (void)w;
    if (m->started)
        pthread_join(m->thread, NULL);
    close(m->wake[0]);
    close(m->wake[1]);
    free(m->db_url);
    free(m->node_id);
    free(m->ca_file);
    free(m);
    *mp = NULL;
}
