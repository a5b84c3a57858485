#!/bin/bash
# admin_mailtest_pg.sh -- the admin pages' "test connection" buttons:
# POST /api/v1/mailboxes/test (settings not saved yet), POST
# /api/v1/mailboxes/{id}/test (a saved mailbox, its password from its
# variable) against the tests' Dovecot (plain, STARTTLS, implicit TLS),
# with a wrong password, a wrong folder, nothing listening and scripted
# hostile servers (tests/imapserver.py); POST /api/v1/smarthost/test
# against aiosmtpd (tests/smtpsink.py) with STARTTLS and AUTH, implicit TLS, a wrong
# password, a certificate it cannot check and nothing listening.  Roles
# (only admins), bad input (a clear 400/422, nothing stored), and no mail
# sent by a smarthost test.
set -u
. "$ATUM_SRCDIR/tests/lib.sh"
. "$ATUM_SRCDIR/tests/pg.sh"
. "$ATUM_SRCDIR/tests/dovecot.sh"
T=$ATUM_TEST_TMP
PY=/usr/bin/python3
CTL=$ATUM_BUILDDIR/atumctl
export T

# ---- servers: Dovecot (certificate for IP 127.0.0.1), hostile IMAP, SMTP sink --
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=mail test" \
    -addext "subjectAltName=IP:127.0.0.1" -keyout "$T/key.pem" -out "$T/cert.pem" >/dev/null 2>&1
chmod 644 "$T/key.pem"
dovecot_start "$T/dovecot" desk imap-secret "$T/cert.pem" "$T/key.pem" || exit 1
mkdir -p "$T/imap" "$T/sink"
$PY "$ATUM_SRCDIR/tests/imapserver.py" "$T/imap" refused bye_greeting login_refused \
    starttls_inject silent >"$T/imap/server.out" 2>&1 &
IMAPSRV=$!
$PY "$ATUM_SRCDIR/tests/smtpsink.py" --port 0 --port-file "$T/sink.port" --dir "$T/sink" \
    --tls-cert "$T/cert.pem" --tls-key "$T/key.pem" --auth relay:relay-secret >"$T/sink.log" 2>&1 &
SINK=$!
$PY "$ATUM_SRCDIR/tests/smtpsink.py" --port 0 --port-file "$T/sinks.port" --dir "$T/sink" \
    --tls-cert "$T/cert.pem" --tls-key "$T/key.pem" --implicit-tls --auth relay:relay-secret >"$T/sinks.log" 2>&1 &
SINKS=$!
stop_all() {
    atumd_stop >/dev/null 2>&1
    kill "$IMAPSRV" "$SINK" "$SINKS" 2>/dev/null
    wait "$IMAPSRV" "$SINK" "$SINKS" 2>/dev/null
    dovecot_stop "$T/dovecot"
}
trap stop_all EXIT
wait_until 20 test -s "$T/imap/ports" || { echo "the hostile IMAP server did not start"; cat "$T/imap/server.out"; exit 1; }
wait_until 20 test -s "$T/sink.port" || { echo "the SMTP sink did not start"; cat "$T/sink.log"; exit 1; }
wait_until 20 test -s "$T/sinks.port" || { echo "the SMTPS sink did not start"; cat "$T/sinks.log"; exit 1; }
hport() { awk -v n="$1" '$1 == n { print $2 }' "$T/imap/ports"; }
SINKPORT=$(cat "$T/sink.port")
SINKSPORT=$(cat "$T/sinks.port")
port_take DEADPORT     # reserved here, and nothing listens on it

