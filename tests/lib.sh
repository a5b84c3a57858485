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

finish() {
    rm -f "$T_OUT"
    echo "$T_PASS passed, $T_FAIL failed"
    [ "$T_FAIL" -eq 0 ]
}
