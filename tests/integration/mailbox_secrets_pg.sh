#!/bin/bash
# mailbox_secrets_pg.sh -- a mailbox's password comes only from an
# ATUM_IMAP_PASSWORD_<NAME> variable and goes in clear only to loopback
# when the operator allows it (desk/mailbox.h).  A fake IMAP server on
# loopback records every LOGIN it is sent; mailboxes written straight into
# the database (as an older atumd, or SQL, could have) name atumd's own
# secrets: the poller must refuse them before LOGIN.
set -u
. "$ATUM_SRCDIR/tests/lib.sh"
T=$ATUM_TEST_TMP
B=$ATUM_BUILDDIR
PSQL="psql -X -q -t -A -d $ATUM_TEST_DATABASE_URL"

# ---- a fake IMAP server: port 0, its port in a file, LOGIN lines logged -----
cat >"$T/fakeimap.py" <<'PY'
import socket, sys, threading
portfile, logfile = sys.argv[1], sys.argv[2]
srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", 0))
srv.listen(16)
lock = threading.Lock()
def serve(c):
    f = c.makefile("rwb")
    f.write(b"* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] fake ready\r\n"); f.flush()
    for line in f:
        parts = line.decode("utf-8", "replace").rstrip("\r\n").split(" ", 2)
        tag, cmd = parts[0], (parts[1].upper() if len(parts) > 1 else "")
        if cmd == "LOGIN":
            with lock, open(logfile, "a") as log:
                log.write(line.decode("utf-8", "replace"))
            f.write(tag.encode() + b" NO [AUTHENTICATIONFAILED] nope\r\n")
        elif cmd == "CAPABILITY":
            f.write(b"* CAPABILITY IMAP4rev1 AUTH=PLAIN\r\n" + tag.encode() + b" OK done\r\n")
        elif cmd == "LOGOUT":
            f.write(b"* BYE bye\r\n" + tag.encode() + b" OK done\r\n"); f.flush(); break
        else:
            f.write(tag.encode() + b" BAD unknown\r\n")
        f.flush()
    c.close()
with open(portfile + ".tmp", "w") as p:
    p.write(str(srv.getsockname()[1]))
import os; os.rename(portfile + ".tmp", portfile)
while True:
    c, _ = srv.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
PY
touch "$T/logins"
/usr/bin/python3 "$T/fakeimap.py" "$T/imap.port" "$T/logins" &
FAKE=$!
stop_all() { kill "$FAKE" 2>/dev/null; atumd_stop >/dev/null 2>&1; }
trap stop_all EXIT
wait_until 10 test -s "$T/imap.port" || { echo "fake IMAP server did not start"; exit 1; }
IPORT=$(cat "$T/imap.port")

conf() {   # conf ALLOW_INSECURE_LOOPBACK
    cat >"$T/atum.conf" <<CONF
[core]
database_url = $ATUM_TEST_DATABASE_URL
workers = 1
[web]
listen = 127.0.0.1:0
[imap]
rescan = 1s
reconnect_max = 1s
allow_insecure_loopback = $1
CONF
}
conf no
export ATUM_CONFIG=$T/atum.conf
export ATUM_CORE_SECRET_KEY=core-secret-do-not-leak-0123456789abcdef
export ATUM_SMARTHOST_PASSWORD=smarthost-secret-do-not-leak
export ATUM_IMAP_PASSWORD_FAKE=the-mailbox-password
"$B/atumctl" migrate >/dev/null
"$B/atumctl" queue add support support@example.com >/dev/null

