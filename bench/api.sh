#!/bin/bash
# bench/api.sh -- the REST API under wrk (called by bench/run api, with
# ATUM_TEST_DATABASE_URL pointing at a fresh durable cluster).
#
# Seeds 100,000 tickets x 5 messages (bench/api_seed.sql), starts the real
# atumd, creates an agent's API token with atumctl, then runs wrk on
#   GET /api/v1/tickets?limit=50        (the list)
#   GET /api/v1/tickets/{random id}     (one ticket with its thread)
#   GET /api/v1/tickets?limit=50&q=WORD (full-text search, random words)
# and reports atumd's RSS afterwards.  Environment: BENCH_SECONDS (10),
# BENCH_CONNECTIONS (32), BENCH_POOL (db.pool_size, 32), BENCH_KEEP=1.
set -euo pipefail
build=$1; tmp=$2
here=$(cd "$(dirname "$0")" && pwd)
secs=${BENCH_SECONDS:-10}
conns=${BENCH_CONNECTIONS:-32}
PSQL=(psql -X -q -t -A -d "$ATUM_TEST_DATABASE_URL")
command -v wrk >/dev/null || { echo "bench api needs wrk (apt-get install wrk)" >&2; exit 1; }
. "$here/../tests/ports.sh"
port_take port
export ATUM_CORE_SECRET_KEY=bench-secret-0123456789abcdef0123456789
cat >"$tmp/atum.conf" <<CONF
[core]
database_url = $ATUM_TEST_DATABASE_URL
workers = 1
log_level = warn
[db]
pool_size = ${BENCH_POOL:-32}
[web]
listen = 127.0.0.1:$port
threads = 64
CONF
export ATUM_CONFIG=$tmp/atum.conf
"$build/atumctl" migrate >/dev/null
t0=$(date +%s.%N)
"${PSQL[@]}" -f "$here/api_seed.sql" >/dev/null
t1=$(date +%s.%N)
echo "seed: $("${PSQL[@]}" -c 'SELECT count(*) FROM tickets') tickets, $("${PSQL[@]}" -c 'SELECT count(*) FROM messages') messages in $(awk "BEGIN { printf \"%.0f\", $t1 - $t0 }") s"
"$build/atumctl" user add agent@bench.example --role agent --no-password >/dev/null
for q in $("${PSQL[@]}" -c "SELECT name FROM queues"); do
    "$build/atumctl" queue member "$q" agent@bench.example >/dev/null
done
export BENCH_TOKEN=$("$build/atumctl" token add agent@bench.example --name bench)
export BENCH_FIRST_ID=$("${PSQL[@]}" -c 'SELECT min(id) FROM tickets')
export BENCH_TICKETS=100000
"${PSQL[@]}" -c "SELECT 'w' || substr(md5(i::text), 1, 6) FROM generate_series(1, 20000, 7) i" >"$tmp/words"
export BENCH_WORDS=$tmp/words

"$build/atumd" -c "$tmp/atum.conf" --foreground >"$tmp/atumd.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null' EXIT
for i in $(seq 100); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done
base=http://127.0.0.1:$port
# warm up caches, the connection pool and its prepared statements
wrk -t2 -c"$conns" -d3s -H "Authorization: Bearer $BENCH_TOKEN" "$base/api/v1/tickets?limit=50" >/dev/null
wrk -t2 -c"$conns" -d2s -s "$here/api_ticket.lua" "$base" >/dev/null

echo "== GET /api/v1/tickets?limit=50 ($conns connections, ${secs}s)"
# a fixed request without a script: wrk's Lua costs CPU this box shares
out=$(wrk -t2 -c"$conns" -d"${secs}s" --latency -H "Authorization: Bearer $BENCH_TOKEN" "$base/api/v1/tickets?limit=50")
ms() { awk '{ v = $2; if (v ~ /us$/) { sub(/us$/, "", v); v /= 1000 } else if (v ~ /ms$/) { sub(/ms$/, "", v) } else if (v ~ /s$/) { sub(/s$/, "", v); v *= 1000 } printf "%.2f", v }'; }
p99=$(grep -E '^ +99%' <<<"$out" | ms)
p50=$(grep -E '^ +50%' <<<"$out" | ms)
rps=$(awk '/^Requests\/sec/ { printf "%.0f", $2 }' <<<"$out")
non2xx=$(awk '/Non-2xx/ { print $5 }' <<<"$out")
list="p99_ms=$p99 p50_ms=$p50 req_per_s=$rps non_2xx=${non2xx:-0}"
echo "$list"
echo "== GET /api/v1/tickets/{id} ($conns connections, ${secs}s)"
one=$(wrk -t2 -c"$conns" -d"${secs}s" -s "$here/api_ticket.lua" "$base" | tail -n 1)
echo "$one"
echo "== GET /api/v1/tickets?q=WORD (4 connections, ${secs}s)"
search=$(wrk -t2 -c4 -d"${secs}s" -s "$here/api_search.lua" "$base" | tail -n 1)
echo "$search"
rss=$(awk '/VmRSS/ {printf "%.0f", $2/1024}' "/proc/$pid/status")
threads=$(awk '/Threads/ {print $2}' "/proc/$pid/status")
echo "atumd: rss_mb=$rss threads=$threads"
val() { sed -n "s/.*$1=\([0-9.]*\).*/\1/p" <<<"$2"; }
echo "api_list_req_per_s=$(val req_per_s "$list") api_list_p99_ms=$(val p99_ms "$list")" \
     "api_ticket_req_per_s=$(val req_per_s "$one") api_search_p95_ms=$(val search_p95_ms "$search") api_rss_mb=$rss"
