#!/bin/bash
# crash_pg.sh -- kill -9 atumd (three times) while 1,000 mails arrive over SMTP
# from 8 clients: every mail that got a 250 is a message afterwards,
# exactly once; mails that got no 250 are sent again by the clients.
set -u
. "$ATUM_SRCDIR/tests/lib.sh"
T=$ATUM_TEST_TMP
PSQL="psql -X -q -t -A -d $ATUM_TEST_DATABASE_URL"
port_take WEBPORT
port_take SMTPPORT
cat >"$T/atum.conf" <<CONF
[core]
database_url = $ATUM_TEST_DATABASE_URL
secret_key = test-secret
workers = 2
[queue]
lease = 3s
maintenance_interval = 500ms
[web]
listen = 127.0.0.1:$WEBPORT
[smtp]
listen = 127.0.0.1:$SMTPPORT
[imap]
enabled = no
CONF
export ATUM_CONFIG=$T/atum.conf
"$ATUM_BUILDDIR/atumctl" migrate >/dev/null
"$ATUM_BUILDDIR/atumctl" queue add support support@example.com >/dev/null
atumd_start "$T/atum.conf" "$T/atumd.log" || exit 1

echo "$ATUMD_PID" >"$T/atumd.pid"
# the client kills atumd itself at the 150th, 450th and 750th 250, so the
# other 7 clients are mid-transaction however fast the machine is
/usr/bin/python3 "$ATUM_SRCDIR/tests/smtptool.py" blast "$SMTPPORT" support@example.com 1000 8 "$T/accepted" 240 \
    --kill-at 150,450,750 "$T/atumd.pid" >"$T/blast.out" 2>&1 &
BLAST=$!
for k in 1 2 3; do
    wait_until 120 bash -c "[ \$(grep -c '^killed' '$T/blast.out') -ge $k ]" || { echo "no kill $k"; cat "$T/blast.out"; exit 1; }
    wait "$ATUMD_PID" 2>/dev/null; ATUMD_PID=
    echo "    $(grep '^killed' "$T/blast.out" | sed -n "${k}p"): $(grep -c '' "$T/accepted") acknowledged when restarted"
    atumd_start "$T/atum.conf" "$T/atumd.log" || { echo "restart failed"; exit 1; }
    echo "$ATUMD_PID" >"$T/atumd.pid"
done
wait "$BLAST"
check "atumd was killed exactly at the 150th, 450th and 750th acknowledgement" bash -c \
    "[ \"\$(grep '^killed' '$T/blast.out' | awk '{print \$4}' | tr '\n' ' ')\" = '150 450 750 ' ]"
check "the clients got a 250 for all 1,000 mails (retrying what was not acknowledged)" grep -qx "left 0" "$T/blast.out"
check "the kills hit mails in flight: some had to be sent again" bash -c \
    "[ \$(sed -n 's/^retries //p' '$T/blast.out') -gt 0 ]"
check "1,000 distinct Message-IDs were acknowledged" bash -c "[ \"\$(sort -u '$T/accepted' | grep -c '')\" = 1000 ]"
sed 's/^<//; s/>$//' "$T/accepted" | sort -u >"$T/want"
check "every acknowledged mail became a message" wait_until 120 bash -c \
    "$PSQL -c \"SELECT message_id FROM messages WHERE message_id LIKE '%@blast.example'\" | sort >'$T/have'; cmp -s '$T/want' '$T/have'"
check "exactly once: no Message-ID twice among messages" bash -c \
    "[ \"\$($PSQL -c \"SELECT count(*) - count(DISTINCT message_id) FROM messages WHERE message_id LIKE '%@blast.example'\")\" = 0 ]"
check "re-sent copies were recognised as duplicates, nothing failed" bash -c \
    "[ \"\$($PSQL -c \"SELECT count(*) FROM inbound_mail WHERE state <> 'ingested'\")\" = 0 ]"
dups=$($PSQL -c "SELECT count(*) FROM inbound_mail WHERE duplicate")
echo "    stored copies recognised as duplicates: $dups"
check "atumd stops cleanly" atumd_stop
finish
