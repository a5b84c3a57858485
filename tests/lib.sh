# tests/lib.sh -- a tiny harness for shell integration tests.
#
#   check "what it shows" COMMAND...     passes when COMMAND exits 0
#   check_fails "what" COMMAND...        passes when COMMAND exits non-zero
#   finish                               prints "N passed, N failed", exits
# Failing checks print the command's output.
T_PASS=0
T_FAIL=0
T_OUT=$(mktemp /tmp/atum-check.XXXXXX)

check() {
    local what=$1; shift
    if "$@" >"$T_OUT" 2>&1; then
        T_PASS=$((T_PASS + 1)); echo "PASS: $what"
    else
        T_FAIL=$((T_FAIL + 1)); echo "FAIL: $what"; sed 's/^/    | /' "$T_OUT" | tail -n 30
    fi
}

check_fails() {
    local what=$1; shift
    if "$@" >"$T_OUT" 2>&1; then
        T_FAIL=$((T_FAIL + 1)); echo "FAIL: $what (succeeded, should fail)"; sed 's/^/    | /' "$T_OUT" | tail -n 30
    else
        T_PASS=$((T_PASS + 1)); echo "PASS: $what"
    fi
}

# wait_until SECONDS COMMAND...: retries COMMAND every 0.1 s
wait_until() {
    local limit=$1; shift
    local end=$(( $(date +%s%N) / 1000000 + limit * 1000 ))
    while [ $(( $(date +%s%N) / 1000000 )) -lt $end ]; do
        if "$@" >/dev/null 2>&1; then return 0; fi
        sleep 0.1
    done
    return 1
}
export -f wait_until           # for conditions written as bash -c "..."

finish() {
    rm -f "$T_OUT"
    echo "$T_PASS passed, $T_FAIL failed"
    [ "$T_FAIL" -eq 0 ]
}

# ---- atumd in tests ------------------------------------------------------
# port_take VAR: a port nothing else can take meanwhile (tests/ports.sh)
. "$(dirname "${BASH_SOURCE[0]}")/ports.sh"

# atumd_start CONF LOG: starts atumd in the background (ATUMD_PID) and waits
# until its web server answers /healthz on WEBPORT.
# ATUMD_WRAPPER, when set, is a command line put in front of atumd (split on
# blanks), e.g. to run every test's atumd under valgrind:
#   ATUMD_WRAPPER="valgrind -q --error-exitcode=99 --leak-check=full
#     --suppressions=$PWD/tests/valgrind.supp" make check TESTS=tests/integration/daemon_pg.sh
# atumd_stop (and a test's own `kill -TERM; wait`) then sees exit code 99
# when valgrind found an error or a leak.  Start-up waits 120 s instead of
# 20 under a wrapper (ATUMD_START_TIMEOUT overrides both).
atumd_start() {
    local wait_s=${ATUMD_START_TIMEOUT:-20}
    # shellcheck disable=SC2086  # the wrapper is a command line on purpose
    if [ -n "${ATUMD_WRAPPER:-}" ]; then
        wait_s=${ATUMD_START_TIMEOUT:-120}
        $ATUMD_WRAPPER "$ATUM_BUILDDIR/atumd" -c "$1" --foreground >>"$2" 2>&1 &
    else
        "$ATUM_BUILDDIR/atumd" -c "$1" --foreground >>"$2" 2>&1 &
    fi
    ATUMD_PID=$!
    wait_until "$wait_s" curl -sf "http://127.0.0.1:$WEBPORT/healthz"
}

atumd_stop() {
    [ -n "${ATUMD_PID:-}" ] || return 0
    kill -TERM "$ATUMD_PID" 2>/dev/null
    wait "$ATUMD_PID" 2>/dev/null
    local rc=$?
    ATUMD_PID=
    return $rc
}

# make_cert DIR: a self-signed certificate for localhost / 127.0.0.1
make_cert() {
    openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=localhost" \
        -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" \
        -keyout "$1/key.pem" -out "$1/cert.pem" >/dev/null 2>&1
}

# ---- mail into the test's atumd -----------------------------------------
# q SQL: one query on the test's database, bare values
q() { psql -X -q -t -A -d "$ATUM_TEST_DATABASE_URL" -c "$1"; }

# reply_token TICKET SECRET: the customer reply token of a ticket, computed
# here from the documented scheme (mail/reply_token.h): "t<N>." + the first
# 12 characters of the lower-case base32 of HMAC-SHA256(secret,
# "atum-reply:<N>")
reply_token() {
    /usr/bin/python3 - "$2" "$1" <<'PY'
import base64, hashlib, hmac, sys
mac = hmac.new(sys.argv[1].encode(), ("atum-reply:" + sys.argv[2]).encode(), hashlib.sha256).digest()
print("t%s.%s" % (sys.argv[2], base64.b32encode(mac).decode().lower()[:12]))
PY
}

# ingest_mail FILE [inject options]: atumctl inject (ATUM_CONFIG names the
# test's configuration), waits until mail-in is done with it and prints
# "INBOUND_ID TICKET_ID"
ingest_mail() {
    local f=$1 id; shift
    id=$("$ATUM_BUILDDIR/atumctl" inject "$@" <"$f") || return 1
    wait_until 20 bash -c "[ \"\$(psql -X -q -t -A -d '$ATUM_TEST_DATABASE_URL' -c \
        \"SELECT state FROM inbound_mail WHERE id = $id\")\" = ingested ]" ||
        { echo "inbound $id was not ingested"; "$ATUM_BUILDDIR/atumctl" inbound show "$id"; return 1; }
    echo "$id $(q "SELECT ticket_id FROM inbound_mail WHERE id = $id")"
}

# atumd_start_port0 CONF LOG: like atumd_start for a configuration whose
# [web] listen is 127.0.0.1:0: the kernel picks a free port, atumd logs it
# (event=web.listening ... port=N), and this sets WEBPORT to it before
# waiting for /healthz.  No port is chosen ahead, so none can be taken
# meanwhile.  (The line is logged at level info: not with log_level warn.)
atumd_start_port0() {
    local wait_s=${ATUMD_START_TIMEOUT:-20} skip
    skip=$(( $( (wc -l <"$2") 2>/dev/null || echo 0) + 1 ))
    # shellcheck disable=SC2086  # the wrapper is a command line on purpose
    if [ -n "${ATUMD_WRAPPER:-}" ]; then
        wait_s=${ATUMD_START_TIMEOUT:-120}
        $ATUMD_WRAPPER "$ATUM_BUILDDIR/atumd" -c "$1" --foreground >>"$2" 2>&1 &
    else
        "$ATUM_BUILDDIR/atumd" -c "$1" --foreground >>"$2" 2>&1 &
    fi
    ATUMD_PID=$!
    WEBPORT=
    wait_until "$wait_s" bash -c "tail -n +$skip '$2' | grep -q 'event=web.listening .*port=[1-9]'" || return 1
    WEBPORT=$(tail -n +"$skip" "$2" | sed -n 's/.*event=web\.listening .*port=\([0-9]*\).*/\1/p' | head -n 1)
    wait_until "$wait_s" curl -sf "http://127.0.0.1:$WEBPORT/healthz"
}
