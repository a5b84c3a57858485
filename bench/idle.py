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
# let the poller connect and enter IDLE
deadline = time.time() + 30
while psql("SELECT count(*) FROM mailboxes WHERE last_ok_at IS NOT NULL") != "1" and time.time() < deadline:
    time.sleep(0.1)
time.sleep(0.5)
lat = []
for i in range(count):
    mid = "%s.%d@idle.example" % (run, i)
    msg = ("From: c@idle.example\r\nTo: support@example.com\r\nSubject: idle %d\r\n"
           "Message-ID: <%s>\r\n\r\nhello\r\n" % (i, mid)).encode()
    t0 = time.time()
    m.append("INBOX", None, None, msg)
    while True:
        ts = psql("SELECT extract(epoch FROM processed_at) FROM inbound_mail"
                  " WHERE rfc_message_id = '%s' AND state = 'ingested'" % mid)
        if ts:
            lat.append((float(ts) - t0) * 1000)
            break
        if time.time() - t0 > 30:
            lat.append(30000)
            break
        time.sleep(0.002)
m.logout()
lat.sort()
print("idle_mails=%d idle_p50_ms=%.0f idle_p90_ms=%.0f idle_max_ms=%.0f"
      % (len(lat), lat[len(lat) // 2], lat[int(len(lat) * 0.9)], lat[-1]))
