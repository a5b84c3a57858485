/*
 * sla/calspec.h -- a calendar as admins write it (JSON) and as the engine
 * uses it (struct sla_calendar: its zone and its struct bcal):
 *
 *   {"time_zone": "Europe/Berlin",
 *    "hours": {"mon": ["09:00-12:00", "13:00-17:00"], "fri": ["22:00-06:00"]},
 *    "holidays": [{"date": "2024-12-24", "days": 3, "name": "Christmas"},
 *                 {"month": 1, "day": 1, "name": "New Year"},
 *                 {"month": 11, "weekday": "thu", "nth": 4, "name": "Thanksgiving"}]}
 *
 * "hours" is "24/7" or an object of weekdays (sun..sat or full names;
 * a missing day is closed) to lists of "HH:MM-HH:MM"; an end at or before
 * the start runs past midnight (22:00-06:00), "00:00-24:00" is the whole
 * day.  A holiday is one date ("date"), or yearly: a month and day
 * ("month", "day"; 2/29 only in leap years) or the nth weekday of a month
 * ("month", "weekday", "nth": 1..5 or -1 for the last); "days" (1..366)
 * makes it several dates long; "name" is free text.  Unknown keys are
 * errors, so typos do not silently open or close an office.
 *
 * Pure apart from reading the zone's TZif file from zoneinfo_dir.
 * Ownership: sla_calendar_free() frees the calendar, its zone and bcal.
 * Error strings live until the next call on the same thread.
 */
#ifndef SLA_CALSPEC_H
#define SLA_CALSPEC_H

#include <jansson.h>
#include "bcal.h"
#include "tzif.h"

struct sla_calendar {
    long long id;
    char name[128];
    long long version;           /* bumped by every edit */
    struct tz_zone *zone;        /* owned */
    struct bcal *bcal;           /* owned; its zone is the one above */
};

int calspec_parse(const json_t *spec, const char *zoneinfo_dir, struct sla_calendar **cal_r,
                  const char **error_r);
void sla_calendar_free(struct sla_calendar **cal);

#endif