# ---- atumd ------------------------------------------------------------------------
conf() {   # conf SMARTHOST_LINES...
    cat >"$T/atum.conf" <<CONF
[core]
database_url = $ATUM_TEST_DATABASE_URL
secret_key = test-secret-for-admin-tools-0123456789
workers = 1
[web]
listen = 127.0.0.1:0
[imap]
# the test's servers: loopback, in clear or self-signed; the poller is off
enabled = no
allow_insecure_loopback = yes
ca_file = $T/cert.pem
timeout = 5s
[smarthost]
helo = atum.test
timeout = 10s
ca_file = $T/cert.pem
CONF
    printf '%s\n' "$@" >>"$T/atum.conf"
}
conf "url = smtp://127.0.0.1:$SINKPORT" "starttls = yes" "username = relay" "password = relay-secret"
export ATUM_CONFIG=$T/atum.conf
export ATUM_IMAP_PASSWORD_DESK=imap-secret
"$CTL" migrate >/dev/null
"$CTL" queue add support support@example.com >/dev/null
"$CTL" user add root@example.com --role admin --no-password >/dev/null
"$CTL" user add agent@example.com --role agent --no-password >/dev/null
"$CTL" user add boss@example.com --role manager --no-password >/dev/null
"$CTL" user add cust@example.org --role customer --no-password >/dev/null
ADMIN=$("$CTL" token add root@example.com --name t)
AGENT=$("$CTL" token add agent@example.com --name t)
BOSS=$("$CTL" token add boss@example.com --name t)
CUST=$("$CTL" token add cust@example.org --name t)
atumd_start_port0 "$T/atum.conf" "$T/atumd.log" || { cat "$T/atumd.log"; exit 1; }
U=http://127.0.0.1:$WEBPORT/api/v1
# api TOKEN METHOD PATH [JSON]: prints the status, the body in $T/body
api() {
    curl -s -o "$T/body" -w '%{http_code}' -H "Authorization: Bearer $1" -X "$2" \
        -H 'Content-Type: application/json' ${4:+--data "$4"} "$U$3"
}
# expect STATUS TOKEN METHOD PATH [JSON] [JQ]: the status, and the body passes the jq filter
expect() {
    local want=$1 got; shift
    got=$(api "$1" "$2" "$3" "${4:-}")
    [ "$got" = "$want" ] || { echo "status $got, wanted $want"; cat "$T/body"; return 1; }
    jq -e "${5:-true}" "$T/body" >/dev/null || { echo "body does not match ${5:-}"; cat "$T/body"; return 1; }
}
export -f api expect
export U ADMIN AGENT BOSS CUST
# the settings of the Dovecot mailbox, with changes: box KEY=JSON...
box() {
    local j="{\"host\":\"127.0.0.1\",\"port\":$DOVECOT_PORT,\"security\":\"none\",\"username\":\"desk\",\"password\":\"imap-secret\",\"folder\":\"INBOX\"}" kv
    for kv in "$@"; do j=$(jq -c --argjson v "${kv#*=}" ". + {\"${kv%%=*}\": \$v}" <<<"$j"); done
    echo "$j"
}
steps() { jq -r '[.steps[] | "\(.step)=\(.ok)"] | join(" ")' "$T/body"; }
# steps_are "connect=true login=false": the steps as reported, in order
steps_are() { [ "$(steps)" = "$1" ] || { echo "steps: $(steps)"; cat "$T/body"; return 1; }; }
export -f steps steps_are

# ---- IMAP: the settings being edited -----------------------------------------------
check "plain on loopback: connect, login, folder" bash -c "
    expect 200 '$ADMIN' POST /mailboxes/test '$(box)' '.ok == true' && steps_are 'connect=true login=true folder=true'"
check "the connect step quotes the server's greeting" jq -e '.steps[0].detail | test("Dovecot")' "$T/body"
check "STARTTLS, certificate checked against [imap] ca_file" bash -c "
    expect 200 '$ADMIN' POST /mailboxes/test '$(box security='"starttls"')' '.ok == true' &&
    steps_are 'connect=true tls=true login=true folder=true' && jq -e '.steps[1].detail | test(\"valid\")' '$T/body'"
