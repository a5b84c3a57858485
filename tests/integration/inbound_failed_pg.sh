#!/bin/bash
# inbound_failed_pg.sh -- a mail that cannot be ingested is not lost:
# injected while no queue exists, its mail.ingest job goes dead at once
# with the reason, the inbound mail is marked failed with its raw bytes
# kept, `atumctl inbound list --failed` and `inbound show` say so, and
# after `atumctl queue add` a `atumctl reprocess ID` ingests it.  Staff see
# the same through the API (GET /api/v1/inbound?state=failed, the "needs
# attention" list) and put a mail back through ingest from there.
set -u
. "$ATUM_SRCDIR/tests/lib.sh"
T=$ATUM_TEST_TMP
PSQL="psql -X -q -t -A -d $ATUM_TEST_DATABASE_URL"
CTL=$ATUM_BUILDDIR/atumctl
port_take WEBPORT
cat >"$T/atum.conf" <<CONF
[core]
database_url = $ATUM_TEST_DATABASE_URL
secret_key = test-secret
workers = 2
[web]
listen = 127.0.0.1:$WEBPORT
[imap]
enabled = no
CONF
export ATUM_CONFIG=$T/atum.conf
"$CTL" migrate >/dev/null
"$CTL" user add agent@example.com --role agent --no-password >/dev/null
"$CTL" user add boss@example.com --role manager --no-password >/dev/null
"$CTL" user add cust@example.org --role customer --no-password >/dev/null
AGENT=$("$CTL" token add agent@example.com --name t)
BOSS=$("$CTL" token add boss@example.com --name t)
CUST=$("$CTL" token add cust@example.org --name t)
U=http://127.0.0.1:$WEBPORT/api/v1
api() { curl -s -o "$T/body" -w '%{http_code}' -H "Authorization: Bearer $1" -X "$2" "$U$3"; }
export -f api; export T U
atumd_start "$T/atum.conf" "$T/atumd.log" || { cat "$T/atumd.log"; exit 1; }

printf 'From: Early Bird <early@example.org>\r\nTo: support@example.com\r\nSubject: before any queue\r\nMessage-ID: <early-1@example.org>\r\n\r\nIs anyone there?\r\n' >"$T/early.eml"
ID=$("$CTL" inject --to support@example.com <"$T/early.eml")
check "inject stores the mail and prints its id" test -n "$ID"
check "with no queue the mail goes failed" wait_until 20 bash -c "[ \"\$($PSQL -c 'SELECT state FROM inbound_mail WHERE id = $ID')\" = failed ]"
check "its job is dead at once (no retries for a missing queue)" bash -c \
    "[ \"\$($PSQL -c \"SELECT state || ' ' || attempts FROM jobs WHERE unique_key = 'ingest:$ID'\")\" = 'dead 1' ]"
check "the job's error says what to do" bash -c \
    "$PSQL -c \"SELECT last_error FROM jobs WHERE unique_key = 'ingest:$ID'\" | grep -q 'atumctl queue add'"
check "the raw bytes are kept, unchanged" bash -c \
    "$PSQL -c \"SELECT encode(raw, 'escape') FROM inbound_mail WHERE id = $ID\" | tr -d '\\r' | cmp -s - <(tr -d '\\r' <'$T/early.eml'; echo)"
check "no ticket was made" bash -c "[ \"\$($PSQL -c 'SELECT count(*) FROM tickets')\" = 0 ]"
"$CTL" inbound list --failed >"$T/failed.txt"
check "atumctl inbound list --failed lists it with the error" bash -c \
    "grep -E '^$ID +failed' '$T/failed.txt' | grep -q 'no queue'"
check "inbound list --failed lists only failed mail" bash -c \
    "[ \$(grep -cE '^[0-9]+ ' '$T/failed.txt') = 1 ]"
"$CTL" --json inbound show "$ID" >"$T/show.json"
check "inbound show --json: failed, the error, what was understood of it" \
    jq -e '.state == "failed" and (.error | test("no queue")) and .subject == "before any queue"
           and .from == "early@example.org" and .ticket == null' "$T/show.json"
"$CTL" jobs list --state dead >"$T/dead.txt"
check "atumctl jobs list --state dead shows the job" grep -q 'mail.ingest' "$T/dead.txt"

