#!/bin/bash
# metrics_pg.sh -- the metrics plugin in a real atumd: GET /metrics moves
# as requests, mails and jobs flow (exact counts), stays bounded in its
# labels, passes `promtool check metrics`, and answers only a token of
# scrape_role or an allowed address; the dashboard answers managers.
set -u
. "$ATUM_SRCDIR/tests/lib.sh"
B=$ATUM_BUILDDIR
T=$ATUM_TEST_TMP
PSQL="psql -X -q -t -A -d $ATUM_TEST_DATABASE_URL"

write_conf() {   # write_conf SCRAPE_ALLOW
    cat >"$T/atum.conf" <<CONF
[core]
database_url = $ATUM_TEST_DATABASE_URL
secret_key = test-secret-0123456789abcdef0123456789
workers = 2
[queue]
poll_interval = 200ms
maintenance_interval = 200ms
[web]
listen = 127.0.0.1:0
[db]
pool_size = 3
[smarthost]
# nothing listens on port 1: every delivery is deferred (and counted)
url = smtp://127.0.0.1:1
starttls = no
[plugin.metrics]
path = $B/plugins/metrics/.libs/metrics.so
scrape_allow = $1
gauges_interval = 1
CONF
}
write_conf "127.0.0.0/8"
export ATUM_CONFIG=$T/atum.conf
CTL=$B/atumctl

check "migrate applies the plugin's migration" bash -c "'$CTL' migrate >/dev/null && [ \"\$($PSQL -c \"SELECT to_regclass('metrics_snapshots') IS NOT NULL\")\" = t ]"
"$CTL" queue add support support@example.com >/dev/null
for u in agent manager customer; do
    "$CTL" user add "$u@example.com" --role "$u" --no-password >/dev/null
done
"$CTL" queue member support agent@example.com >/dev/null
AGENT=$("$CTL" token add agent@example.com --name t)
MANAGER=$("$CTL" token add manager@example.com --name t)
CUSTOMER=$("$CTL" token add customer@example.com --name t)

ATUMD_PID=
trap '[ -n "$ATUMD_PID" ] && kill -TERM "$ATUMD_PID" 2>/dev/null && wait "$ATUMD_PID"' EXIT
# shellcheck disable=SC2086  # the wrapper is a command line on purpose
${ATUMD_WRAPPER:-} "$B/atumd" -c "$T/atum.conf" --foreground >"$T/atumd.log" 2>&1 &
ATUMD_PID=$!
port_logged() { grep -q "event=web.listening" "$T/atumd.log"; }
check "atumd starts (web on a port of its choosing)" wait_until 60 port_logged
WEBPORT=$(sed -n 's/.*event=web.listening .*port=\([0-9]*\).*/\1/p' "$T/atumd.log" | head -n 1)
U=http://127.0.0.1:$WEBPORT
check "it answers" wait_until 30 curl -sf "$U/healthz"
check "the plugin is loaded" grep -q "event=plugin.loaded plugin=metrics" "$T/atumd.log"

scrape() { curl -s "$@" "$U/metrics"; }
# metric 'NAME{LABELS}': its value in a fresh scrape, 0 when absent
metric() { scrape | awk -v k="$1" 'index($0, k " ") == 1 { v = $2 } END { print v == "" ? 0 : v }'; }
metric_is() { [ "$(metric "$1")" = "$2" ] || { echo "$1 = $(metric "$1"), not $2"; return 1; }; }
metric_ge() { awk -v a="$(metric "$1")" -v b="$2" 'BEGIN { exit !(a >= b) }' || { echo "$1 = $(metric "$1") < $2"; return 1; }; }
promcheck() { scrape >"$T/scrape.txt" && promtool check metrics <"$T/scrape.txt"; }

# ---- the exposition --------------------------------------------------------
check "GET /metrics from loopback: 200, the 0.0.4 text format" bash -c \
    "curl -s -o /dev/null -w '%{http_code} %{content_type}' '$U/metrics' | grep -qx '200 text/plain; version=0.0.4; charset=utf-8'"
