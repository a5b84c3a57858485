/*
 * sla/civil.h -- the proleptic Gregorian calendar as plain arithmetic:
 * days since 1970-01-01 <-> year, month, day; weekdays; "YYYY-MM-DD" and
 * "HH:MM" text.  No time zone, no libc time functions (timegm, mktime,
 * localtime_r all depend on the process's TZ or are not in C11), so the
 * results are the same in every thread and every process.
 *
 * Algorithms: H. Hinnant, "chrono-Compatible Low-Level Date Algorithms"
 * (days_from_civil / civil_from_days), exact for every int32 year.
 * Pure functions; nothing to free.
 */
#ifndef SLA_CIVIL_H
#define SLA_CIVIL_H

#include <stdbool.h>
#include <stdint.h>

#define CIVIL_DAY_S 86400LL

/* Days since 1970-01-01 of y-m-d (m 1..12, d 1..31; not validated). */
int64_t civil_days(int64_t y, int m, int d);
/* The inverse. */
void civil_from_days(int64_t days, int64_t *y_r, int *m_r, int *d_r);
/* 0 = Sunday ... 6 = Saturday. */
int civil_weekday(int64_t days);
bool civil_leap(int64_t y);
int civil_month_days(int64_t y, int m);
/* Floor division, for instants before 1970 too. */
int64_t civil_floor_div(int64_t a, int64_t b);

/* "YYYY-MM-DD" (exactly) -> days; 0 or -1 when malformed or no such day. */
int civil_parse_date(const char *s, int64_t *days_r);
/* "HH:MM" with 00:00..24:00 -> minutes of the day; 0 or -1. */
int civil_parse_hhmm(const char *s, int *minutes_r);
/* "sun".."sat" (case-insensitive; full English names too) -> 0..6, or -1. */
int civil_parse_weekday(const char *s);
/* The day of the nth (1..5) or last (n = -1) weekday wd of y-m; false
 * when that month has no such day (a fifth Monday). */
bool civil_nth_weekday(int64_t y, int m, int wd, int n, int64_t *days_r);

/* Western (Gregorian) Easter Sunday of year y as days since 1970-01-01:
 * the anonymous Gregorian computus (Meeus/Jones/Butcher), with floor
 * division so every year gives a date of the proleptic calendar. */
int64_t civil_easter(int64_t y);

/* An instant in milliseconds as "YYYY-MM-DDTHH:MM:SS[.mmm]Z" (buf >= 32). */
void civil_format_utc(int64_t ms, char *buf, unsigned size);

#endif
