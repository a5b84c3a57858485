#!/bin/bash
# desk_work_e2e_pg.sh -- an agent's day in the desk, in a real browser
# (Debian's chromium, headless, driven by playwright-core; the harness of
# desk_e2e_pg.sh): keyboard-only triage of 20 tickets with the sidebar's
# live counts, bulk actions, a reply with an attachment that reaches a
# real SMTP smarthost (tests/e2e/smarthost.py, aiosmtpd, on a port of its
# own choosing), canned responses and macros with placeholders filled,
# a draft restored after a reload and on another device, saved views on
# the server, history, delivery state, remote images on request, a
# plugin's panel, the password change, and isolation (another queue's
# ticket by URL, a customer session).  Tests in tests/e2e/desk_work.test.mjs;
# each counts as one check here.  Screenshots go to DESK_SCREENSHOTS
# (default: the build tree's tests/e2e/screenshots).
set -u
. "$ATUM_SRCDIR/tests/lib.sh"
. "$ATUM_SRCDIR/tests/e2e/browser.sh"
S=$ATUM_SRCDIR
B=$ATUM_BUILDDIR
T=$ATUM_TEST_TMP
PSQL="psql -X -q -t -A -d $ATUM_TEST_DATABASE_URL"
SINK_PID=
EVIL_PID=
cleanup() {
    atumd_stop
    [ -n "$SINK_PID" ] && kill "$SINK_PID" 2>/dev/null && wait "$SINK_PID" 2>/dev/null
    [ -n "$EVIL_PID" ] && kill "$EVIL_PID" 2>/dev/null && wait "$EVIL_PID" 2>/dev/null
    return 0
}
trap cleanup EXIT

browser_prereqs
check "python3-aiosmtpd for the smarthost" /usr/bin/python3 -c 'import aiosmtpd'
if [ "$T_FAIL" -gt 0 ]; then
    finish
    exit 1
fi

# the smarthost and the other origin, each on a port it chose itself
/usr/bin/python3 "$S/tests/e2e/smarthost.py" "$T/sink.port" "$T/sink" &
SINK_PID=$!
python3 "$S/tests/e2e/evilserver.py" "$T/evil.port" "$T/evil.log" &
EVIL_PID=$!
wait_until 10 test -s "$T/sink.port" || { echo "FAIL: the smarthost did not start"; exit 1; }
wait_until 10 test -s "$T/evil.port" || { echo "FAIL: the other origin did not start"; exit 1; }
SINKPORT=$(cat "$T/sink.port")
EVIL="http://127.0.0.1:$(cat "$T/evil.port")"

DESK_PW='e2e correct horse battery'
cat >"$T/atum.conf" <<CONF
[core]
database_url = $ATUM_TEST_DATABASE_URL
secret_key = desk-work-secret-0123456789abcdef0123456789
workers = 2
plugin_dir = $ATUM_TEST_PLUGIN_DIR
[web]
listen = 127.0.0.1:0
assets_dir = $B/web/dist
# every browser of the test is one client address (127.0.0.1): three
# sessions at once (the stale-send guard's step) hold more than the
# default 16 connections
client_connections = 64
[queue]
poll_interval = 200ms
[imap]
enabled = no
[mail]
max_attachment_size = 100K
[smarthost]
url = smtp://127.0.0.1:$SINKPORT
starttls = no
retry_min = 1s
[plugin.testplug]
greeting = hello
CONF
export ATUM_CONFIG=$T/atum.conf
CTL=$B/atumctl
setup() {
    "$CTL" migrate >/dev/null || return 1
    "$CTL" queue add support support@example.com >/dev/null &&
    "$CTL" queue add billing billing@example.com >/dev/null &&
    "$CTL" queue add triage triage@example.com >/dev/null || return 1
    for u in agent:agent@example.com:Alex\ Agent other:other@example.com:Olga\ Other; do
        echo "$DESK_PW" | "$CTL" user add "$(cut -d: -f2 <<<"$u")" --name "$(cut -d: -f3 <<<"$u")" \
            --role agent --password-stdin >/dev/null || return 1
    done
    echo "$DESK_PW" | "$CTL" user add manager@example.com --name 'Mona Manager' --role manager --password-stdin >/dev/null &&
    echo "$DESK_PW" | "$CTL" user add customer@example.org --name 'Carla Customer' --role customer \
        --password-stdin >/dev/null || return 1
    "$CTL" queue member support agent@example.com >/dev/null &&
    "$CTL" queue member triage agent@example.com >/dev/null &&
    "$CTL" queue member billing other@example.com >/dev/null
}
check "the test world: queues, agents, a manager, a customer" setup
check "atumd starts" atumd_start_port0 "$T/atum.conf" "$T/atumd.log"
export DESK_URL="http://127.0.0.1:$WEBPORT"

