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
. "$ATUM_SRCDIR/tests/e2e/browser.sh"
S=$ATUM_SRCDIR
B=$ATUM_BUILDDIR
T=$ATUM_TEST_TMP
PSQL="psql -X -q -t -A -d $ATUM_TEST_DATABASE_URL"
EVIL_PID=
cleanup() {
    atumd_stop
    [ -n "$EVIL_PID" ] && kill "$EVIL_PID" 2>/dev/null && wait "$EVIL_PID" 2>/dev/null
    return 0
}
trap cleanup EXIT

browser_prereqs
if [ "$T_FAIL" -gt 0 ]; then
    finish
    exit 1
fi

. "$S/tests/e2e/setup.sh" || { echo "FAIL: the test world could not be set up"; tail -n 30 "$T/atumd.log"; exit 1; }

shots=$(browser_shots "${DESK_SCREENSHOTS:-}")
export DESK_SCREENSHOTS=$shots DESK_CHROMIUM=$CHROMIUM DESK_PROFILES=$T/profiles
# one check per browser test, from the TAP the runner writes
browser_run desk.test.mjs
check "nothing reached the other origin" test ! -s "$DESK_EVIL_LOG"
check "atumd stops cleanly" atumd_stop
finish
