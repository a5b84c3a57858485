#!/bin/bash
# openapi_lint.sh -- lints src/web/openapi.json with Redocly's CLI
# (recommended-strict rules, waivers in tests/openapi/).  The CLI comes
# from npm, pinned, installed once into ~/.cache/atum-desk/ (npm is in
# build-aux/deps.sh); a missing tool is a failure, never a skip.
set -u
. "$ATUM_SRCDIR/tests/lib.sh"
ver=1.34.5
cache=${ATUM_TOOL_CACHE:-${HOME:-/tmp}/.cache/atum-desk}/redocly-$ver
R=$cache/node_modules/.bin/redocly
install_redocly() {
    [ -x "$R" ] && return 0
    mkdir -p "$cache" && cd "$cache" && npm install --no-audit --no-fund --loglevel=error "@redocly/cli@$ver"
}
check "redocly CLI $ver is available (npm)" install_redocly
lint() {
    cd "$ATUM_SRCDIR/tests/openapi" && "$R" lint --format=stylish --config redocly.yaml ../../src/web/openapi.json
}
check "OpenAPI document passes redocly lint (recommended-strict)" lint
check "OpenAPI document is valid JSON" python3 -c "import json,sys; json.load(open(sys.argv[1]))" "$ATUM_SRCDIR/src/web/openapi.json"
finish
