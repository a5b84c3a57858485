#!/usr/bin/python3
"""tests/mailscore.py -- how well atumd reads a mail corpus, as four figures.

    mailscore.py [--min PCT] [--quiet] DIR parse ATUMCTL CONF
        reads each mail of DIR with `atumctl -c CONF --json parse` (no
        database: the same mail_parse() and summary the ingest stores)
    mailscore.py [--min PCT] [--quiet] DIR show ATUMCTL IDS_FILE
        reads `atumctl --json inbound show ID` for mails already injected
        (IDS_FILE: "path inbound_id" lines): the whole ingest path

DIR/EXPECT.tsv (see its PROVENANCE.md) gives, per mail, the decoded
subject, sender address, Message-ID, attachment count and kind.  Printed:

    messages right %  subject, sender, Message-ID and attachment count all
                      right (a "?best" cell is compared with its best
                      reading; a bare "?" cell always counts as right)
    fields right %    the same four fields counted one by one
    robots right %    robot class: bounce (bounce, feedback-report),
                      autoreply (autoreply, mdn), list (list), none (every
                      other kind)
    failed            mails that did not become a ticket (show mode: state
                      not "ingested", or a non-bounce without a ticket) or
                      could not be read at all (parse mode: atumctl failed,
                      or a field is not valid UTF-8 without NUL)

Every mismatch is printed first (unless --quiet).  The last line is
key=value pairs.  With --min PCT the exit status is 1 when messages right
or robots right is below PCT, or when any mail failed.
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


def read_expect(d):
    rows = []
    with open(os.path.join(d, "EXPECT.tsv"), encoding="utf-8") as f:
        lines = f.read().splitlines()
    for line in lines[1:]:
        if not line.strip():
            continue
        cols = [unescape(c) for c in line.split("\t")]
        if len(cols) < 6:
            raise SystemExit("EXPECT.tsv: short row %r" % line[:60])
        rows.append(cols)
    return rows


def all_strings(o):
    if isinstance(o, str):
        yield o
    elif isinstance(o, dict):
        for k, v in o.items():
            yield k
            yield from all_strings(v)
    elif isinstance(o, list):
        for v in o:
            yield from all_strings(v)


def read_parse(d, name, ctl, conf):
    with open(os.path.join(d, name), "rb") as f:
        raw = f.read()
    out = subprocess.run([ctl, "-c", conf, "--json", "parse"], input=raw, capture_output=True)
    if out.returncode != 0:
        return None, "atumctl parse exit %d: %s" % (out.returncode, out.stderr.decode(errors="replace").strip())
    try:
        got = json.loads(out.stdout.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        return None, "output is not UTF-8 JSON: %s" % e
    for s in all_strings(got):
        if "\x00" in s or s == "(invalid UTF-8)":
            return None, "a field is not valid UTF-8 without NUL: %r" % s[:60]
    return got, None


def read_show(name, ids, ctl):
    if name not in ids:
        return None, "not accepted"
    out = subprocess.run([ctl, "--json", "inbound", "show", ids[name]], capture_output=True, text=True)
    if out.returncode != 0:
        return None, "atumctl inbound show: %s" % out.stderr.strip()
    got = json.loads(out.stdout)
    if got.get("state") != "ingested":
        return got, "state %s: %s" % (got.get("state"), got.get("error"))
    if got.get("robot") != "bounce" and not got.get("duplicate") and not isinstance(got.get("ticket"), int):
        return got, "no ticket"
    return got, None


def main():
    args = sys.argv[1:]
    minimum, quiet = None, False
    while args and args[0].startswith("--"):
        if args[0] == "--min":
            minimum = float(args[1])
            args = args[2:]
        elif args[0] == "--quiet":
            quiet = True
            args = args[1:]
        else:
            raise SystemExit(__doc__)
    if len(args) != 4 or args[1] not in ("parse", "show"):
        raise SystemExit(__doc__)
    d, mode, ctl, extra = args
    ids = {}
    if mode == "show":
        for line in open(extra):
            parts = line.split()
            if len(parts) >= 2 and parts[1].isdigit():
                ids[os.path.basename(parts[0])] = parts[1]

    rows = read_expect(d)
    n = len(rows)
    msgs_ok = fields_ok = robots_ok = failed = uncertain = 0
    for cols in rows:
        name, kind = cols[0], cols[1]
        if mode == "parse":
            got, err = read_parse(d, name, ctl, extra)
        else:
            got, err = read_show(name, ids, ctl)
        if err is not None:
            failed += 1
            if not quiet:
                print("FAILED: %s: %s" % (name, err))
        if got is None:
            continue
        checks = [("subject", got.get("subject") or "", cols[2]),
                  ("from", got.get("from") or "", cols[3]),
                  ("message_id", got.get("message_id") or "", cols[4]),
                  ("attachments", str(len(got.get("attachments", []))), cols[5])]
        right = 0
        for what, have, want in checks:
            if want == "?" or have == want:
                right += 1
                continue
            if want.startswith("?"):
                if have == want[1:]:
                    right += 1
                    continue
                uncertain += 1
            if not quiet:
                print("wrong: %s %s: got %r, want %r" % (name, what, have, want))
        fields_ok += right
        if right == len(checks):
            msgs_ok += 1
        want_robot = ROBOT.get(kind, "none")
        if got.get("robot") == want_robot:
            robots_ok += 1
        elif not quiet:
            print("wrong: %s robot: got %s (%s), want %s" % (name, got.get("robot"),
                                                           got.get("robot_reason"), want_robot))

    def pct(k, of):
        return 100.0 * k / of if of else 0.0
    mp, fp, rp = pct(msgs_ok, n), pct(fields_ok, 4 * n), pct(robots_ok, n)
    print("%s: %d mails, messages right %.1f %%, fields right %.1f %%, robots right %.1f %%, failed %d"
          " (uncertain cells read differently: %d)" % (d.rstrip("/"), n, mp, fp, rp, failed, uncertain))
    print("mails=%d messages_right_pct=%.1f fields_right_pct=%.1f robots_right_pct=%.1f failed=%d"
          % (n, mp, fp, rp, failed))
    if minimum is not None and (mp < minimum or rp < minimum or failed > 0):
        sys.exit(1)


main()
