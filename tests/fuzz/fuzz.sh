#!/bin/bash
# tests/fuzz/fuzz.sh -- builds the libFuzzer targets with clang and runs
# each one for a short while (ATUM_FUZZ_SECONDS, default 15) from its
# seed corpus; fails when a target crashes, leaks, trips ASan/UBSan or
# times out on one input.  Without a working clang + libFuzzer it is
# skipped (exit 77, automake's SKIP).
#
#   fuzz_mime  mail_parse() + the JSON summary   seeds: tests/data/mail,
#                                                tests/fuzz/regress/mime
#   fuzz_smtp  smtp_parse_command(), smtp_data   seeds: tests/fuzz/corpus/smtp,
#                                                tests/data/mail (as DATA)
#   fuzz_mailhdr  the header parser on its own   seeds: tests/fuzz/corpus/mailhdr
#              (mailhdr_prepare, addresses, ids,        (whitespace/folding cases),
#              RFC 2047 and raw header decoding)        tests/data/mail
#   fuzz_imap  imap_scan (the check of an IMAP   seeds: tests/fuzz/corpus/imap
#              server's bytes), cut anywhere
#
# Also runs by hand from a configured build tree (see docs/development.md):
#   ATUM_FUZZ_SECONDS=3600 ATUM_FUZZ_DIR=/tmp/fz tests/fuzz/fuzz.sh [mime|smtp|mailhdr|imap]
# ATUM_FUZZ_DIR keeps the binaries and the grown corpora between runs.
set -u
here=$(cd "$(dirname "$0")" && pwd)
SRC=${ATUM_SRCDIR:-$(cd "$here/../.." && pwd)}
BUILD=${ATUM_BUILDDIR:-$PWD}
SECONDS_EACH=${ATUM_FUZZ_SECONDS:-15}
CLANG=${CLANG:-clang}
TARGETS=${1:-mime smtp mailhdr imap}
. "$SRC/tests/lib.sh"
exec 3>&1                    # check() swallows output; the figures go here

skip() { echo "SKIP: $*"; echo "0 passed, 0 failed"; rm -f "$T_OUT"; exit 77; }
command -v "$CLANG" >/dev/null 2>&1 || skip "no clang (apt-get install clang libclang-rt-14-dev)"
[ -f "$BUILD/config.h" ] || skip "no config.h in $BUILD: run from a configured build tree"

if [ -n "${ATUM_FUZZ_DIR:-}" ]; then
    W=$ATUM_FUZZ_DIR; mkdir -p "$W"; keep=yes
else
    W=$(mktemp -d /tmp/atum-fuzz.XXXXXX); keep=no
fi
cleanup() { [ "$keep" = yes ] || rm -rf "$W"; }
trap cleanup EXIT

# -fno-sanitize-recover: undefined behaviour is a failure, not a warning
FLAGS="-g -O1 -fno-omit-frame-pointer -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined"
printf 'int LLVMFuzzerTestOneInput(const unsigned char *d, unsigned long n);\nint LLVMFuzzerTestOneInput(const unsigned char *d, unsigned long n) { (void)d; (void)n; return 0; }\n' >"$W/probe.c"
$CLANG $FLAGS "$W/probe.c" -o "$W/probe" >"$W/probe.log" 2>&1 ||
    skip "clang cannot build libFuzzer targets (libclang-rt-14-dev missing?): $(head -c 300 "$W/probe.log")"

# the libraries as pkg-config knows them; libetpan's .pc leaks -specs=
libs() { pkg-config --libs "$@" | sed -e 's/-specs=[^ ]*//g'; }
INC="-I$BUILD -I$SRC/src -I$SRC/include $(pkg-config --cflags libetpan gumbo uchardet jansson libcrypto)"
MIME_SRC="src/mail/mime.c src/mail/mailhdr.c src/mail/rfc2047.c src/mail/charset.c src/mail/html.c
          src/mail/quote.c src/mail/msg.c src/mail/mimecut.c src/mail/robot.c src/mail/bouncetext.c src/mail/summary.c src/lib/strbuf.c src/lib/xalloc.c src/lib/util.c src/lib/err.c"
