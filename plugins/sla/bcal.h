/*
 * sla/bcal.h -- business calendars: weekly opening hours in a named time
 * zone, holidays, and business-time arithmetic over the UTC intervals in
 * which the calendar is open.
 *
 * A calendar lists, per weekday, up to BCAL_MAX_PER_DAY intervals of wall
 * clock time in minutes after local midnight; an interval may run past
 * midnight (22:00-06:00 is [1320, 1800)) and then belongs to the day it
 * starts on.  24/7 is [0, 1440) every day.  A holiday closes whole local
 * dates (00:00-24:00), also the part of an overnight shift that falls on
 * it.
 *
 * Each local day's intervals are mapped to UTC with the zone
 * (tz_local_to_utc: a reading clocks skip means the instant of the jump,
 * a reading they repeat means its first occurrence), so business time is
 * real elapsed time while open: a 09:00-17:00 day is 8 h on any day, a
 * 00:00-06:00 shift is 5 h on the night clocks go forward and 7 h on the
 * night they go back, and a day a zone skips (Pacific/Apia 2011-12-30)
 * has no business time at all.
 *
 * Instants and durations are milliseconds (UTC, since the epoch).
 * Pure, thread-safe on a const calendar.  Ownership: bcal_free() frees
 * the calendar and its holidays, not the zone (borrowed; it must outlive
 * the calendar).
 */
#ifndef SLA_BCAL_H
#define SLA_BCAL_H

#include <stdbool.h>
#include <stdint.h>
#include "tzif.h"

#define BCAL_MAX_PER_DAY 8
#define BCAL_MAX_HOLIDAYS 1000
/* Easter holidays: Septuagesima (-63) to Corpus Christi (+60) and a
 * little more; every one of them falls in Easter's own year */
#define BCAL_EASTER_MIN (-63)
#define BCAL_EASTER_MAX 63
/* bcal_add gives up after this many days without enough open time */
#define BCAL_HORIZON_DAYS (366 * 5)
#define BCAL_NEVER INT64_MIN

struct bcal_interval { int start, end; };   /* minutes; 0 <= start < 1440, start < end <= start + 1440 */

enum bcal_holiday_kind {
    BCAL_HOL_DATE,           /* one date (days since the epoch) */
    BCAL_HOL_YEARLY,         /* month/day every year (02-29: leap years only) */
    BCAL_HOL_YEARLY_NTH,     /* the nth (1..5, -1 last) weekday of a month every year */
    BCAL_HOL_EASTER,         /* days from Western Easter Sunday (-63..63) every year */
};

struct bcal_holiday {
    enum bcal_holiday_kind kind;
    int64_t date;            /* BCAL_HOL_DATE */
    int month, mday;         /* YEARLY */
    int wday, nth;           /* YEARLY_NTH (month too) */
    int easter;              /* EASTER: days from Easter Sunday */
    int days;                /* how many dates it closes, 1..366 */
};

struct bcal {
    const struct tz_zone *zone;                            /* borrowed */
    int nint[7];                                           /* per weekday, 0 = Sunday */
    struct bcal_interval ints[7][BCAL_MAX_PER_DAY];        /* sorted, not overlapping */
    int nhol;
    struct bcal_holiday *hol;                              /* owned */
    /* bcal_freeze(): the open spans of days [tab_first, tab_first + tab_n)
     * computed once, and the open time before each, so a measure or an
     * add over weeks is a subtraction or a binary search (owned) */
    int64_t tab_first;
    int tab_n;
    int *tab_off;                                          /* tab_n + 1 indexes into tab_from/tab_to */
    int64_t *tab_from, *tab_to;
    int64_t *tab_sum;                                      /* tab_n + 1: open ms of the days before */
};

/* An empty calendar (closed always) in a zone; add hours and holidays. */
struct bcal *bcal_new(const struct tz_zone *zone);
void bcal_free(struct bcal **c);
/* 0, or -1 with *error_r (static): more than BCAL_MAX_PER_DAY, bad
 * bounds, or overlapping an interval of that day. */
int bcal_add_hours(struct bcal *c, int wday, int start_min, int end_min, const char **error_r);
int bcal_add_holiday(struct bcal *c, const struct bcal_holiday *h, const char **error_r);
void bcal_set_always_open(struct bcal *c);

/* Computes the span table for local days [first_day, first_day + ndays)
 * after the last change; outside it everything is computed on the fly,
 * with the same results (tests/test_bcal.c checks both ways).  0, or -1
 * when out of memory (the calendar still works, only slower). */
int bcal_freeze(struct bcal *c, int64_t first_day, int ndays);

bool bcal_is_holiday(const struct bcal *c, int64_t local_day);

/* The open UTC spans of local day `day`, in order (at most
 * 2 * BCAL_MAX_PER_DAY); returns how many. */
int bcal_day_spans(const struct bcal *c, int64_t day, int64_t from_ms[], int64_t to_ms[]);

/* Business time in [from, to) (0 when to <= from). */
int64_t bcal_measure(const struct bcal *c, int64_t from_ms, int64_t to_ms);
/* The first instant by which `dur` of business time has passed since
 * `from` (from itself for dur <= 0); BCAL_NEVER when the calendar is not
 * open that long within BCAL_HORIZON_DAYS. */
int64_t bcal_add(const struct bcal *c, int64_t from_ms, int64_t dur_ms);
/* Whether the calendar is open at t. */
bool bcal_open_at(const struct bcal *c, int64_t t_ms);

#endif
