# build-aux/run-pg.sh -- run.sh's embedded PostgreSQL cluster, private and
# password-protected.  Sourced by run.sh and by
# tests/integration/runconf_pg.sh (with tests/pg.sh for pg_bindir/pg_as).
#
# What it sets up, under VAR (TOP/var):
#   VAR                      0700, or 0710 with group postgres when run as
#                            root (the server runs as postgres and must
#                            reach VAR/pg; nobody else may look inside)
#   VAR/pg/data              the cluster: listens on 127.0.0.1 and on a
#                            socket in VAR/pg, scram-sha-256 for every
#                            connection, no trust anywhere
#   VAR/pg/superuser.pgpass  the password of the superuser "atum" (0600),
#                            for run.sh's own administration only
#   VAR/pgpass               the password of "atumd" (0600): the role atumd
#                            and atumctl connect as -- not a superuser, no
#                            CREATEDB/CREATEROLE/REPLICATION, owner of the
#                            database "atum" and of everything in it
#   VAR/pg/port              the port (chosen when the cluster is created)
# Passwords are generated (32 random letters and digits), written with
# umask 077 from the start, and never printed.
#
#   run_var TOP                  creates TOP/var with those modes
#   run_pg_create VAR PORT       a new cluster, as above (not started)
#   run_pg_start VAR / run_pg_stop VAR
#   run_pg_secure VAR            a cluster from an older run.sh (trust for
#                                everyone): the superuser gets a password,
#                                pg_hba.conf scram-sha-256, and the server
#                                reloads it.  Does nothing on a secured one.
#   run_pg_app VAR               role atumd and database atum (idempotent);
#                                a database an older run.sh made (owned by
#                                the superuser) is handed over to atumd
#   run_pg_url VAR               the database URL atumd uses
#   run_pg_psql VAR ARGS...      psql as the superuser (database atum)
#   run_demo_admin VAR CTL       the demo admin (admin@localhost): created
#                                once, its password in VAR/demo-admin-password
#                                (0600); prints the login line -- with the
#                                password only when it was just created
RUN_PG_SUPERUSER=atum
RUN_PG_ROLE=atumd
RUN_PG_DB=atum

run_var() {
    local var=$1/var
    (umask 077 && mkdir -p "$var") || return 1
    if [ "$(id -u)" = 0 ]; then
        chgrp postgres "$var" && chmod 0710 "$var"
    else
        chmod 0700 "$var"
    fi
}

