/* test_tzif -- sla/tzif.h and sla/tzrule.h: the system's zoneinfo read by
 * our own parser, checked against historic facts, against glibc's
 * reading of the same files (in this test process only: the plugin never
 * sets TZ), and against broken files. */
#include "config.h"
#include "civil.h"
#include "tzif.h"
#include "tzrule.h"

#include <check.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

static const char *zdir(void)
{
    const char *d = getenv("ATUM_ZONEINFO");
    return d ? d : "/usr/share/zoneinfo";
}

static struct tz_zone *load(const char *name)
{
    struct tz_zone *z = NULL;
    const char *e = NULL;
    ck_assert_msg(tz_zone_load(zdir(), name, &z, &e) == 0, "%s: %s", name, e);
    return z;
}

/* seconds of a UTC civil time */
static int64_t utc(int y, int mo, int d, int h, int mi)
{
    return civil_days(y, mo, d) * 86400 + h * 3600 + mi * 60;
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;
static uint64_t rng(void)
{
    /* splitmix64: the same sequence on every run */
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

START_TEST(civil_round_trip)
{
    for (int64_t d = -800000; d < 800000; d += 7) {
        int64_t y;
        int m, dd;
        civil_from_days(d, &y, &m, &dd);
        ck_assert_int_eq(civil_days(y, m, dd), d);
    }
    ck_assert_int_eq(civil_days(1970, 1, 1), 0);
    ck_assert_int_eq(civil_days(2000, 3, 1), 11017);
    ck_assert_int_eq(civil_weekday(civil_days(2024, 2, 29)), 4);   /* a Thursday */
    int64_t d;
    ck_assert_int_eq(civil_parse_date("2024-02-29", &d), 0);
    ck_assert_int_eq(civil_parse_date("2023-02-29", &d), -1);
    ck_assert_int_eq(civil_parse_date("2023-2-28", &d), -1);
    int mins;
    ck_assert_int_eq(civil_parse_hhmm("24:00", &mins), 0);
    ck_assert_int_eq(mins, 1440);
    ck_assert_int_eq(civil_parse_hhmm("24:01", &mins), -1);
    ck_assert_int_eq(civil_parse_hhmm("9:00", &mins), -1);
    ck_assert(civil_nth_weekday(2024, 11, 4, 4, &d));              /* Thanksgiving 2024 */
    ck_assert_int_eq(d, civil_days(2024, 11, 28));
    ck_assert(civil_nth_weekday(2024, 5, 1, -1, &d));              /* last Monday of May */
    ck_assert_int_eq(d, civil_days(2024, 5, 27));
    ck_assert(!civil_nth_weekday(2024, 2, 1, 5, &d));              /* no fifth Monday */
    char buf[40];
    civil_format_utc(utc(2011, 12, 30, 10, 0) * 1000 + 5, buf, sizeof(buf));
    ck_assert_str_eq(buf, "2011-12-30T10:00:00.005Z");
    civil_format_utc(-1000, buf, sizeof(buf));
    ck_assert_str_eq(buf, "1969-12-31T23:59:59Z");
}
END_TEST

START_TEST(historic_facts)
{
    struct tz_zone *z = load("Pacific/Apia");
    /* Samoa skipped Friday 2011-12-30: 23:59:59 on the 29th (-10) was
     * followed by 00:00 on the 31st (+14) */
    ck_assert_int_eq(tz_offset_at(z, utc(2011, 12, 30, 9, 59)), -10 * 3600);
    ck_assert_int_eq(tz_offset_at(z, utc(2011, 12, 30, 10, 0)), 14 * 3600);
    int64_t noon30 = civil_days(2011, 12, 30) * 86400 + 12 * 3600;
    ck_assert_int_eq(tz_local_to_utc(z, noon30), utc(2011, 12, 30, 10, 0));
    ck_assert_int_eq(tz_local_to_utc(z, civil_days(2011, 12, 31) * 86400), utc(2011, 12, 30, 10, 0));
    tz_zone_free(&z);

    z = load("America/Sao_Paulo");
    /* 2018-11-04: midnight did not happen, 00:00 -03 became 01:00 -02 */
    ck_assert_int_eq(tz_offset_at(z, utc(2018, 11, 4, 2, 59)), -3 * 3600);
    ck_assert_int_eq(tz_offset_at(z, utc(2018, 11, 4, 3, 0)), -2 * 3600);
    ck_assert_int_eq(tz_local_to_utc(z, civil_days(2018, 11, 4) * 86400), utc(2018, 11, 4, 3, 0));
    ck_assert_int_eq(tz_local_to_utc(z, civil_days(2018, 11, 4) * 86400 + 3600), utc(2018, 11, 4, 3, 0));
    /* Brazil has had no DST since 2019 */
    ck_assert_int_eq(tz_offset_at(z, utc(2030, 1, 15, 12, 0)), -3 * 3600);
    tz_zone_free(&z);

    z = load("Europe/Berlin");
    ck_assert_int_eq(tz_offset_at(z, utc(2024, 3, 31, 0, 59)), 3600);
    ck_assert_int_eq(tz_offset_at(z, utc(2024, 3, 31, 1, 0)), 7200);
    /* 02:30 on 2024-03-31 never happened: the jump (01:00Z) */
    ck_assert_int_eq(tz_local_to_utc(z, civil_days(2024, 3, 31) * 86400 + 9000), utc(2024, 3, 31, 1, 0));
    /* 02:30 on 2024-10-27 happened twice: the first (00:30Z) */
    ck_assert_int_eq(tz_local_to_utc(z, civil_days(2024, 10, 27) * 86400 + 9000), utc(2024, 10, 27, 0, 30));
    ck_assert_int_eq(tz_local_to_utc(z, civil_days(2024, 10, 27) * 86400 + 3 * 3600), utc(2024, 10, 27, 2, 0));
    /* past the table: the footer's rule (last Sundays of March/October) */
    ck_assert_int_eq(tz_offset_at(z, utc(2100, 3, 28, 0, 59)), 3600);
    ck_assert_int_eq(tz_offset_at(z, utc(2100, 3, 28, 1, 0)), 7200);
    ck_assert_int_eq(tz_offset_at(z, utc(2100, 10, 31, 1, 0)), 3600);
    tz_zone_free(&z);

    z = load("America/New_York");
    ck_assert_int_eq(tz_offset_at(z, utc(2024, 3, 10, 7, 0)), -4 * 3600);
    ck_assert_int_eq(tz_offset_at(z, utc(2024, 3, 10, 6, 59)), -5 * 3600);
    ck_assert_int_eq(tz_offset_at(z, utc(2024, 11, 3, 6, 0)), -5 * 3600);
    tz_zone_free(&z);

    z = load("Australia/Lord_Howe");
    /* half-hour DST: +10:30 standard, +11 summer, from the first Sunday
     * of October 02:00 to the first Sunday of April 02:00 */
    ck_assert_int_eq(tz_offset_at(z, utc(2024, 10, 5, 15, 29)), 10 * 3600 + 1800);
    ck_assert_int_eq(tz_offset_at(z, utc(2024, 10, 5, 15, 30)), 11 * 3600);
    ck_assert_int_eq(tz_offset_at(z, utc(2024, 4, 6, 14, 59)), 11 * 3600);
    ck_assert_int_eq(tz_offset_at(z, utc(2024, 4, 6, 15, 0)), 10 * 3600 + 1800);
    ck_assert_int_eq(tz_offset_at(z, utc(2060, 1, 1, 0, 0)), 11 * 3600);
    tz_zone_free(&z);

    z = load("Asia/Kolkata");
    ck_assert_int_eq(tz_offset_at(z, utc(2024, 6, 1, 0, 0)), 5 * 3600 + 1800);
    int64_t t, tt;
    int32_t b, a;
    ck_assert(!tz_next_transition(z, utc(2000, 1, 1, 0, 0), &t, &b, &a));
    tt = civil_days(2024, 6, 1) * 86400 + 9 * 3600;
    ck_assert_int_eq(tz_local_to_utc(z, tt), tt - 19800);
    tz_zone_free(&z);
}
END_TEST

/* every zone file, at random instants 1900-2200 and around each of its
 * transitions, against glibc's localtime_r of the same file */
static int compare_zone(const char *name, long *checked)
{
    struct tz_zone *z = NULL;
    const char *e = NULL;
    if (tz_zone_load(zdir(), name, &z, &e) < 0)
        return strcmp(e, "not a TZif file") == 0 ? 0 : -1;
    char env[2048];
    snprintf(env, sizeof(env), ":%s/%s", zdir(), name);
    setenv("TZ", env, 1);
    tzset();
    int bad = 0;
    int64_t lo = utc(1900, 1, 1, 0, 0), hi = utc(2200, 1, 1, 0, 0);
    int64_t t = lo;
    for (int i = 0; i < 400 && !bad; i++) {
        int64_t u;
        if (i < 200) {
            u = lo + (int64_t)(rng() % (uint64_t)(hi - lo));
        } else {
            int64_t tr;
            int32_t b, a;
            if (!tz_next_transition(z, t, &tr, &b, &a) || tr > hi)
                break;
            t = tr;
            u = tr - 1 + (int64_t)(i % 3);
        }
        time_t tu = (time_t)u;
        struct tm tm;
        if (localtime_r(&tu, &tm) == NULL)
            continue;
        (*checked)++;
        if (tm.tm_gmtoff != tz_offset_at(z, u)) {
            fprintf(stderr, "%s at %lld: glibc %ld, ours %d\n", name, (long long)u, tm.tm_gmtoff,
                    tz_offset_at(z, u));
            bad = 1;
        }
        /* the wall-clock reading maps back to u, or to its first occurrence */
        int64_t local = u + tz_offset_at(z, u);
        int64_t back = tz_local_to_utc(z, local);
        if (back > u || back + tz_offset_at(z, back) != local) {
            fprintf(stderr, "%s: local %lld -> %lld, not %lld\n", name, (long long)local,
                    (long long)back, (long long)u);
            bad = 1;
        }
    }
    tz_zone_free(&z);
    return bad ? -1 : 0;
}

static void walk(const char *rel, int *zones, int *failed, long *checked)
{
    char path[1024];
    snprintf(path, sizeof(path), "%s/%s", zdir(), rel);
    DIR *d = opendir(path);
    if (d == NULL)
        return;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.' || (rel[0] == '\0' && (strcmp(de->d_name, "posix") == 0
                                                        || strcmp(de->d_name, "right") == 0)))
            continue;
        char sub[1024], full[2048];
        snprintf(sub, sizeof(sub), "%s%s%s", rel, rel[0] ? "/" : "", de->d_name);
        snprintf(full, sizeof(full), "%s/%s", zdir(), sub);
        struct stat st;
        if (stat(full, &st) < 0)
            continue;
        if (S_ISDIR(st.st_mode)) {
            walk(sub, zones, failed, checked);
        } else if (S_ISREG(st.st_mode) && tz_name_valid(sub)) {
            (*zones)++;
            if (compare_zone(sub, checked) < 0)
                (*failed)++;
        }
    }
    closedir(d);
}

