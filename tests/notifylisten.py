#!/usr/bin/python3
"""notifylisten.py SOCKET LOG -- stands in for systemd's notification socket.

Binds a datagram socket at SOCKET (the NOTIFY_SOCKET given to atumd) and
appends one line per message to LOG, in arrival order:
    MONOTONIC_SECONDS pid=PID MESSAGE (newlines as spaces)
The sender's pid comes from the kernel (SO_PASSCRED).  A message with
READY=1 also gets " listening=PORT,PORT": the TCP ports the sender had
listening at that moment, read from /proc, so a test can check that
readiness came only after the web server listened.
"""
import os
import socket
import struct
import sys
import time


def listening_ports(pid):
    inodes = set()
    try:
        for fd in os.listdir("/proc/%d/fd" % pid):
            try:
                target = os.readlink("/proc/%d/fd/%s" % (pid, fd))
            except OSError:
                continue
            if target.startswith("socket:["):
                inodes.add(target[8:-1])
    except OSError:
        return []
    ports = set()
    for table in ("tcp", "tcp6"):
        try:
            with open("/proc/%d/net/%s" % (pid, table)) as f:
                next(f)
                for line in f:
                    cols = line.split()
                    # local_address, state 0A = LISTEN, inode
                    if cols[3] == "0A" and cols[9] in inodes:
                        ports.add(int(cols[1].split(":")[1], 16))
        except OSError:
            pass
    return sorted(ports)


def main():
    path, log = sys.argv[1], sys.argv[2]
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
    s.bind(path)
    with open(log, "a", buffering=1) as out:
        while True:
            msg, anc, _flags, _addr = s.recvmsg(4096, socket.CMSG_SPACE(12))
            pid = 0
            for level, kind, data in anc:
                if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
                    pid = struct.unpack("iii", data[:12])[0]
            text = msg.decode("utf-8", "replace")
            extra = ""
            if "READY=1" in text.split("\n") and pid:
                extra = " listening=" + ",".join(str(p) for p in listening_ports(pid))
            out.write("%.6f pid=%d %s%s\n" % (time.monotonic(), pid, text.replace("\n", " "), extra))


if __name__ == "__main__":
    main()
