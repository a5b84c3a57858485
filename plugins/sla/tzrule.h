/*
 * sla/tzrule.h -- the POSIX TZ string that ends a TZif file (RFC 8536
 * section 3.3, with the version 3 extension of transition hours in
 * -167..167), e.g. "CET-1CEST,M3.5.0,M10.5.0/3" or
 * "<+1030>-10:30<+11>-11,M10.1.0,M4.1.0".  It says how local time goes on
 * after the last transition a TZif file lists.
 *
 * Offsets here are seconds EAST of UTC (the usual sign, the opposite of
 * POSIX's text).  Instants are seconds since the epoch, UTC.
 * Parsing is bounded and never reads past the string; pure functions,
 * nothing to free.
 */
#ifndef SLA_TZRULE_H
#define SLA_TZRULE_H

#include <stdbool.h>
#include <stdint.h>

enum tz_rule_kind { TZR_JULIAN1, TZR_JULIAN0, TZR_MONTH };

struct tz_rule_date {
    enum tz_rule_kind kind;  /* Jn (1..365, no Feb 29) / n (0..365) / Mm.w.d */
    int day;                 /* Jn, n */
    int month, week, wday;   /* Mm.w.d: week 5 = the last */
    int32_t time;            /* seconds after local midnight, -167h..167h */
};

struct tz_rule {
    int32_t std_off;         /* standard time's offset */
    bool has_dst;
    int32_t dst_off;
    struct tz_rule_date start, end;   /* std -> dst (in std time), dst -> std (in dst time) */
};

/* 0, or -1 with *error_r (a static string). */
int tz_rule_parse(const char *s, struct tz_rule *r, const char **error_r);

int32_t tz_rule_offset_at(const struct tz_rule *r, int64_t utc);
/* The first transition strictly after `after` (when the offset changes or
 * the rule says one happens); false when the rule has no DST. */
bool tz_rule_next(const struct tz_rule *r, int64_t after, int64_t *t_r, int32_t *before_r,
                  int32_t *after_r);

#endif
