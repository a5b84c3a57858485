/* test_bcal -- business calendars (sla/bcal.h, sla/calspec.h): the
 * calendar matrix of the SLA issue as plain arithmetic, the property
 * that adding a business duration and measuring it back agree, and
 * calendars admins get wrong. */
#include "config.h"
#include "slatest.h"

#define WEEK(h) "'mon':[" h "],'tue':[" h "],'wed':[" h "],'thu':[" h "],'fri':[" h "]"

/* ---- DST inside business hours ---------------------------------------- */

START_TEST(dst_berlin_and_new_york)
{
    struct sla_calendar *c = cal_json(1, "{'time_zone':'Europe/Berlin','hours':{'sun':['00:00-12:00']}}");
    /* spring forward 2024-03-31 02:00 -> 03:00: 4 h from midnight end at 05:00 on the wall */
    ck_assert_instant(bcal_add(c->bcal, L(c, "2024-03-31 00:00"), 4 * H), Z("2024-03-31 03:00"));
    ck_assert_instant(bcal_add(c->bcal, L(c, "2024-03-31 00:00"), 4 * H), L(c, "2024-03-31 05:00"));
    ck_assert_int_eq(bcal_measure(c->bcal, Z("2024-03-30 00:00"), Z("2024-04-01 00:00")), 11 * H);
    /* fall back 2024-10-27 03:00 -> 02:00: the same 4 h end at 03:00 */
    ck_assert_instant(bcal_add(c->bcal, L(c, "2024-10-27 00:00"), 4 * H), Z("2024-10-27 02:00"));
    ck_assert_instant(bcal_add(c->bcal, L(c, "2024-10-27 00:00"), 4 * H), L(c, "2024-10-27 03:00"));
    ck_assert_int_eq(bcal_measure(c->bcal, Z("2024-10-26 00:00"), Z("2024-10-28 00:00")), 13 * H);
    sla_calendar_free(&c);

    c = cal_json(1, "{'time_zone':'America/New_York','hours':{'sun':['00:00-12:00']}}");
    ck_assert_instant(bcal_add(c->bcal, L(c, "2024-03-10 00:00"), 4 * H), Z("2024-03-10 09:00"));
    ck_assert_int_eq(bcal_measure(c->bcal, Z("2024-03-10 00:00"), Z("2024-03-11 00:00")), 11 * H);
    ck_assert_instant(bcal_add(c->bcal, L(c, "2024-11-03 00:00"), 4 * H), Z("2024-11-03 08:00"));
    ck_assert_int_eq(bcal_measure(c->bcal, Z("2024-11-03 00:00"), Z("2024-11-04 00:00")), 13 * H);
    sla_calendar_free(&c);
}
END_TEST

START_TEST(midnight_transition_sao_paulo)
{
    /* 2018-11-04: 00:00 did not happen (-03 -> -02), the Sunday shift
     * 00:00-08:00 opens when the clocks jump, at 01:00 */
    struct sla_calendar *c = cal_json(1, "{'time_zone':'America/Sao_Paulo','hours':{'sun':['00:00-08:00']}}");
    int64_t a[16], b[16];
    ck_assert_int_eq(bcal_day_spans(c->bcal, civil_days(2018, 11, 4), a, b), 1);
    ck_assert_instant(a[0], Z("2018-11-04 03:00"));
    ck_assert_instant(b[0], Z("2018-11-04 10:00"));
    ck_assert_instant(bcal_add(c->bcal, L(c, "2018-11-03 23:00"), 1 * H), Z("2018-11-04 04:00"));
    ck_assert(!bcal_open_at(c->bcal, Z("2018-11-04 02:59")));
    ck_assert(bcal_open_at(c->bcal, Z("2018-11-04 03:00")));
    sla_calendar_free(&c);
}
END_TEST

