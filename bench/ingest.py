#!/usr/bin/python3
"""bench/ingest.py SMTP_PORT DATABASE_URL [COUNT] [CLIENTS]

COUNT generated mails (sizes 1-20 KB, 20 % with a 10-200 KB attachment,
30 % replies to an earlier mail of the run) sent over SMTP from CLIENTS
concurrent connections.  For each mail the client notes the time just
before it sends the final ".", and the database says when the ingest
transaction that made its ticket/message finished
(inbound_mail.processed_at, set with clock_timestamp() at the end of that
transaction).  Prints key=value figures on the last line.
"""
import base64
import os
import random
import socket
import subprocess
import sys
import threading
import time
import uuid

port, url = int(sys.argv[1]), sys.argv[2]
count = int(sys.argv[3]) if len(sys.argv) > 3 else 10000
clients = int(sys.argv[4]) if len(sys.argv) > 4 else 8
run = uuid.uuid4().hex[:12]
rnd = random.Random(42)
words = "printer invoice login password error screen cable network update server mail".split()


def body_text(size):
    out, n = [], 0
    while n < size:
        line = " ".join(rnd.choice(words) for _ in range(10))
        out.append(line)
        n += len(line) + 2
    return "\r\n".join(out)


# build every mail up front so the clients only send
mails = []
for i in range(count):
    mid = "%s.%d@bench.example" % (run, i)
    headers = ["From: Customer %d <c%d@bench.example>" % (i % 500, i % 500),
               "To: support@example.com", "Subject: Bench request %d" % i,
               "Message-ID: <%s>" % mid, "Date: Sun, 22 Nov 2026 12:00:00 +0000"]
    if i > 10 and rnd.random() < 0.3:
        parent = "%s.%d@bench.example" % (run, rnd.randrange(0, i - 10))
        headers += ["In-Reply-To: <%s>" % parent, "References: <%s>" % parent]
    text = body_text(rnd.randint(1000, 20000))
    if rnd.random() < 0.2:
        att = base64.encodebytes(os.urandom(rnd.randint(10000, 200000))).decode().replace("\n", "\r\n")
        headers += ["MIME-Version: 1.0", 'Content-Type: multipart/mixed; boundary="b%d"' % i]
        body = ("--b%d\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n%s\r\n"
                "--b%d\r\nContent-Type: application/octet-stream; name=\"data%d.bin\"\r\n"
                "Content-Disposition: attachment; filename=\"data%d.bin\"\r\n"
                "Content-Transfer-Encoding: base64\r\n\r\n%s\r\n--b%d--\r\n") % (i, text, i, i, i, att, i)
    else:
        body = text + "\r\n"
    data = ("\r\n".join(headers) + "\r\n\r\n" + body).replace("\r\n.", "\r\n..")
    mails.append((mid, data.encode()))

sent_at = {}
accepted = {}
lock = threading.Lock()
queue = list(range(count))


def reply(f):
    while True:
        line = f.readline()
        if not line:
            raise IOError("closed")
        if line[3:4] != b"-":
            return line


def client():
    s = socket.create_connection(("127.0.0.1", port))
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    f = s.makefile("rb")
    reply(f)
    s.sendall(b"EHLO bench\r\n")
    reply(f)
    while True:
        with lock:
            if not queue:
                break
            i = queue.pop(0)
        mid, data = mails[i]
        # pipelined envelope, then the content
        s.sendall(b"MAIL FROM:<c@bench.example>\r\nRCPT TO:<support@example.com>\r\nDATA\r\n")
        reply(f), reply(f)
        r = reply(f)
        assert r.startswith(b"354"), r
        s.sendall(data)
        t = time.time()
        s.sendall(b".\r\n")
        r = reply(f)
        if r.startswith(b"250"):
            with lock:
                sent_at[mid] = t
                accepted[mid] = int(r.split()[-1])
    s.sendall(b"QUIT\r\n")
    s.close()


def psql(sql):
    return subprocess.run(["psql", "-X", "-q", "-t", "-A", "-F", "\t", "-d", url, "-c", sql],
                          capture_output=True, text=True, check=True).stdout


t0 = time.time()
threads = [threading.Thread(target=client) for _ in range(clients)]
for t in threads:
    t.start()
for t in threads:
    t.join()
t_sent = time.time()
# wait until every accepted mail is ingested
pattern = "%%@%s" % "bench.example"
while True:
    done = int(psql("SELECT count(*) FROM inbound_mail WHERE state = 'ingested' AND rfc_message_id LIKE '%s.%%'" % run).strip())
    if done >= len(accepted) or time.time() - t_sent > 600:
        break
    time.sleep(0.05)
rows = psql("SELECT rfc_message_id, extract(epoch FROM processed_at) FROM inbound_mail"
            " WHERE rfc_message_id LIKE '%s.%%' AND state = 'ingested'" % run)
done_at = {}
for line in rows.splitlines():
    mid, ts = line.split("\t")
    done_at[mid] = float(ts)
lat = sorted((done_at[m] - sent_at[m]) * 1000 for m in sent_at if m in done_at)
t_end = max(done_at.values()) if done_at else time.time()
ok = int(psql("SELECT count(DISTINCT m.message_id) FROM messages m WHERE m.message_id LIKE '%s.%%'" % run).strip())
attach = int(psql("SELECT count(*) FROM attachments a JOIN messages m ON m.id = a.message_id WHERE m.message_id LIKE '%s.%%'" % run).strip())
replies = int(psql("SELECT count(*) FROM messages m WHERE m.message_id LIKE '%s.%%' AND m.ticket_id IN"
                   " (SELECT ticket_id FROM messages GROUP BY ticket_id HAVING count(*) > 1)" % run).strip())


def pct(p):
    return lat[min(len(lat) - 1, int(len(lat) * p))] if lat else float("nan")


print("mails=%d accepted=%d sent_in_s=%.2f accepted_per_s=%.0f attachments=%d threaded_messages=%d"
      % (count, len(accepted), t_sent - t0, len(accepted) / (t_sent - t0), attach, replies))
print("ingest_mails_per_s=%.0f ingest_p50_ms=%.1f ingest_p99_ms=%.1f ingested_ok=%d"
      % (len(done_at) / (t_end - t0), pct(0.5), pct(0.99), ok))