inject() {
    local id
    id=$("$CTL" inject --from "$(sed -n 's/^From: .*<\(.*\)>.*/\1/p' "$1" | head -n 1)" --to "$2" <"$1") || return 1
    wait_until 20 bash -c "[ \"\$($PSQL -c \"SELECT state FROM inbound_mail WHERE id = $id\")\" = ingested ]" ||
        { "$CTL" inbound show "$id" >&2; return 1; }
    $PSQL -c "SELECT ticket_id FROM inbound_mail WHERE id = $id"
}
printf '%s\r\n' 'From: Pat Printer <pat@example.org>' 'To: support@example.com' \
    'Subject: My printer is on fire' 'Message-ID: <work-1@example.org>' 'Date: Mon, 1 Dec 2025 10:00:00 +0000' '' \
    'Hello,' '' 'the printer in room 4 smokes since this morning.' '' 'Pat' >"$T/plain.eml"
DESK_TICKET=$(inject "$T/plain.eml" support@example.com)
printf '%s\r\n' 'From: Pat Printer <pat@example.org>' 'To: support@example.com' \
    'Subject: The toner is empty' 'Message-ID: <work-2@example.org>' '' 'Another one.' >"$T/toner.eml"
DESK_TONER=$(inject "$T/toner.eml" support@example.com)
# a newsletter-like mail with a remote image (on the other origin: even
# once allowed it is not https, so it never loads -- and before the click
# nothing asks for it)
printf '%s\r\n' 'From: Nina News <nina@example.org>' 'To: support@example.com' 'Subject: Pictures' \
    'Message-ID: <work-3@example.org>' 'MIME-Version: 1.0' 'Content-Type: text/html; charset=utf-8' '' \
    "<p>Look: <img src=\"$EVIL/tracker.png\" alt=\"tracker\"> marker REMOTE-HTML</p>" >"$T/remote.eml"
DESK_REMOTE=$(inject "$T/remote.eml" support@example.com)
printf '%s\r\n' 'From: Bill Payer <bill@example.org>' 'To: billing@example.com' \
    'Subject: Invoice 2291 is wrong' 'Message-ID: <work-4@example.org>' '' 'Please check.' >"$T/billing.eml"
DESK_FOREIGN=$(inject "$T/billing.eml" billing@example.com)
# 20 new tickets to triage, in their own queue, nobody assigned
$PSQL -c "INSERT INTO tickets (queue_id, subject, status, priority, requester_id, created_at, updated_at)
          SELECT (SELECT id FROM queues WHERE name = 'triage'), 'Triage case ' || g, 'new', 'normal',
                 (SELECT id FROM users WHERE email = 'pat@example.org'),
                 now() - (30 - g) * interval '1 minute', now() - (30 - g) * interval '1 minute'
            FROM generate_series(1, 20) g" >/dev/null
$PSQL -c "INSERT INTO messages (ticket_id, direction, subject, from_addr, body_text)
          SELECT t.id, 'in', t.subject, 'pat@example.org', 'Please look at ' || t.subject
            FROM tickets t WHERE t.subject LIKE 'Triage case %'" >/dev/null
$PSQL -c "UPDATE tickets SET status = 'open' WHERE subject NOT LIKE 'Triage case %'" >/dev/null
# a canned response with placeholders and a macro, as a manager makes them
MGR_TOKEN=$("$CTL" token add manager@example.com --name e2e)
api() { curl -sf -H "Authorization: Bearer $MGR_TOKEN" -H 'Content-Type: application/json' -X "$1" "$DESK_URL/api/v1$2" -d "$3"; }
made() {
    api POST /canned-responses '{"title": "Greeting", "body": "Hello {{customer.name}},\n\nabout ticket #{{ticket.number}} ({{ticket.subject}}): {{nope.unknown}}\n\n{{agent.name}}, {{queue.name}}"}' >/dev/null &&
    api POST /macros '{"title": "Waiting for the customer", "body": "Dear {{customer.name}}, we need one more detail.", "visibility": "public", "actions": {"status": "pending", "priority": "high", "assignee_id": "me"}}' >/dev/null
}
check "a canned response and a macro through the API" made
DESK_TRIAGE_QUEUE=$($PSQL -c "SELECT id FROM queues WHERE name = 'triage'")
DESK_SUPPORT_QUEUE=$($PSQL -c "SELECT id FROM queues WHERE name = 'support'")
DESK_AGENT_ID=$($PSQL -c "SELECT id FROM users WHERE email = 'agent@example.com'")
export DESK_PW DESK_TICKET DESK_TONER DESK_REMOTE DESK_FOREIGN DESK_TRIAGE_QUEUE DESK_SUPPORT_QUEUE DESK_AGENT_ID
export DESK_SINK=$T/sink DESK_EVIL_URL=$EVIL DESK_EVIL_LOG=$T/evil.log DESK_DB=$ATUM_TEST_DATABASE_URL

mkdir -p "$T/files"
shots=$(browser_shots "${DESK_SCREENSHOTS:-}")
export DESK_SCREENSHOTS=$shots DESK_CHROMIUM=$CHROMIUM DESK_FILES=$T/files
browser_run desk_work.test.mjs
check "nothing reached the other origin" test ! -s "$T/evil.log"
check "atumd stops cleanly" atumd_stop
finish
