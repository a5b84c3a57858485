/* test_api_tickets_pg -- tickets through the API: their life with events and the outbox, list filters, search and cursors, paging while tickets change, the plugins' parts of a ticket; against the world of api_world.h. */
#include "config.h"
#include "api_world.h"
#include "testdb.h"
#include "desk/user.h"
#include "core/jobs.h"
#include "lib/passwd.h"
#include "lib/totp.h"
#include "lib/util.h"

#include <crypt.h>
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* ---- tickets ------------------------------------------------------------------- */

START_TEST(ticket_life_with_events_and_outbox)
{
    char path[128], body[256];
    /* a webhook hears the events: they are committed with the change */
    snprintf(body, sizeof(body), "{\"url\": \"http://127.0.0.1:%d/all\", \"events\":"
             " [\"ticket.created\", \"ticket.updated\", \"message.created\", \"ticket.merged\"]}", W.hook_port);
    struct reply r = T(ADMIN, "POST", "/api/v1/webhooks", body);
    EXPECT(r, 201);
    long long hook = jint(r.json, "id");
    reply_free(&r);

    long long t = new_ticket(CUST1, 0, "Printer on fire", "It is really burning");
    ck_assert_int_eq(qintf("SELECT count(*) FROM tickets WHERE id = %lld AND requester_id = %lld"
                           " AND org_id = %lld AND status = 'new'", t, uid[CUST1], org1), 1);
    ck_assert_int_eq(qintf("SELECT count(*) FROM messages WHERE ticket_id = %lld AND direction = 'in'", t), 1);
    /* the plugin hook and the webhook got ticket.created */
    ck_assert_int_ge(qintf("SELECT count(*) FROM jobs j WHERE kind = 'hook.testplug.ticket.created'"
                           " AND (payload->'data'->>'ticket_id')::bigint = %lld UNION ALL"
                           " SELECT count(*) FROM job_archive WHERE kind = 'hook.testplug.ticket.created'"
                           " AND (payload->'data'->>'ticket_id')::bigint = %lld ORDER BY 1 DESC LIMIT 1", t, t), 1);
    ck_assert_int_eq(qintf("SELECT count(*) FROM webhook_deliveries WHERE webhook_id = %lld"
                           " AND event IN ('ticket.created', 'message.created')"
                           " AND (payload->>'ticket_id')::bigint = %lld", hook, t), 2);
    /* the customer picked the first queue (A): agent A works it */
    snprintf(path, sizeof(path), "/api/v1/tickets/%lld/replies", t);
    r = T(AGENT_A, "POST", path, "{\"body\": \"We are on it.\", \"status\": \"pending\"}");
    EXPECT(r, 201);
    long long mid = jint(r.json, "id");
    ck_assert_str_eq(jstr(r.json, "direction"), "out");
    reply_free(&r);
    /* the outbox job waits with the message id, committed with the reply */
    ck_assert_int_eq(qintf("SELECT count(*) FROM jobs WHERE kind = 'mail.send'"
                           " AND payload = '{\"message_id\": %lld}'::jsonb", mid), 1);
    ck_assert_int_eq(qintf("SELECT count(*) FROM tickets WHERE id = %lld AND status = 'pending'", t), 1);
    /* internal note: no mail, invisible to the customer */
    snprintf(path, sizeof(path), "/api/v1/tickets/%lld/notes", t);
    r = T(AGENT_A, "POST", path, "{\"body\": \"secret internal remark zebra\"}");
    EXPECT(r, 201);
    long long note = jint(r.json, "id");
    reply_free(&r);
    ck_assert_int_eq(qintf("SELECT count(*) FROM jobs WHERE kind = 'mail.send'"
                           " AND (payload->>'message_id')::bigint = %lld", note), 0);
    expect_status(CUST1, "POST", path, "{\"body\": \"x\"}", 404);
    snprintf(path, sizeof(path), "/api/v1/tickets/%lld", t);
    r = T(CUST1, "GET", path, NULL);
    EXPECT(r, 200);
    ck_assert_ptr_null(strstr(r.body.s, "zebra"));
    ck_assert_int_eq(json_array_size(json_object_get(r.json, "messages")), 2);
    reply_free(&r);
    r = T(AGENT_A, "GET", path, NULL);
    EXPECT(r, 200);
    ck_assert_ptr_nonnull(strstr(r.body.s, "zebra"));
    ck_assert_int_eq(json_array_size(json_object_get(r.json, "messages")), 3);
    reply_free(&r);
    /* customer reply reopens, no outbox job */
    snprintf(path, sizeof(path), "/api/v1/tickets/%lld/replies", t);
    long long mail_before = qint("SELECT count(*) FROM jobs WHERE kind = 'mail.send'");
    r = T(CUST1, "POST", path, "{\"body\": \"Still burning\"}");
    EXPECT(r, 201);
    ck_assert_str_eq(jstr(r.json, "direction"), "in");
    reply_free(&r);
    ck_assert_int_eq(qint("SELECT count(*) FROM jobs WHERE kind = 'mail.send'"), mail_before);
    ck_assert_int_eq(qintf("SELECT count(*) FROM tickets WHERE id = %lld AND status = 'open'", t), 1);
    expect_status(CUST1, "POST", path, "{\"body\": \"x\", \"status\": \"closed\"}", 403);

    /* updates */
    snprintf(path, sizeof(path), "/api/v1/tickets/%lld", t);
    snprintf(body, sizeof(body), "{\"priority\": \"urgent\", \"category\": \"hardware\", \"assignee_id\": %lld}", uid[AGENT_A]);
    r = T(AGENT_A, "PATCH", path, body);
    EXPECT(r, 200);
    ck_assert_str_eq(jstr(r.json, "priority"), "urgent");
    ck_assert_int_eq(jint(r.json, "assignee_id"), uid[AGENT_A]);
    reply_free(&r);
    ck_assert_int_eq(qintf("SELECT count(*) FROM audit_log WHERE action = 'ticket.update' AND target = 'ticket:%lld'"
                           " AND detail->'changes'->'priority'->>'to' = 'urgent'", t), 1);
    ck_assert_int_ge(qintf("SELECT count(*) FROM webhook_deliveries WHERE event = 'ticket.updated'"
                           " AND (payload->>'ticket_id')::bigint = %lld", t), 1);
    /* agent B is not in queue A: cannot be assigned */
    snprintf(body, sizeof(body), "{\"assignee_id\": %lld}", uid[AGENT_B]);
    r = T(AGENT_A, "PATCH", path, body);
    EXPECT(r, 422);
    ck_assert_str_eq(jstr(r.json, "field"), "assignee_id");
    reply_free(&r);
    snprintf(body, sizeof(body), "{\"assignee_id\": %lld}", uid[CUST1]);
    expect_status(AGENT_A, "PATCH", path, body, 422);
    snprintf(body, sizeof(body), "{\"queue_id\": %lld}", queue_b);
    expect_status(AGENT_A, "PATCH", path, body, 422);   /* not a member of B */
    expect_status(CUST1, "PATCH", path, "{\"priority\": \"low\"}", 403);
    expect_status(CUST1, "PATCH", path, "{\"status\": \"open\"}", 403);
    expect_status(CUST1, "PATCH", path, "{\"status\": \"solved\"}", 200);
    ck_assert_int_eq(qintf("SELECT count(*) FROM tickets WHERE id = %lld AND solved_at IS NOT NULL", t), 1);
    /* a manager moves it to queue B: agent A loses it, agent B gains it */
    snprintf(body, sizeof(body), "{\"queue_id\": %lld, \"assignee_id\": null}", queue_b);
    expect_status(MANAGER, "PATCH", path, body, 200);
    expect_status(AGENT_A, "GET", path, NULL, 404);
    expect_status(AGENT_B, "GET", path, NULL, 200);

    /* merge two of cust1's tickets in queue B */
    long long t2 = new_ticket(AGENT_B, queue_b, "Printer smokes", "duplicate");
    snprintf(path, sizeof(path), "/api/v1/tickets/%lld/merge", t2);
    snprintf(body, sizeof(body), "{\"into_id\": %lld}", t);
    r = T(AGENT_B, "POST", path, body);
    EXPECT(r, 200);
    ck_assert_int_eq(jint(r.json, "id"), t);
    reply_free(&r);
    ck_assert_int_eq(qintf("SELECT count(*) FROM messages WHERE ticket_id = %lld", t2), 0);
    ck_assert_int_eq(qintf("SELECT count(*) FROM tickets WHERE id = %lld AND merged_into = %lld AND status = 'closed'", t2, t), 1);
    expect_status(AGENT_B, "POST", path, body, 409);   /* already merged */
    snprintf(body, sizeof(body), "{\"into_id\": %lld}", t2);
    expect_status(AGENT_B, "POST", path, body, 422);
    ck_assert_int_eq(qintf("SELECT count(*) FROM audit_log WHERE action = 'ticket.merge' AND target = 'ticket:%lld'", t2), 1);

    /* links */
    long long t3 = new_ticket(AGENT_B, queue_b, "Related", "x");
    snprintf(path, sizeof(path), "/api/v1/tickets/%lld/links", t);
    snprintf(body, sizeof(body), "{\"ticket_id\": %lld}", t3);
    expect_status(AGENT_B, "POST", path, body, 201);
    expect_status(AGENT_B, "POST", path, body, 201);   /* idempotent */
    snprintf(body, sizeof(body), "{\"ticket_id\": %lld}", t);
    expect_status(AGENT_B, "POST", path, body, 422);   /* itself */
    snprintf(path, sizeof(path), "/api/v1/tickets/%lld", t3);
    r = T(AGENT_B, "GET", path, NULL);
    ck_assert_int_eq(json_integer_value(json_array_get(json_object_get(r.json, "links"), 0)), t);
    reply_free(&r);
    snprintf(path, sizeof(path), "/api/v1/tickets/%lld/links/%lld", t3, t);
    expect_status(AGENT_B, "DELETE", path, NULL, 204);
    expect_status(AGENT_B, "DELETE", path, NULL, 404);

    /* "being edited by" */
    snprintf(path, sizeof(path), "/api/v1/tickets/%lld/lock", t3);
    r = T(AGENT_B, "POST", path, NULL);
    EXPECT(r, 200);
    ck_assert(json_is_true(json_object_get(r.json, "acquired")));
    reply_free(&r);
    r = T(MANAGER, "POST", path, NULL);
    EXPECT(r, 409);
    ck_assert(json_is_false(json_object_get(r.json, "acquired")));
    ck_assert_str_eq(jstr(json_object_get(r.json, "lock"), "email"), emails[AGENT_B]);
    reply_free(&r);
    snprintf(path, sizeof(path), "/api/v1/tickets/%lld", t3);
    r = T(MANAGER, "GET", path, NULL);
    ck_assert_str_eq(jstr(json_object_get(r.json, "lock"), "email"), emails[AGENT_B]);
    reply_free(&r);
    snprintf(path, sizeof(path), "/api/v1/tickets/%lld/lock", t3);
    expect_status(MANAGER, "DELETE", path, NULL, 404);
    expect_status(AGENT_B, "DELETE", path, NULL, 204);
    expect_status(MANAGER, "POST", path, NULL, 200);

    /* the webhook deliveries ran (events -> jobs -> signed POSTs) */
    long long t0 = time_mono_ms();
    while (qintf("SELECT count(*) FROM webhook_deliveries WHERE webhook_id = %lld AND state <> 'delivered'", hook) > 0
           && time_mono_ms() - t0 < 20000)
        usleep(100000);
    ck_assert_int_eq(qintf("SELECT count(*) FROM webhook_deliveries WHERE webhook_id = %lld AND state <> 'delivered'", hook), 0);
    snprintf(path, sizeof(path), "/api/v1/webhooks/%lld", hook);
    expect_status(ADMIN, "DELETE", path, NULL, 204);
}
END_TEST

