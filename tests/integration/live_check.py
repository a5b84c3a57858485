"""tests/integration/live_check.py SCENARIO -- one scenario of the live
channel against the running atumd of tests/integration/live_pg.sh, which
passes what it set up in LIVE_* variables.  Exits 0 when the scenario
holds, else prints why and exits 1.  Every wait has a bound; none is a
fixed sleep that a pass depends on."""
import concurrent.futures
import hashlib
import http.client
import hmac
import base64
import json
import os
import subprocess
import sys
import threading
import time
import urllib.request

sys.dont_write_bytecode = True      # nothing written into the source tree
sys.path.insert(0, os.path.join(os.environ["ATUM_SRCDIR"], "tests"))
from wsclient import WS, Closed, OP_BIN, OP_TEXT, OP_CONT  # noqa: E402
from apisession import ApiSession, expect, fail  # noqa: E402

PORT = int(os.environ["WEBPORT"])
BASE = "http://127.0.0.1:%d" % PORT
ORIGIN = BASE
PW = os.environ["LIVE_PW"]
DB = os.environ["ATUM_TEST_DATABASE_URL"]
WS_PATH = "/api/v1/events/ws"


class Session(ApiSession):
    def __init__(self, email):
        super().__init__(BASE, email, PW)

    def ws(self, since=None, origin=ORIGIN, extra=None):
        h = {"Cookie": self.cookie}
        if origin is not None:
            h["Origin"] = origin
        h.update(extra or {})
        return WS(PORT, WS_PATH + ("" if since is None else "?since=%d" % since), h)


def psql(sql):
    return subprocess.run(["psql", "-X", "-q", "-t", "-A", "-d", DB, "-c", sql], check=True,
                          capture_output=True, text=True).stdout.strip()


def env_int(k):
    return int(os.environ[k])


def collect(ws, until, timeout=10):
    """Frames until until(frames) holds."""
    frames = []
    end = time.monotonic() + timeout
    while not until(frames):
        left = end - time.monotonic()
        if left <= 0:
            fail("timed out; got %d frames: %s" % (len(frames), [f.get("event") or f for f in frames][-20:]))
        frames.append(ws.recv_json(left))
    return frames


def new_ticket(s, subject, requester=None, queue=None):
    body = {"subject": subject, "body": "body of " + subject, "queue_id": queue or env_int("LIVE_QUEUE")}
    if requester:
        body["requester_id"] = requester
    return s.call("POST", "/api/v1/tickets", body, want=201)["id"]


def sentinel(s, tag):
    """A ticket whose events end a wait: every reader of the queue sees it."""
    return new_ticket(s, "sentinel " + tag)


def has_ticket(tid, event="message.created"):
    return lambda fs: any(f.get("ticket_id") == tid and f.get("event") == event for f in fs)


def scrape():
    """GET /metrics (the metrics plugin, loopback allowed): {series: value}."""
    with urllib.request.urlopen(BASE + "/metrics", timeout=30) as res:
        text = res.read().decode()
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            out[name] = float(value)
    return out


def live_gauges_are(sockets, places, refused_at_least=0):
    m = scrape()
    return (m.get("atum_websockets_open") == sockets and m.get("atum_live_connections") == places
            and m.get("atum_live_refused_total", 0) >= refused_at_least), m


# ---- scenarios --------------------------------------------------------------

def s_basic():
    a = Session("agent@example.com")
    ws = a.ws()
    expect(ws.status == 101, "upgrade refused: %s %s" % (ws.status, ws.body))
    tid = new_ticket(a, "live basic")
    fs = collect(ws, has_ticket(tid))
    evs = [f["event"] for f in fs if f.get("ticket_id") == tid]
    expect(evs[:2] == ["ticket.created", "message.created"], "events: %s" % evs)
    ids = [f["id"] for f in fs]
    expect(ids == sorted(ids) and len(set(ids)) == len(ids), "ids increase: %s" % ids)
    f = fs[-1]
    for k in ("id", "event", "created_at", "ticket_id", "queue_id", "data"):
        expect(k in f, "frame has %s: %s" % (k, f))
    expect("body" not in json.dumps(f["data"]) and "body of" not in json.dumps(f), "no body: %s" % f)
    ws.send_text('{"type": "ping"}')
    expect(ws.recv_json(5) == {"type": "pong"}, "ping answered")
    ws.close()


