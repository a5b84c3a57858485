#!/bin/bash
# plugins_ai_pg.sh -- triage, rag and smartreply in a real atumd, with a
# language-model server of the test suite (tests/llmserver.py, both
# formats): mail in -> triage by the model (scripted answers), shown in the
# ticket's answer and filterable (?triage_sentiment=); the acknowledgement
# carries "these articles may help"; a drafted answer cites the KB and
# "I don't know" makes no call; embeddings computed by a job; smartreply's
# draft in the ticket's answer; every way a model's answer is discarded
# (failing, malformed, truncated, wrong schema, refused, late) leaves the
# local path to answer, the breaker opens and shows in /status; replay by
# route and by atumctl; bad input (1 MB, binary, mixed languages); a
# corrupt model refused with a log line and retrained; GET /metrics (the
# metrics plugin) counts and times the model calls, HELP for every family.
set -u
. "$ATUM_SRCDIR/tests/lib.sh"
B=$ATUM_BUILDDIR
T=$ATUM_TEST_TMP
PY=/usr/bin/python3
CTL=$B/atumctl
LLMPID=
cleanup() { atumd_stop; [ -n "$LLMPID" ] && kill "$LLMPID" 2>/dev/null; wait 2>/dev/null; }
trap cleanup EXIT

# ---- the language-model server: a port of the kernel's choice -------------
$PY "$ATUM_SRCDIR/tests/llmserver.py" --port-file "$T/llm.port" >"$T/llm.log" 2>&1 &
LLMPID=$!
check "the test model server starts" wait_until 10 test -s "$T/llm.port"
LLM=http://127.0.0.1:$(cat "$T/llm.port")
control() { curl -s -X POST --data "$1" "$LLM/_control" >/dev/null; }
requests() { curl -s "$LLM/_requests"; }
nrequests() { requests | $PY -c 'import json,sys; print(len(json.load(sys.stdin)))'; }

cat >"$T/atum.conf" <<CONF
[core]
database_url = $ATUM_TEST_DATABASE_URL
secret_key = ai-plugins-test-secret-0123456789abcdef
workers = 3
public_url = https://desk.example.com
[web]
listen = 127.0.0.1:0
[imap]
enabled = no
[plugin.triage]
path = $B/plugins/triage/.libs/triage.so
languages = en,de,fr
llm = ollama
llm_url = $LLM
llm_model = test-model
llm_timeout_ms = 1500
llm_breaker_failures = 5
llm_breaker_cooldown_s = 3600
[plugin.rag]
path = $B/plugins/rag/.libs/rag.so
public_url = https://help.example.com
llm = ollama
llm_url = $LLM
llm_model = test-model
llm_embed_model = test-embed
[plugin.smartreply]
path = $B/plugins/smartreply/.libs/smartreply.so
llm = openai
llm_url = $LLM/v1
llm_model = test-writer
llm_api_key_env = ATUM_TEST_LLM_KEY
[plugin.metrics]
path = $B/plugins/metrics/.libs/metrics.so
scrape_allow = 127.0.0.0/8
CONF
export ATUM_CONFIG=$T/atum.conf
export ATUM_TEST_LLM_KEY=sk-test-key-42
"$CTL" migrate >/dev/null
"$CTL" queue add Support support@example.com >/dev/null
printf 'agent-password-1\n' | "$CTL" user add ann@example.com --name "Ann Agent" --role agent --password-stdin >/dev/null
"$CTL" queue member Support ann@example.com >/dev/null
TOKEN=$("$CTL" token add ann@example.com --name test | grep -o 'atum_[A-Za-z0-9_-]*' | head -n 1)
printf 'admin-password-1\n' | "$CTL" user add ada@example.com --name "Ada Admin" --role admin --password-stdin >/dev/null
ADMIN=$("$CTL" token add ada@example.com --name test | grep -o 'atum_[A-Za-z0-9_-]*' | head -n 1)

# a small seed for the local models (general support texts) and a KB
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
check "atumctl triage train reads a seed file" bash -c "'$CTL' triage train '$T/seed.tsv' >'$T/train.out' 2>&1"
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

