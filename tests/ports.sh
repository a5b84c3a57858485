# tests/ports.sh -- TCP ports for tests and benchmarks that nothing else can
# take between the moment they are chosen and the moment they are used.
#
#   port_take VAR     sets VAR to a free loopback port, reserved for this
#                     shell and what it starts
#
# A port from bind(0) is in the kernel's ephemeral range: once released,
# any outgoing connection may be given it (the suites make thousands of
# loopback connections in parallel), which is how "Address already in use"
# made CI fail by chance.  port_take picks from just below that range
# (net.ipv4.ip_local_port_range), where the kernel never puts outgoing
# connections, checks that the port can be bound, and reserves it with an
# flock on $ATUM_PORTS_DIR/PORT (default /tmp/atum-ports) held through a
# descriptor of this shell: every process started from here inherits it,
# so the reservation lasts until the test and the servers it started on
# the port are gone (a crash included).  Two tests, or two engineers'
# suites on one machine, never get the same port.
#
# Call it as `port_take WEBPORT`, never in $(...): the lock would go with
# the subshell.
ATUM_PORTS_DIR=${ATUM_PORTS_DIR:-/tmp/atum-ports}

port_is_free() {
    python3 -c 'import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1])))' "$1" 2>/dev/null
}

port_take() {
    local var=$1 eph_lo eph_hi lo hi p fd i
    read -r eph_lo eph_hi </proc/sys/net/ipv4/ip_local_port_range
    lo=$(( eph_lo - 16000 < 1024 ? 1024 : eph_lo - 16000 ))
    hi=$eph_lo                                   # [lo, hi)
    if [ $(( hi - lo )) -lt 1000 ]; then         # no room below: above it
        lo=$(( eph_hi + 1 )); hi=65536
    fi
    mkdir -p "$ATUM_PORTS_DIR" 2>/dev/null && chmod 1777 "$ATUM_PORTS_DIR" 2>/dev/null
    for i in $(seq 1 1000); do
        p=$(( lo + (RANDOM * 32768 + RANDOM) % (hi - lo) ))
        exec {fd}>>"$ATUM_PORTS_DIR/$p" 2>/dev/null || continue
        if flock -n "$fd" && port_is_free "$p"; then
            printf -v "$var" '%s' "$p"
            return 0
        fi
        exec {fd}>&-
    done
    echo "port_take: no free port in $lo..$((hi - 1))" >&2
    return 1
}
