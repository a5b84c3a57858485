#!/bin/bash
# smtp_pg.sh -- atumd's SMTP and LMTP listener against real clients (swaks,
# Python's smtplib) and scripted conversations: acceptance only after the
# commit, relay refusal, STARTTLS, pipelining, LMTP per-recipient replies,
# limits, protocol errors, and the database going away (451, retry).
set -u
. "$ATUM_SRCDIR/tests/lib.sh"
T=$ATUM_TEST_TMP
CHAT="/usr/bin/python3 $ATUM_SRCDIR/tests/smtpchat.py"
TOOL="/usr/bin/python3 $ATUM_SRCDIR/tests/smtptool.py"
PSQL="psql -X -q -t -A -d $ATUM_TEST_DATABASE_URL"
CTL=$ATUM_BUILDDIR/atumctl
WEBPORT=$(free_port)
SMTPPORT=$(free_port)
LMTP_WEBPORT=$(free_port)
LMTPPORT=$(free_port)
make_cert "$T"

conf() {   # conf FILE WEBPORT SMTPPORT MODE
    cat >"$1" <<CONF
[core]
database_url = $ATUM_TEST_DATABASE_URL
secret_key = test-secret
workers = 2
[web]
listen = 127.0.0.1:$2
[mail]
max_message_size = 64K
[smtp]
listen = 127.0.0.1:$3
mode = $4
hostname = mx.test
max_recipients = 3
max_connections = 4
max_line_length = 2000
idle_timeout = 3s
tls_cert = $T/cert.pem
tls_key = $T/key.pem
[imap]
enabled = no
CONF
}
conf "$T/smtp.conf" "$WEBPORT" "$SMTPPORT" smtp
conf "$T/lmtp.conf" "$LMTP_WEBPORT" "$LMTPPORT" lmtp
export ATUM_CONFIG=$T/smtp.conf
"$CTL" migrate >/dev/null
"$CTL" queue add support support@example.com >/dev/null
"$CTL" queue add sales sales@example.com >/dev/null
atumd_start "$T/smtp.conf" "$T/atumd.log" || { cat "$T/atumd.log"; exit 1; }
count_inbound() { $PSQL -c "SELECT count(*) FROM inbound_mail"; }

# ---- real clients --------------------------------------------------------
check "swaks: a mail is accepted (250 queued as N)" bash -c \
    "swaks -s 127.0.0.1:$SMTPPORT -t support@example.com -f c@example.org --header 'Subject: swaks plain' | grep -q '250 2.0.0 Ok: queued as'"
check "swaks: pipelining" bash -c \
    "swaks -s 127.0.0.1:$SMTPPORT --pipeline -t support@example.com -f c@example.org --header 'Subject: swaks pipelined' | grep -q 'queued as'"
swaks -s 127.0.0.1:$SMTPPORT --tls -t support@example.com -f c@example.org \
    --header 'Subject: swaks tls' >"$T/swaks-tls.out" 2>&1
check "swaks --tls: STARTTLS negotiated, then accepted" bash -c \
    "grep -q 'STARTTLS' '$T/swaks-tls.out' && grep -q 'TLS started' '$T/swaks-tls.out' && grep -q '250 2.0.0 Ok: queued as' '$T/swaks-tls.out'"
check "swaks --tls: the mail is recorded as received over TLS" wait_until 10 bash -c \
    "[ \"\$($PSQL -c \"SELECT envelope->>'tls' FROM inbound_mail WHERE convert_from(raw, 'UTF8') LIKE '%swaks tls%'\")\" = true ]"
check "swaks: relaying to a foreign address is refused with 550 5.1.1" bash -c \
    "swaks -s 127.0.0.1:$SMTPPORT -t victim@elsewhere.example -f spammer@example.net | grep -q '550 5.1.1'"
check "swaks: a +detail of a queue address is ours" bash -c \
    "swaks -s 127.0.0.1:$SMTPPORT -t 'SALES+quote@Example.com' -f c@example.org --header 'Subject: detail' | grep -q 'queued as'"
printf 'From: Py <py@example.org>\nSubject: smtplib plain\nMessage-ID: <py-plain@example.org>\n\nhello\n' >"$T/plain.eml"
check "smtplib: plain" bash -c "$TOOL send $SMTPPORT support@example.com '$T/plain.eml' | grep -qE 'plain.eml [0-9]+$'"
printf 'From: Py <py@example.org>\nSubject: smtplib tls\nMessage-ID: <py-tls@example.org>\n\nsecret\n' >"$T/tls.eml"
check "smtplib: STARTTLS, certificate verified by the client" bash -c \
    "$TOOL send $SMTPPORT support@example.com '$T/tls.eml' --starttls '$T/cert.pem' | grep -qE 'tls.eml [0-9]+$'"
check "the TLS session is recorded in the envelope" wait_until 10 bash -c \
    "[ \"\$($PSQL -c \"SELECT envelope->>'tls' FROM inbound_mail WHERE convert_from(raw, 'UTF8') LIKE '%smtplib tls%'\")\" = true ]"
