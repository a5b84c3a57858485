#!/bin/bash
# ./run.sh -- ATUM DESK on this machine, from nothing to running.
#
# Installs what is missing (apt), builds, creates the embedded PostgreSQL
# cluster under var/pg (loopback only, its own port), migrates, creates
# the demo admin and the demo queue support@localhost, prints the login and
# runs atumd in the foreground (web on http://127.0.0.1:8080, SMTP on
# 127.0.0.1:2525).  Ctrl-C stops atumd and the cluster; the next run
# reuses both and all data.
#
# The demo enables the triage, rag and smartreply plugins (local path, no
# language model) and seeds them from ../shared/testdata when present.
#
# Environment: ATUM_PG_PORT (default 54329, for a new cluster), ATUM_SHARED
# (the shared test data's folder, default ../shared), and any
# atumd key as ATUM_<SECTION>_<KEY>, e.g. ATUM_WEB_LISTEN or
# ATUM_SMTP_LISTEN (defaults in var/atum-desk.conf: 127.0.0.1:8080 and
# 127.0.0.1:2525).
set -euo pipefail
cd "$(dirname "$0")"
top=$PWD
. build-aux/deps.sh
. build-aux/run-conf.sh
. build-aux/run-plugins.sh
. tests/pg.sh

ensure_packages $ATUM_BUILD_PACKAGES
build_tree

var=$top/var
pgdir=$var/pg
conf=$var/atum-desk.conf
mkdir -p "$var"
chmod 755 "$var"

# ---- the embedded PostgreSQL cluster ------------------------------------
if [ "$(id -u)" = 0 ] && ! runuser -u postgres -- test -x "$var"; then
    echo "error: the postgres user cannot reach $var (a parent directory is not" >&2
    echo "       traversable); move the checkout or run: chmod o+x on its parents" >&2
    exit 1
fi
bin=$(pg_bindir)
if [ ! -f "$pgdir/data/PG_VERSION" ]; then
    echo "==> creating the PostgreSQL cluster in $pgdir"
    mkdir -p "$pgdir"
    [ "$(id -u)" = 0 ] && chown postgres "$pgdir"
    pg_as "$bin/initdb" -D "$pgdir/data" -A trust -U atum -E UTF8 --locale=C.UTF-8 >"$pgdir/initdb.log"
    port=${ATUM_PG_PORT:-54329}
    {
        echo "listen_addresses = '127.0.0.1'"
        echo "port = $port"
        echo "unix_socket_directories = '$pgdir'"
        echo "log_min_messages = warning"
    } >>"$pgdir/data/postgresql.conf"
    echo "$port" >"$pgdir/port"
fi
port=$(cat "$pgdir/port")
if ! pg_as "$bin/pg_ctl" -D "$pgdir/data" status >/dev/null 2>&1; then
    echo "==> starting PostgreSQL on 127.0.0.1:$port"
    pg_as "$bin/pg_ctl" -D "$pgdir/data" -l "$pgdir/postgres.log" -w -t 60 start >/dev/null
fi
stop_pg() { pg_as "$bin/pg_ctl" -D "$pgdir/data" -m fast -w stop >/dev/null 2>&1 || true; }
trap stop_pg EXIT
if ! psql -X -q -h 127.0.0.1 -p "$port" -U atum -d atum -c 'SELECT 1' >/dev/null 2>&1; then
    pg_as "$bin/createdb" -h 127.0.0.1 -p "$port" -U atum atum
fi

# ---- configuration (written once, then yours to edit) -------------------
# build-aux/run-conf.sh: a file from an older run.sh only gets what it lacks
run_conf "$conf" "$top" "$port"
run_plugins_link "$top"
run_plugins_enable "$conf"
export ATUM_CONFIG=$conf

# ---- schema and demo data ------------------------------------------------
./atumctl migrate
q() { psql -X -q -t -A -h 127.0.0.1 -p "$port" -U atum -d atum -c "$1"; }
pwfile=$var/demo-admin-password
if [ "$(q "SELECT count(*) FROM users WHERE lower(email) = 'admin@localhost'")" = 0 ]; then
    head -c 12 /dev/urandom | base64 | tr -d '/+=' >"$pwfile"
    chmod 600 "$pwfile"
    ./atumctl user add admin@localhost --name "Demo Admin" --role admin --password-stdin <"$pwfile"
fi
if [ "$(q "SELECT count(*) FROM queues WHERE lower(address) = 'support@localhost'")" = 0 ]; then
    ./atumctl queue add support support@localhost
    ./atumctl queue member support admin@localhost
fi
# triage, rag and smartreply: seeded from the shared test data when it is
# there (../shared beside the checkout, or ATUM_SHARED)
run_plugins_seed "${ATUM_SHARED:-$top/../shared}"

# the desk's built files: from the file, else (an older run.sh's file) here
if [ -z "$(run_conf_get "$conf" web assets_dir)" ]; then
    export ATUM_WEB_ASSETS_DIR=${ATUM_WEB_ASSETS_DIR:-$top/web/dist}
fi
web=${ATUM_WEB_LISTEN:-$(run_conf_get "$conf" web listen)}
smtp=${ATUM_SMTP_LISTEN-$(run_conf_get "$conf" smtp listen)}
cat <<MSG

  ATUM DESK
  desk (agents):          http://${web:-127.0.0.1:8080}/desk
  operators' status:      http://${web:-127.0.0.1:8080}/status
  SMTP (mail in):         ${smtp:-off (set [smtp] listen in var/atum-desk.conf)}
  demo admin login:       admin@localhost / $(cat "$pwfile" 2>/dev/null || echo "(set earlier: atumctl user passwd admin@localhost)")
  demo queue:             support@localhost
  database:               postgresql://atum@127.0.0.1:$port/atum (var/pg)
  admin CLI:              ATUM_CONFIG=var/atum-desk.conf ./atumctl status

MSG
./atumd --foreground
