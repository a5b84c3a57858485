/* mailin/imap_session.c -- see mailin/imap_session.h. */
#include "config.h"
#include "mailin/imap_session.h"
#include "mailin/imap_wire.h"
#include "mail/mailhdr.h"
#include "lib/err.h"
#include "lib/strbuf.h"
#include "lib/util.h"
#include "lib/xalloc.h"

#include <libetpan/libetpan.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* UIDs asked for in one FETCH of sizes and Message-IDs. */
#define INFO_BATCH 500
/* What an answer without a mail in it may amount to (a SEARCH of a very
 * large folder included). */
#define SMALL_BUDGET (16u * 1024 * 1024)
/* Longest response line outside literals, deepest nesting. */
#define MAX_LINE (8u * 1024 * 1024)
#define MAX_DEPTH 64
/* LOGOUT is a courtesy: it gets little time. */
#define LOGOUT_MS 5000

struct imap_session {
    struct imap_session_opts o;  /* strings below are the session's copies */
    char *host, *user, *folder, *ca_file;
    struct imap_wire *wire;
    mailimap *imap;
    bool logged_in;
    bool broken;
    enum imap_session_step at;   /* what opening is doing */
    char greeting[512];
};

static bool ok(int r)
{
    return r == MAILIMAP_NO_ERROR || r == MAILIMAP_NO_ERROR_AUTHENTICATED
           || r == MAILIMAP_NO_ERROR_NON_AUTHENTICATED;
}

static const char *imap_err(int r)
{
    switch (r) {
    case MAILIMAP_ERROR_STREAM: return "connection lost";
    case MAILIMAP_ERROR_PARSE: return "unexpected server response";
    case MAILIMAP_ERROR_FATAL: return "the server said BYE";
    case MAILIMAP_ERROR_PROTOCOL: return "protocol error";
    case MAILIMAP_ERROR_CONNECTION_REFUSED: return "connection refused";
    case MAILIMAP_ERROR_LOGIN: return "login failed";
    case MAILIMAP_ERROR_SELECT: return "cannot select folder";
    case MAILIMAP_ERROR_STARTTLS: return "STARTTLS refused";
    case MAILIMAP_ERROR_FETCH: case MAILIMAP_ERROR_UID_FETCH: return "fetch failed";
    case MAILIMAP_ERROR_STORE: case MAILIMAP_ERROR_UID_STORE: return "store failed";
    case MAILIMAP_ERROR_SEARCH: case MAILIMAP_ERROR_UID_SEARCH: return "search failed";
    case MAILIMAP_ERROR_COPY: case MAILIMAP_ERROR_UID_COPY: return "copy failed";
    case MAILIMAP_ERROR_EXPUNGE: return "expunge failed";
    case MAILIMAP_ERROR_MEMORY: return "out of memory";
    default: return "IMAP error";
    }
}

/* Errors after which the connection cannot be trusted to be in step. */
static bool stream_error(int r)
{
    return r == MAILIMAP_ERROR_STREAM || r == MAILIMAP_ERROR_PARSE || r == MAILIMAP_ERROR_FATAL
           || r == MAILIMAP_ERROR_PROTOCOL || r == MAILIMAP_ERROR_MEMORY || r == MAILIMAP_ERROR_BAD_STATE;
}

static void guard(struct imap_session *s, long long ms, uint64_t max_literal, size_t budget)
{
    imap_wire_command(s->wire, time_mono_ms() + ms, max_literal, budget);
}

static void guard_small(struct imap_session *s)
{
    guard(s, s->o.command_timeout_ms, IMAP_SESSION_SMALL, SMALL_BUDGET);
}

/* "WHAT: why" for a failed libetpan call; marks the session broken when
 * the wire failed or the stream is out of step. */
