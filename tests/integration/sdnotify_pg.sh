#!/bin/bash
# sdnotify_pg.sh -- atumd under a stand-in for systemd's notification
# socket (tests/notifylisten.py at NOTIFY_SOCKET): READY=1 only once the
# web server listens, WATCHDOG=1 from the main loop while WATCHDOG_USEC
# asks for it (and never when it is meant for another pid), RELOADING=1
# and READY=1 around SIGHUP, STOPPING=1 on SIGTERM.
set -u
. "$ATUM_SRCDIR/tests/lib.sh"
B=$ATUM_BUILDDIR
T=$ATUM_TEST_TMP
cat >"$T/atum.conf" <<CONF
[core]
database_url = $ATUM_TEST_DATABASE_URL
secret_key = test-secret-0123456789abcdef0123456789
workers = 1
[queue]
maintenance_interval = 20s
[web]
listen = 127.0.0.1:0
CONF
export ATUM_CONFIG=$T/atum.conf
"$B/atumctl" migrate >/dev/null || { echo "migrate failed"; exit 1; }

LISTENER_PID=
cleanup() {
    [ -n "${ATUMD_PID:-}" ] && kill -TERM "$ATUMD_PID" 2>/dev/null && wait "$ATUMD_PID" 2>/dev/null
    [ -n "$LISTENER_PID" ] && kill "$LISTENER_PID" 2>/dev/null && wait "$LISTENER_PID" 2>/dev/null
}
trap cleanup EXIT

# start_under_notify NAME ENV...: a fresh listener and atumd with NOTIFY_SOCKET
start_under_notify() {
    local name=$1; shift
    SOCK=$T/$name.sock
    MSGS=$T/$name.msgs
    LOG=$T/$name.log
    rm -f "$SOCK" "$MSGS"
    /usr/bin/python3 "$ATUM_SRCDIR/tests/notifylisten.py" "$SOCK" "$MSGS" &
    LISTENER_PID=$!
    wait_until 10 test -S "$SOCK" || return 1
    env NOTIFY_SOCKET="$SOCK" "$@" ${ATUMD_WRAPPER:-} "$B/atumd" -c "$T/atum.conf" --foreground >"$LOG" 2>&1 &
    ATUMD_PID=$!
}
stop_listener() { kill "$LISTENER_PID"; wait "$LISTENER_PID" 2>/dev/null; LISTENER_PID=; }
count() { grep -c -- "$1" "$MSGS" 2>/dev/null || true; }
web_port() { sed -n 's/.*event=web.listening .*port=\([0-9]*\).*/\1/p' "$LOG" | head -n 1; }

# ---- with a watchdog of 400 ms -------------------------------------------
check "listener and atumd start" start_under_notify wd WATCHDOG_USEC=400000
check "READY=1 arrives" wait_until 30 grep -q "READY=1" "$MSGS"
check "READY=1 came from atumd's own pid" grep -q "pid=$ATUMD_PID READY=1" "$MSGS"
ready_after_listen() {
    local port; port=$(web_port)
    [ -n "$port" ] && grep "READY=1" "$MSGS" | head -n 1 | grep -qE "listening=([0-9,]*,)?$port(,|$)" ||
        { echo "port=$port"; cat "$MSGS"; return 1; }
}
check "when READY=1 arrived, the web server was already listening" ready_after_listen
check "it answers at once" bash -c "curl -sf http://127.0.0.1:$(web_port)/healthz"
# maintenance runs every 20 s: five keep-alives within 10 s come from the
# loop waking for the watchdog (every 200 ms), not from maintenance
check "WATCHDOG=1 keeps coming while WATCHDOG_USEC is set" wait_until 10 bash -c "[ \$(grep -c WATCHDOG=1 '$MSGS') -ge 5 ]"
check "no keep-alive before READY=1" bash -c "head -n 1 '$MSGS' | grep -q READY=1"
check "atumd logged the watchdog it serves" grep -q "event=svc.notify .*watchdog_ms=200" "$LOG"
kill -HUP "$ATUMD_PID"
check "SIGHUP: RELOADING=1, then READY=1 again" wait_until 20 bash -c "grep -A100 RELOADING=1 '$MSGS' | grep -q READY=1"
kill -TERM "$ATUMD_PID"
wait "$ATUMD_PID"; rc=$?; ATUMD_PID=
check "SIGTERM: exit 0" test "$rc" -eq 0
check "SIGTERM: STOPPING=1" grep -q "pid=[0-9]* STOPPING=1" "$MSGS"
stop_listener

# ---- a watchdog meant for another process --------------------------------
check "atumd starts with WATCHDOG_PID of another process" start_under_notify other WATCHDOG_USEC=400000 WATCHDOG_PID=1
check "READY=1 arrives" wait_until 30 grep -q "READY=1" "$MSGS"
# two reloads: the loop turned twice after READY (datagrams keep their
# order, so a keep-alive of those turns would be in the log by now)
kill -HUP "$ATUMD_PID"
wait_until 20 bash -c "[ \$(grep -c READY=1 '$MSGS') -ge 2 ]"
kill -HUP "$ATUMD_PID"
check "reloads answered" wait_until 20 bash -c "[ \$(grep -c READY=1 '$MSGS') -ge 3 ]"
check "no WATCHDOG=1 when the watchdog is not ours" test "$(count WATCHDOG=1)" -eq 0
kill -TERM "$ATUMD_PID"
wait "$ATUMD_PID"; ATUMD_PID=
check "STOPPING=1" grep -q STOPPING=1 "$MSGS"
stop_listener

# ---- no NOTIFY_SOCKET: nothing is sent, nothing fails ---------------------
"$B/atumd" -c "$T/atum.conf" --foreground >"$T/plain.log" 2>&1 &
ATUMD_PID=$!
check "without NOTIFY_SOCKET atumd runs as before" wait_until 30 grep -q "event=atumd.ready" "$T/plain.log"
check "and says nothing about notifications" bash -c "! grep -q 'svc\\.' '$T/plain.log'"
kill -TERM "$ATUMD_PID"; wait "$ATUMD_PID"; rc=$?; ATUMD_PID=
check "exit 0" test "$rc" -eq 0
finish
