#!/usr/bin/python3
# tests/imaptool.py -- the test's own IMAP client (Python's imaplib).
#   imaptool.py PORT USER PASS append FOLDER FILE...  APPEND each file to FOLDER
#   imaptool.py PORT USER PASS count FOLDER        messages in FOLDER
#   imaptool.py PORT USER PASS seen FOLDER         \Seen messages in FOLDER
import imaplib
import sys

port, user, password, cmd = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
m = imaplib.IMAP4("127.0.0.1", port)
m.login(user, password)
if cmd == "append":
    m.create(sys.argv[5])
    for path in sys.argv[6:]:
        with open(path, "rb") as f:
            data = f.read()
        typ, _ = m.append(sys.argv[5], None, None, data)
        assert typ == "OK", typ
elif cmd in ("count", "seen"):
    typ, data = m.select(sys.argv[5], readonly=True)
    if typ != "OK":
        print(0)
    else:
        typ, data = m.search(None, "SEEN" if cmd == "seen" else "ALL")
        print(len(data[0].split()))
elif cmd == "create":
    m.create(sys.argv[5])
m.logout()
