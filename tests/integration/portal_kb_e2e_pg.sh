#!/bin/bash
# portal_kb_e2e_pg.sh -- the portal's knowledge base (/portal/kb): the
# visibility rules of the rag plugin's public routes through the API
# (signed-out visitors and customers get the published public articles
# only: no internal or draft article is listed, found, suggested, related
# or readable by slug or id), then the pages in a real browser (Debian's
# chromium, headless, driven by playwright-core; tests/e2e/portal_kb.test.mjs):
# categories, search as one types, an article with its related ones,
# hostile content inert, 360 px, the keyboard, axe-core, "this solved it"
# from the acknowledgement's link, and the rag plugin turned off.  The KB
# is tests/data/kb-portal.  Each browser test counts as one check.
# Screenshots (portal-kb*.png) go to PORTAL_SCREENSHOTS (default: the
# build tree's tests/e2e/screenshots).  No chromium, no Node or no
# playwright-core is a failure, never a skip.
set -u
. "$ATUM_SRCDIR/tests/lib.sh"
. "$ATUM_SRCDIR/tests/e2e/browser.sh"
S=$ATUM_SRCDIR
B=$ATUM_BUILDDIR
T=$ATUM_TEST_TMP
CTL=$B/atumctl
trap atumd_stop EXIT

browser_prereqs
if [ "$T_FAIL" -gt 0 ]; then
    finish
    exit 1
fi

cat >"$T/atum.conf" <<CONF
[core]
database_url = $ATUM_TEST_DATABASE_URL
secret_key = portal-kb-secret-0123456789abcdef0123456789
workers = 2
[web]
listen = 127.0.0.1:0
assets_dir = $B/web/dist
[queue]
poll_interval = 200ms
[imap]
enabled = no
[portal]
title = Example Help
[plugin.rag]
path = $B/plugins/rag/.libs/rag.so
CONF
export ATUM_CONFIG=$T/atum.conf
KB_PW='kb customer horse battery'
setup() {
    "$CTL" migrate >/dev/null || return 1
    "$CTL" queue add support support@example.com >/dev/null || return 1
    echo "$KB_PW" | "$CTL" user add carla@customer.example --name 'Carla Customer' --role customer --password-stdin >/dev/null &&
    echo "$KB_PW" | "$CTL" user add admin@example.com --name 'Ada Admin' --role admin --password-stdin >/dev/null
}
check "the test world: a queue, a customer, an admin" setup
check "atumctl kb import reads the test KB (9 articles)" bash -c "'$CTL' kb import '$S/tests/data/kb-portal' | grep -q '9 new'"
check "atumd starts with the rag plugin" atumd_start_port0 "$T/atum.conf" "$T/atumd.log"
U="http://127.0.0.1:$WEBPORT/api/v1/plugins/rag"
ADMIN_TOKEN=$("$CTL" token add admin@example.com --name kb-e2e | grep -o 'atum_[A-Za-z0-9_-]*' | head -n 1)
CUSTOMER_TOKEN=$("$CTL" token add carla@customer.example --name kb-e2e | grep -o 'atum_[A-Za-z0-9_-]*' | head -n 1)
check "API tokens for the admin and the customer" test -n "$ADMIN_TOKEN" -a -n "$CUSTOMER_TOKEN"
INTERNAL_ID=$(q "SELECT id FROM kb_articles WHERE slug = 'vpn-internal'")
DRAFT_ID=$(q "SELECT id FROM kb_articles WHERE slug = 'upcoming-draft'")

