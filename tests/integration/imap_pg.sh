#!/bin/bash
# imap_pg.sh -- atumd polling a real IMAP server (Debian's Dovecot, started
# here on loopback): fetch, IDLE, \Seen + move after the commit, the "seen"
# mode, certificate checks before LOGIN, restarts and kill -9 without loss
# or duplicates, and one poller per mailbox across two atumd processes.
set -u
. "$ATUM_SRCDIR/tests/lib.sh"
. "$ATUM_SRCDIR/tests/pg.sh"
. "$ATUM_SRCDIR/tests/dovecot.sh"
T=$ATUM_TEST_TMP
PSQL="psql -X -q -t -A -d $ATUM_TEST_DATABASE_URL"
CTL=$ATUM_BUILDDIR/atumctl
IMAP="/usr/bin/python3 $ATUM_SRCDIR/tests/imaptool.py"
port_take WEBPORT

# the certificate names only IP 127.0.0.1: "localhost" is the wrong host
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=imap test" \
    -addext "subjectAltName=IP:127.0.0.1" -keyout "$T/key.pem" -out "$T/cert.pem" >/dev/null 2>&1
chmod 644 "$T/key.pem"
dovecot_start "$T/dovecot" desk imap-secret "$T/cert.pem" "$T/key.pem" || exit 1
trap 'dovecot_stop "$T/dovecot"' EXIT
PORT=$DOVECOT_PORT
TLSPORT=$DOVECOT_TLS_PORT
export ATUM_IMAP_PASSWORD_DESK=imap-secret

conf() {   # conf FILE WEBPORT [CA_FILE]
    cat >"$1" <<CONF
[core]
database_url = $ATUM_TEST_DATABASE_URL
secret_key = test-secret
workers = 2
[web]
listen = 127.0.0.1:$2
[queue]
# a killed atumd's claimed jobs come back soon (see kill -9 below)
lease = 3s
[imap]
rescan = 1s
reconnect_max = 2s
# the tests' dovecot is on loopback, in clear and self-signed
allow_insecure_loopback = yes
ca_file = ${3:-}
CONF
}
conf "$T/atum.conf" "$WEBPORT"
export ATUM_CONFIG=$T/atum.conf
"$CTL" migrate >/dev/null
"$CTL" queue add support support@example.com >/dev/null
# poll_interval 600 s: only IDLE can make a mail arrive quickly
"$CTL" mailbox add desk --queue support --host 127.0.0.1 --port "$PORT" --security none \
    --user desk --password-env ATUM_IMAP_PASSWORD_DESK --move-to Done --poll 600 >/dev/null

mkmail() {   # mkmail N SUBJECT -> file
    printf 'From: Customer %s <c%s@example.org>\r\nTo: support@example.com\r\nSubject: %s\r\nMessage-ID: <imap-%s@example.org>\r\n\r\nbody %s\r\n' \
        "$1" "$1" "$2" "$1" "$1" >"$T/m$1.eml"
    echo "$T/m$1.eml"
}
inbound() { $PSQL -c "SELECT count(*) FROM inbound_mail WHERE source = 'imap'"; }
messages_like() { $PSQL -c "SELECT count(*) FROM messages WHERE message_id LIKE 'imap-%'"; }
export PSQL
export -f inbound messages_like

$IMAP "$PORT" desk imap-secret append INBOX "$(mkmail 1 first)" "$(mkmail 2 second)" "$(mkmail 3 third)"
atumd_start "$T/atum.conf" "$T/atumd.log" || { cat "$T/atumd.log"; exit 1; }
check "mails waiting in INBOX are fetched and ingested" wait_until 20 bash -c "[ \"\$($PSQL -c \"SELECT count(*) FROM inbound_mail WHERE source = 'imap' AND state = 'ingested'\")\" = 3 ]"
check "they were moved to the Done folder" wait_until 10 bash -c "[ \"\$($IMAP $PORT desk imap-secret count Done)\" = 3 ] && [ \"\$($IMAP $PORT desk imap-secret count INBOX)\" = 0 ]"
check "and flagged \\Seen" bash -c "[ \"\$($IMAP $PORT desk imap-secret seen Done)\" = 3 ]"
check "the envelope records mailbox, UID and UIDVALIDITY" bash -c \
    "[ \"\$($PSQL -c \"SELECT count(*) FROM inbound_mail WHERE envelope->>'mailbox' = 'desk' AND (envelope->>'uid')::int > 0 AND (envelope->>'uidvalidity')::bigint > 0\")\" = 3 ]"
check "atumd reports it uses IDLE" grep -q "idle=yes" "$T/atumd.log"

t0=$(date +%s%N)
$IMAP "$PORT" desk imap-secret append INBOX "$(mkmail 4 idle)"
check "a new mail arrives through IDLE within 3 s" wait_until 3 bash -c "[ \"\$(messages_like)\" = 4 ]" 
echo "    IDLE: mail to message in $(( ($(date +%s%N) - t0) / 1000000 )) ms"

