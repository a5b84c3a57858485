#!/bin/bash
# desk_live_e2e_pg.sh -- the desk's live work in a real browser (Debian's
# chromium, headless, playwright-core; tests/e2e/live.test.mjs) against a
# real atumd with an SMTP listener and a test smarthost
# (tests/smtpsink.py): a mail sent over SMTP shows in an open inbox
# without a reload within 1 s; the agent replies from the desk, the reply
# reaches the smarthost threaded on the customer's mail, and the
# customer's answer to it shows on the open ticket; two agents on one ticket see
# each other's presence, the second reply gets the 409 with the newer
# message and keeps the draft, a reply by mail that crossed a newer
# message is offered to its author.  Same world as desk_e2e_pg.sh
# (tests/e2e/setup.sh), plus a second agent in the support queue.
# Screenshots ("reply with a 409", presence) go to DESK_SCREENSHOTS.
set -u
. "$ATUM_SRCDIR/tests/lib.sh"
. "$ATUM_SRCDIR/tests/e2e/browser.sh"
S=$ATUM_SRCDIR
B=$ATUM_BUILDDIR
T=$ATUM_TEST_TMP
PSQL="psql -X -q -t -A -d $ATUM_TEST_DATABASE_URL"
EVIL_PID=
SINK_PID=
cleanup() {
    atumd_stop
    [ -n "$EVIL_PID" ] && kill "$EVIL_PID" 2>/dev/null && wait "$EVIL_PID" 2>/dev/null
    [ -n "$SINK_PID" ] && kill "$SINK_PID" 2>/dev/null && wait "$SINK_PID" 2>/dev/null
    return 0
}
trap cleanup EXIT

browser_prereqs
if [ "$T_FAIL" -gt 0 ]; then
    finish
    exit 1
fi
# the smarthost: a real SMTP server that keeps every mail atumd sends
/usr/bin/python3 "$S/tests/smtpsink.py" --port 0 --port-file "$T/sink.port" --dir "$T/sink" >>"$T/sink.log" 2>&1 &
SINK_PID=$!
if ! wait_until 10 test -s "$T/sink.port"; then
    echo "FAIL: the smarthost did not start"
    cat "$T/sink.log"
    exit 1
fi
export DESK_SINK=$T/sink
export DESK_EXTRA_CONF="[smtp]
listen = 127.0.0.1:0
[smarthost]
url = smtp://127.0.0.1:$(cat "$T/sink.port")
starttls = no"
. "$S/tests/e2e/setup.sh" || { echo "FAIL: the test world could not be set up"; tail -n 30 "$T/atumd.log"; exit 1; }
"$CTL" queue member support other@example.com >/dev/null
DESK_SMTP_PORT=$(sed -n 's/.*event=smtp\.listening .*port=\([0-9]*\).*/\1/p' "$T/atumd.log" | head -n 1)
check "atumd listens for SMTP" test -n "$DESK_SMTP_PORT"
export DESK_SMTP_PORT DESK_SECRET=desk-e2e-secret-0123456789abcdef0123456789
export DESK_SMTPTOOL=$S/tests/smtptool.py DESK_TMP=$T DESK_CTL=$CTL

shots=$(browser_shots "${DESK_SCREENSHOTS:-}")
export DESK_SCREENSHOTS=$shots DESK_CHROMIUM=$CHROMIUM
browser_run live.test.mjs
check "no error in atumd's log" bash -c "! grep -E 'level=error|AddressSanitizer|runtime error' '$T/atumd.log'"
check "atumd stops cleanly" atumd_stop
finish
