#!/bin/bash
# fuzz_tzif.sh -- builds the TZif/TZ-string fuzz target (fuzz_tzif.c) with
# clang and libFuzzer and runs it for ATUM_FUZZ_SECONDS (default 15) from
# real zone files; fails on a crash, a leak or undefined behaviour.
# Skipped (exit 77) without a working clang + libFuzzer, like tests/fuzz/fuzz.sh.
set -u
SRC=${ATUM_SRCDIR:-$(cd "$(dirname "$0")/../../.." && pwd)}
SECONDS_EACH=${ATUM_FUZZ_SECONDS:-15}
CLANG=${CLANG:-clang}
. "$SRC/tests/lib.sh"
skip() { echo "SKIP: $*"; echo "0 passed, 0 failed"; rm -f "$T_OUT"; exit 77; }
command -v "$CLANG" >/dev/null 2>&1 || skip "no clang (apt-get install clang libclang-rt-14-dev)"
W=$(mktemp -d /tmp/atum-fuzz-tzif.XXXXXX)
keep=no
cleanup() { [ "$keep" = yes ] || rm -rf "$W"; }
trap cleanup EXIT
FLAGS="-g -O1 -fno-omit-frame-pointer -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined"
S=$SRC/plugins/sla
build() {
    $CLANG $FLAGS -I"$S" "$S/tests/fuzz_tzif.c" "$S/tzif.c" "$S/tzrule.c" "$S/civil.c" -o "$W/fuzz_tzif" >"$W/build.log" 2>&1 ||
        { grep -q "fuzzer" "$W/build.log" && skip "clang cannot build libFuzzer targets: $(head -c 200 "$W/build.log")"; cat "$W/build.log"; return 1; }
}
check "fuzz_tzif builds with clang" build
mkdir -p "$W/seeds" "$W/corpus" "$W/artifacts"
for z in Europe/Berlin America/Sao_Paulo Pacific/Apia Australia/Lord_Howe Asia/Kolkata America/New_York UTC; do
    cp "${ATUM_ZONEINFO:-/usr/share/zoneinfo}/$z" "$W/seeds/$(echo "$z" | tr / _)" 2>/dev/null
done
printf 'CET-1CEST,M3.5.0,M10.5.0/3' >"$W/seeds/rule1"
printf '<+1030>-10:30<+11>-11,M10.1.0,M4.1.0' >"$W/seeds/rule2"
printf 'EST5EDT,0/0,J365/25' >"$W/seeds/rule3"
run() {
    "$W/fuzz_tzif" -max_total_time="$SECONDS_EACH" -timeout=10 -rss_limit_mb=1536 -print_final_stats=1 \
        -artifact_prefix="$W/artifacts/" "$W/corpus" "$W/seeds" >"$W/run.log" 2>&1
    local rc=$?
    grep -E '^stat::(number_of_executed_units|new_units_added)' "$W/run.log" | sed 's/^/    /'
    if [ $rc -ne 0 ]; then
        keep=yes
        grep -E 'ERROR|SUMMARY|runtime error' "$W/run.log" | head -n 20
        echo "    full log: $W/run.log (kept)"
    fi
    return $rc
}
[ -x "$W/fuzz_tzif" ] && check "fuzz_tzif: ${SECONDS_EACH}s of the TZif reader without a crash" run
finish
