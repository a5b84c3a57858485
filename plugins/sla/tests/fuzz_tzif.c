/* fuzz_tzif -- libFuzzer target: any bytes as a TZif file (and as a POSIX
 * TZ string); what parses must answer every query without a crash or
 * undefined behaviour (fuzz_tzif.sh builds and runs it). */
#include "tzif.h"
#include "tzrule.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t len);

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t len)
{
    struct tz_zone *z = NULL;
    const char *e = NULL;
    if (tz_zone_parse(data, len, "fuzz", &z, &e) == 0) {
        const int64_t probes[] = { INT32_MIN, -2208988800LL, 0, 1320000000, 1700000000,
                                   4102444800LL, 32503680000LL };
        for (size_t i = 0; i < sizeof(probes) / sizeof(probes[0]); i++) {
            int32_t off = tz_offset_at(z, probes[i]);
            (void)tz_local_to_utc(z, probes[i] + off);
            int64_t t;
            int32_t b, a;
            (void)tz_next_transition(z, probes[i], &t, &b, &a);
        }
        tz_zone_free(&z);
    }
    char s[300];
    size_t n = len < sizeof(s) - 1 ? len : sizeof(s) - 1;
    memcpy(s, data, n);
    s[n] = '\0';
    struct tz_rule r;
    if (tz_rule_parse(s, &r, &e) == 0) {
        int64_t t;
        int32_t b, a;
        (void)tz_rule_offset_at(&r, 1700000000);
        (void)tz_rule_next(&r, 1700000000, &t, &b, &a);
    }
    return 0;
}
