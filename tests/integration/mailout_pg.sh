#!/bin/bash
# mailout_pg.sh -- outgoing mail end to end, against a real SMTP server as
# smarthost (tests/smtpsink.py, aiosmtpd) that stores what it gets:
# acknowledgements, agent notifications, agent replies by mail and by the
# API, threading headers and MIME form, the customer's answer landing on
# the same ticket, note marker, spoofed agent replies, retries (4xx, the
# smarthost down), permanent failures (5xx, bounces), an auto-responder
# loop, a worker killed after the message was transmitted, and STARTTLS
# with AUTH and certificate checks.
set -u
. "$ATUM_SRCDIR/tests/lib.sh"
T=$ATUM_TEST_TMP
PY=/usr/bin/python3
MC="$PY $ATUM_SRCDIR/tests/mailcheck.py"
TOOL="$PY $ATUM_SRCDIR/tests/smtptool.py"
PSQL="psql -X -q -t -A -d $ATUM_TEST_DATABASE_URL"
CTL=$ATUM_BUILDDIR/atumctl
SECRET=test-secret-for-mail-out-0123456789
port_take WEBPORT
port_take SMTPPORT
port_take SINKPORT
port_take TLSPORT
SINK=$T/sink
CONTROL=$T/control.json
echo '{}' >"$CONTROL"
make_cert "$T"
# a certificate for another host name, signed by nobody we trust
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=other.test" \
    -addext "subjectAltName=DNS:other.test" -keyout "$T/other-key.pem" -out "$T/other.pem" >/dev/null 2>&1

conf() {   # conf SMARTHOST_LINES...
    cat >"$T/atum.conf" <<CONF
[core]
database_url = $ATUM_TEST_DATABASE_URL
secret_key = $SECRET
workers = 3
public_url = https://desk.example.com
plugin_dir = $ATUM_TEST_PLUGIN_DIR
[web]
listen = 127.0.0.1:$WEBPORT
[smtp]
listen = 127.0.0.1:$SMTPPORT
hostname = mx.test
[imap]
enabled = no
[plugin.noticeplug]
[mail]
ack_limit = 3
ack_window = 1h
[smarthost]
helo = atum.test
timeout = 10s
retry_min = 1s
retry_max = 2s
CONF
    printf '%s\n' "$@" >>"$T/atum.conf"
}
conf "url = smtp://127.0.0.1:$SINKPORT" "starttls = no"
export ATUM_CONFIG=$T/atum.conf
"$CTL" migrate >/dev/null
"$CTL" queue add Support support@example.com >/dev/null
printf 'agent-password-1\n' | "$CTL" user add ann@example.com --name "Ann Agent" --role agent --password-stdin >/dev/null
printf 'agent-password-2\n' | "$CTL" user add bob@example.com --name "Bob Other" --role agent --password-stdin >/dev/null
"$CTL" queue member Support ann@example.com >/dev/null
ANN=$($PSQL -c "SELECT id FROM users WHERE email = 'ann@example.com'")
TOKEN=$("$CTL" token add ann@example.com --name test | grep -o 'atum_[A-Za-z0-9_-]*' | head -n 1)
printf 'manager-password\n' | "$CTL" user add mia@example.com --name "Mia Manager" --role manager --password-stdin >/dev/null
MGR_TOKEN=$("$CTL" token add mia@example.com --name test | grep -o 'atum_[A-Za-z0-9_-]*' | head -n 1)

sink_start() {   # sink_start [extra args]
    $PY "$ATUM_SRCDIR/tests/smtpsink.py" --port "$SINKPORT" --dir "$SINK" --control "$CONTROL" \
        "$@" >>"$T/sink.log" 2>&1 &
    SINK_PID=$!
    wait_until 10 bash -c "exec 3<>/dev/tcp/127.0.0.1/$SINKPORT"
}
sink_stop() { kill "$SINK_PID" 2>/dev/null; wait "$SINK_PID" 2>/dev/null; }
control() { echo "$1" >"$CONTROL"; }
# SIGHUP, then wait until atumd says it reloaded
reload_atumd() {
    local n
    n=$(grep -c 'event=reload.done' "$T/atumd.log")
    kill -HUP "$ATUMD_PID"
    wait_until 10 bash -c "[ \$(grep -c 'event=reload.done' '$T/atumd.log') -gt $n ]"
}
# no mail work is waiting or running (what "nothing was sent" waits for)
drained() {
    [ "$($PSQL -c "SELECT count(*) FROM jobs WHERE kind IN ('mail.ingest', 'mail.compose', 'mail.send')
                    AND state IN ('available', 'running') AND run_at < now() + interval '30 seconds'")" = 0 ]
}
count() { $MC count "$SINK" "$@"; }
q() { $PSQL -c "$1"; }
api() {   # api METHOD PATH [JSON]
    curl -s -X "$1" -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
        ${3:+--data "$3"} "http://127.0.0.1:$WEBPORT$2"
}
export PSQL TOKEN MGR_TOKEN WEBPORT MC SINK
export -f q api drained
send() {   # send FILE RCPT
    $TOOL send "$SMTPPORT" "$2" "$1" >/dev/null
}
# a reply token as atumd makes it (mail/token.h)
mktoken() {   # mktoken TICKET [USER DAY]
    $PY - "$SECRET" "$@" <<'PY'
import base64, hashlib, hmac, sys
secret, ticket = sys.argv[1], sys.argv[2]
if len(sys.argv) > 3:
    msg = "atum-reply:%s:a%s:d%s" % (ticket, sys.argv[3], sys.argv[4])
    head = "t%sa%sd%s" % (ticket, sys.argv[3], sys.argv[4])
else:
    msg, head = "atum-reply:%s" % ticket, "t%s" % ticket
mac = base64.b32encode(hmac.new(secret.encode(), msg.encode(), hashlib.sha256).digest()).decode().lower()[:12]
print("%s.%s" % (head, mac))
PY
}

