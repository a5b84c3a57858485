#!/bin/bash
# dashboard_e2e_pg.sh -- the managers' dashboard (/desk/dashboard) in a
# real browser: Debian's chromium, headless, driven by playwright-core
# (tests/e2e/dashboard.test.mjs, Node's own test runner) against a real
# atumd with the metrics plugin loaded and a private PostgreSQL
# (tests/run-test).  The tickets, their messages, ratings and hourly
# snapshots are written with known times relative to one instant
# (DASH_NOW), so the test computes by hand what the page must show.
# Each browser test counts as one check.  Screenshots go to
# DESK_SCREENSHOTS (default: the build tree's tests/e2e/screenshots);
# docs/screenshots/dashboard.png is the one the README shows.
# No chromium, no Node or no playwright-core is a failure, never a skip.
set -u
. "$ATUM_SRCDIR/tests/lib.sh"
. "$ATUM_SRCDIR/tests/e2e/browser.sh"
S=$ATUM_SRCDIR
B=$ATUM_BUILDDIR
T=$ATUM_TEST_TMP
CTL=$B/atumctl
PW='dashboard e2e horse battery'
cleanup() {
    atumd_stop
    return 0
}
trap cleanup EXIT

browser_prereqs
check "the metrics plugin is built" test -f "$B/plugins/metrics/.libs/metrics.so"
if [ "$T_FAIL" -gt 0 ]; then
    finish
    exit 1
fi

cat >"$T/atum.conf" <<CONF
[core]
database_url = $ATUM_TEST_DATABASE_URL
secret_key = dashboard-e2e-secret-0123456789abcdef0123
workers = 2
[web]
listen = 127.0.0.1:0
assets_dir = $B/web/dist
[queue]
poll_interval = 200ms
[imap]
enabled = no
[plugin.metrics]
path = $B/plugins/metrics/.libs/metrics.so
timezone = UTC
# no refresh job every 15 s: the dashboard reads the tables itself
database_gauges = no
CONF
export ATUM_CONFIG=$T/atum.conf
setup() {
    "$CTL" migrate >/dev/null || return 1
    "$CTL" queue add support support@example.com >/dev/null || return 1
    "$CTL" queue add billing billing@example.com >/dev/null || return 1
    local u
    for u in manager:mia@example.com:Mia\ Manager agent:agent@example.com:Alex\ Agent \
             agent:other@example.com:Olga\ Other admin:ada@example.com:Ada\ Admin; do
        echo "$PW" | "$CTL" user add "$(cut -d: -f2 <<<"$u")" --name "$(cut -d: -f3 <<<"$u")" \
            --role "$(cut -d: -f1 <<<"$u")" --password-stdin >/dev/null || return 1
    done
    "$CTL" user add pat@example.org --name 'Pat Printer' --role customer --no-password >/dev/null || return 1
    "$CTL" queue member support agent@example.com >/dev/null &&
        "$CTL" queue member billing other@example.com >/dev/null
}
check "the world: two queues, a manager, two agents, an admin, a customer" setup
# the admin's API token switches the plugin off and on again (PATCH /plugins/metrics)
DASH_ADMIN_TOKEN=$("$CTL" token add ada@example.com --name dashboard-e2e)

