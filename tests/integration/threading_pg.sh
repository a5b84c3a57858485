#!/bin/bash
# threading_pg.sh -- which ticket a mail joins, through the real ingest
# path (atumctl inject and SMTP into atumd, then mail.ingest):
#  - a reply token in the recipient (support+t<N>.<mac>@...), in the
#    envelope or only in To; forged, truncated or borrowed MACs are never
#    trusted;
#  - the [#N] subject tag, from the requester, a previous writer and
#    staff writing to the ticket's queue, but not from a stranger;
#  - In-Reply-To / References;
#  - the order: token, then tag, then references, then a new ticket;
#  - unknown senders become customers, joining an organisation by their
#    domain when mail.org_by_domain is on.
# The token is computed from the documented scheme (tests/lib.sh,
# reply_token).
set -u
. "$ATUM_SRCDIR/tests/lib.sh"
T=$ATUM_TEST_TMP
PSQL="psql -X -q -t -A -d $ATUM_TEST_DATABASE_URL"
CTL=$ATUM_BUILDDIR/atumctl
port_take WEBPORT
port_take SMTPPORT
SECRET=threading-test-secret-0123456789abcdef

conf() {   # conf ORG_BY_DOMAIN
    cat >"$T/atum.conf" <<CONF
[core]
database_url = $ATUM_TEST_DATABASE_URL
secret_key = $SECRET
workers = 2
[web]
listen = 127.0.0.1:$WEBPORT
[mail]
org_by_domain = $1
[smtp]
listen = 127.0.0.1:$SMTPPORT
[imap]
enabled = no
CONF
}
conf yes
export ATUM_CONFIG=$T/atum.conf
"$CTL" migrate >/dev/null
"$CTL" queue add support support@example.com >/dev/null
"$CTL" user add agent@example.com --name Agent --role agent --no-password >/dev/null
$PSQL -c "INSERT INTO orgs (name, domain) VALUES ('Acme', 'acme.example')" >/dev/null
atumd_start "$T/atum.conf" "$T/atumd.log" || { cat "$T/atumd.log"; exit 1; }

token() { reply_token "$1" "${2:-$SECRET}"; }   # token TICKET [SECRET]

