#!/bin/bash
# admin_api_pg.sh -- the admin pages' API beyond the connection tests:
# the outbox (GET /api/v1/outbox with filters and paging, POST
# /outbox/{id}/retry, audited), the mail templates (GET /templates, GET/PUT/
# DELETE /templates/{name} for a queue or for all, POST /templates/preview
# with errors by line), an admin's TOTP reset (POST /users/{id}/totp/reset:
# TOTP gone, access ended, audited), each plugin's settings in GET /plugins,
# and the audit log's filters (action family, kind of object, paging).
# Every route: who may use it (an agent or a customer may not), bad input
# answered with a clear 400/422 naming the field, and nothing changed.
set -u
. "$ATUM_SRCDIR/tests/lib.sh"
T=$ATUM_TEST_TMP
PY=/usr/bin/python3
CTL=$ATUM_BUILDDIR/atumctl
export T

cat >"$T/atum.conf" <<CONF
[core]
database_url = $ATUM_TEST_DATABASE_URL
secret_key = test-secret-for-admin-api-0123456789
workers = 1
plugin_dir = $ATUM_TEST_PLUGIN_DIR
[web]
listen = 127.0.0.1:0
[imap]
enabled = no
[plugin.testplug]
greeting = hi there
CONF
export ATUM_CONFIG=$T/atum.conf
"$CTL" migrate >/dev/null
"$CTL" queue add support support@example.com >/dev/null
"$CTL" user add root@example.com --role admin --no-password >/dev/null
"$CTL" user add agent@example.com --role agent --no-password >/dev/null
"$CTL" user add boss@example.com --role manager --no-password >/dev/null
"$CTL" user add cust@example.org --role customer --no-password >/dev/null
printf 'totp-user-password-1\n' | "$CTL" user add lost@example.com --role agent --password-stdin >/dev/null
ADMIN=$("$CTL" token add root@example.com --name t)
AGENT=$("$CTL" token add agent@example.com --name t)
BOSS=$("$CTL" token add boss@example.com --name t)
CUST=$("$CTL" token add cust@example.org --name t)
LOST=$("$CTL" token add lost@example.com --name t)
trap 'atumd_stop >/dev/null 2>&1' EXIT
atumd_start_port0 "$T/atum.conf" "$T/atumd.log" || { cat "$T/atumd.log"; exit 1; }
U=http://127.0.0.1:$WEBPORT/api/v1
api() {   # api TOKEN METHOD PATH [JSON]: prints the status, the body in $T/body
    curl -s -o "$T/body" -w '%{http_code}' -H "Authorization: Bearer $1" -X "$2" \
        -H 'Content-Type: application/json' ${4:+--data "$4"} "$U$3"
}
expect() {   # expect STATUS TOKEN METHOD PATH [JSON] [JQ]
    local want=$1 got; shift
    got=$(api "$1" "$2" "$3" "${4:-}")
    [ "$got" = "$want" ] || { echo "status $got, wanted $want"; cat "$T/body"; return 1; }
    jq -e "${5:-true}" "$T/body" >/dev/null || { echo "body does not match ${5:-}"; cat "$T/body"; return 1; }
}
export -f api expect q
export U
audits() { q "SELECT count(*) FROM audit_log WHERE action = '$1'"; }
QID=$(q "SELECT id FROM queues WHERE name = 'support'")
LOST_ID=$(q "SELECT id FROM users WHERE email = 'lost@example.com'")
ADMIN_ID=$(q "SELECT id FROM users WHERE email = 'root@example.com'")

