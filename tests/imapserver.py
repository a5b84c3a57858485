#!/usr/bin/python3
"""tests/imapserver.py DIR SCENARIO... -- a small IMAP server that misbehaves
on purpose, one listening port per scenario.

Each scenario gets its own port on 127.0.0.1, chosen by the kernel and held
from the start (nothing can take it in between); when all are listening,
DIR/ports is written (atomically) with one "SCENARIO PORT" line each.  Every
scenario logs what happens to DIR/SCENARIO.log, one line per event with the
time in ms (monotonic): "T connect N", "T cmd TAG VERB ...", "T fetch_body
UID", "T idle", "T stalled VERB", "T close".  Passwords are never logged.

Behind the misbehaviour is a plain server for one folder (INBOX and any
other name): CAPABILITY, LOGIN, SELECT, CREATE, UID SEARCH, UID FETCH (UID,
RFC822.SIZE, BODY.PEEK[], BODY.PEEK[HEADER]<0.N>, BODY.PEEK[HEADER.FIELDS
(...)]), UID STORE, UID MOVE, UID COPY, UID EXPUNGE, EXPUNGE, NOOP, IDLE,
LOGOUT, STARTTLS (never completes: there is no certificate).  A scenario
is "NAME[=BEHAVIOUR][:N]": it behaves as BEHAVIOUR (default: NAME, one of
those below) and starts with N mails (default 1), Message-ID
<NAME-i@hostile.test>; its port and log are NAME's.

Scenarios:
  good            behaves
  refused         bound but not listening: every connection is refused
  bad_greeting    "garbage" instead of a greeting
  bye_greeting    "* BYE" as greeting
  login_refused   LOGIN gets NO
  caps_absurd     a capability list of 200,000 names
  no_uidvalidity  SELECT says no UIDVALIDITY
  negative_exists SELECT says "* -5 EXISTS"
  huge_exists     SELECT says "* 99999999999999999999 EXISTS"
  unsolicited     untagged noise before every answer
  wrong_tag       answers with another tag
  bytewise        every answer one byte at a time
  nul_literal     its mail has NUL bytes in the body
  bye_flood       after LOGIN every answer is "* BYE"
  huge_literal    BODY[] announced as {999999999}, then the server closes
  max_literal     ... as {4294967295}, then closes
  wrap_literal    ... as {4294967301} (2^32+5) followed by "hello)" and OK
  lying_size      RFC822.SIZE 100, then a literal of 50 MB that it sends
  nesting         an unsolicited FETCH nested 200,000 parentheses deep
  endless_line    a SEARCH answer that never ends (no CRLF), 300 MB of it
  silent          after SELECT it reads commands and never answers
  idle_flood      every IDLE is answered with "* 1 EXISTS" at once
  late_exists     a second mail arrives while atumd works on the first: it
                  is announced in the answer to UID STORE, never in IDLE
  rotate          a new UIDVALIDITY and new UIDs at every connection; the
                  connection is closed 0.3 s into IDLE
  flaky           behaves for a pass, closes the connection 0.3 s into IDLE
  starttls_garbage  offers STARTTLS, answers OK, then sends garbage
  starttls_inject   offers STARTTLS, answers OK with an injected response
                    in the same packet
"""
import os
import re
import socket
import sys
import threading
import time

T0 = time.monotonic()


def now_ms():
    return int((time.monotonic() - T0) * 1000)


class Box:
    """One scenario's folder, shared by its connections."""

    def __init__(self, name, count, behaviour):
        self.name = name
        self.behaviour = behaviour
        self.lock = threading.Lock()
        self.uidvalidity = 1000
        self.connections = 0
        self.msgs = []          # [uid, bytes, flags]
        for i in range(1, count + 1):
            self.msgs.append([i, self.make_mail(i), set()])
        self.uidnext = count + 1
        self.log_file = None

    def make_mail(self, i):
        body = b"body %d of %s\r\n" % (i, self.name.encode())
        if self.behaviour == "nul_literal":
            body = b"before\x00after %d\r\n" % i
        return (b"From: Hostile <hostile@example.org>\r\nTo: support@example.com\r\n"
                b"Subject: %s mail %d\r\nMessage-ID: <%s-%d@hostile.test>\r\n\r\n%s"
                % (self.name.encode(), i, self.name.encode(), i, body))

    def log(self, text):
        with self.lock:
            self.log_file.write("%d %s\n" % (now_ms(), text))
            self.log_file.flush()


