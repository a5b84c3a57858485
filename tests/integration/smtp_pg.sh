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
port_take WEBPORT
port_take SMTPPORT
port_take LMTP_WEBPORT
port_take LMTPPORT
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
max_connections_per_ip = 2
max_junk_commands = 5
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
check "dot-stuffing is undone" $CHAT "$SMTPPORT" <<'S'
> HELO c
< 250
> MAIL FROM:<>
< 250
> RCPT TO:<support@example.com>
< 250
> DATA
< 354
>raw Subject: dots\r\nMessage-ID: <dots@example.org>\r\n\r\n..leading dot\r\nplain\r\n.\r\n
< 250 2.0.0
> QUIT
< 221
S
check "the stored raw mail has one leading dot" bash -c \
    "$PSQL -c \"SELECT convert_from(raw, 'UTF8') FROM inbound_mail WHERE convert_from(raw, 'UTF8') LIKE '%Subject: dots%'\" | grep -qx '.leading dot.'"

# SMTP smuggling: a second envelope hidden in the data behind an end marker
# that is not CRLF "." CRLF.  Every placement of a bare CR or LF around the
# dot is refused (550 5.5.2) and the connection closed: the forged second
# mail (from an agent's address) is never read as commands.
before=$(count_inbound)
smuggle() {   # smuggle NAME MARKER: MARKER (escaped) between the two mails
    cat >"$T/smuggle-$1" <<S
> EHLO c
< 250
> MAIL FROM:<customer@example.org>
< 250
> RCPT TO:<support@example.com>
< 250
> DATA
< 354
>raw Subject: smuggle $1\r\nMessage-ID: <smuggle-$1@example.org>\r\n\r\nfirst\r\n$2MAIL FROM:<agent@example.com>\r\nRCPT TO:<support@example.com>\r\nDATA\r\nSubject: forged $1\r\n\r\nforged\r\n.\r\n
< 550 5.5.2
<closed
S
    $CHAT "$SMTPPORT" "$T/smuggle-$1"
}
check "smuggling <LF>.<CR><LF> is refused, the connection closed" smuggle lf-dot-crlf '\n.\r\n'
check "smuggling <LF>.<LF> is refused" smuggle lf-dot-lf '\n.\n'
check "smuggling <CR>.<CR><LF> is refused" smuggle cr-dot-crlf '\r.\r\n'
check "smuggling <CR><LF>.<LF> is refused" smuggle crlf-dot-lf '.\n'
check "smuggling <CR>.<CR> is refused" smuggle cr-dot-cr '\r.\r'
check "smuggling <CR><LF>.<CR> is refused" smuggle crlf-dot-cr '.\rX\r\n'
check "smuggling <LF><CR>.<LF><CR> is refused" smuggle lfcr-dot-lfcr '\n\r.\n\r'
check "smuggling <CR><CR><LF>.<CR><CR><LF> is refused" smuggle crcrlf '\r\r\n.\r\r\n'
check "a bare LF anywhere in the data is refused too" smuggle lf-in-text 'a bare\nline\r\n'
check "nothing of the smuggling attempts was stored" bash -c \
    "[ \"\$($PSQL -c 'SELECT count(*) FROM inbound_mail')\" = $before ] && [ \"\$($PSQL -c \"SELECT count(*) FROM inbound_mail WHERE envelope->>'mail_from' = 'agent@example.com' OR convert_from(raw, 'UTF8') LIKE '%forged%'\")\" = 0 ]"
check "the refusals are logged" bash -c "[ \$(grep -c 'event=smtp.bare_eol' '$T/atumd.log') = 9 ]"
check "a clean mail after them is accepted (one 250, one mail)" $CHAT "$SMTPPORT" <<'S'
> EHLO c
< 250
> MAIL FROM:<customer@example.org>
< 250
> RCPT TO:<support@example.com>
< 250
> DATA
< 354
>raw Subject: after smuggling\r\n\r\nMAIL FROM:<agent@example.com> is only text here\r\n.\r\n
< 250 2.0.0
> QUIT
< 221
S
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

