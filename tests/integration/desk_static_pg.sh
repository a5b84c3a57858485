#!/bin/bash
# desk_static_pg.sh -- how atumd serves the built desk (web/static.c), with
# curl against a real atumd: / redirects to /desk, every /desk/... path
# gets the page (no-cache, ETag, 304), the manifest's assets get a year's
# immutable cache with their content type, anything else under /assets/
# -- traversal in every spelling, the manifest itself, the page under
# another name -- is 404, only GET and HEAD are answered, every answer
# carries a Content-Security-Policy, the operators' page moved to
# /status, and an atumd whose assets_dir is wrong starts anyway and
# answers 503 for the desk, saying why in the log.  /admin/... gets the
# admin pages' page the same way (503 from a build without it).
set -u
. "$ATUM_SRCDIR/tests/lib.sh"
B=$ATUM_BUILDDIR
T=$ATUM_TEST_TMP
DIST=$B/web/dist
trap atumd_stop EXIT

conf() {   # conf ASSETS_DIR
    cat >"$T/atum.conf" <<CONF
[core]
database_url = $ATUM_TEST_DATABASE_URL
secret_key = static-test-secret-0123456789abcdef0123
workers = 1
[web]
listen = 127.0.0.1:0
assets_dir = $1
[imap]
enabled = no
CONF
}
check "the desk is built" test -f "$DIST/manifest.json"
conf "$DIST"
export ATUM_CONFIG=$T/atum.conf
"$B/atumctl" migrate >/dev/null
check "atumd starts on a port of its own choosing" atumd_start_port0 "$T/atum.conf" "$T/atumd.log"
U=http://127.0.0.1:$WEBPORT
SCRIPT=$(sed -n 's|.*src="/assets/\([^"]*\)".*|\1|p' "$DIST/desk.html")
STYLE=$(sed -n 's|.*rel="stylesheet" href="/assets/\([^"]*\)".*|\1|p' "$DIST/desk.html")
# the first view's shared chunk, named in the page so it is fetched with the entry
PRELOAD=$(sed -n 's|.*rel="modulepreload" href="/assets/\([^"]*\)".*|\1|p' "$DIST/desk.html")

# get METHOD PATH [CURL ARGS]: headers to $T/h, body to $T/b, prints the status
get() {
    local m=$1 p=$2; shift 2
    : >"$T/b"
    curl -s --path-as-is -X "$m" -D "$T/h" -o "$T/b" "$@" "$U$p" -w '%{http_code}'
}
header() { grep -i "^$1:" "$T/h" | head -n 1 | cut -d' ' -f2- | tr -d '\r'; }
has_csp() { header Content-Security-Policy | grep -q "default-src 'self'" && header Content-Security-Policy | grep -q "frame-ancestors 'none'"; }
desk_csp() {
    local c; c=$(header Content-Security-Policy)
    for d in "default-src 'self'" "script-src 'self'" "style-src 'self'" "object-src 'none'" "base-uri 'none'" \
             "frame-ancestors 'none'" "form-action 'self'" "connect-src 'self'"; do
        grep -qF "$d" <<<"$c" || { echo "CSP lacks $d: $c"; return 1; }
    done
    ! grep -q "unsafe-inline\|unsafe-eval\|http:\|https:\|\*" <<<"$c" || { echo "CSP too wide: $c"; return 1; }
}
is() {   # is STATUS METHOD PATH [CURL ARGS]
    local want=$1; shift
    local got; got=$(get "$@")
    [ "$got" = "$want" ] || { echo "$2: $got, not $want"; cat "$T/h"; return 1; }
}

check "script and style named in the page are in the manifest" \
    bash -c "grep -q '\"$SCRIPT\"' '$DIST/manifest.json' && grep -q '\"$STYLE\"' '$DIST/manifest.json'"
root_redirect() { is 302 GET / && [ "$(header Location)" = /desk ] && has_csp; }
check "/ redirects to /desk" root_redirect
for p in /desk /desk/ /desk/tickets/42 /desk/views/status-new '/desk/a/b/c?x=1'; do
    shell_at() {
        is 200 GET "$1" && [ "$(header Content-Type)" = "text/html; charset=utf-8" ] && cmp -s "$T/b" "$DIST/desk.html" &&
            [ "$(header Cache-Control)" = no-cache ] && desk_csp && [ "$(header X-Content-Type-Options)" = nosniff ] &&
            [ "$(header X-Frame-Options)" = DENY ]
    }
    check "GET $p: the desk's page, no-cache, strict CSP" shell_at "$p"
