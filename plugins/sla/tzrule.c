/* sla/tzrule.c -- see tzrule.h. */
#include "tzrule.h"
#include "civil.h"

#include <ctype.h>
#include <stddef.h>
#include <string.h>

/* A zone abbreviation: 3+ letters, or <...> of letters, digits, + and -. */
static const char *parse_name(const char *p)
{
    const char *start = p;
    if (*p == '<') {
        p++;
        while (isalnum((unsigned char)*p) || *p == '+' || *p == '-')
            p++;
        if (*p != '>' || p - start < 4)
            return NULL;
        return p + 1;
    }
    while (isalpha((unsigned char)*p))
        p++;
    return p - start >= 3 ? p : NULL;
}

/* [+-]hh[:mm[:ss]] with hh <= max_hours; the value as seconds. */
static const char *parse_hms(const char *p, int max_hours, int32_t *v_r)
{
    int sign = 1;
    if (*p == '+' || *p == '-')
        sign = *p++ == '-' ? -1 : 1;
    if (!isdigit((unsigned char)*p))
        return NULL;
    long h = 0;
    for (int n = 0; isdigit((unsigned char)*p); n++, p++) {
        if (n >= 3)
            return NULL;
        h = h * 10 + (*p - '0');
    }
    if (h > max_hours)
        return NULL;
    long m = 0, s = 0;
    if (*p == ':') {
        p++;
        if (!isdigit((unsigned char)p[0]) || !isdigit((unsigned char)p[1]))
            return NULL;
        m = (p[0] - '0') * 10 + (p[1] - '0');
        p += 2;
        if (m > 59)
            return NULL;
        if (*p == ':') {
            p++;
            if (!isdigit((unsigned char)p[0]) || !isdigit((unsigned char)p[1]))
                return NULL;
            s = (p[0] - '0') * 10 + (p[1] - '0');
            p += 2;
            if (s > 59)
                return NULL;
        }
    }
    *v_r = (int32_t)(sign * (h * 3600 + m * 60 + s));
    return p;
}

static const char *parse_num(const char *p, int lo, int hi, int *v_r)
{
    if (!isdigit((unsigned char)*p))
        return NULL;
    int v = 0;
    for (int n = 0; isdigit((unsigned char)*p); n++, p++) {
        if (n >= 3)
            return NULL;
        v = v * 10 + (*p - '0');
    }
    if (v < lo || v > hi)
        return NULL;
    *v_r = v;
    return p;
}

static const char *parse_date(const char *p, struct tz_rule_date *d)
{
    memset(d, 0, sizeof(*d));
    if (*p == 'J') {
        d->kind = TZR_JULIAN1;
        p = parse_num(p + 1, 1, 365, &d->day);
    } else if (*p == 'M') {
        d->kind = TZR_MONTH;
        p = parse_num(p + 1, 1, 12, &d->month);
        if (p == NULL || *p++ != '.')
            return NULL;
        p = parse_num(p, 1, 5, &d->week);
        if (p == NULL || *p++ != '.')
            return NULL;
        p = parse_num(p, 0, 6, &d->wday);
    } else {
        d->kind = TZR_JULIAN0;
        p = parse_num(p, 0, 365, &d->day);
    }
    if (p == NULL)
        return NULL;
    d->time = 2 * 3600;
    if (*p == '/')
        p = parse_hms(p + 1, 167, &d->time);
    return p;
}

