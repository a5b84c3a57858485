#!/bin/bash
# imap_hostile_pg.sh -- atumd against IMAP servers that misbehave on purpose
# (tests/imapserver.py, one port per scenario), all at once in one atumd:
#  - a server that refuses the connection: logged and retried, no crash;
#  - literals announced at 999999999, 2^32-1 and 2^32+5 bytes, and a server
#    that says RFC822.SIZE 100 and sends 50 MB: refused before a byte is
#    read, the mail held with the size the server announced, nothing wrong
#    stored (no 5-byte "hello" mail from the wrap-around), clear errors;
#  - nesting 200,000 deep, a line that never ends, bad greetings, refused
#    logins, absurd capabilities, odd EXISTS, noise and wrong tags, answers
#    byte by byte, NUL in a literal, BYE floods: atumd stays up and retries;
#  - STARTTLS answered with garbage or with an injected response: no LOGIN;
#  - bounded CPU and memory over the whole run;
#  - IDLE answered at once, every time: passes are paced; mail announced
#    in the answer to another command is not left until the next IDLE;
#  - a new UIDVALIDITY at every connection: each mail fetched and stored
#    once;
#  - a server that drops the connection after every good pass: the
#    reconnect delay starts again at 1 s;
#  - a server that goes silent mid-session: removing it and adding another
#    mailbox is not held up by it, and SIGTERM stops atumd at once.
# IMAP_HOSTILE="refused silent ..." runs only those scenarios' mailboxes
# and checks (to look at one of them, or at how an older atumd fares).
set -u
. "$ATUM_SRCDIR/tests/lib.sh"
T=$ATUM_TEST_TMP
PSQL="psql -X -q -t -A -d $ATUM_TEST_DATABASE_URL"
CTL=$ATUM_BUILDDIR/atumctl
export PSQL

ALL="good refused bad_greeting bye_greeting login_refused caps_absurd no_uidvalidity
     negative_exists huge_exists unsolicited wrong_tag bytewise nul_literal bye_flood
     huge_literal max_literal wrap_literal lying_size nesting endless_line
     silent idle_flood late_exists rotate flaky starttls_garbage starttls_inject"
ON=" $(echo ${IMAP_HOSTILE:-$ALL}) "
on() { local s; for s in "$@"; do [[ $ON == *" $s "* ]] || return 1; done; }

mkdir -p "$T/imap"
/usr/bin/python3 "$ATUM_SRCDIR/tests/imapserver.py" "$T/imap" \
    good refused bad_greeting bye_greeting login_refused caps_absurd no_uidvalidity \
    negative_exists huge_exists unsolicited wrong_tag bytewise nul_literal bye_flood \
    huge_literal max_literal wrap_literal lying_size nesting endless_line \
    silent silent2=silent late=good idle_flood late_exists rotate:3 flaky:0 \
    starttls_garbage starttls_inject >"$T/imap/server.out" 2>&1 &
SERVER_PID=$!
trap 'kill "$SERVER_PID" 2>/dev/null; wait "$SERVER_PID" 2>/dev/null' EXIT
wait_until 20 test -s "$T/imap/ports" || { echo "the IMAP server did not start"; cat "$T/imap/server.out"; exit 1; }
port() { awk -v n="$1" '$1 == n { print $2 }' "$T/imap/ports"; }
# the log of a scenario: "MS EVENT ..." lines
slog() { cat "$T/imap/$1.log" 2>/dev/null; }
connections() { slog "$1" | grep -c ' connect '; }
export -f slog connections
export T

