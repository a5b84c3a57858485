#!/usr/bin/python3
"""tests/smtptool.py -- the tests' SMTP/LMTP client (Python's smtplib).

  smtptool.py send PORT RCPT FILE...  [--lmtp] [--starttls CAFILE]
      one session per file, every line end sent as CRLF; prints "FILE ID"
      for each mail accepted
      (ID from "queued as N"), "FILE REFUSED CODE TEXT" otherwise
  smtptool.py blast PORT RCPT COUNT CLIENTS OUT SECONDS [--kill-at N,N.. PIDFILE]
      COUNT generated mails (mixed sizes) from CLIENTS threads; writes the
      Message-ID of every mail that got 250 to OUT, one per line; keeps
      retrying refused/failed mails until SECONDS pass (atumd may be killed
      and restarted meanwhile).  With --kill-at it kills (SIGKILL) the
      process named in PIDFILE itself the moment the N-th 250 arrives, so
      the other clients are mid-transaction whatever the speed; prints
      "killed PID at N" each time and "retries R" (mails sent again) at
      the end
"""
import os
import signal
import re
import smtplib
import ssl
import sys
import threading
import time
import uuid


def client(port, lmtp=False):
    if lmtp:
        return smtplib.LMTP("127.0.0.1", port)
    return smtplib.SMTP("127.0.0.1", port, timeout=30)


def send_raw(s, rcpt, data, lmtp=False):
    """Returns (code, text) of the final reply (per recipient for LMTP)."""
    if lmtp:
        s.ehlo_or_helo_if_needed()
    else:
        s.ehlo()
    code, text = s.mail("sender@example.org")
    if code != 250:
        return code, text
    code, text = s.rcpt(rcpt)
    if code not in (250, 251):
        return code, text
    return s.data(data)


def cmd_send(args):
    port, rcpt, files = int(args[0]), args[1], []
    lmtp, cafile = False, None
    i = 2
    while i < len(args):
        if args[i] == "--lmtp":
            lmtp = True
        elif args[i] == "--starttls":
            cafile = args[i + 1]
            i += 1
        else:
            files.append(args[i])
        i += 1
    for f in files:
        with open(f, "rb") as fh:
            # on the wire every line ends in CRLF, as every real client
            # sends it (atumd refuses a bare CR or LF in DATA)
            data = re.sub(rb"\r\n|\r|\n", b"\r\n", fh.read())
        s = client(port, lmtp)
        if cafile:
            s.ehlo()
            ctx = ssl.create_default_context(cafile=cafile)
            s.starttls(context=ctx)
        code, text = send_raw(s, rcpt, data, lmtp)
        text = text.decode() if isinstance(text, bytes) else str(text)
        m = re.search(r"queued as (\d+)", text)
        if code == 250 and m:
            print(f, m.group(1))
        else:
            print(f, "REFUSED", code, text)
        s.quit()


RUN = uuid.uuid4().hex


def make_mail(n):
    # the same mail keeps its Message-ID when it is sent again
    mid = "<%s.%d@blast.example>" % (RUN, n)
    body = ("Line %d of a support request about the printer.\r\n" % n) * (1 + (n * 37) % 200)
    return mid, ("From: Customer %d <c%d@blast.example>\r\nTo: support@example.com\r\n"
                 "Subject: Crash test %d\r\nMessage-ID: %s\r\n\r\n%s" % (n, n % 50, n, mid, body)).encode()


def cmd_blast(args):
    port, rcpt, count, clients, out, seconds = int(args[0]), args[1], int(args[2]), int(args[3]), args[4], float(args[5])
    kill_at, pidfile = set(), None
    if len(args) > 6 and args[6] == "--kill-at":
        kill_at, pidfile = {int(x) for x in args[7].split(",")}, args[8]
    done = [0, 0]                 # acknowledged, re-sent
    todo = list(range(count))
    lock = threading.Lock()
    accepted = open(out, "w")
    deadline = time.time() + seconds

    def worker():
        s = None
        while time.time() < deadline:
            with lock:
                if not todo:
                    break
                n = todo.pop()
            mid, data = make_mail(n)
            try:
                if s is None:
                    s = client(port)
                code, text = send_raw(s, rcpt, data)
                s.rset()
            except Exception:
                code = None
                try:
                    if s:
                        s.close()
                except Exception:
                    pass
                s = None
            if code == 250:
                with lock:
                    accepted.write(mid + "\n")
                    accepted.flush()
                    done[0] += 1
                    if done[0] in kill_at:
                        # a restarted atumd may take mail before the test
                        # has written its pid: wait for the new one
                        end = time.time() + 30
                        while True:
                            with open(pidfile) as f:
                                pid = int(f.read().strip())
                            try:
                                os.kill(pid, signal.SIGKILL)
                                break
                            except ProcessLookupError:
                                if time.time() > end:
                                    raise
                                time.sleep(0.01)
                        print("killed", pid, "at", done[0], flush=True)
            else:
                with lock:
                    todo.append(n)        # not acknowledged: send it again
                    done[1] += 1
                time.sleep(0.05)
        if s is not None:
            try:
                s.quit()
            except Exception:
                pass

    threads = [threading.Thread(target=worker) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    accepted.close()
    print("retries", done[1])
    print("left", len(todo))


if __name__ == "__main__":
    {"send": cmd_send, "blast": cmd_blast}[sys.argv[1]](sys.argv[2:])