START_TEST(every_zone_agrees_with_glibc)
{
    int zones = 0, failed = 0;
    long checked = 0;
    walk("", &zones, &failed, &checked);
    unsetenv("TZ");
    fprintf(stderr, "zones=%d instants=%ld failed=%d\n", zones, checked, failed);
    ck_assert_int_gt(zones, 300);
    ck_assert_int_eq(failed, 0);
}
END_TEST

START_TEST(rule_strings)
{
    struct tz_rule r;
    const char *e = NULL;
    ck_assert_int_eq(tz_rule_parse("CET-1CEST,M3.5.0,M10.5.0/3", &r, &e), 0);
    ck_assert_int_eq(r.std_off, 3600);
    ck_assert_int_eq(r.dst_off, 7200);
    ck_assert_int_eq(tz_rule_parse("<+1030>-10:30<+11>-11,M10.1.0,M4.1.0", &r, &e), 0);
    ck_assert_int_eq(r.std_off, 37800);
    ck_assert_int_eq(r.dst_off, 39600);
    ck_assert_int_eq(tz_rule_parse("IST-5:30", &r, &e), 0);
    ck_assert(!r.has_dst);
    ck_assert_int_eq(tz_rule_parse("EST5EDT", &r, &e), 0);        /* the default (US) rule */
    ck_assert_int_eq(tz_rule_offset_at(&r, utc(2030, 7, 1, 0, 0)), -4 * 3600);
    /* version 3: hours beyond 24 in transition times; DST all year */
    ck_assert_int_eq(tz_rule_parse("EST5EDT,0/0,J365/25", &r, &e), 0);
    ck_assert_int_eq(tz_rule_offset_at(&r, utc(2030, 1, 1, 12, 0)), -4 * 3600);
    ck_assert_int_eq(tz_rule_offset_at(&r, utc(2030, 12, 31, 23, 0)), -4 * 3600);
    /* Jn never counts Feb 29; n does */
    ck_assert_int_eq(tz_rule_parse("AAA0BBB,J60/0,J300/0", &r, &e), 0);
    int64_t t;
    int32_t b, a;
    ck_assert(tz_rule_next(&r, utc(2024, 1, 1, 0, 0), &t, &b, &a));
    ck_assert_int_eq(t, utc(2024, 3, 1, 0, 0));
    ck_assert_int_eq(tz_rule_parse("AAA0BBB,59/0,299/0", &r, &e), 0);
    ck_assert(tz_rule_next(&r, utc(2024, 1, 1, 0, 0), &t, &b, &a));
    ck_assert_int_eq(t, utc(2024, 2, 29, 0, 0));
    const char *bad[] = { "", "E", "EST", "EST5EDT,M3.2.0", "EST5EDT,M13.2.0,M11.1.0",
                          "EST5EDT,M3.6.0,M11.1.0", "EST5EDT,M3.2.7,M11.1.0", "EST25",
                          "EST5EDT,J0,J100", "EST5EDT,366,1", "<AB>5", "<+05", "EST5:60",
                          "EST5EDT,M3.2.0/168,M11.1.0", "EST5EDT,M3.2.0,M11.1.0x", NULL };
    for (int i = 0; bad[i]; i++)
        ck_assert_msg(tz_rule_parse(bad[i], &r, &e) == -1, "accepted '%s'", bad[i]);
}
END_TEST

