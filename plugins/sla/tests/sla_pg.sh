#!/bin/bash
# sla_pg.sh -- the sla plugin in a real atumd, end to end:
#  - policies and calendars made through its routes with API tokens;
#  - a mail opens a ticket, and GET /api/v1/tickets/{id} carries the SLA
#    state under plugins.sla (what the desk's side panel shows);
#  - the warning and the breach are sla.tick jobs scheduled for their
#    moments (a 2-second calendar-time target: waited for with a bound,
#    never slept), and the breach escalates: a notice in the outbox, the
#    priority raised by the desk's rules, sla.breached delivered to a
#    webhook;
#  - a staff reply stops first response; the customer's mail reply starts
#    next response;
#  - an edit of a calendar is applied to open tickets by a recompute job;
#  - with the metrics plugin loaded too: GET /metrics counts the warning
#    and the breach by clock, and the dashboard's SLA compliance comes from
#    sla_outcomes.
set -u
. "$ATUM_SRCDIR/tests/lib.sh"
T=$ATUM_TEST_TMP
CTL=$ATUM_BUILDDIR/atumctl
mkdir -p "$T/plugins"
ln -s "$ATUM_BUILDDIR/plugins/sla/.libs/sla.so" "$T/plugins/sla.so"
ln -s "$ATUM_BUILDDIR/plugins/metrics/.libs/metrics.so" "$T/plugins/metrics.so"
cat >"$T/atum.conf" <<CONF
[core]
database_url = $ATUM_TEST_DATABASE_URL
secret_key = sla-integration-secret-0123456789abcdef
workers = 2
plugin_dir = $T/plugins
[queue]
poll_interval = 200ms
[web]
listen = 127.0.0.1:0
[imap]
enabled = no
[plugin.sla]
[plugin.metrics]
CONF
export ATUM_CONFIG=$T/atum.conf
"$CTL" migrate >/dev/null
"$CTL" queue add support support@example.com >/dev/null
"$CTL" queue add sales sales@example.com >/dev/null
"$CTL" user add agent@example.com --role agent --no-password >/dev/null
"$CTL" user add boss@example.com --role manager --no-password >/dev/null
"$CTL" user add admin@example.com --role admin --no-password >/dev/null
"$CTL" queue member support agent@example.com >/dev/null
"$CTL" queue member sales agent@example.com >/dev/null
AGENT=$("$CTL" token add agent@example.com --name t)
ADMIN=$("$CTL" token add admin@example.com --name t)

# a webhook receiver on a port of its choosing (written to $T/hookport):
# each POST body on a line of its own
/usr/bin/python3 - "$T/hookport" "$T/hooks" <<'PY' >"$T/hookd.log" 2>&1 &
import http.server, os, sys
portfile, out = sys.argv[1], sys.argv[2]
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get('Content-Length', 0)))
        with open(out, 'ab') as f:
            f.write(body.replace(b'\n', b' ') + b'\n')
        self.send_response(204); self.end_headers()
    def log_message(self, *a): pass
srv = http.server.HTTPServer(('127.0.0.1', 0), H)
with open(portfile + '.tmp', 'w') as f:
    f.write(str(srv.server_port))
os.rename(portfile + '.tmp', portfile)
srv.serve_forever()
PY
HOOKD_PID=$!
cleanup() { atumd_stop; kill "$HOOKD_PID" 2>/dev/null; wait "$HOOKD_PID" 2>/dev/null; }
trap cleanup EXIT

atumd_start_port0 "$T/atum.conf" "$T/atumd.log" || { cat "$T/atumd.log"; exit 1; }
wait_until 10 test -s "$T/hookport" || { echo "the webhook receiver did not start"; cat "$T/hookd.log"; exit 1; }
HOOKPORT=$(cat "$T/hookport")
U=http://127.0.0.1:$WEBPORT/api/v1

