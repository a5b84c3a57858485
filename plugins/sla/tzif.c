/* sla/tzif.c -- see tzif.h. */
#include "tzif.h"
#include "tzrule.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct tz_zone {
    char name[TZ_NAME_MAX + 1];
    size_t n;                    /* transitions */
    int64_t *at;                 /* ascending instants */
    int32_t *off;                /* offset from at[i] on */
    int32_t off0;                /* before the first transition: type 0 (RFC 8536 3.2) */
    bool has_rule;               /* the footer: after the last transition */
    struct tz_rule rule;
};

/* RFC 8536 3.2: offsets should lie in [-89999, 93599]; a file outside it
 * is refused rather than trusted in arithmetic. */
#define OFF_MIN (-89999)
#define OFF_MAX 93599

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int64_t be64(const unsigned char *p)
{
    return (int64_t)((uint64_t)be32(p) << 32 | be32(p + 4));
}

struct header {
    char version;
    uint32_t isutcnt, isstdcnt, leapcnt, timecnt, typecnt, charcnt;
};

static int read_header(const unsigned char *p, size_t len, struct header *h, const char **error_r)
{
    if (len < 44 || memcmp(p, "TZif", 4) != 0)
        return *error_r = "not a TZif file", -1;
    h->version = (char)p[4];
    if (h->version != 0 && (h->version < '2' || h->version > '9'))
        return *error_r = "unknown TZif version", -1;
    h->isutcnt = be32(p + 20);
    h->isstdcnt = be32(p + 24);
    h->leapcnt = be32(p + 28);
    h->timecnt = be32(p + 32);
    h->typecnt = be32(p + 36);
    h->charcnt = be32(p + 40);
    if (h->typecnt == 0 || h->typecnt > 256 || h->charcnt == 0 || h->charcnt > 65536
        || h->timecnt > 65536 || h->leapcnt > 65536
        || (h->isutcnt != 0 && h->isutcnt != h->typecnt)
        || (h->isstdcnt != 0 && h->isstdcnt != h->typecnt))
        return *error_r = "TZif header counts out of range", -1;
    return 0;
}

/* Bytes of a data block whose times take `tsize` bytes. */
static size_t block_size(const struct header *h, size_t tsize)
{
    return (size_t)h->timecnt * tsize + h->timecnt + (size_t)h->typecnt * 6 + h->charcnt
           + (size_t)h->leapcnt * (tsize + 4) + h->isstdcnt + h->isutcnt;
}

static int read_block(const unsigned char *p, const struct header *h, size_t tsize,
                      struct tz_zone *z, const char **error_r)
{
    const unsigned char *times = p;
    const unsigned char *idx = times + (size_t)h->timecnt * tsize;
    const unsigned char *types = idx + h->timecnt;
    int32_t offs[256];
    for (uint32_t i = 0; i < h->typecnt; i++) {
        int32_t o = (int32_t)be32(types + 6 * i);
        if (o < OFF_MIN || o > OFF_MAX)
            return *error_r = "TZif offset out of range", -1;
        if (types[6 * i + 4] > 1 || types[6 * i + 5] >= h->charcnt)
            return *error_r = "TZif local time type is malformed", -1;
        offs[i] = o;
    }
    if (h->leapcnt > 0)
        return *error_r = "TZif zones with leap seconds (right/...) are not supported", -1;
    z->n = h->timecnt;
    z->off0 = offs[0];
    if (z->n > 0) {
        z->at = malloc(z->n * sizeof(*z->at));
        z->off = malloc(z->n * sizeof(*z->off));
        if (z->at == NULL || z->off == NULL)
            return *error_r = "out of memory", -1;
    }
    for (size_t i = 0; i < z->n; i++) {
        z->at[i] = tsize == 8 ? be64(times + 8 * i) : (int64_t)(int32_t)be32(times + 4 * i);
        if (i > 0 && z->at[i] <= z->at[i - 1])
            return *error_r = "TZif transitions are not in ascending order", -1;
        if (idx[i] >= h->typecnt)
            return *error_r = "TZif transition names no local time type", -1;
        z->off[i] = offs[idx[i]];
    }
    return 0;
}

int tz_zone_parse(const unsigned char *data, size_t len, const char *name,
                  struct tz_zone **zone_r, const char **error_r)
{
    *zone_r = NULL;
    if (data == NULL || len > TZIF_MAX_BYTES)
        return *error_r = "TZif file too large", -1;
    struct header h1, h2;
    if (read_header(data, len, &h1, error_r) < 0)
        return -1;
    size_t b1 = block_size(&h1, 4);
    if (b1 > len - 44)
        return *error_r = "TZif file is truncated", -1;
    struct tz_zone *z = calloc(1, sizeof(*z));
    if (z == NULL)
        return *error_r = "out of memory", -1;
    snprintf(z->name, sizeof(z->name), "%s", name ? name : "");
    if (h1.version == 0) {
        if (read_block(data + 44, &h1, 4, z, error_r) < 0)
            goto fail;
        *zone_r = z;
        return 0;
    }
    /* version 2+: skip the 32-bit block, read the 64-bit one and the footer */
    const unsigned char *p = data + 44 + b1;
    size_t left = len - 44 - b1;
    if (read_header(p, left, &h2, error_r) < 0)
        goto fail;
    size_t b2 = block_size(&h2, 8);
    if (b2 > left - 44) {
        *error_r = "TZif file is truncated";
        goto fail;
    }
    if (read_block(p + 44, &h2, 8, z, error_r) < 0)
        goto fail;
    const char *foot = (const char *)p + 44 + b2;
    size_t flen = left - 44 - b2;
    if (flen < 2 || foot[0] != '\n') {
        *error_r = "TZif footer is missing";
        goto fail;
    }
    const char *nl = memchr(foot + 1, '\n', flen - 1);
    if (nl == NULL || nl - foot - 1 > 256) {
        *error_r = "TZif footer is malformed";
        goto fail;
    }
    if (nl > foot + 1) {
        char tz[260];
        memcpy(tz, foot + 1, (size_t)(nl - foot - 1));
        tz[nl - foot - 1] = '\0';
        if (memchr(tz, '\0', (size_t)(nl - foot - 1)) != NULL
            || tz_rule_parse(tz, &z->rule, error_r) < 0) {
            *error_r = "TZif footer is not a valid TZ string";
            goto fail;
        }
        if (z->rule.std_off < OFF_MIN || z->rule.std_off > OFF_MAX
            || z->rule.dst_off < OFF_MIN || z->rule.dst_off > OFF_MAX) {
            *error_r = "TZif footer offset out of range";
            goto fail;
        }
        z->has_rule = true;
    }
    *zone_r = z;
    return 0;
fail:
    tz_zone_free(&z);
    return -1;
}

