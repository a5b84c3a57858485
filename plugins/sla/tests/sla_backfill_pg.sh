#!/bin/bash
# sla_backfill_pg.sh -- the sla plugin's backfill in a real atumd, against
# the hooks of the same tickets at the same time:
#  - tickets written while the plugin was off: no ledger;
#  - atumd is restarted with the plugin: its start() queues the backfill,
#    which goes through the tickets ten at a time (recompute_batch) on one
#    worker while, at once, staff reply to every ticket through the API,
#    last ticket first, so reply hooks run on the other workers before,
#    during and after the backfill of their ticket;
#  - whatever the interleaving: every ticket has one start, its reply
#    once, its first response achieved, a state computed from its whole
#    ledger, and no job failed; a second backfill changes nothing.
set -u
. "$ATUM_SRCDIR/tests/lib.sh"
T=$ATUM_TEST_TMP
CTL=$ATUM_BUILDDIR/atumctl
N=600
mkdir -p "$T/plugins"
conf() {   # conf PLUGIN_SECTION
    cat >"$T/atum.conf" <<CONF
[core]
database_url = $ATUM_TEST_DATABASE_URL
secret_key = sla-backfill-secret-0123456789abcdef
workers = 4
plugin_dir = $T/plugins
[queue]
poll_interval = 200ms
[web]
listen = 127.0.0.1:0
[imap]
enabled = no
$1
CONF
}
conf ""
export ATUM_CONFIG=$T/atum.conf
"$CTL" migrate >/dev/null
"$CTL" queue add support support@example.com >/dev/null
"$CTL" user add agent@example.com --role agent --no-password >/dev/null
"$CTL" user add admin@example.com --role admin --no-password >/dev/null
"$CTL" queue member support agent@example.com >/dev/null
AGENT=$("$CTL" token add agent@example.com --name t)
ADMIN=$("$CTL" token add admin@example.com --name t)
trap atumd_stop EXIT

# ---- the plugin off: tickets as the desk wrote them ----------------------------------
# (straight into the tables: enough of them that the backfill takes a
# while, opened an hour ago)
"$CTL" user add customer@example.org --role customer --no-password >/dev/null
q "INSERT INTO tickets (queue_id, subject, requester_id, created_at, updated_at)
   SELECT (SELECT id FROM queues), 'old ' || i, (SELECT id FROM users WHERE email = 'customer@example.org'),
          now() - interval '1 hour', now() - interval '1 hour' FROM generate_series(1, $N) i" >/dev/null
q "INSERT INTO messages (ticket_id, direction, visibility, body_text, created_at, ticket_version)
   SELECT id, 'in', 'public', 'help', created_at, 1 FROM tickets" >/dev/null
sql_is() { [ "$(q "$1")" = "$2" ]; }
check "$N tickets opened while the plugin was off" sql_is "SELECT count(*) FROM tickets WHERE status = 'new'" "$N"
check "no SLA table yet" sql_is "SELECT to_regclass('sla_ledger') IS NULL" t

# ---- the plugin on: the backfill and the replies at once -------------------------------
ln -s "$ATUM_BUILDDIR/plugins/sla/.libs/sla.so" "$T/plugins/sla.so"
conf "[plugin.sla]
recompute_batch = 10"
"$CTL" migrate >/dev/null
atumd_start_port0 "$T/atum.conf" "$T/atumd.log" || { cat "$T/atumd.log"; exit 1; }
U=http://127.0.0.1:$WEBPORT/api/v1
curl -s -o "$T/body" -H "Authorization: Bearer $ADMIN" -H 'Content-Type: application/json' -X POST "$U/plugins/sla/policies" \
    -d '{"name":"Plain","targets":{"first_response":{"hours":1,"time":"calendar"},"resolution":{"hours":8,"time":"calendar"}}}' >/dev/null
# the replies, last ticket first, four at a time
q "SELECT id FROM tickets ORDER BY id DESC" >"$T/ids"
xargs -P 4 -I{} curl -s -o /dev/null -w '%{http_code}\n' -H "Authorization: Bearer $AGENT" \
    -H 'Content-Type: application/json' -X POST "$U/tickets/{}/replies" -d '{"body":"On it."}' <"$T/ids" >"$T/codes"
replies_taken() { [ "$(grep -c '^201$' "$T/codes")" = "$N" ]; }
check "every reply was taken" replies_taken
done_all() {
    sql_is "SELECT count(*) FROM sla_tickets WHERE fr_mode = 'achieved'" "$N" &&
    sql_is "SELECT count(*) FROM jobs WHERE (kind = 'sla.backfill' OR kind LIKE 'hook.sla.%') AND state IN ('available', 'running')" 0
}
check "every ticket's first response is achieved" wait_until 60 done_all
check "one start per ticket" sql_is \
    "SELECT count(*) FILTER (WHERE n = 1) || ' ' || count(*) FROM (SELECT count(*) n FROM sla_ledger WHERE kind = 'start' GROUP BY ticket_id) s" "$N $N"
check "each reply once, as a response" sql_is \
    "SELECT count(*) FROM sla_ledger l JOIN messages m ON l.source = 'message:' || m.id WHERE l.kind = 'response' AND m.direction = 'out'" "$N"
check "each ticket's state computed from its whole ledger" sql_is \
    "SELECT count(*) FROM sla_tickets s WHERE s.ledger_last = (SELECT max(id) FROM sla_ledger l WHERE l.ticket_id = s.ticket_id)" "$N"
check "no sla job failed" sql_is \
    "SELECT (SELECT count(*) FROM jobs WHERE (kind LIKE 'sla.%' OR kind LIKE 'hook.sla.%') AND last_error IS NOT NULL) + (SELECT count(*) FROM job_archive WHERE (kind LIKE 'sla.%' OR kind LIKE 'hook.sla.%') AND attempts > 1)" 0
# how the two met this time (for the log: any interleaving must pass)
echo "replies recorded by their hook before the backfill started their ticket: $(q \
    "SELECT count(*) FROM sla_ledger r JOIN sla_ledger s ON s.ticket_id = r.ticket_id AND s.kind = 'start' WHERE r.kind = 'response' AND r.id < s.id")"
echo "replies the backfill read from the history first: $(q "SELECT count(*) FROM sla_ledger WHERE kind = 'response' AND detail->>'backfill' = 'true'")"

# ---- again: nothing changes ---------------------------------------------------------------
BEFORE=$(q "SELECT count(*) || ' ' || max(id) FROM sla_ledger")
check "an agent may not ask for a backfill" bash -c "[ \$(curl -s -o /dev/null -w '%{http_code}' -H 'Authorization: Bearer $AGENT' -X POST '$U/plugins/sla/backfill') = 404 ]"
check "an admin asks for one" bash -c "[ \$(curl -s -o /dev/null -w '%{http_code}' -H 'Authorization: Bearer $ADMIN' -X POST '$U/plugins/sla/backfill') = 202 ]"
backfill_ran() { sql_is "SELECT count(*) FROM jobs WHERE kind = 'sla.backfill'" 0; }
check "it runs" wait_until 30 backfill_ran
check "the ledger is the same" sql_is "SELECT count(*) || ' ' || max(id) FROM sla_ledger" "$BEFORE"
check "atumd logged no plugin failure" bash -c "! grep -E 'level=error' '$T/atumd.log' | grep -E 'sla|plugin'"
check "atumd stops cleanly" atumd_stop
finish
