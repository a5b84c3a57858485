# build-aux/run-conf.sh -- run.sh's configuration step.  Sourced by run.sh
# and by tests/integration/runconf_pg.sh, which calls it on a temp dir.
#
#   run_conf CONF TOP DATABASE_URL [WEB_LISTEN] [SMTP_LISTEN]
#       Writes CONF (mode 600) when it does not exist: the embedded
#       cluster's database URL (run_pg_url), TOP/var/plugins as plugin directory, a
#       random secret key, the web server on WEB_LISTEN (127.0.0.1:8080)
#       serving the desk built in TOP/web/dist, and the SMTP listener on
#       SMTP_LISTEN (127.0.0.1:2525).  (A file without assets_dir, from an
#       older run.sh, is left so: run.sh passes the folder to atumd in
#       ATUM_WEB_ASSETS_DIR then.)
#       An existing CONF belongs to the user.  It is only brought up to date
#       where an older run.sh left something out, and everything else
#       (comments, order, edits) is kept byte for byte:
#         - no `listen` in [smtp] (run.sh before the SMTP listener): added
#           to the existing [smtp] section, or in a new one at the end.  A
#           listen key that is there, even empty (SMTP off), is kept;
#         - `plugin_dir = TOP/plugins/.libs` (what older run.sh wrote; it
#           exists only once plugins are built): TOP/var/plugins;
#         - `database_url = postgresql://atum@127.0.0.1:PORT/atum` (the
#           superuser without a password, what older run.sh wrote):
#           DATABASE_URL.  A URL the user changed is left alone.
#   run_conf_get CONF SECTION KEY
#       Prints the value of KEY in [SECTION] (quotes removed), or nothing.
#   run_plugins_link TOP
#       Creates TOP/var/plugins and links every plugin built in the tree
#       (libtool leaves plugins/NAME/NAME.la's object in
#       TOP/plugins/NAME/.libs/NAME.so) into it; drops links to plugins
#       that are gone.  Plugins copied there by hand are left alone.

RUN_CONF_WEB_DEFAULT=127.0.0.1:8080
RUN_CONF_SMTP_DEFAULT=127.0.0.1:2525

run_conf() {
    local conf=$1 top=$2 url=$3
    local web=${4:-$RUN_CONF_WEB_DEFAULT} smtp=${5:-$RUN_CONF_SMTP_DEFAULT}
    if [ ! -f "$conf" ]; then
        local secret tmp
        secret=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
        tmp=$(umask 077 && mktemp "$conf.XXXXXX") || return 1
        chmod 600 "$tmp"
        cat >"$tmp" <<CONF
# Written by run.sh for the embedded cluster; see etc/atum-desk.conf.sample.
[core]
database_url = $url
plugin_dir = $top/var/plugins
secret_key = $secret
public_url = http://$web
[web]
listen = $web
assets_dir = $top/web/dist
[smtp]
listen = $smtp
CONF
        mv "$tmp" "$conf"
        return 0
    fi
    run_conf_upgrade "$conf" "$top" "$smtp" "$url"
}

# run_conf_upgrade CONF TOP SMTP_LISTEN DATABASE_URL: see run_conf.
run_conf_upgrade() {
    local conf=$1 top=$2 smtp=$3 url=$4 new
    new=$(umask 077 && mktemp "$conf.XXXXXX") || return 1
    awk -v smtp="$smtp" -v oldpd="$top/plugins/.libs" -v newpd="$top/var/plugins" -v url="$url" '
        function section(line) {
            sub(/^[ \t]*\[[ \t]*/, "", line); sub(/[ \t]*\].*$/, "", line); return line
        }
        # first pass: is there an [smtp] section, does it have listen?
        NR == FNR {
            if ($0 ~ /^[ \t]*\[/) { sec = section($0); if (sec == "smtp") has_smtp = 1 }
            else if (sec == "smtp" && $0 ~ /^[ \t]*listen[ \t]*=/) has_listen = 1
            next
        }
        FNR == 1 { sec = "" }
        $0 ~ /^[ \t]*\[/ { sec = section($0) }
        sec == "core" && $0 ~ /^[ \t]*plugin_dir[ \t]*=/ {
            v = $0; sub(/^[^=]*=[ \t]*/, "", v); sub(/[ \t]+$/, "", v)
            if (v == oldpd) { print "plugin_dir = " newpd; next }
        }
        sec == "core" && $0 ~ /^[ \t]*database_url[ \t]*=/ {
            v = $0; sub(/^[^=]*=[ \t]*/, "", v); sub(/[ \t]+$/, "", v)
            if (v ~ /^postgresql:\/\/atum@127\.0\.0\.1:[0-9]+\/atum$/) { print "database_url = " url; next }
        }
        { print }
        sec == "smtp" && $0 ~ /^[ \t]*\[/ && !has_listen && !added {
            print "# added by run.sh: the SMTP listener (listen = \"\" switches it off)"
            print "listen = " smtp
            added = 1
        }
        END {
            if (!has_smtp) {
                print "[smtp]"
                print "# added by run.sh: the SMTP listener (listen = \"\" switches it off)"
                print "listen = " smtp
            }
        }' "$conf" "$conf" >"$new" || { rm -f "$new"; return 1; }
    if cmp -s "$conf" "$new"; then
        rm -f "$new"
        return 0
    fi
    echo "==> $conf: brought up to date (older run.sh):"
    { diff "$conf" "$new" || true; } | sed -n 's/^> /    + /p; s/^< /    - /p'
    cat "$new" >"$conf"      # keeps the file's owner and mode
    rm -f "$new"
}

run_conf_get() {
    awk -v want="$2" -v key="$3" '
        $0 ~ /^[ \t]*\[/ {
            sec = $0; sub(/^[ \t]*\[[ \t]*/, "", sec); sub(/[ \t]*\].*$/, "", sec); next
        }
        sec == want && $0 ~ "^[ \t]*" key "[ \t]*=" {
            v = $0; sub(/^[^=]*=[ \t]*/, "", v); sub(/[ \t]+$/, "", v)
            if (v ~ /^".*"$/) v = substr(v, 2, length(v) - 2)
            val = v; found = 1
        }
        END { if (found) print val }' "$1"
}

run_plugins_link() {
    local top=$1 dir=$1/var/plugins so l
    mkdir -p "$dir"
    for so in "$top"/plugins/.libs/*.so "$top"/plugins/*/.libs/*.so; do
        [ -e "$so" ] || continue
        ln -sfn "$so" "$dir/$(basename "$so")"
    done
    for l in "$dir"/*.so; do
        if [ -L "$l" ] && [ ! -e "$l" ]; then rm -f "$l"; fi
    done
    return 0
}
