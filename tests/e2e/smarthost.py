#!/usr/bin/python3
"""smarthost.py -- a real SMTP server (aiosmtpd's protocol) for the desk's
browser tests: it binds 127.0.0.1 port 0, writes the port it got to
PORTFILE once it listens, and stores every mail it accepts as DIR/NNNN.eml
(the bytes as received) -- so no other socket can take the port between
its choice and its use.

    smarthost.py PORTFILE DIR

Run with Debian's python3 (/usr/bin/python3): python3-aiosmtpd.
"""
import asyncio
import os
import sys

from aiosmtpd.smtp import SMTP


class Store:
    def __init__(self, d):
        self.dir = d
        self.n = 0

    async def handle_DATA(self, server, session, envelope):
        self.n += 1
        tmp = os.path.join(self.dir, "%04d.tmp" % self.n)
        with open(tmp, "wb") as f:
            f.write(envelope.original_content or envelope.content)
        with open(os.path.join(self.dir, "%04d.rcpt" % self.n), "w") as f:
            f.write("\n".join(envelope.rcpt_tos) + "\n")
        os.rename(tmp, os.path.join(self.dir, "%04d.eml" % self.n))
        return "250 2.0.0 stored"


async def main(portfile, d):
    os.makedirs(d, exist_ok=True)
    handler = Store(d)
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: SMTP(handler, hostname="smarthost.test"), "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    with open(portfile + ".tmp", "w") as f:
        f.write("%d\n" % port)
    os.rename(portfile + ".tmp", portfile)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
