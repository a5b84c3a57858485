#!/bin/bash
# runconf_pg.sh -- run.sh's configuration step (build-aux/run-conf.sh) and
# its embedded cluster (build-aux/run-pg.sh) on a temp dir: a new file has
# the web and SMTP listeners and atumd answers on both; a file written by
# an older run.sh gets [smtp] listen, a plugin directory that exists and
# the new database URL, and keeps every edit of the user's.  The cluster
# asks every connection for a password, atumd's role is no superuser,
# var/ and the password files are private, the demo password is shown
# once; a trusting cluster from an older run.sh is secured in place.
set -u
. "$ATUM_SRCDIR/tests/lib.sh"
. "$ATUM_SRCDIR/tests/pg.sh"
. "$ATUM_SRCDIR/build-aux/run-conf.sh"
. "$ATUM_SRCDIR/build-aux/run-pg.sh"
# run.sh runs with `set -euo pipefail`: so do these, in a subshell
strict() { ( set -euo pipefail; "$@" ); }
B=$ATUM_BUILDDIR
T=$ATUM_TEST_TMP
TOP=$T/top
mkdir -p "$TOP/var" "$TOP/plugins/.libs"

# ---- a new file, with run.sh's defaults ----------------------------------
strict run_conf "$T/new.conf" "$TOP" "postgresql://atumd@127.0.0.1:54329/atum?passfile=$TOP/var/pgpass"
check "a new file is private (mode 600)" test "$(stat -c %a "$T/new.conf")" = 600
check "web listens on 127.0.0.1:8080" test "$(run_conf_get "$T/new.conf" web listen)" = 127.0.0.1:8080
check "SMTP listens on 127.0.0.1:2525" test "$(run_conf_get "$T/new.conf" smtp listen)" = 127.0.0.1:2525
check "plugin_dir is TOP/var/plugins" test "$(run_conf_get "$T/new.conf" core plugin_dir)" = "$TOP/var/plugins"
check "the desk is served from TOP/web/dist" test "$(run_conf_get "$T/new.conf" web assets_dir)" = "$TOP/web/dist"
hex64() { [[ $(run_conf_get "$1" core secret_key) =~ ^[0-9a-f]{64}$ ]]; }
check "a random 256-bit secret key" hex64 "$T/new.conf"
check "atumd accepts the new file" "$B/atumd" -c "$T/new.conf" -t
check "... with the database URL it was given" test "$(run_conf_get "$T/new.conf" core database_url)" = "postgresql://atumd@127.0.0.1:54329/atum?passfile=$TOP/var/pgpass"
cp "$T/new.conf" "$T/new.copy"
strict run_conf "$T/new.conf" "$TOP" "postgresql://atumd@127.0.0.1:54329/atum?passfile=$TOP/var/pgpass"
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
port_take WEBPORT
port_take SMTPPORT
strict run_conf "$T/live.conf" "$TOP" "$ATUM_TEST_DATABASE_URL" "127.0.0.1:$WEBPORT" "127.0.0.1:$SMTPPORT"
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
NEWURL="postgresql://atumd@127.0.0.1:54329/atum?passfile=$TOP/var/pgpass"
strict run_conf "$T/old.conf" "$TOP" "$NEWURL" >"$T/upgrade.out"
check "the missing [smtp] listen is added" test "$(run_conf_get "$T/old.conf" smtp listen)" = 127.0.0.1:2525
check "the old plugin_dir becomes one that exists" test "$(run_conf_get "$T/old.conf" core plugin_dir)" = "$TOP/var/plugins"
check "the superuser's URL becomes atumd's, with its password file" test "$(run_conf_get "$T/old.conf" core database_url)" = "$NEWURL"
check "every other line is kept" bash -c "diff '$T/old.orig' '$T/old.conf' | grep '^<' | grep -v '^< plugin_dir = $TOP/plugins/.libs\$' | grep -v '^< database_url = postgresql://atum@127.0.0.1:54329/atum\$' | grep -q . && exit 1; exit 0"
check "the user's edit and the secret key stay" bash -c "grep -qx 'workers = 3' '$T/old.conf' && grep -qx 'secret_key = 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef' '$T/old.conf'"
check "the file keeps its mode" test "$(stat -c %a "$T/old.conf")" = 640
check "run.sh says what it changed" grep -q 'listen = 127.0.0.1:2525' "$T/upgrade.out"
check "atumd accepts the updated file" "$B/atumd" -c "$T/old.conf" -t
cp "$T/old.conf" "$T/old.copy"
strict run_conf "$T/old.conf" "$TOP" "$NEWURL" >/dev/null
check "updating twice changes nothing more" cmp "$T/old.conf" "$T/old.copy"

