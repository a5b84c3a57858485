#!/bin/bash
# ./test.sh -- build and run the whole test suite.
#
# Installs what is missing (apt), builds, runs `make check`: unit tests,
# then integration tests that each start (and stop) a private PostgreSQL
# on a free loopback port.  Prints check's summary lines and a total.
# With CI=true (or ATUM_DISTCHECK=1) it also runs `make distcheck`
# (its check: the compiled tests and the floors check).
set -uo pipefail
cd "$(dirname "$0")"
. build-aux/deps.sh

ensure_packages $ATUM_BUILD_PACKAGES $ATUM_TEST_PACKAGES || exit 1
build_tree || exit 1

echo "==> make check"
make -s -j"$(nproc)" check >/dev/null 2>&1
rc=$?

# check's summary lines ("100%: Checks: 20, Failures: 0, Errors: 0") and
# the shell suites' "N passed, N failed", then one total.
passed=0; failed=0
for log in $(find tests plugins -name '*.log' ! -name 'test-suite.log' | sort); do
    name=${log%.log}
    line=$(grep -E '^[0-9]+%: Checks: |^[0-9]+ passed, [0-9]+ failed$' "$log" | tail -n 1)
    if [ -z "$line" ]; then
        line="no summary (crashed?)"; failed=$((failed + 1))
    elif [[ $line =~ Checks:\ ([0-9]+),\ Failures:\ ([0-9]+),\ Errors:\ ([0-9]+) ]]; then
        f=$((BASH_REMATCH[2] + BASH_REMATCH[3]))
        passed=$((passed + BASH_REMATCH[1] - f)); failed=$((failed + f))
    elif [[ $line =~ ^([0-9]+)\ passed,\ ([0-9]+)\ failed$ ]]; then
        passed=$((passed + BASH_REMATCH[1])); failed=$((failed + BASH_REMATCH[2]))
    fi
    printf '%-40s %s\n' "$name" "$line"
done
if [ $rc -ne 0 ]; then
    echo
    echo "==> failures:"
    for log in $(grep -l -E '^:test-result: (FAIL|ERROR)' $(find tests plugins -name '*.trs') 2>/dev/null); do
        l=${log%.trs}.log
        echo "---- $l"
        grep -v '^    |' "$l" | grep -E 'FAIL|Error|error|:F:|:E:' | head -n 20
    done
fi
echo
echo "$passed passed, $failed failed"

if [ $rc -eq 0 ] && { [ "${CI:-}" = true ] || [ -n "${ATUM_DISTCHECK:-}" ]; }; then
    # distcheck proves the tarball: every file is in it, a VPATH build
    # works, install/uninstall/distclean leave nothing behind.  Its own
    # `make check` runs the compiled tests and the floors check; the
    # server and browser suites above already ran on this same source,
    # and running them twice would put CI past its time limit.
    echo "==> make distcheck"
    if make -s distcheck TESTS='$(check_PROGRAMS) tests/unit/floors.sh' \
            >distcheck.log 2>&1; then
        echo "distcheck: ok"
    else
        tail -n 40 distcheck.log; echo "distcheck: FAILED"; rc=1
    fi
fi
exit $rc
