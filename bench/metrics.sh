#!/bin/bash
# bench/metrics.sh -- GET /metrics of a real atumd with the metrics plugin
# (called by bench/run metrics, with ATUM_TEST_DATABASE_URL pointing at a
# fresh durable cluster).
#
# Seeds 100,000 tickets x 5 messages (bench/api_seed.sql), starts atumd
# with the plugin, populates the counters with traffic (every API route
# template hit, searches, 404s and 401s, mails ingested, jobs run, mail
# deferred at an absent smarthost), then runs wrk on
#   GET /metrics   one scraper (1 connection), then 4 scrapers at once
#   GET /healthz   the reference of this machine in this run: the same
#                  path through civetweb, the pool and PostgreSQL with a
#                  SELECT 1 instead of the scrape's work
# and reports p50/p99 of each and the ratio of the p99s.  Environment:
# BENCH_SECONDS (10), BENCH_MAILS (200), BENCH_KEEP=1.
set -euo pipefail
build=$1; tmp=$2
here=$(cd "$(dirname "$0")" && pwd)
secs=${BENCH_SECONDS:-10}
mails=${BENCH_MAILS:-200}
PSQL=(psql -X -q -t -A -d "$ATUM_TEST_DATABASE_URL")
command -v wrk >/dev/null || { echo "bench metrics needs wrk (apt-get install wrk)" >&2; exit 1; }
export ATUM_CORE_SECRET_KEY=bench-secret-0123456789abcdef0123456789
cat >"$tmp/atum.conf" <<CONF
[core]
database_url = $ATUM_TEST_DATABASE_URL
workers = 2
log_level = info
[queue]
poll_interval = 200ms
[db]
pool_size = 8
[web]
listen = 127.0.0.1:0
threads = 16
[smarthost]
url = smtp://127.0.0.1:1
starttls = no
[plugin.metrics]
path = $build/plugins/metrics/.libs/metrics.so
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
token=$("$build/atumctl" token add agent@bench.example --name bench)
first=$("${PSQL[@]}" -c 'SELECT min(id) FROM tickets')

"$build/atumd" -c "$tmp/atum.conf" --foreground >"$tmp/atumd.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null' EXIT
port=
for _ in $(seq 100); do
    port=$(sed -n 's/.*event=web.listening .*port=\([0-9]*\).*/\1/p' "$tmp/atumd.log" | head -n 1)
    if [ -n "$port" ] && curl -sf "http://127.0.0.1:$port/healthz" >/dev/null; then break; fi
    sleep 0.1
done
base=http://127.0.0.1:$port
auth=(-H "Authorization: Bearer $token")

# ---- populate the counters ------------------------------------------------
get() { curl -s -o /dev/null "$@"; }
for path in /api/v1/tickets "/api/v1/tickets?limit=50" "/api/v1/tickets/$first" "/api/v1/tickets/$first/mail" \
            /api/v1/users /api/v1/orgs /api/v1/queues /api/v1/mailboxes /api/v1/canned-responses \
            /api/v1/auth/me /api/v1/auth/tokens /api/v1/jobs /api/v1/jobs/stats /api/v1/plugins \
            /api/v1/audit /api/v1/webhooks /api/v1/openapi.json /healthz /readyz / /nowhere; do
    get "${auth[@]}" "$base$path"; get "$base$path"                          # 2xx/403/404 and 401
    get -X POST "${auth[@]}" "$base$path"; get -X DELETE "${auth[@]}" "$base$path"   # 4xx
done
wrk -t1 -c4 -d2s -H "Authorization: Bearer $token" "$base/api/v1/tickets?limit=50" >/dev/null
"${PSQL[@]}" -c "SELECT 'w' || substr(md5(i::text), 1, 6) FROM generate_series(1, 20000, 7) i" >"$tmp/words"
export BENCH_TOKEN=$token BENCH_FIRST_ID=$first BENCH_WORDS=$tmp/words
export BENCH_TICKETS=$("${PSQL[@]}" -c 'SELECT count(*) FROM tickets')
wrk -t1 -c4 -d2s -s "$here/api_search.lua" "$base" >/dev/null
wrk -t1 -c4 -d2s -s "$here/api_ticket.lua" "$base" >/dev/null
for i in $(seq 1 "$mails"); do
    printf 'From: c%s@bench.example\nTo: bench1@support.example\nSubject: bench %s\nMessage-ID: <bench-%s@bench.example>\n\nhello\n' \
        $((i % 50)) "$i" "$i"
done | awk -v dir="$tmp" 'BEGIN { n = 0 } /^From:/ { n++ } { print > (dir "/mail" n ".eml") }'
for i in $(seq 1 "$mails"); do "$build/atumctl" inject --to bench1@support.example <"$tmp/mail$i.eml" >/dev/null; done
for _ in $(seq 600); do
    if [ "$("${PSQL[@]}" -c "SELECT count(*) FROM inbound_mail WHERE state = 'queued'")" = 0 ]; then break; fi
    sleep 0.1
done
scrape=$(curl -s "$base/metrics")
series=$(grep -vc '^#' <<<"$scrape")
families=$(grep -c '^# TYPE' <<<"$scrape")
echo "registry: families=$families series=$series bytes=$(wc -c <<<"$scrape")" \
     "tickets_open=$(awk '/^atum_tickets_open\{/ { s += $2 } END { print s }' <<<"$scrape")" \
     "mails_ingested=$(awk '/^atum_mail_received_total\{/ { s += $2 } END { print s }' <<<"$scrape")"

# ---- measure ----------------------------------------------------------------
wrk -t1 -c1 -d2s "$base/metrics" >/dev/null      # warm: plans, caches, pages
echo "== GET /metrics (1 connection, ${secs}s)"
one=$(wrk -t1 -c1 -d"${secs}s" -s "$here/metrics_scrape.lua" "$base/metrics" | tail -n 1)
echo "$one"
echo "== GET /metrics (4 connections, ${secs}s)"
four=$(wrk -t1 -c4 -d"${secs}s" -s "$here/metrics_scrape.lua" "$base/metrics" | tail -n 1)
echo "$four"
echo "== GET /healthz (1 connection, ${secs}s): the machine's reference"
ref=$(wrk -t1 -c1 -d"${secs}s" -s "$here/metrics_scrape.lua" "$base/healthz" | tail -n 1)
echo "$ref"
server=$(curl -s "$base/metrics" | awk '/^atum_metrics_scrape_seconds_sum / { s = $2 } /^atum_metrics_scrape_seconds_count / { n = $2 } END { printf "%.2f", 1000 * s / n }')
echo "server side (atum_metrics_scrape_seconds): mean_ms=$server"
val() { sed -n "s/.*$1=\([0-9.]*\).*/\1/p" <<<"$2"; }
ratio() { awk -v a="$(val "$1" "$one")" -v b="$(val "$1" "$ref")" 'BEGIN { printf "%.1f", a / b }'; }
echo "metrics_p50_ms=$(val p50_ms "$one") metrics_p99_ms=$(val p99_ms "$one")" \
     "metrics_p99_ms_4conn=$(val p99_ms "$four") healthz_p50_ms=$(val p50_ms "$ref")" \
     "healthz_p99_ms=$(val p99_ms "$ref") ratio_p50=$(ratio p50_ms) ratio_p99=$(ratio p99_ms) series=$series"