bool tz_name_valid(const char *name)
{
    if (name == NULL || name[0] == '\0' || strlen(name) > TZ_NAME_MAX)
        return false;
    const char *part = name;
    for (const char *p = name;; p++) {
        if (*p == '/' || *p == '\0') {
            size_t n = (size_t)(p - part);
            if (n == 0 || (n == 1 && part[0] == '.') || (n == 2 && part[0] == '.' && part[1] == '.'))
                return false;
            if (*p == '\0')
                return true;
            part = p + 1;
        } else if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9')
                     || *p == '_' || *p == '-' || *p == '+' || *p == '.')) {
            return false;
        }
    }
}

int tz_zone_load(const char *dir, const char *name, struct tz_zone **zone_r, const char **error_r)
{
    *zone_r = NULL;
    if (!tz_name_valid(name))
        return *error_r = "not a valid time zone name", -1;
    char path[4096];
    if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, name) >= sizeof(path))
        return *error_r = "time zone path too long", -1;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return *error_r = errno == ENOENT || errno == ENOTDIR ? "unknown time zone"
                                                              : "time zone file unreadable", -1;
    struct stat st;
    unsigned char *buf = NULL;
    int ret = -1;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        *error_r = "unknown time zone";
        goto out;
    }
    if (st.st_size > TZIF_MAX_BYTES) {
        *error_r = "TZif file too large";
        goto out;
    }
    size_t len = (size_t)st.st_size, got = 0;
    buf = malloc(len ? len : 1);
    if (buf == NULL) {
        *error_r = "out of memory";
        goto out;
    }
    while (got < len) {
        ssize_t r = read(fd, buf + got, len - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            *error_r = "time zone file unreadable";
            goto out;
        }
        got += (size_t)r;
    }
    ret = tz_zone_parse(buf, len, name, zone_r, error_r);
out:
    free(buf);
    close(fd);
    return ret;
}

void tz_zone_free(struct tz_zone **zone)
{
    if (zone == NULL || *zone == NULL)
        return;
    free((*zone)->at);
    free((*zone)->off);
    free(*zone);
    *zone = NULL;
}

const char *tz_zone_name(const struct tz_zone *z)
{
    return z->name;
}

/* The index of the last transition at or before t, or -1. */
static long last_at_or_before(const struct tz_zone *z, int64_t t)
{
    size_t lo = 0, hi = z->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (z->at[mid] <= t)
            lo = mid + 1;
        else
            hi = mid;
    }
    return (long)lo - 1;
}

int32_t tz_offset_at(const struct tz_zone *z, int64_t utc)
{
    if (z->n == 0)
        return z->has_rule ? tz_rule_offset_at(&z->rule, utc) : z->off0;
    long i = last_at_or_before(z, utc);
    if (i < 0)
        return z->off0;
    if ((size_t)i == z->n - 1 && z->has_rule)
        return tz_rule_offset_at(&z->rule, utc);
    return z->off[i];
}

bool tz_next_transition(const struct tz_zone *z, int64_t after, int64_t *t_r, int32_t *before_r,
                        int32_t *after_r)
{
    long i = last_at_or_before(z, after);
    if ((size_t)(i + 1) < z->n) {
        *t_r = z->at[i + 1];
        *before_r = i < 0 ? z->off0 : z->off[i];
        *after_r = z->off[i + 1];
        return true;
    }
    if (!z->has_rule)
        return false;
    int64_t from = z->n > 0 && z->at[z->n - 1] > after ? z->at[z->n - 1] : after;
    return tz_rule_next(&z->rule, from, t_r, before_r, after_r);
}

int64_t tz_local_to_utc(const struct tz_zone *z, int64_t local)
{
    /* every offset is within 26 h, so every solution lies after seg_start */
    int64_t seg_start = local - 2 * 86400;
    int32_t off = tz_offset_at(z, seg_start);
    for (;;) {
        int64_t t;
        int32_t before, after;
        bool more = tz_next_transition(z, seg_start, &t, &before, &after);
        int64_t u = local - off;
        if (u < seg_start)
            return seg_start;        /* skipped: the reading fell into the gap before this segment */
        if (!more || u < t)
            return u;                /* the first (earliest) segment that has it */
        seg_start = t;
        off = after;
    }
}
