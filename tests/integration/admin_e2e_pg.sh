#!/bin/bash
# admin_e2e_pg.sh -- the admin pages in a real browser: Debian's chromium,
# headless, driven by playwright-core (tests/e2e/admin.test.mjs, Node's own
# test runner) against a real atumd serving the built pages, a private
# PostgreSQL (tests/run-test), a private Dovecot (tests/dovecot.sh) the
# mailbox page's "Test connection" talks to, and a smarthost
# (tests/smtpsink.py) that keeps what it gets.  The story: an agent gets no
# admin pages; an admin signs in, creates a customer, invites and disables
# it, sees a refused field marked with the text kept, adds a mailbox and
# tests it (right password, then wrong), edits a template and sees its
# preview, retries a dead job, filters and verifies the audit log.  Each
# browser test counts as one check.  Screenshots go to ADMIN_SCREENSHOTS
# (default: the build tree's tests/e2e/screenshots); docs/screenshots/ has
# the ones the README shows.  No chromium, Node, playwright-core or Dovecot
# is a failure, never a skip.
set -u
. "$ATUM_SRCDIR/tests/lib.sh"
. "$ATUM_SRCDIR/tests/e2e/browser.sh"
. "$ATUM_SRCDIR/tests/pg.sh"
. "$ATUM_SRCDIR/tests/dovecot.sh"
S=$ATUM_SRCDIR
B=$ATUM_BUILDDIR
T=$ATUM_TEST_TMP
CTL=$B/atumctl
PSQL="psql -X -q -t -A -d $ATUM_TEST_DATABASE_URL"
PW='admin e2e correct horse battery'
DOVECOT_UP=
SINK_PID=
cleanup() {
    atumd_stop
    [ -n "$DOVECOT_UP" ] && dovecot_stop "$T/dovecot"
    [ -n "$SINK_PID" ] && kill "$SINK_PID" 2>/dev/null && wait "$SINK_PID" 2>/dev/null
    return 0
}
trap cleanup EXIT

browser_prereqs
check "dovecot is installed (apt-get install dovecot-imapd)" test -x /usr/sbin/dovecot
check "the admin pages are built ($B/web/dist/admin.html)" test -f "$B/web/dist/admin.html"
check "the metrics plugin is built (the plugins page shows it)" test -f "$B/plugins/metrics/.libs/metrics.so"
if [ "$T_FAIL" -gt 0 ]; then
    finish
    exit 1
fi

# a smarthost that keeps what it gets (the invitations go there) and
# refuses whom the test tells it to
echo '{}' >"$T/sink.control"
/usr/bin/python3 "$S/tests/smtpsink.py" --port 0 --port-file "$T/sink.port" --dir "$T/sink" \
    --control "$T/sink.control" >>"$T/sink.log" 2>&1 &
SINK_PID=$!
wait_until 10 test -s "$T/sink.port" || { echo "FAIL: the smarthost did not start"; cat "$T/sink.log"; exit 1; }
dovecot_start "$T/dovecot" support imap-e2e-secret || { echo "FAIL: dovecot did not start"; exit 1; }
DOVECOT_UP=1
# the right password and a wrong one, in the variables a mailbox may name
export ATUM_IMAP_PASSWORD_SUPPORT=imap-e2e-secret ATUM_IMAP_PASSWORD_WRONG=not-the-password

cat >"$T/atum.conf" <<CONF
[core]
database_url = $ATUM_TEST_DATABASE_URL
secret_key = admin-e2e-secret-0123456789abcdef0123456789
workers = 2
[web]
listen = 127.0.0.1:0
assets_dir = $B/web/dist
[queue]
poll_interval = 200ms
[smarthost]
url = smtp://127.0.0.1:$(cat "$T/sink.port")
starttls = no
[plugin.metrics]
path = $B/plugins/metrics/.libs/metrics.so
[imap]
enabled = no
# the test Dovecot is on loopback and in clear
allow_insecure_loopback = yes
CONF
export ATUM_CONFIG=$T/atum.conf
"$CTL" migrate >/dev/null || { echo "FAIL: migrate"; exit 1; }
"$CTL" queue add support support@example.com >/dev/null
echo "$PW" | "$CTL" user add admin@example.com --name 'Ada Admin' --role admin --password-stdin >/dev/null
echo "$PW" | "$CTL" user add agent@example.com --name 'Alex Agent' --role agent --password-stdin >/dev/null
echo "$PW" | "$CTL" user add manager@example.com --name 'Max Manager' --role manager --password-stdin >/dev/null
"$CTL" queue member support agent@example.com >/dev/null
# a job that died (of a kind that succeeds when run again)
DEAD_JOB=$($PSQL -c "INSERT INTO jobs (kind, state, attempts, max_attempts, last_error)
                     VALUES ('core.noop', 'dead', 3, 3, 'admin-e2e: died on purpose') RETURNING id")
atumd_start_port0 "$T/atum.conf" "$T/atumd.log" || { echo "FAIL: atumd did not start"; tail -n 30 "$T/atumd.log"; exit 1; }

shots=$(browser_shots "${ADMIN_SCREENSHOTS:-}")
export ADMIN_SCREENSHOTS=$shots DESK_CHROMIUM=$CHROMIUM ADMIN_URL="http://127.0.0.1:$WEBPORT" ADMIN_PW=$PW \
    ADMIN_DEAD_JOB=$DEAD_JOB ADMIN_IMAP_PORT=$DOVECOT_PORT ADMIN_SINK=$T/sink \
    ADMIN_SINK_CONTROL=$T/sink.control
browser_run admin.test.mjs
check "atumd stops cleanly" atumd_stop
finish
