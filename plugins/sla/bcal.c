/* sla/bcal.c -- see bcal.h. */
#include "bcal.h"
#include "civil.h"

#include <stdlib.h>
#include <string.h>

struct bcal *bcal_new(const struct tz_zone *zone)
{
    struct bcal *c = calloc(1, sizeof(*c));
    if (c != NULL)
        c->zone = zone;
    return c;
}

void bcal_free(struct bcal **c)
{
    if (c == NULL || *c == NULL)
        return;
    free((*c)->hol);
    free(*c);
    *c = NULL;
}

int bcal_add_hours(struct bcal *c, int wday, int start, int end, const char **error_r)
{
    if (wday < 0 || wday > 6 || start < 0 || start >= 1440 || end <= start || end > start + 1440)
        return *error_r = "an interval must start before 24:00 and last at most 24 hours", -1;
    if (c->nint[wday] >= BCAL_MAX_PER_DAY)
        return *error_r = "too many intervals in one day (at most 8)", -1;
    int n = c->nint[wday];
    struct bcal_interval *v = c->ints[wday];
    int at = 0;
    while (at < n && v[at].start < start)
        at++;
    if ((at > 0 && v[at - 1].end > start) || (at < n && end > v[at].start))
        return *error_r = "intervals of one day overlap", -1;
    memmove(v + at + 1, v + at, (size_t)(n - at) * sizeof(*v));
    v[at] = (struct bcal_interval){ start, end };
    c->nint[wday]++;
    return 0;
}

void bcal_set_always_open(struct bcal *c)
{
    for (int d = 0; d < 7; d++) {
        c->nint[d] = 1;
        c->ints[d][0] = (struct bcal_interval){ 0, 1440 };
    }
}

int bcal_add_holiday(struct bcal *c, const struct bcal_holiday *h, const char **error_r)
{
    if (c->nhol >= BCAL_MAX_HOLIDAYS)
        return *error_r = "too many holidays (at most 1000)", -1;
    if (h->days < 1 || h->days > 366)
        return *error_r = "a holiday lasts 1 to 366 days", -1;
    if (h->kind != BCAL_HOL_DATE && (h->month < 1 || h->month > 12))
        return *error_r = "a yearly holiday needs a month 1..12", -1;
    if (h->kind == BCAL_HOL_YEARLY && (h->mday < 1 || h->mday > civil_month_days(2000, h->month)))
        return *error_r = "no such day in that month", -1;
    if (h->kind == BCAL_HOL_YEARLY_NTH && (h->wday < 0 || h->wday > 6 || h->nth == 0 || h->nth < -1
                                           || h->nth > 5))
        return *error_r = "a yearly weekday holiday needs a weekday and nth 1..5 or -1 (last)", -1;
    struct bcal_holiday *v = realloc(c->hol, (size_t)(c->nhol + 1) * sizeof(*v));
    if (v == NULL)
        return *error_r = "out of memory", -1;
    c->hol = v;
    c->hol[c->nhol++] = *h;
    return 0;
}

/* The first date of a yearly holiday in year y; false when it has none
 * that year (02-29 in a common year, a fifth weekday that is not there). */
static bool yearly_start(const struct bcal_holiday *h, int64_t y, int64_t *day_r)
{
    if (h->kind == BCAL_HOL_YEARLY) {
        if (h->mday > civil_month_days(y, h->month))
            return false;
        *day_r = civil_days(y, h->month, h->mday);
        return true;
    }
    return civil_nth_weekday(y, h->month, h->wday, h->nth, day_r);
}

bool bcal_is_holiday(const struct bcal *c, int64_t day)
{
    if (c->nhol == 0)
        return false;
    int64_t y;
    int m, d;
    civil_from_days(day, &y, &m, &d);
    for (int i = 0; i < c->nhol; i++) {
        const struct bcal_holiday *h = &c->hol[i];
        if (h->kind == BCAL_HOL_DATE) {
            if (day >= h->date && day < h->date + h->days)
                return true;
            continue;
        }
        if (h->kind == BCAL_HOL_YEARLY && h->days == 1) {
            if (m == h->month && d == h->mday)
                return true;
            continue;
        }
        /* a span may begin in the year before (12-31 for 2 days) */
        for (int64_t yy = y - 1; yy <= y; yy++) {
            int64_t start;
            if (yearly_start(h, yy, &start) && day >= start && day < start + h->days)
                return true;
        }
    }
    return false;
}

