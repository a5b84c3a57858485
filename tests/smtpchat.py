#!/usr/bin/python3
"""tests/smtpchat.py PORT [SCRIPT] -- an SMTP conversation that reads like one.

Script lines (from SCRIPT or stdin):
  > TEXT          send TEXT + CRLF
  >raw TEXT       send TEXT as is, with \\r \\n \\t escapes interpreted
  < CODE [WORDS]  expect a (possibly multi-line) reply with this code whose
                  text contains each of WORDS
  <closed         expect the server to close the connection
  # ...           comment
Exits 0 when every expectation held, else prints the first mismatch.
"""
import socket
import sys


def read_reply(f):
    lines = []
    while True:
        line = f.readline()
        if not line:
            return None
        line = line.decode("utf-8", "replace").rstrip("\r\n")
        lines.append(line)
        if len(line) < 4 or line[3] != "-":
            return lines


def main():
    port = int(sys.argv[1])
    script = open(sys.argv[2]).read() if len(sys.argv) > 2 else sys.stdin.read()
    s = socket.create_connection(("127.0.0.1", port), timeout=20)
    f = s.makefile("rb")
    greeting = read_reply(f)
    if not greeting or not greeting[0].startswith("220"):
        print("no greeting:", greeting)
        return 1
    for n, raw in enumerate(script.splitlines(), 1):
        if not raw.strip() or raw.startswith("#"):
            continue
        if raw.startswith(">raw "):
            data = raw[5:].encode().decode("unicode_escape").encode("latin-1")
            s.sendall(data)
        elif raw.startswith("> "):
            s.sendall(raw[2:].encode() + b"\r\n")
        elif raw.startswith("<closed"):
            rest = f.read()
            if rest:
                print("line %d: expected close, got %r" % (n, rest[:200]))
                return 1
        elif raw.startswith("< "):
            want = raw[2:].split(None, 1)
            reply = read_reply(f)
            if reply is None:
                print("line %d: connection closed, expected %s" % (n, raw[2:]))
                return 1
            text = "\n".join(reply)
            words = want[1].split() if len(want) > 1 else []
            if not reply[-1].startswith(want[0]) or any(w not in text for w in words):
                print("line %d: expected %r, got %r" % (n, raw[2:], text))
                return 1
        else:
            print("line %d: bad script line %r" % (n, raw))
            return 2
    return 0


sys.exit(main())
