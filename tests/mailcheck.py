#!/usr/bin/python3
"""mailcheck.py -- read the mails tests/smtpsink.py stored.

    mailcheck.py count DIR [--to ADDR] [--subject S]    how many match
    mailcheck.py find DIR [--to ADDR] [--subject S] [--last]
                                                        path of the first (last) match
    mailcheck.py header FILE NAME                       a header, decoded (RFC 2047)
    mailcheck.py text FILE                              the text/plain part, decoded
    mailcheck.py html FILE                              the text/html part, decoded
    mailcheck.py format FILE                            checks the form: CRLF only,
        no line over 78 characters, 7-bit headers, Date, Message-ID, From, To,
        MIME-Version, multipart/alternative with text/plain + text/html that
        parse; prints what is wrong and exits 1
    mailcheck.py token FILE                             the +detail of Reply-To

--to matches the envelope recipients; --subject is a substring of the
decoded Subject.
"""
import email
import email.policy
import glob
import json
import os
import re
import sys


def load(path):
    with open(path, "rb") as f:
        return f.read()


def parse(raw):
    return email.message_from_bytes(raw, policy=email.policy.default)


def matches(path, to, subject):
    meta = json.load(open(path[:-4] + ".json"))
    if to and to.lower() not in [r.lower() for r in meta["rcpt_tos"]]:
        return False
    if subject and subject not in str(parse(load(path))["Subject"] or ""):
        return False
    return True


def select(d, args):
    to = subject = None
    if "--to" in args:
        to = args[args.index("--to") + 1]
    if "--subject" in args:
        subject = args[args.index("--subject") + 1]
    files = sorted(glob.glob(os.path.join(d, "*.eml")))
    return [f for f in files if matches(f, to, subject)]


def part(msg, ctype):
    for p in msg.walk():
        if p.get_content_type() == ctype and not p.is_multipart():
            return p.get_content()
    return None


def check_format(raw):
    problems = []
    if re.search(rb"(?<!\r)\n", raw):
        problems.append("a bare LF line end")
    for i, line in enumerate(raw.split(b"\r\n")):
        if len(line) > 78:
            problems.append("line %d is %d characters long" % (i + 1, len(line)))
    head = raw.split(b"\r\n\r\n", 1)[0]
    if any(b > 127 for b in head):
        problems.append("8-bit bytes in the header")
    msg = parse(raw)
    for h in ("Date", "Message-ID", "From", "To", "Subject", "MIME-Version"):
        if msg[h] is None:
            problems.append("no %s header" % h)
    if msg.defects:
        problems.append("defects: %s" % msg.defects)
    alt = [p for p in msg.walk() if p.get_content_type() == "multipart/alternative"]
    if not alt:
        problems.append("no multipart/alternative")
    for t in ("text/plain", "text/html"):
        try:
            if part(msg, t) is None:
                problems.append("no %s part" % t)
        except Exception as e:  # undecodable part
            problems.append("%s: %s" % (t, e))
    return problems


def main():
    cmd, rest = sys.argv[1], sys.argv[2:]
    if cmd == "count":
        print(len(select(rest[0], rest[1:])))
    elif cmd == "find":
        found = select(rest[0], rest[1:])
        if not found:
            sys.exit(1)
        print(found[-1] if "--last" in rest else found[0])
    elif cmd == "header":
        v = parse(load(rest[0]))[rest[1]]
        if v is None:
            sys.exit(1)
        print(str(v))
    elif cmd in ("text", "html"):
        t = part(parse(load(rest[0])), "text/plain" if cmd == "text" else "text/html")
        if t is None:
            sys.exit(1)
        sys.stdout.write(t)
    elif cmd == "format":
        problems = check_format(load(rest[0]))
        for p in problems:
            print(p)
        sys.exit(1 if problems else 0)
    elif cmd == "token":
        rt = str(parse(load(rest[0]))["Reply-To"] or "")
        m = re.search(r"\+([^@>]+)@", rt)
        if not m:
            sys.exit(1)
        print(m.group(1))
    else:
        sys.exit("unknown command " + cmd)


if __name__ == "__main__":
    main()
