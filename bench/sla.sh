# bench/sla.sh -- sourced by bench/run for "sla" (its start_atumd,
# stop_atumd, $build, $top, $tmp and the private PostgreSQL are in scope).
#
# 1. The recompute of 100,000 open tickets after a calendar edit
#    (bench/sla_bench.c: the plugin's real .so through the fake host),
#    with the machine's reference figures of the same run; then the
#    backfill of 20,000 tickets written while the plugin was off.
# 2. The cost per ingested mail: bench/ingest.py against one atumd
#    without the plugin and one with it (a business-time policy on every
#    ticket), each on a fresh database of the same cluster; the ratio of
#    ingested mails per second, and how long after the last ingest the
#    plugin's hook jobs were all done.
base_url=$ATUM_TEST_DATABASE_URL
db_url() { echo "${base_url%/*}/$1"; }
new_db() { psql -X -q -d "$base_url" -c "CREATE DATABASE $1" >/dev/null; }

new_db sla_recompute
ATUM_TEST_DATABASE_URL=$(db_url sla_recompute)
printf '[core]\ndatabase_url = %s\n' "$ATUM_TEST_DATABASE_URL" >"$tmp/migrate.conf"
"$build/atumctl" -c "$tmp/migrate.conf" migrate >/dev/null
echo "== recompute after a calendar edit"
"$build/bench/sla_bench" "$ATUM_TEST_DATABASE_URL" "$build/plugins/sla/.libs/sla.so" "${BENCH_SLA_TICKETS:-100000}" |
    tee "$tmp/recompute.out"

mkdir -p "$tmp/plugins"
ln -sf "$build/plugins/sla/.libs/sla.so" "$tmp/plugins/sla.so"
ingest_run() {   # ingest_run NAME EXTRA_CONF
    new_db "$1"
    ATUM_TEST_DATABASE_URL=$(db_url "$1")
    start_atumd "[imap]
enabled = no
$2"
    if [ -n "$2" ]; then
        # a business-time policy that every ticket falls under
        psql -X -q -d "$ATUM_TEST_DATABASE_URL" <<'SQL' >/dev/null
INSERT INTO sla_calendars (name, spec) VALUES ('office',
  '{"time_zone": "Europe/Berlin", "hours": {"mon": ["08:00-18:00"], "tue": ["08:00-18:00"], "wed": ["08:00-18:00"], "thu": ["08:00-18:00"], "fri": ["08:00-18:00"]}, "holidays": [{"month": 12, "day": 25, "days": 2}]}');
INSERT INTO sla_policies (name, calendar_id, spec) SELECT 'all', id,
  jsonb_build_object('name', 'all', 'calendar', id, 'warn_percent', 80,
    'targets', '{"first_response": {"seconds": 14400}, "next_response": {"seconds": 28800}, "resolution": {"seconds": 144000}}'::jsonb,
    'escalation', '{"breach": [{"notify": "queue"}]}'::jsonb)
  FROM sla_calendars WHERE name = 'office';
UPDATE sla_config SET version = version + 1;
SQL
    fi
    local t0; t0=$(date +%s.%N)
    /usr/bin/python3 "$top/bench/ingest.py" "$SMTPPORT" "$ATUM_TEST_DATABASE_URL" "${BENCH_N:-10000}" 8 |
        tee "$tmp/$1.out"
    if [ -n "$2" ]; then
        # the plugin's share: until its last hook job is done
        while [ "$(psql -X -q -t -A -d "$ATUM_TEST_DATABASE_URL" -c \
                   "SELECT count(*) FROM jobs WHERE kind LIKE 'hook.sla.%' AND state <> 'dead'")" != 0 ]; do
            sleep 0.2
        done
        local t1; t1=$(date +%s.%N)
        psql -X -q -t -A -F ' ' -d "$ATUM_TEST_DATABASE_URL" -c \
            "SELECT 'sla_tickets=' || (SELECT count(*) FROM sla_tickets) || ' sla_ledger=' || (SELECT count(*) FROM sla_ledger)
                    || ' sla_ticks_pending=' || (SELECT count(*) FROM jobs WHERE kind = 'sla.tick')
                    || ' sla_hooks_dead=' || (SELECT count(*) FROM jobs WHERE kind LIKE 'hook.sla.%' AND state = 'dead')" |
            tee -a "$tmp/$1.out"
        awk -v a="$t0" -v b="$t1" 'BEGIN { printf "all_sla_hooks_done_after_s=%.1f\n", b - a }' | tee -a "$tmp/$1.out"
    fi
    stop_atumd
}
# without / with, alternating (BENCH_SLA_PAIRS pairs, default 2): this box
# is shared, and alternating spreads its load over both sides
pairs=${BENCH_SLA_PAIRS:-2}
: >"$tmp/ratios"
for i in $(seq 1 "$pairs"); do
    echo "== ingest without the plugin ($i)"
    ingest_run "ingest_plain_$i" ""
    echo "== ingest with the plugin ($i)"
    ingest_run "ingest_sla_$i" "[core]
plugin_dir = $tmp/plugins
[plugin.sla]"
    plain=$(sed -n 's/.*ingest_mails_per_s=\([0-9.]*\).*/\1/p' "$tmp/ingest_plain_$i.out")
    with=$(sed -n 's/.*ingest_mails_per_s=\([0-9.]*\).*/\1/p' "$tmp/ingest_sla_$i.out")
    done_s=$(sed -n 's/.*all_sla_hooks_done_after_s=\([0-9.]*\).*/\1/p' "$tmp/ingest_sla_$i.out")
    echo "$plain $with $done_s" >>"$tmp/ratios"
done
awk -v n="${BENCH_N:-10000}" '{ p += $1; w += $2; d += $3; printf "pair %d: plain=%s sla=%s ratio=%.2f\n", NR, $1, $2, $2 / $1 }
    END { printf "ingest_plain_per_s=%.0f ingest_sla_per_s=%.0f ingest_ratio=%.2f sla_end_to_end_per_s=%.0f\n",
                 p / NR, w / NR, w / p, n * NR / d }' "$tmp/ratios"
grep '^sla_hooks=' "$tmp/recompute.out"
grep '^sla_backfill_tickets=' "$tmp/recompute.out"
grep '^sla_recompute_tickets=' "$tmp/recompute.out"