START_TEST(half_hour_dst_lord_howe)
{
    struct sla_calendar *c = cal_json(1, "{'time_zone':'Australia/Lord_Howe','hours':{'sun':['00:00-06:00']}}");
    /* 2024-10-06 02:00 -> 02:30: the night shift is 5.5 h */
    ck_assert_int_eq(bcal_measure(c->bcal, Z("2024-10-05 00:00"), Z("2024-10-07 00:00")), 5 * H + 30 * MIN);
    ck_assert_instant(bcal_add(c->bcal, L(c, "2024-10-06 00:00"), 3 * H), Z("2024-10-05 16:30"));
    /* 2024-04-07 02:00 -> 01:30: 6.5 h */
    ck_assert_int_eq(bcal_measure(c->bcal, Z("2024-04-06 00:00"), Z("2024-04-08 00:00")), 6 * H + 30 * MIN);
    ck_assert_instant(bcal_add(c->bcal, L(c, "2024-04-07 00:00"), 3 * H), Z("2024-04-06 16:00"));
    sla_calendar_free(&c);
}
END_TEST

START_TEST(no_dst_kolkata)
{
    struct sla_calendar *c = cal_json(1, "{'time_zone':'Asia/Kolkata','hours':{" WEEK("'09:30-18:00'") "}}");
    ck_assert_instant(bcal_add(c->bcal, L(c, "2024-06-07 17:00"), 2 * H), L(c, "2024-06-10 10:30"));
    ck_assert_instant(L(c, "2024-06-10 10:30"), Z("2024-06-10 05:00"));
    sla_calendar_free(&c);
}
END_TEST

START_TEST(skipped_day_apia)
{
    /* Samoa skipped Friday 2011-12-30: no business hours that day */
    struct sla_calendar *c = cal_json(1, "{'time_zone':'Pacific/Apia','hours':{" WEEK("'09:00-17:00'")
                                         ",'sat':['09:00-17:00']}}");
    int64_t a[16], b[16];
    ck_assert_int_eq(bcal_day_spans(c->bcal, civil_days(2011, 12, 30), a, b), 0);
    ck_assert_instant(bcal_add(c->bcal, L(c, "2011-12-29 16:00"), 4 * H), Z("2011-12-30 22:00"));
    ck_assert_instant(Z("2011-12-30 22:00"), L(c, "2011-12-31 12:00"));
    ck_assert_int_eq(bcal_measure(c->bcal, L(c, "2011-12-29 00:00"), L(c, "2012-01-01 00:00")), 16 * H);
    sla_calendar_free(&c);
}
END_TEST

/* ---- office hours, weekends, holidays ------------------------------------- */

#define OFFICE "{'time_zone':'Europe/Berlin','hours':{" WEEK("'09:00-17:00'") "},'holidays':[" \
    "{'month':12,'day':25,'days':2,'name':'Christmas'},{'date':'2024-07-01','days':5}," \
    "{'month':12,'day':31,'days':2,'name':'New Year'},{'month':2,'day':29,'name':'leap day'}]}"

