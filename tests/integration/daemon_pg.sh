#!/bin/bash
# daemon_pg.sh -- atumd and atumctl as an operator uses them, against the
# private PostgreSQL of tests/run-test: bad configurations, the admin
# commands, signals, a database restart and a worker killed mid-job.
set -u
. "$ATUM_SRCDIR/tests/lib.sh"
B=$ATUM_BUILDDIR
T=$ATUM_TEST_TMP
ATUMD=$B/atumd
CTL=$B/atumctl
PSQL="psql -X -q -t -A -d $ATUM_TEST_DATABASE_URL"
port_take WEBPORT

write_conf() {
    cat >"$T/atum.conf" <<CONF
[core]
database_url = $ATUM_TEST_DATABASE_URL
secret_key = test-secret-0123456789abcdef0123456789
workers = 2
plugin_dir = $ATUM_TEST_PLUGIN_DIR
shutdown_timeout = 10s
[queue]
lease = ${LEASE:-5m}
poll_interval = 500ms
maintenance_interval = 200ms
[web]
listen = 127.0.0.1:$WEBPORT
max_body = ${MAX_BODY:-25M}
[smarthost]
url = ${SMARTHOST:-}
[plugin.testplug]
greeting = ${GREETING:-hi}
CONF
}
write_conf
export ATUM_CONFIG=$T/atum.conf

# ---- bad configurations: clear error naming file:line, exit 78 ----------
expect_conf_error() {   # TEXT NEEDLE
    printf '%b' "$1" >"$T/bad.conf"
    out=$("$ATUMD" -c "$T/bad.conf" --check-config 2>&1); rc=$?
    [ $rc -eq 78 ] && grep -qF -- "$2" <<<"$out" || { echo "rc=$rc out=$out"; return 1; }
}
check "unknown key names file and line" expect_conf_error '[core]\nworkers = 2\nwrokers = 3\n' "$T/bad.conf:3: unknown key 'wrokers' in [core]"
check "bad value names file and line" expect_conf_error '[queue]\nlease = soon\n' "$T/bad.conf:2: queue.lease must be a duration"
check "unreadable file is an error" bash -c "'$ATUMD' -c /nonexistent.conf -t 2>&1 | grep -q 'cannot read configuration'"
check "check-config accepts the test config" "$ATUMD" -c "$T/atum.conf" -t
check "the sample config is valid" "$ATUMD" -c "$ATUM_SRCDIR/etc/atum-desk.conf.sample" -t

