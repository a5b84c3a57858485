#!/bin/bash
# bench/desk.sh -- the desk in headless chromium (called by bench/run desk,
# with ATUM_TEST_DATABASE_URL pointing at a fresh durable cluster).
#
# Seeds 100,000 tickets x 5 messages (bench/api_seed.sql) and one ticket
# of 200 messages (bench/desk_seed.sql), starts the real atumd serving
# the built desk, signs an agent of every queue in, and runs
# bench/desk.mjs: the first view's time to interactive (p50 of 20 loads,
# with a warm and with a cold browser cache), opening the 200-message
# ticket from the list (p50 of 20), and the machine's reference figure of
# the same run -- chromium showing a 50-row table built by a small inline
# script -- with the ratios.  Then the live channel's fan-out (bench/live.py):
# BENCH_SOCKETS (200) WebSocket clients, one ticket change at a time, p99
# time until every client has its frame, atumd's RSS with the sockets
# open, a loopback-TCP reference of the same run and the ratio.
# Environment: BENCH_LOADS (20), BENCH_SOCKETS, BENCH_ROUNDS (20),
# BENCH_KEEP=1, BENCH_LIVE_ONLY=1 (skip the page loads).
set -euo pipefail
build=$1; tmp=$2
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
PSQL=(psql -X -q -t -A -d "$ATUM_TEST_DATABASE_URL")
CHROMIUM=${DESK_CHROMIUM:-/usr/bin/chromium}
[ -x "$CHROMIUM" ] || { echo "bench desk needs chromium (apt-get install chromium)" >&2; exit 1; }
[ -f "$build/web/dist/manifest.json" ] || { echo "the desk is not built (make)" >&2; exit 1; }
"$top/build-aux/npm-ci" "$top/tests/e2e" "$build/tests/e2e/npm" >/dev/null
. "$top/tests/lib.sh"
export ATUM_BUILDDIR=$build
cat >"$tmp/atum.conf" <<CONF
[core]
database_url = $ATUM_TEST_DATABASE_URL
secret_key = bench-secret-0123456789abcdef0123456789
workers = 1
log_level = info
[web]
listen = 127.0.0.1:0
assets_dir = $build/web/dist
live_max_connections = $(( ${BENCH_SOCKETS:-200} + 16 ))
# the 200 "browsers" all come from 127.0.0.1: no per-address cap
client_connections = 0
[imap]
enabled = no
CONF
export ATUM_CONFIG=$tmp/atum.conf
"$build/atumctl" migrate >/dev/null
t0=$(date +%s.%N)
"${PSQL[@]}" -f "$here/api_seed.sql" >/dev/null
"${PSQL[@]}" -f "$here/desk_seed.sql" >/dev/null
t1=$(date +%s.%N)
echo "seed: $("${PSQL[@]}" -c 'SELECT count(*) FROM tickets') tickets, $("${PSQL[@]}" -c 'SELECT count(*) FROM messages') messages in $(awk "BEGIN { printf \"%.0f\", $t1 - $t0 }") s"
export BENCH_PW='bench correct horse battery'
echo "$BENCH_PW" | "$build/atumctl" user add agent@bench.example --name 'Bench Agent' --role agent --password-stdin >/dev/null
for q in $("${PSQL[@]}" -c "SELECT name FROM queues"); do
    "$build/atumctl" queue member "$q" agent@bench.example >/dev/null
done
export BENCH_BIG=$("${PSQL[@]}" -c "SELECT id FROM tickets WHERE subject = 'Long thread: the 200-message ticket'")
log=$tmp/atumd.log
: >"$log"
trap 'atumd_stop' EXIT
atumd_start_port0 "$tmp/atum.conf" "$log" || { cat "$log" >&2; exit 1; }
export BENCH_URL=http://127.0.0.1:$WEBPORT DESK_CHROMIUM=$CHROMIUM
echo "chromium: $("$CHROMIUM" --version 2>/dev/null | head -n 1)"
desk_last=""
if [ -z "${BENCH_LIVE_ONLY:-}" ]; then
    NODE_PATH=$build/tests/e2e/npm/node_modules node "$here/desk.mjs" | tee "$tmp/desk.out"
    desk_last=$(tail -n 1 "$tmp/desk.out")
fi
/usr/bin/python3 "$here/live.py" "$WEBPORT" "$ATUMD_PID" | tee "$tmp/live.out"
# the last line: every figure of both
echo "$desk_last $(tail -n 1 "$tmp/live.out")"