# ---- the visibility rules, as a visitor and as a customer ---------------
# get WHO PATH: the body of a GET (WHO: anon, customer or staff); fails
# unless 200
auth_of() {
    case $1 in
        customer) echo "Authorization: Bearer $CUSTOMER_TOKEN" ;;
        staff) echo "Authorization: Bearer $ADMIN_TOKEN" ;;
        *) echo "X-Anonymous: yes" ;;
    esac
}
get() { curl -sf -H "$(auth_of "$1")" "$U$2"; }
status() { curl -s -o /dev/null -w '%{http_code}' -H "$(auth_of "$1")" "$U$2"; }
# never WHO PATH: 200, and neither the internal nor the draft article in it
never() {
    local body
    body=$(get "$1" "$2") || { echo "GET $2 failed"; return 1; }
    echo "$body"
    ! grep -qiE 'vpn-internal|zebracorn|upcoming-draft|quokka|staff vpn|new price list' <<<"$body"
}
listed() { get "$1" "/articles?limit=200" | grep -q "\"slug\" *: *\"$2\""; }
total_is() { get "$1" "/articles?limit=1" | grep -q "\"total\" *: *$2[,}]"; }
with_related() { get "$1" "/article?slug=$2" | grep -q "\"related\" *: *\[{.*\"slug\" *: *\"$3\""; }
for who in anon customer; do
    check "$who: the list has the public articles" listed "$who" reset-password
    check "$who: the list has no internal and no draft article" never "$who" "/articles?limit=200"
    check "$who: asking for drafts lists none" never "$who" "/articles?status=draft"
    check "$who: a title filter finds no internal article" never "$who" "/articles?q=VPN"
    check "$who: the list counts only what it lists (total 7)" total_is "$who" 7
    check "$who: search finds no internal article" never "$who" "/search?q=zebracorn7731+vpn+certificate"
    check "$who: search finds no draft" never "$who" "/search?q=quokka4410+price+list"
    check "$who: suggestions hold no internal article" never "$who" "/suggest?q=renewing+the+staff+vpn+certificate"
    check "$who: answers cite no draft" never "$who" "/answer?q=new+price+list+next+year"
    check "$who: related articles hold no internal one" never "$who" "/article?slug=forgot-username"
    check "$who: the internal article by slug is 404" test "$(status "$who" /article?slug=vpn-internal)" = 404
    check "$who: the internal article by id is 404" test "$(status "$who" "/article?id=$INTERNAL_ID")" = 404
    check "$who: the draft by slug is 404" test "$(status "$who" /article?slug=upcoming-draft)" = 404
    check "$who: the draft by id is 404" test "$(status "$who" "/article?id=$DRAFT_ID")" = 404
    check "$who: no revisions of any article" test "$(status "$who" "/revisions?id=$INTERNAL_ID")" != 200
    check "$who: a public article reads, with its related ones" with_related "$who" reset-password forgot-username
done
check "a search without words is 400" test "$(status anon '/search?q=')" = 400
check "an article without slug or id is 400" test "$(status anon '/article')" = 400
check "an unknown slug is 404" test "$(status anon '/article?slug=no-such-article')" = 404
check "a hostile slug is 404, not an error" test "$(status anon '/article?slug=%3Cscript%3E%27%22')" = 404
hostile_html() {
    local html
    html=$(get anon '/article?slug=hostile') || return 1
    echo "$html"
    ! grep -qiE '<script|onerror|onmouseover|javascript:|vbscript:|data:text|<style|<iframe' \
        <<<"$(/usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["html"])' <<<"$html")"
}
check "the hostile article's html has no script, handler, style, frame or dangerous link" hostile_html
# staff read internal articles and drafts through the same public routes
# (atumd passes a presented credential to every plugin route) -- unless
# they ask for the public view, as every call of the portal does
check "staff: the list has the internal article" listed staff vpn-internal
check "staff: the list has the draft" listed staff upcoming-draft
staff_finds_internal() { get staff '/search?q=zebracorn7731+vpn+certificate' | grep -q vpn-internal; }
check "staff: search finds the internal article" staff_finds_internal
check "staff: the internal article by slug is 200" test "$(status staff /article?slug=vpn-internal)" = 200
check "staff, audience=public: the list has no internal and no draft article" \
    never staff "/articles?limit=200&audience=public"
check "staff, audience=public: search finds no internal article" \
    never staff "/search?q=zebracorn7731+vpn+certificate&audience=public"
check "staff, audience=public: the internal article by slug is 404" \
    test "$(status staff '/article?slug=vpn-internal&audience=public')" = 404
check "staff routes do read the internal article (its revisions, for an admin)" \
    bash -c "curl -sf -H 'Authorization: Bearer $ADMIN_TOKEN' '$U/revisions?id=$INTERNAL_ID' | grep -q zebracorn"

# ---- a ticket of the customer, for "this solved it" ---------------------
printf '%s\n' 'From: Carla Customer <carla@customer.example>' 'To: support@example.com' \
    'Subject: I cannot sign in' 'Message-ID: <kb-e2e-1@customer.example>' \
    'Date: Tue, 01 Dec 2026 10:00:00 +0000' 'Content-Type: text/plain; charset=utf-8' '' \
    'I forgot my password.' >"$T/m1.eml"
read -r _ KB_TICKET < <(ingest_mail "$T/m1.eml")
check "the customer's mail made a ticket" test -n "$KB_TICKET"

shots=$(browser_shots "${PORTAL_SCREENSHOTS:-}")
export PORTAL_URL="http://127.0.0.1:$WEBPORT" PORTAL_SCREENSHOTS=$shots \
    KB_PW KB_TICKET KB_ADMIN_TOKEN=$ADMIN_TOKEN
browser_run portal_kb.test.mjs
check "the customer's ticket was closed by \"this solved it\", and counted" \
    test "$(q "SELECT t.status || ':' || count(d.id) FROM tickets t LEFT JOIN kb_deflections d ON d.ticket_id = t.id WHERE t.id = $KB_TICKET GROUP BY t.status")" = "closed:1"
check "atumd stops cleanly" atumd_stop
finish
