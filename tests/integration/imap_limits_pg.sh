#!/bin/bash
# imap_limits_pg.sh -- the IMAP poller against Dovecot at its limits:
#  - a mail over mail.max_message_size is held, never lost: with
#    --after delete, move and seen it stays in its folder, unflagged, through later
#    passes, shows up in `atumctl inbound list --failed` (headers kept) and
#    in the mailbox's last_error, cannot be reprocessed into a headers-only
#    ticket, and is taken in once the limit is raised;
#  - with a short imap.idle_refresh, IDLE is re-issued (no reconnect) and
#    mail still arrives through it.
set -u
. "$ATUM_SRCDIR/tests/lib.sh"
. "$ATUM_SRCDIR/tests/pg.sh"
. "$ATUM_SRCDIR/tests/dovecot.sh"
T=$ATUM_TEST_TMP
PSQL="psql -X -q -t -A -d $ATUM_TEST_DATABASE_URL"
CTL=$ATUM_BUILDDIR/atumctl
IMAP="/usr/bin/python3 $ATUM_SRCDIR/tests/imaptool.py"
port_take WEBPORT

dovecot_start "$T/dovecot" desk imap-secret || exit 1
trap 'dovecot_stop "$T/dovecot"' EXIT
PORT=$DOVECOT_PORT
export ATUM_IMAP_PASSWORD_DESK=imap-secret

conf() {   # conf MAX_MESSAGE_SIZE
    cat >"$T/atum.conf" <<CONF
[core]
database_url = $ATUM_TEST_DATABASE_URL
secret_key = test-secret
workers = 2
log_level = debug
[web]
listen = 127.0.0.1:$WEBPORT
[mail]
max_message_size = $1
[imap]
rescan = 1s
reconnect_max = 2s
# the tests' dovecot is on loopback, in clear and self-signed
allow_insecure_loopback = yes
idle_refresh = 2s
CONF
}
conf 64K
export ATUM_CONFIG=$T/atum.conf
"$CTL" migrate >/dev/null
"$CTL" queue add support support@example.com >/dev/null
# poll_interval 600 s: only IDLE (and its refresh) makes a pass happen
"$CTL" mailbox add delbox --queue support --host 127.0.0.1 --port "$PORT" --security none \
    --user desk --password-env ATUM_IMAP_PASSWORD_DESK --folder DelIn --after delete --poll 600 >/dev/null
"$CTL" mailbox add movebox --queue support --host 127.0.0.1 --port "$PORT" --security none \
    --user desk --password-env ATUM_IMAP_PASSWORD_DESK --folder MoveIn --after move --move-to MoveDone \
    --poll 600 >/dev/null
"$CTL" mailbox add seenbox --queue support --host 127.0.0.1 --port "$PORT" --security none \
    --user desk --password-env ATUM_IMAP_PASSWORD_DESK --folder SeenIn --after seen --poll 600 >/dev/null

mkmail() {   # mkmail ID SUBJECT [BODY_KB] -> file
    {
        printf 'From: Customer <%s@example.org>\r\nTo: support@example.com\r\n' "$1"
        printf 'Subject: %s\r\nMessage-ID: <lim-%s@example.org>\r\n\r\n' "$2" "$1"
        if [ -n "${3:-}" ]; then
            for _ in $(seq 1 $(( $3 * 16 ))); do printf '%062d\r\n' 0; done
        else
            printf 'body %s\r\n' "$1"
        fi
    } >"$T/$1.eml"
    echo "$T/$1.eml"
}
count() { $IMAP "$PORT" desk imap-secret count "$1"; }
messages_like() { $PSQL -c "SELECT count(*) FROM messages WHERE message_id LIKE 'lim-$1%'"; }
export PSQL IMAP PORT
export -f count messages_like

$IMAP "$PORT" desk imap-secret append DelIn "$(mkmail d1 'del small 1')" \
    "$(mkmail dbig 'del big one' 100)" "$(mkmail d2 'del small 2')"
$IMAP "$PORT" desk imap-secret append MoveIn "$(mkmail m1 'move small 1')" \
    "$(mkmail mbig 'move big one' 100)" "$(mkmail m2 'move small 2')"
$IMAP "$PORT" desk imap-secret append SeenIn "$(mkmail s1 'seen small 1')" "$(mkmail sbig 'seen big one' 100)"
atumd_start "$T/atum.conf" "$T/atumd.log" || { cat "$T/atumd.log"; exit 1; }
check "the small mails around the big ones are ingested" wait_until 20 bash -c \
    "[ \"\$(messages_like d)\" = 2 ] && [ \"\$(messages_like m)\" = 2 ]"
# the loss happened on the NEXT pass (moving "stored but not moved" UIDs up
# to last_uid): make several more passes happen, by new mail and by IDLE
# refreshes, before looking
$IMAP "$PORT" desk imap-secret append DelIn "$(mkmail d3 'del small 3')"
$IMAP "$PORT" desk imap-secret append MoveIn "$(mkmail m3 'move small 3')"
check "later mail still flows" wait_until 20 bash -c \
    "[ \"\$(messages_like d)\" = 3 ] && [ \"\$(messages_like m)\" = 3 ]"
check "several IDLE refreshes (passes) later" wait_until 20 bash -c \
    "[ \$(grep -c 'event=imap.idle_refresh.*mailbox=delbox\\|mailbox=delbox.*event=imap.idle_refresh' '$T/atumd.log') -ge 3 ]"
