#!/bin/bash
# desk_rules_pg.sh -- one set of ticket rules for every channel (the desk
# domain, desk/status.h and desk/ticket.h), shown through the real API and
# the real mail-in path of one atumd:
#  - a customer's message reopens a solved ticket the same way by mail and
#    through the API, with the same timestamps and the same ticket.updated
#    event;
#  - a closed ticket takes no customer message: the API answers 409, a
#    mail opens a follow-up ticket linked to the closed one; staff reply to
#    a closed ticket only by reopening it;
#  - merges are followed: tag, token and references of a merged ticket land
#    on the ticket it was merged into, which a merged ticket never leaves;
#    tickets of two organisations are merged only when forced, and audited;
#  - organisation access lets a colleague see a ticket, not change it;
#  - a forged From of a staff address never speaks as the agent and never
#    reaches into a queue the mail was not sent to.
set -u
. "$ATUM_SRCDIR/tests/lib.sh"
T=$ATUM_TEST_TMP
CTL=$ATUM_BUILDDIR/atumctl
port_take WEBPORT
SECRET=desk-rules-secret-0123456789abcdef0123
cat >"$T/atum.conf" <<CONF
[core]
database_url = $ATUM_TEST_DATABASE_URL
secret_key = $SECRET
workers = 2
[web]
listen = 127.0.0.1:$WEBPORT
[mail]
org_by_domain = yes
[imap]
enabled = no
CONF
export ATUM_CONFIG=$T/atum.conf
"$CTL" migrate >/dev/null
"$CTL" queue add support support@example.com >/dev/null
"$CTL" queue add sales sales@example.com >/dev/null
"$CTL" user add agent-a@example.com --name 'Agent A' --role agent --no-password >/dev/null
"$CTL" user add agent-b@example.com --name 'Agent B' --role agent --no-password >/dev/null
"$CTL" user add admin@example.com --role admin --no-password >/dev/null
"$CTL" queue member support agent-a@example.com >/dev/null
"$CTL" queue member sales agent-b@example.com >/dev/null
q "INSERT INTO orgs (name, domain) VALUES ('Acme', 'acme.example'), ('Other', 'other.example')" >/dev/null
"$CTL" user add alice@acme.example --role customer --no-password >/dev/null
"$CTL" user add bob@acme.example --role customer --no-password >/dev/null
q "UPDATE users SET org_id = (SELECT id FROM orgs WHERE name = 'Acme') WHERE email LIKE '%@acme.example'" >/dev/null
q "UPDATE users SET org_access = true WHERE email = 'bob@acme.example'" >/dev/null
A=$("$CTL" token add agent-a@example.com --name t)
B=$("$CTL" token add agent-b@example.com --name t)
ADMIN=$("$CTL" token add admin@example.com --name t)
ALICE=$("$CTL" token add alice@acme.example --name t)
BOB=$("$CTL" token add bob@acme.example --name t)
atumd_start "$T/atum.conf" "$T/atumd.log" || { cat "$T/atumd.log"; exit 1; }
U=http://127.0.0.1:$WEBPORT/api/v1

