/*
 * sla/tzif.h -- time zones read from the system's compiled zoneinfo
 * (TZif files, RFC 8536, versions 1 to 4; package tzdata), so that local
 * time in any named IANA zone is computed without touching the process's
 * TZ: no setenv("TZ"), no tzset(), no localtime_r().  A zone is immutable
 * once parsed and may be shared by any number of threads.
 *
 * Instants are seconds since the epoch (UTC, no leap seconds); "local"
 * values are the same count on the zone's wall clock, as if it were UTC
 * (local = utc + offset).  Offsets are seconds east of UTC.
 *
 * Parsing is bounded (TZIF_MAX_BYTES, counts checked against the data
 * before anything is allocated), checks every index and the ascending
 * order of transitions, and never reads outside the buffer: a bad file is
 * an error, never a crash (tests/fuzz_tzif.c).
 *
 * Ownership: tz_zone_parse()/tz_zone_load() return a zone the caller
 * frees with tz_zone_free(); error strings are static.
 */
#ifndef SLA_TZIF_H
#define SLA_TZIF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TZIF_MAX_BYTES (1024 * 1024)
#define TZ_NAME_MAX 128

struct tz_zone;

int tz_zone_parse(const unsigned char *data, size_t len, const char *name,
                  struct tz_zone **zone_r, const char **error_r);
/* dir/name, e.g. ("/usr/share/zoneinfo", "Europe/Berlin"); the name must
 * be a plain relative path (tz_name_valid). */
int tz_zone_load(const char *dir, const char *name, struct tz_zone **zone_r,
                 const char **error_r);
void tz_zone_free(struct tz_zone **zone);

/* Letters, digits, '_', '-', '+', '.' in '/'-separated parts; no empty,
 * "." or ".." part; at most TZ_NAME_MAX bytes. */
bool tz_name_valid(const char *name);
const char *tz_zone_name(const struct tz_zone *z);

int32_t tz_offset_at(const struct tz_zone *z, int64_t utc);
/* The first transition strictly after `after`: its instant and the
 * offsets before and after it; false when there is none. */
bool tz_next_transition(const struct tz_zone *z, int64_t after, int64_t *t_r,
                        int32_t *before_r, int32_t *after_r);

/* The instant a wall-clock reading stands for.  A reading that happens
 * twice (clocks set back) means the first; one that never happens (clocks
 * set forward, or a whole skipped day as in Pacific/Apia on 2011-12-30)
 * means the instant the clocks jumped, the first one after the gap -- so
 * the mapping never decreases and intervals of wall-clock time never
 * overlap once mapped. */
int64_t tz_local_to_utc(const struct tz_zone *z, int64_t local);

#endif