# ---- the outbox ---------------------------------------------------------------------
# outgoing mail in every state, as the outbox leaves it
mail() {   # mail STATE UNCONFIRMED RCPT_STATE REPLY -> id
    q "WITH o AS (INSERT INTO outbound_mail (kind, rfc_message_id, mail_from, subject, raw, state,
                  unconfirmed, attempts, last_error)
                  VALUES ('notice', gen_random_uuid()::text || '@test', 'bounces@example.com',
                          'mail $1', convert_to('Subject: x', 'UTF8'), '$1', $2, 2,
                          CASE WHEN '$1' = 'expired' THEN 'gave up after 3 days' END) RETURNING id),
            r AS (INSERT INTO outbound_recipients (outbound_id, address, state, reply)
                  SELECT id, 'someone@example.org', '$3', nullif('$4', '') FROM o)
       SELECT id FROM o" | head -n 1
}
M_FAILED=$(mail failed false failed '550 5.1.1 no such user')
M_SENT=$(mail sent false sent '250 ok')
M_QUEUED=$(mail queued false pending '')
M_UNCONF=$(mail sent true sent 'unconfirmed: the worker died after DATA')
M_EXPIRED=$(mail expired false deferred '451 try later')
check "a manager lists the outbox, newest first" bash -c "
    expect 200 '$BOSS' GET /outbox '' '[.items[].id] == [$M_EXPIRED, $M_UNCONF, $M_QUEUED, $M_SENT, $M_FAILED] and .next_before == null'"
