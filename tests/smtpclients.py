#!/usr/bin/python3
"""tests/smtpclients.py -- SMTP clients that test the listener's limits.

  smtpclients.py hold PORT SRC:N [SRC:N ...]
      opens N sessions from each local address SRC (127.0.0.2 ... are
      loopback addresses too on Linux), in order; prints "SRC REPLY" with
      the first line each got (220 greeting or 421 refusal), then "ready",
      and keeps them open until its stdin is closed
  smtpclients.py probe PORT SRC
      one session from SRC: prints its first reply line
  smtpclients.py noop PORT INTERVAL LIMIT
      EHLO, then a NOOP every INTERVAL seconds: prints "cut after S s: LINE"
      and exits 0 when the server ends the session, or exits 1 when it still
      answers after LIMIT seconds
"""
import socket
import sys
import time


def connect(port, src):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(20)
    s.bind((src, 0))
    s.connect(("127.0.0.1", port))
    return s


def first_line(s):
    f = s.makefile("rb")
    line = f.readline().decode("utf-8", "replace").rstrip("\r\n")
    return line or "(closed)"


def hold(port, specs):
    socks = []
    for spec in specs:
        src, n = spec.split(":")
        for _ in range(int(n)):
            s = connect(port, src)
            socks.append(s)
            print(src, first_line(s), flush=True)
    print("ready", flush=True)
    sys.stdin.read()
    for s in socks:
        s.close()


def noop(port, interval, limit):
    s = connect(port, "127.0.0.1")
    f = s.makefile("rb")
    start = time.monotonic()
    f.readline()
    s.sendall(b"EHLO c\r\n")
    while True:
        line = f.readline().decode("utf-8", "replace").rstrip("\r\n")
        if not line:
            print("closed after %.1f s" % (time.monotonic() - start))
            return 0
        if line[3:4] == "-":
            continue
        if line.startswith("421"):
            print("cut after %.1f s: %s" % (time.monotonic() - start, line))
            return 0
        if time.monotonic() - start > limit:
            print("not cut after %.1f s, last reply %s" % (time.monotonic() - start, line))
            return 1
        time.sleep(interval)      # the pace of the client under test
        try:
            s.sendall(b"NOOP\r\n")
        except OSError:
            print("closed after %.1f s" % (time.monotonic() - start))
            return 0


def main():
    cmd, port = sys.argv[1], int(sys.argv[2])
    if cmd == "hold":
        hold(port, sys.argv[3:])
    elif cmd == "probe":
        s = connect(port, sys.argv[3])
        print(first_line(s))
    elif cmd == "noop":
        return noop(port, float(sys.argv[3]), float(sys.argv[4]))
    return 0


sys.exit(main())
