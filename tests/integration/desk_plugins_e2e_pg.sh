#!/bin/bash
# desk_plugins_e2e_pg.sh -- the desk's plugin panels against the real
# plugins, in a real browser (Debian's chromium, headless, driven by
# playwright-core; the harness of desk_work_e2e_pg.sh): atumd with the
# triage, rag, smartreply and sla plugins on their local paths (no
# language model), the test's own KB and classifier seed, an SLA policy,
# a ticket by mail; then the triage panel (labels with confidences, a
# correction), the smartreply panel (a draft, "Insert into the reply"
# fills the editor and sends nothing, "New draft"), the rag panel (the
# ticket's suggestions, no duplicate element ids) and the sla panel (its
# clocks).  Tests in tests/e2e/desk_plugins.test.mjs; each counts as one
# check here.  The screenshot goes to DESK_SCREENSHOTS (default: the
# build tree's tests/e2e/screenshots).
set -u
. "$ATUM_SRCDIR/tests/lib.sh"
. "$ATUM_SRCDIR/tests/e2e/browser.sh"
S=$ATUM_SRCDIR
B=$ATUM_BUILDDIR
T=$ATUM_TEST_TMP
trap atumd_stop EXIT

browser_prereqs
if [ "$T_FAIL" -gt 0 ]; then
    finish
    exit 1
fi

DESK_PW='e2e correct horse battery'
cat >"$T/atum.conf" <<CONF
[core]
database_url = $ATUM_TEST_DATABASE_URL
secret_key = desk-plugins-secret-0123456789abcdef0123456789
workers = 2
[web]
listen = 127.0.0.1:0
assets_dir = $B/web/dist
[queue]
poll_interval = 200ms
[imap]
enabled = no
[plugin.triage]
path = $B/plugins/triage/.libs/triage.so
languages = en,de
[plugin.rag]
path = $B/plugins/rag/.libs/rag.so
[plugin.smartreply]
path = $B/plugins/smartreply/.libs/smartreply.so
[plugin.sla]
path = $B/plugins/sla/.libs/sla.so
zoneinfo_dir = /usr/share/zoneinfo
CONF
export ATUM_CONFIG=$T/atum.conf
CTL=$B/atumctl
setup() {
    "$CTL" migrate >/dev/null || return 1
    "$CTL" queue add support support@example.com >/dev/null || return 1
    echo "$DESK_PW" | "$CTL" user add agent@example.com --name 'Alex Agent' --role agent --password-stdin >/dev/null &&
    "$CTL" queue member support agent@example.com >/dev/null &&
    echo "$DESK_PW" | "$CTL" user add admin@example.com --name 'Ada Admin' --role admin --password-stdin >/dev/null
}
check "the test world: a queue and an agent" setup

# a seed for the local classifier and a knowledge base (the test's own)
cat >"$T/seed.tsv" <<'TSV'
id	text	category	priority	sentiment	language
s1	My invoice shows a wrong amount, please correct it	billing	normal	neutral	en
s2	I was charged twice this month, this is unacceptable	billing	high	negative	en
s3	Thank you, the refund arrived quickly, great service	billing	low	positive	en
s4	Where is my invoice for March?	billing	normal	neutral	en
s5	The app crashes every time I open it, terrible	technical	high	negative	en
s6	I cannot log in, the password reset mail never arrives	technical	high	negative	en
s7	How do I change my password?	technical	normal	neutral	en
s8	The new version works perfectly, thanks a lot	technical	low	positive	en
s9	My parcel has not arrived after two weeks, awful	shipping	high	negative	en
s10	Can I change the delivery address of my order?	shipping	normal	neutral	en
s11	The package came early, wonderful	shipping	low	positive	en
s12	Which carrier delivers my order?	shipping	normal	neutral	en
TSV
check "atumctl triage train reads the seed" bash -c "'$CTL' triage train '$T/seed.tsv' >'$T/train.out' 2>&1"
mkdir -p "$T/kb"
cat >"$T/kb/reset-password.md" <<'MD'
# How do I reset my password?

## Web

Open the login page and click **Forgot password**. A reset link arrives by mail within a minute.

## App

In the app, tap Settings, then Account, then Reset password.
MD
cat >"$T/kb/invoice-copy.md" <<'MD'
# Getting a copy of an invoice

Invoices are listed under Billing. Click an invoice to download it as PDF.
MD
check "atumctl kb import reads the articles" bash -c "'$CTL' kb import '$T/kb' | grep -q '2 new'"

check "atumd starts with the four plugins" atumd_start_port0 "$T/atum.conf" "$T/atumd.log"
export DESK_URL="http://127.0.0.1:$WEBPORT"
ADMIN_TOKEN=$("$CTL" token add admin@example.com --name e2e | grep -o 'atum_[A-Za-z0-9_-]*' | head -n 1)
check "an SLA policy for the support queue" curl -sf -o /dev/null -H "Authorization: Bearer $ADMIN_TOKEN" \
    -H 'Content-Type: application/json' -X POST "$DESK_URL/api/v1/plugins/sla/policies" \
    -d '{"name": "Standard", "queues": ["support"], "targets": {"first_response": {"hours": 4, "time": "calendar"}, "resolution": {"hours": 24, "time": "calendar"}}}'
export -f q
export ATUM_TEST_DATABASE_URL

printf '%s\n' 'From: Carla Customer <carla@customer.example>' 'To: support@example.com' \
    'Subject: I forgot my password' 'Message-ID: <plugins-1@customer.example>' \
    'Date: Tue, 01 Dec 2026 10:00:00 +0000' 'Content-Type: text/plain; charset=utf-8' '' \
    'I forgot my password and the reset does not work. This is really annoying.' >"$T/m1.eml"
read -r _ DESK_TICKET < <(ingest_mail "$T/m1.eml")
check "the mail made a ticket" test -n "$DESK_TICKET"
check "the ticket is triaged" \
    wait_until 20 bash -c "[ -n \"\$(q \"SELECT method FROM triage_results WHERE ticket_id = $DESK_TICKET\")\" ]"
check "smartreply has drafted" \
    wait_until 20 bash -c "[ -n \"\$(q \"SELECT id FROM smartreply_drafts WHERE ticket_id = $DESK_TICKET\")\" ]"

shots=$(browser_shots "${DESK_SCREENSHOTS:-}")
export DESK_PW DESK_TICKET DESK_SCREENSHOTS=$shots DESK_CHROMIUM=$CHROMIUM DESK_DB=$ATUM_TEST_DATABASE_URL
browser_run desk_plugins.test.mjs
check "atumd stops cleanly" atumd_stop
finish
