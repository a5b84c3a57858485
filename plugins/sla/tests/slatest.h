/* slatest.h -- helpers of the sla plugin's pure unit tests: calendars
 * from JSON text, instants written as text (UTC, or a zone's wall clock),
 * a fixed pseudo-random sequence.  Test code only. */
#ifndef SLA_TESTS_SLATEST_H
#define SLA_TESTS_SLATEST_H

#include "bcal.h"
#include "calspec.h"
#include "civil.h"
#include "tzif.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static inline const char *zoneinfo(void)
{
    const char *d = getenv("ATUM_ZONEINFO");
    return d ? d : "/usr/share/zoneinfo";
}

/* A calendar from JSON text (single quotes stand for double quotes). */
static inline struct sla_calendar *cal_json(long long id, const char *text)
{
    char buf[4096];
    snprintf(buf, sizeof(buf), "%s", text);
    for (char *p = buf; *p; p++)
        if (*p == '\'')
            *p = '"';
    json_error_t je;
    json_t *j = json_loads(buf, 0, &je);
    ck_assert_msg(j != NULL, "bad test JSON: %s: %s", je.text, buf);
    struct sla_calendar *c = NULL;
    const char *e = NULL;
    ck_assert_msg(calspec_parse(j, zoneinfo(), &c, &e) == 0, "%s", e);
    json_decref(j);
    c->id = id;
    return c;
}

/* "2024-03-31 02:30" (or with ":SS") -> seconds as a wall-clock reading */
static inline int64_t reading(const char *s)
{
    char date[11];
    int h = 0, m = 0, sec = 0;
    ck_assert_msg(strlen(s) >= 16, "bad test time %s", s);
    memcpy(date, s, 10);
    date[10] = '\0';
    int64_t d;
    ck_assert_msg(civil_parse_date(date, &d) == 0, "bad test date %s", s);
    ck_assert_msg(sscanf(s + 11, "%d:%d:%d", &h, &m, &sec) >= 2, "bad test time %s", s);
    return d * 86400 + h * 3600 + m * 60 + sec;
}

/* UTC "2024-03-31 01:00" -> ms */
static inline int64_t Z(const char *s)
{
    return reading(s) * 1000;
}

/* the zone's wall clock "2024-03-31 01:00" -> ms */
static inline int64_t L(const struct sla_calendar *c, const char *s)
{
    return tz_local_to_utc(c->zone, reading(s)) * 1000;
}

static inline const char *fmt(int64_t ms, char *buf)
{
    if (ms == INT64_MIN)
        return strcpy(buf, "(none)");
    civil_format_utc(ms, buf, 40);
    return buf;
}

#define ck_assert_instant(got, want) do { \
        char g_[40], w_[40]; int64_t gv_ = (got), wv_ = (want); \
        ck_assert_msg(gv_ == wv_, "%s: got %s, want %s", #got, fmt(gv_, g_), fmt(wv_, w_)); \
    } while (0)

static uint64_t slatest_rng = 0x2545f4914f6cdd1dULL;
static inline uint64_t rnd(void)
{
    uint64_t z = (slatest_rng += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

#define H (3600 * 1000LL)
#define MIN (60 * 1000LL)

#endif