check "atumd starts with the three plugins" atumd_start_port0 "$T/atum.conf" "$T/atumd.log"
U=http://127.0.0.1:$WEBPORT
api() {   # api METHOD PATH [JSON] [TOKEN]
    curl -s -X "$1" -H "Authorization: Bearer ${4:-$TOKEN}" -H 'Content-Type: application/json' \
        ${3:+--data "$3"} "$U$2"
}
jq_() { $PY -c "import json,sys; d=json.load(sys.stdin); print(eval(sys.argv[1]))" "$1"; }
export -f api jq_ q requests nrequests
export U TOKEN PY LLM ATUM_TEST_DATABASE_URL
check "the three plugins (and metrics) are loaded" bash -c "'$CTL' --json plugins | grep -o '\"state\": *\"ok\"' | wc -l | grep -qx 4"

# ---- embeddings: the import queued the job ----------------------------------
check "the embedding job stores a vector per passage" \
    wait_until 20 bash -c "[ \$(q \"SELECT count(*) FROM rag_embeddings WHERE model = 'test-embed' AND dim = 64\") -ge 3 ]"

# ---- a mail: triage by the model, the acknowledgement, smartreply -----------
control '{"reset": true, "mode": "ok", "answers": {"/api/chat": [{"category": "technical", "category_confidence": 0.9, "priority": "high", "priority_confidence": 0.8, "sentiment": "negative", "sentiment_confidence": 0.93, "reason": "cannot log in, upset"}]}}'
mail() {   # mail FILE FROM SUBJECT BODY
    printf 'From: %s\nTo: support@example.com\nSubject: %s\nMessage-ID: <%s@customer.example>\nDate: Tue, 01 Dec 2026 10:00:00 +0000\nContent-Type: text/plain; charset=utf-8\n\n%s\n' \
        "$2" "$3" "$(basename "$1")" "$4" >"$1"
}
mail "$T/m1.eml" "Carla Customer <carla@customer.example>" "I forgot my password" \
    "I forgot my password and the reset does not work. This is really annoying."
read -r _ T1 < <(ingest_mail "$T/m1.eml")
wait_until 20 bash -c "[ -n \"\$(q \"SELECT method FROM triage_results WHERE ticket_id = $T1\")\" ]"
check "the ticket is triaged by the model" \
    wait_until 20 bash -c "[ \"\$(q \"SELECT method FROM triage_results WHERE ticket_id = $T1\")\" = llm:test-model ]"
check "the ticket's answer shows the triage" bash -c \
    "api GET /api/v1/tickets/$T1 | jq_ \"d['plugins']['triage']['sentiment']['value'] + d['plugins']['triage']['category']['value']\" | grep -qx negativetechnical"
check "the list filters by the triage's sentiment" bash -c \
    "api GET '/api/v1/tickets?triage_sentiment=negative' | grep -q '\"id\":$T1[,}]'"
check "and leaves out what does not match" bash -c \
    "! api GET '/api/v1/tickets?triage_sentiment=positive' | grep -q '\"id\":$T1[,}]'"
check "the model got the ticket's text and the schema" bash -c \
    "requests | grep -q 'the reset does not work' && requests | grep -q '\"format\"'"
check "the acknowledgement suggests the article that answers it" \
    wait_until 20 bash -c "q \"SELECT convert_from(raw, 'UTF8') FROM outbound_mail WHERE kind = 'ack' AND ticket_id = $T1\" \
        | $PY -c 'import email,sys; m=email.message_from_string(sys.stdin.read()); t=\"\".join(p.get_payload(decode=True).decode() for p in m.walk() if p.get_content_type()==\"text/plain\"); sys.exit(0 if \"These articles may help\" in t and \"https://help.example.com/portal/kb/reset-password?ticket=$T1\" in t else 1)'"
check "smartreply drafted a reply with the OpenAI-style model" \
    wait_until 20 bash -c "api GET /api/v1/tickets/$T1 | grep -q '\"smartreply\":{\"state\":\"done\"'"
check "the API key went to the server as a Bearer token, from the environment" bash -c \
    "requests | grep -q 'Bearer sk-test-key-42'"