check "implicit TLS on its own port" bash -c "
    expect 200 '$ADMIN' POST /mailboxes/test '$(box security='"tls"' port="$DOVECOT_TLS_PORT")' '.ok == true' &&
    steps_are 'connect=true tls=true login=true folder=true'"
check "a folder that does not exist: folder fails" bash -c "
    expect 200 '$ADMIN' POST /mailboxes/test '$(box folder='"No/Such"')' '.ok == false' &&
    steps_are 'connect=true login=true folder=false' && jq -e '.steps[2].detail | test(\"No/Such\")' '$T/body'"
check "nothing listening: connect fails, in words" bash -c "
    expect 200 '$ADMIN' POST /mailboxes/test '$(box port="$DEADPORT")' '.ok == false' &&
    steps_are 'connect=false' && jq -e '.steps[0].detail | test(\"Could not reach\")' '$T/body'"
check "TLS to a port that speaks plain IMAP: tls fails" bash -c "
    expect 200 '$ADMIN' POST /mailboxes/test '$(box security='"tls"')' '.ok == false' && steps_are 'connect=true tls=false'"
check "a server that says BYE in its greeting" bash -c "
    expect 200 '$ADMIN' POST /mailboxes/test '$(box port="$(hport bye_greeting)")' '.ok == false' &&
    steps_are 'connect=false' && jq -e '.steps[0].detail | test(\"BYE\")' '$T/body'"
check "a server that injects a response into STARTTLS" bash -c "
    expect 200 '$ADMIN' POST /mailboxes/test '$(box security='"starttls"' trust_any_certificate=true port="$(hport starttls_inject)")' \
        '.ok == false' && steps_are 'connect=true tls=false'"
check "a server that refuses every login" bash -c "
    expect 200 '$ADMIN' POST /mailboxes/test '$(box port="$(hport login_refused)")' '.ok == false' &&
    steps_are 'connect=true login=false'"
# a server that stops answering after LOGIN: the read timeout ([imap]
# timeout 5s here) ends the test; the bound is the test's own
T0=$(date +%s%N)
check "a server that never answers the folder command: over within its read timeout" bash -c "
    expect 200 '$ADMIN' POST /mailboxes/test '$(box port="$(hport silent)")' '.ok == false' && steps_are 'connect=true login=true folder=false'"
check "... in less than 10 s" test $(( ($(date +%s%N) - T0) / 1000000 )) -lt 10000
check "the test used EXAMINE, never SELECT" bash -c "grep -q 'cmd [^ ]* EXAMINE' '$T/imap/silent.log' && ! grep -q 'cmd [^ ]* SELECT' '$T/imap/silent.log'"
check "the password from a variable of the mailbox namespace" bash -c "
    expect 200 '$ADMIN' POST /mailboxes/test '$(box password=null password_env='"ATUM_IMAP_PASSWORD_DESK"' | jq -c 'del(.password)')' '.ok == true'"

# (last against Dovecot: it delays the next login after a failed one)
check "a wrong password: login fails, in words" bash -c "
    expect 200 '$ADMIN' POST /mailboxes/test '$(box password='"wrong"')' '.ok == false' &&
    steps_are 'connect=true login=false' && jq -e '.steps[1].detail | test(\"Logging in failed -- login as desk: login failed\")' '$T/body'"

# ---- IMAP: a saved mailbox ------------------------------------------------------------
QID=$(q "SELECT id FROM queues WHERE name = 'support'")
api "$ADMIN" POST /mailboxes "{\"name\":\"desk\",\"queue_id\":$QID,\"host\":\"127.0.0.1\",\"port\":$DOVECOT_PORT,\"security\":\"starttls\",\"username\":\"desk\",\"password_env\":\"ATUM_IMAP_PASSWORD_DESK\"}" >"$T/status"
MB=$(jq -r .id "$T/body")
check "a mailbox is saved" test "$(cat "$T/status")" = 201
check "testing the saved mailbox: password from its variable, ok" bash -c "
    expect 200 '$ADMIN' POST /mailboxes/$MB/test '' '.ok == true' && steps_are 'connect=true tls=true login=true folder=true'"