START_TEST(names)
{
    ck_assert(tz_name_valid("Europe/Berlin"));
    ck_assert(tz_name_valid("Etc/GMT+5"));
    ck_assert(tz_name_valid("America/Argentina/Buenos_Aires"));
    const char *bad[] = { "", "/etc/passwd", "../etc/passwd", "Europe/../../x", "a//b", "a/",
                          "Europe/Ber lin", "a\nb", "./UTC", NULL };
    for (int i = 0; bad[i]; i++)
        ck_assert_msg(!tz_name_valid(bad[i]), "accepted '%s'", bad[i]);
    struct tz_zone *z = NULL;
    const char *e = NULL;
    ck_assert_int_eq(tz_zone_load(zdir(), "Mars/Olympus_Mons", &z, &e), -1);
    ck_assert_str_eq(e, "unknown time zone");
    ck_assert_int_eq(tz_zone_load(zdir(), "../../etc/passwd", &z, &e), -1);
    ck_assert_str_eq(e, "not a valid time zone name");
    ck_assert_int_eq(tz_zone_load(zdir(), "Europe", &z, &e), -1);     /* a directory */
    ck_assert_ptr_null(z);
}
END_TEST

static unsigned char *slurp(const char *name, size_t *len)
{
    char path[1024];
    snprintf(path, sizeof(path), "%s/%s", zdir(), name);
    FILE *f = fopen(path, "rb");
    ck_assert_ptr_nonnull(f);
    unsigned char *buf = malloc(1 << 20);
    *len = fread(buf, 1, 1 << 20, f);
    fclose(f);
    return buf;
}

