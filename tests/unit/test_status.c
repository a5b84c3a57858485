/* test_status -- the ticket status model of desk/status.h, every status
 * against every kind of message and every explicit change. */
#include "config.h"
#include "desk/status.h"

#include <check.h>
#include <stdio.h>

#define N TICKET_NEW
#define O TICKET_OPEN
#define P TICKET_PENDING
#define S TICKET_SOLVED
#define C TICKET_CLOSED

START_TEST(names_round_trip)
{
    for (int i = 0; i < TICKET_STATUSES; i++) {
        enum ticket_status s;
        ck_assert_int_eq(ticket_status_parse(ticket_status_name((enum ticket_status)i), &s), 0);
        ck_assert_int_eq(s, i);
    }
    enum ticket_status s;
    ck_assert_int_eq(ticket_status_parse("Open", &s), -1);
    ck_assert_int_eq(ticket_status_parse("", &s), -1);
    ck_assert_int_eq(ticket_status_parse(NULL, &s), -1);
}
END_TEST

/* the customer's side: pending and solved reopen, closed refuses */
START_TEST(customer_messages)
{
    static const struct { enum ticket_status cur; enum status_verdict v; enum ticket_status next; } t[] = {
        { N, STATUS_KEEP, N }, { O, STATUS_KEEP, O }, { P, STATUS_MOVE, O },
        { S, STATUS_MOVE, O }, { C, STATUS_REFUSE_CLOSED, C },
    };
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        enum ticket_status next;
        ck_assert_int_eq(status_after_message(t[i].cur, false, PARTY_CUSTOMER, NULL, &next), t[i].v);
        ck_assert_int_eq(next, t[i].next);
    }
}
END_TEST

/* robots, unverified senders and notes never move the status and are
 * kept even on closed tickets */
START_TEST(no_effect_parties)
{
    static const enum message_party parties[] = { PARTY_ROBOT, PARTY_UNVERIFIED, PARTY_NOTE };
    for (size_t k = 0; k < 3; k++)
        for (int cur = 0; cur < TICKET_STATUSES; cur++) {
            enum ticket_status next;
            ck_assert_int_eq(status_after_message((enum ticket_status)cur, false, parties[k], NULL, &next),
                             STATUS_KEEP);
            ck_assert_int_eq(next, cur);
        }
}
END_TEST

START_TEST(staff_replies)
{
    enum ticket_status next, req;
    ck_assert_int_eq(status_after_message(N, false, PARTY_STAFF, NULL, &next), STATUS_MOVE);
    ck_assert_int_eq(next, O);
    ck_assert_int_eq(status_after_message(P, false, PARTY_STAFF, NULL, &next), STATUS_KEEP);
    ck_assert_int_eq(next, P);
    ck_assert_int_eq(status_after_message(C, false, PARTY_STAFF, NULL, &next), STATUS_REFUSE_CLOSED);
    req = P;
    ck_assert_int_eq(status_after_message(N, false, PARTY_STAFF, &req, &next), STATUS_MOVE);
    ck_assert_int_eq(next, P);
    req = O;   /* a reply that reopens a closed ticket */
    ck_assert_int_eq(status_after_message(C, false, PARTY_STAFF, &req, &next), STATUS_MOVE);
    ck_assert_int_eq(next, O);
    req = C;   /* ... but not one that keeps it closed */
    ck_assert_int_eq(status_after_message(C, false, PARTY_STAFF, &req, &next), STATUS_REFUSE_CLOSED);
    req = S;
    ck_assert_int_eq(status_after_message(S, false, PARTY_STAFF, &req, &next), STATUS_KEEP);
}
END_TEST

START_TEST(merged_takes_nothing)
{
    static const enum message_party parties[] = { PARTY_CUSTOMER, PARTY_UNVERIFIED, PARTY_ROBOT,
                                                  PARTY_STAFF, PARTY_NOTE };
    for (size_t k = 0; k < 5; k++) {
        enum ticket_status next;
        ck_assert_int_eq(status_after_message(C, true, parties[k], NULL, &next), STATUS_REFUSE_MERGED);
    }
    for (int to = 0; to < TICKET_STATUSES; to++) {
        ck_assert_int_eq(status_change_allowed(C, (enum ticket_status)to, true, true), CHANGE_MERGED);
        ck_assert_int_eq(status_change_allowed(C, (enum ticket_status)to, true, false), CHANGE_MERGED);
    }
}
END_TEST

START_TEST(explicit_changes)
{
    /* staff: anything, closed included */
    for (int cur = 0; cur < TICKET_STATUSES; cur++)
        for (int to = 0; to < TICKET_STATUSES; to++)
            ck_assert_int_eq(status_change_allowed((enum ticket_status)cur, (enum ticket_status)to,
                                                   false, true), CHANGE_OK);
    /* customers: solve or close what is in the works, reopen a solved one */
    static const char want[TICKET_STATUSES][TICKET_STATUSES + 1] = {
        /* to:  N O P S C */
        [N] = "--- ++",
        [O] = "--- ++",
        [P] = "--- ++",
        [S] = "-+- ++",
        [C] = "--- --",
    };
    for (int cur = 0; cur < TICKET_STATUSES; cur++)
        for (int to = 0; to < TICKET_STATUSES; to++) {
            char w = want[cur][to < 3 ? to : to + 1];
            enum status_change_rule r = status_change_allowed((enum ticket_status)cur,
                                                               (enum ticket_status)to, false, false);
            ck_assert_msg((r == CHANGE_OK) == (w == '+'), "customer %s -> %s: %d",
                          ticket_status_name((enum ticket_status)cur),
                          ticket_status_name((enum ticket_status)to), r);
        }
}
END_TEST

int main(void)
{
    Suite *s = suite_create("status");
    TCase *tc = tcase_create("status");
    tcase_add_test(tc, names_round_trip);
    tcase_add_test(tc, customer_messages);
    tcase_add_test(tc, no_effect_parties);
    tcase_add_test(tc, staff_replies);
    tcase_add_test(tc, merged_takes_nothing);
    tcase_add_test(tc, explicit_changes);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