START_TEST(outside_hours_weekend_holidays)
{
    struct sla_calendar *c = cal_json(1, OFFICE);
    ck_assert_instant(bcal_add(c->bcal, L(c, "2024-06-04 20:00"), 2 * H), L(c, "2024-06-05 11:00"));
    ck_assert_instant(bcal_add(c->bcal, L(c, "2024-06-08 10:00"), 2 * H), L(c, "2024-06-10 11:00"));
    ck_assert_instant(bcal_add(c->bcal, L(c, "2024-12-25 10:00"), 2 * H), L(c, "2024-12-27 11:00"));
    /* a week-long holiday */
    ck_assert_instant(bcal_add(c->bcal, L(c, "2024-06-28 16:00"), 2 * H), L(c, "2024-07-08 10:00"));
    /* a yearly holiday across the year end (12-31 and 01-01) */
    ck_assert_instant(bcal_add(c->bcal, L(c, "2024-12-30 16:00"), 2 * H), L(c, "2025-01-02 10:00"));
    ck_assert(bcal_is_holiday(c->bcal, civil_days(2031, 1, 1)));
    /* leap day: a holiday in 2024, no such day in 2023 */
    ck_assert_instant(bcal_add(c->bcal, L(c, "2024-02-28 16:00"), 2 * H), L(c, "2024-03-01 10:00"));
    ck_assert_instant(bcal_add(c->bcal, L(c, "2023-02-28 16:00"), 2 * H), L(c, "2023-03-01 10:00"));
    ck_assert(!bcal_is_holiday(c->bcal, civil_days(2023, 3, 1)));
    sla_calendar_free(&c);

    c = cal_json(1, "{'time_zone':'Europe/Berlin','hours':{" WEEK("'09:00-17:00'") "}}");
    ck_assert_instant(bcal_add(c->bcal, L(c, "2024-12-31 16:30"), 2 * H), L(c, "2025-01-01 10:30"));
    sla_calendar_free(&c);

    c = cal_json(1, "{'time_zone':'America/New_York','hours':{" WEEK("'09:00-17:00'") "},'holidays':["
                    "{'month':11,'weekday':'thu','nth':4,'name':'Thanksgiving'},"
                    "{'month':5,'weekday':'mon','nth':-1,'name':'Memorial Day'}]}");
    ck_assert_instant(bcal_add(c->bcal, L(c, "2024-11-27 16:00"), 2 * H), L(c, "2024-11-29 10:00"));
    ck_assert(bcal_is_holiday(c->bcal, civil_days(2024, 5, 27)));
    ck_assert(bcal_is_holiday(c->bcal, civil_days(2025, 5, 26)));
    sla_calendar_free(&c);
}
END_TEST

/* ---- Easter ------------------------------------------------------------------- */

START_TEST(easter_sunday_known_dates)
{
    static const struct { int y, m, d; } known[] = {
        { 1583, 4, 10 }, { 1818, 3, 22 }, { 1943, 4, 25 }, { 1961, 4, 2 }, { 2000, 4, 23 },
        { 2011, 4, 24 }, { 2019, 4, 21 }, { 2024, 3, 31 }, { 2025, 4, 20 }, { 2026, 4, 5 },
        { 2038, 4, 25 }, { 2285, 3, 22 },
    };
    for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
        int64_t y;
        int m, d;
        civil_from_days(civil_easter(known[i].y), &y, &m, &d);
        ck_assert_msg(y == known[i].y && m == known[i].m && d == known[i].d, "Easter %d: %lld-%02d-%02d",
                      known[i].y, (long long)y, m, d);
    }
    /* every Easter is a Sunday from March 22 to April 25, and the dates
     * repeat after the Gregorian cycle of 5,700,000 years */
    for (int64_t yr = 1583; yr <= 9999; yr++) {
        int64_t e = civil_easter(yr);
        ck_assert_int_eq(civil_weekday(e), 0);
        ck_assert(e >= civil_days(yr, 3, 22) && e <= civil_days(yr, 4, 25));
        int64_t y2;
        int m1, d1, m2, d2;
        civil_from_days(e, &y2, &m1, &d1);
        civil_from_days(civil_easter(yr + 5700000), &y2, &m2, &d2);
        ck_assert(y2 == yr + 5700000 && m1 == m2 && d1 == d2);
    }
}
END_TEST

#define EASTER_OFFICE "{'time_zone':'Europe/Berlin','hours':{" WEEK("'09:00-17:00'") "},'holidays':[" \
    "{'easter':-2,'name':'Good Friday'},{'easter':1,'name':'Easter Monday'}," \
    "{'easter':39,'name':'Ascension'},{'easter':49,'days':2,'name':'Whitsun'}]}"