check "each mail with state, attempts, last error and recipients" bash -c "
    expect 200 '$BOSS' GET '/outbox?state=failed' '' '.items | length == 1 and .[0].id == $M_FAILED and .[0].attempts == 2
        and (.[0].last_error | test(\"no such user\")) and .[0].recipients[0].address == \"someone@example.org\"
        and .[0].recipients[0].state == \"failed\"'"
check "state=problem: failed, expired and unconfirmed" bash -c "
    expect 200 '$BOSS' GET '/outbox?state=problem' '' '[.items[].id] == [$M_EXPIRED, $M_UNCONF, $M_FAILED]'"
check "a sent mail that may not have arrived says unconfirmed" bash -c "
    expect 200 '$BOSS' GET '/outbox?state=unconfirmed' '' '[.items[] | [.id, .state]] == [[$M_UNCONF, \"unconfirmed\"]]'"
check "state=sent leaves the unconfirmed one out" bash -c "
    expect 200 '$BOSS' GET '/outbox?state=sent' '' '[.items[].id] == [$M_SENT]'"
check "paging: limit 2, then before=next_before" bash -c "
    expect 200 '$BOSS' GET '/outbox?limit=2' '' '[.items[].id] == [$M_EXPIRED, $M_UNCONF] and .next_before == $M_UNCONF' &&
    expect 200 '$BOSS' GET '/outbox?limit=2&before=$M_UNCONF' '' '[.items[].id] == [$M_QUEUED, $M_SENT]'"
check "an admin lists it too" expect 200 "$ADMIN" GET /outbox
check "an agent may not (403)" expect 403 "$AGENT" GET /outbox
check "nor a customer (403)" expect 403 "$CUST" GET /outbox
check "an unknown state: 400 naming state" expect 400 "$BOSS" GET '/outbox?state=lost' '' '.field == "state" and (.detail | test("problem"))'
check "limit 0: 400 naming limit" expect 400 "$BOSS" GET '/outbox?limit=0' '' '.field == "limit"'
check "limit 501: 400" expect 400 "$BOSS" GET '/outbox?limit=501' '' '.field == "limit"'
check "before=abc: 400 naming before" expect 400 "$BOSS" GET '/outbox?before=abc' '' '.field == "before"'
check "an unknown parameter: 400" expect 400 "$BOSS" GET '/outbox?colour=red'

RETRIES=$(audits outbox.retry)
check "retry of a failed mail: back to the queue, 1 recipient" \
    expect 200 "$BOSS" POST "/outbox/$M_FAILED/retry" '' ".id == $M_FAILED and .state == \"queued\" and .recipients == 1"
check "... queued, its recipient pending, a send job waiting" bash -c "
    [ \"\$(q \"SELECT state FROM outbound_mail WHERE id = $M_FAILED\")\" = queued ] &&
    [ \"\$(q \"SELECT state FROM outbound_recipients WHERE outbound_id = $M_FAILED\")\" = pending ] &&
    [ \"\$(q \"SELECT count(*) FROM jobs WHERE kind = 'mail.send' AND payload->>'outbound_id' = '$M_FAILED'\")\" = 1 ]"
check "... audited (outbox.retry on outbound:ID)" bash -c "
    [ \$(q \"SELECT count(*) FROM audit_log WHERE action = 'outbox.retry' AND target = 'outbound:$M_FAILED'
            AND actor_id = (SELECT id FROM users WHERE email = 'boss@example.com')\") = 1 ]"
check "retry of an expired mail" expect 200 "$ADMIN" POST "/outbox/$M_EXPIRED/retry"
check "retry of an unconfirmed mail" expect 200 "$ADMIN" POST "/outbox/$M_UNCONF/retry" '' '.recipients == 1'
check "a sent mail is not retried: 409, in words" expect 409 "$BOSS" POST "/outbox/$M_SENT/retry" '' '.detail | test("only failed")'
check "... and stays sent" test "$(q "SELECT state FROM outbound_mail WHERE id = $M_SENT")" = sent
check "a queued one neither: 409" expect 409 "$BOSS" POST "/outbox/$M_QUEUED/retry"
check "an unknown mail: 404" expect 404 "$BOSS" POST /outbox/999999/retry
check "retry takes no body: 400" expect 400 "$BOSS" POST "/outbox/$M_SENT/retry" '{"force":true}'
check "an agent may not retry (404)" expect 404 "$AGENT" POST "/outbox/$M_SENT/retry"
check "nor a customer (404)" expect 404 "$CUST" POST "/outbox/$M_SENT/retry"
check "three retries audited, no more" test "$(audits outbox.retry)" = $((RETRIES + 3))

# ---- templates -----------------------------------------------------------------------
check "every template, none overridden yet" bash -c "
    expect 200 '$BOSS' GET /templates '' '(.items | length) == 11 and (.items[] | select(.name == \"ack\")
        | .global == null and .queues == [] and (.variables | index(\"customer_name\")))'"
check "the built-in in effect" expect 200 "$BOSS" GET /templates/ack '' \
    '.origin == "default" and .override == false and (.subject | test("ticket")) and .default.body == .body and .queue_id == null'
SETS=$(audits template.set)
G='{"subject":"[#{{ticket}}] We got it: {{subject}}","body":"Hi {{customer_name}},\n\nwe have your mail.\n"}'
check "an admin sets the global override: 201" expect 201 "$ADMIN" PUT /templates/ack "$G" \
    '.origin == "global" and .override == true and .subject == "[#{{ticket}}] We got it: {{subject}}"'
check "setting it again: 200" expect 200 "$ADMIN" PUT /templates/ack "$G"
check "a queue sees the global one" expect 200 "$BOSS" GET "/templates/ack?queue_id=$QID" '' '.origin == "global" and .override == false'
Q='{"subject":"Support got it: {{subject}}","body":"Dear {{customer_name}}, see {{portal_url}}\n"}'
check "a queue's own override: 201" expect 201 "$ADMIN" PUT "/templates/ack?queue_id=$QID" "$Q" \
    ".origin == \"queue\" and .override == true and .queue_id == $QID"
check "the outbox's renderer sees both: atumctl template show" bash -c "
    '$CTL' template show ack | grep -q 'We got it' && '$CTL' template show ack --queue support | grep -q 'Support got it'"
check "the list shows them" bash -c "
    expect 200 '$BOSS' GET /templates '' '.items[] | select(.name == \"ack\") | .global != null and .queues[0].queue_name == \"support\"'"
check "both writes audited (template.set, template:ack)" bash -c "
    [ \$(q \"SELECT count(*) FROM audit_log WHERE action = 'template.set' AND target = 'template:ack'\") = $((SETS + 3)) ]"
check "the queue's id is in the audit row" bash -c "
    [ \$(q \"SELECT count(*) FROM audit_log WHERE action = 'template.set' AND detail->>'queue_id' = '$QID'\") = 1 ]"

BEFORE=$(q "SELECT md5(string_agg(source, '|' ORDER BY queue_id NULLS FIRST)) FROM mail_templates")
SETS=$(audits template.set)
check "an unknown variable: 422 on body, with its line" expect 422 "$ADMIN" PUT /templates/ack \
    '{"subject":"Hi","body":"one\ntwo\nthree {{nope}}\n"}' '.field == "body" and (.detail | test("line 3")) and (.detail | test("nope"))'
check "a '{{' without '}}' in the subject: 422 on subject" expect 422 "$ADMIN" PUT /templates/ack \
    '{"subject":"Hi {{ticket","body":"x"}' '.field == "subject"'
check "a subject of two lines: 422 on subject" expect 422 "$ADMIN" PUT /templates/ack \
    '{"subject":"Hi\nBcc: x@evil.example","body":"x"}' '.field == "subject"'
check "an empty subject: 422 on subject" expect 422 "$ADMIN" PUT /templates/ack '{"subject":"","body":"x"}' '.field == "subject"'
check "no body: 400 on body" expect 400 "$ADMIN" PUT /templates/ack '{"subject":"x"}' '.field == "body"'
check "an unknown field: 400" expect 400 "$ADMIN" PUT /templates/ack '{"subject":"x","body":"y","html":"z"}' '.field == "html"'
check "an unknown template: 404" expect 404 "$ADMIN" PUT /templates/nope "$G"
check "an unknown queue: 422 on queue_id" expect 422 "$ADMIN" PUT '/templates/ack?queue_id=999999' "$G" '.field == "queue_id"'
check "queue_id=abc: 400 on queue_id" expect 400 "$ADMIN" PUT '/templates/ack?queue_id=abc' "$G" '.field == "queue_id"'
check "a variable of another template: 422" expect 422 "$ADMIN" PUT /templates/ack '{"subject":"x","body":"{{rate_url}}"}' '.field == "body"'
check "a manager may read but not write (404)" expect 404 "$BOSS" PUT /templates/ack "$G"
check "an agent may not list templates (403)" expect 403 "$AGENT" GET /templates
check "nor read one (404)" expect 404 "$AGENT" GET /templates/ack
check "a customer neither (403)" expect 403 "$CUST" GET /templates
check "nothing was stored by the refused writes" test "$(q "SELECT md5(string_agg(source, '|' ORDER BY queue_id NULLS FIRST)) FROM mail_templates")" = "$BEFORE"
check "nor audited" test "$(audits template.set)" = "$SETS"

P="{\"name\":\"ack\",\"queue_id\":$QID,\"subject\":\"[#{{ticket}}] {{subject}}\",\"body\":\"Hello **{{customer_name}}** of {{queue_name}}\\n\\n<script>alert(1)</script>\\n\"}"
check "a preview renders with a sample ticket and the queue's name" expect 200 "$BOSS" POST /templates/preview "$P" \
    '.ok == true and (.subject | test("^\\[#1042\\] ")) and (.html | test("<strong>Casey Customer</strong> of support"))
     and (.text | test("Casey Customer")) and .errors == []'
check "raw HTML in a template does not get through" bash -c "! jq -r .html '$T/body' | grep -q '<script>'"
check "a broken template: ok false, each error with part and line" expect 200 "$BOSS" POST /templates/preview \
    '{"name":"solved","subject":"{{tickt}} solved","body":"fine\n{{rate_1}}\nnot {{fine\n"}' \
    '.ok == false and .html == null and ([.errors[] | [.field, .line]] == [["subject", 1], ["body", 3]])
     and (.errors[0].message | test("tickt"))'
check "a preview of an unknown template: 422 on name" expect 422 "$BOSS" POST /templates/preview \
    '{"name":"nope","subject":"x","body":"y"}' '.field == "name"'
check "of an unknown queue: 422 on queue_id" expect 422 "$BOSS" POST /templates/preview \
    '{"name":"ack","queue_id":999999,"subject":"x","body":"y"}' '.field == "queue_id"'
check "a preview without a subject: 400" expect 400 "$BOSS" POST /templates/preview '{"name":"ack","body":"y"}' '.field == "subject"'
check "an agent may not preview (403)" expect 403 "$AGENT" POST /templates/preview "$P"
check "a preview stores nothing" test "$(q "SELECT md5(string_agg(source, '|' ORDER BY queue_id NULLS FIRST)) FROM mail_templates")" = "$BEFORE"

RESETS=$(audits template.reset)
check "DELETE for the queue: back to the global override" expect 200 "$ADMIN" DELETE "/templates/ack?queue_id=$QID" '' \
    '.origin == "global" and .override == false'
check "DELETE again: 404, nothing to remove" expect 404 "$ADMIN" DELETE "/templates/ack?queue_id=$QID"
check "DELETE a body: 400" expect 400 "$ADMIN" DELETE /templates/ack '{"x":1}'
check "a manager may not DELETE (404)" expect 404 "$BOSS" DELETE /templates/ack
check "DELETE the global one: back to the default" expect 200 "$ADMIN" DELETE /templates/ack '' '.origin == "default"'
check "no override left" test "$(q "SELECT count(*) FROM mail_templates")" = 0
check "two resets audited" test "$(audits template.reset)" = $((RESETS + 2))

# ---- TOTP reset ---------------------------------------------------------------------------
totp_code() {   # totp_code BASE32SECRET
    $PY - "$1" <<'PY'
import base64, hashlib, hmac, struct, sys, time
key = base64.b32decode(sys.argv[1] + "=" * (-len(sys.argv[1]) % 8))
mac = hmac.new(key, struct.pack(">Q", int(time.time()) // 30), hashlib.sha1).digest()
o = mac[-1] & 15
print("%06d" % ((struct.unpack(">I", mac[o:o + 4])[0] & 0x7fffffff) % 1000000))
PY
}
api "$LOST" POST /auth/totp '{}' >/dev/null
SECRET=$(jq -r .secret "$T/body")
check "the user enrols TOTP" expect 200 "$LOST" POST /auth/totp/verify "{\"code\":\"$(totp_code "$SECRET")\"}" '.enabled == true'
check "... and a login now asks for a code" bash -c "
    curl -s -H 'Content-Type: application/json' --data '{\"email\":\"lost@example.com\",\"password\":\"totp-user-password-1\"}' \
        '$U/auth/login' | jq -e '.totp_required == true'"
check "a manager may not reset it (404)" expect 404 "$BOSS" POST "/users/$LOST_ID/totp/reset"
check "nor an agent (404)" expect 404 "$AGENT" POST "/users/$LOST_ID/totp/reset"
check "nor a customer (404)" expect 404 "$CUST" POST "/users/$LOST_ID/totp/reset"
check "with a body: 400" expect 400 "$ADMIN" POST "/users/$LOST_ID/totp/reset" '{"why":"lost"}'
check "nothing changed for them" test "$(q "SELECT count(*) FROM user_totp WHERE user_id = $LOST_ID AND enabled")" = 1
check "an admin resets it" expect 200 "$ADMIN" POST "/users/$LOST_ID/totp/reset" '' ".user_id == $LOST_ID and .totp_enabled == false"
check "TOTP and recovery codes are gone" bash -c "
    [ \$(q 'SELECT count(*) FROM user_totp WHERE user_id = $LOST_ID') = 0 ] &&
    [ \$(q 'SELECT count(*) FROM recovery_codes WHERE user_id = $LOST_ID') = 0 ]"
check "the user's access ended: their token is refused" expect 401 "$LOST" GET /auth/me
check "a login with the password alone works again" bash -c "
    curl -s -H 'Content-Type: application/json' --data '{\"email\":\"lost@example.com\",\"password\":\"totp-user-password-1\"}' \
        '$U/auth/login' | jq -e '.totp_required != true and .user.email == \"lost@example.com\"'"
check "audited: user.totp_reset and user.access_ended" bash -c "
    [ \$(q \"SELECT count(*) FROM audit_log WHERE action = 'user.totp_reset' AND target = 'user:$LOST_ID' AND actor_id = $ADMIN_ID\") = 1 ] &&
    [ \$(q \"SELECT count(*) FROM audit_log WHERE action = 'user.access_ended' AND target = 'user:$LOST_ID'\") = 1 ]"
check "again: 409, there is none" expect 409 "$ADMIN" POST "/users/$LOST_ID/totp/reset" '' '.detail | test("no TOTP")'
check "not one's own: 409" expect 409 "$ADMIN" POST "/users/$ADMIN_ID/totp/reset" '' '.detail | test("totp/disable")'
check "an unknown user: 404" expect 404 "$ADMIN" POST /users/999999/totp/reset
check "one reset audited" test "$(audits user.totp_reset)" = 1

# ---- plugins: settings, read-only ---------------------------------------------------------
check "each plugin's settings, with where the value comes from" expect 200 "$ADMIN" GET /plugins '' \
    '.items[] | select(.name == "testplug") | .state == "loaded" and .abi > 0 and .version == "1.0"
     and (.settings | length == 1) and .settings[0].key == "greeting" and .settings[0].value == "hi there"
     and .settings[0].source == "file" and .settings[0].default == "hello" and .settings[0].secret == false
     and .settings[0].env == "ATUM_PLUGIN_TESTPLUG_GREETING"'
check "an agent may not list plugins (403)" expect 403 "$AGENT" GET /plugins

# ---- the audit log's filters ----------------------------------------------------------------
check "a family of actions: template.*" expect 200 "$ADMIN" GET '/audit?action=template.*' '' \
    '(.items | length) == 5 and ([.items[].action] | unique) == ["template.reset", "template.set"]'
check "an exact action still matches exactly" expect 200 "$ADMIN" GET '/audit?action=template.set' '' '(.items | length) == 3'
check "a kind of object: target_type=outbound" expect 200 "$ADMIN" GET '/audit?target_type=outbound' '' \
    '(.items | length) == 3 and ([.items[].target | startswith("outbound:")] | all)'
check "one object: target" expect 200 "$ADMIN" GET "/audit?target=outbound:$M_FAILED" '' '(.items | length) == 1'
check "an actor" expect 200 "$ADMIN" GET "/audit?actor_id=$ADMIN_ID&action=user.*" '' \
    '[.items[].action] == ["user.access_ended", "user.totp_reset"]'
check "a time range" expect 200 "$ADMIN" GET '/audit?since=2000-01-01T00:00:00Z&until=2000-01-02T00:00:00Z' '' '.items == [] and .next_before_seq == null'
check "paging: limit 2 gives next_before_seq, and the next page follows" bash -c "
    expect 200 '$ADMIN' GET '/audit?action=template.*&limit=2' '' '(.items | length) == 2 and .next_before_seq == .items[1].seq' &&
    N=\$(jq .next_before_seq '$T/body') &&
    expect 200 '$ADMIN' GET \"/audit?action=template.*&limit=2&before_seq=\$N\" '' \"(.items | length) == 2 and .items[0].seq < \$N\""
check "a bad time: 400 naming it" expect 400 "$ADMIN" GET '/audit?since=yesterday-ish' '' '.field == "since"'
check "an agent may not read the audit log (403)" expect 403 "$AGENT" GET /audit
check "the audit chain still verifies" expect 200 "$ADMIN" GET /audit/verify '' '.ok == true'
check "atumd stops cleanly" atumd_stop
finish