START_TEST(list_filters_search_and_cursor)
{
    long long ids[7];
    for (int i = 0; i < 7; i++) {
        char subj[64];
        snprintf(subj, sizeof(subj), "Paging ticket %d", i);
        ids[i] = new_ticket(CUST3, queue_b, subj, i == 3 ? "the flux capacitor is broken" : "nothing special");
    }
    testdb_exec(DB(), "UPDATE tickets SET priority = 'low' WHERE subject = 'Paging ticket 5'");
    /* page through cust3's tickets 3 at a time: every one once, newest first */
    char path[256], cursor[80] = "";
    int seen = 0;
    long long last = 1LL << 60;
    for (int page = 0; page < 5; page++) {
        if (cursor[0])
            snprintf(path, sizeof(path), "/api/v1/tickets?limit=3&cursor=%s", cursor);
        else
            snprintf(path, sizeof(path), "/api/v1/tickets?limit=3");
        struct reply r = T(CUST3, "GET", path, NULL);
        EXPECT(r, 200);
        json_t *items = json_object_get(r.json, "items");
        size_t i;
        json_t *it;
        json_array_foreach(items, i, it) {
            long long id = jint(it, "id");
            ck_assert_int_lt(id, last);   /* same updated_at order as ids here */
            last = id;
            seen++;
        }
        const char *nc = jstr(r.json, "next_cursor");
        snprintf(cursor, sizeof(cursor), "%s", nc ? nc : "");
        reply_free(&r);
        if (!nc)
            break;
    }
    ck_assert_int_eq(seen, 7);
    /* a change while paging does not duplicate the rest */
    struct reply r;
    /* filters */
    snprintf(path, sizeof(path), "/api/v1/tickets?priority=low&requester_id=%lld", uid[CUST3]);
    r = T(CUST3, "GET", path, NULL);
    EXPECT(r, 200);
    ck_assert_int_eq(json_array_size(json_object_get(r.json, "items")), 1);
    ck_assert_int_eq(jint(json_array_get(json_object_get(r.json, "items"), 0), "id"), ids[5]);
    reply_free(&r);
    snprintf(path, sizeof(path), "/api/v1/tickets?queue_id=%lld&status=new&org_id=%lld", queue_b, org2);
    r = T(MANAGER, "GET", path, NULL);
    EXPECT(r, 200);
    ck_assert_int_ge(json_array_size(json_object_get(r.json, "items")), 7);
    reply_free(&r);
    r = T(MANAGER, "GET", "/api/v1/tickets?updated_since=2999-01-01T00:00:00Z", NULL);
    EXPECT(r, 200);
    ck_assert_int_eq(json_array_size(json_object_get(r.json, "items")), 0);
    reply_free(&r);
    /* full-text search in bodies and subjects */
    r = T(CUST3, "GET", "/api/v1/tickets?q=capacitor", NULL);
    EXPECT(r, 200);
    ck_assert_int_eq(json_array_size(json_object_get(r.json, "items")), 1);
    ck_assert_int_eq(jint(json_array_get(json_object_get(r.json, "items"), 0), "id"), ids[3]);
    reply_free(&r);
    r = T(CUST3, "GET", "/api/v1/tickets?q=%22flux%20capacitor%22", NULL);
    EXPECT(r, 200);
    ck_assert_int_eq(json_array_size(json_object_get(r.json, "items")), 1);
    reply_free(&r);
    r = T(CUST1, "GET", "/api/v1/tickets?q=capacitor", NULL);   /* not theirs */
    EXPECT(r, 200);
    ck_assert_int_eq(json_array_size(json_object_get(r.json, "items")), 0);
    reply_free(&r);
    /* internal notes are not searchable by customers */
    char np[96];
    snprintf(np, sizeof(np), "/api/v1/tickets/%lld/notes", ids[0]);
    expect_status(AGENT_B, "POST", np, "{\"body\": \"quokka internal\"}", 201);
    r = T(CUST3, "GET", "/api/v1/tickets?q=quokka", NULL);
    ck_assert_int_eq(json_array_size(json_object_get(r.json, "items")), 0);
    reply_free(&r);
    r = T(AGENT_B, "GET", "/api/v1/tickets?q=quokka", NULL);
    ck_assert_int_eq(json_array_size(json_object_get(r.json, "items")), 1);
    reply_free(&r);
}
END_TEST

