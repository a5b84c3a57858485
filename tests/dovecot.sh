# tests/dovecot.sh -- a private Dovecot IMAP server for tests and benchmarks.
#
# Source it (with tests/pg.sh, for port_take), then:
#   dovecot_start DIR USER PASSWORD [CERT KEY]
#       starts Dovecot on loopback with its config, state and mail under
#       DIR; exports DOVECOT_PORT (plain + STARTTLS when CERT is given) and
#       DOVECOT_TLS_PORT (implicit TLS, 0 without a certificate)
#   dovecot_stop DIR
# Needs root (Dovecot drops privileges itself); mail is stored as `nobody`.

dovecot_start() {
    local dir=$1 user=$2 pass=$3 cert=${4:-} key=${5:-}
    mkdir -p "$dir/base" "$dir/state" "$dir/mail"
    chmod 755 "$dir"
    chown -R nobody:nogroup "$dir/mail"
    port_take DOVECOT_PORT || return 1
    DOVECOT_TLS_PORT=0
    local ssl="ssl = no"
    local tls_listener=""
    if [ -n "$cert" ]; then
        port_take DOVECOT_TLS_PORT || return 1
        ssl="ssl = yes
ssl_cert = <$cert
ssl_key = <$key"
        tls_listener="  inet_listener imaps {
    address = 127.0.0.1
    port = $DOVECOT_TLS_PORT
    ssl = yes
  }"
    fi
    echo "$user:{PLAIN}$pass:65534:65534::$dir/mail/$user" >"$dir/passwd"
    cat >"$dir/dovecot.conf" <<CONF
base_dir = $dir/base
state_dir = $dir/state
log_path = $dir/dovecot.log
protocols = imap
listen = 127.0.0.1
disable_plaintext_auth = no
auth_mechanisms = plain login
mail_location = maildir:~/Maildir
first_valid_uid = 1
default_internal_user = dovecot
default_login_user = dovenull
$ssl
passdb {
  driver = passwd-file
  args = $dir/passwd
}
userdb {
  driver = passwd-file
  args = $dir/passwd
}
service imap-login {
  inet_listener imap {
    address = 127.0.0.1
    port = $DOVECOT_PORT
  }
$tls_listener
}
namespace inbox {
  inbox = yes
  separator = /
}
CONF
    dovecot -c "$dir/dovecot.conf" || { cat "$dir/dovecot.log" >&2; return 1; }
    for _ in $(seq 1 50); do
        (exec 3<>"/dev/tcp/127.0.0.1/$DOVECOT_PORT") 2>/dev/null && break
        sleep 0.1
    done
    export DOVECOT_PORT DOVECOT_TLS_PORT
}

dovecot_stop() {
    local dir=$1
    [ -f "$dir/base/master.pid" ] && kill "$(cat "$dir/base/master.pid")" 2>/dev/null
    for _ in $(seq 1 50); do
        [ -f "$dir/base/master.pid" ] || break
        kill -0 "$(cat "$dir/base/master.pid")" 2>/dev/null || break
        sleep 0.1
    done
}