static int fail(struct imap_session *s, int r, const char *what, const char **error_r)
{
    if (imap_wire_fault(s->wire) != IMAP_WIRE_OK) {
        s->broken = true;
        return err_set(error_r, "%s: %s", what, imap_wire_fault_text(s->wire));
    }
    if (stream_error(r))
        s->broken = true;
    const char *resp = s->imap && s->imap->imap_response ? s->imap->imap_response : NULL;
    return err_set(error_r, "%s: %s%s%s", what, imap_err(r), resp ? ": " : "", resp ? resp : "");
}

/* ---- opening ------------------------------------------------------------ */

static int start(struct imap_session *s, const char **error_r)
{
    const struct imap_session_opts *o = &s->o;
    struct imap_wire_opts wo = {
        .read_timeout_ms = o->read_timeout_ms,
        .max_line = MAX_LINE,
        .max_depth = MAX_DEPTH,
        .cancel_fds = o->cancel_fds,
        .ncancel = o->ncancel,
    };
    long long deadline = time_mono_ms() + o->command_timeout_ms;
    s->at = IMAP_STEP_CONNECT;
    if (imap_wire_connect(&s->wire, s->host, o->port, &wo, deadline, error_r) < 0)
        return -1;
    bool tls = strcmp(o->security, "tls") == 0, starttls = strcmp(o->security, "starttls") == 0;
    s->at = tls ? IMAP_STEP_TLS : IMAP_STEP_CONNECT;
    if (tls && imap_wire_start_tls(s->wire, s->host, deadline, error_r) < 0)
        return -1;
    s->at = IMAP_STEP_CONNECT;
    /* a server that turns us away says so in its greeting; libetpan would
     * leak the parsed "* BYE" greeting at every attempt */
    char *greeting = s->greeting;
    if (imap_wire_greeting(s->wire, greeting, sizeof(s->greeting), error_r) < 0) {
        s->broken = true;
        return err_set(error_r, "greeting from %s:%d: %s", s->host, o->port, *error_r);
    }
    if (strncasecmp(greeting, "* BYE", 5) == 0) {
        s->broken = true;
        return err_set(error_r, "greeting from %s:%d: the server said BYE:%s", s->host, o->port, greeting + 5);
    }
    s->imap = mailimap_new(0, NULL);
    if (s->imap == NULL)
        return err_set(error_r, "out of memory");
    mailstream *stream = imap_wire_mailstream(s->wire);
    if (stream == NULL)
        return err_set(error_r, "out of memory");
    guard_small(s);
    int r = mailimap_connect(s->imap, stream);   /* the session owns the stream now */
    if (!ok(r))
        return fail(s, r, err_fmt("greeting from %s:%d", s->host, o->port), error_r);
    if (starttls) {
        s->at = IMAP_STEP_TLS;
        guard_small(s);
        r = mailimap_starttls(s->imap);
        /* anything the server sent after its OK came before TLS: an
         * injection (CVE-2011-0411 class; libetpan refuses it too) */
        if (s->imap->imap_stream->read_buffer_len > 0) {
            s->broken = true;
            return err_set(error_r, "STARTTLS with %s: the server sent data after its OK, before TLS",
                           s->host);
        }
        if (!ok(r))
            return fail(s, r, err_fmt("STARTTLS with %s", s->host), error_r);
        if (imap_wire_start_tls(s->wire, s->host, time_mono_ms() + o->command_timeout_ms, error_r) < 0) {
            s->broken = true;
            return -1;
        }
    }
    s->at = tls || starttls ? IMAP_STEP_TLS : IMAP_STEP_CONNECT;
    if ((tls || starttls) && !o->trust_any && imap_wire_verify(s->wire, s->host, o->ca_file, error_r) < 0) {
        s->broken = true;        /* before LOGIN: no password to an impostor */
        return -1;
    }
    struct mailimap_capability_data *cap = NULL;
    guard_small(s);
    r = mailimap_capability(s->imap, &cap);   /* again after STARTTLS */
    if (cap)
        mailimap_capability_data_free(cap);
    if (!ok(r) && s->broken)
        return fail(s, r, "CAPABILITY", error_r);
    return 0;
}