int tz_rule_parse(const char *s, struct tz_rule *r, const char **error_r)
{
    static const char *const bad = "not a POSIX TZ string";
    memset(r, 0, sizeof(*r));
    if (s == NULL || strlen(s) > 256)
        return *error_r = bad, -1;
    const char *p = parse_name(s);
    int32_t off;
    if (p == NULL || (p = parse_hms(p, 24, &off)) == NULL)
        return *error_r = bad, -1;
    r->std_off = -off;
    if (*p == '\0') {
        r->dst_off = r->std_off;
        return 0;
    }
    if ((p = parse_name(p)) == NULL)
        return *error_r = bad, -1;
    r->has_dst = true;
    r->dst_off = r->std_off + 3600;
    if (*p != ',' && *p != '\0') {
        if ((p = parse_hms(p, 24, &off)) == NULL)
            return *error_r = bad, -1;
        r->dst_off = -off;
    }
    if (*p == '\0') {
        /* POSIX leaves the default rule to the implementation; the US
         * rule is what the tz code uses */
        r->start = (struct tz_rule_date){ TZR_MONTH, 0, 3, 2, 0, 7200 };
        r->end = (struct tz_rule_date){ TZR_MONTH, 0, 11, 1, 0, 7200 };
        return 0;
    }
    if (*p != ',' || (p = parse_date(p + 1, &r->start)) == NULL || *p != ','
        || (p = parse_date(p + 1, &r->end)) == NULL || *p != '\0')
        return *error_r = bad, -1;
    return 0;
}

/* Local midnight (as days since the epoch) of a rule date in year y. */
static int64_t date_days(const struct tz_rule_date *d, int64_t y)
{
    int64_t jan1 = civil_days(y, 1, 1);
    switch (d->kind) {
    case TZR_JULIAN1:
        return jan1 + d->day - 1 + (civil_leap(y) && d->day >= 60 ? 1 : 0);
    case TZR_JULIAN0:
        return jan1 + d->day;
    case TZR_MONTH: {
        int64_t days;
        if (!civil_nth_weekday(y, d->month, d->wday, d->week, &days))
            civil_nth_weekday(y, d->month, d->wday, -1, &days);   /* week 5: the last */
        return days;
    }
    }
    return jan1;
}

struct trans { int64_t t; bool to_dst; };

/* The year's two transitions, in time order (equal times: the end of DST
 * first, so a rule of DST all year long stays in DST). */
static void year_transitions(const struct tz_rule *r, int64_t y, struct trans out[2])
{
    int64_t start = date_days(&r->start, y) * CIVIL_DAY_S + r->start.time - r->std_off;
    int64_t end = date_days(&r->end, y) * CIVIL_DAY_S + r->end.time - r->dst_off;
    if (start < end) {
        out[0] = (struct trans){ start, true };
        out[1] = (struct trans){ end, false };
    } else {
        out[0] = (struct trans){ end, false };
        out[1] = (struct trans){ start, true };
    }
}

static int64_t year_of(int64_t utc)
{
    int64_t y;
    int m, d;
    civil_from_days(civil_floor_div(utc, CIVIL_DAY_S), &y, &m, &d);
    return y;
}

int32_t tz_rule_offset_at(const struct tz_rule *r, int64_t utc)
{
    if (!r->has_dst)
        return r->std_off;
    int64_t y = year_of(utc);
    /* the last transition at or before utc, among three years' (transition
     * times may stray up to a week from their year) */
    bool dst = false, found = false;
    int64_t best = 0;
    for (int64_t yy = y - 1; yy <= y + 1; yy++) {
        struct trans tr[2];
        year_transitions(r, yy, tr);
        for (int i = 0; i < 2; i++)
            if (tr[i].t <= utc && (!found || tr[i].t >= best)) {
                best = tr[i].t;
                dst = tr[i].to_dst;
                found = true;
            }
    }
    return dst ? r->dst_off : r->std_off;
}

bool tz_rule_next(const struct tz_rule *r, int64_t after, int64_t *t_r, int32_t *before_r,
                  int32_t *after_r)
{
    if (!r->has_dst)
        return false;
    int64_t y = year_of(after);
    bool found = false;
    struct trans best = { 0, false };
    for (int64_t yy = y - 1; yy <= y + 2; yy++) {
        struct trans tr[2];
        year_transitions(r, yy, tr);
        for (int i = 0; i < 2; i++)
            if (tr[i].t > after && (!found || tr[i].t < best.t)) {
                best = tr[i];
                found = true;
            }
    }
    if (!found)
        return false;
    *t_r = best.t;
    *before_r = tz_rule_offset_at(r, best.t - 1);
    *after_r = best.to_dst ? r->dst_off : r->std_off;
    return true;
}