port_take WEBPORT
cat >"$T/atum.conf" <<CONF
[core]
database_url = $ATUM_TEST_DATABASE_URL
secret_key = test-secret
workers = 2
log_level = debug
[web]
listen = 127.0.0.1:$WEBPORT
[mail]
max_message_size = 1M
[imap]
rescan = 1s
timeout = 10s
command_timeout = 30s
reconnect_max = 32s
# the hostile servers are on loopback and speak in clear (desk/mailbox.h)
allow_insecure_loopback = yes
CONF
export ATUM_CONFIG=$T/atum.conf
export ATUM_IMAP_PASSWORD_DESK=secret
"$CTL" migrate >/dev/null
"$CTL" queue add support support@example.com >/dev/null
add() {   # add NAME [SECURITY] [AFTER]
    "$CTL" mailbox add "$1" --queue support --host 127.0.0.1 --port "$(port "$1")" \
        --security "${2:-none}" --user desk --password-env ATUM_IMAP_PASSWORD_DESK --after "${3:-move}" \
        --move-to Done --poll 600 >/dev/null
}
for s in $ON; do
    case $s in
        rotate) add rotate none seen ;;
        starttls_*) add "$s" starttls ;;
        *) add "$s" ;;
    esac
done

check "atumd starts with all of them configured" atumd_start "$T/atum.conf" "$T/atumd.log"
PID=$ATUMD_PID
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$PID/stat"; }
rss_kb() { awk -v k="$1:" '$1 == k { print $2 }' "/proc/$PID/status"; }
alive() { kill -0 "$PID"; }
CPU0=$(cpu_ticks); T0=$(date +%s%N); RSS0=$(rss_kb VmRSS)

# ---- no crash: a mailbox that cannot be reached is logged and retried ------
if on refused; then
    check "a refused connection is recorded on the mailbox" wait_until 20 bash -c \
        "$PSQL -c \"SELECT last_error FROM mailboxes WHERE name = 'refused'\" | grep -qi 'connection refused'"
    check "... and retried (with a growing delay), atumd still up" wait_until 20 bash -c \
        "[ \$(grep 'mailbox=refused' '$T/atumd.log' | grep -c 'event=imap.error') -ge 3 ] && kill -0 $PID"
fi

# ---- literals ----------------------------------------------------------------
held_size() { $PSQL -c "SELECT envelope->>'size' FROM inbound_mail WHERE state = 'failed' AND envelope->>'mailbox' = '$1' AND envelope->>'too_large' = 'true'"; }
export -f held_size
if on huge_literal; then
    check "{999999999}: the mail is held with the announced size" wait_until 30 bash -c \
        "[ \"\$(held_size huge_literal)\" = 999999999 ]"
    check "... its body is not asked for again" bash -c "[ \$(slog huge_literal | grep -c fetch_body) = 1 ]"
fi
if on max_literal; then
    check "{4294967295}: held with the announced size" wait_until 30 bash -c \
        "[ \"\$(held_size max_literal)\" = 4294967295 ]"
fi
if on wrap_literal; then
    check "{4294967301} (2^32+5): held with the announced size, no wrap-around" wait_until 30 bash -c \
        "[ \"\$(held_size wrap_literal)\" = 4294967301 ]"
fi
if on lying_size; then
    check "RFC822.SIZE 100 but 50 MB sent: held with the size of its literal" wait_until 30 bash -c \
        "[ \"\$(held_size lying_size)\" = 52428800 ]"
