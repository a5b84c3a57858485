# tests/pg.sh -- a private PostgreSQL cluster for tests and benchmarks.
#
# Source it, then:
#   pg_start DIR [durable]   initdb in DIR/data, start on a loopback port
#                            of port_take (tests/ports.sh); exports ATUM_TEST_DATABASE_URL,
#                            ATUM_TEST_PG_DIR, ATUM_TEST_PG_PORT
#   pg_stop DIR              stop it (fast shutdown)
#   pg_ctl_as DIR ARGS...    pg_ctl on that cluster (tests restart it)
# As root, the server runs as the `postgres` user (initdb refuses root).
# Without "durable" the cluster runs with fsync off: fine for tests, which
# crash atumd, never the machine.

pg_bindir() {
    if [ -n "${PG_BINDIR:-}" ] && [ -x "$PG_BINDIR/initdb" ]; then
        echo "$PG_BINDIR"; return 0
    fi
    for d in /usr/lib/postgresql/17/bin /usr/lib/postgresql/16/bin /usr/lib/postgresql/15/bin; do
        if [ -x "$d/initdb" ]; then echo "$d"; return 0; fi
    done
    echo "pg.sh: no PostgreSQL server binaries (apt-get install postgresql)" >&2
    return 1
}

pg_as() {
    if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

# port_take VAR: a port nothing else can take meanwhile
. "$(dirname "${BASH_SOURCE[0]}")/ports.sh"

pg_start() {
    _dir=$1
    _durable=${2:-}
    _bin=$(pg_bindir) || return 1
    mkdir -p "$_dir"
    if [ "$(id -u)" = 0 ]; then chown postgres "$_dir"; fi
    if ! pg_as "$_bin/initdb" -D "$_dir/data" -A trust -U atum -E UTF8 --locale=C.UTF-8 \
            --no-sync >"$_dir/initdb.log" 2>&1; then
        echo "pg.sh: initdb failed:" >&2; cat "$_dir/initdb.log" >&2; return 1
    fi
    port_take _port || return 1
    {
        echo "listen_addresses = '127.0.0.1'"
        echo "port = $_port"
        echo "unix_socket_directories = '$_dir'"
        echo "max_connections = 200"
        echo "shared_buffers = 128MB"
        echo "log_min_messages = warning"
        echo "log_line_prefix = '%m [%p] '"
        if [ -z "$_durable" ]; then
            echo "fsync = off"
            echo "synchronous_commit = off"
            echo "full_page_writes = off"
        fi
    } >>"$_dir/data/postgresql.conf"
    if ! pg_as "$_bin/pg_ctl" -D "$_dir/data" -l "$_dir/postgres.log" -w -t 60 start >/dev/null; then
        echo "pg.sh: postgres did not start:" >&2; tail -n 20 "$_dir/postgres.log" >&2; return 1
    fi
    if ! pg_as "$_bin/createdb" -h 127.0.0.1 -p "$_port" -U atum atum; then
        echo "pg.sh: createdb failed" >&2; return 1
    fi
    export ATUM_TEST_DATABASE_URL="postgresql://atum@127.0.0.1:$_port/atum"
    export ATUM_TEST_PG_DIR="$_dir"
    export ATUM_TEST_PG_PORT="$_port"
}

pg_ctl_as() {
    _dir=$1; shift
    _bin=$(pg_bindir) || return 1
    pg_as "$_bin/pg_ctl" -D "$_dir/data" -l "$_dir/postgres.log" "$@"
}

pg_stop() {
    _dir=$1
    [ -f "$_dir/data/postmaster.pid" ] || return 0
    pg_ctl_as "$_dir" -m fast -w -t 60 stop >/dev/null 2>&1 || true
}