api "$ADMIN" PATCH "/mailboxes/$MB" '{"password_env":"ATUM_IMAP_PASSWORD_UNSET"}' >/dev/null
check "a variable that is not set: 422 on password_env, nothing tried" bash -c "
    expect 422 '$ADMIN' POST /mailboxes/$MB/test '' '.field == \"password_env\"'"
api "$ADMIN" PATCH "/mailboxes/$MB" '{"password_env":null}' >/dev/null
check "no variable at all: 422 on password_env" expect 422 "$ADMIN" POST "/mailboxes/$MB/test" '' '.field == "password_env"'
check "an unknown mailbox: 404" expect 404 "$ADMIN" POST /mailboxes/999999/test
check "the saved-mailbox test takes no body" expect 400 "$ADMIN" POST "/mailboxes/$MB/test" '{"password":"x"}'

# ---- roles -------------------------------------------------------------------------------
check "an agent may not test settings (403)" expect 403 "$AGENT" POST /mailboxes/test "$(box)"
check "nor a manager (403)" expect 403 "$BOSS" POST /mailboxes/test "$(box)"
check "nor a customer (403)" expect 403 "$CUST" POST /mailboxes/test "$(box)"
check "an agent does not see a saved mailbox's test (404)" expect 404 "$AGENT" POST "/mailboxes/$MB/test"
check "an agent may not test the smarthost (403)" expect 403 "$AGENT" POST /smarthost/test
check "nor a customer (403)" expect 403 "$CUST" POST /smarthost/test
check "nothing was tried for them: Dovecot saw only the admin's logins" bash -c "
    [ \$(grep -c 'Login: user=<desk>' '$T/dovecot/dovecot.log') -ge 5 ]"

# ---- bad input: a clear error naming the field, nothing stored --------------------------
MAILBOXES=$(q "SELECT count(*) FROM mailboxes")
AUDIT=$(q "SELECT count(*) FROM audit_log")
LOGINS=$(grep -c 'Login: user=<desk>' "$T/dovecot/dovecot.log")
bad() {   # bad STATUS FIELD JSON
    expect "$1" "$ADMIN" POST /mailboxes/test "$3" ".status == $1 and .field == \"$2\" and (.detail | length > 10)"
}
export -f bad box
check "no host: 400 host" bad 400 host "$(box | jq -c 'del(.host)')"
check "an empty host: 400 host" bad 400 host "$(box host='""')"
check "port 0: 400 port" bad 400 port "$(box port=0)"
check "port 70000: 400 port" bad 400 port "$(box port=70000)"
check "a port as text: 400 port" bad 400 port "$(box port='"143"')"
check "an unknown security: 400 security" bad 400 security "$(box security='"ssl"')"
check "no password at all: 400 password" bad 400 password "$(box | jq -c 'del(.password)')"
check "both password and password_env: 400 password" bad 400 password "$(box password_env='"ATUM_IMAP_PASSWORD_DESK"')"
check "a variable outside the namespace: 400 password_env" bad 400 password_env "$(box | jq -c 'del(.password) + {password_env: "ATUM_CORE_SECRET_KEY"}')"
check "a password in clear to another host: 400 security" bad 400 security "$(box host='"imap.example.com"')"
check "an unchecked certificate of another host: 400 trust_any_certificate" \
    bad 400 trust_any_certificate "$(box host='"imap.example.com"' security='"tls"' trust_any_certificate=true)"
