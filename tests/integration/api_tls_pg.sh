#!/bin/bash
# api_tls_pg.sh -- the real atumd behind Debian's nginx with a self-signed
# certificate, using etc/nginx/atum-desk.conf (ports and paths rewritten),
# driven with curl + jq as an integration would: TLS, redirects, headers,
# Secure cookies, the forwarded client address, tokens from atumctl,
# tickets and the outbox job, CSRF, 413, 429, and `atumctl audit verify`
# catching a tampered audit log.
set -u
. "$ATUM_SRCDIR/tests/lib.sh"
B=$ATUM_BUILDDIR
T=$ATUM_TEST_TMP
PSQL="psql -X -q -t -A -d $ATUM_TEST_DATABASE_URL"
port_take WEB; port_take TLS; port_take PLAIN
NGINX=$(command -v nginx || echo /usr/sbin/nginx)

check "nginx, openssl, curl and jq are installed" test -x "$NGINX" -a -n "$(command -v openssl)" -a -n "$(command -v jq)" -a -n "$(command -v curl)"

# ---- certificate and nginx ------------------------------------------------
mkdir -p "$T/nginx/tmp" && chmod 777 "$T/nginx/tmp"
check "self-signed certificate" openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=localhost \
    -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" -keyout "$T/nginx/key.pem" -out "$T/nginx/cert.pem"
sed -e "s|server 127.0.0.1:8080;|server 127.0.0.1:$WEB;|" \
    -e "s|listen 443 ssl http2;|listen 127.0.0.1:$TLS ssl http2;|" \
    -e "s|listen 80;|listen 127.0.0.1:$PLAIN;|" \
    -e '/listen \[::\]/d' \
    -e "s|/etc/ssl/atum-desk/fullchain.pem|$T/nginx/cert.pem|" \
    -e "s|/etc/ssl/atum-desk/privkey.pem|$T/nginx/key.pem|" \
    -e "s|ssl_session_cache shared:atum_tls:10m;|ssl_session_cache shared:atum_tls_$TLS:1m;|" \
    "$ATUM_SRCDIR/etc/nginx/atum-desk.conf" >"$T/nginx/site.conf"
cat >"$T/nginx/nginx.conf" <<CONF
worker_processes 1;
pid $T/nginx/nginx.pid;
error_log $T/nginx/error.log warn;
events { worker_connections 128; }
http {
    access_log $T/nginx/access.log;
    client_body_temp_path $T/nginx/tmp/body;
    proxy_temp_path $T/nginx/tmp/proxy;
    fastcgi_temp_path $T/nginx/tmp/fastcgi;
    uwsgi_temp_path $T/nginx/tmp/uwsgi;
    scgi_temp_path $T/nginx/tmp/scgi;
    include $T/nginx/site.conf;
}
CONF
check "the shipped nginx config is valid" "$NGINX" -t -q -c "$T/nginx/nginx.conf" -p "$T/nginx"
"$NGINX" -c "$T/nginx/nginx.conf" -p "$T/nginx"
stop_nginx() { [ -f "$T/nginx/nginx.pid" ] && kill "$(cat "$T/nginx/nginx.pid")" 2>/dev/null; }
trap stop_nginx EXIT

