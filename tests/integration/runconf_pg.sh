#!/bin/bash
# runconf_pg.sh -- run.sh's configuration step (build-aux/run-conf.sh) on a
# temp dir: a new file has the web and SMTP listeners and atumd answers on
# both; a file written by an older run.sh gets [smtp] listen and a plugin
# directory that exists, and keeps every edit of the user's.
set -u
. "$ATUM_SRCDIR/tests/lib.sh"
. "$ATUM_SRCDIR/build-aux/run-conf.sh"
# run.sh runs with `set -euo pipefail`: so do these, in a subshell
strict() { ( set -euo pipefail; "$@" ); }
B=$ATUM_BUILDDIR
T=$ATUM_TEST_TMP
TOP=$T/top
mkdir -p "$TOP/var" "$TOP/plugins/.libs"

# ---- a new file, with run.sh's defaults ----------------------------------
strict run_conf "$T/new.conf" "$TOP" 54329
check "a new file is private (mode 600)" test "$(stat -c %a "$T/new.conf")" = 600
check "web listens on 127.0.0.1:8080" test "$(run_conf_get "$T/new.conf" web listen)" = 127.0.0.1:8080
check "SMTP listens on 127.0.0.1:2525" test "$(run_conf_get "$T/new.conf" smtp listen)" = 127.0.0.1:2525
check "plugin_dir is TOP/var/plugins" test "$(run_conf_get "$T/new.conf" core plugin_dir)" = "$TOP/var/plugins"
check "the desk is served from TOP/web/dist" test "$(run_conf_get "$T/new.conf" web assets_dir)" = "$TOP/web/dist"
hex64() { [[ $(run_conf_get "$1" core secret_key) =~ ^[0-9a-f]{64}$ ]]; }
check "a random 256-bit secret key" hex64 "$T/new.conf"
check "atumd accepts the new file" "$B/atumd" -c "$T/new.conf" -t
cp "$T/new.conf" "$T/new.copy"
strict run_conf "$T/new.conf" "$TOP" 54329
check "a second run changes nothing" cmp "$T/new.conf" "$T/new.copy"

# run_plugins_link: the plugin directory exists and holds the built plugins
mkdir -p "$TOP/plugins/demo/.libs"; touch "$TOP/plugins/demo/.libs/demo.so"
strict run_plugins_link "$TOP"
check "plugin_dir exists" test -d "$TOP/var/plugins"
check "built plugins are linked into it" test "$(readlink "$TOP/var/plugins/demo.so")" = "$TOP/plugins/demo/.libs/demo.so"
rm "$TOP/plugins/demo/.libs/demo.so"
touch "$TOP/var/plugins/mine.so"
strict run_plugins_link "$TOP"
check "links to removed plugins go, copied plugins stay" bash -c "[ ! -L '$TOP/var/plugins/demo.so' ] && [ -f '$TOP/var/plugins/mine.so' ]"
rm "$TOP/var/plugins/mine.so"

# ---- the file as atumd runs it: both ports answer ------------------------
WEBPORT=$(free_port)
SMTPPORT=$(free_port)
strict run_conf "$T/live.conf" "$TOP" "$ATUM_TEST_PG_PORT" "127.0.0.1:$WEBPORT" "127.0.0.1:$SMTPPORT"
check "the database URL points at the cluster" test "$(run_conf_get "$T/live.conf" core database_url)" = "$ATUM_TEST_DATABASE_URL"
export ATUM_CONFIG=$T/live.conf
check "migrate" "$B/atumctl" migrate
check "the demo queue" "$B/atumctl" queue add support support@localhost
check "atumd starts on the written file and answers /healthz" atumd_start "$T/live.conf" "$T/atumd.log"
smtp_banner() {
    local line
    exec 3<>"/dev/tcp/127.0.0.1/$SMTPPORT" || return 1
    read -r -t 10 line <&3
    printf 'QUIT\r\n' >&3
    exec 3<&-
    echo "$line"
    [[ $line == "220 "* ]]
}
check "the SMTP listener greets with 220" smtp_banner
check "a mail over SMTP becomes a ticket" bash -c "/usr/bin/python3 - '$SMTPPORT' <<'PY'
import smtplib, sys
with smtplib.SMTP('127.0.0.1', int(sys.argv[1]), timeout=10) as s:
    s.sendmail('customer@example.org', ['support@localhost'],
               b'From: customer@example.org\r\nTo: support@localhost\r\nSubject: My printer is on fire\r\n\r\nhelp\r\n')