def s_order():
    """Writers committing out of order: a reader sees every event once, in
    id order, ids without gaps (an admin sees all); a reader that resumes
    from an id in the middle and a long poll from there see the same."""
    adm = Session("admin@example.com")
    a = Session("agent@example.com")
    ws = adm.ws()
    expect(ws.status == 101, "upgrade: %s" % ws.status)
    tickets = [new_ticket(a, "order %d" % i) for i in range(4)]
    start = collect(ws, has_ticket(tickets[-1]))[-1]["id"]
    n_sql, n_api = 24, 40

    def slow_writer(i):
        # commits later than writers that started after it
        psql("BEGIN; INSERT INTO live_events (event, ticket_id, data) VALUES ('test.order', %d,"
             " '{\"n\": %d}'); SELECT pg_sleep(%f); COMMIT;" % (tickets[i % 4], i, (i % 6) * 0.15))

    def api_writer(i):
        a.call("POST", "/api/v1/tickets/%d/notes" % tickets[i % 4], {"body": "note %d" % i}, want=201)

    want_sql = set(range(n_sql))

    def done(fs):
        got = {f["data"]["n"] for f in fs if f["event"] == "test.order"}
        notes = sum(1 for f in fs if f["event"] == "message.created")
        return got == want_sql and notes >= n_api
    # the socket is read while the writers run (a reader that stops
    # reading misses its pongs and is closed, as a browser would be)
    with concurrent.futures.ThreadPoolExecutor(17) as ex:
        reading = ex.submit(collect, ws, done, 60)
        futs = [ex.submit(slow_writer, i) for i in range(n_sql)] + [ex.submit(api_writer, i) for i in range(n_api)]
        for f in futs:
            f.result()
        fs = reading.result()
    ids = [f["id"] for f in fs]
    expect(ids == list(range(start + 1, start + 1 + len(ids))), "ids without gaps or repeats: %s" % ids)
    ws.close()
    # resume from the middle: the same events after it
    mid = ids[len(ids) // 2]
    rest = [i for i in ids if i > mid]
    ws2 = adm.ws(since=mid)
    fs2 = collect(ws2, lambda f: len(f) >= len(rest), 15)
    expect([f["id"] for f in fs2[:len(rest)]] == rest, "resumed: %s vs %s" % ([f["id"] for f in fs2], rest))
    ws2.close()
    # the long poll from the same id
    got, since = [], mid
    while len(got) < len(rest):
        st, js, _ = adm.raw("GET", "/api/v1/events?since=%d&wait=5" % since)
        expect(st == 200, "long poll: %s %s" % (st, js))
        got += [f["id"] for f in js["items"]]
        expect(js["last_id"] >= since, "last_id moves on")
        since = js["last_id"]
    expect(got[:len(rest)] == rest, "long poll: %s vs %s" % (got, rest))


def s_access():
    """An agent of another queue and a customer get nothing of tickets they
    cannot see; the customer gets their own ticket's public events, never
    an internal note."""
    a = Session("agent@example.com")
    o = Session("other@example.com")
    c = Session("customer@example.org")
    wa, wo, wc = a.ws(), o.ws(), c.ws()
    for w in (wa, wo, wc):
        expect(w.status == 101, "upgrade: %s %s" % (w.status, w.body))
    hidden = new_ticket(a, "not for the other queue")
    a.call("POST", "/api/v1/tickets/%d/notes" % hidden, {"body": "secret note"}, want=201)
    own = new_ticket(a, "for carla", requester=env_int("LIVE_CUSTOMER_ID"))
    a.call("POST", "/api/v1/tickets/%d/notes" % own, {"body": "internal about carla"}, want=201)
    a.call("POST", "/api/v1/tickets/%d/replies" % own, {"body": "public answer"}, want=201)
    # the end marker: a ticket in the other agent's queue, one of the customer's
    end_o = new_ticket(Session("admin@example.com"), "billing marker", queue=env_int("LIVE_OTHER_QUEUE"))
    fa = collect(wa, lambda fs: sum(
        1 for f in fs if f.get("ticket_id") == own and f["event"] == "message.created") >= 3)
    fo = collect(wo, has_ticket(end_o))
    expect(all(f["ticket_id"] == end_o for f in fo), "the other agent saw only its queue: %s" %
           [(f["event"], f["ticket_id"]) for f in fo])
    fc = collect(wc, lambda fs: sum(1 for f in fs if f.get("event") == "message.created") >= 2)
    expect(all(f["ticket_id"] == own for f in fc), "customer saw only their ticket: %s" %
           [(f["event"], f["ticket_id"]) for f in fc])
    vis = [f["data"].get("visibility") for f in fc if f["event"] == "message.created"]
    expect(vis == ["public", "public"], "customer got public messages only: %s" % vis)
    expect(any(f["event"] == "message.created" and f["data"]["visibility"] == "internal"
               for f in fa if f["ticket_id"] == own), "the agent got the note")
    # nothing more for the customer: the next event the customer gets is
    # about their own ticket again
    a.call("POST", "/api/v1/tickets/%d/notes" % hidden, {"body": "more secrets"}, want=201)
    a.call("PATCH", "/api/v1/tickets/%d" % own, {"priority": "high"}, want=200)
    nxt = collect(wc, lambda fs: len(fs) >= 1)[0]
    expect(nxt["ticket_id"] == own and nxt["event"] == "ticket.updated", "next for customer: %s" % nxt)
    for w in (wa, wo, wc):
        w.close()


def s_refused():
    a = Session("agent@example.com")
    w = a.ws(origin="http://evil.example")
    expect(w.status == 403 and w.headers.get("content-type") == "application/problem+json",
           "wrong Origin: %s %s" % (w.status, w.body))
    w = a.ws(origin=None)
    expect(w.status == 403, "a session without Origin: %s" % w.status)
    w = WS(PORT, WS_PATH, {"Origin": ORIGIN})
    expect(w.status == 401, "no session: %s %s" % (w.status, w.body))
    w = WS(PORT, WS_PATH, {"Origin": ORIGIN, "Cookie": "atum_session=not-a-session-token-at-all-xx"})
    expect(w.status == 401, "a wrong session: %s" % w.status)
    w = WS(PORT, "/api/v1/tickets", {"Origin": ORIGIN, "Cookie": a.cookie})
    expect(w.status == 404, "another path: %s" % w.status)
    w = WS(PORT, WS_PATH, {"Origin": ORIGIN, "Cookie": a.cookie}, key="short")
    expect(w.status == 400, "a bad key: %s" % w.status)
    w = WS(PORT, WS_PATH + "?since=-4", {"Origin": ORIGIN, "Cookie": a.cookie})
    expect(w.status == 400, "since=-4: %s" % w.status)
    w = WS(PORT, WS_PATH + "?since=1&x=2", {"Origin": ORIGIN, "Cookie": a.cookie})
    expect(w.status == 400, "another parameter: %s" % w.status)
    st, js, h = a.raw("GET", WS_PATH)
    expect(st == 426, "a plain GET of the socket: %s" % st)
    # an API token needs no Origin
    tok = os.environ["LIVE_TOKEN"]
    w = WS(PORT, WS_PATH, {"Authorization": "Bearer " + tok})
    expect(w.status == 101, "a token: %s %s" % (w.status, w.body))
    w.close()


LIVE_MSG_RATE = 40   # client messages a socket may send in 10 s (src/web/api_live.h)


def s_bad_input():
    a = Session("agent@example.com")
    cases = [
        ("not JSON", lambda w: w.send_text("{nope"), 1007),
        ("binary", lambda w: w.send_frame(OP_BIN, b"\x00\x01"), 1003),
        ("a fragment", lambda w: w.send_frame(OP_TEXT, '{"type":', fin=False), 1009),
        ("a continuation alone", lambda w: w.send_frame(OP_CONT, "x"), 1009),
        ("huge", lambda w: w.send_frame(OP_TEXT, "x" * (1 << 20)), 1009),
        ("unknown type", lambda w: w.send_text('{"type": "launch"}'), 1008),
        ("a JSON array", lambda w: w.send_text('[1,2]'), 1007),
        ("presence without a tab", lambda w: w.send_text('{"type":"presence","ticket_id":1,"state":"viewing"}'), 1008),
        ("presence with a bad state", lambda w: w.send_text('{"type":"presence","ticket_id":1,"state":"dancing","tab":"a"}'), 1008),
        # one message over the limit (LIVE_MSG_RATE in src/web/api_live.h)
        # and no more: frames the server has not read when it closes would
        # make its kernel answer with a reset, which may drop the close
        # frame before the client reads it
        ("too many", lambda w: [w.send_text('{"type":"ping"}') for _ in range(LIVE_MSG_RATE + 1)], 1008),
    ]
    for what, act, code in cases:
        w = a.ws()
        expect(w.status == 101, "upgrade: %s" % w.status)
        act(w)
        got = w.wait_closed(10)
        expect(got == code, "%s: closed with %s (%s), not %s" % (what, got, w.close_reason, code))
        w.sock.close()
    st, js, _ = a.raw("GET", "/healthz")
    expect(st == 200, "the server is fine: %s" % st)
    w = a.ws()
    tid = new_ticket(a, "after the bad input")
    collect(w, has_ticket(tid))
    w.close()


def s_cap():
    cap = env_int("LIVE_CAP")
    adm = Session("admin@example.com")
    end = time.monotonic() + 10
    while adm.call("GET", "/api/v1/events/status", want=200)["connections"] != 0:
        expect(time.monotonic() < end, "the other scenarios' sockets closed")
    socks = [adm.ws() for _ in range(cap)]
    expect(all(s.status == 101 for s in socks), "the first %d open" % cap)
    st = adm.call("GET", "/api/v1/events/status", want=200)
    expect(st["connections"] == cap and st["websockets"] == cap and st["metric"] == cap,
           "count %s" % st)
    ok, m = live_gauges_are(cap, cap)
    expect(ok, "GET /metrics with %d sockets: %s" % (cap, {k: v for k, v in m.items() if "live" in k or "websocket" in k}))
    # More live sockets than web.threads (live_pg.sh: LIVE_THREADS): they
    # hold threads of their own share, so an ordinary keep-alive
    # connection is not closed as idle to make room for newcomers.  The
    # idle watcher closes a connection that waited 0.5 s (checking every
    # 0.25 s): idle for 1.5 s, this one must still answer.  (The pass does
    # not depend on the wait; a wrong budget fails it every time.)
    expect(cap > env_int("LIVE_THREADS"), "the scenario needs more sockets than threads")
    ka = http.client.HTTPConnection("127.0.0.1", PORT, timeout=10)
    ka.request("GET", "/healthz")
    r = ka.getresponse()
    r.read()
    expect(r.status == 200 and not r.will_close, "keep-alive: %s %s" % (r.status, r.will_close))
    time.sleep(1.5)
    try:
        ka.request("GET", "/healthz")
        r = ka.getresponse()
        r.read()
        kept = r.status == 200
    except (OSError, http.client.HTTPException) as e:
        kept = False
        fail("an idle keep-alive connection was closed while live sockets held their threads: %r" % e)
    expect(kept, "keep-alive answered %s" % r.status)
    ka.close()
    over = adm.ws()
    expect(over.status == 503, "N+1: %s %s" % (over.status, over.body))
    expect(over.headers.get("content-type") == "application/problem+json", "problem+json")
    expect(json.loads(over.body)["status"] == 503, "body %s" % over.body)
    stp, js, h = adm.raw("GET", "/api/v1/events?wait=0")
    expect(stp == 503, "a long poll over the cap: %s" % stp)
    socks[0].close()
    # the place comes back once the server saw the close
    end = time.monotonic() + 10
    while True:
        w = adm.ws()
        if w.status == 101:
            break
        expect(time.monotonic() < end, "a place came back")
    st = adm.call("GET", "/api/v1/events/status", want=200)
    expect(st["connections"] == cap and st["metric"] == cap and st["refused"] >= 2, "count %s" % st)
    for s in socks[1:] + [w]:
        s.close()
    end = time.monotonic() + 10
    while adm.call("GET", "/api/v1/events/status", want=200)["connections"] != 0:
        expect(time.monotonic() < end, "all closed: %s" % adm.call("GET", "/api/v1/events/status"))
    expect(adm.call("GET", "/api/v1/events/status")["metric"] == 0, "metric back to 0")
    ok, m = live_gauges_are(0, 0, refused_at_least=2)
    expect(ok, "GET /metrics after: %s" % {k: v for k, v in m.items() if "live" in k or "websocket" in k})
    # a long poll takes a place, not a WebSocket (a poll that an event
    # ends before the scrape saw it is followed by another)
    polls = []
    end = time.monotonic() + 10
    while True:
        if not polls or not polls[-1].is_alive():
            polls.append(threading.Thread(target=lambda: adm.raw("GET", "/api/v1/events?wait=3")))
            polls[-1].start()
        ok, m = live_gauges_are(0, 1)
        if ok:
            break
        expect(time.monotonic() < end, "a long poll counted: %s" % m.get("atum_live_connections"))
    for t in polls:
        t.join()


def s_dead_peer():
    """A peer that stops answering pings (web.live_ping = 2 s here) is
    closed by the server: its place under the cap comes back."""
    adm = Session("admin@example.com")
    end = time.monotonic() + 10
    while adm.call("GET", "/api/v1/events/status", want=200)["connections"] != 0:
        expect(time.monotonic() < end, "the other scenarios' sockets closed")
    w = adm.ws()
    expect(w.status == 101, "upgrade: %s" % w.status)
    expect(adm.call("GET", "/api/v1/events/status")["websockets"] == 1, "open")
    # never read: no pong goes back
    t0 = time.monotonic()
    end = t0 + 60
    while adm.call("GET", "/api/v1/events/status", want=200)["websockets"] != 0:
        expect(time.monotonic() < end, "a silent peer is closed within 60 s")
        time.sleep(0.5)
    expect(time.monotonic() - t0 >= 2, "not before a ping went unanswered")
    w.sock.close()


def s_longpoll():
    a = Session("agent@example.com")
    st, js, _ = a.raw("GET", "/api/v1/events?wait=0")
    expect(st == 200 and js["items"] == [], "nothing new at once: %s" % js)
    since = js["last_id"]
    t0 = time.monotonic()
    st, js, _ = a.raw("GET", "/api/v1/events?since=%d&wait=1" % since)
    dt = time.monotonic() - t0
    expect(st == 200 and js["items"] == [] and 0.9 <= dt < 5, "an empty wait of 1 s: %s %.2f" % (js, dt))
    # an event during the wait answers at once
    box = {}

    def poll():
        t = time.monotonic()
        box["r"] = a.raw("GET", "/api/v1/events?since=%d&wait=20" % since)
        box["dt"] = time.monotonic() - t
    th = threading.Thread(target=poll)
    th.start()
    time.sleep(0.3)
    tid = new_ticket(a, "during a poll")
    th.join(25)
    st, js, _ = box["r"]
    expect(st == 200 and any(f["ticket_id"] == tid for f in js["items"]) and box["dt"] < 10,
           "answered at once: %s %.2f" % (js, box["dt"]))
    for bad in ("since=x", "since=-1", "wait=99", "wait=1&other=2"):
        st, js, _ = a.raw("GET", "/api/v1/events?" + bad)
        expect(st == 400, "%s: %s" % (bad, st))


def s_reset():
    a = Session("agent@example.com")
    last = int(psql("SELECT last_id FROM live_counter"))
    w = a.ws(since=last + 1000000)
    f = w.recv_json(5)
    expect(f.get("reset") is True and "last_id" in f, "a future id: %s" % f)
    w.close()
    psql("UPDATE live_counter SET pruned_below = last_id")
    w = a.ws(since=max(0, last - 5))
    f = w.recv_json(5)
    expect(f.get("reset") is True, "a pruned id: %s" % f)
    w.close()
    st, js, _ = a.raw("GET", "/api/v1/events?since=0&wait=0")
    expect(st == 200 and js.get("reset") is True, "long poll reset: %s" % js)


def s_presence():
    a = Session("agent@example.com")
    b = Session("agent2@example.com")
    wa, wb = a.ws(), b.ws()
    tid = new_ticket(a, "presence")
    collect(wb, has_ticket(tid))
    wa.send_text(json.dumps({"type": "presence", "ticket_id": tid, "state": "viewing", "tab": "t1"}))
    fs = collect(wb, lambda fs: any(f["event"] == "ticket.presence" for f in fs))
    v = [f for f in fs if f["event"] == "ticket.presence"][-1]["data"]["viewers"]
    expect([x["user_id"] for x in v] == [a.user["id"]] and v[0]["state"] == "viewing", "viewers %s" % v)
    t = b.call("GET", "/api/v1/tickets/%d" % tid, want=200)
    expect([x["user_id"] for x in t["viewers"]] == [a.user["id"]], "GET shows viewers: %s" % t.get("viewers"))
    wa.send_text(json.dumps({"type": "presence", "ticket_id": tid, "state": "typing", "tab": "t1"}))
    fs = collect(wb, lambda fs: any(f["event"] == "ticket.presence" for f in fs))
    v = [f for f in fs if f["event"] == "ticket.presence"][-1]["data"]["viewers"]
    expect(v[0]["state"] == "typing", "typing %s" % v)
    # typing without news ends by itself (PRESENCE_TYPING_S, swept every 2 s)
    t0 = time.monotonic()
    collect(wb, lambda fs: any(f["event"] == "ticket.presence" and f["data"]["viewers"]
                               and f["data"]["viewers"][0]["state"] == "viewing" for f in fs), 30)
    expect(time.monotonic() - t0 >= 5, "typing lasted its time")
    # presence on a ticket one cannot see: an error frame, the socket stays
    wa.send_text(json.dumps({"type": "presence", "ticket_id": env_int("LIVE_FOREIGN"), "state": "viewing", "tab": "t1"}))
    err = wa.recv_json(5)
    while err.get("type") != "error":
        err = wa.recv_json(5)
    expect(err["detail"] == "no such ticket", "error %s" % err)
    # the socket closes: the presence ends
    wa.close()
    fs = collect(wb, lambda fs: any(f["event"] == "ticket.presence" and f["data"]["viewers"] == [] for f in fs))
    # presence without a socket
    r = b.call("POST", "/api/v1/tickets/%d/presence" % tid, {"state": "viewing", "tab": "x"}, want=200)
    expect([x["user_id"] for x in r["viewers"]] == [b.user["id"]], "POST presence %s" % r)
    b.call("POST", "/api/v1/tickets/%d/presence" % tid, {"state": "seated", "tab": "x"}, want=400)
    b.call("POST", "/api/v1/tickets/%d/presence" % env_int("LIVE_FOREIGN"), {"state": "viewing", "tab": "x"}, want=404)
    c = Session("customer@example.org")
    c.call("POST", "/api/v1/tickets/%d/presence" % tid, {"state": "viewing", "tab": "x"}, want=404)
    wb.close()


def s_stale():
    a = Session("agent@example.com")
    b = Session("agent2@example.com")
    tid = new_ticket(a, "stale")
    st, t, h = a.raw("GET", "/api/v1/tickets/%d" % tid)
    etag = h.get("etag")
    expect(etag == '"v%d"' % t["version"], "ETag %s, version %s" % (etag, t["version"]))
    b.call("POST", "/api/v1/tickets/%d/replies" % tid, {"body": "b answered first"}, want=201,
           headers={"If-Match": etag})
    st, p, h = a.raw("POST", "/api/v1/tickets/%d/replies" % tid, {"body": "a answers too"},
                     headers={"If-Match": etag})
    expect(st == 409 and h["content-type"] == "application/problem+json", "409: %s %s" % (st, p))
    expect(p["field"] == "version" and p["since"] == t["version"] and p["version"] > t["version"], "%s" % p)
    expect([m["body_text"] for m in p["messages"]] == ["b answered first"], "newer: %s" % p["messages"])
    expect(any(c["kind"] == "message" for c in p["changes"]), "changes %s" % p["changes"])
    st, p, _ = a.raw("PATCH", "/api/v1/tickets/%d" % tid, {"priority": "high", "version": t["version"]})
    expect(st == 409 and p["field"] == "version", "PATCH: %s %s" % (st, p))
    t2 = a.call("GET", "/api/v1/tickets/%d" % tid, want=200)
    expect(len(t2["messages"]) == 2 and t2["priority"] == "normal", "nothing was sent: %s" % t2["messages"])
    a.call("PATCH", "/api/v1/tickets/%d" % tid, {"priority": "high", "version": t2["version"]}, want=200)
    a.call("POST", "/api/v1/tickets/%d/notes" % tid, {"body": "n"}, want=400, headers={"If-Match": "12"})
    a.call("POST", "/api/v1/tickets/%d/notes" % tid, {"body": "n", "version": 1}, want=400,
           headers={"If-Match": '"v2"'})
    a.call("POST", "/api/v1/tickets/%d/notes" % tid, {"body": "any"}, want=201, headers={"If-Match": "*"})


def agent_token(secret, ticket, user, day, version):
    msg = "atum-reply:%d:a%d:d%d" % (ticket, user, day) + (":v%d" % version if version else "")
    mac = hmac.new(secret.encode(), msg.encode(), hashlib.sha256).digest()
    return "t%da%dd%d%s.%s" % (ticket, user, day, "v%d" % version if version else "",
                               base64.b32encode(mac).decode().lower()[:12])


def s_held():
    """An agent's reply by mail that crosses a newer customer message is
    held: a note, not mailed; the agent is told by mail and live; sending
    it from the desk makes the reply.  An old token (no version) is judged
    by the notification it answers."""
    a = Session("agent@example.com")
    secret, agent = os.environ["LIVE_SECRET"], a.user["id"]
    tid = new_ticket(a, "held by mail", requester=env_int("LIVE_CUSTOMER_ID"))
    v = a.call("GET", "/api/v1/tickets/%d" % tid, want=200)["version"]
    c = Session("customer@example.org")
    c.call("POST", "/api/v1/tickets/%d/replies" % tid, {"body": "customer writes again"}, want=201)
    ws = a.ws()
    day = int(time.time() // 86400)
    # (no smarthost here: a reply to the customer is a mail.send job)
    replies = lambda: int(psql("SELECT count(*) FROM jobs j JOIN messages m"
                               " ON j.unique_key = 'send:message_id:' || m.id"
                               " WHERE m.ticket_id = %d AND j.kind = 'mail.send'" % tid))
    n0 = replies()
    tok = agent_token(secret, tid, agent, day, v)

    def inject(token, mid, text, refs=""):
        mail = ("From: agent@example.com\r\nTo: support+%s@example.com\r\nSubject: Re: held\r\n"
                "Message-ID: <%s@example.com>\r\n%s\r\n%s\r\n" % (token, mid, refs, text))
        subprocess.run([os.environ["ATUM_BUILDDIR"] + "/atumctl", "inject", "--from", "agent@example.com",
                        "--to", "support+%s@example.com" % token], input=mail.encode(), check=True,
                       capture_output=True)
    inject(tok, "held-1-%d" % tid, "My answer by mail.")
    fs = collect(ws, lambda fs: any(f["event"] == "ticket.held" and f["ticket_id"] == tid for f in fs), 20)
    held = [f for f in fs if f["event"] == "ticket.held"][0]["data"]
    t = a.call("GET", "/api/v1/tickets/%d" % tid, want=200)
    m = [x for x in t["messages"] if x["id"] == held["message_id"]][0]
    expect(m["visibility"] == "internal" and m["held"] and "newer" in m["held"], "held note %s" % m)
    expect(replies() == n0, "nothing mailed to the customer: %s" % replies())
    notice = psql("SELECT count(*) FROM outbound_mail o JOIN outbound_recipients r ON r.outbound_id = o.id"
                  " WHERE o.ticket_id = %d AND o.kind = 'notice' AND r.address = 'agent@example.com'" % tid)
    expect(notice == "1", "the agent is told by mail: %s" % notice)
    # a token with the current version is not held
    v2 = a.call("GET", "/api/v1/tickets/%d" % tid, want=200)["version"]
    inject(agent_token(secret, tid, agent, day, v2), "held-2-%d" % tid, "A current answer.")
    end = time.monotonic() + 20
    while replies() != n0 + 1:
        expect(time.monotonic() < end, "the current reply is mailed")
        time.sleep(0.1)
    # sending the held one from the desk: a reply; stale: 409
    a.call("POST", "/api/v1/tickets/%d/held/%d" % (tid, held["message_id"]), {"action": "send", "version": v}, want=409)
    cur = a.call("GET", "/api/v1/tickets/%d" % tid, want=200)["version"]
    t = a.call("POST", "/api/v1/tickets/%d/held/%d" % (tid, held["message_id"]), {"action": "send", "version": cur}, want=200)
    expect(sum(1 for x in t["messages"] if x["body_text"] == "My answer by mail." and x["visibility"] == "public") == 1,
           "sent after all")
    a.call("POST", "/api/v1/tickets/%d/held/%d" % (tid, held["message_id"]), {"action": "send"}, want=404)
    # an old token (no version): held when the customer wrote after the
    # notification it answers
    tid2 = new_ticket(a, "old token", requester=env_int("LIVE_CUSTOMER_ID"))
    c.call("POST", "/api/v1/tickets/%d/replies" % tid2, {"body": "first customer words"}, want=201)
    end = time.monotonic() + 20
    while True:
        note = psql("SELECT rfc_message_id FROM outbound_mail WHERE ticket_id = %d AND kind = 'notify'"
                    " ORDER BY id DESC LIMIT 1" % tid2)
        if note:
            break
        expect(time.monotonic() < end, "a notification was made")
        time.sleep(0.1)
    c.call("POST", "/api/v1/tickets/%d/replies" % tid2, {"body": "and again"}, want=201)
    old = agent_token(secret, tid2, agent, day, 0)
    inject(old, "held-3-%d" % tid2, "Answer to the first.", "In-Reply-To: <%s>\r\n" % note)
    collect(ws, lambda fs: any(f["event"] == "ticket.held" and f["ticket_id"] == tid2 for f in fs), 20)
    ws.close()


if __name__ == "__main__":
    globals()["s_" + sys.argv[1]]()
