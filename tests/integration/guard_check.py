"""tests/integration/guard_check.py SCENARIO -- one scenario of the
stale-send guard on macros, merges, links and bulk changes, against the
running atumd of tests/integration/guard_pg.sh (GUARD_* variables).
Each write is tried with a fresh version (applied), a stale one (409 with
what changed, and nothing changed: the tickets, their messages, links and
the audit log are read back from the database) and none (applied to the
ticket as it is, as API clients always could).  Exits 0 when the
scenario holds, else prints why and exits 1."""
import os
import subprocess
import sys

sys.dont_write_bytecode = True      # nothing written into the source tree
sys.path.insert(0, os.path.join(os.environ["ATUM_SRCDIR"], "tests"))
from apisession import ApiSession, expect, fail  # noqa: E402

BASE = "http://127.0.0.1:%d" % int(os.environ["WEBPORT"])
PW = os.environ["GUARD_PW"]
DB = os.environ["ATUM_TEST_DATABASE_URL"]
QUEUE = int(os.environ["GUARD_QUEUE"])
CUSTOMER = int(os.environ["GUARD_CUSTOMER_ID"])


class Session(ApiSession):
    def __init__(self, email):
        super().__init__(BASE, email, PW)

    def version(self, tid):
        st, t, h = self.raw("GET", "/api/v1/tickets/%d" % tid)
        expect(st == 200 and h.get("etag") == '"v%d"' % t["version"], "GET %d: %s %s" % (tid, st, h.get("etag")))
        return t["version"]


def psql(sql):
    return subprocess.run(["psql", "-X", "-q", "-t", "-A", "-d", DB, "-c", sql], check=True,
                          capture_output=True, text=True).stdout.strip()


def new_ticket(s, subject):
    return s.call("POST", "/api/v1/tickets", {"subject": subject, "body": "body of " + subject, "queue_id": QUEUE,
                                              "requester_id": CUSTOMER}, want=201)["id"]


def state(tid):
    """What a write could change: the ticket's fields and version, its
    messages, links and audit rows."""
    return psql("SELECT row(t.status, t.priority, t.category, t.assignee_id, t.queue_id, t.merged_into, t.version,"
                " (SELECT count(*) FROM messages m WHERE m.ticket_id = t.id),"
                " (SELECT count(*) FROM ticket_links l WHERE %d IN (l.ticket_a, l.ticket_b)),"
                " (SELECT count(*) FROM audit_log a WHERE a.target = 'ticket:' || t.id))"
                " FROM tickets t WHERE t.id = %d" % (tid, tid))


def audits(tid, action):
    return int(psql("SELECT count(*) FROM audit_log WHERE action = '%s' AND target = 'ticket:%d'" % (action, tid)))


def is_stale_409(st, p, h, tid, since, field="version"):
    expect(st == 409, "409 expected: %s %s" % (st, p))
    expect(h is None or h.get("content-type") == "application/problem+json", "problem+json: %s" % h)
    expect(p.get("field") == field and p.get("ticket_id") == tid and p.get("since") == since
           and p.get("version", 0) > since, "the stale shape: %s" % p)
    expect(isinstance(p.get("changes"), list) and p["changes"] and isinstance(p.get("messages"), list),
           "changes and messages: %s" % p)


def other_changes(b, tid, body="the other agent changed it"):
    """A second agent replies: the ticket moves on."""
    b.call("POST", "/api/v1/tickets/%d/notes" % tid, {"body": body}, want=201)


# ---- scenarios --------------------------------------------------------------