sink_start
atumd_start "$T/atum.conf" "$T/atumd.log" || { cat "$T/atumd.log"; exit 1; }

# ---- a customer writes: acknowledgement and agent notification -------------
cat >"$T/c1.eml" <<'EOF'
From: Carla Customer <carla@customer.example>
To: support@example.com
Subject: =?UTF-8?Q?Dr=C3=BCcker_brennt?= -- my printer is on fire
Message-ID: <c1@customer.example>
Date: Tue, 01 Dec 2026 10:00:00 +0000

It burns. Please help.
EOF
send "$T/c1.eml" support@example.com
check "the customer's mail is acknowledged at the smarthost" \
    wait_until 15 bash -c "[ \$($MC count $SINK --to carla@customer.example) = 1 ]"
ACK=$($MC find "$SINK" --to carla@customer.example)
TICKET=$(q "SELECT ticket_id FROM messages WHERE message_id = 'c1@customer.example'")
check "acknowledgement: subject tagged [#N] with the decoded subject" bash -c \
    "$MC header $ACK Subject | grep -qF '[#$TICKET] Drücker brennt -- my printer is on fire'"
check "acknowledgement: Auto-Submitted: auto-replied" bash -c "[ \"\$($MC header $ACK Auto-Submitted)\" = auto-replied ]"
check "acknowledgement: threaded under the customer's mail" bash -c \
    "[ \"\$($MC header $ACK In-Reply-To)\" = '<c1@customer.example>' ] && $MC header $ACK References | grep -qF '<c1@customer.example>'"
check "acknowledgement: Reply-To carries the ticket's reply token" bash -c \
    "[ \"\$($MC token $ACK)\" = \"$(mktoken "$TICKET")\" ]"
check "acknowledgement: From the queue, Message-ID on our domain" bash -c \
    "$MC header $ACK From | grep -qF '<support@example.com>' && $MC header $ACK Message-ID | grep -q '@example.com>\$'"
check "acknowledgement: CRLF, lines within 78, text + HTML alternatives" $MC format "$ACK"
check "acknowledgement: names the ticket and links the portal" bash -c \
    "$MC text $ACK | grep -qF '#$TICKET' && $MC text $ACK | grep -qF 'https://desk.example.com/portal/tickets/$TICKET'"
check "acknowledgement: the envelope sender is the queue address (bounces come back)" bash -c \
    "grep -q '\"mail_from\": \"support@example.com\"' ${ACK%.eml}.json"
check "the queue's agent is notified of the new ticket" \
    wait_until 10 bash -c "[ \$($MC count $SINK --to ann@example.com --subject 'New ticket') = 1 ]"
NOTE1=$($MC find "$SINK" --to ann@example.com --subject 'New ticket')
check "notification: carries the customer's text and the desk link" bash -c \
    "$MC text $NOTE1 | grep -qF 'It burns' && $MC text $NOTE1 | grep -qF 'https://desk.example.com/desk/tickets/$TICKET'"
check "notification: Reply-To token bound to that agent and the ticket version it shows (and not the customer's)" bash -c \
    "$MC token $NOTE1 | grep -qE '^t${TICKET}a${ANN}d[0-9]+v[0-9]+\\.[a-z2-7]{12}\$'"
check "notification: the HTML part escapes the customer's text" bash -c \
    "$MC html $NOTE1 | grep -q 'It burns'"
check "bob (not in the queue) is not notified" bash -c "[ \$($MC count $SINK --to bob@example.com) = 0 ]"
check "outbound mails are recorded as sent" bash -c \
    "[ \"\$(q \"SELECT count(*) FROM outbound_mail WHERE ticket_id = $TICKET AND state = 'sent'\")\" = 2 ]"

