# tests/e2e/setup.sh -- the world of the desk's browser test, sourced by
# tests/integration/desk_e2e_pg.sh (which has a private PostgreSQL from
# tests/run-test): atumd on a port of its own choosing serving the built
# desk (web/dist), two queues, agents, a customer, tickets -- one of them
# a hostile mail, injected like any mail -- and a server standing for
# "another origin".  Exports what tests/e2e/desk.test.mjs reads (DESK_*).
# Needs: T (a temp dir), B (the build tree), S (the source tree), PSQL;
# DESK_EXTRA_CONF, when set, is added to the end of the configuration.

DESK_PW='e2e correct horse battery'
export DESK_PW
cat >"$T/atum.conf" <<CONF
[core]
database_url = $ATUM_TEST_DATABASE_URL
secret_key = desk-e2e-secret-0123456789abcdef0123456789
workers = 2
[web]
listen = 127.0.0.1:0
assets_dir = $B/web/dist
[queue]
poll_interval = 200ms
[imap]
enabled = no
${DESK_EXTRA_CONF:-}
CONF
export ATUM_CONFIG=$T/atum.conf
CTL=$B/atumctl
"$CTL" migrate >/dev/null || return 1
"$CTL" queue add support support@example.com >/dev/null
"$CTL" queue add billing billing@example.com >/dev/null
"$CTL" queue add triage triage@example.com >/dev/null
for u in agent:agent@example.com:Alex\ Agent other:other@example.com:Olga\ Other; do
    echo "$DESK_PW" | "$CTL" user add "$(cut -d: -f2 <<<"$u")" --name "$(cut -d: -f3 <<<"$u")" \
        --role agent --password-stdin >/dev/null || return 1
done
echo "$DESK_PW" | "$CTL" user add customer@example.org --name 'Carla Customer' --role customer \
    --password-stdin >/dev/null || return 1
"$CTL" queue member support agent@example.com >/dev/null
"$CTL" queue member triage agent@example.com >/dev/null
"$CTL" queue member billing other@example.com >/dev/null

# the other origin
python3 "$S/tests/e2e/evilserver.py" "$T/evil.port" "$T/evil.log" &
EVIL_PID=$!
wait_until 10 test -s "$T/evil.port" || return 1
EVIL="http://127.0.0.1:$(cat "$T/evil.port")"
export DESK_EVIL_URL=$EVIL DESK_EVIL_LOG=$T/evil.log

atumd_start_port0 "$T/atum.conf" "$T/atumd.log" || { tail -n 20 "$T/atumd.log"; return 1; }
export DESK_URL="http://127.0.0.1:$WEBPORT"

# inject FILE TO: stores the mail like any received one and waits for its
# ticket; prints the ticket id
inject() {
    local id
    id=$("$CTL" inject --from "$(sed -n 's/^From: .*<\(.*\)>.*/\1/p' "$1" | head -n 1)" --to "$2" <"$1") || return 1
    wait_until 20 bash -c "[ \"\$($PSQL -c \"SELECT state FROM inbound_mail WHERE id = $id\")\" = ingested ]" ||
        { "$CTL" inbound show "$id" >&2; return 1; }
    $PSQL -c "SELECT ticket_id FROM inbound_mail WHERE id = $id"
}

# a plain customer mail and the customer's follow-up quoting our reply
printf '%s\r\n' 'From: Pat Printer <pat@example.org>' 'To: support@example.com' \
    'Subject: My printer is on fire' 'Message-ID: <e2e-1@example.org>' 'Date: Mon, 1 Dec 2025 10:00:00 +0000' '' \
    'Hello,' '' 'the printer in room 4 smokes since this morning.' '' 'Pat' >"$T/plain.eml"
DESK_TICKET=$(inject "$T/plain.eml" support@example.com) || return 1
printf '%s\r\n' 'From: Pat Printer <pat@example.org>' 'To: support@example.com' \
    'Subject: Re: My printer is on fire' 'Message-ID: <e2e-2@example.org>' 'In-Reply-To: <e2e-1@example.org>' \
    'References: <e2e-1@example.org>' 'Date: Mon, 1 Dec 2025 11:00:00 +0000' '' \
    'It stopped smoking, but it smells.' '' 'On Mon, 1 Dec 2025 at 10:00, Pat Printer <pat@example.org> wrote:' \
    '> Hello,' '>' '> the printer in room 4 smokes since this morning.' >"$T/plain2.eml"
inject "$T/plain2.eml" support@example.com >/dev/null || return 1

# the hostile mail: script, event handlers, CSS and javascript: in the
# subject, the sender's name, both bodies and an attachment's name, and
# references to the other origin everywhere a browser would load from
sed "s|EVIL|$EVIL|g" "$S/tests/e2e/hostile.eml" >"$T/hostile.eml"
DESK_HOSTILE=$(inject "$T/hostile.eml" support@example.com) || return 1

# a ticket of a queue the agent is not in
printf '%s\r\n' 'From: Bill Payer <bill@example.org>' 'To: billing@example.com' \
    'Subject: Invoice 2291 is wrong' 'Message-ID: <e2e-3@example.org>' '' 'Please check.' >"$T/billing.eml"
DESK_FOREIGN=$(inject "$T/billing.eml" billing@example.com) || return 1

# a ticket of the customer's own
printf '%s\r\n' 'From: Carla Customer <customer@example.org>' 'To: support@example.com' \
    'Subject: Carla asks' 'Message-ID: <e2e-4@example.org>' '' 'A question.' >"$T/carla.eml"
inject "$T/carla.eml" support@example.com >/dev/null || return 1

# 20 new tickets to triage, in their own queue (the newest first on screen)
$PSQL -c "INSERT INTO tickets (queue_id, subject, status, priority, requester_id, created_at, updated_at)
          SELECT (SELECT id FROM queues WHERE name = 'triage'), 'Triage case ' || g, 'new', 'normal',
                 (SELECT id FROM users WHERE email = 'pat@example.org'),
                 now() - interval '1 hour', now() - (21 - g) * interval '1 second'
            FROM generate_series(1, 20) g" >/dev/null || return 1
$PSQL -c "INSERT INTO messages (ticket_id, direction, subject, from_addr, body_text)
          SELECT t.id, 'in', t.subject, 'pat@example.org', 'Please look at ' || t.subject
            FROM tickets t WHERE t.subject LIKE 'Triage case %'" >/dev/null || return 1
# every other ticket is past triage: the "New" view holds exactly those 20
$PSQL -c "UPDATE tickets SET status = 'open' WHERE subject NOT LIKE 'Triage case %'" >/dev/null
DESK_TRIAGE_QUEUE=$($PSQL -c "SELECT id FROM queues WHERE name = 'triage'")
DESK_AGENT_ID=$($PSQL -c "SELECT id FROM users WHERE email = 'agent@example.com'")
export DESK_TICKET DESK_HOSTILE DESK_FOREIGN DESK_TRIAGE_QUEUE DESK_AGENT_ID
