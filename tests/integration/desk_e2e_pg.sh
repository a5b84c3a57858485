#!/bin/bash
# desk_e2e_pg.sh -- the agent desk in a real browser: Debian's chromium,
# headless, driven by playwright-core (tests/e2e/desk.test.mjs, Node's own
# test runner) against a real atumd serving the built desk, with a private
# PostgreSQL (tests/run-test) and tickets made by injected mail
# (tests/e2e/setup.sh).  Each browser test counts as one check here.
# Screenshots (inbox, ticket, 360 px wide) go to DESK_SCREENSHOTS
# (default: the build tree's tests/e2e/screenshots); docs/screenshots/
# has the ones the README shows.
# No chromium, no Node or no playwright-core is a failure, never a skip:
# build-aux/deps.sh installs them.
set -u
. "$ATUM_SRCDIR/tests/lib.sh"
S=$ATUM_SRCDIR
B=$ATUM_BUILDDIR
T=$ATUM_TEST_TMP
PSQL="psql -X -q -t -A -d $ATUM_TEST_DATABASE_URL"
CHROMIUM=${DESK_CHROMIUM:-/usr/bin/chromium}
EVIL_PID=
cleanup() {
    atumd_stop
    [ -n "$EVIL_PID" ] && kill "$EVIL_PID" 2>/dev/null && wait "$EVIL_PID" 2>/dev/null
    return 0
}
trap cleanup EXIT

check "chromium is installed at $CHROMIUM (apt-get install chromium; build-aux/deps.sh does)" test -x "$CHROMIUM"
check "node is installed" command -v node
check "the desk is built ($B/web/dist/manifest.json)" test -f "$B/web/dist/manifest.json"
npm_e2e() { "$S/build-aux/npm-ci" "$S/tests/e2e" "$B/tests/e2e/npm"; }
check "playwright-core from tests/e2e/package-lock.json (npm ci)" npm_e2e
if [ "$T_FAIL" -gt 0 ]; then
    finish
    exit 1
fi

. "$S/tests/e2e/setup.sh" || { echo "FAIL: the test world could not be set up"; tail -n 30 "$T/atumd.log"; exit 1; }

shots=${DESK_SCREENSHOTS:-$B/tests/e2e/screenshots}
mkdir -p "$shots"
export DESK_SCREENSHOTS=$shots DESK_CHROMIUM=$CHROMIUM DESK_PROFILES=$T/profiles
export NODE_PATH=$B/tests/e2e/npm/node_modules
# one check per browser test, from the TAP the runner writes
node --test --test-reporter=tap --test-concurrency=1 "$S/tests/e2e/desk.test.mjs" >"$T/tap" 2>&1
rc=$?
while IFS= read -r line; do
    case "$line" in
        "ok "*" - "*) T_PASS=$((T_PASS + 1)); echo "PASS: ${line#* - }" ;;
        "not ok "*" - "*) T_FAIL=$((T_FAIL + 1)); echo "FAIL: ${line#* - }" ;;
    esac
done < <(grep -E '^    (not )?ok [0-9]+ - ' "$T/tap" | sed 's/^    //')
if [ $rc -ne 0 ]; then
    sed -n '/^    not ok/,/^    ok\|^# /p' "$T/tap" | sed 's/^/    | /' | head -n 80
    [ "$T_FAIL" -eq 0 ] && { T_FAIL=1; echo "FAIL: the browser test run (exit $rc)"; tail -n 30 "$T/tap"; }
fi
check "nothing reached the other origin" test ! -s "$DESK_EVIL_LOG"
check "atumd stops cleanly" atumd_stop
finish
