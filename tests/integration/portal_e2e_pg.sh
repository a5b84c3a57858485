#!/bin/bash
# portal_e2e_pg.sh -- the customer portal in a real browser: Debian's
# chromium, headless, driven by playwright-core (tests/e2e/portal.test.mjs,
# Node's own test runner) against a real atumd with a private PostgreSQL
# (tests/run-test), its SMTP listener and a real smarthost
# (tests/smtpsink.py) that keeps every mail the customer gets.  The story:
# a customer mails in over SMTP, claims the account from the portal link
# of the acknowledgement, sees the ticket, replies with a file, the agent
# answers (with an internal note beside), solves it, and the customer
# rates it from the solved mail's link.  Each browser test counts as one
# check.  Screenshots go to PORTAL_SCREENSHOTS (default: the build tree's
# tests/e2e/screenshots); docs/screenshots/ has the ones the README shows.
# No chromium, no Node or no playwright-core is a failure, never a skip.
set -u
. "$ATUM_SRCDIR/tests/lib.sh"
. "$ATUM_SRCDIR/tests/e2e/browser.sh"
S=$ATUM_SRCDIR
B=$ATUM_BUILDDIR
T=$ATUM_TEST_TMP
CTL=$B/atumctl
PY=/usr/bin/python3
SECRET=portal-e2e-secret-0123456789abcdef01234567
cleanup() {
    atumd_stop
    [ -n "${SINK_PID:-}" ] && kill "$SINK_PID" 2>/dev/null && wait "$SINK_PID" 2>/dev/null
    return 0
}
trap cleanup EXIT

browser_prereqs
if [ "$T_FAIL" -gt 0 ]; then
    finish
    exit 1
fi

$PY "$S/tests/smtpsink.py" --port 0 --port-file "$T/sink.port" --dir "$T/sink" >>"$T/sink.log" 2>&1 &
SINK_PID=$!
wait_until 10 test -s "$T/sink.port" || { echo "FAIL: the smarthost did not start"; cat "$T/sink.log"; exit 1; }
cat >"$T/atum.conf" <<CONF
[core]
database_url = $ATUM_TEST_DATABASE_URL
secret_key = $SECRET
workers = 2
public_url = http://portal.test
[web]
listen = 127.0.0.1:0
assets_dir = $B/web/dist
[smtp]
listen = 127.0.0.1:0
hostname = mx.test
[queue]
poll_interval = 200ms
[imap]
enabled = no
[smarthost]
url = smtp://127.0.0.1:$(cat "$T/sink.port")
starttls = no
[portal]
title = Example Help
CONF
export ATUM_CONFIG=$T/atum.conf
"$CTL" migrate >/dev/null || { echo "FAIL: migrate"; exit 1; }
"$CTL" queue add support support@example.com >/dev/null
"$CTL" queue add billing billing@example.com >/dev/null
printf 'agent-password-1\n' | "$CTL" user add ann@example.com --name 'Ann Agent' --role agent --password-stdin >/dev/null
"$CTL" queue member support ann@example.com >/dev/null
PORTAL_AGENT_TOKEN=$("$CTL" token add ann@example.com --name e2e | grep -o 'atum_[A-Za-z0-9_-]*' | head -n 1)
atumd_start_port0 "$T/atum.conf" "$T/atumd.log" || { echo "FAIL: atumd did not start"; tail -n 30 "$T/atumd.log"; exit 1; }
SMTPPORT=$(sed -n 's/.*event=smtp\.listening .*port=\([0-9]*\).*/\1/p' "$T/atumd.log" | head -n 1)
check "the SMTP listener is up (port $SMTPPORT)" test -n "$SMTPPORT"

# another customer's ticket, which the first must never see
printf '%s\r\n' 'From: Bob Other <bob@other.example>' 'To: support@example.com' \
    'Subject: Bob private matter' 'Message-ID: <e2e-b@other.example>' '' 'Private.' >"$T/b.eml"
$PY "$S/tests/smtptool.py" send "$SMTPPORT" support@example.com "$T/b.eml" >/dev/null
check "Bob's ticket exists" wait_until 20 bash -c \
    "[ -n \"\$(psql -X -q -t -A -d '$ATUM_TEST_DATABASE_URL' -c \"SELECT id FROM tickets WHERE subject = 'Bob private matter'\")\" ]"
PORTAL_FOREIGN=$(psql -X -q -t -A -d "$ATUM_TEST_DATABASE_URL" -c "SELECT id FROM tickets WHERE subject = 'Bob private matter'")

shots=$(browser_shots "${PORTAL_SCREENSHOTS:-}")
export PORTAL_SCREENSHOTS=$shots DESK_CHROMIUM=$CHROMIUM PORTAL_URL="http://127.0.0.1:$WEBPORT" \
    PORTAL_SMTP_PORT=$SMTPPORT PORTAL_SINK=$T/sink PORTAL_AGENT_TOKEN PORTAL_FOREIGN \
    PORTAL_SMTPTOOL=$S/tests/smtptool.py PORTAL_MAILCHECK=$S/tests/mailcheck.py PORTAL_TMP=$T
browser_run portal.test.mjs
check "atumd stops cleanly" atumd_stop
finish
