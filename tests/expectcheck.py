#!/usr/bin/python3
"""tests/expectcheck.py DIR IDS_FILE ATUMCTL

Compares what atumd made of each mail of DIR (sent over SMTP; IDS_FILE has
"path inbound_id" lines) with DIR/EXPECT.tsv: decoded subject, sender
address, Message-ID, attachment count and robot class, as `atumctl
inbound show ID --json` reports them.  Uncertain cells ("?best") are
reported, not failed.  Prints every mismatch and "N passed, N failed".
"""
import json
import os
import subprocess
import sys

ROBOT = {"bounce": "bounce", "feedback-report": "bounce", "autoreply": "autoreply",
         "mdn": "autoreply", "list": "list"}


def unescape(s):
    out, i = [], 0
    while i < len(s):
        if s[i] == "\\" and i + 1 < len(s):
            out.append({"t": "\t", "n": "\n"}.get(s[i + 1], s[i + 1]))
            i += 2
        else:
            out.append(s[i])
            i += 1
    return "".join(out)


def main():
    d, ids_file, ctl = sys.argv[1], sys.argv[2], sys.argv[3]
    ids = {}
    for line in open(ids_file):
        parts = line.split()
        if len(parts) >= 2 and parts[1].isdigit():
            ids[os.path.basename(parts[0])] = parts[1]
    passed = failed = uncertain = 0
    rows = open(os.path.join(d, "EXPECT.tsv"), encoding="utf-8").read().splitlines()[1:]
    for row in rows:
        cols = [unescape(c) for c in row.split("\t")]
        name, kind = cols[0], cols[1]
        if name not in ids:
            print("FAIL: %s was not accepted over SMTP" % name)
            failed += 1
            continue
        out = subprocess.run([ctl, "--json", "inbound", "show", ids[name]], capture_output=True, text=True)
        if out.returncode != 0:
            print("FAIL: %s: atumctl: %s" % (name, out.stderr.strip()))
            failed += 1
            continue
        got = json.loads(out.stdout)
        checks = [("subject", got.get("subject") or "", cols[2]),
                  ("from", got.get("from") or "", cols[3]),
                  ("message_id", got.get("message_id") or "", cols[4]),
                  ("attachments", str(len(got.get("attachments", []))), cols[5])]
        if kind in ROBOT:
            checks.append(("robot", got.get("robot"), ROBOT[kind]))
        checks.append(("state", got.get("state"), "ingested"))
        ok = True
        for what, have, want in checks:
            sure = not want.startswith("?")
            want = want if sure else want[1:]
            if have == want:
                continue
            if sure:
                print("FAIL: %s %s: got %r, want %r" % (name, what, have, want))
                ok = False
            else:
                print("note: %s %s: got %r, best reading %r (uncertain)" % (name, what, have, want))
                uncertain += 1
        # a bounce makes no ticket; everything else does
        if got.get("robot") == "bounce":
            ok = ok and got.get("ticket") is None
        elif not got.get("duplicate"):
            ok = ok and isinstance(got.get("ticket"), int)
        if ok:
            passed += 1
        else:
            failed += 1
    print("uncertain cells read differently: %d" % uncertain)
    print("%d passed, %d failed" % (passed, failed))
    sys.exit(1 if failed else 0)


main()