echo 0 >"$T/n"               # mail counter (deliver runs in subshells)
# deliver ENVELOPE_TO FROM SUBJECT [HEADER...]: injects a mail (To: the
# envelope recipient unless a To: header is given), waits for its ingest
# and prints "INBOUND_ID TICKET_ID"
deliver() {
    local rcpt=$1 from=$2 subject=$3 N; shift 3
    N=$(( $(cat "$T/n") + 1 )); echo "$N" >"$T/n"
    {
        printf 'From: %s\r\nSubject: %s\r\nMessage-ID: <thr-%d@test.example>\r\n' "$from" "$subject" "$N"
        printf '%s\n' "$@" | grep -qi '^To:' || printf 'To: %s\r\n' "$rcpt"
        for h in "$@"; do printf '%s\r\n' "$h"; done
        printf '\r\nmail %d\r\n' "$N"
    } >"$T/m$N.eml"
    ingest_mail "$T/m$N.eml" --from "$from" --to "$rcpt"
}
ticket_of() { deliver "$@" | cut -d' ' -f2; }
# joins EXPECTED_TICKET METHOD deliver-args...: the mail joined that ticket,
# and ingest says it was by that rule (token, subject, references)
joins() {
    local want=$1 method=$2; shift 2
    local out id got
    out=$(deliver "$@") || { echo "$out"; return 1; }
    id=${out% *}; got=${out#* }
    [ "$got" = "$want" ] || { echo "inbound $id joined ticket $got, not $want"; return 1; }
    grep -q "event=ingest.done inbound=$id ticket=$want .*by=$method" "$T/atumd.log" ||
        { echo "inbound $id: not threaded by $method:"; grep "inbound=$id " "$T/atumd.log"; return 1; }
}
# new_ticket deliver-args...: the mail opened a ticket of its own
new_ticket() {
    local out id got
    out=$(deliver "$@") || { echo "$out"; return 1; }
    id=${out% *}; got=${out#* }
    grep -q "event=ingest.done inbound=$id ticket=$got .*new=1 by=new" "$T/atumd.log" ||
        { echo "inbound $id joined an existing ticket $got:"; grep "inbound=$id " "$T/atumd.log"; return 1; }
}
S=support@example.com
message_in() { [ "$($PSQL -c "SELECT ticket_id FROM messages WHERE message_id = '$1'")" = "$2" ]; }
is_duplicate() { [ "$($PSQL -c "SELECT duplicate FROM inbound_mail WHERE id = $1")" = t ]; }

T1=$(ticket_of $S 'Alice <alice@example.org>' 'printer on fire')
T2=$(ticket_of $S 'Dave <dave@example.net>' 'scanner is cold')
check "two new mails make two tickets" bash -c "[ -n '$T1' ] && [ -n '$T2' ] && [ '$T1' != '$T2' ]"
M1=thr-1@test.example
M2=thr-2@test.example
TOK1=$(token "$T1")
TOK2=$(token "$T2")

# ---- 1. the reply token
check "a valid token in the envelope recipient threads (even from another sender)" \
    joins "$T1" token "support+$TOK1@example.com" 'Bob <bob@partner.example>' 'unrelated subject'
check "a valid token only in the To header threads (IMAP mail has no envelope)" \
    joins "$T1" token $S 'alice@example.org' 'no tag here' "To: Support <support+$TOK1@example.com>"
check "a valid token in Cc threads" \
    joins "$T2" token $S 'dave@example.net' 'cc' "To: someone@else.example" "Cc: support+$TOK2@example.com"
check "the token survives an upper-case address" \
    joins "$T1" token "SUPPORT+$TOK1@EXAMPLE.COM" 'alice@example.org' 'shouting'
swaks -s 127.0.0.1:$SMTPPORT -t "support+$TOK1@example.com" -f carol@example.org \
    --header 'Subject: over smtp' --header 'Message-Id: <thr-smtp@test.example>' >"$T/swaks.out" 2>&1
check "SMTP accepts the token address" grep -q 'queued as' "$T/swaks.out"
check "... and that mail threads by it" wait_until 20 message_in thr-smtp@test.example "$T1"
check "a forged MAC is not trusted: new ticket" \
    new_ticket "support+t$T1.aaaaaaaaaaaa@example.com" 'mallory@evil.example' 'forged'
check "... and ingest logs the forgery" grep -q "event=ingest.token_invalid.*from=mallory@evil.example" "$T/atumd.log"
check "another ticket's MAC with this number is not trusted" \
    new_ticket "support+t$T1.${TOK2#*.}@example.com" 'mallory@evil.example' 'borrowed'
check "a truncated MAC is not trusted" \
    new_ticket "support+${TOK1%?}@example.com" 'mallory@evil.example' 'truncated'
check "a MAC made with another secret is not trusted" \
    new_ticket "support+$(token "$T1" other-secret)@example.com" 'mallory@evil.example' 'other secret'

# ---- 2. the [#N] tag
check "[#N] from the requester threads" joins "$T1" subject $S 'alice@example.org' "Re: [#$T1] printer"
check "[#N] from a stranger does not: new ticket" new_ticket $S 'mallory@evil.example' "Re: [#$T1] let me in"
check "[#N] from someone who wrote on the ticket before threads" \
    joins "$T1" subject $S 'bob@partner.example' "[#$T1] bob again"
check "[#N] from staff threads" joins "$T2" subject $S 'agent@example.com' "Re: [#$T2] note"
check "[#N] of a ticket that does not exist: new ticket" new_ticket $S 'alice@example.org' '[#999999] nope'

# ---- 3. In-Reply-To / References
check "In-Reply-To a stored Message-ID threads (any sender)" \
    joins "$T1" references $S 'carol@example.org' 'no tag' "In-Reply-To: <$M1>"
check "References with one known id among unknown ones threads" \
    joins "$T2" references $S 'erin@example.org' 'refs' "References: <unknown-1@x.example> <$M2> <unknown-2@x.example>"
check "only unknown references: new ticket" \
    new_ticket $S 'erin@example.org' 'refs unknown' "References: <unknown-3@x.example>" "In-Reply-To: <unknown-3@x.example>"

# ---- 4. the order
check "token beats tag and references" \
    joins "$T2" token "support+$TOK2@example.com" 'alice@example.org' "Re: [#$T1] x" "In-Reply-To: <$M1>"
check "a forged token is skipped: the tag decides" \
    joins "$T1" subject "support+t$T2.bbbbbbbbbbbb@example.com" 'alice@example.org' "Re: [#$T1] y" "In-Reply-To: <$M2>"
check "tag beats references" joins "$T1" subject $S 'alice@example.org' "Re: [#$T1] z" "In-Reply-To: <$M2>"
check "a stranger's tag is skipped: references decide" \
    joins "$T2" references $S 'mallory@evil.example' "Re: [#$T1] w" "In-Reply-To: <$M2>"
check "a valid token for a ticket that does not exist is skipped: references decide" \
    joins "$T2" references "support+$(token 999999)@example.com" 'alice@example.org' 'gone' "References: <$M2>"
dup=$("$CTL" inject --to $S <"$T/m1.eml")
check "the same Message-ID twice is recognised as a duplicate" wait_until 20 is_duplicate "$dup"
check "... and makes one message" bash -c "[ \"\$($PSQL -c \"SELECT count(*) FROM messages WHERE message_id = '$M1'\")\" = 1 ]"

# ---- 5. who the sender is: customers and organisations by domain
acme=$($PSQL -c "SELECT id FROM orgs WHERE name = 'Acme'")
TA=$(ticket_of $S 'Wile <wile@ACME.example>' 'anvil')
check "an unknown sender becomes a customer" bash -c \
    "[ \"\$($PSQL -c \"SELECT role FROM users WHERE lower(email) = 'wile@acme.example'\")\" = customer ]"
check "org_by_domain: the customer joins the organisation of the domain (any case)" bash -c \
    "[ \"\$($PSQL -c \"SELECT org_id FROM users WHERE lower(email) = 'wile@acme.example'\")\" = $acme ]"
check "... and so does the ticket" bash -c "[ \"\$($PSQL -c \"SELECT org_id FROM tickets WHERE id = $TA\")\" = $acme ]"
check "a sender from another domain joins no organisation" bash -c \
    "[ -z \"\$($PSQL -c \"SELECT org_id FROM users WHERE email = 'dave@example.net'\")\" ]"
check "a subdomain is not the domain" bash -c "
    t=\$(deliver $S 'road@runner.acme.example' 'beep' | cut -d' ' -f2) &&
    [ -z \"\$($PSQL -c \"SELECT org_id FROM tickets WHERE id = \$t\")\" ]"
atumd_stop
conf no
atumd_start "$T/atum.conf" "$T/atumd.log" || { cat "$T/atumd.log"; exit 1; }
TB=$(ticket_of $S 'coyote@acme.example' 'rocket skates')
check "with org_by_domain = no a new customer of that domain joins no organisation" bash -c \
    "[ -n '$TB' ] && [ -z \"\$($PSQL -c \"SELECT org_id FROM users WHERE email = 'coyote@acme.example'\")\" ] &&
     [ -z \"\$($PSQL -c \"SELECT org_id FROM tickets WHERE id = $TB\")\" ]"
check "no ingest job failed" bash -c "[ \"\$($PSQL -c \"SELECT count(*) FROM jobs WHERE state = 'dead'\")\" = 0 ]"
check "atumd stops cleanly" atumd_stop
finish