# api TOKEN METHOD PATH [JSON]: prints the status, the body goes to $T/body
api() {
    local args=(-s -o "$T/body" -w '%{http_code}' -H "Authorization: Bearer $1" -X "$2")
    [ $# -ge 4 ] && args+=(-H 'Content-Type: application/json' -d "$4")
    curl "${args[@]}" "$U$3"
}
# status_is WANT TOKEN METHOD PATH [JSON]
status_is() {
    local want=$1; shift
    local got; got=$(api "$@")
    [ "$got" = "$want" ] || { echo "$2 $3 answered $got, want $want: $(cat "$T/body")"; return 1; }
}
echo 0 >"$T/n"    # mail counter: mail runs in subshells
# mail FROM TO SUBJECT [HEADER...]: prints "INBOUND TICKET"
mail() {
    local from=$1 to=$2 subject=$3 n; shift 3
    n=$(( $(cat "$T/n") + 1 )); echo "$n" >"$T/n"
    {
        printf 'From: %s\r\nTo: %s\r\nSubject: %s\r\nMessage-ID: <rules-%d@test.example>\r\n' \
            "$from" "$to" "$subject" "$n"
        for h in "$@"; do printf '%s\r\n' "$h"; done
        printf '\r\nmessage %d\r\n' "$n"
    } >"$T/m$n.eml"
    ingest_mail "$T/m$n.eml" --from "$from" --to "$to"
}
ticket_of() { local out; out=$(mail "$@") || { echo "$out" >&2; return 1; }; echo "${out#* }"; }
field() { q "SELECT $2 FROM tickets WHERE id = $1"; }
is() { [ "$1" = "$2" ] || { echo "got '$1', want '$2'"; return 1; }; }

# every ticket.updated goes to this webhook (delivery rows are enough)
status_is 201 "$ADMIN" POST /webhooks '{"url": "http://127.0.0.1:9/hook", "events": ["ticket.updated", "ticket.merged", "ticket.linked"]}'
updated() {   # updated TICKET FROM TO SOURCE: that status change was announced
    [ "$(q "SELECT count(*) FROM webhook_deliveries WHERE event = 'ticket.updated'
             AND (payload->>'ticket_id')::bigint = $1 AND payload->'changes'->'status'->>'from' = '$2'
             AND payload->'changes'->'status'->>'to' = '$3' AND payload->>'source' = '$4'")" -ge 1 ]
}

# ---- the status model, by mail and by API alike ---------------------------
T1=$(ticket_of 'Alice <alice@acme.example>' support@example.com 'printer on fire')
check "a customer's mail opens a new ticket" is "$(field "$T1" status)" new
check "staff reply with status solved" status_is 201 "$A" POST "/tickets/$T1/replies" '{"body": "fixed", "status": "solved"}'
check "... solved_at is set" is "$(field "$T1" "solved_at IS NOT NULL")" t
check "the customer's mail to a solved ticket joins it" is "$(ticket_of alice@acme.example support@example.com "Re: [#$T1] still burning")" "$T1"
check "... and reopens it" is "$(field "$T1" status)" open
check "... solved_at cleared" is "$(field "$T1" "solved_at IS NULL")" t
check "... announced as ticket.updated (source mail)" updated "$T1" solved open mail
check "staff solve it again" status_is 200 "$A" PATCH "/tickets/$T1" '{"status": "solved"}'
check "the customer's API reply reopens it the same way" status_is 201 "$ALICE" POST "/tickets/$T1/replies" '{"body": "again"}'
check "... status open" is "$(field "$T1" status)" open
check "... solved_at cleared" is "$(field "$T1" "solved_at IS NULL")" t
check "... announced as ticket.updated (source api)" updated "$T1" solved open api
check "staff close it" status_is 200 "$A" PATCH "/tickets/$T1" '{"status": "closed"}'
closed_at=$(field "$T1" closed_at)
check "... closed_at is set" test -n "$closed_at"
check "a customer's API reply to a closed ticket: 409" status_is 409 "$ALICE" POST "/tickets/$T1/replies" '{"body": "hello?"}'
check "a customer cannot reopen a closed ticket" status_is 403 "$ALICE" PATCH "/tickets/$T1" '{"status": "open"}'
out=$(mail alice@acme.example support@example.com "Re: [#$T1] hello?")
F1=${out#* }
check "a customer's mail to a closed ticket opens a follow-up ticket" bash -c "[ -n '$F1' ] && [ '$F1' != '$T1' ]"
check "... linked to the closed one" is "$(q "SELECT count(*) FROM ticket_links WHERE ticket_a = least($T1, $F1) AND ticket_b = greatest($T1, $F1)")" 1
check "... the closed ticket is untouched" is "$(field "$T1" "status || ' ' || closed_at")" "closed $closed_at"
check "... ingest says follow-up" grep -q "event=ingest.done inbound=${out% *} ticket=$F1 .*by=follow-up" "$T/atumd.log"
check "a staff reply to a closed ticket: 409" status_is 409 "$A" POST "/tickets/$T1/replies" '{"body": "late"}'
check "an internal note on a closed ticket is fine" status_is 201 "$A" POST "/tickets/$T1/notes" '{"body": "for the record"}'
check "a staff reply that reopens the ticket" status_is 201 "$A" POST "/tickets/$T1/replies" '{"body": "back", "status": "open"}'
check "... status open, closed_at cleared" is "$(field "$T1" "status || ' ' || (closed_at IS NULL)")" "open true"
check "staff solve it" status_is 200 "$A" PATCH "/tickets/$T1" '{"status": "solved"}'
check "a customer's auto-reply joins the solved ticket" is "$(ticket_of alice@acme.example support@example.com "Auto: [#$T1] away" 'Auto-Submitted: auto-replied')" "$T1"
check "... and does not reopen it" is "$(field "$T1" status)" solved

# ---- merges are followed ----------------------------------------------------
T2=$(ticket_of alice@acme.example support@example.com 'keyboard')
T3=$(ticket_of alice@acme.example support@example.com 'keyboard again')
M3=rules-$(cat "$T/n")@test.example
check "merge a duplicate" status_is 200 "$A" POST "/tickets/$T3/merge" "{\"into_id\": $T2}"
check "... the merged one is closed and names the survivor" is "$(field "$T3" "status || ' ' || merged_into")" "closed $T2"
out=$(mail alice@acme.example support@example.com "Re: [#$T3] more keys")
check "mail for a merged ticket lands on the survivor (tag)" is "${out#* }" "$T2"
out=$(mail bob@other.example "support+$(reply_token "$T3" "$SECRET")@example.com" 'no tag')
check "... (reply token)" is "${out#* }" "$T2"
out=$(mail carol@other.example support@example.com 'no tag' "In-Reply-To: <$M3>")
check "... (references)" is "${out#* }" "$T2"
check "... and the merged ticket stays closed" is "$(field "$T3" "status || ' ' || merged_into")" "closed $T2"
check "an API reply to the merged ticket: 409" status_is 409 "$A" POST "/tickets/$T3/replies" '{"body": "x"}'
check "an API change of the merged ticket: 409" status_is 409 "$A" PATCH "/tickets/$T3" '{"status": "open"}'
TO=$(ticket_of olga@other.example support@example.com 'other org')
check "tickets of two organisations are not merged without force" status_is 409 "$A" POST "/tickets/$TO/merge" "{\"into_id\": $T2}"
check "... the problem names the field 'force'" grep -q '"field" *: *"force"' "$T/body"
check "... nothing moved" is "$(q "SELECT count(*) FROM messages WHERE ticket_id = $TO")" 1
check "with force they are" status_is 200 "$A" POST "/tickets/$TO/merge" "{\"into_id\": $T2, \"force\": true}"
check "... audited with both organisations" is "$(q "SELECT count(*) FROM audit_log WHERE action = 'ticket.merge'
    AND target = 'ticket:$TO' AND (detail->>'forced_across_orgs')::boolean
    AND detail->>'org_id' IS DISTINCT FROM detail->>'into_org_id'")" 1

# ---- organisation access is read-only ---------------------------------------
check "a colleague with organisation access sees the ticket" status_is 200 "$BOB" GET "/tickets/$T2"
check "... but cannot reply to it" status_is 403 "$BOB" POST "/tickets/$T2/replies" '{"body": "me too"}'
check "... nor close it" status_is 403 "$BOB" PATCH "/tickets/$T2" '{"status": "closed"}'
check "the requester can" status_is 200 "$ALICE" PATCH "/tickets/$T2" '{"status": "solved"}'

# ---- a forged staff From ------------------------------------------------------
TB=$(ticket_of dave@other.example sales@example.com 'quote please')
check "staff set the sales ticket pending" status_is 200 "$B" PATCH "/tickets/$TB" '{"status": "pending"}'
out=$(mail 'Agent A <agent-a@example.com>' support@example.com "Re: [#$TB] your quote")
check "a staff From with [#N] of another queue's ticket does not join it" bash -c "[ '${out#* }' != '$TB' ]"
check "... it is a ticket of the queue it was sent to" is "$(field "${out#* }" "(SELECT name FROM queues q WHERE q.id = queue_id)")" support
out=$(mail 'Agent B <agent-b@example.com>' sales@example.com "Re: [#$TB] pay here")
check "a staff From with [#N], sent to the ticket's queue, joins it" is "${out#* }" "$TB"
mid=$(q "SELECT message_id FROM inbound_mail WHERE id = ${out% *}")
check "... on the customer's side, authored by nobody" is "$(q "SELECT direction || ' ' || (author_id IS NULL) FROM messages WHERE id = $mid")" "in true"
check "... marked as not verified" is "$(q "SELECT count(*) FROM messages WHERE id = $mid AND array_to_string(problems, ' ') LIKE '%not verified%'")" 1
check "... the ticket's status is untouched" is "$(field "$TB" status)" pending
check "... the customer's API view shows it as incoming, not as the agent's" bash -c "
    curl -s -H 'Authorization: Bearer $B' '$U/tickets/$TB' | python3 -c '
import json, sys
m = [x for x in json.load(sys.stdin)[\"messages\"] if x[\"id\"] == $mid][0]
sys.exit(0 if m[\"direction\"] == \"in\" and m[\"author_id\"] is None else 1)'"
# ---- one key for an address --------------------------------------------------
# Accounts are matched by email_canonical() (ASCII case only) everywhere.
out=$(mail 'ALICE@ACME.EXAMPLE' support@example.com 'upper case')
check "an ASCII case variant of a customer's address is that customer" is \
    "$(field "${out#* }" "(SELECT email FROM users u WHERE u.id = requester_id)")" alice@acme.example
"$CTL" user add karl@acme.example --role customer --no-password >/dev/null
out=$(mail "$(printf '\xe2\x84\xaa')arl@acme.example" support@example.com 'kelvin sign')
check "a look-alike of an account's address (Kelvin sign K) is not that account" is \
    "$(field "${out#* }" "(SELECT email FROM users u WHERE u.id = requester_id)")" "$(printf '\xe2\x84\xaa')arl@acme.example"
check "... but a customer of its own, beside it" is "$(q "SELECT count(*) FROM users WHERE email LIKE '%arl@acme.example'")" 2
check "no ingest job failed" is "$(q "SELECT count(*) FROM jobs WHERE state = 'dead' AND kind = 'mail.ingest'")" 0
check "atumd stops cleanly" atumd_stop
finish
