# build-aux/deps.sh -- install the Debian packages ATUM DESK needs.
#
# Sourced by run.sh and test.sh.  ensure_packages PKG... installs what is
# missing with apt-get (as root, or through sudo), and does nothing when
# everything is there, so a second run starts at once.

ATUM_BUILD_PACKAGES="gcc make autoconf automake libtool pkg-config
  libetpan-dev libcivetweb-dev libjansson-dev libcurl4-gnutls-dev libpq-dev
  libssl-dev libcrypt-dev libgumbo-dev libuchardet-dev libcmark-dev libsystemd-dev check postgresql postgresql-client python3 curl
  liblinear-dev libstemmer-dev libexttextcat-dev"
# The desk (web/) is built with Node.js and npm (npm ci of web/package-lock.json,
# then esbuild).  Node from another source often ships its own npm: ask
# Debian's only for what is missing.
command -v node >/dev/null 2>&1 || ATUM_BUILD_PACKAGES="$ATUM_BUILD_PACKAGES nodejs"
# the triage plugin's word list comes from npm at build time
command -v npm >/dev/null 2>&1 || ATUM_BUILD_PACKAGES="$ATUM_BUILD_PACKAGES npm"
# the sla plugin's calendars: the compiled time zones (/usr/share/zoneinfo)
ATUM_BUILD_PACKAGES="$ATUM_BUILD_PACKAGES tzdata"
# Tests: swaks + Python (SMTP clients; Net::SSLeay for swaks --tls), dovecot-imapd (a real IMAP server),
# nginx + openssl (TLS proxy test, test certificates), jq (shell API
# tests), clang + its sanitizer/libFuzzer runtime (tests/fuzz), npm (above;
# the OpenAPI linter, @redocly/cli, installed from npm by the test itself),
# chromium (the desk's browser tests, driven by playwright-core from npm).
ATUM_TEST_PACKAGES="procps swaks libnet-ssleay-perl dovecot-imapd python3-minimal python3-aiosmtpd nginx-light openssl jq clang libclang-rt-14-dev chromium"
# promtool (checks the /metrics exposition) ships only inside Debian's
# prometheus package; its server is never wanted: see ensure_packages
ATUM_TEST_PACKAGES="$ATUM_TEST_PACKAGES prometheus"
# bench/run api
ATUM_BENCH_PACKAGES="wrk"

ensure_packages() {
    local missing=() p
    for p in "$@"; do
        if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed"; then
            missing+=("$p")
        fi
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    echo "==> installing: ${missing[*]}"
    local sudo=()
    if [ "$(id -u)" != 0 ]; then
        if command -v sudo >/dev/null 2>&1; then
            sudo=(sudo)
        else
            echo "error: missing packages (${missing[*]}) and not root; install them or run as root" >&2
            return 1
        fi
    fi
    export DEBIAN_FRONTEND=noninteractive
    if ! "${sudo[@]}" apt-get install -y --no-install-recommends "${missing[@]}"; then
        "${sudo[@]}" apt-get update -q
        "${sudo[@]}" apt-get install -y --no-install-recommends "${missing[@]}" || return 1
    fi
    # prometheus is installed for promtool only: its service stays stopped
    if [[ " ${missing[*]} " == *" prometheus "* ]] && [ -d /run/systemd/system ]; then
        "${sudo[@]}" systemctl disable --now prometheus.service >/dev/null 2>&1 || true
    fi
}

# build_tree: autoreconf/configure when needed, then make.
build_tree() {
    if [ ! -x configure ] || [ configure.ac -nt configure ] || [ Makefile.am -nt Makefile.in ]; then
        echo "==> autoreconf"
        autoreconf -fi >/dev/null
    fi
    if [ ! -f Makefile ] || [ configure -nt Makefile ]; then
        echo "==> configure"
        ./configure -q ${ATUM_CONFIGURE_FLAGS:-}
    fi
    echo "==> make"
    make -s -j"$(nproc)"
}