# ---- the agent answers the notification by mail ---------------------------
AGENT_TOKEN=$($MC token "$NOTE1")
NOTE1_ID=$($MC header "$NOTE1" Message-ID)
cat >"$T/a1.eml" <<EOF
From: Ann Agent <ann@example.com>
To: support+$AGENT_TOKEN@example.com
Subject: Re: [#$TICKET] New ticket
Message-ID: <a1@example.com>
In-Reply-To: $NOTE1_ID

Have you tried turning it off and on again?

On Tue, Support wrote:
> A new ticket arrived in Support
> It burns. Please help.
EOF
send "$T/a1.eml" "support+$AGENT_TOKEN@example.com"
check "the agent's mail becomes their public reply" wait_until 10 bash -c \
    "[ \"\$(q \"SELECT direction || ':' || visibility || ':' || author_id FROM messages WHERE message_id = 'a1@example.com'\")\" = out:public:$ANN ]"
check "the reply is stored without the quoted notification" bash -c \
    "[ \"\$(q \"SELECT body_text FROM messages WHERE message_id = 'a1@example.com'\")\" = 'Have you tried turning it off and on again?' ]"
check "the reply is mailed to the customer" wait_until 10 bash -c \
    "[ \$($MC count $SINK --to carla@customer.example) = 2 ]"
R1=$($MC find "$SINK" --to carla@customer.example --last)
check "customer's copy: Re: [#N] subject" bash -c "$MC header $R1 Subject | grep -qF 'Re: [#$TICKET] Drücker brennt'"
check "customer's copy: In-Reply-To the customer's last message" bash -c \
    "[ \"\$($MC header $R1 In-Reply-To)\" = '<c1@customer.example>' ]"
check "customer's copy: the reply text, not the quote, not the agent's token" bash -c \
    "$MC text $R1 | grep -qF 'turning it off and on' && ! grep -qF 'It burns' $R1 && ! grep -qiF '$AGENT_TOKEN' $R1"
check "customer's copy: Reply-To is the customer's token, not the agent's" bash -c \
    "[ \"\$($MC token $R1)\" = \"$(mktoken "$TICKET")\" ]"
check "customer's copy: no Auto-Submitted (a person wrote it)" bash -c "! $MC header $R1 Auto-Submitted"
check "customer's copy: well-formed" $MC format "$R1"
check "the reply by mail is in the audit log as the agent's" bash -c \
    "[ \"\$(q \"SELECT count(*) FROM audit_log WHERE actor_id = $ANN AND action = 'ticket.reply' AND target = 'ticket:$TICKET'\")\" = 1 ]"

# ---- the customer answers that mail: same ticket, solved ticket reopens ----
q "UPDATE tickets SET status = 'solved', solved_at = now() WHERE id = $TICKET"
R1_ID=$($MC header "$R1" Message-ID)
cat >"$T/c2.eml" <<EOF
From: carla@customer.example
To: support+$(mktoken "$TICKET")@example.com
Subject: Re: [#$TICKET] Drücker brennt
Message-ID: <c2@customer.example>
In-Reply-To: $R1_ID
References: <c1@customer.example> $R1_ID
Content-Type: text/plain; charset=utf-8

Still burning, and now it smells.
EOF
send "$T/c2.eml" "support+$(mktoken "$TICKET")@example.com"
check "the customer's answer lands on the same ticket" wait_until 10 bash -c \
    "[ \"\$(q \"SELECT ticket_id FROM messages WHERE message_id = 'c2@customer.example'\")\" = $TICKET ]"
check "and reopens the solved ticket" bash -c "[ \"\$(q \"SELECT status FROM tickets WHERE id = $TICKET\")\" = open ]"
check "the agent hears of the customer's reply" wait_until 10 bash -c \
    "[ \$($MC count $SINK --to ann@example.com --subject 'New reply') = 1 ]"
check "no second acknowledgement for a reply" bash -c \
    "[ \$($MC count $SINK --to carla@customer.example --subject 'Drücker') = 2 ]"
# threading by References alone (no token, no tag): our Message-ID is enough
cat >"$T/c3.eml" <<EOF
From: carla@customer.example
To: support@example.com
Subject: one more thing
Message-ID: <c3@customer.example>
In-Reply-To: $R1_ID

And the paper tray is melting.
EOF
send "$T/c3.eml" support@example.com
check "a reply found only by In-Reply-To to our mail joins the ticket" wait_until 10 bash -c \
    "[ \"\$(q \"SELECT ticket_id FROM messages WHERE message_id = 'c3@customer.example'\")\" = $TICKET ]"

# ---- the note marker ---------------------------------------------------
CUST_BEFORE=$(count --to carla@customer.example)
cat >"$T/a2.eml" <<EOF
From: ann@example.com
To: support+$AGENT_TOKEN@example.com
Subject: Re: [#$TICKET] New reply
Message-ID: <a2@example.com>

#note
Called the fire brigade; do not tell the customer yet.
EOF
send "$T/a2.eml" "support+$AGENT_TOKEN@example.com"
check "a reply starting with #note becomes an internal note" wait_until 10 bash -c \
    "[ \"\$(q \"SELECT visibility || ':' || body_text FROM messages WHERE message_id = 'a2@example.com'\")\" = 'internal:Called the fire brigade; do not tell the customer yet.' ]"

# ---- spoofed agent replies are never trusted ---------------------------
cat >"$T/s1.eml" <<EOF
From: Ann Agent <mallory@evil.example>
To: support+$AGENT_TOKEN@example.com
Subject: Re: [#$TICKET]
Message-ID: <s1@evil.example>

Please send your password to mallory@evil.example.
EOF
send "$T/s1.eml" "support+$AGENT_TOKEN@example.com"
check "right token, wrong From: stored as a customer message, flagged" wait_until 10 bash -c \
    "[ \"\$(q \"SELECT direction || ':' || (problems::text LIKE '%agent reply token refused%') FROM messages WHERE message_id = 's1@evil.example'\")\" = in:true ]"
BAD="${AGENT_TOKEN%.*}.zzzzzzzzzzzz"
cat >"$T/s2.eml" <<EOF
From: ann@example.com
To: support+$BAD@example.com
Subject: Re: [#$TICKET] forged
Message-ID: <s2@example.com>

This token was forged.
EOF
send "$T/s2.eml" "support+$BAD@example.com"
check "right From, forged token: not posted as the agent's reply" wait_until 10 bash -c \
    "[ \"\$(q \"SELECT direction FROM messages WHERE message_id = 's2@example.com'\")\" = in ]"
BOBID=$($PSQL -c "SELECT id FROM users WHERE email = 'bob@example.com'")
OLDTOK=$(mktoken "$TICKET" "$ANN" "$(( $(date +%s) / 86400 - 200 ))")
cat >"$T/s3.eml" <<EOF
From: ann@example.com
To: support+$OLDTOK@example.com
Subject: Re: old
Message-ID: <s3@example.com>

A reply to a notification from months ago.
EOF
send "$T/s3.eml" "support+$OLDTOK@example.com"
check "an expired agent token: not posted as a reply, flagged" wait_until 10 bash -c \
    "[ \"\$(q \"SELECT direction || ':' || (problems::text LIKE '%expired%') FROM messages WHERE message_id = 's3@example.com'\")\" = in:true ]"
BOBTOK=$(mktoken "$TICKET" "$BOBID" "$(( $(date +%s) / 86400 ))")
cat >"$T/s4.eml" <<EOF
From: bob@example.com
To: support+$BOBTOK@example.com
Subject: Re: not my queue
Message-ID: <s4@example.com>

Bob is no member of this queue.
EOF
send "$T/s4.eml" "support+$BOBTOK@example.com"
check "a valid token of an agent outside the ticket's queue: refused" wait_until 10 bash -c \
    "[ \"\$(q \"SELECT direction || ':' || (problems::text LIKE '%member%') FROM messages WHERE message_id = 's4@example.com'\")\" = in:true ]"
cat >"$T/ooo-agent.eml" <<EOF
From: ann@example.com
To: support+$AGENT_TOKEN@example.com
Subject: Automatic reply: [#$TICKET] New ticket
Message-ID: <ooo-ann@example.com>
Auto-Submitted: auto-replied

I am out of the office until Monday.
EOF
send "$T/ooo-agent.eml" "support+$AGENT_TOKEN@example.com"
check "the agent's out-of-office answering a notification is not posted to the customer" wait_until 10 bash -c \
    "[ \"\$(q \"SELECT direction || ':' || (problems::text LIKE '%automatic mail%') FROM messages WHERE message_id = 'ooo-ann@example.com'\")\" = in:true ]"
check "nothing of the note or the spoofs reached the customer" bash -c \
    "wait_until 20 drained; [ \$($MC count $SINK --to carla@customer.example) = $CUST_BEFORE ]"
check "the refusals are logged" bash -c "[ \$(grep -c 'event=ingest.agent_token_refused' $T/atumd.log) -ge 3 ]"

# ---- a reply from the API, its delivery state in the API --------------------
check "API reply is accepted" bash -c "api POST /api/v1/tickets/$TICKET/replies '{\"body\":\"We are sending a technician.\"}' | grep -q '\"direction\"'"
check "the API reply reaches the customer, threaded" wait_until 10 bash -c \
    "f=\$($MC find $SINK --to carla@customer.example --last) && $MC text \$f | grep -qF 'sending a technician' && [ \"\$($MC header \$f In-Reply-To)\" = '<c3@customer.example>' ]"
check "GET /tickets/{id} shows the reply's delivery as sent" wait_until 5 bash -c \
    "api GET /api/v1/tickets/$TICKET | jq -e '[.messages[] | select(.body_text == \"We are sending a technician.\")][0].delivery | .state == \"sent\" and .recipients[0].state == \"sent\" and (.recipients[0].reply | startswith(\"250\"))' >/dev/null"
check "GET /tickets/{id}/mail lists acknowledgement, notifications and replies" bash -c \
    "api GET /api/v1/tickets/$TICKET/mail | jq -e '[.items[].kind] | index(\"ack\") != null and index(\"notify\") != null and index(\"reply\") != null' >/dev/null"

# an inline image: the HTML says cid:..., the API names the attachment
cat >"$T/cid.eml" <<'EOF'
From: carla@customer.example
To: support@example.com
Subject: screenshot
Message-ID: <cid1@customer.example>
MIME-Version: 1.0
Content-Type: multipart/related; boundary="rel"

--rel
Content-Type: text/html; charset=utf-8

<p>See <img src="cid:shot1@customer.example"></p>
--rel
Content-Type: image/png
Content-ID: <shot1@customer.example>
Content-Transfer-Encoding: base64

iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==
--rel--
EOF
send "$T/cid.eml" support@example.com
check "an inline image keeps its cid: in the HTML and its content_id in the API" wait_until 10 bash -c \
    "t=\$(q \"SELECT ticket_id FROM messages WHERE message_id = 'cid1@customer.example'\") && [ -n \"\$t\" ] && api GET /api/v1/tickets/\$t | jq -e '.messages[0] | (.body_html | contains(\"cid:shot1@customer.example\")) and .attachments[0].content_id == \"shot1@customer.example\" and .attachments[0].inline' >/dev/null"

# ---- the agent's name on their reply; operators' view --------------------
check "the customer sees who answered: From \"Ann Agent (Support)\" at the queue address" bash -c \
    "$MC header \$(grep -l 'sending a technician' $SINK/*.eml | head -n 1) From | grep -qE '^\"?Ann Agent \(Support\)\"? <support@example.com>\$'"
check "atumctl outbox list shows the ticket's mail" bash -c \
    "'$CTL' outbox list --ticket $TICKET | grep -q 'reply' && '$CTL' outbox list --ticket $TICKET | grep -q 'ack'"
OB=$(q "SELECT id FROM outbound_mail WHERE kind = 'ack' AND ticket_id = $TICKET")
check "atumctl outbox show: state and each recipient's answer" bash -c \
    "'$CTL' outbox show $OB | grep -q 'to carla@customer.example: sent -- 250'"
check "atumctl outbox show --raw: the bytes that were sent" bash -c \
    "'$CTL' outbox show $OB --raw | tr -d '\r' | grep -q '^Auto-Submitted: auto-replied\$'"
check "atumctl outbox retry refuses a mail that was sent" bash -c \
    "! '$CTL' outbox retry $OB 2>/dev/null && '$CTL' outbox retry $OB 2>&1 | grep -q 'only failed'"

check "an agent who takes a ticket themselves is not mailed about it" bash -c \
    "api PATCH /api/v1/tickets/$TICKET '{\"assignee_id\": $ANN}' | jq -e '.assignee_id == $ANN' >/dev/null && wait_until 20 drained && [ \$($MC count $SINK --to ann@example.com --subject 'Assigned to you') = 0 ]"
check "a manager assigning the ticket to ann mails her" bash -c \
    "api PATCH /api/v1/tickets/$TICKET '{\"assignee_id\": null}' >/dev/null && TOKEN=$MGR_TOKEN api PATCH /api/v1/tickets/$TICKET '{\"assignee_id\": $ANN}' | jq -e '.assignee_id == $ANN' >/dev/null"
check "... a notify_assign mail with the agent's token" wait_until 10 bash -c \
    "f=\$($MC find $SINK --to ann@example.com --subject 'Assigned to you') && $MC token \$f | grep -qE '^t${TICKET}a${ANN}d'"
check "a change that is not an assignment mails nobody" bash -c \
    "TOKEN=$MGR_TOKEN api PATCH /api/v1/tickets/$TICKET '{\"priority\": \"high\"}' >/dev/null; wait_until 20 drained; [ \$($MC count $SINK --to ann@example.com --subject 'Assigned to you') = 1 ]"

# ---- per-queue templates -----------------------------------------------------
cat >"$T/ack.md" <<'EOF'
Subject: [#{{ticket}}] We have your mail: {{subject}}
---
Dear {{customer_name}}, ticket **#{{ticket}}** is open. -- The printer people
EOF
check "atumctl template set installs a queue's acknowledgement" "$CTL" template set Support ack <"$T/ack.md"
printf 'Subject: {{ticket}}\n---\n{{desk_url}}\n' >"$T/bad.md"
check_fails "a template with a variable it cannot have is refused" "$CTL" template set Support ack <"$T/bad.md"
check "atumctl template show --queue prints the override" bash -c \
    "'$CTL' template show ack --queue Support | grep -q 'printer people'"
printf 'From: dora@customer.example\nTo: support@example.com\nSubject: paper jam\nMessage-ID: <d1@customer.example>\n\nJammed.\n' >"$T/d1.eml"
send "$T/d1.eml" support@example.com
check "the next acknowledgement uses the queue's template" wait_until 10 bash -c \
    "f=\$($MC find $SINK --to dora@customer.example) && $MC header \$f Subject | grep -q 'We have your mail: paper jam' && $MC text \$f | grep -q 'printer people'"
check "atumctl template reset goes back to the built-in" bash -c \
    "'$CTL' template reset Support ack && ! '$CTL' template show ack --queue Support | grep -q 'printer people'"

# ---- a plugin mails a notice through the host ---------------------------------
"$CTL" jobs enqueue noticeplug.send "{\"ticket_id\": $TICKET, \"to\": \"ann@example.com\"}" >/dev/null
check "a plugin's notice (host->mail_notice) reaches the agent" wait_until 10 bash -c \
    "[ \$($MC count $SINK --to ann@example.com --subject 'SLA warning <soon>') = 1 ]"
check "the notice: Auto-Submitted, escaped title, the body's text" bash -c \
    "f=\$($MC find $SINK --to ann@example.com --subject 'SLA warning') && [ \"\$($MC header \$f Auto-Submitted)\" = auto-generated ] && $MC html \$f | grep -q 'SLA warning &lt;soon&gt;' && $MC text \$f | grep -q 'First response due'"

# ---- 4xx, then 250: retried, delivered once ---------------------------------
control '{"data": ["451 4.3.0 Try again later"]}'
BEFORE=$(count --to carla@customer.example)
api POST /api/v1/tickets/$TICKET/replies '{"body":"Retry me."}' >/dev/null
check "a 4xx answer defers the mail and records why" wait_until 10 bash -c \
    "q \"SELECT r.state || ' ' || r.reply FROM outbound_mail o JOIN outbound_recipients r ON r.outbound_id = o.id JOIN messages m ON m.id = o.message_id WHERE m.body_text = 'Retry me.'\" | grep -qE '^(deferred 451|sent 250)'"
check "after the retry it is delivered, exactly once" wait_until 15 bash -c \
    "[ \"\$(q \"SELECT o.state || o.attempts FROM outbound_mail o JOIN messages m ON m.id = o.message_id WHERE m.body_text = 'Retry me.'\")\" = sent2 ] && [ \$($MC count $SINK --to carla@customer.example) = $((BEFORE + 1)) ]"

# ---- 5xx: a permanent failure, on the ticket and in the API ------------------
control '{"rcpt": {"carla@customer.example": "550 5.1.1 <carla@customer.example>: mailbox unavailable"}}'
api POST /api/v1/tickets/$TICKET/replies '{"body":"This one bounces at RCPT."}' >/dev/null
check "a 5xx answer is a permanent failure" wait_until 10 bash -c \
    "[ \"\$(q \"SELECT o.state || ':' || o.attempts FROM outbound_mail o JOIN messages m ON m.id = o.message_id WHERE m.body_text = 'This one bounces at RCPT.'\")\" = failed:1 ]"
check "the failure is an internal note on the ticket, with the server's words" bash -c \
    "q \"SELECT body_text FROM messages WHERE ticket_id = $TICKET AND visibility = 'internal'\" | grep -q '550 5.1.1'"
check "the API shows the failed recipient" bash -c \
    "api GET /api/v1/tickets/$TICKET/mail | jq -e '[.items[] | select(.state == \"failed\")][0].recipients[0] | .state == \"failed\" and (.reply | startswith(\"550\"))' >/dev/null"
control '{}'
FAILED=$(q "SELECT o.id FROM outbound_mail o JOIN messages m ON m.id = o.message_id WHERE m.body_text = 'This one bounces at RCPT.'")
check "atumctl outbox list --failed lists it" bash -c "'$CTL' outbox list --failed | grep -qE '^ *$FAILED '"
check "atumctl outbox retry sends a failed mail again once the address works" bash -c \
    "'$CTL' outbox retry $FAILED | grep -q '1 recipient'"
check "... and it is delivered" wait_until 10 bash -c \
    "[ \"\$(q \"SELECT state FROM outbound_mail WHERE id = $FAILED\")\" = sent ]"

# ---- the smarthost is down: backoff, then delivery once it is back -----------
sink_stop
BEFORE=$(count --to carla@customer.example)
api POST /api/v1/tickets/$TICKET/replies '{"body":"Sent while the smarthost was down."}' >/dev/null
check "while the smarthost is down the mail waits, with the reason" wait_until 15 bash -c \
    "q \"SELECT o.state || ' ' || o.attempts || ' ' || o.last_error FROM outbound_mail o JOIN messages m ON m.id = o.message_id WHERE m.body_text = 'Sent while the smarthost was down.'\" | grep -qE '^queued [2-9] .*(onnect|refused)'"
sink_start
check "once it is up the mail is delivered, once" wait_until 15 bash -c \
    "[ \"\$(q \"SELECT o.state FROM outbound_mail o JOIN messages m ON m.id = o.message_id WHERE m.body_text = 'Sent while the smarthost was down.'\")\" = sent ] && [ \$($MC count $SINK --to carla@customer.example) = $((BEFORE + 1)) ]"

# ---- a bounce of our mail marks it failed ----------------------------------
R2_ID=$($MC header "$($MC find "$SINK" --to carla@customer.example --last)" Message-ID)
cat >"$T/dsn.eml" <<EOF
From: Mail Delivery System <MAILER-DAEMON@mx.customer.example>
To: support@example.com
Subject: Undelivered Mail Returned to Sender
Message-ID: <dsn1@mx.customer.example>
Auto-Submitted: auto-replied
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="b1"

--b1
Content-Type: text/plain

Your message could not be delivered.
--b1
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.customer.example

Final-Recipient: rfc822; carla@customer.example
Action: failed
Status: 5.2.2
Diagnostic-Code: smtp; 552 5.2.2 mailbox full

--b1
Content-Type: text/rfc822-headers

From: support@example.com
To: carla@customer.example
Subject: Re: [#$TICKET] Drücker brennt
Message-ID: $R2_ID

--b1--
EOF
TICKETS_BEFORE=$(q "SELECT count(*) FROM tickets")
send "$T/dsn.eml" support@example.com
check "a DSN about our mail marks the recipient bounced" wait_until 10 bash -c \
    "q \"SELECT r.state || ' ' || o.state FROM outbound_recipients r JOIN outbound_mail o ON o.id = r.outbound_id WHERE o.rfc_message_id = '${R2_ID//[<>]/}'\" | grep -qx 'bounced failed'"
check "the bounce is recorded against that outgoing mail" bash -c \
    "[ \"\$(q \"SELECT count(*) FROM mail_bounces b JOIN outbound_mail o ON o.id = b.outbound_id WHERE o.rfc_message_id = '${R2_ID//[<>]/}' AND b.status = '5.2.2'\")\" = 1 ]"
check "the bounce is noted on the ticket and makes no ticket" bash -c \
    "q \"SELECT body_text FROM messages WHERE ticket_id = $TICKET AND visibility = 'internal'\" | grep -q 'mailbox full' && [ \"\$(q 'SELECT count(*) FROM tickets')\" = $TICKETS_BEFORE ]"

# ---- robots: no acknowledgement, and a runaway auto-responder is stopped -----
cat >"$T/auto.eml" <<'EOF'
From: holiday@customer.example
To: support@example.com
Subject: Out of office
Message-ID: <ooo1@customer.example>
Auto-Submitted: auto-replied

I am away.
EOF
send "$T/auto.eml" support@example.com
cat >"$T/list.eml" <<'EOF'
From: announce@lists.example
To: support@example.com
Subject: Newsletter
Message-ID: <list1@lists.example>
List-Id: <announce.lists.example>
Precedence: list

News.
EOF
send "$T/list.eml" support@example.com
check "auto-replies and list mail make tickets ..." wait_until 10 bash -c \
    "[ \"\$(q \"SELECT count(*) FROM messages WHERE message_id IN ('ooo1@customer.example', 'list1@lists.example')\")\" = 2 ]"
check "... but are never acknowledged" bash -c \
    "wait_until 20 drained; [ \$($MC count $SINK --to holiday@customer.example) = 0 ] && [ \$($MC count $SINK --to announce@lists.example) = 0 ]"
control "{\"autorespond\": {\"port\": $SMTPPORT, \"to\": \"support@example.com\", \"from\": \"robot@robot.example\"}}"
cat >"$T/robot.eml" <<'EOF'
From: robot@robot.example
To: support@example.com
Subject: Order confirmation
Message-ID: <robot-start@robot.example>

Thank you for your order.
EOF
send "$T/robot.eml" support@example.com
check "a naive auto-responder gets ack_limit (3) acknowledgements ..." wait_until 20 bash -c \
    "[ \$($MC count $SINK --to robot@robot.example) = 3 ]"
# the robot answers its 3rd acknowledgement too: a 4th ticket, then nothing
robot_tickets() { q "SELECT count(*) FROM tickets t JOIN users u ON u.id = t.requester_id WHERE u.email = 'robot@robot.example'"; }
export -f robot_tickets
check "... and then no more: the loop stops" bash -c \
    "wait_until 20 bash -c '[ \$(robot_tickets) = 4 ] && drained' && [ \$($MC count $SINK --to robot@robot.example) = 3 ]"
check "the limit is logged" grep -q 'event=outbox.ack_limited' "$T/atumd.log"
control '{}'

# ---- a worker dies after transmitting the message: not sent again ----------
control '{"hang": true}'
BEFORE=$(count --to carla@customer.example)
api POST /api/v1/tickets/$TICKET/replies '{"body":"The smarthost never answers the final dot."}' >/dev/null
check "the attempt is marked data_end before the final dot" wait_until 10 bash -c \
    "[ \"\$(q \"SELECT o.stage FROM outbound_mail o JOIN messages m ON m.id = o.message_id WHERE m.body_text = 'The smarthost never answers the final dot.'\")\" = data_end ]"
kill -9 "$ATUMD_PID"; wait "$ATUMD_PID" 2>/dev/null; ATUMD_PID=
control '{}'
# the dead worker's lease runs out (the queue tests show leases expire)
q "UPDATE jobs SET locked_until = now() WHERE kind = 'mail.send' AND state = 'running'"
atumd_start "$T/atum.conf" "$T/atumd.log" || { tail -n 30 "$T/atumd.log"; exit 1; }
check "after the restart it counts as sent, flagged unconfirmed, not sent again" wait_until 20 bash -c \
    "[ \"\$(q \"SELECT o.state || ':' || o.unconfirmed FROM outbound_mail o JOIN messages m ON m.id = o.message_id WHERE m.body_text = 'The smarthost never answers the final dot.'\")\" = sent:true ] && [ \$($MC count $SINK --to carla@customer.example) = $BEFORE ]"
check "and says so in the log" grep -q 'event=outbox.unconfirmed' "$T/atumd.log"
UNC=$(q "SELECT o.id FROM outbound_mail o JOIN messages m ON m.id = o.message_id WHERE m.body_text = 'The smarthost never answers the final dot.'")
check "an operator can send an unconfirmed mail again" bash -c \
    "'$CTL' outbox retry $UNC | grep -q '1 recipient'"
check "... and then it is delivered, confirmed" wait_until 10 bash -c \
    "[ \"\$(q \"SELECT state || ':' || unconfirmed FROM outbound_mail WHERE id = $UNC\")\" = sent:false ] && [ \$($MC count $SINK --to carla@customer.example) = $((BEFORE + 1)) ]"

# ---- STARTTLS, AUTH and certificate checks ----------------------------------
sink_stop
atumd_stop
SINKPORT=$TLSPORT
SINK=$T/sink-tls
sink_start --tls-cert "$T/cert.pem" --tls-key "$T/key.pem" --auth "relay:relay-secret"
conf "url = smtp://127.0.0.1:$TLSPORT" "username = relay" "password = relay-secret"
atumd_start "$T/atum.conf" "$T/atumd.log" || { tail -n 30 "$T/atumd.log"; exit 1; }
api POST /api/v1/tickets/$TICKET/replies '{"body":"Over TLS, please."}' >/dev/null
check "a self-signed smarthost certificate is refused (verification on by default)" wait_until 10 bash -c \
    "q \"SELECT o.state || ' ' || o.last_error FROM outbound_mail o JOIN messages m ON m.id = o.message_id WHERE m.body_text = 'Over TLS, please.'\" | grep -qiE '^queued .*(certificate|SSL|issuer)'"
check "nothing went out in clear" bash -c "[ \$($MC count $SINK) = 0 ]"
conf "url = smtp://127.0.0.1:$TLSPORT" "username = relay" "password = relay-secret" "ca_file = $T/other.pem"
reload_atumd
api POST /api/v1/tickets/$TICKET/replies '{"body":"Wrong CA."}' >/dev/null
check "a certificate from an untrusted CA still is refused" wait_until 15 bash -c \
    "q \"SELECT o.state || ' ' || coalesce(o.last_error, '') FROM outbound_mail o JOIN messages m ON m.id = o.message_id WHERE m.body_text = 'Wrong CA.'\" | grep -qiE '^queued .*(certificate|SSL|issuer)' &&
     [ \$($MC count $SINK) = 0 ]"
conf "url = smtp://127.0.0.1:$TLSPORT" "username = relay" "password = relay-secret" "ca_file = $T/cert.pem"
reload_atumd
check "with the smarthost's CA trusted, the mail goes out over STARTTLS with AUTH" wait_until 15 bash -c \
    "f=\$($MC find $SINK --to carla@customer.example) && grep -q '\"tls\": true' \${f%.eml}.json && grep -q '\"auth\": true' \${f%.eml}.json"
# a trusted CA, but the certificate names another host
sink_stop
sink_start --tls-cert "$T/other.pem" --tls-key "$T/other-key.pem" --auth "relay:relay-secret"
conf "url = smtp://127.0.0.1:$TLSPORT" "username = relay" "password = relay-secret" "ca_file = $T/other.pem"
reload_atumd
BEFORE=$(count)
api POST /api/v1/tickets/$TICKET/replies '{"body":"Host name mismatch."}' >/dev/null
check "a trusted certificate for another host name is refused" wait_until 10 bash -c \
    "q \"SELECT o.state || ' ' || coalesce(o.last_error, '') FROM outbound_mail o JOIN messages m ON m.id = o.message_id WHERE m.body_text = 'Host name mismatch.'\" | grep -qiE '^queued .*(name|host|certificate)'"
check "and nothing was sent for it" bash -c "[ \$($MC count $SINK) = $BEFORE ]"

# implicit TLS (smtps://, port 465 style)
sink_stop
SINK=$T/sink-smtps
sink_start --tls-cert "$T/cert.pem" --tls-key "$T/key.pem" --implicit-tls --auth "relay:relay-secret"
conf "url = smtps://127.0.0.1:$TLSPORT" "username = relay" "password = relay-secret" "ca_file = $T/cert.pem"
reload_atumd
api POST /api/v1/tickets/$TICKET/replies '{"body":"Over implicit TLS."}' >/dev/null
check "smtps:// (implicit TLS) with AUTH delivers" wait_until 15 bash -c \
    "f=\$(grep -l 'Over implicit TLS' $SINK/*.eml) && grep -q '\"auth\": true' \${f%.eml}.json"

# no smarthost: mail sleeps in the outbox; setting one (reload) wakes it
conf "url ="
reload_atumd
api POST /api/v1/tickets/$TICKET/replies '{"body":"Written while no smarthost was set."}' >/dev/null
check "without a smarthost the mail waits, its job asleep" wait_until 10 bash -c \
    "[ \"\$(q \"SELECT count(*) FROM jobs WHERE kind = 'mail.send' AND state = 'available' AND run_at > now() + interval '1 minute'\")\" -ge 1 ]"
conf "url = smtps://127.0.0.1:$TLSPORT" "username = relay" "password = relay-secret" "ca_file = $T/cert.pem"
reload_atumd
check "once a smarthost is set and atumd reloaded, it goes out at once" wait_until 15 bash -c \
    "grep -lq 'Written while no smarthost' $SINK/*.eml"

# a mail that cannot be delivered within retry_for expires: a permanent failure
sink_stop
conf "url = smtp://127.0.0.1:$TLSPORT" "starttls = no" "retry_for = 3s"
reload_atumd
api POST /api/v1/tickets/$TICKET/replies '{"body":"Nobody will ever take this one."}' >/dev/null
check "a mail the smarthost never takes expires after retry_for" wait_until 20 bash -c \
    "[ \"\$(q \"SELECT o.state || ':' || r.state FROM outbound_mail o JOIN outbound_recipients r ON r.outbound_id = o.id JOIN messages m ON m.id = o.message_id WHERE m.body_text = 'Nobody will ever take this one.'\")\" = expired:failed ]"
check "the expiry is noted on the ticket and shown in the API" bash -c \
    "q \"SELECT body_text FROM messages WHERE ticket_id = $TICKET AND visibility = 'internal'\" | grep -q '(expired)' && api GET /api/v1/tickets/$TICKET/mail | jq -e '[.items[] | select(.state == \"expired\")] | length == 1' >/dev/null"
sink_start --tls-cert "$T/cert.pem" --tls-key "$T/key.pem" --implicit-tls --auth "relay:relay-secret"

atumd_stop
sink_stop
check "atumd logged no errors on the way" bash -c "! grep -E 'level=error' $T/atumd.log | grep -v 'job.dead' | grep ."
finish