/* Pages through GET /api/v1/tickets?<query>&limit=<limit> with token,
 * calling between(page) after each page; the ids seen, in order, into
 * ids (at most max); returns how many. */
static int page_all(const char *token, const char *query, int limit, long long *ids, int max,
                    void (*between)(int page))
{
    char path[512], cursor[80] = "";
    int n = 0;
    for (int page = 0; page < 100; page++) {
        snprintf(path, sizeof(path), "/api/v1/tickets?%s%slimit=%d%s%s", query, query[0] ? "&" : "",
                 limit, cursor[0] ? "&cursor=" : "", cursor);
        struct call c = { .method = "GET", .path = path, .token = token };
        struct reply r = http(&c);
        EXPECT(r, 200);
        json_t *items = json_object_get(r.json, "items");
        ck_assert_int_le(json_array_size(items), limit);
        size_t i;
        json_t *it;
        json_array_foreach(items, i, it) {
            ck_assert_int_lt(n, max);
            ids[n++] = jint(it, "id");
        }
        const char *nc = jstr(r.json, "next_cursor");
        snprintf(cursor, sizeof(cursor), "%s", nc ? nc : "");
        reply_free(&r);
        if (!nc)
            return n;
        if (between)
            between(page);
    }
    ck_abort_msg("paging did not end");
    return n;
}

