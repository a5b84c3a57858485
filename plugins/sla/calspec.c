/* sla/calspec.c -- see calspec.h. */
#include "calspec.h"
#include "civil.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static _Thread_local char errbuf[256];

static int fail(const char **error_r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(errbuf, sizeof(errbuf), fmt, ap);
    va_end(ap);
    *error_r = errbuf;
    return -1;
}

/* "HH:MM-HH:MM" -> [start, end) minutes, end past 1440 for overnight */
static int parse_interval(const char *s, int *start, int *end)
{
    if (s == NULL || strlen(s) != 11 || s[5] != '-')
        return -1;
    char a[6], b[6];
    memcpy(a, s, 5);
    a[5] = '\0';
    memcpy(b, s + 6, 5);
    b[5] = '\0';
    if (civil_parse_hhmm(a, start) < 0 || civil_parse_hhmm(b, end) < 0 || *start == 1440)
        return -1;
    if (*end == *start)
        return -1;              /* 0 or 24 hours? say 00:00-24:00 for a whole day */
    if (*end < *start)
        *end += 1440;           /* overnight: ends the next day */
    return 0;
}

static int parse_hours(struct bcal *c, const json_t *hours, const char **error_r)
{
    if (json_is_string(hours)) {
        if (strcmp(json_string_value(hours), "24/7") != 0)
            return fail(error_r, "hours: \"24/7\" or an object of weekdays");
        bcal_set_always_open(c);
        return 0;
    }
    if (!json_is_object(hours))
        return fail(error_r, "hours: \"24/7\" or an object of weekdays");
    const char *day;
    json_t *list;
    json_object_foreach((json_t *)hours, day, list) {
        int wd = civil_parse_weekday(day);
        if (wd < 0)
            return fail(error_r, "hours: '%s' is not a weekday (sun..sat)", day);
        if (!json_is_array(list))
            return fail(error_r, "hours.%s: a list of \"HH:MM-HH:MM\"", day);
        size_t i;
        json_t *iv;
        json_array_foreach(list, i, iv) {
            int s, e;
            const char *why = NULL;
            if (parse_interval(json_string_value(iv), &s, &e) < 0)
                return fail(error_r, "hours.%s[%zu]: not \"HH:MM-HH:MM\"", day, i);
            if (bcal_add_hours(c, wd, s, e, &why) < 0)
                return fail(error_r, "hours.%s[%zu]: %s", day, i, why);
        }
    }
    return 0;
}

static int parse_holiday(struct bcal *c, size_t i, const json_t *h, const char **error_r)
{
    if (!json_is_object(h))
        return fail(error_r, "holidays[%zu]: an object", i);
    struct bcal_holiday hol = { .days = 1 };
    const char *key;
    json_t *v;
    bool have_date = false, have_month = false, have_day = false, have_wd = false, have_nth = false;
    bool have_easter = false;
    json_object_foreach((json_t *)h, key, v) {
        if (strcmp(key, "name") == 0) {
            if (!json_is_string(v) || strlen(json_string_value(v)) > 200)
                return fail(error_r, "holidays[%zu].name: text up to 200 bytes", i);
        } else if (strcmp(key, "date") == 0) {
            if (civil_parse_date(json_string_value(v), &hol.date) < 0)
                return fail(error_r, "holidays[%zu].date: not a date YYYY-MM-DD", i);
            have_date = true;
        } else if (strcmp(key, "days") == 0) {
            if (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > 366)
                return fail(error_r, "holidays[%zu].days: 1..366", i);
            hol.days = (int)json_integer_value(v);
        } else if (strcmp(key, "month") == 0) {
            if (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > 12)
                return fail(error_r, "holidays[%zu].month: 1..12", i);
            hol.month = (int)json_integer_value(v);
            have_month = true;
        } else if (strcmp(key, "day") == 0) {
            if (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > 31)
                return fail(error_r, "holidays[%zu].day: 1..31", i);
            hol.mday = (int)json_integer_value(v);
            have_day = true;
        } else if (strcmp(key, "weekday") == 0) {
            if ((hol.wday = civil_parse_weekday(json_string_value(v))) < 0)
                return fail(error_r, "holidays[%zu].weekday: sun..sat", i);
            have_wd = true;
        } else if (strcmp(key, "nth") == 0) {
            json_int_t n = json_is_integer(v) ? json_integer_value(v) : 0;
            if (n == 0 || n < -1 || n > 5)
                return fail(error_r, "holidays[%zu].nth: 1..5, or -1 for the last", i);
            hol.nth = (int)n;
            have_nth = true;
        } else if (strcmp(key, "easter") == 0) {
            json_int_t n = json_is_integer(v) ? json_integer_value(v) : BCAL_EASTER_MAX + 1;
            if (n < BCAL_EASTER_MIN || n > BCAL_EASTER_MAX)
                return fail(error_r, "holidays[%zu].easter: days from Easter Sunday, %d..%d", i,
                            BCAL_EASTER_MIN, BCAL_EASTER_MAX);
            hol.easter = (int)n;
            have_easter = true;
        } else {
            return fail(error_r, "holidays[%zu]: unknown key '%s'", i, key);
        }
    }
    if (have_easter) {
        if (have_date || have_month || have_day || have_wd || have_nth)
            return fail(error_r, "holidays[%zu].easter: alone (with \"days\" and \"name\"), not with a "
                        "date, month, day, weekday or nth", i);
        hol.kind = BCAL_HOL_EASTER;
    } else if (have_date && !have_month && !have_day && !have_wd && !have_nth)
        hol.kind = BCAL_HOL_DATE;
    else if (!have_date && have_month && have_day && !have_wd && !have_nth)
        hol.kind = BCAL_HOL_YEARLY;
    else if (!have_date && have_month && !have_day && have_wd && have_nth)
        hol.kind = BCAL_HOL_YEARLY_NTH;
    else
        return fail(error_r, "holidays[%zu]: a \"date\", or \"month\" and \"day\", or \"month\", "
                    "\"weekday\" and \"nth\", or \"easter\"", i);
    const char *why = NULL;
    if (bcal_add_holiday(c, &hol, &why) < 0)
        return fail(error_r, "holidays[%zu]: %s", i, why);
    return 0;
}