# Every time below is DASH_NOW plus an offset in seconds.  The tickets
# (A-I), what the dashboard must make of them, is worked out by hand in
# tests/e2e/dashboard.test.mjs from this same table.
DASH_NOW=$(psql -X -q -t -A -d "$ATUM_TEST_DATABASE_URL" -c "SELECT floor(extract(epoch FROM now()))::bigint")
seed() {
    psql -X -q -v ON_ERROR_STOP=1 -v now="$DASH_NOW" -d "$ATUM_TEST_DATABASE_URL" <<'SQL'
CREATE TEMP TABLE seed (tag text, queue text, status text, priority text, assignee text,
                        created int, reply int, note int, solved int, closed int,
                        staff_first bool, merged_into text);
-- offsets: created from now, the others from created; d = 86400, h = 3600
INSERT INTO seed VALUES
 ('A', 'support', 'solved',  'normal', NULL,                 -2*86400, 3600,  600,  3*3600, NULL,    false, NULL),
 ('B', 'support', 'solved',  'normal', 'agent@example.com',  -3*86400, 7200,  NULL, 86400,  NULL,    false, NULL),
 ('C', 'support', 'open',    'normal', 'agent@example.com',  -5*86400, 14400, 60,   NULL,   NULL,    false, NULL),
 ('D', 'support', 'new',     'urgent', NULL,                 -6*86400, NULL,  NULL, NULL,   NULL,    false, NULL),
 ('E', 'support', 'solved',  'normal', NULL,                -20*86400, 28800, NULL, 2*86400, NULL,   false, NULL),
 ('F', 'support', 'closed',  'normal', NULL,                -40*86400, 86400, NULL, 2*86400, 3*86400, false, NULL),
 ('G', 'billing', 'pending', 'high',   'other@example.com',  -1*86400, 1800,  NULL, NULL,   NULL,    false, NULL),
 ('H', 'billing', 'open',    'low',    NULL,                 -4*86400, NULL,  NULL, NULL,   NULL,    true,  NULL),
 ('I', 'billing', 'open',    'normal', NULL,                 -1*86400, 600,   NULL, NULL,   NULL,    false, 'G');
INSERT INTO tickets (queue_id, subject, status, priority, requester_id, assignee_id,
                     created_at, updated_at, solved_at, closed_at)
SELECT q.id, 'Dashboard case ' || s.tag, s.status, s.priority,
       (SELECT id FROM users WHERE email = 'pat@example.org'),
       (SELECT id FROM users WHERE email = s.assignee),
       to_timestamp(:now + s.created), to_timestamp(:now + s.created),
       to_timestamp(:now + s.created + s.solved), to_timestamp(:now + s.created + s.closed)
  FROM seed s JOIN queues q ON q.name = s.queue ORDER BY s.tag;
UPDATE tickets t SET merged_into = (SELECT id FROM tickets WHERE subject = 'Dashboard case ' || s.merged_into)
  FROM seed s WHERE t.subject = 'Dashboard case ' || s.tag AND s.merged_into IS NOT NULL;
-- the first message: the customer's, or staff's for a ticket staff opened
INSERT INTO messages (ticket_id, direction, visibility, subject, from_addr, body_text, created_at, author_id)
SELECT t.id, CASE WHEN s.staff_first THEN 'out' ELSE 'in' END, 'public', t.subject,
       CASE WHEN s.staff_first THEN 'other@example.com' ELSE 'pat@example.org' END, 'first',
       t.created_at, CASE WHEN s.staff_first THEN (SELECT id FROM users WHERE email = 'other@example.com') END
  FROM seed s JOIN tickets t ON t.subject = 'Dashboard case ' || s.tag;
-- staff's first public answer, and internal notes (which answer nobody)
INSERT INTO messages (ticket_id, direction, visibility, subject, from_addr, body_text, created_at, author_id)
SELECT t.id, 'out', 'public', t.subject, 'agent@example.com', 'answer', t.created_at + s.reply * interval '1 second',
       (SELECT id FROM users WHERE email = 'agent@example.com')
  FROM seed s JOIN tickets t ON t.subject = 'Dashboard case ' || s.tag WHERE s.reply IS NOT NULL;
INSERT INTO messages (ticket_id, direction, visibility, subject, from_addr, body_text, created_at, author_id)
SELECT t.id, 'out', 'internal', t.subject, 'agent@example.com', 'note', t.created_at + s.note * interval '1 second',
       (SELECT id FROM users WHERE email = 'agent@example.com')
  FROM seed s JOIN tickets t ON t.subject = 'Dashboard case ' || s.tag WHERE s.note IS NOT NULL;
-- ratings: A 5 and B 4 a day ago, E 2 seventeen days ago
INSERT INTO csat_ratings (ticket_id, score, via, created_at)
SELECT t.id, r.score, 'link', to_timestamp(:now + r.at)
  FROM (VALUES ('A', 5, -86400), ('B', 4, -86400), ('E', 2, -17*86400)) r(tag, score, at)
  JOIN tickets t ON t.subject = 'Dashboard case ' || r.tag;
-- hourly snapshots: 5, 3, 2 and 1 hours before the hour of now (none at
-- 4: a gap), and one ten days before; what the hourly job would store
INSERT INTO metrics_snapshots (hour, taken_at, data)
SELECT to_timestamp(floor(:now / 3600.0) * 3600 - s.back), to_timestamp(floor(:now / 3600.0) * 3600 - s.back + 2),
       jsonb_build_object('open', jsonb_build_object(
           'total', s.n + s.o + s.p,
           'by_status', jsonb_build_object('new', s.n, 'open', s.o, 'pending', s.p),
           'by_priority', jsonb_build_object('low', 0, 'normal', s.n + s.o + s.p, 'high', 0, 'urgent', 0),
           'by_queue', jsonb_build_array(
               jsonb_build_object('queue_id', (SELECT id FROM queues WHERE name = 'support'), 'name', 'support', 'count', s.sup),
               jsonb_build_object('queue_id', (SELECT id FROM queues WHERE name = 'billing'), 'name', 'billing',
                                  'count', s.n + s.o + s.p - s.sup)),
           'by_assignee', '[]'::jsonb),
         'created', 0, 'solved', 0, 'jobs_available', 0, 'jobs_dead', 0)
  FROM (VALUES (5*3600, 1, 1, 1, 2), (3*3600, 2, 2, 1, 3), (2*3600, 3, 2, 1, 4),
               (1*3600, 1, 2, 1, 2), (10*86400, 5, 3, 1, 6)) s(back, n, o, p, sup);
SQL
}
check "tickets, messages, ratings and snapshots with known times" seed

atumd_start_port0 "$T/atum.conf" "$T/atumd.log" || { echo "FAIL: atumd did not start"; tail -n 30 "$T/atumd.log"; exit 1; }
check "the metrics plugin is loaded" grep -q "event=plugin.loaded plugin=metrics" "$T/atumd.log"

shots=$(browser_shots "${DESK_SCREENSHOTS:-}")
export DESK_URL="http://127.0.0.1:$WEBPORT" DESK_PW=$PW DASH_NOW DASH_DATABASE_URL=$ATUM_TEST_DATABASE_URL DASH_ADMIN_TOKEN
export DESK_SCREENSHOTS=$shots DESK_CHROMIUM=$CHROMIUM
# one check per browser test, from the TAP the runner writes
browser_run dashboard.test.mjs
# The test switches the plugin off for a moment: a metrics job that falls
# due then (the hourly snapshot, at an hour's turn) waits for the plugin
# instead of dying, so no error at all is allowed.
log_clean() {
    ! grep -E 'level=(error|fatal)' "$T/atumd.log" | grep .
}
check "no error in atumd's log" log_clean
check "atumd stops cleanly" atumd_stop
finish