# ---- atumd ----------------------------------------------------------------
export ATUM_CORE_SECRET_KEY=tls-test-secret-0123456789abcdef0123
cat >"$T/atum.conf" <<CONF
[core]
database_url = $ATUM_TEST_DATABASE_URL
workers = 1
[web]
listen = 127.0.0.1:$WEB
trusted_proxies = 127.0.0.1
max_body = 64K
[auth]
login_failures_account = 3
CONF
export ATUM_CONFIG=$T/atum.conf
"$B/atumctl" migrate >/dev/null
echo 'correct horse battery' | "$B/atumctl" user add admin@example.com --role admin --password-stdin >/dev/null
"$B/atumctl" queue add support support@example.com >/dev/null
"$B/atumctl" queue member support admin@example.com >/dev/null
no_secret() {
    out=$(ATUM_CORE_SECRET_KEY= timeout 10 "$B/atumd" -c "$T/atum.conf" --foreground 2>&1); rc=$?
    [ $rc -eq 1 ] && grep -q 'core.secret_key is not set' <<<"$out"
}
check "atumd refuses to start the API without a secret key, and says why" no_secret
weak_secret() {   # until it says so (or 20 s), then stopped
    ATUM_CORE_SECRET_KEY=short ATUM_WEB_LISTEN=127.0.0.1:0 "$B/atumd" -c "$T/atum.conf" --foreground >"$T/weak.log" 2>&1 &
    local pid=$! rc=0
    wait_until 20 grep -q 'event=web.weak_secret' "$T/weak.log" || rc=1
    kill -TERM "$pid" 2>/dev/null; wait "$pid" 2>/dev/null
    return $rc
}
check "a short secret key is logged as weak" weak_secret
"$B/atumd" -c "$T/atum.conf" --foreground >"$T/atumd.log" 2>&1 &
ATUMD_PID=$!
U=https://127.0.0.1:$TLS
C=(curl -s --cacert "$T/nginx/cert.pem" --resolve "localhost:$TLS:127.0.0.1")
check "atumd answers /healthz through nginx over TLS" wait_until 15 "${C[@]}" -f "$U/healthz"
check "/readyz through nginx" "${C[@]}" -f "$U/readyz"
check "the certificate is verified (no -k)" bash -c "'${C[0]}' -s --cacert '$T/nginx/cert.pem' -o /dev/null -w '%{ssl_verify_result}' $U/healthz | grep -qx 0"
check "plain http redirects to https" bash -c "curl -s -o /dev/null -w '%{http_code} %{redirect_url}' http://127.0.0.1:$PLAIN/api/v1/tickets | grep -q '^301 https://'"
hdrs=$("${C[@]}" -D - -o /dev/null "$U/api/v1/openapi.json")
for h in "Strict-Transport-Security: max-age" "Content-Security-Policy: default-src 'self'" "frame-ancestors 'none'" \
         "X-Content-Type-Options: nosniff" "Referrer-Policy: same-origin"; do
    check "header $h through the proxy" grep -qiF "$h" <<<"$hdrs"
done
# every response through the proxy has the security headers: atumd's own,
# civetweb's own errors, nginx's own errors -- once each, and an
# attachment keeps its stricter CSP
sec_headers() {   # sec_headers FILE: all four (and HSTS), each exactly once
    local f=$1 h
    for h in "content-security-policy: default-src 'self'" "frame-ancestors 'none'" "x-content-type-options: nosniff" \
             "x-frame-options: deny" "referrer-policy: same-origin" "strict-transport-security: max-age"; do
        grep -qiF "$h" "$f" || { echo "missing $h in:"; cat "$f"; return 1; }
    done
    for h in content-security-policy x-content-type-options x-frame-options referrer-policy; do
        [ "$(grep -ci "^$h:" "$f")" = 1 ] || { echo "$h not exactly once in:"; cat "$f"; return 1; }
    done
}
"${C[@]}" -D "$T/h.404" -o /dev/null "$U/api/v1/nope"
check "security headers on atumd's 404, once each" sec_headers "$T/h.404"
# (HTTP/1.1: over HTTP/2 nginx passes such a header on to atumd)
"${C[@]}" --http1.1 -D "$T/h.ngx400" -o /dev/null -H "X-Big: $(head -c 20000 /dev/zero | tr '\0' a)" "$U/api/v1/auth/me"
check "nginx's own 400 for a 20 KB header line has them" bash -c "grep -q '^HTTP/1.1 400' '$T/h.ngx400' && ! grep -qi '^cache-control: no-store' '$T/h.ngx400' && $(declare -f sec_headers); sec_headers '$T/h.ngx400'"
big=$(head -c 9000 /dev/zero | tr '\0' b)
"${C[@]}" -D "$T/h.civet" -o "$T/b.civet" -H "X-Big1: $big" -H "X-Big2: $big" "$U/api/v1/auth/me"
check "civetweb's own error for an 18 KB header block has them" bash -c "grep -q '^HTTP/[0-9.]* 4' '$T/h.civet' && $(declare -f sec_headers); sec_headers '$T/h.civet'"
check "and it is a problem document" bash -c "grep -qi '^content-type: application/problem+json' '$T/h.civet' && jq -e '.status >= 400' '$T/b.civet'"
check "the 301 of plain http has them" bash -c "curl -s -D - -o /dev/null http://127.0.0.1:$PLAIN/ | grep -qi '^x-content-type-options: nosniff'"
check "the OpenAPI document is served" bash -c "'${C[0]}' -s --cacert '$T/nginx/cert.pem' $U/api/v1/openapi.json | jq -e '.openapi == \"3.1.0\" and (.paths | length) > 40'"

