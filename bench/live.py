"""bench/live.py PORT PID -- the live channel's fan-out (run by bench/desk.sh
after bench/desk.mjs, against the same atumd and 100,000 tickets).

BENCH_SOCKETS (200) WebSocket clients of the benchmark agent are
connected (tests/wsclient.py); then, BENCH_ROUNDS (20) times, one ticket
change is made through the API (PATCH priority) and every client's time
from sending the change until its event frame arrives is taken.  Prints:
  fan-out  p50 and p99 over all clients and rounds, and the p50 of the
           time until the last client had it
  rss      atumd's resident memory with the sockets open (VmRSS of PID)
  reference  the machine, same run: the same number of loopback TCP
           sockets of this process, one line written to each by a thread
           and read here the same way -- p99 of the same measure
and the ratio fan-out p99 / reference p99.  The last line is key=value.
"""
import json
import os
import select
import socket
import sys
import threading
import time
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests"))
from wsclient import WS  # noqa: E402

PORT, PID = int(sys.argv[1]), int(sys.argv[2])
N = int(os.environ.get("BENCH_SOCKETS", "200"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "20"))
BASE = "http://127.0.0.1:%d" % PORT


def pct(a, p):
    s = sorted(a)
    return s[min(len(s) - 1, int(round(p / 100.0 * (len(s) - 1))))]


def rss_mb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    return 0.0


def api(method, path, body=None, cookie=None, csrf=None):
    req = urllib.request.Request(BASE + path, data=json.dumps(body).encode() if body is not None else None,
                                 method=method)
    req.add_header("Content-Type", "application/json")
    if cookie:
        req.add_header("Cookie", cookie)
    if csrf:
        req.add_header("X-CSRF-Token", csrf)
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.loads(r.read() or b"null"), r.headers


login, h = api("POST", "/api/v1/auth/login", {"email": "agent@bench.example", "password": os.environ["BENCH_PW"]})
cookie, csrf = h["Set-Cookie"].split(";")[0], login["csrf_token"]
ticket = int(os.environ["BENCH_BIG"])
rss_before = rss_mb(PID)

t = time.monotonic()
socks = []
for i in range(N):
    ws = WS(PORT, "/api/v1/events/ws", {"Cookie": cookie, "Origin": BASE})
    if ws.status != 101:
        sys.exit("socket %d refused: %s %s" % (i, ws.status, ws.body))
    ws.sock.setblocking(False)
    socks.append(ws)
connect_s = time.monotonic() - t
rss_open = rss_mb(PID)


def read_frames(ws):
    """Complete text frames now in ws's buffer (server frames are unmasked)."""
    out = []
    while len(ws.buf) >= 2:
        n, off = ws.buf[1] & 0x7F, 2
        if n == 126:
            if len(ws.buf) < 4:
                break
            n, off = int.from_bytes(ws.buf[2:4], "big"), 4
        elif n == 127:
            if len(ws.buf) < 10:
                break
            n, off = int.from_bytes(ws.buf[2:10], "big"), 10
        if len(ws.buf) < off + n:
            break
        op, payload = ws.buf[0] & 0x0F, ws.buf[off:off + n]
        ws.buf = ws.buf[off + n:]
        if op == 9:
            ws.sock.setblocking(True)
            ws.send_frame(10, payload)
            ws.sock.setblocking(False)
        elif op == 1:
            out.append(json.loads(payload))
    return out


def wait_all(sockets, match, timeout=30):
    """Per socket, the monotonic time its first frame that match() accepts arrived."""
    got = {}
    fdmap = {s.sock.fileno(): s for s in sockets}
    end = time.monotonic() + timeout
    while len(got) < len(sockets):
        left = end - time.monotonic()
        if left <= 0:
            sys.exit("only %d of %d sockets got the event" % (len(got), len(sockets)))
        ready, _, _ = select.select(list(fdmap), [], [], left)
        now = time.monotonic()
        for fd in ready:
            s = fdmap[fd]
            try:
                chunk = s.sock.recv(65536)
            except BlockingIOError:
                continue
            if not chunk:
                sys.exit("a socket closed")
            s.buf += chunk
            for f in read_frames(s):
                if fd not in got and match(f):
                    got[fd] = now
    return got


samples, lasts = [], []
# each round changes the priority (to what it is not now: a change that
# changes nothing makes no event)
prio = api("GET", "/api/v1/tickets/%d" % ticket, None, cookie)[0]["priority"]
for r in range(ROUNDS):
    prio = "high" if prio != "high" else "normal"
    t0 = time.monotonic()
    api("PATCH", "/api/v1/tickets/%d" % ticket, {"priority": prio}, cookie, csrf)
    got = wait_all(socks, lambda f: f.get("event") == "ticket.updated" and f.get("ticket_id") == ticket
                   and f["data"]["changes"].get("priority", {}).get("to") == prio)
    ms = [(v - t0) * 1000 for v in got.values()]
    samples += ms
    lasts.append(max(ms))
rss_live = rss_mb(PID)
for s in socks:
    s.sock.setblocking(True)
    s.close()

# ---- the reference: the same fan-out of plain loopback TCP sockets ----------
srv = socket.socket()
srv.bind(("127.0.0.1", 0))
srv.listen(N + 8)
clients = [socket.create_connection(srv.getsockname()) for _ in range(N)]
peers = [srv.accept()[0] for _ in range(N)]
for c in clients:
    c.setblocking(False)
ref = []
line = b'{"id": 1, "event": "ticket.updated", "ticket_id": 1, "data": {"changes": {}}}\n'
for r in range(ROUNDS):
    t0 = time.monotonic()
    th = threading.Thread(target=lambda: [p.sendall(line) for p in peers])
    th.start()
    got, fds = {}, {c.fileno(): c for c in clients}
    while len(got) < N:
        ready, _, _ = select.select(list(fds), [], [], 10)
        now = time.monotonic()
        for fd in ready:
            if fd not in got and fds[fd].recv(4096):
                got[fd] = now
    th.join()
    ref += [(v - t0) * 1000 for v in got.values()]
for s in clients + peers + [srv]:
    s.close()

p50, p99 = pct(samples, 50), pct(samples, 99)
all50 = pct(lasts, 50)
r99 = pct(ref, 99)
print("live fan-out: %d WebSocket clients connected in %.1f s; %d rounds of one ticket change" % (N, connect_s, ROUNDS))
print("  time from the change to each client's frame: p50 %.1f ms, p99 %.1f ms; until the last client had it: p50 %.1f ms"
      % (p50, p99, all50))
print("  atumd RSS: %.1f MB before, %.1f MB with %d sockets open, %.1f MB after the rounds" % (rss_before, rss_open, N, rss_live))
print("  reference (same run): %d loopback TCP sockets, one line each from a thread: p99 %.2f ms" % (N, r99))
print("  ratio fan-out p99 / reference p99: %.1f" % (p99 / r99 if r99 > 0 else float("nan")))
print("live_sockets=%d live_fanout_p50_ms=%.1f live_fanout_p99_ms=%.1f live_fanout_all_p50_ms=%.1f "
      "live_rss_mb=%.1f live_reference_p99_ms=%.2f live_fanout_ratio=%.1f"
      % (N, p50, p99, all50, rss_live, r99, p99 / r99 if r99 > 0 else float("nan")))