static int count_of(const long long *ids, int n, long long id)
{
    int k = 0;
    for (int i = 0; i < n; i++)
        k += ids[i] == id;
    return k;
}

#define NPAGED 12
static long long paged[NPAGED];
static int touches[NPAGED];

/* A staff change to paged[i] while somebody pages: it moves to the top. */
static void touch(int i)
{
    char path[64];
    snprintf(path, sizeof(path), "/api/v1/tickets/%lld", paged[i]);
    struct reply r = T(AGENT_B, "PATCH", path, touches[i]++ % 2 ? "{\"priority\": \"normal\"}"
                                                                : "{\"priority\": \"urgent\"}");
    EXPECT(r, 200);
    reply_free(&r);
}

/* paged[] is created oldest first, so the list shows paged[11] first:
 * page 0 (limit 4) has 11..8, page 1 has 7..4, page 2 has 3..0 */
static void touch_while_paging(int page)
{
    if (page == 0) {
        touch(10);   /* seen already */
        touch(2);    /* not yet: moves ahead of the cursor */
    } else if (page == 1) {
        touch(6);    /* seen */
        touch(0);    /* not yet */
    }
}

START_TEST(paging_while_tickets_change)
{
    const char *e = NULL;
    long long pager;
    char ptok[TOKEN_MAX], h[TOKEN_HASH_HEX], sql[512];
    ck_assert_msg(user_add(DB(), "pager@example.com", "Pager", "customer", PW, "test", &pager, &e) == 0, "%s", e);
    ck_assert_int_eq(token_new("atum_", ptok, sizeof(ptok), &e), 0);
    token_hash(SECRET, ptok, strlen(ptok), h);
    snprintf(sql, sizeof(sql), "INSERT INTO api_tokens (user_id, name, token_hash, prefix) VALUES"
                               " (%lld, 'pager', '%s', 'atum_x')", pager, h);
    testdb_exec(DB(), sql);
    for (int i = 0; i < NPAGED; i++) {
        char body[256];
        snprintf(body, sizeof(body), "{\"subject\": \"Paged %d\", \"body\": \"%s\", \"queue_id\": %lld,"
                 " \"requester_id\": %lld}", i, i % 3 == 0 ? "walrus sighting" : "plain", queue_b, pager);
        struct reply r = T(AGENT_B, "POST", "/api/v1/tickets", body);
        EXPECT(r, 201);
        paged[i] = jint(r.json, "id");
        reply_free(&r);
    }
    long long ids[64];

    /* the plain list (a prepared statement per role), tickets changing
     * between pages: no ticket twice, and every one that did not change
     * exactly once, in (updated_at, id) order */
    int n = page_all(ptok, "", 4, ids, 64, touch_while_paging);
    for (int i = 0; i < NPAGED; i++) {
        int k = count_of(ids, n, paged[i]);
        ck_assert_msg(k <= 1, "ticket %lld seen %d times", paged[i], k);
        if (i != 2 && i != 0)   /* changed before they were reached */
            ck_assert_msg(k == 1, "unchanged ticket %lld (Paged %d) skipped", paged[i], i);
    }
    ck_assert_int_eq(n, NPAGED - 2);
    /* newest first as they were when seen: created in id order, and a
     * change after a ticket was seen does not show it again */
    for (int i = 1; i < n; i++)
        ck_assert_int_lt(ids[i], ids[i - 1]);

    /* with filters the general query pages: the same guarantees (from
     * the order of creation again) */
    snprintf(sql, sizeof(sql), "UPDATE tickets SET updated_at = created_at WHERE requester_id = %lld", pager);
    testdb_exec(DB(), sql);
    n = page_all(ptok, "status=new", 4, ids, 64, touch_while_paging);
    ck_assert_int_eq(n, NPAGED - 2);
    for (int i = 0; i < NPAGED; i++) {
        int k = count_of(ids, n, paged[i]);
        ck_assert_msg(k <= 1, "filtered: ticket %lld seen %d times", paged[i], k);
        if (i != 2 && i != 0)
            ck_assert_msg(k == 1, "filtered: unchanged ticket %lld (Paged %d) skipped", paged[i], i);
    }

    /* a cursor with filters: only matching tickets, each once, pages of 2 */
    testdb_exec(DB(), "UPDATE tickets SET priority = 'high' WHERE subject IN ('Paged 1', 'Paged 4', 'Paged 5',"
                      " 'Paged 8', 'Paged 11') AND requester_id = (SELECT id FROM users WHERE email = 'pager@example.com')");
    n = page_all(ptok, "priority=high", 2, ids, 64, NULL);
    ck_assert_int_eq(n, 5);
    static const int high[] = { 1, 4, 5, 8, 11 };
    for (int i = 0; i < 5; i++)
        ck_assert_int_eq(count_of(ids, n, paged[high[i]]), 1);
    for (int i = 1; i < n; i++)
        ck_assert_int_ne(ids[i], ids[i - 1]);
    /* full-text search with a cursor: the walrus tickets 0, 3, 6, 9 */
    n = page_all(ptok, "q=walrus", 1, ids, 64, NULL);
    ck_assert_int_eq(n, 4);
    static const int walrus[] = { 0, 3, 6, 9 };
    for (int i = 0; i < 4; i++)
        ck_assert_int_eq(count_of(ids, n, paged[walrus[i]]), 1);
    /* two filters and a search together, staff view */
    char q[128];
    snprintf(q, sizeof(q), "q=walrus&requester_id=%lld&status=new", pager);
    n = page_all(tok[MANAGER], q, 3, ids, 64, NULL);
    ck_assert_int_eq(n, 4);
    /* a cursor from one filter set used with another still only returns
     * what matches the filters it is sent with */
    n = page_all(ptok, "priority=high&q=walrus", 1, ids, 64, NULL);
    ck_assert_int_eq(n, 0);
}
END_TEST