fi
for s in huge_literal max_literal wrap_literal lying_size; do
    on "$s" || continue
    check "$s: nothing stored but the held mail's headers" bash -c \
        "[ \"\$($PSQL -c \"SELECT count(*) FROM inbound_mail WHERE envelope->>'mailbox' = '$s' AND state <> 'failed'\")\" = 0 ] &&
         [ \"\$($PSQL -c \"SELECT count(*) FROM inbound_mail WHERE envelope->>'mailbox' = '$s' AND position(convert_to('Message-ID: <$s-1@hostile.test>', 'UTF8') in raw) > 0\")\" = 1 ]"
    check "$s: the refusal is logged clearly" bash -c \
        "grep 'mailbox=$s' '$T/atumd.log' | grep -q 'event=imap.literal_refused.*announced='"
done
check "no 5-byte \"hello\" mail anywhere" bash -c \
    "[ \"\$($PSQL -c \"SELECT count(*) FROM inbound_mail WHERE raw = 'hello'::bytea\")\" = 0 ]"

# ---- other hostile servers: atumd stays up, says why, retries -----------------
if on nesting; then
    check "nesting 200,000 deep is refused" wait_until 30 bash -c \
        "grep 'mailbox=nesting' '$T/atumd.log' | grep -q 'nested parentheses deeper than'"
fi
if on endless_line; then
    check "a line that never ends is refused" wait_until 30 bash -c \
        "grep 'mailbox=endless_line' '$T/atumd.log' | grep -q 'line longer than'"
fi
for s in bad_greeting bye_greeting login_refused wrong_tag bye_flood nesting endless_line; do
    on "$s" || continue
    check "$s: atumd records the failure and tries again" wait_until 40 bash -c \
        "[ \$(connections $s) -ge 2 ] && $PSQL -c \"SELECT last_error FROM mailboxes WHERE name = '$s'\" | grep -q ."
done
# (libetpan reads these well enough: the mail comes in)
for s in good no_uidvalidity unsolicited bytewise nul_literal caps_absurd negative_exists huge_exists; do
    on "$s" || continue
    check "$s: its mail is stored once" wait_until 30 bash -c \
        "[ \"\$($PSQL -c \"SELECT count(*) FROM inbound_mail WHERE envelope->>'mailbox' = '$s' AND state <> 'failed'\")\" = 1 ]"
done
if on nul_literal; then
    check "the NUL bytes are kept" bash -c \
        "[ \"\$($PSQL -c \"SELECT position('\\\\x00'::bytea in raw) > 0 FROM inbound_mail WHERE envelope->>'mailbox' = 'nul_literal'\")\" = t ]"
fi
for s in starttls_garbage starttls_inject; do
    on "$s" || continue
    check "$s: refused, and no LOGIN was ever sent" wait_until 30 bash -c \
        "[ \$(connections $s) -ge 2 ] && ! slog $s | grep -q LOGIN && $PSQL -c \"SELECT last_error FROM mailboxes WHERE name = '$s'\" | grep -q 'STARTTLS\\|TLS'"
done
if on starttls_inject; then
    check "the injected response is named as such" bash -c \
        "$PSQL -c \"SELECT last_error FROM mailboxes WHERE name = 'starttls_inject'\" | grep -q 'data after its OK'"
fi

# ---- IDLE answered at once: passes are paced ----------------------------------
# pauses of 1 s, then doubling after three empty wake-ups: the 8th IDLE
# comes more than 15 s after the 1st (without pacing: within milliseconds)
if on idle_flood; then
    first_idle() { slog idle_flood | awk '$2 == "idle" { print $1; exit }'; }
    export -f first_idle
    check "an IDLE flood is seen" wait_until 20 bash -c "[ -n \"\$(first_idle)\" ]"
    check "... and paced: at most 7 IDLEs in its first 15 s" wait_until 40 bash -c "
        f=\$(first_idle); last=\$(slog idle_flood | tail -n 1 | cut -d' ' -f1)
        [ \$((last - f)) -ge 15000 ] && [ \$(slog idle_flood | awk -v f=\$f '\$2 == \"idle\" && \$1 - f < 15000' | wc -l) -le 7 ]"
fi

# ---- new mail announced in the answer to a command, not in IDLE -------------------
if on late_exists; then
    check "mail announced during a pass is fetched without waiting for IDLE" wait_until 10 bash -c \
        "[ \"\$($PSQL -c \"SELECT count(*) FROM inbound_mail WHERE envelope->>'mailbox' = 'late_exists'\")\" = 2 ]"
fi

# ---- a new UIDVALIDITY at every connection ----------------------------------------
if on rotate; then
    check "rotate: six connections, each with a new UIDVALIDITY" wait_until 60 bash -c "[ \$(connections rotate) -ge 6 ]"
    check "... its three mails were fetched once each" bash -c "[ \$(slog rotate | grep -c fetch_body) = 3 ]"
    check "... and stored once each" bash -c \
        "[ \"\$($PSQL -c \"SELECT count(*) FROM inbound_mail WHERE envelope->>'mailbox' = 'rotate'\")\" = 3 ]"
    check "... making three tickets, no duplicate" wait_until 20 bash -c \
        "[ \"\$($PSQL -c \"SELECT count(*) FROM messages WHERE message_id LIKE 'rotate-%@hostile.test'\")\" = 3 ] &&
         [ \"\$($PSQL -c \"SELECT count(*) FROM inbound_mail WHERE envelope->>'mailbox' = 'rotate' AND duplicate\")\" = 0 ]"
fi

# ---- the reconnect delay starts again after a good session ------------------------
# flaky drops the line after every good pass: seven connections within 20 s
# (a delay that only grows, 1 2 4 8 16 32 s, needs a minute)
if on flaky; then
    check "a good session resets the reconnect delay" wait_until 40 bash -c "
        [ \$(connections flaky) -ge 7 ] &&
        [ \$(slog flaky | awk '\$2 == \"connect\" { t[++n] = \$1 } END { print t[7] - t[1] }') -le 20000 ]"
fi

# ---- CPU and memory over all of the above -------------------------------------------
check "atumd is still up" alive
if alive; then
    CPU1=$(cpu_ticks); T1=$(date +%s%N)
    elapsed_ms=$(( (T1 - T0) / 1000000 )); cpu_ms=$(( (CPU1 - CPU0) * 1000 / $(getconf CLK_TCK) ))
    echo "    atumd: ${cpu_ms} ms CPU in ${elapsed_ms} ms; RSS ${RSS0} kB at start, peak $(rss_kb VmHWM) kB"
    check "CPU stayed under 10 % of one core" test $(( cpu_ms * 10 )) -lt "$elapsed_ms"
    if ldd "$ATUM_BUILDDIR/atumd" 2>/dev/null | grep -q libasan; then
        echo "    (AddressSanitizer build: its shadow memory and quarantine make RSS no measure; not checked)"
    else
        check "peak memory stayed within 96 MB of the start" test $(( $(rss_kb VmHWM) - RSS0 )) -lt 98304
    fi
fi

# ---- a server that goes silent does not hold up the others -----------------------------
if on silent && alive; then
    check "silent: the server stalls atumd mid-session" wait_until 30 bash -c "slog silent | grep -q stalled"
    # (it has been stalling since the start: the read gives up after
    # imap.timeout, 10 s, and atumd connects again a second later)
    check "a silent server is given up on after imap.timeout, not twice that" wait_until 30 bash -c "
        grep 'mailbox=silent' '$T/atumd.log' | grep -q 'error=\"CREATE Done: the server sent nothing for 10000 ms\"' &&
        [ \$(slog silent | awk '\$2 == \"stalled\" && !s { s = \$1 } \$2 == \"connect\" && \$3 == 2 { print \$1 - s }') -le 12500 ]"
    "$CTL" mailbox remove silent >/dev/null
    t_add=$(date +%s%N)
    add late
    check "a mailbox added meanwhile gets its first connection within 5 s" wait_until 5 bash -c "[ \$(connections late) -ge 1 ]"
    echo "    first connection of the new mailbox after $(( ($(date +%s%N) - t_add) / 1000000 )) ms"
    check "the silent one's thread is stopped, and only then said so" wait_until 5 bash -c \
        "grep -q 'event=imap.mailbox_stopped mailbox=silent' '$T/atumd.log'"
    check "... after it was asked to stop" bash -c \
        "grep 'mailbox=silent' '$T/atumd.log' | grep 'imap.mailbox_stopp' | head -1 | grep -q mailbox_stopping"
    add silent2
    check "silent2: stalled mid-session" wait_until 30 bash -c "slog silent2 | grep -q stalled"
fi
if alive; then
    t_term=$(date +%s%N)
    kill -TERM "$PID"
    check "SIGTERM stops atumd within 5 s (while a server is silent)" wait_until 5 bash -c "! kill -0 $PID"
    echo "    stopped after $(( ($(date +%s%N) - t_term) / 1000000 )) ms"
fi
alive && kill -KILL "$PID"       # it did not stop: do not wait for ever
wait "$PID"; rc=$?
ATUMD_PID=
check "atumd exits 0" test "$rc" = 0
finish
