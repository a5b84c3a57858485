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

static void unfreeze(struct bcal *c)
{
    free(c->tab_off);
    free(c->tab_from);
    free(c->tab_to);
    free(c->tab_sum);
    c->tab_off = NULL;
    c->tab_from = c->tab_to = c->tab_sum = NULL;
    c->tab_n = 0;
}

void bcal_free(struct bcal **c)
{
    if (c == NULL || *c == NULL)
        return;
    unfreeze(*c);
    free((*c)->hol);
    free(*c);
    *c = NULL;
}

int bcal_add_hours(struct bcal *c, int wday, int start, int end, const char **error_r)
{
    unfreeze(c);
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
    unfreeze(c);
    for (int d = 0; d < 7; d++) {
        c->nint[d] = 1;
        c->ints[d][0] = (struct bcal_interval){ 0, 1440 };
    }
}

int bcal_add_holiday(struct bcal *c, const struct bcal_holiday *h, const char **error_r)
{
    unfreeze(c);
    if (c->nhol >= BCAL_MAX_HOLIDAYS)
        return *error_r = "too many holidays (at most 1000)", -1;
    if (h->days < 1 || h->days > 366)
        return *error_r = "a holiday lasts 1 to 366 days", -1;
    if (h->kind == BCAL_HOL_EASTER && (h->easter < BCAL_EASTER_MIN || h->easter > BCAL_EASTER_MAX))
        return *error_r = "an Easter holiday is -63..63 days from Easter Sunday", -1;
    if (h->kind != BCAL_HOL_DATE && h->kind != BCAL_HOL_EASTER && (h->month < 1 || h->month > 12))
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
    if (h->kind == BCAL_HOL_EASTER) {
        *day_r = civil_easter(y) + h->easter;
        return true;
    }
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

/* The spans of one day, computed from the weekly hours, holidays and zone. */
static int day_spans_compute(const struct bcal *c, int64_t day, int64_t from_ms[], int64_t to_ms[])
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

static bool in_table(const struct bcal *c, int64_t day)
{
    return c->tab_n > 0 && day >= c->tab_first && day < c->tab_first + c->tab_n;
}

int bcal_day_spans(const struct bcal *c, int64_t day, int64_t from_ms[], int64_t to_ms[])
{
    if (!in_table(c, day))
        return day_spans_compute(c, day, from_ms, to_ms);
    int i = (int)(day - c->tab_first), a = c->tab_off[i], n = c->tab_off[i + 1] - a;
    memcpy(from_ms, c->tab_from + a, (size_t)n * sizeof(int64_t));
    memcpy(to_ms, c->tab_to + a, (size_t)n * sizeof(int64_t));
    return n;
}

int bcal_freeze(struct bcal *c, int64_t first_day, int ndays)
{
    unfreeze(c);
    if (ndays <= 0)
        return 0;
    size_t cap = (size_t)ndays * 2;
    c->tab_off = malloc(((size_t)ndays + 1) * sizeof(int));
    c->tab_sum = malloc(((size_t)ndays + 1) * sizeof(int64_t));
    c->tab_from = malloc(cap * sizeof(int64_t));
    c->tab_to = malloc(cap * sizeof(int64_t));
    if (c->tab_off == NULL || c->tab_sum == NULL || c->tab_from == NULL || c->tab_to == NULL) {
        unfreeze(c);
        return -1;
    }
    int used = 0;
    c->tab_sum[0] = 0;
    for (int i = 0; i < ndays; i++) {
        int64_t a[2 * BCAL_MAX_PER_DAY], b[2 * BCAL_MAX_PER_DAY];
        int n = day_spans_compute(c, first_day + i, a, b);
        if ((size_t)(used + n) > cap) {
            cap = cap * 2 + (size_t)n;
            int64_t *f = realloc(c->tab_from, cap * sizeof(int64_t));
            if (f != NULL)
                c->tab_from = f;
            int64_t *t = realloc(c->tab_to, cap * sizeof(int64_t));
            if (t != NULL)
                c->tab_to = t;
            if (f == NULL || t == NULL) {
                unfreeze(c);
                return -1;
            }
        }
        c->tab_off[i] = used;
        int64_t open = 0;
        for (int k = 0; k < n; k++) {
            c->tab_from[used] = a[k];
            c->tab_to[used] = b[k];
            open += b[k] - a[k];
            used++;
        }
        c->tab_sum[i + 1] = c->tab_sum[i] + open;
    }
    c->tab_off[ndays] = used;
    c->tab_first = first_day;
    c->tab_n = ndays;
    return 0;
}

/* The first span start of table day i and the last span end, when it has spans. */
static bool table_day_bounds(const struct bcal *c, int i, int64_t *lo, int64_t *hi)
{
    int a = c->tab_off[i], b = c->tab_off[i + 1];
    if (a == b)
        return false;
    *lo = c->tab_from[a];
    *hi = c->tab_to[b - 1];
    return true;
}

static int64_t local_day_of(const struct bcal *c, int64_t t_ms)
{
    int64_t s = civil_floor_div(t_ms, 1000);
    return civil_floor_div(s + tz_offset_at(c->zone, s), CIVIL_DAY_S);
}

/* Business time of one day's spans within [from, to). */
static int64_t day_clipped(const struct bcal *c, int64_t day, int64_t from, int64_t to)
{
    int64_t a[2 * BCAL_MAX_PER_DAY], b[2 * BCAL_MAX_PER_DAY], sum = 0;
    int n = bcal_day_spans(c, day, a, b);
    for (int i = 0; i < n; i++) {
        int64_t lo = a[i] > from ? a[i] : from, hi = b[i] < to ? b[i] : to;
        if (hi > lo)
            sum += hi - lo;
    }
    return sum;
}

/* Whether days [d0, d1] are in the table and all their spans lie within
 * [from, to) -- spans never decrease from one day to the next, so the
 * first and the last with spans decide. */
static bool table_block_inside(const struct bcal *c, int64_t d0, int64_t d1, int64_t from, int64_t to)
{
    if (d0 > d1 || !in_table(c, d0) || !in_table(c, d1))
        return false;
    int64_t lo, hi;
    for (int64_t d = d0; d <= d1; d++)
        if (table_day_bounds(c, (int)(d - c->tab_first), &lo, &hi)) {
            if (lo < from)
                return false;
            break;
        }
    for (int64_t d = d1; d >= d0; d--)
        if (table_day_bounds(c, (int)(d - c->tab_first), &lo, &hi))
            return hi <= to;
    return true;                         /* no spans at all */
}

int64_t bcal_measure(const struct bcal *c, int64_t from, int64_t to)
{
    if (to <= from)
        return 0;
    int64_t first = local_day_of(c, from) - 1, last = local_day_of(c, to);
    int64_t m0 = first + 2, m1 = last - 1;
    if (m0 <= m1 && table_block_inside(c, m0, m1, from, to)) {
        int64_t sum = c->tab_sum[m1 - c->tab_first + 1] - c->tab_sum[m0 - c->tab_first];
        for (int64_t day = first; day < m0; day++)
            sum += day_clipped(c, day, from, to);
        for (int64_t day = m1 + 1; day <= last; day++)
            sum += day_clipped(c, day, from, to);
        return sum;
    }
    int64_t sum = 0;
    for (int64_t day = first; day <= last; day++)
        sum += day_clipped(c, day, from, to);
    return sum;
}

/* Within one day's spans from `from` on: the instant `dur` is used up, or
 * BCAL_NEVER with *dur reduced by what the day had. */
static int64_t day_add(const struct bcal *c, int64_t day, int64_t from, int64_t *dur)
{
    int64_t a[2 * BCAL_MAX_PER_DAY], b[2 * BCAL_MAX_PER_DAY];
    int n = bcal_day_spans(c, day, a, b);
    for (int i = 0; i < n; i++) {
        int64_t lo = a[i] > from ? a[i] : from;
        if (b[i] <= lo)
            continue;
        if (b[i] - lo >= *dur)
            return lo + *dur;
        *dur -= b[i] - lo;
    }
    return BCAL_NEVER;
}

int64_t bcal_add(const struct bcal *c, int64_t from, int64_t dur)
{
    if (dur <= 0)
        return from;
    int64_t first = local_day_of(c, from) - 1, end = first + BCAL_HORIZON_DAYS;
    for (int64_t day = first; day <= end; day++) {
        /* from the third day on, whole table days count by their sums: the
         * day whose sum reaches dur is found by binary search */
        if (day >= first + 2 && in_table(c, day)) {
            int i0 = (int)(day - c->tab_first);
            int64_t lo_span = 0, hi_span = 0;
            int k = i0;
            while (k < c->tab_n && !table_day_bounds(c, k, &lo_span, &hi_span))
                k++;
            if (k == c->tab_n || lo_span >= from) {
                int64_t base = c->tab_sum[i0], want = base + dur;
                int hi = c->tab_n;           /* days i0 .. tab_n - 1 */
                int64_t last_day = c->tab_first + c->tab_n - 1;
                if (last_day > end)
                    hi = (int)(end - c->tab_first) + 1;
                if (hi > i0 && c->tab_sum[hi] >= want) {
                    int l = i0, r = hi - 1;  /* smallest k with tab_sum[k + 1] >= want */
                    while (l < r) {
                        int m = l + (r - l) / 2;
                        if (c->tab_sum[m + 1] >= want)
                            r = m;
                        else
                            l = m + 1;
                    }
                    int64_t rest = want - c->tab_sum[l];
                    return day_add(c, c->tab_first + l, from, &rest);
                }
                if (hi > i0) {
                    dur -= c->tab_sum[hi] - base;
                    day = c->tab_first + hi - 1;   /* the loop moves on past the table */
                    continue;
                }
            }
        }
        int64_t t = day_add(c, day, from, &dur);
        if (t != BCAL_NEVER)
            return t;
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