START_TEST(easter_weekend_in_business_time)
{
    struct sla_calendar *c = cal_json(1, EASTER_OFFICE);
    /* 2024: Good Friday 03-29, Easter Sunday 03-31 (Berlin's clocks go
     * forward that night), Easter Monday 04-01: a ticket of Thursday
     * 16:00 with 2 h is due on Tuesday at 10:00 */
    ck_assert_instant(bcal_add(c->bcal, L(c, "2024-03-28 16:00"), 2 * H), L(c, "2024-04-02 10:00"));
    ck_assert_int_eq(bcal_measure(c->bcal, L(c, "2024-03-28 16:00"), L(c, "2024-04-02 10:00")), 2 * H);
    ck_assert(bcal_is_holiday(c->bcal, civil_days(2024, 3, 29)));
    ck_assert(bcal_is_holiday(c->bcal, civil_days(2024, 4, 1)));
    ck_assert(!bcal_is_holiday(c->bcal, civil_days(2024, 3, 28)));
    ck_assert(!bcal_is_holiday(c->bcal, civil_days(2024, 4, 2)));
    /* 2025: Easter 04-20, so 04-18 and 04-21 are closed, 2024's dates are not */
    ck_assert_instant(bcal_add(c->bcal, L(c, "2025-04-17 16:00"), 2 * H), L(c, "2025-04-22 10:00"));
    ck_assert(!bcal_is_holiday(c->bcal, civil_days(2025, 3, 29)));
    ck_assert(!bcal_is_holiday(c->bcal, civil_days(2025, 4, 1)));
    /* Ascension (Thursday 2025-05-29) and Whit Sunday and Monday (06-08, 06-09) */
    ck_assert(bcal_is_holiday(c->bcal, civil_days(2025, 5, 29)));
    ck_assert(bcal_is_holiday(c->bcal, civil_days(2025, 6, 9)));
    ck_assert(!bcal_is_holiday(c->bcal, civil_days(2025, 6, 10)));
    ck_assert_instant(bcal_add(c->bcal, L(c, "2025-06-06 16:00"), 2 * H), L(c, "2025-06-10 10:00"));
    /* a week of business time over Easter 2026 (04-05): 5 days minus 2 */
    ck_assert_int_eq(bcal_measure(c->bcal, L(c, "2026-03-30 00:00"), L(c, "2026-04-13 00:00")), 8 * 8 * H);
    sla_calendar_free(&c);
}
END_TEST

START_TEST(overnight_24x7_split)
{
    struct sla_calendar *c = cal_json(1, "{'time_zone':'Europe/Berlin','hours':{" WEEK("'22:00-06:00'") "}}");
    /* Friday's shift runs into Saturday; the next is Monday night */
    ck_assert_instant(bcal_add(c->bcal, L(c, "2024-06-07 23:00"), 8 * H), L(c, "2024-06-10 23:00"));
    ck_assert(bcal_open_at(c->bcal, L(c, "2024-06-08 05:59")));
    ck_assert(!bcal_open_at(c->bcal, L(c, "2024-06-08 06:00")));
    sla_calendar_free(&c);

    /* an overnight shift across the spring-forward night is 7 h */
    c = cal_json(1, "{'time_zone':'Europe/Berlin','hours':{'sat':['22:00-06:00']}}");
    ck_assert_int_eq(bcal_measure(c->bcal, Z("2024-03-30 00:00"), Z("2024-04-01 00:00")), 7 * H);
    sla_calendar_free(&c);

    /* a holiday closes the part of an overnight shift on its date */
    c = cal_json(1, "{'time_zone':'Europe/Berlin','hours':{'thu':['22:00-06:00']},"
                    "'holidays':[{'date':'2024-06-07'}]}");
    ck_assert_int_eq(bcal_measure(c->bcal, L(c, "2024-06-06 00:00"), L(c, "2024-06-08 00:00")), 2 * H);
    sla_calendar_free(&c);

    c = cal_json(1, "{'time_zone':'Europe/Berlin','hours':'24/7'}");
    ck_assert_instant(bcal_add(c->bcal, L(c, "2024-03-30 12:00"), 24 * H), Z("2024-03-31 11:00"));
    ck_assert_int_eq(bcal_measure(c->bcal, Z("2024-01-01 00:00"), Z("2025-01-01 00:00")), 366 * 24 * H);
    sla_calendar_free(&c);

    c = cal_json(1, "{'time_zone':'Europe/Berlin','hours':{'mon':['09:00-12:00','13:00-17:00']}}");
    ck_assert_instant(bcal_add(c->bcal, L(c, "2024-06-03 11:30"), 1 * H), L(c, "2024-06-03 13:30"));
    ck_assert_int_eq(bcal_measure(c->bcal, L(c, "2024-06-03 00:00"), L(c, "2024-06-04 00:00")), 7 * H);
    sla_calendar_free(&c);
}
END_TEST