check "promtool check metrics accepts it" promcheck
check "build info" metric_is 'atum_build_info{version="0.1.0",abi="1"}' 1
check "the web pool's size" metric_is 'atum_db_pool_size{pool="atumd-web"}' 3
check "process figures from /proc" metric_ge process_resident_memory_bytes 1000000
check "open file descriptors" metric_ge process_open_fds 5
check "the database gauges were read" metric_is atum_database_up 1
check "the first snapshot is scheduled for the next hour" metric_is 'atum_queue_jobs{kind="metrics.snapshot",state="scheduled"}' 1
check "... with the hour's unique key" bash -c "[ \"\$($PSQL -c \"SELECT count(*) FROM jobs WHERE kind = 'metrics.snapshot' AND unique_key = 'metrics.snapshot:' || (floor(extract(epoch FROM now()) / 3600) * 3600 + 3600)::bigint\")\" = 1 ]"

# ---- requests: counted by route template, method and code -----------------
R='atum_http_requests_total{route="/api/v1/tickets",method="GET",code="200"}'
H='atum_http_request_duration_seconds_count{route="/api/v1/tickets",method="GET"}'
before=$(metric "$R"); hbefore=$(metric "$H")
for _ in 1 2 3 4 5; do curl -sf -o /dev/null -H "Authorization: Bearer $AGENT" "$U/api/v1/tickets"; done
check "five GET /api/v1/tickets: the counter moved by five" metric_is "$R" $((before + 5))
check "... and the latency histogram too" metric_is "$H" $((hbefore + 5))
for id in 901 902 903; do curl -s -o /dev/null -H "Authorization: Bearer $AGENT" "$U/api/v1/tickets/$id"; done
check "ids are never labels: three ticket ids, one route template" \
    metric_is 'atum_http_requests_total{route="/api/v1/tickets/{id}",method="GET",code="404"}' 3
for p in probe-a probe-b probe-c; do curl -s -o /dev/null "$U/$p"; done
check "unknown paths count as one series, route unmatched" \
    metric_is 'atum_http_requests_total{route="unmatched",method="GET",code="404"}' 3
check "no path a client sent is in a label" bash -c "! curl -s '$U/metrics' | grep -q probe-"
check "the plugin's route is its template" bash -c "curl -s '$U/metrics' | grep -q '^atum_http_requests_total{route=\"/metrics\",method=\"GET\",code=\"200\"} '"

# ---- mail: received, ingested, tickets, messages, jobs -----------------------
mail() {   # mail N SUBJECT [EXTRA HEADER]
    printf 'From: Customer %s <c%s@example.org>\nTo: support@example.com\nSubject: %s\nMessage-ID: <m%s-%s@example.org>\n%s\nHello, number %s.\n' \
        "$1" "$1" "$2" "$1" "$RANDOM" "${3:-}" "$1" >"$T/m$1.eml"
    ingest_mail "$T/m$1.eml" --from "c$1@example.org" --to support@example.com
}
for n in 1 2 3; do mail "$n" "Printer $n is on fire" >/dev/null || echo "mail $n failed"; done
check "three mails: received and ingested from the cli" \
    wait_until 10 metric_is 'atum_mail_received_total{source="cli",outcome="ingested"}' 3
