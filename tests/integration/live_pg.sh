#!/bin/bash
# live_pg.sh -- the live channel against a real atumd and PostgreSQL:
# WebSocket and long poll (web/api_live.h), events in id order without
# gaps under writers that commit out of order, resuming with since=,
# who gets which events (agents of another queue and customers get
# nothing of tickets they cannot see), refusals before the upgrade (wrong
# Origin, no session), the cap (the N+1th socket gets 503, the gauges
# of GET /metrics count), bad client frames closed cleanly, presence, the stale-send
# guard (409 with what changed) and a reply by mail that crossed a newer
# message held.  Each scenario is tests/integration/live_check.py NAME.
set -u
. "$ATUM_SRCDIR/tests/lib.sh"
B=$ATUM_BUILDDIR
T=$ATUM_TEST_TMP
PSQL="psql -X -q -t -A -d $ATUM_TEST_DATABASE_URL"
# the log stays in the build tree for a look after a failure
trap 'atumd_stop; cp "$T/atumd.log" "$B/tests/integration/live_pg-atumd.out" 2>/dev/null' EXIT

export LIVE_PW='live test correct horse' LIVE_CAP=8 LIVE_THREADS=6 LIVE_SECRET=live-test-secret-0123456789abcdef0123456789
cat >"$T/atum.conf" <<CONF
[core]
database_url = $ATUM_TEST_DATABASE_URL
secret_key = $LIVE_SECRET
workers = 2
[web]
listen = 127.0.0.1:0
# fewer request threads than live sockets (the cap scenario)
threads = $LIVE_THREADS
live_max_connections = $LIVE_CAP
live_ping = 2s
[queue]
poll_interval = 200ms
[imap]
enabled = no
# GET /metrics shows the live channel's gauges (the cap scenario reads them)
[plugin.metrics]
path = $B/plugins/metrics/.libs/metrics.so
scrape_allow = 127.0.0.0/8
CONF
export ATUM_CONFIG=$T/atum.conf
CTL=$B/atumctl
"$CTL" migrate >/dev/null
"$CTL" queue add support support@example.com >/dev/null
"$CTL" queue add billing billing@example.com >/dev/null
for u in agent@example.com:agent agent2@example.com:agent other@example.com:agent admin@example.com:admin \
         customer@example.org:customer; do
    echo "$LIVE_PW" | "$CTL" user add "${u%%:*}" --role "${u##*:}" --password-stdin >/dev/null
done
"$CTL" queue member support agent@example.com >/dev/null
"$CTL" queue member support agent2@example.com >/dev/null
"$CTL" queue member billing other@example.com >/dev/null
LIVE_TOKEN=$("$CTL" token add admin@example.com --name live | tail -n 1)
LIVE_QUEUE=$($PSQL -c "SELECT id FROM queues WHERE name = 'support'")
LIVE_OTHER_QUEUE=$($PSQL -c "SELECT id FROM queues WHERE name = 'billing'")
LIVE_CUSTOMER_ID=$($PSQL -c "SELECT id FROM users WHERE email = 'customer@example.org'")
export LIVE_TOKEN LIVE_QUEUE LIVE_OTHER_QUEUE LIVE_CUSTOMER_ID

check "atumd starts" atumd_start_port0 "$T/atum.conf" "$T/atumd.log"
export WEBPORT
printf '%s\r\n' 'From: Bill <bill@example.org>' 'To: billing@example.com' 'Subject: billing only' \
    'Message-ID: <live-foreign@example.org>' '' 'Please check.' >"$T/foreign.eml"
LIVE_FOREIGN=$(ingest_mail "$T/foreign.eml" --from bill@example.org --to billing@example.com | cut -d' ' -f2)
export LIVE_FOREIGN
LC="/usr/bin/python3 $ATUM_SRCDIR/tests/integration/live_check.py"
check "events arrive on the WebSocket, one frame each, ids increasing, no bodies" $LC basic
check "out-of-order commits: every event once, ids without gaps; resume and long poll from the middle" $LC order
check "an agent of another queue and a customer get nothing of tickets they cannot see" $LC access
check "refused before the upgrade: wrong Origin, no Origin with a session, no session, another path, bad key, bad since" $LC refused
check "bad client frames close the socket cleanly with their code, the server is fine" $LC bad_input
check "presence: viewing, typing, in GET /tickets/{id}, ended when the socket closes, POST presence" $LC presence
check "the stale-send guard: ETag, If-Match, 409 with the newer messages and changes" $LC stale
check "a reply by mail that crosses a newer customer message is held, the agent told; sent from the desk" $LC held
check "long poll: at once with events, waits when none, answers when one comes, bad parameters 400" $LC longpoll
check "the cap: the N+1th socket gets 503 problem+json, the count and the gauges of GET /metrics are right" $LC cap
check "since older than kept, or never given: reset" $LC reset
check "a peer that stops answering pings is closed, its place comes back" $LC dead_peer
check "no error in the log" bash -c "! grep -E 'level=error|AddressSanitizer|runtime error' '$T/atumd.log'"
check "atumd stops cleanly" atumd_stop
finish