START_TEST(never_open)
{
    struct sla_calendar *c = cal_json(1, "{'time_zone':'UTC','hours':{}}");
    ck_assert(bcal_add(c->bcal, Z("2024-01-01 00:00"), 1) == BCAL_NEVER);
    ck_assert_int_eq(bcal_measure(c->bcal, Z("2024-01-01 00:00"), Z("2025-01-01 00:00")), 0);
    ck_assert_instant(bcal_add(c->bcal, Z("2024-01-01 00:00"), 0), Z("2024-01-01 00:00"));
    sla_calendar_free(&c);
}
END_TEST

/* ---- the property: add a business duration, measure it back ------------- */

START_TEST(add_then_measure_gives_the_duration)
{
    const char *cals[] = {
        OFFICE,
        "{'time_zone':'America/New_York','hours':{" WEEK("'08:00-12:00','12:30-17:30'") ",'sun':['00:00-04:00']}}",
        "{'time_zone':'Pacific/Apia','hours':{" WEEK("'09:00-17:00'") ",'sat':['09:00-17:00']}}",
        "{'time_zone':'Australia/Lord_Howe','hours':{" WEEK("'22:00-06:00'") ",'sat':['01:00-03:00']}}",
        "{'time_zone':'America/Sao_Paulo','hours':'24/7','holidays':[{'month':1,'day':1}]}",
        "{'time_zone':'Asia/Kolkata','hours':{'wed':['00:00-24:00'],'thu':['23:30-00:30']}}",
        "{'time_zone':'Europe/Berlin','hours':{'sun':['00:30-03:30'],'sat':['02:00-02:30']}}",
    };
    const int64_t lo = Z("2010-01-01 00:00"), hi = Z("2030-01-01 00:00");
    long checks = 0;
    for (size_t k = 0; k < sizeof(cals) / sizeof(cals[0]); k++) {
        struct sla_calendar *c = cal_json(1, cals[k]);
        for (int i = 0; i < 1500; i++) {
            int64_t s = lo + (int64_t)(rnd() % (uint64_t)(hi - lo));
            if (i % 3 == 0)
                s -= s % (30 * MIN);            /* on interval edges too */
            int64_t d = 1 + (int64_t)(rnd() % (uint64_t)(i % 2 ? 3 * H : 200 * H));
            int64_t t = bcal_add(c->bcal, s, d);
            ck_assert_msg(t != BCAL_NEVER, "%s: never", cals[k]);
            ck_assert_msg(bcal_measure(c->bcal, s, t) == d, "%s: from %lld add %lld -> %lld measures %lld",
                          cals[k], (long long)s, (long long)d, (long long)t,
                          (long long)bcal_measure(c->bcal, s, t));
            /* the first such instant */
            ck_assert(bcal_measure(c->bcal, s, t - 1) == d - 1);
            /* additive */
            int64_t d2 = 1 + (int64_t)(rnd() % (uint64_t)(50 * H));
            ck_assert_int_eq(bcal_add(c->bcal, t, d2), bcal_add(c->bcal, s, d + d2));
            checks += 3;
        }
        sla_calendar_free(&c);
    }
    fprintf(stderr, "property checks: %ld\n", checks);
}
END_TEST

/* the precomputed table (2000-2045) and computing each day on the fly
 * give the same answers, inside it, outside it and across its edges */
