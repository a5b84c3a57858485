#!/bin/bash
# ./run.sh -- ATUM DESK on this machine, from nothing to running.
#
# Installs what is missing (apt), builds, creates the embedded PostgreSQL
# cluster under var/pg (loopback only, its own port, a password for every
# connection: build-aux/run-pg.sh), migrates, creates the demo admin and
# the demo queue support@localhost, prints the login (the password only
# the first time) and runs atumd in the foreground (web on
# http://127.0.0.1:8080, SMTP on 127.0.0.1:2525).  Ctrl-C stops atumd and
# the cluster; the next run reuses both and all data.
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
. build-aux/run-pg.sh
. tests/pg.sh

ensure_packages $ATUM_BUILD_PACKAGES
build_tree

var=$top/var
pgdir=$var/pg
conf=$var/atum-desk.conf
# var/ is private: the cluster's password files and the configuration
# (with the secret key) live there
run_var "$top"

# ---- the embedded PostgreSQL cluster ------------------------------------
# scram-sha-256 for every connection (build-aux/run-pg.sh); atumd connects
# as the role atumd, which is not a superuser
if [ "$(id -u)" = 0 ] && ! runuser -u postgres -- test -x "$var"; then
    echo "error: the postgres user cannot reach $var (a parent directory is not" >&2
    echo "       traversable); move the checkout or run: chmod o+x on its parents" >&2
    exit 1
fi
if [ ! -f "$pgdir/data/PG_VERSION" ]; then
    echo "==> creating the PostgreSQL cluster in $pgdir"
    run_pg_create "$var" "${ATUM_PG_PORT:-54329}"
fi
port=$(cat "$pgdir/port")
echo "==> starting PostgreSQL on 127.0.0.1:$port"
run_pg_start "$var"
trap 'run_pg_stop "$var"' EXIT
run_pg_secure "$var"        # a cluster from an older run.sh: no more trust
run_pg_app "$var"

# ---- configuration (written once, then yours to edit) -------------------
# build-aux/run-conf.sh: a file from an older run.sh only gets what it lacks
run_conf "$conf" "$top" "$(run_pg_url "$var")"
run_plugins_link "$top"
run_plugins_enable "$conf"
export ATUM_CONFIG=$conf

# ---- schema and demo data ------------------------------------------------
./atumctl migrate
login=$(run_demo_admin "$var" ./atumctl)
q() { PGPASSFILE=$var/pgpass psql -X -q -t -A -h 127.0.0.1 -p "$port" -U atumd -d atum -c "$1"; }
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
$login
  demo queue:             support@localhost
  database:               postgresql://atumd@127.0.0.1:$port/atum (var/pg; passwords in var/, mode 600)
  admin CLI:              ATUM_CONFIG=var/atum-desk.conf ./atumctl status

MSG
./atumd --foreground
