# tests/e2e/browser.sh -- sourced, after tests/lib.sh, by the scripts that
# run a browser suite (tests/integration/*_e2e_pg.sh): what they need
# (Debian's chromium, node, the built web app, playwright-core from the
# lockfile), where screenshots go, and the run itself, each browser test
# counted as one check from the TAP that node's test runner writes.
# Nothing missing is ever a skip: build-aux/deps.sh installs it all.

CHROMIUM=${DESK_CHROMIUM:-/usr/bin/chromium}
export DESK_CHROMIUM=$CHROMIUM
export NODE_PATH=$ATUM_BUILDDIR/tests/e2e/npm/node_modules

# The checks every browser suite needs; a script adds its own after them.
browser_prereqs() {
    check "chromium is installed at $CHROMIUM (apt-get install chromium; build-aux/deps.sh does)" \
        test -x "$CHROMIUM"
    check "node is installed" command -v node
    check "the web app is built ($ATUM_BUILDDIR/web/dist/manifest.json)" \
        test -f "$ATUM_BUILDDIR/web/dist/manifest.json"
    check "playwright-core from tests/e2e/package-lock.json (npm ci)" \
        "$ATUM_SRCDIR/build-aux/npm-ci" "$ATUM_SRCDIR/tests/e2e" "$ATUM_BUILDDIR/tests/e2e/npm"
}

# The screenshot folder: $1 when given, else the build tree's
# tests/e2e/screenshots (docs/screenshots/ keeps the ones the README shows).
browser_shots() {
    local d=${1:-$ATUM_BUILDDIR/tests/e2e/screenshots}
    mkdir -p "$d" && echo "$d"
}

# Runs tests/e2e/$1 (its settings already exported); every test of it is
# one PASS or FAIL line, and a failure shows the runner's own words.
browser_run() {
    local tap=$ATUM_TEST_TMP/tap rc line
    node --test --test-reporter=tap --test-concurrency=1 "$ATUM_SRCDIR/tests/e2e/$1" >"$tap" 2>&1
    rc=$?
    while IFS= read -r line; do
        case "$line" in
            "ok "*" - "*) T_PASS=$((T_PASS + 1)); echo "PASS: ${line#* - }" ;;
            "not ok "*" - "*) T_FAIL=$((T_FAIL + 1)); echo "FAIL: ${line#* - }" ;;
        esac
    done < <(grep -E '^    (not )?ok [0-9]+ - ' "$tap" | sed 's/^    //')
    if [ $rc -ne 0 ]; then
        sed -n '/^    not ok/,/^    ok\|^# /p' "$tap" | sed 's/^/    | /' | head -n 100
        [ "$T_FAIL" -eq 0 ] && { T_FAIL=1; echo "FAIL: the browser test run (exit $rc)"; tail -n 30 "$tap"; }
    fi
    return 0
}