SMTP_SRC="src/mail/smtp_proto.c src/lib/strbuf.c src/lib/xalloc.c"
MAILHDR_SRC="src/mail/mailhdr.c src/mail/rfc2047.c src/mail/charset.c src/lib/strbuf.c src/lib/xalloc.c src/lib/util.c src/lib/err.c"
IMAP_SRC="src/mail/imap_scan.c"

build() {   # build NAME SOURCES LIBS
    local srcs=() f
    for f in $2; do srcs+=("$SRC/$f"); done
    # shellcheck disable=SC2086
    $CLANG $FLAGS $INC "$SRC/tests/fuzz/fuzz_$1.c" "${srcs[@]}" -o "$W/fuzz_$1" $3
}

run() {   # run NAME SEED_DIR...
    local name=$1; shift
    mkdir -p "$W/corpus_$name" "$W/artifacts_$name"
    # the first directory receives what the fuzzer finds; the seeds stay untouched
    "$W/fuzz_$name" -max_total_time="$SECONDS_EACH" -timeout=10 -rss_limit_mb=1536 \
        -print_final_stats=1 -artifact_prefix="$W/artifacts_$name/" \
        "$W/corpus_$name" "$@" >"$W/$name.log" 2>&1
    local rc=$?
    grep -E '^stat::(number_of_executed_units|average_exec_per_sec|new_units_added)' "$W/$name.log" |
        sed "s/^/    $name /" >&3
    if [ $rc -ne 0 ]; then
        keep=yes
        grep -E 'ERROR|SUMMARY|runtime error|^    #[0-9]' "$W/$name.log" | head -n 25
        for a in "$W/artifacts_$name"/*; do
            [ -f "$a" ] || continue
            echo "    input that failed: $a"; od -c "$a" | head -n 8
        done
        echo "    full log: $W/$name.log (kept)"
    fi
    return $rc
}

for t in $TARGETS; do
    case $t in
        mime)
            check "fuzz_mime builds with clang" \
                build mime "$MIME_SRC" "$(libs libetpan gumbo uchardet jansson libcrypto)"
            [ -x "$W/fuzz_mime" ] &&
                check "fuzz_mime: ${SECONDS_EACH}s of mail_parse() without a crash" \
                    run mime "$SRC/tests/data/mail" "$SRC/tests/fuzz/regress/mime" ;;
        smtp)
            check "fuzz_smtp builds with clang" build smtp "$SMTP_SRC" ""
            [ -x "$W/fuzz_smtp" ] &&
                check "fuzz_smtp: ${SECONDS_EACH}s of the SMTP parser without a crash" \
                    run smtp "$SRC/tests/fuzz/corpus/smtp" "$SRC/tests/fuzz/regress/smtp" "$SRC/tests/data/mail" ;;
        mailhdr)
            check "fuzz_mailhdr builds with clang" \
                build mailhdr "$MAILHDR_SRC" "$(libs uchardet libcrypto)"
            [ -x "$W/fuzz_mailhdr" ] &&
                check "fuzz_mailhdr: ${SECONDS_EACH}s of the header parser without a crash" \
                    run mailhdr "$SRC/tests/fuzz/corpus/mailhdr" "$SRC/tests/data/mail" ;;
        imap)
            check "fuzz_imap builds with clang" build imap "$IMAP_SRC" ""
            [ -x "$W/fuzz_imap" ] &&
                check "fuzz_imap: ${SECONDS_EACH}s of the IMAP stream check without a crash" \
                    run imap "$SRC/tests/fuzz/corpus/imap" ;;
        *) echo "unknown target $t (mime, smtp, mailhdr, imap)"; exit 2 ;;
    esac
done
finish
