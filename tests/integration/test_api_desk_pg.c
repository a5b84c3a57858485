/* test_api_desk_pg -- what the agent desk needs from the API (issue 12):
 * the list's names, unassigned filter, sorts and their cursors; new_text,
 * remote images and the message frame; the sidebar's counts; saved views;
 * a ticket's history and related tickets; changing one's password; bulk
 * changes; uploads carried by replies; drafts; canned responses filled in
 * and macros.  Good and bad input for each, and nothing lost when a
 * request is refused; against the world of api_world.h. */
#include "config.h"
#include "api_world.h"
#include "testdb.h"
#include "desk/user.h"
#include "lib/util.h"

#include <curl/curl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- helpers ------------------------------------------------------------------ */

static struct reply Tf(int who, const char *method, const char *body, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static struct reply Tf(int who, const char *method, const char *body, const char *fmt, ...)
{
    char path[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(path, sizeof(path), fmt, ap);
    va_end(ap);
    return T(who, method, path, body);
}

/* status and, for errors, the field the problem names */
#define EXPECT_FIELD(r, st, f) do { \
        EXPECT(r, st); \
        ck_assert_msg(jstr((r).json, "field") && strcmp(jstr((r).json, "field"), (f)) == 0, \
                      "%s:%d: field %s, want %s: %s", __FILE__, __LINE__, \
                      jstr((r).json, "field") ? jstr((r).json, "field") : "(none)", (f), strbuf_str(&(r).body)); \
        ck_assert_ptr_nonnull(strstr((r).headers.s, "application/problem+json")); \
    } while (0)

static void patch_ticket(int who, long long id, const char *body)
{
    struct reply r = Tf(who, "PATCH", body, "/api/v1/tickets/%lld", id);
    EXPECT(r, 200);
    reply_free(&r);
}

/* The ids of a list answer, "1,2,3". */
static void ids_of(json_t *items, struct strbuf *out)
{
    size_t i;
    json_t *t;
    json_array_foreach(items, i, t)
        strbuf_addf(out, "%s%lld", out->len ? "," : "", jint(t, "id"));
}

/* A header's value from a reply, or NULL. */
static const char *header(const struct reply *r, const char *name, char *buf, size_t size)
{
    const char *p = r->headers.s;
    size_t n = strlen(name);
    while (p && *p) {
        if (strncasecmp(p, name, n) == 0 && p[n] == ':') {
            p += n + 1;
            while (*p == ' ')
                p++;
            size_t k = strcspn(p, "\r\n");
            snprintf(buf, size, "%.*s", (int)k, p);
            return buf;
        }
        p = strchr(p, '\n');
        if (p)
            p++;
    }
    return NULL;
}

static struct reply upload(int who, const char *name, const char *type, const char *data, size_t len)
{
    char path[512];
    char *esc = curl_easy_escape(NULL, name, 0);
    snprintf(path, sizeof(path), "/api/v1/attachments?filename=%s", esc);
    curl_free(esc);
    struct call c = { .method = "POST", .path = path, .token = tok[who], .body = data, .body_len = len,
                      .ctype = type };
    return http(&c);
}

static long long upload_id(int who, const char *name, const char *type, const char *data, size_t len)
{
    struct reply r = upload(who, name, type, data, len);
    EXPECT(r, 201);
    long long id = jint(r.json, "id");
    reply_free(&r);
    return id;
}

/* ---- the list ------------------------------------------------------------------ */

static const char *const sorts[] = { "-updated_at", "updated_at", "-created_at", "created_at",
                                     "-priority", "priority", "-id", "id" };
static const char *const sort_sql[] = {
    "updated_at DESC, id DESC", "updated_at, id", "created_at DESC, id DESC", "created_at, id",
    "ticket_priority_rank(priority) DESC, id DESC", "ticket_priority_rank(priority), id", "id DESC", "id" };

START_TEST(list_names_unassigned_and_sorts)
{
    long long t[6];
    const char *prio[6] = { "low", "urgent", "normal", "high", "urgent", "low" };
    char body[256], sql[1024];
    for (int i = 0; i < 6; i++) {
        t[i] = new_ticket(AGENT_A, queue_a, "sortword listcase", "x");
        snprintf(body, sizeof(body), "{\"priority\": \"%s\"}", prio[i]);
        patch_ticket(AGENT_A, t[i], body);
    }
    /* ties on a key: the id decides */
    testdb_exec(DB(), "UPDATE tickets SET created_at = now() - interval '1 hour' WHERE subject = 'sortword listcase'"
                      " AND id IN (SELECT id FROM tickets WHERE subject = 'sortword listcase' ORDER BY id LIMIT 3)");
    snprintf(body, sizeof(body), "{\"assignee_id\": %lld}", uid[AGENT_A]);
    patch_ticket(AGENT_A, t[1], body);
    patch_ticket(AGENT_A, t[4], body);

    /* names in the items: the requester with the address, the assignee */
    struct reply r = T(AGENT_A, "GET", "/api/v1/tickets?q=sortword&limit=50", NULL);
    EXPECT(r, 200);
    json_t *items = json_object_get(r.json, "items");
    ck_assert_uint_eq(json_array_size(items), 6);
    size_t i;
    json_t *it;
    json_array_foreach(items, i, it) {
        json_t *rq = json_object_get(it, "requester");
        ck_assert_str_eq(jstr(rq, "email"), emails[CUST1]);
        ck_assert_int_eq(jint(rq, "id"), uid[CUST1]);
        json_t *as = json_object_get(it, "assignee");
        if (jint(it, "id") == t[1] || jint(it, "id") == t[4]) {
            ck_assert_str_eq(jstr(as, "name"), emails[AGENT_A]);
            ck_assert_ptr_null(json_object_get(as, "email"));   /* a name, not an address */
        } else {
            ck_assert(json_is_null(as));
        }
    }
    reply_free(&r);

    /* unassigned */
    r = T(AGENT_A, "GET", "/api/v1/tickets?q=sortword&unassigned=true", NULL);
    EXPECT(r, 200);
    ck_assert_uint_eq(json_array_size(json_object_get(r.json, "items")), 4);
    reply_free(&r);
    r = T(AGENT_A, "GET", "/api/v1/tickets?q=sortword&unassigned=false", NULL);
    EXPECT(r, 200);
    ck_assert_uint_eq(json_array_size(json_object_get(r.json, "items")), 2);
    reply_free(&r);
    /* updated_since as a duration back from now */
    r = T(AGENT_A, "GET", "/api/v1/tickets?q=sortword&updated_since=PT1H", NULL);
    EXPECT(r, 200);
    ck_assert_uint_eq(json_array_size(json_object_get(r.json, "items")), 6);
    reply_free(&r);
    testdb_exec(DB(), "UPDATE tickets SET updated_at = now() - interval '2 days' WHERE subject = 'sortword listcase'"
                      " AND id IN (SELECT id FROM tickets WHERE subject = 'sortword listcase' ORDER BY id LIMIT 2)");
    r = T(AGENT_A, "GET", "/api/v1/tickets?q=sortword&updated_since=P1D&sort=id", NULL);
    EXPECT(r, 200);
    ck_assert_uint_eq(json_array_size(json_object_get(r.json, "items")), 4);
    reply_free(&r);
    static const char *const bad_since[] = { "P", "P-1D", "PT0S", "Pfoo", "last%20tuesday", NULL };
    for (int k = 0; bad_since[k]; k++) {
        r = Tf(AGENT_A, "GET", NULL, "/api/v1/tickets?updated_since=%s", bad_since[k]);
        ck_assert_msg(r.status == 400, "%s: %ld", bad_since[k], r.status);
        ck_assert_str_eq(jstr(r.json, "field"), "updated_since");
        reply_free(&r);
    }
    r = T(AGENT_A, "GET", "/api/v1/tickets?unassigned=yes", NULL);
    EXPECT_FIELD(r, 400, "unassigned");
    reply_free(&r);
    r = Tf(AGENT_A, "GET", NULL, "/api/v1/tickets?unassigned=true&assignee_id=%lld", uid[AGENT_A]);
    EXPECT_FIELD(r, 400, "unassigned");
    reply_free(&r);

    /* every order, whole and paged two at a time through its cursors */
    for (size_t s = 0; s < sizeof(sorts) / sizeof(sorts[0]); s++) {
        snprintf(sql, sizeof(sql), "SELECT string_agg(id::text, ',' ORDER BY %s) FROM tickets"
                 " WHERE subject = 'sortword listcase'", sort_sql[s]);
        char *want = db_query_value(DB(), sql, 0, NULL, NULL);
        ck_assert_ptr_nonnull(want);
        r = Tf(AGENT_A, "GET", NULL, "/api/v1/tickets?q=sortword&sort=%s&limit=50", sorts[s]);
        EXPECT(r, 200);
        struct strbuf got = STRBUF_INIT;
        ids_of(json_object_get(r.json, "items"), &got);
        ck_assert_msg(strcmp(got.s, want) == 0, "sort %s: %s, want %s", sorts[s], got.s, want);
        ck_assert(json_is_null(json_object_get(r.json, "next_cursor")));
        reply_free(&r);
        strbuf_reset(&got);
        char cursor[128] = "";
        int pages = 0;
        do {
            r = Tf(AGENT_A, "GET", NULL, "/api/v1/tickets?q=sortword&sort=%s&limit=2%s%s", sorts[s],
                   cursor[0] ? "&cursor=" : "", cursor);
            EXPECT(r, 200);
            ids_of(json_object_get(r.json, "items"), &got);
            const char *next = jstr(r.json, "next_cursor");
            snprintf(cursor, sizeof(cursor), "%s", next ? next : "");
            reply_free(&r);
            pages++;
        } while (cursor[0] && pages < 10);
        ck_assert_int_eq(pages, 3);
        ck_assert_msg(strcmp(got.s, want) == 0, "paged %s: %s, want %s", sorts[s], got.s, want);
        strbuf_free(&got);
        free(want);
    }
    /* a cursor belongs to its order */
    r = T(AGENT_A, "GET", "/api/v1/tickets?q=sortword&sort=created_at&limit=2", NULL);
    EXPECT(r, 200);
    char cur[128];
    snprintf(cur, sizeof(cur), "%s", jstr(r.json, "next_cursor"));
    ck_assert(strncmp(cur, "c2_3_", 5) == 0);
    reply_free(&r);
    r = Tf(AGENT_A, "GET", NULL, "/api/v1/tickets?q=sortword&sort=-created_at&cursor=%s", cur);
    EXPECT_FIELD(r, 400, "cursor");
    ck_assert_ptr_nonnull(strstr(jstr(r.json, "detail"), "another order"));
    reply_free(&r);
    r = T(AGENT_A, "GET", "/api/v1/tickets?q=sortword&limit=1", NULL);
    snprintf(cur, sizeof(cur), "%s", jstr(r.json, "next_cursor"));
    ck_assert(strncmp(cur, "c1_", 3) == 0);        /* the default order keeps its cursors */
    reply_free(&r);
    r = Tf(AGENT_A, "GET", NULL, "/api/v1/tickets?sort=id&cursor=%s", cur);
    EXPECT_FIELD(r, 400, "cursor");
    reply_free(&r);
    static const char *const bad[] = { "sort=bogus", "sort=%20id", "sort=--id", "cursor=c2_99_1_1",
        "cursor=c2_4_x_1", "sort=-priority&cursor=c2_4_12_1", "sort=id&cursor=c2_6_1_1",
        "sort=id&cursor=c2_7_0_0", "cursor=c2_", NULL };
    for (int k = 0; bad[k]; k++) {
        r = Tf(AGENT_A, "GET", NULL, "/api/v1/tickets?%s", bad[k]);
        ck_assert_msg(r.status == 400, "%s: %ld", bad[k], r.status);
        reply_free(&r);
    }
    /* an agent of queue B and a customer see theirs only, in any order */
    r = T(AGENT_B, "GET", "/api/v1/tickets?q=sortword&sort=priority", NULL);
    EXPECT(r, 200);
    ck_assert_uint_eq(json_array_size(json_object_get(r.json, "items")), 0);
    reply_free(&r);
    r = T(CUST3, "GET", "/api/v1/tickets?q=sortword&sort=-created_at&unassigned=true", NULL);
    EXPECT(r, 200);
    ck_assert_uint_eq(json_array_size(json_object_get(r.json, "items")), 0);
    reply_free(&r);
    r = T(CUST1, "GET", "/api/v1/tickets?q=sortword&sort=-priority", NULL);
    EXPECT(r, 200);
    ck_assert_uint_eq(json_array_size(json_object_get(r.json, "items")), 6);
    reply_free(&r);
}
END_TEST

/* ---- a message's text and HTML ------------------------------------------------------ */

START_TEST(new_text_remote_images_and_the_frame)
{
    long long t = new_ticket(AGENT_A, queue_a, "framecase", "written through the API");
    char sql[2048];
    /* a received mail as mail-in stores it: HTML sanitised with a remote
     * image kept aside, an inline image, a quote folded off */
    snprintf(sql, sizeof(sql),
             "WITH m AS (INSERT INTO messages (ticket_id, direction, subject, from_addr, body_text, new_text,"
             " body_html, remote_images) VALUES (%lld, 'in', 'Re: framecase', 'cust1@org1.example',"
             " E'Thanks!\\n\\nOn Monday, support wrote:\\n> old', 'Thanks!',"
             " '<p>Thanks! <img data-remote-src=\"https://img.example/a.png?x=1&amp;y=2\" alt=\"tracker\">"
             "<img src=\"cid:logo@x\" alt=\"logo\"><img src=\"https://sneaky.example/b.png\"></p>', 2) RETURNING id),"
             " b AS (INSERT INTO attachment_blobs (sha256, size, content) VALUES (repeat('a', 64), 5, 'hello')"
             "       ON CONFLICT DO NOTHING)"
             " INSERT INTO attachments (message_id, sha256, filename, content_type, content_id, size, inline)"
             " SELECT id, repeat('a', 64), 'logo.png', 'image/png', '<logo@x>', 5, true FROM m RETURNING message_id", t);
    long long mid = qint(sql);
    long long note = qintf("INSERT INTO messages (ticket_id, direction, visibility, body_text, body_html)"
                           " VALUES (%lld, 'out', 'internal', 'n', '<p>internal</p>') RETURNING id", t);

    struct reply r = Tf(AGENT_A, "GET", NULL, "/api/v1/tickets/%lld", t);
    EXPECT(r, 200);
    json_t *msgs = json_object_get(r.json, "messages");
    ck_assert_uint_eq(json_array_size(msgs), 3);
    json_t *first = json_array_get(msgs, 0), *mail = json_array_get(msgs, 1);
    ck_assert_str_eq(jstr(first, "new_text"), "written through the API");   /* = the body */
    ck_assert_int_eq(jint(first, "remote_images"), 0);
    ck_assert_str_eq(jstr(mail, "new_text"), "Thanks!");
    ck_assert_int_eq(jint(mail, "remote_images"), 2);
    ck_assert_str_eq(jstr(json_object_get(r.json, "queue"), "name"), "Queue A");
    reply_free(&r);

    /* the frame: blocked by default */
    char h[512];
    r = Tf(AGENT_A, "GET", NULL, "/api/v1/messages/%lld/html", mid);
    EXPECT(r, 200);
    ck_assert_ptr_nonnull(header(&r, "Content-Type", h, sizeof(h)));
    ck_assert_str_eq(h, "text/html; charset=utf-8");
    ck_assert_ptr_nonnull(header(&r, "Content-Security-Policy", h, sizeof(h)));
    ck_assert_msg(strncmp(h, "img-src data:; default-src 'none';", 34) == 0, "%s", h);
    ck_assert_ptr_nonnull(strstr(h, "frame-ancestors 'self'"));
    ck_assert_ptr_nonnull(strstr(h, "sandbox"));
    ck_assert_ptr_null(strstr(h, "script"));
    ck_assert_ptr_nonnull(header(&r, "X-Frame-Options", h, sizeof(h)));
    ck_assert_str_eq(h, "SAMEORIGIN");
    ck_assert_ptr_null(strstr(r.body.s, " src=\"https:"));
    ck_assert_ptr_nonnull(strstr(r.body.s, "data-remote-src=\"https://img.example/a.png?x=1&amp;y=2\""));
    ck_assert_ptr_nonnull(strstr(r.body.s, "<img src=\"data:image/png;base64,aGVsbG8=\" alt=\"logo\">"));
    reply_free(&r);
    /* and on request */
    r = Tf(AGENT_A, "GET", NULL, "/api/v1/messages/%lld/html?remote_images=allow", mid);
    EXPECT(r, 200);
    header(&r, "Content-Security-Policy", h, sizeof(h));
    ck_assert_msg(strncmp(h, "img-src data: https:; default-src 'none';", 41) == 0, "%s", h);
    ck_assert_ptr_nonnull(strstr(r.body.s, "<img src=\"https://img.example/a.png?x=1&amp;y=2\" alt=\"tracker\">"));
    /* a src the sanitiser did not write stays out, asked or not */
    ck_assert_ptr_null(strstr(r.body.s, "sneaky"));
    reply_free(&r);
    r = Tf(AGENT_A, "GET", NULL, "/api/v1/messages/%lld/html?remote_images=maybe", mid);
    EXPECT_FIELD(r, 400, "remote_images");
    reply_free(&r);
    r = Tf(AGENT_A, "GET", NULL, "/api/v1/messages/%lld/html?x=1", mid);
    EXPECT_FIELD(r, 400, "x");
    reply_free(&r);
    /* who may see it */
    long long first_id = qintf("SELECT min(id) FROM messages WHERE ticket_id = %lld", t);
    r = Tf(AGENT_A, "GET", NULL, "/api/v1/messages/%lld/html", first_id);
    EXPECT(r, 404);                    /* no HTML part */
    reply_free(&r);
    r = Tf(CUST1, "GET", NULL, "/api/v1/messages/%lld/html", mid);
    EXPECT(r, 200);
    reply_free(&r);
    r = Tf(CUST1, "GET", NULL, "/api/v1/messages/%lld/html", note);
    EXPECT(r, 404);                    /* an internal note */
    reply_free(&r);
    r = Tf(AGENT_A, "GET", NULL, "/api/v1/messages/%lld/html", note);
    EXPECT(r, 200);
    reply_free(&r);
    r = Tf(CUST3, "GET", NULL, "/api/v1/messages/%lld/html", mid);
    EXPECT(r, 404);
    reply_free(&r);
    r = Tf(AGENT_B, "GET", NULL, "/api/v1/messages/%lld/html", mid);
    EXPECT(r, 404);
    reply_free(&r);
    r = T(AGENT_A, "GET", "/api/v1/messages/999999999/html", NULL);
    EXPECT(r, 404);
    reply_free(&r);
}
END_TEST

/* ---- counts -------------------------------------------------------------------------------- */

/* a count of the answer: exact up to the cap (1000), else the cap with its
 * "more" flag set (more[key]) */
static void expect_capped(json_t *holder, const char *key, json_t *more, long long exact)
{
    ck_assert_msg(jint(holder, key) == (exact > 1000 ? 1000 : exact),
                  "count %s: %lld, expected %lld (capped at 1000)", key, jint(holder, key), exact);
    ck_assert_msg(json_is_boolean(json_object_get(more, key)), "count %s: no more flag", key);
    ck_assert_msg(json_is_true(json_object_get(more, key)) == (exact > 1000),
                  "count %s: more flag wrong for %lld tickets", key, exact);
}

static void check_counts(int who, const char *vis)
{
    char sql[1024];
    struct reply r = T(who, "GET", "/api/v1/tickets/counts", NULL);
    EXPECT(r, 200);
    json_t *o = r.json, *more = json_object_get(o, "more");
    ck_assert_int_eq(jint(o, "view_cap"), 1000);
#define CNT(cond) (snprintf(sql, sizeof(sql), "SELECT count(*) FROM tickets t WHERE %s AND (%s)", vis, cond), qint(sql))
    expect_capped(o, "all", more, CNT("true"));
    char mine[128];
    snprintf(mine, sizeof(mine), "t.assignee_id = %lld", uid[who]);
    expect_capped(o, "mine", more, CNT(mine));
    expect_capped(o, "unassigned", more, CNT("t.assignee_id IS NULL"));
    expect_capped(o, "recent", more, CNT("t.updated_at >= now() - interval '1 day'"));
    static const char *const st[] = { "new", "open", "pending", "solved", "closed" };
    for (int i = 0; i < 5; i++) {
        char c[64];
        snprintf(c, sizeof(c), "t.status = '%s'", st[i]);
        expect_capped(json_object_get(o, "status"), st[i], json_object_get(more, "status"), CNT(c));
    }
    static const char *const pr[] = { "low", "normal", "high", "urgent" };
    for (int i = 0; i < 4; i++) {
        char c[64];
        snprintf(c, sizeof(c), "t.priority = '%s'", pr[i]);
        expect_capped(json_object_get(o, "priority"), pr[i], json_object_get(more, "priority"), CNT(c));
    }
    size_t i;
    json_t *q;
    json_array_foreach(json_object_get(o, "queues"), i, q) {
        char c[64];
        snprintf(c, sizeof(c), "t.queue_id = %lld", jint(q, "id"));
        long long exact = CNT(c);
        ck_assert_int_eq(jint(q, "count"), exact > 1000 ? 1000 : exact);
        ck_assert(json_is_true(json_object_get(q, "more")) == (exact > 1000));
    }
#undef CNT
    reply_free(&r);
}

START_TEST(counts_for_the_sidebar)
{
    for (int i = 0; i < 3; i++)
        new_ticket(AGENT_B, queue_b, "countcase", "x");
    long long t = new_ticket(AGENT_B, queue_b, "countcase", "x");
    char body[256];
    snprintf(body, sizeof(body), "{\"assignee_id\": %lld, \"status\": \"pending\", \"priority\": \"urgent\"}", uid[AGENT_B]);
    patch_ticket(AGENT_B, t, body);
    char vis[256];
    snprintf(vis, sizeof(vis), "t.queue_id IN (SELECT queue_id FROM queue_members WHERE user_id = %lld)", uid[AGENT_B]);
    check_counts(AGENT_B, vis);
    check_counts(ADMIN, "true");
    /* the queues listed are the caller's; admins every one */
    struct reply r = T(AGENT_B, "GET", "/api/v1/tickets/counts", NULL);
    ck_assert_uint_eq(json_array_size(json_object_get(r.json, "queues")), 1);
    ck_assert_int_eq(jint(json_array_get(json_object_get(r.json, "queues"), 0), "id"), queue_b);
    reply_free(&r);
    r = T(ADMIN, "GET", "/api/v1/tickets/counts", NULL);
    ck_assert_uint_eq(json_array_size(json_object_get(r.json, "queues")), (size_t)qint("SELECT count(*) FROM queues"));
    reply_free(&r);

    /* saved views are counted as the list would read them, capped */
    r = T(AGENT_B, "POST", "/api/v1/views", "{\"name\": \"Count urgent\", \"filter\": {\"priority\": \"urgent\", \"q\": \"countcase\"}}");
    EXPECT(r, 201);
    long long v1 = jint(r.json, "id");
    reply_free(&r);
    snprintf(body, sizeof(body), "{\"name\": \"Count all of B\", \"filter\": {\"queue_id\": %lld}}", queue_b);
    r = T(AGENT_B, "POST", "/api/v1/views", body);
    EXPECT(r, 201);
    long long v2 = jint(r.json, "id");
    reply_free(&r);
    qintf("WITH x AS (INSERT INTO tickets (queue_id, subject, requester_id) SELECT %lld, 'bulk seeded', %lld"
          " FROM generate_series(1, 1005) RETURNING 1) SELECT count(*) FROM x", queue_b, uid[CUST1]);
    r = T(AGENT_B, "GET", "/api/v1/tickets/counts", NULL);
    EXPECT(r, 200);
    json_t *views = json_object_get(r.json, "views");
    ck_assert_uint_eq(json_array_size(views), 2);
    for (size_t i = 0; i < 2; i++) {
        json_t *v = json_array_get(views, i);
        if (jint(v, "id") == v1) {
            ck_assert_int_eq(jint(v, "count"), 1);
            ck_assert(json_is_false(json_object_get(v, "more")));
        } else {
            ck_assert_int_eq(jint(v, "id"), v2);
            ck_assert_int_eq(jint(v, "count"), 1000);
            ck_assert(json_is_true(json_object_get(v, "more")));
        }
    }
    ck_assert_int_eq(jint(r.json, "view_cap"), 1000);
    /* more than the cap in B's queue: its count, "all", "unassigned" and
     * "new" read 1000 and say there are more */
    ck_assert_int_eq(jint(r.json, "all"), 1000);
    ck_assert(json_is_true(json_object_get(json_object_get(r.json, "more"), "all")));
    ck_assert(json_is_true(json_object_get(json_array_get(json_object_get(r.json, "queues"), 0), "more")));
    ck_assert(json_is_false(json_object_get(json_object_get(r.json, "more"), "mine")));
    reply_free(&r);
    check_counts(AGENT_B, vis);
    check_counts(ADMIN, "true");
    /* staff only; no parameters */
    expect_status(CUST1, "GET", "/api/v1/tickets/counts", NULL, 403);
    expect_status(AGENT_B, "GET", "/api/v1/tickets/counts?status=new", NULL, 400);
    testdb_exec(DB(), "DELETE FROM tickets WHERE subject = 'bulk seeded'");
}
END_TEST

/* ---- saved views ------------------------------------------------------------------- */

START_TEST(saved_views)
{
    char body[512];
    snprintf(body, sizeof(body), "{\"name\": \"Urgent mine\", \"filter\": {\"priority\": \"urgent\","
             " \"assignee_id\": \"%lld\", \"sort\": \"-created_at\", \"unassigned\": \"false\"}}", uid[AGENT_A]);
    struct reply r = T(AGENT_A, "POST", "/api/v1/views", body);
    EXPECT(r, 201);
    long long v = jint(r.json, "id");
    ck_assert_str_eq(jstr(r.json, "name"), "Urgent mine");
    ck_assert_str_eq(jstr(json_object_get(r.json, "filter"), "priority"), "urgent");
    reply_free(&r);
    /* numbers and booleans are read as their text, like a query string */
    r = T(AGENT_A, "POST", "/api/v1/views", "{\"name\": \"Queue one\", \"filter\": {\"queue_id\": 1, \"unassigned\": true}}");
    EXPECT(r, 201);
    long long v2 = jint(r.json, "id");
    reply_free(&r);

    struct { const char *body; int status; const char *field; } bad[] = {
        { "{\"name\": \"urgent MINE\", \"filter\": {}}", 409, "name" },
        { "{\"name\": \"x\", \"filter\": {\"bogus\": \"1\"}}", 400, "filter.bogus" },
        { "{\"name\": \"x\", \"filter\": {\"limit\": \"5\"}}", 400, "filter.limit" },
        { "{\"name\": \"x\", \"filter\": {\"cursor\": \"c1_1_1\"}}", 400, "filter.cursor" },
        { "{\"name\": \"x\", \"filter\": {\"status\": \"burning\"}}", 400, "filter.status" },
        { "{\"name\": \"x\", \"filter\": {\"status\": [\"new\"]}}", 400, "filter.status" },
        { "{\"name\": \"x\", \"filter\": {\"queue_id\": \"0\"}}", 400, "filter.queue_id" },
        { "{\"name\": \"x\", \"filter\": {\"queue_id\": -3}}", 400, "filter.queue_id" },
        { "{\"name\": \"x\", \"filter\": {\"updated_since\": \"yesterday-ish\"}}", 400, "filter.updated_since" },
        { "{\"name\": \"x\", \"filter\": {\"sort\": \"colour\"}}", 400, "filter.sort" },
        { "{\"name\": \"x\", \"filter\": {\"unassigned\": \"true\", \"assignee_id\": \"3\"}}", 400, "filter.unassigned" },
        { "{\"name\": \"x\", \"filter\": \"status=new\"}", 400, "filter" },
        { "{\"name\": \"x\"}", 400, "filter" },
        { "{\"name\": 7, \"filter\": {}}", 400, "name" },
        { "{\"name\": \"x\", \"filter\": {}, \"owner\": 1}", 400, "owner" },
        { "{\"name\": \"\", \"filter\": {}}", 422, "name" },
        { "{\"name\": \"   \", \"filter\": {}}", 422, "name" },
        { "{\"name\": \"a\\nb\", \"filter\": {}}", 422, "name" },
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        r = T(AGENT_A, "POST", "/api/v1/views", bad[i].body);
        ck_assert_msg(r.status == bad[i].status, "%s: %ld %s", bad[i].body, r.status, strbuf_str(&r.body));
        ck_assert_msg(jstr(r.json, "field") && strcmp(jstr(r.json, "field"), bad[i].field) == 0,
                      "%s: field %s", bad[i].body, jstr(r.json, "field"));
        reply_free(&r);
    }
    ck_assert_int_eq(qintf("SELECT count(*) FROM saved_views WHERE user_id = %lld", uid[AGENT_A]), 2);

    r = T(AGENT_A, "GET", "/api/v1/views", NULL);
    EXPECT(r, 200);
    json_t *items = json_object_get(r.json, "items");
    ck_assert_uint_eq(json_array_size(items), 2);
    ck_assert_int_eq(jint(json_array_get(items, 0), "id"), v);      /* in their order */
    reply_free(&r);
    /* move, rename, refilter */
    r = Tf(AGENT_A, "PATCH", "{\"position\": 0}", "/api/v1/views/%lld", v2);
    EXPECT(r, 200);
    reply_free(&r);
    testdb_exec(DB(), "UPDATE saved_views SET position = 5 WHERE name = 'Urgent mine'");
    r = T(AGENT_A, "GET", "/api/v1/views", NULL);
    ck_assert_int_eq(jint(json_array_get(json_object_get(r.json, "items"), 0), "id"), v2);
    reply_free(&r);
    r = Tf(AGENT_A, "PATCH", "{\"name\": \"Urgent, mine\", \"filter\": {\"priority\": \"high\"}}", "/api/v1/views/%lld", v);
    EXPECT(r, 200);
    ck_assert_str_eq(jstr(r.json, "name"), "Urgent, mine");
    ck_assert_ptr_null(json_object_get(json_object_get(r.json, "filter"), "sort"));
    reply_free(&r);
    r = Tf(AGENT_A, "PATCH", "{\"filter\": {\"priority\": \"hot\"}}", "/api/v1/views/%lld", v);
    EXPECT_FIELD(r, 400, "filter.priority");
    reply_free(&r);
    r = Tf(AGENT_A, "PATCH", "{\"position\": -1}", "/api/v1/views/%lld", v);
    EXPECT_FIELD(r, 400, "position");
    reply_free(&r);
    r = Tf(AGENT_A, "PATCH", "{\"name\": \"QUEUE ONE\"}", "/api/v1/views/%lld", v);
    EXPECT_FIELD(r, 409, "name");
    reply_free(&r);
    /* nothing of the refused changes stuck */
    ck_assert_int_eq(qintf("SELECT count(*) FROM saved_views WHERE id = %lld AND name = 'Urgent, mine'"
                           " AND filter = '{\"priority\": \"high\"}'::jsonb", v), 1);
    /* another person's view is not there for anyone else */
    r = Tf(AGENT_B, "PATCH", "{\"name\": \"mine now\"}", "/api/v1/views/%lld", v);
    EXPECT(r, 404);
    reply_free(&r);
    r = Tf(ADMIN, "DELETE", NULL, "/api/v1/views/%lld", v);
    EXPECT(r, 404);
    reply_free(&r);
    r = T(AGENT_B, "GET", "/api/v1/views", NULL);
    EXPECT(r, 200);
    size_t bviews = json_array_size(json_object_get(r.json, "items"));
    reply_free(&r);
    ck_assert_int_eq((long long)bviews, qintf("SELECT count(*) FROM saved_views WHERE user_id = %lld", uid[AGENT_B]));
    /* customers: not for them */
    expect_status(CUST1, "GET", "/api/v1/views", NULL, 403);
    expect_status(CUST1, "POST", "/api/v1/views", "{\"name\": \"x\", \"filter\": {}}", 403);
    r = Tf(CUST1, "DELETE", NULL, "/api/v1/views/%lld", v);
    EXPECT(r, 404);
    reply_free(&r);
    /* at most 100 a person */
    qintf("WITH x AS (INSERT INTO saved_views (user_id, name) SELECT %lld, 'filler ' || g"
          " FROM generate_series(1, 98) g RETURNING 1) SELECT count(*) FROM x", uid[AGENT_A]);
    r = T(AGENT_A, "POST", "/api/v1/views", "{\"name\": \"one too many\", \"filter\": {}}");
    EXPECT(r, 409);
    reply_free(&r);
    testdb_exec(DB(), "DELETE FROM saved_views WHERE name LIKE 'filler %'");
    /* delete */
    r = Tf(AGENT_A, "DELETE", NULL, "/api/v1/views/%lld", v);
    EXPECT(r, 204);
    reply_free(&r);
    r = Tf(AGENT_A, "DELETE", NULL, "/api/v1/views/%lld", v);
    EXPECT(r, 404);
    reply_free(&r);
    r = Tf(AGENT_A, "DELETE", "{\"x\": 1}", "/api/v1/views/%lld", v2);
    EXPECT(r, 400);
    reply_free(&r);
    ck_assert_int_eq(qintf("SELECT count(*) FROM saved_views WHERE id = %lld", v2), 1);
}
END_TEST

/* ---- history and related ----------------------------------------------------------------- */

static bool has_summary(json_t *items, const char *want)
{
    size_t i;
    json_t *h;
    json_array_foreach(items, i, h)
        if (jstr(h, "summary") && strcmp(jstr(h, "summary"), want) == 0)
            return true;
    return false;
}

START_TEST(history_and_related)
{
    long long t = new_ticket(AGENT_A, queue_a, "historycase", "x");
    long long t2 = new_ticket(AGENT_A, queue_a, "historycase two", "y");
    long long t3 = new_ticket(AGENT_A, queue_a, "historycase three", "z");
    char body[256], want[128];
    snprintf(body, sizeof(body), "{\"status\": \"open\", \"priority\": \"high\", \"assignee_id\": %lld}", uid[AGENT_A]);
    patch_ticket(AGENT_A, t, body);
    struct reply r = Tf(AGENT_A, "POST", "{\"body\": \"n\"}", "/api/v1/tickets/%lld/notes", t);
    EXPECT(r, 201);
    reply_free(&r);
    r = Tf(AGENT_A, "POST", "{\"body\": \"reply\"}", "/api/v1/tickets/%lld/replies", t);
    EXPECT(r, 201);
    reply_free(&r);
    snprintf(body, sizeof(body), "{\"into_id\": %lld}", t);
    r = Tf(AGENT_A, "POST", body, "/api/v1/tickets/%lld/merge", t2);
    EXPECT(r, 200);
    reply_free(&r);
    snprintf(body, sizeof(body), "{\"ticket_id\": %lld}", t3);
    r = Tf(AGENT_A, "POST", body, "/api/v1/tickets/%lld/links", t);
    EXPECT(r, 201);
    reply_free(&r);
    patch_ticket(ADMIN, t, "{\"assignee_id\": null, \"category\": \"billing\"}");

    r = Tf(AGENT_A, "GET", NULL, "/api/v1/tickets/%lld/history", t);
    EXPECT(r, 200);
    json_t *items = json_object_get(r.json, "items");
    ck_assert(json_is_false(json_object_get(r.json, "more")));
    ck_assert(has_summary(items, "Opened the ticket"));
    ck_assert_msg(has_summary(items, "Status: new → open; Priority: normal → high; Assigned to agent.a@example.com"),
                  "%s", strbuf_str(&r.body));
    ck_assert(has_summary(items, "Added an internal note"));
    ck_assert(has_summary(items, "Replied to the customer"));
    snprintf(want, sizeof(want), "Merged ticket #%lld into this one", t2);
    ck_assert(has_summary(items, want));
    snprintf(want, sizeof(want), "Linked with #%lld", t3);
    ck_assert(has_summary(items, want));
    ck_assert(has_summary(items, "Unassigned (was agent.a@example.com); Category: none → billing"));
    /* oldest first, who did it */
    json_t *first = json_array_get(items, 0), *last = json_array_get(items, json_array_size(items) - 1);
    ck_assert_str_eq(jstr(first, "action"), "ticket.create");
    ck_assert_int_eq(jint(json_object_get(first, "actor"), "id"), uid[AGENT_A]);
    ck_assert_int_eq(jint(json_object_get(last, "actor"), "id"), uid[ADMIN]);
    ck_assert_ptr_nonnull(jstr(first, "created_at"));
    reply_free(&r);
    r = Tf(AGENT_A, "GET", NULL, "/api/v1/tickets/%lld/history", t2);
    EXPECT(r, 200);
    snprintf(want, sizeof(want), "Merged into #%lld", t);
    ck_assert(has_summary(json_object_get(r.json, "items"), want));
    reply_free(&r);
    r = Tf(AGENT_A, "GET", NULL, "/api/v1/tickets/%lld/history", t3);
    snprintf(want, sizeof(want), "Linked with #%lld", t);
    ck_assert(has_summary(json_object_get(r.json, "items"), want));
    reply_free(&r);
    /* those who may not see the ticket */
    r = Tf(AGENT_B, "GET", NULL, "/api/v1/tickets/%lld/history", t);
    EXPECT(r, 404);
    reply_free(&r);
    r = Tf(CUST1, "GET", NULL, "/api/v1/tickets/%lld/history", t);
    EXPECT(r, 404);
    reply_free(&r);
    r = T(AGENT_A, "GET", "/api/v1/tickets/999999999/history", NULL);
    EXPECT(r, 404);
    reply_free(&r);
    r = Tf(AGENT_A, "GET", NULL, "/api/v1/tickets/%lld/history?limit=5", t);
    EXPECT_FIELD(r, 400, "limit");
    reply_free(&r);

    /* related: the requester's other tickets and the organisation's */
    long long c2 = new_ticket(CUST2, queue_a, "historycase colleague", "c");
    new_ticket(CUST1, queue_b, "historycase in B", "b");
    r = Tf(AGENT_A, "GET", NULL, "/api/v1/tickets/%lld/related", t);
    EXPECT(r, 200);
    ck_assert_str_eq(jstr(json_object_get(r.json, "requester"), "email"), emails[CUST1]);
    ck_assert_str_eq(jstr(json_object_get(r.json, "org"), "name"), "Org One");
    json_t *mine = json_object_get(r.json, "requester_tickets");
    size_t i;
    json_t *x;
    json_array_foreach(mine, i, x) {
        ck_assert_int_ne(jint(x, "id"), t);
        ck_assert_int_eq(qintf("SELECT count(*) FROM tickets WHERE id = %lld AND queue_id = %lld"
                               " AND requester_id = %lld", jint(x, "id"), queue_a, uid[CUST1]), 1);
    }
    ck_assert_uint_le(json_array_size(mine), 10);
    ck_assert_int_eq(jint(r.json, "requester_total"),
                     qintf("SELECT count(*) FROM tickets WHERE requester_id = %lld AND queue_id = %lld AND id <> %lld",
                           uid[CUST1], queue_a, t));
    bool colleague = false;
    json_array_foreach(json_object_get(r.json, "org_tickets"), i, x)
        colleague |= jint(x, "id") == c2;
    ck_assert(colleague);
    reply_free(&r);
    r = Tf(AGENT_B, "GET", NULL, "/api/v1/tickets/%lld/related", t);
    EXPECT(r, 404);
    reply_free(&r);
    r = Tf(CUST1, "GET", NULL, "/api/v1/tickets/%lld/related", t);
    EXPECT(r, 404);
    reply_free(&r);
}
END_TEST

/* ---- password -------------------------------------------------------------------------- */

static struct reply pw_call(const struct session *s, const char *body)
{
    struct call c = { .method = "POST", .path = "/api/v1/auth/password", .cookie = s->cookie, .csrf = s->csrf,
                      .body = body };
    return http(&c);
}

static int me_status(const struct session *s)
{
    struct call c = { .method = "GET", .path = "/api/v1/auth/me", .cookie = s->cookie };
    struct reply r = http(&c);
    int st = (int)r.status;
    reply_free(&r);
    return st;
}

static void login_as(const char *email, const char *pw, struct session *s)
{
    struct reply r = login(email, pw, NULL);
    EXPECT(r, 200);
    cookie_of(&r, s->cookie, sizeof(s->cookie));
    snprintf(s->csrf, sizeof(s->csrf), "%s", jstr(r.json, "csrf_token"));
    reply_free(&r);
}

START_TEST(password_change)
{
    const char *e = NULL;
    const char *email = "pw.agent@example.com";
    long long id = 0;
    ck_assert_msg(user_add(DB(), email, "Pat Word", "agent", PW, "test", &id, &e) == 0, "%s", e);
    struct session s1, s2;
    memset(&s1, 0, sizeof(s1));
    memset(&s2, 0, sizeof(s2));
    login_as(email, PW, &s1);
    login_as(email, PW, &s2);

    struct reply r = pw_call(&s1, "{\"current_password\": \"not it at all\", \"new_password\": \"a brand new secret\"}");
    EXPECT_FIELD(r, 403, "current_password");
    reply_free(&r);
    ck_assert_int_eq(qintf("SELECT count(*) FROM audit_log WHERE action = 'login.failed' AND target = 'user:%lld'"
                           " AND detail->>'reason' = 'password (password change)'", id), 1);
    r = pw_call(&s1, "{\"current_password\": \"" PW "\", \"new_password\": \"short\"}");
    EXPECT_FIELD(r, 422, "new_password");
    reply_free(&r);
    r = pw_call(&s1, "{\"current_password\": \"" PW "\", \"new_password\": \"" PW "\"}");
    EXPECT_FIELD(r, 422, "new_password");
    reply_free(&r);
    r = pw_call(&s1, "{\"current_password\": \"" PW "\"}");
    EXPECT_FIELD(r, 400, "new_password");
    reply_free(&r);
    r = pw_call(&s1, "{\"current_password\": \"" PW "\", \"new_password\": \"a brand new secret\", \"user_id\": 1}");
    EXPECT_FIELD(r, 400, "user_id");
    reply_free(&r);
    r = pw_call(&s1, "{\"current_password\": 12, \"new_password\": \"a brand new secret\"}");
    EXPECT_FIELD(r, 400, "current_password");
    reply_free(&r);
    /* without the CSRF token a session changes nothing */
    struct call nocsrf = { .method = "POST", .path = "/api/v1/auth/password", .cookie = s1.cookie,
                           .body = "{\"current_password\": \"" PW "\", \"new_password\": \"a brand new secret\"}" };
    r = http(&nocsrf);
    EXPECT(r, 403);
    reply_free(&r);
    /* nothing changed so far: both sessions live, the old password works */
    ck_assert_int_eq(me_status(&s2), 200);
    ck_assert_int_eq(qintf("SELECT count(*) FROM audit_log WHERE action = 'user.password' AND target = 'user:%lld'", id), 0);

    r = pw_call(&s1, "{\"current_password\": \"" PW "\", \"new_password\": \"a brand new secret\"}");
    EXPECT(r, 204);
    reply_free(&r);
    ck_assert_int_eq(me_status(&s1), 200);         /* this session stays */
    ck_assert_int_eq(me_status(&s2), 401);         /* every other one ended */
    ck_assert_int_eq(qintf("SELECT count(*) FROM audit_log WHERE action = 'user.password' AND target = 'user:%lld'"
                           " AND actor_id = %lld", id, id), 1);
    ck_assert_int_eq(qintf("SELECT count(*) FROM audit_log WHERE action = 'user.access_ended'"
                           " AND target = 'user:%lld' AND (detail->>'sessions_ended')::int = 1"
                           " AND (detail->>'kept_current_session')::boolean", id), 1);
    r = login(email, PW, NULL);
    EXPECT(r, 401);
    reply_free(&r);
    struct session s3;
    login_as(email, "a brand new secret", &s3);    /* a login clears the account's failures */
    /* wrong current passwords count like failed logins: the limit is 3 */
    for (int i = 0; i < 3; i++) {
        r = pw_call(&s3, "{\"current_password\": \"guessing again\", \"new_password\": \"yet another secret\"}");
        EXPECT_FIELD(r, 403, "current_password");
        reply_free(&r);
    }
    r = pw_call(&s3, "{\"current_password\": \"a brand new secret\", \"new_password\": \"yet another secret\"}");
    EXPECT(r, 429);
    char h[64];
    ck_assert_ptr_nonnull(header(&r, "Retry-After", h, sizeof(h)));
    reply_free(&r);
    ck_assert_int_eq(qintf("SELECT count(*) FROM audit_log WHERE action = 'user.password' AND target = 'user:%lld'", id), 1);
    testdb_exec(DB(), "DELETE FROM auth_throttle");
    /* an API token may change its owner's password too; every token of
     * the account ends with it, the caller's own included */
    r = T(CUST3, "POST", "/api/v1/auth/password", "{\"current_password\": \"" PW "\", \"new_password\": \"customer secret 2\"}");
    EXPECT(r, 204);
    reply_free(&r);
    r = T(CUST3, "POST", "/api/v1/auth/password", "{\"current_password\": \"customer secret 2\", \"new_password\": \"" PW "\"}");
    EXPECT(r, 401);
    reply_free(&r);
    ck_assert_int_eq(qintf("SELECT count(*) FROM api_tokens WHERE user_id = %lld AND revoked_at IS NULL",
                           uid[CUST3]), 0);
    /* the world's token and password back for the other tests */
    ck_assert_msg(user_set_password(DB(), emails[CUST3], PW, "test", &e) == 0, "%s", e);
    testdb_exec(DB(), "DELETE FROM auth_throttle");
    char sql[160];
    snprintf(sql, sizeof(sql), "UPDATE api_tokens SET revoked_at = NULL WHERE user_id = %lld", uid[CUST3]);
    testdb_exec(DB(), sql);
}
END_TEST

/* ---- bulk ----------------------------------------------------------------------------------- */

static json_t *result_for(json_t *results, long long id)
{
    size_t i;
    json_t *x;
    json_array_foreach(results, i, x)
        if (jint(x, "id") == id)
            return x;
    return NULL;
}

START_TEST(bulk_changes)
{
    long long a1 = new_ticket(AGENT_A, queue_a, "bulkcase 1", "x");
    long long a2 = new_ticket(AGENT_A, queue_a, "bulkcase 2", "x");
    long long a3 = new_ticket(AGENT_A, queue_a, "bulkcase 3", "x");
    long long m = new_ticket(AGENT_A, queue_a, "bulkcase merged", "x");
    long long b1 = new_ticket(AGENT_B, queue_b, "bulkcase B", "x");
    char body[1024];
    snprintf(body, sizeof(body), "{\"into_id\": %lld}", a3);
    struct reply r = Tf(AGENT_A, "POST", body, "/api/v1/tickets/%lld/merge", m);
    EXPECT(r, 200);
    reply_free(&r);

    snprintf(body, sizeof(body), "{\"ids\": [%lld, %lld, %lld, 999999999, %lld],"
             " \"changes\": {\"status\": \"pending\", \"priority\": \"high\"}}", a1, a2, b1, m);
    r = T(AGENT_A, "POST", "/api/v1/tickets/bulk", body);
    EXPECT(r, 200);
    json_t *res = json_object_get(r.json, "results");
    ck_assert_uint_eq(json_array_size(res), 5);
    ck_assert_int_eq(jint(r.json, "ok"), 2);
    ck_assert_int_eq(jint(r.json, "failed"), 3);
    ck_assert_int_eq(jint(result_for(res, a1), "status"), 200);
    ck_assert_int_eq(jint(result_for(res, a2), "status"), 200);
    ck_assert_int_eq(jint(result_for(res, b1), "status"), 404);
    ck_assert_int_eq(jint(result_for(res, 999999999), "status"), 404);
    ck_assert_int_eq(jint(result_for(res, m), "status"), 409);
    ck_assert_str_eq(jstr(result_for(res, m), "field"), "merged_into");
    reply_free(&r);
    ck_assert_int_eq(qintf("SELECT count(*) FROM tickets WHERE id IN (%lld, %lld) AND status = 'pending'"
                           " AND priority = 'high'", a1, a2), 2);
    ck_assert_int_eq(qintf("SELECT count(*) FROM tickets WHERE id = %lld AND status = 'new' AND priority = 'normal'", b1), 1);
    ck_assert_int_eq(qintf("SELECT count(*) FROM audit_log WHERE action = 'ticket.update' AND target IN"
                           " ('ticket:%lld', 'ticket:%lld')", a1, a2), 2);
    /* an assignee the rules refuse: a per-ticket 422 */
    snprintf(body, sizeof(body), "{\"ids\": [%lld], \"changes\": {\"assignee_id\": %lld}}", a1, uid[AGENT_B]);
    r = T(AGENT_A, "POST", "/api/v1/tickets/bulk", body);
    EXPECT(r, 200);
    ck_assert_int_eq(jint(json_array_get(json_object_get(r.json, "results"), 0), "status"), 422);
    ck_assert_str_eq(jstr(json_array_get(json_object_get(r.json, "results"), 0), "field"), "assignee_id");
    reply_free(&r);
    /* a note on each */
    snprintf(body, sizeof(body), "{\"ids\": [%lld, %lld, %lld], \"note\": \"bulk note zebra\"}", a1, a2, b1);
    r = T(AGENT_A, "POST", "/api/v1/tickets/bulk", body);
    EXPECT(r, 200);
    ck_assert_int_eq(jint(r.json, "ok"), 2);
    reply_free(&r);
    ck_assert_int_eq(qint("SELECT count(*) FROM messages WHERE body_text = 'bulk note zebra' AND visibility = 'internal'"), 2);
    /* merges */
    snprintf(body, sizeof(body), "{\"ids\": [%lld, %lld], \"merge_into\": %lld}", a2, a1, a1);
    r = T(AGENT_A, "POST", "/api/v1/tickets/bulk", body);
    EXPECT(r, 200);
    ck_assert_int_eq(jint(result_for(json_object_get(r.json, "results"), a2), "status"), 200);
    ck_assert_int_eq(jint(result_for(json_object_get(r.json, "results"), a1), "status"), 422);
    reply_free(&r);
    ck_assert_int_eq(qintf("SELECT count(*) FROM tickets WHERE id = %lld AND merged_into = %lld", a2, a1), 1);

    /* wrong as a whole: 400 and nothing done */
    long long before = qint("SELECT count(*) FROM audit_log");
    struct strbuf many = STRBUF_INIT;
    strbuf_adds(&many, "{\"ids\": [");
    for (int i = 1; i <= 501; i++)
        strbuf_addf(&many, "%s%d", i > 1 ? "," : "", i);
    strbuf_adds(&many, "], \"note\": \"n\"}");
    struct { const char *body; const char *field; } bad[] = {
        { many.s, "ids" },
        { "{\"ids\": [], \"note\": \"n\"}", "ids" },
        { "{\"ids\": \"1,2\", \"note\": \"n\"}", "ids" },
        { "{\"ids\": [0], \"note\": \"n\"}", "ids" },
        { "{\"ids\": [1.5], \"note\": \"n\"}", "ids" },
        { "{\"ids\": [5, 5], \"note\": \"n\"}", "ids" },
        { "{\"note\": \"n\"}", "ids" },
        { "{\"ids\": [1], \"note\": \"\"}", "note" },
        { "{\"ids\": [1], \"changes\": {}}", "changes" },
        { "{\"ids\": [1], \"changes\": {\"subject\": \"x\"}}", "changes.subject" },
        { "{\"ids\": [1], \"changes\": {\"status\": \"burning\"}}", "changes.status" },
        { "{\"ids\": [1], \"changes\": {\"assignee_id\": \"me\"}}", "changes.assignee_id" },
        { "{\"ids\": [1], \"changes\": {\"queue_id\": null}}", "changes.queue_id" },
        { "{\"ids\": [1], \"changes\": []}", "changes" },
        { "{\"ids\": [1], \"note\": \"n\", \"force\": true}", "force" },
        { "{\"ids\": [1], \"note\": \"n\", \"dry_run\": true}", "dry_run" },
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        r = T(AGENT_A, "POST", "/api/v1/tickets/bulk", bad[i].body);
        ck_assert_msg(r.status == 400, "%zu: %ld %s", i, r.status, strbuf_str(&r.body));
        ck_assert_msg(jstr(r.json, "field") && strcmp(jstr(r.json, "field"), bad[i].field) == 0, "%zu: %s", i,
                      strbuf_str(&r.body));
        reply_free(&r);
    }
    strbuf_free(&many);
    expect_status(AGENT_A, "POST", "/api/v1/tickets/bulk", "{\"ids\": [1], \"note\": \"n\", \"changes\": {\"status\": \"open\"}}", 400);
    expect_status(AGENT_A, "POST", "/api/v1/tickets/bulk", "{\"ids\": [1]}", 400);
    expect_status(CUST1, "POST", "/api/v1/tickets/bulk", "{\"ids\": [1], \"note\": \"n\"}", 403);
    ck_assert_int_eq(qint("SELECT count(*) FROM audit_log"), before);
}
END_TEST

/* ---- uploads ------------------------------------------------------------------------ */

START_TEST(uploads_carried_by_replies)
{
    long long t = new_ticket(AGENT_A, queue_a, "uploadcase", "x");
    struct reply r = upload(AGENT_A, "../../etc/<evil>.html", "text/html", "<script>alert(1)</script>\n", 26);
    EXPECT(r, 201);
    long long u1 = jint(r.json, "id");
    ck_assert_str_eq(jstr(r.json, "filename"), "_evil_.html");
    ck_assert_str_eq(jstr(r.json, "content_type"), "text/plain; charset=utf-8");
    ck_assert_int_eq(jint(r.json, "size"), 26);
    reply_free(&r);
    static const char png[] = "\x89PNG\r\n\x1a\n\0\0\0\rIHDR";
    r = upload(AGENT_A, "shot", "application/octet-stream", png, sizeof(png) - 1);
    EXPECT(r, 201);
    long long u2 = jint(r.json, "id");
    ck_assert_str_eq(jstr(r.json, "content_type"), "image/png");
    reply_free(&r);
    /* limits: empty, larger than the body may be (web.max_body 64K here) */
    r = upload(AGENT_A, "empty.txt", "text/plain", "", 0);
    EXPECT_FIELD(r, 422, "file");
    reply_free(&r);
    char *big = calloc(70 * 1024, 1);
    r = upload(AGENT_A, "big.bin", "application/octet-stream", big, 70 * 1024);
    EXPECT_FIELD(r, 413, "file");
    ck_assert_ptr_nonnull(strstr(jstr(r.json, "detail"), "web.max_body"));
    reply_free(&r);
    free(big);
    r = upload(CUST1, "mine.txt", "text/plain", "hello", 5);
    EXPECT(r, 403);
    reply_free(&r);
    expect_status(AGENT_A, "POST", "/api/v1/attachments?name=x", "x", 400);
    ck_assert_int_eq(qintf("SELECT count(*) FROM attachments WHERE uploaded_by = %lld AND message_id IS NULL",
                           uid[AGENT_A]), 2);

    /* a pending upload is its uploader's alone */
    char path[128];
    snprintf(path, sizeof(path), "/api/v1/attachments/%lld", u1);
    r = T(AGENT_A, "GET", path, NULL);
    EXPECT(r, 200);
    ck_assert_uint_eq(r.body.len, 26);
    reply_free(&r);
    expect_status(AGENT_B, "GET", path, NULL, 404);
    expect_status(ADMIN, "GET", path, NULL, 404);
    expect_status(CUST1, "GET", path, NULL, 404);

    /* someone else's upload, or too many, are refused and nothing is posted */
    long long theirs = upload_id(AGENT_B, "b.txt", "text/plain", "bee", 3);
    long long msgs = qintf("SELECT count(*) FROM messages WHERE ticket_id = %lld", t);
    char body[512];
    snprintf(body, sizeof(body), "{\"body\": \"see attached\", \"attachment_ids\": [%lld, %lld]}", u1, theirs);
    r = Tf(AGENT_A, "POST", body, "/api/v1/tickets/%lld/replies", t);
    EXPECT_FIELD(r, 422, "attachment_ids");
    reply_free(&r);
    r = Tf(AGENT_A, "POST", "{\"body\": \"x\", \"attachment_ids\": [1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21]}",
           "/api/v1/tickets/%lld/replies", t);
    EXPECT_FIELD(r, 400, "attachment_ids");
    reply_free(&r);
    snprintf(body, sizeof(body), "{\"body\": \"x\", \"attachment_ids\": [%lld, %lld]}", u1, u1);
    r = Tf(AGENT_A, "POST", body, "/api/v1/tickets/%lld/replies", t);
    EXPECT_FIELD(r, 422, "attachment_ids");
    reply_free(&r);
    r = Tf(AGENT_A, "POST", "{\"body\": \"x\", \"attachment_ids\": [\"1\"]}", "/api/v1/tickets/%lld/replies", t);
    EXPECT_FIELD(r, 400, "attachment_ids");
    reply_free(&r);
    ck_assert_int_eq(qintf("SELECT count(*) FROM messages WHERE ticket_id = %lld", t), msgs);
    ck_assert_int_eq(qintf("SELECT count(*) FROM attachments WHERE id IN (%lld, %lld) AND message_id IS NULL", u1, theirs), 2);

    /* a note takes one: staff only see it */
    snprintf(body, sizeof(body), "{\"body\": \"internal screenshot\", \"attachment_ids\": [%lld]}", u2);
    r = Tf(AGENT_A, "POST", body, "/api/v1/tickets/%lld/notes", t);
    EXPECT(r, 201);
    long long note = jint(r.json, "id");
    reply_free(&r);
    ck_assert_int_eq(qintf("SELECT count(*) FROM attachments WHERE id = %lld AND message_id = %lld", u2, note), 1);
    snprintf(path, sizeof(path), "/api/v1/attachments/%lld", u2);
    expect_status(CUST1, "GET", path, NULL, 404);
    expect_status(ADMIN, "GET", path, NULL, 200);
    /* a reply takes the other: the customer sees it, its mail carries it */
    snprintf(body, sizeof(body), "{\"body\": \"see attached\", \"attachment_ids\": [%lld]}", u1);
    r = Tf(AGENT_A, "POST", body, "/api/v1/tickets/%lld/replies", t);
    EXPECT(r, 201);
    long long mid = jint(r.json, "id");
    reply_free(&r);
    snprintf(path, sizeof(path), "/api/v1/attachments/%lld", u1);
    expect_status(CUST1, "GET", path, NULL, 200);
    expect_status(AGENT_B, "GET", path, NULL, 404);
    r = Tf(CUST1, "GET", NULL, "/api/v1/tickets/%lld", t);
    EXPECT(r, 200);
    json_t *m = NULL, *x;
    size_t i;
    json_array_foreach(json_object_get(r.json, "messages"), i, x)
        if (jint(x, "id") == mid)
            m = x;
    ck_assert_ptr_nonnull(m);
    ck_assert_str_eq(jstr(json_array_get(json_object_get(m, "attachments"), 0), "filename"), "_evil_.html");
    reply_free(&r);
    ck_assert_int_eq(qintf("SELECT count(*) FROM jobs WHERE kind = 'mail.send' AND payload->>'message_id' = '%lld'", mid), 1);
    /* taken once only */
    r = Tf(AGENT_A, "POST", body, "/api/v1/tickets/%lld/replies", t);
    EXPECT_FIELD(r, 422, "attachment_ids");
    reply_free(&r);

    /* discarding */
    long long u3 = upload_id(AGENT_A, "later.txt", "text/plain", "later", 5);
    snprintf(path, sizeof(path), "/api/v1/attachments/%lld", u3);
    expect_status(AGENT_B, "DELETE", path, NULL, 404);
    expect_status(AGENT_A, "DELETE", path, NULL, 204);
    expect_status(AGENT_A, "DELETE", path, NULL, 404);
    snprintf(path, sizeof(path), "/api/v1/attachments/%lld", u1);
    expect_status(AGENT_A, "DELETE", path, NULL, 404);          /* a message has it */
    ck_assert_int_eq(qintf("SELECT count(*) FROM attachments WHERE id = %lld", u1), 1);
    /* uploads nobody took go after a day, unless a draft names them */
    long long old1 = upload_id(AGENT_A, "old1.txt", "text/plain", "old one", 7);
    long long old2 = upload_id(AGENT_A, "old2.txt", "text/plain", "old two", 7);
    snprintf(body, sizeof(body), "{\"kind\": \"reply\", \"body\": \"draft\", \"attachment_ids\": [%lld]}", old2);
    r = Tf(AGENT_A, "PUT", body, "/api/v1/tickets/%lld/draft", t);
    EXPECT(r, 200);
    reply_free(&r);
    testdb_exec(DB(), "UPDATE attachments SET uploaded_at = now() - interval '2 days' WHERE filename LIKE 'old_.txt'");
    upload_id(AGENT_B, "new.txt", "text/plain", "new", 3);
    ck_assert_int_eq(qintf("SELECT count(*) FROM attachments WHERE id = %lld", old1), 0);
    ck_assert_int_eq(qintf("SELECT count(*) FROM attachments WHERE id = %lld", old2), 1);
    r = Tf(AGENT_A, "DELETE", NULL, "/api/v1/tickets/%lld/draft", t);
    EXPECT(r, 204);
    reply_free(&r);
}
END_TEST

/* ---- drafts ------------------------------------------------------------------------- */

START_TEST(drafts)
{
    long long t = new_ticket(AGENT_A, queue_a, "draftcase", "x");
    long long u = upload_id(AGENT_A, "plan.txt", "text/plain", "the plan", 8);
    char body[512];
    snprintf(body, sizeof(body), "{\"kind\": \"reply\", \"body\": \"Dear customer, \\u00e9t\\u00e9\", \"status\": \"pending\","
             " \"attachment_ids\": [%lld]}", u);
    struct reply r = Tf(AGENT_A, "PUT", body, "/api/v1/tickets/%lld/draft", t);
    EXPECT(r, 200);
    ck_assert_ptr_nonnull(jstr(r.json, "updated_at"));
    reply_free(&r);
    r = Tf(AGENT_A, "GET", NULL, "/api/v1/tickets/%lld/draft", t);
    EXPECT(r, 200);
    ck_assert_str_eq(jstr(r.json, "body"), "Dear customer, été");
    ck_assert_str_eq(jstr(r.json, "status"), "pending");
    ck_assert_int_eq(jint(json_array_get(json_object_get(r.json, "attachments"), 0), "id"), u);
    reply_free(&r);
    /* in the ticket itself, for its owner only */
    r = Tf(AGENT_A, "GET", NULL, "/api/v1/tickets/%lld", t);
    ck_assert_str_eq(jstr(json_object_get(r.json, "draft"), "kind"), "reply");
    reply_free(&r);
    r = Tf(ADMIN, "GET", NULL, "/api/v1/tickets/%lld", t);
    ck_assert(json_is_null(json_object_get(r.json, "draft")));
    reply_free(&r);
    r = Tf(CUST1, "GET", NULL, "/api/v1/tickets/%lld", t);
    ck_assert(json_is_null(json_object_get(r.json, "draft")));
    reply_free(&r);
    r = Tf(ADMIN, "GET", NULL, "/api/v1/tickets/%lld/draft", t);
    EXPECT(r, 404);
    reply_free(&r);
    /* replaced as the agent types */
    r = Tf(AGENT_A, "PUT", "{\"kind\": \"note\", \"body\": \"second thought\"}", "/api/v1/tickets/%lld/draft", t);
    EXPECT(r, 200);
    reply_free(&r);
    ck_assert_int_eq(qintf("SELECT count(*) FROM ticket_drafts WHERE ticket_id = %lld AND kind = 'note'"
                           " AND body = 'second thought' AND status IS NULL AND attachment_ids = '{}'", t), 1);
    /* bad input changes nothing */
    struct { const char *body; int status; const char *field; } bad[] = {
        { "{\"kind\": \"letter\", \"body\": \"x\"}", 422, "kind" },
        { "{\"kind\": \"reply\", \"body\": \"x\", \"status\": \"burning\"}", 422, "status" },
        { "{\"kind\": \"reply\"}", 400, "body" },
        { "{\"kind\": \"reply\", \"body\": 5}", 400, "body" },
        { "{\"kind\": \"reply\", \"body\": \"x\", \"to\": \"x@y\"}", 400, "to" },
        { "{\"kind\": \"reply\", \"body\": \"x\", \"attachment_ids\": [-1]}", 400, "attachment_ids" },
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        r = Tf(AGENT_A, "PUT", bad[i].body, "/api/v1/tickets/%lld/draft", t);
        ck_assert_msg(r.status == bad[i].status, "%s: %ld", bad[i].body, r.status);
        ck_assert_str_eq(jstr(r.json, "field"), bad[i].field);
        reply_free(&r);
    }
    ck_assert_int_eq(qintf("SELECT count(*) FROM ticket_drafts WHERE ticket_id = %lld AND body = 'second thought'", t), 1);
    /* those who may not see the ticket get none */
    r = Tf(AGENT_B, "PUT", "{\"kind\": \"reply\", \"body\": \"x\"}", "/api/v1/tickets/%lld/draft", t);
    EXPECT(r, 404);
    reply_free(&r);
    r = Tf(CUST1, "PUT", "{\"kind\": \"reply\", \"body\": \"x\"}", "/api/v1/tickets/%lld/draft", t);
    EXPECT(r, 404);
    reply_free(&r);
    r = Tf(AGENT_B, "GET", NULL, "/api/v1/tickets/%lld/draft", t);
    EXPECT(r, 404);
    reply_free(&r);
    ck_assert_int_eq(qintf("SELECT count(*) FROM ticket_drafts WHERE ticket_id = %lld", t), 1);
    /* sending removes it, in the same transaction */
    r = Tf(AGENT_A, "POST", "{\"body\": \"second thought\"}", "/api/v1/tickets/%lld/notes", t);
    EXPECT(r, 201);
    reply_free(&r);
    r = Tf(AGENT_A, "GET", NULL, "/api/v1/tickets/%lld/draft", t);
    EXPECT(r, 404);
    reply_free(&r);
    r = Tf(AGENT_A, "PUT", "{\"kind\": \"reply\", \"body\": \"again\"}", "/api/v1/tickets/%lld/draft", t);
    EXPECT(r, 200);
    reply_free(&r);
    r = Tf(AGENT_A, "DELETE", NULL, "/api/v1/tickets/%lld/draft", t);
    EXPECT(r, 204);
    reply_free(&r);
    r = Tf(AGENT_A, "DELETE", NULL, "/api/v1/tickets/%lld/draft", t);
    EXPECT(r, 404);
    reply_free(&r);
}
END_TEST

/* ---- canned responses and macros ------------------------------------------------------- */

START_TEST(canned_responses_and_macros)
{
    long long t = new_ticket(AGENT_A, queue_a, "macrocase", "x");
    testdb_exec(DB(), "UPDATE users SET name = 'Carla One' WHERE email = 'cust1@org1.example'");
    struct reply r = T(MANAGER, "POST", "/api/v1/canned-responses",
                       "{\"title\": \"Hello\", \"body\": \"Hi {{customer.name}} ({{customer.email}}), about [#{{ticket.number}}]"
                       " {{ticket.subject}} in {{queue.name}} for {{org.name}} -- {{ agent.name }} {{nope.x}} {{nope.x}} {{ unfinished\"}");
    EXPECT(r, 201);
    long long c = jint(r.json, "id");
    reply_free(&r);
    char body[1024], want[512];
    r = Tf(AGENT_A, "GET", NULL, "/api/v1/tickets/%lld/canned-responses/%lld", t, c);
    EXPECT(r, 200);
    snprintf(want, sizeof(want), "Hi Carla One (cust1@org1.example), about [#%lld] macrocase in Queue A for Org One"
             " -- agent.a@example.com {{nope.x}} {{nope.x}} {{ unfinished", t);
    ck_assert_str_eq(jstr(r.json, "body"), want);
    json_t *unk = json_object_get(r.json, "unknown_placeholders");
    ck_assert_uint_eq(json_array_size(unk), 1);
    ck_assert_str_eq(json_string_value(json_array_get(unk, 0)), "{{nope.x}}");
    reply_free(&r);
    snprintf(body, sizeof(body), "{\"title\": \"B only\", \"body\": \"b\", \"queue_id\": %lld}", queue_b);
    r = T(MANAGER, "POST", "/api/v1/canned-responses", body);
    long long cb = jint(r.json, "id");
    reply_free(&r);
    r = Tf(AGENT_A, "GET", NULL, "/api/v1/tickets/%lld/canned-responses/%lld", t, cb);
    EXPECT(r, 404);
    reply_free(&r);
    r = Tf(AGENT_B, "GET", NULL, "/api/v1/tickets/%lld/canned-responses/%lld", t, cb);
    EXPECT(r, 404);                         /* the ticket is not theirs */
    reply_free(&r);
    r = Tf(CUST1, "GET", NULL, "/api/v1/tickets/%lld/canned-responses/%lld", t, c);
    EXPECT(r, 404);
    reply_free(&r);

    /* macros: managers write them */
    const char *mbody = "{\"title\": \"Thank and wait\", \"body\": \"Thanks {{customer.name}}, we wait for you.\","
                        " \"visibility\": \"public\", \"actions\": {\"status\": \"pending\", \"priority\": \"high\","
                        " \"assignee_id\": \"me\"}}";
    expect_status(AGENT_A, "POST", "/api/v1/macros", mbody, 403);
    r = T(MANAGER, "POST", "/api/v1/macros", mbody);
    EXPECT(r, 201);
    long long m = jint(r.json, "id");
    ck_assert_str_eq(jstr(json_object_get(r.json, "actions"), "assignee_id"), "me");
    reply_free(&r);
    snprintf(body, sizeof(body), "{\"title\": \"Note for B\", \"body\": \"n\", \"visibility\": \"internal\", \"queue_id\": %lld}",
             queue_b);
    r = T(MANAGER, "POST", "/api/v1/macros", body);
    EXPECT(r, 201);
    long long mb = jint(r.json, "id");
    reply_free(&r);
    struct { const char *body; int status; const char *field; } bad[] = {
        { "{\"title\": \"x\", \"actions\": {\"colour\": \"red\"}}", 422, "actions" },
        { "{\"title\": \"x\", \"actions\": {\"status\": \"burning\"}}", 422, "actions.status" },
        { "{\"title\": \"x\", \"actions\": {\"assignee_id\": \"you\"}}", 422, "actions.assignee_id" },
        { "{\"title\": \"x\", \"actions\": {\"queue_id\": 0}}", 422, "actions.queue_id" },
        { "{\"title\": \"x\", \"actions\": {\"category\": \"\"}}", 422, "actions.category" },
        { "{\"title\": \"x\", \"actions\": []}", 400, "actions" },
        { "{\"title\": \"x\", \"body\": \"b\", \"visibility\": \"secret\"}", 422, "visibility" },
        { "{\"title\": \"x\"}", 422, "body" },
        { "{\"title\": \"\", \"body\": \"b\"}", 422, "title" },
        { "{\"body\": \"b\"}", 400, "title" },
        { "{\"title\": \"THANK AND WAIT\", \"body\": \"b\"}", 201, NULL },
        { "{\"title\": \"Thank and wait\", \"body\": \"b\"}", 409, "title" },
        { "{\"title\": \"x\", \"body\": \"b\", \"queue_id\": 999999}", 422, "queue_id" },
        { "{\"title\": \"x\", \"body\": \"b\", \"shortcut\": \"m\"}", 400, "shortcut" },
    };
    long long macros_before = qint("SELECT count(*) FROM macros");
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        r = T(MANAGER, "POST", "/api/v1/macros", bad[i].body);
        ck_assert_msg(r.status == bad[i].status, "%s: %ld %s", bad[i].body, r.status, strbuf_str(&r.body));
        if (bad[i].field)
            ck_assert_msg(jstr(r.json, "field") && strcmp(jstr(r.json, "field"), bad[i].field) == 0, "%s: %s",
                          bad[i].body, strbuf_str(&r.body));
        reply_free(&r);
    }
    ck_assert_int_eq(qint("SELECT count(*) FROM macros"), macros_before + 1);   /* the one good title */
    testdb_exec(DB(), "DELETE FROM macros WHERE title = 'THANK AND WAIT'");
    /* agents list the global ones and their queues' */
    r = T(AGENT_A, "GET", "/api/v1/macros", NULL);
    EXPECT(r, 200);
    ck_assert_uint_eq(json_array_size(json_object_get(r.json, "items")), 1);
    reply_free(&r);
    r = T(AGENT_B, "GET", "/api/v1/macros", NULL);
    ck_assert_uint_eq(json_array_size(json_object_get(r.json, "items")), 2);
    reply_free(&r);
    r = Tf(AGENT_B, "GET", NULL, "/api/v1/macros?queue_id=%lld", queue_a);
    ck_assert_uint_eq(json_array_size(json_object_get(r.json, "items")), 1);
    reply_free(&r);
    expect_status(CUST1, "GET", "/api/v1/macros", NULL, 403);

    /* the preview: filled in, nothing changed */
    r = Tf(AGENT_A, "GET", NULL, "/api/v1/tickets/%lld/macros/%lld", t, m);
    EXPECT(r, 200);
    ck_assert_str_eq(jstr(r.json, "body"), "Thanks Carla One, we wait for you.");
    ck_assert_str_eq(jstr(json_object_get(r.json, "actions"), "status"), "pending");
    reply_free(&r);
    ck_assert_int_eq(qintf("SELECT count(*) FROM tickets WHERE id = %lld AND status = 'new'", t), 1);
    /* a macro of another queue, a ticket of another queue, a customer */
    long long msgs = qintf("SELECT count(*) FROM messages WHERE ticket_id = %lld", t);
    r = Tf(MANAGER, "POST", "{}", "/api/v1/tickets/%lld/macros/%lld", t, mb);
    EXPECT_FIELD(r, 422, "macro_id");
    reply_free(&r);
    r = Tf(AGENT_A, "POST", "{}", "/api/v1/tickets/%lld/macros/%lld", t, mb);
    EXPECT(r, 404);                          /* not one of theirs */
    reply_free(&r);
    r = Tf(AGENT_B, "POST", "{}", "/api/v1/tickets/%lld/macros/%lld", t, m);
    EXPECT(r, 404);
    reply_free(&r);
    r = Tf(CUST1, "POST", "{}", "/api/v1/tickets/%lld/macros/%lld", t, m);
    EXPECT(r, 404);
    reply_free(&r);
    r = Tf(AGENT_A, "POST", "{\"body\": 3}", "/api/v1/tickets/%lld/macros/%lld", t, m);
    EXPECT_FIELD(r, 400, "body");
    reply_free(&r);
    /* a change the rules refuse undoes the whole macro */
    snprintf(body, sizeof(body), "{\"title\": \"Give to B\", \"body\": \"over to B\", \"actions\": {\"assignee_id\": %lld}}",
             uid[AGENT_B]);
    r = T(MANAGER, "POST", "/api/v1/macros", body);
    long long mgive = jint(r.json, "id");
    reply_free(&r);
    r = Tf(AGENT_A, "POST", "{}", "/api/v1/tickets/%lld/macros/%lld", t, mgive);
    EXPECT_FIELD(r, 422, "assignee_id");
    reply_free(&r);
    ck_assert_int_eq(qintf("SELECT count(*) FROM messages WHERE ticket_id = %lld", t), msgs);
    ck_assert_int_eq(qintf("SELECT count(*) FROM jobs WHERE kind = 'mail.send' AND payload->>'message_id' IN"
                           " (SELECT id::text FROM messages WHERE ticket_id = %lld AND body_text = 'over to B')", t), 0);

    /* applied: reply, status, priority, assignee in one step */
    r = Tf(AGENT_A, "POST", "{}", "/api/v1/tickets/%lld/macros/%lld", t, m);
    EXPECT(r, 200);
    long long mid = jint(r.json, "message_id");
    ck_assert(json_is_true(json_object_get(r.json, "changed")));
    ck_assert_uint_eq(json_array_size(json_object_get(r.json, "unknown_placeholders")), 0);
    reply_free(&r);
    ck_assert_int_eq(qintf("SELECT count(*) FROM messages WHERE id = %lld AND ticket_id = %lld AND direction = 'out'"
                           " AND visibility = 'public' AND body_text = 'Thanks Carla One, we wait for you.'", mid, t), 1);
    ck_assert_int_eq(qintf("SELECT count(*) FROM tickets WHERE id = %lld AND status = 'pending' AND priority = 'high'"
                           " AND assignee_id = %lld", t, uid[AGENT_A]), 1);
    ck_assert_int_eq(qintf("SELECT count(*) FROM jobs WHERE kind = 'mail.send' AND payload->>'message_id' = '%lld'", mid), 1);
    ck_assert_int_eq(qintf("SELECT count(*) FROM audit_log WHERE action = 'ticket.macro' AND target = 'ticket:%lld'"
                           " AND (detail->>'macro_id')::bigint = %lld", t, m), 1);
    /* the agent's own words, placeholders filled, unknown ones reported */
    r = Tf(AGENT_A, "POST", "{\"body\": \"Edited for {{customer.email}} {{cusotmer.name}}\"}",
           "/api/v1/tickets/%lld/macros/%lld", t, m);
    EXPECT(r, 200);
    mid = jint(r.json, "message_id");
    ck_assert_str_eq(json_string_value(json_array_get(json_object_get(r.json, "unknown_placeholders"), 0)),
                     "{{cusotmer.name}}");
    reply_free(&r);
    ck_assert_int_eq(qintf("SELECT count(*) FROM messages WHERE id = %lld AND body_text ="
                           " 'Edited for cust1@org1.example {{cusotmer.name}}'", mid), 1);
    /* an internal macro: a note */
    r = T(MANAGER, "POST", "/api/v1/macros", "{\"title\": \"Escalate\", \"body\": \"Escalated by {{agent.name}}\","
          " \"visibility\": \"internal\", \"actions\": {\"priority\": \"urgent\", \"status\": \"open\"}}");
    long long mi = jint(r.json, "id");
    reply_free(&r);
    r = Tf(AGENT_A, "POST", NULL, "/api/v1/tickets/%lld/macros/%lld", t, mi);
    EXPECT(r, 415);                 /* a body is required (even {}) */
    reply_free(&r);
    r = Tf(AGENT_A, "POST", "{}", "/api/v1/tickets/%lld/macros/%lld", t, mi);
    EXPECT(r, 200);
    mid = jint(r.json, "message_id");
    reply_free(&r);
    ck_assert_int_eq(qintf("SELECT count(*) FROM messages WHERE id = %lld AND visibility = 'internal'"
                           " AND body_text = 'Escalated by agent.a@example.com'", mid), 1);
    ck_assert_int_eq(qintf("SELECT count(*) FROM tickets WHERE id = %lld AND status = 'open' AND priority = 'urgent'", t), 1);
    /* change and delete */
    r = Tf(MANAGER, "PATCH", "{\"title\": \"Escalate now\", \"queue_id\": null}", "/api/v1/macros/%lld", mi);
    EXPECT(r, 200);
    ck_assert_str_eq(jstr(r.json, "title"), "Escalate now");
    reply_free(&r);
    r = Tf(MANAGER, "PATCH", "{\"body\": \"\", \"actions\": {}}", "/api/v1/macros/%lld", mi);
    EXPECT_FIELD(r, 422, "body");
    reply_free(&r);
    ck_assert_int_eq(qintf("SELECT count(*) FROM macros WHERE id = %lld AND body <> ''", mi), 1);
    r = Tf(AGENT_A, "PATCH", "{\"title\": \"mine\"}", "/api/v1/macros/%lld", mi);
    EXPECT(r, 404);
    reply_free(&r);
    r = Tf(MANAGER, "DELETE", NULL, "/api/v1/macros/%lld", mi);
    EXPECT(r, 204);
    reply_free(&r);
    r = Tf(AGENT_A, "POST", "{}", "/api/v1/tickets/%lld/macros/%lld", t, mi);
    EXPECT(r, 404);
    reply_free(&r);
    /* five made (one removed behind the API's back), one changed, one deleted */
    ck_assert_int_eq(qint("SELECT count(*) FROM audit_log WHERE action = 'macro.create'"), 5);
    ck_assert_int_eq(qint("SELECT count(*) FROM audit_log WHERE action = 'macro.update'"), 1);
    ck_assert_int_eq(qint("SELECT count(*) FROM audit_log WHERE action = 'macro.delete'"), 1);
}
END_TEST

static void add(TCase *tc)
{
    tcase_add_test(tc, list_names_unassigned_and_sorts);
    tcase_add_test(tc, new_text_remote_images_and_the_frame);
    tcase_add_test(tc, counts_for_the_sidebar);
    tcase_add_test(tc, saved_views);
    tcase_add_test(tc, history_and_related);
    tcase_add_test(tc, password_change);
    tcase_add_test(tc, bulk_changes);
    tcase_add_test(tc, uploads_carried_by_replies);
    tcase_add_test(tc, drafts);
    tcase_add_test(tc, canned_responses_and_macros);
}

int main(void)
{
    return api_world_main("api_desk", add);
}
