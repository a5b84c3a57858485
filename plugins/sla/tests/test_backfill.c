/* test_backfill -- the ledger of a ticket older than the plugin, from its
 * history (sla/backfill.h): the opening, replies, customers, notes and
 * robots, recorded changes in version order, where the ticket opened, and
 * the catch-up when the history ends short of the present. */
#include "config.h"
#include "backfill.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MIN 60000LL
/* priorities by level (policy.h): 0 low, 1 normal, 2 high, 3 urgent */

/* the entries as "kind@minute source [status/priority/queue]" */
static const char *text(const struct sla_bf_entry *e, int n)
{
    static char buf[2048];
    size_t len = 0;
    buf[0] = '\0';
    for (int i = 0; i < n; i++) {
        const struct sla_event *v = &e[i].ev;
        len += (size_t)snprintf(buf + len, sizeof(buf) - len, "%s%s@%lld %s", i ? ", " : "",
                                sla_event_kind_name(v->kind), (long long)(v->at / MIN), e[i].source);
        if (v->kind == SLA_EV_START || v->kind == SLA_EV_CHANGE)
            len += (size_t)snprintf(buf + len, sizeof(buf) - len, " [%s/%s/%lld]",
                                    v->status >= 0 ? sla_status_name(v->status) : "-",
                                    v->priority >= 0 ? sla_priority_name(v->priority) : "-", v->queue_id);
    }
    return buf;
}

static const char *run(const struct sla_bf_ticket *t, struct sla_bf_message *m, int nm, struct sla_bf_change *c,
                       int nc)
{
    struct sla_bf_entry *e = NULL;
    int n = -1;
    ck_assert_int_eq(sla_backfill_entries(t, m, nm, c, nc, &e, &n), 0);
    const char *s = text(e, n);
    free(e);
    return s;
}

static struct sla_bf_change change(long long version, int64_t at)
{
    return (struct sla_bf_change){ .version = version, .at = at, .status_from = -1, .status_to = -1,
                                   .priority_from = -1, .priority_to = -1 };
}

START_TEST(a_conversation)
{
    struct sla_bf_ticket t = { .created_at = 0, .updated_at = 90 * MIN, .status = SLA_ST_PENDING,
                               .priority = 1, .queue_id = 5 };
    /* given out of order: sorted by moment, then id */
    struct sla_bf_message m[] = {
        { 14, 60 * MIN, false, true, true },   /* the customer again */
        { 11, 0, false, true, true },          /* the opening message: not "the customer again" */
        { 12, 30 * MIN, true, true, true },    /* the first reply */
        { 13, 40 * MIN, true, false, true },   /* an internal note */
        { 15, 65 * MIN, false, true, false },  /* an autoreply */
    };
    struct sla_bf_change c[] = { change(6, 90 * MIN), change(2, 30 * MIN), change(3, 35 * MIN) };
    c[0].status_from = SLA_ST_OPEN;
    c[0].status_to = SLA_ST_PENDING;
    c[1].status_from = SLA_ST_NEW;
    c[1].status_to = SLA_ST_OPEN;
    /* c[2] changed something no clock cares about (assignee): nothing */
    ck_assert_str_eq(run(&t, m, 5, c, 3),
                     "start@0 start [new/normal/5], response@30 message:12, change@30 version:2 [open/-/0],"
                     " customer@60 message:14, change@90 version:6 [pending/-/0]");
}
END_TEST

START_TEST(a_ticket_staff_opened)
{
    struct sla_bf_ticket t = { .created_at = 100 * MIN, .updated_at = 100 * MIN, .status = SLA_ST_NEW,
                               .priority = 2, .queue_id = 2 };
    /* stamped a little before its ticket (an import): counted from the start */
    struct sla_bf_message m[] = { { 1, 99 * MIN, true, true, true } };
    ck_assert_str_eq(run(&t, m, 1, NULL, 0), "start@100 start [new/high/2], response@100 message:1");
}
END_TEST

START_TEST(where_it_opened)
{
    /* now in queue 9, urgent: moved from 4 at version 3, raised from low
     * to normal at 2 and to urgent at 5 */
    struct sla_bf_ticket t = { .created_at = 0, .updated_at = 50 * MIN, .status = SLA_ST_NEW,
                               .priority = 3, .queue_id = 9 };
    struct sla_bf_change c[] = { change(5, 50 * MIN), change(3, 20 * MIN), change(2, 10 * MIN) };
    c[0].priority_from = 1;
    c[0].priority_to = 3;
    c[1].queue_from = 4;
    c[1].queue_to = 9;
    c[2].priority_from = 0;
    c[2].priority_to = 1;
    ck_assert_str_eq(run(&t, NULL, 0, c, 3),
                     "start@0 start [new/low/4], change@10 version:2 [-/normal/0], change@20 version:3 [-/-/9],"
                     " change@50 version:5 [-/urgent/0]");
}
END_TEST

START_TEST(history_short_of_the_present)
{
    /* no recorded changes: pending and high since the last update */
    struct sla_bf_ticket t = { .created_at = 0, .updated_at = 120 * MIN, .status = SLA_ST_PENDING,
                               .priority = 1, .queue_id = 3 };
    struct sla_bf_message m[] = { { 1, 0, false, true, true }, { 2, 30 * MIN, true, true, true } };
    ck_assert_str_eq(run(&t, m, 2, NULL, 0),
                     "start@0 start [new/normal/3], response@30 message:2, change@120 current [pending/-/0]");
    /* an updated_at older than the last event: the catch-up comes after it */
    t.updated_at = 10 * MIN;
    ck_assert_str_eq(run(&t, m, 2, NULL, 0),
                     "start@0 start [new/normal/3], response@30 message:2, change@30 current [pending/-/0]");
    /* a history that tells the whole story needs none */
    struct sla_bf_change c[] = { change(2, 30 * MIN) };
    c[0].status_from = SLA_ST_NEW;
    c[0].status_to = SLA_ST_PENDING;
    ck_assert_str_eq(run(&t, m, 2, c, 1),
                     "start@0 start [new/normal/3], response@30 message:2, change@30 version:2 [pending/-/0]");
}
END_TEST

START_TEST(nothing_but_the_ticket)
{
    struct sla_bf_ticket t = { .created_at = 7 * MIN, .updated_at = 7 * MIN, .status = SLA_ST_NEW,
                               .priority = 1, .queue_id = 1 };
    ck_assert_str_eq(run(&t, NULL, 0, NULL, 0), "start@7 start [new/normal/1]");
}
END_TEST

int main(void)
{
    Suite *s = suite_create("backfill");
    TCase *tc = tcase_create("backfill");
    tcase_add_test(tc, a_conversation);
    tcase_add_test(tc, a_ticket_staff_opened);
    tcase_add_test(tc, where_it_opened);
    tcase_add_test(tc, history_short_of_the_present);
    tcase_add_test(tc, nothing_but_the_ticket);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