check "all accepted mail becomes tickets" wait_until 15 bash -c \
    "[ \"\$($PSQL -c \"SELECT count(*) FROM inbound_mail WHERE state = 'ingested' AND ticket_id IS NOT NULL\")\" = 6 ]"
check "the +detail mail went to the sales queue" bash -c \
    "[ \"\$($PSQL -c \"SELECT q.name FROM tickets t JOIN queues q ON q.id = t.queue_id WHERE t.subject = 'detail'\")\" = sales ]"

# ---- conversations -------------------------------------------------------
check "EHLO lists the extensions" $CHAT "$SMTPPORT" <<'S'
> EHLO client.test
< 250 SIZE 65536
> QUIT
< 221
S
cat >"$T/ehlo" <<'S'
> EHLO client.test
< 250 STARTTLS
> NOOP
< 250
> QUIT
< 221
S
check "STARTTLS is offered" $CHAT "$SMTPPORT" "$T/ehlo"
check "commands out of order get 503, unknown ones 500" $CHAT "$SMTPPORT" <<'S'
> MAIL FROM:<a@example.org>
< 503 5.5.1
> EHLO c
< 250
> RCPT TO:<support@example.com>
< 503 5.5.1
> DATA
< 503 5.5.1
> FROB
< 500 5.5.2
> MAIL FROM:<a@example.org> SIZE=1
< 250
> MAIL FROM:<b@example.org>
< 503 5.5.1 Nested
> DATA
< 554 5.5.1 No valid recipients
> RSET
< 250
> MAIL FROM:<no-brackets-and-no-at>
< 501 5.1.7
> MAIL FROM:<a@example.org> FOO=BAR
< 555 5.5.4
> QUIT
< 221
S
check "SIZE above the limit is refused at MAIL (552 5.3.4)" $CHAT "$SMTPPORT" <<'S'
> EHLO c
< 250
> MAIL FROM:<a@example.org> SIZE=100000
< 552 5.3.4
> QUIT
< 221
S
check "too many recipients get 452 4.5.3" $CHAT "$SMTPPORT" <<'S'
> EHLO c
< 250
> MAIL FROM:<a@example.org>
< 250
> RCPT TO:<support@example.com>
< 250
> RCPT TO:<support+1@example.com>
< 250
> RCPT TO:<sales@example.com>
< 250
> RCPT TO:<support+2@example.com>
< 452 4.5.3
> QUIT
< 221
S
before=$(count_inbound)
big=$(head -c 70000 /dev/zero | tr '\0' 'x' | fold -w 70 | sed 's/^/>raw /; s/$/\\r\\n/')
{ printf '> EHLO c\n< 250\n> MAIL FROM:<a@example.org>\n< 250\n> RCPT TO:<support@example.com>\n< 250\n> DATA\n< 354\n'
  printf '>raw Subject: big\\r\\n\\r\\n\n'; echo "$big"; printf '>raw .\\r\\n\n< 552 5.3.4\n> QUIT\n< 221\n'; } >"$T/big"
check "a message over the size limit is refused after DATA (552 5.3.4)" $CHAT "$SMTPPORT" "$T/big"
long=$(head -c 3000 /dev/zero | tr '\0' 'y')
{ printf '> EHLO c\n< 250\n> MAIL FROM:<a@example.org>\n< 250\n> RCPT TO:<support@example.com>\n< 250\n> DATA\n< 354\n'
  printf '>raw Subject: long\\r\\n\\r\\n%s\\r\\n.\\r\\n\n< 552 5.3.4 line\n> QUIT\n< 221\n' "$long"; } >"$T/long"
check "a line over the length limit is refused (552)" $CHAT "$SMTPPORT" "$T/long"
check "an empty message is refused (554)" $CHAT "$SMTPPORT" <<'S'
> EHLO c
< 250
> MAIL FROM:<a@example.org>
< 250
> RCPT TO:<support@example.com>
< 250
> DATA
< 354
>raw .\r\n
< 554 5.6.0
> QUIT
< 221
S
check "refused messages stored nothing" bash -c "[ \"\$($PSQL -c 'SELECT count(*) FROM inbound_mail')\" = $before ]"
check "dot-stuffing is undone; bare LF mail ends at LF.LF" $CHAT "$SMTPPORT" <<'S'
> HELO c
< 250
> MAIL FROM:<>
< 250
> RCPT TO:<support@example.com>
< 250
> DATA
< 354
>raw Subject: dots\nMessage-ID: <dots@example.org>\n\n..leading dot\nplain\n.\n
< 250 2.0.0
> QUIT
< 221
S
check "the stored raw mail has one leading dot" bash -c \
    "$PSQL -c \"SELECT convert_from(raw, 'UTF8') FROM inbound_mail WHERE convert_from(raw, 'UTF8') LIKE '%Subject: dots%'\" | grep -qx '.leading dot'"