check "the key is in no trace" bash -c "! q \"SELECT input::text || coalesce(raw, '') FROM smartreply_drafts\" | grep -q sk-test-key"
# the desk's contract: plugins.triage, .rag and .smartreply as the OpenAPI
# document describes them (TicketFull.plugins), checked by a small
# validator of the schema keywords the document uses
cat >"$T/views.py" <<'PY'
import json, sys
doc = json.load(open(sys.argv[1]))
ticket = json.load(sys.stdin)
TYPES = {"object": dict, "array": list, "string": str, "boolean": bool, "null": type(None)}
def ok_type(v, t):
    if t == "integer":
        return isinstance(v, int) and not isinstance(v, bool)
    if t == "number":
        return isinstance(v, (int, float)) and not isinstance(v, bool)
    return isinstance(v, TYPES[t])
def check(v, s, where):
    if "$ref" in s:
        return check(v, doc["components"]["schemas"][s["$ref"].split("/")[-1]], where)
    if "oneOf" in s:
        fits = [e for e in (check(v, o, where) for o in s["oneOf"]) if not e]
        return [] if len(fits) == 1 else ["%s: fits %d of oneOf" % (where, len(fits))]
    errs = []
    if "type" in s:
        ts = s["type"] if isinstance(s["type"], list) else [s["type"]]
        if not any(ok_type(v, t) for t in ts):
            return ["%s: %r is not %s" % (where, v, ts)]
    if "const" in s and v != s["const"]:
        errs.append("%s: %r is not %r" % (where, v, s["const"]))
    if "enum" in s and v not in s["enum"]:
        errs.append("%s: %r not in %s" % (where, v, s["enum"]))
    if isinstance(v, dict):
        props = s.get("properties", {})
        errs += ["%s: %s missing" % (where, k) for k in s.get("required", []) if k not in v]
        for k, x in v.items():
            if k in props:
                errs += check(x, props[k], where + "." + k)
            elif s.get("additionalProperties") is False:
                errs.append("%s: %s is not in the schema" % (where, k))
    if isinstance(v, list) and "items" in s:
        for i, x in enumerate(v):
            errs += check(x, s["items"], "%s[%d]" % (where, i))
    return errs
schema = doc["components"]["schemas"]["TicketFull"]["allOf"][1]["properties"]["plugins"]
views = ticket.get("plugins", {})
errs = check(views, schema, "plugins")
for name in ("triage", "rag", "smartreply"):
    if name not in views:
        errs.append("plugins.%s is missing" % name)
if not views.get("rag", {}).get("suggestions"):
    errs.append("plugins.rag suggests nothing")
if not ((views.get("smartreply", {}).get("draft") or {}).get("result") or {}).get("insert"):
    errs.append("plugins.smartreply has nothing to insert")
print("\n".join(errs))
sys.exit(1 if errs else 0)
PY
check "the ticket's plugin views are what the OpenAPI document says the desk gets" bash -c \
    "api GET /api/v1/tickets/$T1 | $PY '$T/views.py' '$ATUM_SRCDIR/src/web/openapi.json'"

# ---- drafted answers: citations, I don't know ------------------------------
control '{"reset": true, "mode": "ok", "answers": {"/api/chat": [{"answered": true, "answer": "Click Forgot password on the login page [1].", "citations": [1]}]}}'
RUN=$(api POST /api/v1/plugins/rag/drafts '{"question": "how can I reset my password?"}' | jq_ "d['run_id']")
check "a drafted answer is a job, done with the model and its citation" \
    wait_until 20 bash -c "api GET '/api/v1/plugins/rag/runs?id=$RUN' | grep -q '\"method\":\"llm:test-model\"'"
check "it cites the article" bash -c "api GET '/api/v1/plugins/rag/runs?id=$RUN' | grep -q '\"slug\":\"reset-password\"'"
N0=$(nrequests)
RUN2=$(api POST /api/v1/plugins/rag/drafts '{"question": "what is the capital of mongolia?"}' | jq_ "d['run_id']")
check "a question the KB cannot answer gets I don't know" \
    wait_until 20 bash -c "api GET '/api/v1/plugins/rag/runs?id=$RUN2' | grep -q '\"answered\":false'"
check "without asking the chat model" bash -c \
    "requests | $PY -c 'import json,sys; r=json.load(sys.stdin)[$N0:]; sys.exit(1 if any(x[\"path\"] == \"/api/chat\" for x in r) else 0)'"

