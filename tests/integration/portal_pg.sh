#!/bin/bash
# portal_pg.sh -- customer accounts, the portal's API and satisfaction
# ratings, through a real atumd with a private PostgreSQL (tests/run-test)
# and a real smarthost (tests/smtpsink.py) that keeps every mail:
#  - "send me a link": single use, expiry, stored hashed, the same answer
#    and the same work (one queued job) for known, unknown and staff
#    addresses, staff never get a link, per-address and per-IP limits,
#    audited; a disabled account's link does nothing;
#  - sign-up off (403) and on per queue, verified by mail before any
#    account exists; invitations by staff (customers only);
#  - the export holds the customer's data only, no internal note;
#    customer A cannot read customer B's ticket; no internal note in any
#    answer a customer gets; replies and new tickets with attachments;
#  - CSAT: the solved mail (once), its signed link (tampered, expired,
#    twice, after the window), the portal's rating, csat.rated as a
#    webhook, shown to agents in GET /tickets/{id};
#  - the portal page for the acknowledgement's link; the logo.
set -u
. "$ATUM_SRCDIR/tests/lib.sh"
T=$ATUM_TEST_TMP
B=$ATUM_BUILDDIR
CTL=$B/atumctl
PY=/usr/bin/python3
MC="$PY $ATUM_SRCDIR/tests/mailcheck.py"
SECRET=portal-secret-0123456789abcdef0123456789
SINK=$T/sink
cleanup() {
    atumd_stop
    [ -n "${SINK_PID:-}" ] && kill "$SINK_PID" 2>/dev/null && wait "$SINK_PID" 2>/dev/null
    return 0
}
trap cleanup EXIT

$PY "$ATUM_SRCDIR/tests/smtpsink.py" --port 0 --port-file "$T/sink.port" --dir "$SINK" >>"$T/sink.log" 2>&1 &
SINK_PID=$!
wait_until 10 test -s "$T/sink.port" || { echo "FAIL: the smarthost did not start"; cat "$T/sink.log"; exit 1; }

cat >"$T/atum.conf" <<CONF
[core]
database_url = $ATUM_TEST_DATABASE_URL
secret_key = $SECRET
workers = 2
public_url = http://portal.test
[web]
listen = 127.0.0.1:0
assets_dir = $B/web/dist
trusted_proxies = 127.0.0.1
[queue]
poll_interval = 200ms
[imap]
enabled = no
[mail]
org_by_domain = yes
[smarthost]
url = smtp://127.0.0.1:$(cat "$T/sink.port")
starttls = no
retry_min = 1s
retry_max = 2s
[portal]
title = Example Help
link_limit_address = 3
link_limit_ip = 6
link_window = 1h
CONF
export ATUM_CONFIG=$T/atum.conf
"$CTL" migrate >/dev/null || { echo "FAIL: migrate"; exit 1; }
"$CTL" queue add support support@example.com >/dev/null
"$CTL" queue add sales sales@example.com >/dev/null
printf 'agent-password-1\n' | "$CTL" user add ann@example.com --name 'Ann Agent' --role agent --password-stdin >/dev/null
printf 'admin-password-1\n' | "$CTL" user add root@example.com --name 'Ada Admin' --role admin --password-stdin >/dev/null
"$CTL" queue member support ann@example.com >/dev/null
AGENT=$("$CTL" token add ann@example.com --name test | grep -o 'atum_[A-Za-z0-9_-]*' | head -n 1)
ADMIN=$("$CTL" token add root@example.com --name test | grep -o 'atum_[A-Za-z0-9_-]*' | head -n 1)
atumd_start_port0 "$T/atum.conf" "$T/atumd.log" || { echo "FAIL: atumd did not start"; tail -n 30 "$T/atumd.log"; exit 1; }
U=http://127.0.0.1:$WEBPORT