int imap_session_open(struct imap_session **s_r, const struct imap_session_opts *o, const char **error_r)
{
    return imap_session_open_steps(s_r, o, NULL, NULL, 0, error_r);
}

int imap_session_open_steps(struct imap_session **s_r, const struct imap_session_opts *o,
                            enum imap_session_step *step_r, char *greeting, size_t size,
                            const char **error_r)
{
    struct imap_session *s = xcalloc(1, sizeof(*s));
    *s_r = NULL;
    s->o = *o;
    s->host = xstrdup(o->host);
    s->user = xstrdup(o->user);
    s->folder = xstrdup(o->folder);
    s->ca_file = o->ca_file ? xstrdup(o->ca_file) : NULL;
    s->o.host = s->host;
    s->o.user = s->user;
    s->o.folder = s->folder;
    s->o.ca_file = s->ca_file;
    s->o.security = strcmp(o->security, "tls") == 0        ? "tls"
                    : strcmp(o->security, "starttls") == 0 ? "starttls"
                                                           : "none";
    s->o.password = NULL;        /* used once, below; never kept */
    int r;
    if (start(s, error_r) < 0)
        goto out;
    s->at = IMAP_STEP_LOGIN;
    guard_small(s);
    r = mailimap_login(s->imap, s->user, o->password);
    if (!ok(r)) {
        fail(s, r, err_fmt("login as %s", s->user), error_r);
        goto out;
    }
    s->logged_in = true;
    s->at = IMAP_STEP_FOLDER;
    guard_small(s);
    r = o->examine ? mailimap_examine(s->imap, s->folder) : mailimap_select(s->imap, s->folder);
    if (!ok(r)) {
        fail(s, r, err_fmt("%s %s", o->examine ? "examine" : "select", s->folder), error_r);
        goto out;
    }
    s->at = IMAP_STEP_DONE;
    *s_r = s;
out:
    if (step_r)
        *step_r = s->at;
    if (greeting && size)
        snprintf(greeting, size, "%s", s->greeting);
    if (*s_r == s)
        return 0;
    imap_session_close(&s);
    return -1;
}

void imap_session_close(struct imap_session **sp)
{
    struct imap_session *s = *sp;
    if (s == NULL)
        return;
    if (s->imap != NULL) {
        /* a LOGOUT only on a connection in step; mailimap_logout() on one
         * that never connected would write to no stream at all */
        if (s->logged_in && !s->broken && s->imap->imap_stream != NULL) {
            guard(s, LOGOUT_MS, IMAP_SESSION_SMALL, SMALL_BUDGET);
            mailimap_logout(s->imap);
        }
        mailimap_free(s->imap);  /* frees the stream; the wire stays ours */
    }
    imap_wire_free(&s->wire);
    free(s->host);
    free(s->user);
    free(s->folder);
    free(s->ca_file);
    free(s);
    *sp = NULL;
}

bool imap_session_broken(const struct imap_session *s)
{
    return s->broken;
}

long long imap_session_uidvalidity(const struct imap_session *s)
{
    return s->imap && s->imap->imap_selection_info ? (long long)s->imap->imap_selection_info->sel_uidvalidity : 0;
}

bool imap_session_has_idle(const struct imap_session *s)
{
    return s->imap && mailimap_has_idle(s->imap);
}

int imap_session_create(struct imap_session *s, const char *folder, const char **error_r)
{
    guard_small(s);
    int r = mailimap_create(s->imap, folder);
    if (ok(r))
        return 0;
    fail(s, r, err_fmt("CREATE %s", folder), error_r);
    return s->broken ? -1 : 0;   /* NO: it may exist, which is fine */
}

/* ---- reading ------------------------------------------------------------ */