run_pg_password() {
    local pw=""
    while [ ${#pw} -lt 32 ]; do
        pw=$pw$(head -c 64 /dev/urandom | tr -dc 'A-Za-z0-9')
    done
    printf '%s' "${pw:0:32}"
}

_run_pg_port() { cat "$1/pg/port"; }

# _run_pg_pgpass FILE PORT USER PASSWORD: a libpq password file, 0600
_run_pg_pgpass() {
    (umask 077 && printf '127.0.0.1:%s:*:%s:%s\n' "$2" "$3" "$4" >"$1")
}

run_pg_create() {
    local var=$1 port=$2 pgdir=$1/pg bin pw
    bin=$(pg_bindir) || return 1
    (umask 077 && mkdir -p "$pgdir") || return 1
    pw=$(run_pg_password)
    # initdb reads the password from a file: private, gone right after
    (umask 077 && printf '%s\n' "$pw" >"$pgdir/initdb.pw") || return 1
    if [ "$(id -u)" = 0 ]; then chown postgres "$pgdir" "$pgdir/initdb.pw"; fi
    if ! pg_as "$bin/initdb" -D "$pgdir/data" -U "$RUN_PG_SUPERUSER" --auth=scram-sha-256 \
            --pwfile="$pgdir/initdb.pw" -E UTF8 --locale=C.UTF-8 >"$pgdir/initdb.log" 2>&1; then
        rm -f "$pgdir/initdb.pw"
        echo "error: initdb failed:" >&2; cat "$pgdir/initdb.log" >&2
        return 1
    fi
    rm -f "$pgdir/initdb.pw"
    _run_pg_pgpass "$pgdir/superuser.pgpass" "$port" "$RUN_PG_SUPERUSER" "$pw" || return 1
    {
        echo "listen_addresses = '127.0.0.1'"
        echo "port = $port"
        echo "unix_socket_directories = '$pgdir'"
        echo "unix_socket_permissions = 0700"
        echo "password_encryption = 'scram-sha-256'"
        echo "log_min_messages = warning"
    } >>"$pgdir/data/postgresql.conf"
    echo "$port" >"$pgdir/port"
}

run_pg_start() {
    local pgdir=$1/pg bin
    bin=$(pg_bindir) || return 1
    chmod 0700 "$pgdir"         # an older run.sh left it open
    pg_as "$bin/pg_ctl" -D "$pgdir/data" status >/dev/null 2>&1 && return 0
    pg_as "$bin/pg_ctl" -D "$pgdir/data" -l "$pgdir/postgres.log" -w -t 60 start >/dev/null
}

run_pg_stop() {
    local pgdir=$1/pg bin
    bin=$(pg_bindir) || return 1
    pg_as "$bin/pg_ctl" -D "$pgdir/data" -m fast -w stop >/dev/null 2>&1 || true
}

run_pg_psql() {
    local var=$1
    shift
    PGPASSFILE=$var/pg/superuser.pgpass psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 \
        -p "$(_run_pg_port "$var")" -U "$RUN_PG_SUPERUSER" -d "$RUN_PG_DB" "$@"
}

run_pg_secure() {
    local var=$1 pgdir=$1/pg port pw hba bin
    hba=$pgdir/data/pg_hba.conf
    pg_as grep -Eq '^[^#]*[[:space:]]trust([[:space:]]|$)' "$hba" || return 0
    bin=$(pg_bindir) || return 1
    port=$(_run_pg_port "$var")
    echo "==> securing the PostgreSQL cluster of an older run.sh (passwords instead of trust)"
    pw=$(run_pg_password)
    # still trust: the superuser sets its own password (passed on stdin)
    if ! printf "ALTER ROLE %s PASSWORD '%s'\n" "$RUN_PG_SUPERUSER" "$pw" |
            psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$port" -U "$RUN_PG_SUPERUSER" -d postgres >/dev/null; then
        echo "error: cannot set the superuser's password" >&2
        return 1
    fi
    _run_pg_pgpass "$pgdir/superuser.pgpass" "$port" "$RUN_PG_SUPERUSER" "$pw" || return 1
    pg_as sed -i -E 's/^([^#]*[[:space:]])trust([[:space:]]|$)/\1scram-sha-256\2/' "$hba" || return 1
    pg_as "$bin/pg_ctl" -D "$pgdir/data" reload >/dev/null
}

run_pg_app() {
    local var=$1 port pw owner
    port=$(_run_pg_port "$var")
    if [ "$(run_pg_psql "$var" -d postgres -tAc "SELECT count(*) FROM pg_roles WHERE rolname = '$RUN_PG_ROLE'")" = 0 ]; then
        pw=$(run_pg_password)
        printf "CREATE ROLE %s LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION PASSWORD '%s'\n" \
            "$RUN_PG_ROLE" "$pw" | run_pg_psql "$var" -d postgres >/dev/null || return 1
        _run_pg_pgpass "$var/pgpass" "$port" "$RUN_PG_ROLE" "$pw" || return 1
    fi
    owner=$(run_pg_psql "$var" -d postgres -tAc \
        "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = '$RUN_PG_DB'")
    if [ -z "$owner" ]; then
        run_pg_psql "$var" -d postgres -c "CREATE DATABASE $RUN_PG_DB OWNER $RUN_PG_ROLE" >/dev/null || return 1
    elif [ "$owner" != "$RUN_PG_ROLE" ]; then
        echo "==> handing the database over to the role $RUN_PG_ROLE (no longer the superuser)"
        run_pg_psql "$var" >/dev/null <<SQL || return 1
ALTER DATABASE $RUN_PG_DB OWNER TO $RUN_PG_ROLE;
DO \$\$
DECLARE r record;
BEGIN
    -- tables, views, sequences of the schema (identity and serial
    -- sequences follow their table)
    FOR r IN SELECT c.oid::regclass AS name, c.relkind FROM pg_class c
               JOIN pg_namespace n ON n.oid = c.relnamespace
              WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')
                AND c.relowner <> '$RUN_PG_ROLE'::regrole
                AND NOT (c.relkind = 'S' AND EXISTS (SELECT 1 FROM pg_depend d
                         WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype IN ('a', 'i')))
    LOOP
        EXECUTE format('ALTER %s %s OWNER TO $RUN_PG_ROLE',
            CASE r.relkind WHEN 'v' THEN 'VIEW' WHEN 'm' THEN 'MATERIALIZED VIEW' WHEN 'S' THEN 'SEQUENCE'
                           WHEN 'f' THEN 'FOREIGN TABLE' ELSE 'TABLE' END, r.name);
    END LOOP;
    FOR r IN SELECT p.oid::regprocedure AS name, p.prokind FROM pg_proc p
               JOIN pg_namespace n ON n.oid = p.pronamespace
              WHERE n.nspname = 'public' AND p.proowner <> '$RUN_PG_ROLE'::regrole
    LOOP
        EXECUTE format('ALTER %s %s OWNER TO $RUN_PG_ROLE',
                       CASE r.prokind WHEN 'p' THEN 'PROCEDURE' ELSE 'FUNCTION' END, r.name);
    END LOOP;
    FOR r IN SELECT t.oid::regtype AS name FROM pg_type t
               JOIN pg_namespace n ON n.oid = t.typnamespace
              WHERE n.nspname = 'public' AND t.typtype IN ('e', 'd', 'c', 'r')
                AND t.typowner <> '$RUN_PG_ROLE'::regrole
                AND (t.typtype <> 'c' OR (SELECT relkind FROM pg_class WHERE oid = t.typrelid) = 'c')
    LOOP
        EXECUTE format('ALTER TYPE %s OWNER TO $RUN_PG_ROLE', r.name);
    END LOOP;
END
\$\$;
SQL
    fi
    # a role made by an earlier run without its password file: a new password
    if [ ! -s "$var/pgpass" ]; then
        pw=$(run_pg_password)
        printf "ALTER ROLE %s PASSWORD '%s'\n" "$RUN_PG_ROLE" "$pw" | run_pg_psql "$var" -d postgres >/dev/null || return 1
        _run_pg_pgpass "$var/pgpass" "$port" "$RUN_PG_ROLE" "$pw" || return 1
    fi
}

run_pg_url() {
    local var=$1
    printf 'postgresql://%s@127.0.0.1:%s/%s?passfile=%s\n' "$RUN_PG_ROLE" "$(_run_pg_port "$var")" "$RUN_PG_DB" "$var/pgpass"
}

run_demo_admin() {
    local var=$1 ctl=$2 pwfile=$1/demo-admin-password new=no
    if [ "$(PGPASSFILE=$var/pgpass psql -X -q -t -A -h 127.0.0.1 -p "$(_run_pg_port "$var")" -U "$RUN_PG_ROLE" \
            -d "$RUN_PG_DB" -c "SELECT count(*) FROM users WHERE lower(email) = 'admin@localhost'")" = 0 ]; then
        (umask 077 && run_pg_password | head -c 16 >"$pwfile") || return 1
        "$ctl" user add admin@localhost --name "Demo Admin" --role admin --password-stdin <"$pwfile" >/dev/null ||
            return 1
        new=yes
    fi
    if [ "$new" = yes ]; then
        echo "  demo admin login:       admin@localhost / $(cat "$pwfile")   (shown once; also in var/demo-admin-password)"
    elif [ -s "$pwfile" ]; then
        echo "  demo admin login:       admin@localhost (password in var/demo-admin-password)"
    else
        echo "  demo admin login:       admin@localhost (set earlier: atumctl user passwd admin@localhost)"
    fi
}