# ---- helpers ----------------------------------------------------------------
# anon METHOD PATH [JSON] [XFF]: no credentials; prints "STATUS BODY"
anon() {
    curl -s -o "$T/out" -w '%{http_code}' -X "$1" -H 'Content-Type: application/json' \
        ${4:+-H "X-Forwarded-For: $4"} ${3:+--data "$3"} "$U$2"
    printf ' '; cat "$T/out"
}
# as TOKEN METHOD PATH [JSON]
as() {
    curl -s -o "$T/out" -w '%{http_code}' -X "$2" -H "Authorization: Bearer $1" \
        -H 'Content-Type: application/json' ${4:+--data "$4"} "$U$3"
    printf ' '; cat "$T/out"
}
# a customer's browser session: JAR file, CSRF token in JAR.csrf
login() {   # login JAR EMAIL PASSWORD
    curl -s -c "$1" -o "$T/login" -w '%{http_code}' -H 'Content-Type: application/json' \
        --data "{\"email\":\"$2\",\"password\":\"$3\"}" "$U/api/v1/auth/login" | grep -q 200 || return 1
    $PY -c 'import json,sys; print(json.load(open(sys.argv[1]))["csrf_token"])' "$T/login" >"$1.csrf"
}
sess() {    # sess JAR METHOD PATH [JSON]
    curl -s -b "$1" -o "$T/out" -w '%{http_code}' -X "$2" -H "X-CSRF-Token: $(cat "$1.csrf" 2>/dev/null)" \
        -H 'Content-Type: application/json' ${4:+--data "$4"} "$U$3"
    printf ' '; cat "$T/out"
}
status_is() { [ "${1%% *}" = "$2" ] || { echo "got: $1"; return 1; }; }
js() { $PY -c "import json,sys; d=json.loads(sys.argv[1].split(' ',1)[1]); print(eval(sys.argv[2]))" "$1" "$2"; }
q() { psql -X -q -t -A -d "$ATUM_TEST_DATABASE_URL" -c "$1"; }
mails_to() { $MC count "$SINK" --to "$1"; }
# link_in ADDR [N]: the portal link of the Nth (default last) mail to ADDR
link_in() {
    local f
    f=$(ls "$SINK"/*.json 2>/dev/null | while read -r j; do grep -q "\"$1\"" "$j" && echo "${j%.json}.eml"; done | tail -n "${2:-1}" | head -n 1)
    [ -n "$f" ] && $MC text "$f" | grep -o 'http://portal.test/portal/[a-z]*#[A-Za-z0-9_=&.-]*' | head -n 1
}
jobs_idle() { [ "$(q "SELECT count(*) FROM jobs WHERE kind IN ('account.link', 'mail.compose', 'mail.send') AND state IN ('available', 'running')")" = 0 ]; }
wait_jobs() { wait_until 20 jobs_idle; }
hash_of() { $PY -c 'import hashlib,hmac,sys; print(hmac.new(sys.argv[1].encode(), sys.argv[2].encode(), hashlib.sha256).hexdigest())' "$SECRET" "$1"; }
# the checks run their commands in subshells
export -f anon as login sess status_is js q mails_to link_in jobs_idle hash_of
export T U PY MC SINK SECRET ATUM_TEST_DATABASE_URL

# ---- customers who wrote in by mail ------------------------------------------
printf '%s\r\n' 'From: Carla Customer <carla@acme.example>' 'To: support@example.com' \
    'Subject: Printer on fire' 'Message-ID: <p1@acme.example>' '' 'It burns.' >"$T/a.eml"
read -r _ TA < <(ingest_mail "$T/a.eml" --from carla@acme.example --to support@example.com)
printf '%s\r\n' 'From: Bob Other <bob@other.example>' 'To: support@example.com' \
    'Subject: Secret plans of Bob' 'Message-ID: <p2@other.example>' '' 'Top secret.' >"$T/b.eml"
read -r _ TB < <(ingest_mail "$T/b.eml" --from bob@other.example --to support@example.com)
check "two tickets from mail" test -n "$TA" -a -n "$TB"
check "the acknowledgement links to the portal's ticket page" wait_until 20 bash -c \
    "$MC find '$SINK' --to carla@acme.example >/dev/null && $MC text \"\$($MC find '$SINK' --to carla@acme.example)\" | grep -q 'http://portal.test/portal/tickets/$TA'"
PAGE=$(curl -s -D "$T/h" "$U/portal/tickets/$TA")
check "/portal/tickets/N answers the portal's page with the strict CSP" bash -c \
    "grep -q '^HTTP/1.1 200' '$T/h' && grep -qi \"content-security-policy: default-src 'self'; script-src 'self'\" '$T/h' && grep -q '/assets/portal-' <<<'$PAGE'"
check "the portal's page carries no ticket data" bash -c "! grep -q 'Printer on fire' <<<'$PAGE'"

# ---- "send me a link": the same answer, the same work -------------------------
link_jobs() { q "SELECT (SELECT count(*) FROM jobs WHERE kind = 'account.link') + (SELECT count(*) FROM job_archive WHERE kind = 'account.link')"; }
J0=$(link_jobs)
R1=$(anon POST /api/v1/account/link '{"email":"carla@acme.example"}' 10.0.0.1)
R2=$(anon POST /api/v1/account/link '{"email":"nobody@acme.example"}' 10.0.0.1)
R3=$(anon POST /api/v1/account/link '{"email":"ann@example.com"}' 10.0.0.1)
check "known, unknown and staff addresses get the same answer (202, same body)" bash -c \
    '[ "${1%% *}" = 202 ] && [ "$1" = "$2" ] && [ "$2" = "$3" ]' _ "$R1" "$R2" "$R3"
check "... after the same work: one account.link job each" test "$(link_jobs)" -eq "$((J0 + 3))"
check "each request is audited" test "$(q "SELECT count(*) FROM audit_log WHERE action = 'account.link_request'")" = 3
check "the customer gets a sign-in link" wait_until 20 bash -c "[ -n \"\$(link_in carla@acme.example)\" ]"
wait_jobs
check "nobody else gets mail: not the unknown address, not the staff address" \
    test "$(mails_to nobody@acme.example)$($MC count "$SINK" --to ann@example.com --subject 'sign-in link')" = 00
check "... and no link is made for them" \
    test "$(q "SELECT count(*) FROM account_links WHERE email IN ('nobody@acme.example', 'ann@example.com')")" = 0
check "the staff refusal is logged" grep -q 'event=account.link_refused .*reason=staff' "$T/atumd.log"
LINK=$(link_in carla@acme.example)
TOK=${LINK#*#}
check "the link is /portal/link#TOKEN (the secret in the fragment)" bash -c "[[ '$LINK' == http://portal.test/portal/link#* ]] && [ \${#1} -ge 40 ]" _ "$TOK"
check "the link is stored hashed: the token is nowhere in account_links" bash -c \
    "[ \"\$(q \"SELECT count(*) FROM account_links a WHERE position('$TOK' IN a::text) > 0\")\" = 0 ] && \
     [ \"\$(q \"SELECT count(*) FROM account_links WHERE token_hash = '\$(hash_of '$TOK')'\")\" = 1 ]"
C=$(anon POST /api/v1/account/link/check "{\"token\":\"$TOK\"}")
check "the link checks as valid, kind signin, for the address" bash -c \
    "[ \"\$(js \"\$1\" 'd[\"state\"]+\" \"+d[\"kind\"]+\" \"+d[\"email\"]')\" = 'valid signin carla@acme.example' ]" _ "$C"
R=$(anon POST /api/v1/account/password "{\"token\":\"$TOK\",\"password\":\"short\"}")
check "a weak password is refused, naming the field" bash -c \
    "[ \"\${1%% *}\" = 422 ] && [ \"\$(js \"\$1\" 'd[\"field\"]')\" = password ]" _ "$R"
check "... and the link still works" bash -c "[ \"\$(js \"\$(anon POST /api/v1/account/link/check '{\"token\":\"$TOK\"}')\" 'd[\"state\"]')\" = valid ]"
curl -s -D "$T/ph" -o "$T/pb" -H 'Content-Type: application/json' \
    --data "{\"token\":\"$TOK\",\"password\":\"carla correct horse\"}" "$U/api/v1/account/password" >/dev/null
check "the link sets the password and signs in (session cookie, CSRF token)" bash -c \
    "grep -q '^HTTP/1.1 200' '$T/ph' && grep -qi '^set-cookie: atum_session=' '$T/ph' && grep -q csrf_token '$T/pb'"
R=$(anon POST /api/v1/account/password "{\"token\":\"$TOK\",\"password\":\"another good password\"}")
check "a used link does nothing the second time (410, says used)" bash -c \
    "[ \"\${1%% *}\" = 410 ] && grep -q 'already used' <<<\"\$1\"" _ "$R"
check "... the check says used too" bash -c "[ \"\$(js \"\$(anon POST /api/v1/account/link/check '{\"token\":\"$TOK\"}')\" 'd[\"state\"]')\" = used ]"
check "the customer signs in with the new password" login "$T/carla" carla@acme.example 'carla correct horse'
check "setting the password is audited" test "$(q "SELECT count(*) FROM audit_log WHERE action = 'account.password'")" = 1
R=$(anon POST /api/v1/account/password '{"token":"nonsense-token","password":"carla correct horse"}')
check "an unknown link: 410" status_is "$R" 410

# ---- expiry -------------------------------------------------------------------
anon POST /api/v1/account/link '{"email":"carla@acme.example","purpose":"reset"}' 10.0.0.2 >/dev/null
check "a reset link arrives" wait_until 20 bash -c "[ \$(mails_to carla@acme.example) -ge 3 ]"
wait_jobs
RESET=$(link_in carla@acme.example)
RTOK=${RESET#*#}
check "the reset mail says reset" bash -c "$MC find '$SINK' --to carla@acme.example --subject 'Reset your password' >/dev/null"
q "UPDATE account_links SET expires_at = now() - interval '1 second' WHERE token_hash = '$(hash_of "$RTOK")'" >/dev/null
check "an expired link says expired" bash -c "[ \"\$(js \"\$(anon POST /api/v1/account/link/check '{\"token\":\"$RTOK\"}')\" 'd[\"state\"]')\" = expired ]"
R=$(anon POST /api/v1/account/password "{\"token\":\"$RTOK\",\"password\":\"a new good password\"}")
check "... and does nothing (410, says expired)" bash -c "[ \"\${1%% *}\" = 410 ] && grep -q expired <<<\"\$1\"" _ "$R"
check "... the old password still works" login "$T/carla2" carla@acme.example 'carla correct horse'

# ---- a disabled account ---------------------------------------------------------
anon POST /api/v1/account/link '{"email":"bob@other.example"}' 10.0.0.3 >/dev/null
check "Bob gets a link" wait_until 20 bash -c "[ -n \"\$(link_in bob@other.example)\" ]"
BTOK=$(link_in bob@other.example); BTOK=${BTOK#*#}
BOB=$(q "SELECT id FROM users WHERE email = 'bob@other.example'")
as "$ADMIN" PATCH "/api/v1/users/$BOB" '{"disabled":true}' >/dev/null
R=$(anon POST /api/v1/account/password "{\"token\":\"$BTOK\",\"password\":\"bob correct horse\"}")
check "the link of a disabled account does nothing (410)" status_is "$R" 410
check "... no password was set" test "$(q "SELECT password_hash IS NULL FROM users WHERE id = $BOB")" = t
anon POST /api/v1/account/link '{"email":"bob@other.example"}' 10.0.0.3 >/dev/null
wait_jobs
check "a disabled account gets no new link" test "$(q "SELECT count(*) FROM account_links WHERE user_id = $BOB")" = 1
as "$ADMIN" PATCH "/api/v1/users/$BOB" '{"disabled":false}' >/dev/null

# ---- rate limits ----------------------------------------------------------------
for i in 1 2 3; do anon POST /api/v1/account/link '{"email":"flood@acme.example"}' '' "10.1.0.$i" >/dev/null; done
R=$(curl -s -D "$T/rh" -o /dev/null -H 'Content-Type: application/json' -H 'X-Forwarded-For: 10.1.0.9' \
    --data '{"email":"flood@acme.example"}' "$U/api/v1/account/link")
check "a 4th request for one address in the window: 429 with Retry-After" bash -c \
    "grep -q '^HTTP/1.1 429' '$T/rh' && grep -qi '^retry-after: [1-9]' '$T/rh'"
for i in 1 2 3; do anon POST /api/v1/account/link '{"email":"carla@acme.example"}' '' "10.2.0.$i" >/dev/null; done
R=$(anon POST /api/v1/account/link '{"email":"carla@acme.example"}' 10.2.0.9)
check "... the same for an address with an account (no probing by the limit)" status_is "$R" 429
for i in 1 2 3 4 5 6; do anon POST /api/v1/account/link "{\"email\":\"x$i@spray.example\"}" 10.3.0.1 >/dev/null; done
R=$(anon POST /api/v1/account/link '{"email":"x7@spray.example"}' 10.3.0.1)
check "a 7th request from one client address: 429" status_is "$R" 429
R=$(anon POST /api/v1/account/link '{"email":"x7@spray.example"}' 10.3.0.2)
check "... another client address may still ask" status_is "$R" 202
R=$(anon POST /api/v1/account/link '{"email":"not an address"}' 10.4.0.1)
check "a malformed address: 400 naming the field" bash -c "[ \"\${1%% *}\" = 400 ] && grep -q '\"field\":\"email\"' <<<\"\$1\"" _ "$R"

# ---- sign-up -------------------------------------------------------------------
SUP=$(q "SELECT id FROM queues WHERE name = 'support'")
R=$(anon POST /api/v1/account/signup '{"email":"new@fresh.example","name":"Nina New"}' 10.5.0.1)
check "sign-up is off by default: 403" status_is "$R" 403
check "the portal's config says so" bash -c "[ \"\$(js \"\$(anon GET /api/v1/portal/config)\" 'd[\"signup\"]')\" = False ]"
R=$(as "$AGENT" PUT "/api/v1/portal/queues/$SUP" '{"signup":"on"}')
check "only admins switch it per queue (agent: 404, as for every id route above one's role)" status_is "$R" 404
R=$(as "$ADMIN" PUT "/api/v1/portal/queues/$SUP" '{"signup":"on","title":"Support desk"}')
check "an admin switches sign-up on for one queue" status_is "$R" 200
R=$(anon POST /api/v1/account/signup '{"email":"new@fresh.example","name":"Nina New"}' 10.5.0.1)
check "... still off for the portal as a whole (no queue named)" status_is "$R" 403
R=$(anon POST /api/v1/account/signup "{\"email\":\"new@fresh.example\",\"name\":\"Nina New\",\"queue_id\":$SUP}" 10.5.0.1)
R2=$(anon POST /api/v1/account/signup "{\"email\":\"bob@other.example\",\"queue_id\":$SUP}" 10.5.0.2)
check "on for that queue: 202, the same answer for a new and a known address" bash -c \
    "[ \"\${1%% *}\" = 202 ] && [ \"\$1\" = \"\$2\" ]" _ "$R" "$R2"
check "a confirmation mail arrives" wait_until 20 bash -c "[ -n \"\$(link_in new@fresh.example)\" ]"
wait_jobs
check "... and no account exists before the address is proven" \
    test "$(q "SELECT count(*) FROM users WHERE email = 'new@fresh.example'")" = 0
VTOK=$(link_in new@fresh.example); VTOK=${VTOK#*#}
check "the link is a verification" bash -c "[ \"\$(js \"\$(anon POST /api/v1/account/link/check '{\"token\":\"$VTOK\"}')\" 'd[\"kind\"]')\" = verify ]"
R=$(anon POST /api/v1/account/password "{\"token\":\"$VTOK\",\"password\":\"nina correct horse\"}")
check "using it makes the customer account and signs in" bash -c \
    "[ \"\${1%% *}\" = 200 ] && [ \"\$(q \"SELECT role || ' ' || name FROM users WHERE email = 'new@fresh.example'\")\" = 'customer Nina New' ]" _ "$R"
check "the known address got a sign-in link instead of a second account" \
    test "$(q "SELECT count(*) FROM account_links WHERE email = 'bob@other.example' AND kind = 'signin'") $(q "SELECT count(*) FROM users WHERE lower(email) = 'bob@other.example'")" = '2 1'
as "$ADMIN" PUT "/api/v1/portal/queues/$SUP" '{"signup":"inherit","title":"Support desk"}' >/dev/null

# ---- invitations ---------------------------------------------------------------
printf '%s\r\n' 'From: Dora Colleague <dora@acme.example>' 'To: support@example.com' \
    'Subject: Dora asks' 'Message-ID: <p3@acme.example>' '' 'Hello.' >"$T/d.eml"
read -r _ TD < <(ingest_mail "$T/d.eml" --from dora@acme.example --to support@example.com)
DORA=$(q "SELECT id FROM users WHERE email = 'dora@acme.example'")
R=$(as "$AGENT" POST "/api/v1/users/$DORA/invite")
check "an agent invites a customer" status_is "$R" 202
check "... an invitation mail arrives, valid for days" wait_until 20 bash -c \
    "$MC find '$SINK' --to dora@acme.example --subject 'invited' >/dev/null && \
     [ \"\$(q \"SELECT expires_at > now() + interval '6 days' FROM account_links WHERE user_id = $DORA AND kind = 'invite'\")\" = t ]"
ANN=$(q "SELECT id FROM users WHERE email = 'ann@example.com'")
R=$(as "$ADMIN" POST "/api/v1/users/$ANN/invite")
check "staff accounts are not invited through the portal" bash -c "[ \"\${1%% *}\" = 422 ] || [ \"\${1%% *}\" = 400 ]" _ "$R"
check "the invitation is audited" test "$(q "SELECT count(*) FROM audit_log WHERE action = 'account.invite'")" = 1
# an account with a second factor: the link sets the password, the code
# is still needed to sign in
ITOK=$(link_in dora@acme.example); ITOK=${ITOK#*#}
q "INSERT INTO user_totp (user_id, secret, enabled) VALUES ($DORA, 'JBSWY3DPEHPK3PXP', true)" >/dev/null
curl -s -D "$T/th" -o "$T/tb" -H 'Content-Type: application/json' \
    --data "{\"token\":\"$ITOK\",\"password\":\"dora correct horse\"}" "$U/api/v1/account/password" >/dev/null
check "with TOTP enrolled the link sets the password but does not sign in" bash -c \
    "grep -q '^HTTP/1.1 200' '$T/th' && ! grep -qi '^set-cookie: atum_session=' '$T/th' && grep -q '\"signed_in\":false' '$T/tb' && \
     [ \"\$(q \"SELECT password_hash IS NOT NULL FROM users WHERE id = $DORA\")\" = t ]"
q "DELETE FROM user_totp WHERE user_id = $DORA" >/dev/null

# ---- what a customer sees --------------------------------------------------------
as "$AGENT" POST "/api/v1/tickets/$TA/notes" '{"body":"INTERNAL-NOTE-7731 do not show"}' >/dev/null
as "$AGENT" POST "/api/v1/tickets/$TA/replies" '{"body":"We are on it, Carla."}' >/dev/null
R=$(sess "$T/carla" GET "/api/v1/tickets/$TA")
check "the customer reads their ticket with our public reply" bash -c "[ \"\${1%% *}\" = 200 ] && grep -q 'We are on it' <<<\"\$1\"" _ "$R"
check "... never the internal note" bash -c "! grep -q 'INTERNAL-NOTE-7731' <<<\"\$1\" && ! grep -q '\"visibility\":\"internal\"' <<<\"\$1\"" _ "$R"
R=$(sess "$T/carla" GET "/api/v1/tickets?q=INTERNAL-NOTE-7731")
check "... nor finds it by searching" bash -c "[ \"\$(js \"\$1\" 'len(d[\"items\"])')\" = 0 ]" _ "$R"
R=$(sess "$T/carla" GET "/api/v1/tickets/$TB")
check "customer A cannot open customer B's ticket (404, like no ticket)" status_is "$R" 404
R2=$(sess "$T/carla" GET "/api/v1/tickets/999999")
check "... the same answer as for a ticket that does not exist" bash -c "[ \"\$(js \"\$1\" 'd[\"detail\"]')\" = \"\$(js \"\$2\" 'd[\"detail\"]')\" ]" _ "$R" "$R2"
R=$(sess "$T/carla" GET "/api/v1/tickets")
check "A's list holds A's ticket only" bash -c "[ \"\$(js \"\$1\" 'sorted(t[\"id\"] for t in d[\"items\"])')\" = '[$TA]' ]" _ "$R"
curl -s -b "$T/carla" -D "$T/eh" -o "$T/export.json" "$U/api/v1/me/export"
check "the export is a download of A's profile" bash -c \
    "grep -qi 'content-disposition: attachment' '$T/eh' && [ \"\$($PY -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d[\"profile\"][\"email\"])' '$T/export.json')\" = carla@acme.example ]"
check "... with A's tickets and public messages only" $PY - "$T/export.json" "$TA" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
ids = [t["id"] for t in d["tickets"]]
assert ids == [int(sys.argv[2])], ids
text = json.dumps(d)
assert "INTERNAL-NOTE-7731" not in text and "Secret plans of Bob" not in text and "Top secret" not in text
assert "We are on it" in text and "It burns." in text
assert "dora@acme.example" not in text, "a colleague's data"
PY

# ---- writing from the portal, with attachments --------------------------------------
B64=$(printf 'hello attachment' | base64)
R=$(sess "$T/carla" POST "/api/v1/portal/tickets/$TA/replies" "{\"body\":\"Here is the log.\",\"attachments\":[{\"filename\":\"../../etc/log.txt\",\"content_type\":\"text/plain\",\"data\":\"$B64\"}]}")
check "a customer replies with an attachment" status_is "$R" 201
R=$(sess "$T/carla" GET "/api/v1/tickets/$TA")
check "... the file is on the message, its name without a path" bash -c \
    "[ \"\$(js \"\$1\" '[a[\"filename\"] for m in d[\"messages\"] for a in m[\"attachments\"]]')\" = \"['log.txt']\" ]" _ "$R"
AID=$(js "$R" '[a["id"] for m in d["messages"] for a in m["attachments"]][0]')
check "... and downloads as sent" bash -c "[ \"\$(curl -s -b '$T/carla' '$U/api/v1/attachments/$AID')\" = 'hello attachment' ]"
R=$(sess "$T/carla" POST "/api/v1/portal/tickets/$TA/replies" '{"body":"x","attachments":[{"filename":"a","data":"###"}]}')
check "bad base64: 400 naming attachments, nothing stored" bash -c "[ \"\${1%% *}\" = 400 ] && grep -q attachments <<<\"\$1\"" _ "$R"
R=$(sess "$T/carla" POST "/api/v1/portal/tickets/$TA/replies" '{"body":""}')
check "an empty reply: 400 naming body" bash -c "[ \"\${1%% *}\" = 400 ] && grep -q '\"field\":\"body\"' <<<\"\$1\"" _ "$R"
R=$(sess "$T/carla" POST "/api/v1/portal/tickets/$TA/replies" '{"body":"x","evil":1}')
check "an unknown field: 400" status_is "$R" 400
R=$(as "$AGENT" POST "/api/v1/portal/tickets/$TA/replies" '{"body":"staff here"}')
check "staff are sent to the tickets API (403)" status_is "$R" 403
R=$(sess "$T/carla" POST "/api/v1/portal/tickets/$TB/replies" '{"body":"let me in"}')
check "A cannot write on B's ticket (404)" status_is "$R" 404
check "the reply reached the agents' side" test "$(q "SELECT count(*) FROM messages WHERE ticket_id = $TA AND body_text = 'Here is the log.' AND direction = 'in'")" = 1
# a colleague with organisation access reads, does not write
as "$ADMIN" POST /api/v1/orgs '{"name":"Acme","domain":"acme.example"}' >/dev/null
ORG=$(q "SELECT id FROM orgs WHERE name = 'Acme'")
CARLA=$(q "SELECT id FROM users WHERE email = 'carla@acme.example'")
as "$ADMIN" PATCH "/api/v1/users/$DORA" "{\"org_id\":$ORG,\"org_access\":true}" >/dev/null
as "$ADMIN" PATCH "/api/v1/users/$CARLA" "{\"org_id\":$ORG}" >/dev/null
q "UPDATE tickets SET org_id = $ORG WHERE requester_id IN ($CARLA, $DORA)" >/dev/null
q "UPDATE users SET password_hash = (SELECT password_hash FROM users WHERE id = $CARLA) WHERE id = $DORA" >/dev/null
check "Dora signs in" login "$T/dora" dora@acme.example 'carla correct horse'
R=$(sess "$T/dora" GET "/api/v1/tickets/$TA")
check "a colleague with organisation access reads Carla's ticket" status_is "$R" 200
R=$(sess "$T/dora" POST "/api/v1/portal/tickets/$TA/replies" '{"body":"me too"}')
check "... but does not write on it (403)" status_is "$R" 403
R=$(sess "$T/carla" POST /api/v1/portal/tickets "{\"subject\":\"New from the portal\",\"body\":\"Please help.\",\"queue_id\":$SUP,\"attachments\":[{\"filename\":\"p.txt\",\"data\":\"$B64\"}]}")
check "a new ticket from the portal, with an attachment" status_is "$R" 201
TN=$(js "$R" 'd["id"]')
check "... the customer is its requester, the file stored" test \
    "$(q "SELECT t.requester_id = $CARLA AND count(a.id) = 1 FROM tickets t JOIN messages m ON m.ticket_id = t.id JOIN attachments a ON a.message_id = m.id WHERE t.id = $TN GROUP BY t.requester_id")" = t
R=$(sess "$T/carla" GET /api/v1/portal/queues)
check "the new-ticket form lists the queues with the portal's titles" bash -c "grep -q 'Support desk' <<<\"\$1\"" _ "$R"

# ---- satisfaction -------------------------------------------------------------------
as "$ADMIN" POST /api/v1/webhooks '{"url":"http://127.0.0.1:9/hook","events":["csat.rated"]}' >/dev/null
R=$(sess "$T/carla" POST "/api/v1/tickets/$TA/csat" '{"score":5}')
check "an open ticket cannot be rated yet (409)" status_is "$R" 409
as "$AGENT" PATCH "/api/v1/tickets/$TA" '{"status":"solved"}' >/dev/null
check "solving mails the customer the rating links" wait_until 20 bash -c \
    "$MC find '$SINK' --to carla@acme.example --subject 'how did we do' >/dev/null"
SOLVED=$($MC find "$SINK" --to carla@acme.example --subject 'how did we do')
RLINK=$($MC text "$SOLVED" | grep -o 'http://portal.test/portal/rate#t=[A-Za-z0-9_=&-]*s=5' | head -n 1)
CTOK=$(sed 's/.*#t=\([^&]*\)&.*/\1/' <<<"$RLINK")
check "... five one-click links, signed" bash -c "[ \$($MC text '$SOLVED' | grep -o 'portal/rate#t=' | wc -l) -ge 5 ] && [ -n '$CTOK' ]"
BAD=$($PY -c 'import sys; t=sys.argv[1]; print(t[:-1] + ("A" if t[-1] != "A" else "B"))' "$CTOK")
R=$(anon POST /api/v1/csat "{\"token\":\"$BAD\",\"score\":1}")
check "a tampered link is refused (403)" status_is "$R" 403
OTHER=$(sed "s/^$TA-/$TB-/" <<<"$CTOK")
R=$(anon POST /api/v1/csat "{\"token\":\"$OTHER\",\"score\":1}")
check "... so is the same signature on another ticket" status_is "$R" 403
OLD=$($PY - "$SECRET" "$TA" <<'PY'
import base64, hashlib, hmac, sys, time
exp = int(time.time()) - 60
mac = hmac.new(sys.argv[1].encode(), f"atum-csat:{sys.argv[2]}:{exp}".encode(), hashlib.sha256).digest()[:16]
print(f"{sys.argv[2]}-{exp}-" + base64.urlsafe_b64encode(mac).decode().rstrip("="))
PY
)
R=$(anon POST /api/v1/csat "{\"token\":\"$OLD\",\"score\":1}")
check "an expired link: 410" status_is "$R" 410
R=$(anon POST /api/v1/csat "{\"token\":\"$CTOK\",\"score\":5}")
check "one click rates without signing in" bash -c "[ \"\${1%% *}\" = 200 ] && [ \"\$(js \"\$1\" 'd[\"score\"]')\" = 5 ]" _ "$R"
R=$(anon POST /api/v1/csat "{\"token\":\"$CTOK\",\"score\":4,\"comment\":\"Quick and kind.\"}")
check "the second time changes it (score and comment)" bash -c "[ \"\$(js \"\$1\" 'd[\"score\"], d[\"comment\"]')\" = \"(4, 'Quick and kind.')\" ]" _ "$R"
check "one rating per ticket" test "$(q "SELECT count(*) || ' ' || min(score) FROM csat_ratings WHERE ticket_id = $TA")" = '1 4'
R=$(as "$AGENT" GET "/api/v1/tickets/$TA")
check "agents see it in GET /tickets/{id}" bash -c "[ \"\$(js \"\$1\" 'd[\"csat\"][\"score\"], d[\"csat\"][\"comment\"]')\" = \"(4, 'Quick and kind.')\" ]" _ "$R"
ev_seen() {
    local v
    v=$(q "SELECT string_agg((payload->>'first') || ':' || (payload->>'score'), ',' ORDER BY id) FROM webhook_deliveries WHERE event = 'csat.rated'")
    [ "$v" = 'true:5,false:4' ] || { echo "csat.rated deliveries: $v"; q "SELECT payload FROM webhook_deliveries"; return 1; }
}
check "csat.rated is emitted each time, the first marked first" ev_seen
check "the rating is audited as the requester" test \
    "$(q "SELECT count(*) FROM audit_log WHERE action = 'ticket.csat' AND actor = 'user:$CARLA'")" = 2
q "UPDATE csat_ratings SET created_at = now() - interval '15 days' WHERE ticket_id = $TA" >/dev/null
R=$(anon POST /api/v1/csat "{\"token\":\"$CTOK\",\"score\":1}")
check "after the window the rating is final (409)" status_is "$R" 409
as "$AGENT" PATCH "/api/v1/tickets/$TA" '{"status":"open"}' >/dev/null
as "$AGENT" PATCH "/api/v1/tickets/$TA" '{"status":"solved"}' >/dev/null
wait_jobs
check "the customer is asked once: no second solved mail" test "$($MC count "$SINK" --to carla@acme.example --subject 'how did we do')" = 1
# the portal's own rating, by the signed-in requester
as "$AGENT" PATCH "/api/v1/tickets/$TN" '{"status":"solved"}' >/dev/null
R=$(sess "$T/dora" POST "/api/v1/tickets/$TN/csat" '{"score":2}')
check "a colleague may not rate Carla's ticket (403)" status_is "$R" 403
R=$(sess "$T/carla" POST "/api/v1/tickets/$TN/csat" '{"score":6}')
check "a score out of range: 400" status_is "$R" 400
R=$(sess "$T/carla" POST "/api/v1/tickets/$TN/csat" '{"score":3,"comment":"ok"}')
check "the requester rates in the portal" bash -c "[ \"\${1%% *}\" = 200 ] && [ \"\$(q \"SELECT via FROM csat_ratings WHERE ticket_id = $TN\")\" = portal ]" _ "$R"

# ---- the portal's look ------------------------------------------------------------------
printf '\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\1\0\0\0\1\x08\x06\0\0\0\x1f\x15\xc4\x89\0\0\0\rIDATx\x9cc\xf8\xff\xff?\0\x05\xfe\x02\xfe\xa7\x35\x81\x84\0\0\0\0IEND\xaeB`\x82' >"$T/logo.png"
R=$(curl -s -o /dev/null -w '%{http_code}' -X PUT -H "Authorization: Bearer $ADMIN" -H 'Content-Type: image/png' --data-binary @"$T/logo.png" "$U/api/v1/portal/logo")
check "an admin uploads the portal's logo" test "$R" = 200
check "it is served from the same origin as image/png" bash -c \
    "curl -s -D '$T/lh' -o '$T/got.png' '$U/api/v1/portal/logo' && grep -qi '^content-type: image/png' '$T/lh' && cmp -s '$T/got.png' '$T/logo.png'"
printf '<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>' >"$T/logo.svg"
R=$(curl -s -o /dev/null -w '%{http_code}' -X PUT -H "Authorization: Bearer $ADMIN" -H 'Content-Type: image/svg+xml' --data-binary @"$T/logo.svg" "$U/api/v1/portal/logo")
check "an SVG logo is refused (415)" test "$R" = 415
R=$(curl -s -o /dev/null -w '%{http_code}' -X PUT -H "Authorization: Bearer $AGENT" -H 'Content-Type: image/png' --data-binary @"$T/logo.png" "$U/api/v1/portal/logo")
check "agents may not set it (403)" test "$R" = 403
R=$(anon GET /api/v1/portal/config)
check "the config names the title and the logo" bash -c "[ \"\$(js \"\$1\" 'd[\"title\"], d[\"logo_url\"]')\" = \"('Example Help', '/api/v1/portal/logo')\" ]" _ "$R"

check "atumd stops cleanly" atumd_stop
finish