START_TEST(table_and_direct_agree)
{
    const char *cals[] = {
        OFFICE,
        "{'time_zone':'Australia/Lord_Howe','hours':{" WEEK("'22:00-06:00'") ",'sat':['01:00-03:00']}}",
        "{'time_zone':'America/Sao_Paulo','hours':'24/7','holidays':[{'month':1,'day':1,'days':3}]}",
        "{'time_zone':'Pacific/Apia','hours':{'fri':['09:00-17:00']}}",
    };
    const int64_t lo = Z("1995-01-01 00:00"), hi = Z("2051-01-01 00:00");
    const int64_t edges[] = { Z("2000-01-01 00:00"), Z("2046-01-01 00:00") };
    for (size_t k = 0; k < sizeof(cals) / sizeof(cals[0]); k++) {
        struct sla_calendar *frozen = cal_json(1, cals[k]), *direct = cal_json(1, cals[k]);
        ck_assert_int_gt(frozen->bcal->tab_n, 16000);
        ck_assert_int_eq(bcal_freeze(direct->bcal, 0, 0), 0);
        ck_assert_int_eq(direct->bcal->tab_n, 0);
        for (int i = 0; i < 3000; i++) {
            int64_t s = i % 2 ? edges[i % 4 / 2] - (int64_t)(rnd() % (uint64_t)(400 * 24 * H))
                              : lo + (int64_t)(rnd() % (uint64_t)(hi - lo));
            int64_t t = s + (int64_t)(rnd() % (uint64_t)(i % 3 ? 30 * 24 * H : 900 * 24 * H));
            int64_t d = 1 + (int64_t)(rnd() % (uint64_t)(i % 3 ? 50 * H : 3000 * H));
            ck_assert_int_eq(bcal_measure(frozen->bcal, s, t), bcal_measure(direct->bcal, s, t));
            ck_assert_int_eq(bcal_add(frozen->bcal, s, d), bcal_add(direct->bcal, s, d));
        }
        sla_calendar_free(&frozen);
        sla_calendar_free(&direct);
    }
}
END_TEST

/* ---- calendars admins get wrong ----------------------------------------- */