PY
"
check "the ticket is there" wait_until 15 bash -c "[ \"\$(psql -X -q -t -A -d '$ATUM_TEST_DATABASE_URL' -c \"SELECT count(*) FROM tickets WHERE subject = 'My printer is on fire'\")\" = 1 ]"
check "atumd stops cleanly" atumd_stop

# ---- a file from an older run.sh, edited by its user ---------------------
cat >"$T/old.conf" <<CONF
# Written by run.sh for the embedded cluster; see etc/atum-desk.conf.sample.
[core]
database_url = postgresql://atum@127.0.0.1:54329/atum
plugin_dir = $TOP/plugins/.libs
secret_key = 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
public_url = http://127.0.0.1:8080
# mine: more workers
workers = 3
[web]
listen = 127.0.0.1:8080
CONF
chmod 640 "$T/old.conf"
cp "$T/old.conf" "$T/old.orig"
strict run_conf "$T/old.conf" "$TOP" 54329 >"$T/upgrade.out"
check "the missing [smtp] listen is added" test "$(run_conf_get "$T/old.conf" smtp listen)" = 127.0.0.1:2525
check "the old plugin_dir becomes one that exists" test "$(run_conf_get "$T/old.conf" core plugin_dir)" = "$TOP/var/plugins"
check "every other line is kept" bash -c "diff '$T/old.orig' '$T/old.conf' | grep '^<' | grep -v '^< plugin_dir = $TOP/plugins/.libs\$' | grep -q . && exit 1; exit 0"
check "the user's edit and the secret key stay" bash -c "grep -qx 'workers = 3' '$T/old.conf' && grep -qx 'secret_key = 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef' '$T/old.conf'"
check "the file keeps its mode" test "$(stat -c %a "$T/old.conf")" = 640
check "run.sh says what it changed" grep -q 'listen = 127.0.0.1:2525' "$T/upgrade.out"
check "atumd accepts the updated file" "$B/atumd" -c "$T/old.conf" -t
cp "$T/old.conf" "$T/old.copy"
strict run_conf "$T/old.conf" "$TOP" 54329 >/dev/null
check "updating twice changes nothing more" cmp "$T/old.conf" "$T/old.copy"

# an [smtp] section without listen: the key goes into that section
printf '[core]\nsecret_key = %s\n[smtp]\nmax_connections = 10\n[web]\nlisten = 127.0.0.1:8080\n' \
    0123456789abcdef0123456789abcdef >"$T/sect.conf"
strict run_conf "$T/sect.conf" "$TOP" 54329 >/dev/null
in_section() {
    [ "$(grep -c '^\[smtp\]' "$1")" = 1 ] && [ "$(run_conf_get "$1" smtp listen)" = 127.0.0.1:2525 ] \
        && [ "$(run_conf_get "$1" smtp max_connections)" = 10 ]
}
check "listen is added inside the existing [smtp] section" in_section "$T/sect.conf"
check "atumd accepts it" "$B/atumd" -c "$T/sect.conf" -t

# SMTP switched off by the user stays off
printf '[core]\nsecret_key = %s\n[smtp]\nlisten = ""\n' 0123456789abcdef0123456789abcdef >"$T/off.conf"
cp "$T/off.conf" "$T/off.orig"
strict run_conf "$T/off.conf" "$TOP" 54329 >/dev/null
check "an empty [smtp] listen (SMTP off) is left alone" cmp "$T/off.conf" "$T/off.orig"

finish
