#!/usr/bin/python3
"""smtpsink.py -- a real SMTP server (aiosmtpd) that plays atumd's smarthost.

    smtpsink.py --port P --dir D [--control F] [--tls-cert C --tls-key K [--implicit-tls]]
                [--auth USER:PASS] [--pidfile F] [--port-file F]

--port 0 lets the kernel choose a free port (nothing can take it between
choice and use); --port-file F then receives the port once it listens.

Every mail it accepts is stored as D/NNNN.eml (the bytes as received) with
D/NNNN.json (envelope: mail_from, rcpt_tos, tls, auth).  It reads the JSON
control file F before every command it answers, so a test can change its
behaviour while it runs:

    {"data": ["451 4.3.0 busy", "250 ok"],   replies to DATA, one used per
                                             mail since the list last changed,
                                             then 250 for the rest
     "rcpt": {"x@y": "550 5.1.1 unknown"},   reply to RCPT TO for an address
     "hang": true,                           never answer the end of DATA
     "autorespond": {"port": 2525,           answer every stored mail to
                     "to": "support@...",    "from" with a new mail to atumd,
                     "from": "bot@..."}}     the way a naive robot does (no
                                             headers that say it is automatic)

Run with Debian's python3 (/usr/bin/python3): python3-aiosmtpd.
"""
import argparse
import asyncio
import itertools
import json
import os
import smtplib
import ssl
import sys
import time

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

def first_free(d):
    """Numbers go on after what a previous run of the sink stored."""
    nums = [int(f[:4]) for f in os.listdir(d) if f.endswith(".eml") and f[:4].isdigit()]
    return max(nums, default=0) + 1


def control(path):
    if not path:
        return {}
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return {}


class Sink:
    def __init__(self, args):
        self.args = args
        self.counter = itertools.count(first_free(args.dir))
        self.data_replies = None     # the "data" list last seen ...
        self.data_replies_used = 0   # ... and how many of it were used

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        c = control(self.args.control)
        reply = c.get("rcpt", {}).get(address.lower())
        if reply:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server, session, envelope):
        c = control(self.args.control)
        if c.get("hang"):
            await asyncio.sleep(3600)
        replies = c.get("data", [])
        if replies != self.data_replies:
            self.data_replies, self.data_replies_used = replies, 0
        reply = "250 2.0.0 OK: stored"
        if self.data_replies_used < len(replies):
            reply = replies[self.data_replies_used]
        self.data_replies_used += 1
        if not reply.startswith("250"):
            return reply
        n = next(self.counter)
        base = os.path.join(self.args.dir, "%04d" % n)
        with open(base + ".tmp", "wb") as f:
            f.write(envelope.original_content or envelope.content)
        meta = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            "tls": session.ssl is not None or bool(self.args.implicit_tls),
            "auth": bool(session.authenticated),
        }
        with open(base + ".json", "w") as f:
            json.dump(meta, f)
        os.rename(base + ".tmp", base + ".eml")
        robot = c.get("autorespond")
        if robot and robot["from"].lower() in [r.lower() for r in envelope.rcpt_tos]:
            asyncio.get_running_loop().run_in_executor(None, autorespond, robot, n)
        return reply + " as %d" % n


def autorespond(robot, n):
    """A robot that answers everything, and says nothing about being one."""
    time.sleep(0.05)
    msg = ("From: %s\r\nTo: %s\r\nSubject: Re: your mail %d (robot)\r\n"
           "Message-ID: <robot-%d-%f@robot.example>\r\n\r\n"
           "I got your mail.\r\n") % (robot["from"], robot["to"], n, n, time.time())
    try:
        with smtplib.SMTP("127.0.0.1", robot["port"], timeout=10) as s:
            s.sendmail(robot["from"], [robot["to"]], msg.encode())
    except (OSError, smtplib.SMTPException) as e:
        print("autorespond failed:", e, file=sys.stderr, flush=True)


def authenticator(expected):
    user, _, password = expected.partition(":")

    def check(server, session, envelope, mechanism, auth_data):
        ok = (isinstance(auth_data, LoginPassword)
              and auth_data.login.decode() == user and auth_data.password.decode() == password)
        return AuthResult(success=ok)
    return check


class Port0Controller(Controller):
    """Learns the port the kernel chose (--port 0) before the readiness probe."""
    def _trigger_server(self):
        if self.port == 0 and self.server is not None:
            self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--dir", required=True)
    ap.add_argument("--control")
    ap.add_argument("--tls-cert")
    ap.add_argument("--tls-key")
    ap.add_argument("--implicit-tls", action="store_true", help="TLS from the first byte (smtps)")
    ap.add_argument("--auth")
    ap.add_argument("--pidfile")
    ap.add_argument("--port-file")
    args = ap.parse_args()
    os.makedirs(args.dir, exist_ok=True)
    kw = {}
    if args.tls_cert:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(args.tls_cert, args.tls_key)
        if args.implicit_tls:
            kw["ssl_context"] = ctx
        else:
            kw["tls_context"] = ctx
            kw["require_starttls"] = True
    if args.auth:
        kw["authenticator"] = authenticator(args.auth)
        kw["auth_require_tls"] = bool(args.tls_cert) and not args.implicit_tls
        kw["auth_required"] = True
    controller = Port0Controller(Sink(args), hostname="127.0.0.1", port=args.port,
                            server_hostname="sink.test", **kw)
    controller.start()
    if args.pidfile:
        with open(args.pidfile, "w") as f:
            f.write(str(os.getpid()))
    if args.port_file:
        with open(args.port_file + ".tmp", "w") as f:
            f.write(str(controller.port))
        os.replace(args.port_file + ".tmp", args.port_file)
    print("smtpsink listening on", controller.port, flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        controller.stop()


if __name__ == "__main__":
    main()