def s_macro():
    a, b = Session("agent@example.com"), Session("agent2@example.com")
    mid = int(os.environ["GUARD_MACRO"])
    tid = new_ticket(a, "macro guard")
    v = a.version(tid)
    # stale: a second agent wrote meanwhile; nothing of the macro happens
    other_changes(b, tid, "b was here first")
    before = state(tid)
    macros0 = audits(tid, "ticket.macro")
    st, p, h = a.raw("POST", "/api/v1/tickets/%d/macros/%d" % (tid, mid), {"body": "stale macro text"},
                     headers={"If-Match": '"v%d"' % v})
    is_stale_409(st, p, h, tid, v)
    expect([m["body_text"] for m in p["messages"]] == ["b was here first"], "the newer note: %s" % p["messages"])
    expect(any(c["kind"] == "message" for c in p["changes"]), "changes %s" % p["changes"])
    expect(state(tid) == before and audits(tid, "ticket.macro") == macros0, "nothing changed: %s / %s" % (before, state(tid)))
    expect(psql("SELECT count(*) FROM messages WHERE body_text = 'stale macro text'") == "0", "no text posted")
    # the version in the body says the same
    st, p, _ = a.raw("POST", "/api/v1/tickets/%d/macros/%d" % (tid, mid), {"body": "x", "version": v})
    is_stale_409(st, p, None, tid, v)
    # fresh: applied, text and changes, one audit row
    v2 = a.version(tid)
    r = a.call("POST", "/api/v1/tickets/%d/macros/%d" % (tid, mid), {"body": "fresh macro text"}, want=200,
               headers={"If-Match": 'W/"v%d"' % v2})
    expect(r["message_id"] and r["changed"], "applied: %s" % r)
    row = psql("SELECT status || ',' || priority FROM tickets WHERE id = %d" % tid)
    expect(row == "pending,high", "the macro's changes: %s" % row)
    expect(audits(tid, "ticket.macro") == macros0 + 1, "one ticket.macro row")
    # absent If-Match: applied to the ticket as it is (API clients)
    other_changes(b, tid)
    a.call("POST", "/api/v1/tickets/%d/macros/%d" % (tid, mid), {"body": "no version"}, want=200)
    expect(audits(tid, "ticket.macro") == macros0 + 2, "applied without a version")
    # bad versions: 400, nothing done
    before = state(tid)
    for hdr, body in (({"If-Match": "12"}, {}), ({"If-Match": '"v0"'}, {}), ({}, {"version": 0}),
                      ({}, {"version": -3}), ({}, {"version": "5"}), ({"If-Match": '"v%d"' % v2}, {"version": v2 + 1})):
        body = dict(body, body="bad")
        st, p, _ = a.raw("POST", "/api/v1/tickets/%d/macros/%d" % (tid, mid), body, headers=hdr)
        expect(st == 400 and p.get("field") in ("If-Match", "version"), "bad version %s %s: %s %s" % (hdr, body, st, p))
    expect(state(tid) == before, "bad input changed nothing")
    # a stale version on a ticket one cannot see is still 404
    st, p, _ = a.raw("POST", "/api/v1/tickets/%d/macros/%d" % (int(os.environ["GUARD_FOREIGN"]), mid), {"body": "x"},
                     headers={"If-Match": '"v1"'})
    expect(st == 404, "foreign ticket: %s %s" % (st, p))


def s_merge():
    a, b = Session("agent@example.com"), Session("agent2@example.com")
    src, dst = new_ticket(a, "merge source"), new_ticket(a, "merge target")
    vs, vd = a.version(src), a.version(dst)
    merges0 = audits(src, "ticket.merge")
    # the source moved on
    other_changes(b, src, "source changed")
    bs, bd = state(src), state(dst)
    st, p, h = a.raw("POST", "/api/v1/tickets/%d/merge" % src, {"into_id": dst, "into_version": vd},
                     headers={"If-Match": '"v%d"' % vs})
    is_stale_409(st, p, h, src, vs)
    expect("into" not in p, "the target did not move: %s" % p.get("into"))
    expect(state(src) == bs and state(dst) == bd and audits(src, "ticket.merge") == merges0, "nothing merged")
    # the target moved on (the source is fresh): field into_version, about the target
    vs = a.version(src)
    other_changes(b, dst, "target changed")
    bs, bd = state(src), state(dst)
    st, p, h = a.raw("POST", "/api/v1/tickets/%d/merge" % src, {"into_id": dst, "into_version": vd, "version": vs})
    is_stale_409(st, p, h, dst, vd, "into_version")
    expect([m["body_text"] for m in p["messages"]] == ["target changed"], "the target's news: %s" % p["messages"])
    expect(state(src) == bs and state(dst) == bd, "nothing merged")
    # both moved on: the source's changes, and the target's under "into"
    other_changes(b, src, "source again")
    bs, bd = state(src), state(dst)
    st, p, h = a.raw("POST", "/api/v1/tickets/%d/merge" % src, {"into_id": dst, "into_version": vd},
                     headers={"If-Match": '"v%d"' % vs})
    is_stale_409(st, p, h, src, vs)
    expect(p.get("into", {}).get("ticket_id") == dst and p["into"]["since"] == vd and p["into"]["changes"],
           "into: %s" % p.get("into"))
    expect(state(src) == bs and state(dst) == bd, "nothing merged")
    # bad into_version: 400
    for body in ({"into_id": dst, "into_version": 0}, {"into_id": dst, "into_version": "3"}):
        st, p, _ = a.raw("POST", "/api/v1/tickets/%d/merge" % src, body)
        expect(st == 400 and p["field"] == "into_version", "bad into_version %s: %s %s" % (body, st, p))
    # fresh both: merged
    vs, vd = a.version(src), a.version(dst)
    t = a.call("POST", "/api/v1/tickets/%d/merge" % src, {"into_id": dst, "into_version": vd},
               want=200, headers={"If-Match": '"v%d"' % vs})
    expect(t["id"] == dst and t["version"] == vd + 1, "the target after the merge: %s" % t.get("version"))
    expect(psql("SELECT merged_into FROM tickets WHERE id = %d" % src) == str(dst), "merged")
    expect(audits(src, "ticket.merge") == merges0 + 1, "one ticket.merge row")
    # without versions: as before
    s2, d2 = new_ticket(a, "merge plain source"), new_ticket(a, "merge plain target")
    other_changes(b, s2)
    a.call("POST", "/api/v1/tickets/%d/merge" % s2, {"into_id": d2}, want=200)
    expect(psql("SELECT merged_into FROM tickets WHERE id = %d" % s2) == str(d2), "merged without versions")