# ---- login through TLS: Secure cookie, CSRF ----------------------------------
login() { "${C[@]}" -D "$T/login.h" -c "$T/jar" -H 'Content-Type: application/json' \
    -d "{\"email\": \"admin@example.com\", \"password\": \"$1\"}" "$U/api/v1/auth/login"; }
check "login over TLS" bash -c "$(declare -f login); C=(${C[*]}); T=$T; U=$U; login 'correct horse battery' | jq -e .csrf_token > $T/csrf"
check "the session cookie is Secure, HttpOnly, SameSite=Lax" bash -c "grep -i '^set-cookie: atum_session=' '$T/login.h' | grep -q 'HttpOnly; SameSite=Lax; Max-Age=[0-9]*; Secure'"
CSRF=$(jq -r . "$T/csrf")
check "a state change without the CSRF header is 403" bash -c "[ \"\$('${C[0]}' -s --cacert '$T/nginx/cert.pem' -b '$T/jar' -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' -d '{\"name\": \"t\", \"password\": \"correct horse battery\"}' $U/api/v1/auth/tokens)\" = 403 ]"
check "with it, 201" bash -c "'${C[0]}' -s --cacert '$T/nginx/cert.pem' -b '$T/jar' -H 'X-CSRF-Token: $CSRF' -H 'Content-Type: application/json' -d '{\"name\": \"t\", \"password\": \"correct horse battery\"}' $U/api/v1/auth/tokens | jq -e -r '.token | select(startswith(\"atum_\"))' > $T/t.token"
T2=$(cat "$T/t.token")
check "the new token works" bash -c "'${C[0]}' -s --cacert '$T/nginx/cert.pem' -H 'Authorization: Bearer $T2' $U/api/v1/auth/me | jq -e '.auth == \"token\"'"

# ---- the client address is the proxy's word, not the client's -------------
"${C[@]}" -o /dev/null -H 'X-Forwarded-For: 203.0.113.66' -H 'Content-Type: application/json' \
    -d '{"email": "admin@example.com", "password": "wrong wrong wrong"}' "$U/api/v1/auth/login"
check "a forged X-Forwarded-For is replaced by nginx" bash -c "[ \"\$($PSQL -c \"SELECT host(ip) FROM audit_log WHERE action = 'login.failed' ORDER BY seq DESC LIMIT 1\")\" = 127.0.0.1 ]"
check "the audit row of the good login has the client address" bash -c "[ \"\$($PSQL -c \"SELECT host(ip) FROM audit_log WHERE action = 'login' ORDER BY seq DESC LIMIT 1\")\" = 127.0.0.1 ]"