int bcal_day_spans(const struct bcal *c, int64_t day, int64_t from_ms[], int64_t to_ms[])
{
    if (bcal_is_holiday(c, day))
        return 0;
    /* this day's own intervals (cut at midnight) and what yesterday's
     * overnight ones spill into it */
    struct bcal_interval v[2 * BCAL_MAX_PER_DAY];
    int n = 0;
    int wd = civil_weekday(day), prev = (wd + 6) % 7;
    for (int i = 0; i < c->nint[prev]; i++)
        if (c->ints[prev][i].end > 1440)
            v[n++] = (struct bcal_interval){ 0, c->ints[prev][i].end - 1440 };
    for (int i = 0; i < c->nint[wd]; i++)
        v[n++] = (struct bcal_interval){ c->ints[wd][i].start,
                                         c->ints[wd][i].end > 1440 ? 1440 : c->ints[wd][i].end };
    /* sort (tiny) and merge */
    for (int i = 1; i < n; i++)
        for (int j = i; j > 0 && v[j].start < v[j - 1].start; j--) {
            struct bcal_interval t = v[j];
            v[j] = v[j - 1];
            v[j - 1] = t;
        }
    int out = 0;
    int64_t base = day * CIVIL_DAY_S;
    for (int i = 0; i < n;) {
        int s = v[i].start, e = v[i].end;
        for (i++; i < n && v[i].start <= e; i++)
            if (v[i].end > e)
                e = v[i].end;
        int64_t a = tz_local_to_utc(c->zone, base + s * 60LL) * 1000;
        int64_t b = tz_local_to_utc(c->zone, base + e * 60LL) * 1000;
        if (b > a) {
            from_ms[out] = a;
            to_ms[out] = b;
            out++;
        }
    }
    return out;
}

static int64_t local_day_of(const struct bcal *c, int64_t t_ms)
{
    int64_t s = civil_floor_div(t_ms, 1000);
    return civil_floor_div(s + tz_offset_at(c->zone, s), CIVIL_DAY_S);
}

int64_t bcal_measure(const struct bcal *c, int64_t from, int64_t to)
{
    if (to <= from)
        return 0;
    int64_t sum = 0;
    int64_t last = local_day_of(c, to);
    for (int64_t day = local_day_of(c, from) - 1; day <= last; day++) {
        int64_t a[2 * BCAL_MAX_PER_DAY], b[2 * BCAL_MAX_PER_DAY];
        int n = bcal_day_spans(c, day, a, b);
        for (int i = 0; i < n; i++) {
            int64_t lo = a[i] > from ? a[i] : from, hi = b[i] < to ? b[i] : to;
            if (hi > lo)
                sum += hi - lo;
        }
    }
    return sum;
}

int64_t bcal_add(const struct bcal *c, int64_t from, int64_t dur)
{
    if (dur <= 0)
        return from;
    int64_t first = local_day_of(c, from) - 1;
    for (int64_t day = first; day <= first + BCAL_HORIZON_DAYS; day++) {
        int64_t a[2 * BCAL_MAX_PER_DAY], b[2 * BCAL_MAX_PER_DAY];
        int n = bcal_day_spans(c, day, a, b);
        for (int i = 0; i < n; i++) {
            int64_t lo = a[i] > from ? a[i] : from;
            if (b[i] <= lo)
                continue;
            if (b[i] - lo >= dur)
                return lo + dur;
            dur -= b[i] - lo;
        }
    }
    return BCAL_NEVER;
}

bool bcal_open_at(const struct bcal *c, int64_t t)
{
    int64_t day = local_day_of(c, t);
    for (int64_t d = day - 1; d <= day; d++) {
        int64_t a[2 * BCAL_MAX_PER_DAY], b[2 * BCAL_MAX_PER_DAY];
        int n = bcal_day_spans(c, d, a, b);
        for (int i = 0; i < n; i++)
            if (a[i] <= t && t < b[i])
                return true;
    }
    return false;
}
