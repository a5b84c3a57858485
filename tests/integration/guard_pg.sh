#!/bin/bash
# guard_pg.sh -- the stale-send guard on every write that changes a ticket
# besides replies and PATCH (those: live_pg.sh): applying a macro, merging
# (both tickets' versions), linking and unlinking, and bulk changes, notes
# and merges with a version per ticket -- against a real atumd and
# PostgreSQL.  A fresh version applies, a stale one answers 409 with what
# changed and changes nothing (tickets, messages, links and audit rows read
# back from the database), no version applies as before; bad versions are
# 400.  Each scenario is tests/integration/guard_check.py NAME.
set -u
. "$ATUM_SRCDIR/tests/lib.sh"
B=$ATUM_BUILDDIR
T=$ATUM_TEST_TMP
PSQL="psql -X -q -t -A -d $ATUM_TEST_DATABASE_URL"
trap 'atumd_stop' EXIT

export GUARD_PW='guard test correct horse' GUARD_SECRET=guard-test-secret-0123456789abcdef0123456789
cat >"$T/atum.conf" <<CONF
[core]
database_url = $ATUM_TEST_DATABASE_URL
secret_key = $GUARD_SECRET
workers = 1
[web]
listen = 127.0.0.1:0
[queue]
poll_interval = 200ms
[imap]
enabled = no
CONF
export ATUM_CONFIG=$T/atum.conf
CTL=$B/atumctl
setup() {
    "$CTL" migrate >/dev/null &&
    "$CTL" queue add support support@example.com >/dev/null &&
    "$CTL" queue add billing billing@example.com >/dev/null || return 1
    for u in agent@example.com:agent agent2@example.com:agent other@example.com:agent \
             manager@example.com:manager customer@example.org:customer; do
        echo "$GUARD_PW" | "$CTL" user add "${u%%:*}" --role "${u##*:}" --password-stdin >/dev/null || return 1
    done
    "$CTL" queue member support agent@example.com >/dev/null &&
    "$CTL" queue member support agent2@example.com >/dev/null &&
    "$CTL" queue member billing other@example.com >/dev/null
}
check "the test world: two queues, agents, a manager, a customer" setup
check "atumd starts" atumd_start_port0 "$T/atum.conf" "$T/atumd.log"
export WEBPORT
GUARD_QUEUE=$($PSQL -c "SELECT id FROM queues WHERE name = 'support'")
GUARD_CUSTOMER_ID=$($PSQL -c "SELECT id FROM users WHERE email = 'customer@example.org'")
TOKEN=$("$CTL" token add manager@example.com --name guard | tail -n 1)
api() { curl -sf -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' -X "$1" "http://127.0.0.1:$WEBPORT/api/v1$2" -d "$3"; }
GUARD_MACRO=$(api POST /macros '{"title": "Escalate", "body": "We are on it.", "visibility": "public", "actions": {"status": "pending", "priority": "high"}}' |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
BILLING=$($PSQL -c "SELECT id FROM queues WHERE name = 'billing'")
GUARD_FOREIGN=$(api POST /tickets "{\"subject\": \"billing only\", \"body\": \"x\", \"queue_id\": $BILLING, \"requester_id\": $GUARD_CUSTOMER_ID}" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
export GUARD_QUEUE GUARD_CUSTOMER_ID GUARD_MACRO GUARD_FOREIGN
GC="/usr/bin/python3 $ATUM_SRCDIR/tests/integration/guard_check.py"
check "a macro: fresh If-Match applies, stale is 409 with what changed and nothing done, none applies, bad is 400" $GC macro
check "a merge: both versions; source or target stale is 409 (into for both), nothing merged; fresh and none merge" $GC merge
check "link and unlink: stale is 409 and the links stay as they were; fresh and none apply; a link moves no version" $GC link
check "bulk changes, notes and merges: the stale tickets skipped with what changed, the others done; bad versions 400" $GC bulk
check "list rows carry the version the ticket's ETag names" $GC list
# mail-in links a follow-up to the closed ticket it answers, with no version
mail_follow_up() {
    local tid tok out new
    tid=$(api POST /tickets "{\"subject\": \"closed then answered\", \"body\": \"x\", \"queue_id\": $GUARD_QUEUE, \"requester_id\": $GUARD_CUSTOMER_ID}" |
        python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])') || return 1
    api PATCH "/tickets/$tid" '{"status": "closed"}' >/dev/null || return 1
    tok=$(reply_token "$tid" "$GUARD_SECRET")
    printf '%s\r\n' 'From: customer@example.org' "To: support+$tok@example.com" 'Subject: Re: closed then answered' \
        'Message-ID: <guard-follow-up@example.org>' '' 'One more thing.' >"$T/follow.eml"
    out=$(ingest_mail "$T/follow.eml" --from customer@example.org --to "support+$tok@example.com") || return 1
    new=${out#* }
    echo "closed $tid, follow-up $new"
    [ -n "$new" ] && [ "$new" != "$tid" ] &&
    [ "$($PSQL -c "SELECT count(*) FROM ticket_links WHERE $tid IN (ticket_a, ticket_b) AND $new IN (ticket_a, ticket_b)")" = 1 ]
}
check "mail-in is unaffected: a reply to a closed ticket opens a follow-up linked to it" mail_follow_up
check "no error in the log" bash -c "! grep -E 'level=error|AddressSanitizer|runtime error' '$T/atumd.log'"
check "atumd stops cleanly" atumd_stop
finish
