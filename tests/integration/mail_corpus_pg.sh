#!/bin/bash
# mail_corpus_pg.sh -- every message of tests/data/mail through the real
# path: SMTP into atumd, mail.ingest, then `atumctl inbound show --json`
# compared with EXPECT.tsv (subject, sender, Message-ID, attachments,
# robot class; bounces make no ticket).
set -u
. "$ATUM_SRCDIR/tests/lib.sh"
T=$ATUM_TEST_TMP
port_take WEBPORT
port_take SMTPPORT
cat >"$T/atum.conf" <<CONF
[core]
database_url = $ATUM_TEST_DATABASE_URL
secret_key = test-secret
workers = 2
[web]
listen = 127.0.0.1:$WEBPORT
[smtp]
listen = 127.0.0.1:$SMTPPORT
[imap]
enabled = no
CONF
export ATUM_CONFIG=$T/atum.conf
CTL=$ATUM_BUILDDIR/atumctl
"$CTL" migrate >/dev/null
"$CTL" queue add support support@example.com >/dev/null
atumd_start "$T/atum.conf" "$T/atumd.log" || { cat "$T/atumd.log"; exit 1; }
/usr/bin/python3 "$ATUM_SRCDIR/tests/smtptool.py" send "$SMTPPORT" support@example.com \
    "$ATUM_MAIL_TESTDATA"/*.eml >"$T/ids" 2>"$T/send.err"
total=$(ls "$ATUM_MAIL_TESTDATA"/*.eml | wc -l)
n=$(grep -c '^' "$T/ids")
check "all $total mails sent over SMTP" test "$n" -eq "$total"
check "all were accepted with 250" bash -c "! grep -q REFUSED '$T/ids'"
PSQL="psql -X -q -t -A -d $ATUM_TEST_DATABASE_URL"
check "all $total ingested" wait_until 90 bash -c "[ \"\$($PSQL -c \"SELECT count(*) FROM inbound_mail WHERE state = 'ingested'\")\" = $total ]"
/usr/bin/python3 "$ATUM_SRCDIR/tests/expectcheck.py" "$ATUM_MAIL_TESTDATA" "$T/ids" "$CTL" >"$T/expect.out" 2>&1
rc=$?
cat "$T/expect.out"
check "every message matches EXPECT.tsv" test $rc -eq 0
/usr/bin/python3 "$ATUM_SRCDIR/tests/mailscore.py" --min 97 "$ATUM_MAIL_TESTDATA" show "$CTL" "$T/ids" >"$T/score.out" 2>&1
rc=$?
tail -n 1 "$T/score.out"
check "through ingest: messages and robots right >= 97 %, none failed (issue 11)" test $rc -eq 0
check "no mail.ingest job failed" bash -c "[ \"\$($PSQL -c \"SELECT count(*) FROM jobs WHERE state = 'dead'\")\" = 0 ]"
check "duplicate Message-ID made one message" bash -c "[ \"\$($PSQL -c \"SELECT count(*) FROM inbound_mail WHERE duplicate\")\" = 1 ]"
check "bounces were recorded, not ticketed" bash -c "[ \"\$($PSQL -c \"SELECT count(DISTINCT inbound_id) FROM mail_bounces\")\" -ge 20 ]"
check "attachments are stored once per content" bash -c "[ \"\$($PSQL -c 'SELECT count(*) FROM attachment_blobs')\" = \"\$($PSQL -c 'SELECT count(DISTINCT sha256) FROM attachments')\" ]"
atumd_stop
finish
