/* sla/civil.c -- see civil.h. */
#include "civil.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

int64_t civil_floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

int64_t civil_days(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = civil_floor_div(y, 400);
    int64_t yoe = y - era * 400;                                   /* [0, 399] */
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;  /* [0, 365] */
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;           /* [0, 146096] */
    return era * 146097 + doe - 719468;
}

void civil_from_days(int64_t z, int64_t *y_r, int *m_r, int *d_r)
{
    z += 719468;
    int64_t era = civil_floor_div(z, 146097);
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t y = yoe + era * 400;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    int d = (int)(doy - (153 * mp + 2) / 5 + 1);
    int m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y_r = y + (m <= 2);
    *m_r = m;
    *d_r = d;
}

int civil_weekday(int64_t days)
{
    /* 1970-01-01 was a Thursday (4) */
    int64_t w = (days + 4) % 7;
    return (int)(w < 0 ? w + 7 : w);
}

bool civil_leap(int64_t y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

int civil_month_days(int64_t y, int m)
{
    static const int len[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
    if (m < 1 || m > 12)
        return 0;
    return m == 2 && civil_leap(y) ? 29 : len[m - 1];
}

static int digits(const char *s, int n)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char)s[i]))
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

int civil_parse_date(const char *s, int64_t *days_r)
{
    if (s == NULL || strlen(s) != 10 || s[4] != '-' || s[7] != '-')
        return -1;
    int y = digits(s, 4), m = digits(s + 5, 2), d = digits(s + 8, 2);
    if (y < 0 || m < 1 || m > 12 || d < 1 || d > civil_month_days(y, m))
        return -1;
    *days_r = civil_days(y, m, d);
    return 0;
}

int civil_parse_hhmm(const char *s, int *minutes_r)
{
    if (s == NULL || strlen(s) != 5 || s[2] != ':')
        return -1;
    int h = digits(s, 2), m = digits(s + 3, 2);
    if (h < 0 || m < 0 || m > 59 || h > 24 || (h == 24 && m != 0))
        return -1;
    *minutes_r = h * 60 + m;
    return 0;
}

int civil_parse_weekday(const char *s)
{
    static const char *const names[7] = { "sunday", "monday", "tuesday", "wednesday",
                                          "thursday", "friday", "saturday" };
    if (s == NULL)
        return -1;
    size_t n = strlen(s);
    for (int i = 0; i < 7; i++)
        if ((n == 3 || n == strlen(names[i])) && strncasecmp(s, names[i], n) == 0)
            return i;
    return -1;
}

bool civil_nth_weekday(int64_t y, int m, int wd, int n, int64_t *days_r)
{
    if (m < 1 || m > 12 || wd < 0 || wd > 6 || n == 0 || n < -1 || n > 5)
        return false;
    if (n == -1) {
        int64_t last = civil_days(y, m, civil_month_days(y, m));
        *days_r = last - ((civil_weekday(last) - wd + 7) % 7);
        return true;
    }
    int64_t first = civil_days(y, m, 1);
    int64_t d = first + ((wd - civil_weekday(first) + 7) % 7) + 7 * (n - 1);
    if (d >= first + civil_month_days(y, m))
        return false;
    *days_r = d;
    return true;
}

static int64_t floor_mod(int64_t a, int64_t b)
{
    return a - civil_floor_div(a, b) * b;
}

int64_t civil_easter(int64_t y)
{
    int64_t a = floor_mod(y, 19), b = civil_floor_div(y, 100), c = floor_mod(y, 100);
    int64_t d = civil_floor_div(b, 4), e = floor_mod(b, 4);
    int64_t f = civil_floor_div(b + 8, 25), g = civil_floor_div(b - f + 1, 3);
    int64_t h = floor_mod(19 * a + b - d - g + 15, 30);
    int64_t i = civil_floor_div(c, 4), k = floor_mod(c, 4);
    int64_t l = floor_mod(32 + 2 * e + 2 * i - h - k, 7);
    int64_t m = civil_floor_div(a + 11 * h + 22 * l, 451);
    int64_t n = h + l - 7 * m + 114;     /* month * 31 + day - 1 */
    return civil_days(y, (int)(n / 31), (int)(n % 31) + 1);
}

void civil_format_utc(int64_t ms, char *buf, unsigned size)
{
    int64_t secs = civil_floor_div(ms, 1000);
    int milli = (int)(ms - secs * 1000);
    int64_t days = civil_floor_div(secs, CIVIL_DAY_S);
    int64_t sod = secs - days * CIVIL_DAY_S;
    int64_t y;
    int m, d;
    civil_from_days(days, &y, &m, &d);
    if (milli)
        snprintf(buf, size, "%04lld-%02d-%02dT%02d:%02d:%02d.%03dZ", (long long)y, m, d,
                 (int)(sod / 3600), (int)(sod / 60 % 60), (int)(sod % 60), milli);
    else
        snprintf(buf, size, "%04lld-%02d-%02dT%02d:%02d:%02dZ", (long long)y, m, d,
                 (int)(sod / 3600), (int)(sod / 60 % 60), (int)(sod % 60));
}