def s_link():
    a, b = Session("agent@example.com"), Session("agent2@example.com")
    x, y = new_ticket(a, "link x"), new_ticket(a, "link y")
    vx = a.version(x)
    other_changes(b, x)
    bx = state(x)
    links0 = audits(x, "ticket.link")
    st, p, h = a.raw("POST", "/api/v1/tickets/%d/links" % x, {"ticket_id": y}, headers={"If-Match": '"v%d"' % vx})
    is_stale_409(st, p, h, x, vx)
    expect(state(x) == bx and audits(x, "ticket.link") == links0, "not linked: %s" % state(x))
    st, p, _ = a.raw("POST", "/api/v1/tickets/%d/links" % x, {"ticket_id": y, "version": vx})
    is_stale_409(st, p, None, x, vx)
    # fresh: linked; a link moves no version (it changes neither ticket)
    vx = a.version(x)
    a.call("POST", "/api/v1/tickets/%d/links" % x, {"ticket_id": y}, want=201, headers={"If-Match": '"v%d"' % vx})
    expect(a.version(x) == vx, "a link leaves the version")
    expect(audits(x, "ticket.link") == links0 + 1, "linked")
    # unlink: stale refused, the link stays; fresh removes it; none as before
    other_changes(b, x)
    st, p, h = a.raw("DELETE", "/api/v1/tickets/%d/links/%d" % (x, y), headers={"If-Match": '"v%d"' % vx})
    is_stale_409(st, p, h, x, vx)
    expect(psql("SELECT count(*) FROM ticket_links WHERE ticket_a = %d AND ticket_b = %d" % (min(x, y), max(x, y))) == "1",
           "the link stays")
    st, p, _ = a.raw("DELETE", "/api/v1/tickets/%d/links/%d" % (x, y), headers={"If-Match": "v5"})
    expect(st == 400 and p["field"] == "If-Match", "bad If-Match: %s %s" % (st, p))
    a.call("DELETE", "/api/v1/tickets/%d/links/%d" % (x, y), want=204, headers={"If-Match": '"v%d"' % a.version(x)})
    a.call("POST", "/api/v1/tickets/%d/links" % x, {"ticket_id": y}, want=201)
    a.call("DELETE", "/api/v1/tickets/%d/links/%d" % (x, y), want=204)
    expect(audits(x, "ticket.unlink") == 2, "two unlinks")