int calspec_parse(const json_t *spec, const char *zoneinfo_dir, struct sla_calendar **cal_r,
                  const char **error_r)
{
    *cal_r = NULL;
    if (!json_is_object(spec))
        return fail(error_r, "a calendar is a JSON object");
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)spec, key, v)
        if (strcmp(key, "time_zone") != 0 && strcmp(key, "hours") != 0
            && strcmp(key, "holidays") != 0)
            return fail(error_r, "unknown key '%s' (time_zone, hours, holidays)", key);
    const char *tzname = json_string_value(json_object_get(spec, "time_zone"));
    if (tzname == NULL)
        return fail(error_r, "time_zone: an IANA time zone name, e.g. \"Europe/Berlin\"");
    if (json_object_get(spec, "hours") == NULL)
        return fail(error_r, "hours: \"24/7\" or an object of weekdays");
    struct sla_calendar *cal = calloc(1, sizeof(*cal));
    if (cal == NULL)
        return fail(error_r, "out of memory");
    const char *why = NULL;
    if (tz_zone_load(zoneinfo_dir, tzname, &cal->zone, &why) < 0) {
        fail(error_r, "time_zone '%.*s': %s", TZ_NAME_MAX, tzname, why);
        goto fail;
    }
    cal->bcal = bcal_new(cal->zone);
    if (cal->bcal == NULL) {
        fail(error_r, "out of memory");
        goto fail;
    }
    if (parse_hours(cal->bcal, json_object_get(spec, "hours"), error_r) < 0)
        goto fail;
    json_t *hol = json_object_get(spec, "holidays");
    if (hol != NULL && !json_is_array(hol)) {
        fail(error_r, "holidays: a list");
        goto fail;
    }
    size_t i;
    json_array_foreach(hol, i, v)
        if (parse_holiday(cal->bcal, i, v, error_r) < 0)
            goto fail;
    /* 2000-01-01 to 2045-12-31 precomputed (~1 MB): deadlines within
     * decades cost a subtraction or a binary search */
    (void)bcal_freeze(cal->bcal, civil_days(2000, 1, 1), (int)(civil_days(2046, 1, 1) - civil_days(2000, 1, 1)));
    *cal_r = cal;
    return 0;
fail:
    sla_calendar_free(&cal);
    return -1;
}

void sla_calendar_free(struct sla_calendar **cal)
{
    if (cal == NULL || *cal == NULL)
        return;
    bcal_free(&(*cal)->bcal);
    tz_zone_free(&(*cal)->zone);
    free(*cal);
    *cal = NULL;
}