check "an unknown field: 400 naming it" bad 400 colour "$(box colour='"red"')"
check "not JSON: 400" bash -c "[ \$(curl -s -o /dev/null -w '%{http_code}' -H 'Authorization: Bearer $ADMIN' -H 'Content-Type: application/json' --data '{nope' -X POST '$U/mailboxes/test') = 400 ]"
check "no mailbox was stored by any test" test "$(q "SELECT count(*) FROM mailboxes")" = "$MAILBOXES"
check "and no audit row written" test "$(q "SELECT count(*) FROM audit_log")" = "$AUDIT"
check "and no bad input reached Dovecot" test "$(grep -c 'Login: user=<desk>' "$T/dovecot/dovecot.log")" = "$LOGINS"

# ---- the smarthost ------------------------------------------------------------------------
reload_atumd() {
    local n
    n=$(grep -c 'event=reload.done' "$T/atumd.log")
    kill -HUP "$ATUMD_PID"
    wait_until 10 bash -c "[ \$(grep -c 'event=reload.done' '$T/atumd.log') -gt $n ]"
}
check "STARTTLS and AUTH: every step passes" bash -c "
    expect 200 '$ADMIN' POST /smarthost/test '' '.ok == true' && steps_are 'connect=true ehlo=true starttls=true auth=true'"
check "the steps say what happened" jq -e '(.steps[0].detail | test("220")) and (.steps[2].detail | test("valid")) and (.steps[3].detail | test("relay"))' "$T/body"
check "a smarthost test sends no mail" bash -c "[ -z \"\$(ls '$T/sink')\" ]"
check "the test takes no body" expect 400 "$ADMIN" POST /smarthost/test '{"url":"smtp://evil"}'
conf "url = smtp://127.0.0.1:$SINKPORT" "starttls = yes" "username = relay" "password = wrong"
check "reload with a wrong password" reload_atumd
check "a wrong password: auth fails, in words" bash -c "
    expect 200 '$ADMIN' POST /smarthost/test '' '.ok == false' && steps_are 'connect=true ehlo=true starttls=true auth=false' &&
    jq -e '.steps[3].detail | test(\"refused the login as relay\")' '$T/body'"
check "the wrong password is not in the answer" bash -c "! grep -q wrong '$T/body'"
conf "url = smtps://127.0.0.1:$SINKSPORT" "username = relay" "password = relay-secret"
check "reload with implicit TLS (smtps://)" reload_atumd
check "smtps: TLS first, then EHLO and AUTH" bash -c "
    expect 200 '$ADMIN' POST /smarthost/test '' '.ok == true' && steps_are 'connect=true tls=true ehlo=true auth=true'"
conf "url = smtp://127.0.0.1:$SINKPORT" "starttls = yes" "username = relay" "password = relay-secret"
python3 - "$T/atum.conf" <<'PY'
import sys
p = sys.argv[1]
lines = open(p).read().split("\n")
out, section = [], ""
for l in lines:
    if l.startswith("["):
        section = l
    if section == "[smarthost]" and l.startswith("ca_file"):
        continue          # a certificate nobody vouches for
    out.append(l)
open(p, "w").write("\n".join(out))
PY
check "reload without the CA" reload_atumd
check "a certificate that cannot be checked: starttls fails" bash -c "
    expect 200 '$ADMIN' POST /smarthost/test '' '.ok == false' && steps_are 'connect=true ehlo=true starttls=false'"
conf "url = smtp://127.0.0.1:$DEADPORT"
check "reload with nothing listening" reload_atumd
check "nothing listening: connect fails, in words" bash -c "
    expect 200 '$ADMIN' POST /smarthost/test '' '.ok == false' && steps_are 'connect=false' &&
    jq -e '.steps[0].detail | test(\"Could not reach\")' '$T/body'"
conf
check "reload with no smarthost" reload_atumd
check "no smarthost configured: says so" bash -c "
    expect 200 '$ADMIN' POST /smarthost/test '' '.ok == false' && jq -e '.steps[0].detail | test(\"No smarthost\")' '$T/body'"
check "still no mail in the sink" bash -c "[ -z \"\$(ls '$T/sink')\" ]"
check "atumd stops cleanly" atumd_stop
finish