# ---- an integration with an API token ----------------------------------------
TOKEN=$("$B/atumctl" token add admin@example.com --name ci)
A=(-H "Authorization: Bearer $TOKEN")
check "atumctl token add prints a token" grep -q '^atum_' <<<"$TOKEN"
check "it expires after auth.token_lifetime (90 days) by default" bash -c "[ \"\$($PSQL -c \"SELECT count(*) FROM api_tokens WHERE name = 'ci' AND expires_at BETWEEN now() + interval '89 days' AND now() + interval '91 days'\")\" = 1 ]"
check "the token is stored hashed" bash -c "[ \"\$($PSQL -c \"SELECT count(*) FROM api_tokens WHERE token_hash = '$TOKEN'\")\" = 0 ]"
TID=$("${C[@]}" "${A[@]}" -H 'Content-Type: application/json' -d '{"subject": "Via TLS", "body": "hello", "queue_id": 1, "requester_id": 1}' "$U/api/v1/tickets" | jq -r .id)
check "create a ticket with curl + token" test "$TID" -gt 0
check "list it" bash -c "'${C[0]}' -s --cacert '$T/nginx/cert.pem' -H 'Authorization: Bearer $TOKEN' '$U/api/v1/tickets?limit=50&q=TLS' | jq -e '.items[0].subject == \"Via TLS\"'"
MID=$("${C[@]}" "${A[@]}" -H 'Content-Type: application/json' -d '{"body": "answer"}' "$U/api/v1/tickets/$TID/replies" | jq -r .id)
check "a public reply enqueues mail.send with the message id" bash -c "[ \"\$($PSQL -c \"SELECT count(*) FROM jobs WHERE kind = 'mail.send' AND payload = '{\\\"message_id\\\": $MID}'::jsonb\")\" = 1 ]"
ATT=$($PSQL -c "INSERT INTO attachment_blobs (sha256, size, content) VALUES (repeat('d', 64), 4, 'data') ON CONFLICT DO NOTHING;
                INSERT INTO attachments (message_id, sha256, filename, content_type, size) VALUES ($MID, repeat('d', 64), 'a.html', 'text/html', 4) RETURNING id" | tail -n 1)
"${C[@]}" "${A[@]}" -D "$T/h.att" -o /dev/null "$U/api/v1/attachments/$ATT"
check "an attachment keeps its sandbox CSP through the proxy, and gets no second default" \
    bash -c "grep -qi '^content-security-policy: sandbox' '$T/h.att' && [ \"\$(grep -ci '^content-security-policy:' '$T/h.att')\" = 2 ]"
head -c 30000000 /dev/zero | tr '\0' x >"$T/huge"
"${C[@]}" -D "$T/h.ngx413" -o /dev/null -H 'Content-Type: application/json' --data-binary @"$T/huge" "$U/api/v1/tickets"
check "nginx's own 413 above client_max_body_size has them" bash -c "grep -q '^HTTP/[0-9.]* 413' '$T/h.ngx413' && $(declare -f sec_headers); sec_headers '$T/h.ngx413'"
rm -f "$T/huge"
check "a body over web.max_body is 413 problem+json" bash -c "head -c 100000 /dev/zero | tr '\\\\0' x | '${C[0]}' -s --cacert '$T/nginx/cert.pem' -D - -o /dev/null -H 'Authorization: Bearer $TOKEN' -H 'Content-Type: application/json' --data-binary @- $U/api/v1/tickets | grep -q '^HTTP/[0-9.]* 413' "
check "a revoked token is refused" bash -c "id=\$($PSQL -c \"SELECT id FROM api_tokens WHERE name = 't'\"); '${C[0]}' -s --cacert '$T/nginx/cert.pem' -b '$T/jar' -X DELETE -H 'X-CSRF-Token: $CSRF' $U/api/v1/auth/tokens/\$id -o /dev/null; [ \"\$('${C[0]}' -s --cacert '$T/nginx/cert.pem' -o /dev/null -w '%{http_code}' -H 'Authorization: Bearer $T2' $U/api/v1/auth/me)\" = 401 ]"

# ---- the live channel through the proxy -------------------------------------------
live_through_nginx() {
    /usr/bin/python3 - "$TLS" "$T/nginx/cert.pem" "$(awk '$6 == "atum_session" { print $7 }' "$T/jar")" "$TOKEN" <<'PY'
import json, os, subprocess, sys
sys.path.insert(0, os.path.join(os.environ["ATUM_SRCDIR"], "tests"))
from wsclient import WS
port, ca, session, token = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
origin = "https://127.0.0.1:%d" % port
w = WS(port, "/api/v1/events/ws", {"Cookie": "atum_session=" + session, "Origin": origin}, cafile=ca)
assert w.status == 101, (w.status, w.body)
bad = WS(port, "/api/v1/events/ws", {"Cookie": "atum_session=" + session, "Origin": "https://evil.example"}, cafile=ca)
assert bad.status == 403, bad.status
out = subprocess.run(["curl", "-s", "--cacert", ca, "-H", "Authorization: Bearer " + token, "-H", "Content-Type: application/json",
                      "-d", '{"subject": "live via nginx", "body": "x", "queue_id": 1, "requester_id": 1}',
                      "https://127.0.0.1:%d/api/v1/tickets" % port], capture_output=True, text=True, check=True).stdout
tid = json.loads(out)["id"]
while True:
    f = w.recv_json(10)
    if f.get("ticket_id") == tid and f["event"] == "ticket.created":
        break
w.close()
PY
}
check "the live WebSocket through nginx (TLS): the page's Origin opens it, another is refused, events arrive" live_through_nginx

# ---- brute force through the proxy ---------------------------------------------
for i in 1 2 3; do
    "${C[@]}" -o /dev/null -H 'Content-Type: application/json' -d '{"email": "admin@example.com", "password": "guess guess guess"}' "$U/api/v1/auth/login"
done
check "brute force gets 429 with Retry-After" bash -c "'${C[0]}' -s --cacert '$T/nginx/cert.pem' -D - -o /dev/null -H 'Content-Type: application/json' -d '{\"email\": \"admin@example.com\", \"password\": \"guess guess guess\"}' $U/api/v1/auth/login | grep -qi '^retry-after: [0-9]'"

# ---- atumctl user passwd ends every session and token of the account ---------
status_of() { "${C[0]}" -s --cacert "$T/nginx/cert.pem" -o /dev/null -w '%{http_code}' "$@" "$U/api/v1/auth/me"; }
check "before: the session and the token work" bash -c "$(declare -f status_of); C=(${C[*]}); T=$T; U=$U; [ \"\$(status_of -b '$T/jar')\" = 200 ] && [ \"\$(status_of -H 'Authorization: Bearer $TOKEN')\" = 200 ]"
check "atumctl user passwd" bash -c "echo 'a new operator passphrase' | '$B/atumctl' user passwd admin@example.com --password-stdin"
check "the session ends at once" bash -c "$(declare -f status_of); C=(${C[*]}); T=$T; U=$U; [ \"\$(status_of -b '$T/jar')\" = 401 ]"
# (another process: atumd's token cache forgets it within 5 s)
check "the token ends within 5 s" wait_until 10 bash -c "$(declare -f status_of); C=(${C[*]}); T=$T; U=$U; [ \"\$(status_of -H 'Authorization: Bearer $TOKEN')\" = 401 ]"

# ---- the audit chain ------------------------------------------------------------
check "atumctl audit verify: intact" bash -c "'$B/atumctl' audit verify | grep -q 'hash chain verified'"
check "the audit log refuses UPDATE" bash -c "! $PSQL -c \"UPDATE audit_log SET actor = 'x' WHERE seq = 1\" 2>/dev/null"
$PSQL -c "BEGIN; ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only; UPDATE audit_log SET action = 'nothing.happened' WHERE seq = 3; ALTER TABLE audit_log ENABLE TRIGGER audit_log_append_only; COMMIT" >/dev/null
check_fails "atumctl audit verify fails on a changed row" "$B/atumctl" audit verify
check "and names it" bash -c "'$B/atumctl' --json audit verify | jq -e '.ok == false and .first_bad_seq == 3'"
$PSQL -c "BEGIN; ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only; UPDATE audit_log SET action = (SELECT action FROM audit_log WHERE seq = 3) WHERE false; DELETE FROM audit_log WHERE seq = 3; ALTER TABLE audit_log ENABLE TRIGGER audit_log_append_only; COMMIT" >/dev/null
check "a deleted row is caught too" bash -c "'$B/atumctl' --json audit verify | jq -e '.ok == false and .first_bad_seq == 4'"

# ---- graceful stop ------------------------------------------------------------------
kill -TERM "$ATUMD_PID"; wait "$ATUMD_PID"; rc=$?
check "SIGTERM stops atumd cleanly" test "$rc" -eq 0
check "nginx answers 502 once atumd is gone (no crash, no hang)" bash -c "[ \"\$('${C[0]}' -s --cacert '$T/nginx/cert.pem' -o /dev/null -w '%{http_code}' $U/healthz)\" = 502 ]"
"${C[@]}" -D "$T/h.502" -o /dev/null "$U/api/v1/tickets"
check "and its 502 has the security headers" sec_headers "$T/h.502"
stop_nginx
finish
