#!/usr/bin/python3
"""bench/idle.py IMAP_PORT USER PASS DATABASE_URL [COUNT]

APPENDs COUNT mails, one at a time, to a Dovecot INBOX that atumd watches
with IDLE, and times each from just before the APPEND to the commit of
its ticket/message (inbound_mail.processed_at).  Last line: key=value.
"""
import imaplib
import subprocess
import sys
import time
import uuid

port, user, password, url = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
count = int(sys.argv[5]) if len(sys.argv) > 5 else 100
run = uuid.uuid4().hex[:12]


def psql(sql):
    return subprocess.run(["psql", "-X", "-q", "-t", "-A", "-d", url, "-c", sql],
                          capture_output=True, text=True, check=True).stdout.strip()


m = imaplib.IMAP4("127.0.0.1", port)
m.login(user, password)
# let the poller connect and finish its first pass
deadline = time.time() + 30
while psql("SELECT count(*) FROM mailboxes WHERE last_ok_at IS NOT NULL") != "1" and time.time() < deadline:
    time.sleep(0.1)


def deliver(mid, subject):
    """APPENDs one mail; its latency until ingested, in ms."""
    msg = ("From: c@idle.example\r\nTo: support@example.com\r\nSubject: %s\r\n"
           "Message-ID: <%s>\r\n\r\nhello\r\n" % (subject, mid)).encode()
    t0 = time.time()
    m.append("INBOX", None, None, msg)
    while True:
        ts = psql("SELECT extract(epoch FROM processed_at) FROM inbound_mail"
                  " WHERE rfc_message_id = '%s' AND state = 'ingested'" % mid)
        if ts:
            return (float(ts) - t0) * 1000
        if time.time() - t0 > 30:
            return 30000
        time.sleep(0.002)


# one mail not counted: once it is in, the poller is back in IDLE (no
# guess of how long that takes)
deliver("%s.warmup@idle.example" % run, "warm-up")
lat = []
for i in range(count):
    lat.append(deliver("%s.%d@idle.example" % (run, i), "idle %d" % i))
m.logout()
lat.sort()
print("idle_mails=%d idle_p50_ms=%.0f idle_p90_ms=%.0f idle_max_ms=%.0f"
      % (len(lat), lat[len(lat) // 2], lat[int(len(lat) * 0.9)], lat[-1]))