# ---- atumctl -----------------------------------------------------------
check "status before migrate says so" bash -c "'$CTL' status | grep -q 'not migrated'"
# every core migration (sql/*.sql) plus testplug's one
NMIG=$(( $(ls "$ATUM_SRCDIR"/sql/*.sql | wc -l) + 1 ))
check "migrate applies core and plugin migrations" bash -c "'$CTL' migrate | grep -q 'migrations applied: $NMIG'"
check "migrate again is a no-op" bash -c "'$CTL' migrate | grep -q 'migrations applied: 0'"
check "user add (password from stdin)" bash -c "echo 'correct horse battery' | '$CTL' user add admin@example.com --name Admin --role admin --password-stdin"
check_fails "duplicate user refused" bash -c "echo 'correct horse battery' | '$CTL' user add ADMIN@example.com --password-stdin"
check_fails "weak password refused" bash -c "echo short | '$CTL' user add weak@example.com --password-stdin"
check_fails "bad role refused" bash -c "'$CTL' user add x@example.com --role god --no-password"
check_fails "bad address refused" bash -c "'$CTL' user add 'not an address' --no-password"
check "password is stored as yescrypt" bash -c "[ \"\$($PSQL -c \"SELECT left(password_hash, 3) FROM users WHERE email = 'admin@example.com'\")\" = '\$y\$' ]"
check "user passwd changes the hash" bash -c "h1=\$($PSQL -c \"SELECT password_hash FROM users\"); echo 'another long secret' | '$CTL' user passwd admin@example.com --password-stdin && [ \"\$($PSQL -c \"SELECT password_hash FROM users\")\" != \"\$h1\" ]"
check "user list --json" bash -c "'$CTL' --json user list | python3 -c 'import json,sys; u=json.load(sys.stdin); assert u[0][\"email\"]==\"admin@example.com\" and u[0][\"role\"]==\"admin\"'"
check "queue add" "$CTL" queue add support support@example.com
check_fails "queue with same address refused" "$CTL" queue add other SUPPORT@example.com
check "queue member" "$CTL" queue member support admin@example.com
check "queue list" bash -c "'$CTL' queue list | grep -q 'support@example.com'"
# user.create, user.password, user.access_ended (the password change ends
# sessions and tokens), queue.create, queue.member
check "audit log has the admin actions" bash -c "[ \"\$($PSQL -c \"SELECT count(*) FROM audit_log WHERE actor = 'atumctl'\")\" = 5 ]"

cat >"$T/mail.eml" <<'MAIL'
From: Customer <c@example.org>
To: support@example.com
Subject: Printer on fire
Message-ID: <fire-1@example.org>

Help!
MAIL
check "inject stores the raw bytes unchanged and prints the id" bash -c "id=\$('$CTL' inject --from c@example.org --to support@example.com < '$T/mail.eml') && [ \"\$($PSQL -c \"SELECT md5(raw) FROM inbound_mail WHERE id = \$id\")\" = \"\$(md5sum < '$T/mail.eml' | cut -d' ' -f1)\" ]"
check "inject enqueued mail.ingest with the mail" bash -c "[ \"\$($PSQL -c \"SELECT count(*) FROM jobs WHERE kind = 'mail.ingest' AND (payload->>'inbound_id')::bigint = (SELECT max(id) FROM inbound_mail)\")\" = 1 ]"
check_fails "inject refuses an empty message" bash -c "'$CTL' inject < /dev/null"
check_fails "inject refuses a message over mail.max_message_size" bash -c "head -c 5000 /dev/zero | tr '\\0' x | ATUM_MAIL_MAX_MESSAGE_SIZE=1K '$CTL' inject"
check "an empty message stores nothing" bash -c "[ \"\$($PSQL -c 'SELECT count(*) FROM inbound_mail')\" = 1 ]"
check "plugins lists testplug ok" bash -c "'$CTL' plugins | grep -q '^testplug *ok *v1.0 ABI 1'"
check "jobs enqueue + list" bash -c "id=\$('$CTL' jobs enqueue core.noop '{\"x\":1}' --priority 5) && '$CTL' jobs list | grep -q \"^\$id \""
check "jobs enqueue --unique is idempotent" bash -c "'$CTL' jobs enqueue core.noop --unique k1 >/dev/null && '$CTL' jobs enqueue core.noop --unique k1 | grep -q 'not enqueued'"
check_fails "jobs enqueue refuses bad JSON" "$CTL" jobs enqueue core.noop '{nope'
check_fails "jobs retry of a job that is not dead" "$CTL" jobs retry 1

# stats_is KIND "READY SCHEDULED RUNNING DEAD DONE_LAST_HOUR": atumctl jobs stats
stats_is() {
    local got
    got=$("$CTL" --json jobs stats | python3 -c '
import json, sys
rows = [r for r in json.load(sys.stdin) if r["kind"] == sys.argv[1]]
cols = ("ready", "scheduled", "running", "dead", "done_last_hour")
print(" ".join(str(rows[0][c]) for c in cols) if len(rows) == 1 else "rows=%d" % len(rows))' "$1")
    [ "$got" = "$2" ] || { echo "jobs stats for $1: '$got', want '$2'"; "$CTL" jobs stats; return 1; }
}
"$CTL" jobs enqueue stats.probe --delay 3600 >/dev/null
check "jobs stats: ready jobs by kind" stats_is core.noop "2 0 0 0 0"
check "jobs stats: the injected mail is ready" stats_is mail.ingest "1 0 0 0 0"
check "jobs stats: a delayed job is scheduled, not ready" stats_is stats.probe "0 1 0 0 0"
check "jobs stats: a table with every column" bash -c "'$CTL' jobs stats | head -n 1 | grep -qE '^kind +ready +scheduled +running +dead +done_last_hour'"
$PSQL -c "DELETE FROM jobs WHERE kind = 'stats.probe'"

# ---- atumd: start, serve, work ----------------------------------------
# tests/lib.sh's atumd_start: honours ATUMD_WRAPPER (valgrind)
start_atumd() { atumd_start "$T/atum.conf" "$T/atumd.log"; }
check "atumd starts and answers /healthz" start_atumd
check "status page lists the plugin" bash -c "curl -sf http://127.0.0.1:$WEBPORT/status | grep -q 'testplug: loaded'"
check "plugin route answers with configured greeting" bash -c "curl -sf http://127.0.0.1:$WEBPORT/api/v1/plugins/testplug/hello | grep -q '\"hi\"'"
check "atumctl status shows the live node" bash -c "'$CTL' status | grep -q alive"
check "the injected mail became a ticket" wait_until 10 bash -c "[ \"\$($PSQL -c \"SELECT count(*) FROM tickets WHERE subject = 'Printer on fire'\")\" = 1 ]"
check "queued jobs get done" wait_until 10 bash -c "[ \"\$($PSQL -c \"SELECT count(*) FROM jobs WHERE kind = 'core.noop'\")\" = 0 ]"
for i in 1 2 3 4 5; do "$CTL" jobs enqueue testplug.work '{}' >/dev/null; done
check "plugin jobs run" wait_until 10 bash -c "[ \"\$($PSQL -c 'SELECT count(*) FROM testplug_runs')\" = 5 ]"
"$CTL" jobs enqueue testplug.work '{"permanent": true}' >/dev/null
check "a failing job goes dead with its error" wait_until 10 bash -c "'$CTL' jobs list --state dead | grep -q 'planned permanent failure'"
check "jobs stats: done in the last hour and dead" stats_is testplug.work "0 0 0 1 5"
check "jobs stats: finished kinds stay listed" stats_is core.noop "0 0 0 0 2"
check "jobs retry requeues a dead job" bash -c "id=\$($PSQL -c \"SELECT id FROM jobs WHERE state = 'dead' LIMIT 1\"); '$CTL' jobs retry \$id | grep -q 'requeued 1 job'"

# SIGHUP: reload config and plugins
GREETING=salut write_conf
kill -HUP "$ATUMD_PID"
check "SIGHUP reloads plugin config" wait_until 10 bash -c "curl -sf http://127.0.0.1:$WEBPORT/api/v1/plugins/testplug/hello | grep -q salut"
printf '[core]\nbogus = 1\n' >>"$T/atum.conf"
kill -HUP "$ATUMD_PID"
check "a bad config on SIGHUP is refused, atumd runs on" wait_until 10 bash -c "grep -q 'reload.refused' '$T/atumd.log' && curl -sf http://127.0.0.1:$WEBPORT/healthz"
GREETING=salut write_conf

# every key a reload changes is applied or named as needing a restart
GREETING=salut MAX_BODY=1M SMARTHOST=smtp://127.0.0.1:1 write_conf
kill -HUP "$ATUMD_PID"
check "a changed key that needs a restart says so" \
    wait_until 10 grep -q 'event=reload.needs_restart key=web.max_body owner=web' "$T/atumd.log"
check "a changed key read where it is used is applied" \
    grep -q 'event=reload.applied key=smarthost.url owner=mailout' "$T/atumd.log"
check "... and the reload counts both" grep -q 'event=reload.done changed_keys=2 ' "$T/atumd.log"
GREETING=salut write_conf

# a plugin switched off through the API (plugin_settings) on another node
$PSQL -c "INSERT INTO plugin_settings (name, enabled) VALUES ('testplug', false)"
check "plugin_settings changes reach this node" wait_until 10 bash -c "[ \"\$(curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:$WEBPORT/api/v1/plugins/testplug/hello)\" = 404 ]"
$PSQL -c "UPDATE plugin_settings SET enabled = true, changed_at = now()"
check "and back on" wait_until 10 curl -sf "http://127.0.0.1:$WEBPORT/api/v1/plugins/testplug/hello"

# PostgreSQL goes away and comes back.  Before the outage: one job running
# (it records its run at once, then is still sleeping when the database
# goes, so its completion must wait for the database) and five queued, due
# only once the database is already gone.  All six must finish after the
# restart, each exactly once (one testplug_runs row, one attempt).
QUEUED=$("$CTL" jobs enqueue testplug.work '{"sleep_ms": 3000, "record_first": true}')
wait_until 10 bash -c "[ \"\$($PSQL -c \"SELECT count(*) FROM testplug_runs WHERE job_id = $QUEUED\")\" = 1 ]"
for i in 1 2 3 4 5; do QUEUED=$QUEUED,$("$CTL" jobs enqueue testplug.work '{}' --delay 4); done
check "six jobs queued or running before the outage" test "$($PSQL -c "SELECT count(*) FROM jobs WHERE id IN ($QUEUED) AND state IN ('available', 'running')")" = 6
T_STOP=$($PSQL -c "SELECT now()")
# the outage lasts until the five delayed jobs are due (by the database's clock)
DUE_MS=$($PSQL -c "SELECT ceil(extract(epoch FROM max(run_at)) * 1000)::bigint FROM jobs WHERE id IN ($QUEUED)")
"$ATUM_TEST_PGCTL" stop
check "healthz says 503 while the database is down" wait_until 10 bash -c "[ \"\$(curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:$WEBPORT/healthz)\" = 503 ]"
wait_until 10 bash -c "[ \$(( \$(date +%s%N) / 1000000 )) -gt $DUE_MS ]"
check "atumd is still running without its database" kill -0 "$ATUMD_PID"
"$ATUM_TEST_PGCTL" start
check "healthz recovers" wait_until 30 curl -sf "http://127.0.0.1:$WEBPORT/healthz"
check "the jobs queued before the outage all finish after it" wait_until 30 bash -c "[ \"\$($PSQL -c \"SELECT count(DISTINCT job_id) FROM testplug_runs WHERE job_id IN ($QUEUED)\")\" = 6 ] && [ \"\$($PSQL -c \"SELECT count(*) FROM jobs WHERE id IN ($QUEUED)\")\" = 0 ]"
check "none of them ran twice" test "$($PSQL -c "SELECT count(*) FROM testplug_runs WHERE job_id IN ($QUEUED)"),$($PSQL -c "SELECT sum(attempts) FROM job_archive WHERE id IN ($QUEUED)")" = 6,6
check "the job that finished while the database was away was recorded when it came back" \
    test "$($PSQL -c "SELECT finished_at > '$T_STOP' AND attempts = 1 FROM job_archive WHERE id = ${QUEUED%%,*}")" = t
RUNS=$($PSQL -c 'SELECT count(*) FROM testplug_runs')
for i in 1 2 3 4 5; do "$CTL" jobs enqueue testplug.work '{}' >/dev/null; done
check "jobs after the restart get done" wait_until 30 bash -c "[ \"\$($PSQL -c 'SELECT count(*) FROM testplug_runs')\" = $((RUNS + 5)) ]"
check "the outage was logged once (not once per connection) and the recovery too" \
    bash -c "[ \"\$(grep -c 'event=db.down' '$T/atumd.log')\" = 1 ] && [ \"\$(grep -c 'event=db.up' '$T/atumd.log')\" = 1 ]"

# SIGTERM drains and exits 0
"$CTL" jobs enqueue testplug.work '{"sleep_ms": 1500}' >/dev/null
wait_until 10 bash -c "[ \"\$($PSQL -c \"SELECT count(*) FROM jobs WHERE state = 'running'\")\" = 1 ]"
kill -TERM "$ATUMD_PID"
wait "$ATUMD_PID"; rc=$?
check "SIGTERM exits 0" test "$rc" -eq 0
check "the running job was finished before exit" bash -c "[ \"\$($PSQL -c 'SELECT count(*) FROM testplug_runs')\" = $((RUNS + 6)) ] && [ \"\$($PSQL -c \"SELECT count(*) FROM jobs WHERE state = 'running'\")\" = 0 ]"
check "the node unregistered" bash -c "[ \"\$($PSQL -c 'SELECT count(*) FROM nodes')\" = 0 ]"

# kill -9 while a job runs: after the lease it runs again, exactly once more
LEASE=3s write_conf
check "atumd starts again" start_atumd
"$CTL" jobs enqueue testplug.work '{"sleep_ms": 1500}' >/dev/null
wait_until 10 bash -c "[ \"\$($PSQL -c \"SELECT count(*) FROM jobs WHERE state = 'running'\")\" = 1 ]"
kill -KILL "$ATUMD_PID"; wait "$ATUMD_PID" 2>/dev/null
check "atumd restarts after kill -9" start_atumd
check "the killed job is rescued and completed on attempt 2" wait_until 20 bash -c "[ \"\$($PSQL -c 'SELECT count(*) FROM testplug_runs WHERE attempt = 2')\" = 1 ] && [ \"\$($PSQL -c \"SELECT count(*) FROM jobs WHERE kind = 'testplug.work' AND state <> 'dead'\")\" = 0 ]"
kill -TERM "$ATUMD_PID"; wait "$ATUMD_PID"

# a port already in use is a clear start-up error
# the blocker holds the port (ours: port_take) until its stdin closes, and
# says when it listens
coproc BLOCKER { python3 -c 'import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(); print("listening", flush=True); sys.stdin.read()' "$WEBPORT"; }
BLOCKER_IN=${BLOCKER[1]}
read -r -t 20 ready <&"${BLOCKER[0]}"
busy_port_fails() {
    timeout 10 "$ATUMD" -c "$T/atum.conf" --foreground >"$T/busy.log" 2>&1
    rc=$?
    [ $rc -eq 1 ] && grep -q 'web server cannot listen' "$T/busy.log"
}
check "the blocker listens on the web port" test "${ready:-}" = listening
check "a busy web port stops atumd with a clear error" busy_port_fails
eval "exec $BLOCKER_IN>&-"; wait "$BLOCKER_PID" 2>/dev/null

finish