START_TEST(broken_files)
{
    size_t len;
    unsigned char *good = slurp("America/New_York", &len);
    struct tz_zone *z = NULL;
    const char *e = NULL;
    ck_assert_int_eq(tz_zone_parse(good, len, "x", &z, &e), 0);
    tz_zone_free(&z);
    /* every truncation is refused cleanly */
    for (size_t n = 0; n < len; n++) {
        ck_assert_msg(tz_zone_parse(good, n, "x", &z, &e) == -1, "accepted %zu of %zu bytes", n, len);
        ck_assert_ptr_null(z);
    }
    unsigned char *b = malloc(len);
    /* wrong magic, impossible counts, unsorted transitions, bad footer */
    memcpy(b, good, len);
    b[0] = 'X';
    ck_assert_int_eq(tz_zone_parse(b, len, "x", &z, &e), -1);
    ck_assert_str_eq(e, "not a TZif file");
    memcpy(b, good, len);
    b[32] = 0x7f;                                      /* timecnt of the v1 block */
    ck_assert_int_eq(tz_zone_parse(b, len, "x", &z, &e), -1);
    memcpy(b, good, len);
    b[len - 2] = '!';                                  /* footer "EST5EDT,M3.2.0,M11.1.!" */
    ck_assert_int_eq(tz_zone_parse(b, len, "x", &z, &e), -1);
    ck_assert_str_eq(e, "TZif footer is not a valid TZ string");
    memcpy(b, good, len);
    b[len - 1] = 'x';                                  /* footer not ended by a newline */
    ck_assert_int_eq(tz_zone_parse(b, len, "x", &z, &e), -1);
    /* random corruption: never a crash, never a read outside the buffer
     * (run under valgrind or ASan); what parses answers queries */
    for (int round = 0; round < 20000; round++) {
        memcpy(b, good, len);
        int flips = 1 + (int)(rng() % 8);
        for (int k = 0; k < flips; k++)
            b[rng() % len] ^= (unsigned char)(1u << (rng() % 8));
        if (tz_zone_parse(b, len, "x", &z, &e) == 0) {
            for (int k = 0; k < 8; k++) {
                int64_t u = (int64_t)(rng() % 8000000000ULL) - 3000000000LL;
                int32_t off = tz_offset_at(z, u);
                ck_assert(off >= -89999 && off <= 93599);
                (void)tz_local_to_utc(z, u);
            }
            tz_zone_free(&z);
        }
    }
    free(b);
    free(good);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("tzif");
    TCase *tc = tcase_create("tzif");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, civil_round_trip);
    tcase_add_test(tc, historic_facts);
    tcase_add_test(tc, every_zone_agrees_with_glibc);
    tcase_add_test(tc, rule_strings);
    tcase_add_test(tc, names);
    tcase_add_test(tc, broken_files);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