class Conn:
    def __init__(self, sock, box, scenario, number):
        self.s = sock
        self.box = box
        self.sc = scenario
        self.number = number
        self.buf = b""
        self.logged_in = False
        self.uid_base = 0        # rotate: UIDs move with the connection

    # ---- I/O
    def send(self, data):
        if self.sc == "bytewise":
            for i in range(len(data)):
                self.s.sendall(data[i:i + 1])
                time.sleep(0.0005)
        else:
            self.s.sendall(data)

    def line(self, text):
        self.send(text.encode() + b"\r\n")

    def readline(self):
        while b"\n" not in self.buf:
            d = self.s.recv(65536)
            if not d:
                return None
            self.buf += d
        line, self.buf = self.buf.split(b"\n", 1)
        return line.rstrip(b"\r").decode("utf-8", "replace")

    def read_literal(self, n):
        while len(self.buf) < n:
            d = self.s.recv(65536)
            if not d:
                return None
            self.buf += d
        data, self.buf = self.buf[:n], self.buf[n:]
        return data

    # ---- the folder as this connection sees it
    def visible(self):
        return [(m[0] + self.uid_base, m) for m in self.box.msgs]

    def uid_set(self, spec):
        uids = [u for u, _ in self.visible()]
        top = max(uids) if uids else 0
        out = set()
        for part in spec.split(","):
            if ":" in part:
                a, b = part.split(":")
                a = top if a == "*" else int(a)
                b = top if b == "*" else int(b)
                lo, hi = min(a, b), max(a, b)
                out.update(u for u in uids if lo <= u <= hi)
            else:
                v = top if part == "*" else int(part)
                if v in uids:
                    out.add(v)
        return sorted(out)

    # ---- commands
    def greet(self):
        if self.sc == "bad_greeting":
            self.line("garbage")
            return False
        if self.sc == "bye_greeting":
            self.line("* BYE go away")
            return False
        self.line("* OK hostile IMAP ready")
        return True

    def caps(self):
        caps = "IMAP4rev1 IDLE UIDPLUS MOVE"
        if self.sc.startswith("starttls"):
            caps += " STARTTLS"
        if self.sc == "caps_absurd":
            caps += " " + " ".join("X-CAP%d" % i for i in range(200000))
        return caps

    def answer_prefix(self):
        if self.sc == "unsolicited":
            self.line("* 7 EXISTS")
            self.line("* OK [ALERT] noise")
            self.line("* 3 FETCH (FLAGS (\\Seen))")

    def ok(self, tag, text="done"):
        self.answer_prefix()
        if self.sc == "bye_flood" and self.logged_in:
            self.line("* BYE bye")
            return
        if self.sc == "wrong_tag":
            tag = "X" + tag
        self.line("%s OK %s" % (tag, text))

    def select(self, tag):
        with self.box.lock:
            if self.sc == "rotate":
                self.box.uidvalidity += 1
                self.uid_base = self.box.connections * 100
            v = self.box.uidvalidity
        vis = self.visible()
        if self.sc == "negative_exists":
            self.line("* -5 EXISTS")
        elif self.sc == "huge_exists":
            self.line("* 99999999999999999999 EXISTS")
        else:
            self.line("* %d EXISTS" % len(vis))
        self.line("* FLAGS (\\Seen \\Deleted)")
        if self.sc != "no_uidvalidity":
            self.line("* OK [UIDVALIDITY %d] ok" % v)
        top = max([u for u, _ in vis], default=self.uid_base)
        self.line("* OK [UIDNEXT %d] ok" % (top + 1))
        self.ok(tag, "[READ-WRITE] SELECT done")

    def search(self, tag, args):
        if self.sc == "nesting":
            depth = 200000
            self.send(b"* 1 FETCH (BODY " + b"(" * depth + b"\"x\"" + b")" * depth + b")\r\n")
        if self.sc == "endless_line":
            chunk = b" 1" * 32768
            try:
                for _ in range(300 * 1024 * 1024 // len(chunk)):
                    self.s.sendall(chunk)
            except OSError:
                pass
            return False
        m = re.search(r"UID (\S+)", args, re.I)
        uids = self.uid_set(m.group(1)) if m else [u for u, _ in self.visible()]
        self.line("* SEARCH" + "".join(" %d" % u for u in uids))
        self.ok(tag, "SEARCH done")
        return True

    def fetch(self, tag, args):
        m = re.match(r"(\S+)\s+\((.*)\)\s*$", args) or re.match(r"(\S+)\s+(.*)$", args)
        spec, items = m.group(1), m.group(2).upper()
        vis = dict(self.visible())
        for seq, uid in enumerate(self.uid_set(spec), 1):
            msg = vis[uid]
            raw = msg[1]
            parts = [b"UID %d" % uid]
            if "RFC822.SIZE" in items:
                parts.append(b"RFC822.SIZE %d" % (100 if self.sc == "lying_size" else len(raw)))
            hf = re.search(r"BODY\.PEEK\[HEADER\.FIELDS \(([^)]*)\)\]", items)
            if hf:
                names = hf.group(1).split()
                head = raw.split(b"\r\n\r\n", 1)[0].split(b"\r\n")
                keep = [h for h in head if h.split(b":", 1)[0].decode().upper() in names]
                block = b"".join(h + b"\r\n" for h in keep) + b"\r\n"
                parts.append(b"BODY[HEADER.FIELDS (%s)] {%d}\r\n%s" % (hf.group(1).encode(), len(block), block))
            hp = re.search(r"BODY\.PEEK\[HEADER\]<0\.(\d+)>", items)
            if hp:
                block = raw.split(b"\r\n\r\n", 1)[0] + b"\r\n\r\n"
                block = block[:int(hp.group(1))]
                parts.append(b"BODY[HEADER]<0> {%d}\r\n%s" % (len(block), block))
            if "BODY.PEEK[]" in items:
                self.box.log("fetch_body %d" % uid)
                if self.sc in ("huge_literal", "max_literal"):
                    size = 999999999 if self.sc == "huge_literal" else 4294967295
                    self.send(b"* %d FETCH (UID %d BODY[] {%d}\r\nFrom: x\r\n" % (seq, uid, size))
                    return False                  # and close
                if self.sc == "wrap_literal":
                    self.send(b"* %d FETCH (UID %d BODY[] {%d}\r\nhello)\r\n" % (seq, uid, 2**32 + 5))
                    self.ok(tag, "FETCH done")
                    return True
                if self.sc == "lying_size":
                    big = 50 * 1024 * 1024
                    head = raw.split(b"\r\n\r\n", 1)[0] + b"\r\n\r\n"
                    self.send(b"* %d FETCH (UID %d BODY[] {%d}\r\n" % (seq, uid, big) + head)
                    line = b"x" * 76 + b"\r\n"
                    left = big - len(head)
                    try:
                        while left > 0:
                            piece = (line * 800)[:left]
                            self.s.sendall(piece)
                            left -= len(piece)
                        self.send(b")\r\n")
                    except OSError:
                        return False
                    self.ok(tag, "FETCH done")
                    return True
                parts.append(b"BODY[] {%d}\r\n%s" % (len(raw), raw))
            self.send(b"* %d FETCH (" % seq + b" ".join(parts) + b")\r\n")
        self.ok(tag, "FETCH done")
        return True

    def idle(self, tag):
        self.box.log("idle")
        self.line("+ idling")
        if self.sc == "idle_flood":
            self.line("* 1 EXISTS")
        if self.sc in ("rotate", "flaky"):
            time.sleep(0.3)       # the server's own behaviour: it drops the line
            return False
        line = self.readline()
        if line is None:
            return False
        self.ok(tag, "IDLE done")
        return True

    def remove(self, uids):
        with self.box.lock:
            keep = set(uids)
            self.box.msgs = [m for m in self.box.msgs if m[0] + self.uid_base not in keep]

    def run(self):
        if not self.greet():
            return
        while True:
            line = self.readline()
            if line is None:
                return
            m = re.match(r"(\S+)\s+(\S+)\s*(.*)$", line)
            if not m:
                self.line("* BAD what")
                continue
            tag, verb, args = m.group(1), m.group(2).upper(), m.group(3)
            if verb == "UID":
                sub = args.split(None, 1)
                verb, args = "UID " + sub[0].upper(), sub[1] if len(sub) > 1 else ""
            if verb == "LOGIN":
                # a literal password: {n}, then the client waits for "+"
                lm = re.search(r"\{(\d+)\}$", args)
                if lm:
                    self.line("+ go on")
                    self.read_literal(int(lm.group(1)))
                    self.readline()
                self.box.log("cmd %s LOGIN" % tag)
            else:
                self.box.log("cmd %s %s %s" % (tag, verb, args[:200]))
            if self.sc == "silent" and self.logged_in and verb not in ("LOGIN", "SELECT", "CAPABILITY"):
                self.box.log("stalled %s" % verb)
                while self.readline() is not None:
                    pass
                return
            if verb == "CAPABILITY":
                self.line("* CAPABILITY " + self.caps())
                self.ok(tag, "CAPABILITY done")
            elif verb == "STARTTLS":
                if self.sc == "starttls_inject":
                    self.send(("%s OK begin TLS\r\n* OK [CAPABILITY IMAP4rev1] injected\r\n" % tag).encode())
                else:
                    self.line("%s OK begin TLS" % tag)
                    self.send(b"this is not TLS at all\r\n" * 8)
                while self.readline() is not None:
                    pass
                return
            elif verb == "LOGIN":
                if self.sc == "login_refused":
                    self.line("%s NO [AUTHENTICATIONFAILED] no" % tag)
                else:
                    self.logged_in = True
                    self.ok(tag, "LOGIN done")
            elif verb in ("SELECT", "EXAMINE"):
                self.select(tag)
            elif verb == "CREATE":
                self.ok(tag, "CREATE done")
            elif verb == "UID SEARCH":
                if not self.search(tag, args):
                    return
            elif verb == "UID FETCH":
                if not self.fetch(tag, args):
                    return
            elif verb == "UID STORE":
                if self.sc == "late_exists" and len(self.box.msgs) < 2:
                    with self.box.lock:
                        self.box.msgs.append([2, self.box.make_mail(2), set()])
                    self.line("* %d EXISTS" % len(self.visible()))
                self.ok(tag, "STORE done")
            elif verb in ("UID MOVE", "UID COPY"):
                uids = self.uid_set(args.split()[0])
                if verb == "UID MOVE":
                    self.remove(uids)
                    self.box.log("moved %s" % ",".join(map(str, uids)))
                self.ok(tag, "done")
            elif verb in ("UID EXPUNGE", "EXPUNGE"):
                if verb == "UID EXPUNGE":
                    self.remove(self.uid_set(args.split()[0]))
                self.ok(tag, "EXPUNGE done")
            elif verb == "NOOP":
                self.ok(tag, "NOOP done")
            elif verb == "IDLE":
                if not self.idle(tag):
                    return
            elif verb == "LOGOUT":
                self.line("* BYE bye")
                self.ok(tag, "LOGOUT done")
                return
            else:
                self.line("%s BAD unknown" % tag)


def serve(lsock, box, scenario):
    while True:
        try:
            sock, _ = lsock.accept()
        except OSError:
            return
        with box.lock:
            box.connections += 1
            n = box.connections
        box.log("connect %d" % n)

        def one(sock=sock, n=n):
            try:
                Conn(sock, box, scenario, n).run()
            except OSError:
                pass
            finally:
                box.log("close %d" % n)
                try:
                    sock.close()
                except OSError:
                    pass
        threading.Thread(target=one, daemon=True).start()


def main():
    d = sys.argv[1]
    held = []
    lines = []
    for spec in sys.argv[2:]:
        spec, _, count = spec.partition(":")
        name, _, behaviour = spec.partition("=")
        behaviour = behaviour or name
        box = Box(name, int(count) if count else 1, behaviour)
        box.log_file = open(os.path.join(d, name + ".log"), "a")
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.bind(("127.0.0.1", 0))
        if behaviour != "refused":
            s.listen(64)
            threading.Thread(target=serve, args=(s, box, behaviour), daemon=True).start()
        held.append(s)           # "refused" keeps its port bound, unused
        lines.append("%s %d\n" % (name, s.getsockname()[1]))
    tmp = os.path.join(d, "ports.tmp")
    with open(tmp, "w") as f:
        f.writelines(lines)
    os.rename(tmp, os.path.join(d, "ports"))
    threading.Event().wait()


main()