done
etag_304() {
    is 200 GET /desk || return 1
    local tag; tag=$(header ETag)
    [ -n "$tag" ] || { echo "no ETag"; return 1; }
    is 304 GET /desk -H "If-None-Match: $tag" && [ ! -s "$T/b" ] && desk_csp
}
check "If-None-Match with the page's ETag: 304, no body" etag_304
# HEAD over a raw socket: the headers of the GET, and not one byte more
head_desk() {
    /usr/bin/python3 - "$WEBPORT" "$(stat -c %s "$DIST/desk.html")" <<'PY'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
s.sendall(b"HEAD /desk HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
data = b""
while True:
    chunk = s.recv(65536)
    if not chunk:
        break
    data += chunk
head, sep, rest = data.partition(b"\r\n\r\n")
assert head.startswith(b"HTTP/1.1 200"), head
assert b"\r\nContent-Length: " + sys.argv[2].encode() + b"\r\n" in head + b"\r\n", head
assert b"Content-Security-Policy: default-src 'self'" in head, head
assert sep and rest == b"", "a body after HEAD: %r" % rest[:80]
PY
}
check "HEAD /desk: length, no body" head_desk
asset() {   # asset NAME TYPE
    is 200 GET "/assets/$1" && cmp -s "$T/b" "$DIST/$1" && [ "$(header Content-Type)" = "$2" ] &&
        [ "$(header Cache-Control)" = "public, max-age=31536000, immutable" ] && [ -n "$(header ETag)" ] && desk_csp &&
        [ "$(header X-Content-Type-Options)" = nosniff ]
}
check "the script: JavaScript, cached for a year, immutable" asset "$SCRIPT" "text/javascript; charset=utf-8"
check "the style sheet: CSS, cached for a year, immutable" asset "$STYLE" "text/css; charset=utf-8"
check "the page names the first view's chunks (modulepreload)" test -n "$PRELOAD"
for c in $PRELOAD; do
    check "the chunk $c: JavaScript, cached for a year, immutable" asset "$c" "text/javascript; charset=utf-8"
done
asset_304() {
    is 200 GET "/assets/$SCRIPT" && is 304 GET "/assets/$SCRIPT" -H "If-None-Match: W/$(header ETag), \"other\"" && [ ! -s "$T/b" ]
}
check "If-None-Match on an asset (weak, in a list): 304" asset_304

# nothing else is ever served, however the path is spelt
for p in /assets/ /assets/manifest.json /assets/desk.html /assets/nope.js "/assets/$SCRIPT.map" \
         "/assets/../manifest.json" "/assets/..%2fmanifest.json" "/assets/%2e%2e/manifest.json" \
         "/assets/%2e%2e%2f%2e%2e%2f%2e%2e%2fetc%2fpasswd" "/assets/../../../../etc/passwd" \
         "/assets//etc/passwd" "/assets/..\\manifest.json" "/assets/$SCRIPT/" /desk/..%2f..%2fetc%2fpasswd /desk/../assets/manifest.json \
         "/assets/.%2e/desk.html" "/assets/./$SCRIPT/../manifest.json" /desk/..%2fdesk; do
    refused() {
        local got; got=$(get GET "$1")
        case "$got" in 404|400) ;; *) echo "$1: $got"; return 1 ;; esac
        has_csp || { echo "no CSP on $got"; return 1; }
        ! grep -q "root:\|\"assets\"\|<!doctype" "$T/b" || { echo "leaked:"; head -c 200 "$T/b"; return 1; }
    }
    check "GET $p: refused, nothing leaks" refused "$p"
done
no_passwd() { local c; c=$(get GET /../../etc/passwd); [ "$c" != 200 ] && ! grep -q root: "$T/b"; }
check "/../../etc/passwd: not served" no_passwd
for m in POST PUT DELETE PATCH; do
    not_allowed() { is 405 "$1" /desk && has_csp && header Allow | grep -q 'GET, HEAD'; }
    check "$m /desk: 405" not_allowed "$m"
done
check "POST /assets/$SCRIPT: 405" is 405 POST "/assets/$SCRIPT"
status_page() { is 200 GET /status && grep -q 'Jobs' "$T/b" && has_csp; }
check "/status: the operators' page" status_page
not_desk() { is 404 GET /deskx && has_csp; }
check "/deskx is not the desk" not_desk
# the admin pages: one page for every /admin/... path, like the desk's
admin_page() {
    is 200 GET /admin/users/7 && desk_csp && [ "$(header Cache-Control)" = no-cache ] &&
        grep -q '/assets/admin-[A-Z0-9]*\.js' "$T/b" && ! grep -q '/assets/desk-' "$T/b"
}
check "/admin/users/7: the admin pages' page with the strict CSP" admin_page
check "POST /admin: 405" is 405 POST /admin
not_admin() { is 404 GET /administrator && has_csp; }
check "/administrator is not the admin pages" not_admin
api_own() { is 401 GET /api/v1/tickets && has_csp && [ "$(header Cache-Control)" = no-store ]; }
check "an API error keeps the API's own headers" api_own
check "atumd stops cleanly" atumd_stop

# ---- a build without the admin pages: /admin says so, the desk works ------
mkdir -p "$T/noadmin"
cp "$DIST"/* "$T/noadmin/"
python3 -c 'import json,sys; m=json.load(open(sys.argv[1])); del m["admin_shell"]; json.dump(m, open(sys.argv[1], "w"))' \
    "$T/noadmin/manifest.json"
conf "$T/noadmin"
check "atumd starts with a manifest without admin_shell" atumd_start_port0 "$T/atum.conf" "$T/atumd3.log"
U=http://127.0.0.1:$WEBPORT
no_admin() { is 503 GET /admin && grep -q 'admin pages are not available' "$T/b" && has_csp; }
check "/admin answers 503 saying the build has no admin page" no_admin
check "the desk is served all the same" is 200 GET /desk
check "atumd stops cleanly" atumd_stop

# ---- a wrong assets_dir: atumd runs, the desk says it is not there --------
conf "$T/nowhere"
check "atumd starts without the desk's files" atumd_start_port0 "$T/atum.conf" "$T/atumd2.log"
U=http://127.0.0.1:$WEBPORT
check "it logs why (event=web.no_desk, the folder)" grep -q "event=web.no_desk .*$T/nowhere/manifest.json" "$T/atumd2.log"
not_built() { is 503 GET /desk/tickets/1 && grep -q 'not built' "$T/b" && has_csp; }
check "/desk answers 503 with a problem document saying so" not_built
check "the API works all the same" is 200 GET /api/v1/openapi.json
check "atumd stops cleanly" atumd_stop
finish