# api TOKEN METHOD PATH [JSON]: prints the status, the body goes to $T/body
api() {
    local args=(-s -o "$T/body" -w '%{http_code}' -H "Authorization: Bearer $1" -X "$2")
    [ $# -ge 4 ] && args+=(-H 'Content-Type: application/json' -d "$4")
    curl "${args[@]}" "$U$3"
}
status_is() {
    local want=$1; shift
    local got; got=$(api "$@")
    [ "$got" = "$want" ] || { echo "$2 $3 answered $got, want $want: $(cat "$T/body")"; return 1; }
}
sla() { api "$AGENT" GET "/tickets/$1" >/dev/null; jq -r ".plugins.sla$2" "$T/body"; }
echo 0 >"$T/n"
mail() {   # mail FROM TO SUBJECT [HEADER...]: prints "INBOUND TICKET"
    local from=$1 to=$2 subject=$3 n; shift 3
    n=$(( $(cat "$T/n") + 1 )); echo "$n" >"$T/n"
    {
        printf 'From: %s\r\nTo: %s\r\nSubject: %s\r\nMessage-ID: <sla-%d@test.example>\r\n' "$from" "$to" "$subject" "$n"
        for h in "$@"; do printf '%s\r\n' "$h"; done
        printf '\r\nmessage %d\r\n' "$n"
    } >"$T/m$n.eml"
    ingest_mail "$T/m$n.eml" --from "$from" --to "$to"
}

# small predicates for check / wait_until (they run in this shell)
ledger_count() { [ "$(q "SELECT count(*) FROM sla_ledger WHERE ticket_id = $1 AND kind = '$2'")" = "$3" ]; }
sla_is() { [ "$(sla "$1" "$2")" = "$3" ]; }
sql_is() { [ "$(q "$1")" = "$2" ]; }
hours_are() {
    curl -s -H "Authorization: Bearer $AGENT" "$U/plugins/sla/calendar/hours?id=$1&from=$2&days=7" >"$T/hours"
    [ "$(jq -r '[.open[].from] | join(" ")' "$T/hours")" = "$3" ]
}
webhook_got() { grep -q "\"clock\": *\"first_response\"" "$T/hooks" 2>/dev/null && [ "$(grep -c . "$T/hooks")" = "$1" ]; }

check "atumctl plugins lists sla" bash -c "'$CTL' plugins | grep -q '^sla *ok'"
check "an agent may not create a policy" status_is 404 "$AGENT" POST /plugins/sla/policies '{"name":"x","targets":{"resolution":{"hours":1}}}'
check "a calendar is created" status_is 201 "$ADMIN" POST /plugins/sla/calendars \
    '{"name":"Berlin office","time_zone":"Europe/Berlin","hours":{"mon":["09:00-17:00"],"tue":["09:00-17:00"],"wed":["09:00-17:00"],"thu":["09:00-17:00"],"fri":["09:00-17:00"]}}'
CAL=$(jq -r .id "$T/body")
# 09:00 Berlin is 08:00Z until the clocks go forward on Sunday 2024-03-31, then 07:00Z
check "its open hours across the spring-forward weekend" hours_are "$CAL" 2024-03-28 \
    "2024-03-28T08:00:00Z 2024-03-29T08:00:00Z 2024-04-01T07:00:00Z 2024-04-02T07:00:00Z 2024-04-03T07:00:00Z"
check "a short calendar-time policy for support" status_is 201 "$ADMIN" POST /plugins/sla/policies \
    '{"name":"Fast","queues":["support"],"warn_percent":50,"targets":{"first_response":{"seconds":2,"time":"calendar"},"resolution":{"hours":8,"time":"calendar"}},"escalation":{"breach":[{"notify":"managers"},{"priority":"raise"}]}}'
check "a business-time policy for sales" status_is 201 "$ADMIN" POST /plugins/sla/policies \
    '{"name":"Sales","queues":["sales"],"calendar":"Berlin office","targets":{"first_response":{"hours":4},"next_response":{"hours":2,"time":"calendar"},"resolution":{"hours":40}}}'
check "a webhook for sla events" status_is 201 "$ADMIN" POST /webhooks \
    "{\"url\":\"http://127.0.0.1:$HOOKPORT/hook\",\"events\":[\"sla.warning\",\"sla.breached\"]}"

# ---- a ticket that breaches ---------------------------------------------------
read -r _ T1 < <(mail customer@example.org support@example.com "Printer on fire")
check "the ticket answer carries plugins.sla" wait_until 10 sla_is "$T1" .policy.name Fast
check "its first response clock runs, 2 s, with a deadline" bash -c "[ '$(sla "$T1" .clocks.first_response.target_seconds)' = 2 ] && [ '$(sla "$T1" .clocks.first_response.due_at)' != null ]"
check "the ledger says why" sla_is "$T1" '.ledger[0].kind' start
check "a tick was scheduled for the warning moment (1 s, 50 %)" sql_is \
    "SELECT count(*) > 0 FROM (SELECT payload FROM jobs WHERE kind = 'sla.tick' UNION ALL SELECT payload FROM job_archive WHERE kind = 'sla.tick') j, tickets t WHERE t.id = $T1 AND abs((j.payload->>'at')::bigint / 1000.0 - extract(epoch FROM t.created_at) - 1) < 0.5" t
check "the warning fires at 50 %" wait_until 30 ledger_count "$T1" warning 1
check "the breach fires at the deadline" wait_until 30 ledger_count "$T1" breach 1
check "the breach was owed 2 s after the ticket opened, and fired no earlier" sql_is \
    "SELECT abs(extract(epoch FROM (l.detail->>'owed_at')::timestamptz - t.created_at) - 2) < 0.5 AND l.at >= (l.detail->>'owed_at')::timestamptz FROM sla_ledger l JOIN tickets t ON t.id = l.ticket_id WHERE l.ticket_id = $T1 AND l.kind = 'breach'" t
check "the answer's deadline is the one the breach was owed at" bash -c "[ \"$(sla "$T1" .clocks.first_response.due_at)\" = \"\$(psql -X -q -t -A -d '$ATUM_TEST_DATABASE_URL' -c \"SELECT detail->>'owed_at' FROM sla_ledger WHERE ticket_id = $T1 AND kind = 'breach'\")\" ]"
check "the priority was raised through the desk's rules" wait_until 10 sql_is "SELECT priority FROM tickets WHERE id = $T1" high
check "with an internal note saying why" bash -c "psql -X -q -t -A -d '$ATUM_TEST_DATABASE_URL' -c \"SELECT body_text FROM messages WHERE ticket_id = $T1 AND visibility = 'internal'\" | grep -q 'SLA breach: first response overdue'"
check "the manager's notice waits in the outbox" wait_until 10 sql_is \
    "SELECT count(*) FROM outbound_mail o JOIN outbound_recipients r ON r.outbound_id = o.id WHERE o.ticket_id = $T1 AND o.kind = 'notice' AND r.address = 'boss@example.com'" 1
check "the webhook got sla.warning and sla.breached" wait_until 30 webhook_got 2
check "the answer shows it breached" sla_is "$T1" .clocks.first_response.breached true
check "and nothing fired twice" sql_is "SELECT count(*) FROM sla_ledger WHERE ticket_id = $T1 AND kind IN ('warning', 'breach')" 2

# ---- a ticket answered in time -------------------------------------------------------
read -r _ T2 < <(mail customer@example.org sales@example.com "Quote please")
check "the sales ticket is under the business-time policy" wait_until 10 sla_is "$T2" .policy.name Sales
# one pending tick covers every later moment: a tick is pending at or
# before this ticket's moment (its own, or the first ticket's earlier one,
# which hands over when it has run)
check "its next escalation is covered by a tick pending at or before it" sql_is \
    "SELECT count(*) > 0 FROM jobs j JOIN sla_tickets s ON s.ticket_id = $T2 WHERE j.kind = 'sla.tick' AND j.state = 'available' AND j.run_at <= s.next_due + interval '1 second'" t
check "a staff reply" status_is 201 "$AGENT" POST "/tickets/$T2/replies" '{"body":"Here is your quote."}'
check "stops first response" wait_until 10 sla_is "$T2" .clocks.first_response.state achieved
read -r _ _ < <(mail customer@example.org sales@example.com "Re: Quote please [#$T2]")
check "the customer's mail reply starts next response" wait_until 10 sla_is "$T2" .clocks.next_response.state running
check "its first round" sla_is "$T2" .clocks.next_response.round 1
check "GET /plugins/sla/ticket answers the ledger in time order" bash -c "
    [ \"\$(curl -s -H 'Authorization: Bearer $AGENT' '$U/plugins/sla/ticket?id=$T2' | jq -r '[.ledger[].kind | select(. != \"change\" and . != \"policy\")] | join(\",\")')\" = 'start,response,customer' ]"

# ---- an edit of the calendar moves the deadlines of open tickets -------------------
BEFORE=$(sla "$T2" .clocks.resolution.due_at)
check "the calendar is edited" status_is 200 "$ADMIN" PUT "/plugins/sla/calendar?id=$CAL" \
    '{"name":"Berlin office","time_zone":"Europe/Berlin","hours":"24/7"}'
check "a recompute applies it to open tickets" wait_until 15 sql_is \
    "SELECT count(*) FROM sla_tickets WHERE ticket_id = $T2 AND config_version = (SELECT version FROM sla_config)" 1
# 40 business hours from now: a week of office hours, or 40 h on a 24/7 calendar
check "the resolution deadline moved" bash -c "[ '$BEFORE' != null ] && [ \"\$(curl -s -H 'Authorization: Bearer $AGENT' $U/tickets/$T2 | jq -r .plugins.sla.clocks.resolution.due_at)\" \< '$BEFORE' ]"
# ---- what the metrics plugin makes of it ------------------------------------------
metric_is() { curl -s "http://127.0.0.1:$WEBPORT/metrics" | grep -qx "$1 $2"; }
check "GET /metrics counts the warning by clock" metric_is 'atum_sla_warnings_total{clock="first_response"}' 1
check "and the breach" metric_is 'atum_sla_breaches_total{clock="first_response"}' 1
check "sla_outcomes: the breached first response missed when it ran out" sql_is \
    "SELECT met::text || ' ' || (abs(extract(epoch FROM decided_at - (SELECT (detail->>'owed_at')::timestamptz FROM sla_ledger WHERE ticket_id = $T1 AND kind = 'breach'))) < 0.01) FROM sla_outcomes WHERE ticket_id = $T1 AND decided_at IS NOT NULL" "false true"
check "the sales ticket's first response met, its resolution and round undecided" sql_is \
    "SELECT string_agg(coalesce(met::text, 'null'), ',' ORDER BY met NULLS LAST) FROM sla_outcomes WHERE ticket_id = $T2" "true,null,null"
BOSS=$("$CTL" token add boss@example.com --name t)
check "the dashboard's SLA compliance: 1 met, 1 missed" bash -c "
    [ \"\$(curl -s -H 'Authorization: Bearer $BOSS' '$U/plugins/metrics/dashboard?days=7' | jq -c '[.sla.available, .sla.met, .sla.missed, .sla.compliance_percent]')\" = '[true,1,1,50]' ]"
check "atumd logged no plugin failure" bash -c "! grep -E 'level=error' '$T/atumd.log' | grep -E 'sla|plugin'"
check "atumd stops cleanly" atumd_stop
finish