# ---- limits per client --------------------------------------------------
# max_connections 4, max_connections_per_ip 2: two sessions from 127.0.0.1
# and two from 127.0.0.2 (a loopback address too) are held open; a third
# from 127.0.0.1 is refused for its address while 127.0.0.2 is not starved,
# and a fifth session from anywhere finds the server full.
LIMITS="/usr/bin/python3 $ATUM_SRCDIR/tests/smtpclients.py"
release_hold() {   # closing its stdin ends the holder and its sessions
    local pid=$HOLD_PID
    eval "exec ${HOLD[1]}>&- ${HOLD[0]}<&-"
    wait "$pid" 2>/dev/null
}
coproc HOLD { $LIMITS hold "$SMTPPORT" 127.0.0.1:2 127.0.0.2:1; }
held=$(timeout 20 sed '/^ready$/q' <&"${HOLD[0]}")
check "two sessions from one address are accepted" bash -c \
    "[ \"\$(printf '%s\n' \"$held\" | grep -c '^127.0.0.1 220 ')\" = 2 ]"
# the previous tests' sessions may still be closing: ask until it settles
check "a third from the same address gets 421 4.7.0 (its address is at the limit)" wait_until 10 bash -c \
    "$LIMITS probe $SMTPPORT 127.0.0.1 | grep -q '^421 4.7.0 .*from your address'"
check "another address still gets a session" bash -c \
    "[ \"\$(printf '%s\n' \"$held\" | grep -c '^127.0.0.2 220 ')\" = 1 ] && $LIMITS probe $SMTPPORT 127.0.0.3 | grep -q '^220 '"
release_hold
coproc HOLD { $LIMITS hold "$SMTPPORT" 127.0.0.1:2 127.0.0.2:2; }
held=$(timeout 20 sed '/^ready$/q' <&"${HOLD[0]}")
check "four sessions from two addresses fill the server" bash -c \
    "[ \"\$(printf '%s\n' \"$held\" | grep -c ' 220 ')\" = 4 ]"
check "beyond max_connections a client gets 421 4.7.0" wait_until 10 bash -c \
    "$LIMITS probe $SMTPPORT 127.0.0.3 | grep -q '^421 4.7.0 .*Too many connections,'"
release_hold
check "the refusals are logged with their reason" bash -c \
    "grep -q 'event=smtp.refused.*from your address' '$T/atumd.log' && grep -q 'event=smtp.refused.*Too many connections\"' '$T/atumd.log'"
check "once they are gone a client is served again" wait_until 10 bash -c \
    "$LIMITS probe $SMTPPORT 127.0.0.1 | grep -q '^220 '"

# commands without progress: at most max_junk_commands (5 here) ...
check "NOOP, RSET, VRFY, HELP and greetings without a mail are cut after max_junk_commands" $CHAT "$SMTPPORT" <<'S'
> EHLO c
< 250
> NOOP
< 250
> RSET
< 250
> VRFY x
< 252
> HELP
< 214
> EHLO c
< 250
> NOOP
< 421 4.7.0 without progress
<closed
S
check "an accepted mail starts the count again" $CHAT "$SMTPPORT" <<'S'
> EHLO c
< 250
> NOOP
< 250
> NOOP
< 250
> NOOP
< 250
> MAIL FROM:<a@example.org>
< 250
> RCPT TO:<support@example.com>
< 250
> DATA
< 354
>raw Subject: progress\r\n\r\nprogress\r\n.\r\n
< 250 2.0.0
> NOOP
< 250
> NOOP
< 250
> NOOP
< 250
> NOOP
< 250
> QUIT
< 221
S
# ... and they do not keep a session alive: with idle_timeout 3s, a NOOP
# every 0.7 s is still cut off about 3 s after the greeting
check "NOOPs do not renew the idle timeout (cut within idle_timeout + 2 s)" bash -c \
    "$LIMITS noop $SMTPPORT 0.7 5 | grep -q '^cut after [2-4]\\.[0-9] s: 421 4.4.2'"

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