# ---- every way an answer is discarded: the local path answers --------------
bad_mail() {   # bad_mail MODE_JSON: a new ticket while the model answers so; prints its id
    control "$1"
    local n; n=$(date +%s%N)
    mail "$T/bad$n.eml" "Dora <dora$n@customer.example>" "Help $n" "My invoice is wrong again, please fix it."
    read -r _ TB < <(ingest_mail "$T/bad$n.eml")
    wait_until 20 bash -c "[ -n \"\$(q \"SELECT method FROM triage_results WHERE ticket_id = $TB\")\" ]"
    echo "$TB"
}
outcome_of() {   # the outcome of ticket N's model run
    q "SELECT outcome FROM triage_runs WHERE ticket_id = $1 AND method LIKE 'llm:%' ORDER BY id DESC LIMIT 1"
}
export -f outcome_of
# five failures in a row open the breaker: a good answer between keeps it shut
for spec in "failing http" "malformed malformed" "truncated malformed" "wrong_schema invalid" "ok ok" \
            "refused malformed" "slow late"; do
    set -- $spec
    if [ "$1" = slow ]; then mj='{"mode": "slow", "delay": 3, "count": 1, "path": "/api/chat"}'
    else mj="{\"mode\": \"$1\", \"count\": 1, \"path\": \"/api/chat\"}"; fi
    TB=$(bad_mail "$mj")
    if [ "$1" = ok ]; then
        check "ok: the model answers again" bash -c "q \"SELECT method, reason FROM triage_results WHERE ticket_id = $TB\"; [ \"\$(q \"SELECT method FROM triage_results WHERE ticket_id = $TB\")\" = llm:test-model ]"
        continue
    fi
    check "$1: the local path answers" bash -c "[ \"\$(q \"SELECT method FROM triage_results WHERE ticket_id = $TB\")\" = local ]"
    check "$1: the run records why ($2)" bash -c "o=\$(outcome_of $TB); echo \"outcome \$o\"; q \"SELECT error FROM triage_runs WHERE ticket_id = $TB\"; [ \"\$o\" = $2 ]"
done
check "a late answer's job still finished" bash -c \
    "[ \$(q \"SELECT count(*) FROM jobs WHERE kind LIKE 'hook.triage%' AND state IN ('dead', 'retry')\") = 0 ]"
for n in 1 2 3; do TB=$(bad_mail '{"mode": "failing", "count": 1, "path": "/api/chat"}'); done
check "five failures in a row open the breaker, shown in /status" bash -c \
    "api GET /api/v1/plugins/triage/status | grep -q '\"state\":\"open\"'"
N1=$(nrequests)
TB=$(bad_mail '{"mode": "ok"}')
check "an open breaker makes no call: the local path answers" bash -c \
    "[ \"\$(q \"SELECT method FROM triage_results WHERE ticket_id = $TB\")\" = local ] && \
     ! requests | $PY -c 'import json,sys; r=json.load(sys.stdin)[$N1:]; sys.exit(0 if any(x[\"path\"] == \"/api/chat\" for x in r) else 1)'"

# ---- what GET /metrics tells an operator about the model --------------------
curl -s "$U/metrics" >"$T/scrape.txt"
check "/metrics counts the model's calls by plugin, kind and outcome" bash -c \
    "grep -q '^atum_llm_calls_total{plugin=\"triage\",kind=\"chat\",outcome=\"ok\"} [1-9]' '$T/scrape.txt' && \
     grep -q '^atum_llm_calls_total{plugin=\"triage\",kind=\"chat\",outcome=\"http\"} [1-9]' '$T/scrape.txt' && \
     grep -q '^atum_llm_calls_total{plugin=\"triage\",kind=\"chat\",outcome=\"skipped\"} [1-9]' '$T/scrape.txt' && \
     grep -q '^atum_llm_calls_total{plugin=\"rag\",kind=\"embed\",outcome=\"ok\"} [1-9]' '$T/scrape.txt'"