def s_bulk():
    a, b = Session("agent@example.com"), Session("agent2@example.com")
    ids = [new_ticket(a, "bulk %d" % i) for i in range(4)]
    vers = {t: a.version(t) for t in ids}
    fresh, stale, plain, gone = ids
    other_changes(b, stale, "stale one changed")
    other_changes(b, plain, "plain one changed")
    before_stale = state(stale)
    upd0 = audits(stale, "ticket.update")
    body = {"ids": [fresh, stale, plain], "changes": {"priority": "urgent"},
            "versions": {str(fresh): vers[fresh], str(stale): vers[stale]}}
    r = a.call("POST", "/api/v1/tickets/bulk", body, want=200)
    res = {x["id"]: x for x in r["results"]}
    expect(res[fresh]["status"] == 200 and res[plain]["status"] == 200, "fresh and unversioned applied: %s" % r)
    s = res[stale]
    expect(s["status"] == 409 and s["field"] == "version" and s["ticket_id"] == stale and s["since"] == vers[stale]
           and [m["body_text"] for m in s["messages"]] == ["stale one changed"], "the stale one: %s" % s)
    expect(r["ok"] == 2 and r["failed"] == 1 and r["stale"] == 1, "counts: %s" % r)
    pr = {t: psql("SELECT priority FROM tickets WHERE id = %d" % t) for t in ids[:3]}
    expect(pr == {fresh: "urgent", stale: "normal", plain: "urgent"}, "priorities: %s" % pr)
    expect(state(stale) == before_stale and audits(stale, "ticket.update") == upd0, "the stale one untouched")
    # a note over many: the same
    vf = a.version(fresh)
    r = a.call("POST", "/api/v1/tickets/bulk", {"ids": [fresh, stale], "note": "bulk note",
                                               "versions": {str(fresh): vf, str(stale): vers[stale]}}, want=200)
    st = {x["id"]: x["status"] for x in r["results"]}
    expect(st == {fresh: 200, stale: 409}, "note: %s" % r)
    expect(psql("SELECT count(*) FROM messages WHERE body_text = 'bulk note' AND ticket_id = %d" % stale) == "0",
           "no note on the stale one")
    # merge: both sources fresh with the target's version -- the second
    # expects the version the first merge left, so both go
    s1, s2, tgt = new_ticket(a, "bulk merge 1"), new_ticket(a, "bulk merge 2"), new_ticket(a, "bulk merge target")
    vt = a.version(tgt)
    r = a.call("POST", "/api/v1/tickets/bulk", {"ids": [s1, s2], "merge_into": tgt, "into_version": vt,
                                               "versions": {str(s1): a.version(s1), str(s2): a.version(s2)}}, want=200)
    expect([x["status"] for x in r["results"]] == [200, 200], "both merged: %s" % r)
    expect(a.version(tgt) == vt + 2, "the target moved twice")
    # the target moved on since: every source skipped, field into_version
    s3, s4 = new_ticket(a, "bulk merge 3"), new_ticket(a, "bulk merge 4")
    other_changes(b, tgt, "target news")
    r = a.call("POST", "/api/v1/tickets/bulk", {"ids": [s3, s4], "merge_into": tgt, "into_version": vt + 2}, want=200)
    for x in r["results"]:
        expect(x["status"] == 409 and x["field"] == "into_version" and x["ticket_id"] == tgt
               and x["since"] == vt + 2, "target stale: %s" % x)
    expect(psql("SELECT count(*) FROM tickets WHERE id IN (%d, %d) AND merged_into IS NOT NULL" % (s3, s4)) == "0",
           "nothing merged")
    # bad input as a whole: 400 and nothing done
    before = state(gone)
    for bad, field in (({"ids": [gone], "changes": {"priority": "low"}, "versions": {str(fresh): 3}}, "versions.%d" % fresh),
                       ({"ids": [gone], "changes": {"priority": "low"}, "versions": {str(gone): 0}}, "versions.%d" % gone),
                       ({"ids": [gone], "changes": {"priority": "low"}, "versions": {"0%d" % gone: 1}}, "versions.0%d" % gone),
                       ({"ids": [gone], "changes": {"priority": "low"}, "versions": {"x": 1}}, "versions.x"),
                       ({"ids": [gone], "changes": {"priority": "low"}, "versions": {str(gone): "1"}}, "versions.%d" % gone),
                       ({"ids": [gone], "changes": {"priority": "low"}, "versions": [1]}, "versions"),
                       ({"ids": [gone], "changes": {"priority": "low"}, "into_version": 2}, "into_version"),
                       ({"ids": [gone], "merge_into": tgt, "into_version": -1}, "into_version")):
        st, p, _ = a.raw("POST", "/api/v1/tickets/bulk", bad)
        expect(st == 400 and p.get("field") == field, "bad %s: %s %s" % (bad, st, p))
    expect(state(gone) == before, "bad input changed nothing")


def s_list():
    """The list's rows carry the version GET /tickets/{id} sends as ETag."""
    a = Session("agent@example.com")
    tid = new_ticket(a, "listed with its version")
    v = a.version(tid)
    items = a.call("GET", "/api/v1/tickets?limit=100", want=200)["items"]
    row = [t for t in items if t["id"] == tid]
    expect(row and row[0]["version"] == v, "the row's version: %s" % row)
    items = a.call("GET", "/api/v1/tickets?limit=100&sort=id", want=200)["items"]
    row = [t for t in items if t["id"] == tid]
    expect(row and row[0]["version"] == v, "the row's version (sorted): %s" % row)


if __name__ == "__main__":
    globals()["s_" + sys.argv[1]]()