# an [smtp] section without listen: the key goes into that section
printf '[core]\nsecret_key = %s\n[smtp]\nmax_connections = 10\n[web]\nlisten = 127.0.0.1:8080\n' \
    0123456789abcdef0123456789abcdef >"$T/sect.conf"
strict run_conf "$T/sect.conf" "$TOP" "$NEWURL" >/dev/null
in_section() {
    [ "$(grep -c '^\[smtp\]' "$1")" = 1 ] && [ "$(run_conf_get "$1" smtp listen)" = 127.0.0.1:2525 ] \
        && [ "$(run_conf_get "$1" smtp max_connections)" = 10 ]
}
check "listen is added inside the existing [smtp] section" in_section "$T/sect.conf"
check "atumd accepts it" "$B/atumd" -c "$T/sect.conf" -t

# a database URL the user chose is theirs
printf '[core]\ndatabase_url = postgresql://me@db.example/atum\n[smtp]\nlisten = ""\n' >"$T/mine.conf"
strict run_conf "$T/mine.conf" "$TOP" "$NEWURL" >/dev/null
check "a database URL the user changed is left alone" test "$(run_conf_get "$T/mine.conf" core database_url)" = postgresql://me@db.example/atum

# SMTP switched off by the user stays off
printf '[core]\nsecret_key = %s\n[smtp]\nlisten = ""\n' 0123456789abcdef0123456789abcdef >"$T/off.conf"
cp "$T/off.conf" "$T/off.orig"
strict run_conf "$T/off.conf" "$TOP" "$NEWURL" >/dev/null
check "an empty [smtp] listen (SMTP off) is left alone" cmp "$T/off.conf" "$T/off.orig"

# ---- the embedded cluster (build-aux/run-pg.sh) --------------------------------
RT=$T/run
mkdir -p "$RT"
VAR=$RT/var
STOP_CLUSTERS=()
trap 'for v in "${STOP_CLUSTERS[@]}"; do run_pg_stop "$v"; done' EXIT
strict run_var "$RT"
private_dir() {   # 0700; as root 0710 with group postgres, so the server reaches var/pg
    if [ "$(id -u)" = 0 ]; then [ "$(stat -c %a:%G "$1")" = 710:postgres ]; else [ "$(stat -c %a "$1")" = 700 ]; fi
}
check "var/ is private (0700, or 0710 group postgres as root)" private_dir "$VAR"
port_take PGPORT
check "a new cluster is created" strict run_pg_create "$VAR" "$PGPORT"
check "... and starts" strict run_pg_start "$VAR"
STOP_CLUSTERS+=("$VAR")
check "securing a secured cluster changes nothing" bash -c \
    ". '$ATUM_SRCDIR/tests/pg.sh'; . '$ATUM_SRCDIR/build-aux/run-pg.sh'; out=\$(run_pg_secure '$VAR') && [ -z \"\$out\" ]"
check "atumd's role and database are made" strict run_pg_app "$VAR"
check "pg_hba.conf trusts nobody" bash -c "! grep -Eq '^[^#]*[[:space:]]trust' '$VAR/pg/data/pg_hba.conf'"
check "the password files are 0600" bash -c \
    "[ \"\$(stat -c %a '$VAR/pgpass')\" = 600 ] && [ \"\$(stat -c %a '$VAR/pg/superuser.pgpass')\" = 600 ] && [ \"\$(stat -c %a '$VAR/pg')\" = 700 ]"
nopw() { PGPASSFILE=/dev/null PGPASSWORD= psql -X -w -q -tAc 'SELECT 1' "$@"; }
check_fails "a connection over TCP without the password is refused" nopw -h 127.0.0.1 -p "$PGPORT" -U atumd -d atum
check_fails "... also as the superuser" nopw -h 127.0.0.1 -p "$PGPORT" -U atum -d postgres
check_fails "... and over the Unix socket in var/pg" nopw -h "$VAR/pg" -p "$PGPORT" -U atum -d postgres
check_fails "a wrong password is refused" env PGPASSFILE=/dev/null PGPASSWORD=wrong psql -X -w -q -tAc 'SELECT 1' \
    -h 127.0.0.1 -p "$PGPORT" -U atumd -d atum
URL=$(run_pg_url "$VAR")
check "atumd's URL names its password file, not the password" bash -c \
    "[ '$URL' = 'postgresql://atumd@127.0.0.1:$PGPORT/atum?passfile=$VAR/pgpass' ]"
check "with its password file atumd's role gets in" psql -X -w -q -tAc 'SELECT 1' -d "$URL"
check "atumd's role is not a superuser, cannot create roles or databases, no replication" bash -c \
    "[ \"\$(psql -X -w -q -tA -d '$URL' -c \"SELECT rolsuper OR rolcreaterole OR rolcreatedb OR rolreplication FROM pg_roles WHERE rolname = current_user\")\" = f ]"