static int cmp_uid(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

int imap_session_search(struct imap_session *s, uint32_t from, uint32_t to, uint32_t **v, size_t *n,
                        const char **error_r)
{
    clist *res = NULL;
    struct mailimap_set *set = mailimap_set_new_interval(from, to);
    struct mailimap_search_key *key = mailimap_search_key_new_uid(set);
    guard_small(s);
    int r = mailimap_uid_search(s->imap, NULL, key, &res);
    mailimap_search_key_free(key);
    if (!ok(r))
        return fail(s, r, "UID SEARCH", error_r);
    *n = 0;
    *v = xcalloc((size_t)clist_count(res) + 1, sizeof(**v));
    for (clistiter *it = clist_begin(res); it; it = clist_next(it)) {
        uint32_t u = *(uint32_t *)clist_content(it);
        /* "n:*" also names the highest UID when it is below n */
        if (u >= from && (to == 0 || u <= to))
            (*v)[(*n)++] = u;
    }
    mailimap_search_result_free(res);
    /* servers answer in any order; a hostile one may repeat itself */
    qsort(*v, *n, sizeof(**v), cmp_uid);
    size_t out = 0;
    for (size_t i = 0; i < *n; i++)
        if (out == 0 || (*v)[out - 1] != (*v)[i])
            (*v)[out++] = (*v)[i];
    *n = out;
    return 0;
}

/* The first Message-ID in a header block (without <>), or NULL. */
static char *header_msgid(const char *block, size_t len)
{
    struct mail_headers h = { NULL, 0 };
    struct strbuf problems = STRBUF_INIT, ids = STRBUF_INIT;
    mailhdr_parse_block(block, len, IMAP_SESSION_SMALL, &h, &problems);
    const char *v = mailhdr_get(&h, "Message-ID");
    char *id = NULL;
    if (v != NULL) {
        mailhdr_msgids(v, &ids);
        const char *nl = ids.len ? memchr(ids.s, '\n', ids.len) : NULL;
        size_t idlen = nl ? (size_t)(nl - ids.s) : ids.len;
        if (idlen > 0)
            id = xstrndup(ids.s, idlen);
    }
    mailhdr_free(&h);
    strbuf_free(&problems);
    strbuf_free(&ids);
    return id;
}

static size_t find_uid(const uint32_t *uids, size_t n, uint32_t uid)
{
    size_t lo = 0, hi = n;       /* binary search: servers answer in any order */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (uids[mid] < uid)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < n && uids[lo] == uid ? lo : n;
}

static int fetch_info_batch(struct imap_session *s, const uint32_t *uids, size_t n, long long *sizes,
                            char **msgids, const char **error_r)
{
    clist *res = NULL;
    struct mailimap_set *set = mailimap_set_new_interval(uids[0], uids[n - 1]);
    struct mailimap_fetch_type *ft = mailimap_fetch_type_new_fetch_att_list_empty();
    mailimap_fetch_type_new_fetch_att_list_add(ft, mailimap_fetch_att_new_uid());
    mailimap_fetch_type_new_fetch_att_list_add(ft, mailimap_fetch_att_new_rfc822_size());
    clist *names = clist_new();
    clist_append(names, xstrdup("MESSAGE-ID"));
    struct mailimap_section *sec = mailimap_section_new_header_fields(mailimap_header_list_new(names));
    mailimap_fetch_type_new_fetch_att_list_add(ft, mailimap_fetch_att_new_body_peek_section(sec));
    guard_small(s);
    int r = mailimap_uid_fetch(s->imap, set, ft, &res);
    mailimap_fetch_type_free(ft);
    mailimap_set_free(set);
    if (!ok(r))
        return fail(s, r, "UID FETCH RFC822.SIZE", error_r);
    for (clistiter *it = clist_begin(res); it; it = clist_next(it)) {
        struct mailimap_msg_att *ma = clist_content(it);
        uint32_t uid = 0;
        long long size = -1;
        const char *hdr = NULL;
        size_t hlen = 0;
        for (clistiter *k = clist_begin(ma->att_list); k; k = clist_next(k)) {
            struct mailimap_msg_att_item *item = clist_content(k);
            if (item->att_type != MAILIMAP_MSG_ATT_ITEM_STATIC)
                continue;
            struct mailimap_msg_att_static *st = item->att_data.att_static;
            if (st->att_type == MAILIMAP_MSG_ATT_UID)
                uid = st->att_data.att_uid;
            else if (st->att_type == MAILIMAP_MSG_ATT_RFC822_SIZE)
                size = st->att_data.att_rfc822_size;
            else if (st->att_type == MAILIMAP_MSG_ATT_BODY_SECTION && st->att_data.att_body_section
                     && st->att_data.att_body_section->sec_body_part)
                hdr = st->att_data.att_body_section->sec_body_part,
                hlen = st->att_data.att_body_section->sec_length;
        }
        size_t i = find_uid(uids, n, uid);
        if (i == n)
            continue;            /* not asked for (a gap in the range, or a lie) */
        sizes[i] = size;
        if (hdr != NULL && msgids[i] == NULL)
            msgids[i] = header_msgid(hdr, hlen);
    }
    mailimap_fetch_list_free(res);
    return 0;
}

int imap_session_fetch_info(struct imap_session *s, const uint32_t *uids, size_t n, long long *sizes,
                            char **msgids, const char **error_r)
{
    for (size_t i = 0; i < n; i++) {
        sizes[i] = -1;
        msgids[i] = NULL;
    }
    for (size_t at = 0; at < n; at += INFO_BATCH) {
        size_t k = n - at < INFO_BATCH ? n - at : INFO_BATCH;
        if (fetch_info_batch(s, uids + at, k, sizes + at, msgids + at, error_r) < 0)
            return -1;
    }
    return 0;
}

int imap_session_fetch(struct imap_session *s, uint32_t uid, bool headers_only, char **data, size_t *len,
                       unsigned long long *too_large_r, const char **error_r)
{
    clist *res = NULL;
    *data = NULL;
    *len = 0;
    *too_large_r = 0;
    struct mailimap_set *set = mailimap_set_new_single(uid);
    struct mailimap_fetch_type *ft = mailimap_fetch_type_new_fetch_att_list_empty();
    mailimap_fetch_type_new_fetch_att_list_add(ft, mailimap_fetch_att_new_uid());
    uint64_t limit;
    if (headers_only) {
        mailimap_fetch_type_new_fetch_att_list_add(ft,
            mailimap_fetch_att_new_body_peek_section_partial(mailimap_section_new_header(), 0,
                                                             IMAP_SESSION_HEADER_MAX));
        limit = IMAP_SESSION_HEADER_MAX;
    } else {
        mailimap_fetch_type_new_fetch_att_list_add(ft,
            mailimap_fetch_att_new_body_peek_section(mailimap_section_new(NULL)));
        limit = (uint64_t)s->o.max_message_size;
    }
    /* the mail, plus room for the answer around it */
    guard(s, s->o.command_timeout_ms, limit, (size_t)limit + SMALL_BUDGET);
    int r = mailimap_uid_fetch(s->imap, set, ft, &res);
    mailimap_fetch_type_free(ft);
    mailimap_set_free(set);
    if (!ok(r)) {
        if (imap_wire_fault(s->wire) == IMAP_WIRE_LITERAL_TOO_LARGE)
            *too_large_r = imap_wire_refused_literal(s->wire);
        return fail(s, r, err_fmt("UID FETCH %u", uid), error_r);
    }
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
            else if (st->att_type == MAILIMAP_MSG_ATT_BODY_SECTION && st->att_data.att_body_section
                     && st->att_data.att_body_section->sec_body_part)
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

/* ---- changing ----------------------------------------------------------- */

static int add_flags(struct imap_session *s, uint32_t uid, bool deleted)
{
    struct mailimap_flag_list *fl = mailimap_flag_list_new_empty();
    mailimap_flag_list_add(fl, mailimap_flag_new_seen());
    if (deleted)
        mailimap_flag_list_add(fl, mailimap_flag_new_deleted());
    struct mailimap_store_att_flags *sf = mailimap_store_att_flags_new_add_flags_silent(fl);
    struct mailimap_set *set = mailimap_set_new_single(uid);
    guard_small(s);
    int r = mailimap_uid_store(s->imap, set, sf);
    mailimap_set_free(set);
    mailimap_store_att_flags_free(sf);
    return r;
}

int imap_session_flag_seen(struct imap_session *s, uint32_t uid, const char **error_r)
{
    int r = add_flags(s, uid, false);
    return ok(r) ? 0 : fail(s, r, err_fmt("STORE \\Seen %u", uid), error_r);
}

static int expunge(struct imap_session *s, uint32_t uid, const char **error_r)
{
    int r = add_flags(s, uid, true);
    if (!ok(r))
        return fail(s, r, err_fmt("STORE \\Deleted %u", uid), error_r);
    guard_small(s);
    if (mailimap_has_extension(s->imap, "UIDPLUS")) {
        struct mailimap_set *set = mailimap_set_new_single(uid);
        r = mailimap_uid_expunge(s->imap, set);
        mailimap_set_free(set);
    } else {
        r = mailimap_expunge(s->imap);
    }
    return ok(r) ? 0 : fail(s, r, "EXPUNGE", error_r);
}

int imap_session_move(struct imap_session *s, uint32_t uid, const char *folder, const char **error_r)
{
    if (imap_session_flag_seen(s, uid, error_r) < 0)
        return -1;
    struct mailimap_set *set = mailimap_set_new_single(uid);
    int r;
    guard_small(s);
    if (mailimap_has_extension(s->imap, "MOVE")) {
        r = mailimap_uid_move(s->imap, set, folder);
        mailimap_set_free(set);
        return ok(r) ? 0 : fail(s, r, err_fmt("UID MOVE %u to %s", uid, folder), error_r);
    }
    r = mailimap_uid_copy(s->imap, set, folder);
    mailimap_set_free(set);
    if (!ok(r))
        return fail(s, r, err_fmt("UID COPY %u to %s", uid, folder), error_r);
    return expunge(s, uid, error_r);
}

int imap_session_delete(struct imap_session *s, uint32_t uid, const char **error_r)
{
    return expunge(s, uid, error_r);
}

int imap_session_noop(struct imap_session *s, const char **error_r)
{
    guard_small(s);
    int r = mailimap_noop(s->imap);   /* also refreshes EXISTS */
    return ok(r) ? 0 : fail(s, r, "NOOP", error_r);
}

bool imap_session_take_exists(struct imap_session *s)
{
    struct mailimap_selection_info *si = s->imap ? s->imap->imap_selection_info : NULL;
    if (si == NULL || !si->sel_has_exists)
        return false;
    si->sel_has_exists = 0;
    return true;
}

int imap_session_idle(struct imap_session *s, long long max_ms, const char **error_r)
{
    guard_small(s);
    int r = mailimap_idle(s->imap);
    if (!ok(r))
        return fail(s, r, "IDLE", error_r);
    long long end = time_mono_ms() + max_ms;
    int news = 0;
    for (;;) {
        /* what the stream already buffered never shows up in poll() */
        if (s->imap->imap_stream->read_buffer_len > 0) {
            news = 1;
            break;
        }
        int w = imap_wire_wait(s->wire, end);
        if (w < 0) {
            s->broken = true;
            return err_set(error_r, "IDLE: %s", imap_wire_fault_text(s->wire));
        }
        if (w == 1)
            news = 1;
        break;
    }
    guard_small(s);
    r = mailimap_idle_done(s->imap);
    if (!ok(r))
        return fail(s, r, "IDLE DONE", error_r);
    return news;
}