check "three ingest durations observed" metric_is 'atum_mail_ingest_seconds_count{source="cli"}' 3
check "three tickets created by mail" wait_until 10 metric_is 'atum_tickets_created_total{channel="mail"}' 3
check "three incoming messages" metric_is 'atum_messages_total{direction="in",kind="public"}' 3
check "three mail.ingest jobs done" wait_until 10 metric_is 'atum_jobs_total{kind="mail.ingest",outcome="done"}' 3
job_histograms() {
    metric_is 'atum_job_run_seconds_count{kind="mail.ingest"}' 3 &&
        metric_is 'atum_job_wait_seconds_count{kind="mail.ingest"}' 3
}
check "their run and wait histograms" job_histograms
check "every event counted once, when committed" metric_is 'atum_events_total{event="ticket.created"}' 3
T1=$($PSQL -c "SELECT min(id) FROM tickets")
reply_mail() {
    printf 'From: Customer 1 <c1@example.org>\nTo: support@example.com\nSubject: Re: [#%s] Printer 1 is on fire\nMessage-ID: <r1-%s@example.org>\n\nStill burning.\n' \
        "$T1" "$RANDOM" >"$T/r1.eml"
    ingest_mail "$T/r1.eml" --from c1@example.org --to support@example.com >/dev/null
}
check "a customer's reply by mail" reply_mail
reply_counted() {
    metric_is 'atum_messages_total{direction="in",kind="public"}' 4 &&
        metric_is 'atum_tickets_created_total{channel="mail"}' 3
}
check "... is a fourth message, not a fourth ticket" wait_until 10 reply_counted
agent_reply() {
    curl -sf -o /dev/null -H "Authorization: Bearer $AGENT" -H 'Content-Type: application/json' \
        -d '{"body": "We are on it."}' "$U/api/v1/tickets/$T1/replies"
}
check "an agent's reply through the API" agent_reply
check "... an outgoing message" wait_until 10 metric_is 'atum_messages_total{direction="out",kind="public"}' 1
check "outbound deliveries are counted (the smarthost is away: deferred)" \
    wait_until 30 metric_ge 'atum_mail_deliveries_total{result="deferred"}' 1
check "the outbox's backlog is a gauge" metric_ge atum_outbox_pending 1

open_tickets_match() {
    local want got
    want=$($PSQL -c "SELECT count(*) FROM tickets WHERE status IN ('new', 'open', 'pending') AND merged_into IS NULL")
    got=$(scrape | awk '/^atum_tickets_open\{/ { s += $2 } END { print s + 0 }')
    [ "$want" = "$got" ] && [ "$got" -ge 3 ] || { echo "database $want, scrape $got"; return 1; }
}
check "open tickets in the scrape = open tickets in the database (within a refresh)" wait_until 20 open_tickets_match
check "the refresh's age is a gauge" metric_ge atum_tickets_open_age_seconds 0
check "promtool still accepts it, every counter populated" promcheck

# ---- the dashboard -----------------------------------------------------------
dash() { curl -s -H "Authorization: Bearer $1" -o "$T/dash.json" -w '%{http_code}' "$U/api/v1/plugins/metrics/dashboard?days=7"; }
check "a manager gets the dashboard" test "$(dash "$MANAGER")" = 200
check "... its open tickets are the database's" bash -c \
    "[ \"\$(jq .open.total '$T/dash.json')\" = \"\$($PSQL -c \"SELECT count(*) FROM tickets WHERE status IN ('new','open','pending') AND merged_into IS NULL\")\" ]"
check "... with 90 days and the first responses" bash -c "jq -e '(.daily | length) == 90 and .first_response.tickets == 3 and .first_response.responded == 1' '$T/dash.json'"
check "an agent does not" test "$(dash "$AGENT")" = 404
check "history answers managers" bash -c "curl -sf -H 'Authorization: Bearer $MANAGER' '$U/api/v1/plugins/metrics/history' | jq -e '.snapshots == []'"

# ---- who may scrape: no allowed address, tokens only (reload) ---------------
write_conf none
kill -HUP "$ATUMD_PID"
check "reloaded" wait_until 20 bash -c "[ \$(grep -c event=reload.done '$T/atumd.log') -ge 1 ]"
code() { curl -s -o /dev/null -w '%{http_code}' "$@" "$U/metrics"; }
check "no credential, address not allowed: 401" test "$(code)" = 401
check "an invalid token: 401" test "$(code -H 'Authorization: Bearer atum_nonsense')" = 401
check "a customer's token: 403" test "$(code -H "Authorization: Bearer $CUSTOMER")" = 403
check "an agent's token: 200" test "$(code -H "Authorization: Bearer $AGENT")" = 200
check "a manager's token: 200" test "$(code -H "Authorization: Bearer $MANAGER")" = 200
# the invalid token never reached the plugin: the host answered it
check "the plugin's refusals are counted" bash -c "curl -s -H 'Authorization: Bearer $AGENT' '$U/metrics' | grep -q '^atum_metrics_scrapes_total{result=\"refused\"} 2\$'"

kill -TERM "$ATUMD_PID"; wait "$ATUMD_PID"; rc=$?; ATUMD_PID=
check "atumd stops cleanly" test "$rc" -eq 0
finish