# stopped atumd: mail waits; started again: fetched once
atumd_stop
$IMAP "$PORT" desk imap-secret append INBOX "$(mkmail 5 while-stopped-a)" "$(mkmail 6 while-stopped-b)"
atumd_start "$T/atum.conf" "$T/atumd.log"
check "mail that arrived while atumd was stopped is fetched after the restart" wait_until 20 bash -c "[ \"\$(messages_like)\" = 6 ]"

# kill -9 while a burst is being fetched: nothing lost, nothing twice
files=()
for n in $(seq 10 49); do files+=("$(mkmail "$n" "burst $n")"); done
$IMAP "$PORT" desk imap-secret append INBOX "${files[@]}"
# kill it in the middle: once the first of them is stored
wait_until 20 bash -c "[ \"\$(inbound)\" -gt 6 ]"
kill -KILL "$ATUMD_PID"; wait "$ATUMD_PID" 2>/dev/null; ATUMD_PID=
atumd_start "$T/atum.conf" "$T/atumd.log"
check "after kill -9 and restart all 46 mails are messages" wait_until 40 bash -c "[ \"\$(messages_like)\" = 46 ]"
check "none was stored twice" bash -c "[ \"\$(inbound)\" = 46 ]"
check "INBOX is empty, Done holds them all" wait_until 10 bash -c "[ \"\$($IMAP $PORT desk imap-secret count INBOX)\" = 0 ] && [ \"\$($IMAP $PORT desk imap-secret count Done)\" = 46 ]"

# a second atumd on the same database: one poller per mailbox (lock)
port_take B_WEB
conf "$T/b.conf" "$B_WEB"
"$ATUM_BUILDDIR/atumd" -c "$T/b.conf" --foreground >>"$T/b.log" 2>&1 &
B_PID=$!
wait_until 20 curl -sf "http://127.0.0.1:$B_WEB/healthz"
files=()
for n in $(seq 60 79); do files+=("$(mkmail "$n" "two nodes $n")"); done
$IMAP "$PORT" desk imap-secret append INBOX "${files[@]}"
check "with two atumd processes each mail is stored once" wait_until 30 bash -c "[ \"\$(messages_like)\" = 66 ] && [ \"\$(inbound)\" = 66 ]"
check "one node holds the mailbox" bash -c "[ \"\$($PSQL -c \"SELECT count(*) FROM mailboxes WHERE locked_by IS NOT NULL\")\" = 1 ]"
kill -TERM "$B_PID"; wait "$B_PID"

# "seen" mode: mail stays in its folder, flagged
"$CTL" mailbox add seenbox --queue support --host 127.0.0.1 --port "$PORT" --security none \
    --user desk --password-env ATUM_IMAP_PASSWORD_DESK --folder Shared --after seen >/dev/null
$IMAP "$PORT" desk imap-secret append Shared "$(mkmail 90 seen-mode)"
check "seen mode: fetched, left in its folder, flagged \\Seen" wait_until 20 bash -c \
    "[ \"\$(messages_like)\" = 67 ] && [ \"\$($IMAP $PORT desk imap-secret seen Shared)\" = 1 ] && [ \"\$($IMAP $PORT desk imap-secret count Shared)\" = 1 ]"

# certificates: checked before LOGIN
"$CTL" mailbox add tlsbox --queue support --host 127.0.0.1 --port "$TLSPORT" --security tls \
    --user desk --password-env ATUM_IMAP_PASSWORD_DESK --folder Tls >/dev/null
$IMAP "$PORT" desk imap-secret append Tls "$(mkmail 91 over-tls)"
check "a self-signed server certificate is refused" wait_until 20 bash -c \
    "$PSQL -c \"SELECT last_error FROM mailboxes WHERE name = 'tlsbox'\" | grep -q 'not trusted'"
check "so no password was sent to it" bash -c "! grep -q 'Login: user=<desk>.*TLS' '$T/dovecot/dovecot.log'"
check "and nothing was fetched" bash -c "[ \"\$(messages_like)\" = 67 ]"
atumd_stop
conf "$T/atum.conf" "$WEBPORT" "$T/cert.pem"
atumd_start "$T/atum.conf" "$T/atumd.log"
check "with the CA configured the certificate verifies and mail flows" wait_until 20 bash -c "[ \"\$(messages_like)\" = 68 ]"
"$CTL" mailbox add wronghost --queue support --host localhost --port "$TLSPORT" --security tls \
    --user desk --password-env ATUM_IMAP_PASSWORD_DESK --folder Wrong >/dev/null
$IMAP "$PORT" desk imap-secret append Wrong "$(mkmail 92 wrong-host)"
check "a certificate for another host is refused even from a trusted CA" wait_until 20 bash -c \
    "$PSQL -c \"SELECT last_error FROM mailboxes WHERE name = 'wronghost'\" | grep -qi 'mismatch\\|not trusted'"
$PSQL -c "UPDATE mailboxes SET trust_any_certificate = true WHERE name = 'wronghost'" >/dev/null
check "unless the mailbox is configured to trust any certificate" wait_until 20 bash -c "[ \"\$(messages_like)\" = 69 ]"

check "atumd stops cleanly" atumd_stop
finish