check "after CRLF, a bare LF.LF does not end DATA (no smuggling)" $CHAT "$SMTPPORT" <<'S'
> EHLO c
< 250
> MAIL FROM:<a@example.org>
< 250
> RCPT TO:<support@example.com>
< 250
> DATA
< 354
>raw Subject: smuggle\r\nMessage-ID: <smuggle@example.org>\r\n\r\nfirst\r\n\n.\nMAIL FROM:<evil@example.org>\r\n.\r\n
< 250 2.0.0
> QUIT
< 221
S
check "the smuggled text stayed inside the one message" bash -c \
    "$PSQL -c \"SELECT count(*) FROM inbound_mail WHERE convert_from(raw, 'UTF8') LIKE '%MAIL FROM:<evil@example.org>%'\" | grep -qx 1"
check "data pipelined after STARTTLS is refused" $CHAT "$SMTPPORT" <<'S'
> EHLO c
< 250
>raw STARTTLS\r\nMAIL FROM:<injected@example.org>\r\n
< 220 2.0.0
<closed
S
check "an idle client is cut off (421 4.4.2)" $CHAT "$SMTPPORT" <<'S'
> EHLO c
< 250
< 421 4.4.2
S

# connection limit: 4 sessions held open, the 5th is told to come back
exec 7<>/dev/tcp/127.0.0.1/$SMTPPORT 8<>/dev/tcp/127.0.0.1/$SMTPPORT 9<>/dev/tcp/127.0.0.1/$SMTPPORT 6<>/dev/tcp/127.0.0.1/$SMTPPORT
# each of the four holds a session once it has its banner (no guessing
# how long a loaded machine takes); the fifth may still race the close of
# an earlier test's session, so it may try a few times
for fd in 6 7 8 9; do timeout 5 head -c 3 <&$fd >/dev/null; done
check "beyond max_connections a client gets 421 4.7.0" wait_until 5 bash -c \
    "exec 5<>/dev/tcp/127.0.0.1/$SMTPPORT; timeout 5 head -c 3 <&5 | grep -q 421"
exec 6>&- 7>&- 8>&- 9>&-
sleep 0.5

# ---- LMTP ------------------------------------------------------------------
atumd_lmtp() { "$ATUM_BUILDDIR/atumd" -c "$T/lmtp.conf" --foreground >>"$T/lmtp.log" 2>&1 & LMTP_PID=$!; }
atumd_lmtp
wait_until 15 curl -sf "http://127.0.0.1:$LMTP_WEBPORT/healthz"
check "LMTP: LHLO, one reply per recipient after DATA" $CHAT "$LMTPPORT" <<'S'
> EHLO c
< 500 5.5.1 LHLO
> LHLO mta.test
< 250 PIPELINING
> MAIL FROM:<a@example.org>
< 250
> RCPT TO:<support@example.com>
< 250
> RCPT TO:<nobody@elsewhere.example>
< 550 5.1.1
> RCPT TO:<sales@example.com>
< 250
> DATA
< 354
>raw Subject: lmtp\r\nMessage-ID: <lmtp-1@example.org>\r\n\r\nvia lmtp\r\n.\r\n
< 250 2.1.5 <support@example.com>
< 250 2.1.5 <sales@example.com>
> QUIT
< 221
S
printf 'From: l@example.org\nSubject: lmtp smtplib\n\nx\n' >"$T/lmtp.eml"
check "LMTP: Python's smtplib.LMTP" bash -c "$TOOL send $LMTPPORT support@example.com '$T/lmtp.eml' --lmtp | grep -qE 'lmtp.eml [0-9]+$'"
check "LMTP mail is stored with source lmtp" wait_until 10 bash -c \
    "[ \"\$($PSQL -c \"SELECT count(*) FROM inbound_mail WHERE source = 'lmtp' AND state = 'ingested'\")\" = 2 ]"
kill -TERM "$LMTP_PID"; wait "$LMTP_PID"

# ---- the database goes away: 451, and the retry succeeds ------------------
cat >"$T/tempfail" <<'S'
> EHLO c
< 250
> MAIL FROM:<a@example.org>
< 250
> RCPT TO:<support@example.com>
< 250
> DATA
< 354
>raw Subject: while down\r\nMessage-ID: <down@example.org>\r\n\r\nretry me\r\n.\r\n
< 451 4.3.0
> QUIT
< 221
S
$CHAT "$SMTPPORT" "$T/ehlo" >/dev/null   # fills the queue-address cache
"$ATUM_TEST_PGCTL" stop
check "database down: the mail is refused with 451 4.3.0 (retry later)" $CHAT "$SMTPPORT" "$T/tempfail"
"$ATUM_TEST_PGCTL" start
printf 'From: r@example.org\nSubject: while down\nMessage-ID: <down@example.org>\n\nretry me\n' >"$T/down.eml"
check "database back: the retry is accepted" wait_until 30 bash -c \
    "$TOOL send $SMTPPORT support@example.com '$T/down.eml' | grep -qE 'down.eml [0-9]+$'"
check "and ingested once" wait_until 20 bash -c \
    "[ \"\$($PSQL -c \"SELECT count(*) FROM messages WHERE message_id = 'down@example.org'\")\" = 1 ]"

check "atumd stops cleanly" atumd_stop
finish