START_TEST(bad_calendars_are_refused_with_a_reason)
{
    static const struct { const char *json, *error; } cases[] = {
        { "[]", "a calendar is a JSON object" },
        { "{'hours':'24/7'}", "time_zone: an IANA time zone name, e.g. \"Europe/Berlin\"" },
        { "{'time_zone':'Mars/Base','hours':'24/7'}", "time_zone 'Mars/Base': unknown time zone" },
        { "{'time_zone':'../../etc/passwd','hours':'24/7'}",
          "time_zone '../../etc/passwd': not a valid time zone name" },
        { "{'time_zone':'UTC'}", "hours: \"24/7\" or an object of weekdays" },
        { "{'time_zone':'UTC','hours':'9-5'}", "hours: \"24/7\" or an object of weekdays" },
        { "{'time_zone':'UTC','hours':{'mondays':['09:00-17:00']}}", "hours: 'mondays' is not a weekday (sun..sat)" },
        { "{'time_zone':'UTC','hours':{'mon':'09:00-17:00'}}", "hours.mon: a list of \"HH:MM-HH:MM\"" },
        { "{'time_zone':'UTC','hours':{'mon':['9:00-17:00']}}", "hours.mon[0]: not \"HH:MM-HH:MM\"" },
        { "{'time_zone':'UTC','hours':{'mon':['09:00-25:00']}}", "hours.mon[0]: not \"HH:MM-HH:MM\"" },
        { "{'time_zone':'UTC','hours':{'mon':['09:00-09:00']}}", "hours.mon[0]: not \"HH:MM-HH:MM\"" },
        { "{'time_zone':'UTC','hours':{'mon':['09:00-12:00','11:00-13:00']}}", "hours.mon[1]: intervals of one day overlap" },
        { "{'time_zone':'UTC','hours':{'mon':['01:00-02:00','02:00-03:00','03:00-04:00','04:00-05:00',"
          "'05:00-06:00','06:00-07:00','07:00-08:00','08:00-09:00','09:00-10:00']}}",
          "hours.mon[8]: too many intervals in one day (at most 8)" },
        { "{'time_zone':'UTC','hours':'24/7','holidays':{}}", "holidays: a list" },
        { "{'time_zone':'UTC','hours':'24/7','holidays':[{'date':'2024-02-30'}]}", "holidays[0].date: not a date YYYY-MM-DD" },
        { "{'time_zone':'UTC','hours':'24/7','holidays':[{'month':2,'day':30}]}", "holidays[0]: no such day in that month" },
        { "{'time_zone':'UTC','hours':'24/7','holidays':[{'month':13,'day':1}]}", "holidays[0].month: 1..12" },
        { "{'time_zone':'UTC','hours':'24/7','holidays':[{'date':'2024-01-01','month':1}]}",
          "holidays[0]: a \"date\", or \"month\" and \"day\", or \"month\", \"weekday\" and \"nth\", or \"easter\"" },
        { "{'time_zone':'UTC','hours':'24/7','holidays':[{'month':11,'weekday':'thu','nth':0}]}",
          "holidays[0].nth: 1..5, or -1 for the last" },
        { "{'time_zone':'UTC','hours':'24/7','holidays':[{'date':'2024-01-01','days':0}]}", "holidays[0].days: 1..366" },
        { "{'time_zone':'UTC','hours':'24/7','holidays':[{'date':'2024-01-01','when':'x'}]}",
          "holidays[0]: unknown key 'when'" },
        { "{'time_zone':'UTC','hours':'24/7','holidays':[{'easter':64}]}",
          "holidays[0].easter: days from Easter Sunday, -63..63" },
        { "{'time_zone':'UTC','hours':'24/7','holidays':[{'easter':-64}]}",
          "holidays[0].easter: days from Easter Sunday, -63..63" },
        { "{'time_zone':'UTC','hours':'24/7','holidays':[{'easter':'-2'}]}",
          "holidays[0].easter: days from Easter Sunday, -63..63" },
        { "{'time_zone':'UTC','hours':'24/7','holidays':[{'easter':1.5}]}",
          "holidays[0].easter: days from Easter Sunday, -63..63" },
        { "{'time_zone':'UTC','hours':'24/7','holidays':[{'easter':-2,'month':4}]}",
          "holidays[0].easter: alone (with \"days\" and \"name\"), not with a date, month, day, weekday or nth" },
        { "{'time_zone':'UTC','hours':'24/7','holidays':[{'date':'2024-03-29','easter':-2}]}",
          "holidays[0].easter: alone (with \"days\" and \"name\"), not with a date, month, day, weekday or nth" },
        { "{'time_zone':'UTC','hours':'24/7','holidays':[{'easter':1,'days':0}]}", "holidays[0].days: 1..366" },
        { "{'time_zone':'UTC','hours':'24/7','tz':'x'}", "unknown key 'tz' (time_zone, hours, holidays)" },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char buf[1024];
        snprintf(buf, sizeof(buf), "%s", cases[i].json);
        for (char *p = buf; *p; p++)
            if (*p == '\'')
                *p = '"';
        json_t *j = json_loads(buf, 0, NULL);
        ck_assert_ptr_nonnull(j);
        struct sla_calendar *c = NULL;
        const char *e = NULL;
        ck_assert_msg(calspec_parse(j, zoneinfo(), &c, &e) == -1, "accepted %s", cases[i].json);
        ck_assert_ptr_null(c);
        ck_assert_str_eq(e, cases[i].error);
        json_decref(j);
    }
}
END_TEST

int main(void)
{
    Suite *s = suite_create("bcal");
    TCase *tc = tcase_create("bcal");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, dst_berlin_and_new_york);
    tcase_add_test(tc, midnight_transition_sao_paulo);
    tcase_add_test(tc, half_hour_dst_lord_howe);
    tcase_add_test(tc, no_dst_kolkata);
    tcase_add_test(tc, skipped_day_apia);
    tcase_add_test(tc, outside_hours_weekend_holidays);
    tcase_add_test(tc, easter_sunday_known_dates);
    tcase_add_test(tc, easter_weekend_in_business_time);
    tcase_add_test(tc, overnight_24x7_split);
    tcase_add_test(tc, never_open);
    tcase_add_test(tc, add_then_measure_gives_the_duration);
    tcase_add_test(tc, table_and_direct_agree);
    tcase_add_test(tc, bad_calendars_are_refused_with_a_reason);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