check "/metrics times them and shows the open breaker" bash -c \
    "grep -q '^atum_llm_call_duration_seconds_bucket{plugin=\"triage\",kind=\"chat\",le=\"+Inf\"} [1-9]' '$T/scrape.txt' && \
     grep -q '^atum_llm_breaker_open{plugin=\"triage\"} 1' '$T/scrape.txt' || \
     { grep '^atum_llm_[a-z_]*\\(_count\\|_open\\)' '$T/scrape.txt'; exit 1; }"
check "every AI family has its own HELP text" bash -c \
    "for f in atum_llm_calls_total atum_llm_call_duration_seconds atum_llm_breaker_open atum_triage_runs_total atum_smartreply_drafts_total; do \
         grep -q \"^# HELP \$f \" '$T/scrape.txt' || { echo \"no HELP for \$f\"; exit 1; }; \
         ! grep -q \"^# HELP \$f not described\" '$T/scrape.txt' || { echo \"\$f not described\"; exit 1; }; done"
if command -v promtool >/dev/null; then
    check "promtool check metrics accepts the scrape" bash -c "promtool check metrics <'$T/scrape.txt'"
fi

# ---- replay --------------------------------------------------------------------
R1=$(q "SELECT run_id FROM triage_results WHERE ticket_id = $T1")
REP=$(api POST /api/v1/plugins/triage/replay "{\"run_id\": $R1}")
check "a replay is queued" bash -c "echo '$REP' | grep -q '\"job_id\"'"
check "the replay is recorded beside the run" \
    wait_until 20 bash -c "api GET '/api/v1/plugins/triage/runs?id=$R1' | jq_ \"len(d['replays'])\" | grep -qx 1"
LOCALRUN=$(q "SELECT id FROM triage_runs WHERE method = 'local' ORDER BY id LIMIT 1")
check "atumctl triage replay ID runs it here" bash -c "'$CTL' triage replay $LOCALRUN | grep -q 'replays run $LOCALRUN'"

# ---- bad input --------------------------------------------------------------
$PY - "$T/huge.eml" <<'PY'
import sys
words = "password invoice Rechnung facture 請求書 счёт refund ".split()
body = " ".join(words[i % len(words)] for i in range(160000))[:1024 * 1024]
open(sys.argv[1], "w", encoding="utf-8").write(
    "From: Huge <huge@customer.example>\nTo: support@example.com\nSubject: a very long mail\n"
    "Message-ID: <huge@customer.example>\nContent-Type: text/plain; charset=utf-8\n\n" + body + "\n")
PY
printf 'From: Bin <bin@customer.example>\nTo: support@example.com\nSubject: \x01\x02 binary\nMessage-ID: <bin@customer.example>\nContent-Type: text/plain; charset=iso-8859-1\n\n%s\n' \
    "$(head -c 3000 /dev/urandom | tr -d '\000' | base64 -w 0 | head -c 2000)" >"$T/bin.eml"
head -c 2000 /dev/urandom | tr -d '\000' >>"$T/bin.eml"
for f in huge bin; do
    read -r _ TX < <(ingest_mail "$T/$f.eml")
    check "$f mail: triaged with a confidence" \
        wait_until 30 bash -c "q \"SELECT language_conf FROM triage_results WHERE ticket_id = $TX\" | grep -q '[0-9]'"
done
check "atumd is still serving" curl -sf "$U/healthz"

# ---- a corrupt model: refused with a log line, then retrained ----------------
q "UPDATE triage_models SET model = '\\x00112233'::bytea WHERE label = 'sentiment' AND version = (SELECT max(version) FROM triage_models WHERE label = 'sentiment')" >/dev/null
# the plugin looks for newer models at most every 10 s: a new version of the
# same corrupt bytes makes it look now
q "INSERT INTO triage_models (label, version, rows, classes, model) SELECT label, version + 1, rows, classes, model FROM triage_models WHERE label = 'sentiment' ORDER BY version DESC LIMIT 1" >/dev/null
refused_logged() {
    api POST /api/v1/plugins/triage/predict '{"text": "this is awful"}' >/dev/null
    grep -q "model sentiment v.* refused" "$T/atumd.log"
}
export -f refused_logged
export T
check "a corrupt model is refused with a clear log line" wait_until 30 refused_logged
check "atumctl triage retrain makes a good one" bash -c "'$CTL' triage retrain | grep -q '^sentiment:'"

finish