# ---- atumctl refuses them ----------------------------------------------------
add() { "$B/atumctl" mailbox add "$@" --queue support --user x; }
check_fails "atumctl: atumd's own secret as password variable" add a1 --host imap.example.com --password-env ATUM_CORE_SECRET_KEY
check_fails "atumctl: another variable of the environment" add a2 --host imap.example.com --password-env HOME
check_fails "atumctl: LOGIN in clear to another host" add a3 --host imap.example.com --security none --password-env ATUM_IMAP_PASSWORD_FAKE
check_fails "atumctl: an unverified certificate of another host" add a4 --host imap.example.com --trust-any-certificate --password-env ATUM_IMAP_PASSWORD_FAKE
check_fails "atumctl: LOGIN in clear to loopback, not allowed by the operator" add a5 --host 127.0.0.1 --security none --password-env ATUM_IMAP_PASSWORD_FAKE
check "atumctl: verified TLS with a mailbox variable" add a6 --host imap.example.com --password-env ATUM_IMAP_PASSWORD_FAKE --poll 3600
$PSQL -c "DELETE FROM mailboxes" >/dev/null

# ---- rows written around the checks: the poller refuses before LOGIN ---------
mailbox() {   # NAME PASSWORD_ENV SECURITY
    $PSQL -c "INSERT INTO mailboxes (name, queue_id, host, port, security, username, password_env, idle, poll_interval_s)
              SELECT '$1', id, '127.0.0.1', $IPORT, '$3', 'x', '$2', false, 3600 FROM queues" >/dev/null
}
mailbox steal_core ATUM_CORE_SECRET_KEY none
mailbox steal_smarthost ATUM_SMARTHOST_PASSWORD none
mailbox steal_db ATUM_CORE_DATABASE_URL none
mailbox plain ATUM_IMAP_PASSWORD_FAKE none

start() {   # start LOG (web on port 0: ready is read from the log)
    LOG=$1
    # shellcheck disable=SC2086  # ATUMD_WRAPPER is a command line (tests/lib.sh)
    ${ATUMD_WRAPPER:-} "$B/atumd" -c "$T/atum.conf" --foreground >"$LOG" 2>&1 &
    ATUMD_PID=$!
    wait_until "${ATUMD_START_TIMEOUT:-60}" grep -q 'event=atumd.ready' "$LOG"
}
errors_set() { [ "$($PSQL -c "SELECT count(*) FROM mailboxes WHERE last_error IS NOT NULL")" = 4 ]; }
start "$T/atumd1.log" || { cat "$LOG"; exit 1; }
check "every mailbox was tried" wait_until 20 errors_set
check "the fake server was sent no LOGIN at all" bash -c "[ ! -s '$T/logins' ] || { cat '$T/logins'; false; }"
check "the refusal names the namespace" bash -c "$PSQL -c \"SELECT last_error FROM mailboxes WHERE name = 'steal_core'\" | grep -q ATUM_IMAP_PASSWORD_"
check "and the operator's switch" bash -c "$PSQL -c \"SELECT last_error FROM mailboxes WHERE name = 'plain'\" | grep -q allow_insecure_loopback"
check "no secret in atumd's log" bash -c "test -s '$LOG' && ! grep -e core-secret-do-not -e smarthost-secret -e the-mailbox-password '$LOG'"
atumd_stop

# ---- the operator allows LOGIN in clear on loopback: only the mailbox's own
#      variable is sent (the control that the fake server does record) -------
conf yes
$PSQL -c "UPDATE mailboxes SET last_error = NULL" >/dev/null
start "$T/atumd2.log" || { cat "$LOG"; exit 1; }
check "with the switch on, the mailbox logs in with its own password" \
    wait_until 20 grep -q 'LOGIN .*the-mailbox-password' "$T/logins"
check "every other mailbox is still refused" wait_until 20 bash -c \
    "[ \"\$($PSQL -c \"SELECT count(*) FROM mailboxes WHERE name LIKE 'steal%' AND last_error LIKE '%ATUM_IMAP_PASSWORD_%'\")\" = 3 ]"
check "and none of atumd's secrets ever reached the server" \
    bash -c "! grep -e core-secret-do-not -e smarthost-secret -e 'postgresql:' '$T/logins'"
check "atumd stops cleanly" atumd_stop
finish