/* Waits (10 s at most) until the query answers want. */
static long long wait_value(const char *sql, long long want)
{
    long long v = -1;
    for (int i = 0; i < 200 && (v = qint(sql)) != want; i++)
        usleep(50000);
    return v;
}

START_TEST(plugins_change_and_show_tickets)
{
    char path[128], sql[512], body[256];
    const char *e = NULL;
    snprintf(body, sizeof(body), "{\"url\": \"http://127.0.0.1:%d/plugin\", \"events\": [\"ticket.updated\"]}",
             W.hook_port);
    struct reply r = T(ADMIN, "POST", "/api/v1/webhooks", body);
    EXPECT(r, 201);
    long long hook = jint(r.json, "id");
    reply_free(&r);
    long long t = new_ticket(CUST1, queue_a, "Plugin changes me", "x");
    /* a plugin job changes the ticket through the desk: the same rules,
     * an event that names the plugin, an internal note */
    char payload[200];
    snprintf(payload, sizeof(payload), "{\"in_tx\": true, \"ticket\": %lld, \"priority\": \"high\","
             " \"note\": \"raised by testplug\"}", t);
    struct atum_job_spec spec = { .kind = "testplug.work", .payload = payload };
    ck_assert_msg(jobs_enqueue(DB(), &spec, NULL, &e) == 0, "%s", e);
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM tickets WHERE id = %lld AND priority = 'high'", t);
    ck_assert_int_eq(wait_value(sql, 1), 1);
    ck_assert_int_eq(qintf("SELECT count(*) FROM messages WHERE ticket_id = %lld AND visibility = 'internal'"
                           " AND body_text = 'raised by testplug' AND subject = 'plugin:testplug'", t), 1);
    ck_assert_int_eq(qintf("SELECT count(*) FROM webhook_deliveries WHERE webhook_id = %lld"
                           " AND (payload->>'ticket_id')::bigint = %lld AND payload->>'source' = 'plugin:testplug'"
                           " AND payload->'changes'->'priority'->>'to' = 'high'", hook, t), 1);
    /* staff see the plugin's part of the ticket; customers do not */
    snprintf(path, sizeof(path), "/api/v1/tickets/%lld", t);
    r = T(AGENT_A, "GET", path, NULL);
    EXPECT(r, 200);
    json_t *tp = json_object_get(json_object_get(r.json, "plugins"), "testplug");
    ck_assert_msg(json_is_object(tp), "no plugins.testplug: %s", strbuf_str(&r.body));
    ck_assert_int_eq(jint(tp, "seen"), t);
    ck_assert_int_eq(jint(r.json, "id"), t);
    reply_free(&r);
    r = T(CUST1, "GET", path, NULL);
    EXPECT(r, 200);
    ck_assert_ptr_null(json_object_get(r.json, "plugins"));
    reply_free(&r);
    /* a merged ticket refuses a plugin's change like anyone's */
    long long t2 = new_ticket(CUST1, queue_a, "Merged away", "x");
    snprintf(path, sizeof(path), "/api/v1/tickets/%lld/merge", t2);
    snprintf(body, sizeof(body), "{\"into_id\": %lld}", t);
    expect_status(AGENT_A, "POST", path, body, 200);
    snprintf(payload, sizeof(payload), "{\"in_tx\": true, \"ticket\": %lld, \"priority\": \"low\"}", t2);
    long long job = 0;
    ck_assert_msg(jobs_enqueue(DB(), &spec, &job, &e) == 0, "%s", e);
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM jobs WHERE id = %lld AND last_error LIKE '%%merged%%'", job);
    ck_assert_int_eq(wait_value(sql, 1), 1);
    ck_assert_int_eq(qintf("SELECT count(*) FROM tickets WHERE id = %lld AND priority = 'normal'", t2), 1);
}
END_TEST

static void add(TCase *tc)
{
    tcase_add_test(tc, ticket_life_with_events_and_outbox);
    tcase_add_test(tc, list_filters_search_and_cursor);
    tcase_add_test(tc, paging_while_tickets_change);
    tcase_add_test(tc, plugins_change_and_show_tickets);
}

int main(void)
{
    return api_world_main("api_tickets", add);
}