check_fails "... so it cannot run COPY TO PROGRAM" psql -X -w -q -v ON_ERROR_STOP=1 -d "$URL" -c "COPY (SELECT 1) TO PROGRAM 'true'"
RCONF=$T/run.conf
port_take RWEB
strict run_conf "$RCONF" "$RT" "$URL" "127.0.0.1:$RWEB" ""
check "atumctl migrates as atumd" env ATUM_CONFIG="$RCONF" "$B/atumctl" migrate
check "... the schema belongs to atumd" bash -c \
    "[ \"\$(psql -X -w -q -tA -d '$URL' -c \"SELECT count(*) FROM pg_tables WHERE schemaname = 'public' AND tableowner <> 'atumd'\")\" = 0 ]"
ATUM_CONFIG=$RCONF strict run_demo_admin "$VAR" "$B/atumctl" >"$T/first.out"
check "the demo password file is 0600" test "$(stat -c %a "$VAR/demo-admin-password")" = 600
check "the first start shows the demo password once" grep -qF "$(cat "$VAR/demo-admin-password")" "$T/first.out"
ATUM_CONFIG=$RCONF strict run_demo_admin "$VAR" "$B/atumctl" >"$T/second.out"
check "a second start does not print it" bash -c \
    "! grep -qF \"\$(cat '$VAR/demo-admin-password')\" '$T/second.out' && grep -q 'password in var/demo-admin-password' '$T/second.out'"
check "the demo admin is there" bash -c \
    "ATUM_CONFIG='$RCONF' '$B/atumctl' user list | grep -q admin@localhost"

# ---- a cluster from an older run.sh: trust for everyone, all owned by the superuser --
OT=$T/old
OVAR=$OT/var
mkdir -p "$OVAR/pg"
chmod 755 "$OT" "$OVAR"
[ "$(id -u)" = 0 ] && chown postgres "$OVAR/pg"
port_take OPORT
pg_as "$(pg_bindir)/initdb" -D "$OVAR/pg/data" -A trust -U atum -E UTF8 --locale=C.UTF-8 >/dev/null 2>&1
printf "listen_addresses = '127.0.0.1'\nport = %s\nunix_socket_directories = '%s'\n" "$OPORT" "$OVAR/pg" \
    >>"$OVAR/pg/data/postgresql.conf"
echo "$OPORT" >"$OVAR/pg/port"
strict run_pg_start "$OVAR"
STOP_CLUSTERS+=("$OVAR")
pg_as "$(pg_bindir)/createdb" -h 127.0.0.1 -p "$OPORT" -U atum atum
OCONF=$T/oldrun.conf
printf '[core]\ndatabase_url = postgresql://atum@127.0.0.1:%s/atum\nsecret_key = %s\n[web]\nlisten = 127.0.0.1:%s\n' \
    "$OPORT" 0123456789abcdef0123456789abcdef "$RWEB" >"$OCONF"
ATUM_CONFIG=$OCONF "$B/atumctl" migrate >/dev/null
ATUM_CONFIG=$OCONF "$B/atumctl" user add kept@example.com --role agent --no-password >/dev/null
check "(the old cluster lets anyone in as the superuser)" nopw -h 127.0.0.1 -p "$OPORT" -U atum -d atum
strict run_var "$OT"
check "an older var/ becomes private" private_dir "$OVAR"
check "an older cluster is secured" strict run_pg_secure "$OVAR"
check "... and handed to atumd" strict run_pg_app "$OVAR"
strict run_conf "$OCONF" "$OT" "$(run_pg_url "$OVAR")" >/dev/null
check_fails "... after which nobody gets in without a password" nopw -h 127.0.0.1 -p "$OPORT" -U atum -d atum
check "the database and all its tables belong to atumd" bash -c \
    "[ \"\$(psql -X -w -q -tA -d '$(run_pg_url "$OVAR")' -c \"SELECT count(*) FROM pg_tables WHERE schemaname = 'public' AND tableowner <> 'atumd'\")\" = 0 ] &&
     [ \"\$(psql -X -w -q -tA -d '$(run_pg_url "$OVAR")' -c \"SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = 'atum'\")\" = atumd ]"
check "the configuration now uses atumd's URL" test "$(run_conf_get "$OCONF" core database_url)" = "$(run_pg_url "$OVAR")"
check "atumctl works on it as atumd: migrations (none pending) and the data kept" bash -c \
    "ATUM_CONFIG='$OCONF' '$B/atumctl' migrate && ATUM_CONFIG='$OCONF' '$B/atumctl' user list | grep -q kept@example.com"
check "a second run changes nothing more" bash -c \
    ". '$ATUM_SRCDIR/tests/pg.sh'; . '$ATUM_SRCDIR/build-aux/run-pg.sh'; out=\$(run_pg_secure '$OVAR'; run_pg_app '$OVAR') && [ -z \"\$out\" ]"

finish
