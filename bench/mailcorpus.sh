#!/bin/bash
# bench/mailcorpus.sh -- how well atumd reads mail corpora (called by
# bench/run mailcorpus, with ATUM_TEST_DATABASE_URL pointing at a fresh
# cluster).  For tests/data/mail and the shared developer corpus
# (../shared/testdata/mail beside the repository, or $BENCH_SHARED_MAIL;
# skipped with a note when absent), the four figures of issue 11, two ways:
#   parse   `atumctl parse` of each mail (no database; what `make check`
#           gates at 97 % in tests/unit/mailcorpus.sh)
#   ingest  each mail through `atumctl inject` into a running atumd, then
#           `atumctl --json inbound show` (the way the issue measured):
#           failed counts the mails that did not become a ticket
# Figures: messages right % (subject, sender, Message-ID and attachment
# count all right), fields right %, robots right %, failed.  The last line
# is key=value pairs.
set -euo pipefail
build=$1; tmp=$2
top=$(cd "$(dirname "$0")/.." && pwd)
PSQL=(psql -X -q -t -A -d "$ATUM_TEST_DATABASE_URL")
SCORE=(/usr/bin/python3 "$top/tests/mailscore.py" --quiet)
. "$top/tests/ports.sh"    # port_take: a port nothing else takes meanwhile

corpora=("$top/tests/data/mail")
names=(tests/data/mail)
keys=(local)
shared=${BENCH_SHARED_MAIL:-$top/../shared/testdata/mail}
if [ -f "$shared/EXPECT.tsv" ]; then
    corpora+=("$(cd "$shared" && pwd)")
    names+=(../shared/testdata/mail)
    keys+=(shared)
else
    echo "note: no shared corpus at $shared: skipped"
fi

printf '[core]\nsecret_key = bench-secret\n' >"$tmp/parse.conf"
last=""
for i in "${!corpora[@]}"; do
    dir=${corpora[$i]} name=${names[$i]} key=${keys[$i]}
    out=$("${SCORE[@]}" "$dir" parse "$build/atumctl" "$tmp/parse.conf" | tail -n 1)
    echo "parse  $name: $out"
    last="$last $(echo "$out" | sed "s/\([a-z_]*\)=/${key}_parse_\1=/g")"
done

# each corpus in a database of its own: the shared corpus repeats mails of
# tests/data/mail, and a Message-ID seen before would read as a duplicate
for i in "${!corpora[@]}"; do
    dir=${corpora[$i]} name=${names[$i]} key=${keys[$i]} n=$((i + 1))
    "${PSQL[@]}" -c "CREATE DATABASE mailcorpus_$n" >/dev/null
    url=${ATUM_TEST_DATABASE_URL%/*}/mailcorpus_$n
    port_take webport
    cat >"$tmp/atum.conf" <<CONF
[core]
database_url = $url
secret_key = bench-secret
workers = 2
log_level = warn
[web]
listen = 127.0.0.1:$webport
[imap]
enabled = no
CONF
    export ATUM_CONFIG=$tmp/atum.conf
    "$build/atumctl" migrate >/dev/null
    "$build/atumctl" queue add support support@example.com >/dev/null
    "$build/atumd" -c "$tmp/atum.conf" --foreground >"$tmp/atumd.$n.log" 2>&1 &
    pid=$!
    trap 'kill -TERM $pid 2>/dev/null; wait $pid 2>/dev/null || true' EXIT
    for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$webport/healthz" >/dev/null && break; sleep 0.1; done
    ids=$tmp/ids.$n
    : >"$ids"
    for f in "$dir"/*.eml; do
        id=$("$build/atumctl" inject --to support@example.com <"$f" 2>/dev/null | grep -oE '[0-9]+' | head -n 1 || true)
        echo "$f ${id:-REFUSED}" >>"$ids"
    done
    # settled: no ingest job running or still on its first attempt (a mail
    # that fails waits for its retry with attempts >= 1: it counts as failed)
    for _ in $(seq 1 600); do
        left=$(psql -X -q -t -A -d "$url" -c "SELECT count(*) FROM jobs WHERE kind = 'mail.ingest'
                AND (state = 'running' OR (state = 'available' AND attempts = 0))")
        [ "$left" = 0 ] && break
        sleep 0.2
    done
    out=$("${SCORE[@]}" "$dir" show "$build/atumctl" "$ids" | tail -n 1)
    echo "ingest $name: $out"
    last="$last $(echo "$out" | sed "s/\([a-z_]*\)=/${key}_ingest_\1=/g")"
    kill -TERM $pid 2>/dev/null
    wait $pid 2>/dev/null || true
    trap - EXIT
done
echo "${last# }"