# the same, as staff see it through the API
check "staff see the failed mail in the API's needs-attention list" bash -c "
    [ \$(curl -s -o '$T/list.json' -w '%{http_code}' -H 'Authorization: Bearer $AGENT' '$U/inbound?state=failed') = 200 ] &&
    jq -e '.items | length == 1 and .[0].id == $ID and .[0].state == \"failed\"
           and (.[0].error | test(\"no queue\")) and .[0].subject == \"before any queue\"
           and .[0].from == \"early@example.org\"' '$T/list.json'"
check "one received mail, with its envelope" bash -c "
    [ \$(api '$AGENT' GET /inbound/$ID) = 200 ] && jq -e '.envelope.rcpt_to[0] == \"support@example.com\"' '$T/body'"
check "customers do not see received mail" bash -c "[ \$(api '$CUST' GET '/inbound?state=failed') = 403 ]"
check "an agent does not download the raw mail (404)" bash -c "[ \$(api '$AGENT' GET /inbound/$ID/raw) = 404 ]"
check "a manager does, byte for byte, as a download" bash -c "
    curl -s -D '$T/raw.h' -o '$T/raw.eml' -H 'Authorization: Bearer $BOSS' '$U/inbound/$ID/raw' &&
    grep -qi '^Content-Disposition: attachment' '$T/raw.h' && grep -qi '^Content-Type: message/rfc822' '$T/raw.h' &&
    cmp -s '$T/raw.eml' '$T/early.eml'"
check "reprocessing an unknown id through the API: 404" bash -c "[ \$(api '$AGENT' POST /inbound/999999/reprocess) = 404 ]"
printf 'From: second@example.org\r\nTo: support@example.com\r\nSubject: also early\r\nMessage-ID: <early-2@example.org>\r\n\r\nHello?\r\n' >"$T/early2.eml"
ID2=$("$CTL" inject --to support@example.com <"$T/early2.eml")
check "a second early mail fails too" wait_until 20 bash -c "[ \"\$($PSQL -c 'SELECT state FROM inbound_mail WHERE id = $ID2')\" = failed ]"

check_fails "reprocess of an unknown id fails" "$CTL" reprocess 999999
"$CTL" queue add support support@example.com >/dev/null
check "after queue add, reprocess queues it again" bash -c "$CTL reprocess $ID | grep -q 'queued for ingest'"
check "... and it is ingested" wait_until 20 bash -c "[ \"\$($PSQL -c 'SELECT state FROM inbound_mail WHERE id = $ID')\" = ingested ]"
check "into a ticket of the new queue, error cleared" bash -c \
    "[ \"\$($PSQL -c \"SELECT q.name || ' ' || coalesce(i.error, '-') FROM inbound_mail i JOIN tickets t ON t.id = i.ticket_id JOIN queues q ON q.id = t.queue_id WHERE i.id = $ID\")\" = 'support -' ]"
check "with one message, the body intact" bash -c \
    "[ \"\$($PSQL -c \"SELECT count(*) FROM messages WHERE message_id = 'early-1@example.org' AND body_text LIKE 'Is anyone there?%'\")\" = 1 ]"
check "its dead job was requeued, not left behind" bash -c \
    "[ \"\$($PSQL -c \"SELECT count(*) FROM jobs WHERE unique_key = 'ingest:$ID' AND state = 'dead'\")\" = 0 ]"
check "an agent puts the second one back through ingest from the API (202)" bash -c "[ \$(api '$AGENT' POST /inbound/$ID2/reprocess) = 202 ]"
check "... it becomes a ticket" wait_until 20 bash -c "[ \"\$($PSQL -c 'SELECT state FROM inbound_mail WHERE id = $ID2')\" = ingested ]"
check "... and the reprocess is audited" bash -c "[ \"\$($PSQL -c \"SELECT count(*) FROM audit_log WHERE action = 'inbound.reprocess' AND target = 'inbound:$ID2'\")\" = 1 ]"
check "nothing is failed any more" bash -c "[ -z \"\$($CTL inbound list --failed | grep -E '^[0-9]+ ')\" ]"
"$CTL" reprocess "$ID" >/dev/null
check "reprocessing an ingested mail ingests it again" wait_until 20 bash -c \
    "[ \"\$($PSQL -c 'SELECT state FROM inbound_mail WHERE id = $ID')\" = ingested ]"
check "... rewriting it in place: still one message, one ticket" bash -c \
    "[ \"\$($PSQL -c \"SELECT count(*) FROM messages WHERE message_id = 'early-1@example.org'\")\" = 1 ] &&
     [ \"\$($PSQL -c 'SELECT count(*) FROM tickets')\" = 2 ]"
check "atumd stops cleanly" atumd_stop
finish