check "--after delete: the big mail is still in its folder, the rest deleted" \
    bash -c "[ \"\$(count DelIn)\" = 1 ]"
check "--after move: the big mail is still in its folder, the rest moved" \
    bash -c "[ \"\$(count MoveIn)\" = 1 ] && [ \"\$(count MoveDone)\" = 3 ]"
check "the big mails were never flagged \\Seen" bash -c \
    "[ \"\$($IMAP $PORT desk imap-secret seen DelIn)\" = 0 ] && [ \"\$($IMAP $PORT desk imap-secret seen MoveIn)\" = 0 ]"
check "--after seen: the small mail is flagged, the big one is not" bash -c \
    "[ \"\$(messages_like s1)\" = 1 ] && [ \"\$(count SeenIn)\" = 2 ] && [ \"\$($IMAP $PORT desk imap-secret seen SeenIn)\" = 1 ]"
check "no message was made of them" bash -c \
    "[ \"\$(messages_like dbig)\" = 0 ] && [ \"\$(messages_like mbig)\" = 0 ] && [ \"\$(messages_like sbig)\" = 0 ]"

"$CTL" inbound list --failed >"$T/failed.txt"
check "atumctl inbound list --failed shows all three, with the reason" bash -c \
    "[ \$(grep -c 'larger than mail.max_message_size' '$T/failed.txt') = 3 ]"
check "... and their subjects (headers are kept)" bash -c \
    "grep -q 'del big one' '$T/failed.txt' && grep -q 'move big one' '$T/failed.txt'"
DBIG=$($PSQL -c "SELECT id FROM inbound_mail WHERE envelope->>'mailbox' = 'delbox' AND state = 'failed'")
"$CTL" --json inbound show "$DBIG" >"$T/show.json"
check "inbound show: failed, real size, where it is, the headers, no body" bash -c "
    jq -e '.state == \"failed\" and .size > 100000 and .envelope.too_large == true
           and .envelope.folder == \"DelIn\" and (.error | test(\"left in mailbox delbox, folder DelIn, UID [0-9]+\"))
           and .subject == \"del big one\" and .message_id == \"<lim-dbig@example.org>\"' '$T/show.json' &&
    [ \"\$($PSQL -c \"SELECT length(raw) < 1000 FROM inbound_mail WHERE id = $DBIG\")\" = t ]"
check "no ingest job was queued for them, none is dead" bash -c \
    "[ \"\$($PSQL -c \"SELECT count(*) FROM jobs WHERE state = 'dead' OR payload->>'inbound_id' = '$DBIG'\")\" = 0 ]"
check "the mailbox status says mail is held" bash -c \
    "$CTL mailbox list | grep delbox | grep -q '1 mail held in DelIn (over mail.max_message_size)' &&
     $CTL mailbox list | grep seenbox | grep -q '1 mail held in SeenIn'"
check_fails "atumctl reprocess refuses to make a headers-only ticket of it" "$CTL" reprocess "$DBIG"
check "... and says why and what to do" bash -c \
    "$CTL reprocess $DBIG 2>&1 | grep -q 'raise mail.max_message_size'"

# ---- IDLE refresh: re-issued on the same connection, mail still arrives
check "IDLE was re-issued without reconnecting" bash -c \
    "[ \$(grep 'mailbox=movebox' '$T/atumd.log' | grep -c 'event=imap.connected') = 1 ] &&
     [ \$(grep 'mailbox=movebox' '$T/atumd.log' | grep -c 'event=imap.idle_refresh') -ge 3 ]"
check "no IMAP error meanwhile" bash -c "! grep -q 'event=imap.error' '$T/atumd.log'"
$IMAP "$PORT" desk imap-secret append MoveIn "$(mkmail m4 'after refreshes')"
check "after several refreshes a new mail still arrives through IDLE within 3 s" \
    wait_until 3 bash -c "[ \"\$(messages_like m4)\" = 1 ]"

# ---- the limit raised: the held mails are taken in, then deleted/moved
atumd_stop
conf 1M
atumd_start "$T/atum.conf" "$T/atumd.log" || { cat "$T/atumd.log"; exit 1; }
check "with a higher limit the held mails become messages" wait_until 20 bash -c \
    "[ \"\$(messages_like dbig)\" = 1 ] && [ \"\$(messages_like mbig)\" = 1 ] && [ \"\$(messages_like sbig)\" = 1 ]"
check "... in full" bash -c \
    "[ \"\$($PSQL -c \"SELECT length(body_text) > 100000 FROM messages WHERE message_id = 'lim-dbig@example.org'\")\" = t ]"
check "... and then deleted / moved like any other" wait_until 10 bash -c \
    "[ \"\$(count DelIn)\" = 0 ] && [ \"\$(count MoveIn)\" = 0 ] && [ \"\$(count MoveDone)\" = 5 ] &&
     [ \"\$($IMAP $PORT desk imap-secret seen SeenIn)\" = 2 ]"
check "their held rows are gone, nothing is failed" bash -c \
    "[ \"\$($PSQL -c \"SELECT count(*) FROM inbound_mail WHERE state <> 'ingested'\")\" = 0 ]"
check "the mailbox status is clear again" wait_until 5 bash -c \
    "[ \"\$($PSQL -c \"SELECT count(*) FROM mailboxes WHERE last_error IS NOT NULL\")\" = 0 ]"
check "every mail is stored exactly once" bash -c \
    "[ \"\$($PSQL -c \"SELECT count(*) FROM inbound_mail\")\" = 11 ]"
check "atumd stops cleanly" atumd_stop
finish
